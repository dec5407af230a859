//! The hub's HTTP API as seen from a station (see docs/sync-protocol.md).

use std::time::Duration;

use futures_util::StreamExt as _;
use jingwu_core::event::SignedEvent;
use jingwu_proto::live;
use jingwu_proto::{
    CreateUserRequest, EnrolRequest, ImportOutcome, ImportRequest, LoginRequest, PushRequest,
    QueryPage, QueryRequest, SavedQuery, SealsDigest, SpeedRequest, SpeedRow, StatsAccess,
    StatsRequest, StatsRow, UploadRequest,
};
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// Upload chunk size.
pub const CHUNK: usize = 512 * 1024;

pub use jingwu_proto::{
    Enrolment, ErrorBody, ErrorCode, HubKeyInfo, InboxItem, KeyInfo, LoginResult, PullResponse,
    PushResult, PushedEvent, StoredEvent, UploadStatus, WireError, WireEvent, WireReceipt,
};

/// A failure talking to the hub.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The hub could not be reached (offline, refused, timed out).
    #[error("无法连接县局服务器：{0}")]
    Offline(String),
    /// The hub answered with an error.
    #[error("{} （县局返回 {status}）", body.error)]
    Hub { status: u16, body: Box<ErrorBody> },
    #[error("县局返回的数据无法解析：{0}")]
    Protocol(String),
    #[error("连接设置有误：{0}")]
    Setup(String),
}

