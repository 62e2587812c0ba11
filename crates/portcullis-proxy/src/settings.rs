//! What the proxy needs from the configuration, in its own terms (the CLI
//! builds it from `gateway.yaml`).

use std::net::SocketAddr;
use std::time::Duration;

/// What happens to the caller's `Authorization` header upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizationMode {
    Strip,
    Passthrough,
    Replace,
}

/// Names of the identity headers sent upstream.
#[derive(Debug, Clone)]
pub struct IdentityHeaderNames {
    pub user_id: String,
    pub user_role: String,
    pub auth_method: String,
    pub token_id: String,
    pub action: String,
}

impl Default for IdentityHeaderNames {
    fn default() -> Self {
        IdentityHeaderNames {
            user_id: "X-User-Id".into(),
            user_role: "X-User-Role".into(),
            auth_method: "X-Auth-Method".into(),
            token_id: "X-Api-Token-Id".into(),
            action: "X-Permission".into(),
        }
    }
}

/// The client's address: the peer, unless the peer is a trusted proxy; then
/// the right-most `X-Forwarded-For` entry that is not itself trusted (entries
/// to its left were written by the client and prove nothing).
pub fn client_ip(
    peer: Option<std::net::IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &[ipnet::IpNet],
) -> Option<std::net::IpAddr> {
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|n| n.contains(ip));
    let peer = peer?;
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let Some(list) = forwarded_for else {
        return Some(peer);
    };
    let mut last = peer;
    for entry in list.rsplit(',') {
        match entry.trim().parse::<std::net::IpAddr>() {
            Ok(ip) if is_trusted(&ip) => last = ip,
            Ok(ip) => return Some(ip),
            // Garbage: stop believing the header here.
            Err(_) => return Some(last),
        }
    }
    Some(last)
}

#[cfg(test)]
mod tests {
    use super::client_ip;

    #[test]
    fn forwarded_for_is_only_believed_from_trusted_peers() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = |s: &str| Some(s.parse().unwrap());
        assert_eq!(
            client_ip(ip("1.2.3.4"), Some("9.9.9.9"), &trusted),
            ip("1.2.3.4")
        );
        assert_eq!(
            client_ip(ip("10.0.0.5"), Some("9.9.9.9"), &trusted),
            ip("9.9.9.9")
        );
        assert_eq!(
            client_ip(ip("10.0.0.5"), Some("6.6.6.6, 9.9.9.9, 10.1.1.1"), &trusted),
            ip("9.9.9.9")
        );
        assert_eq!(client_ip(ip("10.0.0.5"), None, &trusted), ip("10.0.0.5"));
        assert_eq!(
            client_ip(ip("10.0.0.5"), Some("junk"), &trusted),
            ip("10.0.0.5")
        );
        assert_eq!(
            client_ip(ip("10.0.0.5"), Some("10.2.2.2"), &trusted),
            ip("10.2.2.2")
        );
        assert_eq!(
            client_ip(ip("1.2.3.4"), Some("9.9.9.9"), &[]),
            ip("1.2.3.4")
        );
    }
}

/// Proxy settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: String,
    /// `/metrics`, `/healthz`, `/readyz`.
    pub admin_listen: String,
    pub threads: usize,
    /// Longest time a SIGTERM/SIGINT waits for in-flight requests.
    pub shutdown_timeout: Duration,
    pub upstream: SocketAddr,
    pub authorization: AuthorizationMode,
    /// The full `Authorization` value sent with `replace`.
    pub upstream_authorization: Option<http::HeaderValue>,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub headers: IdentityHeaderNames,
    /// `users_permissions.email_confirmation`: unconfirmed users' JWTs are
    /// refused, as in Strapi.
    pub email_confirmation: bool,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}
