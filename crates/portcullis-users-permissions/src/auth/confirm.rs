//! Email confirmation (strapi-behavior.md §3.7, §3.8).

use portcullis_store::{User, now_ms};
use serde_json::{Map, Value, json};

use super::random_hex;
use crate::Service;
use crate::email::MailError;
use crate::error::ApiError;
use crate::request::{UpRequest, UpResponse};
use crate::validate::Yup;

/// Why a confirmation email was not sent.
#[derive(Debug, thiserror::Error)]
pub(super) enum SendFailure {
    #[error("storing the confirmation token failed: {0}")]
    Store(#[from] portcullis_store::Error),
    #[error(transparent)]
    Mail(#[from] MailError),
}

/// Stores a new confirmation token (20 random bytes, hex) on `user`, which
/// invalidates the previous one, then mails the link
/// `<server_url><api_prefix>/auth/email-confirmation?confirmation=<token>`.
pub(super) async fn send_confirmation(svc: &Service, user: &User) -> Result<(), SendFailure> {
    let token = random_hex(20);
    svc.store
        .set_confirmation_token(user.id, Some(&token), now_ms())
        .await?;
    svc.events.user_changed(user.id).await;
    let prefix = svc.settings.api_prefix.trim_end_matches('/');
    let url = format!(
        "{}{prefix}/auth/email-confirmation",
        svc.mailer.server_url()
    );
    svc.mailer
        .send_confirmation(&user.email, user, &url, &token)
        .await?;
    Ok(())
}

/// `GET /api/auth/email-confirmation?confirmation=<token>`: confirms, clears
/// the token and redirects (302) to `email_confirmation_redirection` or `/`.
pub(super) async fn confirm(svc: &Service, req: &UpRequest) -> Result<UpResponse, ApiError> {
    let query = query_object(req);
    let mut yup = Yup::object(&query)?;
    let token = yup.required_string("confirmation");
    yup.finish()?;
    let Some(token) = token else {
        return Err(invalid_token());
    };
    let Some(user) = svc.store.user_by_confirmation_token(token).await? else {
        return Err(invalid_token());
    };
    let now = now_ms();
    svc.store.set_confirmed(user.id, true, now).await?;
    svc.store.set_confirmation_token(user.id, None, now).await?;
    svc.events.user_changed(user.id).await;
    let target = &svc.settings.email_confirmation_redirection;
    Ok(UpResponse::redirect(if target.is_empty() {
        "/"
    } else {
        target
    }))
}

fn invalid_token() -> ApiError {
    ApiError::validation("Invalid token")
}

/// The query as Koa presents it: a repeated key becomes an array.
fn query_object(req: &UpRequest) -> Value {
    let mut map: Map<String, Value> = Map::new();
    for (key, value) in req.query_pairs() {
        match map.get_mut(&key) {
            Some(Value::Array(items)) => items.push(Value::String(value)),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(value)]);
            }
            None => {
                map.insert(key, Value::String(value));
            }
        }
    }
    Value::Object(map)
}

/// `POST /api/auth/send-email-confirmation`.
pub(super) async fn resend(svc: &Service, req: &UpRequest) -> Result<UpResponse, ApiError> {
    let body = req.json_body()?;
    let mut yup = Yup::object(&body)?;
    let email = yup.required_email("email");
    yup.finish()?;
    let Some(email) = email else {
        return Err(ApiError::validation("email is a required field"));
    };
    let Some(user) = svc.store.user_by_email_lower(email).await? else {
        return Ok(UpResponse::ok(&json!({ "email": email, "sent": true })));
    };
    if user.confirmed {
        return Err(ApiError::application("Already confirmed"));
    }
    if user.blocked {
        return Err(ApiError::application("User blocked"));
    }
    send_confirmation(svc, &user)
        .await
        .map_err(|e| ApiError::internal("sending the confirmation email failed", &e))?;
    Ok(UpResponse::ok(
        &json!({ "email": user.email, "sent": true }),
    ))
}
