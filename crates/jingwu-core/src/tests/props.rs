//! Property tests: random action sequences, replay, tampering.

use proptest::prelude::*;
use serde_json::json;

use super::{hukou_form, World};
use crate::case::CaseState;
use crate::crypto::Signer as _;
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
            at: None,
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

/// Whether `person`'s event with `action` at `time` would be accepted.
fn accepted(w: &World, person: &str, time: time::OffsetDateTime, mut action: Action) -> bool {
    let s = w.state();
    if let Action::Decide {
        case_no, summary, ..
    } = &mut action
    {
        *case_no = s.case_no.clone();
        *summary = s.summary();
    }
    let key = w.keys[person].public_key().fingerprint();
    let ev = crate::event::Event::new(
        s.case_id,
        s.next_seq,
        Some(s.head.clone()),
        person,
        "test-device",
        &key,
        time,
        [7; 10],
        action,
    );
    s.apply(&ev, &"1".repeat(64), &w.reg).is_ok()
}

/// Checks every flag of `allowed_actions` for `person` against events
/// such as a person would really make (real opinions, a real change, a
/// real attachment) at the time the next event of `w` would carry.
fn flags_agree_with_apply(w: &World, person: &str) -> Result<(), TestCaseError> {
    use crate::case::Rejection;
    let time = w.clock + time::Duration::minutes(7);
    let s = w.state();
    let a = s.allowed_actions(person, &w.reg, time);
    let step = s
        .current_step(&w.reg)
        .map(|x| x.id.clone())
        .unwrap_or_default();
    let decisions: Vec<bool> = [Decision::Agree, Decision::Disagree, Decision::Return]
        .into_iter()
        .map(|d| {
            accepted(
                w,
                person,
                time,
                Action::Decide {
                    step: step.clone(),
                    decision: d,
                    opinion: "经审核，意见如上".into(),
                    case_no: String::new(),
                    summary: String::new(),
                },
            )
        })
        .collect();
    prop_assert!(
        decisions.iter().all(|&d| d == a.can_decide),
        "decide {:?} vs {}",
        decisions,
        a.can_decide
    );
    let checks = [
        (
            "edit",
            a.can_edit,
            Action::UpdateForm {
                changes: match s.case_type {
                    crate::form::CaseType::HukouChange => {
                        FormValues::from([("remarks".to_string(), json!("申请人补充说明"))])
                    }
                    crate::form::CaseType::Incident => {
                        FormValues::from([("location".to_string(), json!("方祥乡平祥村三组"))])
                    }
                },
            },
        ),
        (
            "attach",
            a.can_attach,
            Action::Attach {
                field: "scans".into(),
                attachment: att(4242),
            },
        ),
        ("submit", a.can_submit, Action::Submit {}),
        (
            "withdraw",
            a.can_withdraw,
            Action::Withdraw {
                reason: "材料有误".into(),
            },
        ),
        (
            "cancel",
            a.can_cancel,
            Action::Cancel {
                reason: "申请人撤销申请".into(),
            },
        ),
        (
            "implement",
            a.can_implement,
            Action::Implement {
                note: "已在系统中变更".into(),
            },
        ),
        (
            "inform",
            a.can_inform,
            Action::InformApplicant {
                at: time,
                channel: "phone".into(),
                note: "电话告知".into(),
            },
        ),
        (
            "reject_dispatch",
            a.can_reject_dispatch,
            Action::RejectDispatch {
                at: None,
                reason: "不属本辖区".into(),
                unit: None,
            },
        ),
        (
            "acknowledge",
            a.can_acknowledge,
            Action::Acknowledge {
                at: None,
                unit: None,
            },
        ),
        (
            "depart",
            a.can_depart,
            Action::Depart {
                officers: vec![person.to_string()],
                vehicles: vec!["贵H·1234警".into()],
                unit: None,
                at: None,
            },
        ),
        (
            "arrive",
            a.can_arrive,
            Action::Arrive {
                unit: None,
                at: None,
            },
        ),
        (
            "feedback",
            a.can_feedback,
            Action::Feedback {
                at: None,
                changes: super::incident::feedback(),
                unit: None,
            },
        ),
        ("conclude", a.can_conclude, Action::Conclude {}),
        ("archive", a.can_archive, Action::Archive {}),
    ];
    for (what, flag, action) in checks {
        prop_assert_eq!(
            flag,
            accepted(w, person, time, action),
            "{} by {} at {:?}",
            what,
            person,
            s.status
        );
    }
    // 派警: to any unit the desk may dispatch to.
    let bureau = w
        .reg
        .org
        .bureau_of(&s.unit)
        .map(|b| b.code.clone())
        .unwrap_or_default();
    let any_dispatch = s.case_type == crate::form::CaseType::Incident
        && w.reg.org.dispatch_targets(&bureau).any(|u| {
            accepted(
                w,
                person,
                time,
                Action::Dispatch {
                    at: None,
                    unit: u.code.clone(),
                    opinion: "请出警".into(),
                },
            )
        });
    prop_assert_eq!(a.can_dispatch, any_dispatch, "dispatch by {}", person);
    // Each dispatch's own flags, naming its unit.
    for d in &a.dispatches {
        let unit = Some(d.unit.clone());
        for (what, flag, action) in [
            (
                "ack",
                d.can_acknowledge,
                Action::Acknowledge {
                    at: None,
                    unit: unit.clone(),
                },
            ),
            (
                "return",
                d.can_reject_dispatch,
                Action::RejectDispatch {
                    at: None,
                    reason: "不属本辖区".into(),
                    unit: unit.clone(),
                },
            ),
            (
                "depart",
                d.can_depart,
                Action::Depart {
                    officers: vec![person.to_string()],
                    vehicles: vec![],
                    unit: unit.clone(),
                    at: None,
                },
            ),
            (
                "arrive",
                d.can_arrive,
                Action::Arrive {
                    unit: unit.clone(),
                    at: None,
                },
            ),
            (
                "feedback",
                d.can_feedback,
                Action::Feedback {
                    at: None,
                    changes: super::incident::feedback(),
                    unit: unit.clone(),
                },
            ),
        ] {
            prop_assert_eq!(
                flag,
                accepted(w, person, time, action),
                "{} on {} by {}",
                what,
                d.unit,
                person
            );
        }
    }
    // What stops a submit is said only when the rest would allow it.
    let submit_errors = {
        let key = w.keys[person].public_key().fingerprint();
        let ev = crate::event::Event::new(
            s.case_id,
            s.next_seq,
            Some(s.head.clone()),
            person,
            "d",
            &key,
            time,
            [1; 10],
            Action::Submit {},
        );
        match s.apply(&ev, "", &w.reg) {
            Err(Rejection::Invalid(errs)) => errs,
            _ => Vec::new(),
        }
    };
    prop_assert_eq!(&a.submit_errors, &submit_errors);
    Ok(())
}

