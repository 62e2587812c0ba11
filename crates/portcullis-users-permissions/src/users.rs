//! `/api/users…` (strapi-behavior.md §3.11): list, count, read, me,
//! create, update, update-me and delete.
//!
//! Every user in a response goes through [`crate::sanitize::user_json`], so
//! `password`, `resetPasswordToken` and `confirmationToken` are never
//! returned; `role` only when it was populated and the caller may read
//! roles. Query parameters are validated against the public attributes
//! only (see [`filters`]).

mod body;
mod filters;
mod ops;
mod qs;
mod query;
mod values;
mod write;

use portcullis_store::User;
use serde_json::Value;

use crate::request::{UpRequest, UpResponse};
use crate::{ApiError, Service};

use query::ListQuery;

/// Answers one `user.*` action.
pub async fn handle(svc: &Service, req: &UpRequest, action: &str) -> Result<UpResponse, ApiError> {
    match action {
        "user.find" => find(svc, req).await,
        "user.count" => count(svc, req).await,
        "user.findOne" => find_one(svc, req).await,
        "user.me" => me(svc, req).await,
        "user.create" => write::create(svc, req).await,
        "user.update" => write::update(svc, req).await,
        "user.updateMe" => write::update_me(svc, req).await,
        "user.destroy" => destroy(svc, req).await,
        _ => Err(ApiError::not_found("Not Found")),
    }
}

/// A sanitized user, restricted to the selected fields (`id` and
/// `documentId` always stay, as in Strapi 5).
fn output(user: &User, req: &UpRequest, q: &ListQuery) -> Value {
    let mut v = crate::sanitize::user_json(user, req, q.populate_role);
    if let (Some(fields), Some(map)) = (&q.fields, v.as_object_mut()) {
        map.retain(|k, _| k == "role" || fields.contains(&k.as_str()));
    }
    v
}

/// The user named by the `:id` parameter: a numeric id or a documentId.
async fn lookup(svc: &Service, req: &UpRequest) -> Result<Option<User>, ApiError> {
    let raw = req.param("id").unwrap_or_default();
    let user = match raw.parse::<i64>() {
        Ok(id) if raw.bytes().all(|b| b.is_ascii_digit()) => svc.store.user_by_id(id).await?,
        _ if raw.is_empty() => None,
        _ => svc.store.user_by_document_id(raw).await?,
    };
    Ok(user)
}

/// `GET /api/users` → a bare array.
async fn find(svc: &Service, req: &UpRequest) -> Result<UpResponse, ApiError> {
    let q = query::parse(req, true)?;
    let users = svc.store.find_users(&q.to_store(req)).await?;
    let list: Vec<Value> = users.iter().map(|u| output(u, req, &q)).collect();
    Ok(UpResponse::ok(&Value::Array(list)))
}

/// `GET /api/users/count` → a bare number.
async fn count(svc: &Service, req: &UpRequest) -> Result<UpResponse, ApiError> {
    let q = query::parse(req, false)?;
    let n = svc.store.count_users_matching(&q.to_store(req)).await?;
    Ok(UpResponse::ok(&Value::from(n)))
}

/// `GET /api/users/:id` → the user, or 204 when there is none.
async fn find_one(svc: &Service, req: &UpRequest) -> Result<UpResponse, ApiError> {
    let q = query::parse(req, false)?;
    Ok(match lookup(svc, req).await? {
        Some(user) => UpResponse::ok(&output(&user, req, &q)),
        None => UpResponse::no_content(),
    })
}

/// `GET /api/users/me`: API tokens and anonymous callers have no user.
async fn me(svc: &Service, req: &UpRequest) -> Result<UpResponse, ApiError> {
    let Some(caller) = req.user() else {
        return Err(ApiError::unauthorized("Unauthorized"));
    };
    let q = query::parse(req, false)?;
    Ok(match svc.store.user_by_id(caller.id).await? {
        Some(user) => UpResponse::ok(&output(&user, req, &q)),
        // Deleted between authentication and here: Strapi's `ctx.body = null`.
        None => UpResponse::no_content(),
    })
}

/// `DELETE /api/users/:id` → the deleted user, or 204.
async fn destroy(svc: &Service, req: &UpRequest) -> Result<UpResponse, ApiError> {
    let Some(user) = lookup(svc, req).await? else {
        return Ok(UpResponse::no_content());
    };
    let Some(deleted) = svc.store.delete_user(user.id).await? else {
        return Ok(UpResponse::no_content());
    };
    // Its JWTs must stop working on the next request.
    svc.events.user_changed(deleted.id).await;
    Ok(UpResponse::ok(&crate::sanitize::user_json(
        &deleted, req, false,
    )))
}
