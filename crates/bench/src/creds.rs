//! Where the benchmark's credentials come from: static keys, or web identity the way a pod gets
//! them (a token file and a role ARN → `AssumeRoleWithWebIdentity` → temporary credentials).

use anyhow::{Context as _, Result, bail};
use http::Method;

use crate::body::ReqBody;
use crate::s3::{Req, Target};
use crate::sigv4::{self, Credentials};

/// The unsigned STS request an SDK sends for a token (form body, `POST /`).
pub fn assume_role_request(role_arn: &str, session_name: &str, token: &str) -> Req {
    let form = [
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", role_arn),
        ("RoleSessionName", session_name),
        ("WebIdentityToken", token),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}", sigv4::uri_encode(v, false)))
    .collect::<Vec<_>>()
    .join("&");
    let mut req = Req::new(Method::POST, "/".into()).body(ReqBody::Full(Some(form.into())));
    req.headers.push((
        "content-type",
        "application/x-www-form-urlencoded; charset=utf-8".into(),
    ));
    req
}

/// Calls STS at `sts` (unsigned) and returns the temporary credentials.
pub async fn assume_role_with_web_identity(sts: &Target, role_arn: &str, token: &str) -> Result<Credentials> {
    let mut conn = sts.anonymous().conn();
    let reply = conn
        .send(assume_role_request(role_arn, "keyless-bench", token), true)
        .await
        .context("calling AssumeRoleWithWebIdentity")?;
    let text = reply.text();
    if !reply.status.is_success() {
        bail!("AssumeRoleWithWebIdentity: HTTP {}: {}", reply.status, text.trim());
    }
    let field = |name: &str| xml_text(&text, name).with_context(|| format!("no <{name}> in the STS answer: {text}"));
    Ok(Credentials {
        access_key: field("AccessKeyId")?,
        secret_key: field("SecretAccessKey")?,
        session_token: Some(field("SessionToken")?),
    })
}

/// The text of the first `<name>` element (enough for STS answers; entities decoded).
pub fn xml_text(doc: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = doc.find(&open)? + open.len();
    let end = start + doc[start..].find(&format!("</{name}>"))?;
    Some(
        doc[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// How many times `<name>` opens in `doc` (keys and prefixes of a listing page).
pub fn count_elements(doc: &str, name: &str) -> usize {
    doc.matches(&format!("<{name}>")).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sts_fields() {
        let doc = "<X><Credentials><AccessKeyId>ASIA1</AccessKeyId><SecretAccessKey>a/b+c</SecretAccessKey>\
                   <SessionToken>t&amp;k</SessionToken></Credentials></X>";
        assert_eq!(xml_text(doc, "AccessKeyId").as_deref(), Some("ASIA1"));
        assert_eq!(xml_text(doc, "SessionToken").as_deref(), Some("t&k"));
        assert_eq!(xml_text(doc, "Nope"), None);
        assert_eq!(count_elements("<Key>a</Key><Key>b</Key><Prefix>p</Prefix>", "Key"), 2);
    }

    #[test]
    fn the_form_is_encoded() {
        let req = assume_role_request("arn:aws:iam::1:role/r", "s", "a.b+c");
        let body = match req.body {
            ReqBody::Full(Some(b)) => String::from_utf8(b.to_vec()).unwrap(),
            _ => panic!(),
        };
        assert_eq!(
            body,
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr\
             &RoleSessionName=s&WebIdentityToken=a.b%2Bc"
        );
    }
}
