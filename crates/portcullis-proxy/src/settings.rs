//! What the proxy needs from the configuration, in its own terms (the CLI
//! builds it from `gateway.yaml`).

use std::net::SocketAddr;
use std::time::Duration;

/// What happens to the caller's `Authorization` header upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizationMode {
    Strip,
    Passthrough,
    Replace,
}

/// Names of the identity headers sent upstream.
#[derive(Debug, Clone)]
pub struct IdentityHeaderNames {
    pub user_id: String,
    pub user_role: String,
    pub auth_method: String,
    pub token_id: String,
    pub action: String,
}

impl Default for IdentityHeaderNames {
    fn default() -> Self {
        IdentityHeaderNames {
            user_id: "X-User-Id".into(),
            user_role: "X-User-Role".into(),
            auth_method: "X-Auth-Method".into(),
            token_id: "X-Api-Token-Id".into(),
            action: "X-Permission".into(),
        }
    }
}

/// Proxy settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: String,
    /// `/metrics`, `/healthz`, `/readyz`.
    pub admin_listen: String,
    pub threads: usize,
    /// Longest time a SIGTERM/SIGINT waits for in-flight requests.
    pub shutdown_timeout: Duration,
    pub upstream: SocketAddr,
    pub authorization: AuthorizationMode,
    /// The full `Authorization` value sent with `replace`.
    pub upstream_authorization: Option<String>,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub headers: IdentityHeaderNames,
    /// `users_permissions.email_confirmation`: unconfirmed users' JWTs are
    /// refused, as in Strapi.
    pub email_confirmation: bool,
}
