//! The files a spawned gateway reads: `gateway.yaml` and `policies/*.yaml`,
//! rendered into a temporary directory by [`GatewayBuilder`].
//!
//! `gateway.yaml` is assembled from top-level sections. The defaults are
//! `server` (listen / admin_listen on free ports), `upstream` (url),
//! `jwt` (secret [`TEST_JWT_SECRET`]), `api_tokens` (salt
//! [`TEST_API_TOKEN_SALT`]), `store` (`sqlite://<tmp>/portcullis.db`) and
//! `policies` (dir `<tmp>/policies`). [`GatewayBuilder::section`] replaces
//! or adds a whole section, [`GatewayBuilder::section_extra`] appends keys to
//! one, [`GatewayBuilder::yaml`] appends raw top-level YAML. In every piece
//! of YAML text the placeholders `{{listen}}`, `{{admin_listen}}`, `{{dir}}`
//! and `{{upstream}}` are replaced by their values.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::jwt::TEST_JWT_SECRET;

/// The `api_tokens.salt` every spawned gateway is configured with.
pub const TEST_API_TOKEN_SALT: &str = "portcullis-test-api-token-salt";

/// The policy written to `policies/default.yaml` unless the test gives its
/// own files (CONTRACT §3 plus a public `newsletter.subscribe`).
pub const DEFAULT_POLICY: &str = r#"content_types:
  - uid: api::post.post
    kind: collectionType
    plural: posts
  - uid: api::site-setting.site-setting
    kind: singleType
    singular: site-setting

routes:
  - { method: GET, path: "/api/posts/:id/related", action: api::post.post.findOne }
  - { method: POST, path: "/api/newsletter", action: api::newsletter.newsletter.subscribe }

roles:
  public:
    name: Public
    description: Default role given to unauthenticated user.
    permissions:
      api::post.post: [find, findOne]
      api::newsletter.newsletter: [subscribe]
      plugin::users-permissions.auth: [callback, register, forgotPassword, resetPassword, connect, emailConfirmation, sendEmailConfirmation]
  authenticated:
    name: Authenticated
    description: Default role given to authenticated user.
    permissions:
      api::post.post: [find, findOne, create]
      plugin::users-permissions.user: [me]
      plugin::users-permissions.auth: [changePassword]
"#;

/// An upstream URL nothing listens on (port 9, "discard"), used when a test
/// does not give one.
const NO_UPSTREAM: &str = "http://127.0.0.1:9";

/// Builds the configuration of a gateway and spawns it
/// ([`GatewayBuilder::spawn`], in `gateway.rs`).
#[derive(Debug, Clone)]
pub struct GatewayBuilder {
    pub(crate) upstream: String,
    pub(crate) store_url: Option<String>,
    pub(crate) sections: Vec<(String, String)>,
    pub(crate) extras: Vec<(String, String)>,
    pub(crate) raw_yaml: String,
    pub(crate) policies: Vec<(String, String)>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) ready_timeout: Duration,
}

impl Default for GatewayBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl GatewayBuilder {
    /// Defaults: no reachable upstream, SQLite store in the temp dir,
    /// [`DEFAULT_POLICY`], 20 s start timeout.
    pub fn new() -> Self {
        Self {
            upstream: NO_UPSTREAM.to_owned(),
            store_url: None,
            sections: Vec::new(),
            extras: Vec::new(),
            raw_yaml: String::new(),
            policies: Vec::new(),
            env: Vec::new(),
            ready_timeout: Duration::from_secs(20),
        }
    }

    /// `upstream.url`, e.g. [`crate::EchoUpstream::url`].
    pub fn upstream(mut self, url: impl Into<String>) -> Self {
        self.upstream = url.into();
        self
    }

    /// `store.url` instead of `sqlite://<tmp>/portcullis.db`, e.g.
    /// [`crate::PgDatabase::url`].
    pub fn store_url(mut self, url: impl Into<String>) -> Self {
        self.store_url = Some(url.into());
        self
    }

    /// Sets top-level section `name` to `body` (unindented YAML), replacing
    /// the default section of that name if there is one:
    /// `.section("users_permissions", "allow_register: true\nemail_confirmation: true")`.
    pub fn section(mut self, name: impl Into<String>, body: impl Into<String>) -> Self {
        let name = name.into();
        self.sections.retain(|(n, _)| *n != name);
        self.sections.push((name, body.into()));
        self
    }

    /// Appends keys (unindented YAML) to section `name`, keeping its other
    /// keys: `.section_extra("upstream", "authorization: replace\ntoken: t")`.
    pub fn section_extra(mut self, name: impl Into<String>, body: impl Into<String>) -> Self {
        self.extras.push((name.into(), body.into()));
        self
    }

