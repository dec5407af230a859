//! Where a station keeps its hub session token: never in `station.db`
//! (a copy of the data directory, a backup or a lost disk must not carry
//! a usable session).
//!
//! On Linux the token lies in the kernel's key store (keyutils), in the
//! user's *persistent keyring*: kernel memory only, gone at reboot, every
//! process of the same user finds it (so the CLI's `login` serves later
//! `sync`s, and the desktop's background syncs of other profiles work),
//! and each key expires after [`KEEP_SECS`], the hub's longest session.
//! Where no key store answers (another OS, a container whose seccomp
//! profile forbids `keyctl`), the token is kept in this process's memory
//! only: the session lasts for this run.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// How long a saved token is kept: the hub's absolute session limit
/// (`Limits::session_absolute_secs`, 12 h).
pub const KEEP_SECS: usize = 12 * 3600;

/// Where a saved session went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// The OS key store: later runs of this user find it.
    KeyStore,
    /// This process's memory only: a later run must log in again.
    ThisRun,
}

/// The key store entry of the station whose device id is `device`.
fn name(device: &str) -> String {
    format!("jingwu-station:hub-session:{device}")
}

fn memory() -> &'static Mutex<HashMap<String, String>> {
    static MEMORY: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    MEMORY.get_or_init(|| Mutex::new(HashMap::new()))
}

fn remember(name: &str, token: Option<&str>) {
    if let Ok(mut m) = memory().lock() {
        match token {
            Some(t) => m.insert(name.to_string(), t.to_string()),
            None => m.remove(name),
        };
    }
}

fn recall(name: &str) -> Option<String> {
    memory().lock().ok().and_then(|m| m.get(name).cloned())
}

/// Saves (or, with `None`, forgets) the session token of the station
/// `device`, and says where it went.
pub fn save(device: &str, token: Option<&str>) -> Kept {
    let name = name(device);
    match os::save(&name, token) {
        Ok(()) => {
            remember(&name, None);
            Kept::KeyStore
        }
        Err(_) => {
            remember(&name, token);
            Kept::ThisRun
        }
    }
}

/// The saved session token of the station `device`, if any.
pub fn load(device: &str) -> Option<String> {
    let name = name(device);
    match os::load(&name) {
        Ok(Some(t)) => Some(t),
        Ok(None) | Err(_) => recall(&name),
    }
}

#[cfg(target_os = "linux")]
mod os {
    use linux_keyutils::{KeyError, KeyRing, KeyRingIdentifier};

    /// The user's persistent keyring, linked into this process's keyring
    /// (so this process possesses it and the keys in it).
    fn ring() -> Result<KeyRing, KeyError> {
        KeyRing::get_persistent(KeyRingIdentifier::Process)
    }

    fn gone(e: &KeyError) -> bool {
        matches!(
            e,
            KeyError::KeyDoesNotExist | KeyError::KeyExpired | KeyError::KeyRevoked
        )
    }

    pub fn save(name: &str, token: Option<&str>) -> Result<(), KeyError> {
        let ring = ring()?;
        match token {
            Some(t) => {
                // add_key replaces the payload of an existing key of the
                // same description.
                let key = ring.add_key(name, t.as_bytes())?;
                key.set_timeout(super::KEEP_SECS)
            }
            None => match ring.search(name) {
                Ok(key) => {
                    // Unlinked: no search finds it from now on; invalidated:
                    // the kernel drops it.
                    ring.unlink_key(key)?;
                    let _ = key.invalidate();
                    Ok(())
                }
                Err(e) if gone(&e) => Ok(()),
                Err(e) => Err(e),
            },
        }
    }

    pub fn load(name: &str) -> Result<Option<String>, KeyError> {
        match ring()?.search(name) {
            Ok(key) => match key.read_to_vec() {
                Ok(bytes) => Ok(String::from_utf8(bytes).ok()),
                Err(e) if gone(&e) => Ok(None),
                Err(e) => Err(e),
            },
            Err(e) if gone(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod os {
    //! No key store wired in yet (Windows Credential Manager and the
    //! macOS Keychain would go here): memory only.

    pub struct Unavailable;

    pub fn save(_name: &str, _token: Option<&str>) -> Result<(), Unavailable> {
        Err(Unavailable)
    }

    pub fn load(_name: &str) -> Result<Option<String>, Unavailable> {
        Err(Unavailable)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn device() -> String {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).unwrap();
        hex::encode(b)
    }

    #[test]
    fn a_saved_token_is_found_then_forgotten() {
        let device = device();
        assert_eq!(load(&device), None);
        save(&device, Some("tok-1"));
        assert_eq!(load(&device).as_deref(), Some("tok-1"));
        save(&device, Some("tok-2"));
        assert_eq!(load(&device).as_deref(), Some("tok-2"));
        save(&device, None);
        assert_eq!(load(&device), None);
    }

    /// On this build machine (Linux) the kernel key store answers.
    #[cfg(target_os = "linux")]
    #[test]
    fn linux_keeps_sessions_in_the_kernel_key_store() {
        let device = device();
        assert_eq!(save(&device, Some("tok")), Kept::KeyStore);
        assert_eq!(os::load(&name(&device)).unwrap().as_deref(), Some("tok"));
        assert_eq!(save(&device, None), Kept::KeyStore);
        assert_eq!(os::load(&name(&device)).unwrap(), None);
    }
}
