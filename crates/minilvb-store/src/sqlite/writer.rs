//! The one writer: transactions queued and committed together in batches
//! (a savepoint each), so that concurrent writes share one commit.

use super::*;

pub(super) struct Writer {
    pub(super) conn: Arc<tokio::sync::Mutex<WriterState>>,
    /// Callers waiting for the connection to begin a transaction.
    pub(super) queued: AtomicUsize,
    /// Numbers the group commits.
    pub(super) batches: AtomicU64,
    pub(super) group_commit: bool,
}

/// A group commit closes after this many transactions or this long, even
/// with writers still queueing, so that no caller waits on a long queue.
pub(super) const MAX_BATCH: usize = 256;
pub(super) const MAX_BATCH_AGE: Duration = Duration::from_millis(2);

pub struct WriterState {
    pub(super) conn: Connection,
    /// The open transaction holding released, uncommitted transactions.
    pub(super) batch: Option<Batch>,
}

pub(super) struct Batch {
    pub(super) id: u64,
    pub(super) released: usize,
    pub(super) opened: Instant,
    /// The outcome of its `COMMIT`, for the callers waiting on it.
    pub(super) outcome: watch::Sender<Option<Result<(), SqliteError>>>,
}

impl WriterState {
    /// Commits the open group, if any, and tells its callers.
    pub(super) fn commit_batch(&mut self) -> Result<(), SqliteError> {
        let Some(batch) = self.batch.take() else {
            return Ok(());
        };
        let outcome = match self.conn.run("COMMIT") {
            Ok(()) => Ok(()),
            Err(error) => {
                let error = SqliteError::from(error);
                // Each caller logs the failure it answers: one line per
                // failed write, not one more here.
                tracing::debug!(%error, transactions = batch.released, "SQLite group commit failed");
                // A failed COMMIT may leave the transaction open.
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(error)
            }
        };
        batch.outcome.send_replace(Some(outcome.clone()));
        outcome
    }

    /// Undoes the open group (its transactions are lost) and tells its callers.
    pub(super) fn abandon_batch(&mut self, error: SqliteError) {
        let _ = self.conn.execute_batch("ROLLBACK");
        if let Some(batch) = self.batch.take() {
            batch.outcome.send_replace(Some(Err(error)));
        }
    }
}

/// Counts a caller queued for the writer while it waits.
pub(super) struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    pub(super) fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Writer {
    pub(super) fn is_queued(&self) -> bool {
        self.queued.load(Ordering::SeqCst) > 0
    }

    /// Commits the open group when nobody queued is left to: it may hold
    /// others' released transactions, and it holds the write lock.
    pub(super) fn close_if_idle(&self, state: &mut WriterState) {
        if !self.is_queued() {
            let _ = state.commit_batch();
        }
    }

    pub(super) async fn begin(self: &Arc<Self>) -> Result<Tx, sqlx::Error> {
        let mut state = {
            let _queued = Queued::new(&self.queued);
            self.conn.clone().lock_owned().await
        };
        if state.batch.is_none() {
            // IMMEDIATE takes the write lock up front: another process
            // holding it (the operator commands) makes us wait out the busy
            // timeout instead of failing when a read turns into a write.
            begin_immediate(&mut state.conn).await?;
            let (outcome, _) = watch::channel(None);
            state.batch = Some(Batch {
                id: self.batches.fetch_add(1, Ordering::Relaxed),
                released: 0,
                opened: Instant::now(),
                outcome,
            });
        }
        if let Err(error) = state.conn.run("SAVEPOINT tx") {
            let error = SqliteError::from(error);
            state.abandon_batch(error.clone());
            return Err(error.into());
        }
        Ok(Tx {
            state: Some(state),
            writer: Arc::clone(self),
        })
    }
}

