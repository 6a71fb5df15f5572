//! STS: the AssumeRoleWithWebIdentity and GetCallerIdentity calls, from parameters to XML.
//!
//! Stage one ([`StsRequest::parse`]) turns a form body or query string into a typed request, with
//! `ValidationError` messages in AWS's wording that name the parameter. Stage two
//! ([`assume_role_with_web_identity`]) verifies the token against its issuer's key set, finds the
//! role, evaluates its trust policy, caps the duration and mints stateless credentials. The XML
//! renderers produce exactly the documents of sts-wire.md (namespace
//! `https://sts.amazonaws.com/doc/2011-06-15/`), including `ErrorResponse` — never S3's `<Error>`
//! shape, which botocore would report as "Unknown".
//!
//! Every failure is an [`StsError`]: a code from the table in sts-wire.md, a message fit for the
//! caller, and a `log_reason` with the detail only the server's log should see (which trust
//! condition failed, say).

use std::fmt::Write as _;

use crate::Random;
use crate::policy::{Decision, Policy};
use crate::role::{RoleArn, Roles};
use crate::s3_actions::iso8601;
use crate::session::{Credentials, MAX_SESSION_TOKEN_LEN, Session, SessionClaims, SessionKeys, assumed_role_arn, mint};
use crate::token::{Issuers, TokenError};

/// The XML namespace of every STS response.
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
pub const STS_VERSION: &str = "2011-06-15";

/// The STS error codes keyless answers with (sts-wire.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StsErrorCode {
    InvalidIdentityToken,
    ExpiredTokenException,
    IdpRejectedClaim,
    IdpCommunicationError,
    MalformedPolicyDocument,
    PackedPolicyTooLarge,
    AccessDenied,
    ValidationError,
    InvalidAction,
}

impl StsErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidIdentityToken => "InvalidIdentityToken",
            Self::ExpiredTokenException => "ExpiredTokenException",
            Self::IdpRejectedClaim => "IDPRejectedClaim",
            Self::IdpCommunicationError => "IDPCommunicationError",
            Self::MalformedPolicyDocument => "MalformedPolicyDocument",
            Self::PackedPolicyTooLarge => "PackedPolicyTooLarge",
            Self::AccessDenied => "AccessDenied",
            Self::ValidationError => "ValidationError",
            Self::InvalidAction => "InvalidAction",
        }
    }

    pub fn http_status(self) -> u16 {
        match self {
            Self::IdpRejectedClaim | Self::AccessDenied => 403,
            _ => 400,
        }
    }
}

/// A refused STS call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct StsError {
    pub code: StsErrorCode,
    /// For the caller: what went wrong and what to do, no secrets.
    pub message: String,
    /// For the server's log only: the precise cause (a policy decision, a token detail).
    pub log_reason: Option<String>,
}

impl StsError {
    fn new(code: StsErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            log_reason: None,
        }
    }

    fn validation(message: impl Into<String>) -> Self {
        Self::new(StsErrorCode::ValidationError, message)
    }

    fn with_log(mut self, reason: impl Into<String>) -> Self {
        self.log_reason = Some(reason.into());
        self
    }

    /// The token refusals, mapped once.
    pub fn from_token(e: &TokenError) -> Self {
        use StsErrorCode::*;
        let (code, message) = match e {
            TokenError::Expired { .. } => (
                ExpiredTokenException,
                "Token expired: the web identity token is past its exp; the pod should re-read its token file"
                    .to_owned(),
            ),
            TokenError::UnknownKey { .. } => (
                IdpCommunicationError,
                format!("{e}; the issuer's keys could not be refreshed with it (retry later)"),
            ),
            TokenError::UnknownIssuer(iss) => (
                InvalidIdentityToken,
                format!("No OpenIDConnect provider found for issuer {iss:?}; add it to keyless's trusted issuers"),
            ),
            TokenError::WrongAudience { .. } => (InvalidIdentityToken, format!("Incorrect token audience: {e}")),
            _ => (InvalidIdentityToken, e.to_string()),
        };
        Self::new(code, message).with_log(format!("{e:?}"))
    }
}

/// A parsed STS call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StsRequest {
    AssumeRoleWithWebIdentity(Box<AssumeRoleWithWebIdentityRequest>),
    GetCallerIdentity,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssumeRoleWithWebIdentityRequest {
    pub role_arn: RoleArn,
    pub role_session_name: String,
    pub web_identity_token: String,
    /// 900..=43200 (default 3600); capped later by the role's maximum.
    pub duration_seconds: u32,
    /// The session policy, already parsed and checked, with its source text.
    pub policy: Option<(String, Policy)>,
    /// Accepted for OAuth 2.0 providers' sake and ignored (keyless trusts OIDC issuers only).
    pub provider_id: Option<String>,
}

