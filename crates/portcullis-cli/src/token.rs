//! `portcullis token create | list | revoke` (CONTRACT §1).

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, bail};
use portcullis_core::{ContentKind, Policy, users_permissions};
use portcullis_store::tokens::{generate_secret, hash_access_key};
use portcullis_store::{NewApiToken, Store, TokenStatus, TokenType, iso, now_ms};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create an API token; the secret is printed once, alone on the last line.
    Create {
        #[arg(long)]
        name: String,
        /// read-only | full-access | custom
        #[arg(long = "type")]
        kind: String,
        /// UID.ACTION granted to a custom token (repeat for more).
        #[arg(long = "permission")]
        permissions: Vec<String>,
        /// 7d | 30d | 90d | unlimited
        #[arg(long, default_value = "unlimited")]
        lifespan: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by id or name.
    Revoke { token: String },
}

const DAY_MS: i64 = 24 * 3600 * 1000;

fn lifespan_ms(s: &str) -> anyhow::Result<Option<i64>> {
    Ok(match s {
        "7d" => Some(7 * DAY_MS),
        "30d" => Some(30 * DAY_MS),
        "90d" => Some(90 * DAY_MS),
        "unlimited" => None,
        other => bail!("lifespan must be 7d, 30d, 90d or unlimited, not {other:?}"),
    })
}

/// Every action the policy knows: content types, custom routes, the plugin.
fn known_actions(policy: &Policy) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for ct in policy.content_types() {
        let kind: ContentKind = ct.kind;
        for a in kind.actions() {
            out.insert(format!("{}.{a}", ct.uid));
        }
    }
    for r in policy.routes() {
        out.insert(r.action.clone());
    }
    for (uid, actions) in users_permissions::CONTROLLERS {
        for a in *actions {
            out.insert(format!("{uid}.{a}"));
        }
    }
    out
}

/// Strapi's rules and messages for a token's type and permissions.
fn validate(kind: TokenType, permissions: &[String], policy: &Policy) -> anyhow::Result<()> {
    match kind {
        TokenType::Custom if permissions.is_empty() => {
            bail!("Missing permissions attribute for custom token")
        }
        TokenType::Custom => {
            let known = known_actions(policy);
            let unknown: Vec<&str> = permissions
                .iter()
                .filter(|p| !known.contains(*p))
                .map(String::as_str)
                .collect();
            if !unknown.is_empty() {
                bail!("Unknown permissions provided: {}", unknown.join(", "));
            }
            Ok(())
        }
        _ if !permissions.is_empty() => bail!("Non-custom tokens should not reference permissions"),
        _ => Ok(()),
    }
}

pub fn run(config: &Path, cmd: Command) -> anyhow::Result<()> {
    let loaded = crate::load(config)?;
    let g = &loaded.gateway;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let store = Store::connect(&g.store.url)
            .await
            .context("cannot open the store")?;
        match cmd {
            Command::Create {
                name,
                kind,
                permissions,
                lifespan,
                description,
            } => {
                let Some(salt) = g.api_tokens.salt.as_deref() else {
                    bail!("api_tokens.salt must be set to create API tokens");
                };
                let kind = TokenType::parse(&kind).with_context(|| {
                    format!("type must be read-only, full-access or custom, not {kind:?}")
                })?;
                let name = name.trim().to_owned();
                if name.is_empty() {
                    bail!("name must not be empty");
                }
                validate(kind, &permissions, &loaded.policy)?;
                let secret = generate_secret();
                let token = store
                    .create_api_token(
                        NewApiToken {
                            name: name.clone(),
                            description: description.trim().to_owned(),
                            token_type: kind,
                            access_key: hash_access_key(salt, &secret),
                            permissions: serde_json::to_string(&permissions)?,
                            lifespan_ms: lifespan_ms(&lifespan)?,
                        },
                        now_ms(),
                    )
                    .await
                    .map_err(|e| match e {
                        portcullis_store::Error::Conflict { .. } => {
                            anyhow::anyhow!("Name already taken")
                        }
                        other => anyhow::Error::new(other),
                    })?;
                let expires = token.expires_at.map_or("never".to_owned(), iso);
                println!(
                    "created API token {} ({name}, {}, expires {expires})",
                    token.id,
                    kind.as_str()
                );
                println!("the secret is shown once; store it now:");
                println!("{secret}");
            }
            Command::List => {
                println!(
                    "{:<6} {:<24} {:<12} {:<26} {:<26} status",
                    "id", "name", "type", "expires", "last used"
                );
                let now = now_ms();
                for t in store.list_api_tokens().await? {
                    let status = match t.status(now) {
                        TokenStatus::Active => "active",
                        TokenStatus::Expired => "expired",
                        TokenStatus::Revoked => "revoked",
                    };
                    println!(
                        "{:<6} {:<24} {:<12} {:<26} {:<26} {status}",
                        t.id,
                        t.name,
                        t.token_type,
                        t.expires_at.map_or("never".to_owned(), iso),
                        t.last_used_at.map_or("never".to_owned(), iso),
                    );
                }
            }
            Command::Revoke { token } => {
                let found = match token.parse::<i64>() {
                    Ok(id) => store.api_token_by_id(id).await?,
                    Err(_) => store.api_token_by_name(&token).await?,
                };
                let t = found.with_context(|| format!("no API token {token:?}"))?;
                if !store.revoke_api_token(t.id, now_ms()).await? {
                    bail!("API token {} ({}) is already revoked", t.id, t.name);
                }
                println!("revoked API token {} ({})", t.id, t.name);
                announce_revocation(g, &t.access_key).await;
            }
        }
        Ok(())
    })
}

/// With Redis, every replica drops the token at once (without it, their
/// change feed sees the revocation within about a second).
async fn announce_revocation(g: &portcullis_config::GatewayConfig, access_key: &str) {
    let Some(url) = &g.cache.redis_url else {
        return;
    };
    let announced =
        match portcullis_redis::Fleet::connect(url, portcullis_redis::DEFAULT_PREFIX).await {
            Ok(fleet) => fleet
                .token_changed(access_key)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
    if let Err(e) = announced {
        eprintln!(
            "warning: could not announce the revocation on Redis ({e}); replicas will see it within about a second"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifespans_are_strapis_three_or_unlimited() {
        assert_eq!(lifespan_ms("7d").ok().flatten(), Some(604_800_000));
        assert_eq!(lifespan_ms("30d").ok().flatten(), Some(2_592_000_000));
        assert_eq!(lifespan_ms("90d").ok().flatten(), Some(7_776_000_000));
        assert_eq!(lifespan_ms("unlimited").ok().flatten(), None);
        assert!(lifespan_ms("1d").is_err());
    }
}
