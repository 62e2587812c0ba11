//! Validation of `POST /api/users` and `PUT /api/users/:id` bodies, with
//! the messages of Strapi's yup schemas (`controllers/validation/user.js`,
//! strict, all errors collected) and of the 5.49+ entity validation
//! (`username` min 3, `email` min 6, `password` min 6, booleans). Messages
//! and the email check come from [`crate::validate`], shared with the
//! auth routes.

use serde_json::{Map, Value};

use crate::error::FieldError;
use crate::validate::{self, is_email};

/// A role reference of a body: `2`, `"<documentId>"` or a connect entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleRef {
    Id(i64),
    DocumentId(String),
}

fn field_error(path: &[&str], message: String, value: Option<&Value>) -> FieldError {
    FieldError {
        path: path.iter().map(|p| (*p).to_owned()).collect(),
        message,
        value: value.cloned(),
    }
}

fn dotted(path: &[&str]) -> String {
    let mut out = String::new();
    for (i, p) in path.iter().enumerate() {
        if p.bytes().all(|b| b.is_ascii_digit()) && i > 0 {
            out.push_str(&format!("[{p}]"));
        } else {
            if i > 0 {
                out.push('.');
            }
            out.push_str(p);
        }
    }
    out
}

/// Strapi's `mixed.notType` message.
pub fn type_error(path: &[&str], ty: &str, v: &Value) -> FieldError {
    field_error(path, validate::not_type(&dotted(path), ty, v), Some(v))
}

/// `required()`; `value` is the offending value when it was given (`""`).
fn required(path: &[&str], value: Option<&Value>) -> FieldError {
    field_error(path, validate::required(&dotted(path)), value)
}

fn min_chars(path: &[&str], min: usize, v: &Value) -> FieldError {
    field_error(
        path,
        format!("{} must be at least {min} characters", dotted(path)),
        Some(v),
    )
}

/// `yup.string()` checks: type, then `email()`, `min(n)` and `required()`
/// in declaration order. `None`: the key is absent.
fn string_field(
    errors: &mut Vec<FieldError>,
    name: &str,
    v: Option<&Value>,
    email: bool,
    min: Option<usize>,
    is_required: bool,
) -> Option<String> {
    let Some(v) = v else {
        if is_required {
            errors.push(required(&[name], None));
        }
        return None;
    };
    let Some(s) = v.as_str() else {
        errors.push(type_error(&[name], "string", v));
        return None;
    };
    let before = errors.len();
    // yup's `email()` passes `""` (`excludeEmptyString`).
    if email && !s.is_empty() && !is_email(s) {
        errors.push(field_error(
            &[name],
            format!("{name} must be a valid email"),
            Some(v),
        ));
    }
    if let Some(min) = min
        && s.encode_utf16().count() < min
    {
        errors.push(min_chars(&[name], min, v));
    }
    if is_required && s.is_empty() {
        errors.push(required(&[name], Some(v)));
    }
    (errors.len() == before).then(|| s.to_owned())
}

/// Fields of a create body that passed yup.
#[derive(Debug)]
pub struct CreateInput {
    pub email: String,
    pub username: String,
    pub password: String,
    pub role: RoleRef,
}

/// `createUserBodySchema`.
pub fn create(body: &Map<String, Value>) -> Result<CreateInput, Vec<FieldError>> {
    let mut errors = Vec::new();
    let email = string_field(&mut errors, "email", body.get("email"), true, None, true);
    let username = string_field(
        &mut errors,
        "username",
        body.get("username"),
        false,
        Some(1),
        true,
    );
    let password = string_field(
        &mut errors,
        "password",
        body.get("password"),
        false,
        Some(1),
        true,
    );
    let role = match body.get("role") {
        None => {
            errors.push(required(&["role"], None));
            None
        }
        Some(v @ (Value::Object(_) | Value::Array(_) | Value::Null)) => {
            let Some(obj) = v.as_object() else {
                errors.push(type_error(&["role"], "object", v));
                return Err(errors);
            };
            match obj.get("connect") {
                None => {
                    errors.push(required(&["role", "connect"], None));
                    None
                }
                Some(c) => {
                    let refs = entries(&mut errors, "connect", c);
                    if c.as_array().is_some_and(Vec::is_empty) {
                        errors.push(field_error(
                            &["role", "connect"],
                            "Users must have a role".into(),
                            Some(c),
                        ));
                    }
                    refs.and_then(|r| r.last().cloned())
                }
            }
        }
        Some(v) => strapi_id(&mut errors, &["role"], v),
    };
    match (email, username, password, role) {
        (Some(email), Some(username), Some(password), Some(role)) if errors.is_empty() => {
            Ok(CreateInput {
                email,
                username,
                password,
                role,
            })
        }
        _ => Err(errors),
    }
}

