//! Background upkeep on the gateway's background runtime: the change feed
//! that drops cached users and tokens changed by other processes (another
//! replica, the CLI), and the batched `lastUsedAt` writes.
//!
//! The feed is the safety net under Redis pub/sub: an announcement lost to a
//! Redis outage or a partition is still picked up from the database within
//! a second, and the shared Redis entry is invalidated too, so no tier keeps
//! serving state the database has changed.

use std::collections::HashMap;
use std::time::Duration;

use crate::tokens::TokenDirectory;
use crate::users::UserDirectory;

/// Overlap of successive polls, to absorb clock skew between writers.
const SKEW_MS: i64 = 5_000;

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Rows already handled inside the overlap window: handled once, not on
/// every poll (which would empty the caches of recently changed users every
/// second).
#[derive(Default)]
struct Seen<K> {
    at: HashMap<K, i64>,
}

impl<K: std::hash::Hash + Eq + Clone> Seen<K> {
    /// True the first time this `(key, updated_at)` is offered.
    fn is_new(&mut self, key: &K, updated_at: i64) -> bool {
        if self.at.get(key) == Some(&updated_at) {
            return false;
        }
        self.at.insert(key.clone(), updated_at);
        true
    }

    fn prune(&mut self, before: i64) {
        self.at.retain(|_, at| *at >= before);
    }
}

/// Polls for changes every `every`; flushes token uses every minute.
pub fn spawn(users: UserDirectory, tokens: TokenDirectory, every: Duration) {
    let rt = users.background().clone();
    rt.spawn(async move {
        let store = users.store().clone();
        // Each poll reads what changed since the previous poll (our clock)
        // minus the skew allowance: a window of a few seconds, so a bulk
        // change is read a few times and then no more.
        let mut last_poll = store.latest_change().await.unwrap_or(0).max(wall_ms());
        let (mut seen_users, mut seen_tokens) = (Seen::default(), Seen::default());
        let mut tick = tokio::time::interval(every);
        let mut flush = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let poll_from = last_poll.saturating_sub(SKEW_MS);
                    last_poll = wall_ms();
                    match store.users_changed_since(poll_from).await {
                        Ok(rows) => {
                            for (id, at) in rows {
                                if seen_users.is_new(&id, at) {
                                    users.cache().invalidate(id);
                                    if let Some(f) = users.fleet()
                                        && let Err(e) = f.user_changed(id).await
                                    {
                                        tracing::debug!(error = %e, user = id, "change feed: redis invalidation failed");
                                    }
                                }
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "change feed: users query failed"),
                    }
                    match store.api_tokens_changed_since(poll_from).await {
                        Ok(rows) => {
                            for (key, at) in rows {
                                if seen_tokens.is_new(&key, at) {
                                    tokens.invalidate(&key);
                                }
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "change feed: tokens query failed"),
                    }
                    seen_users.prune(poll_from.saturating_sub(SKEW_MS));
                    seen_tokens.prune(poll_from.saturating_sub(SKEW_MS));
                }
                _ = flush.tick() => tokens.flush_last_used().await,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::Seen;

    #[test]
    fn a_change_is_handled_once() {
        let mut s = Seen::default();
        assert!(s.is_new(&1, 100));
        assert!(!s.is_new(&1, 100));
        assert!(s.is_new(&1, 200));
        s.prune(150);
        assert!(!s.is_new(&1, 200));
        s.prune(300);
        assert!(s.is_new(&1, 200));
    }
}
