//! The hub's storage interface and its two backends: SQLite (rusqlite,
//! WAL + `synchronous=FULL`, the default) and PostgreSQL (to scale, and to
//! run several hub processes on one database).
//!
//! The rules live above this layer ([`crate::hub`]); a backend only keeps
//! rows. Every method is blocking: the HTTP layer calls them on tokio's
//! blocking pool.
//!
//! Every query, row mapper and schema step is written once (`store.rs`)
//! over a thin statement layer (`sql.rs`); `sqlite.rs` and `postgres.rs`
//! only connect, lock, listen, back up and record the schema version.
//!
//! Ordering: every event gets a global sequence number `gseq` when it is
//! committed. Writers are serialised (SQLite: one writer; PostgreSQL: a
//! transaction-scoped advisory lock), so `gseq` grows in commit order and a
//! reader that has seen `gseq = n` has seen every event committed before
//! it. Pull cursors and the live channel rely on this.

pub mod incidents;
pub mod postgres;
pub mod sql;
pub mod sqlite;
pub mod store;
#[cfg(test)]
mod tests;

use std::path::Path;

use jingwu_core::case::CaseState;
use uuid::Uuid;

/// A storage failure. Shown to operators, not to citizens.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("数据库错误：{0}")]
    Backend(String),
    #[error("数据库中的数据损坏：{0}")]
    Corrupt(String),
    #[error("数据库版本 {found} 比本程序支持的 {supported} 新，请升级程序")]
    TooNew { found: i64, supported: i64 },
}

pub type DbResult<T> = Result<T, DbError>;

/// A hub user (an account bound to an org person id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub person: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub created_at: String,
}

/// A server-side session. Only the SM3 of the token is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub token_hash: String,
    pub person: String,
    pub device: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last request.
    pub last_seen: i64,
    pub revoked: bool,
}

/// A device enrolment: one user's SM2 public key on one device, waiting
/// for or carrying an administrator's decision.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct EnrolmentRow {
    pub id: String,
    pub device: String,
    pub device_name: String,
    pub person: String,
    pub fingerprint: String,
    pub pem: String,
    /// `pending`, `approved`, `rejected` or `revoked`.
    pub status: String,
    pub created_at: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
}

/// A signing key the hub keeps for a browser user (see `crate::hosted`):
/// the private key sealed under the user's signing PIN, and the wrong-PIN
/// counter that locks it for a while.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostedKeyRow {
    pub person: String,
    /// The enrolment that registered its public key.
    pub enrolment_id: String,
    pub fingerprint: String,
    /// The `EncryptedKey` JSON (Argon2id → SM4-GCM under the PIN).
    pub sealed: String,
    /// Wrong PINs in a row.
    pub failures: i64,
    /// Unix seconds until which the key may not be used.
    pub locked_until: i64,
    pub created_at: String,
}

/// Login attempts counted for one key (`account:<person>` or
/// `source:<address>`), shared by every hub process on the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginCounter {
    pub key: String,
    /// Attempts not (yet) known to have succeeded since the last lock.
    pub failures: i64,
    /// Locks so far (each one longer).
    pub lockouts: i64,
    /// Unix seconds until which logins are refused.
    pub locked_until: i64,
    /// Unix seconds of the last counted attempt.
    pub last_failure: i64,
}

impl LoginCounter {
    /// A key with nothing counted.
    pub fn new(key: &str) -> LoginCounter {
        LoginCounter {
            key: key.to_string(),
            failures: 0,
            lockouts: 0,
            locked_until: 0,
            last_failure: 0,
        }
    }
}

/// The update run on login counters inside their transaction.
pub type LoginCounterFn<'a> = dyn FnMut(&mut [LoginCounter]) + 'a;

/// A stored event with its global sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub gseq: i64,
    pub id: Uuid,
    pub case_id: Uuid,
    pub seq: i64,
    pub bytes: Vec<u8>,
    pub signature: Vec<u8>,
    /// The hub's signed receipt: (canonical bytes, DER signature). `None`
    /// for events stored before receipts existed (schema step "receipts").
    pub receipt: Option<(Vec<u8>, Vec<u8>)>,
}

/// An event to insert.
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    pub id: &'a Uuid,
    pub case_id: &'a Uuid,
    pub seq: i64,
    pub bytes: &'a [u8],
    pub signature: &'a [u8],
    pub hash: &'a str,
    pub author: &'a str,
    pub kind: &'a str,
    pub received_at: &'a str,
}

