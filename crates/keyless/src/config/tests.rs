//! Table-driven tests of configuration loading: layering, defaults, validation messages, and the
//! agreement of docs/configuration.md and the example file with the code.

use std::collections::HashMap;
use std::ffi::OsString;
use std::time::Duration;

use clap::Parser as _;

use super::*;
use crate::cli::{Cli, Command};

/// Rows of the tables below: flags after `keyless serve`, and environment variables.
type Flags<'a> = &'a [&'a str];
type Env<'a> = &'a [(&'a str, &'a str)];

/// Loads a configuration from flags (after `keyless serve`), an environment table and an
/// optional YAML file (passed through `KEYLESS_CONFIG` unless the flags name one).
fn load_with(flags: &[&str], env: &[(&str, &str)], file: Option<&str>) -> Result<Config, String> {
    let dir = tempfile::tempdir().unwrap();
    let mut env: HashMap<String, OsString> = env.iter().map(|(k, v)| (k.to_string(), OsString::from(v))).collect();
    if let Some(text) = file {
        let path = dir.path().join("keyless.yaml");
        std::fs::write(&path, text).unwrap();
        env.entry("KEYLESS_CONFIG".into()).or_insert(path.into_os_string());
    }
    let argv = ["keyless", "serve"].iter().copied().chain(flags.iter().copied());
    let Command::Serve(args) = Cli::try_parse_from(argv).map_err(|e| e.to_string())?.command else {
        panic!("not serve")
    };
    load(&args, &|name| env.get(name).cloned()).map_err(|e| e.to_string())
}

#[test]
fn defaults() {
    let c = load_with(&[], &[], None).unwrap();
    assert_eq!(c.data_dir, PathBuf::from("./keyless-data"));
    assert_eq!(
        c.listen,
        ListenAddr {
            host: "127.0.0.1".into(),
            port: 9000
        }
    );
    assert_eq!(
        c.s3,
        S3Config {
            region: "us-east-1".into(),
            domains: vec![]
        }
    );
    assert_eq!(c.tls, None);
    assert_eq!(c.root, None);
    assert_eq!(
        c.log,
        LogConfig {
            format: LogFormat::Text,
            filter: "info".into(),
            audit: AuditTarget::Off,
        }
    );
    assert_eq!(c.reload_interval, Some(Duration::from_secs(2)));
    assert_eq!(
        c.limits,
        Limits {
            max_header_bytes: 65536,
            header_read_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
            max_object_size: 5 << 30,
            min_free_bytes: 64 << 20,
            body_read_timeout: Duration::from_secs(30),
            max_connections: 8192,
            max_requests_in_flight: 1024,
        }
    );
    assert_eq!(c.file, None);
}

#[test]
fn flags_beat_env_beat_file_beat_defaults() {
    let file = "listen: 127.0.0.3:3\nregion: file-region\ndomains: [file.example]\n";
    let env = [
        ("KEYLESS_LISTEN", "127.0.0.2:2"),
        ("KEYLESS_REGION", "env-region"),
        ("KEYLESS_DOMAINS", "env.example, env2.example"),
    ];
    let flags = [
        "--listen",
        "127.0.0.1:1",
        "--region",
        "flag-region",
        "--domain",
        "flag.example",
    ];
    // (flags, env, file) → (listen port, region, domains)
    type Want<'a> = (u16, &'a str, Flags<'a>);
    let table: &[(Flags, Env, Option<&str>, Want)] = &[
        (&flags, &env, Some(file), (1, "flag-region", &["flag.example"])),
        (
            &[],
            &env,
            Some(file),
            (2, "env-region", &["env.example", "env2.example"]),
        ),
        (&[], &[], Some(file), (3, "file-region", &["file.example"])),
        (&[], &[], None, (9000, "us-east-1", &[])),
        (
            &flags[..2],
            &env[1..],
            Some(file),
            (1, "env-region", &["env.example", "env2.example"]),
        ),
    ];
    for (flags, env, file, (port, region, domains)) in table {
        let c = load_with(flags, env, *file).unwrap();
        assert_eq!(c.listen.port, *port, "{flags:?} {env:?}");
        assert_eq!(c.s3.region, *region, "{flags:?} {env:?}");
        assert_eq!(c.s3.domains, *domains, "{flags:?} {env:?}");
    }
}

#[test]
fn full_file_is_read() {
    let file = "
data_dir: /var/lib/keyless
listen: '[::1]:9443'
region: eu-west-3
domains: [S3.Example.COM., s3.example.com, other.example]
tls: {cert: /c.pem, key: /k.pem, reload_interval_secs: 2}
root: {access_key: admin, secret_key: 'pa$$word/+1'}
log: {format: json, filter: 'info,keyless=debug', audit: /var/log/keyless/audit.jsonl}
reload_interval_secs: 0
limits: {max_header_bytes: 8192, header_read_timeout_secs: 5, shutdown_grace_secs: 0}
";
    let c = load_with(&[], &[], Some(file)).unwrap();
    assert_eq!(c.data_dir, PathBuf::from("/var/lib/keyless"));
    assert_eq!(
        c.listen,
        ListenAddr {
            host: "::1".into(),
            port: 9443
        }
    );
    assert_eq!(c.listen.to_string(), "[::1]:9443");
    assert_eq!(c.s3.domains, ["s3.example.com", "other.example"]);
    let tls = c.tls.unwrap();
    assert_eq!(
        (tls.cert.to_str(), tls.key.to_str(), tls.reload_interval),
        (Some("/c.pem"), Some("/k.pem"), Duration::from_secs(2))
    );
    let root = c.root.unwrap();
    assert_eq!(
        (root.access_key.as_str(), root.secret_key.expose()),
        ("admin", "pa$$word/+1")
    );
    assert_eq!(
        c.log,
        LogConfig {
            format: LogFormat::Json,
            filter: "info,keyless=debug".into(),
            audit: AuditTarget::File("/var/log/keyless/audit.jsonl".into()),
        }
    );
    assert_eq!(c.reload_interval, None);
    assert_eq!(c.limits.max_header_bytes, 8192);
    assert_eq!(c.limits.shutdown_grace, Duration::ZERO);
}

#[test]
fn root_and_tls_pairs_combine_across_layers() {
    let c = load_with(
        &["--tls-cert", "/c.pem"],
        &[("KEYLESS_TLS_KEY", "/k.pem"), ("KEYLESS_ROOT_SECRET_KEY", "0123456789")],
        Some("root: {access_key: admin}"),
    )
    .unwrap();
    assert!(c.tls.is_some());
    let root = c.root.unwrap();
    assert_eq!(
        root.source,
        crate::credentials::CredentialSource::Configured {
            access_key: Origin::File(match &c.file {
                Some(p) => p.clone(),
                None => panic!("no file"),
            }),
            secret_key: Origin::Env("KEYLESS_ROOT_SECRET_KEY"),
        }
    );
}

#[test]
fn errors_name_the_field_and_say_what_to_do() {
    // (flags, env, file, substrings the message must hold)
    let table: &[(Flags, Env, Option<&str>, Flags)] = &[
        (
            &["--listen", "127.0.0.1:99999"],
            &[],
            None,
            &[
                r#"config field "listen": "127.0.0.1:99999" is not HOST:PORT (port must be 0-65535)"#,
                "flag --listen",
            ],
        ),
        (
            &[],
            &[("KEYLESS_LISTEN", "localhost")],
            None,
            &[r#"field "listen""#, ":PORT is missing", "KEYLESS_LISTEN"],
        ),
        (
            &[],
            &[],
            Some("listen: '::1:9000'"),
            &[r#"field "listen""#, "brackets", "config file"],
        ),
        (
            &["--listen", ":9000"],
            &[],
            None,
            &[r#"field "listen""#, "HOST is empty"],
        ),
        (
            &["--listen", "bad_host!:9000"],
            &[],
            None,
            &[r#"field "listen""#, "IP address or a host name"],
        ),
        (&["--region", "US_EAST"], &[], None, &[r#"field "region""#, "us-east-1"]),
        (
            &[],
            &[("KEYLESS_GATEWAY_ENDPOINT", "http://127.0.0.1:8333")],
            None,
            &[
                r#"field "gateway.access_key""#,
                "is missing",
                "gateway.web_identity.role_arn",
            ],
        ),
        (
            &[],
            &[],
            Some(
                "gateway: {endpoint: 'http://up:8333', access_key: k, secret_key: s, web_identity: {role_arn: 'arn:aws:iam::1:role/r', token_file: /t}}",
            ),
            &[
                r#"field "gateway.web_identity.role_arn""#,
                "either with its web identity or with keys",
            ],
        ),
        (
            &[],
            &[("KEYLESS_GATEWAY_ROLE_ARN", "arn:aws:iam::1:role/r")],
            Some("gateway: {endpoint: 'http://up:8333'}"),
            &[
                r#"field "gateway.web_identity.token_file""#,
                "KEYLESS_GATEWAY_TOKEN_FILE",
            ],
        ),
        (
            &[],
            &[],
            Some("gateway: {endpoint: 'http://up:8333', web_identity: {role_arn: keyless, token_file: /t}}"),
            &[r#"field "gateway.web_identity.role_arn""#, "is not a role ARN"],
        ),
        (
            &[],
            &[("KEYLESS_GATEWAY_SHARED_BUCKET", "Tenants_1")],
            Some("gateway: {endpoint: 'http://up:8333', access_key: k, secret_key: s}"),
            &[
                r#"field "gateway.shared_bucket""#,
                "not a valid S3 bucket name",
                "KEYLESS_GATEWAY_SHARED_BUCKET",
            ],
        ),
        (
            &["--domain", "https://s3.example.com"],
            &[],
            None,
            &[r#"field "domains""#, "no scheme"],
        ),
        (
            &[],
            &[("KEYLESS_DOMAINS", "ok.example,bad domain")],
            None,
            &[r#"field "domains""#, "KEYLESS_DOMAINS"],
        ),
        (
            &["--tls-cert", "/c.pem"],
            &[],
            None,
            &[
                r#"field "tls.key" is missing"#,
                "--tls-key",
                "KEYLESS_TLS_KEY",
                "flag --tls-cert",
            ],
        ),
        (
            &[],
            &[("KEYLESS_TLS_KEY", "/k.pem")],
            None,
            &[r#"field "tls.cert" is missing"#, "--tls-cert"],
        ),
        (
            &[],
            &[],
            Some("tls: {cert: /c.pem, key: /k.pem, reload_interval_secs: 0}"),
            &[r#"field "tls.reload_interval_secs""#, "1 to 86400"],
        ),
        (
            &[],
            &[("KEYLESS_ROOT_ACCESS_KEY", "admin")],
            None,
            &[r#"field "root.secret_key" is missing"#, "KEYLESS_ROOT_SECRET_KEY"],
        ),
        (
            &[],
            &[],
            Some("root: {secret_key: 0123456789}"),
            &[r#"field "root.access_key" is missing"#],
        ),
        (
            &[],
            &[
                ("KEYLESS_ROOT_ACCESS_KEY", "admin"),
                ("KEYLESS_ROOT_SECRET_KEY", "short"),
            ],
            None,
            &[
                r#"field "root.secret_key""#,
                "shorter than 8",
                "KEYLESS_ROOT_SECRET_KEY",
            ],
        ),
        (
            &[],
            &[
                ("KEYLESS_ROOT_ACCESS_KEY", "a/b"),
                ("KEYLESS_ROOT_SECRET_KEY", "0123456789"),
            ],
            None,
            &[r#"field "root.access_key""#],
        ),
        (
            &[],
            &[("KEYLESS_LOG_FORMAT", "xml")],
            None,
            &[r#"field "log.format""#, "text, json or logfmt"],
        ),
        (
            &[],
            &[("KEYLESS_LOG", "info,[[[")],
            None,
            &[r#"field "log.filter""#, "KEYLESS_LOG"],
        ),
        (
            &[],
            &[],
            Some("limits: {max_header_bytes: 100}"),
            &[r#"field "limits.max_header_bytes""#, "8192"],
        ),
        (
            &[],
            &[],
            Some("limits: {header_read_timeout_secs: 0}"),
            &[r#"field "limits.header_read_timeout_secs""#],
        ),
        (
            &[],
            &[],
            Some("limits: {shutdown_grace_secs: 100000}"),
            &[r#"field "limits.shutdown_grace_secs""#],
        ),
        (
            &[],
            &[],
            Some("limits: {max_connections: 0}"),
            &[r#"field "limits.max_connections""#, "1 to 1000000"],
        ),
        (
            &[],
            &[],
            Some("limits: {max_requests_in_flight: 0}"),
            &[r#"field "limits.max_requests_in_flight""#, "1 to 1000000"],
        ),
        (
            &[],
            &[],
            Some("limits: {body_read_timeout_secs: 0}"),
            &[r#"field "limits.body_read_timeout_secs""#, "1 to 3600"],
        ),
        (
            &[],
            &[("KEYLESS_RELOAD_INTERVAL_SECS", "soon")],
            None,
            &[
                r#"field "reload_interval_secs""#,
                "whole number",
                "KEYLESS_RELOAD_INTERVAL_SECS",
            ],
        ),
        (
            &[],
            &[],
            Some("log: {audit: ''}"),
            &[r#"field "log.audit""#, "off, stdout, stderr"],
        ),
        (
            &[],
            &[],
            Some("limits: {max_object_size: 0}"),
            &[r#"field "limits.max_object_size""#, "5 GiB"],
        ),
        (
            &[],
            &[],
            Some("limits: {max_object_size: 5368709121}"),
            &[r#"field "limits.max_object_size""#, "5 GiB"],
        ),
        (
            &[],
            &[],
            Some("listen: 127.0.0.1:9000\nlisen: x\n"),
            &[
                "config file",
                "keyless.yaml",
                "unknown field `lisen`",
                "docs/configuration.md",
            ],
        ),
        (
            &[],
            &[],
            Some("tls:\n  cret: /c.pem\n"),
            &["keyless.yaml", "tls: unknown field `cret`"],
        ),
        (&[], &[], Some("listen: [1, 2]\n"), &["keyless.yaml", "listen"]),
        (
            &["--config", "/nonexistent/keyless.yaml"],
            &[],
            None,
            &[r#"config field "config""#, "/nonexistent/keyless.yaml", "flag --config"],
        ),
        (
            &[],
            &[("KEYLESS_CONFIG", "/nonexistent/k.yaml")],
            None,
            &[r#"config field "config""#, "KEYLESS_CONFIG"],
        ),
        (
            &["--data-dir", "/dev/null"],
            &[],
            None,
            &[r#"field "data_dir""#, "not a directory"],
        ),
    ];
    for (flags, env, file, wants) in table {
        let err = match load_with(flags, env, *file) {
            Ok(_) => panic!("{flags:?} {env:?} {file:?} was accepted"),
            Err(e) => e,
        };
        for want in *wants {
            assert!(
                err.contains(want),
                "{flags:?} {env:?} {file:?}:\n  error: {err}\n  wants: {want}"
            );
        }
    }
}

#[test]
fn log_format_flag_is_checked_by_clap() {
    let err = load_with(&["--log-format", "xml"], &[], None).unwrap_err();
    assert!(err.contains("--log-format"), "{err}");
}

#[test]
fn empty_values_count_as_unset() {
    let c = load_with(&[], &[("KEYLESS_LISTEN", ""), ("KEYLESS_CONFIG", "")], Some("")).unwrap();
    assert_eq!(c.listen.port, 9000);
    let c = load_with(&[], &[], Some("# only a comment\n")).unwrap();
    assert_eq!(c.listen.port, 9000);
}

#[test]
fn listen_addresses() {
    type Want<'a> = Result<(&'a str, u16), &'a str>;
    let table: &[(&str, Want)] = &[
        ("127.0.0.1:9000", Ok(("127.0.0.1", 9000))),
        ("0.0.0.0:0", Ok(("0.0.0.0", 0))),
        ("localhost:65535", Ok(("localhost", 65535))),
        ("[::]:9000", Ok(("::", 9000))),
        ("[::1]:1", Ok(("::1", 1))),
        ("127.0.0.1:65536", Err("port must be 0-65535")),
        ("127.0.0.1:-1", Err("port must be 0-65535")),
        ("127.0.0.1:", Err("port must be 0-65535")),
        ("127.0.0.1", Err(":PORT is missing")),
        ("[127.0.0.1]:80", Err("IPv6")),
        ("::1:80", Err("brackets")),
        ("http://x:80", Err("brackets")),
    ];
    for (input, want) in table {
        let got = parse_listen(input).map(|a| (a.host, a.port));
        match (got, want) {
            (Ok((h, p)), Ok((wh, wp))) => assert_eq!((h.as_str(), p), (*wh, *wp), "{input}"),
            (Err(e), Err(w)) => assert!(e.contains(w), "{input}: {e}"),
            (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
        }
    }
}

fn repo_file(rel: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// docs/configuration.md is the reference: it must name every field, env var, flag and default.
#[test]
fn reference_documents_every_setting() {
    let doc = repo_file("docs/configuration.md");
    for f in FIELDS {
        let mut names = vec![f.name];
        names.extend(f.env);
        names.extend(f.flag);
        names.extend(f.default);
        for name in names {
            assert!(
                doc.contains(&format!("`{name}`")),
                "docs/configuration.md does not mention `{name}` (field {})",
                f.name
            );
        }
    }
}

/// The example file parses, validates, and shows every YAML field (commented or not).
#[test]
fn example_file_is_valid_and_complete() {
    let text = repo_file("docs/config.example.yaml");
    layers::parse_file(&text).unwrap();
    load_with(&[], &[], Some(&text)).unwrap();
    let uncommented: String = text
        .lines()
        .map(|l| l.trim_start().trim_start_matches('#'))
        .collect::<Vec<_>>()
        .join("\n");
    for f in FIELDS.iter().filter(|f| f.name != "config") {
        let leaf = f.name.rsplit('.').next().unwrap();
        assert!(
            uncommented.contains(&format!("{leaf}:")),
            "docs/config.example.yaml does not show {}",
            f.name
        );
    }
}

/// The secret never shows in a `Debug` of any configuration stage, whichever layer gave it.
#[test]
fn root_secret_is_redacted_in_debug() {
    let secret = "do-not-print-me-0123";
    let from_env = [
        ("KEYLESS_ROOT_ACCESS_KEY", "admin"),
        ("KEYLESS_ROOT_SECRET_KEY", secret),
    ];
    let file = format!("root: {{access_key: admin, secret_key: {secret}}}\n");
    for (env, file) in [(&from_env[..], None), (&[][..], Some(file.as_str()))] {
        let config = load_with(&[], env, file).unwrap();
        assert_eq!(config.root.as_ref().unwrap().secret_key.expose(), secret);
        assert!(!format!("{config:?}").contains(secret), "{config:?}");
    }
    let raw = RawConfig::from_env(&|name| {
        from_env
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| OsString::from(v))
    })
    .unwrap();
    assert!(!format!("{raw:?}").contains(secret));
    let parsed = layers::parse_file(&file).unwrap();
    assert!(!format!("{parsed:?}").contains(secret));
}

const JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","alg":"ES256","use":"sig","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;

/// An `identity:` section with the given roles, under one issuer with an inline JWKS.
fn identity_file(extra: &str, roles: &str) -> String {
    format!("identity:\n  issuers:\n    - issuer: https://k8s.example\n      jwks: '{JWKS}'\n{extra}  roles:\n{roles}")
}

#[test]
fn identity_section_is_read() {
    let roles = r#"    - name: tenants
      max_session_duration: 7200
      trust: {issuer: https://k8s.example, audience: sts.amazonaws.com, service_accounts: ["apps/*", "web/front"]}
      policies:
        - Version: "2012-10-17"
          Statement: {Effect: Allow, Action: "s3:*", Resource: "arn:aws:s3:::b/${keyless:namespace}/*"}
        - '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b"}}'
        - {name: named, document: {Version: "2012-10-17", Statement: {Effect: Deny, Action: "s3:DeleteBucket", Resource: "*"}}}
    - name: raw
      trust_policy: {Version: "2012-10-17", Statement: {Effect: Allow, Principal: {Federated: "arn:aws:iam::123456789012:oidc-provider/k8s.example"}, Action: "sts:AssumeRoleWithWebIdentity"}}
"#;
    let config = load_with(
        &[],
        &[],
        Some(&identity_file(
            "  account_id: \"123456789012\"\n  leeway_secs: 5\n",
            roles,
        )),
    )
    .unwrap();
    let id = config.identity.unwrap();
    assert_eq!(id.account_id, "123456789012");
    assert_eq!(id.leeway_secs, 5);
    assert_eq!(id.issuers.len(), 1);
    assert_eq!(id.roles.len(), 2);
    assert_eq!(id.roles[0].arn().to_string(), "arn:aws:iam::123456789012:role/tenants");
    assert_eq!(id.roles[0].max_session_duration(), 7200);
    assert_eq!(id.roles[0].policies().len(), 3);
    assert_eq!(
        id.session_key_file(std::path::Path::new("/d")),
        std::path::PathBuf::from("/d/session-keys")
    );
    // Without the section there is no identity; an empty one has the defaults.
    assert!(load_with(&[], &[], None).unwrap().identity.is_none());
    let empty = load_with(&[], &[], Some("identity: {}\n")).unwrap().identity.unwrap();
    assert_eq!((empty.account_id.as_str(), empty.leeway_secs), ("000000000000", 60));
}

/// (the roles YAML, extra identity lines, the field the error must name).
#[test]
fn identity_errors_name_the_entry() {
    let ok_trust = "trust: {issuer: https://k8s.example, service_accounts: [a/b]}";
    let cases: Vec<(String, &str, &str)> = vec![
        (
            format!(
                "    - name: a\n      {ok_trust}\n    - name: b\n      {ok_trust}\n    - name: c\n      trust: {{issuer: https://k8s.example, service_accounts: [apps]}}\n"
            ),
            "",
            "identity.roles[2].trust.service_accounts[0]",
        ),
        (
            "    - name: a\n      trust: {issuer: https://other.example, service_accounts: [a/b]}\n".into(),
            "",
            "identity.roles[0].trust.issuer",
        ),
        (
            format!("    - name: a\n      {ok_trust}\n    - name: a\n      {ok_trust}\n"),
            "",
            "identity.roles[1].name",
        ),
        ("    - name: a\n".into(), "", "identity.roles[0]"),
        (
            format!(
                "    - name: a\n      {ok_trust}\n      policies: ['{{\"Version\":\"2012-10-17\",\"Statement\":{{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"}}}}', 'not json']\n"
            ),
            "",
            "identity.roles[0].policies[1]",
        ),
        (
            format!("    - name: a\n      {ok_trust}\n      max_session_duration: 60\n"),
            "",
            "identity.roles[0].max_session_duration",
        ),
        (
            "    - name: a\n      trust_policy: 'nope'\n".into(),
            "",
            "identity.roles[0].trust_policy",
        ),
        ("    []\n".into(), "  account_id: \"12\"\n", "identity.account_id"),
        ("    []\n".into(), "  leeway_secs: 3600\n", "identity.leeway_secs"),
    ];
    for (roles, extra, field) in cases {
        let text = identity_file(extra, &roles);
        let err = load_with(&[], &[], Some(&text)).unwrap_err();
        assert!(
            err.contains(&format!("config field \"{field}\"")),
            "{field}: {err}\n{text}"
        );
    }
}

/// Hostile input for the config loader (a property test on stable): the example file, as shipped
/// and with every section uncommented, damaged at random 3000 times — bytes flipped, inserted or cut, lines
/// duplicated or dropped — never makes the loader panic, and every refusal names a config field
/// or the file ("config field ..." / "config file ...").
#[test]
fn damaged_config_files_are_refused_with_a_reason_never_a_panic() {
    use rand::{Rng as _, SeedableRng as _};
    let text = repo_file("docs/config.example.yaml");
    let full: String = text
        .lines()
        .map(|l| {
            l.strip_prefix('#')
                .filter(|r| r.starts_with(|c: char| c.is_ascii_alphabetic() || c == ' '))
                .unwrap_or(l)
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261128);
    let (mut refused, mut accepted) = (0, 0);
    for n in 0..3000 {
        // The example as shipped (valid), and with every commented section switched on.
        let mut b = if n % 2 == 0 {
            text.as_bytes().to_vec()
        } else {
            full.as_bytes().to_vec()
        };
        for _ in 0..rng.random_range(1..4) {
            let i = rng.random_range(0..b.len());
            match rng.random_range(0..5) {
                0 => b[i] ^= 1 << rng.random_range(0..8),
                1 => b.insert(i, rng.random()),
                2 => {
                    b.drain(i..(i + rng.random_range(1..24)).min(b.len()));
                }
                3 => b.truncate(i),
                _ => {
                    let line: Vec<u8> = b[i..].iter().take_while(|c| **c != b'\n').copied().collect();
                    b.splice(i..i, line.into_iter().chain([b'\n']));
                }
            }
            if b.is_empty() {
                b.push(b'#');
            }
        }
        let damaged = String::from_utf8_lossy(&b).into_owned();
        match std::panic::catch_unwind(|| load_with(&[], &[], Some(&damaged))) {
            Ok(Ok(_)) => accepted += 1,
            Ok(Err(e)) => {
                assert!(
                    e.contains("config field") || e.contains("config file"),
                    "{e}\n--- input ---\n{damaged}"
                );
                refused += 1;
            }
            Err(_) => panic!("the loader panicked on:\n{damaged}"),
        }
    }
    assert!(refused > 1000 && accepted > 0, "refused {refused}, accepted {accepted}");
}
