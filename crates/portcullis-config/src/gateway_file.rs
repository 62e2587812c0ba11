//! The gateway.yaml file schema, as written: every key optional except where
//! the model has no sensible default, unknown keys rejected, every string kept
//! with its location so interpolation and validation errors can point at it.

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::entries::Entries;

/// A string as written in the file, before interpolation.
pub(crate) type Str = Spanned<String>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct GatewayFile {
    pub(crate) server: ServerFile,
    pub(crate) upstream: UpstreamFile,
    pub(crate) jwt: Option<Spanned<JwtFile>>,
    pub(crate) api_tokens: ApiTokensFile,
    pub(crate) store: StoreFile,
    pub(crate) cache: CacheFile,
    pub(crate) policies: PoliciesFile,
    pub(crate) users_permissions: UsersPermissionsFile,
    pub(crate) email: EmailFile,
    pub(crate) providers: Entries<Str, ProviderFile>,
    pub(crate) headers: HeadersFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ServerFile {
    pub(crate) listen: Option<Str>,
    pub(crate) admin_listen: Option<Str>,
    pub(crate) api_prefix: Option<Str>,
    pub(crate) passthrough: Option<Vec<Str>>,
    pub(crate) shutdown_timeout: Option<Str>,
    pub(crate) threads: Option<Spanned<u64>>,
    pub(crate) public_url: Option<Str>,
    pub(crate) trusted_proxies: Option<Vec<Str>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct UpstreamFile {
    pub(crate) url: Option<Str>,
    pub(crate) authorization: Option<Str>,
    pub(crate) token: Option<Str>,
    pub(crate) connect_timeout: Option<Str>,
    pub(crate) read_timeout: Option<Str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct JwtFile {
    pub(crate) secret: Option<Str>,
    pub(crate) expires_in: Option<Str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ApiTokensFile {
    pub(crate) salt: Option<Str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct StoreFile {
    pub(crate) url: Option<Str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct CacheFile {
    pub(crate) redis_url: Option<Str>,
    pub(crate) ttl: Option<Str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct PoliciesFile {
    pub(crate) dir: Option<Str>,
    pub(crate) watch: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct UsersPermissionsFile {
    pub(crate) allow_register: Option<bool>,
    pub(crate) default_role: Option<Str>,
    pub(crate) unique_email: Option<bool>,
    pub(crate) email_confirmation: Option<bool>,
    pub(crate) email_confirmation_redirection: Option<Str>,
    pub(crate) email_reset_password: Option<Str>,
    pub(crate) register_allowed_fields: Option<Vec<Str>>,
    pub(crate) rate_limit: RateLimitFile,
    pub(crate) reset_token_ttl: Option<Str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RateLimitFile {
    pub(crate) interval: Option<Str>,
    pub(crate) max: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct EmailFile {
    pub(crate) smtp_url: Option<Str>,
    pub(crate) from: Option<Str>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProviderFile {
    pub(crate) client_id: Str,
    pub(crate) client_secret: Str,
    pub(crate) redirect: Str,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct HeadersFile {
    pub(crate) user_id: Option<Str>,
    pub(crate) user_role: Option<Str>,
    pub(crate) auth_method: Option<Str>,
    pub(crate) token_id: Option<Str>,
    pub(crate) action: Option<Str>,
}
