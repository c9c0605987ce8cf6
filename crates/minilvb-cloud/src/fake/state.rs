//! What the fake cloud remembers, and the five actions over it, with the
//! parameter rules of their documentation: unknown parameters are refused
//! (`UnknownParameter`), required ones must be present (`MissingParameter`)
//! and of the documented type (`InvalidParameter`), and values must be in
//! the documented ranges (`InvalidParameterValue`).

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};

use crate::tc3;

/// The cloud's default forbid when no ResumeTime is given.
const DEFAULT_FORBID_SECONDS: i64 = 7 * 86_400;
const MAX_FORBID_SECONDS: i64 = 90 * 86_400;
const MAX_REASON_BYTES: usize = 2048;

/// A stream as the cloud names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamKey {
    pub domain: String,
    pub app: String,
    pub stream: String,
}

impl StreamKey {
    pub fn new(domain: &str, app: &str, stream: &str) -> Self {
        Self {
            domain: domain.to_owned(),
            app: app.to_owned(),
            stream: stream.to_owned(),
        }
    }
}

/// A forbidden stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forbidden {
    /// When pushing is allowed again, Unix seconds.
    pub resume_at: i64,
    /// `ResumeTime` exactly as received, if one was.
    pub resume_time: Option<String>,
    pub reason: Option<String>,
}

/// An error answer: the envelope's `Code` and `Message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub code: String,
    pub message: String,
}

impl Refusal {
    pub(crate) fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// The service (credential scope) and API version an action belongs to.
pub(crate) fn service_of(action: &str) -> Option<(&'static str, &'static str)> {
    match action {
        "DropLiveStream"
        | "ForbidLiveStream"
        | "ResumeLiveStream"
        | "DescribeLiveStreamOnlineList" => Some(("live", crate::LIVE_VERSION)),
        "DeleteMedia" => Some(("vod", crate::VOD_VERSION)),
        _ => None,
    }
}

#[derive(Debug, Default)]
pub(crate) struct CloudState {
    /// Streams being pushed, with when the push began.
    pub online: BTreeMap<StreamKey, i64>,
    pub forbidden: BTreeMap<StreamKey, Forbidden>,
    /// Every stream DropLiveStream was called for, in order.
    pub dropped: Vec<StreamKey>,
    /// Media file ids, with the VOD application each belongs to.
    pub media: HashMap<String, Option<u64>>,
}

type Fields = Map<String, Value>;

impl CloudState {
    /// Carries out one verified action; the fields of a successful answer.
    pub(crate) fn apply(
        &mut self,
        action: &str,
        params: &Fields,
        now: i64,
    ) -> Result<Fields, Refusal> {
        match action {
            "DropLiveStream" => {
                known(params, &["DomainName", "AppName", "StreamName"])?;
                let key = stream_key(params)?;
                // Documented: dropping a stream that is not live succeeds.
                self.online.remove(&key);
                self.dropped.push(key);
                Ok(Fields::new())
            }
            "ForbidLiveStream" => {
                known(
                    params,
                    &[
                        "DomainName",
                        "AppName",
                        "StreamName",
                        "ResumeTime",
                        "Reason",
                    ],
                )?;
                let key = stream_key(params)?;
                let resume_time = string(params, "ResumeTime")?;
                let resume_at = match &resume_time {
                    None => now + DEFAULT_FORBID_SECONDS,
                    Some(text) => tc3::parse_utc_iso8601(text).ok_or_else(|| {
                        Refusal::new(
                            "InvalidParameterValue",
                            format!("ResumeTime `{text}` is not UTC like 2018-11-29T19:00:00Z"),
                        )
                    })?,
                };
                if resume_at <= now || resume_at - now > MAX_FORBID_SECONDS {
                    return Err(Refusal::new(
                        "InvalidParameterValue",
                        "ResumeTime must be in the future and at most 90 days away",
                    ));
                }
                let reason = string(params, "Reason")?;
                if reason.as_ref().is_some_and(|r| r.len() > MAX_REASON_BYTES) {
                    return Err(Refusal::new(
                        "InvalidParameterValue",
                        "Reason is longer than 2048 bytes",
                    ));
                }
                self.online.remove(&key);
                self.forbidden.insert(
                    key,
                    Forbidden {
                        resume_at,
                        resume_time,
                        reason,
                    },
                );
                Ok(Fields::new())
            }
            "ResumeLiveStream" => {
                known(params, &["DomainName", "AppName", "StreamName"])?;
                let key = stream_key(params)?;
                self.forbidden.remove(&key);
                Ok(Fields::new())
            }
            "DescribeLiveStreamOnlineList" => self.online_list(params),
            "DeleteMedia" => {
                known(params, &["FileId", "SubAppId", "DeleteParts"])?;
                let file_id = required(params, "FileId")?;
                let sub_app_id = integer(params, "SubAppId")?
                    .map(|id| {
                        u64::try_from(id).map_err(|_| {
                            Refusal::new("InvalidParameterValue", "SubAppId must be positive")
                        })
                    })
                    .transpose()?;
                match self.media.get(&file_id) {
                    Some(owner) if *owner == sub_app_id => {
                        self.media.remove(&file_id);
                        Ok(Fields::new())
                    }
                    _ => Err(Refusal::new(
                        "ResourceNotFound.FileNotExist",
                        format!("The media file `{file_id}` does not exist."),
                    )),
                }
            }
            other => Err(Refusal::new(
                "InvalidAction",
                format!("The action `{other}` does not exist."),
            )),
        }
    }

