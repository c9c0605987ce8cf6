//! Layered configuration: defaults, then a TOML file, then `MINILVB_*`
//! environment variables (`__` between section and key), then flags.
//!
//! Secrets are wrapped in [`Secret`] so they never reach a log line or the
//! `minilvb config` output. Without keys the server runs on clearly labelled
//! demo values and warns loudly.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use minilvb_protocol::ACTIONS;
use minilvb_protocol::cloud::media_hosts::HostPatterns;

mod admin;
mod cloud_api;
pub use admin::AdminSettings;
pub use cloud_api::CloudApiSettings;
pub use minilvb_store::settings::{Backend, DatabaseSettings, MemberOrder, driver_url};

mod known_settings;
mod load_errors;
pub use known_settings::{KnownSetting, env_name, known_settings, unknown_variables};

/// A configured secret. Its `Debug` and `Serialize` forms never show the value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret {
    value: String,
    demo: bool,
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            demo: false,
        }
    }

    fn demo(value: &str) -> Self {
        Self {
            value: value.to_owned(),
            demo: true,
        }
    }

    pub fn expose(&self) -> &str {
        &self.value
    }

    pub fn is_set(&self) -> bool {
        !self.value.is_empty()
    }

    pub fn is_demo(&self) -> bool {
        self.demo
    }

    fn label(&self) -> &'static str {
        match (self.demo, self.value.is_empty()) {
            (true, _) => "<demo value>",
            (false, true) => "",
            (false, false) => "<redacted>",
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.label())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        stringish(d).map(Secret::new)
    }
}

/// Accepts a string or a number as text: `MINILVB_LIVE__BIZID=8888` arrives
/// as a number from the environment.
fn stringish<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        S(String),
        U(u64),
        I(i64),
    }
    Ok(match Text::deserialize(d)? {
        Text::S(s) => s,
        Text::U(n) => n.to_string(),
        Text::I(n) => n.to_string(),
    })
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub live: LiveSettings,
    pub cos: CosSettings,
    pub vod: VodSettings,
    pub members: MemberSettings,
    pub callback: CallbackSettings,
    pub log: LogSettings,
    pub limits: LimitSettings,
    pub rate_limit: RateLimitSettings,
    pub auth: AuthSettings,
    pub metrics: MetricsSettings,
    pub cloud_api: CloudApiSettings,
    pub admin: AdminSettings,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address of the public port (protocol, callbacks, health).
    pub listen: String,
    /// Largest request body accepted; larger gets a 4001 envelope (HTTP 413).
    pub max_body_bytes: usize,
    /// On SIGTERM/SIGINT, how long in-flight requests may take to finish.
    pub shutdown_drain_secs: u64,
    /// Time for a request, from its headers to the reply: a body still not
    /// received then gets HTTP 408, an action still running HTTP 504.
    pub request_timeout_secs: u64,
    /// Time for a request's headers to arrive (and for an idle keep-alive
    /// connection to send its next request); then the connection is closed
    /// (with HTTP 408 when no request was served on it yet).
    pub header_read_timeout_secs: u64,
    /// Time for a request's body to arrive once its headers have (within
    /// `request_timeout_secs`); then HTTP 408. Reading a body holds no
    /// place among the requests handled at once.
    pub body_read_timeout_secs: u64,
    /// Requests handled at once; more are shed at once with HTTP 503.
    pub max_concurrent_requests: usize,
    /// Connections held at once from one client address (the peer's; the
    /// `trusted_proxies` are not capped); more are answered 503 and closed.
    pub max_connections_per_ip: usize,
    /// Connections held at once in all; 0: as many as the open-file limit
    /// (raised to its hard limit at start) leaves room for, and never more.
    pub max_connections: usize,
    /// Addresses (or networks, `10.0.0.0/8`) of reverse proxies whose
    /// `client_ip_header` names the client; empty: the peer is the client.
    pub trusted_proxies: Vec<String>,
    /// The header a trusted proxy puts the client address in
    /// (`X-Forwarded-For`, or `X-Real-IP`).
    pub client_ip_header: String,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            max_body_bytes: 64 * 1024,
            shutdown_drain_secs: 10,
            request_timeout_secs: 30,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 5,
            max_concurrent_requests: 512,
            max_connections_per_ip: 64,
            max_connections: 0,
            trusted_proxies: Vec::new(),
            client_ip_header: "x-forwarded-for".into(),
        }
    }
}

