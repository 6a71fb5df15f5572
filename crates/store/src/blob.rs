//! Blob files: the object bytes, named by a random id, never by the key.
//!
//! Layout under the data directory:
//! - `tmp/<id>`: a blob being written. Never referenced by metadata; swept at start-up.
//! - `blobs/<first two hex digits>/<id>`: a blob that metadata may reference.
//!
//! Readers pin the blobs they stream ([`Pins`]); a blob freed by a commit while pinned is
//! unlinked only when its last reader finishes, so a GET keeps reading the version it started with.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Write as _};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt as _};

use crate::digest::{ChecksumAlgorithm, Digests, Hasher};
use crate::error::{StoreError, StoreResult};
use crate::record::{BlobId, Segment};

/// Bytes handed to the disk in one blocking call while staging, and read per chunk on GET.
const CHUNK: usize = 1 << 20;

#[derive(Debug)]
pub(crate) struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }
    pub fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs")
    }
    pub fn tmp_path(&self, id: BlobId) -> PathBuf {
        self.tmp_dir().join(format!("{id:032x}"))
    }
    pub fn shard_dir(&self, id: BlobId) -> PathBuf {
        self.blobs_dir().join(format!("{:02x}", (id >> 120) as u8))
    }
    pub fn blob_path(&self, id: BlobId) -> PathBuf {
        self.shard_dir(id).join(format!("{id:032x}"))
    }
}

pub(crate) fn new_blob_id() -> BlobId {
    rand::random::<u128>()
}

/// fsync a directory, so that the renames and unlinks inside it are durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A blob written to `tmp/` and fsynced, with its digests, not yet visible to anyone.
/// Dropping it without committing deletes the temp file.
#[derive(Debug)]
pub struct StagedBlob {
    pub(crate) id: BlobId,
    pub(crate) tmp: Option<PathBuf>,
    digests: Digests,
}

impl StagedBlob {
    pub fn digests(&self) -> &Digests {
        &self.digests
    }
    pub fn size(&self) -> u64 {
        self.digests.size
    }
    /// Makes sure the digests hold checksum `a`, reading the staged file back to compute it if
    /// the caller did not ask for it while staging. (A multipart upload's own algorithm must be
    /// known for every part, whatever the client sent.)
    pub(crate) async fn ensure_checksum(&mut self, a: ChecksumAlgorithm) -> StoreResult<()> {
        if self.digests.checksums.get(a).is_some() {
            return Ok(());
        }
        let path = self
            .tmp
            .clone()
            .ok_or_else(|| StoreError::Internal("the staged blob was already committed".into()))?;
        let value = tokio::task::spawn_blocking(move || -> io::Result<Option<String>> {
            let file = File::open(path)?;
            let mut hasher = Hasher::new([a]);
            let mut buf = vec![0u8; CHUNK];
            let mut off = 0u64;
            loop {
                let n = file.read_at(&mut buf, off)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                off += n as u64;
            }
            Ok(hasher.finish().checksums.get(a).map(str::to_owned))
        })
        .await
        .map_err(|e| StoreError::Internal(e.to_string()))??;
        self.digests.checksums.set(a, value);
        Ok(())
    }

    /// Hands the temp file to the committer, which renames it into `blobs/`.
    pub(crate) fn take_tmp(&mut self) -> Option<PathBuf> {
        self.tmp.take()
    }
}

impl Drop for StagedBlob {
    fn drop(&mut self) {
        if let Some(p) = self.tmp.take() {
            let _ = fs::remove_file(p);
        }
    }
}

/// Streams `body` into a new temp file while hashing, then fdatasyncs it.
pub(crate) async fn stage<S, E>(
    layout: &Layout,
    mut body: S,
    algorithms: Vec<ChecksumAlgorithm>,
    max_len: u64,
    min_free: u64,
) -> StoreResult<StagedBlob>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
    E: std::fmt::Display,
{
    let id = new_blob_id();
    let path = layout.tmp_path(id);
    let file = File::create(&path)?;
    // From here on, the guard removes the temp file on every early return.
    let mut staged = StagedBlob {
        id,
        tmp: Some(path),
        digests: Hasher::new([]).finish(),
    };
    let mut state = Some((file, Hasher::new(algorithms)));
    let mut buf = BytesMut::with_capacity(CHUNK);
    let mut total: u64 = 0;
    loop {
        let next = body.next().await;
        let done = next.is_none();
        if let Some(chunk) = next {
            let chunk = chunk.map_err(|e| StoreError::IncompleteBody(e.to_string()))?;
            total += chunk.len() as u64;
            if total > max_len {
                return Err(StoreError::EntityTooLarge { limit: max_len });
            }
            buf.extend_from_slice(&chunk);
        }
        if buf.len() >= CHUNK || (done && !buf.is_empty()) {
            let data = buf.split().freeze();
            let (mut file, mut hasher) = state.take().expect("state is put back after every write");
            let root = layout.root.clone();
            state = Some(
                tokio::task::spawn_blocking(move || -> StoreResult<_> {
                    // The reserve is kept while the body streams in, not only when it starts.
                    if let Some(space) = crate::space::probe(&root)
                        && space.available < min_free + data.len() as u64
                    {
                        return Err(StoreError::InsufficientStorage {
                            available: space.available,
                            reserve: min_free,
                        });
                    }
                    hasher.update(&data);
                    file.write_all(&data)?;
                    Ok((file, hasher))
                })
                .await
                .map_err(|e| StoreError::Internal(e.to_string()))??,
            );
        }
        if done {
            break;
        }
    }
    let (file, hasher) = state.take().expect("state present");
    // Durability: the data reaches the disk before the blob can be renamed into `blobs/`
    // and referenced by a metadata commit.
    let digests = tokio::task::spawn_blocking(move || -> io::Result<Digests> {
        file.sync_data()?;
        Ok(hasher.finish())
    })
    .await
    .map_err(|e| StoreError::Internal(e.to_string()))??;
    staged.digests = digests;
    Ok(staged)
}