    fn online_list(&self, params: &Fields) -> Result<Fields, Refusal> {
        known(
            params,
            &["DomainName", "AppName", "PageNum", "PageSize", "StreamName"],
        )?;
        let domain = string(params, "DomainName")?;
        let app = string(params, "AppName")?;
        let stream = string(params, "StreamName")?;
        let page_num = integer(params, "PageNum")?.unwrap_or(1);
        let page_size = integer(params, "PageSize")?.unwrap_or(10);
        if page_num < 1 {
            return Err(Refusal::new(
                "InvalidParameterValue",
                "PageNum must be at least 1",
            ));
        }
        if !(10..=300_000).contains(&page_size) {
            return Err(Refusal::new(
                "InvalidParameterValue",
                "PageSize must be within 10..=300000",
            ));
        }
        let matching: Vec<_> = self
            .online
            .iter()
            .filter(|(key, _)| domain.as_ref().is_none_or(|d| *d == key.domain))
            .filter(|(key, _)| app.as_ref().is_none_or(|a| *a == key.app))
            .filter(|(key, _)| stream.as_ref().is_none_or(|s| *s == key.stream))
            .collect();
        let total = matching.len() as i64;
        let skip = usize::try_from((page_num - 1).saturating_mul(page_size)).unwrap_or(usize::MAX);
        let page: Vec<Value> = matching
            .into_iter()
            .skip(skip)
            .take(page_size as usize)
            .map(|(key, published_at)| {
                json!({
                    "StreamName": key.stream,
                    "AppName": key.app,
                    "DomainName": key.domain,
                    "PublishTimeList": [{"PublishTime": tc3::utc_iso8601(*published_at)}],
                    "PushToDelay": 0,
                })
            })
            .collect();
        let mut fields = Fields::new();
        fields.insert("TotalNum".into(), json!(total));
        fields.insert(
            "TotalPage".into(),
            json!((total + page_size - 1) / page_size),
        );
        fields.insert("PageNum".into(), json!(page_num));
        fields.insert("PageSize".into(), json!(page_size));
        fields.insert("OnlineInfo".into(), Value::Array(page));
        Ok(fields)
    }
}

fn known(params: &Fields, allowed: &[&str]) -> Result<(), Refusal> {
    match params.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(Refusal::new(
            "UnknownParameter",
            format!("The parameter `{unknown}` is not recognized."),
        )),
        None => Ok(()),
    }
}

fn string(params: &Fields, name: &str) -> Result<Option<String>, Refusal> {
    match params.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Refusal::new(
            "InvalidParameter",
            format!("`{name}` must be a string."),
        )),
    }
}

fn required(params: &Fields, name: &str) -> Result<String, Refusal> {
    string(params, name)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Refusal::new(
                "MissingParameter",
                format!("The request is missing `{name}`."),
            )
        })
}

fn integer(params: &Fields, name: &str) -> Result<Option<i64>, Refusal> {
    match params.get(name) {
        None => Ok(None),
        Some(value) => value.as_i64().map(Some).ok_or_else(|| {
            Refusal::new("InvalidParameter", format!("`{name}` must be an integer."))
        }),
    }
}

fn stream_key(params: &Fields) -> Result<StreamKey, Refusal> {
    Ok(StreamKey {
        domain: required(params, "DomainName")?,
        app: required(params, "AppName")?,
        stream: required(params, "StreamName")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(value: Value) -> Fields {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn unknown_missing_and_mistyped_parameters_are_refused_like_the_cloud() {
        let mut state = CloudState::default();
        let cases = [
            (
                "DropLiveStream",
                json!({"DomainName":"d","AppName":"live","StreamName":"s","X":1}),
                "UnknownParameter",
            ),
            (
                "DropLiveStream",
                json!({"DomainName":"d","AppName":"live"}),
                "MissingParameter",
            ),
            (
                "ResumeLiveStream",
                json!({"DomainName":"d","AppName":"live","StreamName":5}),
                "InvalidParameter",
            ),
            (
                "DeleteMedia",
                json!({"FileId":"f","SubAppId":"1"}),
                "InvalidParameter",
            ),
            (
                "DescribeLiveStreamOnlineList",
                json!({"PageSize":5}),
                "InvalidParameterValue",
            ),
            (
                "DescribeLiveStreamOnlineList",
                json!({"PageNum":0}),
                "InvalidParameterValue",
            ),
        ];
        for (action, params, code) in cases {
            let refusal = state.apply(action, &fields(params.clone()), 0).unwrap_err();
            assert_eq!(refusal.code, code, "{action} {params}");
        }
    }

    #[test]
    fn a_forbid_without_resume_time_lasts_the_documented_seven_days() {
        let mut state = CloudState::default();
        let params = fields(json!({"DomainName":"d","AppName":"live","StreamName":"s"}));
        state.apply("ForbidLiveStream", &params, 1_000).unwrap();
        let forbidden = &state.forbidden[&StreamKey::new("d", "live", "s")];
        assert_eq!(forbidden.resume_at, 1_000 + 7 * 86_400);
    }

    #[test]
    fn a_forbid_beyond_ninety_days_or_in_the_past_is_refused() {
        let mut state = CloudState::default();
        let now = 1_700_000_000;
        for at in [now - 1, now + 90 * 86_400 + 1] {
            let params = fields(json!({
                "DomainName":"d","AppName":"live","StreamName":"s","ResumeTime": tc3::utc_iso8601(at)
            }));
            let refusal = state.apply("ForbidLiveStream", &params, now).unwrap_err();
            assert_eq!(refusal.code, "InvalidParameterValue");
        }
        assert!(state.forbidden.is_empty());
    }
}
