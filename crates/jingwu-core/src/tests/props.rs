//! Property tests: random action sequences, replay, tampering.

use proptest::prelude::*;
use serde_json::json;

use super::{hukou_form, World};
use crate::case::CaseState;
use crate::event::{verify_chain, Action, Decision, SignedEvent};
use crate::form::FormValues;

const STATION: &str = "方祥派出所";

/// A pool of (actor index, action) choices covering every hukou action,
/// right and wrong people alike.
fn action(choice: u8, opinion: bool) -> Action {
    let op = if opinion {
        "意见".to_string()
    } else {
        String::new()
    };
    match choice % 14 {
        0 => Action::Submit {},
        1 => Action::Decide {
            step: "station_chief".into(),
            decision: Decision::Agree,
            opinion: op,
            case_no: String::new(),
            summary: String::new(),
        },
        2 => Action::Decide {
            step: "household_section".into(),
            decision: Decision::Agree,
            opinion: op,
            case_no: String::new(),
            summary: String::new(),
        },
        3 => Action::Decide {
            step: "deputy_director".into(),
            decision: Decision::Agree,
            opinion: op,
            case_no: String::new(),
            summary: String::new(),
        },
        4 => Action::Decide {
            step: "station_chief".into(),
            decision: Decision::Return,
            opinion: op,
            case_no: String::new(),
            summary: String::new(),
        },
        5 => Action::Decide {
            step: "household_section".into(),
            decision: Decision::Disagree,
            opinion: op,
            case_no: String::new(),
            summary: String::new(),
        },
        6 => Action::Decide {
            step: "deputy_director".into(),
            decision: Decision::Return,
            opinion: op,
            case_no: String::new(),
            summary: String::new(),
        },
        7 => Action::Withdraw { reason: op },
        8 => Action::UpdateForm {
            changes: FormValues::from([("remarks".to_string(), json!("补正"))]),
        },
        9 => Action::UpdateForm {
            changes: FormValues::from([("subject_id".to_string(), json!("522634198503120117"))]),
        },
        10 => Action::Implement { note: op },
        11 => Action::Cancel { reason: op },
        12 => Action::UpdateForm {
            changes: FormValues::from([("investigation_opinion".to_string(), json!(null))]),
        },
        _ => Action::Dispatch {
            unit: "522634510000".into(),
            opinion: op,
        },
    }
}

