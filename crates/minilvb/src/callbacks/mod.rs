//! The cloud's stream event callbacks (`/callback/Live_callback.php`):
//! push began/ended (event 1/0), a recording file is ready (100), a
//! screenshot was taken (200).
//!
//! Every notice is authenticated (`sign == md5(api_key + t)`, constant time,
//! either of two keys) and must be fresh: `t` is the notice's expiry (the
//! cloud sends the sending time plus 10 minutes), accepted from now until
//! `callback.max_future_secs` ahead. The signature does not cover the body,
//! so what a body can do is bounded too: no event time further ahead than
//! `callback.max_event_skew_secs` (an event from the future would pin a
//! stream's order), no media URL off `callback.allowed_media_hosts`, and,
//! when set, no notice from outside `callback.allowed_sources`.
//! Delivery is at least once and in any order, so every event is idempotent
//! and order-aware. A storage failure answers HTTP 500 so the cloud retries.

pub use minilvb_protocol::cloud::events::{
    playable_format, recording_urls, same_broadcast, sortable_sequence,
};

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use serde::Serialize;

use crate::actions::Context;
use crate::config::Settings;
use crate::telemetry::metrics as m;
use minilvb_protocol::cloud;
use minilvb_protocol::cloud::media_hosts::HostPatterns;
use minilvb_protocol::{ErrorCode, Fields, Limits, ProtocolError, limits};
use minilvb_store::repeated_log::{self, RepeatedLog};
use minilvb_store::{EventOutcome, RecordingFile, RecordingOutcome, StreamEvent};

/// What the cloud gets back. Only HTTP 200 stops its retries; the body is
/// for people reading logs and captures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallbackReply {
    pub code: i32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub msg: String,
    /// HTTP 500 for storage failures, so the notice is delivered again.
    #[serde(skip)]
    pub retry: bool,
    /// The notice's event, for the metrics: `push_began`, `push_ended`,
    /// `recording`, `screenshot`, `other`, or `invalid` when unreadable.
    #[serde(skip)]
    pub event: &'static str,
}

/// Reply codes besides the protocol's 4001/4002.
pub const CODE_BAD_SIGN: i32 = 4010;
pub const CODE_STALE_T: i32 = 4011;
/// A media URL off `callback.allowed_media_hosts`.
pub const CODE_MEDIA_HOST: i32 = 4012;
/// An event time further ahead than `callback.max_event_skew_secs`.
pub const CODE_EVENT_TIME: i32 = 4013;
/// A sender outside `callback.allowed_sources`.
pub const CODE_SOURCE: i32 = 4014;

/// What a notice must satisfy beyond its signature, from the settings.
#[derive(Debug, Clone)]
pub struct CallbackRules {
    media_hosts: HostPatterns,
    sources: Vec<ipnet::IpNet>,
}

impl CallbackRules {
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        Ok(Self {
            media_hosts: settings.media_hosts()?,
            sources: settings.callback_sources()?,
        })
    }

    /// Whether `client` may post notices at all (`callback.allowed_sources`;
    /// empty: anyone, the signature decides).
    pub fn check_source(&self, client: IpAddr) -> Result<(), CallbackReply> {
        if self.sources.is_empty() || self.sources.iter().any(|net| net.contains(&client)) {
            return Ok(());
        }
        Err(refuse(
            "source",
            CODE_SOURCE,
            format!("notices from {client} are not accepted (callback.allowed_sources)"),
        ))
    }
}

fn rejections() -> &'static Arc<RepeatedLog> {
    static LOG: OnceLock<Arc<RepeatedLog>> = OnceLock::new();
    LOG.get_or_init(|| {
        RepeatedLog::new(repeated_log::INTERVAL, |code, times, interval| {
            tracing::warn!(
                code,
                "callback rejected{}",
                repeated_log::repeated(times, interval)
            );
        })
    })
}

/// A notice refused before it is applied, counted by `reason`.
fn refuse(reason: &'static str, code: i32, msg: String) -> CallbackReply {
    metrics::counter!(m::CALLBACKS_REFUSED, "reason" => reason).increment(1);
    CallbackReply::rejected(code, msg)
}

impl CallbackReply {
    fn ok(msg: impl Into<String>) -> Self {
        Self {
            code: 0,
            msg: msg.into(),
            retry: false,
            event: EVENT_INVALID,
        }
    }

