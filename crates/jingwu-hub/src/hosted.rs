//! Hosted signing keys: the "signing server" behind the `Signer` trait, for
//! approvers who work in a browser. At first browser sign-in the user
//! creates an SM2 key here under their own signing PIN; the private key is
//! kept sealed exactly as a station keeps it (`EncryptedKey`: Argon2id →
//! SM4-GCM), and its public key is registered as an enrolment that an
//! administrator approves like any device. On a decision the browser sends
//! the PIN (over TLS); the hub unseals the key, builds and signs the event
//! with the same core code the station uses and commits it through the
//! same push path as any station's event. Wrong PINs are counted; after
//! [`MAX_PIN_FAILURES`] in a row the key is locked for [`LOCK_SECS`].
//!
//! The trade-off: the hub can sign for these users whenever it holds their
//! PIN, i.e. during a request; at rest it holds only the sealed key. A
//! desktop keeps the key on the user's own machine.

use jingwu_core::case::{check_opinion, CaseState, Status};
use jingwu_core::crypto::{CryptoError, EncryptedKey, KdfParams, Signer as _, SoftwareKey};
use jingwu_core::event::{Action, Decision, Event, SignedEvent};
use jingwu_core::form::CaseType;
use jingwu_core::stats::supervision_scope;
use jingwu_core::SHANGHAI;
use serde::Serialize;
use uuid::Uuid;

use crate::db::HostedKeyRow;
use crate::error::{ApiError, ErrorCode};
use crate::hub::{Caller, Hub, WireEvent};

/// The device name of hosted keys' enrolments.
pub const HOSTED_DEVICE: &str = "hub-hosted";
/// Wrong PINs in a row before the key is locked.
pub const MAX_PIN_FAILURES: i64 = 5;
/// How long a locked key stays locked.
pub const LOCK_SECS: i64 = 15 * 60;

fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Argon2 parameters for new hosted keys: the production ones (the
/// same as a station's).
const KDF: KdfParams = KdfParams::DEFAULT;

/// The state of a person's hosted key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct HostedKeyStatus {
    /// `none`, `pending`, `approved`, `rejected` or `revoked`.
    pub status: String,
    pub fingerprint: Option<String>,
    /// Unix seconds until which wrong PINs locked it.
    pub locked_until: Option<i64>,
}

/// The most cases in review the 督办 list reads (the longest unchanged
/// first: those are the overdue ones).
const OVERDUE_CASES: i64 = 20_000;

impl Hub {
    /// The caller's hosted key and its enrolment's state.
    pub fn hosted_key_status(&self, caller: &Caller) -> Result<HostedKeyStatus, ApiError> {
        let Some(k) = self.db.hosted_key(&caller.person)? else {
            return Ok(HostedKeyStatus {
                status: "none".into(),
                fingerprint: None,
                locked_until: None,
            });
        };
        let status = self
            .db
            .enrolment(&k.enrolment_id)?
            .map(|e| e.status)
            .unwrap_or_else(|| "none".into());
        Ok(HostedKeyStatus {
            status,
            fingerprint: Some(k.fingerprint),
            locked_until: (k.locked_until > now_secs()).then_some(k.locked_until),
        })
    }

