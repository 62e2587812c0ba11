//! One function per gateway.yaml value rule. Each takes the interpolated
//! value and returns the parsed value or a message naming the bad value.
//! Values that may hold credentials (store and Redis URLs) are not echoed.

use std::net::SocketAddr;

use portcullis_core::{PatternSeg, RoutePattern};

use crate::gateway::AuthorizationMode;

pub(crate) type Rule<T> = Result<T, String>;

pub(crate) fn socket_addr(key: &str, v: &str) -> Rule<SocketAddr> {
    v.parse().map_err(|_| {
        format!("{key} {v:?} is not an IP address and port such as \"127.0.0.1:8080\"")
    })
}

pub(crate) fn duration(key: &str, v: &str) -> Rule<crate::Duration> {
    v.parse().map_err(|e| format!("{key}: {e}"))
}

/// `http://host[:port][/]`; returns host and port (80 when left out).
pub(crate) fn upstream_url(v: &str) -> Rule<(String, u16)> {
    let shape = || format!("upstream.url {v:?} must be http://host:port");
    if v.get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    {
        return Err(format!(
            "upstream.url {v:?}: https upstreams are not supported; use http:// to an upstream on a private network"
        ));
    }
    let rest = match v.get(..7) {
        Some(s) if s.eq_ignore_ascii_case("http://") => &v[7..],
        _ => return Err(shape()),
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#', '@']) {
        return Err(format!(
            "upstream.url {v:?} must be http://host:port, without a path, query or user"
        ));
    }
    let (host, port) = split_host_port(authority).ok_or_else(shape)?;
    let port = match port {
        None => 80,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(shape)?,
    };
    Ok((host.to_owned(), port))
}

fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        host.parse::<std::net::Ipv6Addr>().ok()?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let host_ok = authority.starts_with('[')
        || (!host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)));
    host_ok.then_some((host, port))
}

pub(crate) fn authorization(v: &str) -> Rule<AuthorizationMode> {
    match v {
        "strip" => Ok(AuthorizationMode::Strip),
        "passthrough" => Ok(AuthorizationMode::Passthrough),
        "replace" => Ok(AuthorizationMode::Replace),
        _ => Err(format!(
            "upstream.authorization {v:?} must be one of strip, passthrough, replace"
        )),
    }
}

pub(crate) fn token_required(mode: AuthorizationMode, token: Option<&str>) -> Rule<()> {
    match (mode, token) {
        (AuthorizationMode::Replace, None) => {
            Err("upstream.authorization is replace but upstream.token is not set".to_owned())
        }
        _ => Ok(()),
    }
}

/// `/api`: absolute, no trailing slash, plain segments.
pub(crate) fn api_prefix(v: &str) -> Rule<String> {
    let bad = |why: &str| format!("server.api_prefix {v:?} {why}");
    if !v.starts_with('/') {
        return Err(bad("must start with '/'"));
    }
    if v.ends_with('/') {
        return Err(bad("must not end with '/'"));
    }
    let pattern = RoutePattern::parse(v).map_err(|e| bad(&format!("is not a plain path: {e}")))?;
    if pattern
        .segments()
        .iter()
        .any(|s| matches!(s, PatternSeg::Param(_)))
    {
        return Err(bad("must not contain a :parameter"));
    }
    Ok(v.to_owned())
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// Absolute, and neither inside the API prefix nor containing it (whole
/// segments, ignoring case, as the router matches).
pub(crate) fn passthrough(v: &str, api_prefix: &str) -> Rule<String> {
    if !v.starts_with('/') {
        return Err(format!(
            "server.passthrough entry {v:?} must start with '/'"
        ));
    }
    let (p, a) = (segments(v), segments(api_prefix));
    let n = p.len().min(a.len());
    if p[..n]
        .iter()
        .zip(&a[..n])
        .all(|(x, y)| x.eq_ignore_ascii_case(y))
    {
        return Err(format!(
            "server.passthrough entry {v:?} overlaps the API prefix {api_prefix:?}; API requests are never forwarded unchecked"
        ));
    }
    Ok(v.to_owned())
}

fn scheme(v: &str) -> &str {
    v.split_once(':').map_or("", |(s, _)| s)
}

pub(crate) fn store_url(v: &str) -> Rule<String> {
    match scheme(v) {
        "sqlite" | "postgres" | "postgresql" => Ok(v.to_owned()),
        other => Err(format!(
            "store.url must start with sqlite:, postgres: or postgresql: (found scheme {other:?})"
        )),
    }
}

pub(crate) fn redis_url(v: &str) -> Rule<String> {
    match scheme(v) {
        "redis" | "rediss" => Ok(v.to_owned()),
        other => Err(format!(
            "cache.redis_url must start with redis:// or rediss:// (found scheme {other:?})"
        )),
    }
}

pub(crate) fn smtp_url(v: &str) -> Rule<String> {
    match scheme(v) {
        "smtp" | "smtps" => Ok(v.to_owned()),
        other => Err(format!(
            "email.smtp_url must start with smtp:// or smtps:// (found scheme {other:?})"
        )),
    }
}

/// The gateway's public base URL (for links in emails): http(s), no path
/// beyond `/`, no query.
pub(crate) fn public_url(v: &str) -> Rule<String> {
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && !r.contains(['?', '#', '@', '\\']) => {
            Ok(v.trim_end_matches('/').to_owned())
        }
        _ => Err(format!(
            "server.public_url must be an http:// or https:// URL without query or user info (found {v:?})"
        )),
    }
}

/// A trusted proxy: an address or a CIDR range.
pub(crate) fn trusted_proxy(v: &str) -> Rule<ipnet::IpNet> {
    v.parse::<ipnet::IpNet>()
        .or_else(|_| v.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| {
            format!(
                "server.trusted_proxies entries must be IP addresses or CIDR ranges (found {v:?})"
            )
        })
}

/// An HTTP header name: a non-empty RFC 9110 token.
pub(crate) fn header_name(key: &str, v: &str) -> Rule<String> {
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if !v.is_empty() && v.bytes().all(tchar) {
        Ok(v.to_owned())
    } else {
        Err(format!("{key} {v:?} is not a valid HTTP header name"))
    }
}

pub(crate) fn rate_limit_max(n: u64) -> Rule<u32> {
    u32::try_from(n).ok().filter(|n| *n >= 1).ok_or_else(|| {
        format!(
            "users_permissions.rate_limit.max {n} must be between 1 and {}",
            u32::MAX
        )
    })
}

pub(crate) fn threads(n: u64) -> Rule<usize> {
    match n {
        1..=1024 => Ok(n as usize),
        _ => Err(format!("server.threads {n} must be between 1 and 1024")),
    }
}
