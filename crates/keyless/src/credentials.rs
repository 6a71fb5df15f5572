//! The root (admin) credentials: an access key and secret that may do anything in the store.
//!
//! They are either configured (environment or config file) or, when none are given anywhere,
//! generated on the first start and kept in `<data-dir>/root-credentials` (mode 0600) so that
//! later starts reuse them. The secret is wrapped in [`SecretKey`], whose `Debug` never shows it,
//! so it cannot reach a log by accident; it is printed only in the start-up text on stdout, and
//! only when it came from that file (the developer quick-start).

use std::fmt;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use rand::Rng as _;
use serde::Deserialize;

use crate::config::Origin;

/// The name of the generated-credentials file inside the data directory.
pub const FILE_NAME: &str = "root-credentials";

/// A secret access key. Its `Debug` and `Display` print `[redacted]`; use [`SecretKey::expose`].
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SecretKey(String);

impl SecretKey {
    pub fn new(secret: String) -> Self {
        SecretKey(secret)
    }

    /// The secret itself, for the S3 front and for the start-up text only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The root access key and secret, and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootCredentials {
    pub access_key: String,
    pub secret_key: SecretKey,
    pub source: CredentialSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// Given by the user; the secret is never printed.
    Configured { access_key: Origin, secret_key: Origin },
    /// Generated on this start and written to the file.
    Generated(PathBuf),
    /// Read from the file a previous start generated.
    Stored(PathBuf),
}

/// Something wrong with `<data-dir>/root-credentials`.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("root credentials file \"{}\" cannot be read: {error}", path.display())]
    Read { path: PathBuf, error: io::Error },
    #[error(
        "root credentials file \"{}\" is not valid: {message}; delete it to generate new credentials on the next start, \
         or set KEYLESS_ROOT_ACCESS_KEY and KEYLESS_ROOT_SECRET_KEY",
        path.display()
    )]
    Malformed { path: PathBuf, message: String },
    #[error("root credentials file \"{}\" cannot be written: {error}", path.display())]
    Write { path: PathBuf, error: io::Error },
}

/// Checks an access key id: 3 to 128 characters of `A-Z a-z 0-9 . _ -` (it travels unescaped
/// inside the SigV4 `Credential=` scope, so `/` and spaces are out).
pub fn check_access_key(key: &str) -> Result<(), String> {
    if !(3..=128).contains(&key.len()) {
        return Err(format!("is {} characters long; give 3 to 128 characters", key.len()));
    }
    if !key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err("may hold only letters, digits, '.', '_' and '-'".to_owned());
    }
    Ok(())
}

/// Checks a secret key: 8 to 128 printable ASCII characters without spaces.
pub fn check_secret_key(secret: &str) -> Result<(), String> {
    if secret.len() < 8 {
        return Err(format!(
            "is {} characters long, shorter than 8; give a longer secret (40 random characters is usual)",
            secret.len()
        ));
    }
    if secret.len() > 128 {
        return Err(format!("is {} characters long; give at most 128", secret.len()));
    }
    if !secret.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("may hold only printable ASCII characters without spaces".to_owned());
    }
    Ok(())
}