impl ClientError {
    /// The hub's error code, if the hub answered.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            ClientError::Hub { body, .. } => Some(&body.code),
            _ => None,
        }
    }
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Hub { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl From<WireError> for ClientError {
    fn from(e: WireError) -> ClientError {
        ClientError::Protocol(e.to_string())
    }
}

/// The error body of a refused request; an answer that carries none
/// (e.g. a proxy's page) gets the code `http` and the start of its text.
pub fn error_body(bytes: &[u8]) -> Box<ErrorBody> {
    serde_json::from_slice(bytes).unwrap_or_else(|_| {
        Box::new(ErrorBody::new(
            ErrorCode::Unknown("http".into()),
            String::from_utf8_lossy(bytes)
                .chars()
                .take(300)
                .collect::<String>(),
        ))
    })
}

/// A client of one hub.
#[derive(Clone)]
pub struct HubClient {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
}

impl HubClient {
    /// A client of the hub at `base` (`https://host:port` or, on
    /// loopback, `http://…`). `fingerprint` pins the hub certificate.
    pub fn new(base: &str, fingerprint: Option<&str>) -> Result<HubClient, ClientError> {
        let base = base.trim().trim_end_matches('/').to_string();
        let url = reqwest::Url::parse(&base)
            .map_err(|_| ClientError::Setup(format!("县局地址“{base}”不是有效的网址")))?;
        match url.scheme() {
            "https" => {}
            // Like the hub, which serves plain HTTP on loopback only: off
            // this machine, passwords and tokens go over TLS.
            "http" if is_loopback(&url) => {}
            "http" => return Err(ClientError::Setup(
                "不加密的 http:// 只能连接本机（127.0.0.1、::1、localhost），连接县局请用 https://"
                    .into(),
            )),
            _ => return Err(ClientError::Setup("县局地址应以 https:// 开头".into())),
        }
        if url.scheme() == "https" && fingerprint.is_none() {
            return Err(ClientError::Setup(
                "使用 https 连接县局须提供证书指纹（由县局管理员提供）".into(),
            ));
        }
        let http =
            crate::pin::http_client(fingerprint).map_err(|e| ClientError::Setup(e.to_string()))?;
        Ok(HubClient {
            base,
            http,
            token: None,
        })
    }

    pub fn with_token(mut self, token: Option<String>) -> HubClient {
        self.token = token;
        self
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        rb: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let resp = self
            .auth(rb)
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .map_err(|e| ClientError::Offline(offline_reason(&e)))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ClientError::Offline(offline_reason(&e)))?;
        if !status.is_success() {
            return Err(ClientError::Hub {
                status: status.as_u16(),
                body: error_body(&bytes),
            });
        }
        if bytes.is_empty() {
            return serde_json::from_slice(b"null")
                .map_err(|e| ClientError::Protocol(e.to_string()));
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Logs in; the client keeps the token.
    pub async fn login(
        &mut self,
        person: &str,
        password: &str,
        device: &str,
    ) -> Result<LoginResult, ClientError> {
        let r: LoginResult = self
            .send(self.http.post(self.url("/api/login")).json(&LoginRequest {
                person: person.into(),
                password: password.into(),
                device: Some(device.into()),
            }))
            .await?;
        self.token = Some(r.token.clone());
        Ok(r)
    }

    pub async fn logout(&self) -> Result<(), ClientError> {
        let _: Option<serde_json::Value> =
            self.send(self.http.post(self.url("/api/logout"))).await?;
        Ok(())
    }

    pub async fn enrol(
        &self,
        device: &str,
        device_name: &str,
        pem: &str,
    ) -> Result<Enrolment, ClientError> {
        self.send(
            self.http
                .post(self.url("/api/enrolments"))
                .json(&EnrolRequest {
                    device: device.into(),
                    device_name: device_name.into(),
                    public_key_pem: pem.into(),
                }),
        )
        .await
    }

    pub async fn enrolments(&self, status: Option<&str>) -> Result<Vec<Enrolment>, ClientError> {
        let mut rb = self.http.get(self.url("/api/enrolments"));
        if let Some(s) = status {
            rb = rb.query(&[("status", s)]);
        }
        self.send(rb).await
    }

    /// Administrators: approve / reject / revoke an enrolment.
    pub async fn decide_enrolment(
        &self,
        id: &str,
        decision: &str,
    ) -> Result<Enrolment, ClientError> {
        self.send(
            self.http
                .post(self.url(&format!("/api/admin/enrolments/{id}/{decision}"))),
        )
        .await
    }

    /// Administrators: creates an account.
    pub async fn create_user(
        &self,
        person: &str,
        password: &str,
        is_admin: bool,
    ) -> Result<(), ClientError> {
        let _: Option<serde_json::Value> = self
            .send(
                self.http
                    .post(self.url("/api/admin/users"))
                    .json(&CreateUserRequest {
                        person: person.into(),
                        password: password.into(),
                        is_admin,
                    }),
            )
            .await?;
        Ok(())
    }

    /// Every registered seal (with pictures and revocations).
    pub async fn seals(&self) -> Result<Vec<jingwu_slip::sealbook::RegisteredSeal>, ClientError> {
        self.send(self.http.get(self.url("/api/seals"))).await
    }

    /// The newest published registry version and its digest (404 when
    /// the hub has published none).
    pub async fn registry_digest(&self) -> Result<jingwu_proto::RegistryDigest, ClientError> {
        self.send(self.http.get(self.url("/api/registry/digest")))
            .await
    }

    /// The published registry versions after `after`, oldest first.
    pub async fn registry_versions(
        &self,
        after: u32,
    ) -> Result<Vec<jingwu_core::published::SignedRegistry>, ClientError> {
        let v: jingwu_proto::RegistryVersions = self
            .send(
                self.http
                    .get(self.url(&format!("/api/registry?after={after}"))),
            )
            .await?;
        Ok(v.versions.into_iter().map(Into::into).collect())
    }

    /// The seal registry's digest: changes whenever a seal is registered
    /// or revoked.
    pub async fn seals_digest(&self) -> Result<String, ClientError> {
        let d: SealsDigest = self
            .send(self.http.get(self.url("/api/seals/digest")))
            .await?;
        Ok(d.digest)
    }

    /// Seal administrators: registers a seal made and signed here.
    pub async fn register_seal(
        &self,
        seal: &jingwu_slip::seal::Seal,
    ) -> Result<jingwu_slip::sealbook::RegisteredSeal, ClientError> {
        self.send(self.http.post(self.url("/api/seals")).json(seal))
            .await
    }

    /// Seal administrators: revokes a seal.
    pub async fn revoke_seal(
        &self,
        id: &str,
    ) -> Result<jingwu_slip::sealbook::RegisteredSeal, ClientError> {
        self.send(self.http.post(self.url(&format!("/api/seals/{id}/revoke"))))
            .await
    }

    pub async fn keys(&self) -> Result<Vec<KeyInfo>, ClientError> {
        self.send(self.http.get(self.url("/api/keys"))).await
    }

    /// The hub's receipt-signing public key.
    pub async fn hub_key(&self) -> Result<HubKeyInfo, ClientError> {
        self.send(self.http.get(self.url("/api/hub-key"))).await
    }

    pub async fn push(&self, events: &[SignedEvent]) -> Result<PushResult, ClientError> {
        let events = events.iter().map(WireEvent::of).collect();
        self.send(
            self.http
                .post(self.url("/api/events"))
                .json(&PushRequest { events }),
        )
        .await
    }

    pub async fn pull(&self, after: i64, limit: i64) -> Result<PullResponse, ClientError> {
        self.send(
            self.http
                .get(self.url("/api/events"))
                .query(&[("after", after), ("limit", limit)]),
        )
        .await
    }

    pub async fn case_events(&self, case_id: &Uuid) -> Result<Vec<StoredEvent>, ClientError> {
        self.send(
            self.http
                .get(self.url(&format!("/api/cases/{case_id}/events"))),
        )
        .await
    }

    pub async fn bundle(&self, case_id: &Uuid) -> Result<serde_json::Value, ClientError> {
        self.send(
            self.http
                .get(self.url(&format!("/api/cases/{case_id}/bundle"))),
        )
        .await
    }

    pub async fn inbox(&self) -> Result<Vec<InboxItem>, ClientError> {
        self.send(self.http.get(self.url("/api/inbox"))).await
    }

    /// Uploads an attachment in chunks, resuming where the hub stands.
    /// `progress(sent, total)` is called after each chunk.
    pub async fn upload(
        &self,
        sm3: &str,
        mime: &str,
        data: &[u8],
        mut progress: impl FnMut(u64, u64),
    ) -> Result<(), ClientError> {
        let total = data.len() as u64;
        let mut st: UploadStatus = self
            .send(
                self.http
                    .post(self.url("/api/uploads"))
                    .json(&UploadRequest {
                        sm3: sm3.into(),
                        size: data.len() as i64,
                        mime: mime.into(),
                    }),
            )
            .await?;
        progress(st.received.max(0) as u64, total);
        while !st.complete {
            let from = usize::try_from(st.received).unwrap_or(0).min(data.len());
            let to = (from + CHUNK).min(data.len());
            let r: Result<UploadStatus, ClientError> = self
                .send(
                    self.http
                        .put(self.url(&format!("/api/uploads/{sm3}")))
                        .query(&[("offset", from)])
                        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                        .body(data[from..to].to_vec()),
                )
                .await;
            st = match r {
                Ok(s) => s,
                // Someone else (or an earlier try) moved the upload on:
                // continue from where the hub stands.
                Err(ClientError::Hub { status: 409, body }) if body.received.is_some() => {
                    UploadStatus {
                        sm3: sm3.to_string(),
                        received: body.received.unwrap_or(0),
                        complete: false,
                    }
                }
                Err(e) => return Err(e),
            };
            progress(st.received.max(0) as u64, total);
        }
        Ok(())
    }

    /// Downloads an attachment.
    pub async fn download(&self, sm3: &str) -> Result<Vec<u8>, ClientError> {
        let resp = self
            .auth(self.http.get(self.url(&format!("/api/attachments/{sm3}"))))
            .send()
            .await
            .map_err(|e| ClientError::Offline(offline_reason(&e)))?;
        if !resp.status().is_success() {
            let status = resp.status().as_u16();
            let bytes = resp.bytes().await.unwrap_or_default();
            return Err(ClientError::Hub {
                status,
                body: error_body(&bytes),
            });
        }
        Ok(resp
            .bytes()
            .await
            .map_err(|e| ClientError::Offline(offline_reason(&e)))?
            .to_vec())
    }

    // ----- 110 查询统计 (the hub's `/api/incidents/*`, `/api/queries`) -----

    /// Whether this user may query and count 110 records, and in what
    /// scope; whether they may import.
    pub async fn stats_access(&self) -> Result<StatsAccess, ClientError> {
        self.send(self.http.get(self.url("/api/incidents/access")))
            .await
    }

    /// A page of the records meeting the conditions (in the user's scope).
    pub async fn incident_query(&self, q: &QueryRequest) -> Result<QueryPage, ClientError> {
        self.send(self.http.post(self.url("/api/incidents/query")).json(q))
            .await
    }

    /// Every record meeting the conditions as a file (`csv` or `xlsx`).
    pub async fn incident_export(
        &self,
        q: &QueryRequest,
        format: &str,
    ) -> Result<HubFile, ClientError> {
        self.file(
            self.http
                .post(self.url("/api/incidents/export"))
                .query(&[("format", format)])
                .json(q),
        )
        .await
    }

    /// Statistics grouped by the request's dimensions.
    pub async fn incident_stats(&self, q: &StatsRequest) -> Result<Vec<StatsRow>, ClientError> {
        self.send(self.http.post(self.url("/api/incidents/stats")).json(q))
            .await
    }

    /// The same statistics as a file (`csv` or `xlsx`).
    pub async fn incident_stats_file(
        &self,
        q: &StatsRequest,
        format: &str,
    ) -> Result<HubFile, ClientError> {
        self.file(
            self.http
                .post(self.url("/api/incidents/stats"))
                .query(&[("format", format)])
                .json(q),
        )
        .await
    }

    /// Response speed per unit.
    pub async fn incident_speed(&self, q: &SpeedRequest) -> Result<Vec<SpeedRow>, ClientError> {
        self.send(self.http.post(self.url("/api/incidents/speed")).json(q))
            .await
    }

    /// The 警情通报 of `period` (`2026-W48`, `2026-11`, `2026-Q4`, `2026`).
    pub async fn incident_report(
        &self,
        period: &str,
    ) -> Result<jingwu_core::stats::Report, ClientError> {
        self.send(
            self.http
                .get(self.url("/api/incidents/report"))
                .query(&[("period", period)]),
        )
        .await
    }

    /// The 警情通报 of `period` as a file (`pdf` or `xlsx`).
    pub async fn incident_report_file(
        &self,
        period: &str,
        format: &str,
    ) -> Result<HubFile, ClientError> {
        self.file(
            self.http
                .get(self.url("/api/incidents/report"))
                .query(&[("period", period), ("format", format)]),
        )
        .await
    }

    /// Imports historical records, signed with the user's hosted key.
    pub async fn import_incidents(&self, r: &ImportRequest) -> Result<ImportOutcome, ClientError> {
        self.send(self.http.post(self.url("/api/incidents/import")).json(r))
            .await
    }

    /// The user's saved queries.
    pub async fn saved_queries(&self) -> Result<Vec<SavedQuery>, ClientError> {
        self.send(self.http.get(self.url("/api/queries"))).await
    }

    /// Saves (or replaces) a query by its name.
    pub async fn save_query(&self, q: &SavedQuery) -> Result<(), ClientError> {
        let _: Option<serde_json::Value> = self
            .send(self.http.post(self.url("/api/queries")).json(q))
            .await?;
        Ok(())
    }

    /// Deletes a saved query.
    pub async fn delete_query(&self, name: &str) -> Result<(), ClientError> {
        let mut url = reqwest::Url::parse(&self.url("/api/queries/"))
            .map_err(|e| ClientError::Setup(e.to_string()))?;
        url.path_segments_mut()
            .map_err(|_| ClientError::Setup("县局地址无效".into()))?
            .pop_if_empty()
            .push(name);
        let _: Option<serde_json::Value> = self.send(self.http.delete(url)).await?;
        Ok(())
    }

    /// A file the hub makes (an export, a report): its bytes, and its
    /// name from `Content-Disposition`.
    async fn file(&self, rb: reqwest::RequestBuilder) -> Result<HubFile, ClientError> {
        let resp = self
            .auth(rb)
            .timeout(Duration::from_secs(300))
            .send()
            .await
            .map_err(|e| ClientError::Offline(offline_reason(&e)))?;
        let status = resp.status();
        let header = |h: reqwest::header::HeaderName| {
            resp.headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let mime = header(reqwest::header::CONTENT_TYPE).unwrap_or_default();
        let name = header(reqwest::header::CONTENT_DISPOSITION)
            .and_then(|d| {
                d.split("filename=")
                    .nth(1)
                    .map(|n| n.trim().trim_matches('"').to_string())
            })
            .filter(|n| !n.is_empty() && !n.contains(['/', '\\']))
            .unwrap_or_else(|| "jingwu-export".into());
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ClientError::Offline(offline_reason(&e)))?;
        if !status.is_success() {
            return Err(ClientError::Hub {
                status: status.as_u16(),
                body: error_body(&bytes),
            });
        }
        Ok(HubFile {
            name,
            mime,
            bytes: bytes.to_vec(),
        })
    }

    /// Opens the live channel; events after `after` arrive in order on the
    /// returned stream. The stream ends when the connection drops.
    pub async fn live(
        &self,
        after: i64,
    ) -> Result<
        impl futures_util::Stream<Item = Result<LiveMsg, ClientError>> + Send + 'static,
        ClientError,
    > {
        let resp = self
            .auth(
                self.http
                    .get(self.url("/api/live"))
                    .query(&[("after", after)]),
            )
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .send()
            .await
            .map_err(|e| ClientError::Offline(offline_reason(&e)))?;
        if !resp.status().is_success() {
            let status = resp.status().as_u16();
            let bytes = resp.bytes().await.unwrap_or_default();
            return Err(ClientError::Hub {
                status,
                body: error_body(&bytes),
            });
        }
        let bytes = resp.bytes_stream();
        Ok(sse_events(bytes))
    }
}

/// A file the hub made for a download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubFile {
    /// As the hub names it (`incidents.xlsx`, `jingqing-2026-11.pdf` …).
    pub name: String,
    pub mime: String,
    pub bytes: Vec<u8>,
}

/// A message of the live channel.
#[derive(Debug, Clone)]
pub enum LiveMsg {
    /// Caught up to this cursor; from now on events arrive as they happen.
    Ready(i64),
    Event(StoredEvent),
}

/// Parses a text/event-stream into live messages.
fn sse_events(
    bytes: impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send + 'static,
) -> impl futures_util::Stream<Item = Result<LiveMsg, ClientError>> + Send + 'static {
    let state = (
        Box::pin(bytes),
        Vec::<u8>::new(),
        std::collections::VecDeque::new(),
    );
    futures_util::stream::unfold(state, |(mut bytes, mut buf, mut ready)| async move {
        loop {
            if let Some(item) = ready.pop_front() {
                return Some((item, (bytes, buf, ready)));
            }
            match bytes.next().await {
                None => return None,
                Some(Err(e)) => {
                    return Some((
                        Err(ClientError::Offline(offline_reason(&e))),
                        (bytes, buf, ready),
                    ));
                }
                Some(Ok(chunk)) => {
                    buf.extend_from_slice(&chunk);
                    while let Some(pos) = find_blank_line(&buf) {
                        let msg: Vec<u8> = buf.drain(..pos.0).collect();
                        buf.drain(..pos.1);
                        if let Some(r) = parse_message(&msg) {
                            ready.push_back(r);
                        }
                    }
                }
            }
        }
    })
}

