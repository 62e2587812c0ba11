//! gateway.yaml: defaults, interpolation and each value rule, with the exact
//! `file:line:column: message` users see.

use std::path::Path;

use super::{lines, no_env};
use crate::{AuthorizationMode, Duration, GatewayConfig, StoreKind, parse_gateway_str};

fn gw_with(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<GatewayConfig, Vec<String>> {
    parse_gateway_str(Path::new("gateway.yaml"), text, env).map_err(|d| lines(&d))
}

fn gw(text: &str) -> Result<GatewayConfig, Vec<String>> {
    gw_with(text, &no_env)
}

/// The single problem a text has.
fn err(text: &str) -> String {
    match gw(text) {
        Ok(_) => panic!("accepted: {text}"),
        Err(mut e) if e.len() == 1 => e.remove(0),
        Err(e) => panic!("expected one problem, got {e:#?}"),
    }
}

#[test]
fn an_empty_file_gives_the_defaults() {
    let mut expected = GatewayConfig::default();
    expected.policies.dir = "policies".into();
    assert_eq!(gw(""), Ok(expected));
}

#[test]
fn values_are_parsed_into_the_model() {
    let text = "server:\n  listen: \"[::1]:80\"\n  threads: 4\n  shutdown_timeout: 5s\nupstream:\n  url: http://strapi:1337/\n  authorization: replace\n  token: t0k\nstore: { url: \"postgres://u:p@db/app\" }\ncache: { redis_url: \"redis://r:6379\", ttl: 500ms }\nproviders:\n  github: { client_id: id, client_secret: sec, redirect: \"http://x/cb\" }\n";
    let g = gw(text).unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(g.server.listen.to_string(), "[::1]:80");
    assert_eq!(g.server.threads, 4);
    assert_eq!(g.server.shutdown_timeout, Duration::from_secs(5));
    assert_eq!(
        (g.upstream.host.as_str(), g.upstream.port),
        ("strapi", 1337)
    );
    assert_eq!(g.upstream.authorization, AuthorizationMode::Replace);
    assert_eq!(g.upstream.token.as_deref(), Some("t0k"));
    assert_eq!(g.store.kind(), StoreKind::Postgres);
    assert_eq!(g.cache.redis_url.as_deref(), Some("redis://r:6379"));
    assert_eq!(g.cache.ttl, Duration::from_millis(500));
    assert_eq!(
        g.providers.get("github").map(|p| p.client_secret.as_str()),
        Some("sec")
    );
}

#[test]
fn unknown_keys_are_rejected_where_they_are() {
    assert_eq!(
        err("server:\n  listen: \"127.0.0.1:1\"\n  lisen: x\n"),
        "gateway.yaml:3:3: unknown field `lisen`, expected one of listen, admin_listen, api_prefix, passthrough, shutdown_timeout, threads, public_url, trusted_proxies"
    );
    assert_eq!(
        err("users_permissions:\n  rate_limit:\n    interval: 1m\n    maximum: 3\n"),
        "gateway.yaml:4:5: unknown field `maximum`, expected one of interval, max"
    );
    assert!(err("serve: {}\n").starts_with("gateway.yaml:1:1: unknown field `serve`"));
}

#[test]
fn yaml_syntax_errors_are_located() {
    assert_eq!(
        err("server:\n  listen: [x\n"),
        "gateway.yaml:2:11: expected string scalar"
    );
}

#[test]
fn interpolation_uses_the_injected_environment() {
    let env = |name: &str| (name == "PORT").then(|| "9000".to_owned());
    let g = gw_with(
        "server:\n  listen: \"0.0.0.0:${PORT}\"\n  admin_listen: \"${ADMIN:-127.0.0.1:9999}\"\n",
        &env,
    );
    let g = g.unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(g.server.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(g.server.admin_listen.to_string(), "127.0.0.1:9999");
    let g =
        gw("email:\n  from: \"$${NOT_A_VAR}@example.com\"\n").unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(g.email.from, "${NOT_A_VAR}@example.com");
}

#[test]
fn an_unset_variable_is_an_error_at_its_value() {
    assert_eq!(
        err("jwt:\n  secret: \"${JWT_SECRET}\"\n"),
        "gateway.yaml:2:11: environment variable JWT_SECRET is not set and has no default (write ${JWT_SECRET:-default} to give one)"
    );
}

#[test]
fn empty_optional_values_switch_features_off() {
    let g = gw("cache:\n  redis_url: \"${REDIS_URL:-}\"\n").unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(g.cache.redis_url, None);
}

#[test]
fn listen_addresses_must_parse() {
    assert_eq!(
        err("server:\n  admin_listen: localhost:9091\n"),
        "gateway.yaml:2:17: server.admin_listen \"localhost:9091\" is not an IP address and port such as \"127.0.0.1:8080\""
    );
}

#[test]
fn durations_must_be_whole_numbers_of_a_unit() {
    assert_eq!(
        err("upstream:\n  read_timeout: 1.5s\n"),
        "gateway.yaml:2:17: upstream.read_timeout: invalid duration \"1.5s\": expected a positive whole number followed by ms, s, m, h or d, such as \"30s\""
    );
}

#[test]
fn upstream_url_must_be_http_host_port() {
    assert_eq!(
        err("upstream:\n  url: https://strapi:1337\n"),
        "gateway.yaml:2:8: upstream.url \"https://strapi:1337\": https upstreams are not supported; use http:// to an upstream on a private network"
    );
    assert_eq!(
        err("upstream: { url: \"strapi:1337\" }\n"),
        "gateway.yaml:1:18: upstream.url \"strapi:1337\" must be http://host:port"
    );
    assert_eq!(
        err("upstream: { url: \"http://strapi:1337/api\" }\n"),
        "gateway.yaml:1:18: upstream.url \"http://strapi:1337/api\" must be http://host:port, without a path, query or user"
    );
    assert_eq!(
        err("upstream: { url: \"http://strapi:99999\" }\n"),
        "gateway.yaml:1:18: upstream.url \"http://strapi:99999\" must be http://host:port"
    );
    let g = gw("upstream: { url: \"http://strapi\" }\n").unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(g.upstream.port, 80);
}

#[test]
fn authorization_mode_and_replace_token() {
    assert_eq!(
        err("upstream:\n  authorization: swap\n"),
        "gateway.yaml:2:18: upstream.authorization \"swap\" must be one of strip, passthrough, replace"
    );
    assert_eq!(
        err("upstream:\n  authorization: replace\n"),
        "gateway.yaml:2:18: upstream.authorization is replace but upstream.token is not set"
    );
}

#[test]
fn api_prefix_shape() {
    assert_eq!(
        err("server: { api_prefix: api }\n"),
        "gateway.yaml:1:23: server.api_prefix \"api\" must start with '/'"
    );
    assert_eq!(
        err("server: { api_prefix: /api/ }\n"),
        "gateway.yaml:1:23: server.api_prefix \"/api/\" must not end with '/'"
    );
    assert_eq!(
        err("server: { api_prefix: /api/:v }\n"),
        "gateway.yaml:1:23: server.api_prefix \"/api/:v\" must not contain a :parameter"
    );
}

#[test]
fn passthrough_entries_stay_outside_the_api() {
    assert_eq!(
        err("server:\n  passthrough: [\"/uploads/\", uploads]\n"),
        "gateway.yaml:2:30: server.passthrough entry \"uploads\" must start with '/'"
    );
    let e = gw("server:\n  passthrough: [\"/api/files\", \"/\", \"/apix\"]\n")
        .err()
        .unwrap_or_default();
    assert_eq!(
        e,
        [
            "gateway.yaml:2:17: server.passthrough entry \"/api/files\" overlaps the API prefix \"/api\"; API requests are never forwarded unchecked",
            "gateway.yaml:2:31: server.passthrough entry \"/\" overlaps the API prefix \"/api\"; API requests are never forwarded unchecked",
        ]
    );
}

#[test]
fn store_cache_and_smtp_urls_name_only_the_scheme() {
    assert_eq!(
        err("store: { url: \"mysql://root:hunter2@db/app\" }\n"),
        "gateway.yaml:1:15: store.url must start with sqlite:, postgres: or postgresql: (found scheme \"mysql\")"
    );
    assert_eq!(
        err("cache: { redis_url: \"http://r\" }\n"),
        "gateway.yaml:1:21: cache.redis_url must start with redis:// or rediss:// (found scheme \"http\")"
    );
    assert_eq!(
        err("email: { smtp_url: \"mail.example.com\" }\n"),
        "gateway.yaml:1:20: email.smtp_url must start with smtp:// or smtps:// (found scheme \"\")"
    );
}

#[test]
fn header_names_must_be_tokens_and_distinct() {
    assert_eq!(
        err("headers:\n  user_id: \"X User\"\n"),
        "gateway.yaml:2:12: headers.user_id \"X User\" is not a valid HTTP header name"
    );
    assert_eq!(
        err("headers:\n  action: x-user-id\n"),
        "gateway.yaml:2:11: header name \"x-user-id\" is used for two identity headers"
    );
}

#[test]
fn numbers_have_ranges() {
    assert_eq!(
        err("users_permissions:\n  rate_limit: { interval: 1m, max: 0 }\n"),
        "gateway.yaml:2:36: users_permissions.rate_limit.max 0 must be between 1 and 4294967295"
    );
    assert_eq!(
        err("server:\n  threads: 0\n"),
        "gateway.yaml:2:12: server.threads 0 must be between 1 and 1024"
    );
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let e = gw("server:\n  listen: x\nupstream:\n  connect_timeout: 2\n")
        .err()
        .unwrap_or_default();
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(e[0].starts_with("gateway.yaml:2:11: server.listen \"x\""));
    assert!(
        e[1].starts_with("gateway.yaml:4:20: upstream.connect_timeout: invalid duration \"2\"")
    );
}

#[test]
fn arbitrary_text_never_panics() {
    for text in [
        "\u{0}",
        ":",
        "- - -",
        "server: [",
        "{{{",
        "server:\n  listen: \"${\"",
        "jwt: ~",
        "providers: [1]",
        "a: &x [*x]",
    ] {
        let _ = gw(text);
    }
}
