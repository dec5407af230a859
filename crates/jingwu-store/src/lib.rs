//! The station's local store (rusqlite): cases, their signed events, the
//! outbox that drains to the county hub, attachments content-addressed by
//! SM3, and users' encrypted signing keys.
//!
//! Durability: WAL with `synchronous=FULL`. Every write is one
//! transaction, committed before the call returns, so an event the caller
//! was told about survives a crash or a power cut. Nothing is half-saved:
//! an event, its case projection and its outbox entry commit together or
//! not at all.

pub mod private_fs;
mod schema;

use std::path::Path;

use jingwu_core::case::{CaseState, Rejection, Status};
use jingwu_core::caseno::CaseNo;
use jingwu_core::crypto::{self, EncryptedKey, PublicKey, Signer};
use jingwu_core::event::{Action, Event, EventError, SignedEvent};
use jingwu_core::form::{AttachmentRef, CaseType};
use jingwu_core::receipt::{ReceiptError, SignedReceipt};
use jingwu_core::registry::Registry;
use jingwu_core::reminders::DueAlert;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

pub use schema::SCHEMA_VERSION;

/// Largest attachment the store accepts (the hub enforces its own limit).
pub const MAX_ATTACHMENT_BYTES: usize = 64 * 1024 * 1024;

/// Errors of the store. Messages are shown to users.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("本地数据库错误：{0}")]
    Db(#[from] rusqlite::Error),
    #[error("本地数据库版本 {found} 比本程序支持的 {supported} 新，请升级程序")]
    TooNew { found: i64, supported: i64 },
    #[error("操作未被允许：{0}")]
    Rejected(#[from] Rejection),
    #[error("事件无效：{0}")]
    Event(#[from] EventError),
    #[error("签名无效：{0}")]
    Crypto(#[from] crypto::CryptoError),
    #[error("本地数据损坏：{0}")]
    Corrupt(String),
    #[error("案件不存在")]
    NoSuchCase,
    #[error("案件记录校验失败：{0}")]
    Chain(#[from] jingwu_core::event::ChainError),
    #[error("附件为空")]
    EmptyAttachment,
    #[error("附件过大（{size} 字节，上限 {max} 字节）")]
    AttachmentTooLarge { size: usize, max: usize },
    #[error("无法取得随机数")]
    Rng,
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
    #[error("没有县局回执公钥 {0}，无法校验回执")]
    UnknownHubKey(String),
    #[error("无法创建或保护本地数据文件 {path}：{source}")]
    File {
        path: String,
        source: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, StoreError>;

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Made on this device: queued in the outbox for the hub.
    Local,
    /// Received from the hub: already accepted there, not queued.
    Remote,
}

/// A row of the case list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CaseSummary {
    pub id: Uuid,
    pub case_type: CaseType,
    pub case_no: String,
    pub unit: String,
    pub status: Status,
    pub initiator: String,
    pub updated_at: String,
}

/// An outbox entry waiting for the hub.
/// A registered seal as the station keeps it (the seal itself is the
/// JSON of `jingwu_slip::seal::Seal`; the station checks it before
/// saving).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSeal {
    pub id: String,
    /// `unit` or `personal`.
    pub kind: String,
    pub holder: String,
    /// SM3 fingerprint of the key the seal is bound to.
    pub holder_key: String,
    pub seal_json: String,
    pub registered_at: String,
    pub revoked_at: Option<String>,
    pub revoked_by: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Pending {
    pub event: SignedEvent,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// The station store. One per data directory; not shared across threads
/// (open one per thread: SQLite serialises writers).
pub struct Store {
    conn: Connection,
}

fn now_text() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

impl Store {
    /// Opens (creating if needed) the store at `path` and migrates it.
    /// On Unix the file and SQLite's `-wal`/`-shm` beside it are 0600
    /// (made so before SQLite opens it; looser ones are tightened).
    pub fn open(path: &Path) -> Result<Store> {
        let file_err = |source| StoreError::File {
            path: path.display().to_string(),
            source,
        };
        private_fs::ensure_file(path).map_err(file_err)?;
        let conn = Connection::open(path)?;
        let store = Self::setup(conn)?;
        private_fs::tighten_sqlite(path).map_err(file_err)?;
        Ok(store)
    }

    /// An in-memory store, for tests and tools.
    pub fn open_in_memory() -> Result<Store> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<Store> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // WAL returns the mode it set; in-memory databases answer "memory".
        let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        conn.execute_batch(
            "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA trusted_schema=OFF;",
        )?;
        schema::migrate(&mut conn)?;
        Ok(Store { conn })
    }

    /// `PRAGMA integrity_check`: "ok" when the file is sound.
    pub fn integrity_check(&self) -> Result<String> {
        let rows: Vec<String> = self
            .conn
            .prepare("PRAGMA integrity_check")?
            .query_map([], |r| r.get(0))?
            .collect::<std::result::Result<_, _>>()?;
        Ok(rows.join("\n"))
    }

    /// The schema version in the file.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// This installation's device id, made on first use.
    pub fn device_id(&mut self) -> Result<String> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let existing: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE key='device_id'", [], |r| {
                r.get(0)
            })
            .optional()?;
        let id = match existing {
            Some(id) => id,
            None => {
                let id = uuid::Builder::from_random_bytes(random_bytes()?)
                    .into_uuid()
                    .to_string();
                tx.execute(
                    "INSERT INTO meta(key, value) VALUES('device_id', ?1)",
                    params![id],
                )?;
                id
            }
        };
        tx.commit()?;
        Ok(id)
    }

    /// Allocates the next 受理编号 of `unit` for `date`, issued by the key
    /// whose fingerprint is `key_fingerprint` on this store's device;
    /// unique by construction (the key and device's issuer component and
    /// this store's own counter), no hub needed.
    pub fn next_case_no(
        &mut self,
        unit: &str,
        key_fingerprint: &str,
        date: time::Date,
    ) -> Result<String> {
        let day = format!(
            "{:04}{:02}{:02}",
            date.year(),
            u8::from(date.month()),
            date.day()
        );
        let issuer = jingwu_core::caseno::issuer_of(key_fingerprint, &self.device_id()?);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let seq: u32 = tx.query_row(
            "INSERT INTO case_no_seq(unit, day, last) VALUES(?1, ?2, 1)
             ON CONFLICT(unit, day) DO UPDATE SET last = last + 1
             RETURNING last",
            params![unit, day],
            |r| r.get(0),
        )?;
        tx.commit()?;
        Ok(CaseNo::format(unit, date, &issuer, seq))
    }

    /// Checks, then durably records an event: signature against `key`,
    /// the rules against the case's current state, then event + case
    /// projection (+ outbox entry for local events) in one transaction.
    /// Returns the case's new state. Re-recording an event already stored
    /// is a no-op that returns the current state.
    pub fn append(
        &mut self,
        reg: &Registry,
        ev: &SignedEvent,
        key: &PublicKey,
        origin: Origin,
    ) -> Result<CaseState> {
        ev.verify(key)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let state = append_in(&tx, reg, ev, origin)?;
        tx.commit()?;
        Ok(state)
    }

    /// Replaces a case's local log with the hub's after the hub refused a
    /// local event for good (someone else decided first, or the rules
    /// said no): local events the hub does not have are moved to the
    /// `conflicts` table with `reason`, their outbox entries dropped, and
    /// the hub's events recorded, all in one transaction. `remote` must
    /// be the hub's whole log of the case, each with its author's key.
    pub fn rebase_case(
        &mut self,
        reg: &Registry,
        case_id: &Uuid,
        remote: &[(SignedEvent, PublicKey)],
        reason: &str,
    ) -> Result<Option<CaseState>> {
        for (ev, key) in remote {
            if ev.event.case_id != *case_id {
                return Err(StoreError::Corrupt("县局返回的事件不属于该案件".into()));
            }
            ev.verify(key)?;
        }
        let remote_ids: std::collections::HashSet<String> =
            remote.iter().map(|(e, _)| e.event.id.to_string()).collect();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let cid = case_id.to_string();
        let local: Vec<(String, i64, Vec<u8>, Vec<u8>)> = {
            let mut st =
                tx.prepare("SELECT id, seq, bytes, signature FROM events WHERE case_id=?1")?;
            let rows = st.query_map(params![cid], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
            rows.collect::<std::result::Result<_, _>>()?
        };
        let now = now_text();
        for (id, seq, bytes, sig) in &local {
            if !remote_ids.contains(id) {
                tx.execute(
                    "INSERT INTO conflicts(event_id, case_id, seq, bytes, signature, reason, at)
                     VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(event_id) DO NOTHING",
                    params![id, cid, seq, bytes, sig, reason, now],
                )?;
            }
        }
        tx.execute("DELETE FROM outbox WHERE case_id=?1", params![cid])?;
        tx.execute("DELETE FROM events WHERE case_id=?1", params![cid])?;
        tx.execute("DELETE FROM cases WHERE id=?1", params![cid])?;
        let mut state = None;
        for (ev, _) in remote {
            state = Some(append_in(&tx, reg, ev, Origin::Remote)?);
        }
        // 110 steps of this station that still apply on the hub's record
        // (another unit acted on it first) wait to be signed again, each
        // keeping the time it happened; the rest stay set aside, with the
        // rule that now refuses them.
        if let Some(s) = state.as_ref().filter(|s| s.case_type == CaseType::Incident) {
            let mut trial = s.clone();
            let mut set_aside: Vec<&(String, i64, Vec<u8>, Vec<u8>)> = local
                .iter()
                .filter(|l| !remote_ids.contains(&l.0))
                .collect();
            set_aside.sort_by_key(|l| l.1);
            for (id, _, bytes, _) in set_aside {
                let Ok(ev) = SignedEvent::from_parts(bytes.clone(), Vec::new()).map(|e| e.event)
                else {
                    continue;
                };
                let time = std::cmp::max(trial.updated_at, OffsetDateTime::now_utc());
                let again = Event::new(
                    trial.case_id,
                    trial.next_seq,
                    Some(trial.head.clone()),
                    &ev.author,
                    &ev.device,
                    &ev.key,
                    time,
                    [0; 10],
                    ev.action.clone().keeping_time(ev.time),
                );
                match trial.apply(&again, &trial.head.clone(), reg) {
                    Ok(next) => {
                        trial = next;
                        tx.execute(
                            "UPDATE conflicts SET redo = 1 WHERE event_id = ?1",
                            params![id],
                        )?;
                    }
                    Err(e) => {
                        tx.execute(
                            "UPDATE conflicts SET redo = 0, reason = reason || '；' || ?2
                              WHERE event_id = ?1",
                            params![id, e.to_string()],
                        )?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(state)
    }

    /// Set-aside 110 steps waiting to be signed again (see
    /// [`Store::rebase_case`]), oldest first.
    pub fn redo_pending(&self) -> Result<Vec<SignedEvent>> {
        let mut st = self
            .conn
            .prepare("SELECT bytes, signature FROM conflicts WHERE redo = 1 ORDER BY at, seq")?;
        let rows = st.query_map([], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (bytes, sig) = row?;
            out.push(SignedEvent::from_parts(bytes, sig)?);
        }
        Ok(out)
    }

    /// Marks a set-aside step as signed again (`refused` `None`), or as
    /// set aside for good with the rule that refused it.
    pub fn redo_done(&mut self, event_id: &Uuid, refused: Option<&str>) -> Result<()> {
        let id = event_id.to_string();
        match refused {
            None => self.conn.execute(
                "UPDATE conflicts SET redo = 2 WHERE event_id = ?1",
                params![id],
            )?,
            Some(why) => self.conn.execute(
                "UPDATE conflicts SET redo = 0, reason = reason || '；' || ?2 WHERE event_id = ?1",
                params![id, why],
            )?,
        };
        Ok(())
    }

    /// Local events the hub refused, with why: (event id, case id, reason).
    pub fn conflicts(&self) -> Result<Vec<(String, String, String)>> {
        let mut st = self
            .conn
            .prepare("SELECT event_id, case_id, reason FROM conflicts ORDER BY at, seq")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// A value of the station's settings (hub address, cursor, …).
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key=?1", params![key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Sets several settings in one transaction (all or none).
    pub fn set_metas(&mut self, pairs: &[(String, String)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for (k, v) in pairs {
            tx.execute(
                "INSERT INTO meta(key, value) VALUES(?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                params![k, v],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Sets (or with `None` removes) a setting.
    pub fn set_meta(&mut self, key: &str, value: Option<&str>) -> Result<()> {
        match value {
            Some(v) => self.conn.execute(
                "INSERT INTO meta(key, value) VALUES(?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                params![key, v],
            )?,
            None => self
                .conn
                .execute("DELETE FROM meta WHERE key=?1", params![key])?,
        };
        Ok(())
    }

    /// Builds, signs and records the next event of a case made on this
    /// device. `case_id` is `None` to open a new case (the action must be
    /// a `Create`).
    pub fn record(
        &mut self,
        reg: &Registry,
        signer: &dyn Signer,
        author: &str,
        case_id: Option<Uuid>,
        action: Action,
        time: OffsetDateTime,
    ) -> Result<CaseState> {
        let device = self.device_id()?;
        let (case_id, seq, prev) = match case_id {
            None => (Uuid::now_v7(), 0, None),
            Some(id) => {
                let s = self.case(&id)?.ok_or(StoreError::NoSuchCase)?;
                (id, s.next_seq, Some(s.head))
            }
        };
        let rnd = random_bytes()?;
        let mut random = [0u8; 10];
        random.copy_from_slice(&rnd[..10]);
        let ev = Event::new(
            case_id,
            seq,
            prev,
            author,
            &device,
            &signer.public_key().fingerprint(),
            time,
            random,
            action,
        );
        let se = SignedEvent::sign(ev, signer)?;
        self.append(reg, &se, signer.public_key(), Origin::Local)
    }

    /// The current state of a case.
    pub fn case(&self, id: &Uuid) -> Result<Option<CaseState>> {
        load_state(&self.conn, id)
    }

    /// Every event of a case, in order.
    pub fn events(&self, case_id: &Uuid) -> Result<Vec<SignedEvent>> {
        let mut stmt = self
            .conn
            .prepare("SELECT bytes, signature FROM events WHERE case_id=?1 ORDER BY seq")?;
        let rows = stmt.query_map(params![case_id.to_string()], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (b, s) = row?;
            out.push(SignedEvent::from_parts(b, s)?);
        }
        Ok(out)
    }

    /// A case's events, after checking every signature against the keys
    /// this store holds and the hash chain from the first event on.
    pub fn verified_events(&self, case_id: &Uuid) -> Result<Vec<SignedEvent>> {
        let events = self.events(case_id)?;
        let mut keys: std::collections::BTreeMap<(String, String), PublicKey> =
            std::collections::BTreeMap::new();
        for e in &events {
            let k = (e.event.author.clone(), e.event.key.clone());
            if let std::collections::btree_map::Entry::Vacant(slot) = keys.entry(k) {
                if let Some(pk) = self.public_key(&e.event.author, &e.event.key)? {
                    slot.insert(pk);
                }
            }
        }
        jingwu_core::event::verify_chain(&events, |a, f| {
            keys.get(&(a.to_string(), f.to_string()))
        })?;
        Ok(events)
    }

    /// Whether an event id is stored.
    pub fn has_event(&self, id: &Uuid) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM events WHERE id=?1",
                params![id.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Every case with `status`, as folded.
    pub fn cases_with_status(&self, status: Status) -> Result<Vec<CaseState>> {
        let mut stmt = self
            .conn
            .prepare("SELECT state_json FROM cases WHERE status=?1 ORDER BY id")?;
        let rows = stmt.query_map(params![enum_text(&status)?], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(serde_json::from_str(&row?).map_err(|e| StoreError::Corrupt(e.to_string()))?);
        }
        Ok(out)
    }

    /// Records `alerts` as shown and returns those not shown before, in
    /// one transaction: an alert (case, step instance, kind, person) is
    /// returned by one call only, ever — also across restarts and from
    /// two connections at once.
    pub fn claim_alerts(&mut self, alerts: Vec<DueAlert>) -> Result<Vec<DueAlert>> {
        if alerts.is_empty() {
            return Ok(alerts);
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut fresh = Vec::new();
        {
            let mut stmt = tx.prepare(
                "INSERT INTO alerts_sent(case_id, step_key, kind, person, sent_at)
                 VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
            )?;
            let at = now_text();
            for a in alerts {
                let n = stmt.execute(params![
                    a.case_id.to_string(),
                    a.step_key(),
                    a.kind.as_str(),
                    a.person,
                    at
                ])?;
                if n == 1 {
                    fresh.push(a);
                }
            }
        }
        tx.commit()?;
        Ok(fresh)
    }

    /// Case summaries, newest first.
    pub fn list_cases(&self, limit: u32) -> Result<Vec<CaseSummary>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, case_type, case_no, unit, status, initiator, updated_at
             FROM cases ORDER BY updated_at DESC, id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![limit], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, ct, no, unit, st, ini, up) = row?;
            out.push(CaseSummary {
                id: Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                case_type: text_enum(&ct)?,
                case_no: no,
                unit,
                status: text_enum(&st)?,
                initiator: ini,
                updated_at: up,
            });
        }
        Ok(out)
    }

    /// Outbox entries in the order they were made (per case, by seq).
    pub fn outbox(&self, limit: u32) -> Result<Vec<Pending>> {
        let mut stmt = self.conn.prepare(
            "SELECT e.bytes, e.signature, o.attempts, o.last_error
             FROM outbox o JOIN events e ON e.id = o.event_id
             ORDER BY o.rowid LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![limit], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, u32>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (b, s, attempts, last_error) = row?;
            out.push(Pending {
                event: SignedEvent::from_parts(b, s)?,
                attempts,
                last_error,
            });
        }
        Ok(out)
    }

    /// Number of events waiting for the hub.
    pub fn outbox_len(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM outbox", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    /// The hub acknowledged the event: drop it from the outbox.
    pub fn mark_sent(&mut self, event_id: &Uuid) -> Result<()> {
        self.conn.execute(
            "DELETE FROM outbox WHERE event_id=?1",
            params![event_id.to_string()],
        )?;
        Ok(())
    }

    /// A push failed: count it and remember why (the entry stays, in place).
    pub fn mark_failed(&mut self, event_id: &Uuid, error: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error=?2 WHERE event_id=?1",
            params![event_id.to_string(), error],
        )?;
        Ok(())
    }

    /// Stores an attachment, content-addressed by SM3; storing the same
    /// bytes twice keeps one copy.
    pub fn put_attachment(
        &mut self,
        bytes: &[u8],
        name: &str,
        mime: &str,
    ) -> Result<AttachmentRef> {
        if bytes.is_empty() {
            return Err(StoreError::EmptyAttachment);
        }
        if bytes.len() > MAX_ATTACHMENT_BYTES {
            return Err(StoreError::AttachmentTooLarge {
                size: bytes.len(),
                max: MAX_ATTACHMENT_BYTES,
            });
        }
        let sm3 = crypto::sm3_hex(bytes);
        self.conn.execute(
            "INSERT INTO attachments(sm3, size, mime, data, created_at) VALUES(?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(sm3) DO NOTHING",
            params![sm3, bytes.len() as i64, mime, bytes, now_text()],
        )?;
        Ok(AttachmentRef {
            sm3,
            name: name.to_string(),
            mime: mime.to_string(),
            size: bytes.len() as u64,
            pages: None,
        })
    }

    /// An attachment's bytes, checked against its SM3 on the way out.
    pub fn attachment(&self, sm3: &str) -> Result<Option<Vec<u8>>> {
        let data: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT data FROM attachments WHERE sm3=?1",
                params![sm3],
                |r| r.get(0),
            )
            .optional()?;
        match data {
            Some(d) if crypto::sm3_hex(&d) != sm3 => {
                Err(StoreError::Corrupt(format!("附件 {sm3} 内容与摘要不符")))
            }
            other => Ok(other),
        }
    }

    /// Saves a user's encrypted signing key (a new key does not replace old
    /// ones: old events must stay verifiable).
    pub fn save_key(&mut self, person: &str, key: &EncryptedKey) -> Result<()> {
        let json = serde_json::to_string(key).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.conn.execute(
            "INSERT INTO keys(person, fingerprint, encrypted, created_at) VALUES(?1, ?2, ?3, ?4)
             ON CONFLICT(person, fingerprint) DO NOTHING",
            params![person, key.public_key.fingerprint(), json, now_text()],
        )?;
        Ok(())
    }

    /// The newest signing key of `person` on this device.
    pub fn key(&self, person: &str) -> Result<Option<EncryptedKey>> {
        let json: Option<String> = self
            .conn
            .query_row(
                "SELECT encrypted FROM keys WHERE person=?1 ORDER BY rowid DESC LIMIT 1",
                params![person],
                |r| r.get(0),
            )
            .optional()?;
        json.map(|j| serde_json::from_str(&j).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }

    /// Remembers a key of the hub that signs receipts (fetched from the
    /// hub over its pinned TLS link).
    pub fn save_hub_key(&mut self, key: &PublicKey) -> Result<()> {
        self.conn.execute(
            "INSERT INTO hub_keys(fingerprint, pem) VALUES(?1, ?2)
             ON CONFLICT(fingerprint) DO NOTHING",
            params![key.fingerprint(), key.to_pem()],
        )?;
        Ok(())
    }

    /// A hub receipt key by fingerprint.
    pub fn hub_key(&self, fingerprint: &str) -> Result<Option<PublicKey>> {
        let pem: Option<String> = self
            .conn
            .query_row(
                "SELECT pem FROM hub_keys WHERE fingerprint=?1",
                params![fingerprint],
                |r| r.get(0),
            )
            .optional()?;
        Ok(pem.map(|p| PublicKey::from_pem(&p)).transpose()?)
    }

    /// Keeps the hub's receipt of `event` after checking it against the
    /// hub key it names and the event itself. A receipt already kept for
    /// the event stays.
    pub fn save_receipt(&mut self, event: &SignedEvent, receipt: &SignedReceipt) -> Result<()> {
        let key = self
            .hub_key(&receipt.body.hub_key)?
            .ok_or_else(|| StoreError::UnknownHubKey(receipt.body.hub_key.clone()))?;
        receipt.verify(&key, event)?;
        let at = receipt
            .body
            .received_at
            .format(&Rfc3339)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.conn.execute(
            "INSERT INTO receipts(event_id, case_id, bytes, signature, received_at)
             VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(event_id) DO NOTHING",
            params![
                event.event.id.to_string(),
                event.event.case_id.to_string(),
                receipt.bytes(),
                receipt.signature(),
                at
            ],
        )?;
        Ok(())
    }

    /// The hub's time of acceptance of each event of the case that has a
    /// receipt here, every receipt checked again against the hub key and
    /// the verified event (a receipt that no longer verifies is an error).
    pub fn receipt_times(
        &self,
        case_id: &Uuid,
    ) -> Result<std::collections::HashMap<Uuid, OffsetDateTime>> {
        let events = self.verified_events(case_id)?;
        let mut st = self
            .conn
            .prepare("SELECT event_id, bytes, signature FROM receipts WHERE case_id=?1")?;
        let rows = st
            .query_map(params![case_id.to_string()], |r| {
                Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<Vec<(String, Vec<u8>, Vec<u8>)>>>()?;
        let mut out = std::collections::HashMap::new();
        for (id, bytes, sig) in rows {
            let Some(ev) = events.iter().find(|e| e.event.id.to_string() == id) else {
                // The event was replaced (a rebase): its receipt no longer applies.
                continue;
            };
            let r = SignedReceipt::from_parts(bytes, sig)?;
            let key = self
                .hub_key(&r.body.hub_key)?
                .ok_or_else(|| StoreError::UnknownHubKey(r.body.hub_key.clone()))?;
            r.verify(&key, ev)?;
            out.insert(ev.event.id, r.body.received_at);
        }
        Ok(out)
    }

    /// Remembers another person's public key (from the hub), for verifying.
    pub fn save_public_key(&mut self, person: &str, key: &PublicKey) -> Result<()> {
        self.conn.execute(
            "INSERT INTO public_keys(person, fingerprint, pem) VALUES(?1, ?2, ?3)
             ON CONFLICT(person, fingerprint) DO NOTHING",
            params![person, key.fingerprint(), key.to_pem()],
        )?;
        Ok(())
    }

    /// Saves a registered seal; a seal already stored keeps its content
    /// and only takes on a revocation.
    pub fn save_seal(&mut self, s: &StoredSeal) -> Result<()> {
        self.conn.execute(
            "INSERT INTO seals(id, kind, holder, holder_key, seal_json, registered_at, revoked_at,
               revoked_by)
             VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT(id) DO UPDATE SET
               revoked_at = COALESCE(seals.revoked_at, excluded.revoked_at),
               revoked_by = COALESCE(seals.revoked_by, excluded.revoked_by)",
            params![
                s.id,
                s.kind,
                s.holder,
                s.holder_key,
                s.seal_json,
                s.registered_at,
                s.revoked_at,
                s.revoked_by
            ],
        )?;
        Ok(())
    }

    /// Every stored seal, oldest registration first.
    pub fn seals(&self) -> Result<Vec<StoredSeal>> {
        let mut st = self.conn.prepare(
            "SELECT id, kind, holder, holder_key, seal_json, registered_at, revoked_at, revoked_by
             FROM seals ORDER BY registered_at, id",
        )?;
        let rows = st.query_map([], |r| {
            Ok(StoredSeal {
                id: r.get(0)?,
                kind: r.get(1)?,
                holder: r.get(2)?,
                holder_key: r.get(3)?,
                seal_json: r.get(4)?,
                registered_at: r.get(5)?,
                revoked_at: r.get(6)?,
                revoked_by: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// A known public key by person and fingerprint (own keys included).
    pub fn public_key(&self, person: &str, fingerprint: &str) -> Result<Option<PublicKey>> {
        let pem: Option<String> = self
            .conn
            .query_row(
                "SELECT pem FROM public_keys WHERE person=?1 AND fingerprint=?2",
                params![person, fingerprint],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(p) = pem {
            return Ok(Some(PublicKey::from_pem(&p)?));
        }
        let own: Option<String> = self
            .conn
            .query_row(
                "SELECT encrypted FROM keys WHERE person=?1 AND fingerprint=?2",
                params![person, fingerprint],
                |r| r.get(0),
            )
            .optional()?;
        own.map(|j| {
            serde_json::from_str::<EncryptedKey>(&j)
                .map(|k| k.public_key)
                .map_err(|e| StoreError::Corrupt(e.to_string()))
        })
        .transpose()
    }
}

/// A file kept on the station only (a scan's original, for evidence).
#[derive(Debug, Clone, Copy)]
pub struct LocalOriginal<'a> {
    pub bytes: &'a [u8],
    pub name: &'a str,
    pub mime: &'a str,
}

/// A new attachment stored with [`Store::record_batch`].
#[derive(Debug, Clone, Copy)]
pub struct NewAttachment<'a> {
    pub bytes: &'a [u8],
    pub mime: &'a str,
}

/// Where a processed scan page came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PageOrigin {
    /// SM3 of the original file.
    pub original_sm3: String,
    /// The original's file name.
    pub original_name: String,
    /// 1-based page of the original.
    pub page: u32,
}

/// What [`Store::record_batch`] stores and records together.
#[derive(Debug, Clone, Default)]
pub struct Batch<'a> {
    /// Attachments to store first (content-addressed).
    pub attachments: Vec<NewAttachment<'a>>,
    /// An original kept locally (never referenced by an event).
    pub original: Option<LocalOriginal<'a>>,
    /// (processed page SM3, original SM3, page number) links.
    pub links: Vec<(String, String, u32)>,
    /// Actions on the case, recorded in order as signed local events.
    pub actions: Vec<Action>,
}

impl Store {
    /// Stores attachments, an original and page links, and records a run
    /// of events on one case — all in one transaction: either everything
    /// is saved or nothing is (a refused action leaves no file, link or
    /// event behind).
    pub fn record_batch(
        &mut self,
        reg: &Registry,
        signer: &dyn Signer,
        author: &str,
        case_id: Uuid,
        batch: &Batch<'_>,
        time: OffsetDateTime,
    ) -> Result<CaseState> {
        let device = self.device_id()?;
        let fp = signer.public_key().fingerprint();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for a in &batch.attachments {
            put_attachment_in(&tx, a.bytes, a.mime)?;
        }
        if let Some(o) = &batch.original {
            if o.bytes.is_empty() {
                return Err(StoreError::EmptyAttachment);
            }
            tx.execute(
                "INSERT INTO scan_originals(sm3, name, mime, size, data, created_at)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(sm3) DO NOTHING",
                params![
                    crypto::sm3_hex(o.bytes),
                    o.name,
                    o.mime,
                    o.bytes.len() as i64,
                    o.bytes,
                    now_text()
                ],
            )?;
        }
        for (page_sm3, original_sm3, page) in &batch.links {
            tx.execute(
                "INSERT INTO scan_pages(page_sm3, original_sm3, page, created_at)
                 VALUES(?1, ?2, ?3, ?4) ON CONFLICT(page_sm3) DO NOTHING",
                params![page_sm3, original_sm3, page, now_text()],
            )?;
        }
        let mut state = load_state(&tx, &case_id)?.ok_or(StoreError::NoSuchCase)?;
        for action in &batch.actions {
            let rnd = random_bytes()?;
            let mut random = [0u8; 10];
            random.copy_from_slice(&rnd[..10]);
            let ev = Event::new(
                case_id,
                state.next_seq,
                Some(state.head.clone()),
                author,
                &device,
                &fp,
                time,
                random,
                action.clone(),
            );
            let se = SignedEvent::sign(ev, signer)?;
            se.verify(signer.public_key())?;
            state = append_in(&tx, reg, &se, Origin::Local)?;
        }
        tx.commit()?;
        Ok(state)
    }

    /// Where a processed scan page came from, if it was imported here.
    pub fn page_origin(&self, page_sm3: &str) -> Result<Option<PageOrigin>> {
        Ok(self
            .conn
            .query_row(
                "SELECT p.original_sm3, o.name, p.page FROM scan_pages p
                 JOIN scan_originals o ON o.sm3 = p.original_sm3 WHERE p.page_sm3=?1",
                params![page_sm3],
                |r| {
                    Ok(PageOrigin {
                        original_sm3: r.get(0)?,
                        original_name: r.get(1)?,
                        page: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// A scan original's bytes, checked against its SM3.
    pub fn original(&self, sm3: &str) -> Result<Option<Vec<u8>>> {
        let data: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT data FROM scan_originals WHERE sm3=?1",
                params![sm3],
                |r| r.get(0),
            )
            .optional()?;
        match data {
            Some(d) if crypto::sm3_hex(&d) != sm3 => Err(StoreError::Corrupt(format!(
                "扫描原件 {sm3} 内容与摘要不符"
            ))),
            other => Ok(other),
        }
    }
}

fn put_attachment_in(tx: &rusqlite::Transaction<'_>, bytes: &[u8], mime: &str) -> Result<String> {
    if bytes.is_empty() {
        return Err(StoreError::EmptyAttachment);
    }
    if bytes.len() > MAX_ATTACHMENT_BYTES {
        return Err(StoreError::AttachmentTooLarge {
            size: bytes.len(),
            max: MAX_ATTACHMENT_BYTES,
        });
    }
    let sm3 = crypto::sm3_hex(bytes);
    tx.execute(
        "INSERT INTO attachments(sm3, size, mime, data, created_at) VALUES(?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(sm3) DO NOTHING",
        params![sm3, bytes.len() as i64, mime, bytes, now_text()],
    )?;
    Ok(sm3)
}

/// Checks and records one event inside `tx` (the signature is checked by
/// the caller).
fn append_in(
    tx: &rusqlite::Transaction<'_>,
    reg: &Registry,
    ev: &SignedEvent,
    origin: Origin,
) -> Result<CaseState> {
    let id = ev.event.id.to_string();
    let exists: Option<String> = tx
        .query_row("SELECT hash FROM events WHERE id=?1", params![id], |r| {
            r.get(0)
        })
        .optional()?;
    if let Some(h) = exists {
        if h != ev.hash_hex() {
            return Err(StoreError::Corrupt(format!("事件 {id} 已存在但内容不同")));
        }
        let state = load_state(tx, &ev.event.case_id)?.ok_or(StoreError::NoSuchCase)?;
        return Ok(state);
    }
    let hash = ev.hash_hex();
    let current = load_state(tx, &ev.event.case_id)?;
    let next = match &current {
        None => CaseState::create(&ev.event, &hash, reg)?,
        Some(s) => s.apply(&ev.event, &hash, reg)?,
    };
    let now = now_text();
    tx.execute(
            "INSERT INTO events(id, case_id, seq, bytes, signature, hash, author, kind, recorded_at, origin)
             VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                id,
                ev.event.case_id.to_string(),
                ev.event.seq as i64,
                ev.bytes(),
                ev.signature(),
                hash,
                ev.event.author,
                ev.event.action.kind(),
                now,
                match origin {
                    Origin::Local => "local",
                    Origin::Remote => "remote",
                }
            ],
        )?;
    let state_json =
        serde_json::to_string(&next).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.execute(
            "INSERT INTO cases(id, case_type, case_no, unit, status, initiator, head, next_seq, state_json, updated_at)
             VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT(id) DO UPDATE SET status=excluded.status, head=excluded.head,
               next_seq=excluded.next_seq, state_json=excluded.state_json, updated_at=excluded.updated_at",
            params![
                next.case_id.to_string(),
                enum_text(&next.case_type)?,
                next.case_no,
                next.unit,
                enum_text(&next.status)?,
                next.initiator,
                next.head,
                next.next_seq as i64,
                state_json,
                next.updated_at.format(&Rfc3339).unwrap_or_default(),
            ],
        )?;
    if origin == Origin::Local {
        tx.execute(
                "INSERT INTO outbox(event_id, case_id, seq, enqueued_at, attempts) VALUES(?1, ?2, ?3, ?4, 0)",
                params![id, ev.event.case_id.to_string(), ev.event.seq as i64, now],
            )?;
    }
    Ok(next)
}

fn load_state(conn: &Connection, id: &Uuid) -> Result<Option<CaseState>> {
    let json: Option<String> = conn
        .query_row(
            "SELECT state_json FROM cases WHERE id=?1",
            params![id.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    json.map(|j| serde_json::from_str(&j).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()
}

fn enum_text<T: serde::Serialize>(v: &T) -> Result<String> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        _ => Err(StoreError::Corrupt("无法编码枚举值".into())),
    }
}

fn text_enum<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn random_bytes() -> Result<[u8; 16]> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|_| StoreError::Rng)?;
    Ok(b)
}
