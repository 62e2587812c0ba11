//! `portcullis serve`: build the shared state, then hand over to Pingora.

use std::net::ToSocketAddrs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use anyhow::{Context, bail};
use arc_swap::ArcSwap;
use portcullis_auth::JwtKeys;
use portcullis_config::{AuthorizationMode as CfgAuth, GatewayConfig};
use portcullis_proxy::fleet::{FleetUserEvents, PolicyOrigin};
use portcullis_proxy::headers::{IdentityHeaders, ReservedHeaders};
use portcullis_proxy::metrics::Metrics;
use portcullis_proxy::tokens::TokenDirectory;
use portcullis_proxy::{AppState, AuthorizationMode, IdentityHeaderNames, Settings, UserDirectory};
use portcullis_redis::{Fleet, RedisRateLimiter};
use portcullis_store::{Store, UserCache};
use portcullis_users_permissions as up;

fn settings(g: &GatewayConfig) -> anyhow::Result<Settings> {
    let upstream = (g.upstream.host.as_str(), g.upstream.port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve upstream {}", g.upstream.url))?
        .next()
        .with_context(|| format!("upstream {} has no address", g.upstream.url))?;
    let authorization = match g.upstream.authorization {
        CfgAuth::Strip => AuthorizationMode::Strip,
        CfgAuth::Passthrough => AuthorizationMode::Passthrough,
        CfgAuth::Replace => AuthorizationMode::Replace,
    };
    let h = &g.headers;
    Ok(Settings {
        listen: g.server.listen.to_string(),
        admin_listen: g.server.admin_listen.to_string(),
        threads: g.server.threads,
        shutdown_timeout: g.server.shutdown_timeout.into(),
        upstream,
        authorization,
        upstream_authorization: match &g.upstream.token {
            Some(t) => {
                let mut v = http::HeaderValue::from_str(&format!("Bearer {t}"))
                    .context("upstream.token cannot be sent in a header")?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        },
        connect_timeout: g.upstream.connect_timeout.into(),
        read_timeout: g.upstream.read_timeout.into(),
        headers: IdentityHeaderNames {
            user_id: h.user_id.clone(),
            user_role: h.user_role.clone(),
            auth_method: h.auth_method.clone(),
            token_id: h.token_id.clone(),
            action: h.action.clone(),
        },
        email_confirmation: g.users_permissions.email_confirmation,
        trusted_proxies: g.server.trusted_proxies.clone(),
    })
}

/// The Users & Permissions service, from `users_permissions:`, `email:` and
/// `providers:`.
fn users_permissions_service(
    g: &GatewayConfig,
    store: Store,
    cache: UserCache,
    jwt: JwtKeys,
    fleet: Option<Fleet>,
) -> anyhow::Result<up::Service> {
    let u = &g.users_permissions;
    let settings = up::UpSettings {
        allow_register: u.allow_register,
        default_role: u.default_role.clone(),
        unique_email: u.unique_email,
        email_confirmation: u.email_confirmation,
        email_confirmation_redirection: u.email_confirmation_redirection.clone(),
        email_reset_password: u.email_reset_password.clone(),
        register_allowed_fields: u.register_allowed_fields.clone(),
        rate_limit_interval: u.rate_limit.interval.into(),
        rate_limit_max: u.rate_limit.max,
        reset_token_ttl: u.reset_token_ttl.into(),
        api_prefix: g.server.api_prefix.clone(),
        providers: g
            .providers
            .iter()
            .map(|(name, p)| up::ProviderSettings {
                name: name.clone(),
                client_id: p.client_id.clone(),
                client_secret: p.client_secret.clone(),
                redirect: p.redirect.clone(),
            })
            .collect(),
    };
    Ok(up::Service {
        store,
        jwt,
        // Hashing runs on blocking threads, at most this many at once, so a
        // login flood queues there instead of stalling the proxy.
        passwords: portcullis_store::PasswordPool::new(2),
        mailer: crate::mail::mailer(g)?,
        limiter: match &fleet {
            // Shared counters; per-replica counting while Redis is down.
            Some(f) => Arc::new(RedisRateLimiter::new(
                f.clone(),
                Arc::new(up::MemoryRateLimiter::new()),
            )),
            None => Arc::new(up::MemoryRateLimiter::new()),
        },
        events: Arc::new(FleetUserEvents { cache, fleet }),
        settings,
    })
}

/// Keeps the log writer's thread alive; dropped (flushing every line) by
/// the server just before the process exits.
static LOG_GUARD: std::sync::Mutex<Option<tracing_appender::non_blocking::WorkerGuard>> =
    std::sync::Mutex::new(None);

fn flush_logs() {
    if let Ok(mut guard) = LOG_GUARD.lock() {
        guard.take();
    }
}

/// Logs go to stderr: JSON lines (`logfmt`), or text on a terminal or with
/// `PORTCULLIS_LOG_FORMAT=text`. A dedicated thread writes them, in batches
/// when they come fast, so a proxy thread never waits for `write(2)`; when
/// that thread falls behind by 16k lines, loggers wait (nothing is dropped).
/// (The queue is allocated whole: tracing-appender's default of 128k lines
/// kept 4 MiB resident.)
fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let text = std::io::stderr().is_terminal()
        || std::env::var("PORTCULLIS_LOG_FORMAT").is_ok_and(|v| v == "text");
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(16_384)
        .thread_name("portcullis-log")
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    if let Ok(mut slot) = LOG_GUARD.lock() {
        *slot = Some(guard);
    }
    portcullis_proxy::server::before_exit(flush_logs);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let _ = if text {
        builder.try_init()
    } else {
        builder.event_format(crate::logfmt::JsonLines).try_init()
    };
}

pub fn run(config: &Path) -> anyhow::Result<()> {
    // `serve` only returns on a start-up error; its log lines must be
    // written before main prints the error and exits.
    let result = start(config);
    flush_logs();
    result
}

fn start(config: &Path) -> anyhow::Result<()> {
    let loaded = crate::load(config)?;
    let g = &loaded.gateway;
    if let Err(diags) = loaded.ready_to_serve() {
        let lines: Vec<String> = diags.iter().map(ToString::to_string).collect();
        bail!(
            "cannot serve with {}:\n{}",
            config.display(),
            lines.join("\n")
        );
    }
    init_logging();
    let settings = settings(g)?;
    portcullis_proxy::server::check_listen(&settings.listen).map_err(anyhow::Error::msg)?;
    portcullis_proxy::server::check_listen(&settings.admin_listen).map_err(anyhow::Error::msg)?;
    // The background runtime owns database and Redis connections (see
    // UserDirectory); it lives as long as the process.
    let background = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("portcullis-bg")
        .enable_all()
        .build()
        .context("cannot start the background runtime")?;
    let rt = background.handle().clone();
    std::mem::forget(background);
    let store = rt
        .block_on(Store::connect(&g.store.url))
        .with_context(|| format!("cannot open the store ({:?})", g.store.kind()))?;
    let fleet = match &g.cache.redis_url {
        Some(url) => Some(
            rt.block_on(Fleet::connect(url, portcullis_redis::DEFAULT_PREFIX))
                .context("cache.redis_url is not usable")?,
        ),
        None => None,
    };
    let cache = UserCache::new(g.cache.ttl.into());
    let jwt = JwtKeys::new(g.jwt.secret.as_bytes(), g.jwt.expires_in.into());
    let service =
        users_permissions_service(g, store.clone(), cache.clone(), jwt.clone(), fleet.clone())?;
    let tokens = TokenDirectory::new(
        g.api_tokens.salt.clone(),
        g.cache.ttl.into(),
        store.clone(),
        rt.clone(),
    );
    let mut users = UserDirectory::new(cache, store, rt.clone());
    if let Some(f) = &fleet {
        users = users.with_fleet(f.clone(), g.cache.ttl.into());
    }
    portcullis_proxy::sync::spawn(users.clone(), tokens.clone(), Duration::from_secs(1));
    let reserved = ReservedHeaders::new(&settings.headers);
    let identity_headers = IdentityHeaders::new(&settings.headers).map_err(anyhow::Error::msg)?;
    let state = Arc::new(AppState {
        policy: ArcSwap::from_pointee(loaded.policy.clone()),
        jwt: portcullis_proxy::jwt_cache::JwtVerifier::new(jwt),
        users,
        tokens,
        settings,
        reserved,
        identity_headers,
        in_flight: AtomicUsize::new(0),
        up: Arc::new(service),
        metrics: Metrics::new().context("cannot register metrics")?,
    });
    state.metrics.set_policy(state.policy.load().version());
    start_policy_sync(&state, g, fleet, &rt);
    portcullis_proxy::server::run(state)
}

/// Publishing to and following the fleet (with Redis), and the file watch.
fn start_policy_sync(
    state: &Arc<AppState>,
    g: &GatewayConfig,
    fleet: Option<Fleet>,
    rt: &tokio::runtime::Handle,
) {
    let origin = PolicyOrigin {
        api_prefix: g.server.api_prefix.clone(),
        passthrough: g.server.passthrough.clone(),
    };
    if let Some(f) = &fleet {
        // A starting replica follows the fleet: it adopts the active policy
        // in Redis. Only the first replica (Redis holds none yet) publishes
        // its files; afterwards a policy changes when a replica's watched
        // files change (a ConfigMap edit), and every replica follows.
        match rt.block_on(f.active_policy()) {
            Ok(Some(_)) => rt.block_on(portcullis_proxy::fleet::adopt_active(state, f, &origin)),
            Ok(None) => {
                let sources =
                    portcullis_config::read_policy_sources(&g.policies.dir).unwrap_or_default();
                let version = state.policy.load().version().to_owned();
                rt.block_on(portcullis_proxy::fleet::publish(f, &version, &sources));
            }
            Err(e) => {
                tracing::warn!(error = %e, "Redis unavailable at start: using the local policy files")
            }
        }
        let _entered = rt.enter();
        portcullis_proxy::fleet::subscribe(state.clone(), f.clone(), origin.clone(), rt.clone());
    }
    if g.policies.watch {
        portcullis_proxy::watch::spawn(state.clone(), g.policies.dir.clone(), origin, fleet, rt);
    }
}
