//! `mixed`: the apps' whole traffic in its usual proportions.

use super::*;

pub(super) const MIX_ROOM: &str = "mix-vj-";
pub(super) const MIX_HOST: &str = "mix-host-";
pub(super) const MIX_FILE: &str = "mix-f-";
/// Recordings among the groups viewers join and like.
pub(super) const MIX_RECORDING_GROUPS: usize = 100;

pub struct Mixed {
    pub(super) rooms: usize,
    pub(super) online: usize,
    pub(super) recordings: usize,
    pub(super) hosts: usize,
    pub(super) groups: Arc<Vec<GroupRef>>,
    pub(super) pool: Pool<MixedWorker>,
}

pub struct MixedWorker {
    pub(super) viewers: Vec<String>,
    pub(super) hosts: Arc<Vec<String>>,
    pub(super) groups: Arc<Vec<GroupRef>>,
    /// Groups `..rooms` are rooms, the rest recordings.
    pub(super) room_groups: usize,
    pub(super) online: usize,
    pub(super) recordings: usize,
    pub(super) model: Model,
}

pub(super) const MIXED_OPS: [&str; 10] = [
    "FetchList 3 p1",
    "FetchList pN",
    "EnterGroup",
    "QuitGroup",
    "FetchGroupMemberList p1",
    "GetUserInfo",
    "ChangeCount like",
    "GetCOSSign",
    "RequestLVBAddr",
    "ChangeStatus",
];
/// Per 1000 requests, as the apps produce them: a viewer's visit is a list
/// or two, an enter, a member list or two, a room's details, a quit, and
/// likes (up to two a second) all along; an anchor sends a handful of
/// requests per broadcast (cover upload, session, on air, off air) while
/// its room draws hundreds of viewers.
pub(super) const MIXED_WEIGHTS: [u32; 10] = [100, 30, 80, 70, 80, 50, 580, 5, 2, 3];

impl MixedWorker {
    pub(super) fn random_group(&self, rng: &mut SmallRng) -> u32 {
        if rng.random_bool(0.8) || self.room_groups == self.groups.len() {
            rng.random_range(0..self.room_groups) as u32
        } else {
            rng.random_range(self.room_groups..self.groups.len()) as u32
        }
    }
}

impl Worker for MixedWorker {
    fn next(&mut self, rng: &mut SmallRng, body: &mut Vec<u8>) -> usize {
        let mut op = pick(rng, &MIXED_WEIGHTS);
        let quit = if op == 3 {
            self.model.random_member(rng)
        } else {
            None
        };
        if op == 3 && quit.is_none() {
            op = 2;
        }
        match op {
            0 => fetch_list(body, 3, 1),
            1 => {
                let flag = rng.random_range(1..=3u8);
                let items = match flag {
                    1 => self.online,
                    2 => self.recordings,
                    _ => self.online + self.recordings,
                };
                fetch_list(body, flag, random_page(rng, items))
            }
            2 => {
                let v = rng.random_range(0..self.viewers.len()) as u32;
                let g = self.random_group(rng);
                enter_group(body, &self.viewers[v as usize], &self.groups[g as usize]);
                self.model.pending = Pending::Enter(v, g);
            }
            3 => {
                let (v, g) = quit.expect("a member to quit");
                quit_group(body, &self.viewers[v as usize], &self.groups[g as usize]);
                self.model.pending = Pending::Quit(v, g);
            }
            4 => {
                let g = self.random_group(rng);
                member_list(body, &self.groups[g as usize], 1, PAGE)
            }
            5 => {
                let g = self.random_group(rng);
                get_user_info(body, &self.groups[g as usize])
            }
            6 => {
                // Half the likes go to the most popular room.
                let g = if rng.random_bool(0.5) {
                    0
                } else {
                    self.random_group(rng)
                };
                like(body, &self.groups[g as usize]);
                self.model.pending = Pending::Like(g);
            }
            7 => body.extend_from_slice(br#"{"Action":"GetCOSSign"}"#),
            8 => {
                let host = &self.hosts[rng.random_range(0..self.hosts.len())];
                request_lvb_addr(body, host)
            }
            _ => {
                let host = &self.hosts[rng.random_range(0..self.hosts.len())];
                change_status(body, host, rng.random_range(0..=1))
            }
        }
        op
    }

    fn outcome(&mut self, _op: usize, return_value: Option<i64>) -> bool {
        self.model.settle(return_value)
    }
}

impl Mixed {
    pub fn new(sizes: &Sizes) -> Self {
        let rooms = sizes.mixed_rooms.max(1);
        let online = sizes.mixed_online.clamp(1, rooms);
        let recordings = sizes.mixed_recordings;
        let hosts = sizes.mixed_hosts.max(1);
        // Viewers join and like the online rooms and the newest recordings.
        let mut groups: Vec<GroupRef> = (0..online).map(|i| GroupRef::room(MIX_ROOM, i)).collect();
        groups.extend(
            (0..recordings.min(MIX_RECORDING_GROUPS))
                .map(|j| GroupRef::recording(MIX_ROOM, rooms, MIX_FILE, j)),
        );
        let groups = Arc::new(groups);
        let host_ids: Arc<Vec<String>> =
            Arc::new((0..hosts).map(|j| format!("{MIX_HOST}{j}")).collect());
        let (for_workers, per_conn) = (groups.clone(), sizes.viewers_per_connection.max(1));
        Self {
            rooms,
            online,
            recordings,
            hosts,
            groups,
            pool: Pool::new(move |c| MixedWorker {
                viewers: (0..per_conn).map(|k| format!("mv-{c}-{k}")).collect(),
                hosts: host_ids.clone(),
                groups: for_workers.clone(),
                room_groups: online,
                online: online + hosts,
                recordings,
                model: Model::new(for_workers.len()),
            }),
        }
    }
}

impl Scenario for Mixed {
    type Worker = MixedWorker;

    fn ops(&self) -> &'static [&'static str] {
        &MIXED_OPS
    }

    async fn seed(&mut self, store: &Arc<dyn Store>) -> anyhow::Result<()> {
        // The online rooms are the first `online` ones (the viewers' groups).
        let online = self.online;
        seed_rooms(store, MIX_ROOM, 0..self.rooms, move |i| i < online).await?;
        seed_rooms(store, MIX_HOST, 0..self.hosts, |_| true).await?;
        seed_recordings(
            store,
            MIX_ROOM,
            MIX_FILE,
            self.rooms,
            0..self.recordings,
            self.recordings,
        )
        .await
    }

    fn pool(&mut self) -> &mut Pool<MixedWorker> {
        &mut self.pool
    }

    async fn check(&self, http: &mut Checker) -> anyhow::Result<Vec<Check>> {
        let expected = Expected::sum(self.groups.len(), &[], self.pool.all().map(|w| &w.model));
        http.compare(&self.groups, &expected, true).await
    }
}