/// A pool of 110 actions, right and wrong people alike.
fn incident_action(choice: u8, w: &World) -> Action {
    match choice % 11 {
        0 => Action::Dispatch {
            at: None,
            unit: w.unit("方祥派出所"),
            opinion: "请出警".into(),
        },
        1 => Action::Dispatch {
            at: None,
            unit: w.unit("消防大队"),
            opinion: "请出警".into(),
        },
        2 => Action::RejectDispatch {
            at: None,
            reason: "不属本辖区".into(),
            unit: None,
        },
        3 => Action::Acknowledge {
            at: None,
            unit: None,
        },
        4 => Action::Depart {
            officers: vec![w.holder("方祥派出所", "民警")],
            vehicles: vec![],
            unit: None,
            at: None,
        },
        5 => Action::Arrive {
            unit: None,
            at: None,
        },
        6 => Action::Feedback {
            at: None,
            changes: super::incident::feedback(),
            unit: None,
        },
        7 => Action::Conclude {},
        8 => Action::Archive {},
        9 => Action::Dispatch {
            at: None,
            unit: w.unit("户政股"),
            opinion: "请出警".into(),
        },
        _ => Action::UpdateForm {
            changes: FormValues::from([(
                "summary".to_string(),
                json!("报警人称其家中耕牛被盗（补充）"),
            )]),
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, .. ProptestConfig::default() })]

    /// Across random 户口变更 cases, every person's flags agree with
    /// `apply`: a flag is true exactly when that person's event of that
    /// kind is accepted.
    #[test]
    fn hukou_flags_agree_with_apply(steps in proptest::collection::vec((0usize..5, any::<u8>(), any::<bool>()), 0..30)) {
        let mut w = World::new();
        let who = actors(&w);
        w.create_hukou(STATION, &who[0], hukou_form()).unwrap();
        for p in &who {
            flags_agree_with_apply(&w, p)?;
        }
        for (actor, choice, opinion) in steps {
            let se = w.event(&who[actor], action(choice, opinion));
            if w.submit_signed(se).is_ok() {
                for p in &who {
                    flags_agree_with_apply(&w, p)?;
                }
            }
        }
    }

    /// The same across random 110 records.
    #[test]
    fn incident_flags_agree_with_apply(steps in proptest::collection::vec((0usize..7, any::<u8>()), 0..30)) {
        let mut w = World::new();
        let who = vec![
            w.holder("110巡警大队", "接警员"),
            w.holder("方祥派出所", "所长"),
            w.holder("方祥派出所", "民警"),
            w.holder("消防大队", "值班民警"),
            w.holder("110巡警大队", "值班长"),
            w.holder(STATION, "户籍民警"),
            w.holder("西江派出所", "所长"),
        ];
        super::incident::create(&mut w, "110巡警大队", &who[0]).unwrap();
        for p in &who {
            flags_agree_with_apply(&w, p)?;
        }
        for (actor, choice) in steps {
            let a = incident_action(choice, &w);
            let se = w.event(&who[actor], a);
            if w.submit_signed(se).is_ok() {
                for p in &who {
                    flags_agree_with_apply(&w, p)?;
                }
            }
        }
    }
}

