//! The query parameters of the user routes (`filters`, `sort`, `fields`,
//! `populate`, `_q` and pagination), validated in Strapi's order
//! (`validateQuery`: filters, sort, fields, populate) and turned into a
//! [`UserQuery`] for the store.
//!
//! Keys outside Strapi's `ALLOWED_QUERY_PARAM_KEYS` are ignored (5.53+).
//! Sort keys and selected fields go through the same whitelist as filters:
//! a private attribute can never be named, so `sort=password` cannot rank
//! users by their hash.

use portcullis_store::{SqlValue, UserQuery};

use super::filters::{self, Cond, ROLE_COLUMNS, USER_COLUMNS, column, invalid_key};
use super::ops::Op;
use super::qs::{self, Node};
use super::values::{Val, bind, parse_int};
use crate::error::ApiError;
use crate::request::UpRequest;

const ROLE_FIND: &str = "plugin::users-permissions.role.find";

/// Strapi's default page size when only `page` is given.
const DEFAULT_PAGE_SIZE: i64 = 25;

/// One `ORDER BY` term.
#[derive(Debug, Clone, PartialEq)]
enum SortKey {
    User(&'static filters::Column),
    Role(&'static filters::Column),
}

/// A validated query of the user routes.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub filter: Cond,
    sort: Vec<(SortKey, bool)>,
    /// Selected attributes (`id` and `documentId` are always returned);
    /// `None` for all.
    pub fields: Option<Vec<&'static str>>,
    pub populate_role: bool,
    pub limit: Option<i64>,
    pub offset: i64,
}

/// Parses and validates the request's query. Pagination is read only when
/// `paginated` (the list route).
pub fn parse(req: &UpRequest, paginated: bool) -> Result<ListQuery, ApiError> {
    let root = req
        .query
        .as_deref()
        .map(qs::parse)
        .unwrap_or(Node::Map(Vec::new()));
    let mut filter = match root.get("filters") {
        Some(node) => filters::parse(node, req)?,
        None => Cond::All(Vec::new()),
    };
    let sort = match root.get("sort") {
        Some(node) => parse_sort(node, req)?,
        None => Vec::new(),
    };
    let fields = root.get("fields").map(parse_fields).transpose()?.flatten();
    let populate_role = match root.get("populate") {
        Some(node) => parse_populate(node)?,
        None => false,
    };
    if let Some(q) = root
        .get("_q")
        .and_then(Node::as_str)
        .filter(|q| !q.is_empty())
    {
        filter = Cond::All(vec![filter, search(q)]);
    }
    let (limit, offset) = if paginated {
        pagination(&root)?
    } else {
        (None, 0)
    };
    Ok(ListQuery {
        filter,
        sort,
        fields,
        populate_role,
        limit,
        offset,
    })
}

/// `_q`: a case-insensitive search over the public text attributes.
fn search(q: &str) -> Cond {
    let parts = ["username", "email", "provider"]
        .iter()
        .filter_map(|a| column(USER_COLUMNS, a))
        .map(|col| Cond::Cmp {
            col,
            op: Op::Containsi,
            vals: vec![Val::Text(q.to_owned())],
        })
        .collect();
    Cond::Any(parts)
}

fn strings(node: &Node) -> Vec<String> {
    node.items()
        .into_iter()
        .filter_map(Node::as_str)
        .flat_map(|s| s.split(','))
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

fn parse_sort(node: &Node, req: &UpRequest) -> Result<Vec<(SortKey, bool)>, ApiError> {
    let mut terms: Vec<(String, String)> = Vec::new();
    match node {
        Node::Map(entries) => {
            for (key, value) in entries {
                match value {
                    Node::Map(inner) => {
                        for (k, v) in inner {
                            terms.push((
                                format!("{key}.{k}"),
                                v.as_str().unwrap_or_default().to_owned(),
                            ));
                        }
                    }
                    v => terms.push((key.clone(), v.as_str().unwrap_or("asc").to_owned())),
                }
            }
        }
        _ => {
            for term in strings(node) {
                let (field, dir) = term.split_once(':').unwrap_or((&term, "asc"));
                terms.push((field.trim().to_owned(), dir.trim().to_owned()));
            }
        }
    }
    let mut out = Vec::with_capacity(terms.len());
    for (field, dir) in terms {
        let key = sort_key(&field, req)?;
        let desc = match dir.to_ascii_lowercase().as_str() {
            "asc" => false,
            "desc" => true,
            _ => {
                return Err(ApiError::validation(
                    "Invalid order. order can only be one of asc|desc|ASC|DESC",
                ));
            }
        };
        out.push((key, desc));
    }
    Ok(out)
}

fn sort_key(field: &str, req: &UpRequest) -> Result<SortKey, ApiError> {
    if let Some(col) = column(USER_COLUMNS, field) {
        return Ok(SortKey::User(col));
    }
    let (head, rest) = field.split_once('.').unwrap_or((field, ""));
    if head == "role" && !rest.is_empty() {
        if !req.may(ROLE_FIND) {
            return Err(invalid_key("role", "role", "sort"));
        }
        return column(ROLE_COLUMNS, rest)
            .map(SortKey::Role)
            .ok_or_else(|| invalid_key(rest, field, "sort"));
    }
    Err(invalid_key(head, head, "sort"))
}

fn parse_fields(node: &Node) -> Result<Option<Vec<&'static str>>, ApiError> {
    let mut out = vec!["id", "documentId"];
    for name in strings(node) {
        if name == "*" {
            return Ok(None);
        }
        match column(USER_COLUMNS, &name) {
            Some(col) if !out.contains(&col.attr) => out.push(col.attr),
            Some(_) => {}
            None => return Err(invalid_key(&name, &name, "fields")),
        }
    }
    Ok(Some(out))
}

/// `populate=role`, `populate=*`, `populate[0]=role`, `populate[role]=…`.
/// Whatever is asked of the role beyond itself is ignored: its `users` and
/// `permissions` are never output.
fn parse_populate(node: &Node) -> Result<bool, ApiError> {
    let names: Vec<String> = match node {
        Node::Map(entries) => entries.iter().map(|(k, _)| k.clone()).collect(),
        other => strings(other),
    };
    let mut role = false;
    for name in names {
        let head = name.split('.').next().unwrap_or_default();
        match head {
            "*" | "role" => role = true,
            _ => return Err(invalid_key(head, head, "populate")),
        }
    }
    Ok(role)
}

fn pagination_error(message: String) -> ApiError {
    let mut e = ApiError::application(message);
    e.name = "PaginationError";
    e
}

/// `pagination[page|pageSize|start|limit]` or the same keys at the top
/// level, as `(limit, offset)`. Strapi's messages for `page`/`pageSize`;
/// a bad `start`/`limit` is a 500 in Strapi and a 400 here.
fn pagination(root: &Node) -> Result<(Option<i64>, i64), ApiError> {
    let nested = root.get("pagination");
    let get = |k: &str| -> Option<String> {
        nested
            .and_then(|p| p.get(k))
            .or_else(|| root.get(k))
            .filter(|n| **n != Node::Null)
            .map(|n| n.as_str().unwrap_or("[object]").to_owned())
    };
    let (page, size, start, limit) = (get("page"), get("pageSize"), get("start"), get("limit"));
    if (page.is_some() || size.is_some()) && (start.is_some() || limit.is_some()) {
        return Err(pagination_error(
            "Invalid pagination attributes. You cannot use page and offset pagination in the same query".into(),
        ));
    }
    let positive = |name: &str, v: &str| {
        parse_int(v).filter(|n| *n > 0).ok_or_else(|| {
            pagination_error(format!(
                "Invalid '{name}' parameter. Expected an integer > 0, received: {v}"
            ))
        })
    };
    if page.is_some() || size.is_some() {
        let page = page
            .as_deref()
            .map(|p| positive("page", p))
            .transpose()?
            .unwrap_or(1);
        let size = size
            .as_deref()
            .map(|s| positive("pageSize", s))
            .transpose()?
            .unwrap_or(DEFAULT_PAGE_SIZE);
        return Ok((Some(size), page.saturating_sub(1).saturating_mul(size)));
    }
    let offset = match start.as_deref() {
        Some(s) => parse_int(s).filter(|n| *n >= 0).ok_or_else(|| {
            pagination_error(format!(
                "Invalid 'start' parameter. Expected an integer >= 0, received: {s}"
            ))
        })?,
        None => 0,
    };
    let limit = match limit.as_deref() {
        Some(l) => match parse_int(l) {
            Some(-1) => None,
            Some(n) if n >= 0 => Some(n),
            _ => {
                return Err(pagination_error(format!(
                    "Invalid 'limit' parameter. Expected an integer >= -1, received: {l}"
                )));
            }
        },
        None => None,
    };
    Ok((limit, offset))
}

impl ListQuery {
    /// The store query. Role sort keys become a `CASE` over the policy's
    /// role types, with every value bound.
    pub fn to_store(&self, req: &UpRequest) -> UserQuery {
        let mut binds: Vec<SqlValue> = Vec::new();
        let where_sql = match &self.filter {
            Cond::All(parts) if parts.is_empty() => String::new(),
            cond => filters::to_sql(cond, &mut binds),
        };
        let mut order = Vec::with_capacity(self.sort.len());
        for (key, desc) in &self.sort {
            let expr = match key {
                SortKey::User(col) => col.sql.to_owned(),
                SortKey::Role(col) if col.attr == "type" => "role".to_owned(),
                SortKey::Role(col) => role_case(col.attr, req, &mut binds),
            };
            order.push(format!("{expr} {}", if *desc { "DESC" } else { "ASC" }));
        }
        UserQuery {
            where_sql,
            binds,
            order_sql: order.join(", "),
            limit: self.limit,
            offset: self.offset,
        }
    }
}

fn role_case(attr: &str, req: &UpRequest, binds: &mut Vec<SqlValue>) -> String {
    if req.policy.roles().next().is_none() {
        return "NULL".to_owned();
    }
    let mut sql = String::from("CASE role");
    for role in req.policy.roles() {
        let value = match attr {
            "id" => Val::Int(crate::sanitize::role_id(req, &role.kind)),
            "documentId" => Val::Text(crate::sanitize::role_document_id(&role.kind)),
            "name" => Val::Text(role.name.clone()),
            _ => Val::Text(role.description.clone()),
        };
        let when = bind(Val::Text(role.kind.clone()), binds);
        let then = bind(value, binds);
        sql.push_str(&format!(" WHEN {when} THEN {then}"));
    }
    sql.push_str(" END");
    sql
}
