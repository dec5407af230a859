//! The hub is the source of truth for the registry: a county that is not
//! the demo (江口县, `tests/data/jiangkou-org.json`: other unit codes,
//! names, posts, people and 分管) carries a 户口变更 through the whole
//! chain with stations opened without any org of their own; a change
//! published on the running hub (a new 股长, a changed 分管) reaches the
//! stations in one sync, routes the next case while a running case keeps
//! its version; a registry changed in a station's store is refused.

use std::sync::Arc;

use jingwu_core::case::Status;
use jingwu_core::crypto::KdfParams;
use jingwu_core::dict::{Dictionary, Entry};
use jingwu_core::event::Decision;
use jingwu_core::org::OrgData;
use jingwu_hub::hub::{Hub, Limits};
use jingwu_hub::publish::{self, Changes};
use jingwu_hub::server;
use jingwu_station::registry::{unpublished, RegistrySync};
use jingwu_station::station::Station;
use serde_json::json;
use uuid::Uuid;

use crate::common::*;

const ADMIN_PIN: &str = "Admin-PIN-2468";
const ORG: &str = include_str!("data/jiangkou-org.json");
/// 双江派出所 户籍内勤, 所长; 户籍管理股 股长, 副股长; the two 副局长.
const OFFICER: &str = "062112";
const CHIEF: &str = "062111";
const SECTION: &str = "062105";
const SECTION_NEXT: &str = "062106";
const DEPUTY: &str = "062103";
const DEPUTY_NEXT: &str = "062104";

/// The county's own townships, added to the built-in table (codes are
/// only ever added).
fn dictionaries(reg: &jingwu_core::registry::Registry) -> Vec<Dictionary> {
    reg.dicts
        .iter()
        .cloned()
        .map(|mut d| {
            if d.id == "township" {
                for (code, label) in [("520621100", "双江镇"), ("520621101", "闵孝镇")] {
                    d.entries.push(Entry {
                        code: code.into(),
                        label: label.into(),
                        ..d.entries[0].clone()
                    });
                }
            }
            d
        })
        .collect()
}

fn form() -> jingwu_core::form::FormValues {
    let mut f = jingwu_core::demo::name_change_form();
    for (k, v) in [
        ("applicant_id", "520621198503120040"),
        ("subject_id", "520621198503120112"),
        ("address_township", "520621100"),
        ("address_committee", "黑岩村村民委员会"),
    ] {
        f.insert(k.into(), json!(v));
    }
    f
}

/// A station of this county: opened with no org at all (what a fresh
/// `jingwu-station` or desktop has), enrolled, approved.
async fn station(running: &RunningHub, person: &str) -> (Station, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut st = Station::open(dir.path(), unpublished().unwrap()).unwrap();
    assert!(
        st.reg.org.person(person).is_none(),
        "no org before enrolment"
    );
    st.enrol(
        &running.url,
        None,
        person,
        PASSWORD,
        PIN,
        "测试机",
        KdfParams::TEST_ONLY,
    )
    .await
    .unwrap();
    running.approve_all().await;
    assert!(st.reg.org.person(person).is_some(), "the hub's org arrived");
    (st, dir)
}

async fn sync(st: &mut Station) -> jingwu_station::station::SyncReport {
    let r = st.sync(|_, _, _| {}).await.unwrap();
    assert!(r.failed.is_empty(), "{r:?}");
    r
}

fn assignees(hub: &Hub, case: &Uuid) -> Vec<String> {
    let s = hub.db.case_state(case).unwrap().unwrap();
    s.assignees(&hub.reg())
}

