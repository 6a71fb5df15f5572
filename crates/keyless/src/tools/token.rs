//! `keyless token inspect`: decode a web identity token and validate it exactly as STS would.
//!
//! The header and claims are shown decoded (the signature and the token itself never are); then
//! the token goes through `KeyCache::verify` — the STS path's one call — against the issuers of
//! the `identity:` section, so keys are fetched only from configured discovery URLs (or read from
//! the configured JWKS file / inline JWKS), and an unknown `kid` gets the same one refetch. A
//! refusal is turned into one sentence that names the cause and the values involved ([`Refusal`]),
//! with a stable `code` for `--json`.

use keyless_identity::token::{TokenError, VerifiedToken};
use keyless_idp::{KeyCache, VerifyError};
use serde_json::{Value, json};

use super::{Decoded, span, time};
use crate::cli::InspectArgs;
use crate::config::identity::IdentityConfig;

/// Why a token is refused, in words: `code` is stable (for `--json`), `reason` says what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub reason: String,
}

/// Verifies `token` as STS does and explains a refusal.
pub async fn check(
    cache: &KeyCache,
    identity: &IdentityConfig,
    token: &str,
    now: i64,
) -> Result<VerifiedToken, Refusal> {
    cache
        .verify(token, now)
        .await
        .map(|v| v.token)
        .map_err(|e| refusal(cache, identity, &e))
}

fn key_ids(cache: &KeyCache, iss: &str) -> String {
    let ids = cache.issuer(iss).map(|k| k.status().key_ids).unwrap_or_default();
    if ids.is_empty() {
        "none".to_owned()
    } else {
        ids.iter().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", ")
    }
}

fn kid_text(kid: &Option<String>) -> String {
    kid.as_ref().map_or("(no kid)".to_owned(), |k| format!("{k:?}"))
}

/// One sentence per refusal; the codes are part of the `--json` output.
pub fn refusal(cache: &KeyCache, identity: &IdentityConfig, e: &VerifyError) -> Refusal {
    let leeway = identity.leeway_secs;
    let (code, reason) = match e {
        VerifyError::KeysUnavailable { issuer, kid, cause } => (
            "keys_unavailable",
            format!(
                "unknown key id {} for issuer {issuer:?}, and its keys could not be fetched: {cause} (STS answers \
                 IDPCommunicationError)",
                kid_text(kid)
            ),
        ),
        VerifyError::UnknownKey { issuer, kid } => {
            let refetched = match cache.issuer(issuer).map(|k| k.source().kind()) {
                Some("jwks") => "not in the issuer's inline jwks",
                Some("jwks_file") => "not in the issuer's jwks_file, even after reading it again",
                _ => "not among the issuer's keys, even after refetching them",
            };
            (
                "unknown_key",
                format!(
                    "unknown key id {} for issuer {issuer:?}: {refetched} (key ids: {}); the token was signed by \
                     another key (another cluster, or keys rotated and the JWKS not updated)",
                    kid_text(kid),
                    key_ids(cache, issuer)
                ),
            )
        }
        VerifyError::Token(t) => match t {
            TokenError::TooLarge { .. } => ("too_large", t.to_string()),
            TokenError::Malformed(m) => ("malformed", format!("not a valid JWT: {m}")),
            TokenError::UnsupportedAlgorithm(alg) if alg == "none" => (
                "algorithm_refused",
                "alg \"none\" refused: unsigned tokens are never accepted".to_owned(),
            ),
            TokenError::UnsupportedAlgorithm(alg) if alg.starts_with("HS") => (
                "algorithm_refused",
                format!("alg {alg:?} refused: HMAC (shared-secret) tokens are never accepted; RS*, PS* and ES* are"),
            ),
            TokenError::UnsupportedAlgorithm(_) => ("algorithm_refused", t.to_string()),
            TokenError::ForbiddenHeader(_) | TokenError::CriticalHeader(_) => ("forbidden_header", t.to_string()),
            TokenError::UnknownIssuer(iss) => {
                let configured: Vec<String> = identity.issuers.iter().map(|s| format!("{:?}", s.issuer)).collect();
                (
                    "issuer_not_configured",
                    format!(
                        "issuer {iss:?} is not configured (configured issuers: {}); the token's iss must equal an \
                         identity.issuers[].issuer byte for byte (scheme, host, path, trailing slash)",
                        if configured.is_empty() {
                            "none".to_owned()
                        } else {
                            configured.join(", ")
                        }
                    ),
                )
            }
            TokenError::UnknownKey { issuer, kid } => (
                "unknown_key",
                format!(
                    "unknown key id {} for issuer {issuer:?} (key ids: {})",
                    kid_text(kid),
                    key_ids(cache, issuer)
                ),
            ),
            TokenError::AlgorithmMismatch { .. } => ("algorithm_mismatch", t.to_string()),
            TokenError::AmbiguousKey(_) => ("ambiguous_key", t.to_string()),
            TokenError::BadSignature { issuer, kid } => (
                "bad_signature",
                format!(
                    "signature invalid: not made by key {} of issuer {issuer:?} (tampered, or signed by another \
                     cluster's key with the same kid)",
                    kid_text(kid)
                ),
            ),
            TokenError::WrongIssuer { .. } => ("wrong_issuer", t.to_string()),
            TokenError::Expired { exp, now } => (
                "expired",
                format!(
                    "expired at {} ({} before {}, beyond the {leeway}s leeway); projected tokens are refreshed by \
                     the kubelet: read the file again rather than keeping the token",
                    time(*exp),
                    span(now - exp),
                    time(*now)
                ),
            ),
            TokenError::NotYetValid { nbf, now } => (
                "not_yet_valid",
                format!(
                    "not valid before {} ({} after {}, beyond the {leeway}s leeway); check the clocks of the cluster \
                     and of keyless (clock skew)",
                    time(*nbf),
                    span(nbf - now),
                    time(*now)
                ),
            ),
            TokenError::IssuedInFuture { iat, now } => (
                "issued_in_future",
                format!(
                    "issued at {}, {} after {} (beyond the {leeway}s leeway); check the clocks of the cluster and of \
                     keyless (clock skew)",
                    time(*iat),
                    span(iat - now),
                    time(*now)
                ),
            ),
            TokenError::WrongAudience { issuer, found } => {
                let accepted = identity
                    .issuers
                    .iter()
                    .find(|s| &s.issuer == issuer)
                    .map(|s| s.audiences.clone())
                    .unwrap_or_default();
                (
                    "wrong_audience",
                    format!(
                        "wrong audience: the token's aud {found:?} holds none of {accepted:?}, the audiences issuer \
                         {issuer:?} accepts (set the projected token's audience, or the issuer's audiences)"
                    ),
                )
            }
            TokenError::MissingClaim(_) => ("missing_claim", t.to_string()),
        },
    };
    Refusal { code, reason }
}

