//! Rate limiting of the auth routes, as Strapi ≥ 5.45 does it
//! (strapi-behavior.md §4.3): a fixed window per key starting at the first
//! hit, counted before the controller runs, so malformed bodies count too.
//!
//! The key is `<id>:<path>:<ip>|<user id or ip>`:
//! * `<path>` is the canonical request path, POSIX-normalized, lower-cased,
//!   trailing slashes stripped;
//! * `<id>` is the lower-cased `body.email` (or `unknownIdentifier`) on
//!   register, forgot-password and send-email-confirmation, and the literal
//!   `noIdentifier` on `/auth/local`, `/auth/reset-password`,
//!   `/auth/change-password` and `/connect/*`, so varying `body.email` there
//!   cannot buy a fresh counter (CVE-2025-64526);
//! * the suffix is koa2-ratelimit's: the authenticated user's id, else the
//!   client IP.
//!
//! Every answer on a limited route carries `X-RateLimit-Limit`,
//! `X-RateLimit-Remaining` and `X-RateLimit-Reset` (epoch seconds); the
//! request after `max` in a window is answered 429 `RateLimitError`. As in
//! koa2-ratelimit, `max = 0` disables the limit.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use portcullis_store::now_ms;
use serde_json::Value;

use crate::Service;
use crate::error::ApiError;
use crate::request::{UpRequest, UpResponse};

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

/// Keys kept at most by default. Register and forgot-password key on the
/// caller-chosen `body.email`, so the table is bounded: past this size a new
/// key is counted in a per-client overflow bucket instead (fail closed for
/// that client, nobody else).
pub const DEFAULT_MAX_KEYS: usize = 100_000;

/// How often expired windows are swept (they are also replaced on use).
const PRUNE_EVERY_MS: i64 = 10_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    count: u32,
    ends_at: i64,
}

#[derive(Debug, Default)]
struct Table {
    windows: HashMap<String, Window>,
    next_prune: i64,
}

/// Per-process counters (one replica).
#[derive(Debug)]
pub struct MemoryRateLimiter {
    table: Mutex<Table>,
    max_keys: usize,
}

impl Default for MemoryRateLimiter {
    fn default() -> Self {
        MemoryRateLimiter::new()
    }
}

impl MemoryRateLimiter {
    pub fn new() -> MemoryRateLimiter {
        MemoryRateLimiter::with_max_keys(DEFAULT_MAX_KEYS)
    }

    /// A limiter holding at most `max_keys` (at least 1) live windows.
    pub fn with_max_keys(max_keys: usize) -> MemoryRateLimiter {
        MemoryRateLimiter {
            table: Mutex::new(Table::default()),
            max_keys: max_keys.max(1),
        }
    }

    /// Live windows (for metrics and tests).
    pub fn len(&self) -> usize {
        self.lock().windows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic while holding the lock leaves plain counters behind:
        // still usable.
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One hit at `now` (epoch ms).
    pub fn hit_at(&self, key: &str, window: Duration, max: u32, now: i64) -> RateDecision {
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let mut table = self.lock();
        if now >= table.next_prune || table.windows.len() >= self.max_keys {
            table.windows.retain(|_, w| w.ends_at > now);
            table.next_prune = now.saturating_add(PRUNE_EVERY_MS);
        }
        let key = if table.windows.contains_key(key) || table.windows.len() < self.max_keys {
            key.to_owned()
        } else {
            let client = key.rsplit_once('|').map_or(key, |(_, c)| c);
            format!("overflow|{client}")
        };
        let fresh = Window {
            count: 0,
            ends_at: now.saturating_add(window_ms),
        };
        let w = table.windows.entry(key).or_insert(fresh);
        if w.ends_at <= now {
            *w = fresh;
        }
        w.count = w.count.saturating_add(1);
        let reset_ms = u64::try_from(w.ends_at).unwrap_or(0);
        RateDecision {
            allowed: max == 0 || w.count <= max,
            limit: max,
            remaining: max.saturating_sub(w.count),
            reset: reset_ms.div_ceil(1000),
        }
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn hit(&self, key: &str, window: Duration, max: u32) -> RateDecision {
        self.hit_at(key, window, max, now_ms())
    }
}

/// Counts the request. `Ok` carries the headers for the handler's
/// response; `Err` is the 429 response (with the same headers).
pub async fn check(svc: &Service, req: &UpRequest) -> Result<Vec<(String, String)>, UpResponse> {
    let settings = &svc.settings;
    let d = svc
        .limiter
        .hit(
            &key(req),
            settings.rate_limit_interval,
            settings.rate_limit_max,
        )
        .await;
    let headers = vec![
        ("X-RateLimit-Limit".to_owned(), d.limit.to_string()),
        ("X-RateLimit-Remaining".to_owned(), d.remaining.to_string()),
        ("X-RateLimit-Reset".to_owned(), d.reset.to_string()),
    ];
    if d.allowed {
        return Ok(headers);
    }
    let mut resp = ApiError::rate_limited().into_response();
    resp.headers.extend(headers);
    Err(resp)
}

/// The counter key of a request (see the module docs).
pub fn key(req: &UpRequest) -> String {
    let path = normalize_path(&req.path);
    let ip = req
        .client_ip
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_canonical().to_string());
    let id = if uses_email_identifier(&path) {
        email_identifier(&req.body)
    } else {
        "noIdentifier".to_owned()
    };
    let client = match req.user() {
        Some(user) => user.id.to_string(),
        None => ip.clone(),
    };
    format!("{id}:{path}:{ip}|{client}")
}

/// Strapi's `normalizeRequestPathForRateLimit`: `path.posix.normalize`,
/// lower-cased, trailing slashes removed (`/` stays).
pub fn normalize_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let joined = format!("/{}", segments.join("/"));
    joined.to_lowercase()
}

fn uses_email_identifier(path: &str) -> bool {
    const WITHOUT: [&str; 3] = [
        "/auth/local",
        "/auth/reset-password",
        "/auth/change-password",
    ];
    !path.contains("/connect/") && !WITHOUT.iter().any(|r| path.ends_with(r))
}

/// Lower-cased `body.email` when it is a non-empty string.
fn email_identifier(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => match map.get("email") {
            Some(Value::String(s)) if !s.is_empty() => s.to_lowercase(),
            _ => "unknownIdentifier".to_owned(),
        },
        _ => "unknownIdentifier".to_owned(),
    }
}
