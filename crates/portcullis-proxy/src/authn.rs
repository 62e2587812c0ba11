//! Authentication exactly as Strapi does it (strapi-behavior.md §5, §6, §7):
//! the API-token strategy first, then the Users & Permissions JWT.

use std::sync::{Arc, LazyLock};

use portcullis_auth::bearer_token;
use portcullis_core::{AuthFailure, Caller, TokenAccess};
use portcullis_store::{TokenType, UserState, now_ms};
use portcullis_users_permissions::UpCaller;
use portcullis_users_permissions::request::ApiTokenKind;

use crate::state::AppState;
use crate::tokens::{TokenState, looks_like_api_token};

/// The result of reading the bearer credential.
pub enum Authn {
    /// No `Authorization`, or not a two-part `Bearer` one.
    Public,
    User(Arc<UserState>),
    Token(Arc<TokenState>),
    Rejected(AuthFailure),
}

impl Authn {
    /// The `X-Auth-Method` value (and the log's `auth` field).
    pub fn method(&self) -> &'static str {
        match self {
            Authn::Public => "public",
            Authn::User(_) => "jwt",
            Authn::Token(_) => "api-token",
            Authn::Rejected(_) => "invalid",
        }
    }

    pub fn subject(&self) -> Option<i64> {
        match self {
            Authn::User(u) => Some(u.id),
            Authn::Token(t) => Some(t.id),
            _ => None,
        }
    }

    pub fn role(&self) -> Option<Arc<str>> {
        // One shared "public" (an allocation per anonymous request otherwise).
        static PUBLIC: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("public"));
        match self {
            Authn::User(u) => Some(u.role.clone()),
            Authn::Public => Some(PUBLIC.clone()),
            _ => None,
        }
    }

    /// The caller as the decision core sees it.
    pub fn caller(&self) -> Caller<'_> {
        match self {
            Authn::Public => Caller::Public,
            Authn::User(u) => Caller::User {
                id: u.id,
                role: &u.role,
            },
            Authn::Token(t) => Caller::ApiToken {
                id: t.id,
                access: match t.kind {
                    TokenType::ReadOnly => TokenAccess::ReadOnly,
                    TokenType::FullAccess => TokenAccess::FullAccess,
                    TokenType::Custom => TokenAccess::Custom(&t.permissions),
                },
            },
            Authn::Rejected(f) => Caller::Rejected(*f),
        }
    }

    /// The caller as the Users & Permissions handlers see it.
    pub fn up_caller(&self) -> UpCaller {
        match self {
            Authn::User(u) => UpCaller::User(u.clone()),
            Authn::Token(t) => UpCaller::ApiToken {
                id: t.id,
                kind: match t.kind {
                    TokenType::ReadOnly => ApiTokenKind::ReadOnly,
                    TokenType::FullAccess => ApiTokenKind::FullAccess,
                    TokenType::Custom => ApiTokenKind::Custom(t.permissions.clone()),
                },
            },
            _ => UpCaller::Public,
        }
    }
}

/// Reads and checks the credential; `Err` when the store could not answer
/// (the caller must fail closed).
pub async fn authenticate(state: &AppState, authorization: Option<&[u8]>) -> Result<Authn, String> {
    let Some(token) = bearer_token(authorization) else {
        return Ok(Authn::Public);
    };
    if looks_like_api_token(token) {
        let found = state
            .tokens
            .lookup(token)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(t) = found {
            if t.expires_at.is_some_and(|at| at <= now_ms()) {
                return Ok(Authn::Rejected(AuthFailure::TokenExpired));
            }
            state.tokens.mark_used(t.id);
            return Ok(Authn::Token(t));
        }
    }
    let Some(claims) = state.jwt.verify(token) else {
        return Ok(Authn::Rejected(AuthFailure::InvalidToken));
    };
    let Some(user) = state
        .users
        .get(claims.id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(Authn::Rejected(AuthFailure::InvalidUser));
    };
    let unconfirmed = state.settings.email_confirmation && !user.confirmed;
    // Beyond Strapi: a JWT issued before the last password change, reset or
    // block is refused. `iat` has whole seconds and the store floors the
    // cut-off to its second, so the token handed out with the change works.
    let revoked = user
        .tokens_valid_after
        .is_some_and(|after| claims.iat.unwrap_or(0) < after.div_euclid(1000));
    if user.blocked || unconfirmed || revoked {
        return Ok(Authn::Rejected(AuthFailure::InvalidUser));
    }
    Ok(Authn::User(user))
}
