//! `keyless-bench`: a load generator for any S3 endpoint (keyless or a peer), so that they are
//! measured side by side with the same client. One scenario per run; the report is JSON on stdout
//! (and in `--out`), progress lines on stderr.
//!
//! The client is built not to be the bottleneck: tokio, one hyper HTTP/1.1 keep-alive connection
//! per worker, SigV4 with `UNSIGNED-PAYLOAD` (no body hashing), generated bodies sent by
//! reference, response bodies counted and dropped. See docs/benchmarks.md.

mod body;
mod creds;
mod jwt;
mod memory;
mod run;
mod s3;
mod scenarios;
mod sigv4;
mod stats;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::s3::Target;
use crate::scenarios::{Ctx, disk, large, list, mixed, small, sts};
use crate::sigv4::{Credentials, Signer};
use crate::stats::PhaseReport;

#[derive(Parser)]
#[command(
    name = "keyless-bench",
    version,
    about = "Benchmark any S3 endpoint: large and small objects, listings, a mixed workload, STS"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Args)]
struct Global {
    /// The S3 endpoint, http://host:port.
    #[arg(
        long,
        global = true,
        env = "KEYLESS_BENCH_ENDPOINT",
        default_value = "http://127.0.0.1:9000"
    )]
    endpoint: String,
    /// The STS endpoint for web identity [default: the S3 endpoint].
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL_STS")]
    sts_endpoint: Option<String>,
    #[arg(long, global = true, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// Static credentials (with --secret-key).
    #[arg(long, global = true, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    access_key: Option<String>,
    #[arg(long, global = true, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// Web identity, as a pod: the role to assume (with --token-file, when no static keys are given).
    #[arg(long, global = true, env = "AWS_ROLE_ARN")]
    role_arn: Option<String>,
    /// Web identity: the token file (read once, at start).
    #[arg(long, global = true, env = "AWS_WEB_IDENTITY_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// Send requests unsigned (nginx, public buckets).
    #[arg(long, global = true)]
    anonymous: bool,
    /// The bucket to work in (created unless --anonymous) [default: bench-SCENARIO].
    #[arg(long, global = true)]
    bucket: Option<String>,
    /// A name for the system under test, copied into the report.
    #[arg(long, global = true, default_value = "")]
    label: String,
    /// Also write the JSON report here.
    #[arg(long, global = true)]
    out: Option<PathBuf>,
    /// Sample this process's VmRSS / VmHWM from /proc while the scenario runs.
    #[arg(long, global = true)]
    server_pid: Option<u32>,
    /// Worker threads of the client's runtime [default: the number of cores].
    #[arg(long, global = true)]
    threads: Option<usize>,
}

/// Who the minted tokens name (`sts` and `token`).
#[derive(Args)]
struct TokenClaims {
    #[arg(long, default_value = "https://bench.keyless.test")]
    issuer: String,
    #[arg(long, default_value = "sts.amazonaws.com")]
    audience: String,
    /// namespace/serviceaccount of the tokens' subject.
    #[arg(long, default_value = "bench/loader")]
    subject: String,
}

