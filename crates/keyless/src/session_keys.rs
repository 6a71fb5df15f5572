//! The server keys that seal session tokens and derive temporary secrets
//! (`keyless_identity::session`), kept in one small versioned file.
//!
//! Format (text, mode 0600):
//!
//! ```text
//! # comments
//! version: 1
//! key: <id> <base64 of 32 random bytes>     <- the first key mints
//! key: <id> <base64 of 32 random bytes>     <- older keys: still open their sessions
//! ```
//!
//! The file is generated with one key on the first start; every replica sharing it verifies every
//! other replica's credentials. To rotate: put a new `key:` line first and keep the old one below
//! it until its sessions have expired (at most the longest role `max_session_duration`), then
//! delete it.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use keyless_identity::session::{SessionKey, SessionKeys};
use rand::RngCore as _;

/// Whether the keys were read or generated now, and the active key id.
pub struct Loaded {
    pub keys: SessionKeys,
    pub generated: bool,
}

pub fn load_or_create(path: &Path) -> anyhow::Result<Loaded> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Loaded {
            keys: parse(&text).with_context(|| {
                format!(
                    "config field \"identity.session_key_file\": \"{}\" is not a valid session key file",
                    path.display()
                )
            })?,
            generated: false,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = [0u8; 32];
            rand::rng().fill_bytes(&mut secret);
            let text = format!(
                "# keyless session keys: they seal session tokens and derive temporary secrets.\n\
                 # Whoever reads this file can mint credentials for any role: keep it mode 0600.\n\
                 # The first key mints; keys below it still open older sessions (rotation).\n\
                 version: 1\n\
                 key: 1 {}\n",
                base64::engine::general_purpose::STANDARD.encode(secret)
            );
            write_private(path, text.as_bytes()).with_context(|| {
                format!(
                    "config field \"identity.session_key_file\": cannot write \"{}\"",
                    path.display()
                )
            })?;
            Ok(Loaded {
                keys: SessionKeys::new(SessionKey::new(1, &secret)),
                generated: true,
            })
        }
        Err(e) => Err(e).with_context(|| {
            format!(
                "config field \"identity.session_key_file\": cannot read \"{}\"",
                path.display()
            )
        }),
    }
}

fn parse(text: &str) -> anyhow::Result<SessionKeys> {
    let mut version = None;
    let mut keys: Vec<SessionKey> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(v) = line.strip_prefix("version:") {
            version = Some(v.trim().to_owned());
        } else if let Some(k) = line.strip_prefix("key:") {
            let mut parts = k.split_whitespace();
            let (Some(id), Some(secret), None) = (parts.next(), parts.next(), parts.next()) else {
                bail!("line {}: expected \"key: <id> <base64 secret>\"", n + 1);
            };
            let id: u32 = id.parse().with_context(|| format!("line {}: key id", n + 1))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(secret)
                .with_context(|| format!("line {}: the secret is not base64", n + 1))?;
            let secret: [u8; 32] = bytes
                .try_into()
                .map_err(|_| anyhow::anyhow!("line {}: the secret must be 32 bytes", n + 1))?;
            if keys.iter().any(|k| k.id() == id) {
                bail!("line {}: key id {id} appears twice", n + 1);
            }
            keys.push(SessionKey::new(id, &secret));
        } else {
            bail!("line {}: unknown line (expected version: or key:)", n + 1);
        }
    }
    if version.as_deref() != Some("1") {
        bail!("missing or unknown \"version:\" (this keyless reads version 1)");
    }
    let mut keys = keys.into_iter();
    let Some(active) = keys.next() else {
        bail!("no \"key:\" line");
    };
    Ok(keys.fold(SessionKeys::new(active), SessionKeys::with_older))
}

/// Writes `bytes` so the file is absent or complete and readable by the owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(bytes)?;
    // Durable before the rename makes it visible, and the rename durable before we use the key.
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_read_with_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sk");
        let first = load_or_create(&path).unwrap();
        assert!(first.generated);
        assert_eq!(first.keys.active_id(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let again = load_or_create(&path).unwrap();
        assert!(!again.generated);
        let text = std::fs::read_to_string(&path).unwrap();
        let rotated = text.replace(
            "version: 1\n",
            &format!("version: 1\nkey: 2 {}\n", "A".repeat(43) + "="),
        );
        assert_eq!(parse(&rotated).unwrap().active_id(), 2);
        for bad in [
            "",
            "version: 1\n",
            "version: 2\nkey: 1 AAAA\n",
            "version: 1\nkey: x y\n",
            "junk\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
