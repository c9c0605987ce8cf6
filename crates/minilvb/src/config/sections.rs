//! The sections of the configuration, each with its defaults.

use super::*;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address of the public port (protocol, callbacks, health).
    pub listen: String,
    /// Largest request body accepted; larger gets a 4001 envelope (HTTP 413).
    pub max_body_bytes: usize,
    /// On SIGTERM/SIGINT, how long in-flight requests may take to finish.
    pub shutdown_drain_secs: u64,
    /// Time for a request, from its headers to the reply: a body still not
    /// received then gets HTTP 408, an action still running HTTP 504.
    pub request_timeout_secs: u64,
    /// Time for a request's headers to arrive (and for an idle keep-alive
    /// connection to send its next request); then the connection is closed
    /// (with HTTP 408 when no request was served on it yet).
    pub header_read_timeout_secs: u64,
    /// Time for a request's body to arrive once its headers have (within
    /// `request_timeout_secs`); then HTTP 408. Reading a body holds no
    /// place among the requests handled at once.
    pub body_read_timeout_secs: u64,
    /// Requests handled at once; more are shed at once with HTTP 503.
    pub max_concurrent_requests: usize,
    /// Connections held at once from one client address (the peer's; the
    /// `trusted_proxies` are not capped); more are answered 503 and closed.
    pub max_connections_per_ip: usize,
    /// Connections held at once in all; 0: as many as the open-file limit
    /// (raised to its hard limit at start) leaves room for, and never more.
    pub max_connections: usize,
    /// Addresses (or networks, `10.0.0.0/8`) of reverse proxies whose
    /// `client_ip_header` names the client; empty: the peer is the client.
    pub trusted_proxies: Vec<String>,
    /// The header a trusted proxy puts the client address in
    /// (`X-Forwarded-For`, or `X-Real-IP`).
    pub client_ip_header: String,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            max_body_bytes: 64 * 1024,
            shutdown_drain_secs: 10,
            request_timeout_secs: 30,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 5,
            max_concurrent_requests: 512,
            max_connections_per_ip: 64,
            max_connections: 0,
            trusted_proxies: Vec::new(),
            client_ip_header: "x-forwarded-for".into(),
        }
    }
}

/// Limits on what a protocol request may contain.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// userid, groupid, fileid, liveuserid.
    pub id_bytes: usize,
    /// titles, nicknames, locations.
    pub name_bytes: usize,
    /// headpic, frontcover.
    pub url_bytes: usize,
    /// Arrays and objects nested deeper than this are a 4001 error (the apps send 2).
    pub json_depth: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        let defaults = minilvb_protocol::Limits::default();
        Self {
            id_bytes: defaults.id,
            name_bytes: defaults.name,
            url_bytes: defaults.url,
            json_depth: defaults.depth,
        }
    }
}

impl LimitSettings {
    pub fn protocol(&self) -> minilvb_protocol::Limits {
        minilvb_protocol::Limits {
            id: self.id_bytes,
            name: self.name_bytes,
            url: self.url_bytes,
            depth: self.json_depth,
        }
    }
}

/// Per-client-address request budgets (token buckets: a steady rate and a
/// burst). Over budget answers 4003 `frequency control`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    pub enabled: bool,
    /// Every protocol request.
    pub requests_per_sec: f64,
    pub requests_burst: u32,
    /// ChangeCount (likes), on top of the general budget.
    pub likes_per_sec: f64,
    pub likes_burst: u32,
    /// RequestLVBAddr, on top of the general budget.
    pub request_addr_per_sec: f64,
    pub request_addr_burst: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        // Generous: many viewers of a mobile network may share one address.
        Self {
            enabled: true,
            requests_per_sec: 50.0,
            requests_burst: 200,
            likes_per_sec: 10.0,
            likes_burst: 40,
            request_addr_per_sec: 0.2,
            request_addr_burst: 10,
        }
    }
}

/// Optional caller authentication with the Tencent IM UserSig.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Off by default: the stock apps send no credential.
    pub enabled: bool,
    /// The IM application's SDKAppID.
    pub sdkappid: u64,
    /// The IM application's secret key, which signs UserSigs.
    pub secret_key: Secret,
    /// The request header carrying the UserSig.
    pub header: String,
    /// The Actions that require it.
    pub actions: Vec<String>,
}

/// The Actions that act for a userid and change something of theirs or
/// hand out signed URLs, and the upload signatures (which hand out upload
/// rights to anyone who asks).
pub const DEFAULT_AUTH_ACTIONS: [&str; 10] = [
    "RequestLVBAddr",
    "ChangeStatus",
    "StopLVB",
    "RequestLVBAddrForLinkMic",
    "RequestPlayUrlWithSignForLinkMic",
    "GetCOSSign",
    "GetCOSSignV2",
    "GetVodSignatureV2",
    "EnterGroup",
    "QuitGroup",
];

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            sdkappid: 0,
            secret_key: Secret::default(),
            header: "x-usersig".into(),
            actions: DEFAULT_AUTH_ACTIONS
                .iter()
                .map(|a| (*a).to_owned())
                .collect(),
        }
    }
}

