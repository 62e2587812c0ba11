//! `POST /api/users`, `PUT /api/users/:id` and `PUT /api/users/me`.
//!
//! Security (mass assignment, threats.md class 8): only `email`,
//! `username`, `password`, `role`, `confirmed` and `blocked` are ever
//! written by the admin-level routes (`provider` is forced to `local` on
//! create; tokens, ids and timestamps are ignored), and `PUT /users/me`
//! accepts `username` and `email` only, refusing anything else. Every
//! change that affects authentication (role, blocked, confirmed, password,
//! delete) is announced through [`crate::UserEvents`] so cached user states
//! are dropped before the next request.

use portcullis_store::{Error as StoreError, NewUser, User, now_ms};
use serde_json::{Map, Value};

use super::body::{self, RoleRef};
use crate::request::{UpRequest, UpResponse};
use crate::sanitize::{role_document_id, user_json};
use crate::{ApiError, Service};

fn object_body(req: &UpRequest) -> Result<Map<String, Value>, ApiError> {
    match req.json_body()? {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::validation("Request body must be a JSON object")),
    }
}

/// A role of the policy by its numeric id (1-based position) or documentId.
fn resolve_role(req: &UpRequest, r: &RoleRef) -> Option<String> {
    let mut roles = req.policy.roles();
    let role = match r {
        RoleRef::Id(id) => usize::try_from(*id)
            .ok()?
            .checked_sub(1)
            .and_then(|i| roles.nth(i)),
        RoleRef::DocumentId(doc) => roles.find(|role| role_document_id(&role.kind) == *doc),
    };
    role.map(|role| role.kind.clone())
}

/// `confirmed`/`blocked` of a body: a boolean, or `null` for false.
fn flag(body: &Map<String, Value>, key: &str) -> Option<bool> {
    match body.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::Null => Some(false),
        _ => None,
    }
}

/// `POST /api/users` → 201 with the created user.
pub async fn create(svc: &Service, req: &UpRequest) -> Result<UpResponse, ApiError> {
    let body = object_body(req)?;
    let input = body::create(&body).map_err(ApiError::yup)?;
    let email = input.email.to_lowercase();
    if svc.settings.unique_email && svc.store.user_by_email_lower(&email).await?.is_some() {
        return Err(ApiError::application("Email already taken"));
    }
    // Strapi re-throws every error of the user service (the 5.49+ entity
    // validation included) as an ApplicationError with its message.
    let mut errors = body::entity(
        Some(&input.username),
        Some(&email),
        Some(&input.password),
        &body,
    );
    if svc.store.user_by_username(&input.username).await?.is_some() {
        let at = errors.iter().take_while(|e| e.path == ["username"]).count();
        errors.insert(
            at,
            crate::error::FieldError::new(
                "username",
                "This attribute must be unique",
                Some(input.username.clone().into()),
            ),
        );
    }
    if !errors.is_empty() {
        return Err(ApiError::application(ApiError::yup(errors).message));
    }
    let role =
        resolve_role(req, &input.role).ok_or_else(|| ApiError::application("Role not found"))?;
    let hash = svc.passwords.hash(input.password).await?;
    let new = NewUser {
        username: input.username,
        email,
        password_hash: Some(hash),
        provider: "local".to_owned(),
        role,
        confirmed: flag(&body, "confirmed").unwrap_or(false),
        blocked: flag(&body, "blocked").unwrap_or(false),
    };
    let user = match svc.store.create_user(new).await {
        Ok(user) => user,
        Err(StoreError::Conflict { field: "email" }) => {
            return Err(ApiError::application("Email already taken"));
        }
        Err(StoreError::Conflict { .. }) => {
            return Err(ApiError::application("This attribute must be unique"));
        }
        Err(e) => return Err(e.into()),
    };
    svc.events.user_changed(user.id).await;
    Ok(UpResponse::json(201, &user_json(&user, req, true)))
}

/// `PUT /api/users/:id` → 200 with the updated user.
pub async fn update(svc: &Service, req: &UpRequest) -> Result<UpResponse, ApiError> {
    let body = object_body(req)?;
    let Some(user) = super::lookup(svc, req).await? else {
        return Err(ApiError::not_found("User not found"));
    };
    let input = body::update(&body).map_err(ApiError::yup)?;
    apply(svc, req, user, &body, input.role).await
}

