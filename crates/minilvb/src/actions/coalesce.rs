//! Coalesced like counters. A popular room takes thousands of likes a
//! second; applied one by one, every like waits for the one before (and,
//! on SQLite, for the single writer). Instead, likes that arrive while the
//! updates of the same target are in flight are summed and applied together
//! in one update, and each request is answered when the update that carried
//! it has committed: a reply of success still means the like is durable.
//!
//! A target has a few lanes, each at most one update in flight: on a
//! database server, concurrent commits share their log flushes, so a second
//! update under way while the first commits carries likes that would
//! otherwise wait a whole round. The store writes each concurrent update of
//! one target to a like slot of its own, so neither the lanes nor the nodes
//! contend for a row (see `minilvb_store::sql`, `add_likes`). SQLite has one lane:
//! its single writer already commits concurrent updates together.
//!
//! On SQLite the likes of every target are applied together instead: one
//! batch in flight at a time (`super::batch`), each target's sum in it, all
//! in one transaction (`Likes::add_likes_many`). Likes spread over many
//! rooms then cost the writer one transaction, not one each (and the server
//! one task, not one per room).
//!
//! Summing +1s and -1s and flooring once at zero gives the result of one
//! valid order of those concurrent requests (increments first), so counts
//! stay exactly the acknowledged increments minus decrements, floored. Lanes
//! keep that: each update is such a sum, and the updates are themselves
//! applied in some order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::batch::Batcher;
use minilvb_protocol::Counted;
use minilvb_store::{Likes, StoreError, StoreResult};

type Reply = Result<bool, Arc<StoreError>>;

#[derive(Default)]
struct Pending {
    delta: i64,
    waiters: Vec<oneshot::Sender<Reply>>,
    /// Updates of this target being applied (at most one per lane).
    in_flight: usize,
}

/// One per server; shared by all requests.
pub struct LikeCoalescer {
    /// Updates of one target in flight at once, at least 1.
    lanes: usize,
    targets: Mutex<HashMap<Counted, Pending>>,
    /// Every target's likes in batches instead (a single writer).
    batches: Option<Arc<Batcher<(Counted, i64), bool>>>,
}

impl LikeCoalescer {
    /// Up to `lanes` updates of each target in flight.
    pub fn new(lanes: usize) -> Self {
        Self {
            lanes: lanes.max(1),
            targets: Mutex::default(),
            batches: None,
        }
    }

    /// Every target's likes applied together, one batch at a time: for a
    /// single writer, which applies one update at a time anyway.
    pub fn batched() -> Self {
        Self {
            batches: Some(Arc::default()),
            ..Self::new(1)
        }
    }

