//! The public status page (办理进度查询), on its own listener: a citizen
//! enters the 受理编号 and the last four characters of the applicant's ID
//! number and sees the status and the date of the last change — nothing
//! else (`jingwu_core::public`). Read-only; rate-limited per client
//! address and per 受理编号. A wrong pair and an unknown number get the
//! same answer, the same way.
//!
//! `GET /` the form, `POST /` (form) the form with the answer, `POST
//! /api/status` (JSON `{"case_no", "id_tail"}`) the answer as JSON.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use jingwu_core::case::Status;
use jingwu_core::public;
use serde::{Deserialize, Serialize};

use crate::http::Peer;
use crate::hub::Hub;

/// The answer to a wrong pair and to an unknown number alike.
pub const NOT_FOUND: &str = "未找到，请核对受理编号和身份证号后四位";

/// The status page's settings (`[status]` in the configuration file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatusConfig {
    /// Where the page listens, e.g. `0.0.0.0:8444`; off when unset. TLS
    /// with the hub's certificate, or plain HTTP on loopback with
    /// `insecure_http`, like the main listener.
    pub listen: Option<SocketAddr>,
    /// Queries per client address per minute.
    pub per_ip_per_minute: u32,
    /// Queries per 受理编号 per hour, from any address.
    pub per_case_per_hour: u32,
}

impl Default for StatusConfig {
    fn default() -> Self {
        StatusConfig {
            listen: None,
            per_ip_per_minute: 5,
            per_case_per_hour: 20,
        }
    }
}

/// Keys a limiter keeps at most; when full of live windows it refuses.
const MAX_KEYS: usize = 100_000;