fn actors(w: &World) -> Vec<String> {
    vec![
        w.holder(STATION, "户籍民警"),
        w.holder(STATION, "所长"),
        w.holder("户政股", "股长"),
        w.deputy(),
        w.holder("西江派出所", "所长"),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    /// Any sequence of actions either applies or is rejected with a reason;
    /// a rejection leaves the state as it was; replaying the accepted
    /// events rebuilds the same state.
    #[test]
    fn any_sequence_applies_or_is_rejected(steps in proptest::collection::vec((0usize..5, any::<u8>(), any::<bool>()), 1..40)) {
        let mut w = World::new();
        let who = actors(&w);
        w.create_hukou(STATION, &who[0], hukou_form()).unwrap();
        for (actor, choice, opinion) in steps {
            let before = w.state().clone();
            let se = w.event(&who[actor], action(choice, opinion));
            match w.submit_signed(se) {
                Ok(_) => {}
                Err(e) => {
                    prop_assert!(!e.to_string().is_empty());
                    prop_assert_eq!(w.state(), &before);
                }
            }
        }
        prop_assert_eq!(&w.replay(), w.state());
    }

    /// Whatever the device clocks say, an event dated before the case's
    /// previous event is refused as backdated (state untouched), and the
    /// accepted log's times never go back.
    #[test]
    fn event_times_never_go_back(steps in proptest::collection::vec((0usize..5, any::<u8>(), -600i64..600), 1..30)) {
        let mut w = World::new();
        let who = actors(&w);
        w.create_hukou(STATION, &who[0], hukou_form()).unwrap();
        for (actor, choice, skew) in steps {
            let before = w.state().clone();
            // World::event adds 7 minutes; `skew` moves the clock around that.
            w.clock += time::Duration::seconds(skew - 420);
            let se = w.event(&who[actor], action(choice, true));
            let t = se.event.time;
            match w.submit_signed(se) {
                Ok(s) => prop_assert!(t >= before.updated_at && s.updated_at == t),
                Err(crate::case::Rejection::Backdated { time, previous }) => {
                    prop_assert!(t < before.updated_at);
                    prop_assert_eq!((time, previous), (t, before.updated_at));
                    prop_assert_eq!(w.state(), &before);
                }
                Err(_) => {
                    prop_assert!(t >= before.updated_at, "a backdated event refused for another reason");
                    prop_assert_eq!(w.state(), &before);
                }
            }
        }
        let times: Vec<_> = w.log.iter().map(|e| e.event.time).collect();
        prop_assert!(times.windows(2).all(|p| p[0] <= p[1]));
        prop_assert_eq!(&w.replay(), w.state());
    }

    /// Changing any byte of any event (its signed bytes or its signature)
    /// breaks verification.
    #[test]
    fn any_byte_change_breaks_verification(pick in any::<prop::sample::Index>(), byte in any::<prop::sample::Index>(), xor in 1u8..=255, in_sig in any::<bool>()) {
        let w = agreed_world();
        let keys: std::collections::BTreeMap<_, _> = w.keys.iter().map(|(k, v)| (k.clone(), crate::crypto::Signer::public_key(v).clone())).collect();
        let i = pick.index(w.log.len());
        let victim = &w.log[i];
        let (mut bytes, mut sig) = (victim.bytes().to_vec(), victim.signature().to_vec());
        if in_sig { let j = byte.index(sig.len()); sig[j] ^= xor; } else { let j = byte.index(bytes.len()); bytes[j] ^= xor; }
        let broken = match SignedEvent::from_parts(bytes, sig) {
            Err(_) => true,
            Ok(tampered) => {
                let mut log = w.log.clone();
                log[i] = tampered;
                verify_chain(&log, |a, _| keys.get(a)).is_err()
            }
        };
        prop_assert!(broken);
    }
}

fn agreed_world() -> World {
    use std::sync::OnceLock;
    static LOG: OnceLock<Vec<(Vec<u8>, Vec<u8>)>> = OnceLock::new();
    let mut w = World::new();
    let parts = LOG.get_or_init(|| {
        let mut w = World::new();
        let who = actors(&w);
        w.create_hukou(STATION, &who[0], hukou_form()).unwrap();
        w.act(&who[0], Action::Submit {}).unwrap();
        w.act(&who[1], action(1, true)).unwrap();
        w.act(&who[2], action(2, true)).unwrap();
        w.act(&who[3], action(3, true)).unwrap();
        w.log
            .iter()
            .map(|e| (e.bytes().to_vec(), e.signature().to_vec()))
            .collect()
    });
    w.log = parts
        .iter()
        .map(|(b, s)| SignedEvent::from_parts(b.clone(), s.clone()).unwrap())
        .collect();
    let hashes: Vec<String> = w.log.iter().map(|e| e.hash_hex()).collect();
    w.state = Some(
        CaseState::replay(
            w.log
                .iter()
                .zip(hashes.iter())
                .map(|(e, h)| (&e.event, h.as_str())),
            &w.reg,
        )
        .unwrap(),
    );
    w
}

#[test]
fn untouched_log_verifies() {
    let w = agreed_world();
    let keys: std::collections::BTreeMap<_, _> = w
        .keys
        .iter()
        .map(|(k, v)| (k.clone(), crate::crypto::Signer::public_key(v).clone()))
        .collect();
    verify_chain(&w.log, |a, _| keys.get(a)).unwrap();
    // Reordering or dropping events breaks the chain too.
    let mut swapped = w.log.clone();
    swapped.swap(1, 2);
    assert!(verify_chain(&swapped, |a, _| keys.get(a)).is_err());
    let mut dropped = w.log.clone();
    dropped.remove(2);
    let e = verify_chain(&dropped, |a, _| keys.get(a)).unwrap_err();
    assert_eq!(e.index, 2);
}

fn att(n: usize) -> crate::form::AttachmentRef {
    crate::form::AttachmentRef {
        sm3: format!("{n:064x}"),
        name: format!("{n}.jpg"),
        mime: "image/jpeg".into(),
        size: 1,
        pages: None,
    }
}

proptest! {
    /// `arrange` accepts exactly the permutations of the field's list and
    /// returns the list in that order.
    #[test]
    fn arrange_accepts_exactly_permutations(
        n in 0usize..8,
        perm in Just(()).prop_perturb(|_, mut rng| { let mut k: Vec<usize> = (0..8).collect(); for i in (1..8).rev() { let j = (rng.next_u32() as usize) % (i + 1); k.swap(i, j); } k }),
        order in proptest::collection::vec(0usize..10, 0..9),
    ) {
        let list: Vec<_> = (0..n).map(att).collect();
        // A permutation of 0..n.
        let p: Vec<usize> = perm.into_iter().filter(|&i| i < n).collect();
        let want: Vec<String> = p.iter().map(|&i| att(i).sm3).collect();
        let got = crate::case::arrange(list.clone(), &want).unwrap();
        prop_assert_eq!(got.iter().map(|a| a.sm3.clone()).collect::<Vec<_>>(), want);
        // Any order of indices: accepted iff it is a permutation of 0..n.
        let mut sorted = order.clone();
        sorted.sort_unstable();
        let is_perm = sorted == (0..n).collect::<Vec<_>>();
        let names: Vec<String> = order.iter().map(|&i| att(i).sm3).collect();
        let r = crate::case::arrange(list, &names);
        prop_assert_eq!(r.is_ok(), is_perm);
        if let Ok(got) = r {
            prop_assert_eq!(got.iter().map(|a| a.sm3.clone()).collect::<Vec<_>>(), names);
        }
    }
}
