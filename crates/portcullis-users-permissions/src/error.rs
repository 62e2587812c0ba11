//! Strapi's errors (strapi-behavior.md §1.2), mapped to the envelope in this
//! one place.

use serde_json::{Value, json};

use crate::request::UpResponse;

/// One failed yup check (`details.errors[]`).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub path: Vec<String>,
    pub message: String,
    /// The offending value; `None` leaves `value` out (yup's `undefined`).
    pub value: Option<Value>,
}

impl FieldError {
    pub fn new(path: &str, message: impl Into<String>, value: Option<Value>) -> FieldError {
        FieldError {
            path: vec![path.to_owned()],
            message: message.into(),
            value,
        }
    }
}

/// A handler error: status, Strapi error name, message and details.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub name: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    fn new(status: u16, name: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            name,
            message: message.into(),
            details: json!({}),
        }
    }

    /// 400 `ValidationError` with empty details.
    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "ValidationError", message)
    }

    /// 400 `ValidationError` from yup failures: the single message, or
    /// `"<N> errors occurred"`, with `details.errors`.
    pub fn yup(errors: Vec<FieldError>) -> ApiError {
        let message = match errors.as_slice() {
            [one] => one.message.clone(),
            many => format!("{} errors occurred", many.len()),
        };
        let list: Vec<Value> = errors
            .into_iter()
            .map(|e| {
                let mut o =
                    json!({"path": e.path, "message": e.message, "name": "ValidationError"});
                if let (Some(v), Some(map)) = (e.value, o.as_object_mut()) {
                    map.insert("value".into(), v);
                }
                o
            })
            .collect();
        ApiError {
            status: 400,
            name: "ValidationError",
            message,
            details: json!({ "errors": list }),
        }
    }

    /// 400 `ApplicationError`.
    pub fn application(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "ApplicationError", message)
    }

    /// 400 `BadRequestError` (`ctx.badRequest`).
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequestError", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, "NotFoundError", message)
    }

    /// `ctx.forbidden()`.
    pub fn forbidden() -> ApiError {
        ApiError::new(403, "ForbiddenError", "Forbidden")
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(401, "UnauthorizedError", message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> ApiError {
        ApiError::new(405, "MethodNotAllowedError", message)
    }

    pub fn rate_limited() -> ApiError {
        ApiError::new(
            429,
            "RateLimitError",
            "Too many requests, please try again later.",
        )
    }

    /// A failure of ours (store down, mail transport): Strapi's 500, with no
    /// detail leaked to the client.
    pub fn internal(context: &str, err: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(error = %err, "{context}");
        ApiError {
            status: 500,
            name: "InternalServerError",
            message: "Internal Server Error".into(),
            details: Value::Null,
        }
    }

    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = details;
        self
    }

    pub fn into_response(self) -> UpResponse {
        let mut error = json!({"status": self.status, "name": self.name, "message": self.message});
        // Strapi leaves `details` out of 500s.
        if !self.details.is_null()
            && let Some(map) = error.as_object_mut()
        {
            map.insert("details".into(), self.details);
        }
        UpResponse::json(self.status, &json!({"data": null, "error": error}))
    }
}

impl From<portcullis_store::Error> for ApiError {
    fn from(e: portcullis_store::Error) -> ApiError {
        ApiError::internal("store error", &e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yup_single_and_many() {
        let one = ApiError::yup(vec![FieldError::new(
            "password",
            "password is a required field",
            None,
        )]);
        assert_eq!(one.message, "password is a required field");
        let body = String::from_utf8(one.into_response().body.to_vec()).unwrap_or_default();
        assert_eq!(
            body,
            r#"{"data":null,"error":{"status":400,"name":"ValidationError","message":"password is a required field","details":{"errors":[{"path":["password"],"message":"password is a required field","name":"ValidationError"}]}}}"#
        );
        let two = ApiError::yup(vec![
            FieldError::new("identifier", "identifier is a required field", None),
            FieldError::new("password", "password is a required field", None),
        ]);
        assert_eq!(two.message, "2 errors occurred");
    }
}