async fn second_county(backend: Backend) {
    let place = HubPlace::new(backend);
    let db = place.open_db();
    let org: OrgData = serde_json::from_str(ORG).unwrap();
    db.meta_set("org_json", ORG).unwrap();
    {
        let hub = Hub::new(
            db.clone(),
            Arc::new(server::registry(db.as_ref()).unwrap()),
            Limits::default(),
        )
        .unwrap();
        hub.create_user("admin", PASSWORD, true).unwrap();
        for p in &org.people {
            hub.create_user(&p.id, PASSWORD, false).unwrap();
        }
    }
    let now = jingwu_hub::now_rfc3339();
    publish::publish_first(db.as_ref(), "admin", ADMIN_PIN, KdfParams::TEST_ONLY, &now).unwrap();
    let reg = server::registry(db.as_ref()).unwrap();
    let changes = Changes {
        dictionaries: Some(dictionaries(&reg)),
        note: "增补本县乡镇".into(),
        ..Changes::default()
    };
    let v2 = publish::publish(db.as_ref(), "admin", ADMIN_PIN, changes, &now).unwrap();
    assert_eq!(v2.version, 2);
    let running = RunningHub::start(&place).await;
    let hub = running.hub.clone();

    // The whole chain, every station taught by the hub alone.
    let (mut officer, _d1) = station(&running, OFFICER).await;
    assert_eq!(officer.reg.published_version(), Some(2));
    let (mut chief, _d2) = station(&running, CHIEF).await;
    let (mut section, _d3) = station(&running, SECTION).await;
    let (mut deputy, _d4) = station(&running, DEPUTY).await;
    let apply = |st: &mut Station| {
        let s = st.create_hukou(PIN, form()).unwrap();
        assert_eq!(s.unit, "520621510000");
        let scan = scan_file(st.data_dir());
        st.attach(PIN, s.case_id, "scans", &scan).unwrap();
        st.submit(PIN, s.case_id).unwrap();
        s.case_id
    };
    let first = apply(&mut officer);
    sync(&mut officer).await;
    assert_eq!(assignees(&hub, &first), vec![CHIEF.to_string()]);
    for (st, next) in [
        (&mut chief, Some(SECTION)),
        (&mut section, Some(DEPUTY)),
        (&mut deputy, None),
    ] {
        sync(st).await;
        st.decide(PIN, first, Decision::Agree, "同意。").unwrap();
        sync(st).await;
        let want: Vec<String> = next.into_iter().map(String::from).collect();
        assert_eq!(assignees(&hub, &first), want);
    }
    let done = hub.db.case_state(&first).unwrap().unwrap();
    assert_eq!(done.status, Status::Approved, "{done:?}");
    assert_eq!(done.registry, Some(2));

    // A case running under version 2, then version 3: 石慧敏 becomes
    // 股长 (吴国栋 副股长) and 田光荣 分管 the 户籍管理股.
    let running_case = apply(&mut officer);
    sync(&mut officer).await;
    let mut next: OrgData = serde_json::from_str(ORG).unwrap();
    for p in &mut next.people {
        for h in &mut p.posts {
            if p.id == SECTION {
                h.post = "副股长".into();
            } else if p.id == SECTION_NEXT {
                h.post = "股长".into();
            }
        }
    }
    for ic in &mut next.in_charge {
        if ic.unit == "520621200000" {
            ic.person = DEPUTY_NEXT.into();
        }
    }
    let changes = Changes {
        org: Some(next),
        note: "户籍管理股股长调整；分管调整".into(),
        ..Changes::default()
    };
    let now = jingwu_hub::now_rfc3339();
    assert_eq!(
        publish::publish(db.as_ref(), "admin", ADMIN_PIN, changes, &now)
            .unwrap()
            .version,
        3
    );
    // One sync brings it.
    let r = sync(&mut officer).await;
    assert_eq!(r.registry, Some(3), "{r:?}");
    let new_case = apply(&mut officer);
    sync(&mut officer).await;
    let (mut section_next, _d5) = station(&running, SECTION_NEXT).await;
    let (mut deputy_next, _d6) = station(&running, DEPUTY_NEXT).await;
    sync(&mut chief).await;
    chief
        .decide(PIN, running_case, Decision::Agree, "同意。")
        .unwrap();
    chief
        .decide(PIN, new_case, Decision::Agree, "同意。")
        .unwrap();
    sync(&mut chief).await;
    assert_eq!(assignees(&hub, &running_case), vec![SECTION.to_string()]);
    assert_eq!(assignees(&hub, &new_case), vec![SECTION_NEXT.to_string()]);
    // The new 股长 cannot act on the case of version 2; the old one can.
    sync(&mut section_next).await;
    assert!(section_next
        .decide(PIN, running_case, Decision::Agree, "同意。")
        .is_err());
    section_next
        .decide(PIN, new_case, Decision::Agree, "同意。")
        .unwrap();
    sync(&mut section_next).await;
    assert_eq!(assignees(&hub, &new_case), vec![DEPUTY_NEXT.to_string()]);
    sync(&mut section).await;
    section
        .decide(PIN, running_case, Decision::Agree, "同意。")
        .unwrap();
    sync(&mut section).await;
    assert_eq!(assignees(&hub, &running_case), vec![DEPUTY.to_string()]);
    sync(&mut deputy_next).await;
    deputy_next
        .decide(PIN, new_case, Decision::Agree, "同意。")
        .unwrap();
    sync(&mut deputy_next).await;
    assert_eq!(
        hub.db.case_state(&new_case).unwrap().unwrap().status,
        Status::Approved
    );

    // A registry changed in the station's store is refused on opening.
    let dir = officer.data_dir().to_path_buf();
    let stored = officer.store.meta("registry_v3").unwrap().unwrap();
    officer
        .store
        .set_meta("registry_v3", Some(&stored.replacen("石慧敏", "石慧明", 1)))
        .unwrap();
    drop(officer);
    let e = Station::open(&dir, unpublished().unwrap())
        .err()
        .expect("a changed registry must be refused");
    assert!(e.to_string().contains("规则数据未通过校验"), "{e}");

    // The hub served exactly what it signed: the chain verifies from the
    // first version's digest, as any station checks it.
    let chain = publish::chain(db.as_ref()).unwrap();
    let anchor = chain[0].digest();
    let reg = jingwu_core::published::verified_registry(&chain, Some(&anchor)).unwrap();
    assert_eq!(reg.published_version(), Some(3));
    assert!(matches!(
        section
            .sync_registry(&section.client().unwrap())
            .await
            .unwrap(),
        RegistrySync::Current(3)
    ));
    running.stop().await;
}

