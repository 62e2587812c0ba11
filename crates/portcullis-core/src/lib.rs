//! The pure decision core of Portcullis: `(method, canonical path, caller)
//! -> Decision`. No I/O, no async, no Pingora, no YAML.

pub mod decide;
pub mod envelope;
pub mod method;
pub mod path;
pub mod pattern;
pub mod policy;
pub mod router;
pub mod users_permissions;

pub use decide::{AuthFailure, Caller, Decision, Deny, Outcome, Rule, TokenAccess};
pub use method::Method;
pub use path::{CanonicalPath, PathError, canonicalize};
pub use pattern::{PatternError, PatternSeg, RoutePattern};
pub use policy::{ContentKind, ContentType, CustomRoute, Policy, PolicySpec, Role};
pub use router::{Resolved, RouteSource, Target};

#[cfg(test)]
mod tests;
