//! Guarding the credential endpoints: a bounded pool of Argon2 memory for
//! password checks (so parallel logins cannot exhaust memory), and the
//! lockout rule counted per account and per source address.
//!
//! Every credential endpoint (the API's `/api/login`, the browser's
//! `/api/ui/login`) goes through [`crate::hub::Hub::login_from`], the one
//! gate that uses both.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use argon2::password_hash::phc::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::db::LoginCounter;
use crate::error::{ApiError, ErrorCode};

/// Argon2 memory blocks of one password check in progress.
type Memory = Vec<Block>;

/// A fixed number of Argon2 working memories, each reused for every
/// check, plus an admission bound on checks waiting for one. A check
/// never allocates its own Argon2 memory, so the process holds at most
/// `workers` × the memory of the default parameters however many logins
/// arrive, and the memory is the same after a burst as before it.
pub struct PasswordPool {
    workers: usize,
    /// Most checks admitted at once (running or waiting for a memory).
    admit: usize,
    admitted: AtomicUsize,
    /// Idle memories, and how many exist.
    free: Mutex<(Vec<Memory>, usize)>,
    returned: Condvar,
}

/// An admitted password check; frees its place when dropped.
pub struct Admission<'a>(&'a PasswordPool);

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.0.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Seconds a caller refused because the pool is full is asked to wait.
pub const BUSY_RETRY_SECS: u64 = 1;