/// `yup.strapiID()`: a string or a non-negative integer.
fn strapi_id(errors: &mut Vec<FieldError>, path: &[&str], v: &Value) -> Option<RoleRef> {
    match v {
        Value::String(s) => Some(match s.parse::<i64>() {
            Ok(id) if !s.starts_with(['+', '-']) => RoleRef::Id(id),
            _ => RoleRef::DocumentId(s.clone()),
        }),
        Value::Number(n) if n.as_i64().is_some_and(|i| i >= 0) => n.as_i64().map(RoleRef::Id),
        _ => {
            errors.push(type_error(path, "strapiID", v));
            None
        }
    }
}

/// `array().of(roleRelationEntrySchema)` under `role.<key>`.
fn entries(errors: &mut Vec<FieldError>, key: &str, v: &Value) -> Option<Vec<RoleRef>> {
    let Some(items) = v.as_array() else {
        errors.push(type_error(&["role", key], "array", v));
        return None;
    };
    let before = errors.len();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let index = i.to_string();
        let path = ["role", key, index.as_str()];
        let Some(entry) = item.as_object() else {
            errors.push(type_error(&path, "object", item));
            continue;
        };
        let (id, doc) = (
            entry.get("id").filter(|v| !v.is_null()),
            entry.get("documentId").filter(|v| !v.is_null()),
        );
        if id.is_none() && doc.is_none() {
            let msg = "Relation entry must include an id or documentId".to_owned();
            errors.push(field_error(&path, msg, Some(item)));
            continue;
        }
        let id = id.and_then(|v| strapi_id(errors, &["role", key, index.as_str(), "id"], v));
        let doc =
            doc.and_then(|v| strapi_id(errors, &["role", key, index.as_str(), "documentId"], v));
        let doc = doc.map(|r| match r {
            RoleRef::Id(i) => RoleRef::DocumentId(i.to_string()),
            other => other,
        });
        out.extend(id.or(doc));
    }
    (errors.len() == before).then_some(out)
}

/// What an update asks for, after yup.
#[derive(Debug, Default)]
pub struct UpdateInput {
    /// The role to connect (the last one), if any.
    pub role: Option<RoleRef>,
}

/// `updateUserBodySchema`: `email`, `username`, `password` and `role`.
pub fn update(body: &Map<String, Value>) -> Result<UpdateInput, Vec<FieldError>> {
    let mut errors = Vec::new();
    string_field(
        &mut errors,
        "email",
        body.get("email"),
        true,
        Some(1),
        false,
    );
    string_field(
        &mut errors,
        "username",
        body.get("username"),
        false,
        Some(1),
        false,
    );
    if let Some(p) = body.get("password")
        && !(p.is_null() || p.is_string())
    {
        let msg = "Password must be at least 1 character".to_owned();
        errors.push(field_error(&["password"], msg, Some(p)));
    }
    let mut input = UpdateInput::default();
    match body.get("role") {
        None => {}
        Some(v @ (Value::Object(_) | Value::Array(_) | Value::Null)) => match v.as_object() {
            None => errors.push(type_error(&["role"], "object", v)),
            Some(obj) => {
                let connect = obj
                    .get("connect")
                    .and_then(|c| entries(&mut errors, "connect", c));
                let disconnect = obj.get("disconnect");
                let removed = disconnect.and_then(|d| entries(&mut errors, "disconnect", d));
                // `set` is no part of the yup shape but Strapi's relation
                // layer honours it; an empty set would remove the role.
                let set = obj.get("set").and_then(|s| entries(&mut errors, "set", s));
                let connects = connect.as_ref().map_or(0, Vec::len);
                if connects == 0 && removed.is_some_and(|d| !d.is_empty()) {
                    errors.push(field_error(
                        &["role", "disconnect"],
                        "Cannot remove role".into(),
                        disconnect,
                    ));
                }
                if let (Some(s), Some(v)) = (set.as_ref(), obj.get("set"))
                    && s.is_empty()
                {
                    errors.push(field_error(
                        &["role", "set"],
                        "Cannot remove role".into(),
                        Some(v),
                    ));
                }
                input.role = set
                    .and_then(|s| s.last().cloned())
                    .or_else(|| connect.and_then(|c| c.last().cloned()));
            }
        },
        Some(v) => input.role = strapi_id(&mut errors, &["role"], v),
    }
    if errors.is_empty() {
        Ok(input)
    } else {
        Err(errors)
    }
}

/// The 5.49+ entity validation of the given attributes (absent ones are
/// not checked), in the content type's attribute order.
pub fn entity(
    username: Option<&str>,
    email: Option<&str>,
    password: Option<&str>,
    body: &Map<String, Value>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(u) = username {
        validate::min_chars(&mut errors, "username", u, 3);
    }
    if let Some(e) = email {
        validate::min_chars(&mut errors, "email", e, 6);
    }
    if let Some(p) = password {
        validate::min_chars(&mut errors, "password", p, 6);
    }
    for flag in ["confirmed", "blocked"] {
        if let Some(v) = body.get(flag).filter(|v| !v.is_boolean() && !v.is_null()) {
            errors.push(type_error(&[flag], "boolean", v));
        }
    }
    errors
}
