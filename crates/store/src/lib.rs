//! keyless-store: the embedded, crash-safe object store engine.
//!
//! Metadata lives in one redb database (the source of truth); object bytes live in blob files
//! named by random ids (see [`blob`]). The write path is: stream the body into `tmp/` while
//! hashing and fdatasync it ([`Store::stage`]); the caller verifies the digests; then the
//! group committer renames the blob into `blobs/`, fsyncs the directory and commits the
//! metadata transaction — the commit point ([`commit`]). Old bytes are unlinked only after that
//! commit, and never while a reader is streaming them.
//!
//! This crate knows nothing of HTTP, S3 wire types or identity.

pub mod blob;
mod commit;
pub mod digest;
mod error;
mod list;
mod record;
pub mod space;
mod types;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::Stream;
use redb::{Database, ReadableDatabase as _, ReadableTable as _, TableDefinition};

pub use blob::StagedBlob;
pub use digest::{ChecksumAlgorithm, Checksums, Digests, Hasher};
pub use error::{StoreError, StoreResult};
pub use types::*;

use blob::{Layout, PinnedSegments, Pins};
use commit::Committer;
use record::{BlobId, BucketRecord, ObjectRecord, PartRecord, Segment, UploadRecord};

pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
pub(crate) const BUCKETS: TableDefinition<&str, &[u8]> = TableDefinition::new("buckets");
/// (bucket, key) -> ObjectRecord. Ordered by bucket, then key bytes: the listing index.
pub(crate) const OBJECTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("objects");
/// (bucket, upload id) -> UploadRecord: an upload found by its id.
pub(crate) const UPLOADS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("uploads");
/// (bucket, key, upload id) -> (): the uploads in ListMultipartUploads order (upload ids begin
/// with their initiation time, so one key's uploads sort by it). Written with `UPLOADS`, in the
/// same transaction, always.
pub(crate) const UPLOAD_KEYS: TableDefinition<(&str, &str, &str), ()> = TableDefinition::new("upload_keys");
/// (upload id, part number) -> PartRecord.
pub(crate) const PARTS: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("parts");

/// Constant-time byte comparison, for digests and secrets.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

pub(crate) fn ns_to_time(ns: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(ns)
}

/// S3 bucket naming rules (general purpose buckets).
pub fn validate_bucket_name(name: &str) -> StoreResult<()> {
    let bad = |why| Err(StoreError::InvalidBucketName(name.to_owned(), why));
    if !(3..=63).contains(&name.len()) {
        return bad("it must be 3 to 63 characters long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return bad("only lowercase letters, digits, dots and hyphens are allowed");
    }
    let first = name.as_bytes()[0];
    let last = name.as_bytes()[name.len() - 1];
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return bad("it must begin and end with a letter or digit");
    }
    if name.contains("..") {
        return bad("it must not contain two adjacent dots");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return bad("it must not be formatted as an IP address");
    }
    if name.starts_with("xn--")
        || name.starts_with("sthree-")
        || name.ends_with("-s3alias")
        || name.ends_with("--ol-s3")
    {
        return bad("it uses a reserved prefix or suffix");
    }
    Ok(())
}

/// S3 object keys: 1 to 1024 bytes of UTF-8. Any such string is a valid key; none is a path.
pub fn validate_key(key: &str) -> StoreResult<()> {
    if key.is_empty() || key.len() > 1024 {
        return Err(StoreError::InvalidArgument(format!(
            "object keys must be 1 to 1024 bytes long; this one is {} bytes",
            key.len()
        )));
    }
    Ok(())
}

fn strip_quotes(s: &str) -> &str {
    s.trim().trim_matches('"')
}

fn object_info(key: &str, r: ObjectRecord) -> ObjectInfo {
    ObjectInfo {
        key: key.to_owned(),
        size: r.size,
        etag: r.etag,
        last_modified: ns_to_time(r.modified_ns),
        meta: r.meta,
        checksums: r.checksums,
        part_sizes: r.multipart.then(|| r.segments.iter().map(|s| s.len).collect()),
        part_checksums: r.part_checksums,
        tags: r.tags,
    }
}

pub(crate) fn upload_info(upload_id: &str, r: UploadRecord) -> UploadInfo {
    UploadInfo {
        upload_id: upload_id.to_owned(),
        key: r.key,
        initiated: ns_to_time(r.initiated_ns),
        meta: r.meta,
        checksum: r.checksum,
    }
}

fn part_info(part_number: u32, r: &PartRecord) -> PartInfo {
    PartInfo {
        part_number,
        size: r.size,
        etag: r.etag.clone(),
        last_modified: ns_to_time(r.modified_ns),
        checksums: r.checksums.clone(),
    }
}

/// Checks an If-Match / If-None-Match condition against the current record.
fn check_condition(cond: &WriteCondition, current: Option<&ObjectRecord>) -> StoreResult<()> {
    if cond.if_none_match_star && current.is_some() {
        return Err(StoreError::PreconditionFailed);
    }
    if let Some(m) = &cond.if_match {
        let Some(cur) = current else {
            return Err(StoreError::NoSuchKey);
        };
        let m = strip_quotes(m);
        if m != "*" && m != cur.etag {
            return Err(StoreError::PreconditionFailed);
        }
    }
    Ok(())
}

/// An opened object: its metadata and pinned bytes. Stream it with [`ObjectReader::into_stream`].
pub struct ObjectReader {
    pub info: ObjectInfo,
    segments: PinnedSegments,
}

impl ObjectReader {
    /// Streams bytes `[start, end)` (clamped to the object). The bytes are those of the
    /// version that was current when the object was opened, even if it is overwritten meanwhile.
    pub fn into_stream(self, start: u64, end: u64) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
        let end = end.min(self.info.size);
        self.segments.into_stream(start.min(end), end)
    }
}

/// The engine. Cheap to clone; all clones share one database and one commit thread.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: Arc<Database>,
    layout: Arc<Layout>,
    pins: Arc<Pins>,
    committer: Committer,
    opts: StoreOptions,
}

