//! `portcullis explain METHOD PATH [--role TYPE | --token TOKEN]`.

use std::path::Path;

use anyhow::{Context, bail};
use portcullis_core::{AuthFailure, Caller, Method, Outcome, RouteSource, Target, canonicalize};

#[derive(clap::Args)]
pub struct Args {
    /// HTTP method, e.g. GET.
    method: String,
    /// Request path, e.g. /api/posts/1 (a query string is ignored).
    path: String,
    /// Decide as a user of this role type (default: anonymous, the public role).
    #[arg(long, conflicts_with = "token")]
    role: Option<String>,
    /// Decide for this bearer credential (a user JWT; the store is consulted).
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
    let user_role;
    let (caller, who) = match (&args.role, &args.token) {
        (Some(role), _) if role == "public" => {
            (Caller::Public, "anonymous (role public)".to_owned())
        }
        (Some(role), _) => (
            Caller::User { id: 0, role },
            format!("a user of role {role}"),
        ),
        (None, Some(token)) => {
            user_role = token_role(&loaded, token)?;
            match &user_role {
                Ok((id, role)) => (
                    Caller::User { id: *id, role },
                    format!("user {id} (role {role})"),
                ),
                Err(f) => (Caller::Rejected(*f), "a refused credential".to_owned()),
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

/// Verifies a JWT and reads the user's role from the store.
fn token_role(
    loaded: &portcullis_config::Loaded,
    token: &str,
) -> anyhow::Result<Result<(i64, String), AuthFailure>> {
    let g = &loaded.gateway;
    if g.jwt.secret.is_empty() {
        bail!("jwt.secret is empty in the configuration");
    }
    let keys = portcullis_auth::JwtKeys::new(g.jwt.secret.as_bytes(), g.jwt.expires_in.into());
    let Ok(claims) = keys.verify(token) else {
        return Ok(Err(AuthFailure::InvalidToken));
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let state = rt.block_on(async {
        let store = portcullis_store::Store::connect(&g.store.url).await?;
        store.user_state(claims.id).await
    });
    let state = state.context("cannot read the user store")?;
    Ok(match state {
        Some(u) if !u.blocked && (u.confirmed || !g.users_permissions.email_confirmation) => {
            Ok((u.id, u.role.to_string()))
        }
        _ => Err(AuthFailure::InvalidUser),
    })
}
