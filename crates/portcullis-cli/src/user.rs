//! `portcullis user create`.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, bail};
use portcullis_store::{NewUser, Store, hash_password};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create a user (the password is read from standard input).
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// Read the password from standard input (required: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Role type (default: users_permissions.default_role).
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        confirmed: bool,
        #[arg(long)]
        blocked: bool,
    },
}

pub fn run(config: &Path, cmd: Command) -> anyhow::Result<()> {
    let loaded = crate::load(config)?;
    let Command::Create {
        username,
        email,
        password_stdin: _,
        role,
        confirmed,
        blocked,
    } = cmd;
    let role = role.unwrap_or_else(|| loaded.gateway.users_permissions.default_role.clone());
    if loaded.policy.role(&role).is_none() {
        bail!("role {role:?} is not defined in the policy files");
    }
    if username.chars().count() < 3 {
        bail!("username must be at least 3 characters");
    }
    if !email.contains('@') || email.len() < 6 {
        bail!("email must be a valid email");
    }
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("cannot read the password from standard input")?;
    let password = password.trim_end_matches(['\r', '\n']).to_owned();
    if password.chars().count() < 6 {
        bail!("password must be at least 6 characters");
    }
    if password.len() > 72 {
        bail!("password must be less than 73 bytes");
    }
    let hash = hash_password(&password).context("cannot hash the password")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let user = rt.block_on(async {
        let store = Store::connect(&loaded.gateway.store.url).await?;
        store
            .create_user(NewUser {
                username: username.clone(),
                email: email.to_lowercase(),
                password_hash: Some(hash),
                provider: "local".into(),
                role: role.clone(),
                confirmed,
                blocked,
            })
            .await
    });
    let user = user.with_context(|| format!("cannot create user {username:?}"))?;
    println!(
        "created user {} ({}, role {})",
        user.id, user.username, user.role
    );
    Ok(())
}
