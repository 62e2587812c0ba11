//! gateway.yaml → [`GatewayConfig`]: parse, interpolate, validate, collecting
//! every problem as a located [`Diagnostic`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_saphyr::{Location, Spanned};

use crate::diagnostic::Diagnostic;
use crate::duration::Duration;
use crate::gateway::*;
use crate::gateway_file::{GatewayFile, Str};
use crate::gateway_rules::{self as rule, Rule};
use crate::interpolate::{Env, interpolate};

/// A gateway.yaml that parsed, with what the policy cross-checks need.
pub(crate) struct Built {
    pub(crate) config: GatewayConfig,
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// Problems that stop `serve` but not `check` (an empty jwt.secret).
    pub(crate) serve_errors: Vec<Diagnostic>,
    pub(crate) default_role_at: Option<Location>,
}

struct Builder<'a> {
    file: &'a Path,
    env: Env<'a>,
    diags: Vec<Diagnostic>,
}

impl Builder<'_> {
    fn report(&mut self, loc: &Location, message: String) {
        self.diags.push(Diagnostic::at(self.file, loc, message));
    }

    /// The interpolated value, or `None` after reporting why not.
    fn text(&mut self, s: &Str) -> Option<String> {
        match interpolate(&s.value, self.env) {
            Ok(v) => Some(v),
            Err(e) => {
                self.report(&s.referenced, e.to_string());
                None
            }
        }
    }

    fn string(&mut self, s: Option<&Str>, default: &str) -> String {
        s.and_then(|s| self.text(s))
            .unwrap_or_else(|| default.to_owned())
    }

    /// Optional values: left out, or empty after interpolation, is `None`
    /// (so `${REDIS_URL:-}` can switch a feature off).
    fn optional<T>(&mut self, s: Option<&Str>, rule: impl FnOnce(&str) -> Rule<T>) -> Option<T> {
        let s = s?;
        let v = self.text(s).filter(|v| !v.is_empty())?;
        self.check(&s.referenced, rule(&v))
    }

    fn parsed<T>(&mut self, s: Option<&Str>, default: T, rule: impl FnOnce(&str) -> Rule<T>) -> T {
        let Some(s) = s else { return default };
        let Some(v) = self.text(s) else {
            return default;
        };
        self.check(&s.referenced, rule(&v)).unwrap_or(default)
    }

    fn check<T>(&mut self, loc: &Location, r: Rule<T>) -> Option<T> {
        r.map_err(|m| self.report(loc, m)).ok()
    }

    fn number<T>(
        &mut self,
        n: Option<&Spanned<u64>>,
        default: T,
        rule: impl FnOnce(u64) -> Rule<T>,
    ) -> T {
        let Some(n) = n else { return default };
        self.check(&n.referenced, rule(n.value)).unwrap_or(default)
    }

    fn duration(&mut self, s: Option<&Str>, key: &str, default: Duration) -> Duration {
        self.parsed(s, default, |v| rule::duration(key, v))
    }
}

/// Parses and validates gateway.yaml text. `file` names it in diagnostics
/// and anchors a relative `policies.dir`.
pub(crate) fn build(file: &Path, text: &str, env: Env<'_>) -> Result<Built, Vec<Diagnostic>> {
    let raw: GatewayFile =
        serde_saphyr::from_str(text).map_err(|e| vec![Diagnostic::from_yaml(file, &e)])?;
    let mut b = Builder {
        file,
        env,
        diags: Vec::new(),
    };
    let server = server(&mut b, &raw);
    let upstream = upstream(&mut b, &raw);
    let (jwt, serve_errors) = jwt(&mut b, &raw);
    let config = GatewayConfig {
        api_tokens: ApiTokensConfig {
            salt: b.optional(raw.api_tokens.salt.as_ref(), |v| Ok(v.to_owned())),
        },
        store: StoreConfig {
            url: b.parsed(
                raw.store.url.as_ref(),
                StoreConfig::default().url,
                rule::store_url,
            ),
        },
        cache: CacheConfig {
            redis_url: b.optional(raw.cache.redis_url.as_ref(), rule::redis_url),
            ttl: b.duration(
                raw.cache.ttl.as_ref(),
                "cache.ttl",
                CacheConfig::default().ttl,
            ),
        },
        policies: policies(&mut b, &raw, file),
        users_permissions: users_permissions(&mut b, &raw),
        email: EmailConfig {
            smtp_url: b.optional(raw.email.smtp_url.as_ref(), rule::smtp_url),
            from: b.string(raw.email.from.as_ref(), &EmailConfig::default().from),
        },
        providers: providers(&mut b, &raw),
        headers: headers(&mut b, &raw),
        server,
        upstream,
        jwt,
    };
    Ok(Built {
        config,
        diagnostics: b.diags,
        serve_errors,
        default_role_at: raw.users_permissions.default_role.map(|s| s.referenced),
    })
}