/// The file a start-up that found the metadata damaged leaves in the data directory; while it
/// exists, the store is not opened (an operator decides: restore a backup, or delete it).
pub const DAMAGED_MARK: &str = "DAMAGED";

/// What [`Store::usage`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub buckets: u64,
    pub objects: u64,
    pub uploads: u64,
}

/// What the start-up recovery found and cleaned.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovery {
    pub temp_files_removed: usize,
    pub orphan_blobs_removed: usize,
    pub objects: usize,
    /// Data files the metadata names that are missing or of the wrong size (why, in words).
    pub damaged: Option<String>,
}

impl Store {
    /// Opens (or creates) a store in `dir` and recovers it: temp files are removed, and blob
    /// files that no committed record references (a crash between rename and commit) are swept.
    pub fn open(dir: &Path, opts: StoreOptions) -> StoreResult<(Store, Recovery)> {
        let layout = Arc::new(Layout::new(dir));
        std::fs::create_dir_all(layout.tmp_dir())?;
        for shard in 0..=255u8 {
            std::fs::create_dir_all(layout.blobs_dir().join(format!("{shard:02x}")))?;
        }
        let damaged = dir.join(DAMAGED_MARK);
        let marker = std::fs::read_to_string(&damaged).ok();
        // An operator who wrote `accept` into the marker chose to serve what is left.
        let accepted = marker.as_deref().is_some_and(|m| m.trim() == "accept");
        if let Some(why) = marker.filter(|_| !accepted) {
            return Err(StoreError::Damaged(format!(
                "an earlier start found the store damaged and refused to serve it: {} \
                 Restore the data directory from a backup; or, to serve what is left (some acknowledged \
                 writes may be missing), write `accept` into \"{}\"",
                why.trim(),
                damaged.display()
            )));
        }
        // The database library panics on some damage it meets while reading: that is damage too.
        let meta = dir.join("meta.redb");
        let opened = std::panic::catch_unwind(|| {
            let mut db = Database::builder()
                .set_cache_size(opts.metadata_cache_bytes)
                .create(&meta)?;
            let verdict = match db.check_integrity() {
                Ok(true) => None,
                Ok(false) => Some(
                    "its pages failed their checksums (redb rebuilt its structure, but what it held may be incomplete)."
                        .to_owned(),
                ),
                Err(e) => Some(format!("its integrity check failed: {e}.")),
            };
            Ok::<_, redb::DatabaseError>((db, verdict))
        });
        let (db, verdict) = match opened {
            Ok(Ok(v)) => v,
            Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => {
                return Err(StoreError::Db(format!(
                    "\"{}\" is already open in another keyless process; stop that one first",
                    meta.display()
                )));
            }
            Ok(Err(e)) => {
                return Err(StoreError::Db(format!(
                    "cannot open the metadata database \"{}\": {e}",
                    meta.display()
                )));
            }
            Err(panic) => {
                let what = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("a panic");
                let why = format!("reading it failed ({what}).");
                let _ = std::fs::write(&damaged, format!("{why}\n"));
                return Err(StoreError::Damaged(format!(
                    "the metadata database \"{}\" is damaged: {why} keyless will not serve it. Restore the data \
                     directory from a backup",
                    meta.display()
                )));
            }
        };
        if let Some(why) = verdict.filter(|why| {
            if accepted {
                tracing::error!(damage = %why, "serving a damaged metadata database: {DAMAGED_MARK} says accept");
            }
            !accepted
        }) {
            let _ = std::fs::write(&damaged, format!("{why}\n"));
            return Err(StoreError::Damaged(format!(
                "the metadata database \"{}\" is damaged: {why} keyless will not serve it. Restore the data \
                 directory from a backup; or, to serve what is left (some acknowledged writes may be \
                 missing), write `accept` into \"{}\"",
                dir.join("meta.redb").display(),
                damaged.display()
            )));
        }
        {
            let txn = db.begin_write().map_err(StoreError::db)?;
            {
                let mut meta = txn.open_table(META).map_err(StoreError::db)?;
                let found = meta.get("format").map_err(StoreError::db)?.map(|v| v.value());
                match found {
                    None => {
                        meta.insert("format", record::FORMAT_VERSION).map_err(StoreError::db)?;
                    }
                    Some(v) if v == record::FORMAT_VERSION => {}
                    Some(v) => {
                        return Err(StoreError::Db(format!(
                            "{} holds on-disk format {v}; this keyless reads format {}",
                            dir.display(),
                            record::FORMAT_VERSION
                        )));
                    }
                }
                txn.open_table(BUCKETS).map_err(StoreError::db)?;
                txn.open_table(OBJECTS).map_err(StoreError::db)?;
                txn.open_table(UPLOADS).map_err(StoreError::db)?;
                txn.open_table(UPLOAD_KEYS).map_err(StoreError::db)?;
                txn.open_table(PARTS).map_err(StoreError::db)?;
            }
            txn.commit().map_err(StoreError::db)?;
        }
        let recovery = recover(&db, &layout)?;
        if let Some(why) = &recovery.damaged {
            if accepted {
                tracing::error!(damage = %why, "serving a damaged store: {DAMAGED_MARK} says accept");
            } else {
                let _ = std::fs::write(&damaged, format!("{why}\n"));
                return Err(StoreError::Damaged(format!(
                    "the store in \"{}\" is damaged: {why} keyless will not serve it. Restore the data \
                     directory from a backup; or, to serve what is left, write `accept` into \"{}\"",
                    dir.display(),
                    damaged.display()
                )));
            }
        }
        let db = Arc::new(db);
        let pins = Arc::new(Pins::default());
        let committer = Committer::start(db.clone(), layout.clone(), pins.clone());
        Ok((
            Store {
                inner: Arc::new(Inner {
                    db,
                    layout,
                    pins,
                    committer,
                    opts,
                }),
            },
            recovery,
        ))
    }

    pub fn options(&self) -> &StoreOptions {
        &self.inner.opts
    }

    /// (metadata transactions committed, write operations they carried) since start.
    /// More operations than transactions means group commit is sharing fsyncs.
    pub fn commit_stats(&self) -> (u64, u64) {
        self.inner.committer.stats()
    }

