//! On-disk metadata records. Every value starts with a one-byte record version, followed by
//! the postcard encoding of the struct of that version, so the format can evolve (see
//! [`decode`]). Records never hold a path: blobs are named by [`BlobId`].
//!
//! Nothing has been released yet, so the version-1 structs below may still change in place
//! (postcard is not self-describing: a changed struct cannot read old bytes). From the first
//! release on, a change to a record means a new record version byte, with `decode` reading the
//! old version and converting it; the version byte scheme stays as it is.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::digest::Checksums;
use crate::error::{StoreError, StoreResult};
use crate::types::{ObjectMeta, UploadChecksum};

/// The version of the whole on-disk layout, stored in the `meta` table under `format`.
/// Opening a store with another version fails with a message, never a guess.
pub const FORMAT_VERSION: u64 = 1;

/// The record encoding version written today.
const RECORD_V1: u8 = 1;

/// A blob file's name: 128 random bits, printed as 32 hex digits.
pub type BlobId = u128;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Segment {
    pub blob: BlobId,
    pub len: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BucketRecord {
    pub created_ns: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectRecord {
    pub size: u64,
    pub etag: String,
    pub modified_ns: u64,
    pub meta: ObjectMeta,
    pub checksums: Checksums,
    /// For a multipart object with a checksum: each part's checksum in the object's algorithm,
    /// in order (returned by `partNumber=` reads).
    pub part_checksums: Option<Vec<Checksums>>,
    /// The object's bytes, in order. One segment for a PUT, one per part for a multipart object.
    pub segments: Vec<Segment>,
    pub multipart: bool,
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadRecord {
    pub key: String,
    pub initiated_ns: u64,
    pub meta: ObjectMeta,
    pub checksum: Option<UploadChecksum>,
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartRecord {
    pub size: u64,
    pub etag: String,
    pub modified_ns: u64,
    pub checksums: Checksums,
    pub blob: BlobId,
}

pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = vec![RECORD_V1];
    // Serializing plain structs into a Vec cannot fail.
    out.extend(postcard::to_stdvec(v).expect("postcard encodes plain data"));
    out
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> StoreResult<T> {
    match bytes.split_first() {
        Some((&RECORD_V1, rest)) => {
            postcard::from_bytes(rest).map_err(|e| StoreError::Db(format!("corrupt record: {e}")))
        }
        Some((v, _)) => Err(StoreError::Db(format!(
            "record version {v} is newer than this keyless understands"
        ))),
        None => Err(StoreError::Db("empty record".into())),
    }
}
