//! Outgoing email. (Being written.)

/// Sends the reset-password and confirmation emails.
#[derive(Debug, Clone, Default)]
pub struct Mailer;
