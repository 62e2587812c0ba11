//! `filters[...]` of `GET /api/users` and `/api/users/count`: validated
//! against the user's public attributes, then compiled to a parameterised
//! SQL expression.
//!
//! Security (CVE-2023-22894, CVE-2023-34235, CVE-2026-27886): only the
//! attributes of [`USER_COLUMNS`] can be filtered on. `password`,
//! `resetPasswordToken`, `confirmationToken`, raw column names, aliases
//! such as `t1.password` and any unknown key are refused with Strapi's
//! `Invalid key …` error, so a filter can never become an oracle on a
//! private field. Column names in the SQL come from the fixed tables below;
//! every value is a bound parameter. The `role` relation can only be
//! filtered on by callers who may read roles, and only on the role's own
//! public attributes; it is evaluated against the policy, not the database.

use portcullis_store::SqlValue;

use super::ops::{Op, op_name, op_named};
use super::qs::Node;
use super::values::{Kind, Val, parse_bool, to_val};
use crate::error::ApiError;
use crate::request::UpRequest;

/// A filterable, sortable and selectable attribute.
#[derive(Debug, PartialEq, Eq)]
pub struct Column {
    /// The attribute name in the API (and the JSON key).
    pub attr: &'static str,
    /// The column in `up_users` (unused for role attributes).
    pub sql: &'static str,
    pub kind: Kind,
}

const fn col(attr: &'static str, sql: &'static str, kind: Kind) -> Column {
    Column { attr, sql, kind }
}

/// The public attributes of a user: the only ones a query may name.
pub const USER_COLUMNS: &[Column] = &[
    col("id", "id", Kind::Int),
    col("documentId", "document_id", Kind::Text),
    col("username", "username", Kind::Text),
    col("email", "email", Kind::Text),
    col("provider", "provider", Kind::Text),
    col("confirmed", "confirmed", Kind::Bool),
    col("blocked", "blocked", Kind::Bool),
    col("createdAt", "created_at", Kind::Date),
    col("updatedAt", "updated_at", Kind::Date),
    col("publishedAt", "published_at", Kind::Date),
];

/// The public attributes of a role (read from the policy).
pub const ROLE_COLUMNS: &[Column] = &[
    col("id", "", Kind::Int),
    col("documentId", "", Kind::Text),
    col("name", "", Kind::Text),
    col("description", "", Kind::Text),
    col("type", "", Kind::Text),
];

pub fn column(table: &'static [Column], attr: &str) -> Option<&'static Column> {
    table.iter().find(|c| c.attr == attr)
}

/// A validated filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
    Cmp {
        col: &'static Column,
        op: Op,
        vals: Vec<Val>,
    },
    /// The user's role type is one of these.
    RoleIn(Vec<String>),
}

