//! STS: AssumeRoleWithWebIdentity calls, each with a token minted for it alone (a fresh `jti`,
//! signature and claims: nothing a server could cache). Tokens are minted before the clock starts
//! (RSA signing costs the client more than verifying costs the server), on every core.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, bail};

use crate::creds::{assume_role_request, assume_role_with_web_identity};
use crate::jwt::{Claims, TokenKey, unix_now};
use crate::run::{self, Counter, Plan, Worker};
use crate::s3::{Req, Target};
use crate::stats::PhaseReport;

pub struct Args {
    pub role_arn: String,
    pub key: PathBuf,
    pub issuer: String,
    pub audience: String,
    pub namespace: String,
    pub service_account: String,
    /// Calls per concurrency level.
    pub count: u64,
    pub concurrency: Vec<usize>,
}

struct Calls {
    role_arn: String,
    tokens: Vec<String>,
    counter: Counter,
}

impl Plan for Calls {
    fn kinds(&self) -> &[&'static str] {
        &["assume-role-with-web-identity"]
    }

    fn next(&self, _w: &mut Worker) -> Option<(usize, Req)> {
        let i = self.counter.take()?;
        Some((
            0,
            assume_role_request(&self.role_arn, &format!("bench-{i}"), &self.tokens[i as usize]),
        ))
    }
}

fn mint_all(key: &TokenKey, claims: &Claims<'_>, n: usize) -> Result<Vec<String>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |p| p.get())
        .min(n.max(1));
    let now = unix_now();
    let chunks: Vec<Result<Vec<String>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let share = n / threads + usize::from(t < n % threads);
                s.spawn(move || (0..share).map(|_| key.mint(claims, now)).collect::<Result<Vec<_>>>())
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("minting thread")).collect()
    });
    let mut all = Vec::with_capacity(n);
    for c in chunks {
        all.extend(c?);
    }
    Ok(all)
}

pub async fn run(sts: &Target, args: &Args) -> Result<Vec<PhaseReport>> {
    let key = TokenKey::load(&args.key)?;
    let claims = Claims {
        issuer: &args.issuer,
        audience: &args.audience,
        namespace: &args.namespace,
        service_account: &args.service_account,
        lifetime_secs: 3600,
    };
    let sts = sts.anonymous();
    // One call first, so that a misconfiguration is one clear error, not `count` of them.
    let probe = key.mint(&claims, unix_now())?;
    if let Err(e) = assume_role_with_web_identity(&sts, &args.role_arn, &probe).await {
        bail!("the first AssumeRoleWithWebIdentity failed: {e:#}");
    }
    let mut out = Vec::new();
    for &c in &args.concurrency {
        let t0 = Instant::now();
        let tokens = mint_all(&key, &claims, args.count as usize)?;
        let mint_secs = t0.elapsed().as_secs_f64();
        let plan = Calls {
            role_arn: args.role_arn.clone(),
            tokens,
            counter: Counter::new(0, args.count),
        };
        let report = run::phase(&sts, "assume-role-with-web-identity", c, None, Arc::new(plan)).await?;
        out.push(
            report
                .with("token_alg", key.alg())
                .with("tokens_minted_per_sec", (args.count as f64 / mint_secs).round()),
        );
    }
    Ok(out)
}
