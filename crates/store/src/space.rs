//! The data filesystem's free space and writability, from `statvfs(2)`: checked before new data
//! is written (so the disk never fills past the metadata reserve) and before every metadata
//! write (so a read-only remount is an error, not a failed redb commit).

use std::path::Path;

/// What `statvfs` says about the filesystem holding a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// Bytes available to an unprivileged writer.
    pub available: u64,
    pub total: u64,
    pub read_only: bool,
}

/// `None` when the filesystem cannot be asked (then nothing is refused on its account).
pub fn probe(path: &Path) -> Option<Space> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt as _;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
        // SAFETY: an all-zero statvfs is a valid value to be overwritten.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: `c` is NUL-terminated and `st` is a valid, writable statvfs.
        if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
            return None;
        }
        let frsize = st.f_frsize as u64;
        Some(Space {
            available: (st.f_bavail as u64).saturating_mul(frsize),
            total: (st.f_blocks as u64).saturating_mul(frsize),
            read_only: st.f_flag & libc::ST_RDONLY != 0,
        })
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// How long a `statvfs` answer is reused for decisions that let a write go ahead.
const GAUGE_TTL: std::time::Duration = std::time::Duration::from_millis(100);

/// [`probe`] with a short memory, so that a small PUT does not pay three `statfs` calls (the
/// start of staging, every 1 MiB chunk, the commit's read-only check).
///
/// Conservative by construction:
/// - between probes, every byte this store stages is subtracted from the cached free space, so
///   the estimate only falls until the next probe (at most [`GAUGE_TTL`] later);
/// - a *refusal* (read-only, or not enough room above the reserve) is never made on a cached
///   figure: it is re-probed first. So a disk that was freed, or remounted read-write, is seen
///   at once; what the cache can miss is only another process filling the disk (or a read-only
///   remount) within the last 100 ms, which then meets the same ENOSPC/EROFS handling as
///   before (`classify_io`).
#[derive(Debug)]
pub(crate) struct Gauge {
    path: std::path::PathBuf,
    cached: std::sync::Mutex<Option<(std::time::Instant, Space)>>,
    /// Bytes staged since the cached probe.
    written: std::sync::atomic::AtomicU64,
}

impl Gauge {
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            cached: std::sync::Mutex::new(None),
            written: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// A fresh `statvfs`, which also becomes the cached figure.
    pub fn fresh(&self) -> Option<Space> {
        use std::sync::atomic::Ordering;
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        // Bytes written before this probe are in its figures.
        self.written.store(0, Ordering::Relaxed);
        let space = probe(&self.path);
        *cached = space.map(|s| (std::time::Instant::now(), s));
        space
    }

    /// The cached figure (minus what was staged since) while younger than the TTL, else fresh.
    pub fn current(&self) -> Option<Space> {
        use std::sync::atomic::Ordering;
        {
            let cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, space)) = *cached
                && at.elapsed() < GAUGE_TTL
            {
                let written = self.written.load(Ordering::Relaxed);
                return Some(Space {
                    available: space.available.saturating_sub(written),
                    ..space
                });
            }
        }
        self.fresh()
    }

    /// Counts bytes this store wrote (they come off the cached free space).
    pub fn wrote(&self, n: u64) {
        self.written.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether `need` more bytes leave at least `reserve` free (`need == 0`: more than
    /// `reserve` free). `Err(space)`: no, on a fresh probe. `None` from statvfs: yes.
    pub fn room_for(&self, need: u64, reserve: u64) -> Result<Option<Space>, Space> {
        let fits = |s: &Space| {
            if need == 0 {
                s.available > reserve
            } else {
                s.available >= reserve.saturating_add(need)
            }
        };
        match self.current() {
            Some(s) if fits(&s) => Ok(Some(s)),
            None => Ok(None),
            Some(_) => match self.fresh() {
                Some(s) if fits(&s) => Ok(Some(s)),
                Some(s) => Err(s),
                None => Ok(None),
            },
        }
    }

    /// Whether the filesystem is read-only; a "yes" is always a fresh answer.
    pub fn read_only(&self) -> bool {
        self.current().is_some_and(|s| s.read_only) && self.fresh().is_some_and(|s| s.read_only)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gauge_refuses_only_on_fresh_figures() {
        let dir = tempfile::tempdir().unwrap();
        let gauge = Gauge::new(dir.path());
        let first = gauge.current().expect("statvfs answers on a temp dir");
        assert!(!gauge.read_only());
        assert!(gauge.room_for(0, 0).is_ok());
        // Bytes staged since the probe come off the cached figure...
        gauge.wrote(first.available);
        // ...but a refusal is re-probed: the disk is not really full, so the write may go on.
        assert!(gauge.room_for(1, 0).is_ok());
        // A reserve larger than the filesystem is refused, with the figures of a fresh probe.
        let refused = gauge.room_for(0, u64::MAX).unwrap_err();
        assert_eq!(refused.total, first.total);
    }
}
