//! Strapi 5's Users & Permissions content-API routes, answered by the
//! gateway itself (`/api/auth/*`, `/api/connect/*`, `/api/users*`,
//! `/api/users-permissions/*`).
//!
//! Handlers are plain `UpRequest -> UpResponse` functions over the store:
//! no Pingora, no sockets, so they are tested directly and through the
//! proxy. The route was already authorized by the decision core when a
//! request arrives here (Strapi's order: authenticate, authorize, rate
//! limit, controller).

pub mod auth;
pub mod email;
pub mod error;
pub mod ratelimit;
pub mod request;
pub mod roles;
pub mod sanitize;
pub mod users;
pub mod validate;

use std::sync::Arc;
use std::time::Duration;

use portcullis_auth::JwtKeys;
use portcullis_store::{PasswordPool, Store, UserCache};

pub use email::Mailer;
pub use error::ApiError;
pub use ratelimit::{MemoryRateLimiter, RateDecision, RateLimiter};
pub use request::{UpCaller, UpRequest, UpResponse};

/// `users_permissions:` settings (gateway.yaml), in the service's terms.
#[derive(Debug, Clone)]
pub struct UpSettings {
    pub allow_register: bool,
    pub default_role: String,
    pub unique_email: bool,
    pub email_confirmation: bool,
    pub email_confirmation_redirection: String,
    pub email_reset_password: String,
    pub register_allowed_fields: Vec<String>,
    pub rate_limit_interval: Duration,
    pub rate_limit_max: u32,
    /// Beyond Strapi: reset codes expire.
    pub reset_token_ttl: Duration,
    /// `/api` (for building URLs and rate-limit keys).
    pub api_prefix: String,
    /// Enabled OAuth providers by name.
    pub providers: Vec<ProviderSettings>,
}

/// One configured OAuth provider.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub name: String,
    pub client_id: String,
    pub client_secret: String,
    pub redirect: String,
}

/// Told about every change to a user, so other tiers (the in-process cache
/// here, Redis pub/sub across replicas) drop what they hold.
#[async_trait::async_trait]
pub trait UserEvents: Send + Sync {
    /// Returns once every tier this replica controls dropped the user, so
    /// a response sent afterwards can rely on it.
    async fn user_changed(&self, id: i64);
}

/// Invalidates the local user cache only (one replica).
pub struct LocalUserEvents(pub UserCache);

#[async_trait::async_trait]
impl UserEvents for LocalUserEvents {
    async fn user_changed(&self, id: i64) {
        self.0.invalidate(id);
    }
}

/// Everything the handlers need.
pub struct Service {
    pub store: Store,
    pub jwt: JwtKeys,
    pub passwords: PasswordPool,
    pub mailer: Mailer,
    pub limiter: Arc<dyn RateLimiter>,
    pub events: Arc<dyn UserEvents>,
    pub settings: UpSettings,
}

impl Service {
    /// Answers one request for a Users & Permissions route.
    pub async fn handle(&self, req: UpRequest) -> UpResponse {
        if req.route.rate_limited {
            match ratelimit::check(self, &req).await {
                Ok(headers) => {
                    let mut resp = self.dispatch(&req).await;
                    resp.headers.extend(headers);
                    return resp;
                }
                Err(limited) => return limited,
            }
        }
        self.dispatch(&req).await
    }

    async fn dispatch(&self, req: &UpRequest) -> UpResponse {
        let action = req
            .route
            .action
            .rsplit_once("users-permissions.")
            .map_or("", |(_, a)| a);
        let result = match action {
            "auth.callback"
            | "auth.connect"
            | "auth.register"
            | "auth.forgotPassword"
            | "auth.resetPassword"
            | "auth.changePassword"
            | "auth.emailConfirmation"
            | "auth.sendEmailConfirmation"
            | "auth.refresh"
            | "auth.logout"
            | "auth.getSessions"
            | "auth.revokeSession" => auth::handle(self, req, action).await,
            "user.count" | "user.find" | "user.me" | "user.updateMe" | "user.findOne"
            | "user.create" | "user.update" | "user.destroy" => {
                users::handle(self, req, action).await
            }
            "role.find"
            | "role.findOne"
            | "role.createRole"
            | "role.updateRole"
            | "role.deleteRole"
            | "permissions.getPermissions" => roles::handle(self, req, action).await,
            _ => Err(ApiError::not_found("Not Found")),
        };
        result.unwrap_or_else(ApiError::into_response)
    }
}
