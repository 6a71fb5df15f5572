//! The web console's static files, served at `/_keyless/console/` on the serve port.
//! (`_keyless` cannot be a bucket name, so these paths never shadow S3.)

use keyless_s3::{ResponseBody, full_body};

/// The path prefix of the console's files.
pub const PREFIX: &str = "/_keyless/console/";

/// Answers a GET/HEAD of a console file; `None` for every other request (it goes to S3).
pub fn asset<B>(req: &http::Request<B>) -> Option<http::Response<ResponseBody>> {
    if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
        return None;
    }
    let path = req.uri().path();
    if path == "/_keyless/console" {
        let mut resp = http::Response::new(full_body(""));
        *resp.status_mut() = http::StatusCode::MOVED_PERMANENTLY;
        resp.headers_mut()
            .insert(http::header::LOCATION, http::HeaderValue::from_static(PREFIX));
        return Some(resp);
    }
    let name = path.strip_prefix(PREFIX)?;
    let name = if name.is_empty() { "index.html" } else { name };
    let (content_type, body): (&str, &'static [u8]) = match name {
        "index.html" => ("text/html; charset=utf-8", b"<!doctype html><title>keyless</title><p>console: work in progress"),
        _ => return None,
    };
    let mut resp = http::Response::new(full_body(body));
    resp.headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    resp.headers_mut()
        .insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-cache"));
    Some(resp)
}