/// Decodes `application/x-www-form-urlencoded` (or a query string): `+` is a space, `%XX` a byte.
pub fn parse_form(input: &str) -> Result<Vec<(String, String)>, StsError> {
    let decode = |s: &str| -> Result<String, StsError> {
        let mut out = Vec::with_capacity(s.len());
        let bytes = s.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    // Exactly two hex digits: `u8::from_str_radix` alone would also take "+a".
                    let hex = bytes
                        .get(i + 1..i + 3)
                        .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                        .and_then(|h| std::str::from_utf8(h).ok());
                    let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
                    out.push(
                        byte.ok_or_else(|| StsError::validation("the request body has a malformed percent-escape"))?,
                    );
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).map_err(|_| StsError::validation("the request body is not UTF-8"))
    };
    input
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(k)?, decode(v)?))
        })
        .collect()
}

fn constraint(param: &str, what: &str) -> StsError {
    // AWS's wording: "1 validation error detected: Value at 'roleSessionName' failed to satisfy
    // constraint: Member must ..." with the parameter in lower camel case.
    let mut camel = param.to_owned();
    camel[..1].make_ascii_lowercase();
    StsError::validation(format!(
        "1 validation error detected: Value at '{camel}' failed to satisfy constraint: Member {what}"
    ))
}

impl StsRequest {
    /// Parses the parameters of a `POST /` body or a `GET /?...` query.
    pub fn parse(input: &str) -> Result<Self, StsError> {
        let params = parse_form(input)?;
        let mut seen: Vec<&str> = Vec::new();
        for (k, _) in &params {
            if seen.contains(&k.as_str()) {
                return Err(StsError::validation(format!("parameter {k} is given more than once")));
            }
            seen.push(k);
        }
        // `PolicyArns.member.N.arn` on the wire; any form of it narrows the session, so ignoring
        // it would grant more than was asked for: refuse.
        if params.iter().any(|(k, _)| k.starts_with("PolicyArns.")) {
            return Err(StsError::validation(
                "PolicyArns are not supported by keyless; send the session Policy document instead",
            ));
        }
        let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        if let Some(v) = get("Version")
            && v != STS_VERSION
        {
            return Err(StsError::validation(format!(
                "Version {v:?} is not supported; use {STS_VERSION}"
            )));
        }
        match get("Action") {
            Some("GetCallerIdentity") => Ok(Self::GetCallerIdentity),
            Some("AssumeRoleWithWebIdentity") => {
                Self::parse_assume(&get).map(|r| Self::AssumeRoleWithWebIdentity(Box::new(r)))
            }
            Some(other) => Err(StsError::new(
                StsErrorCode::InvalidAction,
                format!(
                    "Could not find operation {other} for version {STS_VERSION} (keyless serves AssumeRoleWithWebIdentity and GetCallerIdentity)"
                ),
            )),
            None => Err(StsError::new(
                StsErrorCode::InvalidAction,
                "the request has no Action parameter",
            )),
        }
    }

    fn parse_assume<'a>(get: &impl Fn(&str) -> Option<&'a str>) -> Result<AssumeRoleWithWebIdentityRequest, StsError> {
        let required = |name: &str, min: usize, max: usize| -> Result<&'a str, StsError> {
            let v = get(name).ok_or_else(|| constraint(name, "must not be null"))?;
            let n = v.chars().count();
            if n < min {
                return Err(constraint(
                    name,
                    &format!("must have length greater than or equal to {min}"),
                ));
            }
            if n > max {
                return Err(constraint(
                    name,
                    &format!("must have length less than or equal to {max}"),
                ));
            }
            Ok(v)
        };
        let arn = required("RoleArn", 20, 2048)?;
        let role_arn = arn.parse::<RoleArn>().map_err(|_| {
            StsError::validation(format!(
                "RoleArn {arn:?} is not a role ARN (arn:aws:iam::<account>:role/<name>)"
            ))
        })?;
        let role_session_name = required("RoleSessionName", 2, 64)?;
        if !role_session_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
        {
            return Err(constraint(
                "RoleSessionName",
                "must satisfy regular expression pattern: [\\w+=,.@-]*",
            ));
        }
        let web_identity_token = required("WebIdentityToken", 4, 20000)?;
        let duration_seconds = match get("DurationSeconds") {
            None => 3600,
            Some(d) => match d.parse::<u32>() {
                Ok(d) if d < 900 => {
                    return Err(constraint(
                        "DurationSeconds",
                        "must have value greater than or equal to 900",
                    ));
                }
                Ok(d) if d > 43200 => {
                    return Err(constraint(
                        "DurationSeconds",
                        "must have value less than or equal to 43200",
                    ));
                }
                Ok(d) => d,
                Err(_) => {
                    return Err(StsError::validation(format!(
                        "DurationSeconds {d:?} is not a whole number of seconds"
                    )));
                }
            },
        };
        let policy = match get("Policy") {
            None => None,
            Some(p) => {
                if p.chars().count() > 2048 {
                    return Err(constraint("Policy", "must have length less than or equal to 2048"));
                }
                let parsed = Policy::parse(p)
                    .and_then(|pol| pol.check_identity_policy().map(|()| pol))
                    .map_err(|e| {
                        StsError::new(
                            StsErrorCode::MalformedPolicyDocument,
                            format!("the session Policy is invalid: {e}"),
                        )
                    })?;
                Some((p.to_owned(), parsed))
            }
        };
        Ok(AssumeRoleWithWebIdentityRequest {
            role_arn,
            role_session_name: role_session_name.to_owned(),
            web_identity_token: web_identity_token.to_owned(),
            duration_seconds,
            policy,
            provider_id: get("ProviderId").map(str::to_owned),
        })
    }
}

