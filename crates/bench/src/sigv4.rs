//! AWS Signature Version 4, header form: just what the load generator sends.
//!
//! The canonical request, the string to sign and the derived signing key, as in
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv4-create-signed-request.html>.
//! Bodies are sent as `UNSIGNED-PAYLOAD`, so signing costs a few HMACs whatever the body size;
//! the signing key is derived once per day and kept. Tested against AWS's published examples.

use ring::{digest, hmac};

/// `x-amz-content-sha256` for a body the signature does not cover.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Static credentials (plus the session token of temporary ones).
#[derive(Clone, Debug)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    pub session_token: Option<String>,
}

/// Signs requests for one set of credentials, region and service.
#[derive(Clone)]
pub struct Signer {
    creds: Credentials,
    region: String,
    service: String,
    /// (yyyymmdd, signing key) of the last day signed for.
    key_cache: Option<(String, hmac::Key)>,
}

/// What the signature covers: method, the already-encoded path, the query and the headers.
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as sent on the wire (each segment already percent-encoded).
    pub path: &'a str,
    /// Query parameters, raw (not yet encoded).
    pub query: &'a [(String, String)],
    /// Headers to sign, lower-case names (must include `host` and `x-amz-date`).
    pub headers: &'a [(&'a str, &'a str)],
    /// Hex SHA-256 of the body, or [`UNSIGNED_PAYLOAD`].
    pub payload_hash: &'a str,
}

impl Signer {
    pub fn new(creds: Credentials, region: &str, service: &str) -> Self {
        Self {
            creds,
            region: region.to_owned(),
            service: service.to_owned(),
            key_cache: None,
        }
    }

    pub fn credentials(&self) -> &Credentials {
        &self.creds
    }

    /// The `Authorization` header value for `req`, signed at `amz_date` (`yyyymmddThhmmssZ`).
    pub fn authorization(&mut self, req: &Request<'_>, amz_date: &str) -> String {
        let date = &amz_date[..8];
        let scope = format!("{date}/{}/{}/aws4_request", self.region, self.service);

        let mut headers: Vec<(&str, &str)> = req.headers.to_vec();
        headers.sort_by(|a, b| a.0.cmp(b.0));
        let mut canonical = String::with_capacity(512);
        canonical.push_str(req.method);
        canonical.push('\n');
        canonical.push_str(req.path);
        canonical.push('\n');
        canonical.push_str(&canonical_query(req.query));
        canonical.push('\n');
        for (name, value) in &headers {
            canonical.push_str(name);
            canonical.push(':');
            canonical.push_str(value.trim());
            canonical.push('\n');
        }
        canonical.push('\n');
        let signed_headers = headers.iter().map(|h| h.0).collect::<Vec<_>>().join(";");
        canonical.push_str(&signed_headers);
        canonical.push('\n');
        canonical.push_str(req.payload_hash);

        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex::encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
        );
        let key = self.signing_key(date);
        let signature = hex::encode(hmac::sign(key, string_to_sign.as_bytes()));
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            self.creds.access_key
        )
    }

    fn signing_key(&mut self, date: &str) -> &hmac::Key {
        if self.key_cache.as_ref().is_none_or(|(d, _)| d != date) {
            let mac = |key: &[u8], data: &str| hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes());
            let k_date = mac(format!("AWS4{}", self.creds.secret_key).as_bytes(), date);
            let k_region = mac(k_date.as_ref(), &self.region);
            let k_service = mac(k_region.as_ref(), &self.service);
            let k_signing = mac(k_service.as_ref(), "aws4_request");
            self.key_cache = Some((date.to_owned(), hmac::Key::new(hmac::HMAC_SHA256, k_signing.as_ref())));
        }
        &self.key_cache.as_ref().expect("just set").1
    }
}

/// `yyyymmddThhmmssZ` for now.
pub fn amz_date_now() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// RFC 3986 percent-encoding of everything but the unreserved characters (and `/` if asked).
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The query as signed and as sent: encoded, sorted by name then value.
pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn signer(access: &str, secret: &str, service: &str) -> Signer {
        let creds = Credentials {
            access_key: access.into(),
            secret_key: secret.into(),
            session_token: None,
        };
        Signer::new(creds, "us-east-1", service)
    }

    fn check(
        signer: &mut Signer,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        expected: &str,
    ) {
        let query: Vec<(String, String)> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let amz_date = headers.iter().find(|h| h.0 == "x-amz-date").unwrap().1;
        let req = Request {
            method,
            path,
            query: &query,
            headers,
            payload_hash: EMPTY_SHA256,
        };
        assert_eq!(signer.authorization(&req, amz_date), expected);
    }

    /// The S3 "GET Object" example of sig-v4-header-based-auth.html.
    #[test]
    fn s3_get_object_example() {
        let mut s = signer("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "s3");
        check(
            &mut s,
            "GET",
            "/test.txt",
            &[],
            &[
                ("host", "examplebucket.s3.amazonaws.com"),
                ("range", "bytes=0-9"),
                ("x-amz-content-sha256", EMPTY_SHA256),
                ("x-amz-date", "20130524T000000Z"),
            ],
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        );
    }

    /// The S3 "GET Bucket (List Objects)" example: query parameters, sorted and encoded.
    #[test]
    fn s3_list_objects_example() {
        let mut s = signer("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "s3");
        check(
            &mut s,
            "GET",
            "/",
            &[("prefix", "J"), ("max-keys", "2")],
            &[
                ("host", "examplebucket.s3.amazonaws.com"),
                ("x-amz-content-sha256", EMPTY_SHA256),
                ("x-amz-date", "20130524T000000Z"),
            ],
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;x-amz-content-sha256;x-amz-date, \
             Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        );
    }

    /// `get-vanilla` of the AWS SigV4 test suite (service `service`, no content hash header).
    #[test]
    fn test_suite_get_vanilla() {
        let mut s = signer("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "service");
        check(
            &mut s,
            "GET",
            "/",
            &[],
            &[("host", "example.amazonaws.com"), ("x-amz-date", "20150830T123600Z")],
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        );
    }

    #[test]
    fn the_signing_key_follows_the_date() {
        let mut s = signer("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "service");
        let headers = [("host", "example.amazonaws.com"), ("x-amz-date", "20150830T123600Z")];
        let req = Request {
            method: "GET",
            path: "/",
            query: &[],
            headers: &headers,
            payload_hash: EMPTY_SHA256,
        };
        let first = s.authorization(&req, "20150830T123600Z");
        let other_day = s.authorization(&req, "20150831T123600Z");
        assert_ne!(first, other_day);
        assert_eq!(s.authorization(&req, "20150830T123600Z"), first);
    }

    #[test]
    fn encoding() {
        assert_eq!(uri_encode("dir-0001/obj 1+é", true), "dir-0001/obj%201%2B%C3%A9");
        assert_eq!(uri_encode("a/b~", false), "a%2Fb~");
        let q = [
            ("start-after".to_string(), "dir-0001/obj".to_string()),
            ("list-type".into(), "2".into()),
        ];
        assert_eq!(canonical_query(&q), "list-type=2&start-after=dir-0001%2Fobj");
        assert_eq!(amz_date_now().len(), 16);
    }
}