/// An attachment upload in progress: one person's, of one file. Uploads
/// are keyed by (person, sm3): nobody sees, resumes or resets another's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    pub person: String,
    pub sm3: String,
    /// The declared size.
    pub size: i64,
    pub mime: String,
    pub received: i64,
    /// Unix seconds of the last begin or chunk (expiry counts from it).
    pub touched_at: i64,
}

/// What starting an upload came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadBegin {
    /// Started afresh, or found (to resume).
    Started(UploadRow),
    /// Refused: the person's other unfinished uploads already declare
    /// `used` bytes, and this one would take them over the quota.
    OverQuota { used: i64 },
}

/// A registered electronic seal (see `crate::seals`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealRow {
    pub id: String,
    /// `unit` or `personal`.
    pub kind: String,
    /// Unit code or person id.
    pub holder: String,
    /// SM3 fingerprint of the key the seal is bound to.
    pub holder_key: String,
    /// The whole seal (info, picture, maker signature) as JSON.
    pub seal_json: String,
    pub registered_at: String,
    pub registered_by: String,
    pub revoked_at: Option<String>,
    pub revoked_by: Option<String>,
}

/// A row of the SMS outbox (see `crate::sms`): one per 户口变更 whose
/// result became final, written in that event's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsRow {
    /// The idempotency key the gateway sees.
    pub id: String,
    pub case_id: String,
    pub case_no: String,
    pub phone: String,
    /// 同意 or 不同意.
    pub result: String,
    /// `YYYY-MM-DD`.
    pub result_date: String,
    pub created_at: String,
    /// `pending`, `sent` or `failed` (refused by the gateway for good).
    pub state: String,
    /// Attempts started so far.
    pub attempts: i64,
    /// Unix milliseconds before which a pending row is not tried.
    pub next_try: i64,
    pub sent_at: Option<String>,
    pub last_error: Option<String>,
}

/// An update of the desktop app for one platform, uploaded by an
/// administrator (see `crate::updates`). The package itself is kept in
/// the attachment store, by its SM3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateRow {
    pub id: String,
    /// The updater's platform key: `linux-x86_64-deb`, `windows-x86_64-nsis` ….
    pub platform: String,
    /// SemVer.
    pub version: String,
    pub notes: String,
    /// The Tauri signer's `.sig` text (base64 of the minisign signature).
    pub signature: String,
    /// SM3 of the package (its row in `attachments`).
    pub sm3: String,
    pub file_name: String,
    pub size: i64,
    /// RFC 3339.
    pub pub_date: String,
    pub uploaded_by: String,
}

/// Whether an update may be added after the versions a platform has.
pub type UpdateCheck<'a> = dyn Fn(&[String]) -> Result<(), String> + 'a;

/// What the public status page finds by 受理编号 (see
/// `jingwu_core::public::PublicStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseStatusRow {
    /// The last four characters of the applicant's ID number.
    pub id_tail: String,
    /// The status as stored (`in_review`, …).
    pub status: String,
    /// `YYYY-MM-DD`.
    pub changed_on: String,
}

