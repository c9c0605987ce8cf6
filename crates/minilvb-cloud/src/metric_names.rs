//! The names of the metrics the client records (through the `metrics`
//! facade); the server describes and exports them with its own.

/// HTTP attempts, by `action` and `outcome` (`ok`, or [`CloudError::outcome`]).
///
/// [`CloudError::outcome`]: crate::CloudError::outcome
pub const CALLS: &str = "minilvb_cloud_api_calls_total";
/// Time of one HTTP attempt, by `action` (a histogram, seconds).
pub const DURATION: &str = "minilvb_cloud_api_duration_seconds";