/// The Prometheus endpoint, on its own address (keep it off the public port).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// e.g. `127.0.0.1:9898`; empty: no metrics endpoint.
    pub listen: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveSettings {
    /// The LVB account's BIZID (the prefix of stream ids and default domains).
    #[serde(deserialize_with = "stringish")]
    pub bizid: String,
    /// The push anti-leech key.
    pub push_key: Secret,
    /// The callback (API) key that signs the cloud's event callbacks.
    pub api_key: Secret,
    /// A second callback key, accepted as well while set (for key rotation).
    pub api_key_secondary: Secret,
    /// The play anti-leech key for RequestPlayUrlWithSignForLinkMic; empty
    /// means the push key (the cloud's low-latency play checks it).
    pub play_key: Secret,
    /// Push domain; empty means `BIZID.livepush2.myqcloud.com` (the original's),
    /// filled in when the settings are loaded.
    pub push_domain: String,
    /// Play domain; empty means `BIZID.liveplay.myqcloud.com`.
    pub play_domain: String,
    /// Push URL lifetime (`txTime` = now + this).
    pub push_url_ttl_secs: u32,
    /// Formats the cloud records, as in the push URL (`flv|hls`); empty: no recording.
    pub record: String,
    /// `record_interval` in the push URL, seconds.
    pub record_interval: u32,
    /// FetchList flags 2 and 3 show recordings that ended within this many days.
    pub recordings_window_days: u32,
    /// Sets a room offline when it has been online this long with no
    /// push-begin callback and no ChangeStatus; 0 turns this off.
    pub online_timeout_secs: u64,
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            bizid: String::new(),
            push_key: Secret::default(),
            api_key: Secret::default(),
            push_domain: String::new(),
            play_domain: String::new(),
            push_url_ttl_secs: 3 * 3600,
            record: "flv|hls".into(),
            record_interval: 10800,
            recordings_window_days: 7,
            online_timeout_secs: 0,
            api_key_secondary: Secret::default(),
            play_key: Secret::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CosSettings {
    #[serde(deserialize_with = "stringish")]
    pub appid: String,
    pub bucket: String,
    pub secret_id: Secret,
    pub secret_key: Secret,
    /// The bucket's region (e.g. `ap-guangzhou`), passed to clients by GetCOSSignV2.
    pub region: String,
    /// Lifetime of a GetCOSSign / GetCOSSignV2 signature (the original: 30 s).
    pub sign_ttl_secs: u32,
}

impl Default for CosSettings {
    fn default() -> Self {
        Self {
            appid: String::new(),
            bucket: String::new(),
            secret_id: Secret::default(),
            secret_key: Secret::default(),
            region: String::new(),
            sign_ttl_secs: 30,
        }
    }
}

/// Video-on-demand client uploads (GetVodSignatureV2).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VodSettings {
    pub secret_id: Secret,
    pub secret_key: Secret,
    /// A task flow the cloud runs on each uploaded file; empty for none.
    pub procedure: String,
    /// Lifetime of an upload signature.
    pub sign_ttl_secs: u32,
}

impl Default for VodSettings {
    fn default() -> Self {
        Self {
            secret_id: Secret::default(),
            secret_key: Secret::default(),
            procedure: String::new(),
            sign_ttl_secs: 86_400,
        }
    }
}

/// The cloud's stream event callbacks.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallbackSettings {
    /// A notice is accepted until this long after its `t`, the notice's
    /// expiry. 0: the cloud sends `t` as the expiry (since 2017 at least);
    /// 600 would serve the old meaning of `t` (the event time).
    pub max_age_secs: u64,
    /// A notice whose `t` is further ahead than this is rejected: the
    /// cloud's is 600 s ahead, plus room for clock differences.
    pub max_future_secs: u64,
    /// A notice whose event time (event, recording, screenshot) is further
    /// ahead of this server's clock than this is rejected.
    pub max_event_skew_secs: u64,
    /// Recordings not longer than this are ignored (the original: 60 s).
    pub min_recording_secs: i64,
    /// Hosts recording and screenshot URLs may be on: `host`, `*.domain`,
    /// or `*` for any.
    pub allowed_media_hosts: Vec<String>,
    /// Addresses or networks notices may come from; empty: any.
    pub allowed_sources: Vec<String>,
}

impl Default for CallbackSettings {
    fn default() -> Self {
        Self {
            max_age_secs: 0,
            max_future_secs: 900,
            max_event_skew_secs: 60,
            min_recording_secs: 60,
            allowed_media_hosts: minilvb_protocol::cloud::media_hosts::DEFAULT_MEDIA_HOSTS
                .iter()
                .map(|h| (*h).to_owned())
                .collect(),
            allowed_sources: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemberSettings {
    pub order: MemberOrder,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// A tracing filter such as `info` or `minilvb=debug`; `RUST_LOG` wins when set.
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}
