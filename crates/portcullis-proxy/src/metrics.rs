//! Prometheus metrics (names are a contract: docs/deployment.md and the
//! Grafana dashboard use them).

use std::sync::OnceLock;

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Every metric the gateway exports.
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    /// `requests` children by (outcome, auth method), resolved on first use:
    /// `with_label_values` hashes both labels under a lock on every call.
    request_children: Vec<OnceLock<IntCounter>>,
    pub decision_seconds: Histogram,
    pub upstream_seconds: Histogram,
    pub cache: IntCounterVec,
    pub redis_errors: IntCounter,
    pub redis_commands: IntCounter,
    pub store_errors: IntCounter,
    pub logins: IntCounterVec,
    pub rate_limited: IntCounter,
    pub policy_reloads: IntCounterVec,
    pub policy_info: IntGaugeVec,
}

fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

fn counter(registry: &Registry, name: &str, help: &str) -> prometheus::Result<IntCounter> {
    let c = IntCounter::new(name, help)?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    buckets: Vec<f64>,
) -> prometheus::Result<Histogram> {
    let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))?;
    registry.register(Box::new(h.clone()))?;
    Ok(h)
}

impl Metrics {
    pub fn new() -> prometheus::Result<Metrics> {
        let registry = Registry::new();
        let fast = vec![
            0.000_001, 0.000_005, 0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05,
            0.1, 0.5,
        ];
        let slow = vec![
            0.000_5, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let m = Metrics {
            requests: counter_vec(
                &registry,
                "portcullis_requests_total",
                "Requests by outcome (allowed, forwarded, 400, 401, 403, 404, 413, 429, 5xx) and auth method",
                &["outcome", "auth_method"],
            )?,
            decision_seconds: histogram(
                &registry,
                "portcullis_decision_duration_seconds",
                "Time from request start to the decision",
                fast,
            )?,
            upstream_seconds: histogram(
                &registry,
                "portcullis_upstream_duration_seconds",
                "Time from sending the request upstream to its response header",
                slow,
            )?,
            cache: counter_vec(
                &registry,
                "portcullis_cache_requests_total",
                "Cache lookups by tier (local, redis) and result (hit, miss)",
                &["tier", "result"],
            )?,
            redis_errors: counter(
                &registry,
                "portcullis_redis_errors_total",
                "Redis command errors",
            )?,
            redis_commands: counter(
                &registry,
                "portcullis_redis_commands_total",
                "Redis commands sent",
            )?,
            store_errors: counter(
                &registry,
                "portcullis_store_errors_total",
                "Database errors on the request path",
            )?,
            logins: counter_vec(
                &registry,
                "portcullis_logins_total",
                "Local logins by result",
                &["result"],
            )?,
            rate_limited: counter(
                &registry,
                "portcullis_rate_limited_total",
                "Requests answered 429",
            )?,
            policy_reloads: counter_vec(
                &registry,
                "portcullis_policy_reloads_total",
                "Policy reloads by result (ok, rejected)",
                &["result"],
            )?,
            policy_info: {
                let g = IntGaugeVec::new(
                    Opts::new("portcullis_policy_info", "The active policy version"),
                    &["version"],
                )?;
                registry.register(Box::new(g.clone()))?;
                g
            },
            request_children: (0..OUTCOMES.len() * AUTH_METHODS.len())
                .map(|_| OnceLock::new())
                .collect(),
            registry,
        };
        let build = IntGaugeVec::new(
            Opts::new("portcullis_build_info", "Build information"),
            &["version"],
        )?;
        m.registry.register(Box::new(build.clone()))?;
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        Ok(m)
    }

    /// Counts one request.
    pub fn count_request(&self, outcome: &'static str, auth_method: &'static str) {
        let o = OUTCOMES.iter().position(|x| *x == outcome);
        let a = AUTH_METHODS.iter().position(|x| *x == auth_method);
        match (o, a) {
            (Some(o), Some(a)) => self.request_children[o * AUTH_METHODS.len() + a]
                .get_or_init(|| self.requests.with_label_values(&[outcome, auth_method]))
                .inc(),
            _ => self
                .requests
                .with_label_values(&[outcome, auth_method])
                .inc(),
        }
    }

    /// Marks `version` as the active policy.
    pub fn set_policy(&self, version: &str) {
        self.policy_info.reset();
        self.policy_info.with_label_values(&[version]).set(1);
    }

    /// Brings the cache counters up to the tier's own hit/miss counts.
    pub fn sync_cache(&self, tier: &str, hits: u64, misses: u64) {
        for (result, total) in [("hit", hits), ("miss", misses)] {
            let c = self.cache.with_label_values(&[tier, result]);
            c.inc_by(total.saturating_sub(c.get()));
        }
    }

    /// Brings the Redis counters up to the fleet client's own counts.
    pub fn sync_redis(&self, errors: u64, commands: u64) {
        self.redis_errors
            .inc_by(errors.saturating_sub(self.redis_errors.get()));
        self.redis_commands
            .inc_by(commands.saturating_sub(self.redis_commands.get()));
    }

    /// The text exposition format.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }
}

/// Every value [`outcome_label`] returns.
const OUTCOMES: [&str; 9] = [
    "allowed", "400", "401", "403", "404", "405", "413", "429", "5xx",
];
/// Every `auth_method` label value (`Authn::method`, `-` before authentication).
const AUTH_METHODS: [&str; 5] = ["public", "jwt", "api-token", "invalid", "-"];

/// The `outcome` label: `allowed` for anything let through (forwarded, or a
/// gateway-served route that answered 2xx/3xx), else the refusal's status.
pub fn outcome_label(status: u16, forwarded: bool) -> &'static str {
    match status {
        500..=599 => "5xx",
        _ if forwarded => "allowed",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        413 => "413",
        429 => "429",
        _ => "allowed",
    }
}
