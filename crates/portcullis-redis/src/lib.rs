//! The fleet's shared state in Redis (issue 4).
//!
//! Several gateway replicas behind one Service must decide the same way at
//! the same moment. Redis is the shared tier; each replica keeps an
//! in-process tier in front of it so that the steady-state request path
//! makes no Redis round trip. This crate is the Redis side:
//!
//! - **Policy** ([`Fleet::publish_policy`], [`Fleet::active_policy`]): the
//!   compiled policy's sources, stored under `{prefix}:policy` with a
//!   version (content hash) and a revision (`INCR {prefix}:policy:revision`),
//!   and announced on `{prefix}:events` in one Lua script, so a reader never
//!   sees a revision without its document.
//! - **User state** ([`Fleet::get_user`], [`Fleet::put_user`],
//!   [`Fleet::user_changed`]): a read-through cache between the replicas'
//!   local caches and the database, invalidated on every change.
//! - **Events** ([`Fleet::subscribe`]): a dedicated pub/sub connection that
//!   reconnects forever and reports [`Event::Reconnected`] each time, since
//!   messages may have been missed while it was down.
//! - **Rate limiting** ([`RedisRateLimiter`]): fixed-window counters, one
//!   script call (one round trip) per limited request, falling back to a
//!   per-replica limiter while Redis is unavailable.
//!
//! Redis being unavailable never stops the gateway: [`Fleet::connect`]
//! succeeds with [`Health::Down`], commands fail fast with
//! [`Error::Unavailable`] while down, and a background task probes with
//! exponential backoff until Redis answers again.

mod events;
mod fleet;
mod policy;
mod ratelimit;
mod users;

use std::time::Duration;

pub use events::Event;
pub use fleet::{Fleet, Health};
pub use policy::PolicyDoc;
pub use ratelimit::RedisRateLimiter;
pub use users::CachedUserState;

/// The default key prefix (`portcullis:policy`, `portcullis:events`, …).
pub const DEFAULT_PREFIX: &str = "portcullis";

/// Errors talking to Redis or decoding what it holds.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `cache.redis_url` could not be parsed.
    #[error("invalid redis url: {0}")]
    Url(#[source] redis::RedisError),
    /// Redis is known to be down; the command was not sent.
    #[error("redis is unavailable")]
    Unavailable,
    /// No answer within the command timeout.
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    /// The command failed (connection or server error).
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A value stored in Redis is not what this crate writes.
    #[error("malformed {what} in redis: {source}")]
    Decode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// A value could not be serialized for Redis.
    #[error("cannot encode {what} for redis: {source}")]
    Encode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// A policy version must be a non-empty word (it travels in an event).
    #[error("invalid policy version {0:?}: must be non-empty without whitespace")]
    InvalidVersion(String),
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
