//! The hub's files are its owner's only (Unix): the data directory 0700;
//! hub.db with its -wal/-shm, the TLS key and certificate, backups 0600;
//! files an older version left looser are tightened when opened.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use jingwu_hub::server;
use jingwu_store::private_fs::mode_of;

use crate::common::*;

fn mode(p: &Path) -> String {
    format!(
        "{:o}",
        mode_of(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    )
}

fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut p = db.as_os_str().to_os_string();
    p.push(suffix);
    PathBuf::from(p)
}

fn loosen(paths: &[PathBuf]) {
    for p in paths {
        let m = if p.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    }
}

#[test]
fn sqlite_hub_files_are_private() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("county/hub");
    let cfg = server::Config {
        data_dir: data.clone(),
        ..HubPlace::new(Backend::Sqlite).config()
    };
    let db = server::open_db(&cfg).unwrap();
    // A write, so the -wal holds pages.
    db.meta_set("k", "v").unwrap();
    jingwu_hub::tls::load_or_create(&data, &[]).unwrap();
    let backup = root.path().join("backup.db");
    db.backup(&backup).unwrap();

    let hub_db = data.join("hub.db");
    let files = [
        hub_db.clone(),
        sidecar(&hub_db, "-wal"),
        sidecar(&hub_db, "-shm"),
        data.join(jingwu_hub::tls::CERT_FILE),
        data.join(jingwu_hub::tls::KEY_FILE),
        backup.clone(),
    ];
    assert_eq!(mode(&data), "700");
    assert_eq!(mode(&root.path().join("county")), "700");
    for f in &files {
        assert_eq!(mode(f), "600", "{}", f.display());
    }

    // Left world-readable by an older version (db still open, so the
    // -wal/-shm stay): tightened when opened again.
    let mut loose = files[..5].to_vec();
    loose.push(data.clone());
    loosen(&loose);
    let again = server::open_db(&cfg).unwrap();
    jingwu_hub::tls::load_or_create(&data, &[]).unwrap();
    for f in &loose {
        let want = if f.is_dir() { "700" } else { "600" };
        assert_eq!(mode(f), want, "{}", f.display());
    }
    drop((db, again));
}

#[test]
fn postgres_backup_is_private() {
    let place = HubPlace::new(Backend::Postgres);
    place.init(&[]);
    let db = place.open_db();
    let backup = place.dir.path().join("hub.dump");
    db.backup(&backup).unwrap();
    assert!(std::fs::metadata(&backup).unwrap().len() > 0);
    assert_eq!(mode(&backup), "600");
}