#[derive(Subcommand)]
enum Scenario {
    /// PUT then GET of large objects at each concurrency.
    Large {
        #[arg(long, default_value = "256MiB", value_parser = parse_size)]
        size: u64,
        /// Objects per phase.
        #[arg(long, default_value_t = 4)]
        count: u64,
        #[arg(long, default_value = "1,4", value_delimiter = ',')]
        concurrency: Vec<usize>,
        #[arg(long, conflicts_with = "put_only")]
        get_only: bool,
        #[arg(long)]
        put_only: bool,
    },
    /// PUT, GET and HEAD of small objects for a duration at each concurrency.
    Small {
        #[arg(long, default_value = "4KiB", value_parser = parse_size)]
        size: u64,
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        duration: Duration,
        #[arg(long, default_value = "1,16,64", value_delimiter = ',')]
        concurrency: Vec<usize>,
    },
    /// Prefill a bucket to each size, then time listing pages.
    List {
        #[arg(long, default_value = "10000,100000", value_delimiter = ',')]
        keys: Vec<u64>,
        #[arg(long, default_value_t = 1000)]
        page: u64,
        /// Timed requests per listing kind and bucket size.
        #[arg(long, default_value_t = 20)]
        repeat: u32,
        #[arg(long, default_value_t = 32)]
        prefill_concurrency: usize,
        #[arg(long, default_value = "0", value_parser = parse_size)]
        object_size: u64,
        #[arg(long)]
        skip_prefill: bool,
    },
    /// 45% GET, 30% HEAD, 15% PUT, 10% DELETE.
    Mixed {
        #[arg(long, default_value = "1MiB", value_parser = parse_size)]
        size: u64,
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        duration: Duration,
        #[arg(long, default_value = "16", value_delimiter = ',')]
        concurrency: Vec<usize>,
        #[arg(long, default_value_t = 64)]
        objects: u64,
    },
    /// AssumeRoleWithWebIdentity with a fresh token per call (needs --role-arn).
    Sts {
        /// The signing key (PKCS#8 PEM, RSA or EC P-256); see `jwks`.
        #[arg(long)]
        key: PathBuf,
        #[command(flatten)]
        claims: TokenClaims,
        #[arg(long, default_value_t = 2000)]
        count: u64,
        #[arg(long, default_value = "1,8", value_delimiter = ',')]
        concurrency: Vec<usize>,
    },
    /// The PUT reference: sequential file writes with fdatasync (no server).
    Disk {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value = "256MiB", value_parser = parse_size)]
        size: u64,
        #[arg(long, default_value_t = 4)]
        count: u64,
        #[arg(long, default_value = "1,4", value_delimiter = ',')]
        concurrency: Vec<usize>,
    },
    /// Write the JWKS of a signing key (generating an EC P-256 key if the file is missing).
    Jwks {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        jwks_out: PathBuf,
    },
    /// Mint one token into a file, as the kubelet does for a pod.
    Token {
        #[arg(long)]
        key: PathBuf,
        #[command(flatten)]
        claims: TokenClaims,
        #[arg(long, default_value_t = 3600)]
        lifetime_secs: u64,
        #[arg(long)]
        token_out: PathBuf,
    },
}

#[derive(Serialize)]
struct Report {
    tool: &'static str,
    version: &'static str,
    scenario: &'static str,
    label: String,
    endpoint: String,
    bucket: String,
    credentials: &'static str,
    started_at: String,
    params: serde_json::Value,
    phases: Vec<PhaseReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory: Option<memory::MemoryReport>,
    client_threads: usize,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let threads = cli
        .global
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    rt.block_on(async_main(cli, threads))
}

