//! The engine's vocabulary: what callers hand in and get back. Plain data, no I/O.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::digest::{ChecksumAlgorithm, Checksums};

/// System metadata and user metadata stored with an object, returned verbatim on GET/HEAD.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    /// The `Expires` header exactly as the client sent it.
    pub expires: Option<String>,
    /// `x-amz-meta-*` headers, names lower-cased, without the prefix.
    pub user: BTreeMap<String, String>,
}

/// A committed object as the metadata database describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    /// Without quotes: 32 hex digits, or 32 hex digits + `-N` for a multipart object.
    pub etag: String,
    pub last_modified: SystemTime,
    pub meta: ObjectMeta,
    /// Full-object checksums (for multipart objects: composite, see [`Checksums::composite_parts`]).
    pub checksums: Checksums,
    /// For a multipart object: the size of each part, in order (used by `partNumber=` reads).
    pub part_sizes: Option<Vec<u64>>,
    /// For a multipart object with a checksum: each part's checksum in the object's algorithm,
    /// in order (returned by `partNumber=` reads of COMPOSITE objects).
    pub part_checksums: Option<Vec<Checksums>>,
    pub tags: Vec<(String, String)>,
}

impl ObjectInfo {
    /// The byte range `[start, end)` of part `n` (1-based), if the object has such a part.
    /// A non-multipart object has exactly one part: the whole object.
    pub fn part_range(&self, n: u32) -> Option<(u64, u64)> {
        match &self.part_sizes {
            None => (n == 1).then_some((0, self.size)),
            Some(sizes) => {
                let idx = usize::try_from(n).ok()?.checked_sub(1)?;
                let start: u64 = sizes.get(..idx)?.iter().sum();
                Some((start, start + sizes.get(idx)?))
            }
        }
    }

    /// The stored checksums of part `n` (1-based) of a multipart object, if it has them.
    pub fn part_checksums(&self, n: u32) -> Option<&Checksums> {
        let idx = usize::try_from(n).ok()?.checked_sub(1)?;
        self.part_checksums.as_ref()?.get(idx)
    }

    /// Number of parts (1 for a non-multipart object).
    pub fn parts_count(&self) -> u32 {
        self.part_sizes.as_ref().map_or(1, |p| p.len() as u32)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketInfo {
    pub name: String,
    pub created: SystemTime,
}

/// Conditions checked atomically with a write, inside the commit transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteCondition {
    /// `If-Match`: the current object must exist and have this ETag (quotes optional; `*` = exists).
    pub if_match: Option<String>,
    /// `If-None-Match: *`: the key must not exist.
    pub if_none_match_star: bool,
}

/// A listing request over the ordered key index.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub prefix: String,
    /// `None` (or an empty string, which callers should map to `None`) means no grouping.
    pub delimiter: Option<String>,
    /// Return keys strictly greater than this (V1 marker, V2 start-after / continuation token).
    pub start_after: Option<String>,
    /// 0..=1000; 0 returns an empty, non-truncated page.
    pub max_keys: usize,
}

#[derive(Debug, Clone, Default)]
pub struct ListPage {
    pub objects: Vec<ObjectInfo>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// The last key or common prefix returned; continue with `start_after = next_marker`.
    pub next_marker: Option<String>,
}

/// The checksum a multipart upload forms for its object, as named at CreateMultipartUpload.
/// Every part gets a checksum of `algorithm` (computed by the store if the client sent none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadChecksum {
    pub algorithm: ChecksumAlgorithm,
    /// `true`: FULL_OBJECT, the CRC of the whole object, combined from the parts' CRCs
    /// (`algorithm` must be a CRC). `false`: COMPOSITE, `algorithm` over the parts' raw
    /// checksums, `<base64>-<parts>`.
    pub full_object: bool,
}

/// An in-progress multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadInfo {
    pub upload_id: String,
    pub key: String,
    pub initiated: SystemTime,
    pub meta: ObjectMeta,
    /// The checksum named at CreateMultipartUpload, if any.
    pub checksum: Option<UploadChecksum>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    pub part_number: u32,
    pub size: u64,
    /// Without quotes.
    pub etag: String,
    pub last_modified: SystemTime,
    pub checksums: Checksums,
}

/// One part named in CompleteMultipartUpload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletePart {
    pub part_number: u32,
    /// As the client sent it; quotes are ignored.
    pub etag: String,
    /// Checksums the client claims for the part; each one given must match the stored part.
    pub checksums: Checksums,
}

/// What a CompleteMultipartUpload request claims about the whole object. Each claim given is
/// checked against the listed parts inside the commit transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectClaims {
    /// `x-amz-mp-object-size`: the sum of the listed parts' sizes.
    pub size: Option<u64>,
    /// The object's checksum: a FULL_OBJECT CRC, or a COMPOSITE value `<base64>-<parts>`.
    pub checksum: Option<(ChecksumAlgorithm, String)>,
}

/// A ListMultipartUploads request over the ordered `(bucket, key, upload id)` index. Uploads
/// come in key order, and for one key in initiation order (upload ids sort that way).
#[derive(Debug, Clone, Default)]
pub struct ListUploadsQuery {
    pub prefix: String,
    /// `None` (or an empty string, which callers should map to `None`) means no grouping.
    pub delimiter: Option<String>,
    /// Start after this key: its uploads too, unless `upload_id_marker` is given.
    pub key_marker: Option<String>,
    /// With `key_marker`: start after this upload of that key. Ignored without `key_marker`.
    pub upload_id_marker: Option<String>,
    /// Uploads plus common prefixes per page; 0 returns an empty page.
    pub max_uploads: usize,
}

#[derive(Debug, Clone, Default)]
pub struct ListUploadsPage {
    pub uploads: Vec<UploadInfo>,
    /// The groups of keys that `delimiter` formed, in order.
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// When truncated: the last key (or common prefix) returned; continue with `key_marker`.
    pub next_key_marker: Option<String>,
    /// When truncated after an upload: its id; continue with `upload_id_marker`.
    pub next_upload_id_marker: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ListPartsPage {
    pub upload: Option<UploadInfo>,
    pub parts: Vec<PartInfo>,
    pub is_truncated: bool,
    pub next_part_number_marker: Option<u32>,
}

/// Limits the engine enforces; every size a client controls has one.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Largest single PUT or part, in bytes (S3: 5 GiB).
    pub max_object_size: u64,
    /// Smallest size of every part but the last at Complete (S3: 5 MiB).
    pub min_part_size: u64,
    /// Largest part number (S3: 10000).
    pub max_parts: u32,
    /// Free space kept on the data filesystem: new data is refused (`InsufficientStorage`) before
    /// it would eat into this, so metadata commits (and deletes, which free space) always fit.
    pub min_free_bytes: u64,
    /// Bytes of metadata pages the database keeps in its own cache (redb's default is 1 GiB,
    /// which a 1M-object store fills at start-up, when recovery reads every record). Pages
    /// outside it are read again from the OS page cache.
    pub metadata_cache_bytes: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_object_size: 5 << 30,
            min_part_size: 5 << 20,
            max_parts: 10_000,
            min_free_bytes: 64 << 20,
            metadata_cache_bytes: 64 << 20,
        }
    }
}