/// (end of message, length of the separator).
fn find_blank_line(buf: &[u8]) -> Option<(usize, usize)> {
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2));
    let crlf = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

fn parse_message(msg: &[u8]) -> Option<Result<LiveMsg, ClientError>> {
    let text = String::from_utf8_lossy(msg);
    let mut event = None;
    let mut data = String::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            event = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    match event.as_deref() {
        Some(live::READY) => Some(
            data.trim()
                .parse()
                .map(LiveMsg::Ready)
                .map_err(|_| ClientError::Protocol("ready 消息格式错误".into())),
        ),
        Some(live::EVENT) if !data.is_empty() => Some(
            serde_json::from_str(&data)
                .map(LiveMsg::Event)
                .map_err(|e| ClientError::Protocol(e.to_string())),
        ),
        // The hub ends the stream with its session (logout, revocation,
        // timeout), saying why.
        Some(live::END) => Some(Err(ClientError::Hub {
            status: 401,
            body: Box::new(serde_json::from_str(&data).unwrap_or_else(|_| {
                ErrorBody::new(ErrorCode::Unauthorized, "登录已失效，请重新登录")
            })),
        })),
        _ => None,
    }
}

/// Why a request to the hub failed: plain words first (the officer reads
/// them in the status bar), then the technical chain for the IT officer.
fn offline_reason(e: &reqwest::Error) -> String {
    if let Some(mismatch) = crate::pin::fingerprint_mismatch(e) {
        return mismatch.to_string();
    }
    let first: &(dyn std::error::Error + 'static) = e;
    let refused = std::iter::successors(Some(first), |c| c.source()).any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    });
    let reason = if e.is_timeout() {
        "县局服务器在规定时间内没有应答"
    } else if refused {
        "该地址上没有县局服务器在运行（连接被拒绝）"
    } else if e.is_connect() {
        "网络不通，或服务器地址无法解析"
    } else if e.is_body() || e.is_decode() {
        "传输中途断开"
    } else {
        "网络请求失败"
    };
    format!("{reason}（技术细节：{}）", error_chain(e))
}

