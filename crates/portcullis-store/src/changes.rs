//! Change feed: what other processes changed, for cache invalidation.
//!
//! Every replica (and the CLI) writes `updated_at` on each change to a user
//! or an API token. Polling these once a second lets every replica drop
//! cached state within about a second even without Redis — at one query
//! per second per replica, never per request.

use sqlx::Row;

use crate::{Result, Store};

impl Store {
    /// Users whose row changed after `since_ms`: `(id, updated_at)`.
    pub async fn users_changed_since(&self, since_ms: i64) -> Result<Vec<(i64, i64)>> {
        let rows = sqlx::query("SELECT id, updated_at FROM up_users WHERE updated_at > $1")
            .bind(since_ms)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("updated_at")?)))
            .collect()
    }

    /// API tokens whose row changed after `since_ms`:
    /// `(access_key, updated_at)`.
    pub async fn api_tokens_changed_since(&self, since_ms: i64) -> Result<Vec<(String, i64)>> {
        let rows =
            sqlx::query("SELECT access_key, updated_at FROM api_tokens WHERE updated_at > $1")
                .bind(since_ms)
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("access_key")?, r.try_get("updated_at")?)))
            .collect()
    }

    /// The newest `updated_at` of users and tokens (0 when empty).
    pub async fn latest_change(&self) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COALESCE((SELECT MAX(updated_at) FROM up_users), 0) AS u, \
             COALESCE((SELECT MAX(updated_at) FROM api_tokens), 0) AS t",
        )
        .fetch_one(self.pool())
        .await?;
        let u: i64 = row.try_get("u")?;
        let t: i64 = row.try_get("t")?;
        Ok(u.max(t))
    }
}
