//! JSON Web Tokens for tests: valid Strapi-shaped user tokens signed with
//! [`TEST_JWT_SECRET`], and the malformed ones an attacker would send (alg
//! `none`, other HMAC algorithms, a header naming an asymmetric algorithm
//! but signed with the HMAC secret, missing `exp`, wrong secret).
//!
//! Signing uses `jsonwebtoken`'s HMAC primitives; headers are built by hand
//! so that any header (including invalid ones) can be produced.
//!
//! These helpers panic instead of returning errors: they only fail on a
//! non-HMAC signing algorithm, which is a bug in the calling test.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

/// The `jwt.secret` every spawned gateway is configured with.
pub const TEST_JWT_SECRET: &str = "portcullis-test-jwt-secret-0123456789abcdef";

/// A secret that is NOT the gateway's, for wrong-signature tests.
pub const WRONG_JWT_SECRET: &str = "not-the-gateway-secret-0123456789abcdef";

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Strapi's user-token claims: `{"id", "iat": now, "exp": now + 3600}`.
pub fn user_claims(id: i64) -> Value {
    let now = now();
    json!({ "id": id, "iat": now, "exp": now + 3600 })
}

/// An HS256 token over `claims`, signed with `secret`.
pub fn jwt(secret: &str, claims: &Value) -> String {
    jwt_with_alg(Algorithm::HS256, secret, claims)
}

/// A valid user token for `id`, as the gateway (or Strapi) would issue it.
pub fn user_jwt(id: i64) -> String {
    jwt(TEST_JWT_SECRET, &user_claims(id))
}

/// A user token whose `exp` lies an hour in the past.
pub fn expired_user_jwt(id: i64) -> String {
    let now = now();
    jwt(
        TEST_JWT_SECRET,
        &json!({ "id": id, "iat": now - 7200, "exp": now - 3600 }),
    )
}

/// A user token with no `exp` claim at all.
pub fn user_jwt_without_exp(id: i64) -> String {
    jwt(TEST_JWT_SECRET, &json!({ "id": id, "iat": now() }))
}

/// A well-formed user token signed with [`WRONG_JWT_SECRET`].
pub fn user_jwt_wrong_secret(id: i64) -> String {
    jwt(WRONG_JWT_SECRET, &user_claims(id))
}

/// A token signed with an HMAC algorithm (`HS256`, `HS384` or `HS512`).
///
/// # Panics
/// For a non-HMAC `alg`.
pub fn jwt_with_alg(alg: Algorithm, secret: &str, claims: &Value) -> String {
    let header = json!({ "alg": format!("{alg:?}"), "typ": "JWT" });
    forge_jwt(&header, claims, alg, secret)
}

/// An `alg: none` token: `header.payload.` with an empty signature.
pub fn unsigned_jwt(claims: &Value) -> String {
    unsigned_jwt_with_header(&json!({ "alg": "none", "typ": "JWT" }), claims)
}

/// `header.payload.` for any header (e.g. `{"alg":"None"}`, `{"alg":"nOnE"}`).
pub fn unsigned_jwt_with_header(header: &Value, claims: &Value) -> String {
    format!("{}.{}.", b64_json(header), b64_json(claims))
}

/// A token with an arbitrary `header` (say `{"alg":"RS256"}` for algorithm
/// confusion, or one with `kid`/`jku`) whose signature is computed with the
/// HMAC algorithm `sign_with` and `secret`.
///
/// # Panics
/// For a non-HMAC `sign_with`.
pub fn forge_jwt(header: &Value, claims: &Value, sign_with: Algorithm, secret: &str) -> String {
    let message = format!("{}.{}", b64_json(header), b64_json(claims));
    let key = EncodingKey::from_secret(secret.as_bytes());
    match jsonwebtoken::crypto::sign(message.as_bytes(), &key, sign_with) {
        Ok(signature) => format!("{message}.{signature}"),
        Err(e) => panic!("cannot sign a test JWT with {sign_with:?}: {e}"),
    }
}

/// Unpadded base64url of the compact JSON text of `value`.
pub fn b64_json(value: &Value) -> String {
    b64url(value.to_string().as_bytes())
}

/// Unpadded base64url (RFC 4648 §5), as JWTs use.
pub fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let index = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation, decode};

    #[test]
    fn b64url_matches_rfc4648_vectors() {
        assert_eq!(b64url(b""), "");
        assert_eq!(b64url(b"f"), "Zg");
        assert_eq!(b64url(b"fo"), "Zm8");
        assert_eq!(b64url(b"foo"), "Zm9v");
        assert_eq!(b64url(b"foob"), "Zm9vYg");
        assert_eq!(b64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn user_jwt_verifies_with_the_test_secret() {
        let token = user_jwt(7);
        let key = DecodingKey::from_secret(TEST_JWT_SECRET.as_bytes());
        let data = decode::<Value>(&token, &key, &Validation::new(Algorithm::HS256)).unwrap();
        assert_eq!(data.claims["id"], 7);
        let wrong = user_jwt_wrong_secret(7);
        assert!(decode::<Value>(&wrong, &key, &Validation::new(Algorithm::HS256)).is_err());
    }

    #[test]
    fn attack_tokens_have_the_intended_shape() {
        let none = unsigned_jwt(&user_claims(1));
        assert!(none.ends_with('.'));
        assert_eq!(
            none.split('.').next().unwrap(),
            b64_json(&json!({"alg":"none","typ":"JWT"}))
        );
        let hs512 = jwt_with_alg(Algorithm::HS512, TEST_JWT_SECRET, &user_claims(1));
        let header = jsonwebtoken::decode_header(&hs512).unwrap();
        assert_eq!(header.alg, Algorithm::HS512);
        let key = DecodingKey::from_secret(TEST_JWT_SECRET.as_bytes());
        let mut validation = Validation::new(Algorithm::HS256);
        validation.required_spec_claims.clear();
        let no_exp = user_jwt_without_exp(1);
        let data = decode::<Value>(&no_exp, &key, &validation).unwrap();
        assert!(data.claims.get("exp").is_none());
        let confused = forge_jwt(
            &json!({"alg":"RS256"}),
            &user_claims(1),
            Algorithm::HS256,
            TEST_JWT_SECRET,
        );
        assert_eq!(confused.split('.').count(), 3);
    }
}
