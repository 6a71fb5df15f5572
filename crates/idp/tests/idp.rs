//! keyless-idp against a real HTTPS identity provider on 127.0.0.1 (see `common`), real files and
//! the real clock.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{TestIdp, options};
use keyless_identity::SystemRandom;
use keyless_identity::role::{Role, RoleArn, Roles};
use keyless_identity::session::{SessionKey, SessionKeys};
use keyless_identity::sts::{AssumedRole, StsError, StsErrorCode, StsRequest, assume_role_with_web_identity};
use keyless_identity::token::{TokenError, Validation};
use keyless_identity::trust::TrustShortForm;
use keyless_idp::dev::write_atomically;
use keyless_idp::{
    DevIssuer, DiscoverySource, FetchError, FetchOptions, IssuerSource, KeyCache, KeySource, KidLookup,
    ServiceAccountToken, TokenFileWriter, VerifyError,
};

const NOW: i64 = 1_772_366_400;

fn sa() -> ServiceAccountToken {
    ServiceAccountToken::new("apps", "litestream")
}

fn cache(sources: Vec<IssuerSource>, opts: FetchOptions) -> KeyCache {
    KeyCache::new(sources, Validation::default(), opts).unwrap()
}

/// Keys minted for the provider's issuer URL, which is only known once it listens.
async fn started() -> (TestIdp, DevIssuer, DevIssuer) {
    let idp = TestIdp::start(String::new()).await;
    let (a, b) = (DevIssuer::generate(&idp.issuer), DevIssuer::generate(&idp.issuer));
    idp.set(|s| s.jwks = a.jwks_json());
    (idp, a, b)
}

fn err_of(r: Result<bool, FetchError>) -> FetchError {
    r.expect_err("the fetch should fail")
}

#[tokio::test]
async fn trust_comes_from_the_ca_file() {
    let (idp, a, _) = started().await;
    let keys = cache(vec![idp.source()], options(Duration::from_secs(30)));
    assert_eq!(keys.issuer(&idp.issuer).unwrap().refresh().await, Ok(true));
    let status = &keys.status()[0];
    assert_eq!(
        (status.key_count, status.key_ids.clone()),
        (1, vec![a.kid().to_owned()])
    );
    assert_eq!(
        status.jwks_uri.as_deref(),
        Some(format!("{}/openid/v1/jwks", idp.issuer).as_str())
    );
    assert!(status.keys_age.unwrap() < Duration::from_secs(5));

    // Another CA's bundle: the provider's certificate is from an unknown issuer.
    let other = TestIdp::start(String::new()).await;
    let mut src = idp.source();
    src.keys = KeySource::Discovery(DiscoverySource {
        ca_file: Some(other.ca_file.clone()),
        ..Default::default()
    });
    let keys = cache(vec![src.clone()], options(Duration::from_secs(30)));
    let e = err_of(keys.issuer(&idp.issuer).unwrap().refresh().await);
    assert!(
        matches!(&e, FetchError::Connect { reason, .. } if reason.contains("UnknownIssuer")),
        "{e}"
    );

    // No CA file: the system trust store, which does not know a throwaway CA either.
    src.keys = KeySource::Discovery(DiscoverySource::default());
    let keys = cache(vec![src], options(Duration::from_secs(30)));
    let e = err_of(keys.issuer(&idp.issuer).unwrap().refresh().await);
    assert!(
        matches!(&e, FetchError::Connect { reason, .. } if reason.contains("UnknownIssuer"))
            || matches!(e, FetchError::NoRoots(_)),
        "{e}"
    );
    assert_eq!(keys.status()[0].key_count, 0);
}

