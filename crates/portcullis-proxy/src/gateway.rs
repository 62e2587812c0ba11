//! The Pingora adapter: authorization in `request_filter`, identity headers
//! in `upstream_request_filter`, response hygiene in `response_filter`, one
//! decision log line and the metrics in `logging`.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use http::HeaderValue;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use portcullis_core::envelope::{bad_path_body, error_body};
use portcullis_core::{Deny, Method, Outcome, RouteSource, Rule, Target, canonicalize};

use crate::authn::{Authn, authenticate};
use crate::headers::{sanitize_request, sanitize_response};
use crate::metrics::outcome_label;
use crate::settings::AuthorizationMode;
use crate::state::{AppState, InFlight};
use crate::{respond, up};

/// Who the upstream is told the caller is.
#[derive(Debug, Clone, Copy)]
enum Subject {
    Anonymous,
    User(i64),
    Token(i64),
}

/// Why a request was decided as it was. Kept cheap on the request path and
/// formatted only when the decision line is written.
#[derive(Debug, Clone)]
enum Reason {
    Undecided,
    /// The caller's role (`RequestCtx::role`) grants or lacks the action.
    Role {
        granted: bool,
    },
    Rule(Rule<'static>),
    Text(&'static str),
    Owned(String),
}

impl Reason {
    fn from_rule(rule: Rule<'_>) -> Reason {
        match rule {
            Rule::RoleGrants(_) => Reason::Role { granted: true },
            Rule::RoleLacks(_) => Reason::Role { granted: false },
            Rule::UnknownRole => Reason::Rule(Rule::UnknownRole),
            Rule::PublicHasNoPermissions => Reason::Rule(Rule::PublicHasNoPermissions),
            Rule::TokenFullAccess => Reason::Rule(Rule::TokenFullAccess),
            Rule::TokenReadOnly => Reason::Rule(Rule::TokenReadOnly),
            Rule::TokenCustom => Reason::Rule(Rule::TokenCustom),
            Rule::Credential(f) => Reason::Rule(Rule::Credential(f)),
            Rule::Passthrough => Reason::Rule(Rule::Passthrough),
            Rule::Preflight => Reason::Rule(Rule::Preflight),
            Rule::NoRoute => Reason::Rule(Rule::NoRoute),
        }
    }
}

/// The canonical path of the request, once known.
enum Canonical {
    Unknown,
    /// The request's own path (already canonical: nothing allocated).
    AsRequested,
    Rewritten(String),
}

/// What is forwarded, once the request is allowed.
enum Forward {
    /// The request-target exactly as received (path already canonical, no
    /// route rewrite): nothing allocated, nothing rebuilt.
    AsRequested,
    /// This path and query instead.
    Path(String),
}

/// Per-request state.
pub struct RequestCtx {
    _in_flight: InFlight,
    started: Instant,
    /// The client's `X-Request-Id` when it is acceptable, else a new one.
    request_id: HeaderValue,
    /// The client sent `request_id` (so the upstream request already has it).
    client_request_id: bool,
    /// Set once the request is to be forwarded.
    forward: Option<Forward>,
    /// Set when the forwarded request carries identity headers.
    identity: Option<Subject>,
    canonical: Canonical,
    /// The action's uid (UTF-8, cut from the per-thread buffer: it is both
    /// logged and sent upstream).
    action: Option<Bytes>,
    auth_method: &'static str,
    subject: Option<i64>,
    role: Option<Arc<str>>,
    reason: Reason,
    upstream_started: Option<Instant>,
}

impl RequestCtx {
    fn request_id(&self) -> &str {
        self.request_id.to_str().unwrap_or("-")
    }

    fn action(&self) -> &str {
        self.action
            .as_deref()
            .and_then(|a| std::str::from_utf8(a).ok())
            .unwrap_or("-")
    }

    /// The canonical path for logs ("-" before it is known).
    fn path<'a>(&'a self, req: &'a RequestHeader) -> &'a str {
        match &self.canonical {
            Canonical::Unknown => "-",
            Canonical::AsRequested => req.uri.path(),
            Canonical::Rewritten(p) => p,
        }
    }

    fn reason(&self) -> String {
        match &self.reason {
            Reason::Undecided => "-".to_owned(),
            Reason::Role { granted } => {
                let role = self.role.as_deref().unwrap_or("-");
                if *granted {
                    Rule::RoleGrants(role).to_string()
                } else {
                    Rule::RoleLacks(role).to_string()
                }
            }
            Reason::Rule(r) => r.to_string(),
            Reason::Text(t) => (*t).to_owned(),
            Reason::Owned(s) => s.clone(),
        }
    }
}

/// The gateway service.
pub struct Gateway {
    state: Arc<AppState>,
}

impl Gateway {
    pub fn new(state: Arc<AppState>) -> Gateway {
        Gateway { state }
    }

    async fn answer(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        status: u16,
        body: String,
    ) -> Result<bool> {
        self.state
            .metrics
            .decision_seconds
            .observe(ctx.started.elapsed().as_secs_f64());
        // Boxed: writing a response is a 1.3 KB future, and inlined it would
        // make every request's `request_filter` future that large (the
        // forwarding path never writes one).
        Box::pin(respond::json(session, status, body, ctx.request_id())).await?;
        Ok(true)
    }
}

/// A client's `X-Request-Id` is kept when it is short and printable (it is
/// logged and sent upstream).
fn client_request_id(req: &RequestHeader, name: &http::HeaderName) -> Option<HeaderValue> {
    // A pre-parsed name: looking up a `&str` parses it on every request.
    let v = req.headers.get(name)?;
    let b = v.as_bytes();
    (!b.is_empty() && b.len() <= 128 && b.iter().all(u8::is_ascii_graphic)).then(|| v.clone())
}

/// A new request id: 32 lowercase hex digits, a random half fixed per process
/// and a counter (unique without a random draw per request).
fn new_request_id() -> HeaderValue {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(rand::random::<u64>);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut raw = [0u8; 16];
    raw[..8].copy_from_slice(&prefix.to_be_bytes());
    raw[8..].copy_from_slice(&n.to_be_bytes());
    let mut hex_id = [0u8; 32];
    if hex::encode_to_slice(raw, &mut hex_id).is_err() {
        return HeaderValue::from_static("-");
    }
    shared_value(&hex_id).unwrap_or_else(|| HeaderValue::from_static("-"))
}

/// A header value cut from the per-thread buffer, if `v` is a valid one.
fn shared_value(v: &[u8]) -> Option<HeaderValue> {
    HeaderValue::from_maybe_shared(carve(v)).ok()
}

/// A decimal header value (`X-User-Id`, `X-Api-Token-Id`).
fn id_value(id: i64) -> HeaderValue {
    shared_value(itoa::Buffer::new().format(id).as_bytes()).unwrap_or_else(|| HeaderValue::from(id))
}

/// Request ids and the per-request identity values (action, role, subject
/// id) are cut from a per-thread buffer of `ID_CHUNK` bytes: a value and its
/// copies (upstream request, response, log) share one allocation per few
/// hundred requests instead of one or two each (a `HeaderValue` made from a
/// `&str` copies it; a first clone of a plain `Bytes` allocates). A chunk is
/// freed when the last value cut from it is dropped.
const ID_CHUNK: usize = 32 * 512;

fn carve(id: &[u8]) -> Bytes {
    thread_local! {
        static CHUNK: RefCell<BytesMut> = RefCell::new(BytesMut::new());
    }
    CHUNK.with_borrow_mut(|chunk| {
        if chunk.capacity() < id.len() {
            *chunk = BytesMut::with_capacity(ID_CHUNK.max(id.len()));
        }
        chunk.extend_from_slice(id);
        chunk.split().freeze()
    })
}

fn with_query(forward: Forward, query: Option<&str>) -> Forward {
    match (forward, query) {
        (Forward::Path(mut path), Some(q)) => {
            path.push('?');
            path.push_str(q);
            Forward::Path(path)
        }
        (forward, _) => forward,
    }
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx {
            _in_flight: InFlight::enter(&self.state),
            started: Instant::now(),
            request_id: HeaderValue::from_static("-"),
            client_request_id: false,
            forward: None,
            identity: None,
            canonical: Canonical::Unknown,
            action: None,
            auth_method: "-",
            subject: None,
            role: None,
            reason: Reason::Undecided,
            upstream_started: None,
        }
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        let (method, canonical) = {
            let req = session.req_header();
            match client_request_id(req, &self.state.identity_headers.request_id) {
                Some(id) => {
                    ctx.request_id = id;
                    ctx.client_request_id = true;
                }
                None => ctx.request_id = new_request_id(),
            }
            (
                Method::parse(req.method.as_str()),
                canonicalize(req.uri.path()),
            )
        };
        let canonical = match canonical {
            Ok(c) => c,
            Err(e) => {
                ctx.reason = Reason::Owned(format!("path refused: {e}"));
                return self
                    .answer(session, ctx, 400, bad_path_body("Invalid request path"))
                    .await;
            }
        };
        let policy = self.state.policy.load_full();
        let resolved = policy.resolve(method, &canonical);
        let forward = match (resolved.rewritten, canonical.is_unchanged()) {
            (None, true) => Forward::AsRequested,
            (Some(path), _) => Forward::Path(path),
            (None, false) => Forward::Path(canonical.as_str().to_owned()),
        };
        ctx.canonical = if canonical.is_unchanged() {
            Canonical::AsRequested
        } else {
            Canonical::Rewritten(canonical.into_string())
        };
        let (action, source) = match resolved.target {
            Target::NotFound => {
                ctx.reason = Reason::Rule(Rule::NoRoute);
                return self.answer(session, ctx, 404, Deny::NOT_FOUND.body()).await;
            }
            Target::Passthrough | Target::Preflight => {
                ctx.reason = Reason::Rule(if matches!(resolved.target, Target::Passthrough) {
                    Rule::Passthrough
                } else {
                    Rule::Preflight
                });
                ctx.forward = Some(with_query(forward, session.req_header().uri.query()));
                self.state
                    .metrics
                    .decision_seconds
                    .observe(ctx.started.elapsed().as_secs_f64());
                return Ok(false);
            }
            Target::Action { action, source } => (action, source),
        };
        ctx.action = Some(carve(action.as_bytes()));
        let authorization = session
            .req_header()
            .headers
            .get(http::header::AUTHORIZATION)
            .map(HeaderValue::as_bytes);
        let authn = match authenticate(&self.state, authorization).await {
            Ok(a) => a,
            Err(e) => {
                // Fail closed: no decision can be made without the store.
                self.state.metrics.store_errors.inc();
                tracing::error!(error = %e, request_id = ctx.request_id(), "credential lookup failed");
                ctx.reason = Reason::Text("store unavailable");
                let body = error_body(503, "ServiceUnavailableError", "Service Unavailable");
                return self.answer(session, ctx, 503, body).await;
            }
        };
        ctx.auth_method = authn.method();
        ctx.subject = authn.subject();
        ctx.role = authn.role();
        let (outcome, rule) = policy.authorize(action, &authn.caller());
        ctx.reason = Reason::from_rule(rule);
        match outcome {
            Outcome::Deny(deny) => self.answer(session, ctx, deny.status, deny.body()).await,
            Outcome::Forward | Outcome::Allow => {
                self.state
                    .metrics
                    .decision_seconds
                    .observe(ctx.started.elapsed().as_secs_f64());
                if let RouteSource::UsersPermissions(route) = source {
                    // Served by the gateway itself, never by the upstream.
                    let path = match forward {
                        Forward::Path(p) => p,
                        Forward::AsRequested => session.req_header().uri.path().to_owned(),
                    };
                    let caller = authn.up_caller();
                    // Boxed for the same reason as `answer` (1.5 KB).
                    Box::pin(up::answer(
                        &self.state,
                        session,
                        route,
                        policy.clone(),
                        path,
                        caller,
                        ctx.request_id(),
                    ))
                    .await?;
                    return Ok(true);
                }
                ctx.identity = Some(match authn {
                    Authn::User(ref u) => Subject::User(u.id),
                    Authn::Token(ref t) => Subject::Token(t.id),
                    _ => Subject::Anonymous,
                });
                ctx.forward = Some(with_query(forward, session.req_header().uri.query()));
                Ok(false)
            }
        }
    }

    async fn upstream_peer(
        &self,
        _s: &mut Session,
        _ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        let s = &self.state.settings;
        crate::timer_anchor::ensure(s.read_timeout);
        let mut peer = HttpPeer::new(s.upstream, false, String::new());
        peer.options.connection_timeout = Some(s.connect_timeout);
        peer.options.total_connection_timeout = Some(s.connect_timeout);
        peer.options.read_timeout = Some(s.read_timeout);
        // Pingora arms these timers only when an operation has to wait
        // (a write the socket takes at once costs nothing).
        peer.options.write_timeout = Some(s.read_timeout);
        Ok(Box::new(peer))
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        req: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let Some(forward) = ctx.forward.as_ref() else {
            // Unreachable by construction; refuse rather than forward unchecked.
            return Error::e_explain(ErrorType::InternalError, "no authorized path");
        };
        // Work on the plain `http` parts: headers are then removed and
        // inserted without Pingora's case map (which re-parses every name
        // and grows two maps per insert). Header names reach the upstream in
        // lower case, as over HTTP/2.
        let placeholder = RequestHeader::from(http::Request::new(()).into_parts().0);
        let mut parts: http::request::Parts = std::mem::replace(req, placeholder).into();
        if let Forward::Path(forward) = forward
            && parts
                .uri
                .path_and_query()
                .map(http::uri::PathAndQuery::as_str)
                != Some(forward.as_str())
        {
            parts.uri = http::Uri::try_from(forward)
                .map_err(|e| Error::because(ErrorType::InternalError, "forward path", e))?;
        }
        let headers = &mut parts.headers;
        sanitize_request(headers, &self.state.reserved);
        let s = &self.state.settings;
        match s.authorization {
            AuthorizationMode::Strip => {
                headers.remove(http::header::AUTHORIZATION);
            }
            AuthorizationMode::Passthrough => {}
            AuthorizationMode::Replace => {
                headers.remove(http::header::AUTHORIZATION);
                if let Some(v) = &s.upstream_authorization {
                    headers.insert(http::header::AUTHORIZATION, v.clone());
                }
            }
        }
        let h = &self.state.identity_headers;
        headers.reserve(5);
        if !ctx.client_request_id {
            headers.insert(h.request_id.clone(), ctx.request_id.clone());
        }
        if let (Some(subject), Some(action)) = (ctx.identity, ctx.action.clone()) {
            headers.insert(
                h.auth_method.clone(),
                HeaderValue::from_static(ctx.auth_method),
            );
            if let Ok(v) = HeaderValue::from_maybe_shared(action) {
                headers.insert(h.action.clone(), v);
            }
            match subject {
                Subject::User(id) => {
                    headers.insert(h.user_id.clone(), id_value(id));
                }
                Subject::Token(id) => {
                    headers.insert(h.token_id.clone(), id_value(id));
                }
                Subject::Anonymous => {}
            }
            if let Some(v) = ctx.role.as_deref().and_then(|r| shared_value(r.as_bytes())) {
                headers.insert(h.user_role.clone(), v);
            }
        }
        *req = RequestHeader::from(parts);
        ctx.upstream_started = Some(Instant::now());
        Ok(())
    }

    async fn response_filter(
        &self,
        _s: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if let Some(t) = ctx.upstream_started {
            self.state
                .metrics
                .upstream_seconds
                .observe(t.elapsed().as_secs_f64());
        }
        sanitize_response(resp, &self.state.reserved);
        resp.insert_header("X-Request-Id", ctx.request_id.clone())?;
        Ok(())
    }

    fn fail_to_connect(
        &self,
        _s: &mut Session,
        _p: &HttpPeer,
        _c: &mut RequestCtx,
        mut e: Box<Error>,
    ) -> Box<Error> {
        // A fresh connection that failed is not retried: the client gets a
        // prompt 502/504 instead of up to `max_retries` attempts.
        e.set_retry(false);
        e
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        use ErrorType::{
            ConnectTimedout, ConnectionClosed, ReadError, ReadTimedout, WriteError, WriteTimedout,
        };
        let (code, name, message) = match (e.esource(), e.etype()) {
            (_, ErrorType::HTTPStatus(c)) => (*c, "HttpError", "Error"),
            (ErrorSource::Upstream, ConnectTimedout | ReadTimedout | WriteTimedout) => {
                (504, "GatewayTimeoutError", "Gateway Timeout")
            }
            (ErrorSource::Upstream, _) => (502, "BadGatewayError", "Bad Gateway"),
            (ErrorSource::Downstream, WriteError | ReadError | ConnectionClosed) => (0, "", ""),
            (ErrorSource::Downstream, _) => (400, "BadRequestError", "Bad Request"),
            _ => (500, "InternalServerError", "Internal Server Error"),
        };
        ctx.reason = Reason::Owned(format!("proxy error: {}", e.etype().as_str()));
        if code > 0 && session.response_written().is_none() {
            let body = error_body(code, name, message);
            if let Err(err) = respond::json(session, code, body, ctx.request_id()).await {
                tracing::debug!(error = %err, "could not write the error response");
            }
        }
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }

    /// Pingora's error logs name the request with this: the canonical path
    /// only, never the query string (reset codes, OAuth codes live there).
    fn request_summary(&self, session: &Session, ctx: &RequestCtx) -> String {
        let method = &session.req_header().method;
        format!(
            "{method} {} (request id {})",
            ctx.path(session.req_header()),
            ctx.request_id()
        )
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut RequestCtx) {
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        let outcome = outcome_label(status, ctx.forward.is_some());
        self.state.metrics.count_request(outcome, ctx.auth_method);
        let req = session.req_header();
        // Exactly one line per request. Never the Authorization header, the
        // query string (reset codes, OAuth codes) or a body.
        tracing::info!(
            target: "portcullis::decision",
            request_id = ctx.request_id(),
            method = %req.method,
            path = ctx.path(req),
            action = ctx.action(),
            auth = ctx.auth_method,
            subject = ctx.subject,
            role = ctx.role.as_deref().unwrap_or("-"),
            outcome,
            status,
            reason = ctx.reason(),
            policy = %self.state.policy.load().version(),
            latency_us = u64::try_from(ctx.started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "decision"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn request_ids_are_distinct_hex_and_outlive_their_chunk() {
        let first = new_request_id();
        let first_text = first.to_str().unwrap().to_owned();
        let mut seen = HashSet::new();
        // Several chunks' worth: ids cut before a new chunk stay intact.
        for _ in 0..3 * 512 + 7 {
            let id = new_request_id();
            let text = id.to_str().unwrap();
            assert_eq!(text.len(), 32, "{text}");
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            );
            assert!(seen.insert(text.to_owned()), "repeated id {text}");
        }
        assert_eq!(first.to_str().unwrap(), first_text);
        assert!(!seen.contains(&first_text));
        // Same process prefix, counter in the low half.
        let a = new_request_id();
        let b = new_request_id();
        assert_eq!(a.as_bytes()[..16], b.as_bytes()[..16]);
        assert_ne!(a, b);
    }

    #[test]
    fn identity_values_cut_from_the_buffer_are_exact() {
        for id in [0, 7, 42, -3, i64::MAX, i64::MIN] {
            assert_eq!(id_value(id), HeaderValue::from(id));
        }
        let role = shared_value(b"authenticated").unwrap();
        let action = shared_value(b"api::post.post.find").unwrap();
        assert_eq!(role, "authenticated");
        assert_eq!(action, "api::post.post.find");
        // What a `HeaderValue` may not hold is refused, not sent.
        assert!(shared_value(b"a\r\nX-User-Id: 1").is_none());
        assert!(shared_value(b"nul\0").is_none());
    }
}
