//! The developer quick-start: the whole idea on one machine, with nothing configured.
//!
//! A zero-configuration `keyless serve` (no `identity:` section and no root credentials given)
//! also runs a built-in development issuer (`keyless_idp::DevIssuer`, its key kept in
//! `<data_dir>/dev-issuer-key.pem`), keeps a ServiceAccount-shaped token for
//! `system:serviceaccount:default:demo` fresh in `<data_dir>/demo-token` (as the kubelet keeps a
//! projected token), trusts that issuer, defines role `demo` (full access to bucket `demo`, which
//! it creates), and prints the environment a pod would get as `export NAME=value` lines — also
//! written to `<data_dir>/demo.env` — so that in another terminal `source <data_dir>/demo.env` is
//! all awscli or boto3 need: no key anywhere.
//!
//! Anything configured turns it off: with an `identity:` section, or root credentials set,
//! keyless is being set up for real and invents nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use keyless_identity::policy::Policy;
use keyless_identity::role::{Role, RoleArn};
use keyless_identity::trust::TrustShortForm;
use keyless_idp::{DevIssuer, ServiceAccountToken, TokenFileWriter};
use tokio::task::JoinHandle;

use crate::config::identity::{DEFAULT_ACCOUNT_ID, DEFAULT_LEEWAY_SECS, IdentityConfig, RoleView};

/// The development issuer's `iss` (never fetched: its keys are given inline).
pub const DEV_ISSUER: &str = "https://dev-issuer.keyless.invalid";
pub const DEMO_BUCKET: &str = "demo";
pub const DEMO_ROLE: &str = "demo";
pub const DEMO_NAMESPACE: &str = "default";
pub const DEMO_SERVICE_ACCOUNT: &str = "demo";
pub const ENV_FILE: &str = "demo.env";
const TOKEN_FILE: &str = "demo-token";
const KEY_FILE: &str = "dev-issuer-key.pem";

/// The quick-start's identity, before the server starts.
pub struct QuickStart {
    pub identity: IdentityConfig,
    issuer: Arc<DevIssuer>,
    token_file: PathBuf,
    env_file: PathBuf,
    role_arn: RoleArn,
}