/// The roles whose trust policy admits this verified token.
pub fn assumable_roles(identity: &IdentityConfig, token: &VerifiedToken) -> Vec<String> {
    identity
        .roles
        .iter()
        .filter(|r| r.trust().evaluate(token, &identity.account_id).is_allowed())
        .map(|r| r.arn().to_string())
        .collect()
}

fn pretty(v: &Option<serde_json::Map<String, Value>>) -> String {
    match v {
        Some(m) => serde_json::to_string_pretty(m).unwrap_or_default(),
        None => "(cannot be decoded)".to_owned(),
    }
}

/// `keyless token inspect`: `Ok(true)` valid, `Ok(false)` invalid.
pub fn run(args: &InspectArgs) -> anyhow::Result<bool> {
    let token = super::read_token(&args.input, args.stdin.as_deref())?
        .ok_or_else(|| super::usage("give the token: --token-file FILE, --token JWT or - (standard input)"))?;
    let now = super::now(args.output.now.as_deref())?;
    let identity = super::load_identity(&args.config)?;
    let cache = super::key_cache(&identity)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let result = runtime.block_on(check(&cache, &identity, &token, now));
    let decoded = Decoded::of(&token);

    let iss = decoded.claim_str("iss").map(str::to_owned);
    let source = iss
        .as_deref()
        .and_then(|i| identity.issuers.iter().find(|s| s.issuer == i));
    let times: Vec<(&str, i64)> = ["iat", "nbf", "exp"]
        .into_iter()
        .filter_map(|c| Some((c, decoded.claims.as_ref()?.get(c)?.as_i64()?)))
        .collect();

    if args.output.json {
        let (valid, code, reason, roles) = match &result {
            Ok(t) => (true, None, None, assumable_roles(&identity, t)),
            Err(r) => (false, Some(r.code), Some(r.reason.clone()), Vec::new()),
        };
        let out = json!({
            "valid": valid,
            "code": code,
            "reason": reason,
            "now": time(now),
            "header": decoded.header,
            "claims": decoded.claims,
            "times": times.iter().map(|(c, t)| (c.to_string(), Value::from(time(*t)))).collect::<serde_json::Map<_, _>>(),
            "issuer": iss.as_ref().map(|i| json!({
                "iss": i,
                "configured": source.is_some(),
                "source": source.map(|s| s.kind()),
                "audiences": source.map(|s| s.audiences.clone()),
            })),
            "assumable_roles": roles,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(valid);
    }

    println!("header:\n{}", pretty(&decoded.header));
    println!("claims:\n{}", pretty(&decoded.claims));
    if !times.is_empty() {
        let list: Vec<String> = times.iter().map(|(c, t)| format!("{c} {}", time(*t))).collect();
        println!("times: {} (evaluated at {})", list.join(", "), time(now));
    }
    match (&iss, source) {
        (Some(i), Some(s)) => {
            let aud = if s.audiences.is_empty() {
                "any audience here; each role's trust policy checks it".to_owned()
            } else {
                format!("audiences {:?}", s.audiences)
            };
            println!("issuer: {i:?} is configured ({} keys; {aud})", s.kind());
        }
        (Some(i), None) => println!("issuer: {i:?} is NOT configured"),
        (None, _) => {}
    }
    match &result {
        Ok(t) => {
            let roles = assumable_roles(&identity, t);
            if roles.is_empty() {
                println!("roles whose trust policy admits it: none");
            } else {
                println!("roles whose trust policy admits it: {}", roles.join(", "));
            }
            println!("valid");
            Ok(true)
        }
        Err(r) => {
            println!("invalid: {}", r.reason);
            Ok(false)
        }
    }
}
