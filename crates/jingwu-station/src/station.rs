//! A station: its local store plus its link to the hub. Everything a
//! station user does is recorded locally first (signed, in the outbox) and
//! reaches the hub by [`Station::sync`], so work goes on while the county
//! link is down.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use futures_util::StreamExt as _;
use jingwu_core::case::{CaseState, Status};
use jingwu_core::crypto::{KdfParams, PublicKey, Signer, SoftwareKey};
use jingwu_core::event::{Action, Decision, SignedEvent};
use jingwu_core::form::{AttachmentRef, CaseType, FormValues};
use jingwu_core::registry::Registry;
use jingwu_core::reminders::DueAlert;
use jingwu_core::SHANGHAI;
use jingwu_store::{Origin, Store, StoreError};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::client::{ClientError, ErrorCode, HubClient, LiveMsg, StoredEvent};
use crate::session::{self, Kept};

/// Most events pushed in one request.
const PUSH_BATCH: usize = 200;

/// Cases in a row the hub fails on with a server error before a sync
/// takes it for trouble at the hub rather than with those cases.
const HUB_TROUBLE: usize = 3;

/// Why a station operation failed. Shown to users.
#[derive(Debug, thiserror::Error)]
pub enum StationError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("签名密钥错误：{0}")]
    Key(#[from] jingwu_core::crypto::CryptoError),
    #[error(transparent)]
    Scan(#[from] jingwu_scan::ScanError),
    #[error("{0}")]
    Usage(String),
}

pub type Result<T> = std::result::Result<T, StationError>;

impl From<jingwu_proto::WireError> for StationError {
    fn from(e: jingwu_proto::WireError) -> StationError {
        StationError::Client(e.into())
    }
}

fn usage<T>(msg: impl Into<String>) -> Result<T> {
    Err(StationError::Usage(msg.into()))
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncReport {
    pub uploaded: usize,
    pub pushed: usize,
    pub pulled: usize,
    /// Cases replaced by the hub's version (a local event was refused).
    pub rebased: Vec<String>,
    /// Events the hub refused, with the reason (kept in the outbox).
    pub failed: Vec<String>,
    /// Events still waiting for the hub.
    pub pending: u64,
    /// 110 steps of this station set aside because another unit acted on
    /// the same record first, that still apply and wait to be signed
    /// again with the PIN ([`Station::redo`]; any signed action does it
    /// first).
    pub redo: usize,
    /// Registered seals fetched and verified.
    pub seals: usize,
    /// Seals the hub served that did not verify here, with the reason
    /// (not stored).
    pub refused_seals: Vec<String>,
    /// The registry version taken in this sync, when a new one was.
    pub registry: Option<u32>,
}

/// What [`Station::redo`] did: steps signed again, and steps now refused
/// (with why), each as `接警单编号：…`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Redone {
    pub signed: Vec<String>,
    pub refused: Vec<String>,
}

/// Settings keys in the store's meta table.
const HUB_URL: &str = "hub_url";
const HUB_FP: &str = "hub_fingerprint";
const PERSON: &str = "person";
const DEVICE: &str = "device_id";
const CURSOR: &str = "hub_cursor";

/// A station.
pub struct Station {
    pub store: Store,
    pub reg: Registry,
    data_dir: PathBuf,
    kept: Option<Kept>,
}

/// The time to sign a new event of the case in `state` with: this PC's
/// clock, or, when it is a little behind the case's last event (another
/// PC's clock), that event's time; further behind is refused
/// ([`CaseState::signing_time`]).
pub(crate) fn signing_time(state: Option<&CaseState>) -> Result<OffsetDateTime> {
    match state {
        Some(s) => s
            .signing_time(now())
            .map_err(|e| StationError::Store(StoreError::Rejected(e))),
        None => Ok(now()),
    }
}

pub(crate) fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().to_offset(SHANGHAI)
}

/// Moves the clock that time-limit reminders are judged by, in seconds
/// (tests and drills only: events are always signed with the real clock).
pub const CLOCK_OFFSET_ENV: &str = "JINGWU_CLOCK_OFFSET_SECS";

