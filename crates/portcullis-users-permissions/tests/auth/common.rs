//! Harness: a [`Service`] over a store (see `db.rs`), an SMTP sink, the
//! default policy of CONTRACT §3, and request builders.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use portcullis_auth::JwtKeys;
use portcullis_core::users_permissions::{ROUTES, UpRoute, params};
use portcullis_core::{Policy, PolicySpec, Role};
use portcullis_store::{NewUser, PasswordPool, Store, User};
use portcullis_users_permissions::{
    Mailer, MemoryRateLimiter, ProviderSettings, Service, UpCaller, UpRequest, UpSettings,
    UserEvents,
};
use serde_json::Value;

use crate::smtp::SmtpSink;

pub const PASSWORD: &str = "Test1234";
pub const SECRET: &[u8] = b"test-jwt-secret";

/// Records `user_changed` calls.
#[derive(Default)]
pub struct Events(pub Mutex<Vec<i64>>);

#[async_trait::async_trait]
impl UserEvents for Events {
    async fn user_changed(&self, id: i64) {
        self.0.lock().unwrap().push(id);
    }
}

fn grants(items: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    items
        .iter()
        .map(|(uid, actions)| {
            (
                (*uid).to_owned(),
                actions.iter().map(|a| (*a).to_owned()).collect(),
            )
        })
        .collect()
}

/// The roles of CONTRACT §3.
pub fn policy() -> Arc<Policy> {
    let public = grants(&[
        ("api::post.post", &["find", "findOne"]),
        (
            "plugin::users-permissions.auth",
            &[
                "callback",
                "register",
                "forgotPassword",
                "resetPassword",
                "connect",
                "emailConfirmation",
                "sendEmailConfirmation",
            ],
        ),
    ]);
    let authenticated = grants(&[
        ("api::post.post", &["find", "findOne", "create"]),
        ("plugin::users-permissions.user", &["me"]),
        ("plugin::users-permissions.auth", &["changePassword"]),
    ]);
    Arc::new(Policy::compile(PolicySpec {
        api_prefix: "/api".into(),
        roles: vec![
            Role::new(
                "public",
                "Public",
                "Default role given to unauthenticated user.",
                public,
            ),
            Role::new(
                "authenticated",
                "Authenticated",
                "Default role given to authenticated user.",
                authenticated,
            ),
        ],
        version: "test".into(),
        ..PolicySpec::default()
    }))
}

pub const GITHUB_REDIRECT: &str = "http://localhost:3000/connect/github/redirect";

/// Strapi's defaults, as gateway.yaml spells them.
pub fn settings() -> UpSettings {
    UpSettings {
        allow_register: true,
        default_role: "authenticated".into(),
        unique_email: true,
        email_confirmation: false,
        email_confirmation_redirection: "http://localhost:3000/confirmed".into(),
        email_reset_password: "http://localhost:3000/reset-password".into(),
        register_allowed_fields: Vec::new(),
        rate_limit_interval: Duration::from_secs(60),
        rate_limit_max: 10,
        reset_token_ttl: Duration::from_secs(3600),
        api_prefix: "/api".into(),
        providers: vec![ProviderSettings {
            name: "github".into(),
            client_id: "gh-client".into(),
            client_secret: "gh-secret".into(),
            redirect: GITHUB_REDIRECT.into(),
        }],
    }
}

/// argon2id of [`PASSWORD`], computed once per test binary.
pub fn password_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| portcullis_store::hash_password(PASSWORD).unwrap())
        .clone()
}

pub struct H {
    pub svc: Service,
    pub sink: SmtpSink,
    pub events: Arc<Events>,
    pub policy: Arc<Policy>,
    pub limiter: Arc<MemoryRateLimiter>,
}

impl H {
    /// Strapi's defaults, except a rate limit high enough not to get in
    /// the way (the rate-limit tests set their own).
    pub async fn new(url: &str) -> H {
        H::with(url, |_| {}).await
    }

    pub async fn with(url: &str, tweak: impl FnOnce(&mut UpSettings)) -> H {
        let store = Store::connect(url).await.unwrap();
        let sink = SmtpSink::start().await;
        let mailer = Mailer::smtp(&sink.url(), "Portcullis <no-reply@example.com>")
            .unwrap()
            .with_server_url("http://gateway.test");
        let events = Arc::new(Events::default());
        let limiter = Arc::new(MemoryRateLimiter::new());
        let mut settings = settings();
        settings.rate_limit_max = 1000;
        tweak(&mut settings);
        let svc = Service {
            store,
            jwt: JwtKeys::new(SECRET, Duration::from_secs(30 * 24 * 3600)),
            passwords: PasswordPool::new(4),
            mailer,
            limiter: limiter.clone(),
            events: events.clone(),
            settings,
        };
        H {
            svc,
            sink,
            events,
            policy: policy(),
            limiter,
        }
    }

    pub fn store(&self) -> &Store {
        &self.svc.store
    }

    /// A local user with [`PASSWORD`].
    pub async fn user(&self, username: &str, email: &str, confirmed: bool, blocked: bool) -> User {
        self.store()
            .create_user(NewUser {
                username: username.into(),
                email: email.into(),
                password_hash: Some(password_hash()),
                provider: "local".into(),
                role: "authenticated".into(),
                confirmed,
                blocked,
            })
            .await
            .unwrap()
    }