async fn async_main(cli: Cli, threads: usize) -> Result<()> {
    let g = &cli.global;
    let started_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let (name, params): (&'static str, serde_json::Value) = match &cli.scenario {
        Scenario::Jwks { key, jwks_out } => {
            let k = if key.exists() {
                jwt::TokenKey::load(key)?
            } else {
                jwt::TokenKey::generate_ec(key)?
            };
            std::fs::write(jwks_out, serde_json::to_string_pretty(&k.jwks())?)
                .with_context(|| format!("writing {}", jwks_out.display()))?;
            eprintln!("keyless-bench: {} key {} -> {}", k.alg(), k.kid(), jwks_out.display());
            return Ok(());
        }
        Scenario::Token {
            key,
            claims:
                TokenClaims {
                    issuer,
                    audience,
                    subject,
                },
            lifetime_secs,
            token_out,
        } => {
            let (namespace, service_account) = split_subject(subject)?;
            let k = jwt::TokenKey::load(key)?;
            let claims = jwt::Claims {
                issuer,
                audience,
                namespace,
                service_account,
                lifetime_secs: *lifetime_secs,
            };
            std::fs::write(token_out, k.mint(&claims, jwt::unix_now())?)?;
            return Ok(());
        }
        Scenario::Large {
            size,
            count,
            concurrency,
            get_only,
            put_only,
        } => (
            "large",
            serde_json::json!({"size": size, "count": count, "concurrency": concurrency, "get_only": get_only, "put_only": put_only}),
        ),
        Scenario::Small {
            size,
            duration,
            concurrency,
        } => (
            "small",
            serde_json::json!({"size": size, "duration_secs": duration.as_secs_f64(), "concurrency": concurrency}),
        ),
        Scenario::List {
            keys,
            page,
            repeat,
            prefill_concurrency,
            object_size,
            skip_prefill,
        } => (
            "list",
            serde_json::json!({"keys": keys, "page": page, "repeat": repeat, "prefill_concurrency": prefill_concurrency, "object_size": object_size, "skip_prefill": skip_prefill}),
        ),
        Scenario::Mixed {
            size,
            duration,
            concurrency,
            objects,
        } => (
            "mixed",
            serde_json::json!({"size": size, "duration_secs": duration.as_secs_f64(), "concurrency": concurrency, "objects": objects}),
        ),
        Scenario::Sts {
            claims:
                TokenClaims {
                    issuer,
                    audience,
                    subject,
                },
            count,
            concurrency,
            ..
        } => (
            "sts",
            serde_json::json!({"issuer": issuer, "audience": audience, "subject": subject, "count": count, "concurrency": concurrency}),
        ),
        Scenario::Disk {
            dir,
            size,
            count,
            concurrency,
        } => (
            "disk",
            serde_json::json!({"dir": dir, "size": size, "count": count, "concurrency": concurrency}),
        ),
    };

    let uses_s3 = !matches!(cli.scenario, Scenario::Sts { .. } | Scenario::Disk { .. });
    let (signer, credentials) = if uses_s3 { credentials(g).await? } else { (None, "none") };
    let target = Target::new(&g.endpoint, signer)?;
    let bucket = g.bucket.clone().unwrap_or_else(|| format!("bench-{name}"));
    if uses_s3 && !g.anonymous {
        s3::ensure_bucket(&target, &bucket).await?;
    }
    let ctx = Ctx { target, bucket };
    let sampler = g.server_pid.map(memory::Sampler::start).transpose()?;

    let phases = match &cli.scenario {
        Scenario::Large {
            size,
            count,
            concurrency,
            get_only,
            put_only,
        } => {
            let args = large::Args {
                size: *size,
                count: *count,
                concurrency: concurrency.clone(),
                get_only: *get_only,
                put_only: *put_only,
            };
            large::run(&ctx, &args).await?
        }
        Scenario::Small {
            size,
            duration,
            concurrency,
        } => {
            small::run(
                &ctx,
                &small::Args {
                    size: *size,
                    duration: *duration,
                    concurrency: concurrency.clone(),
                },
            )
            .await?
        }
        Scenario::List {
            keys,
            page,
            repeat,
            prefill_concurrency,
            object_size,
            skip_prefill,
        } => {
            let mut keys = keys.clone();
            keys.sort_unstable();
            let args = list::Args {
                keys,
                page: *page,
                repeat: *repeat,
                prefill_concurrency: *prefill_concurrency,
                object_size: *object_size,
                skip_prefill: *skip_prefill,
            };
            list::run(&ctx, &args).await?
        }
        Scenario::Mixed {
            size,
            duration,
            concurrency,
            objects,
        } => {
            let args = mixed::Args {
                size: *size,
                duration: *duration,
                concurrency: concurrency.clone(),
                objects: *objects,
            };
            mixed::run(&ctx, &args).await?
        }
        Scenario::Sts {
            key,
            claims:
                TokenClaims {
                    issuer,
                    audience,
                    subject,
                },
            count,
            concurrency,
        } => {
            let (namespace, service_account) = split_subject(subject)?;
            let Some(role_arn) = g.role_arn.clone() else {
                bail!("the sts scenario needs --role-arn")
            };
            let sts_target = Target::new(g.sts_endpoint.as_deref().unwrap_or(&g.endpoint), None)?;
            let args = sts::Args {
                role_arn,
                key: key.clone(),
                issuer: issuer.clone(),
                audience: audience.clone(),
                namespace: namespace.to_owned(),
                service_account: service_account.to_owned(),
                count: *count,
                concurrency: concurrency.clone(),
            };
            sts::run(&sts_target, &args).await?
        }
        Scenario::Disk {
            dir,
            size,
            count,
            concurrency,
        } => {
            let args = disk::Args {
                dir: dir.clone(),
                size: *size,
                count: *count,
                concurrency: concurrency.clone(),
            };
            tokio::task::block_in_place(|| disk::run(&args))?
        }
        Scenario::Jwks { .. } | Scenario::Token { .. } => unreachable!("handled above"),
    };

    let report = Report {
        tool: "keyless-bench",
        version: env!("CARGO_PKG_VERSION"),
        scenario: name,
        label: g.label.clone(),
        endpoint: g.endpoint.clone(),
        bucket: ctx.bucket.clone(),
        credentials,
        started_at,
        params,
        phases,
        memory: sampler.map(memory::Sampler::finish),
        client_threads: threads,
    };
    let json = serde_json::to_string_pretty(&report)?;
    if let Some(out) = &g.out {
        std::fs::write(out, &json).with_context(|| format!("writing {}", out.display()))?;
    }
    println!("{json}");
    Ok(())
}

