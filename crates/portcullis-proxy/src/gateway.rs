//! The Pingora adapter: authorization in `request_filter`, identity headers
//! in `upstream_request_filter`, response hygiene in `response_filter`, one
//! decision log line and the metrics in `logging`.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use portcullis_core::envelope::{bad_path_body, error_body};
use portcullis_core::{Deny, Method, Outcome, RouteSource, Target, canonicalize};

use crate::authn::{Authn, authenticate};
use crate::headers::{sanitize_request, sanitize_response};
use crate::metrics::outcome_label;
use crate::settings::AuthorizationMode;
use crate::state::{AppState, InFlight};
use crate::{respond, up};

/// Who the upstream is told the caller is.
#[derive(Debug, Clone)]
struct Identity {
    user_id: Option<i64>,
    token_id: Option<i64>,
    role: Option<Arc<str>>,
    action: String,
}

/// Per-request state.
pub struct RequestCtx {
    _in_flight: InFlight,
    started: Instant,
    request_id: String,
    /// Set once the request is to be forwarded: the canonical path + query.
    forward: Option<String>,
    identity: Option<Identity>,
    canonical: Option<String>,
    action: Option<String>,
    auth_method: &'static str,
    subject: Option<i64>,
    role: Option<Arc<str>>,
    rule: String,
    upstream_started: Option<Instant>,
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
        respond::json(session, status, body, &ctx.request_id).await?;
        Ok(true)
    }
}

/// A client's `X-Request-Id` is kept when it is short and printable (it is
/// logged and sent upstream); otherwise a new one is made.
fn request_id(req: &RequestHeader) -> String {
    if let Some(v) = req.headers.get("x-request-id")
        && let Ok(s) = v.to_str()
        && !s.is_empty()
        && s.len() <= 128
        && s.bytes().all(|b| b.is_ascii_graphic())
    {
        return s.to_owned();
    }
    format!("{:032x}", rand::random::<u128>())
}

