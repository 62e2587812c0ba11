//! (Being written.)

use crate::request::{UpRequest, UpResponse};
use crate::{ApiError, Service};

pub async fn handle(_svc: &Service, _req: &UpRequest, _action: &str) -> Result<UpResponse, ApiError> {
    Err(ApiError::not_found("Not Found"))
}
