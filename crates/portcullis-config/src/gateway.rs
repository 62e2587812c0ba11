//! The validated gateway configuration (the model other crates use).
//!
//! Built from gateway.yaml by `gateway_build`; every value here is already
//! interpolated, parsed and checked. `Default` gives the documented defaults
//! (with an empty `jwt.secret`), which is handy for tests.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use crate::duration::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GatewayConfig {
    pub server: ServerConfig,
    pub upstream: UpstreamConfig,
    pub jwt: JwtConfig,
    pub api_tokens: ApiTokensConfig,
    pub store: StoreConfig,
    pub cache: CacheConfig,
    pub policies: PoliciesConfig,
    pub users_permissions: UsersPermissionsConfig,
    pub email: EmailConfig,
    /// OAuth2 / OIDC providers by name (`github`, `google`, ...).
    pub providers: BTreeMap<String, ProviderConfig>,
    pub headers: HeadersConfig,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    /// `/api`: leading slash, no trailing slash.
    pub api_prefix: String,
    /// Path prefixes outside the API forwarded without checks.
    pub passthrough: Vec<String>,
    /// How long a graceful shutdown waits for in-flight requests.
    pub shutdown_timeout: Duration,
    /// Worker threads of the proxy service.
    pub threads: usize,
    /// Base URL of the gateway as clients reach it (links in confirmation
    /// emails); relative links without it. Never taken from `Host`.
    pub public_url: Option<String>,
    /// Peers whose `X-Forwarded-For` is believed (an ingress controller, a
    /// load balancer); the client address is the right-most untrusted one.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            admin_listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 9091)),
            api_prefix: "/api".into(),
            passthrough: vec!["/uploads/".into()],
            shutdown_timeout: Duration::from_secs(25),
            threads: 1,
            public_url: None,
            trusted_proxies: Vec::new(),
        }
    }
}

/// What happens to the caller's `Authorization` header upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthorizationMode {
    /// Removed.
    #[default]
    Strip,
    /// Forwarded as sent.
    Passthrough,
    /// Replaced by `Bearer <upstream.token>`.
    Replace,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamConfig {
    /// As written, e.g. `http://127.0.0.1:1337`.
    pub url: String,
    pub host: String,
    pub port: u16,
    pub authorization: AuthorizationMode,
    /// Required (and only used) with [`AuthorizationMode::Replace`].
    pub token: Option<String>,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        UpstreamConfig {
            url: "http://127.0.0.1:1337".into(),
            host: "127.0.0.1".into(),
            port: 1337,
            authorization: AuthorizationMode::Strip,
            token: None,
            connect_timeout: Duration::from_secs(2),
            read_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtConfig {
    /// HS256 secret. May be empty after `check`; `serve` refuses that
    /// (see [`crate::Loaded::ready_to_serve`]).
    pub secret: String,
    pub expires_in: Duration,
}

impl Default for JwtConfig {
    fn default() -> Self {
        JwtConfig {
            secret: String::new(),
            expires_in: Duration::from_secs(30 * 86_400),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiTokensConfig {
    /// HMAC salt for API token hashes, as Strapi's `API_TOKEN_SALT`.
    pub salt: Option<String>,
}

/// Which database a store URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// `sqlite://...`, `postgres://...` or `postgresql://...`.
    pub url: String,
}

impl StoreConfig {
    pub fn kind(&self) -> StoreKind {
        if self.url.starts_with("sqlite:") {
            StoreKind::Sqlite
        } else {
            StoreKind::Postgres
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: "sqlite://data/portcullis.db".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// `None`: an in-process cache (one replica only).
    pub redis_url: Option<String>,
    pub ttl: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            redis_url: None,
            ttl: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoliciesConfig {
    /// Resolved against the directory of gateway.yaml when relative.
    pub dir: PathBuf,
    pub watch: bool,
}

impl Default for PoliciesConfig {
    fn default() -> Self {
        PoliciesConfig {
            dir: PathBuf::from("policies"),
            watch: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitConfig {
    pub interval: Duration,
    /// Requests per client IP per interval; at least 1.
    pub max: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            interval: Duration::from_secs(60),
            max: 10,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsersPermissionsConfig {
    pub allow_register: bool,
    /// Role type given to new users; must be a role of the policy.
    pub default_role: String,
    pub unique_email: bool,
    pub email_confirmation: bool,
    pub email_confirmation_redirection: String,
    pub email_reset_password: String,
    pub register_allowed_fields: Vec<String>,
    pub rate_limit: RateLimitConfig,
    /// How long a reset-password code stays valid (our extension).
    pub reset_token_ttl: Duration,
}

impl Default for UsersPermissionsConfig {
    fn default() -> Self {
        UsersPermissionsConfig {
            allow_register: true,
            default_role: "authenticated".into(),
            unique_email: true,
            email_confirmation: false,
            email_confirmation_redirection: "http://localhost:3000/confirmed".into(),
            email_reset_password: "http://localhost:3000/reset-password".into(),
            register_allowed_fields: Vec::new(),
            rate_limit: RateLimitConfig::default(),
            reset_token_ttl: Duration::from_secs(3_600),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailConfig {
    /// `None`: messages are written to the log instead of sent.
    pub smtp_url: Option<String>,
    pub from: String,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            smtp_url: None,
            from: "no-reply@example.com".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    pub client_id: String,
    pub client_secret: String,
    pub redirect: String,
}

/// Names of the identity headers sent upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadersConfig {
    pub user_id: String,
    pub user_role: String,
    pub auth_method: String,
    pub token_id: String,
    pub action: String,
}

impl HeadersConfig {
    /// All five names, for stripping client-sent copies.
    pub fn names(&self) -> [&str; 5] {
        [
            &self.user_id,
            &self.user_role,
            &self.auth_method,
            &self.token_id,
            &self.action,
        ]
    }
}

impl Default for HeadersConfig {
    fn default() -> Self {
        HeadersConfig {
            user_id: "X-User-Id".into(),
            user_role: "X-User-Role".into(),
            auth_method: "X-Auth-Method".into(),
            token_id: "X-Api-Token-Id".into(),
            action: "X-Permission".into(),
        }
    }
}
