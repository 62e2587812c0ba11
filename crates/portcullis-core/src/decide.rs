//! Authorization: who may perform a resolved action. A deny is a value.

use std::collections::HashSet;

use crate::method::Method;
use crate::path::CanonicalPath;
use crate::policy::Policy;
use crate::router::Target;

/// Why a presented credential was refused (always 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// Malformed, wrongly signed or expired JWT, unknown token, no `id`.
    InvalidToken,
    /// A valid JWT whose user is deleted, blocked, unconfirmed (with
    /// confirmation on) or whose token predates a revocation.
    InvalidUser,
    /// An API token past its `expiresAt`.
    TokenExpired,
}

/// What an API token may do.
#[derive(Debug, Clone, Copy)]
pub enum TokenAccess<'a> {
    ReadOnly,
    FullAccess,
    Custom(&'a HashSet<String>),
}

/// The authenticated caller, as far as the decision is concerned.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// No `Authorization`, or not a two-part `Bearer` one.
    Public,
    User {
        id: i64,
        role: &'a str,
    },
    ApiToken {
        id: i64,
        access: TokenAccess<'a>,
    },
    Rejected(AuthFailure),
}

/// A refusal, with Strapi's status, error name and message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deny {
    pub status: u16,
    pub name: &'static str,
    pub message: &'static str,
}

impl Deny {
    pub const NOT_FOUND: Deny = Deny {
        status: 404,
        name: "NotFoundError",
        message: "Not Found",
    };
    pub const FORBIDDEN: Deny = Deny {
        status: 403,
        name: "ForbiddenError",
        message: "Forbidden",
    };
    pub const MISSING_CREDENTIALS: Deny = Deny {
        status: 401,
        name: "UnauthorizedError",
        message: "Missing or invalid credentials",
    };
    pub const INVALID_CREDENTIALS: Deny = Deny {
        status: 401,
        name: "UnauthorizedError",
        message: "Invalid credentials",
    };
    pub const TOKEN_EXPIRED: Deny = Deny {
        status: 401,
        name: "UnauthorizedError",
        message: "Token expired",
    };
}

/// The rule that decided, for logs and `portcullis explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule<'p> {
    RoleGrants(&'p str),
    RoleLacks(&'p str),
    /// The user's role is not in the policy: it grants nothing.
    UnknownRole,
    /// Anonymous caller and the public role grants nothing at all.
    PublicHasNoPermissions,
    TokenFullAccess,
    TokenReadOnly,
    TokenCustom,
    Credential(AuthFailure),
    Passthrough,
    Preflight,
    NoRoute,
}

impl std::fmt::Display for Rule<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rule::RoleGrants(r) => write!(f, "role '{r}' grants the action"),
            Rule::RoleLacks(r) => write!(f, "role '{r}' does not grant the action"),
            Rule::UnknownRole => f.write_str("the caller's role is not defined in the policy"),
            Rule::PublicHasNoPermissions => f.write_str("the public role has no permission at all"),
            Rule::TokenFullAccess => f.write_str("full-access API token"),
            Rule::TokenReadOnly => f.write_str("read-only API token (find/findOne only)"),
            Rule::TokenCustom => f.write_str("custom API token permissions"),
            Rule::Credential(AuthFailure::InvalidToken) => f.write_str("invalid bearer credential"),
            Rule::Credential(AuthFailure::InvalidUser) => {
                f.write_str("user deleted, blocked, unconfirmed or token revoked")
            }
            Rule::Credential(AuthFailure::TokenExpired) => f.write_str("API token expired"),
            Rule::Passthrough => f.write_str("server.passthrough prefix"),
            Rule::Preflight => f.write_str("CORS preflight for a known route"),
            Rule::NoRoute => f.write_str("no route matches"),
        }
    }
}

/// The outcome of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Forward with identity headers.
    Allow,
    /// Forward unchecked, without identity.
    Forward,
    Deny(Deny),
}

/// Everything decided about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<'p> {
    pub outcome: Outcome,
    pub rule: Rule<'p>,
    pub action: Option<&'p str>,
    pub forward_path: String,
}

impl Policy {
    /// May `caller` perform `action`? Strapi's order: a refused credential is
    /// 401 even on public routes; an anonymous caller with an empty public
    /// role is 401; a missing grant is 403.
    pub fn authorize<'p>(&'p self, action: &str, caller: &Caller<'_>) -> (Outcome, Rule<'p>) {
        match *caller {
            Caller::Rejected(f) => {
                let deny = match f {
                    AuthFailure::InvalidToken => Deny::MISSING_CREDENTIALS,
                    AuthFailure::InvalidUser => Deny::INVALID_CREDENTIALS,
                    AuthFailure::TokenExpired => Deny::TOKEN_EXPIRED,
                };
                (Outcome::Deny(deny), Rule::Credential(f))
            }
            Caller::Public => match self.role("public") {
                Some(role) if !role.has_any_permission() => (
                    Outcome::Deny(Deny::MISSING_CREDENTIALS),
                    Rule::PublicHasNoPermissions,
                ),
                Some(role) => role_decision(role.kind.as_str(), role.grants(action)),
                // A policy without a public role grants anonymous callers
                // nothing; config validation refuses such a policy anyway.
                None => (
                    Outcome::Deny(Deny::MISSING_CREDENTIALS),
                    Rule::PublicHasNoPermissions,
                ),
            },
            Caller::User { role, .. } => match self.roles.get_key_value(role) {
                Some((kind, r)) => role_decision(kind.as_str(), r.grants(action)),
                None => (Outcome::Deny(Deny::FORBIDDEN), Rule::UnknownRole),
            },
            Caller::ApiToken { access, .. } => match access {
                TokenAccess::FullAccess => (Outcome::Allow, Rule::TokenFullAccess),
                TokenAccess::ReadOnly => {
                    // Strapi tests `endsWith('find') || endsWith('findOne')`;
                    // comparing the whole last segment is the strict reading.
                    let last = action.rsplit('.').next().unwrap_or_default();
                    allow_if(last == "find" || last == "findOne", Rule::TokenReadOnly)
                }
                TokenAccess::Custom(set) => allow_if(set.contains(action), Rule::TokenCustom),
            },
        }
    }

    /// Resolves and authorizes in one step (what the proxy and `explain` do).
    pub fn decide<'p>(
        &'p self,
        method: Method,
        path: &CanonicalPath<'_>,
        caller: &Caller<'_>,
    ) -> Decision<'p> {
        let resolved = self.resolve(method, path);
        let target = resolved.target;
        let forward_path = resolved.into_forward_path(path);
        let (outcome, rule, action) = match target {
            Target::NotFound => (Outcome::Deny(Deny::NOT_FOUND), Rule::NoRoute, None),
            Target::Passthrough => (Outcome::Forward, Rule::Passthrough, None),
            Target::Preflight => (Outcome::Forward, Rule::Preflight, None),
            Target::Action { action, .. } => {
                let (outcome, rule) = self.authorize(action, caller);
                (outcome, rule, Some(action))
            }
        };
        Decision {
            outcome,
            rule,
            action,
            forward_path,
        }
    }
}

fn role_decision(role: &str, granted: bool) -> (Outcome, Rule<'_>) {
    if granted {
        (Outcome::Allow, Rule::RoleGrants(role))
    } else {
        (Outcome::Deny(Deny::FORBIDDEN), Rule::RoleLacks(role))
    }
}

fn allow_if(ok: bool, rule: Rule<'static>) -> (Outcome, Rule<'static>) {
    if ok {
        (Outcome::Allow, rule)
    } else {
        (Outcome::Deny(Deny::FORBIDDEN), rule)
    }
}