#[tokio::test]
async fn bearer_token_is_sent_and_reread_on_every_fetch() {
    let (idp, _a, _) = started().await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "first-token\n").unwrap();
    idp.set(|s| s.require_bearer = Some("first-token".into()));
    let mut src = idp.source();
    let KeySource::Discovery(d) = &mut src.keys else {
        unreachable!()
    };
    d.bearer_token_file = Some(token_file.clone());
    let keys = cache(vec![src], options(Duration::from_secs(30)));
    let issuer = keys.issuer(&idp.issuer).unwrap();
    assert_eq!(issuer.refresh().await, Ok(true));
    let seen: Vec<_> = idp.seen.lock().unwrap().drain(..).collect();
    assert_eq!(
        seen,
        vec![
            (
                "/.well-known/openid-configuration".into(),
                Some("Bearer first-token".into())
            ),
            ("/openid/v1/jwks".into(), Some("Bearer first-token".into())),
        ]
    );

    // The kubelet rotated the token file; the provider only takes the new token.
    idp.set(|s| s.require_bearer = Some("second-token".into()));
    std::fs::write(&token_file, "second-token").unwrap();
    assert_eq!(issuer.refresh().await, Ok(false));
    assert!(
        idp.seen
            .lock()
            .unwrap()
            .iter()
            .all(|(_, auth)| auth.as_deref() == Some("Bearer second-token"))
    );

    // A provider that wants a token we do not have.
    idp.set(|s| s.require_bearer = Some("third-token".into()));
    let e = err_of(issuer.refresh().await);
    assert!(matches!(e, FetchError::Status { status: 401, .. }), "{e}");
    std::fs::remove_file(&token_file).unwrap();
    let e = err_of(issuer.refresh().await);
    assert!(matches!(e, FetchError::TokenFile { .. }), "{e}");
    assert_eq!(issuer.status().key_count, 1, "failures keep the keys");
}

#[tokio::test]
async fn key_rotation_is_picked_up_on_an_unknown_kid() {
    let (idp, a, b) = started().await;
    let keys = cache(vec![idp.source()], options(Duration::from_secs(30)));
    // Start-up fetches every issuer once.
    let all = keys.refresh_all().await;
    assert_eq!(all, vec![(idp.issuer.clone(), Ok(true))]);
    let v = keys.verify(&a.mint(&sa(), NOW), NOW).await.unwrap();
    assert_eq!(v.token.subject, "system:serviceaccount:apps:litestream");
    assert_eq!(idp.jwks_fetches(), 1);
    // The cluster rotates to key b.
    idp.set(|s| s.jwks = b.jwks_json());
    let v = keys.verify(&b.mint(&sa(), NOW), NOW).await.unwrap();
    assert_eq!(v.token.key_id.as_deref(), Some(b.kid()));
    assert_eq!(idp.jwks_fetches(), 2);
    assert_eq!(keys.status()[0].unknown_kid_refetches, 1);
    // The snapshot handed back has the key the token was verified with.
    assert!(v.issuers.verify(&b.mint(&sa(), NOW), NOW).is_ok());
    // Key a is gone from the issuer now.
    let e = keys.verify(&a.mint(&sa(), NOW), NOW).await.unwrap_err();
    assert!(matches!(e, VerifyError::UnknownKey { .. }), "{e:?}");
    assert_eq!(e.to_sts_error().code, StsErrorCode::InvalidIdentityToken);
}