    /// Appends raw top-level YAML at the end of gateway.yaml.
    pub fn yaml(mut self, text: impl Into<String>) -> Self {
        self.raw_yaml.push_str(&text.into());
        self.raw_yaml.push('\n');
        self
    }

    /// Adds `policies/<name>`; once any is given, [`DEFAULT_POLICY`] is not
    /// written.
    pub fn policy_file(mut self, name: impl Into<String>, text: impl Into<String>) -> Self {
        self.policies.push((name.into(), text.into()));
        self
    }

    /// Sets an environment variable for the gateway process (and for
    /// [`crate::Gateway::run_cli`]).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// How long [`GatewayBuilder::spawn`] waits for the listen port.
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// The policy files to write, `(file name, text)`.
    pub(crate) fn policy_files(&self) -> Vec<(String, String)> {
        if self.policies.is_empty() {
            vec![("default.yaml".to_owned(), DEFAULT_POLICY.to_owned())]
        } else {
            self.policies.clone()
        }
    }

    /// The text of gateway.yaml for a gateway in `dir` on these ports.
    pub(crate) fn render(&self, dir: &Path, listen: SocketAddr, admin: SocketAddr) -> String {
        let store = self
            .store_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", dir.join("portcullis.db").display()));
        let defaults = [
            (
                "server",
                "listen: \"{{listen}}\"\nadmin_listen: \"{{admin_listen}}\"".to_owned(),
            ),
            ("upstream", format!("url: {}", quote(&self.upstream))),
            ("jwt", format!("secret: {}", quote(TEST_JWT_SECRET))),
            (
                "api_tokens",
                format!("salt: {}", quote(TEST_API_TOKEN_SALT)),
            ),
            ("store", format!("url: {}", quote(&store))),
            ("policies", "dir: \"{{dir}}/policies\"".to_owned()),
        ];
        let mut out = String::from("# written by portcullis-tests\n");
        let mut names: Vec<String> = defaults.iter().map(|(n, _)| (*n).to_owned()).collect();
        for (name, _) in &self.sections {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        for (name, _) in &self.extras {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        for name in names {
            let mut body = match self.sections.iter().find(|(n, _)| *n == name) {
                Some((_, body)) => body.clone(),
                None => defaults
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, b)| b.clone())
                    .unwrap_or_default(),
            };
            for (_, extra) in self.extras.iter().filter(|(n, _)| *n == name) {
                body.push('\n');
                body.push_str(extra);
            }
            out.push_str(&format!("{name}:\n{}", indent(&body)));
        }
        out.push_str(&self.raw_yaml);
        out.replace("{{listen}}", &listen.to_string())
            .replace("{{admin_listen}}", &admin.to_string())
            .replace("{{dir}}", &dir.display().to_string())
            .replace("{{upstream}}", &self.upstream)
    }
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn quote(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// Indents every non-empty line by two spaces; ends with a newline.
fn indent(body: &str) -> String {
    let mut out = String::new();
    for line in body.lines() {
        if !line.trim().is_empty() {
            out.push_str("  ");
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_defaults_sections_and_extras() {
        let b = GatewayBuilder::new()
            .upstream("http://127.0.0.1:5555")
            .section("users_permissions", "allow_register: false\n")
            .section_extra("upstream", "authorization: replace\ntoken: \"t\"")
            .section("store", "url: \"postgres://x/y\"")
            .yaml("cache:\n  ttl: 5s");
        let listen: SocketAddr = "127.0.0.1:1000".parse().unwrap();
        let admin: SocketAddr = "127.0.0.1:1001".parse().unwrap();
        let text = b.render(Path::new("/tmp/gw"), listen, admin);
        let expected = "# written by portcullis-tests
server:
  listen: \"127.0.0.1:1000\"
  admin_listen: \"127.0.0.1:1001\"
upstream:
  url: \"http://127.0.0.1:5555\"
  authorization: replace
  token: \"t\"
jwt:
  secret: \"portcullis-test-jwt-secret-0123456789abcdef\"
api_tokens:
  salt: \"portcullis-test-api-token-salt\"
store:
  url: \"postgres://x/y\"
policies:
  dir: \"/tmp/gw/policies\"
users_permissions:
  allow_register: false
cache:
  ttl: 5s
";
        assert_eq!(text, expected);
    }

    #[test]
    fn default_policy_only_without_policy_files() {
        let files = GatewayBuilder::new().policy_files();
        assert_eq!(
            files,
            vec![("default.yaml".to_owned(), DEFAULT_POLICY.to_owned())]
        );
        let files = GatewayBuilder::new()
            .policy_file("a.yaml", "roles: {}")
            .policy_files();
        assert_eq!(files, vec![("a.yaml".to_owned(), "roles: {}".to_owned())]);
    }
}
