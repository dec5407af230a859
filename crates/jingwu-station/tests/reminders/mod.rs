//! Time-limit reminders on a station with an injected clock: a 户口变更
//! submitted just before 国庆节 2026, the 所长 reminded one working day
//! before the due date and once overdue, the 分管 leader copied; each
//! alert given once, also after the store is reopened.

use std::collections::BTreeMap;
use std::path::Path;

use jingwu_core::crypto::{Signer, SoftwareKey};
use jingwu_core::event::Action;
use jingwu_core::form::CaseType;
use jingwu_core::registry::Registry;
use jingwu_core::reminders::{AlertKind, AlertRole, DueAlert};
use jingwu_station::station::Station;
use time::macros::datetime;
use time::OffsetDateTime;

/// 方祥派出所 户籍民警, 所长; the 分管 leader of the station (副局长).
const OFFICER: &str = "052638";
const CHIEF: &str = "052637";
const DEPUTY: &str = "052602";

/// A station of `me` holding one 户口变更 of 方祥派出所 submitted on
/// Tuesday 2026-09-29, waiting at 所长审批 (20 working days: due Monday
/// 11-02 with 国庆节 counted; the reminder from Friday 10-30).
fn station_with_case(dir: &Path, me: &str) -> Station {
    let reg = Registry::builtin_demo().unwrap();
    let keys: BTreeMap<&str, SoftwareKey> = [OFFICER]
        .into_iter()
        .map(|p| (p, SoftwareKey::generate(&mut getrandom::SysRng).unwrap()))
        .collect();
    let mut st = Station::open(dir, reg.clone()).unwrap();
    st.store.set_meta("person", Some(me)).unwrap();
    // Demo data without a hub: the binary opens it with the demo org.
    jingwu_station::registry::mark_demo(&mut st.store).unwrap();
    let unit = "522634580000";
    let key = &keys[OFFICER];
    let t0 = datetime!(2026-09-29 09:00 +8);
    let case_no = st
        .store
        .next_case_no(unit, &key.public_key().fingerprint(), t0.date())
        .unwrap();
    let s = st
        .store
        .record(
            &reg,
            key,
            OFFICER,
            None,
            Action::Create {
                case_type: CaseType::HukouChange,
                template: reg.template_latest("hukou_change").unwrap().reference(),
                workflow: Some(reg.workflow_latest("hukou_change").unwrap().reference()),
                case_no,
                unit: unit.into(),
                form: jingwu_core::demo::name_change_form(),
                registry: None,
            },
            t0,
        )
        .unwrap();
    let scan = st
        .store
        .put_attachment(
            b"\xff\xd8\xff\xe0 fake jpeg body",
            "登记表.jpg",
            "image/jpeg",
        )
        .unwrap();
    st.store
        .record(
            &reg,
            key,
            OFFICER,
            Some(s.case_id),
            Action::Attach {
                field: "scans".into(),
                attachment: scan,
            },
            t0 + time::Duration::minutes(2),
        )
        .unwrap();
    let s = st
        .store
        .record(
            &reg,
            key,
            OFFICER,
            Some(s.case_id),
            Action::Submit {},
            t0 + time::Duration::minutes(5),
        )
        .unwrap();
    assert_eq!(s.assignees(&reg), vec![CHIEF.to_string()]);
    st
}

fn kinds(v: &[DueAlert]) -> Vec<(AlertKind, AlertRole)> {
    v.iter().map(|a| (a.kind, a.role)).collect()
}

fn take(dir: &Path, now: OffsetDateTime) -> Vec<DueAlert> {
    let mut st = Station::open(dir, Registry::builtin_demo().unwrap()).unwrap();
    st.take_due_alerts(now).unwrap()
}

