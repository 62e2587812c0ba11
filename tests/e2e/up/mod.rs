//! Shared fixture of the Users & Permissions suite: the policy, the
//! gateway configurations, request helpers and assertions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use portcullis_tests::{
    EchoUpstream, Gateway, GatewayBuilder, Http, RawResponse, SmtpMessage, SmtpSink,
    TEST_JWT_SECRET,
};
use serde_json::{Value, json};
use sqlx::{AnyConnection, Connection};

pub use crate::common::{
    assert_401_invalid, assert_401_missing, assert_403, assert_error, assert_untouched,
};

/// The password `common::create_user` gives every user.
pub const PASSWORD: &str = "Test1234";

/// How long to wait for a mail the gateway has already sent (it answers
/// after the SMTP exchange, so this is only slack).
pub const MAIL_WAIT: Duration = Duration::from_secs(5);

/// Where `GET /api/auth/email-confirmation` redirects in these gateways.
pub const CONFIRMED_URL: &str = "http://front.example/confirmed";

/// Policy: `posts` (public find), `articles` (authenticated find, admin
/// create), and three roles. Public has some permissions, so an anonymous
/// call to an action it lacks is 403 (§6); `auth.refresh` is granted so
/// that the legacy-mode 404 is reached (§10.120). Role ids follow the
/// order: public 1, authenticated 2, admin 3.
pub const POLICY: &str = r#"content_types:
  - uid: api::post.post
    kind: collectionType
    plural: posts
  - uid: api::article.article
    kind: collectionType
    plural: articles

roles:
  public:
    name: Public
    description: Default role given to unauthenticated user.
    permissions:
      api::post.post: [find, findOne]
      plugin::users-permissions.auth: [callback, register, forgotPassword, resetPassword, connect, emailConfirmation, sendEmailConfirmation, refresh]
  authenticated:
    name: Authenticated
    description: Default role given to authenticated user.
    permissions:
      api::post.post: [find, findOne]
      api::article.article: [find, findOne]
      plugin::users-permissions.user: [me, updateMe]
      plugin::users-permissions.auth: [changePassword, logout]
  admin:
    name: Admin
    description: Manages users.
    permissions:
      api::article.article: [find, findOne, create]
      plugin::users-permissions.user: [find, findOne, count, create, update, destroy, me]
      plugin::users-permissions.role: [find, findOne, createRole, updateRole, deleteRole]
      plugin::users-permissions.permissions: [getPermissions]
      plugin::users-permissions.auth: [changePassword]
"#;

/// The GitHub provider of the OAuth cases.
pub const PROVIDERS: &str = "github: { client_id: x, client_secret: y, redirect: \"http://localhost:3000/connect/github/redirect\" }";

/// A running gateway with its upstream and SMTP sink.
pub struct Env {
    pub upstream: EchoUpstream,
    pub sink: SmtpSink,
    pub gw: Gateway,
    pub http: Http,
    /// The store URL (for direct reads and the odd direct write).
    pub store: String,
}

/// The legacy-JWT gateway most cases run on: [`POLICY`], mail through the
/// sink, GitHub configured, a rate limit too high to matter (the limiter
/// has its own gateway), `users_permissions` keys added from `up_extra`.
pub fn builder(sink: &SmtpSink, up_extra: &str) -> GatewayBuilder {
    let up = format!(
        "rate_limit: {{ interval: \"1m\", max: 100000 }}\n\
         email_confirmation_redirection: \"{CONFIRMED_URL}\"\n{up_extra}"
    );
    GatewayBuilder::new()
        .policy_file("default.yaml", POLICY)
        .section("users_permissions", up)
        .section("email", sink.email_section())
        .section("providers", PROVIDERS)
}

/// Starts an upstream and a sink, then the gateway `make(&sink)` describes.
pub async fn spawn_with(make: impl FnOnce(&SmtpSink) -> GatewayBuilder) -> Env {
    spawn_on(make, None).await
}

