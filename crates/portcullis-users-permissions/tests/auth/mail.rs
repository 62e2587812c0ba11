//! The mailer: SMTP URL handling, template rendering (fixed variables, HTML
//! escaping, no evaluation) and log mode, which never logs a secret
//! (threats INV-5).

use std::io::Write;
use std::sync::{Arc, Mutex};

use portcullis_store::User;
use portcullis_users_permissions::Mailer;
use portcullis_users_permissions::email::MailError;
use serde_json::json;

use crate::common::H;
use crate::smtp::SmtpSink;

fn user(username: &str, email: &str) -> User {
    User {
        id: 1,
        document_id: "a".repeat(24),
        username: username.into(),
        email: email.into(),
        provider: "local".into(),
        password: None,
        reset_password_token: None,
        reset_password_sent_at: None,
        confirmation_token: None,
        confirmed: true,
        blocked: false,
        role: "authenticated".into(),
        tokens_valid_after: None,
        created_at: 0,
        updated_at: 0,
        published_at: None,
    }
}

#[test]
fn smtp_urls() {
    for ok in [
        "smtp://127.0.0.1:1025",
        "smtp://mail.internal",
        "smtp://[::1]:25",
        "smtp://relay:2525/",
    ] {
        assert!(Mailer::smtp(ok, "no-reply@example.com").is_ok(), "{ok}");
    }
    for bad in [
        "smtps://mail:465",
        "http://mail:25",
        "smtp://user:pass@mail:25",
        "smtp://mail:notaport",
        "smtp://:25",
        "smtp://mail:25/path",
    ] {
        assert!(
            matches!(
                Mailer::smtp(bad, "no-reply@example.com"),
                Err(MailError::Url(_))
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        Mailer::smtp("smtp://mail:25", "not an address"),
        Err(MailError::Address { .. })
    ));
    assert!(Mailer::default().is_log());
}

/// Values are substituted once, HTML-escaped in the HTML part, and a value
/// that looks like a template is not evaluated.
#[tokio::test]
async fn templates_are_plain_substitution() {
    let sink = SmtpSink::start().await;
    let mailer = Mailer::smtp(&sink.url(), "Portcullis <no-reply@example.com>").unwrap();
    let url = "http://front.test/reset?a=1&b=<%= TOKEN %>\"'";
    let u = user("<%= USER.email %><script>", "mallory@example.com");
    mailer
        .send_reset("mallory@example.com", &u, url, "c0ffee")
        .await
        .unwrap();
    let mail = sink.last_to("mallory@example.com");
    let text = mail.text();
    assert!(
        text.contains("http://front.test/reset?a=1&b=<%= TOKEN %>\"'?code=c0ffee"),
        "{text}"
    );
    assert!(text.contains(
        "<p>http://front.test/reset?a=1&amp;b=&lt;%= TOKEN %&gt;&quot;&#39;?code=c0ffee</p>"
    ));
    // Part headers are in the raw message (`text()` is the decoded parts).
    assert!(
        mail.data
            .contains("Content-Type: text/plain; charset=utf-8")
    );
    assert!(mail.data.contains("Content-Type: text/html; charset=utf-8"));
    assert!(text.contains("But don\u{2019}t worry!"));
    assert_eq!(mail.from, "no-reply@example.com");
    assert_eq!(mail.to, ["mallory@example.com"]);

    mailer
        .send_confirmation(
            "mallory@example.com",
            &u,
            "http://gw/api/auth/email-confirmation",
            "abcd",
        )
        .await
        .unwrap();
    let mail = sink.last_to("mallory@example.com");
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Account confirmation")
    );
    assert_eq!(mail.confirmation_token().as_deref(), Some("abcd"));
    assert!(mail.text().contains("Thank you for registering!"));
}

#[tokio::test]
async fn unreachable_server_is_an_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mailer = Mailer::smtp(&format!("smtp://127.0.0.1:{port}"), "no-reply@example.com").unwrap();
    let err = mailer
        .send_reset(
            "a@example.com",
            &user("a", "a@example.com"),
            "http://x",
            "secret-token",
        )
        .await
        .unwrap_err();
    assert!(matches!(err, MailError::Send(_)));
    assert!(!err.to_string().contains("secret-token"));
}

/// Collects formatted log output.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }
}

#[tokio::test]
async fn log_mode_withholds_the_link() {
    let logs = Captured::default();
    let _guard = logs.install();
    let mailer = Mailer::log("no-reply@example.com");
    let u = user("alice", "alice@example.com");
    mailer
        .send_reset("alice@example.com", &u, "http://front/reset", "0123abcd")
        .await
        .unwrap();
    mailer
        .send_confirmation("alice@example.com", &u, "http://gw/confirm", "fedc9876")
        .await
        .unwrap();
    let text = logs.text();
    assert!(
        text.contains(
            "reset-password email for alice@example.com (link withheld; configure email.smtp_url)"
        ),
        "{text}"
    );
    assert!(text.contains("confirmation email for alice@example.com (link withheld"));
    for secret in [
        "0123abcd",
        "fedc9876",
        "http://front/reset",
        "http://gw/confirm",
    ] {
        assert!(!text.contains(secret), "{secret} logged: {text}");
    }
}

/// INV-5 through the handlers: codes, tokens and passwords never reach the
/// log, also when sending fails.
#[tokio::test]
async fn handlers_never_log_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let h = H::new(&format!("sqlite://{}/up.db", dir.path().display())).await;
    let logs = Captured::default();
    let _guard = logs.install();
    let alice = h.alice().await;
    h.sink.refuse(true);
    let r = h
        .post(
            "auth/forgot-password",
            json!({"email": "alice@example.com"}),
        )
        .await;
    assert_eq!(r.status, 500);
    let code = h.fetch(alice.id).await.reset_password_token.unwrap();
    h.sink.refuse(false);
    let r = h
        .post(
            "auth/reset-password",
            json!({"password": "Secret-New-1", "passwordConfirmation": "Secret-New-1", "code": code}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = h
        .post(
            "auth/send-email-confirmation",
            json!({"email": "alice@example.com"}),
        )
        .await;
    assert_eq!(r.status, 400);
    let text = logs.text();
    assert!(
        text.contains("sending the reset-password email failed"),
        "{text}"
    );
    for secret in [code.as_str(), "Secret-New-1", crate::common::PASSWORD] {
        assert!(!text.contains(secret), "{secret} logged: {text}");
    }
}