#[test]
fn the_opinion_rule() {
    use crate::case::{check_opinion, MAX_OPINION_CHARS};
    assert_eq!(check_opinion(Decision::Agree, "  ").unwrap(), "");
    assert_eq!(
        check_opinion(Decision::Agree, " 同意。 ").unwrap(),
        "同意。"
    );
    for d in [Decision::Disagree, Decision::Return] {
        let e = check_opinion(d, " \n ").unwrap_err().to_string();
        assert_eq!(e, format!("{}时必须填写意见", d.label()));
        assert_eq!(check_opinion(d, " 材料不全 ").unwrap(), "材料不全");
    }
    let long = "意".repeat(MAX_OPINION_CHARS);
    assert!(check_opinion(Decision::Agree, &long).is_ok());
    let e = check_opinion(Decision::Agree, &format!("{long}见")).unwrap_err();
    assert_eq!(e.to_string(), "审批意见不能超过 1000 字");
}

#[test]
fn decisions_parse_from_their_names_and_labels() {
    for (text, d) in [
        ("agree", Decision::Agree),
        ("同意", Decision::Agree),
        ("disagree", Decision::Disagree),
        ("不同意", Decision::Disagree),
        ("return", Decision::Return),
        ("退回", Decision::Return),
        ("退回补正", Decision::Return),
    ] {
        assert_eq!(text.parse::<Decision>().unwrap(), d);
    }
    // The wire names are serde's.
    for d in [Decision::Agree, Decision::Disagree, Decision::Return] {
        let wire = serde_json::to_value(d).unwrap();
        assert_eq!(wire.as_str().unwrap().parse::<Decision>().unwrap(), d);
        assert_eq!(d.label().parse::<Decision>().unwrap(), d);
    }
    let e = "ok".parse::<Decision>().unwrap_err().to_string();
    assert!(e.contains("“ok”") && e.contains("同意"), "{e}");
}

