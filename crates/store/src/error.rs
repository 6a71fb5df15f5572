//! The engine's one error type. The protocol edge maps each variant to exactly one S3 error code.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the bucket {0:?} does not exist")]
    NoSuchBucket(String),
    #[error("the bucket {0:?} already exists and is yours")]
    BucketAlreadyOwnedByYou(String),
    #[error("the bucket {0:?} is not empty: delete its objects and abort its multipart uploads first")]
    BucketNotEmpty(String),
    #[error("the bucket name {0:?} is invalid: {1}")]
    InvalidBucketName(String, &'static str),
    #[error("the key does not exist")]
    NoSuchKey,
    #[error("the multipart upload does not exist: it was completed, aborted, or never created")]
    NoSuchUpload,
    #[error("part {part_number}: {reason}")]
    InvalidPart { part_number: u32, reason: String },
    #[error("the parts must be listed in ascending order of part number, each once")]
    InvalidPartOrder,
    #[error("part {part_number} is {size} bytes; every part but the last must be at least {min} bytes")]
    EntityTooSmall { part_number: u32, size: u64, min: u64 },
    #[error("the body is larger than the limit of {limit} bytes")]
    EntityTooLarge { limit: u64 },
    #[error("at least one of the preconditions you specified did not hold")]
    PreconditionFailed,
    #[error("{what} was {claimed} but the body we received hashes to {computed}")]
    BadDigest {
        what: String,
        claimed: String,
        computed: String,
    },
    #[error("{0}")]
    InvalidDigest(String),
    #[error("{0}")]
    InvalidArgument(String),
    /// A request that contradicts itself or the state it names (S3 `InvalidRequest`).
    #[error("{0}")]
    InvalidRequest(String),
    #[error("the request body ended early or could not be read: {0}")]
    IncompleteBody(String),
    #[error("the data filesystem has {available} bytes free and {reserve} are kept free for metadata")]
    InsufficientStorage { available: u64, reserve: u64 },
    #[error("the data directory is not writable: {0}")]
    ReadOnly(String),
    /// The start-up check refused the store.
    #[error("{0}")]
    Damaged(String),
    /// A metadata commit failed: the database is not written to again by this process.
    #[error("the store stopped writing after a failed metadata commit: {0}")]
    Failed(String),
    #[error("storage I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("metadata database error: {0}")]
    Db(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl StoreError {
    pub(crate) fn db(e: impl std::fmt::Display) -> Self {
        StoreError::Db(e.to_string())
    }

    /// An I/O error that says the disk is full or not writable becomes that error.
    pub(crate) fn classify_io(self) -> Self {
        match self {
            StoreError::Io(e) => match e.kind() {
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                    StoreError::InsufficientStorage {
                        available: 0,
                        reserve: 0,
                    }
                }
                std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied => {
                    StoreError::ReadOnly(e.to_string())
                }
                _ => StoreError::Io(e),
            },
            other => other,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