    /// Creates the caller's hosted key under `pin` and registers it for an
    /// administrator's approval. Refused while a key is pending or
    /// approved; a rejected or revoked one is replaced.
    pub fn create_hosted_key(
        &self,
        caller: &Caller,
        pin: &str,
    ) -> Result<HostedKeyStatus, ApiError> {
        if self.reg().org.person(&caller.person).is_none() {
            return Err(ApiError::new(
                ErrorCode::NotInOrg,
                "组织机构中没有该警号，不能创建签名密钥",
            ));
        }
        jingwu_core::crypto::check_pin_strength(pin).map_err(|_| {
            ApiError::new(
                ErrorCode::WeakPin,
                "签名 PIN 至少 6 位，且不能是同一个字符重复",
            )
        })?;
        let current = self.hosted_key_status(caller)?;
        if current.status == "pending" || current.status == "approved" {
            return Err(ApiError::new(
                ErrorCode::KeyExists,
                "已有签名密钥（已批准或等待批准），不能重复创建",
            ));
        }
        let key = SoftwareKey::generate(&mut getrandom::SysRng)
            .map_err(|e| ApiError::internal(format!("生成签名密钥失败：{e}")))?;
        let sealed = key
            .seal(pin, KDF, &mut getrandom::SysRng)
            .map_err(|e| ApiError::internal(format!("加密签名密钥失败：{e}")))?;
        let e = self.enrol(
            caller,
            HOSTED_DEVICE,
            "浏览器签名（县局托管密钥）",
            &key.public_key().to_pem(),
        )?;
        let sealed_json = serde_json::to_string(&sealed)
            .map_err(|e| ApiError::internal(format!("保存签名密钥失败：{e}")))?;
        self.db.put_hosted_key(&HostedKeyRow {
            person: caller.person.clone(),
            enrolment_id: e.id,
            fingerprint: e.fingerprint,
            sealed: sealed_json,
            failures: 0,
            locked_until: 0,
            created_at: crate::now_rfc3339(),
        })?;
        self.hosted_key_status(caller)
    }

    /// Unseals the caller's approved hosted key with `pin`, counting wrong
    /// PINs and honouring the lock.
    pub(crate) fn unseal(&self, caller: &Caller, pin: &str) -> Result<SoftwareKey, ApiError> {
        let k = self
            .db
            .hosted_key(&caller.person)?
            .ok_or_else(|| ApiError::new(ErrorCode::NoHostedKey, "尚未创建签名密钥，请先创建"))?;
        if self.key(&caller.person, &k.fingerprint)?.is_none() {
            return Err(ApiError::new(
                ErrorCode::KeyNotEnrolled,
                "签名密钥尚未经系统管理员批准（或已被撤销），暂不能签名",
            ));
        }
        let now = now_secs();
        let locked = |until: i64| {
            let minutes = (until - now + 59) / 60;
            ApiError::new(
                ErrorCode::PinLocked,
                format!("签名 PIN 连续输错次数过多，签名已锁定，请 {minutes} 分钟后再试"),
            )
        };
        // The attempt is counted before the PIN is tried: parallel guesses
        // cannot outrun the lock.
        let Some(attempt) = self.db.hosted_key_attempt(&caller.person, now)? else {
            return Err(locked(k.locked_until.max(now + 60)));
        };
        let lock_now = || -> Result<ApiError, ApiError> {
            self.db
                .set_hosted_key_failures(&caller.person, 0, now + LOCK_SECS)?;
            tracing::warn!(person = %caller.person, "hosted key locked after wrong PINs");
            Ok(ApiError::new(
                ErrorCode::PinLocked,
                format!(
                    "签名 PIN 连续输错 {MAX_PIN_FAILURES} 次，签名已锁定 {} 分钟",
                    LOCK_SECS / 60
                ),
            ))
        };
        if attempt > MAX_PIN_FAILURES {
            return Err(lock_now()?);
        }
        let sealed: EncryptedKey = serde_json::from_str(&k.sealed)
            .map_err(|e| ApiError::internal(format!("托管密钥无法读取：{e}")))?;
        match sealed.unlock(pin) {
            Ok(key) => {
                self.db.set_hosted_key_failures(&caller.person, 0, 0)?;
                Ok(key)
            }
            Err(CryptoError::WrongPin) if attempt >= MAX_PIN_FAILURES => Err(lock_now()?),
            Err(CryptoError::WrongPin) => Err(ApiError::new(
                ErrorCode::WrongPin,
                format!(
                    "签名 PIN 不正确（再输错 {} 次将锁定 {} 分钟）",
                    MAX_PIN_FAILURES - attempt,
                    LOCK_SECS / 60
                ),
            )),
            Err(e) => Err(ApiError::internal(format!("托管密钥无法使用：{e}"))),
        }
    }

