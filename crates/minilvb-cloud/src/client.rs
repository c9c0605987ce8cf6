//! [`CloudApi`]: typed calls to the live streaming and VOD APIs.
//!
//! Invariants:
//! - Every attempt is signed afresh with the clock's current time, so a retry
//!   after a backoff never carries a stale `X-TC-Timestamp`.
//! - Only errors for which [`CloudError::retryable`] holds are retried, at
//!   most `max_attempts` attempts in all, with full-jitter backoff between.
//! - Arguments that cannot make a valid request are refused before anything
//!   is sent ([`CloudError::InvalidArgument`]).
//! - Telemetry is per HTTP attempt: `minilvb_cloud_api_calls_total{action,
//!   outcome}` and `minilvb_cloud_api_duration_seconds{action}`, and one log
//!   event with action, outcome, code, RequestId, attempt and elapsed time.
//!   Neither the secret key nor the Authorization header is ever logged.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use serde::Serialize;

use crate::config::{CloudConfig, Endpoint};
use crate::error::CloudError;
use crate::wire::{self, Answer, OnlineStream, Service};
use crate::{retry, tc3};

/// Longest ForbidLiveStream the documentation allows.
pub const MAX_FORBID_SECONDS: i64 = 90 * 86_400;
/// Longest forbid reason the documentation allows, in bytes.
pub const MAX_REASON_BYTES: usize = 2048;
/// A bound on paging, in case the cloud's TotalPage is nonsense.
const MAX_ONLINE_LIST_PAGES: u32 = 10_000;

/// A call the cloud accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Called {
    /// The cloud's RequestId, to quote when asking its support.
    pub request_id: String,
    /// HTTP attempts it took, 1 when nothing was retried.
    pub attempts: u32,
}

/// Every stream online, gathered over all pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineList {
    /// In the cloud's order; a stream seen on two pages (the list moves
    /// while it is paged) is kept once.
    pub streams: Vec<OnlineStream>,
    /// One RequestId per page.
    pub request_ids: Vec<String>,
    /// HTTP attempts over all pages.
    pub attempts: u32,
}

type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// A client for Tencent Cloud API 3.0. Cheap to clone; clones share one
/// connection pool.
#[derive(Clone)]
pub struct CloudApi {
    http: reqwest::Client,
    config: Arc<CloudConfig>,
    live: Arc<Endpoint>,
    vod: Arc<Endpoint>,
    clock: Clock,
}

impl std::fmt::Debug for CloudApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudApi")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn system_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn is_header_safe(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b',' | b'/'))
}

