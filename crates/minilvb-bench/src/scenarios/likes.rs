//! `likes`: many viewers liking a few popular rooms.

use super::*;

pub(super) const LIKES_ROOM: &str = "likes-vj-";

pub struct Likes {
    pub(super) group: GroupRef,
    pub(super) pool: Pool<LikesWorker>,
}

pub struct LikesWorker {
    pub(super) group: GroupRef,
    pub(super) model: Model,
}

impl Worker for LikesWorker {
    fn next(&mut self, _rng: &mut SmallRng, body: &mut Vec<u8>) -> usize {
        like(body, &self.group);
        self.model.pending = Pending::Like(0);
        0
    }

    fn outcome(&mut self, _op: usize, return_value: Option<i64>) -> bool {
        self.model.settle(return_value)
    }
}

impl Likes {
    pub fn new() -> Self {
        let group = GroupRef::room(LIKES_ROOM, 0);
        let for_workers = group.clone();
        Self {
            group,
            pool: Pool::new(move |_| LikesWorker {
                group: for_workers.clone(),
                model: Model::new(1),
            }),
        }
    }
}

impl Scenario for Likes {
    type Worker = LikesWorker;

    fn ops(&self) -> &'static [&'static str] {
        &["ChangeCount like"]
    }

    async fn seed(&mut self, store: &Arc<dyn Store>) -> anyhow::Result<()> {
        seed_rooms(store, LIKES_ROOM, 0..1, |_| true).await
    }

    fn pool(&mut self) -> &mut Pool<LikesWorker> {
        &mut self.pool
    }

    async fn check(&self, http: &mut Checker) -> anyhow::Result<Vec<Check>> {
        let expected = Expected::sum(1, &[], self.pool.all().map(|w| &w.model));
        http.compare(std::slice::from_ref(&self.group), &expected, true)
            .await
    }
}
