//! The Pingora adapter of Portcullis: the proxy service, header hygiene,
//! the admin listener and the server lifecycle. `portcullis serve` is a thin
//! wrapper around [`server::run`].

pub mod admin;
pub mod authn;
pub mod fleet;
pub mod gateway;
pub mod headers;
pub mod jwt_cache;
pub mod metrics;
pub mod respond;
pub mod server;
pub mod settings;
pub mod state;
pub mod sync;
pub mod timer_anchor;
pub mod tokens;
pub mod up;
pub mod users;
pub mod watch;

pub use gateway::Gateway;
pub use settings::{AuthorizationMode, IdentityHeaderNames, Settings};
pub use state::AppState;
pub use users::UserDirectory;