#[tokio::test]
async fn unknown_kid_refetches_are_rate_limited_and_shared() {
    let (idp, a, b) = started().await;
    let keys = cache(vec![idp.source()], options(Duration::from_millis(1500)));
    let issuer = keys.issuer(&idp.issuer).unwrap().clone();
    assert_eq!(issuer.refresh().await, Ok(true));
    assert_eq!(idp.jwks_fetches(), 1);
    // Twenty concurrent tokens naming an unknown key, while the fetch is slow: one fetch.
    idp.set(|s| s.jwks_delay = Duration::from_millis(300));
    let foreign = b.mint(&sa(), NOW);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (keys, token) = (keys.clone(), foreign.clone());
        set.spawn(async move { keys.verify(&token, NOW).await });
    }
    while let Some(r) = set.join_next().await {
        assert!(matches!(r.unwrap(), Err(VerifyError::UnknownKey { .. })));
    }
    assert_eq!(idp.jwks_fetches(), 2);
    // Within the cooldown: no fetch, even though the issuer now has the key.
    idp.set(|s| {
        s.jwks_delay = Duration::ZERO;
        s.jwks = format!(
            r#"{{"keys":[{},{}]}}"#,
            &a.jwks_json()[9..a.jwks_json().len() - 2],
            &b.jwks_json()[9..b.jwks_json().len() - 2]
        );
    });
    assert_eq!(issuer.on_unknown_kid(Some(b.kid())).await, KidLookup::Unknown);
    assert_eq!(idp.jwks_fetches(), 2);
    // After the cooldown: one fetch, and the key is found.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert!(keys.verify(&foreign, NOW).await.is_ok());
    assert_eq!(idp.jwks_fetches(), 3);
    // Known keys never cause a fetch.
    for _ in 0..5 {
        assert!(keys.verify(&a.mint(&sa(), NOW), NOW).await.is_ok());
    }
    assert_eq!(idp.jwks_fetches(), 3);
    assert_eq!(issuer.status().unknown_kid_refetches, 2);
}

#[tokio::test]
async fn an_unreachable_issuer_keeps_its_cached_keys() {
    let (idp, a, b) = started().await;
    let keys = cache(vec![idp.source()], options(Duration::from_millis(1)));
    let issuer = keys.issuer(&idp.issuer).unwrap();
    assert_eq!(issuer.refresh().await, Ok(true));
    idp.set(|s| s.fail = true);
    let e = err_of(issuer.refresh().await);
    assert!(matches!(e, FetchError::Status { status: 500, .. }), "{e}");
    let status = issuer.status();
    assert_eq!((status.key_count, status.fetches, status.fetch_failures), (1, 2, 1));
    assert!(status.last_error.unwrap().contains("HTTP 500"));
    // Cached keys keep verifying.
    assert!(keys.verify(&a.mint(&sa(), NOW), NOW).await.is_ok());
    // A token with a key we do not have: we could not ask, so the client should retry.
    let e = keys.verify(&b.mint(&sa(), NOW), NOW).await.unwrap_err();
    assert!(
        matches!(&e, VerifyError::KeysUnavailable { cause, .. } if cause.contains("HTTP 500")),
        "{e:?}"
    );
    let sts = e.to_sts_error();
    assert_eq!(sts.code, StsErrorCode::IdpCommunicationError);
    assert!(
        !sts.message.contains("HTTP 500"),
        "internal causes stay in the log: {}",
        sts.message
    );
    // The issuer is back with the new key: the next unknown kid finds it.
    idp.set(|s| {
        s.fail = false;
        s.jwks = b.jwks_json();
    });
    assert!(keys.verify(&b.mint(&sa(), NOW), NOW).await.is_ok());
    assert_eq!(issuer.status().last_error, None);
    // Down and never fetched: the first unknown kid is a communication error too.
    drop(idp);
    let dead = cache(
        vec![IssuerSource {
            issuer: "https://127.0.0.1:9".into(),
            keys: KeySource::Discovery(DiscoverySource::default()),
            audiences: vec![],
        }],
        options(Duration::from_secs(30)),
    );
    let token = DevIssuer::generate("https://127.0.0.1:9").mint(&sa(), NOW);
    let e = dead.verify(&token, NOW).await.unwrap_err();
    assert_eq!(e.to_sts_error().code, StsErrorCode::IdpCommunicationError, "{e:?}");
}

