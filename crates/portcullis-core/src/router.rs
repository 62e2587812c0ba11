//! Maps `(method, canonical path)` to what answers it: a custom route, a
//! Users & Permissions route, a content-type route, a passthrough prefix,
//! or nothing (404).
//!
//! Precedence: custom routes (in file order), then the U&P routes, then the
//! content types. Prefixes match by whole segment.

use std::sync::OnceLock;

use smallvec::SmallVec;

use crate::method::Method;
use crate::path::CanonicalPath;
use crate::pattern::RoutePattern;
use crate::policy::{CompiledType, ContentKind, Policy};
use crate::users_permissions::{ROUTES, UpRoute};

/// Which kind of route produced an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteSource {
    /// Index into [`Policy::routes`].
    Custom(usize),
    /// A route the gateway answers itself.
    UsersPermissions(&'static UpRoute),
    ContentType,
}

/// What a request resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'p> {
    /// A permission-checked action (`api::post.post.find`).
    Action {
        action: &'p str,
        source: RouteSource,
    },
    /// Outside the API prefix, under a `server.passthrough` prefix.
    Passthrough,
    /// A CORS preflight (`OPTIONS`) for a path some route serves.
    Preflight,
    NotFound,
}

/// The resolved target and the exact path to forward if it is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved<'p> {
    pub target: Target<'p>,
    /// The path to forward when it is not the canonical path itself (a
    /// custom route's rewrite, a U&P route, a content type's segment in
    /// another case); `None` in the common case, which allocates nothing.
    pub rewritten: Option<String>,
}

impl Resolved<'_> {
    /// The exact path to forward (or to answer, for a U&P route).
    pub fn into_forward_path(self, canonical: &CanonicalPath<'_>) -> String {
        self.rewritten
            .unwrap_or_else(|| canonical.as_str().to_owned())
    }
}

/// A request's segments; on the stack for any path of up to 16 segments.
type Segs<'a> = SmallVec<[&'a str; 16]>;

fn starts_with_ci(segs: &[&str], prefix: &[String]) -> bool {
    segs.len() >= prefix.len()
        && prefix
            .iter()
            .zip(segs)
            .all(|(p, s)| p.eq_ignore_ascii_case(s))
}

fn up_patterns() -> &'static [Option<RoutePattern>] {
    static PATTERNS: OnceLock<Vec<Option<RoutePattern>>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        ROUTES
            .iter()
            .map(|r| RoutePattern::parse(&format!("/{}", r.path.trim_end_matches("/*"))).ok())
            .collect()
    })
}

/// The distinct first segments of the U&P routes (all literal), so that a
/// content-type request skips the U&P table after one comparison per
/// segment; `None` if some route began with a parameter.
fn up_first_segments() -> Option<&'static [&'static str]> {
    static FIRST: OnceLock<Option<Vec<&'static str>>> = OnceLock::new();
    FIRST
        .get_or_init(|| {
            let mut first: Vec<&'static str> = Vec::new();
            for r in ROUTES {
                let seg = r.path.split('/').next().unwrap_or_default();
                if seg.is_empty() || seg.starts_with([':', '*']) {
                    return None;
                }
                if !first.iter().any(|f| f.eq_ignore_ascii_case(seg)) {
                    first.push(seg);
                }
            }
            Some(first)
        })
        .as_deref()
}

/// Whether some U&P route could match `rest` (the path below the prefix).
fn may_be_up_route(rest: &[&str]) -> bool {
    match (rest.first(), up_first_segments()) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(seg), Some(first)) => first.iter().any(|f| f.eq_ignore_ascii_case(seg)),
    }
}

impl Policy {
    /// Resolves a request. Never fails: anything unknown is `NotFound`.
    pub fn resolve(&self, method: Method, path: &CanonicalPath<'_>) -> Resolved<'_> {
        let segs: Segs<'_> = path.segments().collect();
        if !starts_with_ci(&segs, &self.api_prefix) {
            let pass = self
                .passthrough
                .iter()
                .any(|p| segs.len() >= p.len() && p.iter().zip(&segs).all(|(a, b)| a == b));
            let target = if pass {
                Target::Passthrough
            } else {
                Target::NotFound
            };
            return Resolved {
                target,
                rewritten: None,
            };
        }
        if method == Method::Options {
            return self.resolve_preflight(&segs);
        }
        self.resolve_api(method.routed(), &segs)
            .unwrap_or(Resolved {
                target: Target::NotFound,
                rewritten: None,
            })
    }

    fn resolve_preflight(&self, segs: &[&str]) -> Resolved<'_> {
        let methods = [
            Method::Get,
            Method::Post,
            Method::Put,
            Method::Delete,
            Method::Patch,
        ];
        match methods.iter().find_map(|m| self.resolve_api(*m, segs)) {
            Some(r) => Resolved {
                target: Target::Preflight,
                rewritten: r.rewritten,
            },
            None => Resolved {
                target: Target::NotFound,
                rewritten: None,
            },
        }
    }

