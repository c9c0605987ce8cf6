//! The rules of the cloud's stream event notices, pure, so that every backend
//! and the tests share them.

/// A push `sequence` made comparable as text: decimal numbers (the cloud
/// sends large ones as strings) are left-padded to 20 digits so that text
/// order is number order; anything else sorts after every number, as is.
pub fn sortable_sequence(sequence: &str) -> String {
    if !sequence.is_empty() && sequence.len() <= 20 && sequence.bytes().all(|b| b.is_ascii_digit())
    {
        format!("{sequence:0>20}")
    } else if sequence.is_empty() {
        String::new()
    } else {
        format!("~{sequence}")
    }
}

/// The formats a recording can be played in by the apps, and whether a
/// notice of that format is kept.
pub fn playable_format(format: &str) -> bool {
    matches!(format, "flv" | "hls" | "mp4")
}

/// The recording's two URLs from its files: `playurl` prefers flv, then mp4,
/// then hls; `hls_play_url` prefers hls, then mp4, then flv. Each falls back
/// to the other so that both are filled whenever a URL exists.
pub fn recording_urls<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
) -> (String, String) {
    let pick = |order: [&str; 3]| {
        order
            .iter()
            .find_map(|wanted| {
                files
                    .clone()
                    .into_iter()
                    .find(|(format, _)| format == wanted)
                    .map(|(_, url)| url.to_owned())
            })
            .unwrap_or_default()
    };
    (pick(["flv", "mp4", "hls"]), pick(["hls", "mp4", "flv"]))
}

/// Whether two files, as (start, end) in Unix seconds, are recordings of the
/// same broadcast: they overlap by at least half of the shorter one. (Files
/// of consecutive `record_interval` pieces only touch, so they stay apart.)
pub fn same_broadcast(a: (i64, i64), b: (i64, i64)) -> bool {
    let overlap = a.1.min(b.1) - a.0.max(b.0);
    let shorter = (a.1 - a.0).min(b.1 - b.0).max(1);
    overlap > 0 && overlap * 2 >= shorter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_sort_as_numbers() {
        assert!(sortable_sequence("9") < sortable_sequence("10"));
        assert!(
            sortable_sequence("2537682875612755455") < sortable_sequence("2537682875612755456")
        );
        assert!(sortable_sequence("") < sortable_sequence("0"));
        assert!(sortable_sequence("99999999999999999999") < sortable_sequence("abc"));
    }

    #[test]
    fn urls_prefer_their_format_and_fall_back() {
        let both = [("hls", "h.m3u8"), ("flv", "f.flv")];
        assert_eq!(recording_urls(both), ("f.flv".into(), "h.m3u8".into()));
        assert_eq!(
            recording_urls([("hls", "h.m3u8")]),
            ("h.m3u8".into(), "h.m3u8".into())
        );
        assert_eq!(
            recording_urls([("flv", "f.flv")]),
            ("f.flv".into(), "f.flv".into())
        );
        let three = [("mp4", "m.mp4"), ("flv", "f.flv")];
        assert_eq!(recording_urls(three), ("f.flv".into(), "m.mp4".into()));
        assert_eq!(recording_urls([]), (String::new(), String::new()));
    }

    #[test]
    fn broadcasts_overlap_by_half() {
        assert!(same_broadcast((100, 1000), (101, 1002)));
        assert!(!same_broadcast((0, 10800), (10800, 20000)));
        assert!(!same_broadcast((0, 10800), (10790, 20000)));
        assert!(!same_broadcast((0, 100), (200, 300)));
    }
}