/// Like [`spawn_with`], on the store `store_url` (SQLite in the temp dir
/// when `None`).
pub async fn spawn_on(
    make: impl FnOnce(&SmtpSink) -> GatewayBuilder,
    store_url: Option<&str>,
) -> Env {
    let upstream = Box::pin(EchoUpstream::start()).await.unwrap();
    let sink = Box::pin(SmtpSink::start()).await.unwrap();
    let mut b = make(&sink).upstream(upstream.url());
    if let Some(url) = store_url {
        b = b.store_url(url);
    }
    let gw = Box::pin(b.spawn()).await.unwrap();
    let store = match store_url {
        Some(url) => url.to_owned(),
        None => format!("sqlite://{}", gw.dir().join("portcullis.db").display()),
    };
    let http = gw.http();
    Env {
        upstream,
        sink,
        gw,
        http,
        store,
    }
}

/// The default gateway of this suite ([`builder`] with nothing extra).
pub async fn spawn() -> Env {
    spawn_with(|sink| builder(sink, "")).await
}

impl Env {
    /// Any request, with an optional bearer and JSON body.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Value>,
    ) -> RawResponse {
        let auth = bearer.map(|t| format!("Bearer {t}"));
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(a) = &auth {
            headers.push(("Authorization", a));
        }
        let text = body.map(Value::to_string);
        if text.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        let request = self
            .http
            .request(method, path, &headers, text.as_deref().map(str::as_bytes));
        Box::pin(request)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e:#}"))
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> RawResponse {
        self.send("GET", path, bearer, None).await
    }

    pub async fn post(&self, path: &str, bearer: Option<&str>, body: Value) -> RawResponse {
        self.send("POST", path, bearer, Some(&body)).await
    }

    pub async fn put(&self, path: &str, bearer: Option<&str>, body: Value) -> RawResponse {
        self.send("PUT", path, bearer, Some(&body)).await
    }

    /// `POST /api/auth/local` anonymously.
    pub async fn login(&self, identifier: &str, password: &str) -> RawResponse {
        self.post(
            "/api/auth/local",
            None,
            json!({ "identifier": identifier, "password": password }),
        )
        .await
    }

    /// A successful login: `(jwt, user)`.
    pub async fn login_ok(&self, identifier: &str, password: &str) -> (String, Value) {
        let r = self.login(identifier, password).await;
        assert_eq!(r.status, 200, "login {identifier}: {}", r.text());
        let body = r.json();
        (
            body["jwt"].as_str().unwrap().to_owned(),
            body["user"].clone(),
        )
    }

    /// `POST /api/auth/forgot-password` for `email`, then the code mailed
    /// to it.
    pub async fn forgot_code(&self, email: &str) -> String {
        let seen = self.sink.messages_to(email).len();
        let r = self
            .post("/api/auth/forgot-password", None, json!({ "email": email }))
            .await;
        assert_eq!(r.status, 200, "forgot-password {email}: {}", r.text());
        assert_eq!(r.text(), r#"{"ok":true}"#);
        let mail = self.mail_to(email, seen).await;
        assert_eq!(
            mail.header("subject").as_deref(),
            Some("Reset password"),
            "{}",
            mail.data
        );
        mail.reset_code()
            .unwrap_or_else(|| panic!("no ?code= in the mail:\n{}", mail.text()))
    }

    /// The mail to `email` after the first `seen` ones.
    pub async fn mail_to(&self, email: &str, seen: usize) -> SmtpMessage {
        Box::pin(self.sink.wait_for_to(email, seen, MAIL_WAIT))
            .await
            .unwrap_or_else(|e| panic!("{e:#}; all mails: {:?}", self.sink.messages()))
    }

    /// `portcullis token create --name N --type T [extra]` → the secret
    /// (alone on the last line).
    pub async fn token(&self, name: &str, kind: &str, extra: &[&str]) -> String {
        let mut args = vec!["token", "create", "--name", name, "--type", kind];
        args.extend_from_slice(extra);
        let out = Box::pin(self.gw.run_cli(&args)).await.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "token create {name}: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let secret = stdout.trim_end().lines().last().unwrap_or_default().trim();
        assert_eq!(secret.len(), 256, "{stdout}");
        secret.to_owned()
    }

    /// One column of one row (as text; NULL → `None`).
    pub async fn scalar(&self, sql: &str) -> Option<String> {
        Box::pin(fetch_one::<String>(&self.store, sql)).await
    }

    /// One integer (e.g. `count(*)`), NULL → `None`.
    pub async fn int(&self, sql: &str) -> Option<i64> {
        Box::pin(fetch_one::<i64>(&self.store, sql)).await
    }

    /// Runs a statement that must change exactly one row.
    pub async fn exec1(&self, sql: &str) {
        Box::pin(async {
            let mut conn = connect(&self.store).await;
            let done = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            assert_eq!(done.rows_affected(), 1, "{sql}");
            let _ = conn.close().await;
        })
        .await;
    }
}

/// The first column of the first row, if any and not NULL.
async fn fetch_one<T>(url: &str, sql: &str) -> Option<T>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any> + Send + Unpin,
{
    let mut conn = connect(url).await;
    let row: Option<(Option<T>,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_optional(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = conn.close().await;
    row.and_then(|r| r.0)
}

/// `common::create_user` (password [`PASSWORD`]), its future on the heap.
pub async fn create_user(gw: &Gateway, username: &str, extra: &[&str]) -> i64 {
    Box::pin(crate::common::create_user(gw, username, extra)).await
}

async fn connect(url: &str) -> AnyConnection {
    sqlx::any::install_default_drivers();
    AnyConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot open the store at {url}: {e}"))
}

/// Waits until the wall clock enters the next second. JWT `iat` has whole
/// seconds and the revocation instant is floored to its second, so only a
/// token issued in an earlier second than a password change is revoked.
pub async fn next_second() {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_millis())
        .unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(u64::from(1000 - ms) + 20)).await;
}

/// A validation error whose body is not the plain envelope: status 400,
/// name `ValidationError`, `message`, and (when given) the paths of
/// `details.errors`, in order.
#[track_caller]
pub fn assert_yup(r: &RawResponse, message: &str, paths: &[&[&str]], what: &str) {
    assert_eq!(r.status, 400, "{what}: {}", r.text());
    let body = r.json();
    assert_eq!(body["data"], Value::Null, "{what}: {body}");
    assert_eq!(body["error"]["status"], 400, "{what}: {body}");
    assert_eq!(body["error"]["name"], "ValidationError", "{what}: {body}");
    assert_eq!(body["error"]["message"], message, "{what}: {body}");
    if !paths.is_empty() {
        let got: Vec<Value> = body["error"]["details"]["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: no details.errors in {body}"))
            .iter()
            .map(|e| e["path"].clone())
            .collect();
        let want: Vec<Value> = paths.iter().map(|p| json!(p)).collect();
        assert_eq!(got, want, "{what}: {body}");
    }
}

