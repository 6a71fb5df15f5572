//! Who may sign requests, and what a signed request must also satisfy.
//!
//! `s3s` verifies SigV4 signatures (header-signed, presigned, and aws-chunked streaming with
//! or without trailers); it asks [`KeyRing`] for the secret of the access key id a request
//! names. `KeyRing` is the one place that maps access key ids to secrets: today it holds the
//! root credentials; STS temporary credentials (issue 3) are meant to be added here, behind
//! the same `secret_for` lookup.
//!
//! [`Gate`] runs after the signature has been checked, on every request: it denies anonymous
//! requests (S3 `AccessDenied`), refuses Signature Version 2, which `s3s` would otherwise
//! accept, and checks that the credential scope names this server's region, as S3 does.
//!
//! **Invariant:** secrets never reach a log: [`SecretKey`] redacts itself, and nothing here
//! formats one.

use http::{HeaderMap, Uri};
use s3s::S3Result;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};

use crate::error::ApiError;
use crate::percent;

/// The credentials the server accepts.
pub(crate) struct KeyRing {
    root_access_key: String,
    root_secret_key: SecretKey,
}

impl KeyRing {
    pub(crate) fn new(root_access_key: &str, root_secret_key: &str) -> Self {
        Self {
            root_access_key: root_access_key.to_owned(),
            root_secret_key: SecretKey::from(root_secret_key),
        }
    }

    /// The secret of `access_key`. The comparison takes the same time wherever the ids differ.
    pub(crate) fn secret_for(&self, access_key: &str) -> Option<SecretKey> {
        keyless_store::ct_eq(access_key.as_bytes(), self.root_access_key.as_bytes())
            .then(|| self.root_secret_key.clone())
    }
}

#[async_trait::async_trait]
impl S3Auth for KeyRing {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        self.secret_for(access_key)
            .ok_or_else(|| ApiError::InvalidAccessKeyId.into())
    }
}

/// How a request was signed, as far as the edge needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Signature {
    /// SigV4 in the `Authorization` header; the region of its credential scope.
    HeaderV4 { region: String },
    /// SigV4 in the query string (a presigned URL); the region of `X-Amz-Credential`.
    PresignedV4 { region: String },
    /// Signature Version 2 (`Authorization: AWS ...` or `AWSAccessKeyId=` in the query).
    V2,
    /// None of the above (a POST form, or no signature).
    Other,
}

/// The region of a `<key>/<date>/<region>/<service>/aws4_request` credential scope.
fn scope_region(credential: &str) -> Option<String> {
    let parts: Vec<&str> = credential.split('/').collect();
    (parts.len() == 5).then(|| parts[2].to_owned())
}

pub(crate) fn signature_of(headers: &HeaderMap, uri: &Uri) -> Signature {
    if let Some(auth) = headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let auth = auth.trim();
        if auth.starts_with("AWS ") {
            return Signature::V2;
        }
        if let Some(rest) = auth.strip_prefix("AWS4-HMAC-SHA256") {
            let credential = rest
                .split(',')
                .map(str::trim)
                .find_map(|p| p.strip_prefix("Credential="));
            if let Some(region) = credential.and_then(scope_region) {
                return Signature::HeaderV4 { region };
            }
        }
        return Signature::Other;
    }
    let query = uri.query().unwrap_or_default();
    for (k, v) in query.split('&').filter_map(|p| p.split_once('=')) {
        if k == "X-Amz-Credential"
            && let Some(region) = percent::decode_form_component(v).ok().as_deref().and_then(scope_region)
        {
            return Signature::PresignedV4 { region };
        }
        if k == "AWSAccessKeyId" {
            return Signature::V2;
        }
    }
    Signature::Other
}

/// The checks every signed request passes after its signature is verified.
pub(crate) struct Gate {
    region: String,
}

impl Gate {
    pub(crate) fn new(region: &str) -> Self {
        Self {
            region: region.to_owned(),
        }
    }

