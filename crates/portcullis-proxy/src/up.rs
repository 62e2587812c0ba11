//! Answering a Users & Permissions route: read the body, hand the request
//! to the service on the background runtime (it owns the database
//! connections), write its response.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use pingora::prelude::*;
use pingora::proxy::Session;
use portcullis_core::Policy;
use portcullis_core::envelope::error_body;
use portcullis_core::users_permissions::{UpRoute, params};
use portcullis_users_permissions::{UpCaller, UpRequest};

use crate::respond;
use crate::state::AppState;

/// Bodies of auth routes are small JSON documents; anything larger is refused.
pub const MAX_BODY: usize = 1024 * 1024;

async fn read_body(session: &mut Session) -> Result<Option<Bytes>> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = session.read_request_body().await? {
        if buf.len() + chunk.len() > MAX_BODY {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Some(buf.freeze()))
}

/// Serves `route` for an authorized caller. Returns the status written.
pub async fn answer(
    state: &AppState,
    session: &mut Session,
    route: &'static UpRoute,
    policy: Arc<Policy>,
    forward_path: String,
    caller: UpCaller,
    request_id: &str,
) -> Result<u16> {
    let Some(body) = read_body(session).await? else {
        let body = error_body(413, "PayloadTooLargeError", "request entity too large");
        respond::json(session, 413, body, request_id).await?;
        return Ok(413);
    };
    let req_header = session.req_header();
    let prefix_len = policy
        .api_prefix()
        .split('/')
        .filter(|s| !s.is_empty())
        .count();
    let rest: Vec<&str> = forward_path
        .split('/')
        .filter(|s| !s.is_empty())
        .skip(prefix_len)
        .collect();
    let req = UpRequest {
        route,
        params: params(route, &rest),
        path: forward_path.clone(),
        query: req_header.uri.query().map(str::to_owned),
        headers: req_header.headers.clone(),
        body,
        caller,
        policy,
        client_ip: crate::settings::client_ip(
            session
                .client_addr()
                .and_then(|a| a.as_inet())
                .map(|a| a.ip()),
            req_header
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok()),
            &state.settings.trusted_proxies,
        ),
    };
    let service = state.up.clone();
    let resp = state
        .users
        .background()
        .spawn(async move { service.handle(req).await })
        .await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "users-permissions handler failed");
            let body = error_body(500, "InternalServerError", "Internal Server Error");
            respond::json(session, 500, body, request_id).await?;
            return Ok(500);
        }
    };
    count(state, route, resp.status);
    respond::write(session, resp.status, &resp.headers, resp.body, request_id).await?;
    Ok(resp.status)
}

fn count(state: &AppState, route: &UpRoute, status: u16) {
    if status == 429 {
        state.metrics.rate_limited.inc();
    }
    if route.path == "auth/local" {
        let result = if status == 200 { "success" } else { "failure" };
        state.metrics.logins.with_label_values(&[result]).inc();
    }
}