/// Strapi's `Invalid key` error (`throwInvalidKey`), with the query
/// parameter it was found in.
pub fn invalid_key(key: &str, path: &str, param: &str) -> ApiError {
    let message = if path != key {
        format!("Invalid key {key} at {path}")
    } else {
        format!("Invalid key {key}")
    };
    ApiError::validation(message).with_details(serde_json::json!({
        "key": key, "path": path, "source": "query", "param": param,
    }))
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Parses the `filters` parameter.
pub fn parse(node: &Node, req: &UpRequest) -> Result<Cond, ApiError> {
    match node {
        Node::Null => Ok(Cond::All(Vec::new())),
        Node::Map(entries) => group(entries, USER_COLUMNS, "", req),
        Node::List(items) => items
            .iter()
            .map(|item| parse(item, req))
            .collect::<Result<_, _>>()
            .map(Cond::All),
        Node::Str(_) => Err(ApiError::validation(
            "The filters parameter must be an object or an array",
        )),
    }
}

/// A map of attribute and logical keys, ANDed.
fn group(
    entries: &[(String, Node)],
    table: &'static [Column],
    prefix: &str,
    req: &UpRequest,
) -> Result<Cond, ApiError> {
    let mut all = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let cond = match key.as_str() {
            "$and" | "$or" => {
                let parts = value
                    .items()
                    .into_iter()
                    .map(|item| match item.entries() {
                        Some(e) => group(e, table, prefix, req),
                        None => Err(invalid_key(key, &join(prefix, key), "filters")),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if key == "$and" {
                    Cond::All(parts)
                } else {
                    Cond::Any(parts)
                }
            }
            "$not" => match value.entries() {
                Some(e) => Cond::Not(Box::new(group(e, table, prefix, req)?)),
                None => return Err(invalid_key(key, &join(prefix, key), "filters")),
            },
            "role" if prefix.is_empty() => role(value, req)?,
            attr => match column(table, attr) {
                Some(col) => attribute(col, value, &join(prefix, attr))?,
                None => return Err(invalid_key(attr, &join(prefix, attr), "filters")),
            },
        };
        all.push(cond);
    }
    Ok(Cond::All(all))
}

/// `filters[role]…`: only for callers who may read roles; evaluated
/// against the policy's roles into a set of role types.
fn role(value: &Node, req: &UpRequest) -> Result<Cond, ApiError> {
    if !req.may("plugin::users-permissions.role.find") {
        return Err(invalid_key("role", "role", "filters"));
    }
    let cond = match value.entries() {
        Some(entries) => group(entries, ROLE_COLUMNS, "role", req)?,
        // `filters[role]=2` compares the relation's id.
        None => attribute(&ROLE_COLUMNS[0], value, "role.id")?,
    };
    let types = req
        .policy
        .roles()
        .filter(|r| {
            let attr = |c: &Column| -> Val {
                match c.attr {
                    "id" => Val::Int(crate::sanitize::role_id(req, &r.kind)),
                    "documentId" => Val::Text(crate::sanitize::role_document_id(&r.kind)),
                    "name" => Val::Text(r.name.clone()),
                    "description" => Val::Text(r.description.clone()),
                    _ => Val::Text(r.kind.clone()),
                }
            };
            eval(&cond, &attr)
        })
        .map(|r| r.kind.clone())
        .collect();
    Ok(Cond::RoleIn(types))
}

/// The conditions on one attribute: a value (`$eq`), a list (`$in`) or a
/// map of operators.
fn attribute(col: &'static Column, value: &Node, path: &str) -> Result<Cond, ApiError> {
    let entries = match value {
        Node::Map(entries) => entries,
        Node::Null => return comparison(col, Op::Null, &Node::Str("true".into()), path),
        Node::List(_) => return comparison(col, Op::In, value, path),
        Node::Str(_) => return comparison(col, Op::Eq, value, path),
    };
    let mut all = Vec::with_capacity(entries.len());
    for (key, v) in entries {
        let cond = match key.as_str() {
            "$not" => Cond::Not(Box::new(attribute(col, v, path)?)),
            "$and" | "$or" => {
                let parts = v
                    .items()
                    .into_iter()
                    .map(|item| attribute(col, item, path))
                    .collect::<Result<Vec<_>, _>>()?;
                if key == "$and" {
                    Cond::All(parts)
                } else {
                    Cond::Any(parts)
                }
            }
            name => match op_named(name) {
                Some(op) => comparison(col, op, v, path)?,
                None => return Err(invalid_key(name, &join(path, name), "filters")),
            },
        };
        all.push(cond);
    }
    Ok(Cond::All(all))
}

fn comparison(col: &'static Column, op: Op, value: &Node, path: &str) -> Result<Cond, ApiError> {
    let bad = || invalid_key(op_name(op), path, "filters");
    let cmp = |op: Op, vals: Vec<Val>| Cond::Cmp { col, op, vals };
    match (op, value) {
        (Op::Null | Op::NotNull, v) => {
            let set = match v {
                Node::Null => true,
                Node::Str(s) => parse_bool(s)?,
                _ => return Err(bad()),
            };
            let is_null = set == (op == Op::Null);
            Ok(cmp(
                if is_null { Op::Null } else { Op::NotNull },
                Vec::new(),
            ))
        }
        (Op::Eq, Node::Null) => Ok(cmp(Op::Null, Vec::new())),
        (Op::Ne, Node::Null) => Ok(cmp(Op::NotNull, Vec::new())),
        (Op::In | Op::NotIn | Op::Between, v) => {
            let vals = v
                .items()
                .into_iter()
                .map(|item| {
                    item.as_str()
                        .ok_or_else(bad)
                        .and_then(|s| to_val(col.kind, op, s))
                })
                .collect::<Result<Vec<_>, _>>()?;
            if op == Op::Between && vals.len() != 2 {
                return Err(bad());
            }
            Ok(cmp(op, vals))
        }
        // A list given to `$eq`/`$ne` means `$in`/`$notIn`.
        (Op::Eq | Op::Ne, Node::List(_)) => comparison(
            col,
            if op == Op::Eq { Op::In } else { Op::NotIn },
            value,
            path,
        ),
        (_, Node::Str(s)) => Ok(cmp(op, vec![to_val(col.kind, op, s)?])),
        _ => Err(bad()),
    }
}

/// Evaluates a condition over in-memory attributes (the policy's roles).
fn eval(cond: &Cond, attr: &dyn Fn(&Column) -> Val) -> bool {
    match cond {
        Cond::All(parts) => parts.iter().all(|c| eval(c, attr)),
        Cond::Any(parts) => parts.is_empty() || parts.iter().any(|c| eval(c, attr)),
        Cond::Not(inner) => !eval(inner, attr),
        Cond::RoleIn(_) => true,
        Cond::Cmp { col, op, vals } => super::values::eval_cmp(&attr(col), *op, vals),
    }
}

/// Compiles a condition to SQL, pushing its values onto `binds`.
pub fn to_sql(cond: &Cond, binds: &mut Vec<SqlValue>) -> String {
    match cond {
        Cond::All(parts) | Cond::Any(parts) if parts.is_empty() => "1=1".to_owned(),
        Cond::All(parts) => list(parts, " AND ", binds),
        Cond::Any(parts) => list(parts, " OR ", binds),
        Cond::Not(inner) => format!("NOT ({})", to_sql(inner, binds)),
        Cond::RoleIn(types) => {
            let vals: Vec<Val> = types.iter().cloned().map(Val::Text).collect();
            in_list("role", &vals, binds, false)
        }
        Cond::Cmp { col, op, vals } => super::values::cmp_sql(col.sql, col.kind, *op, vals, binds),
    }
}

fn list(parts: &[Cond], sep: &str, binds: &mut Vec<SqlValue>) -> String {
    let sql: Vec<String> = parts.iter().map(|p| to_sql(p, binds)).collect();
    format!("({})", sql.join(sep))
}

/// `col IN ($a, $b)`; an empty list matches nothing (`NOT IN`: everything).
pub fn in_list(col: &str, vals: &[Val], binds: &mut Vec<SqlValue>, negate: bool) -> String {
    if vals.is_empty() {
        return if negate { "1=1" } else { "1=0" }.to_owned();
    }
    let marks: Vec<String> = vals
        .iter()
        .map(|v| super::values::bind(v.clone(), binds))
        .collect();
    let not = if negate { "NOT " } else { "" };
    format!("{col} {not}IN ({})", marks.join(", "))
}
