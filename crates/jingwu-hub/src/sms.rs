//! The applicant's SMS, sent through an outbox. The push transaction that
//! makes a 户口变更's result final (`jingwu_core::public::ResultNotice`)
//! writes one `sms_outbox` row; this sender posts it to the configured
//! gateway, with retries and backoff kept in the row (so a restart goes
//! on where it stopped), and marks it sent on a 2xx.
//!
//! The JSON posted:
//! `{"idempotency_key": "<row id>", "template": "<configured>", "phone":
//! "139…", "params": {"case_no": "…", "result": "同意"|"不同意", "date":
//! "YYYY-MM-DD"}}`, with the header `Idempotency-Key: <row id>`. A sender
//! that dies between the gateway's answer and marking the row sends it
//! again after the lease; the key lets the gateway drop the repeat.

use std::sync::Arc;
use std::time::Duration;

use jingwu_core::public::{date_text, ResultNotice};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::{HubDb, SmsRow};
use crate::hub::Hub;

/// The SMS gateway settings (`[sms]` in the configuration file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    /// The gateway's URL (`https://…`; `http://` on loopback only). No
    /// SMS is sent while unset; rows still wait in the outbox.
    pub endpoint: Option<String>,
    /// The gateway's template id for the result message.
    pub template: String,
    /// Per request.
    pub timeout_ms: u64,
    /// The wait before the first retry; doubled after each failure.
    pub backoff_ms: u64,
    /// The longest wait between retries.
    pub max_backoff_ms: u64,
}

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig {
            endpoint: None,
            template: "hukou_result".into(),
            timeout_ms: 10_000,
            backoff_ms: 30_000,
            max_backoff_ms: 3_600_000,
        }
    }
}

/// The outbox row owed for `n` (case `case_id`), created at `at`.
pub fn outbox_row(n: &ResultNotice, case_id: &Uuid, at: &str) -> SmsRow {
    SmsRow {
        id: Uuid::now_v7().to_string(),
        case_id: case_id.to_string(),
        case_no: n.case_no.clone(),
        phone: n.phone.clone(),
        result: n.result_text().to_string(),
        result_date: date_text(n.date),
        created_at: at.to_string(),
        state: "pending".into(),
        attempts: 0,
        next_try: 0,
        sent_at: None,
        last_error: None,
    }
}

/// The body posted for a row.
pub fn body(row: &SmsRow, template: &str) -> serde_json::Value {
    serde_json::json!({
        "idempotency_key": row.id,
        "template": template,
        "phone": row.phone,
        "params": {
            "case_no": row.case_no,
            "result": row.result,
            "date": row.result_date,
        }
    })
}

fn now_ms() -> i64 {
    let t = time::OffsetDateTime::now_utc();
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn ms(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The wait after the `attempts`-th failed attempt.
fn backoff(cfg: &SmsConfig, attempts: i64) -> i64 {
    let shift = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    ms(cfg.backoff_ms)
        .saturating_mul(1i64 << shift)
        .min(ms(cfg.max_backoff_ms))
}

/// Checks the endpoint: a URL, over TLS unless on loopback.
pub fn check_endpoint(endpoint: &str) -> anyhow::Result<reqwest::Url> {
    let url = reqwest::Url::parse(endpoint)
        .map_err(|_| anyhow::anyhow!("短信网关地址“{endpoint}”不是有效的网址"))?;
    let loopback = match url.host_str() {
        Some("localhost") => true,
        Some(h) => h
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback()),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => {
            anyhow::bail!("短信网关须使用 https://（明文 http:// 只允许本机回环地址）：{endpoint}")
        }
    }
}

/// What one attempt came to.
enum Outcome {
    Sent,
    /// Worth trying again (no answer, 5xx, 408, 429).
    Retry(String),
    /// The gateway refused it for good (another 4xx).
    Refused(String),
}

async fn attempt(
    http: &reqwest::Client,
    url: &reqwest::Url,
    cfg: &SmsConfig,
    row: &SmsRow,
) -> Outcome {
    let res = http
        .post(url.clone())
        .header("Idempotency-Key", &row.id)
        .json(&body(row, &cfg.template))
        .send()
        .await;
    match res {
        Ok(r) if r.status().is_success() => Outcome::Sent,
        Ok(r) => {
            let s = r.status();
            let msg = format!("短信网关答复 {s}");
            if s.is_client_error() && s.as_u16() != 408 && s.as_u16() != 429 {
                Outcome::Refused(msg)
            } else {
                Outcome::Retry(msg)
            }
        }
        Err(e) => Outcome::Retry(format!("无法连接短信网关：{e}")),
    }
}

/// Runs blocking database work off the async workers.
async fn db_call<T: Send + 'static>(
    db: &Arc<dyn HubDb>,
    f: impl FnOnce(&dyn HubDb) -> crate::db::DbResult<T> + Send + 'static,
) -> anyhow::Result<T> {
    let db = db.clone();
    Ok(tokio::task::spawn_blocking(move || f(db.as_ref())).await??)
}

