//! The applicant told: the public status page on its own listener
//! (status and date only, one answer for a wrong pair and an unknown
//! number, 429 after the limits) and the SMS sent through the outbox to a
//! gateway this test runs (failures retried with backoff, each SMS
//! delivered once, also across a hub restart).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use jingwu_core::event::Decision;
use jingwu_hub::server::Config;
use jingwu_hub::status::NOT_FOUND;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::common::*;

/// The applicant ID of `jingwu_core::demo::name_change_form`.
const ID_TAIL: &str = "0044";
const PHONE: &str = "13985500123";

fn http() -> reqwest::Client {
    jingwu_station::pin::http_client(None).unwrap()
}

async fn ask_json(base: &str, case_no: &str, tail: &str) -> (u16, Option<String>, Value) {
    let r = http()
        .post(format!("{base}/api/status"))
        .json(&json!({ "case_no": case_no, "id_tail": tail }))
        .send()
        .await
        .unwrap();
    let code = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (code, retry, r.json().await.unwrap())
}

async fn ask_form(base: &str, case_no: &str, tail: &str) -> (u16, String) {
    let r = http()
        .post(format!("{base}/"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("case_no={case_no}&id_tail={tail}"))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The case's 受理编号 and the local date of its last change.
fn number_and_date(hub: &RunningHub, case: &Uuid) -> (String, String) {
    let st = hub.hub.db.case_state(case).unwrap().unwrap();
    let d = st.updated_at.to_offset(jingwu_core::SHANGHAI).date();
    (st.case_no, jingwu_core::public::date_text(d))
}

async fn status_page(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[OFFICER, CHIEF]);
    let hub = RunningHub::start_cfg(&place, |c: &mut Config| {
        c.status.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        c.status.per_ip_per_minute = 7;
        c.status.per_case_per_hour = 3;
    })
    .await;
    let page = hub.status_url.clone().unwrap();
    assert_ne!(page, hub.url, "the page has its own listener");

    let mut officer = Client::enrol(&hub.url, OFFICER).await;
    let _chief = Client::enrol(&hub.url, CHIEF).await;
    hub.approve_all().await;
    // A draft is never shown.
    let draft = officer
        .st
        .create_hukou(PIN, jingwu_core::demo::name_change_form())
        .unwrap();
    let case = officer.apply();
    let r = officer.sync().await;
    assert_eq!(r.failed.len(), 0, "{r:?}");
    let (case_no, date) = number_and_date(&hub, &case);
    let (draft_no, _) = number_and_date(&hub, &draft.case_id);

    // The form page: Chinese, no script, nothing loaded from elsewhere.
    let r = http().get(format!("{page}/")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = r.text().await.unwrap();
    assert!(
        html.contains("受理编号") && html.contains("身份证号后四位"),
        "{html}"
    );
    assert!(
        !html.contains("<script") && !html.contains("http"),
        "{html}"
    );

    // 1: the right pair (number typed in lower case).
    let (code, _, body) = ask_json(&page, &case_no.to_lowercase(), ID_TAIL).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body,
        json!({ "found": true, "status": "审批中", "date": date })
    );

    // 2, 3: a wrong last four and an unknown number: the same answer.
    let (wrong_code, _, wrong) = ask_json(&page, &case_no, "0045").await;
    let unknown_no = format!("{}-9999", &case_no[..case_no.rfind('-').unwrap()]);
    let (unknown_code, _, unknown) = ask_json(&page, &unknown_no, ID_TAIL).await;
    assert_eq!((wrong_code, unknown_code), (404, 404));
    assert_eq!(wrong, unknown);
    assert_eq!(wrong, json!({ "found": false, "message": NOT_FOUND }));

    // 4: the form, right pair: status and date, no name, no form value.
    let (code, html) = ask_form(&page, &case_no, ID_TAIL).await;
    assert_eq!(code, 200);
    assert!(html.contains("审批中") && html.contains(&date), "{html}");
    for secret in ["张秀英", "522634198503120044", PHONE, "052638"] {
        assert!(!html.contains(secret), "the page shows {secret}");
    }

    // 5: the draft, with its right pair: not found.
    let (code, _, body) = ask_json(&page, &draft_no, ID_TAIL).await;
    assert_eq!((code, body["message"].as_str()), (404, Some(NOT_FOUND)));

    // 6: the fourth try on the same number within the hour: 429, whatever
    // address asks.
    let (code, retry, body) = ask_json(&page, &case_no, ID_TAIL).await;
    assert_eq!(code, 429, "{body}");
    assert!(retry.unwrap().parse::<u64>().unwrap() > 0);
    assert!(
        body["message"].as_str().unwrap().contains("查询过于频繁"),
        "{body}"
    );

    // 7: another number still answers; 8: the eighth try from this
    // address within the minute does not.
    let (code, _, _) = ask_json(&page, &unknown_no, "123x").await;
    assert_eq!(code, 404);
    let (code, retry, body) = ask_json(&page, &unknown_no, "123X").await;
    assert_eq!(code, 429, "{body}");
    assert!(retry.is_some());
    let (code, html) = ask_form(&page, &case_no, ID_TAIL).await;
    assert_eq!(code, 429);
    assert!(html.contains("查询过于频繁"), "{html}");

    // The main listener does not serve the page.
    let r = http()
        .post(format!("{}/api/status", hub.url))
        .json(&json!({ "case_no": case_no, "id_tail": ID_TAIL }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    hub.stop().await;
}

crate::both_backends!(status_page_shows_status_and_date_only, status_page);

/// One request the gateway received and how it answered.
#[derive(Debug)]
struct Received {
    key: String,
    body: Value,
    ok: bool,
}

/// A stand-in SMS gateway on loopback: answers 503 while `fail` is above
/// zero (counting it down), 200 after; reports every request.
struct Gateway {
    url: String,
    fail: Arc<AtomicU32>,
    rx: mpsc::UnboundedReceiver<Received>,
}

impl Gateway {
    async fn start(fail_first: u32) -> Gateway {
        let fail = Arc::new(AtomicU32::new(fail_first));
        let (tx, rx) = mpsc::unbounded_channel();
        let f = fail.clone();
        let app = axum::Router::new().route(
            "/send",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let f = f.clone();
                    let tx = tx.clone();
                    async move {
                        let down = f
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                            .is_ok();
                        let key = headers
                            .get("idempotency-key")
                            .map(|v| v.to_str().unwrap().to_string())
                            .unwrap_or_default();
                        let body: Value = serde_json::from_slice(&body).unwrap();
                        let _ = tx.send(Received {
                            key,
                            body,
                            ok: !down,
                        });
                        if down {
                            axum::http::StatusCode::SERVICE_UNAVAILABLE
                        } else {
                            axum::http::StatusCode::OK
                        }
                    }
                },
            ),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        Gateway {
            url: format!("http://{addr}/send"),
            fail,
            rx,
        }
    }

    async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(30), self.rx.recv())
            .await
            .expect("the hub sent no SMS")
            .unwrap()
    }
}

