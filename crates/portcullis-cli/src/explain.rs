//! `portcullis explain METHOD PATH [--role TYPE | --token TOKEN]`.

use std::path::Path;

use anyhow::{Context, bail};
use portcullis_store::{TokenStatus, TokenType};
use std::collections::HashSet;

use portcullis_core::{
    AuthFailure, Caller, Method, Outcome, RouteSource, Target, TokenAccess, canonicalize,
};

#[derive(clap::Args)]
pub struct Args {
    /// HTTP method, e.g. GET.
    method: String,
    /// Request path, e.g. /api/posts/1 (a query string is ignored).
    path: String,
    /// Decide as a user of this role type (default: anonymous, the public role).
    #[arg(long, conflicts_with = "token")]
    role: Option<String>,
    /// Decide for this bearer credential (a user JWT or an API token; the store is consulted).
    #[arg(long)]
    token: Option<String>,
}

pub fn run(config: &Path, args: &Args) -> anyhow::Result<()> {
    let loaded = crate::load(config)?;
    let policy = &loaded.policy;
    let method = Method::parse(&args.method.to_ascii_uppercase());
    let raw_path = args.path.split('?').next().unwrap_or_default();
    println!(
        "request:   {} {}",
        args.method.to_ascii_uppercase(),
        args.path
    );
    let canonical = match canonicalize(raw_path) {
        Ok(c) => c,
        Err(e) => {
            println!("decision:  400 (path refused: {e})");
            return Ok(());
        }
    };
    let credential;
    let (caller, who) = match (&args.role, &args.token) {
        (Some(role), _) if role == "public" => {
            (Caller::Public, "anonymous (role public)".to_owned())
        }
        (Some(role), _) => (
            Caller::User { id: 0, role },
            format!("a user of role {role}"),
        ),
        (None, Some(token)) => {
            credential = read_credential(&loaded, token)?;
            match &credential {
                Credential::User(id, role) => (
                    Caller::User { id: *id, role },
                    format!("user {id} (role {role})"),
                ),
                Credential::Token(id, kind, perms) => {
                    let access = match kind {
                        TokenType::ReadOnly => TokenAccess::ReadOnly,
                        TokenType::FullAccess => TokenAccess::FullAccess,
                        TokenType::Custom => TokenAccess::Custom(perms),
                    };
                    (
                        Caller::ApiToken { id: *id, access },
                        format!("API token {id} ({})", kind.as_str()),
                    )
                }
                Credential::Refused(f) => (Caller::Rejected(*f), "a refused credential".to_owned()),
            }
        }
        (None, None) => (Caller::Public, "anonymous (role public)".to_owned()),
    };
    let d = policy.decide(method, &canonical, &caller);
    let gateway_served = matches!(
        policy.resolve(method, &canonical).target,
        Target::Action {
            source: RouteSource::UsersPermissions(_),
            ..
        }
    );
    println!("canonical: {}", d.forward_path);
    println!("caller:    {who}");
    println!("action:    {}", d.action.unwrap_or("-"));
    println!("rule:      {}", d.rule);
    let outcome = match d.outcome {
        Outcome::Allow if gateway_served => "allow (answered by the gateway itself)".to_owned(),
        Outcome::Allow => format!("allow (forwarded as {})", d.forward_path),
        Outcome::Forward => format!("allow without identity (forwarded as {})", d.forward_path),
        Outcome::Deny(deny) => format!("{} {} \"{}\"", deny.status, deny.name, deny.message),
    };
    println!("decision:  {outcome}");
    println!("policy:    {}", policy.version());
    Ok(())
}

/// What a bearer credential turned out to be.
enum Credential {
    User(i64, String),
    Token(i64, TokenType, HashSet<String>),
    Refused(AuthFailure),
}

/// Reads a bearer credential as the gateway does: an API token first (256
/// lowercase hex characters, looked up by its HMAC), else a JWT whose user
/// is read from the store.
fn read_credential(loaded: &portcullis_config::Loaded, token: &str) -> anyhow::Result<Credential> {
    let g = &loaded.gateway;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let store = rt
        .block_on(portcullis_store::Store::connect(&g.store.url))
        .context("cannot open the store")?;
    let api_token_shape = token.len() == 256
        && token
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if let (true, Some(salt)) = (api_token_shape, g.api_tokens.salt.as_deref()) {
        let key = portcullis_store::tokens::hash_access_key(salt, token);
        let found = rt
            .block_on(store.api_token_by_access_key(&key))
            .context("cannot read the store")?;
        if let Some(t) = found {
            match t.status(portcullis_store::now_ms()) {
                TokenStatus::Expired => return Ok(Credential::Refused(AuthFailure::TokenExpired)),
                TokenStatus::Revoked => {}
                TokenStatus::Active => {
                    let perms: Vec<String> =
                        serde_json::from_str(&t.permissions).unwrap_or_default();
                    if let Some(kind) = t.kind() {
                        return Ok(Credential::Token(t.id, kind, perms.into_iter().collect()));
                    }
                }
            }
        }
    }
    if g.jwt.secret.is_empty() {
        bail!("jwt.secret is empty in the configuration");
    }
    let keys = portcullis_auth::JwtKeys::new(g.jwt.secret.as_bytes(), g.jwt.expires_in.into());
    let Ok(claims) = keys.verify(token) else {
        return Ok(Credential::Refused(AuthFailure::InvalidToken));
    };
    let state = rt
        .block_on(store.user_state(claims.id))
        .context("cannot read the user store")?;
    let revoked =
        |after: Option<i64>| after.is_some_and(|a| claims.iat.unwrap_or(0) < a.div_euclid(1000));
    Ok(match state {
        Some(u)
            if !u.blocked
                && (u.confirmed || !g.users_permissions.email_confirmation)
                && !revoked(u.tokens_valid_after) =>
        {
            Credential::User(u.id, u.role.to_string())
        }
        _ => Credential::Refused(AuthFailure::InvalidUser),
    })
}
