//! When a ban ends, as an operator writes it: a UTC time
//! (`2026-12-31T18:00:00Z`, `2026-12-31 18:00`, `2026-12-31 18:00:00`) or a
//! duration from now (`7d`, `12h`, `30m`, `1d12h`).

use time::PrimitiveDateTime;
use time::macros::format_description;

/// The end as Unix seconds: after `now`, and at most `limit` seconds away
/// when there is a limit (the cloud's longest forbid).
pub fn parse_ban_end(text: &str, now: i64, limit: Option<i64>) -> Result<i64, String> {
    let text = text.trim();
    let at = match duration_secs(text) {
        Some(secs) => now.saturating_add(secs),
        None => utc_time(text).ok_or_else(|| {
            format!(
                "--until {text:?}: expected a UTC time such as 2026-12-31T18:00:00Z or \
                 \"2026-12-31 18:00\", or a duration such as 7d, 12h, 30m"
            )
        })?,
    };
    if at <= now {
        return Err(format!(
            "--until {text:?}: the end of a ban must be in the future"
        ));
    }
    if let Some(limit) = limit.filter(|limit| at - now > *limit) {
        return Err(format!(
            "--until {text:?}: more than {} days away; the cloud forbids a stream for {} days \
             at most (ban without --until, or with --local-only, for longer)",
            (at - now) / 86_400,
            limit / 86_400
        ));
    }
    Ok(at)
}

/// `7d`, `12h`, `30m`, or several such (`1d12h`), in seconds.
fn duration_secs(text: &str) -> Option<i64> {
    let mut total: i64 = 0;
    let mut number = String::new();
    let mut parts = 0;
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            _ => return None,
        };
        let count: i64 = number.parse().ok()?;
        total = total.checked_add(count.checked_mul(unit)?)?;
        number.clear();
        parts += 1;
    }
    (parts > 0 && number.is_empty()).then_some(total)
}

fn utc_time(text: &str) -> Option<i64> {
    if let Some(at) = minilvb_protocol::cloud::tc3::parse_utc_iso8601(text) {
        return Some(at);
    }
    let minutes = format_description!("[year]-[month]-[day] [hour]:[minute]");
    let seconds = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    PrimitiveDateTime::parse(text, minutes)
        .or_else(|_| PrimitiveDateTime::parse(text, seconds))
        .ok()
        .map(|at| at.assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-07T00:00:00Z.
    const NOW: i64 = 1_796_601_600;
    const NINETY_DAYS: Option<i64> = Some(90 * 86_400);

    #[test]
    fn durations_count_from_now() {
        assert_eq!(parse_ban_end("7d", NOW, NINETY_DAYS), Ok(NOW + 7 * 86_400));
        assert_eq!(parse_ban_end("12h", NOW, NINETY_DAYS), Ok(NOW + 12 * 3_600));
        assert_eq!(parse_ban_end("30m", NOW, None), Ok(NOW + 1_800));
        assert_eq!(parse_ban_end(" 1d12h ", NOW, None), Ok(NOW + 129_600));
    }

    #[test]
    fn utc_times_are_read_in_the_three_forms() {
        let end = NOW + 24 * 86_400 + 18 * 3_600;
        for text in [
            "2026-12-31T18:00:00Z",
            "2026-12-31 18:00",
            "2026-12-31 18:00:00",
        ] {
            assert_eq!(parse_ban_end(text, NOW, NINETY_DAYS), Ok(end), "{text}");
        }
    }

    #[test]
    fn an_end_in_the_past_or_now_is_refused() {
        for text in ["2026-12-06 23:59", "0m", "2020-01-01T00:00:00Z"] {
            let err = parse_ban_end(text, NOW, None).unwrap_err();
            assert!(err.contains("in the future"), "{text}: {err}");
        }
    }

    #[test]
    fn an_end_beyond_the_clouds_limit_is_refused_only_with_a_limit() {
        let err = parse_ban_end("91d", NOW, NINETY_DAYS).unwrap_err();
        assert!(err.contains("90 days at most"), "{err}");
        assert!(parse_ban_end("90d", NOW, NINETY_DAYS).is_ok());
        assert_eq!(parse_ban_end("365d", NOW, None), Ok(NOW + 365 * 86_400));
    }

    #[test]
    fn anything_else_is_refused_with_the_forms_it_takes() {
        for text in [
            "",
            "soon",
            "7",
            "d",
            "7x",
            "-7d",
            "2026-13-01 00:00",
            "99999999999999999999d",
        ] {
            let err = parse_ban_end(text, NOW, None).unwrap_err();
            assert!(
                err.contains("2026-12-31T18:00:00Z") && err.contains("7d"),
                "{text}: {err}"
            );
        }
    }
}
