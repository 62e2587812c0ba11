//! Fixed-window rate limiting shared by the fleet: `{prefix}:rl:<key>`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use portcullis_users_permissions::{RateDecision, RateLimiter};

use crate::{Fleet, Health};

/// Counts a hit; the window starts at the first one. Returns
/// `{count, remaining ttl in ms}`. A key without expiry (never written by
/// this script) gets one, so it cannot block forever.
///
/// KEYS: counter. ARGV: window in ms.
const HIT_SCRIPT: &str = r"
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
";

/// A [`RateLimiter`] whose counters live in Redis (one script call per
/// hit), falling back to a per-replica limiter while Redis is down.
pub struct RedisRateLimiter {
    fleet: Fleet,
    fallback: Arc<dyn RateLimiter>,
    script: redis::Script,
}

impl RedisRateLimiter {
    /// Counts in `fleet`'s Redis; `fallback` answers while it is down.
    pub fn new(fleet: Fleet, fallback: Arc<dyn RateLimiter>) -> Self {
        RedisRateLimiter {
            fleet,
            fallback,
            script: redis::Script::new(HIT_SCRIPT),
        }
    }

    async fn shared_hit(&self, key: &str, window: Duration) -> crate::Result<(i64, i64)> {
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut invocation = self.script.key(self.fleet.key(&format!("rl:{key}")));
        invocation.arg(window_ms);
        let mut conn = self.fleet.conn.clone();
        self.fleet.run(invocation.invoke_async(&mut conn)).await
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn hit(&self, key: &str, window: Duration, max: u32) -> RateDecision {
        // `run` fails fast while the command connection is down; the
        // subscriber's state does not matter for counting.
        match self.shared_hit(key, window).await {
            Ok((count, ttl_ms)) => decide(count, ttl_ms, max),
            Err(e) => {
                if self.fleet.health() == Health::Up {
                    tracing::warn!(error = %e, "redis rate limit failed; counting per replica");
                }
                self.fallback.hit(key, window, max).await
            }
        }
    }
}

fn decide(count: i64, ttl_ms: i64, max: u32) -> RateDecision {
    let count = u64::try_from(count).unwrap_or(0);
    let max64 = u64::from(max);
    let remaining = max64 - count.min(max64);
    let ttl_secs = u64::try_from(ttl_ms).unwrap_or(0).div_ceil(1000);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    RateDecision {
        allowed: count <= max64,
        limit: max,
        remaining: u32::try_from(remaining).unwrap_or(0),
        reset: now + ttl_secs,
    }
}

#[cfg(test)]
mod tests {
    use super::decide;

    #[test]
    fn decisions() {
        let d = decide(1, 1500, 10);
        assert!(d.allowed);
        assert_eq!(d.remaining, 9);
        let d = decide(10, 10, 10);
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
        let d = decide(11, 10, 10);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
    }
}
