//! The mailer from `email:`.

use portcullis_config::GatewayConfig;
use portcullis_users_permissions::Mailer;

pub fn mailer(_g: &GatewayConfig) -> anyhow::Result<Mailer> {
    Ok(Mailer::default())
}
