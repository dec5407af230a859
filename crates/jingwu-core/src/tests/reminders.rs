//! Time-limit reminders over a whole 户口变更: who is reminded when,
//! counted with the official 2026 calendar (国庆节 included), and the
//! copy to the leader above.

use time::macros::datetime;

use super::{decide, hukou_form, World};
use crate::event::{Action, Decision};
use crate::reminders::{due_alerts, AlertKind, AlertRole};

const STATION: &str = "方祥派出所";

#[test]
fn reminder_and_overdue_over_national_day_with_a_copy_to_the_leader_above() {
    let mut w = World::new();
    let officer = w.holder(STATION, "户籍民警");
    let chief = w.holder(STATION, "所长");
    let section = w.holder("户政股", "股长");
    let deputy = w.deputy();
    let director = w.holder("雷山县公安局", "局长");
    w.clock = datetime!(2026-09-29 09:00 +8);
    w.create_hukou(STATION, &officer, hukou_form()).unwrap();
    w.act(&officer, Action::Submit {}).unwrap();

    // 所长审批, 20 working days from Tuesday 09-29: due Monday 11-02, the
    // reminder from Friday 10-30. The 分管 leader of the station gets a copy.
    let s = w.state().clone();
    assert_eq!(s.step_leaders(&w.reg), vec![deputy.clone()]);
    assert!(s.readers_after(&w.reg, false, &officer).contains(&deputy));
    let at = |who: &str, now| due_alerts(&w.reg, [&s], who, now);
    assert!(at(&chief, datetime!(2026-10-29 23:59:59 +8)).is_empty());
    let a = at(&chief, datetime!(2026-10-30 00:00 +8));
    assert_eq!(a.len(), 1);
    assert_eq!(
        (a[0].kind, a[0].role),
        (AlertKind::DueSoon, AlertRole::Assignee)
    );
    assert_eq!(a[0].due, datetime!(2026-11-02 23:59:59.999_999_999 +8));
    assert_eq!(a[0].step, "station_chief");
    assert!(a[0].body.contains("2026年11月2日"), "{}", a[0].body);
    assert!(a[0].body.contains(&s.case_no), "{}", a[0].body);
    let l = at(&deputy, datetime!(2026-10-30 09:00 +8));
    assert_eq!(
        (l[0].kind, l[0].role),
        (AlertKind::DueSoon, AlertRole::Leader)
    );
    assert!(l[0].title.contains("抄送"));
    let chief_name = &w.reg.org.person(&chief).unwrap().name;
    assert!(l[0].body.contains(chief_name.as_str()), "{}", l[0].body);
    for other in [&officer, &section, &director] {
        assert!(
            at(other, datetime!(2026-10-30 09:00 +8)).is_empty(),
            "{other}"
        );
    }
    let o = at(&chief, datetime!(2026-11-03 00:00 +8));
    assert_eq!(
        (o[0].kind, o[0].role),
        (AlertKind::Overdue, AlertRole::Assignee)
    );
    assert_eq!(o[0].step_key(), a[0].step_key());
    let o = at(&deputy, datetime!(2026-11-03 00:00 +8));
    assert_eq!(
        (o[0].kind, o[0].role),
        (AlertKind::Overdue, AlertRole::Leader)
    );

    // On to the 分管局长 on the same day: 5 working days run over 国庆节
    // (09-30; 10-08, 10-09, Saturday 10-10 make-up day; 10-12), so the
    // reminder is from the make-up Saturday. The leader above the 分管局长
    // is the 局长.
    w.act(&chief, decide("station_chief", Decision::Agree, "同意上报"))
        .unwrap();
    let mid = w.state().clone();
    assert_eq!(
        mid.step_leaders(&w.reg),
        vec![deputy.clone()],
        "户政股's 分管"
    );
    w.act(
        &section,
        decide("household_section", Decision::Agree, "同意"),
    )
    .unwrap();
    let s = w.state().clone();
    assert_eq!(s.step_leaders(&w.reg), vec![director.clone()]);
    let at = |who: &str, now| due_alerts(&w.reg, [&s], who, now);
    assert!(at(&deputy, datetime!(2026-10-09 23:59:59 +8)).is_empty());
    let a = at(&deputy, datetime!(2026-10-10 00:00 +8));
    assert_eq!(
        (a[0].kind, a[0].role),
        (AlertKind::DueSoon, AlertRole::Assignee)
    );
    assert_eq!(a[0].due, datetime!(2026-10-12 23:59:59.999_999_999 +8));
    assert_ne!(a[0].step_key(), o[0].step_key(), "a new step, new alerts");
    let l = at(&director, datetime!(2026-10-10 00:00 +8));
    assert_eq!(
        (l[0].kind, l[0].role),
        (AlertKind::DueSoon, AlertRole::Leader)
    );
    assert_eq!(
        at(&deputy, datetime!(2026-10-12 23:59 +8))[0].kind,
        AlertKind::DueSoon
    );
    assert_eq!(
        at(&deputy, datetime!(2026-10-13 00:00 +8))[0].kind,
        AlertKind::Overdue
    );
    assert!(at(&chief, datetime!(2026-10-13 00:00 +8)).is_empty());

    // Decided: nothing more.
    w.clock = datetime!(2026-10-13 09:00 +8);
    w.act(&deputy, decide("deputy_director", Decision::Agree, "同意"))
        .unwrap();
    let s = w.state().clone();
    assert!(s.step_leaders(&w.reg).is_empty());
    for p in [&deputy, &director, &officer] {
        assert!(due_alerts(&w.reg, [&s], p, datetime!(2026-10-20 09:00 +8)).is_empty());
    }
}

/// The leader above a unit: its 分管 leader; above the bureau itself its
/// 局长; nobody where the org names nobody (the demo prefecture).
#[test]
fn leaders_above_by_unit() {
    let w = World::new();
    let org = &w.reg.org;
    let ids = |unit: &str| -> Vec<String> {
        org.leaders_above(&w.unit(unit))
            .into_iter()
            .map(|p| p.id.clone())
            .collect()
    };
    assert_eq!(ids(STATION), vec![w.deputy()]);
    assert_eq!(ids("户政股"), vec![w.deputy()]);
    assert_eq!(ids("雷山县公安局"), vec![w.holder("雷山县公安局", "局长")]);
    assert!(ids("黔东南州公安局人口管理支队").is_empty());
    assert!(org.leaders_above("000000000000").is_empty());
}
