//! The fleet: keeping replicas in agreement through Redis (issue 4).
//!
//! * Policy: a replica whose policy files change publishes them; the others
//!   receive the announcement and swap to exactly those files, compiled
//!   locally, so a ConfigMap edit switches every replica together. A
//!   starting replica adopts the active policy (the first one, with Redis
//!   empty, publishes its files). A publication that does not compile here
//!   is refused and the last good policy stays.
//! * Users and API tokens: every change made through any replica or the CLI
//!   is announced; each replica drops its local entry at once.
//! * After Redis comes back, every local cache is dropped and the active
//!   policy re-read, since announcements may have been missed. Meanwhile the
//!   database change feed (`sync`) keeps invalidating within a second.

use std::sync::Arc;

use portcullis_config::PolicySource;
use portcullis_redis::{Event, Fleet};
use portcullis_users_permissions::UserEvents;
use tokio::runtime::Handle;

use crate::state::AppState;

/// Where policies come from and how they compile.
#[derive(Clone)]
pub struct PolicyOrigin {
    pub api_prefix: String,
    pub passthrough: Vec<String>,
}

/// Publishes the given (already compiled and active) sources to the fleet.
pub async fn publish(fleet: &Fleet, version: &str, sources: &[PolicySource]) {
    let pairs = sources
        .iter()
        .map(|s| (s.name.clone(), s.text.clone()))
        .collect();
    match fleet.publish_policy(version, pairs).await {
        Ok(doc) => tracing::info!(
            version,
            revision = doc.revision,
            "policy published to the fleet"
        ),
        Err(e) => tracing::warn!(error = %e, version, "could not publish the policy to the fleet"),
    }
}

/// Reads the fleet's active policy and swaps to it if it differs.
pub async fn adopt_active(state: &AppState, fleet: &Fleet, origin: &PolicyOrigin) {
    let doc = match fleet.active_policy().await {
        Ok(Some(doc)) => doc,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the fleet's policy");
            return;
        }
    };
    if doc.version == state.policy.load().version() {
        return;
    }
    let sources: Vec<PolicySource> = doc
        .sources
        .into_iter()
        .map(|(name, text)| PolicySource { name, text })
        .collect();
    match portcullis_config::compile_policy_sources(
        &sources,
        &origin.api_prefix,
        &origin.passthrough,
    ) {
        Ok(policy) => {
            let version = policy.version().to_owned();
            state.policy.store(Arc::new(policy));
            state.metrics.set_policy(&version);
            state
                .metrics
                .policy_reloads
                .with_label_values(&["ok"])
                .inc();
            tracing::info!(
                version,
                revision = doc.revision,
                "policy switched to the fleet's version"
            );
        }
        Err(diags) => {
            state
                .metrics
                .policy_reloads
                .with_label_values(&["rejected"])
                .inc();
            let problems: Vec<String> = diags.iter().map(ToString::to_string).collect();
            tracing::error!(problems = %problems.join("; "), "the fleet's policy does not compile here; keeping the last good one");
        }
    }
}

/// Subscribes to the fleet's announcements.
pub fn subscribe(state: Arc<AppState>, fleet: Fleet, origin: PolicyOrigin, rt: Handle) {
    let f = fleet.clone();
    fleet.subscribe(move |event| match event {
        Event::User(id) => state.users.cache().invalidate(id),
        Event::Token(key) => state.tokens.invalidate(&key),
        Event::Policy { version, .. } => {
            if version != state.policy.load().version() {
                let (state, f, origin) = (state.clone(), f.clone(), origin.clone());
                rt.spawn(async move { adopt_active(&state, &f, &origin).await });
            }
        }
        Event::Reconnected => {
            state.users.cache().invalidate_all();
            state.tokens.invalidate_all();
            let (state, f, origin) = (state.clone(), f.clone(), origin.clone());
            rt.spawn(async move { adopt_active(&state, &f, &origin).await });
        }
    });
}

/// User changes made by this replica's Users & Permissions routes: dropped
/// locally at once and announced to the fleet.
pub struct FleetUserEvents {
    pub cache: portcullis_store::UserCache,
    pub fleet: Option<Fleet>,
}

#[async_trait::async_trait]
impl UserEvents for FleetUserEvents {
    async fn user_changed(&self, id: i64) {
        self.cache.invalidate(id);
        if let Some(fleet) = &self.fleet {
            // Awaited: until the marker is in Redis, a read on this replica
            // could fetch the old state from Redis and cache it again.
            if let Err(e) = fleet.user_changed(id).await {
                tracing::warn!(error = %e, user = id, "could not announce a user change");
            }
            // Drop anything a concurrent read cached from Redis meanwhile.
            self.cache.invalidate(id);
        }
    }
}