    pub fn rejected(code: i32, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
            retry: false,
            event: EVENT_INVALID,
        }
    }

    /// For the metrics: `applied`, `ignored` (deliberately: unknown stream,
    /// repeated or stale notice, ...), `rejected` (malformed, unsigned,
    /// stale `t`) or `failed` (storage; the cloud retries).
    pub fn outcome(&self) -> &'static str {
        if self.retry {
            "failed"
        } else if self.code != 0 {
            "rejected"
        } else if self.msg.starts_with("ignored") {
            "ignored"
        } else {
            "applied"
        }
    }
}

const EVENT_INVALID: &str = "invalid";

impl Event {
    fn label(&self) -> &'static str {
        match self {
            Event::Stream { online: true, .. } => "push_began",
            Event::Stream { online: false, .. } => "push_ended",
            Event::Recording(_) => "recording",
            Event::Screenshot { .. } => "screenshot",
            Event::Other(_) => "other",
        }
    }
}

/// A notice's event, parsed.
#[derive(Debug, Clone, PartialEq)]
enum Event {
    Stream {
        online: bool,
        at: i64,
        sequence: String,
    },
    Recording(RecordingNotice),
    Screenshot {
        url: String,
        taken_at: i64,
    },
    Other(i64),
}

#[derive(Debug, Clone, PartialEq)]
struct RecordingNotice {
    url: String,
    format: String,
    start_time: i64,
    end_time: i64,
    duration: i64,
    file_id: String,
    video_id: String,
}

/// Handles one callback body.
pub async fn handle(ctx: &Context, rules: &CallbackRules, body: &[u8]) -> CallbackReply {
    let mut event = EVENT_INVALID;
    let mut reply = handle_notice(ctx, rules, body, &mut event).await;
    reply.event = event;
    reply
}

async fn handle_notice(
    ctx: &Context,
    rules: &CallbackRules,
    body: &[u8],
    label: &mut &'static str,
) -> CallbackReply {
    // As a request: no key twice, nesting bounded.
    let object = match minilvb_protocol::read_object(body, &Limits::default()) {
        Ok(map) => map,
        Err(_) => {
            return CallbackReply::rejected(
                ErrorCode::InvalidJson.value(),
                "invalid json body: expected a JSON object",
            );
        }
    };
    let fields = Fields::new(&object);
    let now = ctx.clock.now();
    let parsed = (|| {
        let t = fields.required_int("t")?;
        let sign = fields.required_str("sign", 64)?;
        let stream_id = match fields.optional_str("stream_id", limits::ID)? {
            id if id.is_empty() => fields.required_str("channel_id", limits::ID)?,
            id => id,
        };
        // A notice without its own time happened no later than it came.
        let event = parse_event(&fields, t.min(now))?;
        Ok::<_, ProtocolError>((t, sign, stream_id, event))
    })();
    let (t, sign, stream_id, event) = match parsed {
        Ok(parsed) => parsed,
        // The original answered 4002 to missing fields.
        Err(error) => return CallbackReply::rejected(ErrorCode::OutOfRange.value(), error.msg),
    };
    *label = event.label();
    let checked = authenticate(ctx, t, &sign)
        .and_then(|()| check_times(ctx, &event, now))
        .and_then(|()| check_media(rules, &event));
    if let Err(reply) = checked {
        // Anyone can post notices: a flood of them logs once per interval.
        if rejections().first(&reply.code.to_string()) {
            tracing::warn!(%stream_id, t, code = reply.code, reason = %reply.msg, "callback rejected");
        }
        return reply;
    }
    match apply(ctx, &stream_id, event).await {
        Ok(reply) => reply,
        Err(error) => {
            if error.outcome_unknown() {
                metrics::counter!(m::DB_UNKNOWN_OUTCOMES).increment(1);
            }
            if minilvb_store::repeated_log::storage_failures().first(&error.to_string()) {
                tracing::error!(%error, %stream_id, "callback not applied; the cloud will retry");
            }
            CallbackReply {
                code: ErrorCode::Database.value(),
                msg: "storage failure; retry later".into(),
                retry: true,
                event: EVENT_INVALID,
            }
        }
    }
}

