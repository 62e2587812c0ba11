//! Harness of the user and role route tests: a [`Service`] over a fresh
//! SQLite file or PostgreSQL database, four seeded users, a policy with a
//! role that may read roles and one that may not, and a request builder.
//!
//! The databases are made by [`db`].
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use portcullis_auth::JwtKeys;
use portcullis_core::users_permissions::ROUTES;
use portcullis_core::{
    ContentKind, ContentType, CustomRoute, Method, Policy, PolicySpec, Role, RoutePattern,
};
use portcullis_store::{NewUser, PasswordPool, Store, User, now_ms};
use portcullis_users_permissions::request::ApiTokenKind;
use portcullis_users_permissions::{
    Mailer, MemoryRateLimiter, Service, UpCaller, UpRequest, UpResponse, UpSettings, UserEvents,
};
use serde_json::Value;

/// The stored hash of every seeded user: it must never be echoed.
pub const SEED_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2VlZGVkc2FsdA$SEEDEDHASHSEEDEDHASH";
/// alice's pending reset and confirmation tokens: never echoed either.
pub const RESET_TOKEN: &str = "5ec7e7ac0de5ec7e7ac0de5ec7e7ac0de";
pub const CONFIRM_TOKEN: &str = "c0nf1rmc0nf1rmc0nf1rm";

mod db;

pub use db::{on_postgres, on_sqlite};

// ------------------------------------------------------------------ service

/// Records `user_changed` calls.
#[derive(Default)]
pub struct Events(pub Mutex<Vec<i64>>);

#[async_trait::async_trait]
impl UserEvents for Events {
    async fn user_changed(&self, id: i64) {
        self.0.lock().unwrap().push(id);
    }
}

impl Events {
    pub fn take(&self) -> Vec<i64> {
        std::mem::take(&mut *self.0.lock().unwrap())
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

const USER_ACTIONS: &[&str] = &[
    "count", "create", "destroy", "find", "findOne", "me", "update", "updateMe",
];

/// Roles, in this order (ids 1–4): public, authenticated (me/updateMe),
/// manager (every user action, may read roles and permissions), clerk
/// (user administration without `role.find`).
pub fn policy() -> Arc<Policy> {
    let public = grants(&[
        ("api::post.post", &["find", "findOne"]),
        ("plugin::users-permissions.auth", &["callback"]),
    ]);
    let authenticated = grants(&[
        ("api::post.post", &["find", "findOne", "create"]),
        ("plugin::users-permissions.user", &["me", "updateMe"]),
    ]);
    let manager = grants(&[
        ("plugin::users-permissions.user", USER_ACTIONS),
        ("plugin::users-permissions.role", &["find", "findOne"]),
        ("plugin::users-permissions.permissions", &["getPermissions"]),
        ("api::newsletter.newsletter", &["subscribe"]),
    ]);
    let clerk = grants(&[(
        "plugin::users-permissions.user",
        &["count", "create", "destroy", "find", "findOne", "update"],
    )]);
    Arc::new(Policy::compile(PolicySpec {
        api_prefix: "/api".into(),
        content_types: vec![
            ContentType {
                uid: "api::post.post".into(),
                kind: ContentKind::Collection,
                segment: "posts".into(),
            },
            ContentType {
                uid: "api::site-setting.site-setting".into(),
                kind: ContentKind::Single,
                segment: "site-setting".into(),
            },
        ],
        routes: vec![CustomRoute {
            method: Method::Post,
            pattern: RoutePattern::parse("/api/newsletter").unwrap(),
            action: "api::newsletter.newsletter.subscribe".into(),
        }],
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
            Role::new("manager", "Manager", "Manages users.", manager),
            Role::new(
                "clerk",
                "Clerk",
                "Administers users, cannot see roles.",
                clerk,
            ),
        ],
        version: "test".into(),
        ..PolicySpec::default()
    }))
}

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
        providers: Vec::new(),
    }
}

/// The service, its recorded events and the seeded users.
pub struct Env {
    pub svc: Service,
    pub policy: Arc<Policy>,
    pub events: Arc<Events>,
    /// authenticated, confirmed, with pending reset/confirmation tokens.
    pub alice: User,
    /// authenticated, unconfirmed, blocked.
    pub bob: User,
    /// manager.
    pub carol: User,
    /// clerk.
    pub dave: User,
}

async fn seed(store: &Store, username: &str, role: &str, confirmed: bool, blocked: bool) -> User {
    store
        .create_user(NewUser {
            username: username.into(),
            email: format!("{username}@example.com"),
            password_hash: Some(SEED_HASH.into()),
            provider: "local".into(),
            role: role.into(),
            confirmed,
            blocked,
        })
        .await
        .unwrap()
}

