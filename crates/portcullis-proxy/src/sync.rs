//! Background upkeep on the gateway's background runtime: the change feed
//! that drops cached users and tokens changed by other processes (another
//! replica, the CLI), and the batched `lastUsedAt` writes.

use std::time::Duration;

use crate::tokens::TokenDirectory;
use crate::users::UserDirectory;

/// Overlap of successive polls, to absorb clock skew between writers.
const SKEW_MS: i64 = 5_000;

/// Polls for changes every `every`; flushes token uses every minute.
pub fn spawn(users: UserDirectory, tokens: TokenDirectory, every: Duration) {
    let rt = users.background().clone();
    rt.spawn(async move {
        let store = users.store().clone();
        let mut since = store.latest_change().await.unwrap_or(0);
        let mut tick = tokio::time::interval(every);
        let mut flush = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let poll_from = since.saturating_sub(SKEW_MS);
                    match store.users_changed_since(poll_from).await {
                        Ok(rows) => {
                            for (id, at) in rows {
                                users.cache().invalidate(id);
                                since = since.max(at);
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "change feed: users query failed"),
                    }
                    match store.api_tokens_changed_since(poll_from).await {
                        Ok(rows) => {
                            for (key, at) in rows {
                                tokens.invalidate(&key);
                                since = since.max(at);
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "change feed: tokens query failed"),
                    }
                }
                _ = flush.tick() => tokens.flush_last_used().await,
            }
        }
    });
}
