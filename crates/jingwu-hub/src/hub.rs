//! The hub's rules above storage: accounts and sessions, device
//! enrolment, accepting pushed events, what each person may see, the live
//! feed, and attachment uploads. Independent of HTTP so tests and tools
//! can drive it directly.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use argon2::password_hash::{phc::PasswordHash, PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use base64::Engine as _;
use jingwu_core::case::{CaseState, Rejection};
use jingwu_core::crypto::{sm3_hex, PublicKey};
use jingwu_core::event::{Action, SignedEvent};
use jingwu_core::public::ResultNotice;
use jingwu_core::registry::Registry;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, Notify};
use uuid::Uuid;

use crate::clock::{check_device_time, hub_now, HubKey};
use crate::db::{
    EnrolmentRow, EventRow, EventTx, HubDb, NewEvent, SessionRow, UploadBegin, UploadRow,
};
use crate::error::{ApiError, ErrorCode};
use crate::group::{GroupCommit, PendingPush, Slot};
use crate::logins::{LockRule, PasswordPool};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Limits and timeouts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// A session ends after this many seconds without a request.
    pub session_idle_secs: i64,
    /// A session ends this many seconds after login, whatever happens.
    pub session_absolute_secs: i64,
    /// Largest attachment accepted.
    pub max_upload_bytes: i64,
    /// Largest upload chunk.
    pub max_chunk_bytes: usize,
    /// Most events in one push.
    pub max_batch: usize,
    /// Most events returned by one pull.
    pub max_pull: i64,
    /// How far (seconds) an event's device time may run ahead of the
    /// hub's clock.
    pub max_clock_ahead_secs: i64,
    /// An unfinished upload untouched (no begin, no chunk) for this many
    /// seconds is removed.
    pub upload_ttl_secs: i64,
    /// Most bytes one account's unfinished uploads may declare together.
    pub upload_quota_bytes: i64,
    /// Failed logins of one account that lock it.
    pub login_max_failures: i64,
    /// Failed logins from one source address that lock it (higher: a
    /// station's officers may share one address).
    pub login_source_max_failures: i64,
    /// The first lock, in seconds; each further lock doubles it.
    pub login_lock_secs: i64,
    /// The longest lock.
    pub login_lock_max_secs: i64,
    /// Password checks running at once, each with its own Argon2 memory
    /// (about 19 MiB); 0: one per CPU core.
    pub password_hashers: usize,
    /// Password checks waiting beside those; more get 429.
    pub password_queue: usize,
    /// Below this much free space on the data directory's filesystem,
    /// new uploads get 507 and `/healthz` reports it.
    pub min_free_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            session_idle_secs: 30 * 60,
            session_absolute_secs: 12 * 3600,
            max_upload_bytes: 20 * 1024 * 1024,
            max_chunk_bytes: 1024 * 1024,
            max_batch: 500,
            max_pull: 1000,
            max_clock_ahead_secs: 300,
            upload_ttl_secs: 24 * 3600,
            upload_quota_bytes: 200 * 1024 * 1024,
            login_max_failures: 5,
            login_source_max_failures: 20,
            login_lock_secs: 30,
            login_lock_max_secs: 3600,
            password_hashers: 0,
            password_queue: 32,
            min_free_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Attachment types the hub accepts, with their leading bytes.
pub const ALLOWED_TYPES: &[(&str, &[&[u8]])] = &[
    ("image/jpeg", &[b"\xFF\xD8\xFF"]),
    ("image/png", &[b"\x89PNG\r\n\x1a\n"]),
    ("image/tiff", &[b"II*\0", b"MM\0*"]),
    ("application/pdf", &[b"%PDF-"]),
];

pub use jingwu_proto::{
    Enrolment, LoginResult, PushResult, PushedEvent, StoredEvent, WireEvent, WireReceipt,
};

impl From<EnrolmentRow> for Enrolment {
    fn from(r: EnrolmentRow) -> Enrolment {
        Enrolment {
            id: r.id,
            device: r.device,
            device_name: r.device_name,
            person: r.person,
            fingerprint: r.fingerprint,
            pem: r.pem,
            status: r.status,
            created_at: r.created_at,
            decided_by: r.decided_by,
            decided_at: r.decided_at,
        }
    }
}

/// A stored event as served.
pub(crate) fn stored_event(r: &EventRow) -> StoredEvent {
    StoredEvent {
        gseq: r.gseq,
        case_id: r.case_id,
        seq: r.seq,
        bytes: B64.encode(&r.bytes),
        signature: B64.encode(&r.signature),
        receipt: r
            .receipt
            .as_ref()
            .map(|(bytes, sig)| WireReceipt::of_parts(bytes, sig)),
    }
}

/// One event for the live channel.
#[derive(Debug, Clone)]
pub struct LiveEvent {
    pub event: StoredEvent,
    /// `event` as JSON, made once for every stream that sends it.
    pub json: Arc<str>,
    pub viewers: HashSet<String>,
}

/// A session that ended before its time (logout, an administrator's
/// revocation): live streams of that session close at once.
#[derive(Debug, Clone)]
pub struct SessionEnded {
    pub person: String,
    /// One session; `None` for every session of the person.
    pub token_hash: Option<String>,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub person: String,
    pub is_admin: bool,
    pub device: Option<String>,
    pub token_hash: String,
}

/// The hub.
pub struct Hub {
    pub db: Arc<dyn HubDb>,
    /// The rules: the newest published registry (with every earlier
    /// version's org), replaced when a new version is published
    /// ([`Hub::refresh_registry`]).
    registry: std::sync::RwLock<Arc<Registry>>,
    pub limits: Limits,
    /// Signs the receipt of every accepted event.
    pub hub_key: HubKey,
    keys: RwLock<HashMap<(String, String), (PublicKey, Instant)>>,
    /// Devices each approved key is enrolled on, cached like `keys`.
    devices: RwLock<HashMap<(String, String), EnrolledDevices>>,
    live: broadcast::Sender<Arc<LiveEvent>>,
    ended: broadcast::Sender<SessionEnded>,
    wake: Arc<Notify>,
    /// Wakes the SMS sender (`crate::sms`) when an outbox row commits.
    pub sms_wake: Arc<Notify>,
    /// The SMS this process marked sent so far (for whoever waits on it).
    pub sms_sent: tokio::sync::watch::Sender<u64>,
    published: Mutex<i64>,
    passwords: PasswordPool,
    /// The directory whose filesystem's free space is watched.
    disk_dir: OnceLock<PathBuf>,
    /// Pushes waiting for their group commit.
    group: GroupCommit,
}

