//! Files and directories only their owner may read: on Unix every data
//! file the station and the hub make is 0600 and every data directory
//! 0700, whatever the process umask, and an existing one with a looser
//! mode is tightened when it is opened. Elsewhere (Windows) the user's
//! profile ACLs apply and these are plain file operations.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Mode of data files.
pub const FILE_MODE: u32 = 0o600;
/// Mode of data directories.
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` and its missing parents (each made 0700), and tightens
/// `dir` itself to 0700 when it already exists with group or other bits.
/// A sticky directory (such as `/tmp`) is shared by design and left as it
/// is.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)?;
        tighten(dir)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// Removes the group and other bits of `path` if it exists (files become
/// at most 0600, directories at most 0700). A missing path is not an
/// error; a sticky directory is left alone.
pub fn tighten(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mode = meta.permissions().mode();
        if meta.is_dir() && mode & 0o1000 != 0 {
            return Ok(());
        }
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & !0o077))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Makes sure the file `path` exists with mode 0600 before another
/// library (SQLite) opens it: creates it empty when missing, tightens it
/// when looser. Its contents are never touched.
pub fn ensure_file(path: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    options.open(path)?;
    tighten(path)
}

/// Creates a new file (failing if `path` exists) with mode 0600.
pub fn create_new(path: &Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    let file = options.open(path)?;
    // An unusual umask (e.g. 0200) could have removed owner bits.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    }
    Ok(file)
}

/// Writes `bytes` to `path` (created or truncated), mode 0600.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    let mut file = options.open(path)?;
    tighten(path)?;
    file.write_all(bytes)?;
    file.flush()
}

/// Writes `bytes` to `path` completely or not at all: a 0600 temporary
/// file beside it, synced, then renamed over it.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".part{}", std::process::id()));
    let tmp = path.with_file_name(name);
    let result = (|| {
        let _ = std::fs::remove_file(&tmp);
        let mut file = create_new(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The files SQLite keeps beside a WAL database `db`.
pub fn sqlite_sidecars(db: &Path) -> [PathBuf; 3] {
    ["-wal", "-shm", "-journal"].map(|suffix| {
        let mut p = db.as_os_str().to_os_string();
        p.push(suffix);
        PathBuf::from(p)
    })
}

/// Tightens the database file `db` and the files SQLite keeps beside it.
/// SQLite gives a new `-wal`/`-shm` the mode of the database file, so a
/// 0600 database keeps 0600 sidecars; files left by an older version are
/// tightened here.
pub fn tighten_sqlite(db: &Path) -> io::Result<()> {
    tighten(db)?;
    for p in sqlite_sidecars(db) {
        tighten(&p)?;
    }
    Ok(())
}

/// The permission bits of `path` (Unix), for checks and tests.
#[cfg(unix)]
pub fn mode_of(path: &Path) -> io::Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o7777)
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn dirs_are_0700_and_files_0600_and_looser_ones_are_tightened() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("a/b");
        create_dir(&d).unwrap();
        assert_eq!(mode_of(&d).unwrap(), 0o700);
        assert_eq!(mode_of(&t.path().join("a")).unwrap(), 0o700);

        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_dir(&d).unwrap();
        assert_eq!(mode_of(&d).unwrap(), 0o700);

        let f = d.join("f");
        write(&f, b"x").unwrap();
        assert_eq!(mode_of(&f).unwrap(), 0o600);
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        ensure_file(&f).unwrap();
        assert_eq!(mode_of(&f).unwrap(), 0o600);
        assert_eq!(std::fs::read(&f).unwrap(), b"x");

        let g = d.join("g.pdf");
        write_atomically(&g, b"pdf").unwrap();
        assert_eq!(mode_of(&g).unwrap(), 0o600);
        assert_eq!(std::fs::read(&g).unwrap(), b"pdf");

        // A shared sticky directory keeps its mode.
        let s = t.path().join("shared");
        std::fs::create_dir(&s).unwrap();
        std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o1777)).unwrap();
        create_dir(&s).unwrap();
        assert_eq!(mode_of(&s).unwrap(), 0o1777);
    }
}