/// Limits on what a protocol request may contain.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// userid, groupid, fileid, liveuserid.
    pub id_bytes: usize,
    /// titles, nicknames, locations.
    pub name_bytes: usize,
    /// headpic, frontcover.
    pub url_bytes: usize,
    /// Arrays and objects nested deeper than this are a 4001 error (the apps send 2).
    pub json_depth: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        let defaults = minilvb_protocol::Limits::default();
        Self {
            id_bytes: defaults.id,
            name_bytes: defaults.name,
            url_bytes: defaults.url,
            json_depth: defaults.depth,
        }
    }
}

impl LimitSettings {
    pub fn protocol(&self) -> minilvb_protocol::Limits {
        minilvb_protocol::Limits {
            id: self.id_bytes,
            name: self.name_bytes,
            url: self.url_bytes,
            depth: self.json_depth,
        }
    }
}

/// Per-client-address request budgets (token buckets: a steady rate and a
/// burst). Over budget answers 4003 `frequency control`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    pub enabled: bool,
    /// Every protocol request.
    pub requests_per_sec: f64,
    pub requests_burst: u32,
    /// ChangeCount (likes), on top of the general budget.
    pub likes_per_sec: f64,
    pub likes_burst: u32,
    /// RequestLVBAddr, on top of the general budget.
    pub request_addr_per_sec: f64,
    pub request_addr_burst: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        // Generous: many viewers of a mobile network may share one address.
        Self {
            enabled: true,
            requests_per_sec: 50.0,
            requests_burst: 200,
            likes_per_sec: 10.0,
            likes_burst: 40,
            request_addr_per_sec: 0.2,
            request_addr_burst: 10,
        }
    }
}

/// Optional caller authentication with the Tencent IM UserSig.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Off by default: the stock apps send no credential.
    pub enabled: bool,
    /// The IM application's SDKAppID.
    pub sdkappid: u64,
    /// The IM application's secret key, which signs UserSigs.
    pub secret_key: Secret,
    /// The request header carrying the UserSig.
    pub header: String,
    /// The Actions that require it.
    pub actions: Vec<String>,
}

/// The Actions that act for a userid and change something of theirs or
/// hand out signed URLs, and the upload signatures (which hand out upload
/// rights to anyone who asks).
pub const DEFAULT_AUTH_ACTIONS: [&str; 10] = [
    "RequestLVBAddr",
    "ChangeStatus",
    "StopLVB",
    "RequestLVBAddrForLinkMic",
    "RequestPlayUrlWithSignForLinkMic",
    "GetCOSSign",
    "GetCOSSignV2",
    "GetVodSignatureV2",
    "EnterGroup",
    "QuitGroup",
];

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            sdkappid: 0,
            secret_key: Secret::default(),
            header: "x-usersig".into(),
            actions: DEFAULT_AUTH_ACTIONS
                .iter()
                .map(|a| (*a).to_owned())
                .collect(),
        }
    }
}

