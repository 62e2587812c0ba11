//! Outgoing email: Strapi's reset-password and account-confirmation
//! messages (strapi-behavior.md §4.1), sent over plain SMTP or written to
//! the log.
//!
//! Templates are Strapi's defaults, rendered by plain substitution of a
//! fixed set of variables (`URL`, `TOKEN`/`CODE`, `USER.username`,
//! `USER.email`, `SERVER_URL`); nothing is evaluated (CVE-2023-22621), a
//! substituted value is never scanned again, and values are HTML-escaped in
//! the HTML part.
//!
//! In log mode (no `email.smtp_url`) only the kind of message and the
//! recipient are logged: never the link, token or code (threats INV-5).

use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use portcullis_store::User;

/// How long one SMTP exchange may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

const RESET_SUBJECT: &str = "Reset password";
const RESET_HTML: &str = "<p>We heard that you lost your password. Sorry about that!</p>\n\n\
<p>But don\u{2019}t worry! You can use the following link to reset your password:</p>\n\
<p><%= URL %>?code=<%= TOKEN %></p>\n\n<p>Thanks.</p>";
const RESET_TEXT: &str = "We heard that you lost your password. Sorry about that!\n\n\
But don\u{2019}t worry! You can use the following link to reset your password:\n\
<%= URL %>?code=<%= TOKEN %>\n\nThanks.";

const CONFIRM_SUBJECT: &str = "Account confirmation";
const CONFIRM_HTML: &str = "<p>Thank you for registering!</p>\n\n\
<p>You have to confirm your email address. Please click on the link below.</p>\n\n\
<p><%= URL %>?confirmation=<%= CODE %></p>\n\n<p>Thanks.</p>";
const CONFIRM_TEXT: &str = "Thank you for registering!\n\n\
You have to confirm your email address. Please click on the link below.\n\n\
<%= URL %>?confirmation=<%= CODE %>\n\nThanks.";

/// Why a message could not be sent. The texts never contain a token.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid email.smtp_url: {0}")]
    Url(String),
    #[error("invalid {which} address")]
    Address { which: &'static str },
    #[error("could not build the message: {0}")]
    Build(String),
    #[error("SMTP delivery failed: {0}")]
    Send(String),
}

#[derive(Clone)]
enum Transport {
    Log,
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

/// Sends the reset-password and confirmation emails. Cheap to clone.
/// `Default` logs instead of sending.
#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: String,
    server_url: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match self.transport {
            Transport::Log => "log",
            Transport::Smtp(_) => "smtp",
        };
        f.debug_struct("Mailer")
            .field("mode", &mode)
            .field("from", &self.from)
            .finish()
    }
}

impl Default for Mailer {
    fn default() -> Self {
        Mailer::log("no-reply@example.com")
    }
}

/// What a template may refer to.
struct Vars<'a> {
    url: &'a str,
    secret_name: &'static str,
    secret: &'a str,
    user: &'a User,
    server_url: &'a str,
}

impl Mailer {
    /// Writes a line per message to the log instead of sending it.
    pub fn log(from: &str) -> Mailer {
        Mailer {
            transport: Transport::Log,
            from: from.to_owned(),
            server_url: String::new(),
        }
    }

    /// Sends through the SMTP server at `smtp://host[:port]` (port 25 by
    /// default) without TLS or authentication: meant for a relay on
    /// localhost or a private network. `from` is `addr` or `Name <addr>`.
    pub fn smtp(url: &str, from: &str) -> Result<Mailer, MailError> {
        let (host, port) = parse_smtp_url(url)?;
        from.parse::<Mailbox>()
            .map_err(|_| MailError::Address { which: "from" })?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(Mailer {
            transport: Transport::Smtp(transport),
            from: from.to_owned(),
            server_url: String::new(),
        })
    }

    /// The gateway's public origin (e.g. `https://api.example.com`), used
    /// for `SERVER_URL` and the confirmation link
    /// (`<server_url><api_prefix>/auth/email-confirmation`). Without it the
    /// confirmation link is relative. It is configuration on purpose: a
    /// link built from the request's `Host` header could be pointed at an
    /// attacker's site.
    pub fn with_server_url(mut self, url: &str) -> Mailer {
        self.server_url = url.trim_end_matches('/').to_owned();
        self
    }

    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// `true` when messages go to the log only.
    pub fn is_log(&self) -> bool {
        matches!(self.transport, Transport::Log)
    }

