//! Writes applied in batches. On SQLite's single writer, each write
//! applied alone takes the writer in turn: the request's task waits for the
//! lock, and between one holder and the next the writer sits idle until the
//! next task gets a thread; on a database server, each holds its rows'
//! locks through its own round trips and commit. Here the writes that arrive while a batch is
//! being applied go together into the next one, applied by one task in one
//! transaction, and each request is answered when the batch that carried
//! it has committed: a reply of success still means the write is durable.
//! A batch that the database refuses (an error about a statement, nothing
//! applied) is applied again one write at a time, so that one bad write
//! fails alone; a batch that timed out or lost its connection is not.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use minilvb_store::{StoreError, StoreResult};

type Reply<Out> = Result<Out, Arc<StoreError>>;

/// Most writes in one batch: it bounds a transaction's size (and, on a
/// database server, its statements' number of values) while a burst
/// drains in several.
pub const MAX_BATCH: usize = 64;

/// One per server and kind of write; shared by all requests.
pub struct Batcher<Op, Out> {
    state: Mutex<State<Op, Out>>,
}

struct State<Op, Out> {
    waiting: Vec<(Op, oneshot::Sender<Reply<Out>>)>,
    /// A batch is being applied.
    flushing: bool,
}

impl<Op, Out> Default for Batcher<Op, Out> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                waiting: Vec::new(),
                flushing: false,
            }),
        }
    }
}

impl<Op: Clone + Send + Sync + 'static, Out: Clone + Send + 'static> Batcher<Op, Out> {
    /// Applies `op` in the next batch; `apply` applies a batch in one
    /// transaction, all or nothing, answering per write in order.
    pub async fn submit<F, Fut>(self: &Arc<Self>, op: Op, apply: F) -> Reply<Out>
    where
        F: Fn(Arc<Vec<Op>>) -> Fut + Send + 'static,
        Fut: Future<Output = StoreResult<Vec<Out>>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut state = self.lock();
            state.waiting.push((op, tx));
            !std::mem::replace(&mut state.flushing, true)
        };
        if start {
            // Its own task, so that a client hanging up cannot strand the
            // others waiting on the same batch.
            tokio::spawn(Arc::clone(self).flush(apply));
        }
        rx.await.unwrap_or_else(|_| {
            // The batch's task panicked; nothing was acknowledged.
            Err(Arc::new(StoreError::Database(sqlx::Error::WorkerCrashed)))
        })
    }

    /// Writes waiting for the next batch.
    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }

    /// No batch in flight, none waiting.
    #[cfg(test)]
    pub fn idle(&self) -> bool {
        let state = self.lock();
        state.waiting.is_empty() && !state.flushing
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<Op, Out>> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies what has accumulated, again and again, until nothing is left.
    async fn flush<F, Fut>(self: Arc<Self>, apply: F)
    where
        F: Fn(Arc<Vec<Op>>) -> Fut,
        Fut: Future<Output = StoreResult<Vec<Out>>>,
    {
        let mut flushing = Flushing {
            batcher: &self,
            released: false,
        };
        loop {
            // Let the requests already under way add theirs first.
            tokio::task::yield_now().await;
            let (ops, waiters): (Vec<Op>, Vec<_>) = {
                let mut state = self.lock();
                if state.waiting.is_empty() {
                    // Under the lock that a new write takes: it either came
                    // before (and is applied) or starts the next flush.
                    state.flushing = false;
                    flushing.released = true;
                    return;
                }
                let n = state.waiting.len().min(MAX_BATCH);
                state.waiting.drain(..n).unzip()
            };
            let ops = Arc::new(ops);
            let replies = match apply(Arc::clone(&ops)).await {
                Err(error) if ops.len() > 1 && refused(&error) => {
                    let mut replies = Vec::with_capacity(ops.len());
                    for op in ops.iter() {
                        let one = apply(Arc::new(vec![op.clone()])).await;
                        replies.push(one.map(|mut outs| outs.remove(0)).map_err(Arc::new));
                    }
                    replies
                }
                Ok(outs) => outs.into_iter().map(Ok).collect(),
                Err(error) => vec![Err(Arc::new(error)); ops.len()],
            };
            debug_assert_eq!(replies.len(), waiters.len(), "a reply per write");
            for (waiter, reply) in waiters.into_iter().zip(replies) {
                let _ = waiter.send(reply);
            }
        }
    }
}