impl CloudApi {
    /// Checks the configuration and builds the HTTP client.
    pub fn new(config: CloudConfig) -> Result<Self, CloudError> {
        config.validate()?;
        if !is_header_safe(&config.secret_id) {
            return Err(CloudError::Config(
                "secret_id must be printable ASCII without spaces, commas or slashes".into(),
            ));
        }
        if config.region.as_deref().is_some_and(|r| !is_header_safe(r)) {
            return Err(CloudError::Config("region must be printable ASCII".into()));
        }
        let live = Endpoint::parse("live_endpoint", &config.live_endpoint)?;
        let vod = Endpoint::parse("vod_endpoint", &config.vod_endpoint)?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| CloudError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            config: Arc::new(config),
            live: Arc::new(live),
            vod: Arc::new(vod),
            clock: Arc::new(system_now),
        })
    }

    /// Replaces the clock that stamps requests (Unix seconds), so tests can
    /// pin "now".
    pub fn with_clock(mut self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    pub fn config(&self) -> &CloudConfig {
        &self.config
    }

    /// Cuts the push connection of a stream; the anchor can push again.
    /// Succeeds for a stream that is not live (as documented).
    pub async fn drop_live_stream(
        &self,
        domain: &str,
        app: &str,
        stream: &str,
    ) -> Result<Called, CloudError> {
        self.stream_action("DropLiveStream", domain, app, stream)
            .await
    }

    /// Forbids pushing a stream until `resume_time` (Unix seconds; the cloud's
    /// default is 7 days, its maximum 90), recording `reason`.
    pub async fn forbid_live_stream(
        &self,
        domain: &str,
        app: &str,
        stream: &str,
        resume_time: Option<i64>,
        reason: Option<&str>,
    ) -> Result<Called, CloudError> {
        const ACTION: &str = "ForbidLiveStream";
        require(
            ACTION,
            &[("domain", domain), ("app", app), ("stream", stream)],
        )?;
        let invalid = |detail: String| CloudError::InvalidArgument {
            action: ACTION,
            detail,
        };
        if let Some(at) = resume_time {
            let now = (self.clock)();
            if at <= now {
                return Err(invalid(format!(
                    "resume time {} is not in the future",
                    tc3::utc_iso8601(at)
                )));
            }
            if at - now > MAX_FORBID_SECONDS {
                return Err(invalid(format!(
                    "resume time {} is more than 90 days away, the documented maximum",
                    tc3::utc_iso8601(at)
                )));
            }
        }
        if let Some(reason) = reason.filter(|r| r.len() > MAX_REASON_BYTES) {
            return Err(invalid(format!(
                "the reason is {} bytes, over the documented {MAX_REASON_BYTES}",
                reason.len()
            )));
        }
        let params = wire::ForbidParams {
            domain_name: domain,
            app_name: app,
            stream_name: stream,
            resume_time: resume_time.map(tc3::utc_iso8601),
            reason: reason.filter(|r| !r.is_empty()),
        };
        self.call(Service::Live, ACTION, &params)
            .await
            .map(|(called, _)| called)
    }

    /// Lifts a forbid, so the stream may be pushed again.
    pub async fn resume_live_stream(
        &self,
        domain: &str,
        app: &str,
        stream: &str,
    ) -> Result<Called, CloudError> {
        self.stream_action("ResumeLiveStream", domain, app, stream)
            .await
    }

    /// A live API action whose only parameters name the stream.
    async fn stream_action(
        &self,
        action: &'static str,
        domain: &str,
        app: &str,
        stream: &str,
    ) -> Result<Called, CloudError> {
        require(
            action,
            &[("domain", domain), ("app", app), ("stream", stream)],
        )?;
        let params = wire::StreamParams {
            domain_name: domain,
            app_name: app,
            stream_name: stream,
        };
        self.call(Service::Live, action, &params)
            .await
            .map(|(called, _)| called)
    }

    /// Deletes a VOD media file and everything derived from it. After a
    /// timed-out first attempt, a retry may find the file already gone:
    /// [`CloudError::is_not_found`] tells that case apart.
    pub async fn delete_media(
        &self,
        file_id: &str,
        sub_app_id: Option<u64>,
    ) -> Result<Called, CloudError> {
        const ACTION: &str = "DeleteMedia";
        require(ACTION, &[("file_id", file_id)])?;
        let params = wire::DeleteMediaParams {
            file_id,
            sub_app_id,
        };
        self.call(Service::Vod, ACTION, &params)
            .await
            .map(|(called, _)| called)
    }

    /// Every stream being pushed on `domain`/`app`, over all pages. All or
    /// nothing: a page that fails fails the whole list, so a sweep never
    /// takes a stream missing from a partial list for one gone offline.
    pub async fn describe_live_stream_online_list(
        &self,
        domain: &str,
        app: &str,
    ) -> Result<OnlineList, CloudError> {
        const ACTION: &str = "DescribeLiveStreamOnlineList";
        require(ACTION, &[("domain", domain), ("app", app)])?;
        let mut list = OnlineList {
            streams: Vec::new(),
            request_ids: Vec::new(),
            attempts: 0,
        };
        let mut seen = HashSet::new();
        for page_num in 1..=MAX_ONLINE_LIST_PAGES {
            let params = wire::OnlineListParams {
                domain_name: domain,
                app_name: app,
                page_num,
                page_size: self.config.online_list_page_size,
            };
            let (called, answer) = self.call(Service::Live, ACTION, &params).await?;
            list.request_ids.push(called.request_id);
            list.attempts += called.attempts;
            let page: wire::OnlineListPage = wire::read_fields(ACTION, answer)?;
            let infos = page.online_info.unwrap_or_default();
            let empty = infos.is_empty();
            for info in infos {
                let stream = OnlineStream::from_info(info, domain, app);
                if seen.insert((
                    stream.domain.clone(),
                    stream.app.clone(),
                    stream.stream.clone(),
                )) {
                    list.streams.push(stream);
                }
            }
            let done = u64::from(page_num) >= page.total_page
                || list.streams.len() as u64 >= page.total_num;
            if done || empty {
                return Ok(list);
            }
        }
        Err(CloudError::Malformed {
            action: ACTION,
            detail: format!("still more pages after {MAX_ONLINE_LIST_PAGES}"),
        })
    }

    /// Sends one action with retries; the successful answer and its tally.
    async fn call(
        &self,
        service: Service,
        action: &'static str,
        params: &impl Serialize,
    ) -> Result<(Called, Answer), CloudError> {
        let payload = serde_json::to_vec(params).map_err(|e| CloudError::InvalidArgument {
            action,
            detail: format!("cannot encode the parameters: {e}"),
        })?;
        let max_attempts = self.config.max_attempts;
        let mut attempt = 1;
        loop {
            let started = Instant::now();
            let result = self.attempt(service, action, &payload).await;
            let elapsed = started.elapsed();
            let outcome = match &result {
                Ok(_) => "ok",
                Err(err) => err.outcome(),
            };
            metrics::counter!("minilvb_cloud_api_calls_total", "action" => action, "outcome" => outcome)
                .increment(1);
            metrics::histogram!("minilvb_cloud_api_duration_seconds", "action" => action)
                .record(elapsed.as_secs_f64());
            let elapsed_ms = elapsed.as_millis() as u64;
            match result {
                Ok(answer) => {
                    tracing::info!(
                        action, outcome, request_id = %answer.request_id, attempt, elapsed_ms,
                        "cloud API call succeeded"
                    );
                    let called = Called {
                        request_id: answer.request_id.clone(),
                        attempts: attempt,
                    };
                    return Ok((called, answer));
                }
                Err(err) if err.retryable() && attempt < max_attempts => {
                    let ceiling = retry::ceiling(
                        attempt,
                        self.config.retry_base_delay,
                        self.config.retry_max_delay,
                    );
                    let wait = retry::full_jitter(ceiling, &mut rand::rng());
                    tracing::warn!(
                        action, outcome, code = err.code(), request_id = err.request_id(), attempt,
                        elapsed_ms, retry_in_ms = wait.as_millis() as u64, error = %err,
                        "cloud API call failed; retrying"
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(err) => {
                    tracing::warn!(
                        action, outcome, code = err.code(), request_id = err.request_id(), attempt,
                        elapsed_ms, error = %err,
                        "cloud API call failed"
                    );
                    return Err(err);
                }
            }
        }
    }

    /// One signed HTTP attempt.
    async fn attempt(
        &self,
        service: Service,
        action: &'static str,
        payload: &[u8],
    ) -> Result<Answer, CloudError> {
        let endpoint = match service {
            Service::Live => &self.live,
            Service::Vod => &self.vod,
        };
        let timestamp = (self.clock)();
        let authorization = tc3::authorization(
            &self.config.secret_id,
            self.config.secret_key.expose(),
            service.name(),
            &endpoint.host,
            timestamp,
            payload,
        );
        let mut request = self
            .http
            .post(endpoint.url.clone())
            .header(AUTHORIZATION, authorization)
            .header(CONTENT_TYPE, tc3::CONTENT_TYPE_JSON)
            .header(HOST, &endpoint.host)
            .header("X-TC-Action", action)
            .header("X-TC-Version", service.version())
            .header("X-TC-Timestamp", timestamp.to_string())
            .body(payload.to_vec());
        if let Some(region) = &self.config.region {
            request = request.header("X-TC-Region", region);
        }
        let response = request
            .send()
            .await
            .map_err(|e| self.transport_error(action, &e))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(action, &e))?;
        match wire::read_envelope(action, &body) {
            Err(CloudError::Malformed { .. }) if !status.is_success() => Err(CloudError::Http {
                action,
                status: status.as_u16(),
            }),
            other => other,
        }
    }

    fn transport_error(&self, action: &'static str, err: &reqwest::Error) -> CloudError {
        if err.is_timeout() {
            return CloudError::Timeout {
                action,
                timeout: self.config.timeout,
            };
        }
        // reqwest's own message names only the URL; the cause is in the chain.
        let mut detail = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            detail.push_str(": ");
            detail.push_str(&cause.to_string());
            source = cause.source();
        }
        CloudError::Network { action, detail }
    }
}

