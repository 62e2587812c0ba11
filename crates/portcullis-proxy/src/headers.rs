//! Header hygiene (CONTRACT §5): what the upstream may receive and what the
//! client may see. Pure functions over Pingora's header types.

use http::{HeaderMap, HeaderName};
use pingora::http::ResponseHeader;

use crate::settings::IdentityHeaderNames;

/// The identity header names, parsed once (inserting a pre-parsed name is a
/// reference-count increment; a `&str` name is parsed and copied per request).
#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    pub user_id: HeaderName,
    pub user_role: HeaderName,
    pub auth_method: HeaderName,
    pub token_id: HeaderName,
    pub action: HeaderName,
    pub request_id: HeaderName,
}

impl IdentityHeaders {
    pub fn new(names: &IdentityHeaderNames) -> Result<IdentityHeaders, String> {
        let parse = |n: &str| {
            HeaderName::from_bytes(n.as_bytes()).map_err(|_| format!("invalid header name {n:?}"))
        };
        Ok(IdentityHeaders {
            user_id: parse(&names.user_id)?,
            user_role: parse(&names.user_role)?,
            auth_method: parse(&names.auth_method)?,
            token_id: parse(&names.token_id)?,
            action: parse(&names.action)?,
            request_id: HeaderName::from_static("x-request-id"),
        })
    }
}

/// Header families only the gateway may set. Compared after lower-casing and
/// turning `_` into `-`, so `X_User_Id` and `x-user-id` are the same name
/// (some servers merge them; CGI-style stacks always do).
const RESERVED_PREFIXES: &[&str] = &[
    "x-user-",
    "x-auth-",
    "x-api-token-",
    "x-strapi-",
    "x-gateway-",
];
const RESERVED_EXACT: &[&str] = &[
    "x-permission",
    "x-forwarded-user",
    // Method overrides: a GET authorized as `find` must not become a DELETE.
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    // Routing overrides: the path authorized is the path served.
    "x-original-url",
    "x-rewrite-url",
];

/// Recognises reserved header names, including the configured ones.
#[derive(Debug, Clone)]
pub struct ReservedHeaders {
    /// Configured identity header names (normalized) that the built-in
    /// families do not already cover; usually none.
    extra: Vec<String>,
}

fn normalize(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b == b'_' {
                '-'
            } else {
                char::from(b.to_ascii_lowercase())
            }
        })
        .collect()
}

/// The built-in reserved families.
fn is_builtin_reserved(n: &[u8]) -> bool {
    // Every built-in reserved name starts with "x-" / "x_".
    n.len() > 2
        && n[0].eq_ignore_ascii_case(&b'x')
        && (n[1] == b'-' || n[1] == b'_')
        && (RESERVED_PREFIXES
            .iter()
            .any(|p| starts_with_normalized(n, p))
            || RESERVED_EXACT.iter().any(|e| eq_normalized(n, e))
            || starts_with_normalized(n, "x-permission-"))
}

impl ReservedHeaders {
    pub fn new(names: &IdentityHeaderNames) -> ReservedHeaders {
        let extra = [
            &names.user_id,
            &names.user_role,
            &names.auth_method,
            &names.token_id,
            &names.action,
        ]
        .iter()
        .map(|n| normalize(n))
        .filter(|n| !is_builtin_reserved(n.as_bytes()))
        .collect();
        ReservedHeaders { extra }
    }

    /// Runs on every header of every forwarded request, so it compares in
    /// place instead of building the normalized name.
    pub fn is_reserved(&self, name: &str) -> bool {
        let n = name.as_bytes();
        is_builtin_reserved(n) || self.extra.iter().any(|c| eq_normalized(n, c))
    }
}

/// `name` lower-cased with `_` read as `-`, compared to a normalized `want`.
fn eq_normalized(name: &[u8], want: &str) -> bool {
    name.len() == want.len() && starts_with_normalized(name, want)
}

fn starts_with_normalized(name: &[u8], prefix: &str) -> bool {
    name.len() >= prefix.len()
        && name.iter().zip(prefix.as_bytes()).all(|(&a, &b)| {
            let a = if a == b'_' {
                b'-'
            } else {
                a.to_ascii_lowercase()
            };
            a == b
        })
}

const CONNECTION_KEEP: &[&str] = &["keep-alive", "close", "upgrade"];

/// What the `Connection` values of `headers` list: `only_options` when every
/// token is a connection option (`keep-alive`, `close`, `upgrade`), and the
/// other tokens, lower-cased (allocated only when there are some). A value
/// that is not visible ASCII lists nothing and is not `only_options`.
struct ConnectionList {
    only_options: bool,
    listed: Vec<String>,
}

/// A `Connection` value that is one connection option, compared whole (the
/// usual `keep-alive` or `close`: no splitting).
fn is_whole_option(v: &http::HeaderValue) -> bool {
    CONNECTION_KEEP
        .iter()
        .any(|k| v.as_bytes().eq_ignore_ascii_case(k.as_bytes()))
}