/// `unstated`: the time of an event whose notice gives none.
fn parse_event(fields: &Fields<'_>, unstated: i64) -> Result<Event, ProtocolError> {
    Ok(match fields.required_int("event_type")? {
        kind @ (0 | 1) => Event::Stream {
            online: kind == 1,
            at: fields.optional_int("event_time")?.unwrap_or(unstated),
            sequence: sortable_sequence(&fields.optional_str("sequence", limits::ID)?),
        },
        100 => {
            let url = fields.required_str("video_url", limits::URL)?;
            let end_time = fields.required_int("end_time")?;
            let duration = fields.optional_int("duration")?;
            let start_time = match (fields.optional_int("start_time")?, duration) {
                (Some(start), _) => start,
                (None, Some(duration)) => end_time - duration,
                (None, None) => return Err(ProtocolError::missing("start_time")),
            };
            let format = match fields.optional_str("file_format", 16)? {
                f if f.is_empty() => format_of(&url).to_owned(),
                f => f.to_ascii_lowercase(),
            };
            Event::Recording(RecordingNotice {
                duration: duration.unwrap_or(end_time - start_time),
                file_id: fields.optional_str("file_id", limits::ID)?,
                video_id: fields.optional_str("video_id", limits::ID)?,
                url,
                format,
                start_time,
                end_time,
            })
        }
        200 => {
            let mut url = fields.optional_str("pic_full_url", limits::URL)?;
            if url.is_empty() {
                url = fields.required_str("pic_url", limits::URL)?;
            }
            Event::Screenshot {
                url,
                taken_at: fields.optional_int("create_time")?.unwrap_or(unstated),
            }
        }
        other => Event::Other(other),
    })
}

/// The format of a recording URL by its extension.
fn format_of(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    if path.ends_with(".flv") {
        "flv"
    } else if path.ends_with(".m3u8") {
        "hls"
    } else if path.ends_with(".mp4") {
        "mp4"
    } else {
        "unknown"
    }
}

/// The signature under either configured key, then the freshness of `t`:
/// the notice's expiry, so from now (less `callback.max_age_secs`, 0 by
/// default) to `callback.max_future_secs` ahead.
fn authenticate(ctx: &Context, t: i64, sign: &str) -> Result<(), CallbackReply> {
    let live = &ctx.settings.live;
    let t_text = t.to_string();
    let signed = [&live.api_key, &live.api_key_secondary]
        .into_iter()
        .filter(|key| key.is_set())
        .any(|key| cloud::callback_sign_matches(key.expose(), &t_text, sign));
    if !signed {
        return Err(refuse("sign", CODE_BAD_SIGN, "sign check failed".into()));
    }
    let window = &ctx.settings.callback;
    let now = ctx.clock.now();
    if now.saturating_sub(t) > window.max_age_secs as i64 {
        return Err(refuse(
            "expired",
            CODE_STALE_T,
            "notice expired (t, its expiry, has passed)".into(),
        ));
    }
    if t.saturating_sub(now) > window.max_future_secs as i64 {
        return Err(refuse(
            "expired",
            CODE_STALE_T,
            format!(
                "notice not yet valid (t too far ahead: more than callback.max_future_secs = {})",
                window.max_future_secs
            ),
        ));
    }
    Ok(())
}

/// No time in a notice further ahead than `callback.max_event_skew_secs`:
/// an event from the future would outrank every genuine one of its stream
/// (and a recording from the future top the list for good).
fn check_times(ctx: &Context, event: &Event, now: i64) -> Result<(), CallbackReply> {
    let skew = ctx.settings.callback.max_event_skew_secs as i64;
    let (name, time) = match event {
        Event::Stream { at, .. } => ("event_time", *at),
        Event::Recording(notice) => ("end_time", notice.end_time.max(notice.start_time)),
        Event::Screenshot { taken_at, .. } => ("create_time", *taken_at),
        Event::Other(_) => return Ok(()),
    };
    if time.saturating_sub(now) > skew {
        return Err(refuse(
            "event_time",
            CODE_EVENT_TIME,
            format!(
                "{name} {time} is {} s ahead of this server's clock (callback.max_event_skew_secs = {skew})",
                time.saturating_sub(now)
            ),
        ));
    }
    Ok(())
}

