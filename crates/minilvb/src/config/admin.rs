//! `[admin]`: the web console, on a listener of its own (off until
//! `admin.listen` is set, never on the apps' port), and its login rules.

use std::net::SocketAddr;

use minilvb_console::{BasePath, ConsoleConfig, SecureCookies};
use serde::{Deserialize, Serialize};

use super::{ConfigError, invalid};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSettings {
    /// The console's address, e.g. `127.0.0.1:8081`; empty: no console.
    pub listen: String,
    /// The path prefix it is served under behind a reverse proxy
    /// (`/admin`); empty: the root.
    pub base_path: String,
    /// A login session ends after this long without a request.
    pub session_idle_secs: u64,
    /// ... and this long after the sign-in, however busy.
    pub session_max_secs: u64,
    /// When cookies are `Secure`: `auto` (when a trusted proxy says the
    /// request came over HTTPS), `always`, `never`.
    pub secure_cookies: SecureCookies,
    /// Reverse proxies whose `X-Forwarded-For`, `-Proto` and `-Host` the
    /// console believes.
    pub trusted_proxies: Vec<String>,
    /// Sign-in attempts a minute for one operator name.
    pub login_attempts_per_account: u32,
    /// Sign-in attempts a minute from one client address.
    pub login_attempts_per_address: u32,
    /// How often Live now refreshes itself.
    pub live_refresh_secs: u32,
    /// Rows a page of the console's lists.
    pub page_size: u32,
}

impl Default for AdminSettings {
    fn default() -> Self {
        let console = ConsoleConfig::default();
        Self {
            listen: String::new(),
            base_path: String::new(),
            session_idle_secs: console.session_idle_secs,
            session_max_secs: console.session_max_secs,
            secure_cookies: console.secure_cookies,
            trusted_proxies: Vec::new(),
            login_attempts_per_account: console.login_attempts_per_account,
            login_attempts_per_address: console.login_attempts_per_address,
            live_refresh_secs: console.live_refresh_secs,
            page_size: console.page_size,
        }
    }
}

/// The longest a login session may last: a week idle, a month in all.
const MAX_IDLE_SECS: u64 = 7 * 86_400;
const MAX_SESSION_SECS: u64 = 30 * 86_400;

