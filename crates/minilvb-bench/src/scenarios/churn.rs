//! `churn`: viewers entering and quitting rooms, and reading member lists.

use super::*;

pub(super) const CHURN_ROOM: &str = "churn-vj-";

pub struct Churn {
    pub(super) groups: Arc<Vec<GroupRef>>,
    pub(super) hot_members: usize,
    pub(super) pool: Pool<ChurnWorker>,
}

pub struct ChurnWorker {
    pub(super) viewers: Vec<String>,
    pub(super) groups: Arc<Vec<GroupRef>>,
    pub(super) hot_total: usize,
    pub(super) model: Model,
}

pub(super) const CHURN_OPS: [&str; 5] = [
    "EnterGroup",
    "QuitGroup",
    "FetchGroupMemberList hot p1",
    "FetchGroupMemberList hot pN",
    "FetchGroupMemberList p1",
];
pub(super) const CHURN_WEIGHTS: [u32; 5] = [40, 35, 17, 3, 5];

impl Worker for ChurnWorker {
    fn next(&mut self, rng: &mut SmallRng, body: &mut Vec<u8>) -> usize {
        let mut op = pick(rng, &CHURN_WEIGHTS);
        let quit = if op == 1 {
            self.model.random_member(rng)
        } else {
            None
        };
        if op == 1 && quit.is_none() {
            op = 0;
        }
        match op {
            0 => {
                let v = rng.random_range(0..self.viewers.len()) as u32;
                // A third of the entries go to the hot room, the rest spread.
                let g = if rng.random_bool(0.3) {
                    0
                } else {
                    rng.random_range(0..self.groups.len()) as u32
                };
                enter_group(body, &self.viewers[v as usize], &self.groups[g as usize]);
                self.model.pending = Pending::Enter(v, g);
            }
            1 => {
                let (v, g) = quit.expect("a member to quit");
                quit_group(body, &self.viewers[v as usize], &self.groups[g as usize]);
                self.model.pending = Pending::Quit(v, g);
            }
            2 => member_list(body, &self.groups[0], 1, PAGE),
            3 => member_list(
                body,
                &self.groups[0],
                random_page(rng, self.hot_total),
                PAGE,
            ),
            _ => {
                let g = rng.random_range(0..self.groups.len());
                member_list(body, &self.groups[g], 1, PAGE)
            }
        }
        op
    }

    fn outcome(&mut self, _op: usize, return_value: Option<i64>) -> bool {
        self.model.settle(return_value)
    }
}

impl Churn {
    pub fn new(sizes: &Sizes) -> Self {
        let groups: Arc<Vec<GroupRef>> = Arc::new(
            (0..sizes.churn_rooms.max(1))
                .map(|i| GroupRef::room(CHURN_ROOM, i))
                .collect(),
        );
        let (per_conn, hot_members) = (sizes.viewers_per_connection.max(1), sizes.hot_members);
        let for_workers = groups.clone();
        Self {
            groups,
            hot_members,
            pool: Pool::new(move |c| ChurnWorker {
                viewers: (0..per_conn).map(|k| format!("cv-{c}-{k}")).collect(),
                groups: for_workers.clone(),
                hot_total: hot_members,
                model: Model::new(for_workers.len()),
            }),
        }
    }
}

impl Scenario for Churn {
    type Worker = ChurnWorker;

    fn ops(&self) -> &'static [&'static str] {
        &CHURN_OPS
    }

    async fn seed(&mut self, store: &Arc<dyn Store>) -> anyhow::Result<()> {
        seed_rooms(store, CHURN_ROOM, 0..self.groups.len(), |_| true).await?;
        seed_members(store, &self.groups[0], "seed-", 0..self.hot_members).await
    }

    fn pool(&mut self) -> &mut Pool<ChurnWorker> {
        &mut self.pool
    }

    async fn check(&self, http: &mut Checker) -> anyhow::Result<Vec<Check>> {
        let expected = Expected::sum(
            self.groups.len(),
            &[self.hot_members as u64],
            self.pool.all().map(|w| &w.model),
        );
        let mut checks = http.compare(&self.groups, &expected, false).await?;
        if let Some(first) = checks.first_mut() {
            first.what += &format!("; the hot room ends with {}", expected.members[0]);
        }
        Ok(checks)
    }
}
