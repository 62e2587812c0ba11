//! OAuth entry points (strapi-behavior.md §3.9). Minimal on purpose.
//!
//! * `GET /api/connect/<provider>`: a provider that is not configured, or
//!   not one of `github`/`google`, is `This provider is disabled`. A
//!   `?callback=` must have the same origin and path as the provider's
//!   configured `redirect` (Strapi's default `callback.validate`), else 400
//!   `Invalid callback URL provided` with `details.callback`. Otherwise 302
//!   to the provider's authorize URL with `client_id`, `redirect_uri`
//!   (`<server.public_url><api_prefix>/connect/<provider>/callback`), `scope`
//!   and a random `state`, which is also set as an HttpOnly cookie scoped to
//!   that path for the code exchange to check.
//! * The code exchange is **not implemented** in this version:
//!   `GET /api/connect/<provider>/callback` redirects to the provider's
//!   `redirect` with `error=oauth_error`, as Strapi does when an exchange
//!   fails, and `GET /api/auth/<provider>/callback` never finds a completed
//!   provider session (`OAuth authentication requires a completed provider
//!   session`, Strapi ≥ 5.53). Tokens in the query string are never trusted.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::json;

use super::random_hex;
use crate::error::ApiError;
use crate::request::{UpRequest, UpResponse};
use crate::{ProviderSettings, Service};

/// RFC 3986 unreserved characters stay as they are.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How long the `state` cookie lives (seconds).
const STATE_MAX_AGE: u32 = 600;

/// Authorize endpoint and scopes (Strapi's defaults) of the providers this
/// gateway can start a login with.
fn authorize_endpoint(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "github" => Some((
            "https://github.com/login/oauth/authorize",
            "user user:email",
        )),
        "google" => Some(("https://accounts.google.com/o/oauth2/v2/auth", "email")),
        _ => None,
    }
}

fn enabled<'a>(svc: &'a Service, name: &str) -> Option<&'a ProviderSettings> {
    authorize_endpoint(name)?;
    svc.settings.providers.iter().find(|p| p.name == name)
}

fn disabled() -> ApiError {
    ApiError::application("This provider is disabled")
}

/// `GET /api/auth/<provider>/callback` (not `local`).
pub(super) fn callback(svc: &Service, provider: &str) -> Result<UpResponse, ApiError> {
    if enabled(svc, provider).is_none() {
        return Err(disabled());
    }
    Err(ApiError::application(
        "OAuth authentication requires a completed provider session",
    ))
}

/// `GET /api/connect/*`.
pub(super) fn connect(svc: &Service, req: &UpRequest) -> Result<UpResponse, ApiError> {
    let rest = req.param("*").unwrap_or_default();
    let mut segments = rest.split('/');
    let name = segments.next().unwrap_or_default();
    let provider = enabled(svc, name).ok_or_else(disabled)?;

    let callbacks: Vec<String> = req
        .query_pairs()
        .into_iter()
        .filter(|(k, _)| k == "callback")
        .map(|(_, v)| v)
        .collect();
    match callbacks.as_slice() {
        [] => {}
        [one] if same_origin_and_path(one, &provider.redirect) => {}
        [one] => return Err(invalid_callback(json!(one))),
        many => return Err(invalid_callback(json!(many))),
    }

    match (segments.next(), segments.next()) {
        (None, _) => Ok(authorize(svc, req, provider, name)),
        (Some("callback"), None) => {
            let sep = if provider.redirect.contains('?') {
                '&'
            } else {
                '?'
            };
            let description = utf8_percent_encode(
                "OAuth code exchange is not supported by this gateway",
                COMPONENT,
            );
            Ok(UpResponse::redirect(&format!(
                "{}{sep}error=oauth_error&error_description={description}",
                provider.redirect
            )))
        }
        _ => Err(ApiError::not_found("Not Found")),
    }
}

fn invalid_callback(callback: serde_json::Value) -> ApiError {
    ApiError::validation("Invalid callback URL provided")
        .with_details(json!({ "callback": callback }))
}

fn authorize(
    svc: &Service,
    req: &UpRequest,
    provider: &ProviderSettings,
    name: &str,
) -> UpResponse {
    let (endpoint, scope) = authorize_endpoint(name).unwrap_or_default();
    // The callback origin comes from configuration only (`server.public_url`,
    // else the origin of the provider's configured redirect), never from the
    // request's Host or X-Forwarded-* headers, which a client controls.
    let _ = req;
    let origin = Some(svc.mailer.server_url().trim_end_matches('/'))
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .or_else(|| {
            parse_url(&provider.redirect).map(|u| {
                let scheme = if provider.redirect.starts_with("https://") {
                    "https"
                } else {
                    "http"
                };
                match u.port {
                    Some(p) => format!("{scheme}://{}:{p}", u.host),
                    None => format!("{scheme}://{}", u.host),
                }
            })
        })
        .unwrap_or_else(|| "http://localhost".to_owned());
    let prefix = svc.settings.api_prefix.trim_end_matches('/');
    let path = format!("{prefix}/connect/{name}");
    let redirect_uri = format!("{origin}{path}/callback");
    let state = random_hex(32);
    let enc = |s: &str| utf8_percent_encode(s, COMPONENT).to_string();
    let location = format!(
        "{endpoint}?client_id={}&redirect_uri={}&response_type=code&scope={}&state={state}",
        enc(&provider.client_id),
        enc(&redirect_uri),
        enc(scope),
    );
    let secure = if origin.starts_with("https:") {
        "; Secure"
    } else {
        ""
    };
    let mut resp = UpResponse::redirect(&location);
    resp.headers.push((
        "Set-Cookie".into(),
        format!(
            "portcullis_oauth_state={state}; Path={path}; Max-Age={STATE_MAX_AGE}; HttpOnly; SameSite=Lax{secure}"
        ),
    ));
    resp
}

/// The parts of an absolute http(s) URL that `callback.validate` compares.
#[derive(Debug, PartialEq, Eq)]
struct Url {
    scheme: String,
    host: String,
    port: Option<u16>,
    path: String,
}

/// A deliberately strict parser: anything a browser might read differently
/// from us (backslashes, whitespace, control characters, user info,
/// non-http schemes) is refused, which makes the callback invalid.
fn parse_url(s: &str) -> Option<Url> {
    if s.chars()
        .any(|c| c == '\\' || c.is_whitespace() || c.is_control())
    {
        return None;
    }
    let (scheme, rest) = s.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && (!h.contains(':') || h.ends_with(']')) => (
            h,
            if p.is_empty() {
                None
            } else {
                Some(p.parse::<u16>().ok()?)
            },
        ),
        _ => (authority, None),
    };
    if host.is_empty() {
        return None;
    }
    let default_port = if scheme == "https" { 443 } else { 80 };
    let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
    let path = if path_end == 0 {
        "/"
    } else {
        &tail[..path_end]
    };
    Some(Url {
        host: host.to_ascii_lowercase(),
        port: port.filter(|p| *p != default_port),
        path: path.to_owned(),
        scheme,
    })
}

/// Strapi's default `callback.validate`: same origin and same pathname
/// (the query may differ).
fn same_origin_and_path(callback: &str, configured: &str) -> bool {
    match (parse_url(callback), parse_url(configured)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}
