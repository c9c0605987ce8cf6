//! The settings the program knows, read off `Settings::default()` as TOML:
//! the one list that the environment check, `minilvb config` and the
//! documentation's test use, so that none of them keeps a list of its own.

use super::Settings;

/// Environment variables with this prefix configure the server.
pub const ENV_PREFIX: &str = "MINILVB_";

/// Variables of the test harness, not settings.
const TEST_PREFIX: &str = "MINILVB_TEST_";

/// A setting: its name (`section.key`) and its built-in default.
#[derive(Debug, Clone)]
pub struct KnownSetting {
    pub name: String,
    pub default: toml::Value,
}

impl KnownSetting {
    /// Its environment variable, e.g. `MINILVB_RATE_LIMIT__REQUESTS_BURST`.
    pub fn env_name(&self) -> String {
        env_name(&self.name)
    }
}

/// Every setting, section by section in the order of [`Settings`].
pub fn known_settings() -> Vec<KnownSetting> {
    flatten(&Settings::default().to_table())
        .into_iter()
        .map(|(name, default)| KnownSetting { name, default })
        .collect()
}

/// `section.key` with its value, for each key of each section of `table`.
pub(super) fn flatten(table: &toml::Table) -> Vec<(String, toml::Value)> {
    let mut settings = Vec::new();
    for (section, keys) in table {
        if let toml::Value::Table(keys) = keys {
            for (key, value) in keys {
                settings.push((format!("{section}.{key}"), value.clone()));
            }
        }
    }
    settings
}

/// The environment variable of a setting named `section.key`.
pub fn env_name(setting: &str) -> String {
    let (section, key) = setting.split_once('.').unwrap_or((setting, ""));
    format!(
        "{ENV_PREFIX}{}__{}",
        section.to_ascii_uppercase(),
        key.to_ascii_uppercase()
    )
}

/// The candidate nearest to `word` in edit distance, if any is near enough
/// to be a likely typo of it.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(&word, &c.to_ascii_lowercase()), c))
        .min_by_key(|(distance, _)| *distance)
        .filter(|(distance, c)| *distance <= (c.len() / 2).max(2))
        .map(|(_, c)| c)
}

/// The settings' environment variables, for figment. Only these: any other
/// `MINILVB_*` one gets a warning (see [`unknown_variables`]), not a refusal.
pub(super) fn environment() -> figment::providers::Env {
    let known: Vec<String> = known_settings()
        .iter()
        .map(KnownSetting::env_name)
        .collect();
    figment::providers::Env::prefixed(ENV_PREFIX)
        .filter(move |key| {
            let name = format!("{ENV_PREFIX}{}", key.as_str()).to_ascii_uppercase();
            known.contains(&name)
        })
        .split("__")
}

impl Settings {
    /// The settings as a TOML table of sections, secrets redacted.
    pub fn to_table(&self) -> toml::Table {
        toml::Table::try_from(self).unwrap_or_default()
    }

    /// The effective configuration as TOML, secrets redacted, each setting
    /// with its environment variable in a comment.
    pub fn to_redacted_toml(&self) -> String {
        let mut text = String::new();
        for (section, keys) in self.to_table() {
            let toml::Value::Table(keys) = keys else {
                continue;
            };
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&format!("[{section}]\n"));
            for (key, value) in keys {
                let variable = env_name(&format!("{section}.{key}"));
                text.push_str(&format!("{key} = {value}  # {variable}\n"));
            }
        }
        text
    }
}

/// A warning for each `MINILVB_*` variable among `names` that is no
/// setting's (the test harness's `MINILVB_TEST_*` aside): such a variable
/// has no effect, which is easy to miss after a typo.
pub fn unknown_variables<I, S>(names: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let known = known_settings();
    let env_names: Vec<String> = known.iter().map(KnownSetting::env_name).collect();
    let mut warnings = Vec::new();
    for name in names {
        let name = name.as_ref();
        if !name.starts_with(ENV_PREFIX) || name.starts_with(TEST_PREFIX) {
            continue;
        }
        if env_names.iter().any(|known| known == name) {
            continue;
        }
        let guess = closest(name, env_names.iter().map(String::as_str))
            .and_then(|env| known.iter().find(|s| s.env_name() == env));
        warnings.push(match guess {
            Some(setting) => format!(
                "environment variable {name} is not a setting and is ignored; did you mean \
                 {} ({})?",
                setting.env_name(),
                setting.name
            ),
            None => format!(
                "environment variable {name} is not a setting and is ignored; `minilvb config` \
                 lists the settings with their variables"
            ),
        });
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_section_and_key_is_known_with_its_variable() {
        let known = known_settings();
        let find = |name: &str| known.iter().find(|s| s.name == name);
        assert_eq!(
            find("server.listen").unwrap().default.as_str(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(
            find("rate_limit.requests_burst").unwrap().env_name(),
            "MINILVB_RATE_LIMIT__REQUESTS_BURST"
        );
        assert!(find("auth.actions").unwrap().default.is_array());
        assert!(find("members.order").is_some() && find("metrics.listen").is_some());
        assert!(find("server").is_none());
    }

    #[test]
    fn a_mistyped_variable_is_told_the_setting_it_likely_means() {
        let warnings = unknown_variables([
            "MINILVB_SERVER_LISTEN",
            "MINILVB_SERVER__LISTN",
            "MINILVB_SERVER__LISTEN",
            "MINILVB_TEST_POSTGRES_URL",
            "PATH",
        ]);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        for (warning, variable) in warnings
            .iter()
            .zip(["MINILVB_SERVER_LISTEN", "MINILVB_SERVER__LISTN"])
        {
            assert!(
                warning.contains(variable)
                    && warning.contains("did you mean MINILVB_SERVER__LISTEN (server.listen)?"),
                "{warning}"
            );
        }
    }

    #[test]
    fn nothing_far_off_is_suggested() {
        assert_eq!(closest("listn", ["listen", "url"]), Some("listen"));
        assert_eq!(closest("completely_different", ["listen", "url"]), None);
    }
}
