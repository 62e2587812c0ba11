//! Email confirmation — checklist 63–69.

use serde_json::json;

use crate::both;
use crate::common::{Call, H};

async fn confirm(h: &H, query: Option<&str>) -> crate::common::Resp {
    h.run(Call::get(
        "auth/email-confirmation",
        "auth/email-confirmation",
        query,
    ))
    .await
}

/// 63: confirms, clears the token, redirects to the configured page (or
/// `/` when none is configured).
async fn c63_confirm(url: String) {
    for (redirect, expected) in [
        (
            "http://localhost:3000/confirmed",
            "http://localhost:3000/confirmed",
        ),
        ("", "/"),
    ] {
        let h = H::with(&url, |s| {
            s.email_confirmation = true;
            s.email_confirmation_redirection = redirect.into();
        })
        .await;
        let carol = h
            .user(
                &format!("carol{}", redirect.len()),
                &format!("carol{}@example.com", redirect.len()),
                false,
                false,
            )
            .await;
        h.store()
            .set_confirmation_token(carol.id, Some("abc123"), 0)
            .await
            .unwrap();
        let r = confirm(&h, Some("confirmation=abc123")).await;
        assert_eq!(r.status, 302, "{}", r.text);
        assert_eq!(r.header("Location"), Some(expected));
        assert!(r.text.is_empty());
        let stored = h.fetch(carol.id).await;
        assert!(stored.confirmed);
        assert_eq!(stored.confirmation_token, None);
        assert!(h.changed().contains(&carol.id));
        // Used: the same token is now unknown.
        confirm(&h, Some("confirmation=abc123")).await.assert_err(
            400,
            "ValidationError",
            "Invalid token",
        );
    }
}
both!(c63, super::c63_confirm);

/// 64, 65: unknown token, missing or empty query.
async fn c64_65_invalid(url: String) {
    let h = H::new(&url).await;
    confirm(&h, Some("confirmation=not-a-real-token"))
        .await
        .assert_err(400, "ValidationError", "Invalid token");
    let required = "confirmation is a required field";
    for query in [None, Some(""), Some("confirmation="), Some("other=1")] {
        confirm(&h, query)
            .await
            .assert_yup(required, &[(&["confirmation"], required)]);
    }
    let r = confirm(&h, Some("confirmation=a&confirmation=b")).await;
    assert_eq!(
        r.json["error"]["message"],
        "confirmation must be a `string` type, but the final value was: `[\n  \"\\\"a\\\"\",\n  \"\\\"b\\\"\"\n]`."
    );
}
both!(c64_65, super::c64_65_invalid);

/// 66, 67, 68: unknown email, confirmed, blocked.
async fn c66_67_68_resend_refusals(url: String) {
    let h = H::new(&url).await;
    h.alice().await;
    h.user("dave", "dave@example.com", false, true).await;
    let r = h
        .post(
            "auth/send-email-confirmation",
            json!({"email": "Nobody@Example.com"}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text, r#"{"email":"Nobody@Example.com","sent":true}"#);
    h.post(
        "auth/send-email-confirmation",
        json!({"email": "alice@example.com"}),
    )
    .await
    .assert_err(400, "ApplicationError", "Already confirmed");
    h.post(
        "auth/send-email-confirmation",
        json!({"email": "dave@example.com"}),
    )
    .await
    .assert_err(400, "ApplicationError", "User blocked");
    h.post("auth/send-email-confirmation", json!({"email": "x"}))
        .await
        .assert_yup(
            "email must be a valid email",
            &[(&["email"], "email must be a valid email")],
        );
    assert!(h.sink.mails().is_empty());
}
both!(c66_67_68, super::c66_67_68_resend_refusals);

/// 69: a new token replaces the old one; works with confirmation off too;
/// unknown keys are allowed.
async fn c69_resend(url: String) {
    let h = H::new(&url).await;
    let erin = h.user("erin", "erin@example.com", false, false).await;
    h.store()
        .set_confirmation_token(erin.id, Some("old0token"), 0)
        .await
        .unwrap();
    let r = h
        .post(
            "auth/send-email-confirmation",
            json!({"email": "ERIN@example.com", "extra": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, r#"{"email":"erin@example.com","sent":true}"#);
    let token = h
        .sink
        .last_to("erin@example.com")
        .confirmation_token()
        .unwrap();
    assert_eq!(token.len(), 40);
    assert_eq!(
        h.fetch(erin.id).await.confirmation_token.as_deref(),
        Some(token.as_str())
    );
    confirm(&h, Some("confirmation=old0token"))
        .await
        .assert_err(400, "ValidationError", "Invalid token");
    let query = format!("confirmation={token}");
    assert_eq!(confirm(&h, Some(&query)).await.status, 302);
    assert!(h.fetch(erin.id).await.confirmed);
    // A mail failure here is a 500.
    let frank = h.user("frank", "frank@example.com", false, false).await;
    h.sink.refuse(true);
    let r = h
        .post(
            "auth/send-email-confirmation",
            json!({"email": "frank@example.com"}),
        )
        .await;
    assert_eq!(r.status, 500);
    assert_eq!(
        h.fetch(frank.id).await.confirmation_token.map(|t| t.len()),
        Some(40)
    );
}
both!(c69, super::c69_resend);
