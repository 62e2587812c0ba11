//! The Pingora adapter of Portcullis: the proxy service, header hygiene and
//! the server lifecycle. `portcullis serve` is a thin wrapper around
//! [`server::run`].

pub mod gateway;
pub mod headers;
pub mod respond;
pub mod server;
pub mod settings;
pub mod sync;
pub mod tokens;
pub mod up;
pub mod users;

pub use gateway::{AppState, Gateway};
pub use settings::{AuthorizationMode, IdentityHeaderNames, Settings};
pub use users::UserDirectory;
