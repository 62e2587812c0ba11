//! Credentials as Strapi reads them: the `Authorization: Bearer` header and
//! Users & Permissions JWTs (HS256, `{id, iat, exp}`).

pub mod bearer;
pub mod jwt;

pub use bearer::bearer_token;
pub use jwt::{Claims, JwtError, JwtKeys};