    /// `op` is the S3 operation name; `signed` whether `s3s` verified a signature.
    pub(crate) fn admit(&self, signed: bool, op: &str, sig: &Signature) -> Result<(), ApiError> {
        if !signed {
            return Err(ApiError::AccessDenied(
                "Anonymous access is not allowed: sign the request with AWS Signature Version 4, or use a presigned URL.".into(),
            ));
        }
        // S3 answers these two from its global endpoint whatever region the client signed for;
        // clients (minio-go, used by restic) rely on it to discover the bucket's region.
        let any_region = matches!(op, "GetBucketLocation" | "ListBuckets")
            && matches!(sig, Signature::HeaderV4 { region } | Signature::PresignedV4 { region } if region == "us-east-1");
        match sig {
            Signature::V2 => Err(ApiError::invalid_request(
                "The authorization mechanism you have provided is not supported; sign with AWS4-HMAC-SHA256 (Signature Version 4). \
                 For presigned URLs from boto3 or the AWS CLI v1, set signature_version = s3v4 in the client configuration.",
            )),
            Signature::HeaderV4 { region } if *region != self.region && !any_region => {
                Err(ApiError::AuthorizationHeaderMalformed(format!(
                    "The authorization header is malformed; the region '{region}' is wrong; expecting '{}'. Configure your client with region {}.",
                    self.region, self.region
                )))
            }
            Signature::PresignedV4 { region } if *region != self.region && !any_region => {
                Err(ApiError::AuthorizationQueryParametersError(format!(
                    "Error parsing the X-Amz-Credential parameter; the region '{region}' is wrong; expecting '{}'. Presign with region {}.",
                    self.region, self.region
                )))
            }
            _ => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl S3Access for Gate {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let sig = signature_of(cx.headers(), cx.uri());
        self.admit(cx.credentials().is_some(), cx.s3_op().name(), &sig)
            .map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = auth {
            h.insert(http::header::AUTHORIZATION, a.parse().unwrap());
        }
        h
    }

    #[test]
    fn signatures_are_recognised() {
        let v4 = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20130524/eu-west-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        let cases: Vec<(Option<&str>, &str, Signature)> = vec![
            (
                Some(v4),
                "/b/k",
                Signature::HeaderV4 {
                    region: "eu-west-1".into(),
                },
            ),
            (
                Some("AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg="),
                "/b/k",
                Signature::V2,
            ),
            (Some("AWS4-HMAC-SHA256 Credential=bad"), "/b/k", Signature::Other),
            (
                None,
                "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=x",
                Signature::PresignedV4 {
                    region: "us-east-1".into(),
                },
            ),
            (None, "/b/k?AWSAccessKeyId=AK&Expires=1&Signature=x", Signature::V2),
            (None, "/b/k", Signature::Other),
            (None, "/b/k?list-type=2", Signature::Other),
        ];
        for (auth, uri, want) in cases {
            let uri: Uri = uri.parse().unwrap();
            assert_eq!(signature_of(&headers(auth), &uri), want, "{auth:?} {uri}");
        }
    }

    #[test]
    fn the_gate_admits_signed_requests_for_our_region() {
        let gate = Gate::new("eu-west-1");
        let ours = Signature::HeaderV4 {
            region: "eu-west-1".into(),
        };
        let theirs = Signature::HeaderV4 {
            region: "us-west-2".into(),
        };
        let global = Signature::HeaderV4 {
            region: "us-east-1".into(),
        };
        let presigned_theirs = Signature::PresignedV4 {
            region: "us-west-2".into(),
        };
        let code = |r: Result<(), ApiError>| r.map_err(|e| s3s::S3Error::from(e).code().as_str().to_owned());
        let cases: Vec<(bool, &str, &Signature, Result<(), &str>)> = vec![
            (true, "GetObject", &ours, Ok(())),
            (false, "GetObject", &Signature::Other, Err("AccessDenied")),
            (false, "ListBuckets", &Signature::Other, Err("AccessDenied")),
            (true, "GetObject", &Signature::V2, Err("InvalidRequest")),
            (true, "GetObject", &theirs, Err("AuthorizationHeaderMalformed")),
            (
                true,
                "GetObject",
                &presigned_theirs,
                Err("AuthorizationQueryParametersError"),
            ),
            (true, "GetObject", &global, Err("AuthorizationHeaderMalformed")),
            (true, "GetBucketLocation", &global, Ok(())),
            (true, "ListBuckets", &global, Ok(())),
            (true, "GetBucketLocation", &theirs, Err("AuthorizationHeaderMalformed")),
        ];
        for (signed, op, sig, want) in cases {
            assert_eq!(
                code(gate.admit(signed, op, sig)),
                want.map_err(str::to_owned),
                "{signed} {op} {sig:?}"
            );
        }
    }

    #[test]
    fn only_the_root_key_has_a_secret() {
        let ring = KeyRing::new("ROOTKEY", "rootsecret");
        assert_eq!(
            ring.secret_for("ROOTKEY").map(|s| s.expose().to_owned()).as_deref(),
            Some("rootsecret")
        );
        for other in ["", "ROOTKE", "ROOTKEYX", "rootkey"] {
            assert!(ring.secret_for(other).is_none(), "{other}");
        }
    }
}