    /// Adds `delta` likes to `target`; answers once they are committed.
    /// False when the target does not exist.
    pub async fn add<S: Likes + ?Sized + 'static>(
        self: &Arc<Self>,
        store: &Arc<S>,
        target: &Counted,
        delta: i64,
    ) -> Reply {
        if let Some(batches) = &self.batches {
            let store = Arc::clone(store);
            return batches
                .submit((target.clone(), delta), move |likes| {
                    let store = Arc::clone(&store);
                    async move { apply_summed(store.as_ref(), &likes).await }
                })
                .await;
        }
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut targets = self.lock();
            let pending = targets.entry(target.clone()).or_default();
            pending.delta += delta;
            pending.waiters.push(tx);
            let free_lane = pending.in_flight < self.lanes;
            pending.in_flight += usize::from(free_lane);
            free_lane
        };
        if start {
            // Its own task, so that a client hanging up cannot strand the
            // others waiting on the same update.
            tokio::spawn(Arc::clone(self).flush(Arc::clone(store), target.clone()));
        }
        rx.await.unwrap_or_else(|_| {
            // The flushing task panicked; nothing was acknowledged.
            Err(Arc::new(StoreError::Database(sqlx::Error::WorkerCrashed)))
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Counted, Pending>> {
        self.targets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// One lane of `target`: applies what has accumulated, again and again,
    /// until nothing is left.
    async fn flush<S: Likes + ?Sized + 'static>(self: Arc<Self>, store: Arc<S>, target: Counted) {
        let mut lane = Lane {
            coalescer: &self,
            target: &target,
            released: false,
        };
        loop {
            // Let the requests already under way add theirs first: one
            // update then carries more likes.
            tokio::task::yield_now().await;
            let (delta, waiters) = {
                let mut targets = self.lock();
                let Some(pending) = targets.get_mut(&target) else {
                    return;
                };
                if pending.waiters.is_empty() {
                    // Under the lock that a new like takes: it either came
                    // before (and is applied) or sees the lane free.
                    lane.released = true;
                    pending.in_flight -= 1;
                    if pending.in_flight == 0 {
                        targets.remove(&target);
                    }
                    return;
                }
                (
                    std::mem::take(&mut pending.delta),
                    std::mem::take(&mut pending.waiters),
                )
            };
            let reply = store.add_likes(&target, delta).await.map_err(Arc::new);
            for waiter in waiters {
                let _ = waiter.send(reply.clone());
            }
        }
    }
}

/// A batch of likes: each target's sum applied once, every like answered
/// with its target's existence.
async fn apply_summed<S: Likes + ?Sized + 'static>(
    store: &S,
    likes: &[(Counted, i64)],
) -> StoreResult<Vec<bool>> {
    let mut index: HashMap<&Counted, usize> = HashMap::new();
    let mut sums: Vec<(Counted, i64)> = Vec::new();
    let slots: Vec<usize> = likes
        .iter()
        .map(|(target, delta)| {
            let slot = *index.entry(target).or_insert_with(|| {
                sums.push((target.clone(), 0));
                sums.len() - 1
            });
            sums[slot].1 += delta;
            slot
        })
        .collect();
    let found = store.add_likes_many(&sums).await?;
    Ok(slots.into_iter().map(|slot| found[slot]).collect())
}

/// A lane in flight. Should its update panic, the lane is given back, and
/// if it was the target's last, the likes waiting for it are answered with
/// an error (nothing of theirs was applied) rather than left waiting.
struct Lane<'a> {
    coalescer: &'a LikeCoalescer,
    target: &'a Counted,
    released: bool,
}