/// Fixed-window counters: at most `max` per key per `window`.
struct Windows {
    window: Duration,
    max: u32,
    counts: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Windows {
    fn new(window: Duration, max: u32) -> Windows {
        Windows {
            window,
            max,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one try for `key` at `now`; `Err(wait)` when over the limit.
    fn hit(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut m = self.counts.lock().map_err(|_| self.window)?;
        if !m.contains_key(key) && m.len() >= MAX_KEYS {
            let w = self.window;
            m.retain(|_, (start, _)| now.duration_since(*start) < w);
            if m.len() >= MAX_KEYS {
                return Err(self.window);
            }
        }
        let e = m.entry(key.to_string()).or_insert((now, 0));
        let age = now.duration_since(e.0);
        if age >= self.window {
            *e = (now, 0);
        }
        if e.1 >= self.max {
            return Err(self.window.saturating_sub(now.duration_since(e.0)));
        }
        e.1 += 1;
        Ok(())
    }
}

/// The key a client's tries are counted under: its IPv4 address, or the
/// /64 network of an IPv6 one (one subscriber's line has a whole /64 to
/// rotate through).
fn client_key(a: IpAddr) -> String {
    match a {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        v4 => v4.to_string(),
    }
}

/// The page's state: the hub and its two limiters.
pub struct StatusPage {
    hub: Arc<Hub>,
    per_ip: Windows,
    per_case: Windows,
}

/// What a query came to.
#[derive(Debug)]
enum Answer {
    Found { status: &'static str, date: String },
    NotFound,
    Bad(&'static str),
    Limited(u64),
    Failed,
}

impl StatusPage {
    pub fn new(hub: Arc<Hub>, cfg: &StatusConfig) -> Arc<StatusPage> {
        Arc::new(StatusPage {
            hub,
            per_ip: Windows::new(Duration::from_secs(60), cfg.per_ip_per_minute),
            per_case: Windows::new(Duration::from_secs(3600), cfg.per_case_per_hour),
        })
    }

    async fn answer(&self, peer: Option<IpAddr>, case_no: &str, id_tail: &str) -> Answer {
        let now = Instant::now();
        let ip = peer.map_or_else(|| "-".to_string(), client_key);
        if let Err(wait) = self.per_ip.hit(&ip, now) {
            return Answer::Limited(wait.as_secs().max(1));
        }
        let Some(case_no) = public::case_no(case_no) else {
            return Answer::Bad("受理编号格式不正确，请按受理回执上的编号填写");
        };
        let given = match public::id_tail(id_tail) {
            Some(t) if id_tail.trim().chars().count() == 4 => t,
            _ => return Answer::Bad("请填写申报人身份证号的后四位（数字，最后一位可能是 X）"),
        };
        if let Err(wait) = self.per_case.hit(&case_no, now) {
            return Answer::Limited(wait.as_secs().max(1));
        }
        let db = self.hub.db.clone();
        let row = match tokio::task::spawn_blocking(move || db.case_status(&case_no)).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "status page lookup");
                return Answer::Failed;
            }
            Err(e) => {
                tracing::warn!(error = %e, "status page lookup task");
                return Answer::Failed;
            }
        };
        // The same comparison whether or not the number exists.
        let stored = row.as_ref().map_or("\0\0\0\0", |r| r.id_tail.as_str());
        let matches = public::tails_match(stored, &given);
        match row {
            Some(r) if matches => {
                match serde_json::from_value::<Status>(serde_json::Value::String(r.status)) {
                    Ok(s) => Answer::Found {
                        status: s.label(),
                        date: r.changed_on,
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "status page: stored status");
                        Answer::Failed
                    }
                }
            }
            _ => Answer::NotFound,
        }
    }
}

/// The page's routes.
pub fn router(page: Arc<StatusPage>) -> Router {
    Router::new()
        .route("/", get(form_page).post(form_answer))
        .route("/api/status", post(json_answer))
        .with_state(page)
}

#[derive(Debug, Deserialize)]
pub struct Query {
    pub case_no: String,
    pub id_tail: String,
}

fn code(a: &Answer) -> StatusCode {
    match a {
        Answer::Found { .. } => StatusCode::OK,
        Answer::NotFound => StatusCode::NOT_FOUND,
        Answer::Bad(_) => StatusCode::BAD_REQUEST,
        Answer::Limited(_) => StatusCode::TOO_MANY_REQUESTS,
        Answer::Failed => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn limited_text(secs: u64) -> String {
    format!("查询过于频繁，请 {secs} 秒后再试")
}

const FAILED: &str = "查询服务暂时不可用，请稍后再试";

/// Headers every answer carries: nothing cached, nothing loaded from
/// elsewhere, no framing, no referrer.
fn finish(mut r: Response, a: Option<&Answer>) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(Answer::Limited(secs)) = a {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            h.insert(header::RETRY_AFTER, v);
        }
    }
    r
}

async fn json_answer(
    State(page): State<Arc<StatusPage>>,
    Peer(peer): Peer,
    body: Result<Json<Query>, JsonRejection>,
) -> Response {
    let a = match body {
        Ok(Json(q)) => page.answer(peer, &q.case_no, &q.id_tail).await,
        Err(_) => {
            Answer::Bad("请求应为 JSON：{\"case_no\": 受理编号, \"id_tail\": 身份证号后四位}")
        }
    };
    let body = match &a {
        Answer::Found { status, date } => {
            serde_json::json!({ "found": true, "status": status, "date": date })
        }
        Answer::NotFound => serde_json::json!({ "found": false, "message": NOT_FOUND }),
        Answer::Bad(m) => serde_json::json!({ "message": m }),
        Answer::Limited(s) => serde_json::json!({ "message": limited_text(*s) }),
        Answer::Failed => serde_json::json!({ "message": FAILED }),
    };
    finish((code(&a), Json(body)).into_response(), Some(&a))
}

async fn form_page() -> Response {
    finish(html(StatusCode::OK, "", None), None)
}

async fn form_answer(
    State(page): State<Arc<StatusPage>>,
    Peer(peer): Peer,
    body: Result<Form<Query>, FormRejection>,
) -> Response {
    let (a, case_no) = match body {
        Ok(Form(q)) => (page.answer(peer, &q.case_no, &q.id_tail).await, q.case_no),
        Err(_) => (Answer::Bad("请填写受理编号和身份证号后四位"), String::new()),
    };
    finish(html(code(&a), &case_no, Some(&a)), Some(&a))
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().take(64) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html(code: StatusCode, case_no: &str, a: Option<&Answer>) -> Response {
    let result = match a {
        None => String::new(),
        Some(Answer::Found { status, date }) => format!(
            "<div class=\"ok\"><p>办理状态：<strong>{}</strong></p><p>最近变更日期：{}</p></div>",
            escape(status),
            escape(date)
        ),
        Some(Answer::NotFound) => format!("<div class=\"no\"><p>{NOT_FOUND}</p></div>"),
        Some(Answer::Bad(m)) => format!("<div class=\"no\"><p>{}</p></div>", escape(m)),
        Some(Answer::Limited(s)) => {
            format!("<div class=\"no\"><p>{}</p></div>", limited_text(*s))
        }
        Some(Answer::Failed) => format!("<div class=\"no\"><p>{FAILED}</p></div>"),
    };
    let page = format!(
        r#"<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>户口变更办理进度查询</title>
<style>
body {{ font-family: sans-serif; max-width: 32em; margin: 2em auto; padding: 0 1em; color: #222; }}
label {{ display: block; margin: 1em 0 .3em; }}
input {{ width: 100%; padding: .5em; font-size: 1em; box-sizing: border-box; }}
button {{ margin-top: 1.2em; padding: .6em 2em; font-size: 1em; }}
.ok {{ border: 1px solid #2a7; padding: .5em 1em; margin-top: 1.5em; }}
.no {{ border: 1px solid #c33; padding: .5em 1em; margin-top: 1.5em; }}
small {{ color: #666; }}
</style></head><body>
<h1>户口变更办理进度查询</h1>
<form method="post" action="/">
<label for="case_no">受理编号</label>
<input id="case_no" name="case_no" required maxlength="64" autocomplete="off" value="{case_no}">
<label for="id_tail">申报人身份证号后四位</label>
<input id="id_tail" name="id_tail" required maxlength="4" autocomplete="off" inputmode="text">
<button type="submit">查询</button>
</form>
{result}
<p><small>本页只显示办理状态和最近变更日期。如有疑问，请联系受理派出所。</small></p>
</body></html>
"#,
        case_no = escape(case_no),
    );
    (
        code,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn windows_count_and_reopen() {
        let w = Windows::new(Duration::from_secs(60), 2);
        let t0 = Instant::now();
        assert!(w.hit("a", t0).is_ok());
        assert!(w.hit("a", t0).is_ok());
        let wait = w.hit("a", t0 + Duration::from_secs(20)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(40));
        assert!(w.hit("b", t0).is_ok());
        assert!(w.hit("a", t0 + Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn clients_are_counted_by_address_or_ipv6_network() {
        let key = |s: &str| client_key(s.parse().unwrap());
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:bbbb::9"), key("2001:db8:1:2::5"));
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
    }

    #[test]
    fn the_page_escapes_what_it_echoes() {
        assert_eq!(escape("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;");
    }
}
