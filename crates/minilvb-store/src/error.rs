//! A storage failure, and how the apps see one: a plain 2003 whose cause
//! goes to the log and the metrics only.

use std::time::Duration;

use minilvb_protocol::ProtocolError;

/// A storage failure. Its text is for logs only; clients see a plain 2003.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the database did not answer within {0:?}")]
    Timeout(Duration),
    /// The connection was lost, or the deadline passed, while the commit was
    /// on its way: the write may or may not have been applied. Never
    /// acknowledged, and not re-run (a like is not idempotent).
    #[error("outcome unknown: {0}")]
    OutcomeUnknown(Box<StoreError>),
}

impl StoreError {
    /// Whether the write may have been applied although it failed.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, StoreError::OutcomeUnknown(_))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A storage failure reaches the apps as a plain 2003; the cause goes to
/// the log (once per interval for a burst of the same error) and the
/// metrics only.
fn storage_failure(error: &StoreError) -> ProtocolError {
    log_storage_failure(error);
    metrics::counter!(crate::metric_names::DB_ERRORS).increment(1);
    if matches!(error, StoreError::Database(sqlx::Error::PoolTimedOut)) {
        metrics::counter!(crate::metric_names::DB_POOL_TIMEOUTS).increment(1);
    }
    if error.outcome_unknown() {
        metrics::counter!(crate::metric_names::DB_UNKNOWN_OUTCOMES).increment(1);
    }
    ProtocolError::database()
}

/// Logs a storage failure, unless the same failure was logged within the
/// last [`repeated_log::INTERVAL`](crate::repeated_log::INTERVAL): those
/// are counted, and summed up in one line when the interval is over.
pub fn log_storage_failure(error: &StoreError) {
    let text = error.to_string();
    if crate::repeated_log::storage_failures().first(&text) {
        tracing::error!(error = %text, "storage failure");
    }
}

impl From<StoreError> for ProtocolError {
    fn from(error: StoreError) -> Self {
        storage_failure(&error)
    }
}

/// A failure shared by coalesced requests.
impl From<&StoreError> for ProtocolError {
    fn from(error: &StoreError) -> Self {
        storage_failure(error)
    }
}
