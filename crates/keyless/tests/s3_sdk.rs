//! The S3 API as the AWS SDK for Rust drives it, against the real `keyless` binary.
//!
//! Every test starts its own server on a fresh data directory (see `common`), uses random bodies
//! and checks bytes exactly, and asserts the exact HTTP status and S3 error code of every failure.
//! A few requests the SDK never makes (signed streaming chunks, a wrong trailer checksum,
//! presigned URLs) are sent with a plain HTTP client and signed by hand with `aws-sigv4`.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::{ByteStream, DateTime, DateTimeFormat};
use aws_sdk_s3::types::{
    BucketLocationConstraint, ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart, Delete,
    EncodingType, MetadataDirective, ObjectIdentifier, Tag, Tagging, TaggingDirective,
};
use common::*;
use futures::StreamExt as _;

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;
/// S3's smallest part (all but the last) in a multipart upload.
const MIN_PART: usize = 5 * MIB;

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Percent-encodes a key for `x-amz-copy-source` (which the SDK sends as given).
fn encode_key(key: &str) -> String {
    let mut out = String::new();
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes an `encoding-type=url` value (percent escapes; `+` is a space, as S3 writes it).
fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                out.push(u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap(), 16).expect("a %XX escape"));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("decoded keys are UTF-8")
}

async fn head(c: &Client, bucket: &str, key: &str) -> aws_sdk_s3::operation::head_object::HeadObjectOutput {
    c.head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("HeadObject {bucket}/{key:?}: {}", show(&e)))
}

