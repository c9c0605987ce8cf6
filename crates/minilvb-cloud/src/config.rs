//! What a [`CloudApi`](crate::CloudApi) is built from.
//!
//! Invariants: the secret key never appears in `Debug` output (it has no
//! `Display` either); endpoints are checked when the client is built, so a
//! bad URL is a startup error, not a failure at the first moderation action.

use std::fmt;
use std::time::Duration;

use crate::error::CloudError;

/// The public endpoint of the live streaming API (product `live`).
pub const DEFAULT_LIVE_ENDPOINT: &str = "https://live.tencentcloudapi.com";
/// The public endpoint of the VOD API (product `vod`).
pub const DEFAULT_VOD_ENDPOINT: &str = "https://vod.tencentcloudapi.com";
/// `PageSize` for DescribeLiveStreamOnlineList: within every documented range
/// (older pages say 10..=100, current ones 10..=300000).
pub const DEFAULT_ONLINE_LIST_PAGE_SIZE: u32 = 100;

/// An API SecretKey. Its value is reachable only through [`SecretKey::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The key itself, for signing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl From<String> for SecretKey {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for SecretKey {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// Credentials, endpoints and the retry policy of the cloud API client.
#[derive(Debug, Clone)]
pub struct CloudConfig {
    pub secret_id: String,
    pub secret_key: SecretKey,
    /// Sent as `X-TC-Region` when set. None of the actions used here needs
    /// one (their documentation: "not required for this API").
    pub region: Option<String>,
    /// `https://live.tencentcloudapi.com` or `http://HOST:PORT` (a fake, a
    /// proxy); the signature covers the host and port given here.
    pub live_endpoint: String,
    pub vod_endpoint: String,
    /// The whole of one HTTP attempt, connect to last byte.
    pub timeout: Duration,
    /// Attempts per call, the first included; at least 1.
    pub max_attempts: u32,
    /// Backoff before retry `n` is uniform in `0..=min(cap, base * 2^(n-1))`.
    pub retry_base_delay: Duration,
    pub retry_max_delay: Duration,
    /// `PageSize` when listing online streams, 10..=300000.
    pub online_list_page_size: u32,
}

impl CloudConfig {
    /// The defaults: public endpoints, no region, 10 s per attempt, 3
    /// attempts, backoff from 200 ms capped at 2 s, 100 streams a page.
    pub fn new(secret_id: impl Into<String>, secret_key: impl Into<SecretKey>) -> Self {
        Self {
            secret_id: secret_id.into(),
            secret_key: secret_key.into(),
            region: None,
            live_endpoint: DEFAULT_LIVE_ENDPOINT.to_owned(),
            vod_endpoint: DEFAULT_VOD_ENDPOINT.to_owned(),
            timeout: Duration::from_secs(10),
            max_attempts: 3,
            retry_base_delay: Duration::from_millis(200),
            retry_max_delay: Duration::from_secs(2),
            online_list_page_size: DEFAULT_ONLINE_LIST_PAGE_SIZE,
        }
    }

    /// Both endpoints at one base URL, as a fake or a proxy serves them.
    pub fn with_endpoint(mut self, base_url: &str) -> Self {
        self.live_endpoint = base_url.to_owned();
        self.vod_endpoint = base_url.to_owned();
        self
    }

    pub(crate) fn validate(&self) -> Result<(), CloudError> {
        let bad = |what: String| Err(CloudError::Config(what));
        if self.secret_id.trim().is_empty() {
            return bad("secret_id is empty".into());
        }
        if self.secret_key.expose().is_empty() {
            return bad("secret_key is empty".into());
        }
        if self.region.as_deref().is_some_and(|r| r.trim().is_empty()) {
            return bad("region is set but empty".into());
        }
        if self.max_attempts == 0 {
            return bad("max_attempts must be at least 1".into());
        }
        if self.timeout.is_zero() {
            return bad("timeout must be positive".into());
        }
        if !(10..=300_000).contains(&self.online_list_page_size) {
            return bad(format!(
                "online_list_page_size {} is outside the documented 10..=300000",
                self.online_list_page_size
            ));
        }
        Ok(())
    }
}

