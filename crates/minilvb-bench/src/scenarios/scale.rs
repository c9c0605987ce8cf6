//! `scale`: page-1 latency at a small and at a large size.

use super::*;

pub(super) const SCALE_ROOM: &str = "scale-vj-";

pub const SCALE_OPS: [&str; 4] = [
    "FetchList 1 p1",
    "FetchList 4 p1",
    "FetchGroupMemberList p1",
    "GetUserInfo",
];

/// Online rooms and the members of one of them, grown in steps.
pub struct Scale {
    /// How many of each are seeded so far.
    pub(super) seeded: usize,
    /// The next size `seed` grows to.
    pub size: usize,
    pub(super) pool: Pool<ScaleWorker>,
}

pub struct ScaleWorker {
    pub(super) next: usize,
    pub(super) hot: GroupRef,
}

impl Worker for ScaleWorker {
    fn next(&mut self, _rng: &mut SmallRng, body: &mut Vec<u8>) -> usize {
        let op = self.next % SCALE_OPS.len();
        self.next += 1;
        match op {
            0 => fetch_list(body, 1, 1),
            1 => fetch_list(body, 4, 1),
            2 => member_list(body, &self.hot, 1, PAGE),
            _ => get_user_info(body, &self.hot),
        }
        op
    }
}

impl Scale {
    pub fn new() -> Self {
        Self {
            seeded: 0,
            size: 0,
            pool: Pool::new(|_| ScaleWorker {
                next: 0,
                hot: GroupRef::room(SCALE_ROOM, 0),
            }),
        }
    }
}

impl Scenario for Scale {
    type Worker = ScaleWorker;

    fn ops(&self) -> &'static [&'static str] {
        &SCALE_OPS
    }

    /// Grows the rooms (all online) and the members of room 0 from what was
    /// seeded so far to `size` each.
    async fn seed(&mut self, store: &Arc<dyn Store>) -> anyhow::Result<()> {
        let range = self.seeded..self.size.max(self.seeded);
        seed_rooms(store, SCALE_ROOM, range.clone(), |_| true).await?;
        seed_members(store, &GroupRef::room(SCALE_ROOM, 0), "sm-", range).await?;
        self.seeded = self.seeded.max(self.size);
        Ok(())
    }

    fn pool(&mut self) -> &mut Pool<ScaleWorker> {
        &mut self.pool
    }

    async fn check(&self, http: &mut Checker) -> anyhow::Result<Vec<Check>> {
        let members = http.member_total(&GroupRef::room(SCALE_ROOM, 0)).await?;
        let data = http
            .ok(json!({"flag":1,"pageno":1,"pagesize":20,"Action":"FetchList"}))
            .await?;
        let rooms = data["totalcount"].as_i64().unwrap_or(-1);
        let mut problems = Vec::new();
        if members != self.seeded as i64 {
            problems.push(format!("members: {members}, seeded {}", self.seeded));
        }
        if rooms != self.seeded as i64 {
            problems.push(format!(
                "FetchList 1: {rooms} online rooms, seeded {}",
                self.seeded
            ));
        }
        Ok(vec![Check::new(
            format!("{} online rooms and members listed as seeded", self.seeded),
            problems,
            0,
        )])
    }
}
