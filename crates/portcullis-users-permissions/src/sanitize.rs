//! The user object the content API returns (strapi-behavior.md §3.1):
//! never `password`, `resetPasswordToken` or `confirmationToken`.

use portcullis_store::User;
use serde_json::{Value, json};

use crate::request::UpRequest;

/// A sanitized user. `role` is included only when `with_role` is set and the
/// caller may `plugin::users-permissions.role.find`.
pub fn user_json(user: &User, req: &UpRequest, with_role: bool) -> Value {
    let mut v = json!({
        "id": user.id,
        "documentId": user.document_id,
        "username": user.username,
        "email": user.email,
        "provider": user.provider,
        "confirmed": user.confirmed,
        "blocked": user.blocked,
        "createdAt": portcullis_store::iso(user.created_at),
        "updatedAt": portcullis_store::iso(user.updated_at),
        "publishedAt": user.published_at.map(portcullis_store::iso),
    });
    if with_role
        && req.may("plugin::users-permissions.role.find")
        && let (Some(map), Some(role)) = (v.as_object_mut(), req.policy.role(&user.role))
    {
        map.insert("role".into(), role_json(req, role));
    }
    v
}

/// A role as Strapi shows it (without permissions or users).
pub fn role_json(req: &UpRequest, role: &portcullis_core::Role) -> Value {
    let id = role_id(req, &role.kind);
    json!({
        "id": id,
        "documentId": role_document_id(&role.kind),
        "name": role.name,
        "description": role.description,
        "type": role.kind,
    })
}

/// Roles have stable numeric ids: their position in the policy, from 1.
pub fn role_id(req: &UpRequest, kind: &str) -> i64 {
    req.policy
        .roles()
        .position(|r| r.kind == kind)
        .map_or(0, |i| {
            i64::try_from(i).unwrap_or(i64::MAX).saturating_add(1)
        })
}

/// A stable 24-character documentId derived from the role type.
pub fn role_document_id(kind: &str) -> String {
    use std::fmt::Write;
    // FNV-1a over the type, spread to 24 lowercase alphanumerics.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in kind.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(24);
    let mut x = h;
    for i in 0..24 {
        if i % 12 == 0 {
            x = h.rotate_left(i).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
        let idx = usize::try_from(x % 36).unwrap_or(0);
        let _ = write!(out, "{}", char::from(alphabet[idx]));
        x /= 36;
    }
    out
}
