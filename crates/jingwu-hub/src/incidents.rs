//! 110 接处警 for browser users: registering a report, dispatching it, the
//! handling steps and changes to the intake, each built on the hub from
//! the case's current state, checked by the core's fold before the PIN
//! is tried, signed with the caller's hosted key ([`crate::hosted`]) and
//! committed through [`Hub::push`] like any station's events. Several
//! events of one call (the dispatches of 一警多处) go in one push: all or
//! none.
//!
//! A hosted key issues its own 接警单编号 like a station: the issuer is
//! the key's fingerprint on the device [`HOSTED_DEVICE`]
//! (`jingwu_core::caseno::issuer_of`), and the per-day sequence is the
//! next after the numbers that issuer already took, which only the hub
//! can know (a hosted key signs nowhere else).

use jingwu_core::case::{canonical_action, CaseState};
use jingwu_core::caseno::{issuer_of, CaseNo};
use jingwu_core::crypto::{Signer as _, SoftwareKey};
use jingwu_core::event::{Action, Event, SignedEvent};
use jingwu_core::form::{CaseType, FormValues};
use jingwu_core::org::Org;
use jingwu_core::SHANGHAI;
use uuid::Uuid;

use crate::error::{ApiError, ErrorCode};
use crate::hosted::HOSTED_DEVICE;
use crate::hub::{rejection, Caller, Hub, WireEvent};

/// How often a hosted create takes the next number when a concurrent
/// create of the same person took its number first.
const NUMBER_TRIES: u32 = 5;

/// The unit where `person` registers 110 reports: `wanted` if given (and
/// theirs), else their first 110 desk, else their first unit the desk
/// dispatches to (自接警). Whether the unit may register is the core's
/// rule (`CaseState::create`); this only picks among the person's units.
pub fn incident_unit(org: &Org, person: &str, wanted: Option<&str>) -> Result<String, ApiError> {
    org.incident_unit_of(person, wanted)
        .map_err(|m| ApiError::new(ErrorCode::NotAllowed, m))
}

fn random() -> Result<[u8; 10], ApiError> {
    let mut r = [0u8; 10];
    getrandom::fill(&mut r).map_err(|_| ApiError::internal("无法取得随机数"))?;
    Ok(r)
}

fn shanghai_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc().to_offset(SHANGHAI)
}

/// The placeholder head of trial events (the fold only chains them).
fn trial_hash() -> String {
    "0".repeat(64)
}

impl Hub {
    /// The fingerprint of the caller's hosted key (without unsealing it).
    fn hosted_fingerprint(&self, caller: &Caller) -> Result<String, ApiError> {
        self.db
            .hosted_key(&caller.person)?
            .map(|k| k.fingerprint)
            .ok_or_else(|| ApiError::new(ErrorCode::NoHostedKey, "尚未创建签名密钥，请先创建"))
    }

    /// The next 接警单编号 the caller's hosted key issues at `unit` on
    /// `day`, skipping `skip` numbers (taken meanwhile by a concurrent
    /// request of the same person).
    fn hosted_case_no(
        &self,
        unit: &str,
        day: time::Date,
        issuer: &str,
        skip: u32,
    ) -> Result<String, ApiError> {
        let prefix = format!(
            "{unit}-{:04}{:02}{:02}-{issuer}-",
            day.year(),
            u8::from(day.month()),
            day.day()
        );
        let last = self
            .db
            .case_nos_with_prefix(&prefix)?
            .iter()
            .filter_map(|n| CaseNo::parse(n).ok())
            .map(|n| n.seq)
            .max()
            .unwrap_or(0);
        Ok(CaseNo::format(unit, day, issuer, last + 1 + skip))
    }

