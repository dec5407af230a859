//! Free space of the filesystem holding the hub's data.

use std::path::Path;

/// Bytes an unprivileged process may still write on the filesystem
/// holding `dir`; `None` when it cannot be asked.
#[cfg(unix)]
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let s = rustix::fs::statvfs(dir).ok()?;
    Some(s.f_bavail.saturating_mul(s.f_frsize))
}

/// Bytes free on the filesystem holding `dir` (not asked off Unix).
#[cfg(not(unix))]
pub fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    #[cfg(unix)]
    #[test]
    fn free_space_of_a_directory() {
        let d = tempfile::tempdir().unwrap();
        assert!(super::free_bytes(d.path()).unwrap() > 0);
        assert!(super::free_bytes(&d.path().join("missing")).is_none());
    }
}
