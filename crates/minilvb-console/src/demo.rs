//! Plausible rooms, recordings, reports and a ban in a [`MemoryBackend`],
//! for the demo and the browser test. Covers are inline SVG, so the pages
//! look the same offline.

use crate::backend::{Ban, ConsoleBackend, Member, Recording, Room};
use crate::memory::MemoryBackend;

/// An inline 16:9 cover in two colours.
fn cover(from: &str, to: &str) -> String {
    format!(
        "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 160 90'>\
         <defs><linearGradient id='g' x1='0' y1='0' x2='1' y2='1'>\
         <stop offset='0' stop-color='%23{from}'/><stop offset='1' stop-color='%23{to}'/>\
         </linearGradient></defs><rect width='160' height='90' fill='url(%23g)'/>\
         <circle cx='80' cy='45' r='16' fill='white' fill-opacity='.35'/>\
         <path d='M75 37 L89 45 L75 53 Z' fill='white' fill-opacity='.9'/></svg>"
    )
}

struct Seed {
    userid: &'static str,
    nickname: &'static str,
    title: &'static str,
    location: &'static str,
    colours: (&'static str, &'static str),
    members: usize,
    likes: i64,
    /// Minutes since the broadcast started; `None`: offline.
    live_for: Option<i64>,
}

const ROOMS: &[Seed] = &[
    Seed {
        userid: "alice_chen",
        nickname: "Alice Chen",
        title: "Evening jazz from the rooftop",
        location: "Shanghai",
        colours: ("4f46e5", "0ea5e9"),
        members: 48,
        likes: 1_280,
        live_for: Some(128),
    },
    Seed {
        userid: "bob_runs",
        nickname: "Bob",
        title: "Speedrun practice: any% attempts",
        location: "Chengdu",
        colours: ("b45309", "f59e0b"),
        members: 1_204,
        likes: 25_310,
        live_for: Some(52),
    },
    Seed {
        userid: "dave_cooks",
        nickname: "Dave Li",
        title: "Hand-pulled noodles, step by step",
        location: "Lanzhou",
        colours: ("15803d", "84cc16"),
        members: 215,
        likes: 3_402,
        live_for: Some(25),
    },
    Seed {
        userid: "erin_w",
        nickname: "Erin",
        title: "Study with me (pomodoro, lo-fi)",
        location: "Hangzhou",
        colours: ("7c3aed", "ec4899"),
        members: 9,
        likes: 77,
        live_for: Some(6),
    },
    Seed {
        userid: "gao_fish",
        nickname: "",
        title: "Night fishing on the lake",
        location: "",
        colours: ("", ""),
        members: 3,
        likes: 12,
        live_for: Some(301),
    },
    Seed {
        userid: "carol_yoga",
        nickname: "Carol",
        title: "Morning yoga for beginners",
        location: "Shenzhen",
        colours: ("0f766e", "2dd4bf"),
        members: 0,
        likes: 640,
        live_for: None,
    },
    Seed {
        userid: "frank_deals",
        nickname: "Frank",
        title: "DM me for cheap phones!!!",
        location: "",
        colours: ("991b1b", "ef4444"),
        members: 0,
        likes: 3,
        live_for: None,
    },
];

/// Fills the backend relative to its clock.
pub fn seed(backend: &MemoryBackend) {
    let now = backend.now();
    for (i, seed) in ROOMS.iter().enumerate() {
        let art = if seed.colours.0.is_empty() {
            String::new()
        } else {
            cover(seed.colours.0, seed.colours.1)
        };
        backend.put_room(Room {
            userid: seed.userid.into(),
            groupid: format!("@TGS#2{:08}", 41_172_000 + i),
            title: seed.title.into(),
            nickname: seed.nickname.into(),
            headpic: String::new(),
            cover: art,
            location: seed.location.into(),
            viewers: 0,
            likes: seed.likes,
            online: seed.live_for.is_some(),
            started_at: now - 60 * seed.live_for.unwrap_or(26 * 60),
            play_url: format!("https://play.example.com/live/{}.flv", seed.userid),
            hls_play_url: format!("https://play.example.com/live/{}.m3u8", seed.userid),
        });
        for n in 0..seed.members {
            backend.add_member(
                seed.userid,
                Member {
                    userid: format!("viewer{:04}", (n * 37 + i * 11) % 9973),
                    nickname: format!("{} {}", NICKNAMES[n % NICKNAMES.len()], n + 1),
                    headpic: String::new(),
                },
            );
        }
    }
    for (k, (userid, nickname, title, colours, hours_ago)) in RECORDINGS.iter().enumerate() {
        backend.put_recording(Recording {
            userid: (*userid).into(),
            fileid: format!("5285890{:09}", 781_230_000 + k * 7_919),
            title: (*title).into(),
            nickname: (*nickname).into(),
            cover: cover(colours.0, colours.1),
            viewers: 40 + (k as i64 * 131) % 900,
            likes: 100 + (k as i64 * 377) % 5_000,
            ended_at: now - 3600 * hours_ago,
            play_url: format!("https://vod.example.com/{userid}/{k}.flv"),
            hls_play_url: format!("https://vod.example.com/{userid}/{k}.m3u8"),
        });
    }
    for (reporter, reported, times, minutes_ago) in REPORTS {
        backend.set_now(now - 60 * minutes_ago);
        for _ in 0..*times {
            backend.add_report(reporter, reported);
        }
    }
    backend.set_now(now);
    backend.put_ban(Ban {
        userid: "frank_deals".into(),
        reason: "spam: selling phones in titles".into(),
        since: now - 2 * 86_400,
        until: Some(now + 5 * 86_400),
    });
}

const NICKNAMES: &[&str] = &["Mika", "Jun", "Lan", "Tao", "Wen", "Yue", "Hui", "Ping"];

type RecordingSeed = (
    &'static str,
    &'static str,
    &'static str,
    (&'static str, &'static str),
    i64,
);

const RECORDINGS: &[RecordingSeed] = &[
    (
        "alice_chen",
        "Alice Chen",
        "Jazz standards, part 2",
        ("4f46e5", "0ea5e9"),
        20,
    ),
    (
        "alice_chen",
        "Alice Chen",
        "Saxophone warm-ups",
        ("4338ca", "38bdf8"),
        70,
    ),
    (
        "carol_yoga",
        "Carol",
        "Morning yoga for beginners",
        ("0f766e", "2dd4bf"),
        26,
    ),
    (
        "carol_yoga",
        "Carol",
        "Stretching after work",
        ("115e59", "5eead4"),
        50,
    ),
    (
        "bob_runs",
        "Bob",
        "New personal best!",
        ("b45309", "f59e0b"),
        5,
    ),
    (
        "dave_cooks",
        "Dave Li",
        "Dumplings from scratch",
        ("15803d", "84cc16"),
        96,
    ),
];

const REPORTS: &[(&str, &str, usize, i64)] = &[
    ("viewer0042", "bob_runs", 3, 4),
    ("", "dave_cooks", 1, 12),
    ("viewer0007", "bob_runs", 1, 18),
    ("viewer0311", "erin_w", 2, 33),
    ("viewer1999", "gao_fish", 1, 95),
];