/// `BEGIN IMMEDIATE`, waiting for another process's write lock (the
/// operator commands) for up to [`BUSY_TIMEOUT`]. The writer's connection
/// has no busy timeout of its own: SQLite would wait inside the call,
/// holding up a runtime thread where no deadline can interrupt it; here the
/// wait is a sleep that a request's deadline cancels.
pub(super) async fn begin_immediate(conn: &mut Connection) -> Result<(), sqlx::Error> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match conn.run("BEGIN IMMEDIATE") {
            Ok(()) => return Ok(()),
            Err(error) => {
                let error = SqliteError::from(error);
                let busy = error.code.is_some_and(|code| matches!(code & 0xff, 5 | 6));
                if !busy || started.elapsed() >= BUSY_TIMEOUT {
                    return Err(error.into());
                }
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// A write transaction: a savepoint in the open group.
pub struct Tx {
    pub(super) state: Option<OwnedMutexGuard<WriterState>>,
    pub(super) writer: Arc<Writer>,
}

impl Deref for Tx {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.state.as_ref().expect("open transaction").conn
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.state.as_mut().expect("open transaction").conn
    }
}

impl Tx {
    pub(super) async fn commit(mut self) -> Result<(), sqlx::Error> {
        let mut state = self.state.take().expect("open transaction");
        if let Err(error) = state.conn.run("RELEASE tx") {
            let error = SqliteError::from(error);
            state.abandon_batch(error.clone());
            return Err(error.into());
        }
        let batch = state.batch.as_mut().expect("a transaction is in a batch");
        batch.released += 1;
        let full = batch.released >= MAX_BATCH || batch.opened.elapsed() >= MAX_BATCH_AGE;
        if !self.writer.group_commit || full {
            return state.commit_batch().map_err(Into::into);
        }
        if !self.writer.is_queued() {
            // A transaction runs without a pause, so other writers can
            // only queue behind this one while it lets them: give the
            // requests ready to run their turn first, once.
            let mut holding = Holding {
                state: Some(state),
                writer: &self.writer,
            };
            tokio::task::yield_now().await;
            state = holding.state.take().expect("held");
            if !self.writer.is_queued() {
                return state.commit_batch().map_err(Into::into);
            }
        }
        let batch = state.batch.as_mut().expect("a transaction is in a batch");
        // Others are queued: the last of them commits for us.
        let id = batch.id;
        let mut outcome = batch.outcome.subscribe();
        let settled = outcome.clone();
        drop(state);
        let mut waiter = BatchWaiter {
            writer: &self.writer,
            id,
        };
        let result = tokio::select! {
            biased;
            done = outcome.wait_for(Option::is_some) => match done {
                Ok(done) => done.clone().expect("is some"),
                Err(_) => Err(SqliteError::message("the group commit was dropped")),
            },
            // The queue broke up (its callers gave up): commit it ourselves.
            mut state = self.writer.conn.clone().lock_owned() => {
                if state.batch.as_ref().is_some_and(|b| b.id == id) {
                    state.commit_batch()
                } else {
                    settled.borrow().clone().unwrap_or(Ok(()))
                }
            }
        };
        waiter.id = u64::MAX;
        result.map_err(Into::into)
    }
}

impl Drop for Tx {
    /// Rolls the transaction back: its savepoint, or the whole group if the
    /// savepoint is gone (SQLite rolled the transaction back itself).
    fn drop(&mut self) {
        let Some(mut state) = self.state.take() else {
            return;
        };
        if let Err(error) = state.conn.execute_batch("ROLLBACK TO tx; RELEASE tx") {
            state.abandon_batch(SqliteError::from(error));
            return;
        }
        self.writer.close_if_idle(&mut state);
    }
}

/// The connection held across a pause after a release; given up (a
/// deadline) with nobody queued, it commits the group itself.
pub(super) struct Holding<'a> {
    pub(super) state: Option<OwnedMutexGuard<WriterState>>,
    pub(super) writer: &'a Arc<Writer>,
}

impl Drop for Holding<'_> {
    fn drop(&mut self) {
        if let Some(mut state) = self.state.take() {
            self.writer.close_if_idle(&mut state);
        }
    }
}

/// A caller waiting for its group to commit; if it gives up (a deadline),
/// it commits the group itself when the connection is free, so that an
/// open group never outlives its callers.
pub(super) struct BatchWaiter<'a> {
    pub(super) writer: &'a Arc<Writer>,
    pub(super) id: u64,
}

impl Drop for BatchWaiter<'_> {
    fn drop(&mut self) {
        if self.id == u64::MAX {
            return;
        }
        if let Ok(mut state) = self.writer.conn.try_lock() {
            if state.batch.as_ref().is_some_and(|b| b.id == self.id) {
                let _ = state.commit_batch();
            }
        }
    }
}