/// The time reminders are judged at ([`Station::take_due_alerts`]): this
/// PC's clock, moved by [`CLOCK_OFFSET_ENV`] seconds when that is set to
/// a whole number (ignored otherwise). The one place it is read.
pub fn reminder_clock() -> OffsetDateTime {
    let offset = std::env::var(CLOCK_OFFSET_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(0);
    now().saturating_add(time::Duration::seconds(offset))
}

/// How to reach the hub a station is enrolled with (see
/// [`Station::hub_access`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubAccess {
    pub url: String,
    /// The pinned certificate fingerprint (none for `http://` on loopback).
    pub fingerprint: Option<String>,
    /// The saved session token, if any.
    pub token: Option<String>,
}

impl Station {
    /// Opens the station in `data_dir` (creating it; on Unix the
    /// directory is 0700 and its files 0600, see
    /// [`jingwu_store::private_fs`]). It runs with the registry its hub
    /// published, verified from the store ([`crate::registry::load`]; a
    /// changed one is refused with an error); while it holds none, with
    /// the built-in demo for the local demo's data, else with `fallback`
    /// (tests pass the built-in demo, real stations
    /// [`crate::registry::unpublished`]; see [`crate::registry::load_or`]).
    pub fn open(data_dir: &Path, fallback: Registry) -> Result<Station> {
        jingwu_store::private_fs::create_dir(data_dir).map_err(|e| {
            StationError::Usage(format!("无法创建数据目录 {}：{e}", data_dir.display()))
        })?;
        let store = Store::open(&data_dir.join("station.db"))?;
        let reg = crate::registry::load_or(&store, fallback)?;
        Ok(Station {
            store,
            reg,
            data_dir: data_dir.to_path_buf(),
            kept: None,
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The person using this station.
    pub fn person(&self) -> Result<String> {
        match self.store.meta(PERSON)? {
            Some(p) => Ok(p),
            None => usage("本机尚未登记用户：请先运行 enrol"),
        }
    }

    /// A client for the configured hub, with the saved session.
    pub fn client(&self) -> Result<HubClient> {
        let Some(url) = self.store.meta(HUB_URL)? else {
            return usage("本机尚未连接县局服务器：请先运行 enrol");
        };
        let fp = self.store.meta(HUB_FP)?;
        let token = self.store.meta(DEVICE)?.and_then(|d| session::load(&d));
        Ok(HubClient::new(&url, fp.as_deref())?.with_token(token))
    }

    /// The hub this station is enrolled with, for clients other than
    /// [`HubClient`] (the desktop's updater). `None` before enrolment.
    pub fn hub_access(&self) -> Result<Option<HubAccess>> {
        let Some(url) = self.store.meta(HUB_URL)? else {
            return Ok(None);
        };
        Ok(Some(HubAccess {
            url: url.trim().trim_end_matches('/').to_string(),
            fingerprint: self.store.meta(HUB_FP)?,
            token: self.store.meta(DEVICE)?.and_then(|d| session::load(&d)),
        }))
    }

    /// Keeps the hub session of `client` in the OS key store (never in
    /// station.db, see [`crate::session`]).
    fn keep_session(&mut self, client: &HubClient) -> Result<Kept> {
        let device = self.store.device_id()?;
        Ok(session::save(&device, client.token()))
    }

    /// First run: connect to the hub (pinning its certificate), log in,
    /// create the user's signing key under `pin` (or keep an existing
    /// one) and register this device and key for approval.
    #[allow(clippy::too_many_arguments)]
    pub async fn enrol(
        &mut self,
        hub_url: &str,
        fingerprint: Option<&str>,
        person: &str,
        password: &str,
        pin: &str,
        device_name: &str,
        kdf: KdfParams,
    ) -> Result<crate::client::Enrolment> {
        let mut client = HubClient::new(hub_url, fingerprint)?;
        let device = self.store.device_id()?;
        client.login(person, password, &device).await?;
        let key = match self.store.key(person)? {
            Some(sealed) => sealed.public_key.clone(),
            None => {
                let k = SoftwareKey::generate(&mut getrandom::SysRng)?;
                let sealed = k.seal(pin, kdf, &mut getrandom::SysRng)?;
                self.store.save_key(person, &sealed)?;
                k.public_key().clone()
            }
        };
        let e = client.enrol(&device, device_name, &key.to_pem()).await?;
        self.store.set_meta(HUB_URL, Some(client.base()))?;
        // The rules come from the hub, first now (over the pinned
        // connection: the anchor of every later version).
        self.sync_registry(&client).await?;
        self.store.set_meta(HUB_FP, fingerprint)?;
        self.store.set_meta(PERSON, Some(person))?;
        self.kept = Some(self.keep_session(&client)?);
        Ok(e)
    }

    /// Imports a sealed key file (e.g. a demo key) for `person`.
    pub fn import_key(&mut self, person: &str, file: &Path) -> Result<String> {
        let json = std::fs::read_to_string(file).map_err(|e| {
            StationError::Usage(format!("无法读取密钥文件 {}：{e}", file.display()))
        })?;
        let sealed: jingwu_core::crypto::EncryptedKey = serde_json::from_str(&json)
            .map_err(|e| StationError::Usage(format!("密钥文件格式错误：{e}")))?;
        self.store.save_key(person, &sealed)?;
        Ok(sealed.public_key.fingerprint())
    }

    /// Logs in again (sessions end after idle and absolute timeouts).
    pub async fn login(&mut self, password: &str) -> Result<()> {
        let person = self.person()?;
        let mut client = self.client()?;
        let device = self.store.device_id()?;
        client.login(&person, password, &device).await?;
        self.kept = Some(self.keep_session(&client)?);
        Ok(())
    }

    /// Where the session of the last `enrol` or `login` in this process
    /// was kept (`None` before either).
    pub fn session_kept(&self) -> Option<Kept> {
        self.kept
    }

    /// Checks that `pin` unlocks the user's signing key (e.g. before a
    /// hot folder starts attaching with it).
    pub fn check_pin(&self, pin: &str) -> Result<()> {
        self.signer(pin).map(|_| ())
    }

    pub(crate) fn signer(&self, pin: &str) -> Result<(String, SoftwareKey)> {
        let person = self.person()?;
        let Some(sealed) = self.store.key(&person)? else {
            return usage(format!("本机没有 {person} 的签名密钥"));
        };
        Ok((person, sealed.unlock(pin)?))
    }

    pub(crate) fn record(
        &mut self,
        pin: &str,
        case: Option<Uuid>,
        action: Action,
    ) -> Result<CaseState> {
        let (person, key) = self.signer(pin)?;
        // Steps set aside by a sync go first, so they keep their order.
        self.redo_with(&person, &key)?;
        // ID numbers as typed (`…x`, spaces, 15 digits) are signed in
        // their canonical form only.
        let state = match case {
            Some(id) => self.store.case(&id)?,
            None => None,
        };
        let action = jingwu_core::case::canonical_action(&self.reg, state.as_ref(), action);
        let at = signing_time(state.as_ref())?;
        Ok(self
            .store
            .record(&self.reg, &key, &person, case, action, at)?)
    }

    /// Signs again the 110 steps a sync set aside because another unit
    /// acted on the same record first and that still apply on the hub's
    /// version (each keeps the time it happened). Returns what was signed
    /// again and what is now refused, with why.
    pub fn redo(&mut self, pin: &str) -> Result<Redone> {
        let (person, key) = self.signer(pin)?;
        self.redo_with(&person, &key)
    }

    pub(crate) fn redo_with(&mut self, person: &str, key: &SoftwareKey) -> Result<Redone> {
        let mut done = Redone::default();
        for ev in self.store.redo_pending()? {
            let e = &ev.event;
            if e.author != person {
                continue;
            }
            let state = self.store.case(&e.case_id)?;
            let case_no = state
                .as_ref()
                .map(|s| s.case_no.clone())
                .unwrap_or_default();
            let action = e.action.clone().keeping_time(e.time);
            let outcome = signing_time(state.as_ref()).and_then(|at| {
                Ok(self
                    .store
                    .record(&self.reg, key, person, Some(e.case_id), action, at)?)
            });
            match outcome {
                Ok(_) => {
                    self.store.redo_done(&e.id, None)?;
                    done.signed.push(format!("{case_no}：{}", e.action.kind()));
                }
                Err(err) => {
                    let why = err.to_string();
                    self.store.redo_done(&e.id, Some(&why))?;
                    done.refused.push(format!("{case_no}：{why}"));
                }
            }
        }
        Ok(done)
    }

    /// The next 受理编号 / 接警单编号 of `unit` issued by `person`'s key on
    /// this machine.
    pub(crate) fn next_case_no(&mut self, person: &str, unit: &str) -> Result<String> {
        let fingerprint = self
            .store
            .key(person)?
            .map(|k| k.public_key.fingerprint())
            .ok_or_else(|| StationError::Usage(format!("本机没有 {person} 的签名密钥")))?;
        Ok(self.store.next_case_no(unit, &fingerprint, now().date())?)
    }

    /// Creates a 户口变更 draft from form values; the 受理编号 comes from
    /// the station's own counter.
    pub fn create_hukou(&mut self, pin: &str, form: FormValues) -> Result<CaseState> {
        let person = self.person()?;
        let unit = self
            .reg
            .org
            .units_of(&person)
            .into_iter()
            .find(|u| u.kind == jingwu_core::org::UnitKind::Station)
            .map(|u| u.code.clone());
        let Some(unit) = unit else {
            return usage(format!("{person} 不是派出所人员，不能受理户口变更"));
        };
        let t = self
            .reg
            .template_latest("hukou_change")
            .ok_or_else(|| StationError::Usage("缺少户口变更登记表模板".into()))?
            .reference();
        let w = self
            .reg
            .workflow_latest("hukou_change")
            .ok_or_else(|| StationError::Usage("缺少户口变更审批流程".into()))?
            .reference();
        let case_no = self.next_case_no(&person, &unit)?;
        self.record(
            pin,
            None,
            Action::Create {
                case_type: CaseType::HukouChange,
                template: t,
                workflow: Some(w),
                case_no,
                unit,
                form,
                registry: self.reg.published_version(),
            },
        )
    }

    /// Attaches a file to a case's attachments field.
    pub fn attach(&mut self, pin: &str, case: Uuid, field: &str, file: &Path) -> Result<CaseState> {
        let bytes = std::fs::read(file)
            .map_err(|e| StationError::Usage(format!("无法读取 {}：{e}", file.display())))?;
        let mime = sniff_mime(&bytes).ok_or_else(|| {
            StationError::Usage(format!(
                "{} 不是 JPEG、PNG、TIFF 图片或 PDF 文件",
                file.display()
            ))
        })?;
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "附件".into());
        let att = self.store.put_attachment(&bytes, &name, mime)?;
        self.record(
            pin,
            Some(case),
            Action::Attach {
                field: field.to_string(),
                attachment: att,
            },
        )
    }

    pub fn submit(&mut self, pin: &str, case: Uuid) -> Result<CaseState> {
        self.record(pin, Some(case), Action::Submit {})
    }

    /// 同意 / 不同意 / 退回补正 at the case's current step.
    pub fn decide(
        &mut self,
        pin: &str,
        case: Uuid,
        decision: Decision,
        opinion: &str,
    ) -> Result<CaseState> {
        let state = self
            .store
            .case(&case)?
            .ok_or_else(|| StationError::Usage("本地没有该案件，请先同步".into()))?;
        let action = state
            .decision_action(&self.reg, decision, opinion)
            .map_err(StoreError::from)?;
        self.record(pin, Some(case), action)
    }

    /// Any other action on a case.
    pub fn act(&mut self, pin: &str, case: Uuid, action: Action) -> Result<CaseState> {
        self.record(pin, Some(case), action)
    }

    /// Cases waiting for this user's decision (from the local store).
    pub fn inbox(&self) -> Result<Vec<CaseState>> {
        let person = self.person()?;
        let mut out = Vec::new();
        for c in self.store.list_cases(10_000)? {
            if let Some(s) = self.store.case(&c.id)? {
                if s.assignees(&self.reg).contains(&person) {
                    out.push(s);
                }
            }
        }
        Ok(out)
    }

    /// The time-limit reminders due at `now` for the signed-in person
    /// (`jingwu_core::reminders::due_alerts` over the 户口变更 in review in
    /// the store) that were not taken before: each is recorded as shown in
    /// the same transaction, so it is returned once, ever — also after a
    /// restart.
    pub fn take_due_alerts(&mut self, now: OffsetDateTime) -> Result<Vec<DueAlert>> {
        let me = self.person()?;
        let cases = self.store.cases_with_status(Status::InReview)?;
        let alerts = jingwu_core::reminders::due_alerts(&self.reg, &cases, &me, now);
        Ok(self.store.claim_alerts(alerts)?)
    }

    /// The key of an event's author: from the store, else refreshed from
    /// the hub's list of approved keys (`refreshed` counts that it
    /// happened).
    async fn key_for(
        &mut self,
        client: &HubClient,
        ev: &SignedEvent,
        refreshed: &mut bool,
    ) -> Result<PublicKey> {
        let (a, f) = (&ev.event.author, &ev.event.key);
        if let Some(k) = self.store.public_key(a, f)? {
            return Ok(k);
        }
        // A key we do not hold yet (a new approver, a new device): ask
        // the hub for the approved keys again.
        {
            for k in client.keys().await? {
                if let Ok(pk) = PublicKey::from_pem(&k.pem) {
                    if pk.fingerprint() == k.fingerprint {
                        self.store.save_public_key(&k.person, &pk)?;
                    }
                }
            }
            *refreshed = true;
        }
        match self.store.public_key(a, f)? {
            Some(k) => Ok(k),
            None => usage(format!("县局没有 {a} 的已登记公钥，无法校验其签名")),
        }
    }

    /// Records an event received from the hub (and, when its case is new
    /// here or has a gap, the case's whole log first).
    /// A case created with a registry version published since this
    /// station's last sync (e.g. arriving on the live channel): the
    /// version is fetched and verified first.
    async fn know_version_of(&mut self, client: &HubClient, ev: &SignedEvent) -> Result<()> {
        if let Action::Create {
            registry: Some(v), ..
        } = &ev.event.action
        {
            if Some(*v) > self.reg.published_version() {
                self.sync_registry(client).await?;
            }
        }
        Ok(())
    }

    async fn receive(
        &mut self,
        client: &HubClient,
        se: &StoredEvent,
        refreshed: &mut bool,
    ) -> Result<bool> {
        let ev = se.signed()?;
        self.know_version_of(client, &ev).await?;
        if self.store.has_event(&ev.event.id)? {
            // Our own events come back with the hub's receipt.
            self.keep_receipt(client, se, &ev).await?;
            return Ok(false);
        }
        let known = self.store.case(&ev.event.case_id)?;
        let in_order = match &known {
            None => ev.event.seq == 0,
            Some(s) => s.next_seq == ev.event.seq,
        };
        if in_order {
            let key = self.key_for(client, &ev, refreshed).await?;
            self.store.append(&self.reg, &ev, &key, Origin::Remote)?;
            self.keep_receipt(client, se, &ev).await?;
            return Ok(true);
        }
        // A case that became visible to us after it started, or a gap:
        // fetch its whole log.
        let log = client.case_events(&ev.event.case_id).await?;
        let mut any = false;
        for e in log {
            let ev = e.signed()?;
            self.know_version_of(client, &ev).await?;
            if !self.store.has_event(&ev.event.id)? {
                let key = self.key_for(client, &ev, refreshed).await?;
                self.store.append(&self.reg, &ev, &key, Origin::Remote)?;
                any = true;
            }
            self.keep_receipt(client, &e, &ev).await?;
        }
        Ok(any)
    }

    /// Keeps the hub's receipt of a stored event, checked against the
    /// hub's key (fetched again when the receipt names a key not held
    /// here) and against the event as served: its signature, for a group
    /// receipt (format 2) the event's inclusion in the signed tree, and
    /// the event's id, SM3, case and `gseq`. Format-1 receipts (one
    /// signature per event, from hubs before group commit) are checked
    /// and kept the same way. Events without a receipt (stored on the hub
    /// before receipts existed) keep only their device time.
    async fn keep_receipt(
        &mut self,
        client: &HubClient,
        se: &StoredEvent,
        ev: &SignedEvent,
    ) -> Result<()> {
        let Some(w) = &se.receipt else {
            return Ok(());
        };
        let r = w.signed()?;
        if r.body.gseq != se.gseq {
            return usage(format!(
                "县局回执的全局序号 {} 与事件的序号 {} 不符",
                r.body.gseq, se.gseq
            ));
        }
        if self.store.hub_key(&r.body.hub_key)?.is_none() {
            self.fetch_hub_key(client).await?;
        }
        self.store.save_receipt(ev, &r)?;
        Ok(())
    }

    /// Fetches the hub's receipt key (over the pinned link) and keeps it.
    async fn fetch_hub_key(&mut self, client: &HubClient) -> Result<()> {
        let info = client.hub_key().await?;
        let key = PublicKey::from_pem(&info.pem)
            .map_err(|e| StationError::Usage(format!("县局回执公钥无效：{e}")))?;
        if key.fingerprint() != info.fingerprint {
            return usage("县局回执公钥与其指纹不符");
        }
        self.store.save_hub_key(&key)?;
        Ok(())
    }

    /// Uploads pending attachments, pushes the outbox and pulls what the
    /// hub has for us. `progress(what, done, total)` reports uploads.
    pub async fn sync(&mut self, mut progress: impl FnMut(&str, u64, u64)) -> Result<SyncReport> {
        let client = self.client()?;
        let mut report = SyncReport::default();
        let mut refreshed = false;

        // 0. The rules first: a case pulled below may have been created
        // with a version published since the last sync.
        if let crate::registry::RegistrySync::Updated(v) = self.sync_registry(&client).await? {
            report.registry = Some(v);
        }

        // 1. Attachments first: the hub refuses an Attach event whose
        // file it does not hold. Only files a pending Attach names are
        // sent: scan originals (kept for evidence, see crate::scan) are
        // never named by an event and so never leave the station.
        // A refused upload sets its case aside; only an unreachable hub
        // stops the sync.
        let pending = self.store.outbox(u32::MAX)?;
        let mut seen = HashSet::new();
        let mut blocked: HashSet<Uuid> = HashSet::new();
        for p in &pending {
            let ev = &p.event.event;
            if blocked.contains(&ev.case_id) {
                continue;
            }
            if let Action::Attach { attachment, .. } = &ev.action {
                if seen.insert(attachment.sm3.clone()) {
                    match self.upload(&client, attachment, &mut progress).await {
                        Ok(()) => report.uploaded += 1,
                        Err(StationError::Client(e @ ClientError::Hub { .. }))
                            if e.status() != Some(401) =>
                        {
                            let reason = format!("附件“{}”未能上传：{e}", attachment.name);
                            self.store.mark_failed(&ev.id, &reason)?;
                            report.failed.push(format!("{}：{reason}", ev.id));
                            blocked.insert(ev.case_id);
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }

        // 2. Push, per case in order, in batches. A refused event stops
        // only its own case. A batch the hub fails on without naming the
        // event (a server error) is retried one case at a time, so one
        // case the hub cannot take never holds up the others; when
        // several cases in a row fail that way, the hub itself is in
        // trouble (a full disk, its database down) and the sync stops
        // with its answer, to try again later.
        let mut one_case = false;
        let mut server_failures = 0;
        loop {
            let mut batch: Vec<SignedEvent> = self
                .store
                .outbox(u32::MAX)?
                .into_iter()
                .map(|p| p.event)
                .filter(|e| !blocked.contains(&e.event.case_id))
                .take(PUSH_BATCH)
                .collect();
            if one_case {
                if let Some(first) = batch.first().map(|e| e.event.case_id) {
                    batch.retain(|e| e.event.case_id == first);
                }
            }
            if batch.is_empty() {
                break;
            }
            match client.push(&batch).await {
                Ok(r) => {
                    server_failures = 0;
                    for res in &r.results {
                        self.store.mark_sent(&res.id)?;
                    }
                    report.pushed += r.results.iter().filter(|x| !x.duplicate).count();
                }
                Err(ClientError::Hub { status, body })
                    if (400..500).contains(&status) && status != 401 =>
                {
                    let Some(bad) = body.index.and_then(|i| batch.get(i)) else {
                        if !one_case {
                            one_case = true;
                            continue;
                        }
                        // This case alone fails, with no event named.
                        let first = &batch[0].event;
                        self.store.mark_failed(&first.id, &body.error)?;
                        report.failed.push(format!("{}：{}", first.id, body.error));
                        blocked.insert(first.case_id);
                        continue;
                    };
                    let case = bad.event.case_id;
                    // Events before the bad one were fine: the batch was
                    // refused whole, so they are simply pushed again.
                    if status == 409 && body.code == ErrorCode::StaleHead {
                        self.rebase(&client, case, &body.error, &mut refreshed)
                            .await?;
                        report.rebased.push(case.to_string());
                    } else if status == 409 && body.code == ErrorCode::CaseNoTaken {
                        // The hub will never take this case under its
                        // number (a store restored from an old backup
                        // reissued it): it is set aside with the reason,
                        // so the case that holds the number can come in.
                        let reason = format!("{}；本机的这份申请已另存，请重新受理", body.error);
                        self.store.rebase_case(&self.reg, &case, &[], &reason)?;
                        report.failed.push(format!("{}：{reason}", bad.event.id));
                    } else {
                        self.store.mark_failed(&bad.event.id, &body.error)?;
                        report
                            .failed
                            .push(format!("{}：{}", bad.event.id, body.error));
                        blocked.insert(case);
                    }
                }
                Err(ClientError::Hub { status, body }) if status >= 500 => {
                    if !one_case {
                        one_case = true;
                        continue;
                    }
                    server_failures += 1;
                    if server_failures >= HUB_TROUBLE {
                        return Err(ClientError::Hub { status, body }.into());
                    }
                    let first = &batch[0].event;
                    let reason = format!("县局暂时无法处理该案件（{}）：{}", status, body.error);
                    self.store.mark_failed(&first.id, &reason)?;
                    report.failed.push(format!("{}：{reason}", first.id));
                    blocked.insert(first.case_id);
                }
                Err(e) => return Err(e.into()),
            }
        }

        // 3. Pull.
        let mut cursor: i64 = self
            .store
            .meta(CURSOR)?
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        loop {
            let page = client.pull(cursor, 500).await?;
            for e in &page.events {
                if self.receive(&client, e, &mut refreshed).await? {
                    report.pulled += 1;
                }
            }
            cursor = page.next;
            self.store.set_meta(CURSOR, Some(&cursor.to_string()))?;
            if !page.more {
                break;
            }
        }
        // 4. Registered seals (for slips), each checked before it is kept.
        let (seals, refused) = self.sync_seals(&client).await?;
        report.seals = seals;
        report.refused_seals = refused;
        report.pending = self.store.outbox_len()?;
        report.redo = self.store.redo_pending()?.len();
        Ok(report)
    }

    async fn upload(
        &mut self,
        client: &HubClient,
        att: &AttachmentRef,
        progress: &mut impl FnMut(&str, u64, u64),
    ) -> Result<()> {
        let Some(data) = self.store.attachment(&att.sm3)? else {
            return usage(format!("本地缺少附件“{}”的内容", att.name));
        };
        client
            .upload(&att.sm3, &att.mime, &data, |d, t| progress(&att.name, d, t))
            .await?;
        Ok(())
    }

    /// Replaces a case with the hub's version after the hub refused a
    /// local event as stale.
    async fn rebase(
        &mut self,
        client: &HubClient,
        case: Uuid,
        reason: &str,
        refreshed: &mut bool,
    ) -> Result<()> {
        let log = client.case_events(&case).await?;
        let mut remote = Vec::with_capacity(log.len());
        for e in &log {
            let ev = e.signed()?;
            let key = self.key_for(client, &ev, refreshed).await?;
            remote.push((ev, key));
        }
        self.store.rebase_case(&self.reg, &case, &remote, reason)?;
        for (e, (ev, _)) in log.iter().zip(&remote) {
            self.keep_receipt(client, e, ev).await?;
        }
        Ok(())
    }

    /// Follows the live channel: each event the hub pushes is recorded
    /// and handed to `on_event` with the case's new state. `ready` fires
    /// once the channel has caught up and is live. Returns when
    /// `on_event` says stop (returns `false`) or the connection drops.
    pub async fn follow(
        &mut self,
        ready: Option<tokio::sync::oneshot::Sender<()>>,
        mut on_event: impl FnMut(&CaseState) -> bool,
    ) -> Result<()> {
        let client = self.client()?;
        let mut refreshed = false;
        let mut ready = ready;
        let cursor: i64 = self
            .store
            .meta(CURSOR)?
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let stream = client.live(cursor).await?;
        futures_util::pin_mut!(stream);
        while let Some(item) = stream.next().await {
            let se = match item? {
                LiveMsg::Ready(_) => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                    continue;
                }
                LiveMsg::Event(e) => e,
            };
            self.receive(&client, &se, &mut refreshed).await?;
            let current: i64 = self
                .store
                .meta(CURSOR)?
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            if se.gseq > current {
                self.store.set_meta(CURSOR, Some(&se.gseq.to_string()))?;
            }
            if let Some(state) = self.store.case(&se.case_id)? {
                if !on_event(&state) {
                    break;
                }
            }
        }
        Ok(())
    }

    /// The evidence bundle of a case from the local store.
    pub fn bundle(&self, case: &Uuid) -> Result<jingwu_core::bundle::Bundle> {
        let events = self.store.verified_events(case)?;
        let mut keys: BTreeMap<(String, String), PublicKey> = BTreeMap::new();
        for e in &events {
            if let Some(k) = self.store.public_key(&e.event.author, &e.event.key)? {
                keys.insert((e.event.author.clone(), e.event.key.clone()), k);
            }
        }
        jingwu_core::bundle::Bundle::build(
            &events,
            |a, f| keys.get(&(a.to_string(), f.to_string())).cloned(),
            &now()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        )
        .map_err(|e| StationError::Usage(e.to_string()))
    }
}

/// The type of a file by its leading bytes (never by its name).
pub fn sniff_mime(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\xFF\xD8\xFF") {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        Some("image/tiff")
    } else if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// An ID number typed with a lower-case `x` (or spaces) is signed and
    /// stored in its canonical form, on create and on update alike.
    #[test]
    fn id_numbers_are_stored_canonical() {
        use jingwu_core::crypto::{KdfParams, SoftwareKey};
        const PIN: &str = "246810";
        let dir = tempfile::tempdir().unwrap();
        let reg = jingwu_core::registry::Registry::builtin_demo().unwrap();
        let code = reg
            .org
            .units()
            .find(|u| u.name == "方祥派出所")
            .unwrap()
            .code
            .clone();
        let officer = reg.org.holders(&code, "户籍民警")[0].id.clone();
        let mut st = Station::open(dir.path(), reg).unwrap();
        let k = SoftwareKey::generate(&mut getrandom::SysRng).unwrap();
        let sealed = k
            .seal(PIN, KdfParams::TEST_ONLY, &mut getrandom::SysRng)
            .unwrap();
        st.store.save_key(&officer, &sealed).unwrap();
        st.store.set_meta("person", Some(&officer)).unwrap();

        let mut form = jingwu_core::demo::name_change_form();
        form.insert("applicant_id".into(), "11010519491231002x".into());
        let s = st.create_hukou(PIN, form).unwrap();
        assert_eq!(s.form["applicant_id"], "11010519491231002X");
        let changes = [("applicant_id".to_string(), " 11010519491231002x ".into())].into();
        let s = st
            .act(
                PIN,
                s.case_id,
                jingwu_core::event::Action::UpdateForm { changes },
            )
            .unwrap();
        assert_eq!(s.form["applicant_id"], "11010519491231002X");
        // The signed bytes never carry the lower-case form.
        for e in st.store.events(&s.case_id).unwrap() {
            let bytes = String::from_utf8(e.bytes().to_vec()).unwrap();
            assert!(!bytes.contains("002x"), "{bytes}");
        }
    }
}
