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
    /// The data filesystem's free space and writability, briefly cached (`space::Gauge`).
    pub space: crate::space::Gauge,
}

impl Layout {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            space: crate::space::Gauge::new(root),
        }
    }
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

/// How long new blobs keep going to the same shard directory.
const SHARD_WINDOW_MS: u128 = 50;

/// A new blob id: 120 random bits under a top byte (the shard directory, `blobs/<xx>/`) that
/// follows the clock, one shard per 50 ms (a 12.8 s cycle through the 256). Blobs staged at
/// about the same time — the ones a group commit renames together — so land in one or two
/// directories, and the batch fsyncs those instead of one directory per blob. Over time the
/// shards fill evenly.
pub(crate) fn new_blob_id() -> BlobId {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let shard = (ms / SHARD_WINDOW_MS) % 256;
    (shard << 120) | (rand::random::<u128>() >> 8)
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

/// Chunks queued between the socket and the writer task of one upload (each [`CHUNK`] bytes).
const CHUNKS_IN_FLIGHT: usize = 2;

/// Refuses a chunk of `len` bytes when it would eat into the reserve.
fn check_room(layout: &Layout, len: u64, min_free: u64) -> StoreResult<()> {
    match layout.space.room_for(len, min_free) {
        Ok(_) => Ok(()),
        Err(space) => Err(StoreError::InsufficientStorage {
            available: space.available,
            reserve: min_free,
        }),
    }
}

/// Hashes and writes one chunk (the reserve is kept while the body streams in, not only when
/// it starts).
fn write_chunk(layout: &Layout, file: &mut File, hasher: &mut Hasher, data: &[u8], min_free: u64) -> StoreResult<()> {
    check_room(layout, data.len() as u64, min_free)?;
    hasher.update(data);
    file.write_all(data)?;
    layout.space.wrote(data.len() as u64);
    Ok(())
}

/// Streams `body` into a new temp file while hashing, then fdatasyncs it.
///
/// A body that fits in one chunk (every small PUT) is written, hashed and synced in one blocking
/// call. A longer one goes to a writer task through a queue of up to [`CHUNKS_IN_FLIGHT`]
/// chunks, so the socket is read while earlier chunks are hashed and written.
pub(crate) async fn stage<S, E>(
    layout: &Arc<Layout>,
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
    let mut file = File::create(&path)?;
    // From here on, the guard removes the temp file on every early return.
    let mut staged = StagedBlob {
        id,
        tmp: Some(path),
        digests: Hasher::new([]).finish(),
    };
    let mut hasher = Hasher::new(algorithms);
    let mut total: u64 = 0;
    // Reads up to one chunk of the body; `Ok(true)` when the body has ended.
    async fn fill<S, E>(body: &mut S, buf: &mut BytesMut, total: &mut u64, max_len: u64) -> StoreResult<bool>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        while buf.len() < CHUNK {
            let Some(chunk) = body.next().await else {
                return Ok(true);
            };
            let chunk = chunk.map_err(|e| StoreError::IncompleteBody(e.to_string()))?;
            *total += chunk.len() as u64;
            if *total > max_len {
                return Err(StoreError::EntityTooLarge { limit: max_len });
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(false)
    }
    let mut buf = BytesMut::with_capacity(CHUNK);
    let done = fill(&mut body, &mut buf, &mut total, max_len).await?;
    let layout2 = layout.clone();
    let digests = if done {
        // Durability: the data reaches the disk before the blob can be renamed into `blobs/`
        // and referenced by a metadata commit.
        let data = buf.freeze();
        tokio::task::spawn_blocking(move || -> StoreResult<Digests> {
            if !data.is_empty() {
                write_chunk(&layout2, &mut file, &mut hasher, &data, min_free)?;
            }
            file.sync_data()?;
            Ok(hasher.finish())
        })
        .await
        .map_err(|e| StoreError::Internal(e.to_string()))??
    } else {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(CHUNKS_IN_FLIGHT);
        let abort = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let abort2 = abort.clone();
        let writer = tokio::task::spawn_blocking(move || -> StoreResult<Digests> {
            while let Some(data) = rx.blocking_recv() {
                write_chunk(&layout2, &mut file, &mut hasher, &data, min_free)?;
            }
            if abort2.load(std::sync::atomic::Ordering::Acquire) {
                return Err(StoreError::Internal("staging was abandoned".into()));
            }
            // Durability: as above, synced before it can be committed.
            file.sync_data()?;
            Ok(hasher.finish())
        });
        let mut chunk = buf.split().freeze();
        let fed: StoreResult<()> = async {
            loop {
                if tx.send(chunk).await.is_err() {
                    // The writer stopped on an error: it is returned below.
                    return Ok(());
                }
                buf.reserve(CHUNK);
                let done = fill(&mut body, &mut buf, &mut total, max_len).await?;
                chunk = buf.split().freeze();
                if done {
                    if !chunk.is_empty() {
                        let _ = tx.send(chunk).await;
                    }
                    return Ok(());
                }
            }
        }
        .await;
        if fed.is_err() {
            abort.store(true, std::sync::atomic::Ordering::Release);
        }
        drop(tx);
        let written = writer.await.map_err(|e| StoreError::Internal(e.to_string()));
        fed?;
        written??
    };
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
    /// Streams bytes `[start, end)` of the concatenated segments, [`CHUNK`] bytes at a time,
    /// with the next chunk's read already running while the current one is sent.
    pub fn into_stream(self, start: u64, end: u64) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
        type Read = tokio::task::JoinHandle<io::Result<Bytes>>;
        struct St {
            seg: PinnedSegments,
            idx: usize,
            seg_start: u64,
            pos: u64,
            end: u64,
            file: Option<Arc<File>>,
            ahead: Option<Read>,
        }
        impl St {
            /// Starts reading the chunk at `pos`, if any is left.
            fn next_read(&mut self) -> io::Result<Option<Read>> {
                if self.pos >= self.end {
                    return Ok(None);
                }
                // Find the segment holding `pos`.
                while self.idx < self.seg.segments.len() && self.seg_start + self.seg.segments[self.idx].len <= self.pos
                {
                    self.seg_start += self.seg.segments[self.idx].len;
                    self.idx += 1;
                    self.file = None;
                }
                let Some(s) = self.seg.segments.get(self.idx).cloned() else {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "object metadata is longer than its blobs",
                    ));
                };
                let file = match &self.file {
                    Some(f) => f.clone(),
                    None => {
                        let f = Arc::new(File::open(self.seg.layout.blob_path(s.blob))?);
                        self.file = Some(f.clone());
                        f
                    }
                };
                let off = self.pos - self.seg_start;
                let want = (s.len - off).min(self.end - self.pos).min(CHUNK as u64) as usize;
                self.pos += want as u64;
                Ok(Some(tokio::task::spawn_blocking(move || {
                    read_exact_at(&file, off, want)
                })))
            }
        }
        let mut seg = self;
        let first = seg.first.take().map(Arc::new);
        let st = St {
            seg,
            idx: 0,
            seg_start: 0,
            pos: start,
            end,
            file: first,
            ahead: None,
        };
        futures::stream::try_unfold(st, |mut st| async move {
            let read = match st.ahead.take() {
                Some(r) => r,
                None => match st.next_read()? {
                    Some(r) => r,
                    None => return Ok(None),
                },
            };
            let data = read.await.map_err(io::Error::other)??;
            // Read ahead: the disk (or page cache) works on the next chunk while this one is sent.
            st.ahead = st.next_read()?;
            Ok(Some((data, st)))
        })
    }
}

/// Reads exactly `want` bytes at `off` into a new buffer, without zero-filling it first.
fn read_exact_at(file: &File, off: u64, want: usize) -> io::Result<Bytes> {
    use std::os::fd::AsRawFd as _;
    let mut buf = BytesMut::with_capacity(want);
    while buf.len() < want {
        let done = buf.len();
        let spare = buf.spare_capacity_mut();
        // SAFETY: `spare` is valid for writes of `want - done` (<= its length) bytes; pread only
        // writes into it (never reads it), and the fd is open for the duration of the call.
        let n = unsafe {
            libc::pread(
                file.as_raw_fd(),
                spare.as_mut_ptr().cast(),
                want - done,
                (off + done as u64) as libc::off_t,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the data file is shorter than its record",
            ));
        }
        // SAFETY: the kernel initialised the `n` bytes after `done`.
        unsafe { buf.set_len(done + n as usize) };
    }
    Ok(buf.freeze())
}