#[tokio::test]
async fn hostile_or_broken_providers_are_refused_and_the_keys_kept() {
    let (idp, a, _) = started().await;
    let keys = cache(vec![idp.source()], options(Duration::from_secs(30)));
    let issuer = keys.issuer(&idp.issuer).unwrap();
    assert_eq!(issuer.refresh().await, Ok(true));
    type Check = fn(&FetchError) -> bool;
    type Misbehave = Box<dyn Fn(&mut common::Behaviour)>;
    let other_host = format!("https://localhost:{}/moved/openid-configuration", idp.port);
    let cases: Vec<(&str, Misbehave, Check)> = vec![
        ("oversized JWKS", Box::new(|s| s.oversized = true), |e| {
            matches!(e, FetchError::TooLarge { max: 1_048_576, .. })
        }),
        (
            "another issuer in the discovery document",
            Box::new(|s| s.wrong_issuer = true),
            |e| matches!(e, FetchError::WrongIssuer { found, .. } if found.ends_with('/')),
        ),
        ("an http jwks_uri", Box::new(|s| s.http_jwks_uri = true), |e| {
            matches!(e, FetchError::NotHttps { .. })
        }),
        (
            "a redirect to another host",
            Box::new(move |s| s.redirect_discovery = Some(other_host.clone())),
            |e| matches!(e, FetchError::Redirect { reason, .. } if reason.contains("another")),
        ),
        ("a JWKS that is not JSON", Box::new(|s| s.jwks = "<html>".into()), |e| {
            matches!(e, FetchError::Jwks { .. })
        }),
        (
            "a JWKS with private key material",
            Box::new(|s| s.jwks = r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#.into()),
            |e| matches!(e, FetchError::Jwks { error, .. } if error.contains("private")),
        ),
    ];
    let good = idp.behaviour.lock().unwrap().clone();
    for (name, misbehave, check) in cases {
        idp.set(|s| misbehave(s));
        let e = err_of(issuer.refresh().await);
        assert!(check(&e), "{name}: {e}");
        assert!(keys.verify(&a.mint(&sa(), NOW), NOW).await.is_ok(), "{name}: keys kept");
        idp.set(|s| *s = good.clone());
    }
    // A redirect on the same origin is followed.
    idp.set(|s| s.redirect_discovery = Some("/moved/openid-configuration".into()));
    assert_eq!(issuer.refresh().await, Ok(false));
    // A provider that never answers: the time limit.
    idp.set(|s| s.jwks_delay = Duration::from_secs(5));
    let mut opts = options(Duration::from_secs(30));
    opts.timeout = Duration::from_millis(300);
    let slow = cache(vec![idp.source()], opts);
    let e = err_of(slow.issuer(&idp.issuer).unwrap().refresh().await);
    assert!(matches!(e, FetchError::Timeout { .. }), "{e}");
}

#[tokio::test]
async fn periodic_refresh_installs_new_keys_without_a_token() {
    let (idp, a, b) = started().await;
    let mut opts = options(Duration::from_secs(30));
    opts.refresh_interval = Duration::from_millis(200);
    let keys = cache(vec![idp.source()], opts);
    let refreshers = keys.spawn_refreshers();
    wait_until(|| keys.status()[0].key_ids == vec![a.kid().to_owned()]).await;
    idp.set(|s| s.jwks = b.jwks_json());
    wait_until(|| keys.status()[0].key_ids == vec![b.kid().to_owned()]).await;
    assert!(idp.jwks_fetches() >= 2);
    // Dropping the handle stops the refreshers.
    drop(refreshers);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fetches = idp.jwks_fetches();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(idp.jwks_fetches(), fetches);
}

#[tokio::test]
async fn jwks_files_are_reloaded_and_a_broken_one_keeps_the_old_keys() {
    let iss = "https://kubernetes.default.svc.cluster.local";
    let (a, b) = (DevIssuer::generate(iss), DevIssuer::generate(iss));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jwks.json");
    // Broken at start: the cache starts, says why, and refuses the issuer's tokens.
    std::fs::write(&file, "{").unwrap();
    let mut opts = options(Duration::from_millis(1));
    opts.file_poll_interval = Duration::from_millis(50);
    let keys = cache(
        vec![IssuerSource {
            issuer: iss.into(),
            keys: KeySource::JwksFile(file.clone()),
            audiences: vec!["sts.amazonaws.com".into()],
        }],
        opts,
    );
    assert!(keys.status()[0].last_error.as_ref().unwrap().contains("not valid JSON"));
    let _refreshers = keys.spawn_refreshers();

    write_atomically(&file, a.jwks_json().as_bytes()).unwrap();
    wait_until(|| keys.status()[0].key_ids == vec![a.kid().to_owned()]).await;
    assert_eq!(keys.status()[0].last_error, None);
    assert!(keys.verify(&a.mint(&sa(), NOW), NOW).await.is_ok());

    // Rotated (as `kubectl get --raw /openid/v1/jwks > file` would, in place).
    std::fs::write(&file, b.jwks_json()).unwrap();
    wait_until(|| keys.status()[0].key_ids == vec![b.kid().to_owned()]).await;
    assert!(keys.verify(&b.mint(&sa(), NOW), NOW).await.is_ok());
    let e = keys.verify(&a.mint(&sa(), NOW), NOW).await.unwrap_err();
    assert_eq!(e.to_sts_error().code, StsErrorCode::InvalidIdentityToken, "{e:?}");

    // A broken edit: logged, the old keys stay.
    let failures = keys.status()[0].fetch_failures;
    std::fs::write(&file, r#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}"#).unwrap();
    wait_until(|| keys.status()[0].fetch_failures > failures).await;
    let status = &keys.status()[0];
    assert!(status.last_error.as_ref().unwrap().contains("2048"), "{status:?}");
    assert_eq!(status.key_ids, vec![b.kid().to_owned()]);
    assert!(keys.verify(&b.mint(&sa(), NOW), NOW).await.is_ok());
    // Audiences configured for the issuer apply.
    let mut wrong_aud = sa();
    wrong_aud.audiences = vec!["vault".into()];
    let e = keys.verify(&b.mint(&wrong_aud, NOW), NOW).await.unwrap_err();
    assert!(
        matches!(e, VerifyError::Token(TokenError::WrongAudience { .. })),
        "{e:?}"
    );
}

#[tokio::test]
async fn dev_issuer_tokens_verify_through_every_source() {
    let dir = tempfile::tempdir().unwrap();
    let dev = DevIssuer::load_or_create("https://keyless.local/dev", &dir.path().join("dev.key")).unwrap();
    // Inline, as the quick-start configures it.
    let keys = cache(vec![dev.issuer_source()], options(Duration::from_secs(30)));
    let v = keys.verify(&dev.mint(&sa(), NOW), NOW).await.unwrap();
    assert_eq!(v.token.issuer, "https://keyless.local/dev");
    assert_eq!(v.token.kubernetes.unwrap().service_account.name, "litestream");
    let e = keys.verify(&dev.mint(&sa(), NOW), NOW + 7200).await.unwrap_err();
    assert_eq!(e.to_sts_error().code, StsErrorCode::ExpiredTokenException);
    // An inline source has nothing to refetch: an unknown key is simply unknown.
    let stranger = DevIssuer::generate("https://keyless.local/dev");
    let e = keys.verify(&stranger.mint(&sa(), NOW), NOW).await.unwrap_err();
    assert!(matches!(e, VerifyError::UnknownKey { .. }), "{e:?}");
    // An issuer nobody configured.
    let e = keys
        .verify(&DevIssuer::generate("https://evil.example").mint(&sa(), NOW), NOW)
        .await
        .unwrap_err();
    assert!(matches!(e, VerifyError::Token(TokenError::UnknownIssuer(_))), "{e:?}");
    // Served through discovery over HTTPS.
    let idp = TestIdp::start(String::new()).await;
    let dev = DevIssuer::generate(&idp.issuer);
    idp.set(|s| s.jwks = dev.jwks_json());
    let keys = cache(vec![idp.source()], options(Duration::from_secs(30)));
    assert!(keys.verify(&dev.mint(&sa(), NOW), NOW).await.is_ok());
}

/// The STS path as the edge will run it: `KeyCache::verify` (refetching on a rotated key), then
/// the core's AssumeRoleWithWebIdentity with the snapshot the token was verified against.
#[tokio::test]
async fn sts_assume_role_through_the_cache() {
    let (idp, a, b) = started().await;
    let keys = cache(vec![idp.source()], options(Duration::from_secs(30)));
    keys.refresh_all().await;
    let account = "123456789012";
    let arn = RoleArn::new(account, "litestream").unwrap();
    let trust = TrustShortForm {
        issuer: idp.issuer.clone(),
        audiences: vec!["sts.amazonaws.com".into()],
        service_accounts: vec!["apps/*".into()],
    }
    .expand(account)
    .unwrap();
    let mut roles = Roles::new();
    roles.insert(Role::new(arn.clone(), trust, vec![]).unwrap());
    let session_keys = SessionKeys::new(SessionKey::new(1, &[7; 32]));
    let sts = |token: String| sts_call(&keys, &roles, &session_keys, &arn, token);
    let assumed = sts(a.mint(&sa(), NOW)).await.unwrap();
    assert_eq!(assumed.subject, "system:serviceaccount:apps:litestream");
    assert_eq!(
        (assumed.provider.as_str(), assumed.audience.as_str()),
        (idp.issuer.as_str(), "sts.amazonaws.com")
    );
    // The cluster rotates its key: the first token signed with it makes the cache refetch.
    idp.set(|s| s.jwks = b.jwks_json());
    assert!(sts(b.mint(&sa(), NOW)).await.is_ok());
    // Another namespace is not trusted by the role.
    let other = ServiceAccountToken::new("kube-system", "admin");
    assert_eq!(
        sts(b.mint(&other, NOW)).await.unwrap_err().code,
        StsErrorCode::AccessDenied
    );
}

/// One AssumeRoleWithWebIdentity call.
async fn sts_call(
    keys: &KeyCache,
    roles: &Roles,
    session_keys: &SessionKeys,
    arn: &RoleArn,
    token: String,
) -> Result<AssumedRole, StsError> {
    let form = format!(
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={arn}&RoleSessionName=s1&WebIdentityToken={token}"
    );
    let Ok(StsRequest::AssumeRoleWithWebIdentity(req)) = StsRequest::parse(&form) else {
        panic!("the form parses")
    };
    let verified = keys
        .verify(&req.web_identity_token, NOW)
        .await
        .map_err(|e| e.to_sts_error())?;
    assume_role_with_web_identity(&req, &verified.issuers, roles, session_keys, NOW, &SystemRandom::new())
}

#[tokio::test]
async fn the_token_file_is_rewritten_at_80_percent_of_its_lifetime() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("serviceaccount").join("token");
    let dev = Arc::new(DevIssuer::generate("https://keyless.local/dev"));
    let mut req = ServiceAccountToken::new("default", "demo");
    req.lifetime = Duration::from_secs(2);
    let task = TokenFileWriter::new(dev.clone(), req, &path).start().unwrap();
    let first = std::fs::read_to_string(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let keys = cache(vec![dev.issuer_source()], FetchOptions::default());
    let v = keys.verify(&first, unix_now()).await.unwrap();
    assert_eq!(v.token.expires_at - v.token.issued_at.unwrap(), 2);
    // Not rewritten before 80% (1.6 s)...
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(std::fs::read_to_string(&path).unwrap(), first);
    // ...and rewritten soon after.
    tokio::time::sleep(Duration::from_millis(900)).await;
    let second = std::fs::read_to_string(&path).unwrap();
    assert_ne!(second, first);
    assert!(keys.verify(&second, unix_now()).await.is_ok());
    // No temp files left beside it.
    assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    task.abort();
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

async fn wait_until(mut cond: impl FnMut() -> bool) {
    for _ in 0..100 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not reached in 5 s");
}
