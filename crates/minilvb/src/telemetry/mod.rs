//! Logging through `tracing` (text for a terminal, JSON for collectors) and
//! the Prometheus metrics.

pub mod metrics;
mod process;

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber; `RUST_LOG` wins over `log.level`.
/// Calling it twice is harmless (the second call does nothing).
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colours())
        .with_writer(std::io::stderr);
    let _ = match settings.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Colours only for a person at a terminal who did not ask for none
/// (<https://no-color.org>): escape codes in a file or a journal are noise.
fn colours() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Checks a log filter (`log.level`, `RUST_LOG`). A bare word that is no
/// level is refused although tracing would take it for a target to log
/// everything of: `verbose` or `warning` would then silence the server.
pub fn check_filter(text: &str) -> Result<(), String> {
    let problem = |what: String| {
        format!(
            "{what}; use one of trace, debug, info, warn, error, off, or a filter such as \
             minilvb=debug,info"
        )
    };
    if text.trim().is_empty() {
        return Err(problem("the filter is empty".into()));
    }
    for directive in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let level = match directive.rsplit_once('=') {
            // A span filter, `target[span{field=value}]`, with no level.
            _ if directive.ends_with(']') => continue,
            Some((_, level)) => level,
            None => directive,
        };
        if level.parse::<LevelFilter>().is_err() {
            return Err(problem(format!("{directive:?} is not a log level")));
        }
    }
    EnvFilter::builder()
        .parse(text)
        .map(drop)
        .map_err(|e| problem(format!("{text:?} is not a filter ({e})")))
}

#[cfg(test)]
mod tests {
    use super::check_filter;

    #[test]
    fn levels_and_target_filters_pass_and_other_words_do_not() {
        for good in [
            "info",
            "WARN",
            "off",
            "minilvb=debug",
            "minilvb=debug,info",
            "sqlx=warn,",
        ] {
            assert!(check_filter(good).is_ok(), "{good}");
        }
        for bad in ["verbose", "warning", "", "minilvb=loud", "info,chatty"] {
            let error = check_filter(bad).unwrap_err();
            assert!(
                error.contains("trace, debug, info, warn, error, off"),
                "{error}"
            );
        }
    }
}