    /// How much the store holds now: buckets, objects and multipart uploads in progress (counts
    /// kept by the metadata database, so this is cheap at any size).
    pub fn usage(&self) -> StoreResult<Usage> {
        use redb::ReadableTableMetadata as _;
        let tx = self.inner.db.begin_read().map_err(StoreError::db)?;
        Ok(Usage {
            buckets: tx
                .open_table(BUCKETS)
                .map_err(StoreError::db)?
                .len()
                .map_err(StoreError::db)?,
            objects: tx
                .open_table(OBJECTS)
                .map_err(StoreError::db)?
                .len()
                .map_err(StoreError::db)?,
            uploads: tx
                .open_table(UPLOADS)
                .map_err(StoreError::db)?
                .len()
                .map_err(StoreError::db)?,
        })
    }

    /// True when the metadata database answers a read.
    pub fn is_ready(&self) -> bool {
        self.failure().is_none()
            && self
                .inner
                .db
                .begin_read()
                .map(|t| t.open_table(META).is_ok())
                .unwrap_or(false)
    }

    // ---- buckets ----

    pub async fn create_bucket(&self, name: &str) -> StoreResult<BucketInfo> {
        validate_bucket_name(name)?;
        let name = name.to_owned();
        self.inner
            .committer
            .run(move |txn, _| {
                let mut t = txn.open_table(BUCKETS).map_err(StoreError::db)?;
                if t.get(name.as_str()).map_err(StoreError::db)?.is_some() {
                    return Err(StoreError::BucketAlreadyOwnedByYou(name));
                }
                let created_ns = now_ns();
                t.insert(name.as_str(), record::encode(&BucketRecord { created_ns }).as_slice())
                    .map_err(StoreError::db)?;
                Ok(BucketInfo {
                    name,
                    created: ns_to_time(created_ns),
                })
            })
            .await
    }

    pub async fn delete_bucket(&self, name: &str) -> StoreResult<()> {
        let name = name.to_owned();
        self.inner
            .committer
            .run(move |txn, _| {
                let mut t = txn.open_table(BUCKETS).map_err(StoreError::db)?;
                if t.get(name.as_str()).map_err(StoreError::db)?.is_none() {
                    return Err(StoreError::NoSuchBucket(name));
                }
                let objects = txn.open_table(OBJECTS).map_err(StoreError::db)?;
                let uploads = txn.open_table(UPLOADS).map_err(StoreError::db)?;
                let range = (name.as_str(), "")..;
                let has_obj = objects
                    .range(range.clone())
                    .map_err(StoreError::db)?
                    .next()
                    .transpose()
                    .map_err(StoreError::db)?;
                let has_obj = has_obj.is_some_and(|(k, _)| k.value().0 == name);
                let has_up = uploads
                    .range(range)
                    .map_err(StoreError::db)?
                    .next()
                    .transpose()
                    .map_err(StoreError::db)?;
                let has_up = has_up.is_some_and(|(k, _)| k.value().0 == name);
                if has_obj || has_up {
                    return Err(StoreError::BucketNotEmpty(name));
                }
                t.remove(name.as_str()).map_err(StoreError::db)?;
                Ok(())
            })
            .await
    }

    pub fn head_bucket(&self, name: &str) -> StoreResult<BucketInfo> {
        let txn = self.inner.db.begin_read().map_err(StoreError::db)?;
        let t = txn.open_table(BUCKETS).map_err(StoreError::db)?;
        let v = t
            .get(name)
            .map_err(StoreError::db)?
            .ok_or_else(|| StoreError::NoSuchBucket(name.to_owned()))?;
        let r: BucketRecord = record::decode(v.value())?;
        Ok(BucketInfo {
            name: name.to_owned(),
            created: ns_to_time(r.created_ns),
        })
    }

    pub fn list_buckets(&self) -> StoreResult<Vec<BucketInfo>> {
        let txn = self.inner.db.begin_read().map_err(StoreError::db)?;
        let t = txn.open_table(BUCKETS).map_err(StoreError::db)?;
        let mut out = Vec::new();
        for e in t.iter().map_err(StoreError::db)? {
            let (k, v) = e.map_err(StoreError::db)?;
            let r: BucketRecord = record::decode(v.value())?;
            out.push(BucketInfo {
                name: k.value().to_owned(),
                created: ns_to_time(r.created_ns),
            });
        }
        Ok(out)
    }

    // ---- objects ----