/// Refuses empty required arguments before anything is sent.
fn require(action: &'static str, args: &[(&str, &str)]) -> Result<(), CloudError> {
    match args.iter().find(|(_, value)| value.trim().is_empty()) {
        Some((name, _)) => Err(CloudError::InvalidArgument {
            action,
            detail: format!("{name} is empty"),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn the_client_and_its_calls_can_move_to_spawned_tasks() {
        let api = CloudApi::new(CloudConfig::new("AKIDsend", "key")).unwrap();
        assert_send_sync(&api);
        assert_send(&api.drop_live_stream("d", "live", "s"));
        assert_send(&api.forbid_live_stream("d", "live", "s", None, Some("r")));
        assert_send(&api.resume_live_stream("d", "live", "s"));
        assert_send(&api.delete_media("f", Some(1)));
        assert_send(&api.describe_live_stream_online_list("d", "live"));
    }

    #[test]
    fn a_config_that_cannot_go_into_headers_is_refused_at_startup() {
        let bad_id = CloudConfig::new("AKID with space", "key");
        assert!(matches!(CloudApi::new(bad_id), Err(CloudError::Config(_))));
        let bad_region = CloudConfig {
            region: Some("ap/guangzhou".into()),
            ..CloudConfig::new("id", "key")
        };
        assert!(matches!(
            CloudApi::new(bad_region),
            Err(CloudError::Config(_))
        ));
    }
}
