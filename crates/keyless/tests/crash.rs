//! The crash test: `kill -9` in the middle of a write storm, restart, and check the disk against
//! an exact model of what the clients were told.
//!
//! Each cycle starts the real binary on the same data directory, checks that what it serves is
//! what the previous cycle's acknowledgements allow, then lets several tasks run concurrent PUTs
//! (0 bytes to 2.5 MiB, header and aws-chunked trailer checksums), multipart uploads (completed,
//! aborted, or left open), conditional copies, deletes, batch deletes and reads, and SIGKILLs the
//! process after a random delay. One task also leaves GETs half-read, so the versions they pin
//! are freed but still on disk at the kill: orphans the start-up sweep must remove.
//!
//! Tried against deliberately broken engines (in a scratch copy): non-durable metadata commits,
//! no orphan sweep and no `tmp/` sweep each made this test fail within the first cycles.
//!
//! The model is exact. Every write is logged with the instant it was sent and, if a 2xx came
//! back, the instant it was acknowledged. After the restart a key may hold the value of a write
//! W (or its starting value) unless some write that was *acknowledged* had been *sent after* W was
//! acknowledged; anything else — a lost acknowledged write, a resurrected delete, a partial body,
//! a mix of two bodies, half a multipart object — fails the test. On top of that: `tmp/` is empty
//! after start-up, open uploads hold exactly their acknowledged parts (and possibly their
//! unacknowledged ones, whole), and the number of blob files equals the number of blobs the
//! metadata references — no orphan survives the start-up sweep.
//!
//! `KEYLESS_CRASH_CYCLES` (default 15) and `KEYLESS_CRASH_SEED` tune a run; the seed is printed.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use common::*;
use rand::rngs::StdRng;
use rand::{Rng as _, RngCore as _, SeedableRng as _};

const BUCKET: &str = "crash";
const KEYS: usize = 24;
const WORKERS: usize = 6;
const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;
const MIN_PART: usize = 5 * MIB;
/// Sizes of single PUTs: empty, tiny, around the 1 MiB staging chunk, and above it.
const PUT_SIZES: [usize; 10] = [
    0,
    1,
    17,
    4 * KIB,
    64 * KIB,
    300 * KIB,
    MIB - 1,
    MIB,
    MIB + 1,
    5 * MIB / 2,
];

fn key(i: usize) -> String {
    format!("obj/{i:02}")
}

/// What a key holds: nothing, or a body identified by its MD5 and length.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Value {
    Absent,
    Body { md5: String, len: usize },
}

