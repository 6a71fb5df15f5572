//! The command line, configuration and server edge of the real `keyless` binary: start-up
//! line, health endpoints, configuration errors and precedence, generated root credentials,
//! HTTPS with certificate rotation, and shutdown on SIGTERM.
//!
//! Every test runs `keyless serve` in a fresh temp directory (which is also its working
//! directory) on `127.0.0.1:0`, and talks to it with the small HTTP/1.1 client at the bottom of
//! this file (plain TCP or rustls), so the requests on the wire are exactly the ones written here.

use std::io::{BufRead as _, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Rows of the tables below: flags, and environment variables or headers.
type Flags<'a> = &'a [&'a str];
type Pairs<'a> = &'a [(&'a str, &'a str)];

// ---- running the binary ----

/// `keyless` with no KEYLESS_* variables inherited, run in `dir`.
fn keyless(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyless"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("KEYLESS_") {
            cmd.env_remove(name);
        }
    }
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// `keyless serve --data-dir <dir>/data --listen 127.0.0.1:0` plus `extra` flags.
fn serve(dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = keyless(dir);
    cmd.arg("serve").arg("--data-dir").arg(dir.join("data"));
    if !extra.contains(&"--listen") {
        cmd.args(["--listen", "127.0.0.1:0"]);
    }
    cmd.args(extra);
    cmd
}

/// A running server, its output collected by two reader threads.
struct Server {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
    /// The first stdout line, `keyless: listening on SCHEME://ADDR`.
    scheme: String,
    addr: SocketAddr,
}

impl Server {
    /// Spawns `cmd` and waits for the listening line; panics with the stderr if it never comes.
    fn start(mut cmd: Command) -> Server {
        let mut child = cmd.spawn().expect("spawn keyless");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let out = BufReader::new(child.stdout.take().unwrap());
        let lines = stdout.clone();
        std::thread::spawn(move || {
            for line in out.lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap().push(line);
            }
        });
        let mut err = child.stderr.take().unwrap();
        let text = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                text.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let first = stdout.lock().unwrap().first().cloned();
            if let Some(first) = first {
                let rest = first
                    .strip_prefix("keyless: listening on ")
                    .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
                let (scheme, addr) = rest.split_once("://").expect("SCHEME://ADDR");
                let addr = addr.parse().unwrap_or_else(|e| panic!("{addr:?}: {e}"));
                return Server {
                    child,
                    stdout,
                    stderr,
                    scheme: scheme.to_owned(),
                    addr,
                };
            }
            if let Some(status) = child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "keyless exited with {status} before listening; stderr:\n{}",
                    stderr.lock().unwrap()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no listening line after {START_TIMEOUT:?}; stderr:\n{}",
                stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The whole start-up text printed so far.
    fn stdout(&self) -> String {
        self.stdout.lock().unwrap().join("\n")
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The value after `label` in the "How to connect" text, e.g. `access key:`.
    fn connect_value(&self, label: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            for line in self.stdout.lock().unwrap().iter() {
                if let Some(v) = line.trim_start().strip_prefix(label) {
                    return v.split_whitespace().next().unwrap_or("").to_owned();
                }
            }
            assert!(Instant::now() < deadline, "no {label:?} in stdout:\n{}", self.stdout());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn http(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut stream = TcpStream::connect(self.addr).expect("connect");
        request(&mut stream, method, path, headers)
    }

    /// Sends SIGTERM and waits for the exit, at most `within`.
    fn terminate(&mut self, within: Duration) -> (ExitStatus, Duration) {
        let started = Instant::now();
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!("kill -TERM {}", self.child.id()))
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed");
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, started.elapsed());
            }
            if started.elapsed() > within {
                let _ = self.child.kill();
                panic!(
                    "keyless did not exit within {within:?} of SIGTERM; stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a command that should exit by itself; returns (exit status, stdout, stderr).
fn run_to_exit(mut cmd: Command) -> (ExitStatus, String, String) {
    let mut child = cmd.spawn().expect("spawn keyless");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "keyless did not exit; stdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("keyless-cli-").tempdir().unwrap()
}

// ---- start-up and health ----

#[test]
fn prints_listening_line_first_then_how_to_connect() {
    let dir = tempdir();
    let server = Server::start(serve(dir.path(), &[]));
    assert_eq!(server.scheme, "http");
    assert_eq!(server.addr.ip().to_string(), "127.0.0.1");
    assert_ne!(server.addr.port(), 0, "port 0 must be reported as the real port");
    assert_eq!(server.connect_value("endpoint:"), format!("http://{}", server.addr));
    assert_eq!(server.connect_value("region:"), "us-east-1");
    let text = server.stdout();
    assert!(
        text.contains(&format!("aws --endpoint-url http://{} s3 ls", server.addr)),
        "{text}"
    );
    assert!(text.contains("pip install awscli"), "{text}");
    // Recovery is logged on stderr, not stdout.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.stderr().contains("orphan_blobs_removed") {
        assert!(Instant::now() < deadline, "no recovery log:\n{}", server.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn health_and_ready_answer() {
    let dir = tempdir();
    let server = Server::start(serve(dir.path(), &[]));
    let table = [
        ("GET", "/healthz", 200, "ok"),
        ("GET", "/readyz", 200, "ready"),
        ("HEAD", "/healthz", 200, ""),
        ("HEAD", "/readyz", 200, ""),
    ];
    for (method, path, status, body) in table {
        let resp = server.http(method, path, &[]);
        assert_eq!(
            (resp.status, resp.body_text().as_str()),
            (status, body),
            "{method} {path}"
        );
    }
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let dir = tempdir();
    let server = Server::start(serve(dir.path(), &[]));
    let mut stream = TcpStream::connect(server.addr).unwrap();
    for path in ["/healthz", "/readyz", "/healthz"] {
        let resp = request(&mut stream, "GET", path, &[("connection", "keep-alive")]);
        assert_eq!(resp.status, 200, "{path}");
    }
}

/// A bucket may be called `healthz`: signed requests, requests with a query, other methods and
/// virtual-host requests must reach S3, not the probe.
#[test]
fn health_endpoints_yield_to_s3_requests() {
    let dir = tempdir();
    let server = Server::start(serve(dir.path(), &["--domain", "s3.test"]));
    let table: &[(&str, &str, Pairs)] = &[
        (
            "GET",
            "/healthz",
            &[(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=KL/20260101/us-east-1/s3/aws4_request",
            )],
        ),
        ("GET", "/healthz?list-type=2", &[]),
        ("PUT", "/healthz", &[]),
        ("GET", "/readyz?location", &[]),
        ("GET", "/healthz", &[("host", "photos.s3.test")]),
    ];
    for (method, path, headers) in table {
        let resp = server.http(method, path, headers);
        assert!(
            !(resp.status == 200 && resp.body_text() == "ok"),
            "{method} {path} {headers:?} was answered by the probe"
        );
        assert!(
            resp.body_text() != "ready",
            "{method} {path} {headers:?} was answered by the probe"
        );
    }
    // The domain itself is path-style, so the probe still answers there.
    assert_eq!(server.http("GET", "/healthz", &[("host", "s3.test")]).body_text(), "ok");
}

#[test]
fn oversized_request_head_is_refused_with_431() {
    let dir = tempdir();
    let server = Server::start(serve(dir.path(), &[]));
    let big = "a".repeat(70 * 1024);
    let resp = server.http("GET", "/healthz", &[("x-big", &big)]);
    assert_eq!(resp.status, 431);
    // A request under the 64 KiB default passes.
    let ok = "a".repeat(60 * 1024);
    assert_eq!(server.http("GET", "/healthz", &[("x-big", &ok)]).status, 200);
}

/// Slow-loris and idle connections are closed once `limits.header_read_timeout_secs` passes.
#[test]
fn idle_and_slow_connections_are_closed_after_the_header_read_timeout() {
    let dir = tempdir();
    std::fs::write(
        dir.path().join("keyless.yaml"),
        "limits:\n  header_read_timeout_secs: 1\n",
    )
    .unwrap();
    let server = Server::start(serve(dir.path(), &["--config", "keyless.yaml"]));
    // (what the client sends before going quiet)
    let table: &[&[u8]] = &[b"", b"GET /healthz HTTP/1.1\r\nhost: x\r\n", b"GET /heal"];
    for sent in table {
        let mut stream = TcpStream::connect(server.addr).unwrap();
        stream.write_all(sent).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let started = Instant::now();
        let mut rest = Vec::new();
        // EOF or a reset both mean the server closed it; our own read timeout means it did not.
        if let Err(e) = stream.read_to_end(&mut rest) {
            assert!(
                !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
                "{:?}: still open after 10 s",
                String::from_utf8_lossy(sent)
            );
        }
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(5),
            "{:?}: closed only after {took:?}",
            String::from_utf8_lossy(sent)
        );
    }
    // The server itself still answers.
    assert_eq!(server.http("GET", "/healthz", &[]).body_text(), "ok");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempdir();
    let mut server = Server::start(serve(dir.path(), &["--log-format", "json"]));
    let (status, _) = server.terminate(Duration::from_secs(10));
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(100));
    let stderr = server.stderr();
    assert!(stderr.lines().count() >= 3, "{stderr}");
    for line in stderr.lines() {
        assert!(
            line.starts_with('{') && line.ends_with('}') && line.contains("\"level\""),
            "not a JSON log line: {line}"
        );
    }
}

// ---- configuration ----

/// Configuration errors stop the process with exit code 2 and a message naming the field.
#[test]
fn config_errors_name_the_field() {
    // (flags, env, config file contents (passed with --config), substrings of stderr)
    let table: &[(Flags, Pairs, Option<&str>, Flags)] = &[
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
            &[("KEYLESS_LISTEN", "127.0.0.1")],
            None,
            &[r#"config field "listen""#, "KEYLESS_LISTEN"],
        ),
        (
            &[],
            &[],
            Some("listen: 127.0.0.1:0\nlisen: 127.0.0.1:0\n"),
            &["keyless.yaml", "unknown field `lisen`"],
        ),
        (
            &[],
            &[],
            Some("tls:\n  cert: c.pem\n  kye: k.pem\n"),
            &["keyless.yaml", "tls: unknown field `kye`"],
        ),
        (
            &["--tls-cert", "cert.pem"],
            &[],
            None,
            &[r#"config field "tls.key" is missing"#, "--tls-key"],
        ),
        (
            &["--tls-key", "key.pem"],
            &[],
            None,
            &[r#"config field "tls.cert" is missing"#, "--tls-cert"],
        ),
        (
            &["--config", "missing.yaml"],
            &[],
            None,
            &[r#"config field "config""#, "missing.yaml", "flag --config"],
        ),
        (
            &[],
            &[("KEYLESS_CONFIG", "nope.yaml")],
            None,
            &[r#"config field "config""#, "nope.yaml", "KEYLESS_CONFIG"],
        ),
        (
            &[],
            &[
                ("KEYLESS_ROOT_ACCESS_KEY", "admin"),
                ("KEYLESS_ROOT_SECRET_KEY", "short"),
            ],
            None,
            &[r#"config field "root.secret_key""#, "shorter than 8"],
        ),
        (
            &[],
            &[("KEYLESS_ROOT_ACCESS_KEY", "admin")],
            None,
            &[r#"config field "root.secret_key" is missing"#],
        ),
        (&["--region", "Not A Region"], &[], None, &[r#"config field "region""#]),
        (
            &["--domain", "http://s3.test"],
            &[],
            None,
            &[r#"config field "domains""#],
        ),
        // TLS files are read at start; a missing or bad one names its field.
        (
            &["--tls-cert", "nonexistent.pem", "--tls-key", "nonexistent.key"],
            &[],
            None,
            &[r#"config field "tls.cert""#, "nonexistent.pem"],
        ),
        (
            &["--tls-cert", "junk.pem", "--tls-key", "junk.pem"],
            &[],
            None,
            &[r#"config field "tls.cert""#, "no PEM certificate"],
        ),
    ];
    for (flags, env, file, wants) in table {
        let dir = tempdir();
        std::fs::write(dir.path().join("junk.pem"), "not pem at all\n").unwrap();
        let mut args: Vec<&str> = flags.to_vec();
        if let Some(text) = file {
            std::fs::write(dir.path().join("keyless.yaml"), text).unwrap();
            args.extend(["--config", "keyless.yaml"]);
        }
        // No --listen of our own here: it would hide KEYLESS_LISTEN. A case that wrongly passes
        // binds the default port and is caught by the exit-code check after the timeout.
        let mut cmd = keyless(dir.path());
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(&args)
            .envs(env.iter().copied());
        let (status, stdout, stderr) = run_to_exit(cmd);
        assert_eq!(status.code(), Some(2), "{flags:?} {env:?} {file:?}\nstderr: {stderr}");
        assert!(!stdout.contains("listening"), "{flags:?}: {stdout}");
        for want in *wants {
            assert!(
                stderr.contains(want),
                "{flags:?} {env:?} {file:?}\n  stderr: {stderr}\n  wants: {want}"
            );
        }
    }
}

/// flags > env > file > defaults, seen from outside: the listening address and the region.
#[test]
fn flags_beat_env_beat_file() {
    let file = "listen: 127.0.0.3:0\nregion: file-region\n";
    let env: &[(&str, &str)] = &[("KEYLESS_LISTEN", "127.0.0.2:0"), ("KEYLESS_REGION", "env-region")];
    let flags: &[&str] = &["--listen", "127.0.0.1:0", "--region", "flag-region"];
    // (flags, env, file?) → (listening IP, region)
    let table: &[(Flags, Pairs, bool, &str, &str)] = &[
        (flags, env, true, "127.0.0.1", "flag-region"),
        (&[], env, true, "127.0.0.2", "env-region"),
        (&[], &[], true, "127.0.0.3", "file-region"),
        (&flags[..2], &env[1..], true, "127.0.0.1", "env-region"),
        (&[], &[], false, "127.0.0.1", "us-east-1"),
    ];
    for (flags, env, with_file, ip, region) in table {
        let dir = tempdir();
        std::fs::write(dir.path().join("keyless.yaml"), file).unwrap();
        let mut cmd = keyless(dir.path());
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(*flags);
        if *with_file {
            cmd.env("KEYLESS_CONFIG", "keyless.yaml");
        } else if flags.is_empty() {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        cmd.envs(env.iter().copied());
        let server = Server::start(cmd);
        assert_eq!(server.addr.ip().to_string(), *ip, "{flags:?} {env:?} file={with_file}");
        assert_eq!(
            server.connect_value("region:"),
            *region,
            "{flags:?} {env:?} file={with_file}"
        );
    }
}

#[test]
fn no_config_file_is_needed() {
    let dir = tempdir();
    let data = dir.path().join("elsewhere");
    let mut cmd = keyless(dir.path());
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(&data);
    let server = Server::start(cmd);
    assert_eq!(server.http("GET", "/readyz", &[]).body_text(), "ready");
    assert!(data.join("root-credentials").is_file());
}

// ---- root credentials ----

#[test]
fn generated_root_credentials_persist_across_restarts() {
    let dir = tempdir();
    let file = dir.path().join("data").join("root-credentials");

    let mut first = Server::start(serve(dir.path(), &[]));
    let access_key = first.connect_value("access key:");
    let secret = first.connect_value("secret key:");
    assert!(access_key.starts_with("KL") && access_key.len() == 20, "{access_key}");
    assert!(secret.len() >= 32, "{secret}");
    assert!(first.stdout().contains("generated now"), "{}", first.stdout());
    assert!(first.stdout().contains(&format!(
        "AWS_ACCESS_KEY_ID={access_key} AWS_SECRET_ACCESS_KEY={secret}"
    )));
    assert!(
        !first.stderr().contains(&secret),
        "the secret reached the log:\n{}",
        first.stderr()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let stored = std::fs::read_to_string(&file).unwrap();
    assert!(stored.contains(&access_key) && stored.contains(&secret));
    assert!(first.terminate(Duration::from_secs(10)).0.success());

    let second = Server::start(serve(dir.path(), &[]));
    assert_eq!(second.connect_value("access key:"), access_key);
    assert_eq!(second.connect_value("secret key:"), secret);
    assert!(second.stdout().contains("(from "), "{}", second.stdout());
    assert!(!second.stderr().contains(&secret), "the secret reached the log");
}

#[test]
fn configured_root_secret_is_never_printed() {
    let secret = "configured-secret-0123456789";
    let dir = tempdir();
    let mut cmd = serve(dir.path(), &[]);
    cmd.env("KEYLESS_ROOT_ACCESS_KEY", "admin")
        .env("KEYLESS_ROOT_SECRET_KEY", secret);
    let mut server = Server::start(cmd);
    assert_eq!(server.connect_value("access key:"), "admin");
    assert!(
        server
            .stdout()
            .contains("not shown; set by environment variable KEYLESS_ROOT_SECRET_KEY"),
        "{}",
        server.stdout()
    );
    assert!(server.terminate(Duration::from_secs(10)).0.success());
    std::thread::sleep(Duration::from_millis(100));
    assert!(!server.stdout().contains(secret), "{}", server.stdout());
    assert!(!server.stderr().contains(secret), "{}", server.stderr());
    assert!(
        !dir.path().join("data").join("root-credentials").exists(),
        "configured credentials must not generate a file"
    );
}

// ---- HTTPS ----

#[path = "support/test_ca.rs"]
mod test_ca;
use test_ca::TestCa;

/// Replaces a file atomically, as a Secret volume update or cert-manager would.
fn replace(path: &Path, contents: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// GET over TLS (verifying against the test CA, SNI `localhost`); returns the response and the
/// DER of the leaf certificate the server presented.
fn https_get(addr: SocketAddr, config: &Arc<rustls::ClientConfig>, path: &str) -> (Response, Vec<u8>) {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let conn = rustls::ClientConnection::new(config.clone(), "localhost".try_into().unwrap()).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let resp = request(&mut tls, "GET", path, &[]);
    let leaf = tls.conn.peer_certificates().expect("server certificate")[0]
        .as_ref()
        .to_vec();
    (resp, leaf)
}

#[test]
fn https_serves_and_picks_up_a_rotated_certificate_without_restart() {
    let dir = tempdir();
    let ca = TestCa::new("keyless test CA");
    let (cert1, key1, der1) = ca.leaf("first");
    let (cert2, key2, der2) = ca.leaf("second");
    let cert_path = dir.path().join("tls.crt");
    let key_path = dir.path().join("tls.key");
    std::fs::write(&cert_path, &cert1).unwrap();
    std::fs::write(&key_path, &key1).unwrap();
    std::fs::write(dir.path().join("keyless.yaml"), "tls:\n  reload_interval_secs: 1\n").unwrap();

    let server = Server::start(serve(
        dir.path(),
        &[
            "--config",
            "keyless.yaml",
            "--tls-cert",
            "tls.crt",
            "--tls-key",
            "tls.key",
        ],
    ));
    assert_eq!(server.scheme, "https");
    let client = ca.client_config();
    let (resp, served) = https_get(server.addr, &client, "/healthz");
    assert_eq!((resp.status, resp.body_text().as_str()), (200, "ok"));
    assert!(served == der1, "the first certificate is served");

    // A rotation caught half-way: the new certificate with the old key. It must not be used.
    replace(&cert_path, &cert2);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !server.stderr().contains("does not match") {
        assert!(
            Instant::now() < deadline,
            "no warning about the mismatched pair:\n{}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        server.stderr().contains(r#"config field "tls.key""#),
        "{}",
        server.stderr()
    );
    let (resp, served) = https_get(server.addr, &client, "/readyz");
    assert_eq!(resp.body_text(), "ready");
    assert!(served == der1, "the old pair stays in service while the new one is bad");

    // The key arrives: the new pair is picked up without a restart.
    replace(&key_path, &key2);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (resp, served) = https_get(server.addr, &client, "/healthz");
        assert_eq!(resp.status, 200);
        if served == der2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rotated certificate was not picked up:\n{}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        server.stderr().contains("reloaded the TLS certificate"),
        "{}",
        server.stderr()
    );
}

#[test]
fn tls_key_not_matching_the_certificate_is_refused_at_start() {
    let dir = tempdir();
    let ca = TestCa::new("keyless test CA");
    let (cert1, _, _) = ca.leaf("first");
    let (_, key2, _) = ca.leaf("second");
    std::fs::write(dir.path().join("tls.crt"), cert1).unwrap();
    std::fs::write(dir.path().join("tls.key"), key2).unwrap();
    let (status, stdout, stderr) = run_to_exit(serve(dir.path(), &["--tls-cert", "tls.crt", "--tls-key", "tls.key"]));
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(!stdout.contains("listening"));
    assert!(
        stderr.contains(r#"config field "tls.key""#) && stderr.contains("does not match"),
        "{stderr}"
    );
}

// ---- shutdown ----

#[test]
fn sigterm_exits_zero_promptly_even_with_an_idle_keep_alive_connection() {
    let dir = tempdir();
    let mut server = Server::start(serve(dir.path(), &[]));
    let mut idle = TcpStream::connect(server.addr).unwrap();
    assert_eq!(request(&mut idle, "GET", "/healthz", &[]).status, 200);
    let (status, took) = server.terminate(Duration::from_secs(10));
    assert!(status.success(), "exit status {status}; stderr:\n{}", server.stderr());
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    // The idle connection was closed, not left hanging.
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 1];
    assert!(matches!(idle.read(&mut buf), Ok(0) | Err(_)));
}

#[test]
fn version_and_help() {
    let dir = tempdir();
    let mut cmd = keyless(dir.path());
    cmd.arg("version");
    let (status, stdout, _) = run_to_exit(cmd);
    assert!(status.success());
    assert_eq!(stdout.trim(), format!("keyless {}", env!("CARGO_PKG_VERSION")));

    let mut cmd = keyless(dir.path());
    cmd.args(["serve", "--help"]);
    let (status, stdout, _) = run_to_exit(cmd);
    assert!(status.success());
    for flag in [
        "--config",
        "--data-dir",
        "--listen",
        "--tls-cert",
        "--tls-key",
        "--region",
        "--domain",
        "--log-format",
    ] {
        assert!(stdout.contains(flag), "--help lacks {flag}:\n{stdout}");
    }
}

// ---- a minimal HTTP/1.1 client ----

struct Response {
    status: u16,
    body: Vec<u8>,
}

impl Response {
    fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request on `stream` and reads one response (`content-length` framed, or to EOF).
fn request<S: Read + Write>(stream: &mut S, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str("host: localhost\r\n");
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "PUT" {
        head.push_str("content-length: 0\r\n");
    }
    head.push_str("\r\n");
    // The server may refuse before reading it all (431); what it answered is still readable.
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.flush());

    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) => panic!(
                "connection closed before a response head; got {:?}",
                String::from_utf8_lossy(&buf)
            ),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("reading the response: {e}; got {:?}", String::from_utf8_lossy(&buf)),
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line: {head}"));
    let content_length = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())
            .flatten()
    });
    let mut body = buf[header_end..].to_vec();
    let want = if method == "HEAD" { Some(0) } else { content_length };
    match want {
        Some(n) => {
            while body.len() < n {
                match stream.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(k) => body.extend_from_slice(&chunk[..k]),
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => panic!("reading the body: {e}"),
                }
            }
            body.truncate(n);
        }
        None => {
            let _ = stream.read_to_end(&mut body);
        }
    }
    Response { status, body }
}
