//! `/api/auth/*` and `/api/connect/*`: Strapi's `auth` controller
//! (strapi-behavior.md §3.2–§3.10), legacy JWT mode.
//!
//! * [`login`]: `POST /auth/local` (and `GET /auth/local/callback`).
//! * [`register`]: `POST /auth/local/register`.
//! * [`password`]: forgot, reset and change password.
//! * [`confirm`]: email confirmation and re-sending it.
//! * [`oauth`]: `GET /connect/:provider` and `GET /auth/:provider/callback`.
//!
//! The refresh-mode routes (`auth.refresh`, `auth.logout`,
//! `auth.getSessions`, `auth.revokeSession`) answer 404 `Not Found`, as
//! Strapi does in legacy mode.
//!
//! Beyond Strapi: a password change or reset revokes every JWT issued
//! before it (`tokens_valid_after`), reset codes expire after
//! `reset_token_ttl` and are consumed atomically, and an unknown login
//! identifier costs the same password verification as a known one.

mod confirm;
mod login;
mod oauth;
mod password;
mod register;

use portcullis_store::{User, Verified};
use rand::RngCore;
use serde_json::json;

use crate::error::{ApiError, FieldError};
use crate::request::{UpRequest, UpResponse};
use crate::sanitize::user_json;
use crate::{Service, validate};

/// Minimum password length of the user content type (5.49+ entity
/// validation).
pub(crate) const MIN_PASSWORD_CHARS: usize = 6;

/// An argon2id hash (current parameters) of a random password nobody
/// knows. Verifying against it when the identifier matches no user makes a
/// miss cost as much as a wrong password, so response times do not tell
/// which identifiers exist.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=7168,t=5,p=1$5ZGdqoH0X87oExgH9UnetA$56jhBtFtEe0k4JkFgczsC2KH52/xzS3PCkrPJkZLZ2E";

/// Answers one `auth.*` action.
pub async fn handle(svc: &Service, req: &UpRequest, action: &str) -> Result<UpResponse, ApiError> {
    match action {
        "auth.callback" => match req.param("provider") {
            None | Some("local") => login::local(svc, req).await,
            Some(provider) => oauth::callback(svc, provider),
        },
        "auth.connect" => oauth::connect(svc, req),
        "auth.register" => register::register(svc, req).await,
        "auth.forgotPassword" => password::forgot(svc, req).await,
        "auth.resetPassword" => password::reset(svc, req).await,
        "auth.changePassword" => password::change(svc, req).await,
        "auth.emailConfirmation" => confirm::confirm(svc, req).await,
        "auth.sendEmailConfirmation" => confirm::resend(svc, req).await,
        // Refresh mode only (§3.10).
        _ => Err(ApiError::not_found("Not Found")),
    }
}

/// `n` random bytes as lowercase hex (Node's `randomBytes(n).toString('hex')`).
fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// `{"jwt", "user"}` for `user`. The token's `iat` is never before the
/// user's revocation instant (read fresh: a password change or reset sets it
/// to the start of the next second, so that tokens issued earlier in the
/// same second are refused while this one is accepted).
async fn jwt_response(
    svc: &Service,
    req: &UpRequest,
    user: &User,
    with_role: bool,
) -> Result<UpResponse, ApiError> {
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
    .unwrap_or(i64::MAX);
    let cutoff = svc
        .store
        .user_state(user.id)
        .await?
        .and_then(|s| s.tokens_valid_after)
        .map_or(0, |ms| ms.div_euclid(1000));
    let jwt = svc
        .jwt
        .issue_at(user.id, now.max(cutoff))
        .map_err(|e| ApiError::internal("issuing a JWT failed", &e))?;
    Ok(UpResponse::ok(&json!({
        "jwt": jwt,
        "user": user_json(user, req, with_role),
    })))
}

/// Checks `plain` against `stored`, or against [`DUMMY_HASH`] when there is
/// no stored hash; in that case the answer is always a mismatch.
async fn verify(svc: &Service, plain: &str, stored: Option<&str>) -> Result<Verified, ApiError> {
    let against = stored.unwrap_or(DUMMY_HASH).to_owned();
    let verdict = svc
        .passwords
        .verify(plain.to_owned(), against)
        .await
        .map_err(|e| ApiError::internal("password verification failed", &e))?;
    Ok(if stored.is_some() {
        verdict
    } else {
        Verified::Mismatch
    })
}

async fn hash(svc: &Service, plain: &str) -> Result<String, ApiError> {
    svc.passwords
        .hash(plain.to_owned())
        .await
        .map_err(|e| ApiError::internal("password hashing failed", &e))
}

/// Entity validation of a new password (`password must be at least 6
/// characters`).
fn check_password_length(password: &str) -> Result<(), ApiError> {
    let mut errors: Vec<FieldError> = Vec::new();
    validate::min_chars(&mut errors, "password", password, MIN_PASSWORD_CHARS);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::yup(errors))
    }
}
