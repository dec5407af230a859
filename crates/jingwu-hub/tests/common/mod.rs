//! The test kit: hubs on either backend, station clients, people.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jingwu_core::crypto::KdfParams;
use jingwu_core::event::Decision;
use jingwu_core::org::Org;
use jingwu_core::registry::Registry;
use jingwu_hub::db::HubDb;
pub use jingwu_hub::error::ErrorCode;
use jingwu_hub::hub::{Hub, Limits};
use jingwu_hub::server::{self, Config};
use jingwu_station::client::HubClient;
use jingwu_station::station::Station;
use tempfile::TempDir;
use uuid::Uuid;

pub const PASSWORD: &str = "Test-Passw0rd!";
pub const PIN: &str = "135790";

/// 方祥派出所 户籍民警, 所长; 户政股 股长; 分管副局长.
pub const OFFICER: &str = "052638";
pub const CHIEF: &str = "052637";
pub const SECTION: &str = "052605";
pub const DEPUTY: &str = "052602";
/// 大塘派出所 户籍民警 (another station).
pub const OTHER_OFFICER: &str = "052617";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const PG_BASE: &str = "postgres://root@127.0.0.1:5432/test";

/// A fresh PostgreSQL schema name.
pub fn fresh_schema() -> String {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).unwrap();
    format!("t_{}", hex::encode(b))
}

/// Where a hub keeps its data.
pub struct HubPlace {
    pub dir: TempDir,
    pub database_url: Option<String>,
}

impl HubPlace {
    pub fn new(backend: Backend) -> HubPlace {
        let dir = tempfile::tempdir().unwrap();
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(format!("{PG_BASE}?schema={}", fresh_schema())),
        };
        HubPlace { dir, database_url }
    }

    pub fn config(&self) -> Config {
        Config {
            data_dir: self.dir.path().to_path_buf(),
            database_url: self.database_url.clone(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            insecure_http: true,
            ..Config::default()
        }
    }

    pub fn open_db(&self) -> Arc<dyn HubDb> {
        server::open_db(&self.config()).unwrap()
    }

    /// Loads the org and accounts for `people` (+ admin).
    pub fn init(&self, people: &[&str]) {
        let db = self.open_db();
        let org = Org::leishan_demo().unwrap();
        db.meta_set("org_json", &serde_json::to_string(org.data()).unwrap())
            .unwrap();
        let hub = Hub::new(
            db.clone(),
            Arc::new(server::registry(db.as_ref()).unwrap()),
            Limits::default(),
        )
        .unwrap();
        hub.create_user("admin", PASSWORD, true).unwrap();
        // Version 1 of the registry, signed by the admin's key, as `init` does.
        jingwu_hub::publish::publish_first(
            db.as_ref(),
            "admin",
            "Admin-PIN-2468",
            jingwu_core::crypto::KdfParams::TEST_ONLY,
            &jingwu_hub::now_rfc3339(),
        )
        .unwrap();
        for p in people {
            hub.create_user(p, PASSWORD, false).unwrap();
        }
    }
}

impl Drop for HubPlace {
    fn drop(&mut self) {
        if let Some(url) = &self.database_url {
            if let Some(schema) = url.split("schema=").nth(1) {
                jingwu_hub::db::off_runtime(|| {
                    if let Ok(mut c) = postgres::Client::connect(PG_BASE, postgres::NoTls) {
                        let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
                    }
                });
            }
        }
    }
}

/// A hub served in this process on loopback (plain HTTP).
pub struct RunningHub {
    pub url: String,
    /// The public status page's base URL, when configured.
    pub status_url: Option<String>,
    pub hub: Arc<Hub>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningHub {
    pub async fn start(place: &HubPlace) -> RunningHub {
        Self::start_with(place, Limits::default()).await
    }

    pub async fn start_with(place: &HubPlace, limits: Limits) -> RunningHub {
        Self::start_cfg(place, |c| c.limits = limits).await
    }

    /// A hub with `place`'s configuration changed by `change`.
    pub async fn start_cfg(place: &HubPlace, change: impl FnOnce(&mut Config)) -> RunningHub {
        let mut cfg = place.config();
        change(&mut cfg);
        let limits = cfg.limits.clone();
        let db = server::open_db(&cfg).unwrap();
        let reg = server::registry(db.as_ref()).unwrap();
        let hub = Hub::new(db, Arc::new(reg), limits).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (bound_tx, bound_rx) = std::sync::mpsc::channel();
        let h = hub.clone();
        let task = tokio::spawn(async move {
            server::serve(
                &cfg,
                h,
                move |b| {
                    bound_tx.send((b.addr, b.status_addr)).unwrap();
                },
                async {
                    let _ = stopped.await;
                },
            )
            .await
            .unwrap();
        });
        let (addr, status_addr) = tokio::task::spawn_blocking(move || bound_rx.recv().unwrap())
            .await
            .unwrap();
        RunningHub {
            url: format!("http://{addr}"),
            status_url: status_addr.map(|a| format!("http://{a}")),
            hub,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(15), t).await;
        }
    }

    /// An admin client.
    pub async fn admin(&self) -> HubClient {
        let mut c = HubClient::new(&self.url, None).unwrap();
        c.login("admin", PASSWORD, "admin-console").await.unwrap();
        c
    }

    /// Approves every pending enrolment.
    pub async fn approve_all(&self) {
        let admin = self.admin().await;
        for e in admin.enrolments(Some("pending")).await.unwrap() {
            admin.decide_enrolment(&e.id, "approve").await.unwrap();
        }
    }
}