/// Loads (or creates) the development issuer and describes the demo role.
pub fn prepare(data_dir: &Path) -> anyhow::Result<QuickStart> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("config field \"data_dir\": cannot create \"{}\"", data_dir.display()))?;
    let data_dir = data_dir
        .canonicalize()
        .with_context(|| format!("cannot resolve \"{}\"", data_dir.display()))?;
    let key_file = data_dir.join(KEY_FILE);
    let issuer = DevIssuer::load_or_create(DEV_ISSUER, &key_file).with_context(|| {
        format!(
            "quick-start: cannot load the development issuer key \"{}\"",
            key_file.display()
        )
    })?;
    let mut source = issuer.issuer_source();
    source.audiences = vec!["sts.amazonaws.com".to_owned()];
    let role_arn = RoleArn::new(DEFAULT_ACCOUNT_ID, DEMO_ROLE).expect("a valid role name");
    let trust = TrustShortForm {
        issuer: DEV_ISSUER.to_owned(),
        audiences: vec!["sts.amazonaws.com".to_owned()],
        service_accounts: vec![format!("{DEMO_NAMESPACE}/{DEMO_SERVICE_ACCOUNT}")],
    }
    .expand(DEFAULT_ACCOUNT_ID)
    .expect("the demo trust policy is valid");
    let policy_doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Action":"s3:*","Resource":["arn:aws:s3:::{DEMO_BUCKET}","arn:aws:s3:::{DEMO_BUCKET}/*"]}},
            {{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}}]}}"#
    );
    let policy = Policy::parse(&policy_doc).expect("the demo policy is valid");
    let role =
        Role::new(role_arn.clone(), trust, vec![("demo-bucket".to_owned(), policy)]).expect("the demo role is valid");
    let view = RoleView {
        arn: role_arn.to_string(),
        max_session_duration: role.max_session_duration(),
        trust: serde_json::json!({
            "issuer": DEV_ISSUER,
            "audience": "sts.amazonaws.com",
            "service_accounts": [format!("{DEMO_NAMESPACE}/{DEMO_SERVICE_ACCOUNT}")],
        }),
        policies: vec![(
            "demo-bucket".to_owned(),
            serde_json::from_str(&policy_doc).expect("the demo policy is JSON"),
        )],
    };
    Ok(QuickStart {
        identity: IdentityConfig {
            account_id: DEFAULT_ACCOUNT_ID.to_owned(),
            issuers: vec![source],
            roles: vec![role],
            role_views: vec![view],
            session_key_file: None,
            leeway_secs: DEFAULT_LEEWAY_SECS,
        },
        issuer: Arc::new(issuer),
        token_file: data_dir.join(TOKEN_FILE),
        env_file: data_dir.join(ENV_FILE),
        role_arn,
    })
}

impl QuickStart {
    /// Creates the demo bucket (if missing) and starts keeping the token file fresh.
    pub async fn start(&self, store: &keyless_store::Store) -> anyhow::Result<JoinHandle<()>> {
        match store.create_bucket(DEMO_BUCKET).await {
            Ok(_) => tracing::info!(bucket = DEMO_BUCKET, "quick-start: created the demo bucket"),
            Err(keyless_store::StoreError::BucketAlreadyOwnedByYou(_)) => {
                tracing::debug!(bucket = DEMO_BUCKET, "quick-start: the demo bucket exists");
            }
            Err(e) => return Err(e).context("quick-start: cannot create the demo bucket"),
        }
        let writer = TokenFileWriter::new(
            self.issuer.clone(),
            ServiceAccountToken::new(DEMO_NAMESPACE, DEMO_SERVICE_ACCOUNT),
            &self.token_file,
        );
        let handle = writer.start().with_context(|| {
            format!(
                "quick-start: cannot write the token file \"{}\"",
                self.token_file.display()
            )
        })?;
        tracing::info!(
            issuer = DEV_ISSUER,
            subject = %format!("system:serviceaccount:{DEMO_NAMESPACE}:{DEMO_SERVICE_ACCOUNT}"),
            token_file = %self.token_file.display(),
            role = %self.role_arn,
            "quick-start: development issuer running (configure identity: or root credentials to turn it off)"
        );
        Ok(handle)
    }

    /// The pod environment as `export` lines.
    pub fn exports(&self, endpoint: &str, region: &str) -> String {
        let vars = [
            ("AWS_ROLE_ARN", self.role_arn.to_string()),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", self.token_file.display().to_string()),
            ("AWS_ENDPOINT_URL_STS", endpoint.to_owned()),
            ("AWS_ENDPOINT_URL_S3", endpoint.to_owned()),
            ("AWS_REGION", region.to_owned()),
            // botocore (awscli v1, boto3) reads the region only from this one.
            ("AWS_DEFAULT_REGION", region.to_owned()),
        ];
        vars.iter()
            .map(|(k, v)| format!("export {k}={}\n", shell_quote(v)))
            .collect()
    }

    /// Prints the pod environment on stdout and writes it to `<data_dir>/demo.env`.
    pub fn announce(&self, endpoint: &str, region: &str) -> anyhow::Result<()> {
        use std::io::Write as _;
        let exports = self.exports(endpoint, region);
        let file_text = format!(
            "# keyless quick-start: the environment a pod gets (role {}, no keys).\n\
             # Use it with: source {}\n{exports}",
            self.role_arn,
            self.env_file.display()
        );
        keyless_idp::dev::write_atomically(&self.env_file, file_text.as_bytes())
            .with_context(|| format!("quick-start: cannot write \"{}\"", self.env_file.display()))?;
        let text = format!(
            "\nQuick-start: a development issuer keeps a ServiceAccount token for\n\
             system:serviceaccount:{DEMO_NAMESPACE}:{DEMO_SERVICE_ACCOUNT} in {token}, and role {role} may use bucket {DEMO_BUCKET}.\n\
             In another terminal, with only these variables (also in {env}):\n\n\
             {exports}\n\
             \x20 aws s3 ls s3://{DEMO_BUCKET}/\n\
             \x20 aws sts get-caller-identity\n",
            token = self.token_file.display(),
            role = self.role_arn,
            env = self.env_file.display(),
        );
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes()).and_then(|()| out.flush()).ok();
        Ok(())
    }
}

/// `value` as one shell word: bare when it is plainly safe, else in single quotes.
fn shell_quote(value: &str) -> String {
    if !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/:._-=@,+%".contains(&b))
    {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words() {
        for (v, want) in [
            ("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
            ("/tmp/a b/token", "'/tmp/a b/token'"),
            ("it's", r"'it'\''s'"),
            ("", "''"),
        ] {
            assert_eq!(shell_quote(v), want, "{v}");
        }
    }

    #[test]
    fn prepare_describes_the_demo() {
        let dir = tempfile::tempdir().unwrap();
        let q = prepare(dir.path()).unwrap();
        assert_eq!(
            q.identity.roles[0].arn().to_string(),
            "arn:aws:iam::000000000000:role/demo"
        );
        assert_eq!(q.identity.issuers[0].issuer, DEV_ISSUER);
        let exports = q.exports("http://127.0.0.1:9000", "us-east-1");
        assert!(
            exports.contains("export AWS_ROLE_ARN=arn:aws:iam::000000000000:role/demo\n"),
            "{exports}"
        );
        assert!(
            exports.contains("export AWS_ENDPOINT_URL_STS=http://127.0.0.1:9000\n"),
            "{exports}"
        );
        // The issuer key is kept: a second start trusts the same key.
        let again = prepare(dir.path()).unwrap();
        assert_eq!(again.issuer.kid(), q.issuer.kid());
    }
}
