//! Start-up of the identity side: the configured `identity:` section turned into the runtime
//! objects the S3 front serves STS and checks temporary credentials with — the issuers' key cache
//! (loaded now, then kept fresh in the background), the roles, and the session keys (read from, or
//! generated once into, the session key file).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use keyless_identity::role::Roles;
use keyless_identity::token::Validation;
use keyless_idp::{FetchOptions, KeyCache, Refreshers};
use keyless_s3::Identity;

use crate::config::identity::IdentityConfig;
use crate::session_keys;

/// Builds the front's [`Identity`] and starts the key refreshers (they stop when dropped).
pub async fn build(config: &IdentityConfig, data_dir: &Path) -> anyhow::Result<(Identity, Refreshers)> {
    let validation = Validation {
        leeway_secs: config.leeway_secs as i64,
        ..Validation::default()
    };
    let sources = config.issuers.clone();
    let cache = tokio::task::spawn_blocking(move || KeyCache::new(sources, validation, FetchOptions::default()))
        .await?
        .context("config field \"identity.issuers\"")?;
    for (iss, result) in cache.refresh_all().await {
        match result {
            Ok(_) => tracing::info!(issuer = %iss, "issuer keys loaded"),
            Err(e) => {
                tracing::warn!(issuer = %iss, error = %e, "cannot load the issuer's keys yet; retrying in the background")
            }
        }
    }
    for status in cache.status() {
        tracing::info!(issuer = %status.issuer, source = status.source, keys = status.key_count, key_ids = ?status.key_ids, "trusted issuer");
    }
    let refreshers = cache.spawn_refreshers();

    let mut roles = Roles::new();
    for role in &config.roles {
        tracing::info!(role = %role.arn(), max_session_duration = role.max_session_duration(), policies = role.policies().len(), "role");
        roles.insert(role.clone());
    }

    let path = config.session_key_file(data_dir);
    let p = path.clone();
    let loaded = tokio::task::spawn_blocking(move || session_keys::load_or_create(&p)).await??;
    if loaded.generated {
        tracing::info!(file = %path.display(), key_id = loaded.keys.active_id(), "generated the session key");
    } else {
        tracing::info!(file = %path.display(), key_id = loaded.keys.active_id(), "session keys loaded");
    }
    Ok((
        Identity {
            cache,
            roles: Arc::new(roles),
            keys: Arc::new(loaded.keys),
            account_id: config.account_id.clone(),
        },
        refreshers,
    ))
}