crate::both_backends!(a_second_county_end_to_end, second_county);

/// Administrators publishing at the same instant never share a version
/// number: each publication gets its own, or is refused whole and says
/// why; the chain stays one that every station accepts.
async fn concurrent_publications(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[]);
    let db = place.open_db();
    let now = jingwu_hub::now_rfc3339();
    let n = 4;
    let barrier = Arc::new(std::sync::Barrier::new(n));
    let results: Vec<Result<u32, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let db = db.clone();
                let barrier = barrier.clone();
                let now = now.clone();
                s.spawn(move || {
                    let changes = Changes {
                        note: format!("第 {i} 次同时发布"),
                        ..Changes::default()
                    };
                    barrier.wait();
                    publish::publish(db.as_ref(), "admin", "Admin-PIN-2468", changes, &now)
                        .map(|r| r.version)
                        .map_err(|e| e.to_string())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut published: Vec<u32> = results.iter().filter_map(|r| r.clone().ok()).collect();
    published.sort_unstable();
    assert!(!published.is_empty(), "{results:?}");
    let before = published.len();
    published.dedup();
    assert_eq!(
        published.len(),
        before,
        "two publications share a version: {results:?}"
    );
    for e in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(e.contains("另一次发布刚刚占用了第"), "{e}");
    }
    assert_eq!(
        publish::latest_version(db.as_ref()).unwrap() as usize,
        1 + before
    );
    let chain = publish::chain(db.as_ref()).unwrap();
    let anchor = chain[0].digest();
    let reg = jingwu_core::published::verified_registry(&chain, Some(&anchor)).unwrap();
    assert_eq!(reg.published_version(), Some(1 + before as u32));
}

crate::both_backends!(
    publications_at_once_never_share_a_version,
    concurrent_publications
);