    /// The checklist's fixture: alice, confirmed, authenticated.
    pub async fn alice(&self) -> User {
        self.user("alice", "alice@example.com", true, false).await
    }

    pub async fn as_user(&self, id: i64) -> UpCaller {
        UpCaller::User(Arc::new(
            self.store().user_state(id).await.unwrap().unwrap(),
        ))
    }

    pub async fn fetch(&self, id: i64) -> User {
        self.store().user_by_id(id).await.unwrap().unwrap()
    }

    pub fn changed(&self) -> Vec<i64> {
        self.events.0.lock().unwrap().clone()
    }

    pub async fn run(&self, call: Call) -> Resp {
        Resp::from(self.svc.handle(request(call, self.policy.clone())).await)
    }

    pub async fn post(&self, pattern: &'static str, body: Value) -> Resp {
        self.run(Call::post(pattern, body)).await
    }

    pub async fn login(&self, identifier: &str, password: &str) -> Resp {
        self.post(
            "auth/local",
            serde_json::json!({"identifier": identifier, "password": password}),
        )
        .await
    }
}

/// The [`UpRequest`] the proxy would build for `call`.
pub fn request(call: Call, policy: Arc<Policy>) -> UpRequest {
    let route = route(call.pattern);
    let segments: Vec<&str> = call.path.split('/').filter(|s| !s.is_empty()).collect();
    UpRequest {
        route,
        params: params(route, &segments),
        path: format!("/api/{}", call.path),
        query: call.query,
        headers: call.headers,
        body: Bytes::from(call.body),
        caller: call.caller,
        policy,
        client_ip: call.ip,
    }
}

pub fn route(pattern: &str) -> &'static UpRoute {
    ROUTES
        .iter()
        .find(|r| r.path == pattern)
        .unwrap_or_else(|| panic!("no route {pattern}"))
}

/// One request to build.
pub struct Call {
    pub pattern: &'static str,
    /// Concrete path below `/api/`.
    pub path: String,
    pub query: Option<String>,
    pub body: String,
    pub caller: UpCaller,
    pub ip: Option<IpAddr>,
    pub headers: HeaderMap,
}

impl Call {
    pub fn post(pattern: &'static str, body: Value) -> Call {
        Call {
            pattern,
            path: pattern.to_owned(),
            query: None,
            body: body.to_string(),
            caller: UpCaller::Public,
            ip: Some(IpAddr::from([127, 0, 0, 1])),
            headers: HeaderMap::new(),
        }
    }

    pub fn get(pattern: &'static str, path: &str, query: Option<&str>) -> Call {
        Call {
            path: path.to_owned(),
            query: query.map(str::to_owned),
            body: String::new(),
            ..Call::post(pattern, Value::Null)
        }
    }

    pub fn raw(mut self, body: &str) -> Call {
        self.body = body.to_owned();
        self
    }

    pub fn caller(mut self, caller: UpCaller) -> Call {
        self.caller = caller;
        self
    }

    pub fn ip(mut self, ip: [u8; 4]) -> Call {
        self.ip = Some(IpAddr::from(ip));
        self
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Call {
        self.headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(value).unwrap(),
        );
        self
    }
}

/// A response, with the body parsed when it is JSON.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
    pub json: Value,
}

impl From<portcullis_users_permissions::UpResponse> for Resp {
    fn from(r: portcullis_users_permissions::UpResponse) -> Resp {
        let text = String::from_utf8(r.body.to_vec()).unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status: r.status,
            headers: r.headers,
            text,
            json,
        }
    }
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Asserts the exact envelope `ERR(status, name, message)` with
    /// `details: {}`.
    #[track_caller]
    pub fn assert_err(&self, status: u16, name: &str, message: &str) {
        let expected = serde_json::json!({
            "data": null,
            "error": {"status": status, "name": name, "message": message, "details": {}}
        });
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.text, expected.to_string());
    }

    /// Asserts a yup failure: status 400, message and the `details.errors`
    /// paths and messages.
    #[track_caller]
    pub fn assert_yup(&self, message: &str, errors: &[(&[&str], &str)]) {
        assert_eq!(self.status, 400, "{}", self.text);
        assert_eq!(
            self.json["error"]["name"], "ValidationError",
            "{}",
            self.text
        );
        assert_eq!(self.json["error"]["message"], message, "{}", self.text);
        let got: Vec<(Vec<String>, String)> = self.json["error"]["details"]["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let path = e["path"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_str().unwrap().to_owned())
                    .collect();
                (path, e["message"].as_str().unwrap().to_owned())
            })
            .collect();
        let want: Vec<(Vec<String>, String)> = errors
            .iter()
            .map(|(p, m)| (p.iter().map(|s| (*s).to_owned()).collect(), (*m).to_owned()))
            .collect();
        assert_eq!(got, want, "{}", self.text);
    }

    pub fn jwt(&self) -> &str {
        self.json["jwt"].as_str().unwrap()
    }
}

/// Decodes a JWT segment (base64url, no padding) as JSON.
pub fn jwt_part(token: &str, index: usize) -> Value {
    let seg = token.split('.').nth(index).unwrap();
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in seg.bytes() {
        let v = ALPHABET.iter().position(|a| *a == c).unwrap() as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    serde_json::from_slice(&out).unwrap()
}
