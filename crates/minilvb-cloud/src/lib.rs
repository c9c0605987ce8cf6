//! A client for Tencent Cloud API 3.0, as minilvb uses it: moderation (cut a
//! stream, forbid and resume a stream, delete a VOD recording) and the sweep
//! that lists the live streams every minute.
//!
//! - [`tc3`]: the signature v3 rule, `TC3-HMAC-SHA256`, as pure functions
//!   (no I/O, no clock), checked against the documentation's worked example
//!   and against vectors from the official Python SDK.
//! - [`CloudApi`]: typed calls over HTTPS (reqwest, rustls) with bounded,
//!   jittered retries of retryable failures only, tracing and metrics.
//! - [`CloudError`]: one error type whose `Display` is a sentence for an
//!   operator and whose [`CloudError::retryable`] drives the retries.
//! - `fake` (cargo feature `fake`): a local server that verifies every
//!   request's signature like the real API, keeps streams and media, injects
//!   faults and logs calls, for tests here and in the server.
//!
//! ```no_run
//! # async fn run() -> Result<(), minilvb_cloud::CloudError> {
//! use minilvb_cloud::{CloudApi, CloudConfig};
//! let api = CloudApi::new(CloudConfig::new("AKID...", "secret key"))?;
//! let called = api.drop_live_stream("8888.livepush.myqcloud.com", "live", "8888_anchor").await?;
//! println!("dropped, RequestId {}", called.request_id);
//! # Ok(()) }
//! ```

mod client;
mod config;
mod error;
mod retry;
pub use minilvb_protocol::cloud::tc3;
mod wire;

#[cfg(feature = "fake")]
pub mod fake;

pub use client::{Called, CloudApi, MAX_FORBID_SECONDS, MAX_REASON_BYTES, OnlineList};
pub use config::{
    CloudConfig, DEFAULT_LIVE_ENDPOINT, DEFAULT_ONLINE_LIST_PAGE_SIZE, DEFAULT_VOD_ENDPOINT,
    SecretKey,
};
pub use error::CloudError;
pub use wire::{LIVE_VERSION, OnlineStream, VOD_VERSION};
