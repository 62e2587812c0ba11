//! State shared by every request.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arc_swap::ArcSwap;
use portcullis_core::Policy;

use crate::headers::{IdentityHeaders, ReservedHeaders};
use crate::jwt_cache::JwtVerifier;
use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::tokens::TokenDirectory;
use crate::users::UserDirectory;

/// Shared state of every request.
pub struct AppState {
    /// The active policy; a reload swaps it atomically.
    pub policy: ArcSwap<Policy>,
    pub jwt: JwtVerifier,
    pub users: UserDirectory,
    pub tokens: TokenDirectory,
    pub settings: Settings,
    pub reserved: ReservedHeaders,
    pub identity_headers: IdentityHeaders,
    pub in_flight: AtomicUsize,
    /// Answers the Users & Permissions routes.
    pub up: Arc<portcullis_users_permissions::Service>,
    pub metrics: Metrics,
}

impl AppState {
    /// `disabled` without `cache.redis_url`, else `ok` or `degraded`.
    pub fn redis_status(&self) -> &'static str {
        match self.users.fleet().map(portcullis_redis::Fleet::health) {
            None => "disabled",
            Some(portcullis_redis::Health::Up) => "ok",
            Some(_) => "degraded",
        }
    }
}

/// Counts a request as in flight until its context is dropped.
pub struct InFlight(Arc<AppState>);

impl InFlight {
    pub fn enter(state: &Arc<AppState>) -> InFlight {
        state.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(state.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}
