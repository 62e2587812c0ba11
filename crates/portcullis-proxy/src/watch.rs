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

use portcullis_redis::Fleet;

use crate::fleet::{PolicyOrigin, publish};
use crate::state::AppState;

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

/// Watches `dir`; a valid change becomes active here and, with Redis, is
/// published to the fleet.
pub fn spawn(
    state: Arc<AppState>,
    dir: PathBuf,
    origin: PolicyOrigin,
    fleet: Option<Fleet>,
    rt: &tokio::runtime::Handle,
) {
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
            let compiled = portcullis_config::read_policy_sources(&dir).and_then(|sources| {
                portcullis_config::compile_policy_sources(
                    &sources,
                    &origin.api_prefix,
                    &origin.passthrough,
                )
                .map(|p| (p, sources))
            });
            match compiled {
                Ok((policy, _)) if policy.version() == state.policy.load().version() => {}
                Ok((policy, sources)) => {
                    let version = policy.version().to_owned();
                    state.policy.store(Arc::new(policy));
                    state.metrics.set_policy(&version);
                    state
                        .metrics
                        .policy_reloads
                        .with_label_values(&["ok"])
                        .inc();
                    tracing::info!(version, "policy reloaded from the files");
                    if let Some(f) = &fleet {
                        publish(f, &version, &sources).await;
                    }
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