    /// Streams a body into a temp file while computing MD5 and `algorithms`, then fdatasyncs it.
    /// Nothing is visible until the returned blob is committed; dropping it deletes it.
    pub async fn stage<S, E>(&self, body: S, algorithms: Vec<ChecksumAlgorithm>) -> StoreResult<StagedBlob>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        self.check_space()?;
        let opts = &self.inner.opts;
        blob::stage(
            &self.inner.layout,
            body,
            algorithms,
            opts.max_object_size,
            opts.min_free_bytes,
        )
        .await
        .map_err(StoreError::classify_io)
    }

    /// Refuses new data when the data filesystem is read-only or down to its reserve (a
    /// refusal always on a fresh `statvfs`; see `space::Gauge`).
    fn check_space(&self) -> StoreResult<()> {
        if let Some(why) = self.inner.committer.failure() {
            return Err(StoreError::Failed(why));
        }
        let gauge = &self.inner.layout.space;
        if gauge.read_only() {
            return Err(StoreError::ReadOnly(format!(
                "the filesystem of \"{}\" is mounted read-only",
                self.inner.layout.root.display()
            )));
        }
        let reserve = self.inner.opts.min_free_bytes;
        match gauge.room_for(0, reserve) {
            Ok(_) => Ok(()),
            Err(space) => Err(StoreError::InsufficientStorage {
                available: space.available,
                reserve,
            }),
        }
    }

    /// Why the store stopped writing, if a metadata commit failed (see `commit`); a restart
    /// recovers.
    pub fn failure(&self) -> Option<String> {
        self.inner.committer.failure()
    }

    /// Commits a staged blob as `bucket/key`. The response may be sent once this returns:
    /// the object is durable. The previous version's bytes are freed after the commit.
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        mut staged: StagedBlob,
        meta: ObjectMeta,
        tags: Vec<(String, String)>,
        cond: WriteCondition,
    ) -> StoreResult<ObjectInfo> {
        validate_key(key)?;
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.inner
            .committer
            .run(move |txn, eff| {
                require_bucket(txn, &bucket)?;
                let mut t = txn.open_table(OBJECTS).map_err(StoreError::db)?;
                let current = get_record::<_, ObjectRecord>(&t, (bucket.as_str(), key.as_str()))?;
                check_condition(&cond, current.as_ref())?;
                let d = staged.digests().clone();
                let rec = ObjectRecord {
                    size: d.size,
                    etag: d.md5_hex(),
                    modified_ns: now_ns(),
                    meta,
                    checksums: d.checksums,
                    part_checksums: None,
                    segments: vec![Segment {
                        blob: staged.id,
                        len: d.size,
                    }],
                    multipart: false,
                    tags,
                };
                t.insert((bucket.as_str(), key.as_str()), record::encode(&rec).as_slice())
                    .map_err(StoreError::db)?;
                let tmp = staged
                    .take_tmp()
                    .ok_or_else(|| StoreError::Internal("blob committed twice".into()))?;
                eff.renames.push((tmp, staged.id));
                if let Some(old) = current {
                    eff.freed.extend(old.segments.iter().map(|s| s.blob));
                }
                Ok(object_info(&key, rec))
            })
            .await
    }

    pub fn head_object(&self, bucket: &str, key: &str) -> StoreResult<ObjectInfo> {
        let txn = self.inner.db.begin_read().map_err(StoreError::db)?;
        read_require_bucket(&txn, bucket)?;
        let t = txn.open_table(OBJECTS).map_err(StoreError::db)?;
        let rec = get_record::<_, ObjectRecord>(&t, (bucket, key))?.ok_or(StoreError::NoSuchKey)?;
        Ok(object_info(key, rec))
    }

    /// Opens the current version of an object for streaming and pins its bytes.
    pub fn open_object(&self, bucket: &str, key: &str) -> StoreResult<ObjectReader> {
        // A commit may free the bytes between our metadata read and our pin; then the open
        // fails with NotFound and we read the metadata again, which now names the new version.
        let mut missing_before = None;
        for _ in 0..8 {
            let rec = {
                let txn = self.inner.db.begin_read().map_err(StoreError::db)?;
                read_require_bucket(&txn, bucket)?;
                let t = txn.open_table(OBJECTS).map_err(StoreError::db)?;
                get_record::<_, ObjectRecord>(&t, (bucket, key))?.ok_or(StoreError::NoSuchKey)?
            };
            let ids: Vec<BlobId> = rec.segments.iter().map(|s| s.blob).collect();
            self.inner.pins.pin(&ids);
            let mut pinned = PinnedSegments {
                layout: self.inner.layout.clone(),
                pins: self.inner.pins.clone(),
                segments: rec.segments.clone(),
                first: None,
            };
            if let Some(first) = rec.segments.first() {
                match std::fs::File::open(self.inner.layout.blob_path(first.blob)) {
                    Ok(f) => {
                        // A data file shorter or longer than its record is damage, not an object.
                        let len = f.metadata()?.len();
                        if len != first.len {
                            return Err(StoreError::Internal(format!(
                                "the data of {bucket}/{key} is damaged: its file is {len} bytes, its record says {}",
                                first.len
                            )));
                        }
                        pinned.first = Some(f);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        // Missing twice for the same record: not a concurrent overwrite but damage.
                        if missing_before == Some(first.blob) {
                            return Err(StoreError::Internal(format!(
                                "the data of {bucket}/{key} is damaged: its file is missing"
                            )));
                        }
                        missing_before = Some(first.blob);
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            return Ok(ObjectReader {
                info: object_info(key, rec),
                segments: pinned,
            });
        }
        Err(StoreError::Internal(
            "the object kept changing while it was being opened; retry".into(),
        ))
    }

    /// Deletes `bucket/key`. Deleting a missing key succeeds (S3 semantics) and returns `None`.
    pub async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        cond: WriteCondition,
    ) -> StoreResult<Option<ObjectInfo>> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.inner
            .committer
            .run(move |txn, eff| {
                require_bucket(txn, &bucket)?;
                let mut t = txn.open_table(OBJECTS).map_err(StoreError::db)?;
                let current = get_record::<_, ObjectRecord>(&t, (bucket.as_str(), key.as_str()))?;
                check_condition(&cond, current.as_ref())?;
                let Some(old) = current else { return Ok(None) };
                t.remove((bucket.as_str(), key.as_str())).map_err(StoreError::db)?;
                eff.freed.extend(old.segments.iter().map(|s| s.blob));
                Ok(Some(object_info(&key, old)))
            })
            .await
    }

    /// Deletes many keys in one transaction (one commit, one fsync), each under its own
    /// condition (`If-Match`, checked against the key's current record inside the transaction).
    /// Each key gets its own result, in the order given; deleting a missing key succeeds
    /// unless its condition needs it to exist. A key named twice sees the first deletion.
    pub async fn delete_objects(
        &self,
        bucket: &str,
        keys: Vec<(String, WriteCondition)>,
    ) -> StoreResult<Vec<(String, StoreResult<()>)>> {
        let bucket = bucket.to_owned();
        self.inner
            .committer
            .run(move |txn, eff| {
                require_bucket(txn, &bucket)?;
                let mut t = txn.open_table(OBJECTS).map_err(StoreError::db)?;
                let mut out = Vec::with_capacity(keys.len());
                for (key, cond) in keys {
                    let r = (|| {
                        validate_key(&key)?;
                        let current = get_record::<_, ObjectRecord>(&t, (bucket.as_str(), key.as_str()))?;
                        check_condition(&cond, current.as_ref())?;
                        if let Some(old) = current {
                            t.remove((bucket.as_str(), key.as_str())).map_err(StoreError::db)?;
                            eff.freed.extend(old.segments.iter().map(|s| s.blob));
                        }
                        Ok(())
                    })();
                    out.push((key, r));
                }
                Ok(out)
            })
            .await
    }

    /// Lists a page of the ordered key index. Cost is proportional to the page, not the bucket.
    pub fn list_objects(&self, bucket: &str, q: &ListQuery) -> StoreResult<ListPage> {
        let txn = self.inner.db.begin_read().map_err(StoreError::db)?;
        read_require_bucket(&txn, bucket)?;
        let t = txn.open_table(OBJECTS).map_err(StoreError::db)?;
        list::list(&t, bucket, q)
    }

    // ---- tagging ----

    /// Replaces an object's tags (`None` deletes them).
    pub async fn set_tags(&self, bucket: &str, key: &str, tags: Vec<(String, String)>) -> StoreResult<ObjectInfo> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.inner
            .committer
            .run(move |txn, _| {
                require_bucket(txn, &bucket)?;
                let mut t = txn.open_table(OBJECTS).map_err(StoreError::db)?;
                let mut rec =
                    get_record::<_, ObjectRecord>(&t, (bucket.as_str(), key.as_str()))?.ok_or(StoreError::NoSuchKey)?;
                rec.tags = tags;
                t.insert((bucket.as_str(), key.as_str()), record::encode(&rec).as_slice())
                    .map_err(StoreError::db)?;
                Ok(object_info(&key, rec))
            })
            .await
    }

    // ---- multipart ----

    pub async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        meta: ObjectMeta,
        tags: Vec<(String, String)>,
        checksum: Option<UploadChecksum>,
    ) -> StoreResult<UploadInfo> {
        validate_key(key)?;
        if let Some(c) = checksum
            && c.full_object
            && !c.algorithm.is_crc()
        {
            return Err(StoreError::InvalidRequest(format!(
                "The FULL_OBJECT checksum type cannot be used with {}: use CRC32, CRC32C or CRC64NVME, or the COMPOSITE type.",
                c.algorithm.as_str()
            )));
        }
        let bucket = bucket.to_owned();
        let initiated_ns = now_ns();
        // 32 hex digits: the initiation time, then 64 random bits. Ids of one key sort by
        // initiation time, which is S3's order of one key's uploads in ListMultipartUploads.
        let upload_id = format!("{initiated_ns:016x}{:016x}", rand::random::<u64>());
        let rec = UploadRecord {
            key: key.to_owned(),
            initiated_ns,
            meta,
            checksum,
            tags,
        };
        self.inner
            .committer
            .run(move |txn, _| {
                require_bucket(txn, &bucket)?;
                let mut t = txn.open_table(UPLOADS).map_err(StoreError::db)?;
                t.insert((bucket.as_str(), upload_id.as_str()), record::encode(&rec).as_slice())
                    .map_err(StoreError::db)?;
                txn.open_table(UPLOAD_KEYS)
                    .map_err(StoreError::db)?
                    .insert((bucket.as_str(), rec.key.as_str(), upload_id.as_str()), ())
                    .map_err(StoreError::db)?;
                Ok(upload_info(&upload_id, rec))
            })
            .await
    }

    /// The upload, checked to belong to `bucket/key`.
    pub fn get_upload(&self, bucket: &str, key: &str, upload_id: &str) -> StoreResult<UploadInfo> {
        let txn = self.inner.db.begin_read().map_err(StoreError::db)?;
        read_require_bucket(&txn, bucket)?;
        let t = txn.open_table(UPLOADS).map_err(StoreError::db)?;
        let rec = get_record::<_, UploadRecord>(&t, (bucket, upload_id))?
            .filter(|r| r.key == key)
            .ok_or(StoreError::NoSuchUpload)?;
        Ok(upload_info(upload_id, rec))
    }

    /// Commits a staged blob as part `part_number` of an upload, replacing any earlier part of
    /// that number. The part always carries a checksum of the upload's algorithm (computed here
    /// if the caller did not stage it), so Complete can form the object's checksum.
    pub async fn put_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        mut staged: StagedBlob,
    ) -> StoreResult<PartInfo> {
        if part_number == 0 || part_number > self.inner.opts.max_parts {
            return Err(StoreError::InvalidArgument(format!(
                "part numbers must be 1 to {}; got {part_number}",
                self.inner.opts.max_parts
            )));
        }
        if let Some(c) = self.get_upload(bucket, key, upload_id)?.checksum {
            staged.ensure_checksum(c.algorithm).await?;
        }
        let (bucket, key, upload_id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        self.inner
            .committer
            .run(move |txn, eff| {
                let upload = require_upload(txn, &bucket, &key, &upload_id)?;
                if let Some(c) = upload.checksum
                    && staged.digests().checksums.get(c.algorithm).is_none()
                {
                    return Err(StoreError::Internal(format!(
                        "part {part_number} was staged without the upload's {} checksum",
                        c.algorithm.as_str()
                    )));
                }
                let mut parts = txn.open_table(PARTS).map_err(StoreError::db)?;
                let old = get_record::<_, PartRecord>(&parts, (upload_id.as_str(), part_number))?;
                let d = staged.digests().clone();
                let rec = PartRecord {
                    size: d.size,
                    etag: d.md5_hex(),
                    modified_ns: now_ns(),
                    checksums: d.checksums,
                    blob: staged.id,
                };
                parts
                    .insert((upload_id.as_str(), part_number), record::encode(&rec).as_slice())
                    .map_err(StoreError::db)?;
                let tmp = staged
                    .take_tmp()
                    .ok_or_else(|| StoreError::Internal("blob committed twice".into()))?;
                eff.renames.push((tmp, staged.id));
                if let Some(old) = old {
                    eff.freed.push(old.blob);
                }
                Ok(part_info(part_number, &rec))
            })
            .await
    }

    pub fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        marker: u32,
        max_parts: usize,
    ) -> StoreResult<ListPartsPage> {
        let upload = self.get_upload(bucket, key, upload_id)?;
        let txn = self.inner.db.begin_read().map_err(StoreError::db)?;
        let t = txn.open_table(PARTS).map_err(StoreError::db)?;
        let mut page = ListPartsPage {
            upload: Some(upload),
            ..Default::default()
        };
        let lo = marker.saturating_add(1);
        for e in t
            .range((upload_id, lo)..=(upload_id, u32::MAX))
            .map_err(StoreError::db)?
        {
            let (k, v) = e.map_err(StoreError::db)?;
            if page.parts.len() >= max_parts {
                page.is_truncated = true;
                break;
            }
            let r: PartRecord = record::decode(v.value())?;
            page.parts.push(part_info(k.value().1, &r));
        }
        if page.is_truncated {
            page.next_part_number_marker = page.parts.last().map(|p| p.part_number);
        }
        Ok(page)
    }

    /// Lists a page of in-progress uploads over the ordered `(bucket, key, upload id)` index.
    /// Cost is proportional to the page, not to the uploads in the bucket.
    pub fn list_uploads(&self, bucket: &str, q: &ListUploadsQuery) -> StoreResult<ListUploadsPage> {
        let txn = self.inner.db.begin_read().map_err(StoreError::db)?;
        read_require_bucket(&txn, bucket)?;
        let index = txn.open_table(UPLOAD_KEYS).map_err(StoreError::db)?;
        let uploads = txn.open_table(UPLOADS).map_err(StoreError::db)?;
        list::list_uploads(&index, &uploads, bucket, q)
    }

    pub async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> StoreResult<()> {
        let (bucket, key, upload_id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        self.inner
            .committer
            .run(move |txn, eff| {
                require_upload(txn, &bucket, &key, &upload_id)?;
                let mut parts = txn.open_table(PARTS).map_err(StoreError::db)?;
                let freed = collect_parts(&parts, &upload_id)?;
                for (n, r) in &freed {
                    parts.remove((upload_id.as_str(), *n)).map_err(StoreError::db)?;
                    eff.freed.push(r.blob);
                }
                remove_upload(txn, &bucket, &key, &upload_id)?;
                Ok(())
            })
            .await
    }

    /// Completes an upload: a metadata-only operation. The object's segments ARE the part blobs,
    /// moved from the part records to the object record; no byte is copied. The object's
    /// checksum is formed from the parts' (COMPOSITE or FULL_OBJECT, as the upload was
    /// created); `claims` about the whole object are checked against the listed parts first.
    pub async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        listed: Vec<CompletePart>,
        claims: ObjectClaims,
        cond: WriteCondition,
    ) -> StoreResult<ObjectInfo> {
        if listed.is_empty() {
            return Err(StoreError::InvalidArgument(
                "CompleteMultipartUpload must list at least one part".into(),
            ));
        }
        if listed.windows(2).any(|w| w[0].part_number >= w[1].part_number) {
            return Err(StoreError::InvalidPartOrder);
        }
        let min_part = self.inner.opts.min_part_size;
        let (bucket, key, upload_id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        self.inner
            .committer
            .run(move |txn, eff| {
                let upload = require_upload(txn, &bucket, &key, &upload_id)?;
                let mut parts = txn.open_table(PARTS).map_err(StoreError::db)?;
                let stored = collect_parts(&parts, &upload_id)?;
                let by_number: std::collections::HashMap<u32, &PartRecord> =
                    stored.iter().map(|(n, r)| (*n, r)).collect();
                let mut chosen: Vec<(u32, &PartRecord)> = Vec::with_capacity(listed.len());
                for (i, p) in listed.iter().enumerate() {
                    let Some(r) = by_number.get(&p.part_number) else {
                        return Err(StoreError::InvalidPart {
                            part_number: p.part_number,
                            reason: "it was never uploaded, or was uploaded to another upload".into(),
                        });
                    };
                    if strip_quotes(&p.etag) != r.etag {
                        return Err(StoreError::InvalidPart {
                            part_number: p.part_number,
                            reason: format!("the ETag {} does not match the uploaded part's \"{}\"", p.etag, r.etag),
                        });
                    }
                    for a in p.checksums.algorithms() {
                        if r.checksums.get(a) != p.checksums.get(a) {
                            return Err(StoreError::InvalidPart {
                                part_number: p.part_number,
                                reason: format!("the {} checksum does not match the uploaded part's", a.as_str()),
                            });
                        }
                    }
                    if i + 1 < listed.len() && r.size < min_part {
                        return Err(StoreError::EntityTooSmall {
                            part_number: p.part_number,
                            size: r.size,
                            min: min_part,
                        });
                    }
                    chosen.push((p.part_number, r));
                }
                let size: u64 = chosen.iter().map(|(_, r)| r.size).sum();
                if let Some(claimed) = claims.size
                    && claimed != size
                {
                    return Err(StoreError::InvalidRequest(format!(
                        "x-amz-mp-object-size is {claimed}, but the listed parts add up to {size} bytes; list the parts you uploaded."
                    )));
                }
                let checksums = multipart_checksums(upload.checksum, &chosen, claims.checksum.as_ref())?;
                let mut objects = txn.open_table(OBJECTS).map_err(StoreError::db)?;
                let current = get_record::<_, ObjectRecord>(&objects, (bucket.as_str(), key.as_str()))?;
                check_condition(&cond, current.as_ref())?;
                // All checks passed: from here on, only writes.
                let etags: Vec<&str> = chosen.iter().map(|(_, r)| r.etag.as_str()).collect();
                let part_checksums = checksums.algorithms().next().map(|a| {
                    chosen
                        .iter()
                        .map(|(_, r)| {
                            let mut c = Checksums::default();
                            c.set(a, r.checksums.get(a).map(str::to_owned));
                            c
                        })
                        .collect()
                });
                let rec = ObjectRecord {
                    size,
                    etag: digest::multipart_etag(&etags),
                    modified_ns: now_ns(),
                    meta: upload.meta,
                    checksums,
                    part_checksums,
                    segments: chosen
                        .iter()
                        .map(|(_, r)| Segment {
                            blob: r.blob,
                            len: r.size,
                        })
                        .collect(),
                    multipart: true,
                    tags: upload.tags,
                };
                let used: HashSet<u32> = listed.iter().map(|p| p.part_number).collect();
                for (n, r) in &stored {
                    parts.remove((upload_id.as_str(), *n)).map_err(StoreError::db)?;
                    if !used.contains(n) {
                        eff.freed.push(r.blob);
                    }
                }
                remove_upload(txn, &bucket, &key, &upload_id)?;
                objects
                    .insert((bucket.as_str(), key.as_str()), record::encode(&rec).as_slice())
                    .map_err(StoreError::db)?;
                if let Some(old) = current {
                    eff.freed.extend(old.segments.iter().map(|s| s.blob));
                }
                Ok(object_info(&key, rec))
            })
            .await
    }
}

