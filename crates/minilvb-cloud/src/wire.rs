//! Request bodies and the response envelope of the five actions, as the
//! documentation spells them.
//!
//! Invariants: parameter names and types are the documented ones
//! (PascalCase, optional ones left out rather than sent as null); every
//! answer is read as `{"Response": {..., "RequestId": "..."}}` or
//! `{"Response": {"Error": {"Code", "Message"}, "RequestId"}}`, and anything
//! else is [`CloudError::Malformed`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::CloudError;
use crate::tc3;

/// A product of the cloud API: its signing service name and API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Live,
    Vod,
}

impl Service {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Vod => "vod",
        }
    }

    pub(crate) fn version(self) -> &'static str {
        match self {
            Self::Live => LIVE_VERSION,
            Self::Vod => VOD_VERSION,
        }
    }
}

/// `X-TC-Version` of the live streaming API.
pub const LIVE_VERSION: &str = "2018-08-01";
/// `X-TC-Version` of the VOD API.
pub const VOD_VERSION: &str = "2018-07-17";

/// DropLiveStream, ResumeLiveStream: all three are required.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StreamParams<'a> {
    pub domain_name: &'a str,
    pub app_name: &'a str,
    pub stream_name: &'a str,
}

/// ForbidLiveStream. `ResumeTime` is UTC `YYYY-MM-DDThh:mm:ssZ`; without it
/// the cloud forbids for 7 days. `Reason` is at most 2048 bytes.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ForbidParams<'a> {
    pub domain_name: &'a str,
    pub app_name: &'a str,
    pub stream_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
}

/// DescribeLiveStreamOnlineList; pages count from 1.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct OnlineListParams<'a> {
    pub domain_name: &'a str,
    pub app_name: &'a str,
    pub page_num: u32,
    pub page_size: u32,
}

/// VOD DeleteMedia. `SubAppId` is required for accounts opened since
/// 2023-12-25 and for resources outside the default application.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeleteMediaParams<'a> {
    pub file_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_app_id: Option<u64>,
}

/// One page of DescribeLiveStreamOnlineList's answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct OnlineListPage {
    pub total_num: u64,
    pub total_page: u64,
    #[serde(default)]
    pub online_info: Option<Vec<StreamOnlineInfo>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StreamOnlineInfo {
    pub stream_name: String,
    #[serde(default)]
    pub app_name: Option<String>,
    #[serde(default)]
    pub domain_name: Option<String>,
    #[serde(default)]
    pub publish_time_list: Option<Vec<PublishTime>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PublishTime {
    pub publish_time: String,
}

/// A stream the cloud reports as being pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineStream {
    pub domain: String,
    pub app: String,
    pub stream: String,
    /// When each push began, as the cloud wrote it (`YYYY-MM-DDThh:mm:ssZ`).
    pub publish_times: Vec<String>,
}

impl OnlineStream {
    /// The latest push start as Unix seconds, if any is readable.
    pub fn last_published_at(&self) -> Option<i64> {
        self.publish_times
            .iter()
            .filter_map(|t| tc3::parse_utc_iso8601(t))
            .max()
    }

    pub(crate) fn from_info(info: StreamOnlineInfo, domain: &str, app: &str) -> Self {
        Self {
            domain: info
                .domain_name
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| domain.to_owned()),
            app: info
                .app_name
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| app.to_owned()),
            stream: info.stream_name,
            publish_times: info
                .publish_time_list
                .unwrap_or_default()
                .into_iter()
                .map(|p| p.publish_time)
                .collect(),
        }
    }
}

/// A successful answer: its RequestId and the other fields of `Response`.
#[derive(Debug)]
pub(crate) struct Answer {
    pub request_id: String,
    pub fields: Map<String, Value>,
}

/// Reads the envelope: `Ok` for a success, `Err(Api)` for the cloud's error
/// object, `Err(Malformed)` for anything else.
pub(crate) fn read_envelope(action: &'static str, body: &[u8]) -> Result<Answer, CloudError> {
    let malformed = |detail: String| CloudError::Malformed { action, detail };
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("not JSON ({e}): {}", snippet(body))))?;
    let Some(Value::Object(mut response)) = value.get("Response").cloned() else {
        return Err(malformed(format!("no Response object: {}", snippet(body))));
    };
    let request_id = match response.remove("RequestId") {
        Some(Value::String(id)) if !id.is_empty() => Some(id),
        _ => None,
    };
    if let Some(error) = response.remove("Error") {
        let text = |key: &str| error.get(key).and_then(Value::as_str).map(str::to_owned);
        let code = text("Code").ok_or_else(|| malformed("an Error without a Code".into()))?;
        return Err(CloudError::Api {
            action,
            code,
            message: text("Message").unwrap_or_default(),
            request_id: request_id.unwrap_or_else(|| "none".to_owned()),
        });
    }
    let request_id = request_id.ok_or_else(|| malformed("a success without a RequestId".into()))?;
    Ok(Answer {
        request_id,
        fields: response,
    })
}