/// The Prometheus endpoint, on its own address (keep it off the public port).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// e.g. `127.0.0.1:9898`; empty: no metrics endpoint.
    pub listen: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveSettings {
    /// The LVB account's BIZID (the prefix of stream ids and default domains).
    #[serde(deserialize_with = "stringish")]
    pub bizid: String,
    /// The push anti-leech key.
    pub push_key: Secret,
    /// The callback (API) key that signs the cloud's event callbacks.
    pub api_key: Secret,
    /// A second callback key, accepted as well while set (for key rotation).
    pub api_key_secondary: Secret,
    /// The play anti-leech key for RequestPlayUrlWithSignForLinkMic; empty
    /// means the push key (the cloud's low-latency play checks it).
    pub play_key: Secret,
    /// Push domain; empty means `BIZID.livepush2.myqcloud.com` (the original's),
    /// filled in when the settings are loaded.
    pub push_domain: String,
    /// Play domain; empty means `BIZID.liveplay.myqcloud.com`.
    pub play_domain: String,
    /// Push URL lifetime (`txTime` = now + this).
    pub push_url_ttl_secs: u32,
    /// Formats the cloud records, as in the push URL (`flv|hls`); empty: no recording.
    pub record: String,
    /// `record_interval` in the push URL, seconds.
    pub record_interval: u32,
    /// FetchList flags 2 and 3 show recordings that ended within this many days.
    pub recordings_window_days: u32,
    /// Sets a room offline when it has been online this long with no
    /// push-begin callback and no ChangeStatus; 0 turns this off.
    pub online_timeout_secs: u64,
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            bizid: String::new(),
            push_key: Secret::default(),
            api_key: Secret::default(),
            push_domain: String::new(),
            play_domain: String::new(),
            push_url_ttl_secs: 3 * 3600,
            record: "flv|hls".into(),
            record_interval: 10800,
            recordings_window_days: 7,
            online_timeout_secs: 0,
            api_key_secondary: Secret::default(),
            play_key: Secret::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CosSettings {
    #[serde(deserialize_with = "stringish")]
    pub appid: String,
    pub bucket: String,
    pub secret_id: Secret,
    pub secret_key: Secret,
    /// The bucket's region (e.g. `ap-guangzhou`), passed to clients by GetCOSSignV2.
    pub region: String,
    /// Lifetime of a GetCOSSign / GetCOSSignV2 signature (the original: 30 s).
    pub sign_ttl_secs: u32,
}

impl Default for CosSettings {
    fn default() -> Self {
        Self {
            appid: String::new(),
            bucket: String::new(),
            secret_id: Secret::default(),
            secret_key: Secret::default(),
            region: String::new(),
            sign_ttl_secs: 30,
        }
    }
}

/// Video-on-demand client uploads (GetVodSignatureV2).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VodSettings {
    pub secret_id: Secret,
    pub secret_key: Secret,
    /// A task flow the cloud runs on each uploaded file; empty for none.
    pub procedure: String,
    /// Lifetime of an upload signature.
    pub sign_ttl_secs: u32,
}

impl Default for VodSettings {
    fn default() -> Self {
        Self {
            secret_id: Secret::default(),
            secret_key: Secret::default(),
            procedure: String::new(),
            sign_ttl_secs: 86_400,
        }
    }
}

/// The cloud's stream event callbacks.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallbackSettings {
    /// A notice is accepted until this long after its `t`, the notice's
    /// expiry. 0: the cloud sends `t` as the expiry (since 2017 at least);
    /// 600 would serve the old meaning of `t` (the event time).
    pub max_age_secs: u64,
    /// A notice whose `t` is further ahead than this is rejected: the
    /// cloud's is 600 s ahead, plus room for clock differences.
    pub max_future_secs: u64,
    /// A notice whose event time (event, recording, screenshot) is further
    /// ahead of this server's clock than this is rejected.
    pub max_event_skew_secs: u64,
    /// Recordings not longer than this are ignored (the original: 60 s).
    pub min_recording_secs: i64,
    /// Hosts recording and screenshot URLs may be on: `host`, `*.domain`,
    /// or `*` for any.
    pub allowed_media_hosts: Vec<String>,
    /// Addresses or networks notices may come from; empty: any.
    pub allowed_sources: Vec<String>,
}