impl Drop for Lane<'_> {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        let mut targets = self.coalescer.lock();
        let Some(pending) = targets.get_mut(self.target) else {
            return;
        };
        pending.in_flight -= 1;
        if pending.in_flight == 0 {
            // Dropping their senders answers them WorkerCrashed.
            let stranded = targets.remove(self.target);
            drop(targets);
            drop(stranded);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::Semaphore;

    use super::*;

    /// Holds every update until the test lets it through, and records them.
    struct Gated {
        gate: Semaphore,
        in_flight: AtomicUsize,
        most_in_flight: AtomicUsize,
        /// Deltas committed, in commit order.
        applied: Mutex<Vec<i64>>,
        /// The update carrying this many likes fails.
        fail_delta: Option<i64>,
        /// Batches committed (`add_likes_many`), in commit order.
        batches: Mutex<Vec<Vec<(Counted, i64)>>>,
    }

    impl Gated {
        fn failing(fail_delta: Option<i64>) -> Arc<Self> {
            Arc::new(Self {
                gate: Semaphore::new(0),
                in_flight: AtomicUsize::new(0),
                most_in_flight: AtomicUsize::new(0),
                applied: Mutex::default(),
                fail_delta,
                batches: Mutex::default(),
            })
        }
    }

    #[async_trait::async_trait]
    impl Likes for Gated {
        async fn add_likes(&self, _: &Counted, delta: i64) -> StoreResult<bool> {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_in_flight.fetch_max(now, Ordering::SeqCst);
            self.gate.acquire().await.unwrap().forget();
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            if self.fail_delta == Some(delta) {
                return Err(StoreError::Database(sqlx::Error::PoolTimedOut));
            }
            self.applied.lock().unwrap().push(delta);
            Ok(true)
        }

        async fn add_likes_many(&self, batch: &[(Counted, i64)]) -> StoreResult<Vec<bool>> {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_in_flight.fetch_max(now, Ordering::SeqCst);
            self.gate.acquire().await.unwrap().forget();
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            let sum: i64 = batch.iter().map(|(_, delta)| delta).sum();
            if self.fail_delta == Some(sum) {
                return Err(StoreError::Database(sqlx::Error::PoolTimedOut));
            }
            self.batches
                .lock()
                .unwrap()
                .push(batch.iter().map(|(t, d)| (t.clone(), *d)).collect());
            // A target named "gone" does not exist.
            Ok(batch.iter().map(|(t, _)| *t != target("gone")).collect())
        }
    }

    fn room() -> Counted {
        target("a1")
    }

    fn target(userid: &str) -> Counted {
        Counted::Room {
            userid: userid.into(),
        }
    }

    impl LikeCoalescer {
        fn waiting(&self) -> usize {
            let lanes: usize = self.lock().values().map(|p| p.waiters.len()).sum();
            lanes + self.batches.as_ref().map_or(0, |b| b.waiting())
        }

        fn idle(&self) -> bool {
            self.lock().is_empty() && self.batches.as_ref().is_none_or(|b| b.idle())
        }
    }

    /// Yields until `done` holds (the spawned tasks get to run meanwhile).
    /// A regression that never gets there fails after a minute instead of
    /// hanging the run (a guard, not a timing: it holds within microseconds).
    async fn until(mut done: impl FnMut() -> bool) {
        let wait = async {
            while !done() {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(60), wait)
            .await
            .expect("the coalescer got there");
    }

    /// Two lanes busy with a like each, then eight more likes: they wait
    /// together for the first free lane.
    async fn two_lanes_busy_then_eight(
        store: &Arc<Gated>,
    ) -> (Arc<LikeCoalescer>, Vec<tokio::task::JoinHandle<Reply>>) {
        let likes = Arc::new(LikeCoalescer::new(2));
        let like = || {
            let (likes, store) = (Arc::clone(&likes), Arc::clone(store));
            tokio::spawn(async move { likes.add(&store, &room(), 1).await })
        };
        let mut replies = vec![like()];
        until(|| store.in_flight.load(Ordering::SeqCst) == 1).await;
        replies.push(like());
        until(|| store.in_flight.load(Ordering::SeqCst) == 2).await;
        replies.extend((0..8).map(|_| like()));
        until(|| likes.waiting() == 8).await;
        (likes, replies)
    }

    #[tokio::test]
    async fn lanes_bound_the_updates_in_flight_and_late_likes_are_summed() {
        let store = Gated::failing(None);
        let (likes, replies) = two_lanes_busy_then_eight(&store).await;
        assert_eq!(store.in_flight.load(Ordering::SeqCst), 2, "no third lane");
        store.gate.add_permits(3);
        for reply in replies {
            assert!(reply.await.unwrap().unwrap());
        }
        let mut applied = store.applied.lock().unwrap().clone();
        applied.sort_unstable();
        assert_eq!(applied, [1, 1, 8]);
        assert_eq!(store.most_in_flight.load(Ordering::SeqCst), 2);
        until(|| likes.idle()).await;
    }

    #[tokio::test]
    async fn a_failed_update_fails_each_of_its_likes_and_only_them() {
        let store = Gated::failing(Some(8));
        let (likes, replies) = two_lanes_busy_then_eight(&store).await;
        store.gate.add_permits(3);
        let mut acknowledged = 0;
        for reply in replies {
            match reply.await.unwrap() {
                Ok(found) => {
                    assert!(found);
                    acknowledged += 1;
                }
                Err(error) => assert!(matches!(*error, StoreError::Database(_)), "{error}"),
            }
        }
        assert_eq!(acknowledged, 2);
        let applied: i64 = store.applied.lock().unwrap().iter().sum();
        assert_eq!(
            applied, acknowledged,
            "what was acknowledged is what was applied"
        );
        until(|| likes.idle()).await;
        // The target takes likes again.
        store.gate.add_permits(1);
        assert!(likes.add(&store, &room(), 1).await.unwrap());
    }

    /// The first update panics, the others apply.
    #[derive(Default)]
    struct PanicsOnce {
        calls: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl Likes for PanicsOnce {
        async fn add_likes(&self, _: &Counted, _: i64) -> StoreResult<bool> {
            if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("the update's bug");
            }
            Ok(true)
        }

        async fn add_likes_many(&self, batch: &[(Counted, i64)]) -> StoreResult<Vec<bool>> {
            if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("the update's bug");
            }
            Ok(vec![true; batch.len()])
        }
    }

    #[tokio::test]
    async fn a_panicking_update_gives_its_lane_back() {
        for likes in [LikeCoalescer::new(1), LikeCoalescer::batched()] {
            a_panicking_update_gives_its_lane_back_in(likes).await;
        }
    }

    async fn a_panicking_update_gives_its_lane_back_in(likes: LikeCoalescer) {
        let store = Arc::new(PanicsOnce::default());
        let likes = Arc::new(likes);
        let reply = likes.add(&store, &room(), 1).await;
        assert!(reply.is_err(), "nothing acknowledged");
        until(|| likes.idle()).await;
        assert!(
            likes.add(&store, &room(), 1).await.unwrap(),
            "the lane is free"
        );
    }

    /// A like on `userid`'s room, in a task of its own.
    fn like_on(
        likes: &Arc<LikeCoalescer>,
        store: &Arc<Gated>,
        userid: &'static str,
    ) -> tokio::task::JoinHandle<Reply> {
        let (likes, store) = (Arc::clone(likes), Arc::clone(store));
        tokio::spawn(async move { likes.add(&store, &target(userid), 1).await })
    }

    /// Batched: likes on several targets that arrive while a batch is
    /// applied go together into the next one, each target's summed; every
    /// like is answered with its target's existence once its batch commits.
    #[tokio::test]
    async fn batches_take_every_target_that_came_meanwhile() {
        let store = Gated::failing(None);
        let likes = Arc::new(LikeCoalescer::batched());
        let like = |userid| like_on(&likes, &store, userid);
        let first = like("a1");
        until(|| store.in_flight.load(Ordering::SeqCst) == 1).await;
        let mut replies: Vec<_> = ["a1", "a2", "a2", "gone", "a3", "a2"]
            .into_iter()
            .map(|userid| (userid, like(userid)))
            .collect();
        until(|| likes.waiting() == 6).await;
        assert_eq!(
            store.in_flight.load(Ordering::SeqCst),
            1,
            "one batch in flight"
        );
        store.gate.add_permits(2);
        assert!(first.await.unwrap().unwrap());
        for (userid, reply) in replies.drain(..) {
            assert_eq!(reply.await.unwrap().unwrap(), userid != "gone", "{userid}");
        }
        let mut batches = store.batches.lock().unwrap().clone();
        assert_eq!(batches.len(), 2);
        batches[1].sort_by(|a, b| format!("{:?}", a.0).cmp(&format!("{:?}", b.0)));
        assert_eq!(batches[0], [(target("a1"), 1)]);
        assert_eq!(
            batches[1],
            [
                (target("a1"), 1),
                (target("a2"), 3),
                (target("a3"), 1),
                (target("gone"), 1)
            ]
        );
        until(|| likes.idle()).await;
    }

    /// Batched: a batch that fails answers each of its likes with the
    /// error, and only them; the next batch applies.
    #[tokio::test]
    async fn a_failed_batch_fails_its_likes_and_only_them() {
        let store = Gated::failing(Some(3));
        let likes = Arc::new(LikeCoalescer::batched());
        let like = |userid| like_on(&likes, &store, userid);
        let first = like("a1");
        until(|| store.in_flight.load(Ordering::SeqCst) == 1).await;
        let failing: Vec<_> = ["a1", "a2", "a2"].into_iter().map(like).collect();
        until(|| likes.waiting() == 3).await;
        store.gate.add_permits(2);
        assert!(first.await.unwrap().unwrap());
        for reply in failing {
            let error = reply.await.unwrap().expect_err("the batch failed");
            assert!(matches!(*error, StoreError::Database(_)), "{error}");
        }
        until(|| likes.idle()).await;
        store.gate.add_permits(1);
        assert!(likes.add(&store, &room(), 1).await.unwrap());
        assert_eq!(
            store.batches.lock().unwrap().len(),
            2,
            "the failed one not applied"
        );
    }
}
