//! `GET /metrics` on the serve port: real S3 traffic through the AWS SDK against the real binary,
//! then the Prometheus text is parsed and checked sample by sample.

mod common;

use std::collections::BTreeMap;

use common::*;

/// Parses the text exposition format into `name{labels}` → value (labels kept as written), and
/// checks that every sample's family has HELP and TYPE lines before it.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut typed = std::collections::BTreeSet::new();
    let mut helped = std::collections::BTreeSet::new();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            helped.insert(rest.split(' ').next().unwrap().to_owned());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            typed.insert(rest.split(' ').next().unwrap().to_owned());
        } else if !line.is_empty() {
            let (key, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad sample line {line:?}"));
            let name = key.split('{').next().unwrap();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
                .unwrap_or(name);
            assert!(
                typed.contains(family) && helped.contains(family),
                "no HELP/TYPE for {line:?}"
            );
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
            assert!(
                samples.insert(key.to_owned(), value).is_none(),
                "duplicate sample {key}"
            );
        }
    }
    samples
}

fn requests(m: &BTreeMap<String, f64>, op: &str, status: u16) -> f64 {
    m.get(&format!(
        "keyless_s3_requests_total{{operation=\"{op}\",status=\"{status}\"}}"
    ))
    .copied()
    .unwrap_or(0.0)
}

/// The histogram of `op`: its buckets in order of `le`, and its count.
fn histogram(m: &BTreeMap<String, f64>, op: &str) -> (Vec<(f64, f64)>, f64) {
    let prefix = format!("keyless_s3_request_duration_seconds_bucket{{operation=\"{op}\",le=\"");
    let mut buckets: Vec<(f64, f64)> = m
        .iter()
        .filter_map(|(k, v)| {
            let le = k.strip_prefix(&prefix)?.strip_suffix("\"}")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            Some((le, *v))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let count = m[&format!("keyless_s3_request_duration_seconds_count{{operation=\"{op}\"}}")];
    (buckets, count)
}

async fn scrape(server: &TestServer) -> BTreeMap<String, f64> {
    let resp = raw_request("GET", &format!("{}/metrics", server.endpoint), &[], "").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let ct = resp.headers[http::header::CONTENT_TYPE].to_str().unwrap();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    parse(&resp.text())
}

#[tokio::test]
async fn s3_traffic_is_counted() {
    let server = TestServer::start();
    let c = &server.client;
    let before = scrape(&server).await;
    assert!(
        !before.keys().any(|k| k.starts_with("keyless_s3_requests_total")),
        "{before:?}"
    );
    let batches0 = before["keyless_store_commit_batches_total"];
    let ops0 = before["keyless_store_committed_ops_total"];

    let b = server.bucket("metrics").await;
    let data = random_bytes(1000);
    for k in ["a", "b", "c"] {
        put(c, &b, k, &data).await;
    }
    for k in ["a", "b"] {
        assert_eq!(get(c, &b, k).await, data);
    }
    assert_s3_error(c.get_object().bucket(&b).key("missing").send().await, 404, "NoSuchKey");

    let m = scrape(&server).await;
    assert_eq!(requests(&m, "CreateBucket", 200), 1.0, "{m:#?}");
    assert_eq!(requests(&m, "PutObject", 200), 3.0);
    assert_eq!(requests(&m, "GetObject", 200), 2.0);
    assert_eq!(requests(&m, "GetObject", 404), 1.0);
    let total: f64 = m
        .iter()
        .filter(|(k, _)| k.starts_with("keyless_s3_requests_total"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(total, 7.0, "only the driven requests are counted: {m:#?}");

    for (op, n) in [("CreateBucket", 1.0), ("PutObject", 3.0), ("GetObject", 3.0)] {
        let (buckets, count) = histogram(&m, op);
        assert_eq!(count, n, "{op}");
        assert!(buckets.len() > 2, "{op}: {buckets:?}");
        assert!(
            buckets.windows(2).all(|w| w[0].1 <= w[1].1),
            "{op}: buckets not monotone {buckets:?}"
        );
        assert_eq!(buckets.last().unwrap(), &(f64::INFINITY, n), "{op}");
        let sum = m[&format!("keyless_s3_request_duration_seconds_sum{{operation=\"{op}\"}}")];
        assert!(sum > 0.0 && sum < 60.0, "{op}: sum {sum}");
    }

    assert!(m["keyless_s3_bytes_received_total"] >= 3000.0, "{m:#?}");
    assert!(m["keyless_s3_bytes_sent_total"] >= 2000.0, "{m:#?}");
    // CreateBucket and three PutObjects each commit metadata.
    assert!(m["keyless_store_commit_batches_total"] > batches0, "{m:#?}");
    assert!(m["keyless_store_committed_ops_total"] >= ops0 + 4.0, "{m:#?}");
}

/// `/metrics` with a query string or an `Authorization` header is an S3 request (a bucket may be
/// called `metrics`), and neither is answered with the metrics text.
#[tokio::test]
async fn only_plain_get_is_a_scrape() {
    let server = TestServer::start();
    let url = format!("{}/metrics", server.endpoint);
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
    let cases: &[Case] = &[
        ("GET", "?list-type=2", &[]),
        ("GET", "", &[("authorization", "AWS4-HMAC-SHA256 Credential=x")]),
        ("HEAD", "", &[]),
        ("PUT", "", &[]),
    ];
    for (method, query, headers) in cases {
        let resp = raw_request(method, &format!("{url}{query}"), headers, "").await;
        assert_ne!(resp.status, 200, "{method} {query} {headers:?}: {}", resp.text());
        assert!(!resp.text().contains("keyless_s3_requests_total"), "{method} {query}");
    }
    // Those went to S3 and were counted as S3 requests.
    let m = scrape(&server).await;
    let total: f64 = m
        .iter()
        .filter(|(k, _)| k.starts_with("keyless_s3_requests_total"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(total, cases.len() as f64, "{m:#?}");
    // An STS call is counted as `sts:<Action>` with the status it was answered with.
    let sts = raw_request(
        "POST",
        &format!("{}/", server.endpoint),
        &[("content-type", "application/x-www-form-urlencoded")],
        "Action=GetCallerIdentity&Version=2011-06-15",
    )
    .await;
    let m = scrape(&server).await;
    assert_eq!(requests(&m, "sts:GetCallerIdentity", sts.status), 1.0, "{m:#?}");
    assert_eq!(histogram(&m, "sts:GetCallerIdentity").1, 1.0);
    // A bucket called `metrics` is reachable with signed requests.
    server.bucket("metrics").await;
    put(&server.client, "metrics", "k", b"v").await;
    assert_eq!(get(&server.client, "metrics", "k").await, b"v");
}
