//! Trust policies (AWS form and keyless's short form), role ARNs and roles.
//!
//! Input: `trust policy JSON \0 role ARN \0 account \0 issuer \0 subject \0 audiences \0 namespace
//! \0 service account \0 pod \0 short-form service accounts \0 short-form audiences` (lists are
//! comma-separated).
//!
//! Asserts: nothing panics; a role ARN that parses prints back as the same text and rebuilds from
//! its parts; a short form that passes its own checks always expands to a policy that parses; and,
//! when the short form has no wildcard or variable, it allows exactly the identities it lists:
//! same issuer host/path, a shared audience, `sub` = `system:serviceaccount:<ns>:<name>`.
#![no_main]

use keyless_fuzz::{fields, list};
use keyless_identity::policy::Policy;
use keyless_identity::role::{Role, RoleArn, valid_account};
use keyless_identity::token::issuer_host_path;
use keyless_identity::trust::{TrustPolicy, TrustShortForm, WebIdentity};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let f = fields(data, 11);
    let audiences = list(&f[5]);
    let identity = WebIdentity {
        issuer: &f[3],
        subject: &f[4],
        audiences: &audiences,
        namespace: Some(f[6].as_str()).filter(|s| !s.is_empty()),
        service_account: Some(f[7].as_str()).filter(|s| !s.is_empty()),
        pod: Some(f[8].as_str()).filter(|s| !s.is_empty()),
    };
    let account = f[2].as_str();

    let arn = f[1].parse::<RoleArn>();
    if let Ok(arn) = &arn {
        assert_eq!(arn.to_string(), f[1]);
        assert!(valid_account(arn.account()));
        assert_eq!(RoleArn::new(arn.account(), arn.name()).as_ref(), Ok(arn));
        let id = arn.role_id();
        assert!(id.len() == 21 && id.starts_with("AROA"), "{id}");
    }

    if let Ok(trust) = TrustPolicy::parse(&f[0]) {
        let _ = trust.evaluate_identity(&identity, account);
        if let Ok(arn) = arn {
            // The same document as a permission policy: refused (no Resource) or accepted.
            let policies = Policy::parse(&f[0]).into_iter().map(|p| ("p".to_owned(), p)).collect();
            if let Ok(role) = Role::new(arn.clone(), trust, policies) {
                assert_eq!(role.arn(), &arn);
                let secs = data.len() as u32 * 97;
                let in_range = (3600..=43200).contains(&secs);
                assert_eq!(role.clone().with_max_session_duration(secs).is_ok(), in_range);
            }
        }
    }

    let short = TrustShortForm {
        issuer: f[3].clone(),
        audiences: list(&f[10]),
        service_accounts: list(&f[9]),
    };
    let expanded = match (short.to_aws_json(account), short.expand(account)) {
        (Ok(_), Ok(p)) => p,
        (Err(a), Err(b)) => {
            assert_eq!(a, b);
            return;
        }
        (Ok(json), Err(e)) => panic!("the short form passed its checks but {json} does not parse: {e}"),
        (Err(e), Ok(_)) => panic!("refused with {e} yet expanded"),
    };
    let plain = |s: &String| !s.contains(['*', '?', '$']);
    if short.audiences.iter().all(plain) && short.service_accounts.iter().all(plain) {
        let allowed = expanded.evaluate_identity(&identity, account).is_allowed();
        let want = issuer_host_path(&short.issuer) == issuer_host_path(identity.issuer)
            && audiences.iter().any(|a| short.audiences.contains(a))
            && short.service_accounts.iter().any(|sa| {
                let (ns, name) = sa.split_once('/').unwrap();
                identity.subject == format!("system:serviceaccount:{ns}:{name}")
            });
        assert_eq!(allowed, want, "{short:?} for {identity:?}");
    }
});
