//! The request a handler sees and the response it returns.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;
use portcullis_core::users_permissions::UpRoute;
use portcullis_core::{Caller, Outcome, Policy, TokenAccess};
use portcullis_store::UserState;
use serde_json::Value;

/// Who is calling, after authentication.
#[derive(Debug, Clone)]
pub enum UpCaller {
    Public,
    User(Arc<UserState>),
    /// API tokens never identify a user (`/users/me` → 401 as in Strapi).
    ApiToken {
        id: i64,
        kind: ApiTokenKind,
    },
}

/// An API token's type, owned.
#[derive(Debug, Clone)]
pub enum ApiTokenKind {
    ReadOnly,
    FullAccess,
    Custom(Arc<std::collections::HashSet<String>>),
}

/// One request to a Users & Permissions route (owned, so it can move to the
/// background runtime that owns the database connections).
#[derive(Debug, Clone)]
pub struct UpRequest {
    pub route: &'static UpRoute,
    /// Route parameters by name (`id`, `provider`, `sessionId`, `role`; `*`
    /// for the rest of `/connect/*`).
    pub params: Vec<(String, String)>,
    /// The canonical path (what was authorized).
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub caller: UpCaller,
    pub policy: Arc<Policy>,
    pub client_ip: Option<IpAddr>,
}

impl UpRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The authenticated user, if the caller is one.
    pub fn user(&self) -> Option<&Arc<UserState>> {
        match &self.caller {
            UpCaller::User(u) => Some(u),
            _ => None,
        }
    }

    /// Whether the caller's role or token grants `action` (used for output
    /// sanitization: e.g. `role` is only shown to callers who may
    /// `plugin::users-permissions.role.find`).
    pub fn may(&self, action: &str) -> bool {
        let caller = match &self.caller {
            UpCaller::Public => Caller::Public,
            UpCaller::User(u) => Caller::User {
                id: u.id,
                role: &u.role,
            },
            UpCaller::ApiToken { id, kind } => Caller::ApiToken {
                id: *id,
                access: match kind {
                    ApiTokenKind::ReadOnly => TokenAccess::ReadOnly,
                    ApiTokenKind::FullAccess => TokenAccess::FullAccess,
                    ApiTokenKind::Custom(set) => TokenAccess::Custom(set),
                },
            },
        };
        self.policy.authorize(action, &caller).0 == Outcome::Allow
    }

    /// The body as JSON; an empty body reads as `{}` (Koa's bodyparser).
    pub fn json_body(&self) -> Result<Value, crate::ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Object(Default::default()));
        }
        serde_json::from_slice(&self.body)
            .map_err(|_| crate::ApiError::bad_request("Invalid JSON body"))
    }

    /// Query parameters, percent-decoded (`+` as space), in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        let Some(q) = &self.query else {
            return Vec::new();
        };
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(k), decode(v))
            })
            .collect()
    }
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8_lossy()
        .into_owned()
}

/// What the gateway writes back.
#[derive(Debug, Clone, PartialEq)]
pub struct UpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Empty for 204 and redirects.
    pub body: Bytes,
}

impl UpResponse {
    pub fn json(status: u16, value: &Value) -> UpResponse {
        UpResponse {
            status,
            headers: vec![(
                "Content-Type".into(),
                "application/json; charset=utf-8".into(),
            )],
            body: Bytes::from(value.to_string()),
        }
    }

    pub fn ok(value: &Value) -> UpResponse {
        UpResponse::json(200, value)
    }

    /// Koa's answer to `ctx.body = null`.
    pub fn no_content() -> UpResponse {
        UpResponse {
            status: 204,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    pub fn redirect(location: &str) -> UpResponse {
        UpResponse {
            status: 302,
            headers: vec![("Location".into(), location.to_owned())],
            body: Bytes::new(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}