impl Default for CallbackSettings {
    fn default() -> Self {
        Self {
            max_age_secs: 0,
            max_future_secs: 900,
            max_event_skew_secs: 60,
            min_recording_secs: 60,
            allowed_media_hosts: minilvb_protocol::cloud::media_hosts::DEFAULT_MEDIA_HOSTS
                .iter()
                .map(|h| (*h).to_owned())
                .collect(),
            allowed_sources: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemberSettings {
    pub order: MemberOrder,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// A tracing filter such as `info` or `minilvb=debug`; `RUST_LOG` wins when set.
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// Values given on the command line; they win over file and environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub log_format: Option<LogFormat>,
}

/// A configuration error that names the setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(String),
    #[error("configuration: {setting}: {why}")]
    Invalid { setting: &'static str, why: String },
}

pub(crate) fn invalid(setting: &'static str, why: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting,
        why: why.into(),
    }
}

/// The demo values used when no keys are configured. They are plainly not
/// real, so nobody mistakes a demo deployment for a working one.
const DEMO_BIZID: &str = "8888";
const DEMO_SECRET: &str = "minilvb-demo-key-not-for-production";
const DEMO_COS_APPID: &str = "1250000000";
const DEMO_COS_BUCKET: &str = "minilvb-demo";

impl Settings {
    /// Loads settings: defaults, then the file (`path`, else `minilvb.toml`
    /// in the working directory if present), then the environment, then
    /// `overrides`; fills in demo values and checks the result.
    pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match path {
            Some(path) if !path.exists() => {
                return Err(ConfigError::Load(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None => {
                let default = PathBuf::from("minilvb.toml");
                if default.exists() {
                    figment = figment.merge(Toml::file_exact(default));
                }
            }
        }
        figment = figment.merge(known_settings::environment());
        if let Some(listen) = &overrides.listen {
            figment = figment.merge(("server.listen", listen));
        }
        if let Some(url) = &overrides.database_url {
            figment = figment.merge(("database.url", url));
        }
        if let Some(format) = overrides.log_format {
            figment = figment.merge(("log.format", format));
        }
        let mut settings: Settings = figment
            .extract()
            .map_err(|e| ConfigError::Load(load_errors::describe(e)))?;
        settings.fill_demo_values();
        settings.derive_domains();
        settings.validate()?;
        if let Ok(filter) = std::env::var("RUST_LOG") {
            crate::telemetry::check_filter(&filter)
                .map_err(|why| invalid("RUST_LOG (which replaces log.level)", why))?;
        }
        Ok(settings)
    }

    /// Settings for tests and embedding: defaults plus demo values, no file or environment.
    pub fn demo() -> Self {
        let mut settings = Settings::default();
        settings.fill_demo_values();
        settings
    }

    /// Replaces missing keys with demo values.
    fn fill_demo_values(&mut self) {
        if self.live.bizid.is_empty() {
            self.live.bizid = DEMO_BIZID.into();
        }
        for secret in [
            &mut self.live.push_key,
            &mut self.live.api_key,
            &mut self.cos.secret_id,
            &mut self.cos.secret_key,
            &mut self.vod.secret_id,
            &mut self.vod.secret_key,
        ] {
            if !secret.is_set() {
                *secret = Secret::demo(DEMO_SECRET);
            }
        }
        if self.cos.appid.is_empty() {
            self.cos.appid = DEMO_COS_APPID.into();
        }
        if self.cos.bucket.is_empty() {
            self.cos.bucket = DEMO_COS_BUCKET.into();
        }
    }

    /// Fills in the original's domains, derived from the BIZID, where none
    /// are configured. Done when loading and again when the server is built,
    /// so settings changed in code after loading get them too.
    pub fn derive_domains(&mut self) {
        if self.live.push_domain.is_empty() {
            self.live.push_domain = format!("{}.livepush2.myqcloud.com", self.live.bizid);
        }
        if self.live.play_domain.is_empty() {
            self.live.play_domain = format!("{}.liveplay.myqcloud.com", self.live.bizid);
        }
    }

    /// The settings that run on demo values, for the start-up warning.
    pub fn demo_settings(&self) -> Vec<&'static str> {
        let mut demo = Vec::new();
        if self.live.bizid == DEMO_BIZID {
            demo.push("live.bizid");
        }
        let secrets = [
            ("live.push_key", &self.live.push_key),
            ("live.api_key", &self.live.api_key),
            ("cos.secret_id", &self.cos.secret_id),
            ("cos.secret_key", &self.cos.secret_key),
            ("vod.secret_id", &self.vod.secret_id),
            ("vod.secret_key", &self.vod.secret_key),
        ];
        demo.extend(secrets.iter().filter(|(_, s)| s.is_demo()).map(|(n, _)| *n));
        if self.cos.appid == DEMO_COS_APPID {
            demo.push("cos.appid");
        }
        if self.cos.bucket == DEMO_COS_BUCKET {
            demo.push("cos.bucket");
        }
        demo
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        crate::telemetry::check_filter(&self.log.level).map_err(|why| invalid("log.level", why))?;
        minilvb_store::check_url(&self.database.url).map_err(|e| invalid("database.url", e.0))?;
        let db = &self.database;
        if db.max_connections == 0 {
            return Err(invalid("database.max_connections", "must be at least 1"));
        }
        if db.min_connections > db.max_connections {
            return Err(invalid(
                "database.min_connections",
                "must not exceed database.max_connections",
            ));
        }
        if db.acquire_timeout_secs == 0 {
            return Err(invalid(
                "database.acquire_timeout_secs",
                "must be at least 1",
            ));
        }
        if db.list_cache_mib == 0 {
            return Err(invalid(
                "database.list_cache_mib",
                "must be at least 1 (database.list_snapshot_ms = 0 turns the list snapshots off)",
            ));
        }
        if db.operation_timeout_secs == 0 {
            return Err(invalid(
                "database.operation_timeout_secs",
                "must be at least 1",
            ));
        }
        if !self.live.bizid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(invalid("live.bizid", "must be letters and digits"));
        }
        for (setting, domain) in [
            ("live.push_domain", &self.live.push_domain),
            ("live.play_domain", &self.live.play_domain),
        ] {
            let ok = domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b));
            if !ok {
                return Err(invalid(
                    setting,
                    "must be a host name (and port), without scheme or path",
                ));
            }
        }
        let record_ok = self
            .live
            .record
            .split('|')
            .all(|f| ["flv", "hls", "mp4", "aac"].contains(&f))
            || self.live.record.is_empty();
        if !record_ok {
            return Err(invalid(
                "live.record",
                "must be formats among flv, hls, mp4, aac joined by | (or empty to disable)",
            ));
        }
        if self.live.push_url_ttl_secs == 0 {
            return Err(invalid("live.push_url_ttl_secs", "must be at least 1"));
        }
        if self.cos.sign_ttl_secs == 0 {
            return Err(invalid("cos.sign_ttl_secs", "must be at least 1"));
        }
        if self.vod.sign_ttl_secs == 0 {
            return Err(invalid("vod.sign_ttl_secs", "must be at least 1"));
        }
        self.cloud_api.validate()?;
        self.admin.validate(self.listen_addr()?)?;
        self.validate_operations()
    }

