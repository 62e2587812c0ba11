//! Writing the gateway's own answers (errors in Strapi's envelope).

use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::proxy::Session;

/// Writes a complete JSON response.
pub async fn json(session: &mut Session, status: u16, body: String) -> Result<()> {
    let body = Bytes::from(body);
    let mut resp = ResponseHeader::build(status, Some(4))?;
    resp.insert_header("Content-Type", "application/json; charset=utf-8")?;
    resp.insert_header("Content-Length", body.len().to_string())?;
    let head_only = session.req_header().method == http::Method::HEAD;
    session
        .write_response_header(Box::new(resp), head_only)
        .await?;
    if !head_only {
        session.write_response_body(Some(body), true).await?;
    }
    Ok(())
}
