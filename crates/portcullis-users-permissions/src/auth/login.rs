//! `POST /api/auth/local` (strapi-behavior.md §3.2).
//!
//! Order of checks, as Strapi's `callback` controller: yup body
//! (`identifier`, `password`: strict required strings); lookup among local
//! users by lower-cased email or exact username; no user, no password or a
//! wrong password → `Invalid identifier or password`; then (only with the
//! right password) unconfirmed → `Your account email is not confirmed`
//! (when confirmation is on), blocked → `Your account has been blocked by
//! an administrator`; else `{jwt, user}` (no role).
//!
//! A bcrypt hash imported from Strapi (or argon2 with weaker parameters) is
//! replaced by an argon2id hash on the first successful login; that does
//! not revoke the user's tokens.
//!
//! The grant store's `email.enabled` switch (`This provider is disabled`)
//! has no counterpart in gateway.yaml: local login is always enabled.

use portcullis_store::{User, Verified};

use super::{jwt_response, verify};
use crate::Service;
use crate::error::ApiError;
use crate::request::{UpRequest, UpResponse};
use crate::validate::Yup;

pub(super) async fn local(svc: &Service, req: &UpRequest) -> Result<UpResponse, ApiError> {
    let body = req.json_body()?;
    let mut yup = Yup::object(&body)?;
    let identifier = yup.required_string("identifier");
    let password = yup.required_string("password");
    yup.finish()?;
    let (Some(identifier), Some(password)) = (identifier, password) else {
        return Err(invalid());
    };

    let user = svc.store.user_by_identifier(identifier).await?;
    let stored = user.as_ref().and_then(|u| u.password.clone());
    // Always one verification, against a dummy hash when there is nothing
    // to verify against.
    let verdict = verify(svc, password, stored.as_deref()).await?;
    let (Some(user), Some(stored)) = (user, stored) else {
        return Err(invalid());
    };
    if !verdict.is_ok() {
        return Err(invalid());
    }
    if svc.settings.email_confirmation && !user.confirmed {
        return Err(ApiError::application("Your account email is not confirmed"));
    }
    if user.blocked {
        return Err(ApiError::application(
            "Your account has been blocked by an administrator",
        ));
    }
    if verdict == Verified::OkNeedsRehash {
        rehash(svc, &user, password, &stored).await;
    }
    jwt_response(svc, req, &user, false).await
}

fn invalid() -> ApiError {
    ApiError::validation("Invalid identifier or password")
}

/// Stores an argon2id hash of the (just verified) password in place of an
/// outdated one. A failure only costs another rehash next time.
async fn rehash(svc: &Service, user: &User, password: &str, old: &str) {
    let new = match svc.passwords.hash(password.to_owned()).await {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(user_id = user.id, error = %e, "password rehash failed");
            return;
        }
    };
    match svc.store.replace_password_hash(user.id, old, &new).await {
        Ok(true) => {
            tracing::info!(user_id = user.id, "password hash upgraded to argon2id");
            svc.events.user_changed(user.id).await;
        }
        // The password changed meanwhile: the newer hash wins.
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(user_id = user.id, error = %e, "storing the rehashed password failed")
        }
    }
}