    fn validate_operations(&self) -> Result<(), ConfigError> {
        let server = &self.server;
        for (setting, value) in [
            ("server.max_body_bytes", server.max_body_bytes as u64),
            ("server.request_timeout_secs", server.request_timeout_secs),
            (
                "server.header_read_timeout_secs",
                server.header_read_timeout_secs,
            ),
            (
                "server.max_concurrent_requests",
                server.max_concurrent_requests as u64,
            ),
            (
                "server.body_read_timeout_secs",
                server.body_read_timeout_secs,
            ),
            (
                "server.max_connections_per_ip",
                server.max_connections_per_ip as u64,
            ),
            ("callback.max_future_secs", self.callback.max_future_secs),
            ("limits.id_bytes", self.limits.id_bytes as u64),
            ("limits.name_bytes", self.limits.name_bytes as u64),
            ("limits.url_bytes", self.limits.url_bytes as u64),
        ] {
            if value == 0 {
                return Err(invalid(setting, "must be at least 1"));
            }
        }
        if !(2..=100).contains(&self.limits.json_depth) {
            return Err(invalid("limits.json_depth", "must be from 2 to 100"));
        }
        self.trusted_proxies()?;
        self.callback_sources()?;
        self.media_hosts()?;
        if axum::http::HeaderName::from_bytes(server.client_ip_header.as_bytes()).is_err() {
            return Err(invalid("server.client_ip_header", "must be a header name"));
        }
        let rate = &self.rate_limit;
        for (setting, per_sec, burst_setting, burst) in [
            (
                "rate_limit.requests_per_sec",
                rate.requests_per_sec,
                "rate_limit.requests_burst",
                rate.requests_burst,
            ),
            (
                "rate_limit.likes_per_sec",
                rate.likes_per_sec,
                "rate_limit.likes_burst",
                rate.likes_burst,
            ),
            (
                "rate_limit.request_addr_per_sec",
                rate.request_addr_per_sec,
                "rate_limit.request_addr_burst",
                rate.request_addr_burst,
            ),
        ] {
            if !(per_sec.is_finite() && per_sec >= 1e-6) {
                return Err(invalid(setting, "must be a positive number"));
            }
            if burst == 0 {
                return Err(invalid(burst_setting, "must be at least 1"));
            }
        }
        let auth = &self.auth;
        if axum::http::HeaderName::from_bytes(auth.header.as_bytes()).is_err() {
            return Err(invalid("auth.header", "must be a header name"));
        }
        if let Some(unknown) = auth.actions.iter().find(|a| !ACTIONS.contains(&a.as_str())) {
            return Err(invalid(
                "auth.actions",
                format!("unknown Action {unknown:?}; known: {}", ACTIONS.join(", ")),
            ));
        }
        if auth.enabled && (auth.sdkappid == 0 || !auth.secret_key.is_set()) {
            return Err(invalid(
                "auth.enabled",
                "authentication needs auth.sdkappid and auth.secret_key (the IM application's)",
            ));
        }
        self.metrics_addr()?;
        Ok(())
    }