/// Returns the configured credentials if any; otherwise the ones stored in `data_dir`,
/// generating and storing them first if there are none yet.
pub fn resolve(configured: Option<RootCredentials>, data_dir: &Path) -> Result<RootCredentials, CredentialsError> {
    if let Some(creds) = configured {
        return Ok(creds);
    }
    let path = data_dir.join(FILE_NAME);
    match fs::read_to_string(&path) {
        Ok(text) => {
            warn_if_readable_by_others(&path);
            let (access_key, secret_key) = parse_stored(&text).map_err(|message| CredentialsError::Malformed {
                path: path.clone(),
                message,
            })?;
            Ok(RootCredentials {
                access_key,
                secret_key: SecretKey(secret_key),
                source: CredentialSource::Stored(path),
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let (access_key, secret_key) = generate();
            write_stored(&path, &access_key, &secret_key).map_err(|error| CredentialsError::Write {
                path: path.clone(),
                error,
            })?;
            Ok(RootCredentials {
                access_key,
                secret_key: SecretKey(secret_key),
                source: CredentialSource::Generated(path),
            })
        }
        Err(error) => Err(CredentialsError::Read { path, error }),
    }
}

/// A fresh pair from the thread-local CSPRNG: `KL` + 18 upper-case characters, and a
/// 40-character secret (about 238 bits).
fn generate() -> (String, String) {
    const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const ANY: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let mut pick =
        |set: &[u8], n: usize| -> String { (0..n).map(|_| set[rng.random_range(0..set.len())] as char).collect() };
    let access_key = format!("KL{}", pick(UPPER, 18));
    let secret_key = pick(ANY, 40);
    (access_key, secret_key)
}

/// The on-disk form. `version` lets the format change later.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredCredentials {
    version: u32,
    access_key: String,
    secret_key: String,
}

fn parse_stored(text: &str) -> Result<(String, String), String> {
    let stored: StoredCredentials = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
    if stored.version != 1 {
        return Err(format!(
            "version {} is not known to this keyless (it reads version 1)",
            stored.version
        ));
    }
    check_access_key(&stored.access_key).map_err(|m| format!("access_key {m}"))?;
    check_secret_key(&stored.secret_key).map_err(|m| format!("secret_key {m}"))?;
    Ok((stored.access_key, stored.secret_key))
}

fn render_stored(access_key: &str, secret_key: &str) -> String {
    format!(
        "# keyless root (admin) credentials, generated on the first start.\n\
         # Whoever reads this file can do anything in this store: keep it mode 0600.\n\
         # Delete it to get new ones on the next start, or configure your own with\n\
         # KEYLESS_ROOT_ACCESS_KEY / KEYLESS_ROOT_SECRET_KEY or root: in the config file.\n\
         version: 1\n\
         access_key: {access_key}\n\
         secret_key: {secret_key}\n"
    )
}

/// Writes the file so that it is either absent or complete, and never readable by others.
fn write_stored(path: &Path, access_key: &str, secret_key: &str) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    // A leftover from a crash during an earlier first start holds nothing we need.
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            // Created 0600 (never briefly wider), so the secret is private from its first byte.
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(render_stored(access_key, secret_key).as_bytes())?;
        // The content is on disk before the rename makes it visible under the real name.
        file.sync_all()?;
    }
    // The rename is atomic: a later start sees no file or the complete one.
    fs::rename(&tmp, path)?;
    // Syncing the directory makes the rename itself survive a crash; otherwise a restart could
    // generate a second pair while clients still use the first.
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = format_args!("{mode:o}"),
                    "the root credentials file is readable by other users; run chmod 600 on it"
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_key_rules() {
        let cases: &[(&str, bool)] = &[
            ("KLABCDEFGHIJKLMNOPQR", true),
            ("minio-admin_1.x", true),
            ("ab", false),
            ("has space", false),
            ("AKID/slash", false),
            (&"A".repeat(129), false),
        ];
        for (key, ok) in cases {
            assert_eq!(check_access_key(key).is_ok(), *ok, "{key}");
        }
    }

    #[test]
    fn secret_key_rules() {
        let cases: &[(&str, Option<&str>)] = &[
            ("12345678", None),
            ("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None),
            ("short", Some("shorter than 8")),
            ("with a space", Some("printable ASCII")),
            ("tab\tinside", Some("printable ASCII")),
        ];
        for (secret, want) in cases {
            match (check_secret_key(secret), want) {
                (Ok(()), None) => {}
                (Err(e), Some(w)) => assert!(e.contains(w), "{secret}: {e}"),
                (got, want) => panic!("{secret}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn generated_pairs_are_valid_and_distinct() {
        let (a1, s1) = generate();
        let (a2, s2) = generate();
        check_access_key(&a1).unwrap();
        check_secret_key(&s1).unwrap();
        assert_ne!((a1, s1), (a2, s2));
    }

    #[test]
    fn stored_file_round_trips() {
        let (a, s) = generate();
        assert_eq!(parse_stored(&render_stored(&a, &s)).unwrap(), (a, s));
    }

    #[test]
    fn stored_file_errors() {
        let cases = [
            (
                "version: 2\naccess_key: KLAAAAAAAAAAAAAAAAAA\nsecret_key: 0123456789\n",
                "version 2",
            ),
            ("version: 1\naccess_key: KLAAAAAAAAAAAAAAAAAA\n", "secret_key"),
            (
                "version: 1\naccess_key: KLAAAAAAAAAAAAAAAAAA\nsecret_key: short\n",
                "secret_key is 5",
            ),
            (
                "version: 1\naccess_key: a\nsecret_key: 0123456789\nextra: 1\n",
                "unknown field",
            ),
        ];
        for (text, want) in cases {
            let err = parse_stored(text).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn secret_is_redacted_in_debug() {
        let creds = RootCredentials {
            access_key: "KLX".into(),
            secret_key: SecretKey::new("supersecret".into()),
            source: CredentialSource::Generated(PathBuf::from("x")),
        };
        assert!(!format!("{creds:?}").contains("supersecret"));
    }

    #[test]
    fn resolve_generates_once_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let first = resolve(None, dir.path()).unwrap();
        assert!(matches!(first.source, CredentialSource::Generated(_)));
        let second = resolve(None, dir.path()).unwrap();
        assert!(matches!(second.source, CredentialSource::Stored(_)));
        assert_eq!(
            (first.access_key, first.secret_key),
            (second.access_key, second.secret_key)
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(dir.path().join(FILE_NAME)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