fn server(b: &mut Builder<'_>, raw: &GatewayFile) -> ServerConfig {
    let s = &raw.server;
    let d = ServerConfig::default();
    let api_prefix = b.parsed(
        s.api_prefix.as_ref(),
        d.api_prefix.clone(),
        rule::api_prefix,
    );
    let passthrough = match &s.passthrough {
        None => d.passthrough.clone(),
        Some(list) => list
            .iter()
            .filter_map(|p| {
                let v = b.text(p)?;
                b.check(&p.referenced, rule::passthrough(&v, &api_prefix))
            })
            .collect(),
    };
    ServerConfig {
        listen: b.parsed(s.listen.as_ref(), d.listen, |v| {
            rule::socket_addr("server.listen", v)
        }),
        admin_listen: b.parsed(s.admin_listen.as_ref(), d.admin_listen, |v| {
            rule::socket_addr("server.admin_listen", v)
        }),
        shutdown_timeout: b.duration(
            s.shutdown_timeout.as_ref(),
            "server.shutdown_timeout",
            d.shutdown_timeout,
        ),
        threads: b.number(s.threads.as_ref(), d.threads, rule::threads),
        public_url: b.optional(s.public_url.as_ref(), rule::public_url),
        trusted_proxies: match &s.trusted_proxies {
            None => Vec::new(),
            Some(list) => list
                .iter()
                .filter_map(|p| {
                    let v = b.text(p)?;
                    b.check(&p.referenced, rule::trusted_proxy(&v))
                })
                .collect(),
        },
        api_prefix,
        passthrough,
    }
}

fn upstream(b: &mut Builder<'_>, raw: &GatewayFile) -> UpstreamConfig {
    let u = &raw.upstream;
    let d = UpstreamConfig::default();
    let (url, host, port) = match &u.url {
        None => (d.url.clone(), d.host.clone(), d.port),
        Some(s) => b
            .text(s)
            .and_then(|v| {
                b.check(&s.referenced, rule::upstream_url(&v))
                    .map(|(h, p)| (v, h, p))
            })
            .unwrap_or((d.url.clone(), d.host.clone(), d.port)),
    };
    let authorization = b.parsed(
        u.authorization.as_ref(),
        d.authorization,
        rule::authorization,
    );
    let token = b.optional(u.token.as_ref(), |v| Ok(v.to_owned()));
    if let Err(m) = rule::token_required(authorization, token.as_deref()) {
        let loc = u
            .authorization
            .as_ref()
            .map_or(Location::UNKNOWN, |s| s.referenced);
        b.report(&loc, m);
    }
    UpstreamConfig {
        url,
        host,
        port,
        authorization,
        token,
        connect_timeout: b.duration(
            u.connect_timeout.as_ref(),
            "upstream.connect_timeout",
            d.connect_timeout,
        ),
        read_timeout: b.duration(
            u.read_timeout.as_ref(),
            "upstream.read_timeout",
            d.read_timeout,
        ),
    }
}

fn jwt(b: &mut Builder<'_>, raw: &GatewayFile) -> (JwtConfig, Vec<Diagnostic>) {
    let d = JwtConfig::default();
    let Some(jwt) = &raw.jwt else {
        let missing = Diagnostic::whole_file(
            b.file,
            "jwt.secret is not set; serve needs it to sign user tokens",
        );
        return (d, vec![missing]);
    };
    let secret = b.string(jwt.value.secret.as_ref(), "");
    let mut serve_errors = Vec::new();
    if secret.is_empty() {
        let loc = jwt
            .value
            .secret
            .as_ref()
            .map_or(jwt.referenced, |s| s.referenced);
        serve_errors.push(Diagnostic::at(
            b.file,
            &loc,
            "jwt.secret is empty; serve needs it to sign user tokens",
        ));
    }
    let expires_in = b.duration(
        jwt.value.expires_in.as_ref(),
        "jwt.expires_in",
        d.expires_in,
    );
    (JwtConfig { secret, expires_in }, serve_errors)
}

