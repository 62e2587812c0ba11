//! The gateway's `/api/auth/*` and `/api/connect/*` routes driven through
//! `Service::handle`, each database-backed case on SQLite and PostgreSQL,
//! with a real SMTP sink. Numbers in test names refer to the checklist of
//! strapi-behavior.md §10.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "auth/change.rs"]
mod change;
#[path = "auth/common.rs"]
mod common;
#[path = "auth/confirm.rs"]
mod confirm;
#[path = "auth/db.rs"]
mod db;
#[path = "auth/login.rs"]
mod login;
#[path = "auth/mail.rs"]
mod mail;
#[path = "auth/oauth.rs"]
mod oauth;
#[path = "auth/password.rs"]
mod password;
#[path = "auth/ratelimit.rs"]
mod ratelimit;
#[path = "auth/register.rs"]
mod register;
#[path = "auth/smtp.rs"]
mod smtp;
#[path = "auth/validate.rs"]
mod validate;