impl AdminSettings {
    /// The console's address, when it is on.
    pub fn listen_addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        match self.listen.trim() {
            "" => Ok(None),
            text => text.parse().map(Some).map_err(|_| {
                invalid(
                    "admin.listen",
                    format!("{text:?} is not an address such as 127.0.0.1:8081"),
                )
            }),
        }
    }

    /// Checks every setting; `public` is the apps' address (`server.listen`).
    pub fn validate(&self, public: SocketAddr) -> Result<(), ConfigError> {
        if let Some(addr) = self.listen_addr()? {
            let same_ip = addr.ip() == public.ip()
                || addr.ip().is_unspecified()
                || public.ip().is_unspecified();
            if addr.port() != 0 && addr.port() == public.port() && same_ip {
                return Err(invalid(
                    "admin.listen",
                    format!(
                        "{addr} is the apps' port (server.listen {public}): the console needs \
                         a port of its own, e.g. 127.0.0.1:8081"
                    ),
                ));
            }
        }
        self.base_path()?;
        if !(60..=MAX_IDLE_SECS).contains(&self.session_idle_secs) {
            return Err(invalid(
                "admin.session_idle_secs",
                format!("must be from 60 to {MAX_IDLE_SECS} (a week)"),
            ));
        }
        if !(self.session_idle_secs..=MAX_SESSION_SECS).contains(&self.session_max_secs) {
            return Err(invalid(
                "admin.session_max_secs",
                format!("must be from admin.session_idle_secs to {MAX_SESSION_SECS} (30 days)"),
            ));
        }
        self.trusted_proxies()?;
        for (setting, value) in [
            (
                "admin.login_attempts_per_account",
                self.login_attempts_per_account,
            ),
            (
                "admin.login_attempts_per_address",
                self.login_attempts_per_address,
            ),
        ] {
            if value == 0 {
                return Err(invalid(setting, "must be at least 1"));
            }
        }
        if !(2..=600).contains(&self.live_refresh_secs) {
            return Err(invalid("admin.live_refresh_secs", "must be from 2 to 600"));
        }
        // The members of a room are read a protocol page at a time (at most 100).
        if !(5..=100).contains(&self.page_size) {
            return Err(invalid("admin.page_size", "must be from 5 to 100"));
        }
        Ok(())
    }

    fn base_path(&self) -> Result<BasePath, ConfigError> {
        self.base_path
            .parse()
            .map_err(|e: minilvb_console::BadBasePath| {
                invalid(
                    "admin.base_path",
                    format!(
                        "{:?} is not a path prefix: expected empty or like /admin (segments \
                         of letters, digits, - _ ., no trailing slash)",
                        e.0
                    ),
                )
            })
    }

    fn trusted_proxies(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|text| {
                text.parse::<ipnet::IpNet>()
                    .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        invalid(
                            "admin.trusted_proxies",
                            format!("{text:?} is not an address or network such as 10.0.0.0/8"),
                        )
                    })
            })
            .collect()
    }

    /// The console's configuration (after [`Self::validate`]).
    pub fn console_config(&self) -> Result<ConsoleConfig, ConfigError> {
        Ok(ConsoleConfig {
            base_path: self.base_path()?,
            session_idle_secs: self.session_idle_secs,
            session_max_secs: self.session_max_secs,
            secure_cookies: self.secure_cookies,
            trusted_proxies: self.trusted_proxies()?,
            login_attempts_per_account: self.login_attempts_per_account,
            login_attempts_per_address: self.login_attempts_per_address,
            live_refresh_secs: self.live_refresh_secs,
            page_size: self.page_size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public() -> SocketAddr {
        "127.0.0.1:8080".parse().unwrap()
    }

    #[test]
    fn the_console_is_off_by_default_and_the_defaults_are_valid() {
        let admin = AdminSettings::default();
        assert_eq!(admin.listen_addr().unwrap(), None);
        admin.validate(public()).unwrap();
        let config = admin.console_config().unwrap();
        assert_eq!(config.base_path.as_str(), "");
        assert_eq!(config.session_idle_secs, 1800);
    }

    #[test]
    fn the_console_never_shares_the_apps_port() {
        for listen in ["127.0.0.1:8080", "0.0.0.0:8080"] {
            let admin = AdminSettings {
                listen: listen.into(),
                ..AdminSettings::default()
            };
            let error = admin.validate(public()).unwrap_err().to_string();
            assert!(
                error.contains("admin.listen") && error.contains("apps' port"),
                "{error}"
            );
        }
        for listen in ["127.0.0.1:8081", "10.0.0.1:8080", "127.0.0.1:0"] {
            let admin = AdminSettings {
                listen: listen.into(),
                ..AdminSettings::default()
            };
            admin.validate(public()).unwrap();
        }
        let zero: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let admin = AdminSettings {
            listen: "127.0.0.1:0".into(),
            ..AdminSettings::default()
        };
        admin.validate(zero).unwrap();
    }

    #[test]
    fn bad_admin_settings_name_the_setting() {
        type Breaker = fn(&mut AdminSettings);
        let cases: [(&str, Breaker); 8] = [
            ("admin.listen", |a| a.listen = "localhost".into()),
            ("admin.base_path", |a| a.base_path = "admin".into()),
            ("admin.session_idle_secs", |a| a.session_idle_secs = 5),
            ("admin.session_max_secs", |a| a.session_max_secs = 60),
            ("admin.trusted_proxies", |a| {
                a.trusted_proxies = vec!["10.0.0.0/40".into()]
            }),
            ("admin.login_attempts_per_account", |a| {
                a.login_attempts_per_account = 0
            }),
            ("admin.live_refresh_secs", |a| a.live_refresh_secs = 1),
            ("admin.page_size", |a| a.page_size = 1000),
        ];
        for (setting, break_it) in cases {
            let mut admin = AdminSettings::default();
            break_it(&mut admin);
            let error = admin.validate(public()).unwrap_err().to_string();
            assert!(error.contains(setting), "{setting}: {error}");
        }
        let admin = AdminSettings {
            base_path: "/ops/console/".into(),
            trusted_proxies: vec!["10.0.0.0/8".into(), "192.0.2.7".into()],
            ..AdminSettings::default()
        };
        admin.validate(public()).unwrap();
        let config = admin.console_config().unwrap();
        assert_eq!(config.base_path.as_str(), "/ops/console");
        assert_eq!(config.trusted_proxies.len(), 2);
    }
}