fn connection_list(headers: &HeaderMap) -> ConnectionList {
    // The usual values (none, or whole options) on a path kept small: it
    // runs twice per request, and the general reading below is cold code.
    if headers
        .get_all(http::header::CONNECTION)
        .iter()
        .all(is_whole_option)
    {
        return ConnectionList {
            only_options: true,
            listed: Vec::new(),
        };
    }
    list_connection_tokens(headers)
}

#[cold]
#[inline(never)]
fn list_connection_tokens(headers: &HeaderMap) -> ConnectionList {
    let mut out = ConnectionList {
        only_options: true,
        listed: Vec::new(),
    };
    let mut consider = |token: &str| {
        let token = token.trim();
        if token.is_empty()
            || CONNECTION_KEEP
                .iter()
                .any(|k| token.eq_ignore_ascii_case(k))
        {
            return;
        }
        out.only_options = false;
        out.listed.push(token.to_ascii_lowercase());
    };
    for v in headers.get_all(http::header::CONNECTION) {
        if is_whole_option(v) {
            continue;
        }
        let Ok(v) = v.to_str() else {
            consider("\u{0}");
            continue;
        };
        // Usually one token (`keep-alive`): no splitting.
        if v.contains(',') {
            v.split(',').for_each(&mut consider);
        } else {
            consider(v);
        }
    }
    out
}

/// Removes from a request going upstream: every reserved header, every
/// header the client marked hop-by-hop in `Connection` (so a client cannot
/// ask a later hop to drop the identity headers we set), and `Connection`
/// itself unless it only carries connection options.
pub fn sanitize_request(headers: &mut HeaderMap, reserved: &ReservedHeaders) {
    let connection = connection_list(headers);
    if !connection.only_options {
        headers.remove(http::header::CONNECTION);
        for name in &connection.listed {
            headers.remove(name.as_str());
        }
    }
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|k| reserved.is_reserved(k.as_str()))
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

/// Hop-by-hop response headers that describe the upstream connection, not
/// the client's (RFC 9110 §7.6.1). The upstream's `Connection` goes too;
/// Pingora writes the client connection's own.
const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Never removed because `Connection` lists them.
fn keep_when_listed(name: &str) -> bool {
    matches!(name, "content-length" | "transfer-encoding" | "connection")
}