/// The checksum of a multipart object, from its parts' (numbered, in order): the upload's
/// COMPOSITE or FULL_OBJECT checksum, or — for an upload created without one — a FULL_OBJECT
/// CRC the Complete request claims, once verified. A claimed value must match what the parts
/// give (`BadDigest`), and must be of the upload's kind (`InvalidRequest`).
fn multipart_checksums(
    upload: Option<UploadChecksum>,
    parts: &[(u32, &PartRecord)],
    claimed: Option<&(ChecksumAlgorithm, String)>,
) -> StoreResult<Checksums> {
    // (algorithm, value, whether the value is COMPOSITE)
    let claim = claimed.map(|(a, v)| (*a, v.trim(), v.contains('-')));
    let kind = match (upload, claim) {
        (u, None) => u,
        (Some(u), Some((a, _, composite))) => {
            if a != u.algorithm || composite == u.full_object {
                return Err(StoreError::InvalidRequest(if u.full_object {
                    format!(
                        "The upload forms a FULL_OBJECT {} checksum; claim it as the CRC of the whole object \
                         (without a -<part count> suffix), or claim none.",
                        u.algorithm.as_str()
                    )
                } else {
                    format!(
                        "The upload forms a COMPOSITE {} checksum; claim it as <base64>-<part count>, or claim none.",
                        u.algorithm.as_str()
                    )
                }));
            }
            Some(u)
        }
        (None, Some((a, _, true))) => {
            return Err(StoreError::InvalidRequest(format!(
                "The upload was created without a checksum algorithm, so it has no COMPOSITE {} checksum to claim.",
                a.as_str()
            )));
        }
        (None, Some((a, _, false))) if !a.is_crc() => {
            return Err(StoreError::InvalidRequest(format!(
                "A full-object checksum can only be a CRC (CRC32, CRC32C, CRC64NVME), not {}.",
                a.as_str()
            )));
        }
        (None, Some((a, _, false))) => {
            if let Some((n, _)) = parts.iter().find(|(_, r)| r.checksums.get(a).is_none()) {
                return Err(StoreError::InvalidRequest(format!(
                    "Part {n} was uploaded without an x-amz-checksum-{} value, so the full-object checksum cannot be \
                     verified; upload every part with its checksum.",
                    a.as_str().to_ascii_lowercase()
                )));
            }
            Some(UploadChecksum {
                algorithm: a,
                full_object: true,
            })
        }
    };
    let mut out = Checksums::default();
    let Some(kind) = kind else { return Ok(out) };
    let a = kind.algorithm;
    let value = if kind.full_object {
        let sized: Vec<(&Checksums, u64)> = parts.iter().map(|(_, r)| (&r.checksums, r.size)).collect();
        digest::full_object_checksum(a, &sized)
    } else {
        let per_part: Vec<&Checksums> = parts.iter().map(|(_, r)| &r.checksums).collect();
        digest::composite_checksum(a, &per_part)
    }
    .ok_or_else(|| StoreError::Internal(format!("a part of the upload holds no valid {} checksum", a.as_str())))?;
    if let Some((_, claimed, _)) = claim
        && claimed != value
    {
        return Err(StoreError::BadDigest {
            what: format!("x-amz-checksum-{}", a.as_str().to_ascii_lowercase()),
            claimed: claimed.to_owned(),
            computed: value,
        });
    }
    out.set(a, Some(value));
    if !kind.full_object {
        out.composite_parts = Some(parts.len() as u32);
    }
    Ok(out)
}

