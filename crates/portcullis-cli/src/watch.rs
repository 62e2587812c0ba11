//! `policies.watch: true`: reload the policy files when they change.
//!
//! The directory is polled once a second (a ConfigMap update replaces a
//! symlink, which inotify-style watchers often miss). A new policy is swapped
//! in atomically: a request decides on the old or the new one, never a mix.
//! An invalid edit is logged with its diagnostics and the last good policy
//! stays active (fail closed, never fall open).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use portcullis_config::GatewayConfig;
use portcullis_proxy::AppState;

/// Names, sizes and modification times of the policy files.
fn fingerprint(dir: &Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            let ext = path
                .extension()
                .and_then(|x| x.to_str())
                .unwrap_or_default();
            if ext != "yaml" && ext != "yml" {
                return None;
            }
            // metadata() follows symlinks, as a ConfigMap mount needs.
            let meta = std::fs::metadata(&path).ok()?;
            Some((path, meta.len(), meta.modified().ok()))
        })
        .collect();
    out.sort();
    out
}

pub fn spawn(state: Arc<AppState>, _config: &Path, g: &GatewayConfig, rt: &tokio::runtime::Handle) {
    let dir = g.policies.dir.clone();
    let prefix = g.server.api_prefix.clone();
    let passthrough = g.server.passthrough.clone();
    rt.spawn(async move {
        let mut seen = fingerprint(&dir);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let now = fingerprint(&dir);
            if now == seen {
                continue;
            }
            seen = now;
            match portcullis_config::load_policies(&dir, &prefix, &passthrough) {
                Ok(policy) if policy.version() == state.policy.load().version() => {}
                Ok(policy) => {
                    let version = policy.version().to_owned();
                    state.policy.store(Arc::new(policy));
                    state.metrics.set_policy(&version);
                    state
                        .metrics
                        .policy_reloads
                        .with_label_values(&["ok"])
                        .inc();
                    tracing::info!(version, "policy reloaded");
                }
                Err(diags) => {
                    state
                        .metrics
                        .policy_reloads
                        .with_label_values(&["rejected"])
                        .inc();
                    let problems: Vec<String> = diags.iter().map(ToString::to_string).collect();
                    tracing::error!(
                        problems = %problems.join("; "),
                        active = %state.policy.load().version(),
                        "policy reload rejected; the last good policy stays active"
                    );
                }
            }
        }
    });
}
