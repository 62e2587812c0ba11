//! Strapi's error envelope, written in exactly one place.
//!
//! `{"data":null,"error":{"status":403,"name":"ForbiddenError","message":"Forbidden","details":{}}}`

use serde_json::{Value, json};

use crate::decide::Deny;

/// The envelope for an error with empty `details`.
pub fn error_body(status: u16, name: &str, message: &str) -> String {
    error_body_with(status, name, message, json!({}))
}

/// The envelope with the given `details` value.
pub fn error_body_with(status: u16, name: &str, message: &str, details: Value) -> String {
    json!({
        "data": null,
        "error": {"status": status, "name": name, "message": message, "details": details}
    })
    .to_string()
}

impl Deny {
    pub fn body(&self) -> String {
        error_body(self.status, self.name, self.message)
    }
}

/// 400 for a path the canonicalizer refused.
pub fn bad_path_body(reason: &str) -> String {
    error_body(400, "BadRequestError", reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_matches_strapi_byte_for_byte() {
        assert_eq!(
            Deny::FORBIDDEN.body(),
            r#"{"data":null,"error":{"status":403,"name":"ForbiddenError","message":"Forbidden","details":{}}}"#
        );
    }

    #[test]
    fn messages_are_escaped() {
        let b = error_body(400, "ValidationError", "a \"b\"");
        assert!(b.contains(r#""message":"a \"b\"""#));
    }
}
