//! Figment's errors in the operator's words: where the bad value came
//! from (the file's path, or the environment variable), which setting, and
//! what it should be. Figment's own text nests backticks
//! (``expected `one of `a`, `b```) and names the environment only as
//! "environment variable(s)".

use figment::Source;
use figment::error::Kind;

use super::known_settings::{env_name, known_settings};

/// Each error of `error`, one after the other.
pub(super) fn describe(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| describe_one(&e))
        .collect::<Vec<_>>()
        .join("; ")
}

fn describe_one(error: &figment::Error) -> String {
    let mut path: Vec<&str> = error.path.iter().map(String::as_str).collect();
    // Figment puts the profile in front of the setting.
    if path.len() > 1 && path[0] == "default" {
        path.remove(0);
    }
    let setting = path.join(".");
    let source = match &error.metadata {
        Some(metadata) => match &metadata.source {
            Some(Source::File(file)) => format!("{}: ", file.display()),
            _ if metadata.name.contains("environment") && setting.contains('.') => {
                format!("{}: ", env_name(&setting))
            }
            _ => String::new(),
        },
        None => String::new(),
    };
    let what = match &error.kind {
        Kind::UnknownField(field, _) if setting.is_empty() || setting == *field => {
            let sections: Vec<String> = known_settings()
                .iter()
                .filter_map(|s| {
                    s.name
                        .split_once('.')
                        .map(|(section, _)| section.to_owned())
                })
                .collect();
            let known = known_settings();
            // A key written outside its section, such as `listen`.
            let owners: Vec<&str> = known
                .iter()
                .filter(|s| s.name.split_once('.').is_some_and(|(_, key)| key == field))
                .map(|s| s.name.as_str())
                .collect();
            let guess = super::known_settings::closest(field, sections.iter().map(String::as_str));
            match (owners.as_slice(), guess) {
                ([], Some(section)) => {
                    format!("{field} is not a section of the settings; did you mean {section}?")
                }
                ([], None) => format!(
                    "{field} is not a section of the settings (`minilvb config` lists them)"
                ),
                (owners, _) => format!(
                    "{field} is outside any section; settings go in their section, e.g. {}",
                    owners.join(" or ")
                ),
            }
        }
        Kind::UnknownField(field, _) => {
            // The path ends in the field, or (from some sources) stops before it.
            let name = match path.last() {
                Some(last) if last == field => setting.clone(),
                _ => format!("{setting}.{field}"),
            };
            let known = known_settings();
            let guess =
                super::known_settings::closest(&name, known.iter().map(|s| s.name.as_str()));
            match guess {
                Some(likely) => format!("{name} is not a setting; did you mean {likely}?"),
                None => format!("{name} is not a setting (`minilvb config` lists them all)"),
            }
        }
        Kind::UnknownVariant(value, expected) => {
            format!("{setting}: {value:?} is not one of {}", expected.join(", "))
        }
        Kind::InvalidType(actual, expected) => {
            format!("{setting}: expected {expected}, found {actual}")
        }
        Kind::InvalidValue(actual, expected) => {
            format!("{setting}: expected {expected}, found {actual}")
        }
        other if setting.is_empty() => plain(&other.to_string()),
        other => format!("{setting}: {}", plain(&other.to_string())),
    };
    format!("{source}{what}")
}

/// Figment's text without its backticks.
fn plain(text: &str) -> String {
    text.replace('`', "")
}
