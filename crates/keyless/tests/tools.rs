//! `keyless token inspect` and `keyless explain`, run as the real binary against a config file whose
//! issuer's key this test makes (`keyless_idp::DevIssuer`: ES256, its JWKS given inline) and whose
//! roles are the usual ones: a per-namespace role through `${keyless:namespace}` with an explicit
//! Deny, and a role with an AWS-form trust policy conditioned on the namespace.
//!
//! Every row is one command line: the exit code it must end with, text its output must contain,
//! and text it must never contain (the token, its signature).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keyless_idp::{DevIssuer, ServiceAccountToken};
use serde_json::{Value, json};

const ISS: &str = "https://cluster-a.example";
const FOREIGN_ISS: &str = "https://cluster-b.example";
/// An issuer whose keys are a JWKS file (re-read on an unknown key id).
const FILE_ISS: &str = "https://cluster-c.example";
const ACCOUNT: &str = "123456789012";

struct World {
    dir: tempfile::TempDir,
    config: PathBuf,
    issuer: DevIssuer,
    foreign: DevIssuer,
    file_issuer: DevIssuer,
    now: i64,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let issuer = DevIssuer::generate(ISS);
        let foreign = DevIssuer::generate(FOREIGN_ISS);
        let file_issuer = DevIssuer::generate(FILE_ISS);
        let jwks_file = dir.path().join("cluster-c-jwks.json");
        std::fs::write(&jwks_file, file_issuer.jwks_json()).unwrap();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
        // YAML is a superset of JSON: the config file is written as JSON.
        let config = json!({
            "data_dir": dir.path().join("data"),
            "identity": {
                "account_id": ACCOUNT,
                "issuers": [{
                    "issuer": ISS,
                    "audiences": ["sts.amazonaws.com", "keyless"],
                    "jwks": issuer.jwks_json(),
                }, {
                    "issuer": FILE_ISS,
                    "jwks_file": jwks_file,
                }],
                "roles": [
                    {
                        "name": "tenant",
                        "trust": {"issuer": ISS, "audience": "sts.amazonaws.com", "service_accounts": ["*/app"]},
                        "policies": [{"name": "tenant", "document": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {"Sid": "OwnPrefix", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                                 "Resource": "arn:aws:s3:::shared/${keyless:namespace}/*"},
                                {"Sid": "ListOwnPrefix", "Effect": "Allow", "Action": "s3:ListBucket",
                                 "Resource": "arn:aws:s3:::shared",
                                 "Condition": {"StringLike": {"s3:prefix": "${keyless:namespace}/*"}}},
                                {"Sid": "NoSecrets", "Effect": "Deny", "Action": "s3:*",
                                 "Resource": "arn:aws:s3:::shared/*/secrets/*"},
                            ]}}],
                    },
                    {
                        // A common mistake: the condition key written with the scheme.
                        "name": "https-key",
                        "trust_policy": {
                            "Version": "2012-10-17",
                            "Statement": [{
                                "Effect": "Allow",
                                "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/cluster-a.example")},
                                "Action": "sts:AssumeRoleWithWebIdentity",
                                "Condition": {"StringEquals": {format!("{ISS}:sub"): "system:serviceaccount:apps:app"}},
                            }],
                        },
                        "policies": [],
                    },
                    {
                        "name": "apps-only",
                        "trust_policy": {
                            "Version": "2012-10-17",
                            "Statement": [{
                                "Sid": "AppsNamespace",
                                "Effect": "Allow",
                                "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/cluster-a.example")},
                                "Action": "sts:AssumeRoleWithWebIdentity",
                                "Condition": {"StringEquals": {"keyless:namespace": "apps"}},
                            }],
                        },
                        "policies": [{"Version": "2012-10-17", "Statement": [
                            {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::apps/*"}]}],
                    },
                ],
            },
        });
        let path = dir.path().join("keyless.yaml");
        std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
        World {
            dir,
            config: path,
            issuer,
            foreign,
            file_issuer,
            now,
        }
    }

    /// Writes `token` to a file named `name` and returns its path.
    fn token_file(&self, name: &str, token: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, token).unwrap();
        p.to_str().unwrap().to_owned()
    }
}

fn sa(ns: &str, name: &str, aud: &str) -> ServiceAccountToken {
    ServiceAccountToken {
        audiences: vec![aud.to_owned()],
        ..ServiceAccountToken::new(ns, name)
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn keyless(config: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyless"));
    cmd.args(args).arg("--config").arg(config);
    for (k, _) in std::env::vars() {
        if k.starts_with("KEYLESS_") {
            cmd.env_remove(k);
        }
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run keyless");
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// A row: name, arguments, exit code, text the output must contain.
type Row = (&'static str, Vec<String>, i32, Vec<&'static str>);

fn check(w: &World, rows: Vec<Row>, secrets: &[&str]) {
    for (name, args, code, want) in rows {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = keyless(&w.config, &args, None);
        let all = format!("{}{}", r.stdout, r.stderr);
        assert_eq!(
            r.code, code,
            "{name}: exit code\n--- stdout\n{}--- stderr\n{}",
            r.stdout, r.stderr
        );
        for s in want {
            assert!(
                all.contains(s),
                "{name}: output lacks {s:?}\n--- stdout\n{}--- stderr\n{}",
                r.stdout,
                r.stderr
            );
        }
        for s in secrets {
            assert!(!all.contains(s), "{name}: output shows the token or its signature");
        }
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn token_inspect() {
    let w = World::new();
    let good = w.issuer.mint(&sa("apps", "app", "sts.amazonaws.com"), w.now);
    let expired = w.issuer.mint(
        &ServiceAccountToken {
            lifetime: Duration::from_secs(3600),
            ..sa("apps", "app", "sts.amazonaws.com")
        },
        w.now - 7200,
    );
    let wrong_aud = w.issuer.mint(&sa("apps", "app", "vault"), w.now);
    let foreign = w.foreign.mint(&sa("apps", "app", "sts.amazonaws.com"), w.now);
    // Same iss, another key (a rotated key the configuration does not have yet).
    let rotated = DevIssuer::generate(ISS).mint(&sa("apps", "app", "sts.amazonaws.com"), w.now);
    let rotated_file = DevIssuer::generate(FILE_ISS).mint(&sa("apps", "app", "sts.amazonaws.com"), w.now);
    let from_file = w.file_issuer.mint(&sa("apps", "app", "sts.amazonaws.com"), w.now);
    let (signing_input, _) = good.rsplit_once('.').unwrap();
    let alg_none = format!("eyJhbGciOiJub25lIn0.{}.", signing_input.split_once('.').unwrap().1);
    let tampered = {
        let claims = signing_input.split_once('.').unwrap().1;
        let other = w.issuer.mint(&sa("kube-system", "app", "sts.amazonaws.com"), w.now);
        let mut parts: Vec<&str> = good.split('.').collect();
        let other_claims = other.split('.').nth(1).unwrap().to_owned();
        assert_ne!(claims, other_claims);
        parts[1] = &other_claims;
        parts.join(".")
    };
    let f = |name: &str, t: &str| w.token_file(name, t);
    let inspect = |file: String| args(&["token", "inspect", "--token-file", &file]);
    let at = |file: String, now: &str| args(&["token", "inspect", "--token-file", &file, "--now", now]);
    let iat_of_expired = keyless_identity::s3_actions::iso8601(w.now - 7200 + 10);
    let rows: Vec<Row> = vec![
        (
            "valid",
            inspect(f("good", &good)),
            0,
            vec![
                "\"sub\": \"system:serviceaccount:apps:app\"",
                "\"alg\": \"ES256\"",
                "\nvalid\n",
                "role/tenant",
            ],
        ),
        (
            "expired",
            inspect(f("expired", &expired)),
            1,
            vec!["invalid: expired at", "leeway"],
        ),
        (
            "expired, evaluated when it was fresh",
            at(f("expired2", &expired), &iat_of_expired),
            0,
            vec!["\nvalid\n"],
        ),
        (
            "wrong audience",
            inspect(f("aud", &wrong_aud)),
            1,
            vec![
                "invalid: wrong audience",
                "[\"vault\"]",
                "\"sts.amazonaws.com\", \"keyless\"",
            ],
        ),
        (
            "foreign issuer",
            inspect(f("foreign", &foreign)),
            1,
            vec![
                "is not configured",
                FOREIGN_ISS,
                "configured issuers: \"https://cluster-a.example\"",
            ],
        ),
        (
            "unknown kid, inline keys",
            inspect(f("rotated", &rotated)),
            1,
            vec![
                "invalid: unknown key id",
                "not in the issuer's inline jwks",
                "(key ids: \"",
            ],
        ),
        (
            "jwks_file issuer",
            inspect(f("from-file", &from_file)),
            0,
            vec!["(jwks_file keys; any audience", "\nvalid\n"],
        ),
        (
            "unknown kid, jwks_file keys read again",
            inspect(f("rotated-file", &rotated_file)),
            1,
            vec![
                "invalid: unknown key id",
                "not in the issuer's jwks_file, even after reading it again",
            ],
        ),
        (
            "garbage",
            inspect(f("garbage", "garbage")),
            1,
            vec!["invalid: not a valid JWT", "(cannot be decoded)"],
        ),
        (
            "alg none",
            inspect(f("none", &alg_none)),
            1,
            vec!["alg \"none\" refused"],
        ),
        (
            "tampered claims",
            inspect(f("tampered", &tampered)),
            1,
            vec!["signature invalid"],
        ),
        ("no token", args(&["token", "inspect"]), 2, vec!["give the token"]),
        (
            "two sources",
            args(&["token", "inspect", "--token", "x.y.z", "-"]),
            2,
            vec!["give the token once"],
        ),
        (
            "bad --now",
            at(f("good2", &good), "yesterday"),
            2,
            vec!["not an RFC 3339 time"],
        ),
        (
            "missing token file",
            inspect("/nonexistent/token".into()),
            2,
            vec!["cannot read the token file"],
        ),
    ];
    let sig = good.rsplit_once('.').unwrap().1.to_owned();
    check(&w, rows, &[&good, &sig]);

    // Standard input, and machine output.
    let r = keyless(
        &w.config,
        &["token", "inspect", "-", "--json"],
        Some(&format!("{good}\n")),
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).expect("--json prints JSON");
    assert_eq!(v["valid"], true);
    assert_eq!(v["claims"]["kubernetes.io"]["namespace"], "apps");
    assert_eq!(v["issuer"]["configured"], true);
    assert_eq!(
        v["assumable_roles"],
        json!([
            format!("arn:aws:iam::{ACCOUNT}:role/tenant"),
            format!("arn:aws:iam::{ACCOUNT}:role/apps-only")
        ])
    );
    assert!(!r.stdout.contains(&sig));
    let file = w.token_file("expired-json", &expired);
    let r = keyless(&w.config, &["token", "inspect", "--token-file", &file, "--json"], None);
    assert_eq!(r.code, 1);
    let v: Value = serde_json::from_str(&r.stdout).expect("--json prints JSON");
    assert_eq!(
        (v["valid"].clone(), v["code"].clone()),
        (json!(false), json!("expired"))
    );

    // A config without identity: is a configuration error.
    let bare = w.dir.path().join("bare.yaml");
    std::fs::write(&bare, "region: us-east-1\n").unwrap();
    let r = keyless(&bare, &["token", "inspect", "--token-file", &file], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no identity: section"), "{}", r.stderr);
}

#[test]
fn explain() {
    let w = World::new();
    let app = w.token_file("app", &w.issuer.mint(&sa("apps", "app", "sts.amazonaws.com"), w.now));
    let web = w.token_file("web", &w.issuer.mint(&sa("web", "app", "sts.amazonaws.com"), w.now));
    let other_sa = w.token_file(
        "other",
        &w.issuer.mint(&sa("apps", "worker", "sts.amazonaws.com"), w.now),
    );
    let keyless_aud = w.token_file("kaud", &w.issuer.mint(&sa("apps", "app", "keyless"), w.now));
    let expired = w.token_file(
        "expired",
        &w.issuer.mint(&sa("apps", "app", "sts.amazonaws.com"), w.now - 7200),
    );
    let get = |token: &str, key: &str| {
        args(&[
            "explain",
            "--token-file",
            token,
            "--role",
            "tenant",
            "--op",
            "GetObject",
            "--bucket",
            "shared",
            "--key",
            key,
        ])
    };
    let rows: Vec<Row> = vec![
        (
            "allowed: own prefix",
            get(&app, "apps/db"),
            0,
            vec![
                "token: valid",
                "trust: ALLOW",
                "role/tenant:tenant statement OwnPrefix",
                "verdict: ALLOWED",
            ],
        ),
        (
            "same role, other namespace's token reads its own prefix",
            get(&web, "web/db"),
            0,
            vec!["verdict: ALLOWED"],
        ),
        (
            "denied by permissions: neighbour's prefix",
            get(&app, "web/db"),
            1,
            vec![
                "trust: ALLOW",
                "DENY (implicit) — no statement allows s3:GetObject on arn:aws:s3:::shared/web/db",
                "verdict: DENIED at permissions",
            ],
        ),
        (
            "explicit Deny wins over the Allow",
            get(&app, "apps/secrets/key"),
            1,
            vec![
                "DENY (explicit)",
                "explicitly denied by role/tenant:tenant statement NoSecrets",
                "verdict: DENIED at permissions",
            ],
        ),
        (
            "denied by trust: service account not listed",
            get(&other_sa, "apps/db"),
            1,
            vec![
                "trust: DENY (implicit)",
                "cluster-a.example:sub",
                "system:serviceaccount:apps:worker",
                "verdict: DENIED at trust",
            ],
        ),
        (
            "denied by trust: audience the issuer accepts but the role does not",
            get(&keyless_aud, "apps/db"),
            1,
            vec![
                "trust: DENY (implicit)",
                "cluster-a.example:aud",
                "verdict: DENIED at trust",
            ],
        ),
        (
            "denied by trust: AWS form, namespace condition",
            args(&["explain", "--token-file", &web, "--role", "apps-only"]),
            1,
            vec![
                "trust statement AppsNamespace",
                "keyless:namespace",
                "verdict: DENIED at trust",
            ],
        ),
        (
            "denied by trust: condition key written with https://",
            args(&["explain", "--token-file", &app, "--role", "https-key"]),
            1,
            vec![
                "https://cluster-a.example:sub",
                "hint: condition key \"https://cluster-a.example:sub\" names the issuer with its scheme",
                "verdict: DENIED at trust",
            ],
        ),
        (
            "assume only, by ARN",
            args(&[
                "explain",
                "--token-file",
                &app,
                "--role",
                &format!("arn:aws:iam::{ACCOUNT}:role/apps-only"),
            ]),
            0,
            vec![
                "trust: ALLOW",
                "trust statement AppsNamespace",
                "permissions: not asked",
                "verdict: ALLOWED",
            ],
        ),
        (
            "expired token: denied at the token, later steps still shown",
            get(&expired, "apps/db"),
            1,
            vec![
                "token: INVALID — expired at",
                "UNVERIFIED",
                "OwnPrefix",
                "verdict: DENIED at token",
            ],
        ),
        (
            "listing with a condition on s3:prefix",
            args(&[
                "explain",
                "--token-file",
                &app,
                "--role",
                "tenant",
                "--op",
                "ListObjectsV2",
                "--bucket",
                "shared",
                "--prefix",
                "apps/",
            ]),
            0,
            vec!["s3:prefix=apps/", "statement ListOwnPrefix", "verdict: ALLOWED"],
        ),
        (
            "listing another prefix: the condition that failed is named",
            args(&[
                "explain",
                "--token-file",
                &app,
                "--role",
                "tenant",
                "--op",
                "ListObjectsV2",
                "--bucket",
                "shared",
                "--prefix",
                "web/",
            ]),
            1,
            vec![
                "statement ListOwnPrefix covers s3:ListBucket on arn:aws:s3:::shared but its condition failed",
                "s3:prefix",
            ],
        ),
        (
            "raw action and resource",
            args(&[
                "explain",
                "--token-file",
                &app,
                "--role",
                "tenant",
                "--action",
                "s3:PutObject",
                "--resource",
                "arn:aws:s3:::shared/apps/x",
            ]),
            0,
            vec!["s3:PutObject on arn:aws:s3:::shared/apps/x: ALLOW"],
        ),
        (
            "claims only",
            args(&[
                "explain",
                "--sub",
                "system:serviceaccount:apps:app",
                "--aud",
                "sts.amazonaws.com",
                "--issuer",
                ISS,
                "--role",
                "tenant",
                "--op",
                "PutObject",
                "--bucket",
                "shared",
                "--key",
                "apps/x",
            ]),
            0,
            vec![
                "signature and expiry NOT checked",
                "statement OwnPrefix",
                "verdict: ALLOWED",
            ],
        ),
        (
            "claims only, namespace typo",
            args(&[
                "explain",
                "--sub",
                "system:serviceaccount:aps:app",
                "--issuer",
                ISS,
                "--role",
                "tenant",
                "--op",
                "GetObject",
                "--bucket",
                "shared",
                "--key",
                "apps/x",
            ]),
            1,
            vec![
                "NOT checked",
                "no statement allows s3:GetObject on arn:aws:s3:::shared/apps/x",
                "verdict: DENIED at permissions",
            ],
        ),
        (
            "claims only, issuer not configured",
            args(&[
                "explain",
                "--sub",
                "system:serviceaccount:apps:app",
                "--issuer",
                FOREIGN_ISS,
                "--role",
                "tenant",
            ]),
            1,
            vec!["is not configured", "verdict: DENIED at token"],
        ),
        (
            "role not configured",
            args(&["explain", "--token-file", &app, "--role", "nope"]),
            1,
            vec![
                "role arn:aws:iam::123456789012:role/nope is not configured",
                "role/tenant",
                "verdict: DENIED at role",
            ],
        ),
        (
            "request facts reach the context",
            args(&[
                "explain",
                "--token-file",
                &app,
                "--role",
                "tenant",
                "--op",
                "GetObject",
                "--bucket",
                "shared",
                "--key",
                "apps/db",
                "--secure",
                "--source-ip",
                "10.1.2.3",
            ]),
            0,
            vec!["aws:SecureTransport=true", "aws:SourceIp=10.1.2.3"],
        ),
        (
            "bad --source-ip",
            args(&[
                "explain",
                "--token-file",
                &app,
                "--role",
                "tenant",
                "--source-ip",
                "10.1.2",
            ]),
            2,
            vec!["is not an IP address"],
        ),
        (
            "neither token nor claims",
            args(&["explain", "--role", "tenant"]),
            2,
            vec!["give a token"],
        ),
        (
            "token and claims",
            args(&[
                "explain",
                "--token-file",
                &app,
                "--sub",
                "system:serviceaccount:apps:app",
                "--role",
                "tenant",
            ]),
            2,
            vec!["cannot be used with"],
        ),
        (
            "unknown operation",
            args(&[
                "explain",
                "--token-file",
                &app,
                "--role",
                "tenant",
                "--op",
                "PutBucketPolicy",
                "--bucket",
                "b",
            ]),
            2,
            vec!["no IAM mapping"],
        ),
        (
            "operation without its key",
            args(&[
                "explain",
                "--token-file",
                &app,
                "--role",
                "tenant",
                "--op",
                "GetObject",
                "--bucket",
                "b",
            ]),
            2,
            vec!["needs a key"],
        ),
    ];
    check(&w, rows, &[]);

    // --json
    let r = keyless(
        &w.config,
        &[
            "explain",
            "--token-file",
            &app,
            "--role",
            "tenant",
            "--op",
            "GetObject",
            "--bucket",
            "shared",
            "--key",
            "apps/secrets/k",
            "--json",
        ],
        None,
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).expect("--json prints JSON");
    assert_eq!(v["verdict"], "denied");
    assert_eq!(v["denied_at"], "permissions");
    assert_eq!(v["token"]["valid"], true);
    assert_eq!(v["trust"]["effect"], "Allow");
    let check = &v["permissions"]["checks"][0];
    assert_eq!(
        (
            check["effect"].as_str(),
            check["policy"].as_str(),
            check["statement"].as_str()
        ),
        (Some("ExplicitDeny"), Some("role/tenant:tenant"), Some("NoSecrets"))
    );
    let r = keyless(
        &w.config,
        &[
            "explain",
            "--sub",
            "system:serviceaccount:apps:app",
            "--issuer",
            ISS,
            "--role",
            "tenant",
            "--json",
        ],
        None,
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).expect("--json prints JSON");
    assert_eq!(
        (v["token"]["mode"].as_str(), v["token"]["signature_checked"].as_bool()),
        (Some("claims"), Some(false))
    );
    assert_eq!(v["allowed"], true);
}

/// A plain-HTTP OIDC provider on 127.0.0.1 (keyless allows plain http only for a loopback
/// discovery URL): the discovery document and the JWKS, counting the requests it answers.
struct Provider {
    iss: String,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Provider {
    fn start(issuer_for: impl Fn(&str) -> DevIssuer) -> (Self, DevIssuer) {
        use std::io::{BufRead as _, BufReader};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let iss = format!("http://{}", listener.local_addr().unwrap());
        let issuer = issuer_for(&iss);
        let jwks = issuer.jwks_json();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (count, base) = (hits.clone(), iss.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap_or_default();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                }
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
                let (status, body) = match path.as_str() {
                    "/.well-known/openid-configuration" => (
                        "200 OK",
                        json!({"issuer": base, "jwks_uri": format!("{base}/jwks")}).to_string(),
                    ),
                    "/jwks" => ("200 OK", jwks.clone()),
                    _ => ("404 Not Found", String::new()),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        (Provider { iss, hits }, issuer)
    }

    fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Keys from OIDC discovery: fetched from the configured URL only, refetched once for an unknown
/// key id, and an unreachable issuer reported as such.
#[test]
fn token_inspect_discovery() {
    let dir = tempfile::tempdir().unwrap();
    let (provider, issuer) = Provider::start(|iss| DevIssuer::generate(iss));
    // An issuer nothing listens for: bind a port, then free it.
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let config = dir.path().join("keyless.yaml");
    let doc = json!({
        "data_dir": dir.path().join("data"),
        "identity": {"issuers": [
            {"issuer": provider.iss, "discovery": {}},
            {"issuer": down, "discovery": {}},
        ]},
    });
    std::fs::write(&config, doc.to_string()).unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let write = |name: &str, token: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, token).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let good = write("good", issuer.mint(&sa("apps", "app", "sts.amazonaws.com"), now));
    let rotated = write(
        "rotated",
        DevIssuer::generate(provider.iss.as_str()).mint(&sa("apps", "app", "sts.amazonaws.com"), now),
    );
    let unreachable = write(
        "down",
        DevIssuer::generate(down.as_str()).mint(&sa("apps", "app", "sts.amazonaws.com"), now),
    );
    let foreign = write(
        "foreign",
        DevIssuer::generate(FOREIGN_ISS).mint(&sa("apps", "app", "sts.amazonaws.com"), now),
    );

    let r = keyless(&config, &["token", "inspect", "--token-file", &good], None);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("(discovery keys;") && r.stdout.ends_with("\nvalid\n"),
        "{}",
        r.stdout
    );
    assert_eq!(provider.hits(), 2, "discovery document, then the JWKS");

    let r = keyless(&config, &["token", "inspect", "--token-file", &rotated], None);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("not among the issuer's keys, even after refetching them"),
        "{}",
        r.stdout
    );

    let r = keyless(
        &config,
        &["token", "inspect", "--token-file", &unreachable, "--json"],
        None,
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["code"], "keys_unavailable", "{}", r.stdout);

    // A token naming an issuer that is not configured makes keyless fetch nothing.
    let before = provider.hits();
    let r = keyless(&config, &["token", "inspect", "--token-file", &foreign], None);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("is not configured"), "{}", r.stdout);
    assert_eq!(provider.hits(), before);
}
