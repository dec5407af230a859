//! The slip payload: round trip, verification, tampering, size.

use proptest::prelude::*;

use super::{decide, hukou_form, World};
use crate::attest::{AttestError, SlipPayload, SlipResult, PREFIX};
use crate::crypto::{PublicKey, Signer};
use crate::event::{Action, Decision, SignedEvent};

/// A case agreed at every step, with a withdrawal in the middle (so one
/// decision's prev is not the previous decision).
fn decided(last: Decision) -> World {
    let mut w = World::new();
    let officer = w.holder("方祥派出所", "户籍民警");
    let chief = w.holder("方祥派出所", "所长");
    let section = w.holder("户政股", "股长");
    let deputy = w.deputy();
    w.create_hukou("方祥派出所", &officer, hukou_form())
        .unwrap();
    w.act(&officer, Action::Submit {}).unwrap();
    w.act(&chief, decide("station_chief", Decision::Agree, "同意上报"))
        .unwrap();
    w.act(
        &chief,
        Action::Withdraw {
            reason: "补充意见".into(),
        },
    )
    .unwrap();
    w.act(
        &chief,
        decide("station_chief", Decision::Agree, "同意上报县局"),
    )
    .unwrap();
    w.act(
        &section,
        decide("household_section", Decision::Agree, "材料齐全，同意"),
    )
    .unwrap();
    w.act(
        &deputy,
        decide("deputy_director", last, "经审核，同意变更姓名"),
    )
    .unwrap();
    w
}

fn decisions(w: &World) -> Vec<&SignedEvent> {
    // The decisions standing at the end: the withdrawn one is superseded.
    let all: Vec<&SignedEvent> = w
        .log
        .iter()
        .filter(|e| matches!(e.event.action, Action::Decide { .. }))
        .collect();
    all[1..].to_vec()
}

fn keys(w: &World) -> impl Fn(&str, &str) -> Option<PublicKey> + '_ {
    |author, fp| {
        w.keys
            .get(author)
            .map(|k| k.public_key().clone())
            .filter(|k| k.fingerprint() == fp)
    }
}

#[test]
fn round_trip_and_verify() {
    let w = decided(Decision::Agree);
    let p = SlipPayload::from_decisions(&decisions(&w)).unwrap();
    assert_eq!(p.result, SlipResult::Approved);
    let text = p.encode();
    assert!(text.starts_with(PREFIX));
    // QR alphanumeric mode only: digits, upper case, space $%*+-./:
    assert!(text
        .chars()
        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase() || " $%*+-./:".contains(c)));
    // Three decisions fit comfortably in a QR code.
    assert!(text.len() < 1200, "{}", text.len());
    let back = SlipPayload::decode(&text).unwrap();
    assert_eq!(back, p);
    let hashes = back.verify(keys(&w)).unwrap();
    assert_eq!(hex::encode(hashes[2]), w.log.last().unwrap().hash_hex());
}

#[test]
fn a_rejection_verifies_as_a_rejection() {
    let w = decided(Decision::Disagree);
    let p = SlipPayload::from_decisions(&decisions(&w)).unwrap();
    assert_eq!(p.result, SlipResult::Rejected);
    let back = SlipPayload::decode(&p.encode()).unwrap();
    back.verify(keys(&w)).unwrap();
    // Claiming approval on a rejected case fails.
    let mut forged = back.clone();
    forged.result = SlipResult::Approved;
    assert_eq!(forged.verify(keys(&w)), Err(AttestError::ResultMismatch));
}

#[test]
fn forged_fields_fail_with_reasons() {
    let w = decided(Decision::Agree);
    let p = SlipPayload::from_decisions(&decisions(&w)).unwrap();
    let mut f = p.clone();
    f.decisions[1].opinion = "不同意".into();
    assert!(matches!(
        f.verify(keys(&w)),
        Err(AttestError::BadSignature { index: 2, .. })
    ));
    let mut f = p.clone();
    f.case_no = "522634510000-20261120-0001".into();
    assert!(matches!(
        f.verify(keys(&w)),
        Err(AttestError::BadSignature { index: 1, .. })
    ));
    let mut f = p.clone();
    f.summary = f.summary.replace("王德勇", "王德永");
    assert!(matches!(
        f.verify(keys(&w)),
        Err(AttestError::BadSignature { index: 1, .. })
    ));
    assert!(
        p.summary
            .contains("王德勇（5226**********0116）姓名：王德永 → 王德勇"),
        "{}",
        p.summary
    );
    let mut f = p.clone();
    f.final_hash[0] ^= 1;
    assert_eq!(f.verify(keys(&w)), Err(AttestError::FinalHashMismatch));
    // A signer the verifier does not know.
    let none = |_: &str, _: &str| None;
    assert!(matches!(p.verify(none), Err(AttestError::UnknownSigner(_))));
    assert_eq!(SlipPayload::decode("HELLO"), Err(AttestError::NotASlip));
    assert!(matches!(
        SlipPayload::decode("JW1:%%%"),
        Err(AttestError::Malformed(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// Changing any character of the QR text breaks decoding or verification.
    #[test]
    fn any_change_of_the_text_fails(pos in any::<prop::sample::Index>(), to in 0usize..45) {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
        let w = decided(Decision::Agree);
        let p = SlipPayload::from_decisions(&decisions(&w)).unwrap();
        let text = p.encode();
        let mut bytes = text.clone().into_bytes();
        let i = PREFIX.len() + pos.index(bytes.len() - PREFIX.len());
        prop_assume!(bytes[i] != ALPHABET[to]);
        bytes[i] = ALPHABET[to];
        let changed = String::from_utf8(bytes).unwrap();
        let outcome = SlipPayload::decode(&changed).and_then(|d| d.verify(keys(&w)).map(|_| d));
        match outcome {
            Err(_) => {}
            // Base45 is not injective on invalid triples only if it decodes to
            // the same bytes; then the payload is unchanged and still genuine.
            Ok(d) => prop_assert_eq!(d, p),
        }
    }
}