/// Waits until `hub` has marked `n` SMS sent.
async fn sent_count(hub: &RunningHub, n: u64) {
    let mut rx = hub.hub.sms_sent.subscribe();
    tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|c| *c >= n))
        .await
        .expect("the SMS was not marked sent")
        .unwrap();
}

fn sms_config(c: &mut Config, endpoint: &str) {
    c.sms.endpoint = Some(endpoint.to_string());
    c.sms.template = "SMS_0042".into();
    c.sms.backoff_ms = 50;
    c.sms.max_backoff_ms = 200;
}

async fn sms_hook(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[OFFICER, CHIEF, SECTION, DEPUTY]);
    // The gateway is down for the first two tries.
    let mut gw = Gateway::start(2).await;
    let endpoint = gw.url.clone();
    let hub = RunningHub::start_cfg(&place, |c| sms_config(c, &endpoint)).await;
    let mut officer = Client::enrol(&hub.url, OFFICER).await;
    let mut chief = Client::enrol(&hub.url, CHIEF).await;
    let mut section = Client::enrol(&hub.url, SECTION).await;
    let mut deputy = Client::enrol(&hub.url, DEPUTY).await;
    hub.approve_all().await;

    let case = officer.apply();
    officer.sync().await;
    for approver in [&mut chief, &mut section, &mut deputy] {
        approver.sync().await;
        approver.agree(case);
        let r = approver.sync().await;
        assert_eq!(r.pushed, 1, "{r:?}");
    }
    let (case_no, date) = number_and_date(&hub, &case);

    // Two failures, then delivered; the same key every time.
    let tries = [gw.next().await, gw.next().await, gw.next().await];
    assert_eq!(
        tries.iter().map(|t| t.ok).collect::<Vec<_>>(),
        [false, false, true]
    );
    let key = tries[0].key.clone();
    assert!(!key.is_empty());
    for t in &tries {
        assert_eq!(t.key, key);
        assert_eq!(
            t.body,
            json!({
                "idempotency_key": key,
                "template": "SMS_0042",
                "phone": PHONE,
                "params": { "case_no": case_no, "result": "同意", "date": date },
            })
        );
    }
    sent_count(&hub, 1).await;
    let rows = hub.hub.db.sms_outbox().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].state.as_str(), rows[0].attempts), ("sent", 3));

    // A 不同意, while the gateway is down: the row waits, and the hub is
    // restarted before it is delivered.
    gw.fail.store(u32::MAX, Ordering::SeqCst);
    let case2 = officer.apply();
    officer.sync().await;
    chief.sync().await;
    chief
        .st
        .decide(PIN, case2, Decision::Disagree, "证明材料不足，不予变更。")
        .unwrap();
    assert_eq!(chief.sync().await.pushed, 1);
    let failed = gw.next().await;
    assert!(!failed.ok);
    assert_ne!(failed.key, key);
    assert_eq!(failed.body["params"]["result"], "不同意");
    hub.stop().await;
    // Tries the stopped hub made meanwhile all failed.
    while let Ok(r) = gw.rx.try_recv() {
        assert!(!r.ok && r.key == failed.key, "{r:?}");
    }

    gw.fail.store(0, Ordering::SeqCst);
    let hub = RunningHub::start_cfg(&place, |c| sms_config(c, &endpoint)).await;
    // The restarted hub delivers the waiting SMS, and only it: the one
    // delivered before is not sent again.
    let sent = gw.next().await;
    assert!(sent.ok);
    assert_eq!(sent.key, failed.key);
    let (case_no2, _) = number_and_date(&hub, &case2);
    assert_eq!(sent.body["params"]["case_no"], case_no2.as_str());
    sent_count(&hub, 1).await;
    let rows = hub.hub.db.sms_outbox().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.state == "sent"), "{rows:?}");
    // The status page's source says 不同意 too.
    let s = hub.hub.db.case_status(&case_no2).unwrap().unwrap();
    assert_eq!(
        (s.status.as_str(), s.id_tail.as_str()),
        ("rejected", ID_TAIL)
    );
    hub.stop().await;
    let again = gw.rx.try_recv();
    assert!(again.is_err(), "sent again: {again:?}");
}

crate::both_backends!(sms_is_sent_once_through_the_outbox, sms_hook);