/// Whether `url` names this machine: a loopback address, or `localhost`.
fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push('：');
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// Plain HTTP only to this machine, as the hub serves it; https
    /// anywhere, with a pinned certificate.
    #[test]
    fn plain_http_is_refused_off_loopback() {
        for ok in [
            "http://127.0.0.1:8443",
            "http://127.8.0.1:8443/",
            "http://[::1]:8443",
            "http://localhost:8443",
            "http://LOCALHOST",
        ] {
            assert!(HubClient::new(ok, None).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.5:8443",
            "http://hub.example.cn",
            "http://localhost.example.cn",
            "http://127.0.0.1.example.cn",
            "http://[::ffff:10.0.0.5]:8443",
            "http://0.0.0.0:8443",
        ] {
            let Err(e) = HubClient::new(bad, None) else {
                panic!("{bad} accepted");
            };
            assert!(e.to_string().contains("只能连接本机"), "{bad}: {e}");
        }
        let fp = "ab".repeat(32);
        assert!(HubClient::new("https://hub.example.cn:8443", Some(&fp)).is_ok());
        assert!(HubClient::new("https://hub.example.cn:8443", None).is_err());
        for bad in ["ftp://127.0.0.1", "hub.example.cn", ""] {
            assert!(HubClient::new(bad, None).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_closed_port_is_explained_in_plain_words() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = crate::pin::http_client(None)
            .unwrap()
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await
            .unwrap_err();
        let text = ClientError::Offline(offline_reason(&err)).to_string();
        assert!(
            text.starts_with("无法连接县局服务器：该地址上没有县局服务器在运行"),
            "{text}"
        );
        assert!(text.contains("（技术细节："), "{text}");
    }

    #[tokio::test]
    async fn a_hub_that_never_answers_is_a_timeout() {
        // Accepted by the kernel's backlog, never answered.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let err = crate::pin::http_client(None)
            .unwrap()
            .get(format!("http://127.0.0.1:{port}/"))
            .timeout(Duration::from_millis(200))
            .send()
            .await
            .unwrap_err();
        let text = offline_reason(&err);
        assert!(text.starts_with("县局服务器在规定时间内没有应答"), "{text}");
        drop(listener);
    }
}
