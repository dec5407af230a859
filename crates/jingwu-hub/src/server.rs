//! Starting the hub: configuration, database, registry, listener.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jingwu_core::registry::Registry;
use serde::{Deserialize, Serialize};

use crate::db::{self, HubDb};
use crate::hub::{Hub, Limits};

/// The hub's typed configuration: from a TOML file, then environment
/// variables `JINGWU_HUB_*` (e.g. `JINGWU_HUB_LISTEN`), then flags.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the SQLite database, the TLS certificate and logs live.
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL instead of SQLite.
    pub database_url: Option<String>,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Serve plain HTTP. Only allowed on a loopback address (tests, demo).
    pub insecure_http: bool,
    /// Host names and addresses the certificate names (besides localhost).
    pub tls_names: Vec<String>,
    /// `text` or `json` logs.
    pub log_format: String,
    pub limits: Limits,
    /// The public status page (`[status]`; off unless `listen` is set).
    pub status: crate::status::StatusConfig,
    /// The applicant's SMS (`[sms]`; off unless `endpoint` is set).
    pub sms: crate::sms::SmsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("jingwu-hub-data"),
            database_url: None,
            listen: SocketAddr::from(([0, 0, 0, 0], 8443)),
            insecure_http: false,
            tls_names: Vec::new(),
            log_format: "text".into(),
            limits: Limits::default(),
            status: crate::status::StatusConfig::default(),
            sms: crate::sms::SmsConfig::default(),
        }
    }
}

impl Config {
    /// The database to open: the URL, or `DATA_DIR/hub.db`.
    pub fn database(&self) -> String {
        match &self.database_url {
            Some(u) => u.clone(),
            None => self.data_dir.join("hub.db").display().to_string(),
        }
    }

    /// Loads the configuration: defaults, then `file`, then the
    /// environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
        use figment::providers::{Env, Format, Serialized, Toml};
        let mut f = figment::Figment::from(Serialized::defaults(Config::default()));
        if let Some(p) = file {
            if !p.exists() {
                anyhow::bail!("配置文件 {} 不存在", p.display());
            }
            f = f.merge(Toml::file(p));
        }
        f = f.merge(Env::prefixed("JINGWU_HUB_").split("__"));
        f.extract().map_err(|e| anyhow::anyhow!("配置有误：{e}"))
    }
}

/// Opens the database named by the configuration, creating the data
/// directory for SQLite.
pub fn open_db(cfg: &Config) -> anyhow::Result<Arc<dyn HubDb>> {
    if cfg.database_url.is_none() {
        jingwu_store::private_fs::create_dir(&cfg.data_dir)
            .map_err(|e| anyhow::anyhow!("无法创建数据目录 {}：{e}", cfg.data_dir.display()))?;
    }
    Ok(db::open(&cfg.database())?)
}

/// The registry of the org stored in the database.
pub fn registry(db: &dyn HubDb) -> anyhow::Result<Registry> {
    let mut reg = crate::publish::load(db)?;
    if let Some(years) = db.meta_get(CALENDAR_META)? {
        reg.import_calendar_json(&years)
            .map_err(|e| anyhow::anyhow!("已导入的节假日安排有误：{e}"))?;
    }
    Ok(reg)
}

/// The meta key under which the holiday arrangements imported with
/// [`import_calendar`] are kept (a JSON array of years).
const CALENDAR_META: &str = "calendar_json";

/// Imports the official holiday arrangement of one or more years (a JSON
/// object, or an array, as `jingwu_core::workdays::YearCalendar`) into the
/// hub's registry: checked against the built-in years and those imported
/// before, then kept in the database. Returns the years imported. A
/// running hub counts with them after a restart.
pub fn import_calendar(db: &dyn HubDb, json: &str) -> anyhow::Result<Vec<i32>> {
    use jingwu_core::workdays::YearCalendar;
    let mut reg = registry(db)?;
    let years = reg
        .import_calendar_json(json)
        .map_err(|e| anyhow::anyhow!("节假日安排未导入：{e}"))?;
    let mut kept = match db.meta_get(CALENDAR_META)? {
        Some(j) => YearCalendar::parse_json(&j)
            .map_err(|e| anyhow::anyhow!("已导入的节假日安排有误：{e}"))?,
        None => Vec::new(),
    };
    for y in YearCalendar::parse_json(json).map_err(|e| anyhow::anyhow!("{e}"))? {
        if !kept.iter().any(|k| k.year() == y.year()) {
            kept.push(y);
        }
    }
    kept.sort_by_key(YearCalendar::year);
    db.meta_set(CALENDAR_META, &serde_json::to_string(&kept)?)?;
    Ok(years)
}

/// A bound listener and what it serves.
pub struct Bound {
    pub addr: SocketAddr,
    /// SHA-256 fingerprint of the certificate (`None` for plain HTTP).
    pub fingerprint: Option<String>,
    /// Where the public status page listens, when configured.
    pub status_addr: Option<SocketAddr>,
}