impl PasswordPool {
    /// `workers` Argon2 memories (0: one per CPU core), `queue` checks
    /// waiting at most beside them.
    pub fn new(workers: usize, queue: usize) -> PasswordPool {
        let workers = if workers == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        } else {
            workers
        };
        PasswordPool {
            workers,
            admit: workers + queue,
            admitted: AtomicUsize::new(0),
            free: Mutex::new((Vec::new(), 0)),
            returned: Condvar::new(),
        }
    }

    /// Admits one more check, or answers 429 with `Retry-After` when the
    /// pool and its queue are full.
    pub fn admit(&self) -> Result<Admission<'_>, ApiError> {
        let before = self.admitted.fetch_add(1, Ordering::AcqRel);
        let a = Admission(self);
        if before >= self.admit {
            drop(a);
            return Err(
                ApiError::new(ErrorCode::Busy, "登录请求过多，服务器正忙，请稍后再试")
                    .retry_after(BUSY_RETRY_SECS),
            );
        }
        Ok(a)
    }

    fn lock(&self) -> MutexGuard<'_, (Vec<Memory>, usize)> {
        // The guarded data is a list of buffers: always usable.
        self.free.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes an idle memory, makes one (up to `workers`), or waits.
    fn take(&self) -> Memory {
        let mut g = self.lock();
        loop {
            if let Some(m) = g.0.pop() {
                return m;
            }
            if g.1 < self.workers {
                g.1 += 1;
                drop(g);
                return vec![Block::default(); Params::DEFAULT_M_COST as usize];
            }
            g = self.returned.wait(g).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn give_back(&self, m: Memory) {
        self.lock().0.push(m);
        self.returned.notify_one();
    }

    /// Checks `password` against a stored Argon2 PHC string, in one of
    /// the pool's memories. `false` for a wrong password or an unusable
    /// hash.
    pub fn check(&self, _admitted: &Admission<'_>, password: &str, phc: &str) -> bool {
        let Ok(h) = PasswordHash::new(phc) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (&h.salt, &h.hash) else {
            return false;
        };
        let Ok(params) = Params::try_from(&h) else {
            return false;
        };
        let Ok(alg) = Algorithm::try_from(h.algorithm.as_str()) else {
            return false;
        };
        let version = match h.version.map(Version::try_from).transpose() {
            Ok(v) => v.unwrap_or_default(),
            Err(_) => return false,
        };
        let blocks = params.block_count();
        let argon = Argon2::new(alg, version, params);
        let mut out = vec![0u8; expected.len()];
        let ok = if blocks <= Params::DEFAULT_M_COST as usize {
            let mut m = self.take();
            let r = argon.hash_password_into_with_memory(
                password.as_bytes(),
                salt.as_ref(),
                &mut out,
                &mut m[..],
            );
            self.give_back(m);
            r.is_ok()
        } else {
            // A hash made with more memory than ours (not made by this
            // hub): checked with its own, still bounded by admission.
            argon
                .hash_password_into(password.as_bytes(), salt.as_ref(), &mut out)
                .is_ok()
        };
        // `Output` compares in constant time.
        ok && Output::new(&out).is_ok_and(|o| &o == expected)
    }
}

/// The lockout rule, the same for accounts and source addresses.
#[derive(Debug, Clone, Copy)]
pub struct LockRule {
    /// Failures that lock.
    pub max_failures: i64,
    /// The first lock, in seconds; each further lock doubles it.
    pub lock_secs: i64,
    pub max_lock_secs: i64,
    /// After this long without a failure, earlier locks are forgotten.
    pub forget_secs: i64,
}

impl LockRule {
    /// Counts one attempt on `c` at `now`, before the password is
    /// checked (so parallel guesses are counted too). `Err(until)` when
    /// the key is locked, or has reached its failures and is locked now.
    pub fn attempt(&self, c: &mut LoginCounter, now: i64) -> Result<(), i64> {
        if c.locked_until > now {
            return Err(c.locked_until);
        }
        if c.last_failure + self.forget_secs < now {
            c.lockouts = 0;
            c.failures = 0;
        }
        if c.failures >= self.max_failures {
            c.lockouts += 1;
            let shift = (c.lockouts - 1).clamp(0, 30) as u32;
            let secs = self
                .lock_secs
                .saturating_mul(1i64 << shift)
                .min(self.max_lock_secs)
                .max(1);
            c.locked_until = now + secs;
            c.failures = 0;
            return Err(c.locked_until);
        }
        c.failures += 1;
        c.last_failure = now;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn the_lock_comes_after_max_failures_and_doubles() {
        let rule = LockRule {
            max_failures: 3,
            lock_secs: 30,
            max_lock_secs: 100,
            forget_secs: 86_400,
        };
        let mut c = LoginCounter::new("account:x");
        for _ in 0..3 {
            assert_eq!(rule.attempt(&mut c, 1000), Ok(()));
        }
        assert_eq!(rule.attempt(&mut c, 1001), Err(1031));
        assert_eq!(rule.attempt(&mut c, 1030), Err(1031));
        for _ in 0..3 {
            assert_eq!(rule.attempt(&mut c, 1031), Ok(()));
        }
        assert_eq!(rule.attempt(&mut c, 1032), Err(1092));
        for _ in 0..3 {
            assert_eq!(rule.attempt(&mut c, 1092), Ok(()));
        }
        // Capped.
        assert_eq!(rule.attempt(&mut c, 1093), Err(1193));
        // Forgotten after a quiet day.
        assert_eq!(rule.attempt(&mut c, 1193 + 86_401), Ok(()));
        assert_eq!(c.lockouts, 0);
    }

    #[test]
    fn the_pool_admits_its_size_and_queue_then_refuses() {
        let pool = PasswordPool::new(1, 1);
        let a = pool.admit().unwrap();
        let _b = pool.admit().unwrap();
        let e = pool.admit().err().unwrap();
        assert_eq!(e.status, axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.retry_after, Some(BUSY_RETRY_SECS));
        drop(a);
        let c = pool.admit().unwrap();
        let phc = crate::hub::hash_password("Right-Passw0rd").unwrap();
        assert!(pool.check(&c, "Right-Passw0rd", &phc));
        assert!(!pool.check(&c, "Wrong-Passw0rd", &phc));
        assert!(!pool.check(&c, "Right-Passw0rd", "not a hash"));
    }
}