/// The whole 户口变更 path, every person's flags checked at each state,
/// so each flag is seen true somewhere (the random walks above reach
/// the later states only now and then).
#[test]
fn flags_along_the_whole_hukou_path() {
    let mut w = World::new();
    let who = actors(&w);
    let (officer, chief, section, deputy) = (&who[0], &who[1], &who[2], &who[3]);
    let mut form = hukou_form();
    form.remove("scans");
    w.create_hukou(STATION, officer, form).unwrap();
    let check = |w: &World| {
        for p in &who {
            flags_agree_with_apply(w, p).unwrap();
        }
    };
    check(&w);
    let a = w.state().allowed_actions(officer, &w.reg, w.clock);
    // A draft without its scan: editable, not yet submittable, and why.
    assert!(a.can_edit && a.can_attach && a.can_cancel && !a.can_submit);
    assert!(!a.submit_errors.is_empty());
    w.act(
        officer,
        Action::Attach {
            field: "scans".into(),
            attachment: att(1),
        },
    )
    .unwrap();
    check(&w);
    let a = w.state().allowed_actions(officer, &w.reg, w.clock);
    assert!(a.can_submit && a.submit_errors.is_empty());
    assert!(!w.state().allowed_actions(chief, &w.reg, w.clock).can_edit);
    w.act(officer, Action::Submit {}).unwrap();
    check(&w);
    assert!(
        w.state()
            .allowed_actions(officer, &w.reg, w.clock)
            .can_withdraw
    );
    assert!(w.state().allowed_actions(chief, &w.reg, w.clock).can_decide);
    w.act(chief, action(1, true)).unwrap();
    check(&w);
    w.act(section, action(2, true)).unwrap();
    check(&w);
    assert!(
        w.state()
            .allowed_actions(deputy, &w.reg, w.clock)
            .can_decide
    );
    w.act(deputy, action(3, false)).unwrap();
    check(&w);
    let a = w.state().allowed_actions(officer, &w.reg, w.clock);
    assert!(a.can_implement && !a.can_inform && !a.can_edit);
    w.act(
        officer,
        Action::Implement {
            note: String::new(),
        },
    )
    .unwrap();
    check(&w);
    assert!(
        w.state()
            .allowed_actions(officer, &w.reg, w.clock)
            .can_inform
    );
}

/// The 110 path, every person's flags checked at each state.
#[test]
fn flags_along_the_whole_incident_path() {
    let mut w = World::new();
    let desk = w.holder("110巡警大队", "接警员");
    let commander = w.holder("110巡警大队", "值班长");
    let chief = w.holder("方祥派出所", "所长");
    let officer = w.holder("方祥派出所", "民警");
    let fire = w.holder("消防大队", "值班民警");
    let who = [
        desk.clone(),
        commander.clone(),
        chief.clone(),
        officer.clone(),
        fire.clone(),
    ];
    super::incident::create(&mut w, "110巡警大队", &desk).unwrap();
    let check = |w: &World| {
        for p in &who {
            flags_agree_with_apply(w, p).unwrap();
        }
    };
    check(&w);
    assert!(w.state().allowed_actions(&desk, &w.reg, w.clock).can_edit);
    assert!(
        w.state()
            .allowed_actions(&desk, &w.reg, w.clock)
            .can_dispatch
    );
    let steps = [
        (desk.clone(), incident_action(0, &w)),
        (desk.clone(), incident_action(1, &w)),
        (fire.clone(), incident_action(2, &w)),
        (
            chief.clone(),
            Action::Acknowledge {
                at: None,
                unit: None,
            },
        ),
        (officer.clone(), incident_action(4, &w)),
        (
            officer.clone(),
            Action::Arrive {
                unit: None,
                at: None,
            },
        ),
        (officer.clone(), incident_action(6, &w)),
        (commander.clone(), Action::Conclude {}),
    ];
    for (p, a) in steps {
        let kind = a.kind();
        let flags = w.state().allowed_actions(&p, &w.reg, w.clock);
        let flag = match kind {
            "dispatch" => Some(flags.can_dispatch),
            "reject_dispatch" => Some(flags.can_reject_dispatch),
            "acknowledge" => Some(flags.can_acknowledge),
            "depart" => Some(flags.can_depart),
            "arrive" => Some(flags.can_arrive),
            "feedback" => Some(flags.can_feedback),
            "conclude" => Some(flags.can_conclude),
            _ => None,
        };
        assert_ne!(flag, Some(false), "{kind} by {p}");
        w.act(&p, a).unwrap();
        check(&w);
    }
    assert_eq!(w.state().status, crate::case::Status::Archived);
}