fn get_record<'a, K: redb::Key + 'static, T: serde::de::DeserializeOwned>(
    t: &impl redb::ReadableTable<K, &'static [u8]>,
    k: impl std::borrow::Borrow<K::SelfType<'a>>,
) -> StoreResult<Option<T>> {
    match t.get(k).map_err(StoreError::db)? {
        Some(v) => Ok(Some(record::decode(v.value())?)),
        None => Ok(None),
    }
}

fn collect_parts(
    t: &impl redb::ReadableTable<(&'static str, u32), &'static [u8]>,
    upload_id: &str,
) -> StoreResult<Vec<(u32, PartRecord)>> {
    let mut out = Vec::new();
    for e in t
        .range((upload_id, 0u32)..=(upload_id, u32::MAX))
        .map_err(StoreError::db)?
    {
        let (k, v) = e.map_err(StoreError::db)?;
        out.push((k.value().1, record::decode(v.value())?));
    }
    Ok(out)
}

fn require_bucket(txn: &redb::WriteTransaction, bucket: &str) -> StoreResult<()> {
    let t = txn.open_table(BUCKETS).map_err(StoreError::db)?;
    if t.get(bucket).map_err(StoreError::db)?.is_none() {
        return Err(StoreError::NoSuchBucket(bucket.to_owned()));
    }
    Ok(())
}

fn read_require_bucket(txn: &redb::ReadTransaction, bucket: &str) -> StoreResult<()> {
    let t = txn.open_table(BUCKETS).map_err(StoreError::db)?;
    if t.get(bucket).map_err(StoreError::db)?.is_none() {
        return Err(StoreError::NoSuchBucket(bucket.to_owned()));
    }
    Ok(())
}

fn require_upload(txn: &redb::WriteTransaction, bucket: &str, key: &str, upload_id: &str) -> StoreResult<UploadRecord> {
    require_bucket(txn, bucket)?;
    let t = txn.open_table(UPLOADS).map_err(StoreError::db)?;
    get_record::<_, UploadRecord>(&t, (bucket, upload_id))?
        .filter(|r| r.key == key)
        .ok_or(StoreError::NoSuchUpload)
}

/// Removes an upload's record and its index entry (its parts are the caller's).
fn remove_upload(txn: &redb::WriteTransaction, bucket: &str, key: &str, upload_id: &str) -> StoreResult<()> {
    txn.open_table(UPLOADS)
        .map_err(StoreError::db)?
        .remove((bucket, upload_id))
        .map_err(StoreError::db)?;
    txn.open_table(UPLOAD_KEYS)
        .map_err(StoreError::db)?
        .remove((bucket, key, upload_id))
        .map_err(StoreError::db)?;
    Ok(())
}

/// Start-up recovery: remove temp files, then every blob no record references.
fn recover(db: &Database, layout: &Layout) -> StoreResult<Recovery> {
    let mut rec = Recovery::default();
    for e in std::fs::read_dir(layout.tmp_dir())? {
        std::fs::remove_file(e?.path())?;
        rec.temp_files_removed += 1;
    }
    // Every blob a record names, with the length it must have.
    let mut live: HashMap<BlobId, u64> = HashMap::new();
    let txn = db.begin_read().map_err(StoreError::db)?;
    for e in txn
        .open_table(OBJECTS)
        .map_err(StoreError::db)?
        .iter()
        .map_err(StoreError::db)?
    {
        let (_, v) = e.map_err(StoreError::db)?;
        let r: ObjectRecord = record::decode(v.value())?;
        live.extend(r.segments.iter().map(|s| (s.blob, s.len)));
        rec.objects += 1;
    }
    for e in txn
        .open_table(PARTS)
        .map_err(StoreError::db)?
        .iter()
        .map_err(StoreError::db)?
    {
        let (_, v) = e.map_err(StoreError::db)?;
        let r: PartRecord = record::decode(v.value())?;
        live.insert(r.blob, r.size);
    }
    // The 256 shard directories are scanned by one thread per core (at 1M blobs the scan is
    // mostly the kernel's per-name lookup for the size check, which runs in parallel).
    let shards: Vec<PathBuf> = std::fs::read_dir(layout.blobs_dir())?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let scans: Vec<StoreResult<ShardScan>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = ShardScan::default();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(shard) = shards.get(i) else {
                            return Ok(out);
                        };
                        scan_shard(shard, &live, &mut out)?;
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(StoreError::Internal("a start-up scan thread panicked".into())))
            })
            .collect()
    });
    let mut dirs = Vec::new();
    let mut seen_ids: Vec<Vec<BlobId>> = Vec::new();
    let mut wrong_size: Vec<BlobId> = Vec::new();
    for scan in scans {
        let scan = scan?;
        rec.orphan_blobs_removed += scan.orphans_removed;
        dirs.extend(scan.dirs);
        seen_ids.push(scan.seen);
        wrong_size.extend(scan.wrong_size);
    }
    for d in dirs {
        blob::sync_dir(&d)?;
    }
    blob::sync_dir(&layout.tmp_dir())?;
    // A blob id lives in exactly one shard directory, so the names found are all distinct.
    let found: usize = seen_ids.iter().map(Vec::len).sum();
    let seen: HashSet<BlobId> = if found == live.len() {
        HashSet::new()
    } else {
        seen_ids.into_iter().flatten().collect()
    };
    let missing: Vec<BlobId> = if found == live.len() {
        Vec::new()
    } else {
        live.keys().filter(|id| !seen.contains(id)).copied().collect()
    };
    if !missing.is_empty() || !wrong_size.is_empty() {
        let damaged: HashSet<BlobId> = missing.iter().chain(&wrong_size).copied().collect();
        let mut keys = Vec::new();
        for e in txn
            .open_table(OBJECTS)
            .map_err(StoreError::db)?
            .iter()
            .map_err(StoreError::db)?
        {
            let (k, v) = e.map_err(StoreError::db)?;
            let r: ObjectRecord = record::decode(v.value())?;
            if r.segments.iter().any(|s| damaged.contains(&s.blob)) {
                let (b, key) = k.value();
                keys.push(format!("{b}/{key}"));
                if keys.len() == 5 {
                    break;
                }
            }
        }
        rec.damaged = Some(format!(
            "{} data files that the metadata names are missing and {} have the wrong size (objects affected include: {}).",
            missing.len(),
            wrong_size.len(),
            if keys.is_empty() {
                "only multipart parts in progress".to_owned()
            } else {
                keys.join(", ")
            }
        ));
    }
    Ok(rec)
}

