//! Rate limiting of the auth routes, as Strapi ≥ 5.45 does it (§4.3):
//! a fixed window per key, counted before the controller runs.
//!
//! (Placeholder until the rate-limit work lands: every request is allowed.)

use std::time::Duration;

use async_trait::async_trait;

use crate::request::{UpRequest, UpResponse};
use crate::Service;

/// The limiter's answer for one hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Epoch seconds when the window ends.
    pub reset: u64,
}

/// A fixed-window counter store (in-process, or Redis for a fleet).
#[async_trait]
pub trait RateLimiter: Send + Sync {
    async fn hit(&self, key: &str, window: Duration, max: u32) -> RateDecision;
}

/// Per-process counters.
#[derive(Default)]
pub struct MemoryRateLimiter;

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn hit(&self, _key: &str, _window: Duration, max: u32) -> RateDecision {
        RateDecision {
            allowed: true,
            limit: max,
            remaining: max,
            reset: 0,
        }
    }
}

/// Counts the request; `Err` is the 429 response.
pub async fn check(_svc: &Service, _req: &UpRequest) -> Result<Vec<(String, String)>, UpResponse> {
    Ok(Vec::new())
}
