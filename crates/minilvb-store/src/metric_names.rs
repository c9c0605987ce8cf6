//! The names of the metrics the store records itself (through the `metrics`
//! facade); the server describes and exports them with its own.

/// Store operations re-run, by `reason` (`conflict`, `connection`).
pub const DB_RETRIES: &str = "minilvb_db_retries_total";
/// Storage failures.
pub const DB_ERRORS: &str = "minilvb_db_errors_total";
/// Storage failures because no connection was free in time.
pub const DB_POOL_TIMEOUTS: &str = "minilvb_db_pool_timeouts_total";
/// Requests answered 2003 (callbacks: HTTP 500) whose write may have been
/// applied anyway (the connection was lost while the commit was on its way).
pub const DB_UNKNOWN_OUTCOMES: &str = "minilvb_db_unknown_outcomes_total";
