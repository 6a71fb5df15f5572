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