/// Static keys if given; else web identity from the role and token file; else unsigned if asked.
async fn credentials(g: &Global) -> Result<(Option<Signer>, &'static str)> {
    if g.anonymous {
        return Ok((None, "anonymous"));
    }
    if let (Some(access_key), Some(secret_key)) = (&g.access_key, &g.secret_key) {
        let creds = Credentials {
            access_key: access_key.clone(),
            secret_key: secret_key.clone(),
            session_token: None,
        };
        return Ok((Some(Signer::new(creds, &g.region, "s3")), "static"));
    }
    if let (Some(role), Some(file)) = (&g.role_arn, &g.token_file) {
        let token = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let sts = Target::new(g.sts_endpoint.as_deref().unwrap_or(&g.endpoint), None)?;
        let creds = creds::assume_role_with_web_identity(&sts, role, token.trim()).await?;
        eprintln!("keyless-bench: web identity: temporary key {}", creds.access_key);
        return Ok((Some(Signer::new(creds, &g.region, "s3")), "web-identity"));
    }
    bail!("no credentials: give --access-key and --secret-key, or --role-arn and --token-file, or --anonymous")
}

fn split_subject(s: &str) -> Result<(&str, &str)> {
    s.split_once('/')
        .with_context(|| format!("--subject {s:?}: expected namespace/serviceaccount"))
}

/// `4096`, `4KiB`, `256MiB`, `1GiB` (also `KB`/`MB`/`GB` = powers of 1000).
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("{s:?}: not a size"))?;
    let mult = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "k" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        u => return Err(format!("{s:?}: unknown unit {u:?}")),
    };
    Ok(n * mult)
}

/// `10s`, `500ms`, `2m`, or plain seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let bad = || format!("{s:?}: not a duration");
    if let Some(ms) = s.strip_suffix("ms") {
        return ms.parse().map(Duration::from_millis).map_err(|_| bad());
    }
    if let Some(m) = s.strip_suffix('m') {
        return m.parse::<u64>().map(|m| Duration::from_secs(m * 60)).map_err(|_| bad());
    }
    s.strip_suffix('s')
        .unwrap_or(s)
        .parse::<f64>()
        .map(Duration::from_secs_f64)
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("4KiB"), Ok(4096));
        assert_eq!(parse_size("10"), Ok(10));
        assert_eq!(parse_size("2MB"), Ok(2_000_000));
        assert!(parse_size("x").is_err());
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    }

    #[test]
    fn the_cli_is_consistent() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