/// Reads the fields of a successful answer into `T`.
pub(crate) fn read_fields<T: for<'de> Deserialize<'de>>(
    action: &'static str,
    answer: Answer,
) -> Result<T, CloudError> {
    serde_json::from_value(Value::Object(answer.fields)).map_err(|e| CloudError::Malformed {
        action,
        detail: format!("unexpected fields: {e}"),
    })
}

/// The start of a body, for error messages: bounded, one line.
fn snippet(body: &[u8]) -> String {
    const MAX: usize = 120;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX)]);
    let mut line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if body.len() > MAX {
        line.push('…');
    }
    if line.trim().is_empty() {
        "(empty body)".to_owned()
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_success_yields_its_request_id_and_fields() {
        let answer = read_envelope(
            "DescribeLiveStreamOnlineList",
            br#"{"Response":{"TotalNum":0,"TotalPage":0,"OnlineInfo":[],"RequestId":"abc"}}"#,
        )
        .unwrap();
        assert_eq!(answer.request_id, "abc");
        let page: OnlineListPage = read_fields("DescribeLiveStreamOnlineList", answer).unwrap();
        assert_eq!((page.total_num, page.total_page), (0, 0));
    }

    #[test]
    fn an_error_object_becomes_an_api_error() {
        let err = read_envelope(
            "DropLiveStream",
            br#"{"Response":{"Error":{"Code":"InternalError","Message":"busy"},"RequestId":"r-1"}}"#,
        )
        .unwrap_err();
        assert_eq!(
            err,
            CloudError::Api {
                action: "DropLiveStream",
                code: "InternalError".into(),
                message: "busy".into(),
                request_id: "r-1".into()
            }
        );
    }

    #[test]
    fn answers_outside_the_envelope_are_malformed_with_a_readable_snippet() {
        for (body, why) in [
            (&b"<html>502 Bad Gateway</html>"[..], "not JSON"),
            (b"", "(empty body)"),
            (br#"{"response":{}}"#, "no Response object"),
            (br#"{"Response":[]}"#, "no Response object"),
            (br#"{"Response":{}}"#, "without a RequestId"),
            (
                br#"{"Response":{"Error":{"Message":"x"},"RequestId":"r"}}"#,
                "without a Code",
            ),
        ] {
            let err = read_envelope("DeleteMedia", body).unwrap_err();
            assert!(matches!(err, CloudError::Malformed { .. }), "{err}");
            assert!(err.to_string().contains(why), "{err}");
        }
    }

    #[test]
    fn parameters_serialise_with_documented_names_and_no_nulls() {
        let forbid = ForbidParams {
            domain_name: "d",
            app_name: "live",
            stream_name: "s",
            resume_time: None,
            reason: Some("r"),
        };
        assert_eq!(
            serde_json::to_string(&forbid).unwrap(),
            r#"{"DomainName":"d","AppName":"live","StreamName":"s","Reason":"r"}"#
        );
        let delete = DeleteMediaParams {
            file_id: "f",
            sub_app_id: None,
        };
        assert_eq!(serde_json::to_string(&delete).unwrap(), r#"{"FileId":"f"}"#);
    }

    #[test]
    fn an_online_stream_takes_the_request_domain_when_the_answer_omits_it() {
        let info: StreamOnlineInfo = serde_json::from_str(
            r#"{"StreamName":"s","PublishTimeList":[{"PublishTime":"2018-06-29T19:00:00Z"},{"PublishTime":"bad"}]}"#,
        )
        .unwrap();
        let stream = OnlineStream::from_info(info, "push.example.com", "live");
        assert_eq!(
            (stream.domain.as_str(), stream.app.as_str()),
            ("push.example.com", "live")
        );
        assert_eq!(stream.last_published_at(), Some(1_530_298_800));
    }
}
