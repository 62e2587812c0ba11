use super::*;
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::json;

const SECRET: &[u8] = b"test-secret";

fn keys() -> JwtKeys {
    JwtKeys::new(SECRET, Duration::from_secs(30 * 24 * 3600))
}

fn sign(alg: Algorithm, secret: &[u8], claims: Value) -> String {
    encode(
        &Header::new(alg),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn b64(v: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

#[test]
fn issued_tokens_verify_and_have_strapi_claims() {
    let k = keys();
    let t = k.issue_at(7, now_secs()).unwrap();
    let c = k.verify(&t).unwrap();
    assert_eq!(c.id, 7);
    assert_eq!(c.exp - c.iat.unwrap(), 2_592_000);
    let payload = t.split('.').nth(1).unwrap();
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let v: Value = serde_json::from_slice(&raw).unwrap();
    let mut keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["exp", "iat", "id"]);
}

#[test]
fn wrong_secret_expired_and_missing_exp_are_invalid() {
    let k = keys();
    let now = now_secs();
    let wrong = sign(
        Algorithm::HS256,
        b"other",
        json!({"id": 1, "exp": now + 60}),
    );
    assert_eq!(k.verify(&wrong), Err(JwtError::Invalid));
    let expired = sign(Algorithm::HS256, SECRET, json!({"id": 1, "exp": now - 1}));
    assert_eq!(k.verify(&expired), Err(JwtError::Invalid));
    let no_exp = sign(Algorithm::HS256, SECRET, json!({"id": 1}));
    assert_eq!(k.verify(&no_exp), Err(JwtError::Invalid));
    let future_nbf = sign(
        Algorithm::HS256,
        SECRET,
        json!({"id": 1, "exp": now + 60, "nbf": now + 30}),
    );
    assert_eq!(k.verify(&future_nbf), Err(JwtError::Invalid));
}

#[test]
fn other_algorithms_are_refused() {
    let k = keys();
    let now = now_secs();
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let t = sign(alg, SECRET, json!({"id": 1, "exp": now + 60}));
        assert_eq!(k.verify(&t), Err(JwtError::Invalid), "{alg:?}");
    }
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&json!({"id": 1, "exp": now + 60}))
    );
    assert_eq!(k.verify(&none), Err(JwtError::Invalid));
}

#[test]
fn id_claim_is_required_and_numeric() {
    let k = keys();
    let now = now_secs();
    let no_id = sign(Algorithm::HS256, SECRET, json!({"exp": now + 60}));
    assert_eq!(k.verify(&no_id), Err(JwtError::NoUserId));
    let obj = sign(
        Algorithm::HS256,
        SECRET,
        json!({"id": {"$gt": 0}, "exp": now + 60}),
    );
    assert_eq!(k.verify(&obj), Err(JwtError::NoUserId));
    let s = sign(
        Algorithm::HS256,
        SECRET,
        json!({"id": "12", "exp": now + 60}),
    );
    assert_eq!(k.verify(&s).map(|c| c.id), Ok(12));
    let neg = sign(
        Algorithm::HS256,
        SECRET,
        json!({"id": "-1", "exp": now + 60}),
    );
    assert_eq!(k.verify(&neg), Err(JwtError::NoUserId));
}

#[test]
fn audience_and_issuer_are_not_checked() {
    let k = keys();
    let t = sign(
        Algorithm::HS256,
        SECRET,
        json!({"id": 3, "exp": now_secs() + 60, "aud": "x", "iss": "y"}),
    );
    assert_eq!(k.verify(&t).map(|c| c.id), Ok(3));
}

#[test]
fn garbage_never_panics() {
    let k = keys();
    for t in ["", ".", "..", "a.b.c", "eyJ.eyJ.x", "\u{0}"] {
        assert!(k.verify(t).is_err());
    }
}
