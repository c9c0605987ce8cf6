//! `list`: FetchList and GetUserInfo over many rooms and recordings.

use super::*;

pub(super) const LIST_ROOM: &str = "list-vj-";
pub(super) const LIST_FILE: &str = "list-f-";

pub struct List {
    pub(super) rooms: usize,
    pub(super) online: usize,
    pub(super) recordings: usize,
    pub(super) pool: Pool<ListWorker>,
}

pub struct ListWorker {
    pub(super) rooms: usize,
    pub(super) online: usize,
    pub(super) recordings: usize,
}

pub(super) const LIST_OPS: [&str; 8] = [
    "FetchList 1 p1",
    "FetchList 2 p1",
    "FetchList 3 p1",
    "FetchList 1 pN",
    "FetchList 2 pN",
    "FetchList 3 pN",
    "GetUserInfo room",
    "GetUserInfo recording",
];
pub(super) const LIST_WEIGHTS: [u32; 8] = [15, 15, 15, 10, 10, 10, 13, 12];

impl Worker for ListWorker {
    fn next(&mut self, rng: &mut SmallRng, body: &mut Vec<u8>) -> usize {
        let op = pick(rng, &LIST_WEIGHTS);
        match op {
            0..=2 => fetch_list(body, op as u8 + 1, 1),
            3 => fetch_list(body, 1, random_page(rng, self.online)),
            4 => fetch_list(body, 2, random_page(rng, self.recordings)),
            5 => fetch_list(body, 3, random_page(rng, self.online + self.recordings)),
            6 => get_user_info(
                body,
                &GroupRef::room(LIST_ROOM, rng.random_range(0..self.rooms)),
            ),
            _ => {
                let j = rng.random_range(0..self.recordings.max(1));
                get_user_info(
                    body,
                    &GroupRef::recording(LIST_ROOM, self.rooms, LIST_FILE, j),
                )
            }
        }
        op
    }
}

impl List {
    pub fn new(sizes: &Sizes) -> Self {
        let (rooms, online, recordings) = (
            sizes.rooms.max(1),
            sizes.online.min(sizes.rooms).max(1),
            sizes.recordings.max(1),
        );
        Self {
            rooms,
            online,
            recordings,
            pool: Pool::new(move |_| ListWorker {
                rooms,
                online,
                recordings,
            }),
        }
    }
}

/// Which of `rooms` rooms are online so that `online` of them are, spread out.
pub(super) fn spread(i: usize, rooms: usize, online: usize) -> bool {
    // Room i is online when the running count of online rooms steps up at i.
    (i + 1) * online / rooms != i * online / rooms
}

impl Scenario for List {
    type Worker = ListWorker;

    fn ops(&self) -> &'static [&'static str] {
        &LIST_OPS
    }

    async fn seed(&mut self, store: &Arc<dyn Store>) -> anyhow::Result<()> {
        let (rooms, online) = (self.rooms, self.online);
        seed_rooms(store, LIST_ROOM, 0..rooms, move |i| {
            spread(i, rooms, online)
        })
        .await?;
        seed_recordings(
            store,
            LIST_ROOM,
            LIST_FILE,
            rooms,
            0..self.recordings,
            self.recordings,
        )
        .await
    }

    fn pool(&mut self) -> &mut Pool<ListWorker> {
        &mut self.pool
    }

    async fn check(&self, http: &mut Checker) -> anyhow::Result<Vec<Check>> {
        let mut problems = Vec::new();
        for (flag, want) in [
            (1, self.online),
            (2, self.recordings),
            (3, self.online + self.recordings),
        ] {
            let data = http
                .ok(json!({"flag":flag,"pageno":1,"pagesize":20,"Action":"FetchList"}))
                .await?;
            let total = data["totalcount"].as_i64().unwrap_or(-1);
            let listed = data["pusherlist"].as_array().map_or(0, Vec::len);
            if total != want as i64 || listed != want.min(PAGE) {
                problems.push(format!(
                    "flag {flag}: totalcount {total}, {listed} on page 1; seeded {want}"
                ));
            }
        }
        Ok(vec![Check::new(
            "FetchList totalcount = what was seeded (flags 1, 2, 3)".into(),
            problems,
            0,
        )])
    }
}