    /// 接警 by a browser user: the intake `form` registered at `unit` (or
    /// the caller's 110 unit), numbered by the hosted key. Refused by the
    /// core's rules before the PIN is tried.
    pub fn hosted_incident_create(
        &self,
        caller: &Caller,
        form: FormValues,
        unit: Option<&str>,
        pin: &str,
    ) -> Result<CaseState, ApiError> {
        let reg = &self.reg();
        let unit = incident_unit(&reg.org, &caller.person, unit)?;
        let template = reg
            .template_latest("incident")
            .ok_or_else(|| ApiError::internal("缺少接处警登记表模板"))?
            .reference();
        let fingerprint = self.hosted_fingerprint(caller)?;
        let issuer = issuer_of(&fingerprint, HOSTED_DEVICE);
        let case_id = Uuid::now_v7();
        let event = |at: time::OffsetDateTime, case_no: String| -> Result<Event, ApiError> {
            let action = canonical_action(
                reg,
                None,
                Action::Create {
                    case_type: CaseType::Incident,
                    template: template.clone(),
                    workflow: None,
                    case_no,
                    unit: unit.clone(),
                    form: form.clone(),
                    registry: reg.published_version(),
                },
            );
            Ok(Event::new(
                case_id,
                0,
                None,
                &caller.person,
                HOSTED_DEVICE,
                &fingerprint,
                at,
                random()?,
                action,
            ))
        };
        // Rules first, so a refused report costs no PIN attempt.
        let at = shanghai_now();
        let probe = event(at, self.hosted_case_no(&unit, at.date(), &issuer, 0)?)?;
        CaseState::create(&probe, &trial_hash(), reg).map_err(|e| rejection(e, None))?;
        let key = self.unseal(caller, pin)?;
        let mut skip = 0;
        loop {
            let at = shanghai_now();
            let ev = event(at, self.hosted_case_no(&unit, at.date(), &issuer, skip)?)?;
            let se = sign(ev, &key)?;
            match self.push(caller, &[WireEvent::of(&se)]) {
                Ok(_) => return self.visible_case(caller, &case_id),
                Err(e) if e.body.code == ErrorCode::CaseNoTaken && skip + 1 < NUMBER_TRIES => {
                    skip += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// 110 steps by a browser user on a case they may see: `actions` in
    /// order, each checked by the core's fold on the state the previous
    /// one leaves (before the PIN is tried), signed with the hosted key
    /// and pushed together: all or none.
    pub fn hosted_incident_act(
        &self,
        caller: &Caller,
        case_id: &Uuid,
        actions: Vec<Action>,
        pin: &str,
    ) -> Result<CaseState, ApiError> {
        let reg = &self.reg();
        let state = self.visible_case(caller, case_id)?;
        if state.case_type != CaseType::Incident {
            return Err(not_incident());
        }
        if actions.is_empty() {
            return Ok(state);
        }
        let at = state
            .signing_time(shanghai_now())
            .map_err(|e| ApiError::new(ErrorCode::ClockPast, e.to_string()))?;
        let fingerprint = self.hosted_fingerprint(caller)?;
        let event = |s: &CaseState, action: &Action| -> Result<Event, ApiError> {
            Ok(Event::new(
                s.case_id,
                s.next_seq,
                Some(s.head.clone()),
                &caller.person,
                HOSTED_DEVICE,
                &fingerprint,
                at,
                random()?,
                canonical_action(reg, Some(s), action.clone()),
            ))
        };
        // Rules first: the whole call on trial events.
        let mut trial = state.clone();
        for a in &actions {
            trial = trial
                .apply(&event(&trial, a)?, &trial_hash(), reg)
                .map_err(|e| rejection(e, Some(&trial)))?;
        }
        let key = self.unseal(caller, pin)?;
        let mut s = state;
        let mut wire = Vec::with_capacity(actions.len());
        for a in &actions {
            let se = sign(event(&s, a)?, &key)?;
            s = s
                .apply(&se.event, &se.hash_hex(), reg)
                .map_err(|e| rejection(e, Some(&s)))?;
            wire.push(WireEvent::of(&se));
        }
        self.push(caller, &wire)?;
        self.visible_case(caller, case_id)
    }

    /// A 110 record the caller may see; otherwise "not found".
    pub fn visible_incident(&self, caller: &Caller, case_id: &Uuid) -> Result<CaseState, ApiError> {
        let s = self.visible_case(caller, case_id)?;
        if s.case_type != CaseType::Incident {
            return Err(not_incident());
        }
        Ok(s)
    }
}

fn not_incident() -> ApiError {
    ApiError::new(ErrorCode::BadArguments, "该案件不是接处警记录")
}

fn sign(ev: Event, key: &SoftwareKey) -> Result<SignedEvent, ApiError> {
    debug_assert_eq!(ev.key, key.public_key().fingerprint());
    SignedEvent::sign(ev, key).map_err(|e| ApiError::internal(format!("签名失败：{e}")))
}
