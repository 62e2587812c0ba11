//! The Pingora adapter: authorization in `request_filter`, identity headers
//! in `upstream_request_filter`, response hygiene in `response_filter`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use portcullis_auth::{JwtKeys, bearer_token};
use portcullis_core::envelope::{bad_path_body, error_body};
use portcullis_core::{
    AuthFailure, Caller, Method, Outcome, Policy, RouteSource, Target, TokenAccess, canonicalize,
};
use portcullis_store::UserState;
use portcullis_store::{TokenType, now_ms};
use portcullis_users_permissions::UpCaller;
use portcullis_users_permissions::request::ApiTokenKind;

use crate::tokens::{TokenDirectory, TokenState, looks_like_api_token};

use crate::headers::{ReservedHeaders, sanitize_request, sanitize_response};
use crate::respond;
use crate::settings::{AuthorizationMode, Settings};
use crate::up;
use crate::users::UserDirectory;

/// Shared state of every request.
pub struct AppState {
    pub policy: ArcSwap<Policy>,
    pub jwt: JwtKeys,
    pub users: UserDirectory,
    pub tokens: TokenDirectory,
    pub settings: Settings,
    pub reserved: ReservedHeaders,
    pub in_flight: AtomicUsize,
    /// Answers the Users & Permissions routes.
    pub up: Arc<portcullis_users_permissions::Service>,
}

/// Counts a request as in flight until its context is dropped.
pub struct InFlight(Arc<AppState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Who the upstream is told the caller is.
#[derive(Debug, Clone)]
struct Identity {
    auth_method: &'static str,
    user_id: Option<i64>,
    token_id: Option<i64>,
    role: Option<Arc<str>>,
    action: String,
}

/// Per-request state.
pub struct RequestCtx {
    _in_flight: InFlight,
    started: Instant,
    /// Set once the request is to be forwarded: the canonical path + query.
    forward: Option<String>,
    identity: Option<Identity>,
    canonical: Option<String>,
    action: Option<String>,
    rule: String,
    subject: Option<i64>,
}

/// The gateway service.
pub struct Gateway {
    state: Arc<AppState>,
}

impl Gateway {
    pub fn new(state: Arc<AppState>) -> Gateway {
        Gateway { state }
    }
}

/// The result of reading the bearer credential.
enum Authn {
    Public,
    User(Arc<UserState>),
    Token(Arc<TokenState>),
    Rejected(AuthFailure),
}

fn token_access(t: &TokenState) -> TokenAccess<'_> {
    match t.kind {
        TokenType::ReadOnly => TokenAccess::ReadOnly,
        TokenType::FullAccess => TokenAccess::FullAccess,
        TokenType::Custom => TokenAccess::Custom(&t.permissions),
    }
}

impl Gateway {
    async fn authenticate(&self, session: &Session) -> std::result::Result<Authn, String> {
        let header = session.req_header().headers.get("authorization");
        let Some(token) = bearer_token(header.map(|h| h.as_bytes())) else {
            return Ok(Authn::Public);
        };
        // Strapi tries the API-token strategy first, then the JWT.
        if looks_like_api_token(token) {
            let found = self
                .state
                .tokens
                .lookup(token)
                .await
                .map_err(|e| e.to_string())?;
            if let Some(t) = found {
                if t.expires_at.is_some_and(|at| at <= now_ms()) {
                    return Ok(Authn::Rejected(AuthFailure::TokenExpired));
                }
                self.state.tokens.mark_used(t.id);
                return Ok(Authn::Token(t));
            }
        }
        let Ok(claims) = self.state.jwt.verify(token) else {
            return Ok(Authn::Rejected(AuthFailure::InvalidToken));
        };
        let user = self
            .state
            .users
            .get(claims.id)
            .await
            .map_err(|e| e.to_string())?;
        let Some(user) = user else {
            return Ok(Authn::Rejected(AuthFailure::InvalidUser));
        };
        let unconfirmed = self.state.settings.email_confirmation && !user.confirmed;
        // Beyond Strapi: a JWT issued before the last password change, reset
        // or block is refused. `iat` has whole seconds, so the cut-off is the
        // second of the change (a token issued in that same second survives).
        let revoked = user
            .tokens_valid_after
            .is_some_and(|after| claims.iat.unwrap_or(0) < after.div_euclid(1000));
        if user.blocked || unconfirmed || revoked {
            return Ok(Authn::Rejected(AuthFailure::InvalidUser));
        }
        Ok(Authn::User(user))
    }