fn with_query(mut path: String, query: Option<&str>) -> String {
    if let Some(q) = query {
        path.push('?');
        path.push_str(q);
    }
    path
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx {
            _in_flight: InFlight::enter(&self.state),
            started: Instant::now(),
            request_id: String::new(),
            forward: None,
            identity: None,
            canonical: None,
            action: None,
            auth_method: "-",
            subject: None,
            role: None,
            rule: String::new(),
            upstream_started: None,
        }
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        let (method, canonical, query) = {
            let req = session.req_header();
            ctx.request_id = request_id(req);
            let method = Method::parse(req.method.as_str());
            (
                method,
                canonicalize(req.uri.path()),
                req.uri.query().map(str::to_owned),
            )
        };
        let canonical = match canonical {
            Ok(c) => c,
            Err(e) => {
                ctx.rule = format!("path refused: {e}");
                return self
                    .answer(session, ctx, 400, bad_path_body("Invalid request path"))
                    .await;
            }
        };
        ctx.canonical = Some(canonical.as_str().to_owned());
        let policy = self.state.policy.load_full();
        let resolved = policy.resolve(method, &canonical);
        let (action, source) = match resolved.target {
            Target::NotFound => {
                ctx.rule = "no route".into();
                return self.answer(session, ctx, 404, Deny::NOT_FOUND.body()).await;
            }
            Target::Passthrough | Target::Preflight => {
                ctx.rule = format!("{:?}", resolved.target).to_lowercase();
                ctx.forward = Some(with_query(resolved.forward_path, query.as_deref()));
                self.state
                    .metrics
                    .decision_seconds
                    .observe(ctx.started.elapsed().as_secs_f64());
                return Ok(false);
            }
            Target::Action { action, source } => (action, source),
        };
        ctx.action = Some(action.to_owned());
        let authorization = session
            .req_header()
            .headers
            .get("authorization")
            .map(|h| h.as_bytes());
        let authn = match authenticate(&self.state, authorization).await {
            Ok(a) => a,
            Err(e) => {
                // Fail closed: no decision can be made without the store.
                self.state.metrics.store_errors.inc();
                tracing::error!(error = %e, request_id = %ctx.request_id, "credential lookup failed");
                ctx.rule = "store unavailable".into();
                let body = error_body(503, "ServiceUnavailableError", "Service Unavailable");
                return self.answer(session, ctx, 503, body).await;
            }
        };
        ctx.auth_method = authn.method();
        ctx.subject = authn.subject();
        ctx.role = authn.role();
        let (outcome, rule) = policy.authorize(action, &authn.caller());
        ctx.rule = rule.to_string();
        match outcome {
            Outcome::Deny(deny) => self.answer(session, ctx, deny.status, deny.body()).await,
            Outcome::Forward | Outcome::Allow => {
                self.state
                    .metrics
                    .decision_seconds
                    .observe(ctx.started.elapsed().as_secs_f64());
                if let RouteSource::UsersPermissions(route) = source {
                    // Served by the gateway itself, never by the upstream.
                    let path = resolved.forward_path;
                    let caller = authn.up_caller();
                    up::answer(
                        &self.state,
                        session,
                        route,
                        policy.clone(),
                        path,
                        caller,
                        &ctx.request_id,
                    )
                    .await?;
                    return Ok(true);
                }
                ctx.identity = Some(Identity {
                    user_id: matches!(authn, Authn::User(_))
                        .then_some(ctx.subject)
                        .flatten(),
                    token_id: matches!(authn, Authn::Token(_))
                        .then_some(ctx.subject)
                        .flatten(),
                    role: ctx.role.clone(),
                    action: action.to_owned(),
                });
                ctx.forward = Some(with_query(resolved.forward_path, query.as_deref()));
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
        let mut peer = HttpPeer::new(s.upstream, false, String::new());
        peer.options.connection_timeout = Some(s.connect_timeout);
        peer.options.total_connection_timeout = Some(s.connect_timeout);
        peer.options.read_timeout = Some(s.read_timeout);
        peer.options.write_timeout = Some(s.read_timeout);
        Ok(Box::new(peer))
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        req: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let Some(forward) = ctx.forward.as_deref() else {
            // Unreachable by construction; refuse rather than forward unchecked.
            return Error::e_explain(ErrorType::InternalError, "no authorized path");
        };
        let uri = http::Uri::try_from(forward)
            .map_err(|e| Error::because(ErrorType::InternalError, "forward path", e))?;
        req.set_uri(uri);
        sanitize_request(req, &self.state.reserved);
        let s = &self.state.settings;
        match s.authorization {
            AuthorizationMode::Strip => {
                req.remove_header("authorization");
            }
            AuthorizationMode::Passthrough => {}
            AuthorizationMode::Replace => {
                req.remove_header("authorization");
                if let Some(v) = &s.upstream_authorization {
                    req.insert_header("Authorization", v.as_str())?;
                }
            }
        }
        req.insert_header("X-Request-Id", ctx.request_id.as_str())?;
        if let Some(id) = &ctx.identity {
            let h = &s.headers;
            req.insert_header(h.auth_method.clone(), ctx.auth_method)?;
            req.insert_header(h.action.clone(), id.action.as_str())?;
            if let Some(uid) = id.user_id {
                req.insert_header(h.user_id.clone(), uid.to_string())?;
            }
            if let Some(tid) = id.token_id {
                req.insert_header(h.token_id.clone(), tid.to_string())?;
            }
            if let Some(role) = &id.role {
                req.insert_header(h.user_role.clone(), role.as_ref())?;
            }
        }
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
        resp.insert_header("X-Request-Id", ctx.request_id.as_str())?;
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
        ctx.rule = format!("proxy error: {}", e.etype().as_str());
        if code > 0 && session.response_written().is_none() {
            let body = error_body(code, name, message);
            if let Err(err) = respond::json(session, code, body, &ctx.request_id).await {
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
            ctx.canonical.as_deref().unwrap_or("-"),
            ctx.request_id
        )
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut RequestCtx) {
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        let outcome = outcome_label(status, ctx.forward.is_some());
        self.state
            .metrics
            .requests
            .with_label_values(&[outcome, ctx.auth_method])
            .inc();
        let req = session.req_header();
        // Exactly one line per request. Never the Authorization header, the
        // query string (reset codes, OAuth codes) or a body.
        tracing::info!(
            target: "portcullis::decision",
            request_id = %ctx.request_id,
            method = %req.method,
            path = ctx.canonical.as_deref().unwrap_or("-"),
            action = ctx.action.as_deref().unwrap_or("-"),
            auth = ctx.auth_method,
            subject = ctx.subject,
            role = ctx.role.as_deref().unwrap_or("-"),
            outcome,
            status,
            reason = %ctx.rule,
            policy = %self.state.policy.load().version(),
            latency_us = u64::try_from(ctx.started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "decision"
        );
    }
}
