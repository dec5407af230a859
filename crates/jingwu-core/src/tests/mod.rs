//! Whole-case tests of the core: the 户口变更 chain on every branch, the
//! 110 lifecycle, and property tests over random action sequences and
//! tampered bytes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod attest;
mod hukou;
mod incident;
mod props;
mod reminders;
mod stats;
mod view;

use std::collections::BTreeMap;

use serde_json::json;
use time::macros::datetime;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::case::{CaseState, Rejection};
use crate::caseno::CaseNo;
use crate::crypto::{PublicKey, Signer, SoftwareKey};
use crate::event::{Action, Event, SignedEvent};
use crate::form::{CaseType, FormValues};
use crate::registry::Registry;

/// Deterministic RNG for tests only.
pub(crate) struct TestRng(pub u64);
impl rand_core::TryRng for TestRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        Ok(z ^ (z >> 31))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}
impl rand_core::TryCryptoRng for TestRng {}

/// One case being driven through the rules, with every person's key.
pub(crate) struct World {
    pub reg: Registry,
    pub keys: BTreeMap<String, SoftwareKey>,
    pub clock: OffsetDateTime,
    pub rng: TestRng,
    pub log: Vec<SignedEvent>,
    pub state: Option<CaseState>,
    pub case_id: Uuid,
}

impl World {
    pub fn new() -> World {
        let reg = Registry::builtin_demo().unwrap();
        let mut rng = TestRng(42);
        let keys = reg
            .org
            .people()
            .map(|p| (p.id.clone(), SoftwareKey::generate(&mut rng).unwrap()))
            .collect();
        World {
            reg,
            keys,
            clock: datetime!(2026-11-20 09:00 +8),
            rng,
            log: Vec::new(),
            state: None,
            case_id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001),
        }
    }

    pub fn unit(&self, name: &str) -> String {
        self.reg
            .org
            .units()
            .find(|u| u.name == name)
            .unwrap_or_else(|| panic!("no unit {name}"))
            .code
            .clone()
    }

    pub fn holder(&self, unit_name: &str, post: &str) -> String {
        let code = self.unit(unit_name);
        self.reg.org.holders(&code, post)[0].id.clone()
    }

    /// The person 分管 the 户政股.
    pub fn deputy(&self) -> String {
        let hz = self.unit("户政股");
        self.reg.org.in_charge_of(&hz)[0].id.clone()
    }

    /// Builds and signs the next event of the case by `author`.
    /// A `Decide` whose `case_no` is left empty gets the case's number and
    /// summary filled in (tests name only step, decision and opinion).
    /// The case-number issuer of `author`'s key.
    pub fn issuer(&self, author: &str) -> String {
        crate::caseno::issuer_of(&self.keys[author].public_key().fingerprint(), "test-device")
    }

    pub fn event(&mut self, author: &str, mut action: Action) -> SignedEvent {
        if let (
            Action::Decide {
                case_no, summary, ..
            },
            Some(s),
        ) = (&mut action, &self.state)
        {
            if case_no.is_empty() {
                *case_no = s.case_no.clone();
                *summary = s.summary();
            }
        }
        self.clock += time::Duration::minutes(7);
        let (seq, prev) = match &self.state {
            None => (0, None),
            Some(s) => (s.next_seq, Some(s.head.clone())),
        };
        let key = &self.keys[author];
        let mut random = [0u8; 10];
        rand_core::TryRng::try_fill_bytes(&mut self.rng, &mut random).unwrap();
        let ev = Event::new(
            self.case_id,
            seq,
            prev,
            author,
            "test-device",
            &key.public_key().fingerprint(),
            self.clock,
            random,
            action,
        );
        SignedEvent::sign(ev, key).unwrap()
    }

    /// Makes, checks and (if allowed) records an event.
    pub fn act(&mut self, author: &str, action: Action) -> Result<&CaseState, Rejection> {
        let se = self.event(author, action);
        self.submit_signed(se)
    }

    pub fn submit_signed(&mut self, se: SignedEvent) -> Result<&CaseState, Rejection> {
        let h = se.hash_hex();
        let next = match &self.state {
            None => CaseState::create(&se.event, &h, &self.reg)?,
            Some(s) => s.apply(&se.event, &h, &self.reg)?,
        };
        self.log.push(se);
        self.state = Some(next);
        Ok(self.state.as_ref().unwrap())
    }

    pub fn state(&self) -> &CaseState {
        self.state.as_ref().unwrap()
    }

    /// Replays the log from scratch and verifies every signature.
    pub fn replay(&self) -> CaseState {
        let keys: BTreeMap<String, PublicKey> = self
            .keys
            .iter()
            .map(|(k, v)| (k.clone(), v.public_key().clone()))
            .collect();
        crate::event::verify_chain(&self.log, |a, _| keys.get(a)).unwrap();
        let hashes: Vec<String> = self.log.iter().map(|e| e.hash_hex()).collect();
        CaseState::replay(
            self.log
                .iter()
                .zip(hashes.iter())
                .map(|(e, h)| (&e.event, h.as_str())),
            &self.reg,
        )
        .unwrap()
    }

    pub fn create_hukou(
        &mut self,
        station: &str,
        author: &str,
        form: FormValues,
    ) -> Result<&CaseState, Rejection> {
        let unit = self.unit(station);
        let wf = self
            .reg
            .workflow_latest("hukou_change")
            .unwrap()
            .reference();
        let t = self
            .reg
            .template_latest("hukou_change")
            .unwrap()
            .reference();
        let case_no = CaseNo::format(&unit, self.clock.date(), &self.issuer(author), 1);
        self.act(
            author,
            Action::Create {
                case_type: CaseType::HukouChange,
                template: t,
                workflow: Some(wf),
                case_no,
                unit,
                form,
                registry: None,
            },
        )
    }
}

/// A decision naming only step, decision and opinion; [`World::event`]
/// fills in the case number and summary.
pub(crate) fn decide(step: &str, d: crate::event::Decision, opinion: &str) -> Action {
    Action::Decide {
        step: step.into(),
        decision: d,
        opinion: opinion.into(),
        case_no: String::new(),
        summary: String::new(),
    }
}

/// A complete, valid 户口变更 form: the demo name change (主项) with the
/// optional household fields and a scan.
pub(crate) fn hukou_form() -> FormValues {
    let mut f = crate::demo::name_change_form();
    let extra = json!({
        "household_no": "522634001234",
        "householder_name": "王德勇",
        "relation_to_householder": "02",
        "address_street": "方祥村一组",
        "address_number": "12号",
        "evidence": [
            {"name": "出生医学证明", "copies": 1, "original": "1"},
            {"name": "村委会证明", "copies": 1, "original": "1"}
        ],
        "scans": [
            {"sm3": "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0",
             "name": "登记表扫描件.jpg", "mime": "image/jpeg", "size": 183422, "pages": 1}
        ]
    });
    if let serde_json::Value::Object(m) = extra {
        f.extend(m);
    }
    f
}