/// The operations of one push transaction. Everything done through it
/// commits together or not at all.
pub trait EventTx {
    /// The hash of a stored event, by id.
    fn event_hash(&mut self, id: &Uuid) -> DbResult<Option<String>>;
    /// The current state of a case.
    fn case_state(&mut self, case_id: &Uuid) -> DbResult<Option<CaseState>>;
    /// Whether `person` may see the case.
    fn can_see(&mut self, person: &str, case_id: &Uuid) -> DbResult<bool>;
    /// Inserts an event; returns its `gseq`.
    fn insert_event(&mut self, ev: &NewEvent<'_>) -> DbResult<i64>;
    /// Stores the hub's signed receipt of the event with `gseq`.
    fn set_receipt(&mut self, gseq: i64, bytes: &[u8], signature: &[u8]) -> DbResult<()>;
    /// Inserts or replaces the case projection.
    fn put_case(&mut self, state: &CaseState) -> DbResult<()>;
    /// Lets `persons` see the case (already granted ones are kept).
    fn grant(&mut self, case_id: &Uuid, persons: &[String]) -> DbResult<()>;
    /// Whether `person` holds the attachment (uploaded it completely).
    fn holds_attachment(&mut self, person: &str, sm3: &str) -> DbResult<bool>;
    /// The cases the attachment was attached to.
    fn attachment_cases(&mut self, sm3: &str) -> DbResult<Vec<Uuid>>;
    /// Records that the attachment belongs to the case (kept if already).
    fn link_attachment(&mut self, case_id: &Uuid, sm3: &str) -> DbResult<()>;
    /// Whether a case other than `case_id` already carries `case_no`
    /// (including cases written earlier in this transaction).
    fn case_no_taken(&mut self, case_no: &str, case_id: &Uuid) -> DbResult<bool>;
    /// Adds a row to the SMS outbox unless the case has one; whether it
    /// was added.
    fn queue_sms(&mut self, row: &SmsRow) -> DbResult<bool>;
    /// Sets a savepoint (`SAVEPOINT name`; `name` is an SQL identifier).
    fn savepoint(&mut self, name: &str) -> DbResult<()>;
    /// Undoes everything done since the savepoint, which stays set
    /// (`ROLLBACK TO SAVEPOINT name`).
    fn rollback_to(&mut self, name: &str) -> DbResult<()>;
    /// Keeps what was done since the savepoint as part of the enclosing
    /// transaction and forgets the savepoint (`RELEASE SAVEPOINT name`).
    /// A write that fails here (say a duplicate `case_no`) leaves the
    /// savepoint set, to be rolled back to.
    fn release(&mut self, name: &str) -> DbResult<()>;
}

/// Why a push transaction was rolled back.
#[derive(Debug, thiserror::Error)]
pub enum PushAbort {
    /// The storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The closure refused; the caller holds its reason (see
    /// [`<dyn HubDb>::push`](HubDb)).
    #[error("提交被拒绝")]
    Refused,
}

/// The closure run inside a push transaction.
pub type PushFn<'a> = dyn FnMut(&mut dyn EventTx) -> Result<(), PushAbort> + 'a;

/// The hub's storage.
pub trait HubDb: Send + Sync + 'static {
    /// `sqlite` or `postgresql`.
    fn backend(&self) -> &'static str;

    fn meta_get(&self, key: &str) -> DbResult<Option<String>>;
    fn meta_set(&self, key: &str, value: &str) -> DbResult<()>;
    /// Stores `value` under `key` unless the key is already set; returns
    /// the value stored (so concurrent first starts agree on one).
    fn meta_init(&self, key: &str, value: &str) -> DbResult<String>;

    /// Inserts a user; `false` when the person already has an account.
    fn insert_user(&self, u: &UserRow) -> DbResult<bool>;
    fn user(&self, person: &str) -> DbResult<Option<UserRow>>;
    fn users(&self) -> DbResult<Vec<UserRow>>;
    /// Disables or enables an account; `false` when there is none.
    fn set_user_disabled(&self, person: &str, disabled: bool) -> DbResult<bool>;
    /// Replaces an account's password (Argon2id PHC string); `false` when
    /// there is no such account.
    fn set_password_hash(&self, person: &str, password_hash: &str) -> DbResult<bool>;

    fn insert_session(&self, s: &SessionRow) -> DbResult<()>;
    fn session(&self, token_hash: &str) -> DbResult<Option<SessionRow>>;
    fn touch_session(&self, token_hash: &str, now: i64) -> DbResult<()>;
    fn revoke_session(&self, token_hash: &str) -> DbResult<()>;
    /// Revokes every session of `person`; returns how many.
    fn revoke_sessions_of(&self, person: &str) -> DbResult<u64>;

    fn insert_enrolment(&self, e: &EnrolmentRow) -> DbResult<()>;
    fn enrolment(&self, id: &str) -> DbResult<Option<EnrolmentRow>>;
    /// Enrolments, newest first; `status` filters.
    fn enrolments(&self, status: Option<&str>) -> DbResult<Vec<EnrolmentRow>>;
    /// Records a decision on an enrolment whose status is `from`; `false`
    /// when it was not in that status.
    fn decide_enrolment(
        &self,
        id: &str,
        from: &str,
        to: &str,
        by: &str,
        at: &str,
    ) -> DbResult<bool>;
    /// The PEM of an approved key.
    fn approved_key(&self, person: &str, fingerprint: &str) -> DbResult<Option<String>>;
    /// Every approved key: (person, fingerprint, pem).
    fn approved_keys(&self) -> DbResult<Vec<(String, String, String)>>;

