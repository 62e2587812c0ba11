//! The mailer from `email:`.

use anyhow::Context;
use portcullis_config::GatewayConfig;
use portcullis_users_permissions::Mailer;

pub fn mailer(g: &GatewayConfig) -> anyhow::Result<Mailer> {
    let mailer = match &g.email.smtp_url {
        Some(url) => Mailer::smtp(url, &g.email.from).context("email.smtp_url is not usable")?,
        None => {
            tracing::warn!(
                "email.smtp_url is not set: reset and confirmation emails are written to the log \
                 without their codes — for development only"
            );
            Mailer::log(&g.email.from)
        }
    };
    Ok(match &g.server.public_url {
        Some(url) => mailer.with_server_url(url),
        None => mailer,
    })
}
