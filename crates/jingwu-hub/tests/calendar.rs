//! `jingwu-hub import-calendar`: a later year's official holiday
//! arrangement merged into the hub's registry and kept in its database.

use jingwu_hub::server;

use crate::common::*;

/// Made-up dates for a far year (a test, not an official arrangement).
const Y2030: &str = r#"{"year": 2030, "source": "测试用（非官方）",
    "holidays": ["2030-01-01"], "extra_workdays": ["2029-12-29"]}"#;

async fn imported_years_are_kept(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[OFFICER]);
    let db = place.open_db();
    let reg = server::registry(db.as_ref()).unwrap();
    assert!(reg.calendar_covers(2026) && !reg.calendar_covers(2030));
    assert_eq!(
        server::import_calendar(db.as_ref(), Y2030).unwrap(),
        vec![2030]
    );
    let reg = server::registry(db.as_ref()).unwrap();
    assert!(reg.calendar_covers(2030) && reg.calendar_covers(2026));
    assert!(!reg
        .calendar()
        .is_workday(time::macros::date!(2030 - 01 - 01)));
    // Again: the same, nothing changes; other dates for a known year are refused.
    server::import_calendar(db.as_ref(), Y2030).unwrap();
    let other = Y2030.replace("2030-01-01", "2030-01-02");
    let e = server::import_calendar(db.as_ref(), &other).unwrap_err();
    assert!(
        e.to_string().contains("2030 年的放假安排已存在且日期不同"),
        "{e}"
    );
    let e = server::import_calendar(db.as_ref(), r#"{"year": 2031}"#).unwrap_err();
    assert!(e.to_string().contains("节假日安排未导入"), "{e}");
    let reg = server::registry(db.as_ref()).unwrap();
    assert_eq!(
        reg.calendar_years().map(|y| y.year()).collect::<Vec<_>>(),
        vec![2026, 2030]
    );
}

crate::both_backends!(import_calendar, imported_years_are_kept);
