//! One function per policy rule. Each checks one value and returns a message
//! naming it; duplicate and cross-file bookkeeping lives in `merge`.

use portcullis_core::users_permissions::{ROUTES, UpRoute};
use portcullis_core::{ContentKind, Method, PatternSeg, RoutePattern};

pub(crate) type Rule<T = ()> = Result<T, String>;

/// `[a-z0-9-]+`
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `api::<name>.<name>` or `plugin::<name>.<name>`.
pub(crate) fn uid(uid: &str) -> Rule {
    let rest = uid
        .strip_prefix("api::")
        .or_else(|| uid.strip_prefix("plugin::"));
    let ok = rest
        .and_then(|r| r.split_once('.'))
        .is_some_and(|(a, b)| is_name(a) && is_name(b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid uid {uid:?}: expected api::<name>.<name> or plugin::<name>.<name> with names of a-z, 0-9 and '-'"
        ))
    }
}

/// A content type may not claim the plugin's own controllers.
pub(crate) fn content_type_uid(value: &str) -> Rule {
    uid(value)?;
    if value.starts_with("plugin::users-permissions.") {
        return Err(format!(
            "content type {value:?} belongs to the Users & Permissions plugin, which the gateway serves itself"
        ));
    }
    Ok(())
}

/// The first path segments the gateway answers itself (`auth`, `connect`,
/// `users`, `users-permissions`).
pub(crate) fn reserved_segments() -> Vec<&'static str> {
    let mut firsts: Vec<&str> = ROUTES
        .iter()
        .filter_map(|r| r.path.split('/').next())
        .collect();
    firsts.sort_unstable();
    firsts.dedup();
    firsts
}

pub(crate) fn segment(key: &str, value: &str) -> Rule {
    if !is_name(value) {
        return Err(format!("{key} {value:?} must consist of a-z, 0-9 and '-'"));
    }
    if reserved_segments().contains(&value) {
        return Err(format!(
            "{key} {value:?} collides with the Users & Permissions routes under /{value}"
        ));
    }
    Ok(())
}

/// Which segment key a kind needs; the message names the uid.
pub(crate) fn kind_segment(uid: &str, kind: ContentKind, plural: bool, singular: bool) -> Rule {
    match (kind, plural, singular) {
        (ContentKind::Collection, true, false) | (ContentKind::Single, false, true) => Ok(()),
        (ContentKind::Collection, _, true) => Err(format!(
            "collectionType {uid} takes `plural`, not `singular`"
        )),
        (ContentKind::Collection, _, false) => Err(format!("collectionType {uid} needs `plural`")),
        (ContentKind::Single, true, _) => {
            Err(format!("singleType {uid} takes `singular`, not `plural`"))
        }
        (ContentKind::Single, false, false) => Err(format!("singleType {uid} needs `singular`")),
    }
}

pub(crate) fn route_method(value: &str) -> Rule<Method> {
    Method::from_policy(value)
        .filter(|m| {
            matches!(
                m,
                Method::Get | Method::Post | Method::Put | Method::Patch | Method::Delete
            )
        })
        .ok_or_else(|| {
            format!("route method {value:?} must be one of GET, POST, PUT, PATCH, DELETE")
        })
}

fn segs(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// Parses and requires at least one segment below the API prefix.
pub(crate) fn route_path(value: &str, api_prefix: &str) -> Rule<RoutePattern> {
    let pattern = RoutePattern::parse(value).map_err(|e| format!("route path {value:?}: {e}"))?;
    let prefix = segs(api_prefix);
    let p = pattern.segments();
    let under = p.len() > prefix.len()
        && prefix
            .iter()
            .zip(p)
            .all(|(a, s)| matches!(s, PatternSeg::Literal(l) if l.eq_ignore_ascii_case(a)));
    if !under {
        return Err(format!(
            "route path {value:?} must start with the API prefix {api_prefix}/"
        ));
    }
    Ok(pattern)
}

/// `<uid>.<action>`; returns the uid.
pub(crate) fn route_action(value: &str) -> Rule<&str> {
    let bad =
        || format!("route action {value:?} must be <uid>.<action>, such as api::post.post.find");
    let (u, action) = value.rsplit_once('.').ok_or_else(bad)?;
    let action_ok = action
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && action
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !action_ok || uid(u).is_err() {
        return Err(bad());
    }
    Ok(u)
}

fn show(method: Method, p: &RoutePattern) -> String {
    format!("{method} {p}")
}

/// `later` may never be reachable behind `earlier` (same method).
pub(crate) fn not_shadowed(
    later: &RoutePattern,
    earlier: &RoutePattern,
    method: Method,
    at: &str,
) -> Rule {
    if later.is_shadowed_by(earlier) {
        return Err(format!(
            "route {} can never match: {} at {at} is listed before it and matches every path it does",
            show(method, later),
            show(method, earlier),
        ));
    }
    Ok(())
}

/// A custom route must not take requests the gateway answers itself.
pub(crate) fn not_users_permissions(
    method: Method,
    pattern: &RoutePattern,
    api_prefix: &str,
) -> Rule {
    match ROUTES
        .iter()
        .find(|r| r.method == method && up_overlaps(r, pattern, api_prefix))
    {
        Some(r) => Err(format!(
            "route {} overlaps the Users & Permissions route {method} {api_prefix}/{} ({}), which the gateway serves itself",
            show(method, pattern),
            r.path,
            r.action,
        )),
        None => Ok(()),
    }
}

fn up_overlaps(route: &UpRoute, pattern: &RoutePattern, api_prefix: &str) -> bool {
    let (base, wildcard) = match route.path.strip_suffix("/*") {
        Some(base) => (base, true),
        None => (route.path, false),
    };
    let Ok(up) = RoutePattern::parse(&format!("{api_prefix}/{base}")) else {
        return false;
    };
    if !wildcard {
        return up.overlaps(pattern);
    }
    // `*` is one or more trailing segments.
    let (u, p) = (up.segments(), pattern.segments());
    p.len() > u.len()
        && u.iter().zip(p).all(|pair| match pair {
            (PatternSeg::Literal(a), PatternSeg::Literal(b)) => a.eq_ignore_ascii_case(b),
            _ => true,
        })
}

/// A role may only grant an action its controller has (`allowed`).
pub(crate) fn permission_action(uid: &str, action: &str, allowed: &[&str]) -> Rule {
    if allowed.contains(&action) {
        Ok(())
    } else {
        Err(format!(
            "unknown action {action:?} for {uid} (known: {})",
            allowed.join(", ")
        ))
    }
}

pub(crate) fn known_uid(uid: &str, known: bool) -> Rule {
    if known {
        Ok(())
    } else {
        Err(format!(
            "unknown uid {uid:?}: not a declared content type, a Users & Permissions controller or the controller of a custom route"
        ))
    }
}
