//! Coalesced like counters. A popular room takes thousands of likes a
//! second; applied one by one, every like waits for the one before (and,
//! on SQLite, for the single writer). Instead, likes that arrive while an
//! update of the same target is in flight are summed and applied together
//! in one update, and each request is answered when the update that carried
//! it has committed: a reply of success still means the like is durable.
//! The store writes that update to this node's own like slot, so nodes do
//! not contend with each other either (see `store::sql`, `add_likes`).
//!
//! Summing +1s and -1s and flooring once at zero gives the result of one
//! valid order of those concurrent requests (increments first), so counts
//! stay exactly the acknowledged increments minus decrements, floored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::protocol::Counted;
use crate::store::{Store, StoreError};

type Reply = Result<bool, Arc<StoreError>>;

#[derive(Default)]
struct Pending {
    delta: i64,
    waiters: Vec<oneshot::Sender<Reply>>,
    /// An update of this target is being applied.
    flushing: bool,
}

/// One per server; shared by all requests.
#[derive(Default)]
pub struct LikeCoalescer {
    targets: Mutex<HashMap<Counted, Pending>>,
}

impl LikeCoalescer {
    /// Adds `delta` likes to `target`; answers once they are committed.
    /// False when the target does not exist.
    pub async fn add(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
        target: &Counted,
        delta: i64,
    ) -> Reply {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut targets = self.lock();
            let pending = targets.entry(target.clone()).or_default();
            pending.delta += delta;
            pending.waiters.push(tx);
            !std::mem::replace(&mut pending.flushing, true)
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

    /// Applies what has accumulated for `target`, again and again, until
    /// nothing is left.
    async fn flush(self: Arc<Self>, store: Arc<dyn Store>, target: Counted) {
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
                    targets.remove(&target);
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