/// A quiet day forgets earlier login failures and locks.
const LOGIN_FORGET_SECS: i64 = 24 * 3600;

/// Logs a failed login: who, from where, why (never the password).
fn log_login_failure(person: &str, source: Option<IpAddr>, reason: &str) {
    let person: String = person.chars().take(64).collect();
    let source = source.map(|s| s.to_string());
    tracing::warn!(
        person = ?person,
        source = source.as_deref().unwrap_or("-"),
        reason,
        "登录失败"
    );
}

/// The devices one approved key is enrolled on, and when that was read.
type EnrolledDevices = (HashSet<String>, Instant);

/// How long an approved key stays cached (bounds how long another hub
/// process keeps accepting a key revoked elsewhere).
const KEY_TTL: Duration = Duration::from_secs(60);

/// How stale `last_seen` may get before a request records itself: at
/// most a minute, at most half the idle limit.
fn touch_interval(idle_secs: i64) -> i64 {
    (idle_secs / 2).clamp(0, 60)
}

fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn random_token() -> Result<String, ApiError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|_| ApiError::internal("无法取得随机数"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// Hashes a password with Argon2id (default parameters, random salt).
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(format!("密码处理失败：{e}")))
}

/// Checks a password against a stored PHC string.
pub fn check_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// The password rule for hub accounts.
pub fn check_password_strength(password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if n < 10 {
        return Err(ApiError::new(ErrorCode::WeakPassword, "密码至少 10 个字符"));
    }
    let classes = [
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if classes < 3 {
        return Err(ApiError::new(
            ErrorCode::WeakPassword,
            "密码须包含大写字母、小写字母、数字、符号中的至少三类",
        ));
    }
    Ok(())
}

pub(crate) fn rejection(e: Rejection, state: Option<&CaseState>) -> ApiError {
    match e {
        Rejection::StaleHead { .. } | Rejection::WrongSeq { .. } => {
            let mut err = ApiError::new(
                ErrorCode::StaleHead,
                "案件已有新的处理（本次操作基于旧的案件状态），请刷新后再操作",
            );
            if let Some(s) = state {
                err.body.head = Some(s.head.clone());
                err.body.next_seq = Some(s.next_seq);
                err.body.case_id = Some(s.case_id.to_string());
            }
            err
        }
        Rejection::AlreadyCreated => ApiError::new(ErrorCode::AlreadyCreated, e.to_string()),
        Rejection::NotCreated => ApiError::new(
            ErrorCode::UnknownCase,
            "县局没有该案件，请先上传该案件之前的记录",
        ),
        Rejection::WrongCase => ApiError::new(ErrorCode::WrongCase, e.to_string()),
        Rejection::Backdated { .. } => ApiError::new(ErrorCode::ClockPast, e.to_string()),
        Rejection::NotAllowed(_) => ApiError::new(ErrorCode::NotAllowed, e.to_string()),
        Rejection::Invalid(_) | Rejection::UnknownTemplate(_) | Rejection::UnknownWorkflow(_) => {
            ApiError::new(ErrorCode::Invalid, e.to_string())
        }
    }
}

/// The persons who may see a case after an event: the core's rule
/// ([`CaseState::readers_after`]).
pub fn viewers_after(
    reg: &Registry,
    created: bool,
    state: &CaseState,
    author: &str,
) -> Vec<String> {
    state.readers_after(reg, created, author)
}

/// Checks every event's signature (in parallel); the first bad one is the
/// answer. The authors' keys were found before (cached).
fn verify_all(events: &[SignedEvent], keys: &[PublicKey]) -> Result<(), ApiError> {
    let bad = events
        .par_iter()
        .zip(keys.par_iter())
        .enumerate()
        .find_first(|(_, (e, k))| e.verify(k).is_err());
    match bad {
        Some((i, (e, _))) => Err(ApiError::new(
            ErrorCode::BadSignature,
            "签名校验失败：事件内容与签名不符",
        )
        .at(i, Some(e.event.id.to_string()))),
        None => Ok(()),
    }
}

fn decode_event(index: usize, w: &WireEvent) -> Result<SignedEvent, ApiError> {
    w.signed()
        .map_err(|e| ApiError::new(ErrorCode::MalformedEvent, e.to_string()).at(index, None))
}

impl Hub {
    /// A hub over `db` with the rules of `reg`.
    pub fn new(
        db: Arc<dyn HubDb>,
        reg: Arc<Registry>,
        limits: Limits,
    ) -> Result<Arc<Hub>, ApiError> {
        let (live, _) = broadcast::channel(8192);
        let (ended, _) = broadcast::channel(256);
        let start = db.max_gseq()?;
        let hub_key = HubKey::load_or_create(db.as_ref())?;
        let hub = Arc::new(Hub {
            db,
            registry: std::sync::RwLock::new(reg),
            hub_key,
            keys: RwLock::new(HashMap::new()),
            devices: RwLock::new(HashMap::new()),
            live,
            ended,
            wake: Arc::new(Notify::new()),
            sms_wake: Arc::new(Notify::new()),
            sms_sent: tokio::sync::watch::Sender::new(0),
            published: Mutex::new(start),
            passwords: PasswordPool::new(limits.password_hashers, limits.password_queue),
            disk_dir: OnceLock::new(),
            group: GroupCommit::new(),
            limits,
        });
        Ok(hub)
    }

    /// The rules now: the newest published registry.
    pub fn reg(&self) -> Arc<Registry> {
        match self.registry.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Takes a version published since this hub loaded its rules (by
    /// `jingwu-hub admin publish-registry`, or another hub process).
    /// Returns whether the rules changed.
    pub fn refresh_registry(&self) -> Result<bool, ApiError> {
        let stored = crate::publish::latest_version(self.db.as_ref())
            .map_err(|e| ApiError::internal(e.to_string()))?;
        if stored <= self.reg().published_version().unwrap_or(0) {
            return Ok(false);
        }
        let reg = crate::server::registry(self.db.as_ref())
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let mut w = match self.registry.write() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        };
        if reg.published_version() > w.published_version() {
            tracing::info!(version = ?reg.published_version(), "规则数据已更新");
            *w = Arc::new(reg);
        }
        Ok(true)
    }

    /// The newest published version, after taking it if this process had
    /// not loaded it (a station's sync asks this first).
    pub fn registry_latest(&self) -> Result<jingwu_core::published::SignedRegistry, ApiError> {
        self.refresh_registry()?;
        crate::publish::latest(self.db.as_ref())
            .map_err(|e| ApiError::internal(e.to_string()))?
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::NotFound,
                    "县局尚未发布规则数据：请系统管理员运行 `jingwu-hub admin publish-registry`",
                )
            })
    }

    /// The published versions after `after`, oldest first (the station's
    /// sync), after taking any newer one.
    pub fn registry_versions(
        &self,
        after: u32,
    ) -> Result<Vec<jingwu_core::published::SignedRegistry>, ApiError> {
        self.registry_latest()?;
        crate::publish::chain_after(self.db.as_ref(), after)
            .map_err(|e| ApiError::internal(e.to_string()))
    }

    /// Starts the live publisher (needs a tokio runtime): it follows the
    /// event log and broadcasts each new event once. Other hub processes'
    /// commits wake it through the database (PostgreSQL NOTIFY).
    pub fn start_live(self: &Arc<Self>) -> Result<(), ApiError> {
        let wake = self.wake.clone();
        self.db.listen(Box::new(move || wake.notify_one()))?;
        let hub = self.clone();
        tokio::spawn(async move {
            loop {
                // A periodic check covers a lost notification.
                let _ = tokio::time::timeout(Duration::from_secs(2), hub.wake.notified()).await;
                let h = hub.clone();
                match tokio::task::spawn_blocking(move || h.publish_new()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "live publish"),
                    Err(e) => tracing::warn!(error = %e, "live publish task"),
                }
            }
        });
        let hub = self.clone();
        tokio::spawn(async move {
            // Unfinished uploads also expire lazily at each begin; the
            // sweep frees the space of those nobody comes back to.
            let every = (hub.limits.upload_ttl_secs / 4).clamp(60, 3600);
            let mut tick = tokio::time::interval(Duration::from_secs(every.unsigned_abs()));
            loop {
                tick.tick().await;
                let h = hub.clone();
                match tokio::task::spawn_blocking(move || h.expire_uploads_at(now_secs())).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "upload sweep"),
                    Err(e) => tracing::warn!(error = %e, "upload sweep task"),
                }
            }
        });
        Ok(())
    }

    /// Broadcasts committed events not yet published.
    fn publish_new(&self) -> Result<(), ApiError> {
        // Only a cursor behind the lock: usable after a panic elsewhere.
        let mut last = self.published.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let rows = self.db.feed_after(*last, 1000)?;
            if rows.is_empty() {
                return Ok(());
            }
            for (row, viewers) in rows {
                *last = row.gseq;
                let event = stored_event(&row);
                let json = serde_json::to_string(&event)
                    .map_err(|e| ApiError::internal(format!("事件无法编码：{e}")))?;
                let _ = self.live.send(Arc::new(LiveEvent {
                    event,
                    json: json.into(),
                    viewers: viewers.into_iter().collect(),
                }));
            }
        }
    }

    /// Subscribes to the live feed (every event; filter by viewers).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.live.subscribe()
    }

    // ----- accounts and sessions -------------------------------------

    /// Creates an account. `person` need not be in the org (an IT
    /// administrator), but only org people can sign case events.
    pub fn create_user(
        &self,
        person: &str,
        password: &str,
        is_admin: bool,
    ) -> Result<(), ApiError> {
        crate::admin::create_account(self.db.as_ref(), person, password, is_admin)
    }

    /// Logs in with a password; returns a new session token. As
    /// [`Hub::login_from`] without a source address.
    pub fn login(
        &self,
        person: &str,
        password: &str,
        device: Option<&str>,
    ) -> Result<LoginResult, ApiError> {
        self.login_from(person, password, device, None)
    }

    /// The one gate of every credential endpoint: bounded password checks
    /// (the excess gets 429), the lockout per account and per `source`
    /// address (429 with how long, even for the right password), and a
    /// log line for every failure.
    pub fn login_from(
        &self,
        person: &str,
        password: &str,
        device: Option<&str>,
        source: Option<IpAddr>,
    ) -> Result<LoginResult, ApiError> {
        let r = self.try_login(person, password, device, source);
        if let Err(e) = &r {
            log_login_failure(person, source, e.body.code.as_str());
        }
        r
    }

    fn login_rules(&self) -> (LockRule, LockRule) {
        let rule = |max| LockRule {
            max_failures: max,
            lock_secs: self.limits.login_lock_secs,
            max_lock_secs: self.limits.login_lock_max_secs,
            forget_secs: LOGIN_FORGET_SECS,
        };
        (
            rule(self.limits.login_max_failures),
            rule(self.limits.login_source_max_failures),
        )
    }

    fn try_login(
        &self,
        person: &str,
        password: &str,
        device: Option<&str>,
        source: Option<IpAddr>,
    ) -> Result<LoginResult, ApiError> {
        let bad = || ApiError::unauthorized("账号或密码错误");
        let admitted = self.passwords.admit()?;
        // Counted before the check, so parallel guesses count too.
        let account: String = person.chars().take(128).collect();
        let mut keys = vec![format!("account:{account}")];
        if let Some(ip) = source {
            keys.push(format!("source:{ip}"));
        }
        let (account_rule, source_rule) = self.login_rules();
        let now = now_secs();
        let mut locked: Option<i64> = None;
        self.db
            .login_counters(&keys, now - LOGIN_FORGET_SECS, &mut |rows| {
                locked = None;
                if let Some(until) = rows
                    .iter()
                    .map(|c| c.locked_until)
                    .filter(|u| *u > now)
                    .max()
                {
                    locked = Some(until);
                    return;
                }
                let mut next = rows.to_vec();
                let mut newly = Vec::new();
                for (i, c) in next.iter_mut().enumerate() {
                    let rule = if i == 0 { &account_rule } else { &source_rule };
                    if let Err(until) = rule.attempt(c, now) {
                        newly.push(i);
                        locked = Some(locked.map_or(until, |l| l.max(until)));
                    }
                }
                if newly.is_empty() {
                    rows.clone_from_slice(&next);
                } else {
                    // Only the new locks are kept; the other keys are not
                    // counted for a refused attempt.
                    for i in newly {
                        rows[i] = next[i].clone();
                    }
                }
            })?;
        if let Some(until) = locked {
            let secs = (until - now).max(1);
            return Err(ApiError::new(
                ErrorCode::LockedOut,
                format!("登录失败次数过多，已暂时锁定，请 {secs} 秒后再试"),
            )
            .retry_after(secs as u64));
        }
        let user = self.db.user(person)?;
        let Some(user) = user else {
            // Same work as a real check, so timing does not tell which
            // accounts exist.
            let _ = self.passwords.check(&admitted, password, "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$5Oz/dqs9Tk8EcFV6xhdL3Ii8M8TxT2ArJXfCXXkmrH8");
            return Err(bad());
        };
        if !self
            .passwords
            .check(&admitted, password, &user.password_hash)
        {
            return Err(bad());
        }
        drop(admitted);
        // The right password: the account starts afresh, and this attempt
        // is taken off the source's count.
        self.db
            .login_counters(&keys, now - LOGIN_FORGET_SECS, &mut |rows| {
                for (i, c) in rows.iter_mut().enumerate() {
                    if i == 0 {
                        c.failures = 0;
                        c.lockouts = 0;
                    } else {
                        c.failures = (c.failures - 1).max(0);
                    }
                }
            })?;
        if user.disabled {
            return Err(ApiError::new(
                ErrorCode::Disabled,
                "该账号已停用，请联系系统管理员",
            ));
        }
        let token = random_token()?;
        let now = now_secs();
        self.db.insert_session(&SessionRow {
            token_hash: sm3_hex(token.as_bytes()),
            person: user.person.clone(),
            device: device.map(str::to_string),
            created_at: now,
            last_seen: now,
            revoked: false,
        })?;
        Ok(LoginResult {
            token,
            person: user.person.clone(),
            name: self.reg().org.person(&user.person).map(|p| p.name.clone()),
            is_admin: user.is_admin,
            expires_at: now + self.limits.session_absolute_secs,
            idle_timeout_secs: self.limits.session_idle_secs,
        })
    }

    // ----- disk ------------------------------------------------------

    /// Watches the free space of `dir`'s filesystem (the data directory).
    pub fn watch_disk(&self, dir: PathBuf) {
        let _ = self.disk_dir.set(dir);
    }

    /// Free bytes on the watched filesystem, if one is watched and can be
    /// asked.
    pub fn free_bytes(&self) -> Option<u64> {
        crate::disk::free_bytes(self.disk_dir.get()?)
    }

    /// Whether the watched filesystem is below the free-space floor.
    pub fn disk_low(&self) -> bool {
        self.free_bytes()
            .is_some_and(|f| f < self.limits.min_free_bytes)
    }

    /// 507 when the disk is low: new uploads are refused (events, small,
    /// still go in while they can).
    pub fn check_disk(&self) -> Result<(), ApiError> {
        if self.disk_low() {
            return Err(ApiError::insufficient_storage());
        }
        Ok(())
    }

    /// Checks a bearer token: known, not revoked, within the idle and
    /// absolute timeouts, account enabled.
    pub fn authenticate(&self, token: &str) -> Result<Caller, ApiError> {
        self.authenticate_as(token, true)
    }

    /// As [`Hub::authenticate`]; `active: false` (a browser's background
    /// refresh, no one at the keyboard) leaves the idle clock running.
    pub fn authenticate_as(&self, token: &str, active: bool) -> Result<Caller, ApiError> {
        self.session_check(&sm3_hex(token.as_bytes()), active)
            .map(|(c, _)| c)
    }

    /// Checks the session whose token has SM3 `th`; the caller and the
    /// Unix time at which the session ends unless it is used again (the
    /// earlier of its idle and absolute limits).
    pub fn session_check(&self, th: &str, active: bool) -> Result<(Caller, i64), ApiError> {
        let th = th.to_string();
        let s = self
            .db
            .session(&th)?
            .ok_or_else(|| ApiError::unauthorized("未登录或登录已失效，请重新登录"))?;
        let now = now_secs();
        if s.revoked {
            return Err(ApiError::unauthorized("登录已被注销，请重新登录"));
        }
        if now - s.created_at > self.limits.session_absolute_secs {
            return Err(ApiError::unauthorized("登录已超过最长时限，请重新登录"));
        }
        if now - s.last_seen > self.limits.session_idle_secs {
            return Err(ApiError::unauthorized(
                "长时间未操作，登录已失效，请重新登录",
            ));
        }
        let user = self
            .db
            .user(&s.person)?
            .ok_or_else(|| ApiError::unauthorized("账号不存在"))?;
        if user.disabled {
            return Err(ApiError::new(
                ErrorCode::Disabled,
                "该账号已停用，请联系系统管理员",
            ));
        }
        // Touch at most once a minute (a write per request would cost the
        // push path a commit), and often enough that a short idle limit
        // never ends a session in use.
        let mut last_seen = s.last_seen;
        // Best effort: a session that cannot be touched (a full disk) still
        // serves this request; it only ages as if unused.
        if active
            && now - s.last_seen >= touch_interval(self.limits.session_idle_secs)
            && self.db.touch_session(&th, now).is_ok()
        {
            last_seen = now;
        }
        let ends = (s.created_at + self.limits.session_absolute_secs)
            .min(last_seen + self.limits.session_idle_secs);
        Ok((
            Caller {
                person: s.person,
                is_admin: user.is_admin,
                device: s.device,
                token_hash: th,
            },
            ends,
        ))
    }

    pub fn logout(&self, caller: &Caller) -> Result<(), ApiError> {
        self.db.revoke_session(&caller.token_hash)?;
        let _ = self.ended.send(SessionEnded {
            person: caller.person.clone(),
            token_hash: Some(caller.token_hash.clone()),
        });
        Ok(())
    }

    /// Ends every session of `person` (an administrator's revocation);
    /// returns how many.
    pub fn revoke_sessions_of(&self, person: &str) -> Result<u64, ApiError> {
        let n = self.db.revoke_sessions_of(person)?;
        let _ = self.ended.send(SessionEnded {
            person: person.to_string(),
            token_hash: None,
        });
        Ok(n)
    }

    /// Sessions ended in this process (live streams listen to close).
    pub fn session_ends(&self) -> broadcast::Receiver<SessionEnded> {
        self.ended.subscribe()
    }

    // ----- enrolment -------------------------------------------------

    /// Registers a device and the caller's SM2 public key, pending an
    /// administrator's approval. Re-enrolling the same key on the same
    /// device returns the existing enrolment.
    pub fn enrol(
        &self,
        caller: &Caller,
        device: &str,
        device_name: &str,
        pem: &str,
    ) -> Result<Enrolment, ApiError> {
        let device = device.trim();
        if device.is_empty() || device.len() > 100 {
            return Err(ApiError::new(ErrorCode::BadDevice, "设备编号无效"));
        }
        let key = PublicKey::from_pem(pem)
            .map_err(|e| ApiError::new(ErrorCode::BadKey, format!("公钥无效：{e}")))?;
        let fp = key.fingerprint();
        let all = self.db.enrolments(None)?;
        if let Some(e) = all.iter().find(|e| {
            e.person == caller.person
                && e.device == device
                && e.fingerprint == fp
                && e.status != "rejected"
                && e.status != "revoked"
        }) {
            return Ok(e.clone().into());
        }
        // A key on a device names the case numbers it may issue
        // (jingwu_core::caseno): no two enrolments may share an issuer, or
        // they could issue the same numbers.
        let issuer = jingwu_core::caseno::issuer_of(&fp, device);
        if all.iter().any(|e| {
            (e.fingerprint != fp || e.device != device)
                && e.status != "rejected"
                && jingwu_core::caseno::issuer_of(&e.fingerprint, &e.device) == issuer
        }) {
            return Err(ApiError::new(
                ErrorCode::KeyIssuerTaken,
                format!(
                    "本机签名密钥的编号签发码 {issuer} 与已登记的另一台设备相同，请重新安装本机客户端（生成新的设备编号）后再登记"
                ),
            ));
        }
        let row = EnrolmentRow {
            id: Uuid::now_v7().to_string(),
            device: device.to_string(),
            device_name: device_name.chars().take(100).collect(),
            person: caller.person.clone(),
            fingerprint: fp,
            pem: key.to_pem(),
            status: "pending".into(),
            created_at: crate::now_rfc3339(),
            decided_by: None,
            decided_at: None,
        };
        self.db.insert_enrolment(&row)?;
        Ok(row.into())
    }

    /// An administrator approves, rejects or revokes an enrolment.
    pub fn decide_enrolment(
        &self,
        caller: &Caller,
        id: &str,
        decision: &str,
    ) -> Result<Enrolment, ApiError> {
        crate::admin::Admin::of(self, caller)?
            .decide_device(id, decision)
            .map(Enrolment::from)
    }

    /// Forgets a revoked key at once (other hub processes within
    /// `KEY_TTL`).
    pub(crate) fn forget_key(&self, person: &str, fingerprint: &str) {
        let k = (person.to_string(), fingerprint.to_string());
        if let Ok(mut c) = self.keys.write() {
            c.remove(&k);
        }
        if let Ok(mut d) = self.devices.write() {
            d.remove(&k);
        }
    }

    /// An approved key, from the cache or the database.
    pub fn key(&self, person: &str, fingerprint: &str) -> Result<Option<PublicKey>, ApiError> {
        let k = (person.to_string(), fingerprint.to_string());
        if let Ok(cache) = self.keys.read() {
            if let Some((pk, at)) = cache.get(&k) {
                if at.elapsed() < KEY_TTL {
                    return Ok(Some(pk.clone()));
                }
            }
        }
        let Some(pem) = self.db.approved_key(person, fingerprint)? else {
            return Ok(None);
        };
        let pk = PublicKey::from_pem(&pem)
            .map_err(|e| ApiError::internal(format!("已登记的公钥无法解析：{e}")))?;
        if let Ok(mut cache) = self.keys.write() {
            cache.insert(k, (pk.clone(), Instant::now()));
        }
        Ok(Some(pk))
    }

    /// Whether `person`'s approved key `fingerprint` is enrolled on
    /// `device`, approved or awaiting approval (a case's first event must
    /// come from an enrolled device: its number names the key and device,
    /// and enrolment is where two devices' issuers are kept apart; see
    /// jingwu_core::caseno).
    fn device_enrolled(
        &self,
        person: &str,
        fingerprint: &str,
        device: &str,
    ) -> Result<bool, ApiError> {
        let k = (person.to_string(), fingerprint.to_string());
        if let Ok(cache) = self.devices.read() {
            if let Some((set, at)) = cache.get(&k) {
                if at.elapsed() < KEY_TTL && set.contains(device) {
                    return Ok(true);
                }
            }
        }
        let set: HashSet<String> = self
            .db
            .enrolments(None)?
            .into_iter()
            .filter(|e| {
                e.person == person
                    && e.fingerprint == fingerprint
                    && (e.status == "approved" || e.status == "pending")
            })
            .map(|e| e.device)
            .collect();
        let found = set.contains(device);
        if let Ok(mut cache) = self.devices.write() {
            cache.insert(k, (set, Instant::now()));
        }
        Ok(found)
    }

    // ----- events ----------------------------------------------------

    /// Accepts a batch of signed events, all or nothing: each must be
    /// authored by the caller with an approved key, carry a valid
    /// signature, be allowed by the case's rules at its current step and
    /// extend the case's head. Resent events are acknowledged again.
    ///
    /// Concurrent pushes are committed together (see `crate::group`); the
    /// answer comes after the commit. Not to be called from the rayon pool
    /// while holding the write transaction.
    pub fn push(&self, caller: &Caller, batch: &[WireEvent]) -> Result<PushResult, ApiError> {
        if batch.is_empty() {
            return Ok(PushResult {
                results: Vec::new(),
            });
        }
        if batch.len() > self.limits.max_batch {
            return Err(ApiError::new(
                ErrorCode::BatchTooLarge,
                format!("一次最多提交 {} 个事件", self.limits.max_batch),
            ));
        }
        // Decoding (base64, JSON, canonical form, SM3) is parallel too.
        let decoded: Vec<Result<SignedEvent, ApiError>> = batch
            .par_iter()
            .enumerate()
            .map(|(i, w)| decode_event(i, w))
            .collect();
        // The first bad event is the one reported.
        let events: Vec<SignedEvent> = decoded.into_iter().collect::<Result<_, _>>()?;
        // A case created with a registry version this process has not
        // loaded yet (published by the command line or another hub
        // process) is decided with it, not refused.
        let known = self.reg().published_version();
        if events.iter().any(|e| match &e.event.action {
            Action::Create { registry, .. } => *registry > known,
            _ => false,
        }) {
            self.refresh_registry()?;
        }
        let mut keys = Vec::with_capacity(events.len());
        for (i, e) in events.iter().enumerate() {
            let id = Some(e.event.id.to_string());
            if e.event.author != caller.person {
                return Err(ApiError::new(
                    ErrorCode::NotAuthor,
                    format!("只能提交本人签名的事件（事件签名人为 {}）", e.event.author),
                )
                .at(i, id));
            }
            let key = self.key(&e.event.author, &e.event.key)?.ok_or_else(|| {
                ApiError::new(
                    ErrorCode::KeyNotEnrolled,
                    "签名所用的密钥未登记或未经管理员批准，请先完成设备登记",
                )
                .at(i, id.clone())
            })?;
            if matches!(e.event.action, Action::Create { .. })
                && !self.device_enrolled(&e.event.author, &e.event.key, &e.event.device)?
            {
                return Err(ApiError::new(
                    ErrorCode::DeviceNotEnrolled,
                    "案件须在已向县局登记的设备上受理（受理编号含本机签发码），该设备未登记或登记已被撤销",
                )
                .at(i, id));
            }
            keys.push(key);
        }
        // Signatures are checked on the rayon pool while the push waits
        // for its group and while the writer applies its rules (a bad one
        // is still the answer, before any rule's).
        let pending = Arc::new(PendingPush {
            person: caller.person.clone(),
            events,
            keys,
            verified: Slot::new(),
            answer: Slot::new(),
        });
        if rayon::current_thread_index().is_some() {
            // On the pool itself: verify here (the writer must never wait
            // for work queued behind it).
            pending
                .verified
                .set(verify_all(&pending.events, &pending.keys));
        } else {
            let job = pending.clone();
            rayon::spawn(move || job.verified.set(verify_all(&job.events, &job.keys)));
        }
        self.group
            .submit(pending, &|group| self.commit_group(group))
    }

    /// Writes one group of pushes in one transaction (see `crate::group`):
    /// each push in its own savepoint, all-or-nothing on its own; then
    /// one receipt signature for every event accepted; one commit; then
    /// each push gets its answer.
    fn commit_group(&self, group: &[Arc<PendingPush>]) {
        const SAVEPOINT: &str = "push";
        let mut outcomes: Vec<Result<Vec<PushedEvent>, ApiError>> = Vec::with_capacity(group.len());
        let mut sms_queued = false;
        let res = self.db.push::<ApiError>(&mut |tx| {
            outcomes.clear();
            sms_queued = false;
            let mut accepted: Vec<(&SignedEvent, i64)> = Vec::new();
            // The hub's time of acceptance, taken under the write lock.
            let now = hub_now();
            let received_at = crate::rfc3339(now);
            for p in group {
                tx.savepoint(SAVEPOINT)?;
                let mark = accepted.len();
                let applied =
                    self.apply_push(tx, p, now, &received_at, &mut accepted, &mut sms_queued);
                // The signatures were checked meanwhile; a bad one is the
                // answer, as if checked first.
                let outcome = p
                    .verified
                    .wait()
                    .and(applied)
                    .and_then(|r| tx.release(SAVEPOINT).map(|()| r).map_err(ApiError::from));
                if outcome.is_err() {
                    accepted.truncate(mark);
                    tx.rollback_to(SAVEPOINT)?;
                    tx.release(SAVEPOINT)?;
                }
                outcomes.push(outcome);
            }
            for (gseq, r) in self.hub_key.receipts(&accepted, now)? {
                tx.set_receipt(gseq, r.bytes(), r.signature())?;
            }
            Ok(())
        });
        let mut any = false;
        for (p, outcome) in group.iter().zip(outcomes) {
            let answer = match (&res, outcome) {
                // A push refused alone keeps its own answer.
                (_, Err(e)) => Err(e),
                (Ok(()), Ok(results)) => {
                    any |= results.iter().any(|r| !r.duplicate);
                    Ok(PushResult { results })
                }
                (Err(e), Ok(_)) => Err(e.clone()),
            };
            p.answer.set(answer);
        }
        // A failure before a push's turn (the transaction could not start).
        if let Err(e) = &res {
            for p in group {
                if !p.answer.is_set() {
                    p.answer.set(Err(e.clone()));
                }
            }
        }
        if any {
            self.wake.notify_one();
        }
        if sms_queued && res.is_ok() {
            self.sms_wake.notify_one();
        }
    }

    /// One push's events, in order, inside the group's transaction:
    /// duplicates acknowledged, each new event checked against the case's
    /// rules and stored. Accepted events are added to `accepted`.
    fn apply_push<'p>(
        &self,
        tx: &mut dyn EventTx,
        p: &'p PendingPush,
        now: time::OffsetDateTime,
        received_at: &str,
        accepted: &mut Vec<(&'p SignedEvent, i64)>,
        sms_queued: &mut bool,
    ) -> Result<Vec<PushedEvent>, ApiError> {
        let reg = &self.reg();
        let person = p.person.as_str();
        let mut results = Vec::with_capacity(p.events.len());
        for (i, se) in p.events.iter().enumerate() {
            let ev = &se.event;
            let id = Some(ev.id.to_string());
            let hash = se.hash_hex();
            if let Some(h) = tx.event_hash(&ev.id)? {
                if h != hash {
                    return Err(ApiError::new(
                        ErrorCode::IdReused,
                        "事件编号已被另一内容不同的事件使用",
                    )
                    .at(i, id));
                }
                results.push(PushedEvent {
                    id: ev.id,
                    gseq: None,
                    duplicate: true,
                });
                continue;
            }
            check_device_time(ev.time, now, self.limits.max_clock_ahead_secs)
                .map_err(|e| e.at(i, id.clone()))?;
            let current = tx.case_state(&ev.case_id)?;
            if current.is_some() && !tx.can_see(person, &ev.case_id)? {
                return Err(ApiError::new(ErrorCode::OutOfScope, "无权处理该案件").at(i, id));
            }
            let next = match &current {
                None => CaseState::create(ev, &hash, reg),
                Some(s) => s.apply(ev, &hash, reg),
            }
            .map_err(|e| rejection(e, current.as_ref()).at(i, id.clone()))?;
            if current.is_none() && tx.case_no_taken(&next.case_no, &ev.case_id)? {
                let mut err = ApiError::new(
                    ErrorCode::CaseNoTaken,
                    format!(
                        "受理编号 {} 已被另一案件使用，县局未接受该案件（其他案件不受影响）",
                        next.case_no
                    ),
                )
                .at(i, id);
                err.body.case_id = Some(ev.case_id.to_string());
                return Err(err);
            }
            if let Action::Attach { attachment, .. } = &ev.action {
                if !attachment_usable(tx, person, &attachment.sm3)? {
                    tracing::warn!(person, sm3 = %attachment.sm3, case = %ev.case_id,
                        "attach refused: attachment not held by the author nor in their cases");
                    return Err(ApiError::new(
                        ErrorCode::AttachmentMissing,
                        format!("附件“{}”尚未上传到县局，请先上传附件", attachment.name),
                    )
                    .at(i, id));
                }
                tx.link_attachment(&ev.case_id, &attachment.sm3)?;
            }
            let gseq = tx.insert_event(&NewEvent {
                id: &ev.id,
                case_id: &ev.case_id,
                seq: ev.seq as i64,
                bytes: se.bytes(),
                signature: se.signature(),
                hash: &hash,
                author: &ev.author,
                kind: ev.action.kind(),
                received_at,
            })?;
            accepted.push((se, gseq));
            // The applicant's SMS, owed from this event on: in its
            // transaction, so it exists exactly if the event does.
            if let Some(n) = ResultNotice::on_change(current.as_ref(), &next) {
                *sms_queued |=
                    tx.queue_sms(&crate::sms::outbox_row(&n, &ev.case_id, received_at))?;
            }
            tx.put_case(&next)?;
            tx.grant(
                &ev.case_id,
                &viewers_after(reg, current.is_none(), &next, &ev.author),
            )?;
            results.push(PushedEvent {
                id: ev.id,
                gseq: Some(gseq),
                duplicate: false,
            });
        }
        Ok(results)
    }

    /// Events after `after` that the caller may see.
    pub fn pull(
        &self,
        caller: &Caller,
        after: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, ApiError> {
        let limit = limit.clamp(1, self.limits.max_pull);
        Ok(self
            .db
            .events_after(&caller.person, after.max(0), limit)?
            .iter()
            .map(stored_event)
            .collect())
    }

    /// A case's whole log, if the caller may see it.
    pub fn case_events(
        &self,
        caller: &Caller,
        case_id: &Uuid,
    ) -> Result<Vec<StoredEvent>, ApiError> {
        if !self.db.can_see(&caller.person, case_id)? {
            return Err(ApiError::not_found("没有该案件，或无权查看"));
        }
        Ok(self
            .db
            .case_events(case_id)?
            .iter()
            .map(stored_event)
            .collect())
    }

    /// The case's events as verified signed events (for bundles).
    pub fn signed_events(&self, case_id: &Uuid) -> Result<Vec<SignedEvent>, ApiError> {
        self.db
            .case_events(case_id)?
            .into_iter()
            .map(|r| {
                SignedEvent::from_parts(r.bytes, r.signature)
                    .map_err(|e| ApiError::internal(format!("存储的事件无法解析：{e}")))
            })
            .collect()
    }

    /// Cases waiting for the caller's decision.
    pub fn inbox(&self, caller: &Caller) -> Result<Vec<CaseState>, ApiError> {
        let cases = self.db.visible_cases(&caller.person, "in_review", 500)?;
        Ok(cases
            .into_iter()
            .filter(|c| c.assignees(&self.reg()).iter().any(|a| a == &caller.person))
            .collect())
    }

    // ----- attachments -----------------------------------------------
    //
    // Scope: a stored attachment is readable by the people who hold it
    // (uploaded it completely themselves) and by those who may see a case
    // it was attached to. Uploads in progress belong to their uploader
    // alone. Anything else answers exactly as a missing file does.

    /// An attachment the caller may read: (mime, bytes).
    pub fn attachment_for(
        &self,
        caller: &Caller,
        sm3: &str,
    ) -> Result<(String, Vec<u8>), ApiError> {
        check_sm3(sm3)?;
        if !self.attachment_readable(caller, sm3)? {
            return Err(no_attachment());
        }
        self.db.attachment(sm3)?.ok_or_else(no_attachment)
    }

    /// Whether the caller may read a stored attachment; logs an attempt
    /// at one out of their scope.
    fn attachment_readable(&self, caller: &Caller, sm3: &str) -> Result<bool, ApiError> {
        if self.db.attachment_in_scope(&caller.person, sm3)? {
            return Ok(true);
        }
        if self.db.attachment_meta(sm3)?.is_some() {
            tracing::warn!(person = %caller.person, sm3, "attachment outside the caller's scope refused");
        }
        Ok(false)
    }

    /// The caller's own upload of `sm3`, unless it has expired (then it
    /// is removed).
    fn own_upload(&self, caller: &Caller, sm3: &str) -> Result<Option<UploadRow>, ApiError> {
        let Some(u) = self.db.upload(&caller.person, sm3)? else {
            return Ok(None);
        };
        if now_secs() - u.touched_at > self.limits.upload_ttl_secs {
            self.db.upload_abort(&caller.person, sm3)?;
            return Ok(None);
        }
        Ok(Some(u))
    }

    /// Removes every unfinished upload untouched for longer than
    /// `upload_ttl_secs` at `now` (unix seconds); returns how many.
    pub fn expire_uploads_at(&self, now: i64) -> Result<u64, ApiError> {
        let n = self
            .db
            .expire_uploads(now.saturating_sub(self.limits.upload_ttl_secs))?;
        if n > 0 {
            tracing::info!(count = n, "expired unfinished uploads removed");
        }
        Ok(n)
    }

    /// Where the caller's upload of `sm3` stands: (received, complete).
    /// Complete when the caller may already read the file; `404` when
    /// they have no upload of it (whoever else has).
    pub fn upload_status(&self, caller: &Caller, sm3: &str) -> Result<(i64, bool), ApiError> {
        check_sm3(sm3)?;
        if let Some(u) = self.own_upload(caller, sm3)? {
            return Ok((u.received, false));
        }
        if self.attachment_readable(caller, sm3)? {
            if let Some((_, size)) = self.db.attachment_meta(sm3)? {
                return Ok((size, true));
            }
        }
        Err(no_upload())
    }

    /// Starts or resumes the caller's upload; returns (received,
    /// complete). Complete at once only when the caller may already read
    /// the file: someone else's copy is no proof that the caller has it,
    /// so they upload it like anyone (and then hold it too).
    pub fn upload_begin(
        &self,
        caller: &Caller,
        sm3: &str,
        size: i64,
        mime: &str,
    ) -> Result<(i64, bool), ApiError> {
        self.check_disk()?;
        check_sm3(sm3)?;
        if size <= 0 {
            return Err(ApiError::new(ErrorCode::EmptyUpload, "附件为空"));
        }
        if size > self.limits.max_upload_bytes {
            return Err(too_large(size, self.limits.max_upload_bytes));
        }
        if !ALLOWED_TYPES.iter().any(|(m, _)| *m == mime) {
            return Err(ApiError::new(
                ErrorCode::UnsupportedType,
                format!("不支持的附件类型 {mime}：只接受 JPEG、PNG、TIFF 图片和 PDF"),
            ));
        }
        let now = now_secs();
        self.expire_uploads_at(now)?;
        if self.db.attachment_in_scope(&caller.person, sm3)? {
            return Ok((size, true));
        }
        let quota = self.limits.upload_quota_bytes;
        match self
            .db
            .upload_begin(&caller.person, sm3, size, mime, now, quota)?
        {
            UploadBegin::Started(u) => Ok((u.received, false)),
            UploadBegin::OverQuota { used } => Err(ApiError::new(
                ErrorCode::UploadQuota,
                format!(
                    "未完成的上传已占用 {used} 字节，再加本附件 {size} 字节将超过每个账号 {quota} 字节的上限：\
                     请先传完其他附件再上传（{}未续传的上传会自动作废）",
                    duration_zh(self.limits.upload_ttl_secs)
                ),
            )),
        }
    }

    /// Appends a chunk at `offset` to the caller's upload; returns
    /// (received, complete). The upload completes when all bytes are in
    /// and their SM3 matches: the file is stored once whoever uploads it,
    /// and the caller holds it.
    pub fn upload_chunk(
        &self,
        caller: &Caller,
        sm3: &str,
        offset: i64,
        data: &[u8],
    ) -> Result<(i64, bool), ApiError> {
        self.check_disk()?;
        check_sm3(sm3)?;
        let person = caller.person.as_str();
        let Some(u) = self.own_upload(caller, sm3)? else {
            if self.attachment_readable(caller, sm3)? {
                if let Some((_, size)) = self.db.attachment_meta(sm3)? {
                    return Ok((size, true));
                }
            }
            return Err(no_upload());
        };
        if data.is_empty() {
            return Err(ApiError::new(ErrorCode::EmptyChunk, "上传的分块为空"));
        }
        if data.len() > self.limits.max_chunk_bytes {
            return Err(too_large(
                data.len() as i64,
                self.limits.max_chunk_bytes as i64,
            ));
        }
        let mismatch = |received: i64| {
            let mut e = ApiError::new(
                ErrorCode::OffsetMismatch,
                format!("分块位置不对：县局已收到 {received} 字节，应从该位置继续上传"),
            );
            e.body.received = Some(received);
            e
        };
        if offset != u.received {
            return Err(mismatch(u.received));
        }
        if offset + data.len() as i64 > u.size {
            return Err(ApiError::new(
                ErrorCode::UploadOverflow,
                format!("上传内容超出声明的大小 {} 字节", u.size),
            ));
        }
        if offset == 0 && !magic_ok(&u.mime, data) {
            return Err(ApiError::new(
                ErrorCode::TypeMismatch,
                format!(
                    "文件内容不是声明的类型 {}（可能是改了扩展名的其他文件）",
                    u.mime
                ),
            ));
        }
        if !self
            .db
            .upload_append(person, sm3, offset, data, now_secs())?
        {
            let now = self
                .db
                .upload(person, sm3)?
                .map(|u| u.received)
                .unwrap_or(0);
            return Err(mismatch(now));
        }
        let received = offset + data.len() as i64;
        if received < u.size {
            return Ok((received, false));
        }
        let all = self.db.upload_data(person, sm3)?;
        if all.len() as i64 != u.size || sm3_hex(&all) != sm3 {
            self.db.upload_abort(person, sm3)?;
            return Err(ApiError::new(
                ErrorCode::DigestMismatch,
                "上传内容与摘要不符（传输中损坏或分块次序错误），已作废，请重新上传",
            ));
        }
        self.db.upload_finish(person, sm3, &u.mime, &all)?;
        Ok((u.size, true))
    }
}

