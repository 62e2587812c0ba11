//! Portcullis test kit: everything the end-to-end suites under `tests/e2e/`
//! need to exercise the real `portcullis` binary over real sockets.
//!
//! - [`EchoUpstream`]: a recording HTTP/1.1 upstream (what reached it, and
//!   whether anything did).
//! - [`Http`], [`raw_request`]: a client that sends request-targets and
//!   headers byte-for-byte, never normalized.
//! - [`GatewayBuilder`] / [`Gateway`]: `portcullis serve` on free ports in a
//!   temp dir, with its logs, signals and CLI.
//! - [`jwt()`], [`user_jwt`] and attack tokens signed with [`TEST_JWT_SECRET`].
//! - [`PgDatabase`]: a throw-away PostgreSQL database.
//! - [`RedisServer`]: a throw-away `redis-server` on a free port (stop /
//!   restart on the same port), and [`RedisSubscriber`] to read pub/sub.
//! - [`SmtpSink`]: a recording SMTP server for `email.smtp_url`, whose
//!   [`SmtpMessage`]s give back the reset codes and confirmation tokens.
//!
//! No fixed ports anywhere: every listener binds `127.0.0.1:0`.
//!
//! Environment:
//! - `PORTCULLIS_BIN`: the gateway binary to run; otherwise
//!   `target/<profile>/portcullis`, found from the test executable's path
//!   and (re)built once per test process with `cargo build -p portcullis`
//!   (see [`portcullis_bin`]). `PORTCULLIS_NO_BUILD=1` skips that build.
//! - `PORTCULLIS_KEEP_TMP=1`: keep each gateway's temp dir (config, logs,
//!   database) instead of deleting it.
//! - `PORTCULLIS_TEST_PG`: the PostgreSQL maintenance URL for
//!   [`PgDatabase`] (default [`DEFAULT_ADMIN_URL`]).
//!
//! The workspace denies `clippy::unwrap_used`; end-to-end test files should
//! start with `#![allow(clippy::unwrap_used, clippy::expect_used)]`.
//!
//! ```no_run
//! use portcullis_tests::{EchoUpstream, GatewayBuilder, user_jwt};
//!
//! # async fn example() -> anyhow::Result<()> {
//! let upstream = EchoUpstream::start().await?;
//! let gateway = GatewayBuilder::new().upstream(upstream.url()).spawn().await?;
//! let response = gateway.http().get_bearer("/api/posts", &user_jwt(1)).await?;
//! assert_eq!(response.status, 200);
//! let seen = upstream.last().expect("forwarded");
//! assert_eq!(seen.target, "/api/posts");
//! assert_eq!(seen.header("x-auth-method"), Some("jwt"));
//! # Ok(()) }
//! ```

// Tests may unwrap: a panic is how a test fails.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod bin;
mod client;
mod config;
mod files;
mod gateway;
mod http1;
mod jwt;
mod pg;
mod redis;
mod smtp;
mod upstream;

pub use bin::portcullis_bin;
pub use client::{DEFAULT_TIMEOUT, Http, RawResponse, raw_exchange, raw_request, raw_responses};
pub use config::{DEFAULT_POLICY, GatewayBuilder, TEST_API_TOKEN_SALT};
pub use files::GatewayFiles;
pub use gateway::Gateway;
pub use jwt::{
    TEST_JWT_SECRET, WRONG_JWT_SECRET, b64_json, b64url, expired_user_jwt, forge_jwt, jwt,
    jwt_with_alg, now, unsigned_jwt, unsigned_jwt_with_header, user_claims, user_jwt,
    user_jwt_without_exp, user_jwt_wrong_secret,
};
pub use pg::{DEFAULT_ADMIN_URL, PgDatabase, admin_url as pg_admin_url};
pub use redis::{RedisServer, RedisSubscriber};
pub use smtp::{SmtpMessage, SmtpSink};
pub use upstream::{EchoOptions, EchoUpstream, Received};

/// `jsonwebtoken`'s algorithm enum, for [`jwt_with_alg`] and [`forge_jwt`].
pub use jsonwebtoken::Algorithm;

#[cfg(test)]
mod tests;
