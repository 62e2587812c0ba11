//! The compiled, immutable policy: content types, custom routes and roles.
//!
//! Built by `portcullis-config` from the files after they were validated;
//! everything here is cheap to consult on the request path.

use std::collections::{BTreeMap, HashMap, HashSet};

use foldhash::fast::RandomState;

use crate::method::Method;
use crate::pattern::RoutePattern;

/// A Strapi content type's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKind {
    /// `GET|POST /api/<plural>`, `GET|PUT|DELETE /api/<plural>/:id`.
    Collection,
    /// `GET|PUT|DELETE /api/<singular>`.
    Single,
}

impl ContentKind {
    /// The actions Strapi's core router generates for this kind.
    pub fn actions(self) -> &'static [&'static str] {
        match self {
            ContentKind::Collection => &["find", "findOne", "create", "update", "delete"],
            ContentKind::Single => &["find", "update", "delete"],
        }
    }
}

/// A content type as declared in a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    /// `api::post.post`
    pub uid: String,
    pub kind: ContentKind,
    /// The plural (collection) or singular (single type) route segment.
    pub segment: String,
}

/// A custom route of the upstream, matched before every default route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomRoute {
    pub method: Method,
    pub pattern: RoutePattern,
    /// The full action uid, e.g. `api::post.post.findOne`.
    pub action: String,
}

/// A role, keyed by its Strapi `type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub kind: String,
    pub name: String,
    pub description: String,
    /// Controller uid → granted actions, as written in the policy file.
    pub permissions: BTreeMap<String, Vec<String>>,
    /// Every granted action as a full uid (`api::post.post.find`).
    granted: HashSet<String, RandomState>,
}

impl Role {
    pub fn new(
        kind: impl Into<String>,
        name: impl Into<String>,
        description: impl Into<String>,
        permissions: BTreeMap<String, Vec<String>>,
    ) -> Role {
        let granted = permissions
            .iter()
            .flat_map(|(uid, actions)| actions.iter().map(move |a| format!("{uid}.{a}")))
            .collect();
        Role {
            kind: kind.into(),
            name: name.into(),
            description: description.into(),
            permissions,
            granted,
        }
    }

    pub fn grants(&self, action: &str) -> bool {
        self.granted.contains(action)
    }

    pub fn has_any_permission(&self) -> bool {
        !self.granted.is_empty()
    }
}

/// Everything a [`Policy`] is compiled from.
#[derive(Debug, Clone, Default)]
pub struct PolicySpec {
    /// `/api`
    pub api_prefix: String,
    /// Path prefixes outside the API forwarded without checks.
    pub passthrough: Vec<String>,
    pub content_types: Vec<ContentType>,
    pub routes: Vec<CustomRoute>,
    pub roles: Vec<Role>,
    /// Content hash (and revision) of the files this came from.
    pub version: String,
}

/// A content type with its routes' action uids computed once.
#[derive(Debug, Clone)]
pub(crate) struct CompiledType {
    pub(crate) kind: ContentKind,
    pub(crate) segment: String,
    pub(crate) find: String,
    pub(crate) find_one: String,
    pub(crate) create: String,
    pub(crate) update: String,
    pub(crate) delete: String,
}

/// The compiled policy. Immutable: a reload builds a new one.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) api_prefix: Vec<String>,
    pub(crate) passthrough: Vec<Vec<String>>,
    pub(crate) types_by_segment: HashMap<String, CompiledType, RandomState>,
    pub(crate) content_types: Vec<ContentType>,
    pub(crate) routes: Vec<CustomRoute>,
    pub(crate) roles: HashMap<String, Role, RandomState>,
    pub(crate) role_order: Vec<String>,
    pub(crate) version: String,
}

fn split_segments(prefix: &str) -> Vec<String> {
    prefix
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Policy {
    /// Compiles a spec. Validation (duplicates, unknown actions, shadowing)
    /// is the config crate's job; this only builds lookup tables.
    pub fn compile(spec: PolicySpec) -> Policy {
        let mut types_by_segment = HashMap::default();
        for ct in &spec.content_types {
            let a = |action: &str| format!("{}.{action}", ct.uid);
            types_by_segment.insert(
                ct.segment.to_ascii_lowercase(),
                CompiledType {
                    kind: ct.kind,
                    segment: ct.segment.clone(),
                    find: a("find"),
                    find_one: a("findOne"),
                    create: a("create"),
                    update: a("update"),
                    delete: a("delete"),
                },
            );
        }
        let role_order = spec.roles.iter().map(|r| r.kind.clone()).collect();
        let roles = spec
            .roles
            .into_iter()
            .map(|r| (r.kind.clone(), r))
            .collect();
        Policy {
            api_prefix: split_segments(&spec.api_prefix),
            passthrough: spec.passthrough.iter().map(|p| split_segments(p)).collect(),
            types_by_segment,
            content_types: spec.content_types,
            routes: spec.routes,
            roles,
            role_order,
            version: spec.version,
        }
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn role(&self, kind: &str) -> Option<&Role> {
        self.roles.get(kind)
    }

    /// Roles in the order they were declared.
    pub fn roles(&self) -> impl Iterator<Item = &Role> {
        self.role_order.iter().filter_map(|k| self.roles.get(k))
    }

    pub fn content_types(&self) -> &[ContentType] {
        &self.content_types
    }

    pub fn routes(&self) -> &[CustomRoute] {
        &self.routes
    }

    /// `/api` as configured (with a leading slash).
    pub fn api_prefix(&self) -> String {
        format!("/{}", self.api_prefix.join("/"))
    }
}
