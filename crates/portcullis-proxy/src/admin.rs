//! The admin listener (`server.admin_listen`, never the proxy port):
//! `GET /metrics`, `/healthz` (process up), `/readyz` (policy loaded, store
//! reachable, Redis state).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use http::Response;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use serde_json::json;

use crate::state::AppState;

/// The admin HTTP application.
pub struct Admin {
    pub state: Arc<AppState>,
}

fn response(status: u16, content_type: &str, body: Vec<u8>) -> Response<Vec<u8>> {
    let mut resp = Response::new(body);
    *resp.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    let len = resp.body().len();
    resp.headers_mut()
        .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
    resp
}

impl Admin {
    async fn ready(&self) -> Response<Vec<u8>> {
        let store = self.state.users.store().clone();
        let ping =
            self.state.users.background().spawn(async move {
                tokio::time::timeout(Duration::from_secs(2), store.ping()).await
            });
        let store_ok = matches!(ping.await, Ok(Ok(Ok(()))));
        let redis = self.state.redis_status();
        // Redis down degrades (per-replica rate limits, database reads) but
        // does not stop serving.
        let ready = store_ok;
        let body = json!({
            "status": if ready { "ready" } else { "not ready" },
            "policy": self.state.policy.load().version(),
            "store": if store_ok { "ok" } else { "unreachable" },
            "redis": redis,
        });
        response(
            if ready { 200 } else { 503 },
            "application/json",
            body.to_string().into_bytes(),
        )
    }
}

#[async_trait]
impl ServeHttp for Admin {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let req = session.req_header();
        if req.method != http::Method::GET && req.method != http::Method::HEAD {
            return response(405, "text/plain", b"method not allowed\n".to_vec());
        }
        match req.uri.path() {
            "/metrics" => {
                let cache = self.state.users.cache();
                self.state
                    .metrics
                    .sync_cache("local", cache.hits(), cache.misses());
                if let Some(fleet) = self.state.users.fleet() {
                    let (hits, misses) = self.state.users.redis_stats();
                    self.state.metrics.sync_cache("redis", hits, misses);
                    self.state
                        .metrics
                        .sync_redis(fleet.errors(), fleet.commands_sent());
                }
                response(
                    200,
                    "text/plain; version=0.0.4",
                    self.state.metrics.render(),
                )
            }
            "/healthz" => response(200, "application/json", br#"{"status":"ok"}"#.to_vec()),
            "/readyz" => self.ready().await,
            _ => response(404, "text/plain", b"not found\n".to_vec()),
        }
    }
}