    /// The hub-kept signing key of `person`.
    fn hosted_key(&self, person: &str) -> DbResult<Option<HostedKeyRow>>;
    /// Stores a hosted key, replacing the person's previous one.
    fn put_hosted_key(&self, k: &HostedKeyRow) -> DbResult<()>;
    /// Counts one more PIN attempt on a hosted key that is not locked at
    /// `now`, before the PIN is tried (so parallel guesses are counted
    /// too); the count after it, or `None` when locked (or no key).
    fn hosted_key_attempt(&self, person: &str, now: i64) -> DbResult<Option<i64>>;
    /// Sets the attempt counter and lock of a hosted key.
    fn set_hosted_key_failures(
        &self,
        person: &str,
        failures: i64,
        locked_until: i64,
    ) -> DbResult<()>;

    /// Reads the counters of `keys` (absent ones as new, in the order of
    /// `keys`), lets `update` change them and writes them back, in one
    /// transaction that serialises concurrent callers on the same keys.
    /// Counters without an attempt since `prune_before` and not locked
    /// are deleted.
    fn login_counters(
        &self,
        keys: &[String],
        prune_before: i64,
        update: &mut LoginCounterFn<'_>,
    ) -> DbResult<()>;

    /// Runs `f` in one serialised write transaction; commits when it
    /// returns `Ok`, rolls back otherwise. Callers use
    /// [`<dyn HubDb>::push`](HubDb), which carries their own error type.
    fn write_events(&self, f: &mut PushFn<'_>) -> Result<(), PushAbort>;
    /// Events after `after` of the cases `person` may see, by `gseq`.
    fn events_after(&self, person: &str, after: i64, limit: i64) -> DbResult<Vec<EventRow>>;
    /// Every event after `after` with the persons who may see it (the
    /// live channel's feed).
    fn feed_after(&self, after: i64, limit: i64) -> DbResult<Vec<(EventRow, Vec<String>)>>;
    /// A case's whole log, by `seq`.
    fn case_events(&self, case_id: &Uuid) -> DbResult<Vec<EventRow>>;
    fn can_see(&self, person: &str, case_id: &Uuid) -> DbResult<bool>;
    fn case_state(&self, case_id: &Uuid) -> DbResult<Option<CaseState>>;
    /// The cases `person` may see with the given status, newest first.
    fn visible_cases(&self, person: &str, status: &str, limit: i64) -> DbResult<Vec<CaseState>>;
    /// Every case of `case_type` with `status` (both as stored), the
    /// longest unchanged first, at most `limit` (the 督办 list reads the
    /// cases in review).
    fn cases_with_status(
        &self,
        case_type: &str,
        status: &str,
        limit: i64,
    ) -> DbResult<Vec<CaseState>>;
    /// The case numbers that start with `prefix` (a unit, a day and an
    /// issuer: the numbers one issuer took that day; see
    /// `jingwu_core::caseno`). `prefix` holds digits, `A`–`F` and `-` only.
    fn case_nos_with_prefix(&self, prefix: &str) -> DbResult<Vec<String>>;
    /// The highest `gseq` committed.
    fn max_gseq(&self) -> DbResult<i64>;
    /// Number of events and cases stored.
    fn counts(&self) -> DbResult<(i64, i64)>;

    /// Starts (or finds, to resume) `person`'s upload of `sm3` at `now`.
    /// An existing upload with a different size or type is replaced.
    /// Refused when the declared sizes of the person's other unfinished
    /// uploads plus `size` exceed `quota` (checked and written atomically).
    fn upload_begin(
        &self,
        person: &str,
        sm3: &str,
        size: i64,
        mime: &str,
        now: i64,
        quota: i64,
    ) -> DbResult<UploadBegin>;
    /// `person`'s upload of `sm3`.
    fn upload(&self, person: &str, sm3: &str) -> DbResult<Option<UploadRow>>;
    /// Appends a chunk at `offset` and touches the upload at `now`;
    /// `false` (and nothing written) when the upload has not received
    /// exactly `offset` bytes.
    fn upload_append(
        &self,
        person: &str,
        sm3: &str,
        offset: i64,
        data: &[u8],
        now: i64,
    ) -> DbResult<bool>;
    /// The received chunks, in order.
    fn upload_data(&self, person: &str, sm3: &str) -> DbResult<Vec<u8>>;
    /// Moves a complete upload into the attachment store (once per
    /// content: a file already stored is kept) and records that `person`
    /// holds it.
    fn upload_finish(&self, person: &str, sm3: &str, mime: &str, data: &[u8]) -> DbResult<()>;
    fn upload_abort(&self, person: &str, sm3: &str) -> DbResult<()>;
    /// Removes every unfinished upload last touched before `before` (unix
    /// seconds); returns how many.
    fn expire_uploads(&self, before: i64) -> DbResult<u64>;
    /// (mime, size) of a stored attachment.
    fn attachment_meta(&self, sm3: &str) -> DbResult<Option<(String, i64)>>;
    fn attachment(&self, sm3: &str) -> DbResult<Option<(String, Vec<u8>)>>;
    /// Whether `person` may read the attachment: they hold it, or it
    /// belongs to a case they may see.
    fn attachment_in_scope(&self, person: &str, sm3: &str) -> DbResult<bool>;

    /// Registers a seal; `false` (and nothing written) when its id is
    /// taken.
    fn insert_seal(&self, s: &SealRow) -> DbResult<bool>;
    /// Every registered seal, oldest first.
    fn seals(&self) -> DbResult<Vec<SealRow>>;
    /// Revokes a seal not yet revoked; `false` when there is no such seal
    /// or it was already revoked.
    fn revoke_seal(&self, id: &str, by: &str, at: &str) -> DbResult<bool>;

    /// Adds an update and its package (into the attachment store, kept
    /// if already there), in one transaction serialised with other
    /// uploads for the platform: `check` sees the versions the platform
    /// has and may refuse (its reason comes back as `Ok(Err(..))`, and
    /// nothing is written).
    fn insert_update(
        &self,
        row: &UpdateRow,
        package: &[u8],
        check: &UpdateCheck<'_>,
    ) -> DbResult<Result<(), String>>;
    /// The updates of `platform` (every platform's when `None`), oldest
    /// upload first.
    fn updates(&self, platform: Option<&str>) -> DbResult<Vec<UpdateRow>>;
    /// An update by id, with its package.
    fn update_package(&self, id: &str) -> DbResult<Option<(UpdateRow, Vec<u8>)>>;

    /// Writes a consistent copy of the live database to `dest`.
    /// 110 statistics (see `incidents.rs`): the measures of the records
    /// meeting `cond`, grouped by `dims`.
    fn incident_stats(
        &self,
        cond: &jingwu_core::stats::Conditions,
        dims: &[jingwu_core::stats::Dim],
    ) -> DbResult<Vec<(Vec<String>, jingwu_core::stats::Measures)>>;
    /// Response speed of the records meeting `cond`.
    fn incident_speed(
        &self,
        cond: &jingwu_core::stats::Conditions,
        kind: jingwu_core::stats::SpeedKind,
    ) -> DbResult<jingwu_core::stats::SpeedRows>;
    /// The records meeting `cond` by status.
    fn incident_statuses(
        &self,
        cond: &jingwu_core::stats::Conditions,
    ) -> DbResult<std::collections::BTreeMap<String, i64>>;
    /// A page of the records meeting `cond`, and their number.
    fn incident_rows(
        &self,
        cond: &jingwu_core::stats::Conditions,
        sort: jingwu_proto::SortBy,
        desc: bool,
        limit: i64,
        offset: i64,
    ) -> DbResult<(i64, Vec<jingwu_proto::IncidentRow>)>;
    /// Which of `case_nos` are already the number of a case.
    fn taken_case_nos(&self, case_nos: &[String]) -> DbResult<Vec<String>>;
    /// Writes typed 110 rows directly, for bulk loads that have no events
    /// (the benchmark's million records); records with events get theirs
    /// from the push transaction.
    fn put_incident_facts(
        &self,
        facts: &[(String, jingwu_core::stats::IncidentFacts)],
    ) -> DbResult<()>;
    /// After a bulk load: the query planner's statistics of the tables
    /// that grew (PostgreSQL `ANALYZE`; the server may run without
    /// autovacuum). SQLite plans without them: nothing to do.
    fn refresh_statistics(&self) -> DbResult<()>;
    /// A person's saved queries: (name, filter JSON).
    fn saved_queries(&self, person: &str) -> DbResult<Vec<(String, String)>>;
    fn save_query(&self, person: &str, name: &str, filter: &str, at: &str) -> DbResult<()>;
    fn delete_query(&self, person: &str, name: &str) -> DbResult<bool>;
    /// The public status of the 户口变更 numbered `case_no` (drafts and
    /// 110 records have none).
    fn case_status(&self, case_no: &str) -> DbResult<Option<CaseStatusRow>>;
    /// Claims the pending SMS due first at `now_ms` (unix milliseconds),
    /// if any is due: counts the attempt and puts its next try at
    /// `lease_until`, so no other sender (another hub process) takes it
    /// meanwhile. Returns the row as claimed.
    fn sms_claim(&self, now_ms: i64, lease_until: i64) -> DbResult<Option<SmsRow>>;
    /// Marks an SMS sent.
    fn sms_sent(&self, id: &str, at: &str) -> DbResult<()>;
    /// Puts a failed SMS's next try at `next_try`, noting why it failed.
    fn sms_retry(&self, id: &str, next_try: i64, error: &str) -> DbResult<()>;
    /// Gives up on an SMS (the gateway refused it for good).
    fn sms_failed(&self, id: &str, error: &str) -> DbResult<()>;
    /// The earliest next try of the pending SMS.
    fn sms_next_try(&self) -> DbResult<Option<i64>>;
    /// The whole SMS outbox, oldest first.
    fn sms_outbox(&self) -> DbResult<Vec<SmsRow>>;
    fn backup(&self, dest: &Path) -> DbResult<()>;
    /// Calls `wake` whenever another process commits events (PostgreSQL
    /// LISTEN/NOTIFY). SQLite has one hub process: a no-op.
    fn listen(&self, wake: Box<dyn Fn() + Send + Sync>) -> DbResult<()>;
}

impl dyn HubDb {
    /// Runs `f` in one serialised write transaction; commits when it
    /// returns `Ok`, rolls back otherwise. `f`'s error (a refusal of the
    /// caller's, or a storage error converted by `?`) comes out
    /// unchanged; a storage error of the transaction itself (begin,
    /// deferred writes, commit) comes out converted.
    pub fn push<E: From<DbError>>(
        &self,
        f: &mut dyn FnMut(&mut dyn EventTx) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut refused = None;
        let out = self.write_events(&mut |tx| {
            f(tx).map_err(|e| {
                refused = Some(e);
                PushAbort::Refused
            })
        });
        match (out, refused) {
            (Ok(()), _) => Ok(()),
            (Err(_), Some(e)) => Err(e),
            (Err(PushAbort::Db(e)), None) => Err(e.into()),
            (Err(PushAbort::Refused), None) => {
                Err(DbError::Backend("提交被拒绝，但没有原因".into()).into())
            }
        }
    }
}

/// Parses a stored case projection.
pub(crate) fn parse_state(json: &str) -> DbResult<CaseState> {
    serde_json::from_str(json).map_err(|e| DbError::Corrupt(format!("案件状态无法解析：{e}")))
}

/// Serialises a case projection.
pub(crate) fn state_json(state: &CaseState) -> DbResult<String> {
    serde_json::to_string(state).map_err(|e| DbError::Corrupt(e.to_string()))
}

/// The text form of a serde unit enum (`"in_review"` → `in_review`).
pub(crate) fn enum_text<T: serde::Serialize>(v: &T) -> DbResult<String> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        _ => Err(DbError::Corrupt("枚举值无法编码".into())),
    }
}

pub(crate) fn parse_uuid(s: &str) -> DbResult<Uuid> {
    Uuid::parse_str(s).map_err(|e| DbError::Corrupt(format!("编号 {s}：{e}")))
}

/// Opens the database named by `url`: `postgres://…` → PostgreSQL,
/// anything else is a SQLite file path.
pub fn open(url_or_path: &str) -> DbResult<std::sync::Arc<dyn HubDb>> {
    if url_or_path.starts_with("postgres://") || url_or_path.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(postgres::PgDb::open(url_or_path)?))
    } else {
        Ok(std::sync::Arc::new(sqlite::SqliteDb::open(Path::new(
            url_or_path,
        ))?))
    }
}

/// Runs blocking database work. On a tokio worker thread of a
/// multi-threaded runtime it first moves the thread out of the async
/// scheduler (`block_in_place`): the PostgreSQL client blocks on its own
/// runtime and must not run on an async worker. The PostgreSQL backend
/// runs every call (and its drop, which closes connections) through it.
pub fn off_runtime<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