    async fn deny(&self, session: &mut Session, status: u16, body: String) -> Result<bool> {
        respond::json(session, status, body).await?;
        Ok(true)
    }
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        self.state.in_flight.fetch_add(1, Ordering::AcqRel);
        RequestCtx {
            _in_flight: InFlight(self.state.clone()),
            started: Instant::now(),
            forward: None,
            identity: None,
            canonical: None,
            action: None,
            rule: String::new(),
            subject: None,
        }
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        let (method, canonical, query) = {
            let req = session.req_header();
            let method = Method::parse(req.method.as_str());
            let canonical = canonicalize(req.uri.path());
            (method, canonical, req.uri.query().map(str::to_owned))
        };
        let canonical = match canonical {
            Ok(c) => c,
            Err(e) => {
                ctx.rule = format!("bad path: {e}");
                return self
                    .deny(session, 400, bad_path_body("Invalid request path"))
                    .await;
            }
        };
        ctx.canonical = Some(canonical.as_str().to_owned());
        let policy = self.state.policy.load_full();
        let resolved = policy.resolve(method, &canonical);
        let (action, source) = match resolved.target {
            Target::NotFound => {
                ctx.rule = "no route".into();
                let deny = portcullis_core::Deny::NOT_FOUND;
                return self.deny(session, deny.status, deny.body()).await;
            }
            Target::Passthrough | Target::Preflight => {
                ctx.rule = format!("{:?}", resolved.target).to_lowercase();
                ctx.forward = Some(with_query(resolved.forward_path, query.as_deref()));
                return Ok(false);
            }
            Target::Action { action, source } => (action, source),
        };
        ctx.action = Some(action.to_owned());
        let authn = match self.authenticate(session).await {
            Ok(a) => a,
            Err(e) => {
                // Fail closed: no decision can be made without the store.
                tracing::error!(error = %e, "user lookup failed");
                ctx.rule = "user store unavailable".into();
                let body = error_body(503, "ServiceUnavailableError", "Service Unavailable");
                return self.deny(session, 503, body).await;
            }
        };
        let caller = match &authn {
            Authn::Public => Caller::Public,
            Authn::User(u) => Caller::User {
                id: u.id,
                role: &u.role,
            },
            Authn::Token(t) => Caller::ApiToken {
                id: t.id,
                access: token_access(t),
            },
            Authn::Rejected(f) => Caller::Rejected(*f),
        };
        let (outcome, rule) = policy.authorize(action, &caller);
        ctx.rule = rule.to_string();
        ctx.subject = match &authn {
            Authn::User(u) => Some(u.id),
            Authn::Token(t) => Some(t.id),
            _ => None,
        };
        match outcome {
            Outcome::Deny(deny) => self.deny(session, deny.status, deny.body()).await,
            Outcome::Forward | Outcome::Allow => {
                if let RouteSource::UsersPermissions(route) = source {
                    // Served by the gateway itself, never by the upstream.
                    let caller = match &authn {
                        Authn::User(u) => UpCaller::User(u.clone()),
                        Authn::Token(t) => UpCaller::ApiToken {
                            id: t.id,
                            kind: match t.kind {
                                TokenType::ReadOnly => ApiTokenKind::ReadOnly,
                                TokenType::FullAccess => ApiTokenKind::FullAccess,
                                TokenType::Custom => ApiTokenKind::Custom(t.permissions.clone()),
                            },
                        },
                        _ => UpCaller::Public,
                    };
                    let path = resolved.forward_path;
                    up::answer(&self.state, session, route, policy.clone(), path, caller).await?;
                    return Ok(true);
                }
                ctx.identity = Some(match authn {
                    Authn::User(u) => Identity {
                        auth_method: "jwt",
                        user_id: Some(u.id),
                        token_id: None,
                        role: Some(u.role.clone()),
                        action: action.to_owned(),
                    },
                    Authn::Token(t) => Identity {
                        auth_method: "api-token",
                        user_id: None,
                        token_id: Some(t.id),
                        role: None,
                        action: action.to_owned(),
                    },
                    _ => Identity {
                        auth_method: "public",
                        user_id: None,
                        token_id: None,
                        role: Some(Arc::from("public")),
                        action: action.to_owned(),
                    },
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
                if let Some(v) = &s.upstream_authorization {
                    req.insert_header("Authorization", v.as_str())?;
                }
            }
        }
        if let Some(id) = &ctx.identity {
            let h = &s.headers;
            req.insert_header(h.auth_method.clone(), id.auth_method)?;
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
        Ok(())
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        resp: &mut ResponseHeader,
        _ctx: &mut RequestCtx,
    ) -> Result<()> {
        sanitize_response(resp, &self.state.reserved);
        Ok(())
    }

    fn fail_to_connect(
        &self,
        _session: &mut Session,
        _peer: &HttpPeer,
        _ctx: &mut RequestCtx,
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
        let (code, name, message) = match (e.esource(), e.etype()) {
            (_, ErrorType::HTTPStatus(c)) => (*c, "", ""),
            (
                ErrorSource::Upstream,
                ErrorType::ConnectTimedout | ErrorType::ReadTimedout | ErrorType::WriteTimedout,
            ) => (504, "GatewayTimeoutError", "Gateway Timeout"),
            (ErrorSource::Upstream, _) => (502, "BadGatewayError", "Bad Gateway"),
            (
                ErrorSource::Downstream,
                ErrorType::WriteError | ErrorType::ReadError | ErrorType::ConnectionClosed,
            ) => (0, "", ""),
            (ErrorSource::Downstream, _) => (400, "BadRequestError", "Bad Request"),
            _ => (500, "InternalServerError", "Internal Server Error"),
        };
        ctx.rule = format!("proxy error: {}", e.etype().as_str());
        if code > 0 && session.response_written().is_none() {
            let body = if name.is_empty() {
                error_body(code, "HttpError", "Error")
            } else {
                error_body(code, name, message)
            };
            if let Err(err) = respond::json(session, code, body).await {
                tracing::debug!(error = %err, "could not write the error response");
            }
        }
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut RequestCtx) {
        let status = session
            .response_written()
            .map(|r| r.status.as_u16())
            .unwrap_or(0);
        let req = session.req_header();
        tracing::info!(
            target: "portcullis::decision",
            method = %req.method,
            path = ctx.canonical.as_deref().unwrap_or("-"),
            action = ctx.action.as_deref().unwrap_or("-"),
            auth = ctx.identity.as_ref().map_or("-", |i| i.auth_method),
            subject = ctx.subject,
            rule = %ctx.rule,
            status,
            policy = %self.state.policy.load().version(),
            latency_us = u64::try_from(ctx.started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "decision"
        );
    }
}

fn with_query(mut path: String, query: Option<&str>) -> String {
    if let Some(q) = query {
        path.push('?');
        path.push_str(q);
    }
    path
}
