//! The console's settings (the server's `[admin]` table, less `listen`).

use std::fmt;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// The path prefix the console is served under behind a reverse proxy:
/// empty, or `/` followed by segments of letters, digits, `-`, `_`, `.`
/// (no trailing slash). Checked when made, so links built from it are safe
/// to put in HTML and headers as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BasePath(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "base_path {0:?} is not a path prefix: expected empty or like /admin \
     (segments of letters, digits, - _ ., no trailing slash)"
)]
pub struct BadBasePath(pub String);

impl BasePath {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The prefix joined with a path that starts with `/`.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

impl FromStr for BasePath {
    type Err = BadBasePath;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim_end_matches('/');
        if trimmed.is_empty() {
            return Ok(BasePath(String::new()));
        }
        let good_segment = |seg: &str| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        match trimmed.strip_prefix('/') {
            Some(rest) if rest.split('/').all(good_segment) => Ok(BasePath(trimmed.to_owned())),
            _ => Err(BadBasePath(s.to_owned())),
        }
    }
}

impl TryFrom<String> for BasePath {
    type Error = BadBasePath;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<BasePath> for String {
    fn from(path: BasePath) -> String {
        path.0
    }
}

impl fmt::Display for BasePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// When cookies carry the `Secure` attribute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecureCookies {
    /// When the request came over HTTPS: the console's listener is plain
    /// HTTP, so when a trusted proxy says `X-Forwarded-Proto: https`.
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// Path prefix behind a reverse proxy, e.g. `/admin`; empty by default.
    pub base_path: BasePath,
    /// A login session ends after this long without a request.
    pub session_idle_secs: u64,
    /// ... and this long after the login, whatever its use.
    pub session_max_secs: u64,
    pub secure_cookies: SecureCookies,
    /// Proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` (and
    /// `X-Forwarded-Host`) are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Sign-in attempts allowed per minute for one account name.
    pub login_attempts_per_account: u32,
    /// Sign-in attempts allowed per minute from one client address.
    pub login_attempts_per_address: u32,
    /// How often Live now refreshes itself, in seconds.
    pub live_refresh_secs: u32,
    /// Rows per page of the paged lists.
    pub page_size: u32,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self {
            base_path: BasePath::default(),
            session_idle_secs: 1800,
            session_max_secs: 12 * 3600,
            secure_cookies: SecureCookies::Auto,
            trusted_proxies: Vec::new(),
            login_attempts_per_account: 5,
            login_attempts_per_address: 20,
            live_refresh_secs: 5,
            page_size: 25,
        }
    }
}

impl ConsoleConfig {
    /// The same settings with numbers out of range brought into it (a zero
    /// idle time or page size would make the console unusable, not safer).
    pub(crate) fn sanitized(mut self) -> Self {
        self.session_idle_secs = self.session_idle_secs.clamp(60, 7 * 86_400);
        self.session_max_secs = self.session_max_secs.max(self.session_idle_secs);
        self.login_attempts_per_account = self.login_attempts_per_account.max(1);
        self.login_attempts_per_address = self.login_attempts_per_address.max(1);
        self.live_refresh_secs = self.live_refresh_secs.clamp(2, 600);
        self.page_size = self.page_size.clamp(5, 500);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths_are_normalised_or_refused() {
        assert_eq!("".parse::<BasePath>().unwrap().as_str(), "");
        assert_eq!("/".parse::<BasePath>().unwrap().as_str(), "");
        assert_eq!("/admin/".parse::<BasePath>().unwrap().as_str(), "/admin");
        assert_eq!(
            "/ops/console".parse::<BasePath>().unwrap().as_str(),
            "/ops/console"
        );
        for bad in [
            "admin",
            "/a//b",
            "/a b",
            "/<x>",
            "/..",
            "//evil.example",
            "/a\"b",
        ] {
            assert!(bad.parse::<BasePath>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn the_config_reads_from_toml_with_defaults_for_what_is_left_out() {
        let config: ConsoleConfig = toml::from_str(
            r#"
            base_path = "/admin/"
            secure_cookies = "always"
            trusted_proxies = ["10.0.0.0/8", "::1/128"]
            "#,
        )
        .unwrap();
        assert_eq!(config.base_path.as_str(), "/admin");
        assert_eq!(config.secure_cookies, SecureCookies::Always);
        assert_eq!(config.trusted_proxies.len(), 2);
        assert_eq!(config.session_idle_secs, 1800);
    }

    #[test]
    fn a_bad_base_path_or_unknown_key_fails_the_config() {
        assert!(toml::from_str::<ConsoleConfig>(r#"base_path = "admin""#).is_err());
        assert!(toml::from_str::<ConsoleConfig>(r#"listen = "x""#).is_err());
    }
}