    /// The reset-password message: `<url>?code=<token>`.
    pub async fn send_reset(
        &self,
        to: &str,
        user: &User,
        url: &str,
        token: &str,
    ) -> Result<(), MailError> {
        let vars = Vars {
            url,
            secret_name: "TOKEN",
            secret: token,
            user,
            server_url: &self.server_url,
        };
        self.send(
            "reset-password",
            to,
            RESET_SUBJECT,
            RESET_TEXT,
            RESET_HTML,
            &vars,
        )
        .await
    }

    /// The account-confirmation message: `<url>?confirmation=<code>`.
    pub async fn send_confirmation(
        &self,
        to: &str,
        user: &User,
        url: &str,
        code: &str,
    ) -> Result<(), MailError> {
        let vars = Vars {
            url,
            secret_name: "CODE",
            secret: code,
            user,
            server_url: &self.server_url,
        };
        self.send(
            "confirmation",
            to,
            CONFIRM_SUBJECT,
            CONFIRM_TEXT,
            CONFIRM_HTML,
            &vars,
        )
        .await
    }

    async fn send(
        &self,
        kind: &str,
        to: &str,
        subject: &str,
        text: &str,
        html: &str,
        vars: &Vars<'_>,
    ) -> Result<(), MailError> {
        let transport = match &self.transport {
            Transport::Log => {
                tracing::info!(
                    to,
                    "{kind} email for {to} (link withheld; configure email.smtp_url)"
                );
                return Ok(());
            }
            Transport::Smtp(t) => t,
        };
        let from: Mailbox = self
            .from
            .parse()
            .map_err(|_| MailError::Address { which: "from" })?;
        let rcpt: Mailbox = to
            .parse()
            .map_err(|_| MailError::Address { which: "recipient" })?;
        let part = |kind: ContentType, body: String| -> Result<SinglePart, MailError> {
            let body = Body::new_with_encoding(body, ContentTransferEncoding::QuotedPrintable)
                .map_err(|_| MailError::Build("body encoding".into()))?;
            Ok(SinglePart::builder().header(kind).body(body))
        };
        let message = Message::builder()
            .from(from)
            .to(rcpt)
            .subject(subject)
            .multipart(
                MultiPart::alternative()
                    .singlepart(part(ContentType::TEXT_PLAIN, render(text, vars, false))?)
                    .singlepart(part(ContentType::TEXT_HTML, render(html, vars, true))?),
            )
            .map_err(|e| MailError::Build(e.to_string()))?;
        transport
            .send(message)
            .await
            .map_err(|e| MailError::Send(e.to_string()))?;
        tracing::info!(to, "{kind} email sent to {to}");
        Ok(())
    }
}

/// `smtp://host[:port]` → (host, port). Credentials, TLS schemes and paths
/// are refused rather than ignored.
fn parse_smtp_url(url: &str) -> Result<(String, u16), MailError> {
    let rest = url
        .strip_prefix("smtp://")
        .ok_or_else(|| MailError::Url("expected smtp://host:port (TLS is not supported)".into()))?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['@', '/', '?', '#']) {
        return Err(MailError::Url(
            "only smtp://host:port is supported (no credentials or path)".into(),
        ));
    }
    let (host, port) = match authority.rsplit_once(':') {
        // `[::1]:25`, `host:25`; a bare IPv6 literal needs brackets.
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => {
            let port = p
                .parse::<u16>()
                .map_err(|_| MailError::Url(format!("bad port {p:?}")))?;
            (h, port)
        }
        _ => (authority, 25),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(MailError::Url("missing host".into()));
    }
    Ok((host.to_owned(), port))
}

/// Substitutes `<%= NAME %>` for the known names; anything else is copied
/// as written. Values are inserted once and never re-scanned.
fn render(template: &str, vars: &Vars<'_>, html: bool) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("<%=") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 3..];
        let Some(end) = after.find("%>") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = after[..end].trim();
        let value = match name {
            "URL" => Some(vars.url),
            "SERVER_URL" => Some(vars.server_url),
            "USER.username" => Some(vars.user.username.as_str()),
            "USER.email" => Some(vars.user.email.as_str()),
            n if n == vars.secret_name => Some(vars.secret),
            _ => None,
        };
        match value {
            Some(v) if html => out.push_str(&escape_html(v)),
            Some(v) => out.push_str(v),
            None => out.push_str(&rest[start..start + 3 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