impl Env {
    pub async fn new(url: &str) -> Env {
        let store = Store::connect(url)
            .await
            .unwrap_or_else(|e| panic!("connect {url}: {e}"));
        let alice = seed(&store, "alice", "authenticated", true, false).await;
        let bob = seed(&store, "bob", "authenticated", false, true).await;
        let carol = seed(&store, "carol", "manager", true, false).await;
        let dave = seed(&store, "dave", "clerk", true, false).await;
        store
            .set_reset_token(alice.id, Some(RESET_TOKEN), now_ms())
            .await
            .unwrap();
        store
            .set_confirmation_token(alice.id, Some(CONFIRM_TOKEN), now_ms())
            .await
            .unwrap();
        let alice = store.user_by_id(alice.id).await.unwrap().unwrap();
        let events = Arc::new(Events::default());
        let svc = Service {
            store,
            jwt: JwtKeys::new(b"secret", Duration::from_secs(3600)),
            passwords: PasswordPool::new(2),
            mailer: Mailer::default(),
            limiter: Arc::new(MemoryRateLimiter::default()),
            events: events.clone(),
            settings: settings(),
        };
        Env {
            svc,
            policy: policy(),
            events,
            alice,
            bob,
            carol,
            dave,
        }
    }

    pub fn store(&self) -> &Store {
        &self.svc.store
    }

    pub async fn reload(&self, user: &User) -> Option<User> {
        self.svc.store.user_by_id(user.id).await.unwrap()
    }

    /// A request for `action` (e.g. `user.find`) from `caller`.
    pub fn call(&self, action: &str, caller: UpCaller) -> Call<'_> {
        let uid = format!("plugin::users-permissions.{action}");
        let route = ROUTES
            .iter()
            .find(|r| r.action == uid)
            .unwrap_or_else(|| panic!("no route {uid}"));
        Call {
            env: self,
            req: UpRequest {
                route,
                params: Vec::new(),
                path: format!("/api/{}", route.path),
                query: None,
                headers: HeaderMap::new(),
                body: Bytes::new(),
                caller,
                policy: self.policy.clone(),
                client_ip: None,
            },
        }
    }
}

pub fn as_user(user: &User) -> UpCaller {
    UpCaller::User(Arc::new(user.state()))
}

pub fn token(kind: ApiTokenKind) -> UpCaller {
    UpCaller::ApiToken { id: 7, kind }
}

/// A request being built.
pub struct Call<'a> {
    env: &'a Env,
    req: UpRequest,
}

impl Call<'_> {
    pub fn id(mut self, id: impl ToString) -> Self {
        let id = id.to_string();
        self.req.path = self.req.path.replace(":id", &id);
        self.req.params.push(("id".into(), id));
        self
    }

    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.req.params.push((name.into(), value.into()));
        self
    }

    pub fn query(mut self, q: &str) -> Self {
        self.req.query = Some(q.to_owned());
        self
    }

    pub fn body(mut self, v: Value) -> Self {
        self.req.body = Bytes::from(v.to_string());
        self
    }

    pub async fn send(self) -> Reply {
        let resp = self.env.svc.handle(self.req).await;
        Reply::from(resp)
    }
}

/// A response, with its body as text and JSON.
pub struct Reply {
    pub status: u16,
    pub text: String,
    pub json: Value,
    pub resp: UpResponse,
}

impl From<UpResponse> for Reply {
    fn from(resp: UpResponse) -> Reply {
        let text = String::from_utf8(resp.body.to_vec()).unwrap();
        // Whatever the route and outcome: no stored secret, and no private
        // attribute as a key of any object.
        for secret in [SEED_HASH, RESET_TOKEN, CONFIRM_TOKEN, "$argon2"] {
            assert!(!text.contains(secret), "leaked {secret}: {text}");
        }
        for key in [
            "\"password\":",
            "\"resetPasswordToken\":",
            "\"confirmationToken\":",
            "\"tokens_valid_after\":",
        ] {
            assert!(!text.contains(key), "private key {key} in {text}");
        }
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        Reply {
            status: resp.status,
            text,
            json,
            resp,
        }
    }
}

impl Reply {
    /// Asserts Strapi's error envelope with empty details.
    pub fn assert_error(&self, status: u16, name: &str, message: &str) {
        let expected = serde_json::json!({
            "data": null,
            "error": {"status": status, "name": name, "message": message, "details": {}},
        });
        assert_eq!(self.json, expected, "{}", self.text);
        assert_eq!(self.status, status);
    }

    /// Asserts a 400 `Invalid key` error with Strapi's details.
    pub fn assert_invalid_key(&self, key: &str, path: &str, param: &str) {
        let message = if key == path {
            format!("Invalid key {key}")
        } else {
            format!("Invalid key {key} at {path}")
        };
        let expected = serde_json::json!({
            "data": null,
            "error": {
                "status": 400, "name": "ValidationError", "message": message,
                "details": {"key": key, "path": path, "source": "query", "param": param},
            },
        });
        assert_eq!(self.json, expected, "{}", self.text);
        assert_eq!(self.status, 400);
    }

    /// The usernames of a list response, in order.
    pub fn usernames(&self) -> Vec<String> {
        assert_eq!(self.status, 200, "{}", self.text);
        self.json
            .as_array()
            .unwrap_or_else(|| panic!("not an array: {}", self.text))
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_owned())
            .collect()
    }

    pub fn keys(&self) -> Vec<String> {
        self.json.as_object().unwrap().keys().cloned().collect()
    }
}

/// The attributes of a sanitized user, in order.
pub const USER_KEYS: &[&str] = &[
    "id",
    "documentId",
    "username",
    "email",
    "provider",
    "confirmed",
    "blocked",
    "createdAt",
    "updatedAt",
    "publishedAt",
];