/// Resolves when `stop` says so (or its sender is gone).
async fn stopped(mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        let done = *stop.borrow_and_update();
        if done || stop.changed().await.is_err() {
            return;
        }
    }
}

/// Serves `app` on the bound `listener` (TLS with `tls`, or plain HTTP)
/// until `stop`.
async fn serve_on(
    listener: TcpListener,
    app: axum::Router,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    // The peer address reaches the handlers (login lockout and the status
    // page's limits per source); only the socket's peer, never a
    // forwarded header.
    let svc = app.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        None => {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            axum::serve(listener, svc)
                .with_graceful_shutdown(stopped(stop))
                .await?;
        }
        Some(tls) => {
            let handle = axum_server::Handle::new();
            let h = handle.clone();
            tokio::spawn(async move {
                stopped(stop).await;
                h.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
            });
            axum_server::from_tcp_rustls(listener, tls)?
                .handle(handle)
                .serve(svc)
                .await?;
        }
    }
    Ok(())
}

fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let l = TcpListener::bind(addr).map_err(|e| anyhow::anyhow!("无法监听 {addr}：{e}"))?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// Serves `hub` on `cfg.listen` (and the public status page on
/// `cfg.status.listen`, and the SMS sender when configured) until
/// `shutdown` resolves. `on_bound` is called once the sockets are bound.
pub async fn serve(
    cfg: &Config,
    hub: Arc<Hub>,
    on_bound: impl FnOnce(&Bound),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listens = std::iter::once(cfg.listen).chain(cfg.status.listen);
    for l in listens.clone() {
        if cfg.insecure_http && !l.ip().is_loopback() {
            anyhow::bail!(
                "明文 HTTP 只允许监听本机回环地址（127.0.0.1 或 ::1），当前为 {l}；对外服务请使用 TLS"
            );
        }
    }
    hub.start_live()?;
    hub.watch_disk(cfg.data_dir.clone());
    let app = crate::http::router(hub.clone())
        .merge(crate::webui::routes(hub.clone(), !cfg.insecure_http))
        .layer(axum::Extension(crate::updates::Scheme(
            if cfg.insecure_http { "http" } else { "https" },
        )))
        .layer(tower_http::trace::TraceLayer::new_for_http());
    let main = bind(cfg.listen)?;
    let addr = main.local_addr()?;
    let status = cfg.status.listen.map(bind).transpose()?;
    let status_addr = status.as_ref().map(TcpListener::local_addr).transpose()?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    crate::sms::start(&hub, &cfg.sms, stop_rx.clone())?;
    let tls = if cfg.insecure_http {
        None
    } else {
        let mut names = cfg.tls_names.clone();
        for l in listens {
            if !l.ip().is_unspecified() {
                names.push(l.ip().to_string());
            }
        }
        let cert = crate::tls::load_or_create(&cfg.data_dir, &names)?;
        Some((crate::tls::axum_config(&cert).await?, cert.fingerprint))
    };
    on_bound(&Bound {
        addr,
        fingerprint: tls.as_ref().map(|t| t.1.clone()),
        status_addr,
    });
    let tls = tls.map(|t| t.0);
    // The status page: its own socket and routes, no access log of its
    // queries (the request line carries none; bodies are not logged).
    let page = status.map(|l| {
        let router = crate::status::router(crate::status::StatusPage::new(hub, &cfg.status));
        tokio::spawn(serve_on(l, router, tls.clone(), stop_rx.clone()))
    });
    let out = serve_on(main, app, tls, stop_rx).await;
    if let Some(p) = page {
        if out.is_err() {
            p.abort();
        } else {
            p.await??;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn configuration_comes_from_file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("hub.toml");
        std::fs::write(
            &f,
            "data_dir = \"/srv/jingwu\"\nlisten = \"10.0.0.5:9443\"\ntls_names = [\"hub.leishan.gz\"]\n\n[limits]\nmax_batch = 50\n",
        )
        .unwrap();
        std::env::set_var("JINGWU_HUB_LIMITS__MAX_UPLOAD_BYTES", "1234");
        let c = Config::load(Some(&f)).unwrap();
        std::env::remove_var("JINGWU_HUB_LIMITS__MAX_UPLOAD_BYTES");
        assert_eq!(c.data_dir, PathBuf::from("/srv/jingwu"));
        assert_eq!(c.listen, SocketAddr::from(([10, 0, 0, 5], 9443)));
        assert_eq!(c.limits.max_batch, 50);
        assert_eq!(c.limits.max_upload_bytes, 1234);
        assert_eq!(
            c.limits.session_idle_secs,
            Limits::default().session_idle_secs
        );
        assert!(!c.insecure_http);
        assert_eq!(c.database(), "/srv/jingwu/hub.db");

        std::fs::write(&f, "lisen = \"1.2.3.4:1\"\n").unwrap();
        let e = Config::load(Some(&f)).unwrap_err().to_string();
        assert!(e.contains("配置有误") && e.contains("lisen"), "{e}");
        let e = Config::load(Some(&dir.path().join("missing.toml")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("不存在"), "{e}");
    }
}
