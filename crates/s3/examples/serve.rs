//! A small S3 server for trying the edge by hand, before and beside the real binary.
//!
//! ```text
//! cargo run -p keyless-s3 --example serve -- <data dir> [port]
//! ```
//!
//! Environment: `KEYLESS_ROOT_ACCESS_KEY` / `KEYLESS_ROOT_SECRET_KEY` (defaults `test` /
//! `testtesttest`), `KEYLESS_REGION` (default `us-east-1`), `KEYLESS_VHOST_DOMAINS`
//! (comma-separated), `KEYLESS_MIN_PART_SIZE` (bytes; default 5 MiB), `RUST_LOG`.

use std::convert::Infallible;
use std::path::PathBuf;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use keyless_s3::{FrontOptions, S3Front};
use keyless_store::{Store, StoreOptions};
use tokio::net::TcpListener;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: serve <data dir> [port]")?);
    let port: u16 = args.next().map(|p| p.parse()).transpose()?.unwrap_or(0);

    let mut opts = StoreOptions::default();
    if let Ok(v) = std::env::var("KEYLESS_MIN_PART_SIZE") {
        opts.min_part_size = v.parse()?;
    }
    let (store, recovery) = Store::open(&dir, opts)?;
    tracing::info!(?recovery, "store opened");
    let front = S3Front::new(
        store,
        FrontOptions {
            root_access_key: env_or("KEYLESS_ROOT_ACCESS_KEY", "test"),
            root_secret_key: env_or("KEYLESS_ROOT_SECRET_KEY", "testtesttest"),
            region: env_or("KEYLESS_REGION", "us-east-1"),
            virtual_host_domains: env_or("KEYLESS_VHOST_DOMAINS", "")
                .split(',')
                .filter(|d| !d.is_empty())
                .map(str::to_owned)
                .collect(),
            identity: keyless_s3::IdentityHandle::default(),
            status: None,
            body_read_timeout: std::time::Duration::from_secs(30),
        },
    );

    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let front = front.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let front = front.clone();
                async move { Ok::<_, Infallible>(front.handle(req).await) }
            });
            if let Err(e) = Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await
            {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}