/// Which blobs are being read right now, and which freed blobs wait for their readers.
#[derive(Debug, Default)]
pub(crate) struct Pins {
    inner: Mutex<PinState>,
}

#[derive(Debug, Default)]
struct PinState {
    readers: HashMap<BlobId, usize>,
    deferred: HashSet<BlobId>,
}

impl Pins {
    pub fn pin(&self, ids: &[BlobId]) {
        let mut s = self.inner.lock().unwrap();
        for id in ids {
            *s.readers.entry(*id).or_default() += 1;
        }
    }

    /// Releases a reader's pins; unlinks blobs that were freed while it read.
    pub fn unpin(&self, layout: &Layout, ids: &[BlobId]) {
        let mut s = self.inner.lock().unwrap();
        for id in ids {
            if let Some(n) = s.readers.get_mut(id) {
                *n -= 1;
                if *n == 0 {
                    s.readers.remove(id);
                    if s.deferred.remove(id) {
                        let _ = fs::remove_file(layout.blob_path(*id));
                    }
                }
            }
        }
    }

    /// Unlinks blobs that a commit made unreachable, or defers those that are being read.
    /// Unlinking happens under the lock, so a reader either pins first (and the unlink waits)
    /// or finds the file gone when it opens it (and retries against the new metadata).
    pub fn free(&self, layout: &Layout, ids: &[BlobId]) {
        let mut s = self.inner.lock().unwrap();
        for id in ids {
            if s.readers.contains_key(id) {
                s.deferred.insert(*id);
            } else if let Err(e) = fs::remove_file(layout.blob_path(*id))
                && e.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(blob = format!("{id:032x}"), error = %e, "could not remove a freed blob; the start-up sweep will");
            }
        }
    }
}

/// A pinned, opened view of an object's segments.
pub(crate) struct PinnedSegments {
    pub layout: Arc<Layout>,
    pub pins: Arc<Pins>,
    pub segments: Vec<Segment>,
    pub first: Option<File>,
}

impl Drop for PinnedSegments {
    fn drop(&mut self) {
        let ids: Vec<BlobId> = self.segments.iter().map(|s| s.blob).collect();
        self.pins.unpin(&self.layout, &ids);
    }
}

impl PinnedSegments {
    /// Streams bytes `[start, end)` of the concatenated segments.
    pub fn into_stream(self, start: u64, end: u64) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
        struct St {
            seg: PinnedSegments,
            idx: usize,
            seg_start: u64,
            pos: u64,
            end: u64,
            file: Option<File>,
        }
        let mut seg = self;
        let first = seg.first.take();
        let st = St {
            seg,
            idx: 0,
            seg_start: 0,
            pos: start,
            end,
            file: first,
        };
        futures::stream::try_unfold(st, |mut st| async move {
            if st.pos >= st.end {
                return Ok(None);
            }
            // Find the segment holding `pos`.
            while st.idx < st.seg.segments.len() && st.seg_start + st.seg.segments[st.idx].len <= st.pos {
                st.seg_start += st.seg.segments[st.idx].len;
                st.idx += 1;
                st.file = None;
            }
            let Some(s) = st.seg.segments.get(st.idx).cloned() else {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "object metadata is longer than its blobs",
                ));
            };
            let file = match st.file.take() {
                Some(f) => f,
                None => File::open(st.seg.layout.blob_path(s.blob))?,
            };
            let off = st.pos - st.seg_start;
            let want = (s.len - off).min(st.end - st.pos).min(CHUNK as u64) as usize;
            let (file, data) = tokio::task::spawn_blocking(move || -> io::Result<(File, Vec<u8>)> {
                let mut buf = vec![0u8; want];
                file.read_exact_at(&mut buf, off)?;
                Ok((file, buf))
            })
            .await
            .map_err(io::Error::other)??;
            st.pos += data.len() as u64;
            st.file = Some(file);
            Ok(Some((Bytes::from(data), st)))
        })
    }
}