/// Removes from a response going to the client: identity headers,
/// `X-Powered-By`, and (except on a 1xx, where `Connection: upgrade` is the
/// point) the upstream's hop-by-hop headers and those its `Connection`
/// lists, never the body's framing.
pub fn sanitize_response(resp: &mut ResponseHeader, reserved: &ReservedHeaders) {
    let hop_by_hop = !resp.status.is_informational();
    let mut has_connection = false;
    let mut doomed: Vec<String> = resp
        .headers
        .keys()
        .filter(|k| {
            has_connection |= **k == http::header::CONNECTION;
            k.as_str() == "x-powered-by"
                || reserved.is_reserved(k.as_str())
                || (hop_by_hop && (**k == KEEP_ALIVE || **k == PROXY_CONNECTION))
        })
        .map(|k| k.as_str().to_owned())
        .collect();
    let upstream_connection = hop_by_hop && has_connection;
    if upstream_connection {
        let listed = connection_list(&resp.headers).listed;
        doomed.extend(listed.into_iter().filter(|n| !keep_when_listed(n)));
    }
    for name in doomed {
        resp.remove_header(name.as_str());
    }
    if upstream_connection {
        // Pingora writes the client connection's own `Connection` whatever
        // the upstream said; dropping the upstream's frees its slot. Pingora
        // sizes a parsed header map's index table to the headers it holds,
        // so without this the `X-Request-Id` the gateway adds fills it and
        // Pingora's next insert (`Date`) rehashes both of the response's
        // maps into tables twice the size.
        resp.remove_header(&http::header::CONNECTION);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn reserved() -> ReservedHeaders {
        ReservedHeaders::new(&IdentityHeaderNames {
            user_id: "X-Caller".into(),
            ..Default::default()
        })
    }

    fn req(headers: &[(&str, &str)]) -> HeaderMap {
        let mut r = HeaderMap::new();
        for (k, v) in headers {
            r.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        r
    }

    #[test]
    fn reserved_families_in_any_spelling() {
        let r = reserved();
        for n in [
            "X-User-Id",
            "x-user-role",
            "X_User_Id",
            "X-USER-ANYTHING",
            "x-auth-method",
            "X-Api-Token-Id",
            "X-Permission",
            "x_permission",
            "X-Strapi-User",
            "X-Forwarded-User",
            "X-Gateway-Secret",
            "X-Caller",
            "x_caller",
            "X-HTTP-Method-Override",
            "X-Method-Override",
            "X-HTTP-Method",
            "X-Original-URL",
            "X-Rewrite-Url",
        ] {
            assert!(r.is_reserved(n), "{n}");
        }
        for n in [
            "Authorization",
            "X-Request-Id",
            "X-Users",
            "X-Forwarded-For",
            "Content-Type",
        ] {
            assert!(!r.is_reserved(n), "{n}");
        }
    }

    #[test]
    fn spoofed_identity_headers_are_removed() {
        let mut r = req(&[
            ("X-User-Id", "1"),
            ("x_user_role", "admin"),
            ("Accept", "*/*"),
        ]);
        sanitize_request(&mut r, &reserved());
        assert!(r.get("x-user-id").is_none());
        assert!(r.get("x_user_role").is_none());
        assert!(r.get("accept").is_some());
    }

    #[test]
    fn headers_named_in_connection_are_dropped_with_connection() {
        let mut r = req(&[
            ("Connection", "keep-alive, X-Foo, x-user-id"),
            ("X-Foo", "1"),
        ]);
        sanitize_request(&mut r, &reserved());
        assert!(r.get("connection").is_none());
        assert!(r.get("x-foo").is_none());
        let mut r = req(&[("Connection", "keep-alive")]);
        sanitize_request(&mut r, &reserved());
        assert!(r.get("connection").is_some());
    }

    #[test]
    fn responses_lose_identity_and_powered_by() {
        let mut resp = ResponseHeader::build(200, None).unwrap();
        resp.append_header("X-Powered-By", "Strapi").unwrap();
        resp.append_header("X-User-Id", "5").unwrap();
        resp.append_header("Content-Type", "application/json")
            .unwrap();
        sanitize_response(&mut resp, &reserved());
        assert!(resp.headers.get("x-powered-by").is_none());
        assert!(resp.headers.get("x-user-id").is_none());
        assert!(resp.headers.get("content-type").is_some());
    }

    #[test]
    fn responses_lose_the_upstreams_hop_by_hop_headers() {
        let mut resp = ResponseHeader::build(200, None).unwrap();
        resp.append_header("Content-Type", "application/json")
            .unwrap();
        resp.append_header("Connection", "keep-alive, X-Upstream-Hop, Content-Length")
            .unwrap();
        resp.append_header("Keep-Alive", "timeout=5").unwrap();
        resp.append_header("Proxy-Connection", "keep-alive")
            .unwrap();
        resp.append_header("X-Upstream-Hop", "1").unwrap();
        resp.append_header("Content-Length", "11").unwrap();
        resp.append_header("ETag", "\"x\"").unwrap();
        sanitize_response(&mut resp, &reserved());
        let left: Vec<&str> = resp.headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(left.len(), 3, "{left:?}");
        for kept in ["content-type", "content-length", "etag"] {
            assert!(resp.headers.contains_key(kept), "{kept} removed: {left:?}");
        }
        // The case map follows the value map (Pingora writes from both).
        // `Connection` is gone: Pingora writes its own.
        let mut wire = bytes::BytesMut::new();
        resp.header_to_h1_wire(&mut wire);
        assert_eq!(
            String::from_utf8_lossy(&wire),
            "Content-Type: application/json\r\nContent-Length: 11\r\nETag: \"x\"\r\n"
        );
    }

    #[test]
    fn the_request_id_fits_in_the_map_pingora_parsed() {
        // Pingora sizes a parsed response's maps to its header count (nginx
        // sends five) and hands the filters a clone, whose entry vectors
        // are exactly full. Adding `X-Request-Id` then grows those vectors
        // once whatever we do; what the upstream's `Connection` removal
        // spares is the index table: with six headers in a table sized for
        // five, Pingora's replacement of `Date` (`HeaderMap` reserves
        // before it looks) would rehash both maps.
        let upstream = [
            ("Server", "nginx"),
            ("Date", "Sun, 22 Nov 2026 15:00:00 GMT"),
            ("Content-Type", "application/json"),
            ("Content-Length", "11"),
            ("Connection", "keep-alive"),
        ];
        let mut parsed = ResponseHeader::build(200, Some(upstream.len())).unwrap();
        for (k, v) in upstream {
            parsed.append_header(k, v).unwrap();
        }
        let mut resp = parsed.clone();
        let capacity = resp.headers.capacity();
        sanitize_response(&mut resp, &reserved());
        resp.insert_header("X-Request-Id", "abc").unwrap();
        resp.insert_header(http::header::DATE, "Sun, 22 Nov 2026 15:00:01 GMT")
            .unwrap();
        resp.insert_header(http::header::CONNECTION, "keep-alive")
            .unwrap();
        assert_eq!(resp.headers.capacity(), capacity);
        assert_eq!(resp.headers.len(), 6);
    }

    #[test]
    fn switching_protocols_keeps_connection_upgrade() {
        let mut resp = ResponseHeader::build(101, None).unwrap();
        resp.append_header("Connection", "Upgrade").unwrap();
        resp.append_header("Upgrade", "websocket").unwrap();
        sanitize_response(&mut resp, &reserved());
        assert_eq!(resp.headers["connection"], "Upgrade");
        assert_eq!(resp.headers["upgrade"], "websocket");
    }
}