/// The database refused a statement: nothing was applied, and the writes
/// may well apply one by one. (Not a timeout, a lost connection or an
/// outcome unknown: those would only repeat, or apply twice.)
fn refused(error: &StoreError) -> bool {
    matches!(error, StoreError::Database(sqlx::Error::Database(_)))
}

/// The batches in flight. Should one panic, the writes waiting for the next
/// are answered with an error (nothing of theirs was applied), and the next
/// write starts the batches again.
struct Flushing<'a, Op, Out> {
    batcher: &'a Batcher<Op, Out>,
    released: bool,
}

impl<Op, Out> Drop for Flushing<'_, Op, Out> {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        let mut state = self
            .batcher
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.flushing = false;
        // Dropping their senders answers them WorkerCrashed.
        let stranded = std::mem::take(&mut state.waiting);
        drop(state);
        drop(stranded);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::Semaphore;

    use super::*;

    /// Doubles each number; holds each batch until the test lets it
    /// through; fails a batch holding 13 (a timeout), refuses one holding 7
    /// (a statement's error); panics on one holding 99.
    struct Gated {
        gate: Semaphore,
        in_flight: AtomicUsize,
        batches: Mutex<Vec<Vec<i64>>>,
    }

    impl Default for Gated {
        fn default() -> Self {
            Self {
                gate: Semaphore::new(0),
                in_flight: AtomicUsize::new(0),
                batches: Mutex::default(),
            }
        }
    }

    /// A statement's error, as a database answers one.
    #[derive(Debug)]
    struct Refused;

    impl std::fmt::Display for Refused {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("no such table: nowhere")
        }
    }

    impl std::error::Error for Refused {}

    impl sqlx::error::DatabaseError for Refused {
        fn message(&self) -> &str {
            "no such table: nowhere"
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
    }

    impl Gated {
        async fn apply(self: Arc<Self>, ops: Arc<Vec<i64>>) -> StoreResult<Vec<i64>> {
            self.in_flight.fetch_add(1, Ordering::SeqCst);
            self.gate.acquire().await.unwrap().forget();
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            assert!(!ops.contains(&99), "the batch's bug");
            if ops.contains(&13) {
                return Err(StoreError::Database(sqlx::Error::PoolTimedOut));
            }
            if ops.contains(&7) {
                return Err(StoreError::Database(sqlx::Error::Database(Box::new(
                    Refused,
                ))));
            }
            self.batches.lock().unwrap().push(ops.to_vec());
            Ok(ops.iter().map(|n| n * 2).collect())
        }
    }

    fn submit(
        batcher: &Arc<Batcher<i64, i64>>,
        store: &Arc<Gated>,
        n: i64,
    ) -> tokio::task::JoinHandle<Reply<i64>> {
        let (batcher, store) = (Arc::clone(batcher), Arc::clone(store));
        tokio::spawn(async move {
            batcher
                .submit(n, move |ops| Arc::clone(&store).apply(ops))
                .await
        })
    }

    /// Yields until `done` holds; fails after a minute rather than hang.
    async fn until(mut done: impl FnMut() -> bool) {
        let wait = async {
            while !done() {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(60), wait)
            .await
            .expect("the batcher got there");
    }

    #[tokio::test]
    async fn writes_that_arrive_meanwhile_go_together_in_order() {
        let store = Arc::new(Gated::default());
        let batcher = Arc::new(Batcher::default());
        let first = submit(&batcher, &store, 1);
        until(|| store.in_flight.load(Ordering::SeqCst) == 1).await;
        let mut later = Vec::new();
        for n in 2..=5 {
            later.push(submit(&batcher, &store, n));
            until(|| batcher.waiting() == later.len()).await;
        }
        assert_eq!(
            store.in_flight.load(Ordering::SeqCst),
            1,
            "one batch in flight"
        );
        store.gate.add_permits(2);
        assert_eq!(first.await.unwrap().unwrap(), 2);
        for (n, reply) in (2..=5).zip(later) {
            assert_eq!(reply.await.unwrap().unwrap(), n * 2);
        }
        assert_eq!(*store.batches.lock().unwrap(), [vec![1], vec![2, 3, 4, 5]]);
        until(|| batcher.idle()).await;
    }

    #[tokio::test]
    async fn a_burst_goes_in_batches_of_at_most_max_batch() {
        let store = Arc::new(Gated::default());
        let batcher = Arc::new(Batcher::default());
        let first = submit(&batcher, &store, 1);
        until(|| store.in_flight.load(Ordering::SeqCst) == 1).await;
        // (Numbers the gated store neither fails nor refuses.)
        let burst = 100..100 + MAX_BATCH as i64 + 6;
        let mut later = Vec::new();
        for n in burst.clone() {
            later.push(submit(&batcher, &store, n));
            until(|| batcher.waiting() == later.len()).await;
        }
        store.gate.add_permits(3);
        assert_eq!(first.await.unwrap().unwrap(), 2);
        for (n, reply) in burst.zip(later) {
            assert_eq!(reply.await.unwrap().unwrap(), n * 2);
        }
        let sizes: Vec<usize> = store.batches.lock().unwrap().iter().map(Vec::len).collect();
        assert_eq!(sizes, [1, MAX_BATCH, 6]);
        until(|| batcher.idle()).await;
    }

    #[tokio::test]
    async fn a_failed_batch_fails_its_writes_and_only_them() {
        let store = Arc::new(Gated::default());
        let batcher = Arc::new(Batcher::default());
        let first = submit(&batcher, &store, 1);
        until(|| store.in_flight.load(Ordering::SeqCst) == 1).await;
        let failing = [submit(&batcher, &store, 13), submit(&batcher, &store, 3)];
        until(|| batcher.waiting() == 2).await;
        store.gate.add_permits(2);
        assert_eq!(first.await.unwrap().unwrap(), 2);
        for reply in failing {
            let error = reply.await.unwrap().expect_err("the batch failed");
            assert!(matches!(*error, StoreError::Database(_)), "{error}");
        }
        until(|| batcher.idle()).await;
        store.gate.add_permits(1);
        assert_eq!(submit(&batcher, &store, 4).await.unwrap().unwrap(), 8);
        assert_eq!(*store.batches.lock().unwrap(), [vec![1], vec![4]]);
    }

    #[tokio::test]
    async fn a_panicking_batch_answers_its_writes_and_the_next_write_starts_again() {
        let store = Arc::new(Gated::default());
        let batcher = Arc::new(Batcher::default());
        store.gate.add_permits(1);
        let reply = submit(&batcher, &store, 99).await.unwrap();
        assert!(reply.is_err(), "nothing acknowledged");
        until(|| batcher.idle()).await;
        store.gate.add_permits(1);
        assert_eq!(submit(&batcher, &store, 5).await.unwrap().unwrap(), 10);
    }

    #[tokio::test]
    async fn a_refused_batch_is_applied_again_one_write_at_a_time() {
        let store = Arc::new(Gated::default());
        let batcher = Arc::new(Batcher::default());
        let first = submit(&batcher, &store, 1);
        until(|| store.in_flight.load(Ordering::SeqCst) == 1).await;
        let later = [2, 7, 3].map(|n| submit(&batcher, &store, n));
        until(|| batcher.waiting() == 3).await;
        store.gate.add_permits(5);
        assert_eq!(first.await.unwrap().unwrap(), 2);
        let [two, seven, three] = later;
        assert_eq!(two.await.unwrap().unwrap(), 4);
        assert!(seven.await.unwrap().is_err(), "the bad write fails alone");
        assert_eq!(three.await.unwrap().unwrap(), 6);
        assert_eq!(*store.batches.lock().unwrap(), [vec![1], vec![2], vec![3]]);
    }
}