fn policies(b: &mut Builder<'_>, raw: &GatewayFile, file: &Path) -> PoliciesConfig {
    let d = PoliciesConfig::default();
    let dir = PathBuf::from(b.string(raw.policies.dir.as_ref(), "policies"));
    let dir = match file.parent() {
        Some(base) if dir.is_relative() => base.join(dir),
        _ => dir,
    };
    PoliciesConfig {
        dir,
        watch: raw.policies.watch.unwrap_or(d.watch),
    }
}

fn users_permissions(b: &mut Builder<'_>, raw: &GatewayFile) -> UsersPermissionsConfig {
    let u = &raw.users_permissions;
    let d = UsersPermissionsConfig::default();
    let fields = u.register_allowed_fields.as_deref().unwrap_or_default();
    UsersPermissionsConfig {
        allow_register: u.allow_register.unwrap_or(d.allow_register),
        default_role: b.string(u.default_role.as_ref(), &d.default_role),
        unique_email: u.unique_email.unwrap_or(d.unique_email),
        email_confirmation: u.email_confirmation.unwrap_or(d.email_confirmation),
        email_confirmation_redirection: b.string(
            u.email_confirmation_redirection.as_ref(),
            &d.email_confirmation_redirection,
        ),
        email_reset_password: b.string(u.email_reset_password.as_ref(), &d.email_reset_password),
        register_allowed_fields: fields.iter().filter_map(|f| b.text(f)).collect(),
        rate_limit: RateLimitConfig {
            interval: b.duration(
                u.rate_limit.interval.as_ref(),
                "users_permissions.rate_limit.interval",
                d.rate_limit.interval,
            ),
            max: b.number(
                u.rate_limit.max.as_ref(),
                d.rate_limit.max,
                rule::rate_limit_max,
            ),
        },
        reset_token_ttl: b.duration(
            u.reset_token_ttl.as_ref(),
            "users_permissions.reset_token_ttl",
            d.reset_token_ttl,
        ),
    }
}

fn providers(b: &mut Builder<'_>, raw: &GatewayFile) -> BTreeMap<String, ProviderConfig> {
    let mut out = BTreeMap::new();
    for (name, p) in &raw.providers.0 {
        let config = ProviderConfig {
            client_id: b.string(Some(&p.client_id), ""),
            client_secret: b.string(Some(&p.client_secret), ""),
            redirect: b.string(Some(&p.redirect), ""),
        };
        out.insert(name.value.clone(), config);
    }
    out
}

fn headers(b: &mut Builder<'_>, raw: &GatewayFile) -> HeadersConfig {
    let h = &raw.headers;
    let d = HeadersConfig::default();
    let mut name = |s: &Option<Str>, key: &str, default: &str| {
        b.parsed(s.as_ref(), default.to_owned(), |v| {
            rule::header_name(key, v)
        })
    };
    let config = HeadersConfig {
        user_id: name(&h.user_id, "headers.user_id", &d.user_id),
        user_role: name(&h.user_role, "headers.user_role", &d.user_role),
        auth_method: name(&h.auth_method, "headers.auth_method", &d.auth_method),
        token_id: name(&h.token_id, "headers.token_id", &d.token_id),
        action: name(&h.action, "headers.action", &d.action),
    };
    let locs = [
        &h.user_id,
        &h.user_role,
        &h.auth_method,
        &h.token_id,
        &h.action,
    ];
    let names = config.names();
    for (i, n) in names.iter().enumerate() {
        if names[..i].iter().any(|m| m.eq_ignore_ascii_case(n)) {
            let loc = locs[i].as_ref().map_or(Location::UNKNOWN, |s| s.referenced);
            b.report(
                &loc,
                format!("header name {n:?} is used for two identity headers"),
            );
        }
    }
    config
}
