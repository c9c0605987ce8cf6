//! Why a cloud API call failed, worded for an operator.
//!
//! Invariant: [`CloudError::retryable`] is true only where trying the same
//! request again can succeed: throttling (`RequestLimitExceeded*`), the
//! cloud's own failures (`InternalError*`, `ServiceUnavailable`, HTTP 5xx),
//! network errors and timeouts. A refusal about the request or the
//! credentials (`AuthFailure.*`, `InvalidParameter*`, `ResourceNotFound*`,
//! `FailedOperation*`, …) is final.

use std::time::Duration;

/// A failed call to the cloud API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloudError {
    /// The cloud answered with its error envelope.
    #[error("the cloud refused {action}: {code}: {message} (RequestId {request_id})")]
    Api {
        action: &'static str,
        code: String,
        message: String,
        request_id: String,
    },
    /// A non-2xx answer without the error envelope (a proxy, a load balancer).
    #[error("the cloud answered {action} with HTTP {status}")]
    Http { action: &'static str, status: u16 },
    /// No answer: connection refused or reset, DNS, TLS.
    #[error("could not reach the cloud for {action}: {detail}")]
    Network {
        action: &'static str,
        detail: String,
    },
    /// No complete answer within the configured time.
    #[error("the cloud did not answer {action} within {}", display_duration(*.timeout))]
    Timeout {
        action: &'static str,
        timeout: Duration,
    },
    /// An answer that is not the documented `{"Response": {...}}` envelope.
    #[error("the cloud's answer to {action} is not the documented envelope: {detail}")]
    Malformed {
        action: &'static str,
        detail: String,
    },
    /// The arguments cannot make a valid request; nothing was sent.
    #[error("cannot call {action}: {detail}")]
    InvalidArgument {
        action: &'static str,
        detail: String,
    },
    /// The client's configuration is unusable.
    #[error("the cloud API client is misconfigured: {0}")]
    Config(String),
}

fn display_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

impl CloudError {
    /// Whether the same request may succeed if sent again.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Api { code, .. } => code_is_retryable(code),
            Self::Http { status, .. } => *status >= 500,
            Self::Network { .. } | Self::Timeout { .. } => true,
            Self::Malformed { .. } | Self::InvalidArgument { .. } | Self::Config(_) => false,
        }
    }

    /// The cloud's error code, when the cloud answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The cloud's RequestId, when the cloud answered with one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Api { request_id, .. } => Some(request_id),
            _ => None,
        }
    }

    /// Whether the cloud said the target does not exist (`ResourceNotFound*`,
    /// `FailedOperation.StreamNotExist`). After a timed-out first attempt of a
    /// deletion this can mean the first attempt did the work.
    pub fn is_not_found(&self) -> bool {
        self.code().is_some_and(|code| {
            code == "ResourceNotFound"
                || code.starts_with("ResourceNotFound.")
                || code == "FailedOperation.StreamNotExist"
        })
    }

    /// A short word for metrics and logs: `refused`, `http_error`, `network`,
    /// `timeout`, `malformed`, `invalid_argument`, `config`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Api { .. } => "refused",
            Self::Http { .. } => "http_error",
            Self::Network { .. } => "network",
            Self::Timeout { .. } => "timeout",
            Self::Malformed { .. } => "malformed",
            Self::InvalidArgument { .. } => "invalid_argument",
            Self::Config(_) => "config",
        }
    }
}

/// `RequestLimitExceeded*`, `InternalError*` and `ServiceUnavailable` are
/// worth another try; every other documented code is about the request.
fn code_is_retryable(code: &str) -> bool {
    let family = code.split('.').next().unwrap_or(code);
    matches!(
        family,
        "RequestLimitExceeded" | "InternalError" | "ServiceUnavailable"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: &str) -> CloudError {
        CloudError::Api {
            action: "DropLiveStream",
            code: code.into(),
            message: "m".into(),
            request_id: "r".into(),
        }
    }

    #[test]
    fn throttling_and_the_clouds_own_failures_are_retryable() {
        for code in [
            "RequestLimitExceeded",
            "RequestLimitExceeded.UinLimitExceeded",
            "RequestLimitExceeded.GlobalRegionUinLimitExceeded",
            "InternalError",
            "InternalError.SystemError",
            "ServiceUnavailable",
        ] {
            assert!(api(code).retryable(), "{code}");
        }
    }

    #[test]
    fn refusals_about_the_request_or_credentials_are_final() {
        for code in [
            "AuthFailure.SignatureFailure",
            "AuthFailure.SignatureExpire",
            "AuthFailure.SecretIdNotFound",
            "InvalidParameter",
            "InvalidParameterValue",
            "InvalidParameter.ResumeTime",
            "MissingParameter",
            "UnknownParameter",
            "ResourceNotFound.FileNotExist",
            "FailedOperation",
            "FailedOperation.StreamNotExist",
            "UnauthorizedOperation",
            "LimitExceeded",
            "RequestLimitExceededButNotReally",
            "InternalErrorish",
        ] {
            assert!(!api(code).retryable(), "{code}");
        }
    }

    #[test]
    fn transport_failures_are_retryable_and_bad_answers_are_not() {
        let action = "DeleteMedia";
        assert!(
            CloudError::Timeout {
                action,
                timeout: Duration::from_secs(10)
            }
            .retryable()
        );
        assert!(
            CloudError::Network {
                action,
                detail: "reset".into()
            }
            .retryable()
        );
        assert!(
            CloudError::Http {
                action,
                status: 502
            }
            .retryable()
        );
        assert!(
            !CloudError::Http {
                action,
                status: 404
            }
            .retryable()
        );
        assert!(
            !CloudError::Malformed {
                action,
                detail: "x".into()
            }
            .retryable()
        );
        assert!(
            !CloudError::InvalidArgument {
                action,
                detail: "x".into()
            }
            .retryable()
        );
    }

    #[test]
    fn an_api_refusal_reads_as_one_operator_friendly_line() {
        let err = CloudError::Api {
            action: "DropLiveStream",
            code: "AuthFailure.SignatureFailure".into(),
            message: "The provided credentials could not be validated.".into(),
            request_id: "ed93f3cb-f35e-473f-b9f3-0d451b8b79c6".into(),
        };
        assert_eq!(
            err.to_string(),
            "the cloud refused DropLiveStream: AuthFailure.SignatureFailure: \
             The provided credentials could not be validated. \
             (RequestId ed93f3cb-f35e-473f-b9f3-0d451b8b79c6)"
        );
        let timeout = CloudError::Timeout {
            action: "DeleteMedia",
            timeout: Duration::from_millis(250),
        };
        assert_eq!(
            timeout.to_string(),
            "the cloud did not answer DeleteMedia within 250 ms"
        );
    }

    #[test]
    fn not_found_covers_the_documented_codes_only() {
        assert!(api("ResourceNotFound.FileNotExist").is_not_found());
        assert!(api("FailedOperation.StreamNotExist").is_not_found());
        assert!(!api("InternalError").is_not_found());
        assert!(
            !CloudError::Http {
                action: "DeleteMedia",
                status: 404
            }
            .is_not_found()
        );
    }
}
