//! `[cloud_api]`: the Tencent Cloud API 3.0 keys and endpoints that let
//! moderation reach the stream at the cloud (cut, forbid, resume, delete a
//! recording) and the stream-status sweep ask which streams are live.
//! Without both keys, moderation acts on the database only.

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret, invalid};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CloudApiSettings {
    /// The API key pair's SecretId (`AKID...`).
    pub secret_id: String,
    /// The API key pair's SecretKey (secret).
    pub secret_key: Secret,
    /// `X-TC-Region`; empty: not sent (the live and VOD actions used here
    /// do not need one).
    pub region: String,
    /// The live API's endpoint; `http://HOST:PORT` for a private gateway
    /// or a test double (the signature then covers that host).
    pub live_endpoint: String,
    /// The VOD API's endpoint.
    pub vod_endpoint: String,
    /// One attempt's time limit.
    pub timeout_secs: u64,
    /// Attempts of a call that failed for a passing reason (rate limit,
    /// internal error, network), with jittered back-off between them.
    pub max_attempts: u32,
    /// How often one node of the deployment asks the cloud which streams
    /// are live (0: never).
    pub sweep_secs: u64,
    /// Consecutive sweeps a room listed online must be missing from the
    /// cloud's list before it is set offline.
    pub sweep_misses: u32,
}

impl Default for CloudApiSettings {
    fn default() -> Self {
        Self {
            secret_id: String::new(),
            secret_key: Secret::default(),
            region: String::new(),
            live_endpoint: "https://live.tencentcloudapi.com".into(),
            vod_endpoint: "https://vod.tencentcloudapi.com".into(),
            timeout_secs: 10,
            max_attempts: 3,
            sweep_secs: 60,
            sweep_misses: 3,
        }
    }
}

impl CloudApiSettings {
    /// Whether both keys are set: only then does anything call the cloud.
    pub fn enabled(&self) -> bool {
        !self.secret_id.is_empty() && self.secret_key.is_set()
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.secret_id.is_empty() == self.secret_key.is_set() {
            let (set, unset) = match self.secret_id.is_empty() {
                true => ("cloud_api.secret_key", "cloud_api.secret_id"),
                false => ("cloud_api.secret_id", "cloud_api.secret_key"),
            };
            return Err(invalid(
                unset,
                format!(
                    "{set} is set but {unset} is not: set both to act on the cloud, or neither"
                ),
            ));
        }
        for (setting, endpoint) in [
            ("cloud_api.live_endpoint", &self.live_endpoint),
            ("cloud_api.vod_endpoint", &self.vod_endpoint),
        ] {
            let scheme_ok = endpoint.starts_with("https://") || endpoint.starts_with("http://");
            let host = endpoint.split_once("://").map_or("", |(_, rest)| rest);
            if !scheme_ok || host.is_empty() || host.contains(['/', '?', '#', ' ']) {
                return Err(invalid(
                    setting,
                    format!(
                        "{endpoint:?} is not an endpoint: expected https://HOST or http://HOST:PORT, \
                         with no path"
                    ),
                ));
            }
        }
        if self.timeout_secs == 0 {
            return Err(invalid("cloud_api.timeout_secs", "must be at least 1"));
        }
        if !(1..=10).contains(&self.max_attempts) {
            return Err(invalid("cloud_api.max_attempts", "must be from 1 to 10"));
        }
        if self.sweep_misses == 0 {
            return Err(invalid("cloud_api.sweep_misses", "must be at least 1"));
        }
        Ok(())
    }

    /// The client's configuration, when the keys are set.
    pub fn client_config(&self) -> Option<minilvb_cloud::CloudConfig> {
        if !self.enabled() {
            return None;
        }
        let mut config = minilvb_cloud::CloudConfig::new(
            self.secret_id.clone(),
            minilvb_cloud::SecretKey::new(self.secret_key.expose()),
        );
        config.region = (!self.region.is_empty()).then(|| self.region.clone());
        config.live_endpoint = self.live_endpoint.trim_end_matches('/').to_owned();
        config.vod_endpoint = self.vod_endpoint.trim_end_matches('/').to_owned();
        config.timeout = std::time::Duration::from_secs(self.timeout_secs);
        config.max_attempts = self.max_attempts;
        Some(config)
    }
}
