//! Writing the gateway's own answers (errors in Strapi's envelope).

use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::proxy::Session;

/// Writes a complete response with the given headers.
pub async fn write(
    session: &mut Session,
    status: u16,
    headers: &[(String, String)],
    body: Bytes,
    request_id: &str,
) -> Result<()> {
    let mut resp = ResponseHeader::build(status, Some(headers.len() + 2))?;
    for (name, value) in headers {
        resp.append_header(name.clone(), value.as_str())?;
    }
    resp.insert_header("Content-Length", body.len().to_string())?;
    if !request_id.is_empty() {
        resp.insert_header("X-Request-Id", request_id)?;
    }
    let head_only = session.req_header().method == http::Method::HEAD || body.is_empty();
    session
        .write_response_header(Box::new(resp), head_only)
        .await?;
    if !head_only {
        session.write_response_body(Some(body), true).await?;
    }
    Ok(())
}

/// Writes a complete JSON response.
pub async fn json(
    session: &mut Session,
    status: u16,
    body: String,
    request_id: &str,
) -> Result<()> {
    let headers = [(
        "Content-Type".to_owned(),
        "application/json; charset=utf-8".to_owned(),
    )];
    write(session, status, &headers, Bytes::from(body), request_id).await
}