/// A station client for `person` in its own data dir, enrolled.
pub struct Client {
    pub st: Station,
    pub person: String,
    _dir: TempDir,
}

impl Client {
    pub async fn enrol(hub_url: &str, person: &str) -> Client {
        let dir = tempfile::tempdir().unwrap();
        let mut st = Station::open(dir.path(), Registry::builtin_demo().unwrap()).unwrap();
        st.enrol(
            hub_url,
            None,
            person,
            PASSWORD,
            PIN,
            "测试机",
            KdfParams::TEST_ONLY,
        )
        .await
        .unwrap();
        Client {
            st,
            person: person.to_string(),
            _dir: dir,
        }
    }

    /// Creates a complete name-change application with a scan, submitted.
    pub fn apply(&mut self) -> Uuid {
        let s = self
            .st
            .create_hukou(PIN, jingwu_core::demo::name_change_form())
            .unwrap();
        let scan = scan_file(self.st.data_dir());
        self.st.attach(PIN, s.case_id, "scans", &scan).unwrap();
        self.st.submit(PIN, s.case_id).unwrap();
        s.case_id
    }

    /// This client's signing key, unlocked (for tests that sign events
    /// by hand).
    pub fn signing_key(&self) -> jingwu_core::crypto::SoftwareKey {
        self.st
            .store
            .key(&self.person)
            .unwrap()
            .unwrap()
            .unlock(PIN)
            .unwrap()
    }

    /// Signs `action` by hand as this client's person from `device`, dated
    /// `time`: the next event of `state`, or a new case's first event
    /// (`state` = `None`, case `case_id`).
    pub fn sign_event(
        &self,
        case_id: Uuid,
        state: Option<&jingwu_core::case::CaseState>,
        device: &str,
        time: time::OffsetDateTime,
        action: jingwu_core::event::Action,
    ) -> jingwu_core::event::SignedEvent {
        use jingwu_core::crypto::Signer as _;
        let key = self.signing_key();
        let mut random = [0u8; 10];
        getrandom::fill(&mut random).unwrap();
        let ev = jingwu_core::event::Event::new(
            case_id,
            state.map_or(0, |s| s.next_seq),
            state.map(|s| s.head.clone()),
            &self.person,
            device,
            &key.public_key().fingerprint(),
            time,
            random,
            action,
        );
        jingwu_core::event::SignedEvent::sign(ev, &key).unwrap()
    }

    pub async fn sync(&mut self) -> jingwu_station::station::SyncReport {
        self.st.sync(|_, _, _| {}).await.unwrap()
    }

    pub fn agree(&mut self, case: Uuid) {
        self.st
            .decide(PIN, case, Decision::Agree, "同意。")
            .unwrap();
    }
}

/// A small PNG "scan" (a real PNG file).
pub fn scan_file(dir: &Path) -> PathBuf {
    let p = dir.join("scan.png");
    if !p.exists() {
        std::fs::write(&p, png_bytes(0)).unwrap();
    }
    p
}

/// A valid 1×1 PNG, varied by `n` (a different colour each).
pub fn png_bytes(n: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let img = image_png(n);
    out.extend_from_slice(&img);
    out
}

fn image_png(n: u32) -> Vec<u8> {
    // Built by hand with the crc/zlib the PNG spec needs is overkill; a
    // stored-deflate 1×1 RGB image is short enough to write out.
    fn crc32(data: &[u8]) -> u32 {
        let mut c = 0xFFFF_FFFFu32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut c = kind.to_vec();
        c.extend_from_slice(data);
        out.extend_from_slice(&c);
        out.extend_from_slice(&crc32(&c).to_be_bytes());
    }
    let raw = [
        0u8,
        (n & 0xFF) as u8,
        ((n >> 8) & 0xFF) as u8,
        ((n >> 16) & 0xFF) as u8,
    ];
    let mut adler_a = 1u32;
    let mut adler_b = 0u32;
    for &b in &raw {
        adler_a = (adler_a + u32::from(b)) % 65521;
        adler_b = (adler_b + adler_a) % 65521;
    }
    let mut z = vec![0x78, 0x01, 0x01, 4, 0, !4u8, 0xFF];
    z.extend_from_slice(&raw);
    z.extend_from_slice(&((adler_b << 16) | adler_a).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&1u32.to_be_bytes());
    ihdr.extend_from_slice(&1u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &z);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// Runs `f` on both backends.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$body($crate::common::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$body($crate::common::Backend::Postgres).await;
            }
        }
    };
}

/// A browser session: `POST /api/ui/<command>`.
pub struct Browser {
    pub http: reqwest::Client,
    pub url: String,
    pub cookie: String,
}

impl Browser {
    pub async fn login(url: &str, person: &str) -> Browser {
        let http = jingwu_station::pin::http_client(None).unwrap();
        let r = http
            .post(format!("{url}/api/ui/login"))
            .header("X-Jingwu-UI", "1")
            .json(&serde_json::json!({"person": person, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let cookie = r.headers()["set-cookie"].to_str().unwrap();
        let cookie = cookie.split(';').next().unwrap().to_string();
        Browser {
            http,
            url: url.to_string(),
            cookie,
        }
    }

    /// (status, body).
    pub async fn call(&self, command: &str, args: serde_json::Value) -> (u16, serde_json::Value) {
        let r = self
            .http
            .post(format!("{}/api/ui/{command}", self.url))
            .header("X-Jingwu-UI", "1")
            .header("Cookie", &self.cookie)
            .json(&args)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn ok(&self, command: &str, args: serde_json::Value) -> serde_json::Value {
        let (status, body) = self.call(command, args).await;
        assert_eq!(status, 200, "{command}: {body}");
        body
    }
}
