//! The web console's static files (`crates/keyless/console/`, embedded in the binary), served at
//! `/_keyless/console/` on the serve port. (`_keyless` cannot be a bucket name, so these paths
//! never shadow S3.) The console is plain JavaScript that talks to keyless's public APIs from the
//! browser (STS, SigV4-signed S3): this module only hands out files, and knows no credentials.
//!
//! A request carrying an `Authorization` header or a query string is S3's (a signed or presigned
//! request), never the console's: `asset` returns `None` for it, as for every unknown name.

use keyless_s3::{ResponseBody, full_body};

/// The path prefix of the console's files.
pub const PREFIX: &str = "/_keyless/console/";

/// The embedded files: name under [`PREFIX`], content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("index.html", HTML, include_bytes!("../console/index.html")),
    ("style.css", CSS, include_bytes!("../console/style.css")),
    ("app.js", JS, include_bytes!("../console/app.js")),
    ("api.js", JS, include_bytes!("../console/api.js")),
    ("browse.js", JS, include_bytes!("../console/browse.js")),
    ("identity.js", JS, include_bytes!("../console/identity.js")),
    ("session.js", JS, include_bytes!("../console/session.js")),
    ("sigv4.js", JS, include_bytes!("../console/sigv4.js")),
    ("signin.js", JS, include_bytes!("../console/signin.js")),
    ("ui.js", JS, include_bytes!("../console/ui.js")),
];

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// Only our own files run and load; no inline script or style, no framing, no form posts (the
/// sign-in forms are handled by script: without it they must not send keys anywhere).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Answers a GET/HEAD of a console file; `None` for every other request (it goes to S3).
pub fn asset<B>(req: &http::Request<B>) -> Option<http::Response<ResponseBody>> {
    if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
        return None;
    }
    if req.uri().query().is_some() || req.headers().contains_key(http::header::AUTHORIZATION) {
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
    let &(_, content_type, body) = ASSETS.iter().find(|(n, _, _)| *n == name)?;
    let mut resp = http::Response::new(full_body(body));
    let headers = resp.headers_mut();
    for (header, value) in [
        (http::header::CONTENT_TYPE, content_type),
        (http::header::CACHE_CONTROL, "no-cache"),
        (http::header::CONTENT_SECURITY_POLICY, CSP),
        (http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (http::header::REFERRER_POLICY, "no-referrer"),
        (http::header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(header, http::HeaderValue::from_static(value));
    }
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(method: &str, uri: &str, authorization: bool) -> Option<http::Response<ResponseBody>> {
        let mut req = http::Request::builder().method(method).uri(uri);
        if authorization {
            req = req.header("authorization", "AWS4-HMAC-SHA256 Credential=...");
        }
        asset(&req.body(()).unwrap())
    }

    fn header<'a>(resp: &'a http::Response<ResponseBody>, name: &str) -> &'a str {
        resp.headers().get(name).map_or("", |v| v.to_str().unwrap())
    }

    #[test]
    fn which_requests_are_the_consoles() {
        // (method, uri, authorization header) -> status and content type, or None: S3's.
        let cases: &[(&str, &str, bool, Option<(u16, &str)>)] = &[
            ("GET", "/_keyless/console/", false, Some((200, HTML))),
            ("HEAD", "/_keyless/console/", false, Some((200, HTML))),
            ("GET", "/_keyless/console/index.html", false, Some((200, HTML))),
            ("GET", "/_keyless/console/app.js", false, Some((200, JS))),
            ("GET", "/_keyless/console/sigv4.js", false, Some((200, JS))),
            ("GET", "/_keyless/console/style.css", false, Some((200, CSS))),
            ("GET", "/_keyless/console", false, Some((301, ""))),
            ("GET", "/_keyless/console/nope.js", false, None),
            ("GET", "/_keyless/console/../console/app.js", false, None),
            ("GET", "/_keyless/console/app.js", true, None),
            ("GET", "/_keyless/console/?list-type=2", false, None),
            ("GET", "/_keyless/console?x=1", false, None),
            ("PUT", "/_keyless/console/app.js", false, None),
            ("POST", "/_keyless/console/", false, None),
            ("GET", "/_keyless/api/status", false, None),
            ("GET", "/bucket/_keyless/console/app.js", false, None),
        ];
        for &(method, uri, auth, want) in cases {
            let got = get(method, uri, auth).map(|r| (r.status().as_u16(), header(&r, "content-type").to_owned()));
            assert_eq!(got, want.map(|(s, t)| (s, t.to_owned())), "{method} {uri} auth={auth}");
        }
        assert_eq!(
            header(&get("GET", "/_keyless/console", false).unwrap(), "location"),
            PREFIX
        );
    }

    #[test]
    fn every_file_carries_the_security_headers() {
        for (name, _, body) in ASSETS {
            assert!(!body.is_empty(), "{name} is empty");
            let resp = get("GET", &format!("{PREFIX}{name}"), false).unwrap();
            assert_eq!(header(&resp, "cache-control"), "no-cache", "{name}");
            assert_eq!(header(&resp, "x-content-type-options"), "nosniff", "{name}");
            assert_eq!(header(&resp, "referrer-policy"), "no-referrer", "{name}");
            assert_eq!(header(&resp, "x-frame-options"), "DENY", "{name}");
            let csp = header(&resp, "content-security-policy");
            assert!(
                csp.contains("script-src 'self';") && !csp.contains("unsafe"),
                "{name}: {csp}"
            );
        }
    }

    #[test]
    fn index_loads_only_embedded_files_and_no_inline_script() {
        let index = std::str::from_utf8(ASSETS[0].2).unwrap();
        assert!(index.contains(r#"<script type="module" src="app.js"></script>"#));
        assert_eq!(
            index.matches("<script").count(),
            1,
            "one script, by src; CSP forbids inline ones"
        );
        for js in ASSETS.iter().filter(|(n, _, _)| n.ends_with(".js")) {
            let text = std::str::from_utf8(js.2).unwrap();
            for import in text.lines().filter_map(|l| l.split(" from './").nth(1)) {
                let file = import.trim_end_matches("';");
                assert!(
                    ASSETS.iter().any(|(n, _, _)| *n == file),
                    "{} imports {file}, not embedded",
                    js.0
                );
            }
        }
    }
}
