//! The shared user-state cache: `{prefix}:user:<id>`.
//!
//! Values are the JSON of `Option<CachedUserState>` (`null` caches a deleted
//! user), or [`INVALIDATED`] for a short while after a change.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Error, Fleet, Result};

/// Written by [`Fleet::user_changed`] instead of deleting the entry, so that
/// a replica which read the database *before* the change cannot put the
/// stale state back ([`Fleet::put_user`] only writes absent keys).
const INVALIDATED: &str = "~invalidated";
/// How long the [`INVALIDATED`] marker blocks writes (and reads miss).
const INVALIDATION_HOLD: Duration = Duration::from_secs(10);

/// What the authorization path needs to know about a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedUserState {
    pub id: i64,
    /// The role's `type`.
    pub role: String,
    pub blocked: bool,
    pub confirmed: bool,
    /// Tokens issued before this (epoch seconds; the password change) are
    /// refused.
    pub tokens_valid_after: Option<i64>,
}

impl Fleet {
    /// Reads a user from the shared cache: `None` = not cached (read the
    /// database), `Some(None)` = cached as deleted, `Some(Some(state))`.
    pub async fn get_user(&self, id: i64) -> Result<Option<Option<CachedUserState>>> {
        let mut conn = self.conn.clone();
        let cmd = redis::Cmd::get(self.user_key(id));
        let raw: Option<String> = self.run(cmd.query_async(&mut conn)).await?;
        match raw.as_deref() {
            None | Some(INVALIDATED) => Ok(None),
            Some(json) => serde_json::from_str(json)
                .map(Some)
                .map_err(|source| Error::Decode {
                    what: "user state",
                    source,
                }),
        }
    }

    /// Caches a user read from the database (`None` = deleted) for `ttl`:
    /// `SET … NX PX`. It never overwrites: an entry already there is at
    /// least as fresh, and within 10 s of [`Fleet::user_changed`] the write
    /// is refused, since `state` may predate the change. A zero `ttl` caches
    /// nothing.
    pub async fn put_user(
        &self,
        id: i64,
        state: Option<&CachedUserState>,
        ttl: Duration,
    ) -> Result<()> {
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        if millis == 0 {
            return Ok(());
        }
        let json = serde_json::to_string(&state).map_err(|source| Error::Encode {
            what: "user state",
            source,
        })?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.user_key(id))
            .arg(json)
            .arg("NX")
            .arg("PX")
            .arg(millis);
        let mut conn = self.conn.clone();
        // `NX` answers nil when the key exists: not an error.
        let _: Option<String> = self.run(cmd.query_async(&mut conn)).await?;
        Ok(())
    }

    /// After any change to a user (role, blocked, confirmed, deleted,
    /// password): drops the shared entry and announces `user <id>`, in one
    /// round trip. Call it after the database commit.
    ///
    /// The entry is replaced by a 10 s invalidation marker rather than
    /// deleted, so a concurrent read-through on another replica cannot cache
    /// the pre-change state.
    pub async fn user_changed(&self, id: i64) -> Result<()> {
        let hold = u64::try_from(INVALIDATION_HOLD.as_millis()).unwrap_or(u64::MAX);
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(self.user_key(id))
            .arg(INVALIDATED)
            .arg("PX")
            .arg(hold)
            .ignore()
            .cmd("PUBLISH")
            .arg(self.channel())
            .arg(format!("user {id}"))
            .ignore();
        let mut conn = self.conn.clone();
        self.run(pipe.exec_async(&mut conn)).await
    }

    /// Announces `token <access key>` (a revoked or changed token).
    pub async fn token_changed(&self, access_key: &str) -> Result<()> {
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(self.channel()).arg(format!("token {access_key}"));
        let mut conn = self.conn.clone();
        self.run(cmd.exec_async(&mut conn)).await
    }

    fn user_key(&self, id: i64) -> String {
        self.key(&format!("user:{id}"))
    }
}