impl Value {
    fn of(data: &[u8]) -> Value {
        Value::Body {
            md5: md5_hex(data),
            len: data.len(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Sent; no answer (the server died first, or the answer was lost with it).
    InFlight,
    /// A 2xx came back at this instant: the write is durable.
    Acked(Instant),
    /// A definite refusal (a copy whose source had changed): no effect.
    NoEffect,
}

/// One write to one key, as the client saw it.
#[derive(Debug)]
struct Write {
    key: String,
    what: &'static str,
    value: Value,
    /// The ETag the object must have if this write is what survived (None: not predictable).
    etag: Option<String>,
    sent: Instant,
    state: State,
}

#[derive(Debug)]
struct PartLog {
    number: i32,
    etag: String,
    len: usize,
    acked: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UploadEnd {
    Open,
    Completing { acked: bool },
    Aborting { acked: bool },
}

#[derive(Debug)]
struct UploadLog {
    key: String,
    id: String,
    parts: Vec<PartLog>,
    end: UploadEnd,
    /// The value a completion writes (to check that an upload still open did not also complete).
    value: Value,
}

/// Everything the clients did in one cycle, plus what the cycle started from.
#[derive(Default)]
struct Journal {
    baseline: BTreeMap<String, (Value, String)>,
    writes: Vec<Write>,
    uploads: Vec<UploadLog>,
    creates_in_flight: usize,
    /// Per key, the ETag of the latest acknowledged body (a copy names it in If-Match).
    latest_etag: HashMap<String, String>,
    /// ETag -> value, for every body written or seen.
    by_etag: HashMap<String, Value>,
    stats: BTreeMap<&'static str, (usize, usize)>, // what -> (sent, acked)
}

impl Journal {
    fn begin(&mut self, key: &str, what: &'static str, value: Value, etag: Option<String>) -> usize {
        self.stats.entry(what).or_default().0 += 1;
        if let (Some(e), Value::Body { .. }) = (&etag, &value) {
            self.by_etag.insert(e.clone(), value.clone());
        }
        self.writes.push(Write {
            key: key.to_owned(),
            what,
            value,
            etag,
            sent: Instant::now(),
            state: State::InFlight,
        });
        self.writes.len() - 1
    }

    fn ack(&mut self, i: usize, etag: Option<&str>) {
        let now = Instant::now();
        let w = &mut self.writes[i];
        w.state = State::Acked(now);
        self.stats.entry(w.what).or_default().1 += 1;
        match (&w.value, etag) {
            (Value::Body { .. }, Some(e)) => {
                self.by_etag.insert(e.to_owned(), w.value.clone());
                self.latest_etag.insert(w.key.clone(), e.to_owned());
            }
            (Value::Absent, _) => {
                self.latest_etag.remove(&w.key);
            }
            _ => {}
        }
    }

    /// The values `key` may hold now: the starting value and each write's, minus those that an
    /// acknowledged write sent after their acknowledgement must have replaced.
    fn candidates(&self, key: &str) -> Vec<(Value, Option<String>, String)> {
        let writes: Vec<&Write> = self
            .writes
            .iter()
            .filter(|w| w.key == key && w.state != State::NoEffect)
            .collect();
        let superseded = |acked_at: Instant| {
            writes
                .iter()
                .any(|z| matches!(z.state, State::Acked(_)) && z.sent > acked_at)
        };
        let mut out = Vec::new();
        let any_acked = writes.iter().any(|w| matches!(w.state, State::Acked(_)));
        if !any_acked {
            let (v, e) = self
                .baseline
                .get(key)
                .cloned()
                .unwrap_or((Value::Absent, String::new()));
            out.push((
                v,
                Some(e).filter(|e| !e.is_empty()),
                "the value before this cycle".to_owned(),
            ));
        }
        for w in &writes {
            let keep = match w.state {
                State::Acked(at) => !superseded(at),
                State::InFlight => true,
                State::NoEffect => false,
            };
            if keep {
                out.push((w.value.clone(), w.etag.clone(), format!("{} {:?}", w.what, w.state)));
            }
        }
        out
    }

    fn history(&self, key: &str, t0: Instant) -> String {
        let mut s = format!("  baseline: {:?}\n", self.baseline.get(key));
        for w in self.writes.iter().filter(|w| w.key == key) {
            let state = match w.state {
                State::Acked(at) => format!("acked at +{:?}", at - t0),
                other => format!("{other:?}"),
            };
            s += &format!("  {} {:?} sent at +{:?}, {state}\n", w.what, w.value, w.sent - t0);
        }
        s
    }
}

/// What a request's result means for the model.
enum Outcome<T> {
    Ok(T),
    /// A definite refusal that changed nothing (only expected for conditional copies).
    Refused,
    /// No answer: the server was killed.
    Unknown,
}

fn outcome<T, E>(
    res: Result<T, SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>>,
    killed: &AtomicBool,
    what: &str,
    refusable: bool,
) -> Outcome<T>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match res {
        Ok(v) => Outcome::Ok(v),
        Err(e) => {
            if let SdkError::ServiceError(_) = &e {
                let status = status_of(&e).unwrap_or(0);
                if refusable && (status == 412 || status == 404) {
                    return Outcome::Refused;
                }
                panic!(
                    "{what}: the server refused with {} (it was up and should have accepted)",
                    show(&e)
                );
            }
            if killed.load(Ordering::SeqCst) {
                Outcome::Unknown
            } else {
                panic!("{what} failed while the server was up: {}", show(&e));
            }
        }
    }
}

/// Bodies: a unique 16-byte header, then bytes from a shared random pool (cheap to make,
/// and any mix of two bodies has a different MD5).
struct Bodies {
    pool: Vec<u8>,
}

impl Bodies {
    fn make(&self, rng: &mut StdRng, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len.min(16)];
        rng.fill_bytes(&mut v);
        if len > 16 {
            let off = rng.random_range(0..self.pool.len() - len);
            v.extend_from_slice(&self.pool[off..off + len - 16]);
        }
        v
    }
}

struct Ctx {
    client: Client,
    journal: Arc<Mutex<Journal>>,
    killed: Arc<AtomicBool>,
    bodies: Arc<Bodies>,
}

async fn worker(ctx: Arc<Ctx>, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    while !ctx.killed.load(Ordering::SeqCst) {
        let k = key(rng.random_range(0..KEYS));
        match rng.random_range(0..100) {
            0..38 => put_op(&ctx, &mut rng, &k).await,
            38..50 => delete_op(&ctx, &k).await,
            50..55 => delete_many_op(&ctx, &mut rng).await,
            55..68 => copy_op(&ctx, &mut rng, &k).await,
            68..88 => multipart_op(&ctx, &mut rng, &k).await,
            _ => get_op(&ctx, &k).await,
        }
    }
}

/// Opens GETs and stops reading them mid-body, so the versions they read stay pinned while the
/// storm overwrites and deletes them. At the kill their freed blobs are still on disk: orphans
/// that the start-up sweep must remove.
async fn hold_readers(ctx: Arc<Ctx>, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut held = Vec::new();
    while !ctx.killed.load(Ordering::SeqCst) {
        let k = key(rng.random_range(0..KEYS));
        match ctx.client.get_object().bucket(BUCKET).key(&k).send().await {
            Ok(out) => {
                let mut body = out.body;
                let _ = body.next().await;
                held.push(body);
                if held.len() > 6 {
                    held.remove(0);
                }
            }
            Err(e) if status_of(&e) == Some(404) => {}
            Err(_) if ctx.killed.load(Ordering::SeqCst) => {}
            Err(e) => panic!("GetObject {k} failed while the server was up: {}", show(&e)),
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

async fn put_op(ctx: &Ctx, rng: &mut StdRng, k: &str) {
    let len = PUT_SIZES[rng.random_range(0..PUT_SIZES.len())];
    let data = ctx.bodies.make(rng, len);
    let streaming = rng.random_bool(0.5);
    let i = ctx
        .journal
        .lock()
        .unwrap()
        .begin(k, "PUT", Value::of(&data), Some(etag_of(&data)));
    let body = if streaming {
        streaming_body(&data, 256 * KIB)
    } else {
        ByteStream::from(data.clone())
    };
    let res = ctx.client.put_object().bucket(BUCKET).key(k).body(body).send().await;
    if let Outcome::Ok(out) = outcome(res, &ctx.killed, "PutObject", false) {
        assert_eq!(out.e_tag(), Some(etag_of(&data).as_str()), "PutObject {k}: ETag");
        ctx.journal.lock().unwrap().ack(i, out.e_tag());
    }
}

async fn delete_op(ctx: &Ctx, k: &str) {
    let i = ctx.journal.lock().unwrap().begin(k, "DELETE", Value::Absent, None);
    let res = ctx.client.delete_object().bucket(BUCKET).key(k).send().await;
    if let Outcome::Ok(_) = outcome(res, &ctx.killed, "DeleteObject", false) {
        ctx.journal.lock().unwrap().ack(i, None);
    }
}

async fn delete_many_op(ctx: &Ctx, rng: &mut StdRng) {
    let keys: BTreeSet<String> = (0..rng.random_range(1..=3))
        .map(|_| key(rng.random_range(0..KEYS)))
        .collect();
    let ids: Vec<usize> = {
        let mut j = ctx.journal.lock().unwrap();
        keys.iter()
            .map(|k| j.begin(k, "DELETE-OBJECTS", Value::Absent, None))
            .collect()
    };
    let objects = keys
        .iter()
        .map(|k| ObjectIdentifier::builder().key(k).build().unwrap())
        .collect();
    let res = ctx
        .client
        .delete_objects()
        .bucket(BUCKET)
        .delete(
            Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .unwrap(),
        )
        .send()
        .await;
    if let Outcome::Ok(out) = outcome(res, &ctx.killed, "DeleteObjects", false) {
        assert!(out.errors().is_empty(), "DeleteObjects {keys:?}: {:?}", out.errors());
        let mut j = ctx.journal.lock().unwrap();
        for i in ids {
            j.ack(i, None);
        }
    }
}

async fn copy_op(ctx: &Ctx, rng: &mut StdRng, k: &str) {
    let src = key(rng.random_range(0..KEYS));
    if src == k {
        return; // a copy onto itself is refused unless it changes metadata
    }
    // Copy only a version we know, named by its ETag: the copy then holds exactly that value
    // (or, if the source changed meanwhile, is refused with 412 and changes nothing).
    let (etag, value) = {
        let j = ctx.journal.lock().unwrap();
        let Some(etag) = j.latest_etag.get(&src).cloned() else {
            return;
        };
        let value = j.by_etag.get(&etag).cloned().expect("every ETag seen has a value");
        (etag, value)
    };
    let i = ctx.journal.lock().unwrap().begin(k, "COPY", value, None);
    let res = ctx
        .client
        .copy_object()
        .bucket(BUCKET)
        .key(k)
        .copy_source(format!("{BUCKET}/{src}"))
        .copy_source_if_match(&etag)
        .send()
        .await;
    match outcome(res, &ctx.killed, "CopyObject", true) {
        Outcome::Ok(out) => {
            let e = out.copy_object_result().and_then(|r| r.e_tag()).map(str::to_owned);
            ctx.journal.lock().unwrap().ack(i, e.as_deref());
        }
        Outcome::Refused => ctx.journal.lock().unwrap().writes[i].state = State::NoEffect,
        Outcome::Unknown => {}
    }
}

async fn get_op(ctx: &Ctx, k: &str) {
    let res = ctx.client.get_object().bucket(BUCKET).key(k).send().await;
    let body = match res {
        Ok(out) => match out.body.collect().await {
            Ok(b) => b.into_bytes(),
            Err(e) if ctx.killed.load(Ordering::SeqCst) => {
                let _ = e;
                return;
            }
            Err(e) => panic!("GetObject {k}: the body broke off while the server was up: {e}"),
        },
        Err(e) if status_of(&e) == Some(404) => return,
        Err(_) if ctx.killed.load(Ordering::SeqCst) => return,
        Err(e) => panic!("GetObject {k} failed while the server was up: {}", show(&e)),
    };
    // A read returns some value that was written to this key, whole.
    let v = Value::of(&body);
    let j = ctx.journal.lock().unwrap();
    let known = j.baseline.get(k).is_some_and(|(b, _)| *b == v) || j.writes.iter().any(|w| w.key == k && w.value == v);
    assert!(
        known,
        "GetObject {k} during the storm returned {v:?}, which was never written there"
    );
}

async fn multipart_op(ctx: &Ctx, rng: &mut StdRng, k: &str) {
    let p1 = ctx.bodies.make(rng, MIN_PART);
    let p2_len = rng.random_range(1..200 * KIB);
    let p2 = ctx.bodies.make(rng, p2_len);
    let whole: Vec<u8> = [p1.as_slice(), &p2].concat();
    let final_etag = multipart_etag(&[&p1, &p2]);

    ctx.journal.lock().unwrap().creates_in_flight += 1;
    let res = ctx.client.create_multipart_upload().bucket(BUCKET).key(k).send().await;
    let Outcome::Ok(out) = outcome(res, &ctx.killed, "CreateMultipartUpload", false) else {
        return;
    };
    let id = out.upload_id().expect("UploadId").to_owned();
    let u = {
        let mut j = ctx.journal.lock().unwrap();
        j.creates_in_flight -= 1;
        j.uploads.push(UploadLog {
            key: k.to_owned(),
            id: id.clone(),
            parts: Vec::new(),
            end: UploadEnd::Open,
            value: Value::of(&whole),
        });
        j.uploads.len() - 1
    };
    for (n, part) in [(1, &p1), (2, &p2)] {
        ctx.journal.lock().unwrap().uploads[u].parts.push(PartLog {
            number: n,
            etag: etag_of(part),
            len: part.len(),
            acked: false,
        });
        let res = ctx
            .client
            .upload_part()
            .bucket(BUCKET)
            .key(k)
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(part.clone()))
            .send()
            .await;
        let Outcome::Ok(out) = outcome(res, &ctx.killed, "UploadPart", false) else {
            return;
        };
        assert_eq!(out.e_tag(), Some(etag_of(part).as_str()), "UploadPart {k} #{n}: ETag");
        ctx.journal.lock().unwrap().uploads[u].parts.last_mut().unwrap().acked = true;
    }
    match rng.random_range(0..100) {
        0..85 => {
            let i = {
                let mut j = ctx.journal.lock().unwrap();
                j.uploads[u].end = UploadEnd::Completing { acked: false };
                j.begin(k, "COMPLETE", Value::of(&whole), Some(final_etag.clone()))
            };
            let parts = [(1, etag_of(&p1)), (2, etag_of(&p2))]
                .into_iter()
                .map(|(n, e)| CompletedPart::builder().part_number(n).e_tag(e).build())
                .collect();
            let res = ctx
                .client
                .complete_multipart_upload()
                .bucket(BUCKET)
                .key(k)
                .upload_id(&id)
                .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
                .send()
                .await;
            if let Outcome::Ok(out) = outcome(res, &ctx.killed, "CompleteMultipartUpload", false) {
                assert_eq!(
                    out.e_tag(),
                    Some(final_etag.as_str()),
                    "CompleteMultipartUpload {k}: ETag"
                );
                let mut j = ctx.journal.lock().unwrap();
                j.uploads[u].end = UploadEnd::Completing { acked: true };
                j.ack(i, out.e_tag());
            }
        }
        85..95 => {
            ctx.journal.lock().unwrap().uploads[u].end = UploadEnd::Aborting { acked: false };
            let res = ctx
                .client
                .abort_multipart_upload()
                .bucket(BUCKET)
                .key(k)
                .upload_id(&id)
                .send()
                .await;
            if let Outcome::Ok(_) = outcome(res, &ctx.killed, "AbortMultipartUpload", false) {
                ctx.journal.lock().unwrap().uploads[u].end = UploadEnd::Aborting { acked: true };
            }
        }
        _ => {} // left open: it must survive the crash with both parts
    }
}

/// The client for a storm: one attempt per request (a retry would blur what was acknowledged).
fn storm_client(s: &TestServer) -> Client {
    let conf = s
        .config()
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_timeout(Duration::from_secs(60))
                .build(),
        )
        .build();
    Client::from_conf(conf)
}

/// Checks the restarted server against the journal; returns the new baseline.
async fn verify(s: &TestServer, j: &Journal, t0: Instant, cycle: usize) -> BTreeMap<String, (Value, String)> {
    let c = &s.client;
    let tmp = s.tmp_files();
    assert!(
        tmp.is_empty(),
        "cycle {cycle}: tmp/ is not empty after start-up: {tmp:?}"
    );

    // Objects.
    if let Err(e) = c.head_bucket().bucket(BUCKET).send().await {
        panic!(
            "cycle {cycle}: the bucket created before the first cycle is gone after the restart: {}",
            show(&e)
        );
    }
    let listed: BTreeSet<String> = list_keys(c, BUCKET).await.into_iter().collect();
    let keyspace: BTreeSet<String> = (0..KEYS).map(key).collect();
    assert!(
        listed.is_subset(&keyspace),
        "cycle {cycle}: the listing has keys nobody wrote: {:?}",
        listed.difference(&keyspace).collect::<Vec<_>>()
    );
    let mut now = BTreeMap::new();
    let mut referenced = 0usize;
    for k in &keyspace {
        let (value, etag) = match c.get_object().bucket(BUCKET).key(k).send().await {
            Ok(out) => {
                let etag = out.e_tag().unwrap_or_default().to_owned();
                let len = out.content_length();
                let body = body_bytes(out.body).await;
                assert_eq!(
                    len,
                    Some(body.len() as i64),
                    "cycle {cycle}: {k}: Content-Length and body disagree"
                );
                (Value::of(&body), etag)
            }
            Err(e) if status_of(&e) == Some(404) => (Value::Absent, String::new()),
            Err(e) => panic!("cycle {cycle}: GetObject {k} after restart: {}", show(&e)),
        };
        assert_eq!(
            listed.contains(k),
            value != Value::Absent,
            "cycle {cycle}: {k}: the listing and GetObject disagree ({value:?})"
        );
        let cands = j.candidates(k);
        let hits: Vec<&Option<String>> = cands
            .iter()
            .filter(|(v, _, _)| *v == value)
            .map(|(_, e, _)| e)
            .collect();
        assert!(
            !hits.is_empty(),
            "cycle {cycle}: {k} holds {value:?} (ETag {etag}), which no acknowledged history allows.\nallowed: {cands:#?}\nhistory:\n{}",
            j.history(k, t0)
        );
        // Where every write that could have left this value predicts its ETag, the ETag must be one of them.
        if value != Value::Absent && hits.iter().all(|e| e.is_some()) {
            assert!(
                hits.iter().any(|e| e.as_deref() == Some(etag.as_str())),
                "cycle {cycle}: {k}: ETag {etag}, expected one of {hits:?}"
            );
        }
        if value != Value::Absent {
            let h = c.head_object().bucket(BUCKET).key(k).part_number(1).send().await;
            let h = h.unwrap_or_else(|e| panic!("cycle {cycle}: HeadObject {k} partNumber=1: {}", show(&e)));
            referenced += h.parts_count().unwrap_or(1).max(1) as usize;
        }
        now.insert(k.clone(), (value, etag));
    }

    // Multipart uploads.
    let out = c
        .list_multipart_uploads()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListMultipartUploads: {}", show(&e)));
    assert_ne!(out.is_truncated(), Some(true), "more open uploads than one page");
    let open: BTreeMap<String, String> = out
        .uploads()
        .iter()
        .map(|u| (u.upload_id().unwrap().to_owned(), u.key().unwrap().to_owned()))
        .collect();
    let mut parts_on_disk = 0usize;
    let mut open_parts: HashMap<String, BTreeMap<i32, (String, i64)>> = HashMap::new();
    for (id, k) in &open {
        let lp = c
            .list_parts()
            .bucket(BUCKET)
            .key(k)
            .upload_id(id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("ListParts {k} {id}: {}", show(&e)));
        let parts: BTreeMap<i32, (String, i64)> = lp
            .parts()
            .iter()
            .map(|p| {
                (
                    p.part_number().unwrap(),
                    (p.e_tag().unwrap().to_owned(), p.size().unwrap()),
                )
            })
            .collect();
        parts_on_disk += parts.len();
        open_parts.insert(id.clone(), parts);
    }
    let known: BTreeSet<&str> = j.uploads.iter().map(|u| u.id.as_str()).collect();
    for u in &j.uploads {
        let is_open = open.contains_key(&u.id);
        match u.end {
            UploadEnd::Open => {
                assert!(
                    is_open,
                    "cycle {cycle}: upload {} of {} was acknowledged and never ended, but is gone",
                    u.id, u.key
                )
            }
            UploadEnd::Completing { acked: true } | UploadEnd::Aborting { acked: true } => {
                assert!(
                    !is_open,
                    "cycle {cycle}: upload {} of {} was acknowledged as {:?} but is still open",
                    u.id, u.key, u.end
                )
            }
            _ => {}
        }
        if !is_open {
            continue;
        }
        if matches!(u.end, UploadEnd::Completing { .. }) {
            assert_ne!(
                now[&u.key].0, u.value,
                "cycle {cycle}: upload {} is still open, yet {} holds its completed object",
                u.id, u.key
            );
        }
        let parts = &open_parts[&u.id];
        for p in &u.parts {
            match parts.get(&p.number) {
                Some((etag, size)) => assert_eq!(
                    (etag.as_str(), *size),
                    (p.etag.as_str(), p.len as i64),
                    "cycle {cycle}: upload {} part {}: wrong part",
                    u.id,
                    p.number
                ),
                None => assert!(
                    !p.acked,
                    "cycle {cycle}: upload {} lost its acknowledged part {}",
                    u.id, p.number
                ),
            }
        }
        let logged: BTreeSet<i32> = u.parts.iter().map(|p| p.number).collect();
        assert!(
            parts.keys().all(|n| logged.contains(n)),
            "cycle {cycle}: upload {} has parts nobody sent: {parts:?}",
            u.id
        );
    }
    let unknown: Vec<(&String, &String)> = open.iter().filter(|(id, _)| !known.contains(id.as_str())).collect();
    assert!(
        unknown.len() <= j.creates_in_flight,
        "cycle {cycle}: {} unknown open uploads, {} creates were in flight",
        unknown.len(),
        j.creates_in_flight
    );
    for (id, k) in &unknown {
        assert!(
            keyspace.contains(*k),
            "cycle {cycle}: an open upload for a key nobody used: {k}"
        );
        assert!(
            open_parts[*id].is_empty(),
            "cycle {cycle}: an upload whose creation was never acknowledged has parts"
        );
    }

    // Blob files: exactly those the metadata references (objects' segments, open uploads' parts).
    let blobs = s.blob_files();
    assert_eq!(
        blobs.len(),
        referenced + parts_on_disk,
        "cycle {cycle}: {} blob files on disk, but the metadata references {referenced} object segments + {parts_on_disk} open parts \
         (the start-up sweep left orphans, or a referenced blob is missing)",
        blobs.len()
    );

    // Clean up the open uploads; their parts' blobs must go at once.
    for (id, k) in &open {
        c.abort_multipart_upload()
            .bucket(BUCKET)
            .key(k)
            .upload_id(id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("AbortMultipartUpload {k} {id}: {}", show(&e)));
    }
    assert_eq!(
        s.blob_files().len(),
        referenced,
        "cycle {cycle}: aborting the open uploads did not free exactly their parts"
    );
    now
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_during_a_write_storm_loses_no_acknowledged_write_and_leaves_no_garbage() {
    let cycles: usize = std::env::var("KEYLESS_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let seed: u64 = std::env::var("KEYLESS_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    eprintln!("crash test: {cycles} cycles, KEYLESS_CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let bodies = Arc::new(Bodies {
        pool: random_bytes(8 * MIB),
    });

    let started = Instant::now();
    let mut s = TestServer::start();
    s.bucket(BUCKET).await;
    let mut baseline: BTreeMap<String, (Value, String)> = BTreeMap::new();
    let mut totals: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();

    for cycle in 1..=cycles {
        let t0 = Instant::now();
        let mut j = Journal::default();
        for (k, (v, e)) in &baseline {
            if *v != Value::Absent {
                j.latest_etag.insert(k.clone(), e.clone());
                j.by_etag.insert(e.clone(), v.clone());
            }
        }
        j.baseline = baseline.clone();
        let journal = Arc::new(Mutex::new(j));
        let killed = Arc::new(AtomicBool::new(false));
        let ctx = Arc::new(Ctx {
            client: storm_client(&s),
            journal: journal.clone(),
            killed: killed.clone(),
            bodies: bodies.clone(),
        });
        let mut workers: Vec<_> = (0..WORKERS)
            .map(|w| tokio::spawn(worker(ctx.clone(), seed ^ ((cycle * 1000 + w) as u64))))
            .collect();
        workers.push(tokio::spawn(hold_readers(
            ctx.clone(),
            seed ^ ((cycle * 1000 + 999) as u64),
        )));

        // Some cycles die almost at once; most mid-storm; every third only after a multipart
        // upload was completed (they are slow to get through, and must be covered).
        let storm = Instant::now();
        if cycle % 3 == 0 {
            while journal
                .lock()
                .unwrap()
                .stats
                .get("COMPLETE")
                .is_none_or(|(_, acked)| *acked == 0)
                && storm.elapsed() < Duration::from_secs(30)
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        let extra = match cycle % 3 {
            1 if cycle % 2 == 1 => rng.random_range(10..200),
            0 => rng.random_range(0..800),
            _ => rng.random_range(200..3000),
        };
        tokio::time::sleep(Duration::from_millis(extra)).await;
        let delay = storm.elapsed().as_millis();
        killed.store(true, Ordering::SeqCst);
        s.kill9();
        for w in workers {
            if let Err(e) = w.await {
                std::panic::resume_unwind(e.into_panic());
            }
        }
        drop(ctx);

        s.start_again();
        let j = Arc::try_unwrap(journal)
            .ok()
            .expect("no worker holds the journal")
            .into_inner()
            .unwrap();
        baseline = verify(&s, &j, t0, cycle).await;
        let acked: usize = j.stats.values().map(|(_, a)| a).sum();
        let sent: usize = j.stats.values().map(|(s, _)| s).sum();
        eprintln!(
            "cycle {cycle}: killed after {delay} ms; {acked}/{sent} writes acknowledged; {} uploads; {} keys present; cycle took {:?}",
            j.uploads.len(),
            baseline.values().filter(|(v, _)| *v != Value::Absent).count(),
            t0.elapsed()
        );
        for (what, (sent, acked)) in &j.stats {
            let t = totals.entry(what).or_default();
            t.0 += sent;
            t.1 += acked;
        }
    }

    // A clean restart changes nothing.
    s.restart();
    let j = Journal {
        baseline: baseline.clone(),
        ..Default::default()
    };
    let after = verify(&s, &j, Instant::now(), cycles + 1).await;
    assert_eq!(after, baseline, "a graceful restart changed the data");
    eprintln!("crash test: {totals:?} (sent, acknowledged) in {:?}", started.elapsed());
    for what in ["PUT", "DELETE", "COPY", "COMPLETE"] {
        assert!(
            totals.get(what).is_some_and(|(_, a)| *a > 0),
            "the storm never got a {what} acknowledged: the test proved little"
        );
    }
}