/// What one start-up scan thread found in the shard directories it took.
#[derive(Default)]
struct ShardScan {
    seen: Vec<BlobId>,
    wrong_size: Vec<BlobId>,
    orphans_removed: usize,
    /// Directories an orphan was removed from (fsynced after the scan).
    dirs: Vec<PathBuf>,
}

/// Checks one `blobs/<xx>/` directory against the live blobs: a referenced blob must have its
/// record's length; a blob no record names is removed.
fn scan_shard(shard: &Path, live: &HashMap<BlobId, u64>, out: &mut ShardScan) -> StoreResult<()> {
    let shard_byte = shard
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| u8::from_str_radix(n, 16).ok());
    let mut removed = false;
    for e in std::fs::read_dir(shard)? {
        let e = e?;
        let id = e.file_name().to_str().and_then(|n| u128::from_str_radix(n, 16).ok());
        // A live blob under another shard's directory is not where reads look for it: it is
        // neither counted as present nor removed.
        if let Some(id) = id
            && live.contains_key(&id)
            && shard_byte != Some((id >> 120) as u8)
        {
            continue;
        }
        match id.and_then(|id| live.get(&id).map(|len| (id, *len))) {
            Some((id, len)) => {
                out.seen.push(id);
                if e.metadata()?.len() != len {
                    out.wrong_size.push(id);
                }
            }
            None => {
                std::fs::remove_file(e.path())?;
                out.orphans_removed += 1;
                removed = true;
            }
        }
    }
    if removed {
        out.dirs.push(shard.to_path_buf());
    }
    Ok(())
}
