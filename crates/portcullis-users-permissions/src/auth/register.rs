//! `POST /api/auth/local/register` (strapi-behavior.md §3.3).
//!
//! Order: `allow_register`; unknown top-level keys (anything but
//! `username`, `password`, `email` and `register_allowed_fields`, in body
//! order) → `Invalid parameters: a, b`; yup (`email`, `username`,
//! `password`); default role; conflicts → `Email or Username are already
//! taken`; entity validation (username 3–255, email ≥ 6, password ≥ 6
//! characters); create (`provider: local`, email lower-cased, the default
//! role, `confirmed = !email_confirmation`); then either the confirmation
//! email and `{user}`, or `{jwt, user}`.
//!
//! Privileged attributes (`role`, `confirmed`, `blocked`, `provider`, …)
//! are never taken from the body (strapi#6069, CVE-2023-39345). Keys listed
//! in `register_allowed_fields` are accepted but not stored: the user table
//! has no custom attributes.
//!
//! The store keeps emails unique across providers whatever
//! `unique_email` says, so conflicts are always checked across providers.

use portcullis_store::{Error as StoreError, NewUser, Store, User};
use serde_json::{Value, json};

use super::{MIN_PASSWORD_CHARS, confirm, hash, jwt_response};
use crate::Service;
use crate::error::{ApiError, FieldError};
use crate::request::{UpRequest, UpResponse};
use crate::sanitize::user_json;
use crate::validate::{self, Yup};

const ALWAYS_ALLOWED: [&str; 3] = ["username", "password", "email"];

pub(super) async fn register(svc: &Service, req: &UpRequest) -> Result<UpResponse, ApiError> {
    let settings = &svc.settings;
    if !settings.allow_register {
        return Err(ApiError::application(
            "Register action is currently disabled",
        ));
    }
    let body = req.json_body()?;
    let allowed = |k: &str| {
        ALWAYS_ALLOWED.contains(&k) || settings.register_allowed_fields.iter().any(|f| f == k)
    };
    let invalid: Vec<String> = keys_of(&body).into_iter().filter(|k| !allowed(k)).collect();
    if !invalid.is_empty() {
        return Err(ApiError::validation(format!(
            "Invalid parameters: {}",
            invalid.join(", ")
        )));
    }

    // Strapi validates `pick(body, allowedKeys)`, always an object.
    let empty = Value::Object(serde_json::Map::new());
    let params = if body.is_object() { &body } else { &empty };
    let mut yup = Yup::object(params)?;
    let email = yup.required_email("email");
    let username = yup.required_string("username");
    let password = yup.required_password("password");
    yup.finish()?;
    let (Some(email), Some(username), Some(password)) = (email, username, password) else {
        return Err(ApiError::validation("Invalid parameters"));
    };

    if req.policy.role(&settings.default_role).is_none() {
        return Err(ApiError::application("Impossible to find the default role"));
    }
    let email = email.to_lowercase();
    if taken(&svc.store, &email, username).await? {
        return Err(taken_error());
    }
    entity_validation(username, &email, password)?;

    let new = NewUser {
        username: username.to_owned(),
        email,
        password_hash: Some(hash(svc, password).await?),
        provider: "local".into(),
        role: settings.default_role.clone(),
        confirmed: !settings.email_confirmation,
        blocked: false,
    };
    let user = match svc.store.create_user(new).await {
        Ok(user) => user,
        // Lost a race with another registration of the same name.
        Err(StoreError::Conflict { .. }) => return Err(taken_error()),
        Err(e) => return Err(e.into()),
    };
    svc.events.user_changed(user.id).await;

    if settings.email_confirmation {
        if let Err(e) = confirm::send_confirmation(svc, &user).await {
            tracing::error!(user_id = user.id, error = %e, "sending the confirmation email failed");
            return Err(ApiError::application("Error sending confirmation email"));
        }
        return Ok(UpResponse::ok(
            &json!({ "user": user_json(&user, req, true) }),
        ));
    }
    jwt_response(svc, req, &user, true).await
}

/// `Object.keys(body)`: object keys in order; indices for arrays and
/// strings; nothing for other values.
fn keys_of(body: &Value) -> Vec<String> {
    match body {
        Value::Object(map) => map.keys().cloned().collect(),
        Value::Array(items) => (0..items.len()).map(|i| i.to_string()).collect(),
        Value::String(s) => (0..s.encode_utf16().count())
            .map(|i| i.to_string())
            .collect(),
        _ => Vec::new(),
    }
}

fn taken_error() -> ApiError {
    ApiError::application("Email or Username are already taken")
}

/// Strapi's `$or`: email = lower(email), username = lower(email),
/// username = username, email = username.
async fn taken(store: &Store, email_lower: &str, username: &str) -> Result<bool, ApiError> {
    let found = |u: Option<User>| u.is_some();
    Ok(found(store.user_by_email_lower(email_lower).await?)
        || found(store.user_by_username(email_lower).await?)
        || found(store.user_by_username(username).await?)
        || found(store.user_by_email_lower(username).await?))
}

/// The user content type's constraints (5.49+), reported together in
/// attribute order.
fn entity_validation(username: &str, email: &str, password: &str) -> Result<(), ApiError> {
    let mut errors: Vec<FieldError> = Vec::new();
    validate::min_chars(&mut errors, "username", username, 3);
    validate::max_chars(&mut errors, "username", username, 255);
    validate::min_chars(&mut errors, "email", email, 6);
    validate::min_chars(&mut errors, "password", password, MIN_PASSWORD_CHARS);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::yup(errors))
    }
}