/// Sends every due row once; returns the earliest next try left.
async fn drain(
    hub: &Hub,
    db: &Arc<dyn HubDb>,
    http: &reqwest::Client,
    url: &reqwest::Url,
    cfg: &SmsConfig,
) -> anyhow::Result<Option<i64>> {
    // A claimed row's lease: longer than a request may take.
    let lease = ms(cfg.timeout_ms).saturating_mul(2).saturating_add(5_000);
    loop {
        let now = now_ms();
        let claimed = db_call(db, move |d| d.sms_claim(now, now.saturating_add(lease))).await?;
        let Some(row) = claimed else { break };
        match attempt(http, url, cfg, &row).await {
            Outcome::Sent => {
                let id = row.id.clone();
                db_call(db, move |d| d.sms_sent(&id, &crate::now_rfc3339())).await?;
                hub.sms_sent.send_modify(|n| *n += 1);
                tracing::info!(sms = %row.id, case_no = %row.case_no, "短信已发送");
            }
            Outcome::Refused(e) => {
                tracing::warn!(sms = %row.id, case_no = %row.case_no, error = %e, "短信被网关拒绝，不再重试");
                let id = row.id.clone();
                db_call(db, move |d| d.sms_failed(&id, &e)).await?;
            }
            Outcome::Retry(e) => {
                let next = now_ms().saturating_add(backoff(cfg, row.attempts));
                tracing::warn!(sms = %row.id, attempts = row.attempts, error = %e, "短信发送失败，稍后重试");
                let id = row.id.clone();
                db_call(db, move |d| d.sms_retry(&id, next, &e)).await?;
            }
        }
    }
    db_call(db, |d| d.sms_next_try()).await
}

/// Starts the sender when an endpoint is configured: woken by
/// `hub.sms_wake` (a row committed) and by the earliest retry's time; ends
/// when `stop` changes.
pub fn start(
    hub: &Arc<Hub>,
    cfg: &SmsConfig,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let Some(endpoint) = &cfg.endpoint else {
        return Ok(());
    };
    let url = check_endpoint(endpoint)?;
    // reqwest finds its TLS provider here (the hub's rustls uses ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(cfg.timeout_ms))
        .build()
        .map_err(|e| anyhow::anyhow!("无法创建短信网关客户端：{e}"))?;
    let hub = hub.clone();
    let db = hub.db.clone();
    let wake = hub.sms_wake.clone();
    let cfg = cfg.clone();
    tokio::spawn(async move {
        loop {
            let next = match drain(&hub, &db, &http, &url, &cfg).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "短信发件箱");
                    Some(now_ms().saturating_add(ms(cfg.backoff_ms)))
                }
            };
            // Rows added by other hub processes are found at the latest
            // after a minute.
            let wait = next
                .map_or(60_000, |t| t.saturating_sub(now_ms()))
                .clamp(0, 60_000);
            tokio::select! {
                // A stopped hub sends nothing more.
                biased;
                _ = stop.changed() => break,
                () = wake.notified() => {}
                () = tokio::time::sleep(Duration::from_millis(wait.unsigned_abs())) => {}
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let cfg = SmsConfig {
            backoff_ms: 100,
            max_backoff_ms: 1000,
            ..SmsConfig::default()
        };
        assert_eq!(backoff(&cfg, 1), 100);
        assert_eq!(backoff(&cfg, 2), 200);
        assert_eq!(backoff(&cfg, 4), 800);
        assert_eq!(backoff(&cfg, 5), 1000);
        assert_eq!(backoff(&cfg, 500), 1000);
    }

    #[test]
    fn endpoints_use_tls_off_loopback() {
        assert!(check_endpoint("https://sms.example.cn/send").is_ok());
        assert!(check_endpoint("http://127.0.0.1:9000/send").is_ok());
        assert!(check_endpoint("http://[::1]:9000/").is_ok());
        let e = check_endpoint("http://10.0.0.8/send")
            .unwrap_err()
            .to_string();
        assert!(e.contains("https"), "{e}");
        assert!(check_endpoint("不是网址").is_err());
    }
}