#[test]
fn reminder_and_overdue_are_given_once_each_also_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut st = station_with_case(dir.path(), CHIEF);
    // Before the working day before the due date: nothing.
    assert!(st
        .take_due_alerts(datetime!(2026-10-29 23:59:59 +8))
        .unwrap()
        .is_empty());
    // From Friday 10-30 00:00: the reminder, once.
    let a = st.take_due_alerts(datetime!(2026-10-30 00:00 +8)).unwrap();
    assert_eq!(kinds(&a), vec![(AlertKind::DueSoon, AlertRole::Assignee)]);
    assert_eq!(a[0].due, datetime!(2026-11-02 23:59:59.999_999_999 +8));
    assert!(a[0].body.contains("2026年11月2日"), "{}", a[0].body);
    assert!(st
        .take_due_alerts(datetime!(2026-10-30 09:00 +8))
        .unwrap()
        .is_empty());
    drop(st);
    // The app restarted: still not again.
    assert!(take(dir.path(), datetime!(2026-11-02 23:59 +8)).is_empty());
    // Past the due time (midnight in China): the overdue alert, once.
    let o = take(dir.path(), datetime!(2026-11-02 16:00 UTC));
    assert_eq!(kinds(&o), vec![(AlertKind::Overdue, AlertRole::Assignee)]);
    assert!(o[0].title.contains("超期"), "{}", o[0].title);
    assert!(take(dir.path(), datetime!(2026-11-03 09:00 +8)).is_empty());
    assert!(take(dir.path(), datetime!(2026-12-31 09:00 +8)).is_empty());
}

#[test]
fn the_leader_above_gets_a_copy_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let mut st = station_with_case(dir.path(), DEPUTY);
    let a = st.take_due_alerts(datetime!(2026-10-30 10:00 +8)).unwrap();
    assert_eq!(kinds(&a), vec![(AlertKind::DueSoon, AlertRole::Leader)]);
    assert!(a[0].title.contains("抄送"), "{}", a[0].title);
    assert!(
        a[0].body.contains("谭凤英"),
        "names the 所长: {}",
        a[0].body
    );
    assert!(st
        .take_due_alerts(datetime!(2026-10-30 11:00 +8))
        .unwrap()
        .is_empty());
    let o = st.take_due_alerts(datetime!(2026-11-04 10:00 +8)).unwrap();
    assert_eq!(kinds(&o), vec![(AlertKind::Overdue, AlertRole::Leader)]);
    drop(st);
    assert!(take(dir.path(), datetime!(2026-11-05 10:00 +8)).is_empty());
}

/// A station that first looks after the due time gives only the overdue
/// alert; the officer who submitted gets nothing.
#[test]
fn late_first_look_gives_only_the_overdue_alert() {
    let dir = tempfile::tempdir().unwrap();
    let mut st = station_with_case(dir.path(), CHIEF);
    let o = st.take_due_alerts(datetime!(2026-11-10 10:00 +8)).unwrap();
    assert_eq!(kinds(&o), vec![(AlertKind::Overdue, AlertRole::Assignee)]);
    let dir = tempfile::tempdir().unwrap();
    let mut st = station_with_case(dir.path(), OFFICER);
    assert!(st
        .take_due_alerts(datetime!(2026-11-10 10:00 +8))
        .unwrap()
        .is_empty());
}

/// `jingwu-station remind` with its clock moved (`JINGWU_CLOCK_OFFSET_SECS`):
/// the reminder, then the overdue notice, each printed once.
#[test]
fn the_remind_command_prints_each_once() {
    let dir = tempfile::tempdir().unwrap();
    drop(station_with_case(dir.path(), CHIEF));
    let now = OffsetDateTime::now_utc();
    let remind = |at: OffsetDateTime| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_jingwu-station"))
            .arg("--data-dir")
            .arg(dir.path())
            .arg("remind")
            .env(
                jingwu_station::station::CLOCK_OFFSET_ENV,
                (at - now).whole_seconds().to_string(),
            )
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    assert_eq!(remind(datetime!(2026-10-29 12:00 +8)), "");
    let t = remind(datetime!(2026-10-30 12:00 +8));
    assert!(t.starts_with("办理时限提醒："), "{t}");
    assert!(t.contains("2026年11月2日"), "{t}");
    assert_eq!(t.lines().count(), 1, "{t}");
    assert_eq!(remind(datetime!(2026-10-30 13:00 +8)), "");
    let t = remind(datetime!(2026-11-03 12:00 +8));
    assert!(t.starts_with("已超期"), "{t}");
    assert_eq!(remind(datetime!(2026-11-04 12:00 +8)), "");
}
