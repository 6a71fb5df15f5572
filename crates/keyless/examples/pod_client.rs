//! A client that behaves like a pod: it reads NOTHING but its environment (AWS_ROLE_ARN,
//! AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_S3, AWS_REGION), lets
//! aws-sdk-rust's default credential chain exchange the token at keyless's STS, and then checks
//! what the role may do: put, get and list under `<prefix>/`, AccessDenied outside it, and
//! GetCallerIdentity naming the assumed role.
//!
//! `crates/keyless/tests/web_identity_sdk.rs` runs it with a cleared environment, because
//! aws-config's hooks for a fake environment are private to that crate. By hand:
//!
//!     cargo run -p keyless --example pod_client -- BUCKET KEY PREFIX ACCOUNT ROLE_NAME
//!
//! Exit code 0 and the line `pod client: all checks passed` mean every check held.

use aws_credential_types::provider::ProvideCredentials as _;
use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::primitives::ByteStream;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [bucket, key, prefix, account, role] = args.as_slice() else {
        eprintln!("usage: pod_client BUCKET KEY PREFIX ACCOUNT ROLE_NAME");
        std::process::exit(2);
    };
    for k in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
    ] {
        assert!(
            std::env::var_os(k).is_none(),
            "{k} must not be set: a pod has only the web-identity variables"
        );
    }
    // The default chain, region and endpoints; only the HTTP client is chosen (plain HTTP, no
    // TLS stack compiled in).
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .load()
        .await;
    let creds = conf
        .credentials_provider()
        .expect("the default chain")
        .provide_credentials()
        .await
        .unwrap_or_else(|e| panic!("the default chain found no credentials: {e:?}"));
    assert!(creds.access_key_id().starts_with("ASIA"), "{}", creds.access_key_id());
    assert!(creds.session_token().is_some() && creds.expiry().is_some());
    println!(
        "pod client: temporary credentials ASIA... for region {:?}",
        conf.region()
    );

    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
    let body = b"hello from aws-sdk-rust";
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(body))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutObject: {e:?}"));
    let got = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetObject: {e:?}"));
    assert_eq!(got.body.collect().await.expect("body").into_bytes().as_ref(), body);
    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(format!("{prefix}/"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListObjectsV2: {e:?}"));
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert!(keys.contains(&key.as_str()), "{keys:?}");
    let denied = s3
        .put_object()
        .bucket(bucket)
        .key("not-mine/x.txt")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("a write outside the role's prefix must be refused");
    let status = denied.raw_response().map(|r| r.status().as_u16());
    assert_eq!((status, denied.code()), (Some(403), Some("AccessDenied")), "{denied:?}");

    let ident = aws_sdk_sts::Client::new(&conf)
        .get_caller_identity()
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetCallerIdentity: {e:?}"));
    assert_eq!(ident.account(), Some(account.as_str()));
    let arn = ident.arn().unwrap_or_default();
    assert!(
        arn.starts_with(&format!("arn:aws:sts::{account}:assumed-role/{role}/")),
        "{arn}"
    );
    println!("pod client: caller identity {arn}");
    println!("pod client: all checks passed");
}
