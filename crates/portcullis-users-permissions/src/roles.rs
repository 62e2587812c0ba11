//! `/api/users-permissions/roles…` and `/api/users-permissions/permissions`
//! (strapi-behavior.md §3.12), read from the policy.
//!
//! Roles are defined in the gateway's policy files, so they are read-only
//! here: create, update and delete answer 405. A role's numeric id is its
//! 1-based position in the policy ([`crate::sanitize::role_id`]). Roles
//! have no rows of their own, so `createdAt`, `updatedAt` and
//! `publishedAt` are the Unix epoch (`1970-01-01T00:00:00.000Z`), a fixed
//! value that does not change between reloads or replicas.

use portcullis_core::Role;
use portcullis_core::users_permissions::CONTROLLERS;
use serde_json::{Map, Value, json};

use crate::request::{UpRequest, UpResponse};
use crate::sanitize::{role_document_id, role_id};
use crate::{ApiError, Service};

/// The timestamps shown for every role.
const ROLE_TIMESTAMP: &str = "1970-01-01T00:00:00.000Z";

const READ_ONLY: &str =
    "Roles are defined in the gateway's policy files (policies/*.yaml); edit them there";

/// Answers one `role.*` or `permissions.*` action.
pub async fn handle(svc: &Service, req: &UpRequest, action: &str) -> Result<UpResponse, ApiError> {
    match action {
        "role.find" => find(svc, req).await,
        "role.findOne" => find_one(req),
        "role.createRole" | "role.updateRole" | "role.deleteRole" => {
            Err(ApiError::method_not_allowed(READ_ONLY))
        }
        "permissions.getPermissions" => {
            let all = catalogue(req, None);
            Ok(UpResponse::ok(&json!({ "permissions": all })))
        }
        _ => Err(ApiError::not_found("Not Found")),
    }
}

/// A role's own attributes, in Strapi's column order.
fn role_fields(req: &UpRequest, role: &Role) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), role_id(req, &role.kind).into());
    m.insert("documentId".into(), role_document_id(&role.kind).into());
    m.insert("name".into(), role.name.clone().into());
    m.insert("description".into(), role.description.clone().into());
    m.insert("type".into(), role.kind.clone().into());
    for key in ["createdAt", "updatedAt", "publishedAt"] {
        m.insert(key.into(), ROLE_TIMESTAMP.into());
    }
    m
}

/// `GET …/roles` → `{"roles": [...]}` in policy order, each with `nb_users`.
async fn find(svc: &Service, req: &UpRequest) -> Result<UpResponse, ApiError> {
    let counts = svc.store.count_users_by_role().await?;
    let roles: Vec<Value> = req
        .policy
        .roles()
        .map(|role| {
            let mut m = role_fields(req, role);
            m.insert(
                "nb_users".into(),
                counts.get(&role.kind).copied().unwrap_or(0).into(),
            );
            Value::Object(m)
        })
        .collect();
    Ok(UpResponse::ok(&json!({ "roles": roles })))
}

/// `GET …/roles/:id` (numeric id or documentId) → `{"role": {…, permissions}}`.
fn find_one(req: &UpRequest) -> Result<UpResponse, ApiError> {
    let raw = req.param("id").unwrap_or_default();
    let found = req.policy.roles().find(|r| {
        raw.parse::<i64>()
            .is_ok_and(|id| id == role_id(req, &r.kind))
            || role_document_id(&r.kind) == raw
    });
    let Some(role) = found else {
        return Err(ApiError::not_found("Role not found"));
    };
    let mut m = role_fields(req, role);
    m.insert(
        "permissions".into(),
        Value::Object(catalogue(req, Some(role))),
    );
    Ok(UpResponse::ok(&json!({ "role": m })))
}

/// Every known action as Strapi's nested tree
/// `{"api::post": {"controllers": {"post": {"find": {"enabled", "policy"}}}}}`:
/// the content types' actions, the custom routes', anything a role grants,
/// then the plugin's own. `enabled` is whether `role` grants the action
/// (always `false` without a role, as 5.54's `getPermissions` reports).
fn catalogue(req: &UpRequest, role: Option<&Role>) -> Map<String, Value> {
    let mut actions: Vec<(String, String)> = Vec::new();
    for ct in req.policy.content_types() {
        for action in ct.kind.actions() {
            actions.push((ct.uid.clone(), (*action).to_owned()));
        }
    }
    for route in req.policy.routes() {
        if let Some((uid, action)) = route.action.rsplit_once('.') {
            actions.push((uid.to_owned(), action.to_owned()));
        }
    }
    for r in req.policy.roles() {
        for (uid, granted) in &r.permissions {
            actions.extend(granted.iter().map(|a| (uid.clone(), a.clone())));
        }
    }
    let plugin: Vec<(String, String)> = CONTROLLERS
        .iter()
        .flat_map(|(uid, list)| {
            list.iter()
                .map(move |a| ((*uid).to_owned(), (*a).to_owned()))
        })
        .collect();
    // Strapi lists the APIs before the plugins.
    actions.retain(|(uid, _)| !uid.starts_with("plugin::users-permissions."));
    actions.extend(plugin);

    let mut tree = Map::new();
    for (uid, action) in actions {
        let (kind, controller) = uid.split_once('.').unwrap_or((uid.as_str(), ""));
        let enabled = role.is_some_and(|r| r.grants(&format!("{uid}.{action}")));
        let controllers = tree
            .entry(kind.to_owned())
            .or_insert_with(|| json!({ "controllers": {} }))
            .get_mut("controllers")
            .and_then(Value::as_object_mut);
        if let Some(controllers) = controllers {
            let entry = controllers
                .entry(controller.to_owned())
                .or_insert_with(|| json!({}));
            if let Some(map) = entry.as_object_mut() {
                map.entry(action)
                    .or_insert_with(|| json!({ "enabled": enabled, "policy": "" }));
            }
        }
    }
    tree
}