    fn prefix_path(&self) -> String {
        let mut out = String::with_capacity(64);
        for p in &self.api_prefix {
            out.push('/');
            out.push_str(p);
        }
        out
    }

    fn resolve_api(&self, method: Method, segs: &[&str]) -> Option<Resolved<'_>> {
        for (i, route) in self.routes.iter().enumerate() {
            if route.method == method && route.pattern.matches(segs) {
                let mut forward_path = String::with_capacity(64);
                route.pattern.write_forward(segs, &mut forward_path);
                let source = RouteSource::Custom(i);
                let target = Target::Action {
                    action: &route.action,
                    source,
                };
                return Some(Resolved {
                    target,
                    rewritten: Some(forward_path),
                });
            }
        }
        let rest = &segs[self.api_prefix.len()..];
        let up_routes = if may_be_up_route(rest) { ROUTES } else { &[] };
        for (up, pattern) in up_routes.iter().zip(up_patterns()) {
            let Some(pattern) = pattern else { continue };
            if up.method != method {
                continue;
            }
            let n = pattern.segments().len();
            let matched = if up.path.ends_with("/*") {
                rest.len() > n && pattern.matches(&rest[..n])
            } else {
                pattern.matches(rest)
            };
            if matched {
                let mut forward_path = self.prefix_path();
                pattern.write_forward(&rest[..n], &mut forward_path);
                for s in &rest[n..] {
                    forward_path.push('/');
                    forward_path.push_str(s);
                }
                let source = RouteSource::UsersPermissions(up);
                let target = Target::Action {
                    action: up.action,
                    source,
                };
                return Some(Resolved {
                    target,
                    rewritten: Some(forward_path),
                });
            }
        }
        self.resolve_content(method, segs)
    }

    fn resolve_content(&self, method: Method, segs: &[&str]) -> Option<Resolved<'_>> {
        let (prefix, rest) = segs.split_at(self.api_prefix.len());
        let first = rest.first()?;
        // Keys are lower case; most requests already are (no allocation).
        let ct = if first.bytes().any(|b| b.is_ascii_uppercase()) {
            self.types_by_segment.get(&first.to_ascii_lowercase())
        } else {
            self.types_by_segment.get(*first)
        }?;
        let action = content_action(ct, method, rest.len())?;
        let target = Target::Action {
            action,
            source: RouteSource::ContentType,
        };
        // The forward path is the prefix, the type's segment and the id: the
        // canonical path itself unless a segment differs in case.
        let as_requested =
            *first == ct.segment && prefix.iter().zip(&self.api_prefix).all(|(s, p)| s == p);
        let rewritten = (!as_requested).then(|| {
            let mut forward_path = self.prefix_path();
            forward_path.push('/');
            forward_path.push_str(&ct.segment);
            if let Some(id) = rest.get(1) {
                forward_path.push('/');
                forward_path.push_str(id);
            }
            forward_path
        });
        Some(Resolved { target, rewritten })
    }
}

fn content_action(ct: &CompiledType, method: Method, len: usize) -> Option<&str> {
    let action = match (ct.kind, method, len) {
        (ContentKind::Collection, Method::Get, 1) => &ct.find,
        (ContentKind::Collection, Method::Post, 1) => &ct.create,
        (ContentKind::Collection, Method::Get, 2) => &ct.find_one,
        (ContentKind::Collection, Method::Put, 2) => &ct.update,
        (ContentKind::Collection, Method::Delete, 2) => &ct.delete,
        (ContentKind::Single, Method::Get, 1) => &ct.find,
        (ContentKind::Single, Method::Put, 1) => &ct.update,
        (ContentKind::Single, Method::Delete, 1) => &ct.delete,
        _ => return None,
    };
    Some(action)
}