    /// The configured reverse proxies, as networks.
    pub fn trusted_proxies(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        networks("server.trusted_proxies", &self.server.trusted_proxies)
    }

    /// Where notices may come from; empty: anywhere.
    pub fn callback_sources(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        networks("callback.allowed_sources", &self.callback.allowed_sources)
    }

    /// The hosts notices' media URLs may be on.
    pub fn media_hosts(&self) -> Result<HostPatterns, ConfigError> {
        HostPatterns::parse(&self.callback.allowed_media_hosts)
            .map_err(|why| invalid("callback.allowed_media_hosts", why))
    }

    /// The metrics endpoint's address, when one is configured.
    pub fn metrics_addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        match self.metrics.listen.trim() {
            "" => Ok(None),
            text => text.parse().map(Some).map_err(|_| {
                invalid(
                    "metrics.listen",
                    format!("{text:?} is not an address such as 127.0.0.1:9898"),
                )
            }),
        }
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.server.listen.parse().map_err(|_| {
            invalid(
                "server.listen",
                format!(
                    "{:?} is not an address such as 127.0.0.1:8080",
                    self.server.listen
                ),
            )
        })
    }
}

/// Addresses (`192.0.2.1`, `::1`) and networks (`10.0.0.0/8`).
fn networks(setting: &'static str, list: &[String]) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    list.iter()
        .map(|text| {
            text.parse::<ipnet::IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    invalid(
                        setting,
                        format!("{text:?} is not an address or network such as 10.0.0.0/8"),
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show() {
        let mut settings = Settings::default();
        settings.live.push_key = Secret::new("hunter2");
        settings.cos.secret_key = Secret::new("s3cret");
        settings.fill_demo_values();
        let text = settings.to_redacted_toml();
        let debug = format!("{settings:?}");
        for shown in [&text, &debug] {
            assert!(
                !shown.contains("hunter2") && !shown.contains("s3cret"),
                "{shown}"
            );
            assert!(!shown.contains(DEMO_SECRET), "{shown}");
        }
        assert!(text.contains("push_key = \"<redacted>\""), "{text}");
        assert!(text.contains("api_key = \"<demo value>\""), "{text}");
    }

    #[test]
    fn demo_values_are_listed() {
        let mut settings = Settings::demo();
        settings.derive_domains();
        let demo = settings.demo_settings();
        assert!(
            demo.contains(&"live.push_key") && demo.contains(&"live.bizid"),
            "{demo:?}"
        );
        assert_eq!(settings.live.push_domain, "8888.livepush2.myqcloud.com");
        assert_eq!(settings.live.play_domain, "8888.liveplay.myqcloud.com");
    }

    #[test]
    fn bad_settings_name_the_setting() {
        let mut settings = Settings::demo();
        settings.server.listen = "nowhere".into();
        assert!(
            settings
                .validate()
                .unwrap_err()
                .to_string()
                .contains("server.listen")
        );
        let mut settings = Settings::demo();
        settings.database.url = "redis://x".into();
        assert!(
            settings
                .validate()
                .unwrap_err()
                .to_string()
                .contains("database.url")
        );
        let mut settings = Settings::demo();
        settings.live.record = "flv|avi".into();
        assert!(
            settings
                .validate()
                .unwrap_err()
                .to_string()
                .contains("live.record")
        );
    }

    #[test]
    fn operations_settings_are_checked() {
        type Breaker = fn(&mut Settings);
        let cases: [(&str, Breaker); 15] = [
            ("database.list_cache_mib", |s| s.database.list_cache_mib = 0),
            ("server.trusted_proxies", |s| {
                s.server.trusted_proxies = vec!["10.0.0.0/33".into()]
            }),
            ("server.client_ip_header", |s| {
                s.server.client_ip_header = "bad header".into()
            }),
            ("server.max_concurrent_requests", |s| {
                s.server.max_concurrent_requests = 0
            }),
            ("limits.json_depth", |s| s.limits.json_depth = 1000),
            ("rate_limit.likes_per_sec", |s| {
                s.rate_limit.likes_per_sec = 0.0
            }),
            ("rate_limit.requests_burst", |s| {
                s.rate_limit.requests_burst = 0
            }),
            ("auth.enabled", |s| s.auth.enabled = true),
            ("auth.actions", |s| s.auth.actions = vec!["Nope".into()]),
            ("metrics.listen", |s| s.metrics.listen = "localhost".into()),
            ("server.body_read_timeout_secs", |s| {
                s.server.body_read_timeout_secs = 0
            }),
            ("server.max_connections_per_ip", |s| {
                s.server.max_connections_per_ip = 0
            }),
            ("callback.max_future_secs", |s| {
                s.callback.max_future_secs = 0
            }),
            ("callback.allowed_media_hosts", |s| {
                s.callback.allowed_media_hosts = vec!["https://vod.example.com/".into()]
            }),
            ("callback.allowed_sources", |s| {
                s.callback.allowed_sources = vec!["the cloud".into()]
            }),
        ];
        for (setting, break_it) in cases {
            let mut settings = Settings::demo();
            break_it(&mut settings);
            let error = settings.validate().unwrap_err().to_string();
            assert!(error.contains(setting), "{setting}: {error}");
        }
        let mut settings = Settings::demo();
        settings.server.trusted_proxies =
            vec!["10.0.0.0/8".into(), "192.0.2.1".into(), "::1".into()];
        settings.metrics.listen = "127.0.0.1:9898".into();
        settings.auth.enabled = true;
        settings.auth.sdkappid = 1_400_000_000;
        settings.auth.secret_key = Secret::new("im-key");
        settings.validate().unwrap();
        assert_eq!(settings.trusted_proxies().unwrap().len(), 3);
        let text = settings.to_redacted_toml();
        assert!(
            !text.contains("im-key") && text.contains("[auth]") && text.contains("[rate_limit]"),
            "{text}"
        );
        // Defaults keep the stock apps working: no authentication, generous budgets.
        let defaults = Settings::default();
        assert!(!defaults.auth.enabled && defaults.rate_limit.enabled);
        assert!(defaults.metrics.listen.is_empty());
    }

    #[test]
    fn database_settings_are_checked() {
        for url in [
            "sqlite:x.db",
            "postgres://u:p@db:5432/minilvb",
            "postgresql://db/minilvb",
            "mysql://root@127.0.0.1:3306/minilvb",
            "mariadb://root@db/minilvb",
        ] {
            let mut settings = Settings::demo();
            settings.database.url = url.into();
            assert!(settings.validate().is_ok(), "{url}");
        }
        assert_eq!(
            driver_url("mariadb://root@db/minilvb"),
            "mysql://root@db/minilvb"
        );
        let mut settings = Settings::demo();
        settings.database.url = "postgres://db:notaport/minilvb".into();
        let error = settings.validate().unwrap_err().to_string();
        assert!(error.contains("database.url"), "{error}");
        let mut settings = Settings::demo();
        settings.database.min_connections = 9;
        let error = settings.validate().unwrap_err().to_string();
        assert!(error.contains("database.min_connections"), "{error}");
    }
}