/// An endpoint as requests need it: the URL to POST to and the Host header
/// (with `:PORT` when the URL names a non-default port) that is also signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub url: reqwest::Url,
    pub host: String,
}

impl Endpoint {
    pub(crate) fn parse(which: &str, text: &str) -> Result<Self, CloudError> {
        let bad = |why: &str| CloudError::Config(format!("{which} {text:?} {why}"));
        let url =
            reqwest::Url::parse(text.trim()).map_err(|e| bad(&format!("is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("must start with http:// or https://"));
        }
        if url.query().is_some() || url.fragment().is_some() || url.path() != "/" {
            return Err(bad(
                "must have no path, query or fragment: API 3.0 signs the path /",
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("must not carry user information"));
        }
        let name = url.host_str().ok_or_else(|| bad("has no host"))?;
        let host = match url.port() {
            Some(port) => format!("{name}:{port}"),
            None => name.to_owned(),
        };
        Ok(Self { url, host })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_the_config_hides_the_secret_key() {
        let config = CloudConfig::new("AKIDvisible", "very-secret-key-value");
        let shown = format!("{config:?}");
        assert!(!shown.contains("very-secret-key-value"), "{shown}");
        assert!(shown.contains("AKIDvisible"));
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn the_public_endpoint_signs_its_bare_host() {
        let e = Endpoint::parse("live_endpoint", DEFAULT_LIVE_ENDPOINT).unwrap();
        assert_eq!(e.host, "live.tencentcloudapi.com");
        let e = Endpoint::parse("live_endpoint", "https://live.tencentcloudapi.com:443/").unwrap();
        assert_eq!(e.host, "live.tencentcloudapi.com");
    }

    #[test]
    fn a_local_endpoint_signs_host_and_port() {
        let e = Endpoint::parse("vod_endpoint", "http://127.0.0.1:18080").unwrap();
        assert_eq!(e.host, "127.0.0.1:18080");
        assert_eq!(e.url.as_str(), "http://127.0.0.1:18080/");
        let e = Endpoint::parse("vod_endpoint", "http://LOCALHOST:9/").unwrap();
        assert_eq!(e.host, "localhost:9");
    }

    #[test]
    fn unusable_endpoints_are_refused_with_the_reason() {
        for (text, why) in [
            ("live.tencentcloudapi.com", "not a URL"),
            ("ftp://live.tencentcloudapi.com", "http:// or https://"),
            ("https://live.tencentcloudapi.com/v2", "no path"),
            ("https://live.tencentcloudapi.com/?a=b", "no path"),
            (
                "https://user:pw@live.tencentcloudapi.com",
                "user information",
            ),
        ] {
            let err = Endpoint::parse("live_endpoint", text)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(why) && err.contains("live_endpoint"),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn out_of_range_settings_are_refused() {
        let base = CloudConfig::new("id", "key");
        assert!(base.validate().is_ok());
        for (config, why) in [
            (
                CloudConfig {
                    max_attempts: 0,
                    ..base.clone()
                },
                "max_attempts",
            ),
            (
                CloudConfig {
                    timeout: Duration::ZERO,
                    ..base.clone()
                },
                "timeout",
            ),
            (
                CloudConfig {
                    online_list_page_size: 9,
                    ..base.clone()
                },
                "page_size",
            ),
            (
                CloudConfig {
                    region: Some(" ".into()),
                    ..base.clone()
                },
                "region",
            ),
            (
                CloudConfig {
                    secret_id: "".into(),
                    ..base.clone()
                },
                "secret_id",
            ),
            (
                CloudConfig {
                    secret_key: "".into(),
                    ..base.clone()
                },
                "secret_key",
            ),
        ] {
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(why), "{why}: {err}");
        }
    }
}