/// Recording and screenshot URLs only on the cloud's hosts.
fn check_media(rules: &CallbackRules, event: &Event) -> Result<(), CallbackReply> {
    let url = match event {
        Event::Recording(notice) => &notice.url,
        Event::Screenshot { url, .. } => url,
        _ => return Ok(()),
    };
    rules.media_hosts.check_url(url).map_err(|error| {
        refuse(
            "media_host",
            CODE_MEDIA_HOST,
            format!("media URL refused: {error}"),
        )
    })
}

async fn apply(
    ctx: &Context,
    stream_id: &str,
    event: Event,
) -> Result<CallbackReply, minilvb_store::StoreError> {
    let store = &ctx.store;
    Ok(match event {
        Event::Stream {
            online,
            at,
            sequence,
        } => {
            let outcome = store
                .stream_event(&StreamEvent {
                    stream_id: stream_id.to_owned(),
                    online,
                    at,
                    sequence,
                    now: ctx.clock.now(),
                })
                .await?;
            tracing::info!(%stream_id, online, at, ?outcome, "stream event");
            CallbackReply::ok(match outcome {
                EventOutcome::Applied => "applied",
                EventOutcome::Stale => "ignored: a more recent event was applied",
                EventOutcome::UnknownStream => "ignored: unknown stream",
            })
        }
        Event::Recording(notice) => {
            let min = ctx.settings.callback.min_recording_secs;
            if notice.duration <= min {
                tracing::info!(%stream_id, duration = notice.duration, "recording ignored: too short");
                return Ok(CallbackReply::ok("ignored: recording too short"));
            }
            if !playable_format(&notice.format) {
                tracing::info!(%stream_id, format = %notice.format, "recording ignored: format not playable by the apps");
                return Ok(CallbackReply::ok("ignored: format not playable"));
            }
            let notice_key = match (&notice.video_id, &notice.file_id) {
                (v, _) if !v.is_empty() => format!("video:{v}"),
                (_, f) if !f.is_empty() => format!("file:{f}"),
                _ => format!("url:{}", notice.url),
            };
            let fileid = [&notice.file_id, &notice.video_id]
                .into_iter()
                .find(|id| !id.is_empty())
                .cloned()
                .unwrap_or_else(|| cloud::url_file_id(&notice.url));
            let outcome = store
                .add_recording_file(&RecordingFile {
                    stream_id: stream_id.to_owned(),
                    notice_key,
                    fileid,
                    format: notice.format,
                    url: notice.url,
                    start_time: notice.start_time,
                    end_time: notice.end_time,
                })
                .await?;
            tracing::info!(%stream_id, ?outcome, "recording notice");
            CallbackReply::ok(match outcome {
                RecordingOutcome::Created { .. } => "recording added",
                RecordingOutcome::Merged { .. } => "recording completed",
                RecordingOutcome::Duplicate => "ignored: notice already applied",
                RecordingOutcome::UnknownStream => "ignored: unknown stream",
            })
        }
        Event::Screenshot { url, taken_at } => {
            let known = store.set_snapshot(stream_id, &url, taken_at).await?;
            tracing::info!(%stream_id, known, "screenshot");
            CallbackReply::ok(if known {
                "screenshot kept"
            } else {
                "ignored: unknown stream"
            })
        }
        Event::Other(kind) => {
            tracing::info!(%stream_id, event_type = kind, "callback of an unknown event type ignored");
            CallbackReply::ok("ignored: unknown event type")
        }
    })
}

/// For deployments without callbacks: sets offline the rooms that have been
/// online with no push-begin callback and no ChangeStatus for longer than
/// `live.online_timeout_secs`. Runs until the returned task is dropped.
pub async fn expire_stale_rooms(ctx: Context) {
    let timeout = ctx.settings.live.online_timeout_secs;
    if timeout == 0 {
        return;
    }
    let period = std::time::Duration::from_secs((timeout / 4).clamp(1, 60));
    let mut ticks = tokio::time::interval(period);
    loop {
        ticks.tick().await;
        let cutoff = ctx.clock.now() - timeout as i64;
        match ctx.store.expire_online(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rooms = n, "stale rooms set offline"),
            Err(error) => tracing::warn!(%error, "stale room check failed"),
        }
    }
}