/// `PUT /api/users/me` (a Portcullis extension): the caller changes their
/// own `username` and/or `email`, nothing else.
pub async fn update_me(svc: &Service, req: &UpRequest) -> Result<UpResponse, ApiError> {
    let Some(caller) = req.user() else {
        return Err(ApiError::unauthorized("Unauthorized"));
    };
    let body = object_body(req)?;
    let refused: Vec<&str> = body
        .keys()
        .map(String::as_str)
        .filter(|k| !matches!(*k, "username" | "email"))
        .collect();
    if !refused.is_empty() {
        return Err(ApiError::validation(format!(
            "Invalid parameters: {}",
            refused.join(", ")
        )));
    }
    let Some(user) = svc.store.user_by_id(caller.id).await? else {
        return Err(ApiError::not_found("User not found"));
    };
    body::update(&body).map_err(ApiError::yup)?;
    apply(svc, req, user, &body, None).await
}

/// The checks after yup (Strapi's order) and the writes.
async fn apply(
    svc: &Service,
    req: &UpRequest,
    user: User,
    body: &Map<String, Value>,
    role: Option<RoleRef>,
) -> Result<UpResponse, ApiError> {
    let password = body.get("password");
    if user.provider == "local" && password.is_some_and(|p| p.is_null() || p.as_str() == Some("")) {
        return Err(ApiError::validation("password.notNull"));
    }
    let username = body.get("username").and_then(Value::as_str);
    if let Some(name) = username
        && let Some(other) = svc.store.user_by_username(name).await?
        && other.id != user.id
    {
        return Err(ApiError::application("Username already taken"));
    }
    let mut email = body.get("email").and_then(Value::as_str).map(str::to_owned);
    if let Some(e) = email.as_mut()
        && svc.settings.unique_email
    {
        *e = e.to_lowercase();
        if let Some(other) = svc.store.user_by_email_lower(e).await?
            && other.id != user.id
        {
            return Err(ApiError::application("Email already taken"));
        }
    }
    let new_password = password.and_then(Value::as_str).filter(|p| !p.is_empty());
    let errors = body::entity(username, email.as_deref(), new_password, body);
    if !errors.is_empty() {
        return Err(ApiError::yup(errors));
    }
    let role = match role {
        Some(r) => {
            Some(resolve_role(req, &r).ok_or_else(|| ApiError::validation("Role not found"))?)
        }
        None => None,
    };
    let changed = write(
        svc,
        &user,
        username,
        email.as_deref(),
        new_password,
        role,
        body,
    )
    .await?;
    if changed {
        svc.events.user_changed(user.id).await;
    }
    let fresh = svc.store.user_by_id(user.id).await?;
    let fresh = fresh.ok_or_else(|| ApiError::not_found("User not found"))?;
    Ok(UpResponse::ok(&user_json(&fresh, req, true)))
}

/// Writes what differs from the stored user; `true` if anything did.
async fn write(
    svc: &Service,
    user: &User,
    username: Option<&str>,
    email: Option<&str>,
    password: Option<&str>,
    role: Option<String>,
    body: &Map<String, Value>,
) -> Result<bool, ApiError> {
    let store = &svc.store;
    let now = now_ms();
    let username = username.filter(|u| *u != user.username);
    let email = email.filter(|e| *e != user.email);
    let mut changed = false;
    if username.is_some() || email.is_some() {
        match store.update_profile(user.id, username, email, now).await {
            Ok(_) => changed = true,
            // A concurrent writer took the value after our check.
            Err(StoreError::Conflict { field: "email" }) => {
                return Err(ApiError::application("Email already taken"));
            }
            Err(StoreError::Conflict { .. }) => {
                return Err(ApiError::application("Username already taken"));
            }
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(plain) = password {
        // Also revokes the user's earlier JWTs (the store's policy).
        let hash = svc.passwords.hash(plain.to_owned()).await?;
        changed |= store.update_password(user.id, &hash, now).await?;
    }
    if let Some(role) = role.filter(|r| *r != user.role) {
        changed |= store.set_role(user.id, &role, now).await?;
    }
    if let Some(blocked) = flag(body, "blocked").filter(|b| *b != user.blocked) {
        changed |= store.set_blocked(user.id, blocked, now).await?;
    }
    if let Some(confirmed) = flag(body, "confirmed").filter(|c| *c != user.confirmed) {
        changed |= store.set_confirmed(user.id, confirmed, now).await?;
    }
    Ok(changed)
}