/// 400 `ValidationError` with empty details.
#[track_caller]
pub fn assert_validation(r: &RawResponse, message: &str, what: &str) {
    assert_error(r, 400, "ValidationError", message, what);
}

/// 400 `ApplicationError` with empty details.
#[track_caller]
pub fn assert_application(r: &RawResponse, message: &str, what: &str) {
    assert_error(r, 400, "ApplicationError", message, what);
}

/// A sanitized user: exactly Strapi's public attributes (plus `role` when
/// `with_role`), never a secret.
#[track_caller]
pub fn assert_user_shape(user: &Value, with_role: bool, what: &str) {
    let mut keys: Vec<&str> = user
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not an object: {user}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    let mut want = vec![
        "blocked",
        "confirmed",
        "createdAt",
        "documentId",
        "email",
        "id",
        "provider",
        "publishedAt",
        "updatedAt",
        "username",
    ];
    if with_role {
        want.push("role");
        want.sort_unstable();
    }
    assert_eq!(keys, want, "{what}: {user}");
    assert!(user["id"].is_i64(), "{what}: {user}");
    assert!(user["documentId"].is_string(), "{what}: {user}");
}

/// The claims of a JWT the gateway issued (signature checked).
pub fn claims(token: &str) -> Value {
    let key = jsonwebtoken::DecodingKey::from_secret(TEST_JWT_SECRET.as_bytes());
    let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap_or_else(|e| panic!("{token}: {e}"))
        .claims
}
