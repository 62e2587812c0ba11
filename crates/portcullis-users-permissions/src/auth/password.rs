//! Forgot, reset and change password (strapi-behavior.md §3.4–§3.6).
//!
//! Beyond Strapi (threats class 7):
//! * a reset code older than `reset_token_ttl` is `Incorrect code provided`
//!   (and is cleared);
//! * a code is consumed by the same statement that stores the new password,
//!   only if it is still the user's code, so two concurrent resets cannot
//!   both use it;
//! * reset and change revoke every JWT issued before them
//!   (`tokens_valid_after`); the JWT returned is issued afterwards and stays
//!   valid.

use portcullis_store::now_ms;
use serde_json::json;

use super::{check_password_length, hash, jwt_response, random_hex, verify};
use crate::Service;
use crate::error::ApiError;
use crate::request::{UpRequest, UpResponse};
use crate::validate::Yup;

/// `POST /api/auth/forgot-password`: always `{"ok": true}` unless the body
/// is invalid; an unknown or blocked user gets nothing.
pub(super) async fn forgot(svc: &Service, req: &UpRequest) -> Result<UpResponse, ApiError> {
    let body = req.json_body()?;
    let mut yup = Yup::object(&body)?;
    let email = yup.required_email("email");
    yup.no_unknown(&["email"]);
    yup.finish()?;
    let ok = UpResponse::ok(&json!({ "ok": true }));
    let Some(email) = email else { return Ok(ok) };

    let Some(user) = svc.store.user_by_email_lower(email).await? else {
        return Ok(ok);
    };
    if user.blocked {
        return Ok(ok);
    }
    // 64 random bytes, stored before sending so an administrator can still
    // produce the link if the mail fails.
    let token = random_hex(64);
    svc.store
        .set_reset_token(user.id, Some(&token), now_ms())
        .await?;
    svc.events.user_changed(user.id).await;
    svc.mailer
        .send_reset(
            &user.email,
            &user,
            &svc.settings.email_reset_password,
            &token,
        )
        .await
        .map_err(|e| ApiError::internal("sending the reset-password email failed", &e))?;
    Ok(ok)
}

/// `POST /api/auth/reset-password`.
pub(super) async fn reset(svc: &Service, req: &UpRequest) -> Result<UpResponse, ApiError> {
    let body = req.json_body()?;
    let mut yup = Yup::object(&body)?;
    yup.confirmation("passwordConfirmation", "password");
    let password = yup.required_password("password");
    let code = yup.required_string("code");
    yup.no_unknown(&["password", "passwordConfirmation", "code"]);
    yup.finish()?;
    let (Some(password), Some(code)) = (password, code) else {
        return Err(incorrect_code());
    };

    let Some(user) = svc.store.user_by_reset_token(code).await? else {
        return Err(incorrect_code());
    };
    let now = now_ms();
    let ttl = i64::try_from(svc.settings.reset_token_ttl.as_millis()).unwrap_or(i64::MAX);
    let fresh = user
        .reset_password_sent_at
        .is_some_and(|sent| now.saturating_sub(sent) <= ttl);
    if !fresh {
        svc.store.set_reset_token(user.id, None, now).await?;
        svc.events.user_changed(user.id).await;
        return Err(incorrect_code());
    }
    check_password_length(password)?;

    let hash = hash(svc, password).await?;
    if !svc
        .store
        .reset_password_with_token(user.id, code, &hash, now_ms())
        .await?
    {
        // Used (or replaced) by a concurrent request meanwhile.
        return Err(incorrect_code());
    }
    svc.events.user_changed(user.id).await;
    jwt_response(svc, req, &user, false).await
}

fn incorrect_code() -> ApiError {
    ApiError::validation("Incorrect code provided")
}

/// `POST /api/auth/change-password`.
pub(super) async fn change(svc: &Service, req: &UpRequest) -> Result<UpResponse, ApiError> {
    let not_authenticated =
        || ApiError::application("You must be authenticated to reset your password");
    let Some(caller) = req.user() else {
        return Err(not_authenticated());
    };
    let body = req.json_body()?;
    let mut yup = Yup::object(&body)?;
    yup.confirmation("passwordConfirmation", "password");
    let password = yup.required_password("password");
    let current = yup.required_string("currentPassword");
    yup.no_unknown(&["password", "passwordConfirmation", "currentPassword"]);
    yup.finish()?;
    let (Some(password), Some(current)) = (password, current) else {
        return Err(not_authenticated());
    };

    let Some(user) = svc.store.user_by_id(caller.id).await? else {
        return Err(not_authenticated());
    };
    if !verify(svc, current, user.password.as_deref())
        .await?
        .is_ok()
    {
        return Err(ApiError::validation(
            "The provided current password is invalid",
        ));
    }
    if current == password {
        return Err(ApiError::validation(
            "Your new password must be different than your current password",
        ));
    }
    check_password_length(password)?;

    let hash = hash(svc, password).await?;
    svc.store.update_password(user.id, &hash, now_ms()).await?;
    svc.events.user_changed(user.id).await;
    jwt_response(svc, req, &user, false).await
}