async fn tags(c: &Client, bucket: &str, key: &str) -> BTreeMap<String, String> {
    let out = c
        .get_object_tagging()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetObjectTagging {bucket}/{key:?}: {}", show(&e)));
    out.tag_set()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

// ---------------------------------------------------------------------------------------------
// Buckets
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buckets_are_created_headed_listed_located_and_deleted() {
    let s = TestServer::start();
    let c = &s.client;
    s.bucket("alpha").await;
    s.bucket("beta-2.example").await;

    c.head_bucket()
        .bucket("alpha")
        .send()
        .await
        .expect("HeadBucket on an existing bucket");
    let listed = c.list_buckets().send().await.expect("ListBuckets");
    let names: Vec<&str> = listed.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(
        names,
        ["alpha", "beta-2.example"],
        "ListBuckets returns every bucket, sorted"
    );
    for b in listed.buckets() {
        let created = b.creation_date().expect("every bucket has a CreationDate").secs();
        assert!((created - now_secs()).abs() < 300, "CreationDate {created} is not now");
    }

    // us-east-1 is the one region whose LocationConstraint S3 leaves empty.
    let loc = c
        .get_bucket_location()
        .bucket("alpha")
        .send()
        .await
        .expect("GetBucketLocation");
    let constraint = loc.location_constraint().map(BucketLocationConstraint::as_str);
    assert!(
        matches!(constraint, None | Some("") | Some("us-east-1")),
        "GetBucketLocation: {constraint:?}"
    );

    assert_s3_error(
        c.create_bucket().bucket("alpha").send().await,
        409,
        "BucketAlreadyOwnedByYou",
    );
    assert_s3_error(
        c.create_bucket().bucket("bad_name").send().await,
        400,
        "InvalidBucketName",
    );
    assert_s3_error(c.create_bucket().bucket("ab").send().await, 400, "InvalidBucketName");

    assert_status(c.head_bucket().bucket("no-such-bucket").send().await, 404);
    assert_s3_error(
        c.list_objects_v2().bucket("no-such-bucket").send().await,
        404,
        "NoSuchBucket",
    );
    assert_s3_error(
        c.get_object().bucket("no-such-bucket").key("k").send().await,
        404,
        "NoSuchBucket",
    );
    assert_s3_error(
        c.put_object()
            .bucket("no-such-bucket")
            .key("k")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        404,
        "NoSuchBucket",
    );
    assert_s3_error(
        c.delete_bucket().bucket("no-such-bucket").send().await,
        404,
        "NoSuchBucket",
    );

    put(c, "alpha", "k", b"x").await;
    assert_s3_error(c.delete_bucket().bucket("alpha").send().await, 409, "BucketNotEmpty");
    c.delete_object()
        .bucket("alpha")
        .key("k")
        .send()
        .await
        .expect("DeleteObject");
    c.delete_bucket()
        .bucket("alpha")
        .send()
        .await
        .expect("DeleteBucket on an empty bucket");

    assert_status(c.head_bucket().bucket("alpha").send().await, 404);
    let names: Vec<String> = c
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .collect();
    assert_eq!(names, ["beta-2.example"]);
    // The name is free again.
    s.bucket("alpha").await;
}

// ---------------------------------------------------------------------------------------------
// Objects: bodies, metadata, ranges, conditions
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_head_return_the_bytes_user_metadata_and_system_headers() {
    let s = TestServer::start();
    let c = &s.client;
    let b = s.bucket("meta").await;
    let data = random_bytes(300 * KIB + 17);
    let expires = DateTime::from_secs(2_000_000_000);
    let put_out = c
        .put_object()
        .bucket(&b)
        .key("docs/report.bin")
        .body(ByteStream::from(data.clone()))
        .content_type("application/x-keyless-test")
        .content_encoding("gzip")
        .content_disposition("attachment; filename=\"report.bin\"")
        .content_language("de-CH")
        .cache_control("max-age=60, private")
        .expires(expires)
        .metadata("Color", "blue")
        .metadata("note", "spaces  and: colons")
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutObject: {}", show(&e)));
    assert_eq!(
        put_out.e_tag(),
        Some(etag_of(&data).as_str()),
        "PutObject ETag is the MD5 of the body"
    );

    let want_meta = map(&[("color", "blue"), ("note", "spaces  and: colons")]);
    let want_expires = expires.fmt(DateTimeFormat::HttpDate).unwrap();

    let got = c
        .get_object()
        .bucket(&b)
        .key("docs/report.bin")
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetObject: {}", show(&e)));
    assert_eq!(got.e_tag(), Some(etag_of(&data).as_str()));
    assert_eq!(got.content_length(), Some(data.len() as i64));
    assert_eq!(got.content_type(), Some("application/x-keyless-test"));
    assert_eq!(got.content_encoding(), Some("gzip"));
    assert_eq!(got.content_disposition(), Some("attachment; filename=\"report.bin\""));
    assert_eq!(got.content_language(), Some("de-CH"));
    assert_eq!(got.cache_control(), Some("max-age=60, private"));
    assert_eq!(got.expires_string(), Some(want_expires.as_str()));
    assert_eq!(got.metadata(), Some(&want_meta), "user metadata, names lower-cased");
    assert_eq!(got.accept_ranges(), Some("bytes"));
    let modified = got.last_modified().expect("Last-Modified").secs();
    assert!(
        (modified - now_secs()).abs() < 300,
        "Last-Modified {modified} is not now"
    );
    assert!(body_bytes(got.body).await == data, "GetObject returns the exact bytes");

    let h = head(c, &b, "docs/report.bin").await;
    assert_eq!(h.e_tag(), Some(etag_of(&data).as_str()));
    assert_eq!(h.content_length(), Some(data.len() as i64));
    assert_eq!(h.content_type(), Some("application/x-keyless-test"));
    assert_eq!(h.content_encoding(), Some("gzip"));
    assert_eq!(h.content_disposition(), Some("attachment; filename=\"report.bin\""));
    assert_eq!(h.content_language(), Some("de-CH"));
    assert_eq!(h.cache_control(), Some("max-age=60, private"));
    assert_eq!(h.expires_string(), Some(want_expires.as_str()));
    assert_eq!(h.metadata(), Some(&want_meta));
    assert_eq!(h.last_modified().map(|t| t.secs()), Some(modified));

    // An overwrite replaces the metadata as a whole.
    let data2 = random_bytes(10);
    put(c, &b, "docs/report.bin", &data2).await;
    let h = head(c, &b, "docs/report.bin").await;
    assert!(
        h.metadata().is_none_or(|m| m.is_empty()),
        "old user metadata survived an overwrite: {:?}",
        h.metadata()
    );
    assert_ne!(h.content_type(), Some("application/x-keyless-test"));
    assert_eq!(get(c, &b, "docs/report.bin").await, data2);

    // The empty object.
    let empty = put(c, &b, "empty", b"").await;
    assert_eq!(empty.e_tag(), Some("\"d41d8cd98f00b204e9800998ecf8427e\""));
    let got = c.get_object().bucket(&b).key("empty").send().await.unwrap();
    assert_eq!(got.content_length(), Some(0));
    assert!(body_bytes(got.body).await.is_empty());
    assert_eq!(head(c, &b, "empty").await.content_length(), Some(0));

    // Missing keys.
    assert_s3_error(c.get_object().bucket(&b).key("nope").send().await, 404, "NoSuchKey");
    assert_status(c.head_object().bucket(&b).key("nope").send().await, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranged_gets_return_exactly_the_requested_bytes() {
    let s = TestServer::start();
    let c = &s.client;
    let b = s.bucket("ranges").await;
    let data = random_bytes(MIB + 12_345);
    let n = data.len();
    put(c, &b, "obj", &data).await;
    let cases: Vec<(String, usize, usize)> = vec![
        ("bytes=0-0".into(), 0, 1),
        ("bytes=100-199".into(), 100, 200),
        ("bytes=1000-".into(), 1000, n),
        (format!("bytes=0-{}", n - 1), 0, n),
        ("bytes=-500".into(), n - 500, n),
        ("bytes=-1".into(), n - 1, n),
        (format!("bytes=-{}", n + 5000), 0, n), // a suffix longer than the object: all of it
        ("bytes=10-99999999".into(), 10, n),    // an end past the end is clamped
        (format!("bytes={}-", n - 1), n - 1, n),
    ];
    for (range, start, end) in cases {
        let out = c
            .get_object()
            .bucket(&b)
            .key("obj")
            .range(&range)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetObject Range: {range}: {}", show(&e)));
        assert_eq!(
            out.content_length(),
            Some((end - start) as i64),
            "{range}: Content-Length"
        );
        assert_eq!(
            out.content_range(),
            Some(format!("bytes {start}-{}/{n}", end - 1).as_str()),
            "{range}: Content-Range"
        );
        let body = body_bytes(out.body).await;
        assert!(
            body == data[start..end],
            "{range}: wrong bytes ({} bytes back)",
            body.len()
        );
    }
    assert_s3_error(
        c.get_object()
            .bucket(&b)
            .key("obj")
            .range(format!("bytes={n}-"))
            .send()
            .await,
        416,
        "InvalidRange",
    );
    assert_s3_error(
        c.get_object()
            .bucket(&b)
            .key("obj")
            .range(format!("bytes={}-{}", n + 10, n + 20))
            .send()
            .await,
        416,
        "InvalidRange",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_get_and_head_answer_304_and_412() {
    let s = TestServer::start();
    let c = &s.client;
    let b = s.bucket("cond").await;
    let data = random_bytes(4096);
    let etag = put(c, &b, "k", &data).await.e_tag().unwrap().to_owned();
    let modified = head(c, &b, "k").await.last_modified().unwrap().secs();
    // A date after the write that is not in the future (HTTP dates have whole seconds).
    let after = DateTime::from_secs(modified + 1);
    let before = DateTime::from_secs(modified - 3600);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let other = "\"0123456789abcdef0123456789abcdef\"";
    let get = || c.get_object().bucket(&b).key("k");
    let hd = || c.head_object().bucket(&b).key("k");

    // If-Match
    let out = get()
        .if_match(&etag)
        .send()
        .await
        .unwrap_or_else(|e| panic!("If-Match: the ETag: {}", show(&e)));
    assert!(body_bytes(out.body).await == data);
    get()
        .if_match("*")
        .send()
        .await
        .unwrap_or_else(|e| panic!("If-Match: *: {}", show(&e)));
    assert_s3_error(get().if_match(other).send().await, 412, "PreconditionFailed");
    hd().if_match(&etag).send().await.unwrap();
    assert_status(hd().if_match(other).send().await, 412);

    // If-None-Match
    assert_status(get().if_none_match(&etag).send().await, 304);
    assert_status(get().if_none_match("*").send().await, 304);
    assert_status(hd().if_none_match(&etag).send().await, 304);
    get()
        .if_none_match(other)
        .send()
        .await
        .unwrap_or_else(|e| panic!("If-None-Match: another ETag: {}", show(&e)));
    hd().if_none_match(other).send().await.unwrap();

    // If-Modified-Since / If-Unmodified-Since
    assert_status(get().if_modified_since(after).send().await, 304);
    assert_status(hd().if_modified_since(after).send().await, 304);
    get()
        .if_modified_since(before)
        .send()
        .await
        .unwrap_or_else(|e| panic!("If-Modified-Since: before: {}", show(&e)));
    assert_s3_error(
        get().if_unmodified_since(before).send().await,
        412,
        "PreconditionFailed",
    );
    assert_status(hd().if_unmodified_since(before).send().await, 412);
    get()
        .if_unmodified_since(after)
        .send()
        .await
        .unwrap_or_else(|e| panic!("If-Unmodified-Since: after: {}", show(&e)));

    // RFC 7232 precedence, which S3 documents: a true If-Match wins over a false
    // If-Unmodified-Since; a false If-None-Match wins over a true If-Modified-Since.
    get()
        .if_match(&etag)
        .if_unmodified_since(before)
        .send()
        .await
        .unwrap_or_else(|e| panic!("If-Match + If-Unmodified-Since: {}", show(&e)));
    assert_status(get().if_none_match(&etag).if_modified_since(before).send().await, 304);

    // Conditions on a missing key do not hide the 404.
    assert_s3_error(
        c.get_object().bucket(&b).key("missing").if_match(&etag).send().await,
        404,
        "NoSuchKey",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_put_if_none_match_and_if_match() {
    let s = TestServer::start();
    let c = &s.client;
    let b = s.bucket("cput").await;
    let first = random_bytes(1000);
    let second = random_bytes(1000);
    let put_new = |data: &[u8]| {
        c.put_object()
            .bucket(&b)
            .key("once")
            .if_none_match("*")
            .body(ByteStream::from(data.to_vec()))
            .send()
    };

    let etag = put_new(&first)
        .await
        .unwrap_or_else(|e| panic!("If-None-Match: * on a new key: {}", show(&e)))
        .e_tag()
        .unwrap()
        .to_owned();
    assert_s3_error(put_new(&second).await, 412, "PreconditionFailed");
    assert_eq!(
        get(c, &b, "once").await,
        first,
        "a failed conditional PUT changed the object"
    );

    let put_if = |m: &str, data: &[u8]| {
        c.put_object()
            .bucket(&b)
            .key("once")
            .if_match(m)
            .body(ByteStream::from(data.to_vec()))
            .send()
    };
    assert_s3_error(
        put_if("\"0123456789abcdef0123456789abcdef\"", &second).await,
        412,
        "PreconditionFailed",
    );
    assert_eq!(get(c, &b, "once").await, first);
    put_if(&etag, &second)
        .await
        .unwrap_or_else(|e| panic!("If-Match: the current ETag: {}", show(&e)));
    assert_eq!(get(c, &b, "once").await, second);
    assert_s3_error(
        c.put_object()
            .bucket(&b)
            .key("never-written")
            .if_match(&etag)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        404,
        "NoSuchKey",
    );
    assert_s3_error(
        c.get_object().bucket(&b).key("never-written").send().await,
        404,
        "NoSuchKey",
    );
}

// ---------------------------------------------------------------------------------------------
// Checksums and digests
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_sdk_checksums_go_in_aws_chunked_trailers_and_validate_on_get() {
    let s = TestServer::start();
    let wire = WireLog::default();
    // The SDK exactly as an application gets it; only the wire log is added.
    let c = Client::from_conf(s.config().interceptor(wire.clone()).build());
    let b = s.bucket("default-checksums").await;

    for (key, data) in [
        ("streamed/3mib", random_bytes(3 * MIB + 7)),
        ("streamed/one-byte", random_bytes(1)),
        ("streamed/empty", Vec::new()),
    ] {
        wire.take();
        c.put_object()
            .bucket(&b)
            .key(key)
            .body(streaming_body(&data, 64 * KIB))
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutObject {key} with a streaming body: {}", show(&e)));
        let sent = wire.take();
        let (_, _, h) = sent.iter().find(|(m, _, _)| m == "PUT").expect("the PUT went out");
        let hv = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert!(
            hv("content-encoding").contains("aws-chunked"),
            "{key}: not aws-chunked: {h:?}"
        );
        assert_eq!(
            hv("x-amz-trailer"),
            "x-amz-checksum-crc32",
            "{key}: the SDK default is a CRC32 trailer"
        );
        assert_eq!(hv("x-amz-decoded-content-length"), data.len().to_string(), "{key}");
        assert!(hv("x-amz-content-sha256").starts_with("STREAMING-"), "{key}: {h:?}");

        // checksum_mode(Enabled): keyless returns the stored CRC32 and the SDK checks the body against it.
        let out = c
            .get_object()
            .bucket(&b)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetObject {key} with checksum mode: {}", show(&e)));
        assert_eq!(
            out.checksum_crc32(),
            Some(crc32_b64(&data).as_str()),
            "{key}: stored CRC32"
        );
        assert_eq!(out.e_tag(), Some(etag_of(&data).as_str()), "{key}: ETag");
        let body = out
            .body
            .collect()
            .await
            .unwrap_or_else(|e| panic!("{key}: the SDK rejected the body: {e}"))
            .into_bytes();
        assert!(body.as_ref() == data.as_slice(), "{key}: wrong bytes");
    }

    // An in-memory body: the SDK puts the CRC32 in a header instead.
    let data = random_bytes(200 * KIB);
    wire.take();
    put(&c, &b, "in-memory", &data).await;
    let sent = wire.take();
    let (_, _, h) = sent.iter().find(|(m, _, _)| m == "PUT").unwrap();
    assert_eq!(
        h.get("x-amz-checksum-crc32").and_then(|v| v.to_str().ok()),
        Some(crc32_b64(&data).as_str())
    );
    assert!(h.get("x-amz-trailer").is_none());
    let out = c
        .get_object()
        .bucket(&b)
        .key("in-memory")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(out.checksum_crc32(), Some(crc32_b64(&data).as_str()));
    assert!(body_bytes(out.body).await == data);
    let h = c
        .head_object()
        .bucket(&b)
        .key("in-memory")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(
        h.checksum_crc32(),
        Some(crc32_b64(&data).as_str()),
        "HeadObject with checksum mode"
    );
}

fn expected_checksum(algo: &ChecksumAlgorithm, data: &[u8]) -> String {
    match algo {
        ChecksumAlgorithm::Crc32 => crc32_b64(data),
        ChecksumAlgorithm::Crc32C => crc32c_b64(data),
        ChecksumAlgorithm::Crc64Nvme => crc64nvme_b64(data),
        ChecksumAlgorithm::Sha1 => sha1_b64(data),
        ChecksumAlgorithm::Sha256 => sha256_b64(data),
        other => panic!("no such algorithm in this test: {other:?}"),
    }
}

macro_rules! checksum_field {
    ($out:expr, $algo:expr) => {
        match $algo {
            ChecksumAlgorithm::Crc32 => $out.checksum_crc32(),
            ChecksumAlgorithm::Crc32C => $out.checksum_crc32_c(),
            ChecksumAlgorithm::Crc64Nvme => $out.checksum_crc64_nvme(),
            ChecksumAlgorithm::Sha1 => $out.checksum_sha1(),
            ChecksumAlgorithm::Sha256 => $out.checksum_sha256(),
            _ => None,
        }
    };
}

const ALGORITHMS: [ChecksumAlgorithm; 5] = [
    ChecksumAlgorithm::Crc32,
    ChecksumAlgorithm::Crc32C,
    ChecksumAlgorithm::Crc64Nvme,
    ChecksumAlgorithm::Sha1,
    ChecksumAlgorithm::Sha256,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_checksum_algorithm_is_verified_stored_and_returned() {
    let s = TestServer::start();
    let c = &s.client;
    let b = s.bucket("algorithms").await;
    for algo in ALGORITHMS {
        let name = algo.as_str().to_owned();
        for streaming in [false, true] {
            let key = format!("{name}/{}", if streaming { "trailer" } else { "header" });
            let data = random_bytes(MIB + 333);
            let want = expected_checksum(&algo, &data);
            let body = if streaming {
                streaming_body(&data, 100 * KIB)
            } else {
                ByteStream::from(data.clone())
            };
            let put = c
                .put_object()
                .bucket(&b)
                .key(&key)
                .checksum_algorithm(algo.clone())
                .body(body)
                .send()
                .await
                .unwrap_or_else(|e| panic!("PutObject {key}: {}", show(&e)));
            assert_eq!(
                checksum_field!(put, &algo),
                Some(want.as_str()),
                "{key}: PutObject echoes the checksum"
            );

            let got = c
                .get_object()
                .bucket(&b)
                .key(&key)
                .checksum_mode(ChecksumMode::Enabled)
                .send()
                .await
                .unwrap();
            assert_eq!(
                checksum_field!(got, &algo),
                Some(want.as_str()),
                "{key}: GetObject returns the checksum"
            );
            let bytes = got
                .body
                .collect()
                .await
                .unwrap_or_else(|e| panic!("{key}: the SDK rejected the body: {e}"))
                .into_bytes();
            assert!(bytes.as_ref() == data.as_slice(), "{key}: wrong bytes");
            let h = c
                .head_object()
                .bucket(&b)
                .key(&key)
                .checksum_mode(ChecksumMode::Enabled)
                .send()
                .await
                .unwrap();
            assert_eq!(
                checksum_field!(h, &algo),
                Some(want.as_str()),
                "{key}: HeadObject returns the checksum"
            );
        }

        // A checksum value the client computed itself is checked and kept, too.
        let data = random_bytes(5000);
        let want = expected_checksum(&algo, &data);
        let req = c
            .put_object()
            .bucket(&b)
            .key(format!("{name}/precomputed"))
            .body(ByteStream::from(data.clone()));
        let req = match algo {
            ChecksumAlgorithm::Crc32 => req.checksum_crc32(&want),
            ChecksumAlgorithm::Crc32C => req.checksum_crc32_c(&want),
            ChecksumAlgorithm::Crc64Nvme => req.checksum_crc64_nvme(&want),
            ChecksumAlgorithm::Sha1 => req.checksum_sha1(&want),
            _ => req.checksum_sha256(&want),
        };
        req.send()
            .await
            .unwrap_or_else(|e| panic!("{name}: PutObject with a precomputed checksum: {}", show(&e)));
        let got = c
            .get_object()
            .bucket(&b)
            .key(format!("{name}/precomputed"))
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        assert_eq!(checksum_field!(got, &algo), Some(want.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_checksum_is_bad_digest_and_leaves_the_key_unchanged() {
    let s = TestServer::start();
    let c = &s.client;
    let b = s.bucket("bad-digest").await;
    let old = random_bytes(2000);
    let new = random_bytes(2000);
    put(c, &b, "k", &old).await;
    for algo in ALGORITHMS {
        // The checksum of other bytes: well-formed, but wrong for this body.
        let wrong = expected_checksum(&algo, b"not the body");
        let req = c.put_object().bucket(&b).key("k").body(ByteStream::from(new.clone()));
        let req = match algo {
            ChecksumAlgorithm::Crc32 => req.checksum_crc32(&wrong),
            ChecksumAlgorithm::Crc32C => req.checksum_crc32_c(&wrong),
            ChecksumAlgorithm::Crc64Nvme => req.checksum_crc64_nvme(&wrong),
            ChecksumAlgorithm::Sha1 => req.checksum_sha1(&wrong),
            _ => req.checksum_sha256(&wrong),
        };
        assert_s3_error(req.send().await, 400, "BadDigest");
        assert_eq!(
            get(c, &b, "k").await,
            old,
            "{}: a PUT with a wrong checksum changed the key",
            algo.as_str()
        );
        // ... and on a new key, nothing appears.
        let req = c
            .put_object()
            .bucket(&b)
            .key("fresh")
            .body(ByteStream::from(new.clone()))
            .checksum_sha256(sha256_b64(b"x"));
        assert_s3_error(req.send().await, 400, "BadDigest");
        assert_s3_error(c.get_object().bucket(&b).key("fresh").send().await, 404, "NoSuchKey");
    }

    // A wrong checksum in an aws-chunked TRAILER (the SDK's default path), sent by hand.
    let url = format!("{}/{b}/k", s.endpoint);
    for (value, want) in [(crc32_b64(b"not the body"), Some("BadDigest")), (crc32_b64(&new), None)] {
        let body = unsigned_trailer_body(&new, 64 * KIB, "x-amz-checksum-crc32", &value);
        let len = new.len().to_string();
        let clen = body.len().to_string();
        let (headers, _) = sign_v4(
            "PUT",
            &url,
            &[
                ("content-encoding", "aws-chunked"),
                ("x-amz-decoded-content-length", &len),
                ("x-amz-trailer", "x-amz-checksum-crc32"),
                ("content-length", &clen),
            ],
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            SECRET_KEY,
            SystemTime::now(),
        );
        let h: Vec<(&str, &str)> = headers
            .iter()
            .filter(|(k, _)| k != "host")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let resp = raw_request("PUT", &url, &h, body).await;
        match want {
            Some(code) => {
                assert_eq!(
                    (resp.status, resp.error_code().as_deref()),
                    (400, Some(code)),
                    "wrong trailer checksum: {}",
                    resp.text()
                );
                assert_eq!(
                    get(c, &b, "k").await,
                    old,
                    "a PUT with a wrong trailer checksum changed the key"
                );
            }
            None => {
                assert_eq!(resp.status, 200, "a correct trailer checksum: {}", resp.text());
                assert_eq!(get(c, &b, "k").await, new);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_md5_is_checked() {
    let s = TestServer::start();
    let c = &s.client;
    let b = s.bucket("md5").await;
    let data = random_bytes(70_000);
    let put_md5 = |md5: String, body: &[u8]| {
        c.put_object()
            .bucket(&b)
            .key("k")
            .content_md5(md5)
            .body(ByteStream::from(body.to_vec()))
            .send()
    };
    put_md5(md5_b64(&data), &data)
        .await
        .unwrap_or_else(|e| panic!("a correct Content-MD5: {}", show(&e)));
    assert_eq!(get(c, &b, "k").await, data);
    let other = random_bytes(70_000);
    assert_s3_error(put_md5(md5_b64(b"something else"), &other).await, 400, "BadDigest");
    assert_s3_error(put_md5("not base64!!".into(), &other).await, 400, "InvalidDigest");
    assert_s3_error(put_md5(b64(b"short"), &other).await, 400, "InvalidDigest");
    assert_eq!(
        get(c, &b, "k").await,
        data,
        "a PUT with a wrong Content-MD5 changed the key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_streaming_chunks_are_verified() {
    // STREAMING-AWS4-HMAC-SHA256-PAYLOAD: what aws-cli, boto3 and the Java SDK v1 send over
    // plain HTTP. Each chunk carries a signature chained from the request's seed signature.
    let s = TestServer::start();
    let c = &s.client;
    let b = s.bucket("signed-chunks").await;
    let data = random_bytes(200 * KIB + 5);
    let chunk = 64 * KIB;
    let send = |key: &str, tamper: bool| {
        let url = format!("{}/{b}/{key}", s.endpoint);
        let data = data.clone();
        async move {
            let now = SystemTime::now();
            let len = data.len().to_string();
            let clen = signed_chunked_len(data.len(), chunk).to_string();
            let (headers, seed) = sign_v4(
                "PUT",
                &url,
                &[
                    ("content-encoding", "aws-chunked"),
                    ("x-amz-decoded-content-length", &len),
                    ("content-length", &clen),
                ],
                "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                SECRET_KEY,
                now,
            );
            let mut body = signed_chunked_body(&data, chunk, &seed, SECRET_KEY, now);
            assert_eq!(body.len().to_string(), clen);
            if tamper {
                // Flip one payload byte in the second chunk; its signature no longer matches.
                let at = body.len() / 2;
                body[at] ^= 0x55;
            }
            let h: Vec<(&str, &str)> = headers
                .iter()
                .filter(|(k, _)| k != "host")
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            raw_request("PUT", &url, &h, body).await
        }
    };
    let ok = send("good", false).await;
    assert_eq!(ok.status, 200, "signed streaming PUT: {}", ok.text());
    assert_eq!(
        ok.headers.get("etag").and_then(|v| v.to_str().ok()),
        Some(etag_of(&data).as_str())
    );
    assert_eq!(get(c, &b, "good").await, data);

    let bad = send("tampered", true).await;
    assert_eq!(
        (bad.status, bad.error_code().as_deref()),
        (403, Some("SignatureDoesNotMatch")),
        "tampered chunk: {}",
        bad.text()
    );
    assert_s3_error(c.get_object().bucket(&b).key("tampered").send().await, 404, "NoSuchKey");
}

// ---------------------------------------------------------------------------------------------
// Copy, delete, list
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_object_with_copy_and_replace_directives() {
    let s = TestServer::start();
    let c = &s.client;
    let b = s.bucket("copies").await;
    let other = s.bucket("elsewhere").await;
    let data = random_bytes(MIB + 99);
    let src = "dir/ünï côde+plus&amp.bin";
    c.put_object()
        .bucket(&b)
        .key(src)
        .body(ByteStream::from(data.clone()))
        .content_type("text/x-source")
        .metadata("origin", "source")
        .tagging("t=1")
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutObject: {}", show(&e)));
    let source = format!("{b}/{}", encode_key(src));

    // COPY (the default): bytes, content type, user metadata and tags come along.
    let out = c
        .copy_object()
        .bucket(&b)
        .key("copy/default")
        .copy_source(&source)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CopyObject: {}", show(&e)));
    assert_eq!(
        out.copy_object_result().and_then(|r| r.e_tag()),
        Some(etag_of(&data).as_str())
    );
    assert_eq!(get(c, &b, "copy/default").await, data);
    let h = head(c, &b, "copy/default").await;
    assert_eq!(h.content_type(), Some("text/x-source"));
    assert_eq!(h.metadata(), Some(&map(&[("origin", "source")])));
    assert_eq!(h.e_tag(), Some(etag_of(&data).as_str()));
    assert_eq!(
        tags(c, &b, "copy/default").await,
        BTreeMap::from([("t".to_owned(), "1".to_owned())])
    );

    // REPLACE: the request's metadata and tags instead.
    c.copy_object()
        .bucket(&other)
        .key("copy/replaced")
        .copy_source(&source)
        .metadata_directive(MetadataDirective::Replace)
        .content_type("application/json")
        .metadata("fresh", "yes")
        .tagging_directive(TaggingDirective::Replace)
        .tagging("n=2")
        .send()
        .await
        .unwrap_or_else(|e| panic!("CopyObject REPLACE: {}", show(&e)));
    assert_eq!(get(c, &other, "copy/replaced").await, data);
    let h = head(c, &other, "copy/replaced").await;
    assert_eq!(h.content_type(), Some("application/json"));
    assert_eq!(h.metadata(), Some(&map(&[("fresh", "yes")])));
    assert_eq!(
        tags(c, &other, "copy/replaced").await,
        BTreeMap::from([("n".to_owned(), "2".to_owned())])
    );

    // Onto itself: only legal when something changes.
    assert_s3_error(
        c.copy_object().bucket(&b).key(src).copy_source(&source).send().await,
        400,
        "InvalidRequest",
    );
    c.copy_object()
        .bucket(&b)
        .key(src)
        .copy_source(&source)
        .metadata_directive(MetadataDirective::Replace)
        .metadata("origin", "rewritten")
        .send()
        .await
        .unwrap_or_else(|e| panic!("CopyObject onto itself with REPLACE: {}", show(&e)));
    assert_eq!(
        head(c, &b, src).await.metadata(),
        Some(&map(&[("origin", "rewritten")]))
    );
    assert_eq!(get(c, &b, src).await, data);

    // Conditions on the source, and a missing source.
    assert_s3_error(
        c.copy_object()
            .bucket(&b)
            .key("copy/cond")
            .copy_source(&source)
            .copy_source_if_match("\"00000000000000000000000000000000\"")
            .send()
            .await,
        412,
        "PreconditionFailed",
    );
    c.copy_object()
        .bucket(&b)
        .key("copy/cond")
        .copy_source(&source)
        .copy_source_if_match(etag_of(&data))
        .send()
        .await
        .unwrap();
    assert_s3_error(
        c.copy_object()
            .bucket(&b)
            .key("copy/x")
            .copy_source(format!("{b}/missing"))
            .send()
            .await,
        404,
        "NoSuchKey",
    );
    assert_s3_error(
        c.copy_object()
            .bucket(&b)
            .key("copy/x")
            .copy_source("no-such-bucket/k")
            .send()
            .await,
        404,
        "NoSuchBucket",
    );
    assert_s3_error(c.get_object().bucket(&b).key("copy/x").send().await, 404, "NoSuchKey");

    // The copy is a copy: overwriting the source leaves it alone.
    put(c, &b, src, b"new source").await;
    assert_eq!(get(c, &b, "copy/default").await, data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_object_and_delete_objects_quiet_and_verbose() {
    let s = TestServer::start();
    let c = &s.client;
    let b = s.bucket("deletes").await;
    for k in ["a", "b", "c", "d", "e", "sp ace/ü"] {
        put(c, &b, k, &random_bytes(100)).await;
    }
    c.delete_object()
        .bucket(&b)
        .key("a")
        .send()
        .await
        .unwrap_or_else(|e| panic!("DeleteObject: {}", show(&e)));
    assert_s3_error(c.get_object().bucket(&b).key("a").send().await, 404, "NoSuchKey");
    c.delete_object()
        .bucket(&b)
        .key("a")
        .send()
        .await
        .unwrap_or_else(|e| panic!("DeleteObject of a missing key succeeds: {}", show(&e)));

    let ids = |keys: &[&str]| {
        keys.iter()
            .map(|k| ObjectIdentifier::builder().key(*k).build().unwrap())
            .collect::<Vec<_>>()
    };
    let out = c
        .delete_objects()
        .bucket(&b)
        .delete(
            Delete::builder()
                .set_objects(Some(ids(&["b", "c", "never-there", "sp ace/ü"])))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("DeleteObjects: {}", show(&e)));
    let deleted: BTreeSet<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    assert_eq!(
        deleted,
        BTreeSet::from(["b", "c", "never-there", "sp ace/ü"]),
        "verbose DeleteObjects reports every key"
    );
    assert!(out.errors().is_empty(), "{:?}", out.errors());

    let out = c
        .delete_objects()
        .bucket(&b)
        .delete(
            Delete::builder()
                .set_objects(Some(ids(&["d", "e"])))
                .quiet(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("DeleteObjects quiet: {}", show(&e)));
    assert!(
        out.deleted().is_empty(),
        "quiet DeleteObjects reports only errors: {:?}",
        out.deleted()
    );
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    assert_eq!(list_keys(c, &b).await, Vec::<String>::new());
    assert_eq!(
        s.blob_files().len(),
        0,
        "deleted objects left blob files behind: {:?}",
        s.blob_files()
    );
}

/// DeleteObjects with an `<ETag>` per object: each is an If-Match, checked in the one
/// transaction that deletes the batch; a key whose ETag differs is an error entry and stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_objects_with_etags_are_conditional_per_key() {
    let s = TestServer::start();
    let c = &s.client;
    let b = s.bucket("conditional-deletes").await;
    let mut etags = HashMap::new();
    for k in ["a", "b", "c"] {
        let out = c
            .put_object()
            .bucket(&b)
            .key(k)
            .body(ByteStream::from(random_bytes(50)))
            .send()
            .await
            .unwrap();
        etags.insert(k, out.e_tag().unwrap().to_owned());
    }
    let id = |k: &str, etag: Option<&str>| {
        ObjectIdentifier::builder()
            .key(k)
            .set_e_tag(etag.map(str::to_owned))
            .build()
            .unwrap()
    };
    let wrong = "\"0123456789abcdef0123456789abcdef\"";
    let out = c
        .delete_objects()
        .bucket(&b)
        .delete(
            Delete::builder()
                .set_objects(Some(vec![
                    id("a", Some(&etags["a"])),
                    id("b", Some(wrong)),
                    id("c", None),
                    id("gone", Some(&etags["a"])),
                ]))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("DeleteObjects: {}", show(&e)));
    let deleted: BTreeSet<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    assert_eq!(deleted, BTreeSet::from(["a", "c"]));
    let errors: BTreeMap<&str, &str> = out
        .errors()
        .iter()
        .map(|e| (e.key().unwrap(), e.code().unwrap()))
        .collect();
    assert_eq!(
        errors,
        BTreeMap::from([("b", "PreconditionFailed"), ("gone", "NoSuchKey")])
    );
    assert_eq!(list_keys(c, &b).await, ["b"]);
}

/// One ListObjectsV2 page as (keys, common prefixes, truncated, next token).
async fn list_v2(c: &Client, b: &str, prefix: Option<&str>, delimiter: Option<&str>) -> (Vec<String>, Vec<String>) {
    let out = c
        .list_objects_v2()
        .bucket(b)
        .set_prefix(prefix.map(str::to_owned))
        .set_delimiter(delimiter.map(str::to_owned))
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListObjectsV2 prefix={prefix:?} delimiter={delimiter:?}: {}", show(&e)));
    assert_eq!(out.is_truncated(), Some(false));
    let keys: Vec<String> = out
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    let cps: Vec<String> = out
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix().map(str::to_owned))
        .collect();
    assert_eq!(out.key_count(), Some((keys.len() + cps.len()) as i32), "KeyCount");
    (keys, cps)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_v1_and_v2_with_prefix_delimiter_and_pagination() {
    let s = TestServer::start();
    let c = &s.client;
    let b = s.bucket("listing").await;
    let all = ["a", "a/1", "a/2", "a/b/3", "a/b/4", "b", "c/d/e", "c/f", "z"];
    let mut sizes = HashMap::new();
    for (i, k) in all.iter().enumerate() {
        let data = random_bytes(i * 10);
        put(c, &b, k, &data).await;
        sizes.insert(k.to_string(), (data.len() as i64, etag_of(&data)));
    }
    let strs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    let out = c.list_objects_v2().bucket(&b).send().await.unwrap();
    for o in out.contents() {
        let (size, etag) = &sizes[o.key().unwrap()];
        assert_eq!(o.size(), Some(*size), "{:?}: Size", o.key());
        assert_eq!(o.e_tag(), Some(etag.as_str()), "{:?}: ETag", o.key());
        assert!(o.last_modified().is_some());
    }
    assert_eq!(list_v2(c, &b, None, None).await, (strs(&all), vec![]));
    assert_eq!(
        list_v2(c, &b, None, Some("/")).await,
        (strs(&["a", "b", "z"]), strs(&["a/", "c/"]))
    );
    assert_eq!(
        list_v2(c, &b, Some("a/"), Some("/")).await,
        (strs(&["a/1", "a/2"]), strs(&["a/b/"]))
    );
    assert_eq!(
        list_v2(c, &b, Some("c/"), None).await,
        (strs(&["c/d/e", "c/f"]), vec![])
    );
    assert_eq!(list_v2(c, &b, Some("a/b"), Some("/")).await, (vec![], strs(&["a/b/"])));
    assert_eq!(list_v2(c, &b, Some("nothing"), Some("/")).await, (vec![], vec![]));
    // An empty delimiter groups nothing.
    assert_eq!(list_v2(c, &b, None, Some("")).await, (strs(&all), vec![]));
    // A multi-character delimiter.
    assert_eq!(
        list_v2(c, &b, None, Some("/b/")).await,
        (strs(&["a", "a/1", "a/2", "b", "c/d/e", "c/f", "z"]), strs(&["a/b/"]))
    );

    // V2 pages of 2 with a delimiter: keys and common prefixes share the page budget.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let out = c
            .list_objects_v2()
            .bucket(&b)
            .delimiter("/")
            .max_keys(2)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        let mut page: Vec<String> = out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        page.extend(
            out.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_owned)),
        );
        assert!(page.len() <= 2, "a page of max-keys 2 held {page:?}");
        seen.extend(page);
        if out.is_truncated() == Some(true) {
            token = Some(
                out.next_continuation_token()
                    .expect("a truncated V2 page has a NextContinuationToken")
                    .to_owned(),
            );
        } else {
            break;
        }
        assert!(pages < 10, "pagination does not end");
    }
    seen.sort();
    assert_eq!(seen, strs(&["a", "a/", "b", "c/", "z"]), "V2 pages with delimiter");
    assert_eq!(pages, 3);

    // V2 start-after.
    let out = c.list_objects_v2().bucket(&b).start_after("a/2").send().await.unwrap();
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["a/b/3", "a/b/4", "b", "c/d/e", "c/f", "z"]);

    // V1: marker, and pages without a delimiter (continue from the last key) and with one (NextMarker).
    let out = c.list_objects().bucket(&b).marker("b").send().await.unwrap();
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["c/d/e", "c/f", "z"]);
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = c
            .list_objects()
            .bucket(&b)
            .max_keys(4)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        let keys: Vec<String> = out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        assert!(keys.len() <= 4);
        seen.extend(keys.iter().cloned());
        if out.is_truncated() != Some(true) {
            break;
        }
        marker = Some(
            out.next_marker()
                .map(str::to_owned)
                .unwrap_or_else(|| keys.last().unwrap().clone()),
        );
    }
    assert_eq!(seen, strs(&all), "V1 pages");
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = c
            .list_objects()
            .bucket(&b)
            .delimiter("/")
            .max_keys(2)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        seen.extend(out.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
        seen.extend(
            out.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_owned)),
        );
        if out.is_truncated() != Some(true) {
            break;
        }
        marker = Some(
            out.next_marker()
                .expect("a truncated V1 page with a delimiter has a NextMarker")
                .to_owned(),
        );
    }
    seen.sort();
    assert_eq!(seen, strs(&["a", "a/", "b", "c/", "z"]), "V1 pages with delimiter");
    let out = c.list_objects().bucket(&b).delimiter("").send().await.unwrap();
    assert_eq!(out.contents().len(), all.len(), "V1 with an empty delimiter");
    assert!(out.common_prefixes().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_paginator_walks_more_than_1000_keys() {
    let s = TestServer::start();
    let c = &s.client;
    let b = s.bucket("many").await;
    let keys: Vec<String> = (0..1103).map(|i| format!("k/{i:05}")).collect();
    let b = b.as_str();
    futures::stream::iter(keys.iter())
        .for_each_concurrent(16, |k| async move {
            put(c, b, k, k.as_bytes()).await;
        })
        .await;

    let mut pages = c.list_objects_v2().bucket(b).into_paginator().send();
    let mut sizes = Vec::new();
    let mut got = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.unwrap_or_else(|e| panic!("ListObjectsV2 page: {}", show(&e)));
        sizes.push(page.contents().len());
        got.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
    }
    assert_eq!(sizes, [1000, 103], "default pages hold 1000 keys");
    assert_eq!(got, keys);

    let mut pages = c
        .list_objects_v2()
        .bucket(b)
        .prefix("k/")
        .max_keys(300)
        .into_paginator()
        .send();
    let mut sizes = Vec::new();
    let mut got = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        sizes.push(page.contents().len());
        got.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
    }
    assert_eq!(sizes, [300, 300, 300, 203]);
    assert_eq!(got, keys);

    // max-keys above 1000 is capped at 1000.
    let out = c.list_objects().bucket(b).max_keys(5000).send().await.unwrap();
    assert_eq!(out.contents().len(), 1000);
    assert_eq!(out.is_truncated(), Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoding_type_url_escapes_keys_that_xml_cannot_carry() {
    let s = TestServer::start();
    let c = &s.client;
    let b = s.bucket("encoding").await;
    let keys = [
        "plain",
        "with space",
        "plus+sign",
        "pct%41",
        "ünïcødé/ö",
        "amp&<gt>",
        "ctrl\u{1}char",
        "dir/sub dir/x",
    ];
    for k in keys {
        put(c, &b, k, k.as_bytes()).await;
    }
    let out = c
        .list_objects_v2()
        .bucket(&b)
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListObjectsV2 encoding-type=url: {}", show(&e)));
    assert_eq!(out.encoding_type(), Some(&EncodingType::Url));
    let raw: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert!(
        !raw.contains(&"with space") && !raw.iter().any(|k| k.contains('\u{1}')),
        "keys came back unencoded: {raw:?}"
    );
    let decoded: BTreeSet<String> = raw.iter().map(|k| url_decode(k)).collect();
    assert_eq!(decoded, keys.iter().map(|k| k.to_string()).collect::<BTreeSet<_>>());

    let out = c
        .list_objects_v2()
        .bucket(&b)
        .delimiter("/")
        .prefix("dir/")
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap();
    let cps: Vec<String> = out
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .map(url_decode)
        .collect();
    assert_eq!(cps, ["dir/sub dir/"]);

    let out = c
        .list_objects()
        .bucket(&b)
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap();
    let decoded: BTreeSet<String> = out.contents().iter().filter_map(|o| o.key()).map(url_decode).collect();
    assert_eq!(decoded.len(), keys.len(), "V1 encoding-type=url");
    assert!(decoded.contains("ctrl\u{1}char"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_object_versions_shows_the_one_null_version_of_each_key() {
    let s = TestServer::start();
    let c = &s.client;
    let b = s.bucket("versions").await;
    put(c, &b, "x/1", b"one").await;
    put(c, &b, "x/2", b"two").await;
    let last = random_bytes(321);
    put(c, &b, "x/2", &last).await;
    put(c, &b, "y", b"y").await;
    let out = c
        .list_object_versions()
        .bucket(&b)
        .prefix("x/")
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListObjectVersions: {}", show(&e)));
    let got: Vec<(&str, &str, bool, i64, &str)> = out
        .versions()
        .iter()
        .map(|v| {
            (
                v.key().unwrap(),
                v.version_id().unwrap_or("<none>"),
                v.is_latest().unwrap_or(false),
                v.size().unwrap_or(-1),
                v.e_tag().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("x/1", "null", true, 3, etag_of(b"one").as_str()),
            ("x/2", "null", true, 321, etag_of(&last).as_str())
        ]
    );
    assert!(out.delete_markers().is_empty());
    let out = c.list_object_versions().bucket(&b).delimiter("/").send().await.unwrap();
    let keys: Vec<&str> = out.versions().iter().filter_map(|v| v.key()).collect();
    assert_eq!(keys, ["y"]);
    let cps: Vec<&str> = out.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(cps, ["x/"]);
}

// ---------------------------------------------------------------------------------------------
// Multipart
// ---------------------------------------------------------------------------------------------

fn completed(parts: &[(i32, &str)]) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts
                .iter()
                .map(|(n, e)| CompletedPart::builder().part_number(*n).e_tag(*e).build())
                .collect(),
        ))
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_upload_with_a_copied_part_completes_into_one_object() {
    let s = TestServer::start();
    let c = &s.client;
    let b = s.bucket("multipart").await;
    let source = random_bytes(6 * MIB);
    put(c, &b, "copy-source", &source).await;
    let p1 = random_bytes(MIN_PART);
    let p2 = source[..MIN_PART + 3].to_vec();
    let p3 = random_bytes(1234);

    let up = c
        .create_multipart_upload()
        .bucket(&b)
        .key("big/object")
        .content_type("application/x-big")
        .metadata("kind", "multipart")
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateMultipartUpload: {}", show(&e)));
    let id = up.upload_id().expect("an UploadId").to_owned();

    let e1 = c
        .upload_part()
        .bucket(&b)
        .key("big/object")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from(p1.clone()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("UploadPart 1: {}", show(&e)))
        .e_tag()
        .unwrap()
        .to_owned();
    assert_eq!(e1, etag_of(&p1));
    let copied = c
        .upload_part_copy()
        .bucket(&b)
        .key("big/object")
        .upload_id(&id)
        .part_number(2)
        .copy_source(format!("{b}/copy-source"))
        .copy_source_range(format!("bytes=0-{}", p2.len() - 1))
        .send()
        .await
        .unwrap_or_else(|e| panic!("UploadPartCopy 2: {}", show(&e)));
    let e2 = copied
        .copy_part_result()
        .and_then(|r| r.e_tag())
        .expect("CopyPartResult ETag")
        .to_owned();
    assert_eq!(e2, etag_of(&p2));
    // Part 3 streams in aws-chunked with the default CRC32 trailer.
    let e3 = c
        .upload_part()
        .bucket(&b)
        .key("big/object")
        .upload_id(&id)
        .part_number(3)
        .body(streaming_body(&p3, 500))
        .send()
        .await
        .unwrap_or_else(|e| panic!("UploadPart 3 (streaming): {}", show(&e)))
        .e_tag()
        .unwrap()
        .to_owned();
    assert_eq!(e3, etag_of(&p3));

    let parts = c
        .list_parts()
        .bucket(&b)
        .key("big/object")
        .upload_id(&id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListParts: {}", show(&e)));
    let listed: Vec<(i32, i64, &str)> = parts
        .parts()
        .iter()
        .map(|p| (p.part_number().unwrap(), p.size().unwrap(), p.e_tag().unwrap()))
        .collect();
    assert_eq!(
        listed,
        [
            (1, p1.len() as i64, e1.as_str()),
            (2, p2.len() as i64, e2.as_str()),
            (3, p3.len() as i64, e3.as_str())
        ]
    );
    let parts = c
        .list_parts()
        .bucket(&b)
        .key("big/object")
        .upload_id(&id)
        .max_parts(2)
        .send()
        .await
        .unwrap();
    assert_eq!(parts.parts().len(), 2);
    assert_eq!(parts.is_truncated(), Some(true));
    let rest = c
        .list_parts()
        .bucket(&b)
        .key("big/object")
        .upload_id(&id)
        .part_number_marker(parts.next_part_number_marker().expect("NextPartNumberMarker"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        rest.parts()
            .iter()
            .map(|p| p.part_number().unwrap())
            .collect::<Vec<_>>(),
        [3]
    );

    let uploads = c
        .list_multipart_uploads()
        .bucket(&b)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListMultipartUploads: {}", show(&e)));
    let listed: Vec<(&str, &str)> = uploads
        .uploads()
        .iter()
        .map(|u| (u.key().unwrap(), u.upload_id().unwrap()))
        .collect();
    assert_eq!(listed, [("big/object", id.as_str())]);

    // Not visible before completion.
    assert_s3_error(
        c.get_object().bucket(&b).key("big/object").send().await,
        404,
        "NoSuchKey",
    );

    let done = c
        .complete_multipart_upload()
        .bucket(&b)
        .key("big/object")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &e1), (2, &e2), (3, &e3)]))
        .send()
        .await
        .unwrap_or_else(|e| panic!("CompleteMultipartUpload: {}", show(&e)));
    let want_etag = multipart_etag(&[&p1, &p2, &p3]);
    assert_eq!(
        done.e_tag(),
        Some(want_etag.as_str()),
        "the multipart ETag is MD5(part MD5s)-N"
    );
    assert!(want_etag.ends_with("-3\""));

    let whole: Vec<u8> = [p1.as_slice(), &p2, &p3].concat();
    let got = c.get_object().bucket(&b).key("big/object").send().await.unwrap();
    assert_eq!(got.e_tag(), Some(want_etag.as_str()));
    assert_eq!(got.content_type(), Some("application/x-big"));
    assert_eq!(got.metadata(), Some(&map(&[("kind", "multipart")])));
    assert_eq!(got.content_length(), Some(whole.len() as i64));
    assert!(
        body_bytes(got.body).await == whole,
        "the completed object is the parts, in order"
    );

    // partNumber reads.
    let h = c
        .head_object()
        .bucket(&b)
        .key("big/object")
        .part_number(2)
        .send()
        .await
        .unwrap_or_else(|e| panic!("HeadObject partNumber=2: {}", show(&e)));
    assert_eq!(h.content_length(), Some(p2.len() as i64));
    assert_eq!(h.parts_count(), Some(3));
    let got = c
        .get_object()
        .bucket(&b)
        .key("big/object")
        .part_number(3)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetObject partNumber=3: {}", show(&e)));
    assert_eq!(got.parts_count(), Some(3));
    let start = p1.len() + p2.len();
    assert_eq!(
        got.content_range(),
        Some(format!("bytes {start}-{}/{}", whole.len() - 1, whole.len()).as_str())
    );
    assert!(body_bytes(got.body).await == p3);
    assert_s3_error(
        c.get_object().bucket(&b).key("big/object").part_number(4).send().await,
        416,
        "InvalidPartNumber",
    );
    // A range across the part 1 / part 2 boundary.
    let (lo, hi) = (MIN_PART - 10, MIN_PART + 9);
    let got = c
        .get_object()
        .bucket(&b)
        .key("big/object")
        .range(format!("bytes={lo}-{hi}"))
        .send()
        .await
        .unwrap();
    assert!(body_bytes(got.body).await == whole[lo..=hi]);

    // The upload is gone; the listing shows the object.
    assert!(
        c.list_multipart_uploads()
            .bucket(&b)
            .send()
            .await
            .unwrap()
            .uploads()
            .is_empty()
    );
    assert_s3_error(
        c.list_parts().bucket(&b).key("big/object").upload_id(&id).send().await,
        404,
        "NoSuchUpload",
    );
    let out = c.list_objects_v2().bucket(&b).prefix("big/").send().await.unwrap();
    assert_eq!(out.contents()[0].size(), Some(whole.len() as i64));
    assert_eq!(out.contents()[0].e_tag(), Some(want_etag.as_str()));
    // 1 blob for copy-source, 3 for the parts of big/object.
    assert_eq!(s.blob_files().len(), 4, "blob files: {:?}", s.blob_files());

    // partNumber on a single-part object: part 1 is the whole object, there is no part 2.
    let got = c
        .get_object()
        .bucket(&b)
        .key("copy-source")
        .part_number(1)
        .send()
        .await
        .unwrap_or_else(|e| panic!("partNumber=1 of a plain object: {}", show(&e)));
    assert!(body_bytes(got.body).await == source);
    assert_s3_error(
        c.get_object().bucket(&b).key("copy-source").part_number(2).send().await,
        416,
        "InvalidPartNumber",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_errors_invalid_part_order_too_small_no_such_upload_and_abort() {
    let s = TestServer::start();
    let c = &s.client;
    let b = s.bucket("mp-errors").await;
    let key = "target";
    let id = c
        .create_multipart_upload()
        .bucket(&b)
        .key(key)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let upload = |n: i32, data: Vec<u8>| {
        c.upload_part()
            .bucket(&b)
            .key(key)
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(data))
            .send()
    };
    let small1 = random_bytes(KIB);
    let small2 = random_bytes(2 * KIB);
    let e1 = upload(1, small1.clone()).await.unwrap().e_tag().unwrap().to_owned();
    let e2 = upload(2, small2.clone()).await.unwrap().e_tag().unwrap().to_owned();
    let complete = |parts: &[(i32, &str)], upload_id: &str| {
        c.complete_multipart_upload()
            .bucket(&b)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(completed(parts))
            .send()
    };

    assert_s3_error(complete(&[(1, &e1), (2, &e2)], &id).await, 400, "EntityTooSmall");
    assert_s3_error(complete(&[(2, &e2), (1, &e1)], &id).await, 400, "InvalidPartOrder");
    assert_s3_error(complete(&[(1, &e1), (1, &e1)], &id).await, 400, "InvalidPartOrder");
    assert_s3_error(
        complete(&[(1, "\"0123456789abcdef0123456789abcdef\"")], &id).await,
        400,
        "InvalidPart",
    );
    assert_s3_error(complete(&[(7, &e1)], &id).await, 400, "InvalidPart");
    assert_s3_error(complete(&[(1, &e1)], "no-such-upload-id").await, 404, "NoSuchUpload");
    assert_s3_error(
        c.upload_part()
            .bucket(&b)
            .key(key)
            .upload_id("no-such-upload-id")
            .part_number(1)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        404,
        "NoSuchUpload",
    );
    // An upload id belongs to its key.
    assert_s3_error(
        c.list_parts().bucket(&b).key("another-key").upload_id(&id).send().await,
        404,
        "NoSuchUpload",
    );
    assert_s3_error(c.get_object().bucket(&b).key(key).send().await, 404, "NoSuchKey");

    // Re-uploading a part replaces it; the failed completes did not hurt the upload.
    let small1b = random_bytes(3 * KIB);
    let e1b = upload(1, small1b.clone()).await.unwrap().e_tag().unwrap().to_owned();
    assert_s3_error(complete(&[(1, &e1)], &id).await, 400, "InvalidPart");
    // A single (last) part may be small. Part 2 was uploaded but not listed: it is dropped.
    let done = complete(&[(1, &e1b)], &id)
        .await
        .unwrap_or_else(|e| panic!("CompleteMultipartUpload with one part: {}", show(&e)));
    assert_eq!(done.e_tag(), Some(multipart_etag(&[&small1b]).as_str()));
    assert_eq!(get(c, &b, key).await, small1b);
    assert_s3_error(complete(&[(1, &e1b)], &id).await, 404, "NoSuchUpload");
    assert_eq!(
        s.blob_files().len(),
        1,
        "the unlisted part's blob was not freed: {:?}",
        s.blob_files()
    );

    // Conditional complete.
    let id2 = c
        .create_multipart_upload()
        .bucket(&b)
        .key(key)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let e = c
        .upload_part()
        .bucket(&b)
        .key(key)
        .upload_id(&id2)
        .part_number(1)
        .body(ByteStream::from_static(b"other"))
        .send()
        .await
        .unwrap();
    let e = e.e_tag().unwrap().to_owned();
    assert_s3_error(
        c.complete_multipart_upload()
            .bucket(&b)
            .key(key)
            .upload_id(&id2)
            .if_none_match("*")
            .multipart_upload(completed(&[(1, &e)]))
            .send()
            .await,
        412,
        "PreconditionFailed",
    );
    assert_eq!(get(c, &b, key).await, small1b);

    // Abort.
    c.abort_multipart_upload()
        .bucket(&b)
        .key(key)
        .upload_id(&id2)
        .send()
        .await
        .unwrap_or_else(|e| panic!("AbortMultipartUpload: {}", show(&e)));
    assert_s3_error(
        c.list_parts().bucket(&b).key(key).upload_id(&id2).send().await,
        404,
        "NoSuchUpload",
    );
    assert_s3_error(
        c.upload_part()
            .bucket(&b)
            .key(key)
            .upload_id(&id2)
            .part_number(2)
            .body(ByteStream::from_static(b"late"))
            .send()
            .await,
        404,
        "NoSuchUpload",
    );
    assert_s3_error(complete(&[(1, &e)], &id2).await, 404, "NoSuchUpload");
    assert_s3_error(
        c.abort_multipart_upload()
            .bucket(&b)
            .key(key)
            .upload_id(&id2)
            .send()
            .await,
        404,
        "NoSuchUpload",
    );
    assert!(
        c.list_multipart_uploads()
            .bucket(&b)
            .send()
            .await
            .unwrap()
            .uploads()
            .is_empty()
    );
    assert_eq!(get(c, &b, key).await, small1b);
    assert_eq!(
        s.blob_files().len(),
        1,
        "an aborted upload left blob files: {:?}",
        s.blob_files()
    );
    // Part numbers are 1..=10000.
    let id3 = c
        .create_multipart_upload()
        .bucket(&b)
        .key(key)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    for n in [0, 10_001] {
        let r = c
            .upload_part()
            .bucket(&b)
            .key(key)
            .upload_id(&id3)
            .part_number(n)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await;
        assert_s3_error(r, 400, "InvalidArgument");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_with_crc32_has_a_composite_checksum() {
    let s = TestServer::start();
    let c = &s.client;
    let b = s.bucket("mp-checksum").await;
    let id = c
        .create_multipart_upload()
        .bucket(&b)
        .key("k")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateMultipartUpload CRC32: {}", show(&e)))
        .upload_id()
        .unwrap()
        .to_owned();
    let parts = [random_bytes(MIN_PART), random_bytes(777)];
    let mut done = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let out = c
            .upload_part()
            .bucket(&b)
            .key("k")
            .upload_id(&id)
            .part_number(i as i32 + 1)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(p.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("UploadPart {}: {}", i + 1, show(&e)));
        assert_eq!(out.checksum_crc32(), Some(crc32_b64(p).as_str()));
        done.push(
            CompletedPart::builder()
                .part_number(i as i32 + 1)
                .e_tag(out.e_tag().unwrap())
                .checksum_crc32(crc32_b64(p))
                .build(),
        );
    }
    let out = c
        .complete_multipart_upload()
        .bucket(&b)
        .key("k")
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(done)).build())
        .send()
        .await
        .unwrap_or_else(|e| panic!("CompleteMultipartUpload: {}", show(&e)));
    // COMPOSITE: CRC32 over the parts' raw CRC32s, then `-N`.
    let raw: Vec<u8> = parts.iter().flat_map(|p| b64_decode(&crc32_b64(p))).collect();
    let want = format!("{}-2", crc32_b64(&raw));
    assert_eq!(
        out.checksum_crc32(),
        Some(want.as_str()),
        "CompleteMultipartUpload checksum"
    );
    let h = c
        .head_object()
        .bucket(&b)
        .key("k")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(h.checksum_crc32(), Some(want.as_str()), "HeadObject composite checksum");
    assert_eq!(get(c, &b, "k").await, parts.concat());

    // A partNumber read returns that part's checksum (the SDK validates the part's bytes).
    for (i, p) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let h = c
            .head_object()
            .bucket(&b)
            .key("k")
            .part_number(n)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        assert_eq!(h.checksum_crc32(), Some(crc32_b64(p).as_str()), "HeadObject part {n}");
        let got = c
            .get_object()
            .bucket(&b)
            .key("k")
            .part_number(n)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetObject part {n}: {}", show(&e)));
        assert_eq!(got.checksum_crc32(), Some(crc32_b64(p).as_str()), "GetObject part {n}");
        let body = got.body.collect().await.unwrap().into_bytes();
        assert!(body == p.as_slice(), "GetObject part {n} body");
    }
}

/// FULL_OBJECT multipart checksums: the CRC of the whole object, combined from the parts' CRCs,
/// is stored at Complete and returned by GetObject/HeadObject with `x-amz-checksum-type:
/// FULL_OBJECT`; ListParts and ListMultipartUploads name the upload's algorithm and type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_full_object_checksums_are_stored_and_returned() {
    use aws_sdk_s3::types::ChecksumType;
    let s = TestServer::start();
    let c = &s.client;
    let b = s.bucket("mp-full-object").await;
    let parts = [random_bytes(MIN_PART), random_bytes(MIN_PART + 3), random_bytes(1234)];
    let whole = parts.concat();
    // (key, algorithm, type asked for at Create, whether Complete claims the whole-object value)
    let cases = [
        ("nvme", ChecksumAlgorithm::Crc64Nvme, None, true),
        (
            "crc32c",
            ChecksumAlgorithm::Crc32C,
            Some(ChecksumType::FullObject),
            false,
        ),
        ("crc32", ChecksumAlgorithm::Crc32, Some(ChecksumType::FullObject), true),
    ];
    for (key, algo, kind, claim) in cases {
        let up = c
            .create_multipart_upload()
            .bucket(&b)
            .key(key)
            .checksum_algorithm(algo.clone())
            .set_checksum_type(kind)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key}: CreateMultipartUpload: {}", show(&e)));
        assert_eq!(up.checksum_type(), Some(&ChecksumType::FullObject), "{key}");
        let id = up.upload_id().unwrap().to_owned();
        let mut done = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            // Only the first case sends the upload's algorithm with each part; the others let
            // the SDK send its default (CRC32), and the server computes the upload's.
            let mut req = c
                .upload_part()
                .bucket(&b)
                .key(key)
                .upload_id(&id)
                .part_number(i as i32 + 1)
                .body(ByteStream::from(p.clone()));
            if key == "nvme" {
                req = req.checksum_algorithm(algo.clone());
            }
            let out = req
                .send()
                .await
                .unwrap_or_else(|e| panic!("{key}: UploadPart {}: {}", i + 1, show(&e)));
            assert_eq!(
                checksum_field!(out, &algo),
                Some(expected_checksum(&algo, p).as_str()),
                "{key}: the part has the upload's checksum"
            );
            done.push(
                CompletedPart::builder()
                    .part_number(i as i32 + 1)
                    .e_tag(out.e_tag().unwrap())
                    .build(),
            );
        }
        let listed = c.list_parts().bucket(&b).key(key).upload_id(&id).send().await.unwrap();
        assert_eq!(listed.checksum_algorithm(), Some(&algo), "{key}: ListParts");
        assert_eq!(
            listed.checksum_type(),
            Some(&ChecksumType::FullObject),
            "{key}: ListParts"
        );
        let uploads = c.list_multipart_uploads().bucket(&b).prefix(key).send().await.unwrap();
        let u = &uploads.uploads()[0];
        assert_eq!(
            (u.checksum_algorithm(), u.checksum_type()),
            (Some(&algo), Some(&ChecksumType::FullObject)),
            "{key}: ListMultipartUploads"
        );

        let want = expected_checksum(&algo, &whole);
        let mut req = c
            .complete_multipart_upload()
            .bucket(&b)
            .key(key)
            .upload_id(&id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(done)).build());
        if claim {
            req = req.checksum_type(ChecksumType::FullObject);
            req = match algo {
                ChecksumAlgorithm::Crc64Nvme => req.checksum_crc64_nvme(&want),
                _ => req.checksum_crc32(&want),
            };
        }
        let out = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key}: CompleteMultipartUpload: {}", show(&e)));
        assert_eq!(checksum_field!(out, &algo), Some(want.as_str()), "{key}: Complete");
        assert_eq!(out.checksum_type(), Some(&ChecksumType::FullObject), "{key}: Complete");

        let h = c
            .head_object()
            .bucket(&b)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        assert_eq!(checksum_field!(h, &algo), Some(want.as_str()), "{key}: HeadObject");
        assert_eq!(h.checksum_type(), Some(&ChecksumType::FullObject), "{key}: HeadObject");
        // The SDK validates a FULL_OBJECT checksum against the body it reads.
        let got = c
            .get_object()
            .bucket(&b)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        assert_eq!(checksum_field!(got, &algo), Some(want.as_str()), "{key}: GetObject");
        assert_eq!(got.checksum_type(), Some(&ChecksumType::FullObject), "{key}: GetObject");
        let body = got.body.collect().await.unwrap().into_bytes();
        assert!(body == whole, "{key}: GetObject body");
    }

    // A wrong whole-object claim is BadDigest and leaves the upload to be completed again.
    let id = c
        .create_multipart_upload()
        .bucket(&b)
        .key("wrong")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .checksum_type(ChecksumType::FullObject)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let e = c
        .upload_part()
        .bucket(&b)
        .key("wrong")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from(b"only part".to_vec()))
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_owned();
    let complete = |claimed: String| {
        c.complete_multipart_upload()
            .bucket(&b)
            .key("wrong")
            .upload_id(&id)
            .checksum_type(ChecksumType::FullObject)
            .checksum_crc32(claimed)
            .multipart_upload(completed(&[(1, &e)]))
            .send()
    };
    assert_s3_error(complete(crc32_b64(b"other bytes")).await, 400, "BadDigest");
    let out = complete(crc32_b64(b"only part")).await.unwrap();
    assert_eq!(out.checksum_crc32(), Some(crc32_b64(b"only part").as_str()));
}

// ---------------------------------------------------------------------------------------------
// Tagging, presigned URLs, authentication
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_tagging_put_get_delete() {
    let s = TestServer::start();
    let c = &s.client;
    let b = s.bucket("tagging").await;
    c.put_object()
        .bucket(&b)
        .key("k")
        .tagging("project=keyless&tier=gold")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let want = BTreeMap::from([
        ("project".to_owned(), "keyless".to_owned()),
        ("tier".to_owned(), "gold".to_owned()),
    ]);
    assert_eq!(tags(c, &b, "k").await, want);
    assert_eq!(
        c.get_object().bucket(&b).key("k").send().await.unwrap().tag_count(),
        Some(2)
    );

    let tagging = Tagging::builder()
        .tag_set(Tag::builder().key("env").value("test run").build().unwrap())
        .build()
        .unwrap();
    c.put_object_tagging()
        .bucket(&b)
        .key("k")
        .tagging(tagging)
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutObjectTagging: {}", show(&e)));
    assert_eq!(
        tags(c, &b, "k").await,
        BTreeMap::from([("env".to_owned(), "test run".to_owned())])
    );
    assert_eq!(get(c, &b, "k").await, b"x", "tagging does not touch the bytes");

    c.delete_object_tagging()
        .bucket(&b)
        .key("k")
        .send()
        .await
        .unwrap_or_else(|e| panic!("DeleteObjectTagging: {}", show(&e)));
    assert!(tags(c, &b, "k").await.is_empty());
    assert_s3_error(
        c.get_object_tagging().bucket(&b).key("missing").send().await,
        404,
        "NoSuchKey",
    );
    let tagging = Tagging::builder()
        .tag_set(Tag::builder().key("a").value("b").build().unwrap())
        .build()
        .unwrap();
    assert_s3_error(
        c.put_object_tagging()
            .bucket(&b)
            .key("missing")
            .tagging(tagging)
            .send()
            .await,
        404,
        "NoSuchKey",
    );
}

fn header_pairs(req: &aws_sdk_s3::presigning::PresignedRequest) -> Vec<(String, String)> {
    req.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_put_and_get_work_from_a_plain_http_client() {
    let s = TestServer::start();
    let c = &s.client;
    let b = s.bucket("presigned").await;
    let data = random_bytes(150 * KIB);
    let five_min = PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();

    let req = c
        .put_object()
        .bucket(&b)
        .key("pre/signed file.bin")
        .presigned(five_min.clone())
        .await
        .unwrap();
    assert!(req.uri().contains("X-Amz-Signature="), "{}", req.uri());
    let h = header_pairs(&req);
    let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let resp = raw_request("PUT", req.uri(), &h, data.clone()).await;
    assert_eq!(resp.status, 200, "presigned PUT: {}", resp.text());
    assert_eq!(
        resp.headers.get("etag").and_then(|v| v.to_str().ok()),
        Some(etag_of(&data).as_str())
    );

    let req = c
        .get_object()
        .bucket(&b)
        .key("pre/signed file.bin")
        .presigned(five_min.clone())
        .await
        .unwrap();
    let resp = raw_request("GET", req.uri(), &[], Vec::new()).await;
    assert_eq!(resp.status, 200, "presigned GET: {}", resp.text());
    assert!(
        resp.body.as_ref() == data.as_slice(),
        "presigned GET returned other bytes"
    );

    // A tampered signature.
    let uri = req.uri().to_owned();
    let i = uri.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let flipped = if &uri[i..i + 1] == "0" { "1" } else { "0" };
    let bad = format!("{}{flipped}{}", &uri[..i], &uri[i + 1..]);
    let resp = raw_request("GET", &bad, &[], Vec::new()).await;
    assert_eq!(
        (resp.status, resp.error_code().as_deref()),
        (403, Some("SignatureDoesNotMatch")),
        "tampered: {}",
        resp.text()
    );

    // A URL for another key does not open this one.
    let other = c
        .get_object()
        .bucket(&b)
        .key("pre/other")
        .presigned(five_min.clone())
        .await
        .unwrap();
    let swapped = other.uri().replace("pre/other", "pre/signed%20file.bin");
    let resp = raw_request("GET", &swapped, &[], Vec::new()).await;
    assert_eq!(
        (resp.status, resp.error_code().as_deref()),
        (403, Some("SignatureDoesNotMatch")),
        "swapped key: {}",
        resp.text()
    );

    // An expired URL.
    let expired = PresigningConfig::builder()
        .start_time(SystemTime::now() - Duration::from_secs(7200))
        .expires_in(Duration::from_secs(60))
        .build()
        .unwrap();
    let req = c
        .get_object()
        .bucket(&b)
        .key("pre/signed file.bin")
        .presigned(expired)
        .await
        .unwrap();
    let resp = raw_request("GET", req.uri(), &[], Vec::new()).await;
    assert_eq!(
        (resp.status, resp.error_code().as_deref()),
        (403, Some("AccessDenied")),
        "expired: {}",
        resp.text()
    );

    // A presigned PUT cannot be replayed as a different method.
    let req = c
        .put_object()
        .bucket(&b)
        .key("pre/signed file.bin")
        .presigned(five_min)
        .await
        .unwrap();
    let resp = raw_request("DELETE", req.uri(), &[], Vec::new()).await;
    assert_eq!(
        (resp.status, resp.error_code().as_deref()),
        (403, Some("SignatureDoesNotMatch")),
        "method swap: {}",
        resp.text()
    );
    assert_eq!(get(c, &b, "pre/signed file.bin").await, data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_refused_with_the_right_code() {
    let s = TestServer::start();
    let b = s.bucket("auth").await;
    put(&s.client, &b, "k", b"secret bytes").await;

    let wrong_secret = s.client_with(ACCESS_KEY, "not-the-secret");
    assert_s3_error(wrong_secret.list_buckets().send().await, 403, "SignatureDoesNotMatch");
    assert_s3_error(
        wrong_secret.get_object().bucket(&b).key("k").send().await,
        403,
        "SignatureDoesNotMatch",
    );
    assert_s3_error(
        wrong_secret
            .put_object()
            .bucket(&b)
            .key("k")
            .body(ByteStream::from_static(b"overwritten"))
            .send()
            .await,
        403,
        "SignatureDoesNotMatch",
    );
    assert_s3_error(
        wrong_secret.delete_object().bucket(&b).key("k").send().await,
        403,
        "SignatureDoesNotMatch",
    );

    let unknown = s.client_with("AKIDUNKNOWNUNKNOWN", SECRET_KEY);
    assert_s3_error(
        unknown.get_object().bucket(&b).key("k").send().await,
        403,
        "InvalidAccessKeyId",
    );

    let anonymous = raw_request("GET", &format!("{}/{b}/k", s.endpoint), &[], Vec::new()).await;
    assert_eq!(
        (anonymous.status, anonymous.error_code().as_deref()),
        (403, Some("AccessDenied")),
        "anonymous: {}",
        anonymous.text()
    );
    let anonymous = raw_request("PUT", &format!("{}/{b}/k", s.endpoint), &[], b"anon".to_vec()).await;
    assert_eq!(
        (anonymous.status, anonymous.error_code().as_deref()),
        (403, Some("AccessDenied")),
        "anonymous PUT: {}",
        anonymous.text()
    );

    assert_eq!(get(&s.client, &b, "k").await, b"secret bytes");
    assert_eq!(list_keys(&s.client, &b).await, ["k"]);
}

// ---------------------------------------------------------------------------------------------
// Keys are data, never paths
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_keys_round_trip_and_never_become_paths() {
    let s = TestServer::start();
    let c = &s.client;
    let b = s.bucket("odd-keys").await;
    let long_ascii = "k".repeat(1024);
    let long_utf8 = "é".repeat(512); // 1024 bytes
    let keys: Vec<String> = [
        "a",
        "a/b",
        "a/b/c",
        "../x",
        "../../etc/escape",
        "a/../b",
        "a/./b",
        "%2e%2e",
        "%2e%2e/%2fx",
        "/leading",
        "//double-leading",
        "a//b",
        "trailing/",
        "ünïcødé/😀 emoji",
        "question?mark#hash",
        "semi;colon=eq&amp",
        "back\\slash",
        "tilde~star*",
        "space at end ",
    ]
    .iter()
    .map(|k| k.to_string())
    .chain([long_ascii.clone(), long_utf8.clone()])
    .collect();

    let mut bodies = HashMap::new();
    for k in &keys {
        let data = random_bytes(1 + k.len() % 97);
        put(c, &b, k, &data).await;
        bodies.insert(k.clone(), data);
    }
    for k in &keys {
        assert!(get(c, &b, k).await == bodies[k], "{k:?}: wrong bytes");
        assert_eq!(
            head(c, &b, k).await.content_length(),
            Some(bodies[k].len() as i64),
            "{k:?}"
        );
    }
    let mut want: Vec<String> = keys.clone();
    want.sort();
    assert_eq!(
        list_keys(c, &b).await,
        want,
        "the listing holds each key exactly as written"
    );

    // 1025 bytes is one too many.
    let too_long = "k".repeat(1025);
    assert_s3_error(
        c.put_object()
            .bucket(&b)
            .key(&too_long)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        400,
        "KeyTooLongError",
    );

    // Keys are never file names: nothing under the data dir is named after a key's segments,
    // and nothing escaped next to it.
    let names: BTreeSet<String> = paths_under(s.root_dir())
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    for k in &keys {
        for seg in k.split('/').filter(|s| !s.is_empty() && *s != "." && *s != "..") {
            assert!(
                !names.contains(seg),
                "the data dir holds a path named {seg:?} (from key {k:?})"
            );
        }
    }
    for e in std::fs::read_dir(s.root_dir()).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            name == "data" || name.starts_with("server-"),
            "something was written next to the data dir: {name:?}"
        );
    }
    assert_eq!(s.blob_files().len(), keys.len(), "one blob file per object");

    // Deleting one of `a` and `a/b` leaves the other.
    c.delete_object().bucket(&b).key("a").send().await.unwrap();
    assert!(get(c, &b, "a/b").await == bodies["a/b"]);
    assert_s3_error(c.get_object().bucket(&b).key("a").send().await, 404, "NoSuchKey");
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

/// Waits until the number of blob files is `want` (freed blobs go when their last reader ends).
async fn eventually_blob_count(s: &TestServer, want: usize) {
    for _ in 0..100 {
        if s.blob_files().len() == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(s.blob_files().len(), want, "blob files: {:?}", s.blob_files());
}

/// Uploads `parts` as one multipart object.
async fn put_multipart(c: &Client, bucket: &str, key: &str, parts: &[&[u8]]) {
    let id = c
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let mut done = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let out = c
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(p.to_vec()))
            .send()
            .await;
        let out = out.unwrap_or_else(|e| panic!("UploadPart {n}: {}", show(&e)));
        done.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(out.e_tag().unwrap())
                .build(),
        );
    }
    c.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(done)).build())
        .send()
        .await
        .unwrap_or_else(|e| panic!("CompleteMultipartUpload: {}", show(&e)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_that_is_streaming_while_the_key_is_overwritten_finishes_with_the_old_bytes() {
    let s = TestServer::start();
    let c = &s.client;
    let b = s.bucket("overwrite").await;
    // (what the key holds, then what happens to it mid-GET). The multipart object matters most:
    // its later parts' files are opened only when the GET reaches them, long after the overwrite.
    let single = random_bytes(32 * MIB);
    let parts = [random_bytes(MIN_PART), random_bytes(MIN_PART), random_bytes(3 * MIB)];
    let multi = parts.concat();
    for (case, old, delete) in [
        ("single-part, overwritten", &single, false),
        ("single-part, deleted", &single, true),
        ("multipart, overwritten", &multi, false),
    ] {
        if case.starts_with("multipart") {
            put_multipart(c, &b, "k", &[&parts[0], &parts[1], &parts[2]]).await;
        } else {
            put(c, &b, "k", old).await;
        }
        let out = c.get_object().bucket(&b).key("k").send().await.unwrap();
        let mut body = out.body;
        let mut got = Vec::with_capacity(old.len());
        while got.len() < MIB {
            got.extend_from_slice(&body.next().await.expect("more body").expect("a body chunk"));
        }
        if delete {
            c.delete_object().bucket(&b).key("k").send().await.unwrap();
            assert_s3_error(c.get_object().bucket(&b).key("k").send().await, 404, "NoSuchKey");
        } else {
            let new = random_bytes(MIB + 1);
            put(c, &b, "k", &new).await;
            assert!(
                get(c, &b, "k").await == new,
                "{case}: a GET after the overwrite sees the new bytes"
            );
        }
        while let Some(chunk) = body.next().await {
            got.extend_from_slice(&chunk.unwrap_or_else(|e| panic!("{case}: the streaming GET broke off: {e}")));
        }
        assert_eq!(got.len(), old.len(), "{case}: the streaming GET ended early");
        assert!(got == *old, "{case}: the streaming GET mixed in other bytes");
        // The old version's blobs are freed once its reader is done.
        eventually_blob_count(&s, usize::from(!delete)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_puts_to_one_key_leave_exactly_one_body() {
    let s = TestServer::start();
    let c = &s.client;
    let b = s.bucket("race").await;
    let initial = random_bytes(MIB);
    put(c, &b, "hot", &initial).await;
    let bodies: Vec<Vec<u8>> = (0..12).map(|i| random_bytes(2 * MIB + i * 1000)).collect();
    let valid: HashMap<String, usize> = bodies.iter().chain([&initial]).map(|d| (md5_hex(d), d.len())).collect();

    for round in 0..3 {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Readers during the storm: every GET is one whole body, never a mix.
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let (c, b, done, valid) = (c.clone(), b.clone(), done.clone(), valid.clone());
                tokio::spawn(async move {
                    let mut n = 0;
                    while !done.load(std::sync::atomic::Ordering::Relaxed) {
                        let got = get(&c, &b, "hot").await;
                        assert_eq!(
                            valid.get(&md5_hex(&got)),
                            Some(&got.len()),
                            "a GET during concurrent PUTs returned a mix"
                        );
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        futures::future::join_all(bodies.iter().map(|d| put(c, &b, "hot", d))).await;
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        for r in readers {
            r.await.expect("reader task");
        }
        let got = get(c, &b, "hot").await;
        assert!(
            bodies.contains(&got),
            "round {round}: the final body is none of the bodies PUT"
        );
        let h = head(c, &b, "hot").await;
        assert_eq!(
            h.e_tag(),
            Some(etag_of(&got).as_str()),
            "round {round}: ETag and body disagree"
        );
        assert_eq!(h.content_length(), Some(got.len() as i64));
    }
    eventually_blob_count(&s, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_uploads_and_tags_survive_a_restart() {
    let mut s = TestServer::start();
    let b = s.bucket("durable").await;
    let data = random_bytes(2 * MIB + 5);
    let c = s.client.clone();
    c.put_object()
        .bucket(&b)
        .key("kept")
        .tagging("a=1")
        .metadata("m", "v")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    put(&c, &b, "deleted", b"gone").await;
    c.delete_object().bucket(&b).key("deleted").send().await.unwrap();
    let id = c
        .create_multipart_upload()
        .bucket(&b)
        .key("open")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let part = random_bytes(1000);
    c.upload_part()
        .bucket(&b)
        .key("open")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from(part.clone()))
        .send()
        .await
        .unwrap();

    s.restart();
    let c = &s.client;
    assert!(get(c, &b, "kept").await == data);
    assert_eq!(head(c, &b, "kept").await.metadata(), Some(&map(&[("m", "v")])));
    assert_eq!(
        tags(c, &b, "kept").await,
        BTreeMap::from([("a".to_owned(), "1".to_owned())])
    );
    assert_s3_error(c.get_object().bucket(&b).key("deleted").send().await, 404, "NoSuchKey");
    let parts = c
        .list_parts()
        .bucket(&b)
        .key("open")
        .upload_id(&id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListParts after restart: {}", show(&e)));
    let listed: Vec<(i32, &str)> = parts
        .parts()
        .iter()
        .map(|p| (p.part_number().unwrap(), p.e_tag().unwrap()))
        .collect();
    assert_eq!(listed, [(1, etag_of(&part).as_str())]);
    assert_eq!(list_keys(c, &b).await, ["kept"]);
    assert!(s.tmp_files().is_empty(), "tmp/ after restart: {:?}", s.tmp_files());
    assert_eq!(
        s.blob_files().len(),
        2,
        "one blob for `kept`, one for the open upload's part: {:?}",
        s.blob_files()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_refused_before_its_body_is_read_still_gets_its_error_response() {
    // The server may refuse a PUT from its headers alone (bad signature, missing bucket); the
    // client is still sending the body. It must receive the S3 error, not a connection reset:
    // a reset turns "wrong secret" into an opaque I/O error that SDKs retry.
    let s = TestServer::start();
    let b = s.bucket("refused").await;
    let wrong_secret = s.client_with(ACCESS_KEY, "not-the-secret");
    // Below 1 MiB the SDK sends the body at once; above, it waits for `100 Continue` first.
    for (size, streaming) in [
        (100 * KIB, false),
        (100 * KIB, true),
        (512 * KIB, true),
        (4 * MIB, false),
        (4 * MIB, true),
    ] {
        let big = random_bytes(size);
        let body = if streaming {
            streaming_body(&big, 8 * KIB)
        } else {
            ByteStream::from(big.clone())
        };
        assert_s3_error(
            wrong_secret.put_object().bucket(&b).key("k").body(body).send().await,
            403,
            "SignatureDoesNotMatch",
        );
        let body = if streaming {
            streaming_body(&big, 8 * KIB)
        } else {
            ByteStream::from(big.clone())
        };
        assert_s3_error(
            s.client
                .put_object()
                .bucket("no-such-bucket")
                .key("k")
                .body(body)
                .send()
                .await,
            404,
            "NoSuchBucket",
        );
    }
    assert_eq!(list_keys(&s.client, &b).await, Vec::<String>::new());
}