/// Whether `person` may attach the file to a case: they hold it, or it
/// already belongs to a case they may see.
fn attachment_usable(tx: &mut dyn EventTx, person: &str, sm3: &str) -> Result<bool, ApiError> {
    if tx.holds_attachment(person, sm3)? {
        return Ok(true);
    }
    for case in tx.attachment_cases(sm3)? {
        if tx.can_see(person, &case)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The answer for an attachment that is missing or out of the caller's
/// scope: the same, so that it does not tell which.
fn no_attachment() -> ApiError {
    ApiError::not_found("没有该附件，或无权查看")
}

/// The answer for an upload the caller does not have.
fn no_upload() -> ApiError {
    ApiError::not_found("没有该附件的上传，请先开始上传")
}

/// A span of seconds in words: "24 小时", "90 分钟".
fn duration_zh(secs: i64) -> String {
    if secs >= 3600 && secs % 3600 == 0 {
        format!("{} 小时", secs / 3600)
    } else {
        format!("{} 分钟", (secs + 59) / 60)
    }
}

fn too_large(size: i64, max: i64) -> ApiError {
    ApiError::new(
        ErrorCode::TooLarge,
        format!("附件过大（{size} 字节），上限 {max} 字节"),
    )
}

/// Whether `s` is an SM3 digest in lower-case hex.
pub fn check_sm3(s: &str) -> Result<(), ApiError> {
    if s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::BadDigest,
            "附件摘要应为 64 位小写十六进制 SM3",
        ))
    }
}

fn magic_ok(mime: &str, data: &[u8]) -> bool {
    ALLOWED_TYPES
        .iter()
        .find(|(m, _)| *m == mime)
        .is_some_and(|(_, magics)| magics.iter().any(|m| data.starts_with(m)))
}