    /// 同意 / 不同意 / 退回补正 by a browser user: the event is built from
    /// the case's current state on the hub with the core's
    /// `decision_action`, signed with the caller's hosted key and
    /// committed through [`Hub::push`] with all its checks.
    pub fn hosted_decide(
        &self,
        caller: &Caller,
        case_id: &Uuid,
        decision: Decision,
        opinion: &str,
        pin: &str,
    ) -> Result<CaseState, ApiError> {
        let opinion = check_opinion(decision, opinion)
            .map_err(|e| ApiError::new(ErrorCode::BadOpinion, e.to_string()))?;
        let state = self.visible_case(caller, case_id)?;
        // Rules first, so a refused decision costs no PIN attempt.
        let action = state
            .decision_action(&self.reg(), decision, &opinion)
            .map_err(|e| ApiError::new(ErrorCode::NotAllowed, e.to_string()))?;
        state
            .apply(
                &probe_event(&state, caller, &action)?,
                &"0".repeat(64),
                &self.reg(),
            )
            .map(|_| ())
            .map_err(|e| ApiError::new(ErrorCode::NotAllowed, e.to_string()))?;
        let key = self.unseal(caller, pin)?;
        self.sign_and_push(caller, &state, &key, action)?;
        self.visible_case(caller, case_id)
    }

    /// A case the caller may see; otherwise "not found".
    pub fn visible_case(&self, caller: &Caller, case_id: &Uuid) -> Result<CaseState, ApiError> {
        if !self.db.can_see(&caller.person, case_id)? {
            return Err(ApiError::not_found("没有该案件，或无权查看"));
        }
        self.db
            .case_state(case_id)?
            .ok_or_else(|| ApiError::not_found("没有该案件，或无权查看"))
    }

    /// The 督办 list for `caller` at `now`: the 户口变更 in review whose
    /// current step is past its time limit, in the caller's scope (the
    /// core's `supervision_scope`; anyone else is refused with its reason).
    pub fn overdue(
        &self,
        caller: &Caller,
        now: time::OffsetDateTime,
    ) -> Result<serde_json::Value, ApiError> {
        let scope = supervision_scope(&self.reg().org, &caller.person)
            .map_err(|m| ApiError::new(ErrorCode::NotAllowed, m))?;
        let cases = self.db.cases_with_status(
            &crate::db::enum_text(&CaseType::HukouChange)?,
            &crate::db::enum_text(&Status::InReview)?,
            OVERDUE_CASES,
        )?;
        Ok(jingwu_core::view::overdue_list(
            &self.reg(),
            &scope,
            &cases,
            now,
        ))
    }

    fn sign_and_push(
        &self,
        caller: &Caller,
        state: &CaseState,
        key: &SoftwareKey,
        action: Action,
    ) -> Result<(), ApiError> {
        let ev = new_event(state, caller, &key.public_key().fingerprint(), action)?;
        let se =
            SignedEvent::sign(ev, key).map_err(|e| ApiError::internal(format!("签名失败：{e}")))?;
        self.push(caller, &[WireEvent::of(&se)])?;
        Ok(())
    }
}

fn new_event(
    state: &CaseState,
    caller: &Caller,
    fingerprint: &str,
    action: Action,
) -> Result<Event, ApiError> {
    let mut random = [0u8; 10];
    getrandom::fill(&mut random).map_err(|_| ApiError::internal("无法取得随机数"))?;
    // The hub's clock; a case whose last event a station dated a little
    // ahead of it is signed at that event's time.
    let at = state
        .signing_time(time::OffsetDateTime::now_utc().to_offset(SHANGHAI))
        .map_err(|e| ApiError::new(ErrorCode::ClockPast, e.to_string()))?;
    Ok(Event::new(
        state.case_id,
        state.next_seq,
        Some(state.head.clone()),
        &caller.person,
        HOSTED_DEVICE,
        fingerprint,
        at,
        random,
        action,
    ))
}

/// The unsigned event the decision would be, to check the rules before
/// the PIN is tried.
fn probe_event(state: &CaseState, caller: &Caller, action: &Action) -> Result<Event, ApiError> {
    new_event(state, caller, "", action.clone())
}
