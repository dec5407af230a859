//! Accounts, sessions and enrolment.

use jingwu_hub::hub::Limits;
use jingwu_station::client::HubClient;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_on_logout_revocation_and_timeouts() {
    let place = HubPlace::new(Backend::Sqlite);
    place.init(&[OFFICER]);
    let hub = RunningHub::start(&place).await;

    // Wrong password: one message for both unknown accounts and wrong
    // passwords.
    let mut c = HubClient::new(&hub.url, None).unwrap();
    let e = c.login(OFFICER, "wrong", "d").await.unwrap_err();
    assert_eq!(e.status(), Some(401));
    let e2 = c.login("nobody", "wrong", "d").await.unwrap_err();
    assert_eq!(e.to_string(), e2.to_string());

    c.login(OFFICER, PASSWORD, "d").await.unwrap();
    c.pull(0, 10).await.unwrap();
    c.logout().await.unwrap();
    assert_eq!(c.pull(0, 10).await.unwrap_err().status(), Some(401));

    // An administrator ends every session of a person.
    c.login(OFFICER, PASSWORD, "d").await.unwrap();
    let admin = hub.admin().await;
    let r: serde_json::Value = jingwu_station::pin::http_client(None)
        .unwrap()
        .post(format!("{}/api/admin/sessions/revoke", hub.url))
        .bearer_auth(admin.token().unwrap())
        .json(&serde_json::json!({"person": OFFICER}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["revoked"], 1);
    let e = c.pull(0, 10).await.unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert!(e.to_string().contains("注销"), "{e}");

    // Only administrators approve devices or create accounts.
    c.login(OFFICER, PASSWORD, "d").await.unwrap();
    let e = c.decide_enrolment("x", "approve").await.unwrap_err();
    assert_eq!(e.status(), Some(403));
    hub.stop().await;

    // Idle and absolute timeouts (limits set so that any session is over).
    for (idle, absolute, word) in [(-1, 3600, "长时间未操作"), (3600, -1, "最长时限")] {
        let limits = Limits {
            session_idle_secs: idle,
            session_absolute_secs: absolute,
            ..Limits::default()
        };
        let hub = RunningHub::start_with(&place, limits).await;
        let mut c = HubClient::new(&hub.url, None).unwrap();
        c.login(OFFICER, PASSWORD, "d").await.unwrap();
        let e = c.pull(0, 10).await.unwrap_err();
        assert_eq!(e.status(), Some(401));
        assert!(e.to_string().contains(word), "{e}");
        hub.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weak_passwords_and_duplicate_accounts_are_refused() {
    let place = HubPlace::new(Backend::Sqlite);
    place.init(&[OFFICER]);
    let hub = RunningHub::start(&place).await;
    let admin = hub.admin().await;
    let post = |body: serde_json::Value| {
        let url = format!("{}/api/admin/users", hub.url);
        let token = admin.token().unwrap().to_string();
        async move {
            let r = jingwu_station::pin::http_client(None)
                .unwrap()
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (s, t) = post(serde_json::json!({"person": CHIEF, "password": "short"})).await;
    assert_eq!(s, 400, "{t}");
    assert!(t.contains("至少"), "{t}");
    let (s, _) = post(serde_json::json!({"person": CHIEF, "password": PASSWORD})).await;
    assert_eq!(s, 201);
    let (s, t) = post(serde_json::json!({"person": CHIEF, "password": PASSWORD})).await;
    assert_eq!(s, 409, "{t}");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_keys_no_longer_sign_but_old_events_stay_verifiable() {
    let place = HubPlace::new(Backend::Sqlite);
    place.init(&[OFFICER]);
    let hub = RunningHub::start(&place).await;
    let mut officer = Client::enrol(&hub.url, OFFICER).await;
    hub.approve_all().await;
    let case = officer.apply();
    assert_eq!(officer.sync().await.pushed, 3);
    let admin = hub.admin().await;
    let e = admin.enrolments(Some("approved")).await.unwrap().remove(0);
    admin.decide_enrolment(&e.id, "revoke").await.unwrap();
    // Revoking twice is a conflict, not a silent success.
    let err = admin.decide_enrolment(&e.id, "revoke").await.unwrap_err();
    assert_eq!(err.status(), Some(409));
    officer.apply();
    let r = officer.sync().await;
    assert_eq!(r.pushed, 0);
    assert_eq!(r.failed.len(), 1, "{r:?}");
    // The earlier case's bundle still verifies with the revoked key.
    let b = jingwu_hub::evidence::bundle_of(&hub.hub, &case).unwrap();
    b.verify(None).unwrap();
    hub.stop().await;
}

/// Waits (at most `secs`) for the live stream to end; the reason it gave.
async fn stream_end<S>(stream: &mut S, secs: u64) -> String
where
    S: futures_util::Stream<
            Item = Result<jingwu_station::client::LiveMsg, jingwu_station::client::ClientError>,
        > + Unpin,
{
    use futures_util::StreamExt as _;
    let deadline = std::time::Duration::from_secs(secs);
    tokio::time::timeout(deadline, async {
        let mut reason = String::new();
        while let Some(m) = stream.next().await {
            if let Err(e) = m {
                assert_eq!(e.status(), Some(401), "{e}");
                reason = e.to_string();
            }
        }
        reason
    })
    .await
    .expect("the live stream outlived its session")
}

/// Opens a live stream and waits until it is live.
async fn live_stream(
    c: &HubClient,
) -> impl futures_util::Stream<
    Item = Result<jingwu_station::client::LiveMsg, jingwu_station::client::ClientError>,
> + Unpin {
    use futures_util::StreamExt as _;
    let mut s = Box::pin(c.live(0).await.unwrap());
    loop {
        match s.next().await {
            Some(Ok(jingwu_station::client::LiveMsg::Ready(_))) => return s,
            Some(Ok(_)) => continue,
            other => panic!("live stream failed before ready: {other:?}"),
        }
    }
}

async fn live_ends_with_session(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[OFFICER]);
    let hub = RunningHub::start(&place).await;

    // Logout.
    let mut c = HubClient::new(&hub.url, None).unwrap();
    c.login(OFFICER, PASSWORD, "d").await.unwrap();
    let mut s = live_stream(&c).await;
    c.logout().await.unwrap();
    let why = stream_end(&mut s, 10).await;
    assert!(why.contains("注销"), "{why}");

    // An administrator's revocation.
    c.login(OFFICER, PASSWORD, "d").await.unwrap();
    let mut s = live_stream(&c).await;
    let admin = hub.admin().await;
    let r = jingwu_station::pin::http_client(None)
        .unwrap()
        .post(format!("{}/api/admin/sessions/revoke", hub.url))
        .bearer_auth(admin.token().unwrap())
        .json(&serde_json::json!({"person": OFFICER}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let why = stream_end(&mut s, 10).await;
    assert!(why.contains("注销"), "{why}");
    hub.stop().await;

    // The absolute limit: the stream ends when the session does.
    let limits = Limits {
        session_absolute_secs: 3,
        ..Limits::default()
    };
    let hub = RunningHub::start_with(&place, limits).await;
    let mut c = HubClient::new(&hub.url, None).unwrap();
    c.login(OFFICER, PASSWORD, "d").await.unwrap();
    let mut s = live_stream(&c).await;
    let why = stream_end(&mut s, 15).await;
    assert!(why.contains("最长时限"), "{why}");
    hub.stop().await;
}

crate::both_backends!(live_stream_ends_with_its_session, live_ends_with_session);

/// An idle limit under a minute does not end a session that is in use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_idle_limit_keeps_sessions_in_use() {
    let place = HubPlace::new(Backend::Sqlite);
    place.init(&[OFFICER]);
    let limits = Limits {
        session_idle_secs: 2,
        ..Limits::default()
    };
    let hub = RunningHub::start_with(&place, limits).await;
    let mut c = HubClient::new(&hub.url, None).unwrap();
    c.login(OFFICER, PASSWORD, "d").await.unwrap();
    // A request every 1.2 s, 6 s in all: never 2 s without one. (The
    // passing of time is what this test is about.)
    for i in 0..5 {
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        c.pull(0, 10)
            .await
            .unwrap_or_else(|e| panic!("request {i} refused: {e}"));
    }
    hub.stop().await;
}

/// The station's hub session is not in station.db: not in the meta table,
/// not anywhere in the bytes of the file, its WAL or shared memory — and
/// sync works, also from the station opened again.
async fn station_db_holds_no_usable_token(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[OFFICER]);
    let hub = RunningHub::start(&place).await;
    let mut officer = Client::enrol(&hub.url, OFFICER).await;
    hub.approve_all().await;
    let case = officer.apply();
    let report = officer.sync().await;
    assert_eq!(report.pushed, 3);
    let token = officer.st.client().unwrap().token().unwrap().to_string();
    assert!(token.len() >= 16, "{token}");

    let dir = officer.st.data_dir().to_path_buf();
    let db = dir.join("station.db");
    let mut bytes = std::fs::read(&db).unwrap();
    for s in ["-wal", "-shm"] {
        let mut p = db.as_os_str().to_os_string();
        p.push(s);
        bytes.extend(std::fs::read(std::path::PathBuf::from(p)).unwrap_or_default());
    }
    assert!(
        !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
        "the session token lies in {}",
        db.display()
    );
    let conn = meta_rows(&db);
    assert!(
        !conn.iter().any(|(_, v)| v.contains(&token)),
        "meta holds the token: {conn:?}"
    );

    // The same station opened again (as the CLI does for each command)
    // still syncs with the kept session.
    let mut again = jingwu_station::station::Station::open(
        &dir,
        jingwu_core::registry::Registry::builtin_demo().unwrap(),
    )
    .unwrap();
    again.sync(|_, _, _| {}).await.unwrap();
    assert_eq!(again.client().unwrap().token(), Some(token.as_str()));
    assert!(again.store.case(&case).unwrap().is_some());
    hub.stop().await;
}

/// The rows of a station's meta table.
fn meta_rows(db: &std::path::Path) -> Vec<(String, String)> {
    let store = jingwu_store::Store::open(db).unwrap();
    [
        "hub_url",
        "hub_fingerprint",
        "person",
        "device_id",
        "hub_cursor",
        "hub_token",
    ]
    .iter()
    .filter_map(|k| store.meta(k).unwrap().map(|v| (k.to_string(), v)))
    .collect()
}

crate::both_backends!(
    the_station_db_holds_no_usable_session_token,
    station_db_holds_no_usable_token
);