/// A successful AssumeRoleWithWebIdentity: what the response carries, and the trust decision for
/// the log.
#[derive(Clone, Debug)]
pub struct AssumedRole {
    pub credentials: Credentials,
    pub subject: String,
    /// `<role id>:<session name>`.
    pub assumed_role_id: String,
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session name>`.
    pub assumed_role_arn: String,
    /// The token's `iss`.
    pub provider: String,
    pub audience: String,
    pub trust_decision: Decision,
}

/// Verifies the token, checks the role's trust policy and mints credentials. The issuers' key sets
/// are used as they are: a [`StsErrorCode::IdpCommunicationError`] for an unknown `kid` tells the
/// caller to refetch that issuer's keys once and retry.
pub fn assume_role_with_web_identity(
    req: &AssumeRoleWithWebIdentityRequest,
    issuers: &Issuers,
    roles: &Roles,
    keys: &SessionKeys,
    now: i64,
    rng: &dyn Random,
) -> Result<AssumedRole, StsError> {
    let token = issuers
        .verify(&req.web_identity_token, now)
        .map_err(|e| StsError::from_token(&e))?;
    let denied = || {
        StsError::new(
            StsErrorCode::AccessDenied,
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        )
    };
    let role = roles
        .get(&req.role_arn)
        .ok_or_else(|| denied().with_log(format!("no role {} is configured", req.role_arn)))?;
    let decision = role.trust().evaluate(&token, req.role_arn.account());
    if !decision.is_allowed() {
        return Err(denied().with_log(format!(
            "trust policy of {}: {} (subject {})",
            req.role_arn, decision.reason, token.subject
        )));
    }
    if req.duration_seconds > role.max_session_duration() {
        return Err(StsError::validation(format!(
            "The requested DurationSeconds ({}) exceeds the MaxSessionDuration ({}) set for this role.",
            req.duration_seconds,
            role.max_session_duration()
        )));
    }
    let issuer = issuers.get(&token.issuer).expect("verify found this issuer");
    let audience = token
        .audiences
        .iter()
        .find(|a| issuer.audiences().contains(a))
        .unwrap_or(&token.audiences[0])
        .clone();
    let k8s = token.kubernetes.as_ref();
    let claims = SessionClaims {
        role_arn: req.role_arn.to_string(),
        session_name: req.role_session_name.clone(),
        subject: token.subject.clone(),
        issuer: token.issuer.clone(),
        namespace: k8s.map(|k| k.namespace.clone()),
        service_account: k8s.map(|k| k.service_account.name.clone()),
        pod: k8s.and_then(|k| k.pod.as_ref()).map(|p| p.name.clone()),
        audiences: token.audiences.clone(),
        session_policy: req.policy.as_ref().map(|(text, _)| text.clone()),
        issued_at: now,
        expires_at: now + i64::from(req.duration_seconds),
    };
    let credentials = mint(keys, &claims, rng);
    // `session::open` refuses a token longer than this: never hand out credentials that cannot work.
    // Only a token with huge claims (an issuer may sign long audience lists) gets here.
    if credentials.session_token.len() > MAX_SESSION_TOKEN_LEN {
        return Err(StsError::new(
            StsErrorCode::PackedPolicyTooLarge,
            format!(
                "The session would need a {}-byte session token; at most {MAX_SESSION_TOKEN_LEN} are accepted. \
                 Use a web identity token with fewer or shorter audiences, or a shorter session Policy.",
                credentials.session_token.len()
            ),
        )
        .with_log(format!(
            "sealed claims too large: {} audiences, session policy {} bytes",
            claims.audiences.len(),
            claims.session_policy.as_ref().map_or(0, String::len)
        )));
    }
    Ok(AssumedRole {
        credentials,
        subject: token.subject,
        assumed_role_id: format!("{}:{}", req.role_arn.role_id(), req.role_session_name),
        assumed_role_arn: assumed_role_arn(&req.role_arn, &req.role_session_name),
        provider: token.issuer,
        audience,
        trust_decision: decision,
    })
}

/// Escapes text for an XML element. Characters XML 1.0 cannot carry at all, not even as a
/// character reference (NUL and the other C0 controls but tab, LF and CR; U+FFFE, U+FFFF), become
/// U+FFFD: a caller's `Action=%00` echoed in an error must still give a document clients can parse.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            '\u{0}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The AssumeRoleWithWebIdentity success document.
pub fn render_assume_role_response(a: &AssumedRole, request_id: &str) -> String {
    let e = xml_escape;
    let c = &a.credentials;
    let mut x = String::new();
    let _ = write!(
        x,
        "<AssumeRoleWithWebIdentityResponse xmlns=\"{STS_NAMESPACE}\">\n\
         \x20 <AssumeRoleWithWebIdentityResult>\n\
         \x20   <Credentials>\n\
         \x20     <AccessKeyId>{}</AccessKeyId>\n\
         \x20     <SecretAccessKey>{}</SecretAccessKey>\n\
         \x20     <SessionToken>{}</SessionToken>\n\
         \x20     <Expiration>{}</Expiration>\n\
         \x20   </Credentials>\n\
         \x20   <SubjectFromWebIdentityToken>{}</SubjectFromWebIdentityToken>\n\
         \x20   <AssumedRoleUser>\n\
         \x20     <AssumedRoleId>{}</AssumedRoleId>\n\
         \x20     <Arn>{}</Arn>\n\
         \x20   </AssumedRoleUser>\n\
         \x20   <Provider>{}</Provider>\n\
         \x20   <Audience>{}</Audience>\n\
         \x20 </AssumeRoleWithWebIdentityResult>\n\
         \x20 <ResponseMetadata>\n\
         \x20   <RequestId>{}</RequestId>\n\
         \x20 </ResponseMetadata>\n\
         </AssumeRoleWithWebIdentityResponse>\n",
        e(&c.access_key_id),
        e(&c.secret_access_key),
        e(&c.session_token),
        iso8601(c.expiration),
        e(&a.subject),
        e(&a.assumed_role_id),
        e(&a.assumed_role_arn),
        e(&a.provider),
        e(&a.audience),
        e(request_id),
    );
    x
}

/// GetCallerIdentity's answer for a session (it needs no permission).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallerIdentity {
    pub user_id: String,
    pub account: String,
    pub arn: String,
}

impl CallerIdentity {
    pub fn of_session(s: &Session) -> Self {
        Self {
            user_id: s.user_id(),
            account: s.role_arn.account().to_owned(),
            arn: s.assumed_role_arn(),
        }
    }
}

pub fn render_get_caller_identity(id: &CallerIdentity, request_id: &str) -> String {
    let e = xml_escape;
    format!(
        "<GetCallerIdentityResponse xmlns=\"{STS_NAMESPACE}\">\n\
         \x20 <GetCallerIdentityResult>\n\
         \x20   <Arn>{}</Arn>\n\
         \x20   <UserId>{}</UserId>\n\
         \x20   <Account>{}</Account>\n\
         \x20 </GetCallerIdentityResult>\n\
         \x20 <ResponseMetadata>\n\
         \x20   <RequestId>{}</RequestId>\n\
         \x20 </ResponseMetadata>\n\
         </GetCallerIdentityResponse>\n",
        e(&id.arn),
        e(&id.user_id),
        e(&id.account),
        e(request_id)
    )
}

/// The error document (HTTP status from [`StsErrorCode::http_status`]).
pub fn render_error(err: &StsError, request_id: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"{STS_NAMESPACE}\">\n\
         \x20 <Error>\n\
         \x20   <Type>Sender</Type>\n\
         \x20   <Code>{}</Code>\n\
         \x20   <Message>{}</Message>\n\
         \x20 </Error>\n\
         \x20 <RequestId>{}</RequestId>\n\
         </ErrorResponse>\n",
        err.code.as_str(),
        xml_escape(&err.message),
        xml_escape(request_id)
    )
}

#[cfg(test)]
mod tests;
