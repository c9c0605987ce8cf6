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
mod sections;
#[cfg(test)]
mod tests;
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

pub use sections::*;

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
