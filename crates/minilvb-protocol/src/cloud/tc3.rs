//! Tencent Cloud API 3.0 signature v3, `TC3-HMAC-SHA256`, as pure functions.
//!
//! Invariants:
//! - No I/O and no clock: the request timestamp (Unix seconds) is an argument,
//!   and the credential scope's date is the UTC date of that timestamp (never
//!   a local date: UTC+8 callers would sign the wrong day around midnight).
//! - Only POST with an empty query string is signed, with the two headers the
//!   documentation requires, `content-type` and `host` (`SignedHeaders` is
//!   `content-type;host`). `host` includes the port when the endpoint names
//!   one (`127.0.0.1:8080`), exactly as the Host header is sent.
//! - The payload is hashed as the exact bytes sent: JSON is not re-encoded.
//!
//! Checked against the documentation's worked example (CVM
//! DescribeInstances) and against vectors computed by the official Python SDK
//! (`scripts/tc3-vectors.py`, `tests/tc3_vectors.json`).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// The signature algorithm's name, first word of the Authorization header.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";

/// The Content-Type minilvb sends and signs.
pub const CONTENT_TYPE_JSON: &str = "application/json; charset=utf-8";

/// The headers covered by the signature, in the documented order.
pub const SIGNED_HEADERS: &str = "content-type;host";

const TERMINATOR: &str = "tc3_request";

type HmacSha256 = Hmac<Sha256>;

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The API's UTC time format, `YYYY-MM-DDThh:mm:ssZ`.
const ISO8601: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// A Unix timestamp as a UTC date and time (timestamps beyond year 9999
/// are no time the API knows: they read as the epoch).
fn utc(timestamp: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(timestamp).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The UTC date of a Unix timestamp, `YYYY-MM-DD`: the credential scope's date.
pub fn utc_date(timestamp: i64) -> String {
    utc(timestamp).date().to_string()
}

/// A Unix timestamp in the API's UTC time format, `YYYY-MM-DDThh:mm:ssZ`
/// (ISO 8601, as `ResumeTime` and `PublishTime` use).
pub fn utc_iso8601(timestamp: i64) -> String {
    utc(timestamp)
        .format(ISO8601)
        .expect("every date of years 0 to 9999 formats")
}

/// Reads `YYYY-MM-DDThh:mm:ssZ` back into Unix seconds; `None` for anything
/// else, including impossible dates.
pub fn parse_utc_iso8601(text: &str) -> Option<i64> {
    PrimitiveDateTime::parse(text, ISO8601)
        .ok()
        .map(|at| at.assume_utc().unix_timestamp())
}

/// `DATE/SERVICE/tc3_request`, DATE being the UTC date of `timestamp`.
pub fn credential_scope(timestamp: i64, service: &str) -> String {
    format!("{}/{service}/{TERMINATOR}", utc_date(timestamp))
}

/// The canonical request of a POST to `/` with no query string:
/// `POST\n/\n\ncontent-type:CT\nhost:HOST\n\ncontent-type;host\nhex(sha256(payload))`.
/// Header values are trimmed and lower-cased, as the documentation requires.
pub fn canonical_request(content_type: &str, host: &str, payload: &[u8]) -> String {
    format!(
        "POST\n/\n\ncontent-type:{}\nhost:{}\n\n{SIGNED_HEADERS}\n{}",
        content_type.trim().to_ascii_lowercase(),
        host.trim().to_ascii_lowercase(),
        sha256_hex(payload)
    )
}

/// `TC3-HMAC-SHA256\nTIMESTAMP\nSCOPE\nhex(sha256(canonical_request))`.
pub fn string_to_sign(timestamp: i64, service: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{timestamp}\n{}\n{}",
        credential_scope(timestamp, service),
        sha256_hex(canonical_request.as_bytes())
    )
}

/// The derived key: HMAC chain over `"TC3" + key`, the date, the service and
/// `tc3_request`.
pub fn signing_key(secret_key: &str, date: &str, service: &str) -> [u8; 32] {
    let secret_date = hmac_sha256(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let secret_service = hmac_sha256(&secret_date, service.as_bytes());
    hmac_sha256(&secret_service, TERMINATOR.as_bytes())
}

/// Lower-case hex `HMAC_SHA256(signing_key, string_to_sign)`.
pub fn signature(secret_key: &str, service: &str, timestamp: i64, string_to_sign: &str) -> String {
    let key = signing_key(secret_key, &utc_date(timestamp), service);
    hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()))
}

/// What one request's signature is computed from.
#[derive(Clone, Copy)]
pub struct SigningInput<'a> {
    pub secret_id: &'a str,
    pub secret_key: &'a str,
    /// The product, as in its endpoint: `live`, `vod`, `cvm`.
    pub service: &'a str,
    /// The Host header exactly as sent, with `:PORT` when there is one.
    pub host: &'a str,
    pub content_type: &'a str,
    /// Unix seconds, also sent as `X-TC-Timestamp`.
    pub timestamp: i64,
    /// The request body, byte for byte.
    pub payload: &'a [u8],
}

impl std::fmt::Debug for SigningInput<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningInput")
            .field("secret_id", &self.secret_id)
            .field("secret_key", &"<redacted>")
            .field("service", &self.service)
            .field("host", &self.host)
            .field("content_type", &self.content_type)
            .field("timestamp", &self.timestamp)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

/// Every intermediate piece of a signature, for tests and diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signature: String,
    /// The value of the `Authorization` header.
    pub authorization: String,
}

/// Signs one request.
pub fn sign(input: &SigningInput<'_>) -> Signed {
    let canonical_request = canonical_request(input.content_type, input.host, input.payload);
    let string_to_sign = string_to_sign(input.timestamp, input.service, &canonical_request);
    let signature = signature(
        input.secret_key,
        input.service,
        input.timestamp,
        &string_to_sign,
    );
    let authorization = format!(
        "{ALGORITHM} Credential={}/{}, SignedHeaders={SIGNED_HEADERS}, Signature={signature}",
        input.secret_id,
        credential_scope(input.timestamp, input.service),
    );
    Signed {
        canonical_request,
        string_to_sign,
        signature,
        authorization,
    }
}

/// The `Authorization` header of a JSON POST (`application/json; charset=utf-8`).
pub fn authorization(
    secret_id: &str,
    secret_key: &str,
    service: &str,
    host: &str,
    timestamp: i64,
    payload: &[u8],
) -> String {
    sign(&SigningInput {
        secret_id,
        secret_key,
        service,
        host,
        content_type: CONTENT_TYPE_JSON,
        timestamp,
        payload,
    })
    .authorization
}

/// The parts of an `Authorization` header, as a verifier reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAuthorization<'a> {
    pub secret_id: &'a str,
    pub date: &'a str,
    pub service: &'a str,
    pub signed_headers: &'a str,
    pub signature: &'a str,
}

/// Splits `TC3-HMAC-SHA256 Credential=ID/DATE/SERVICE/tc3_request,
/// SignedHeaders=H, Signature=S`; `None` when it is not of that shape.
pub fn parse_authorization(header: &str) -> Option<ParsedAuthorization<'_>> {
    let rest = header.strip_prefix(ALGORITHM)?.strip_prefix(' ')?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (key, value) = part.trim().split_once('=')?;
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return None,
        };
        if slot.replace(value).is_some() {
            return None;
        }
    }
    let mut scope = credential?.split('/');
    let parsed = ParsedAuthorization {
        secret_id: scope.next().filter(|s| !s.is_empty())?,
        date: scope.next()?,
        service: scope.next()?,
        signed_headers: signed_headers?,
        signature: signature?,
    };
    (scope.next()? == TERMINATOR && scope.next().is_none()).then_some(parsed)
}

/// Whether `claimed_signature` (hex) signs this request; compared in constant
/// time so a verifier leaks nothing about the expected value.
pub fn verify(input: &SigningInput<'_>, claimed_signature: &str) -> bool {
    let Ok(claimed) = hex::decode(claimed_signature) else {
        return false;
    };
    let canonical = canonical_request(input.content_type, input.host, input.payload);
    let to_sign = string_to_sign(input.timestamp, input.service, &canonical);
    let key = signing_key(input.secret_key, &utc_date(input.timestamp), input.service);
    let mut mac = HmacSha256::new_from_slice(&key).expect("HMAC takes a key of any length");
    mac.update(to_sign.as_bytes());
    mac.verify_slice(&claimed).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The documentation's worked example: CVM DescribeInstances, POST, keys
    // AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE / Gu5t9xGARNpq86cd98joQYCN3EXAMPLE.
    const DOC_SECRET_ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
    const DOC_SECRET_KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
    const DOC_TIMESTAMP: i64 = 1_551_113_065;
    const DOC_PAYLOAD: &str =
        r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;

    fn doc_input() -> SigningInput<'static> {
        SigningInput {
            secret_id: DOC_SECRET_ID,
            secret_key: DOC_SECRET_KEY,
            service: "cvm",
            host: "cvm.tencentcloudapi.com",
            content_type: CONTENT_TYPE_JSON,
            timestamp: DOC_TIMESTAMP,
            payload: DOC_PAYLOAD.as_bytes(),
        }
    }

    #[test]
    fn the_documented_payload_hash_is_reproduced() {
        assert_eq!(
            sha256_hex(DOC_PAYLOAD.as_bytes()),
            "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
    }

    #[test]
    fn the_documented_canonical_request_is_reproduced_byte_for_byte() {
        assert_eq!(
            sign(&doc_input()).canonical_request,
            "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\n\
             content-type;host\n35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
    }

    #[test]
    fn the_documented_string_to_sign_is_reproduced() {
        assert_eq!(
            sign(&doc_input()).string_to_sign,
            "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n\
             5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
        );
    }

    #[test]
    fn the_documented_signature_and_authorization_are_reproduced() {
        let signed = sign(&doc_input());
        assert_eq!(
            signed.signature,
            "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
        assert_eq!(
            signed.authorization,
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, \
             SignedHeaders=content-type;host, \
             Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
        assert_eq!(
            authorization(
                DOC_SECRET_ID,
                DOC_SECRET_KEY,
                "cvm",
                "cvm.tencentcloudapi.com",
                DOC_TIMESTAMP,
                DOC_PAYLOAD.as_bytes()
            ),
            signed.authorization
        );
    }

    #[test]
    fn the_scope_date_is_the_utc_date_not_beijing_time() {
        // 2019-02-26 00:44:25 in UTC+8 is still the 25th in UTC (the docs' warning).
        assert_eq!(
            credential_scope(DOC_TIMESTAMP, "cvm"),
            "2019-02-25/cvm/tc3_request"
        );
        assert_eq!(utc_date(1_704_067_199), "2023-12-31");
        assert_eq!(utc_date(1_704_067_200), "2024-01-01");
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(-1), "1969-12-31");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
    }

    #[test]
    fn utc_times_format_and_parse_back() {
        assert_eq!(utc_iso8601(1_543_518_000), "2018-11-29T19:00:00Z");
        assert_eq!(
            parse_utc_iso8601("2018-11-29T19:00:00Z"),
            Some(1_543_518_000)
        );
        for t in [
            0,
            59,
            951_782_399,
            951_868_800,
            1_704_067_199,
            4_102_444_799,
        ] {
            assert_eq!(parse_utc_iso8601(&utc_iso8601(t)), Some(t), "{t}");
        }
    }

    #[test]
    fn malformed_or_impossible_times_are_refused() {
        for bad in [
            "",
            "2018-11-29 19:00:00Z",
            "2018-11-29T19:00:00",
            "2018-11-29T19:00:00+08:00",
            "2018-13-01T00:00:00Z",
            "2019-02-29T00:00:00Z",
            "2018-11-29T24:00:00Z",
            "2018-11-29T23:60:00Z",
            "+018-11-29T19:00:00Z",
            "2018-1a-29T19:00:00Z",
        ] {
            assert_eq!(parse_utc_iso8601(bad), None, "{bad:?}");
        }
        assert_eq!(parse_utc_iso8601("2000-02-29T00:00:00Z"), Some(951_782_400));
    }

    #[test]
    fn an_authorization_parses_into_its_parts() {
        let header = sign(&doc_input()).authorization;
        let parsed = parse_authorization(&header).expect("parses");
        assert_eq!(
            parsed,
            ParsedAuthorization {
                secret_id: DOC_SECRET_ID,
                date: "2019-02-25",
                service: "cvm",
                signed_headers: "content-type;host",
                signature: "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
            }
        );
    }

    #[test]
    fn malformed_authorizations_do_not_parse() {
        for bad in [
            "",
            "TC3-HMAC-SHA256",
            "HMAC-SHA256 Credential=a/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=00",
            "TC3-HMAC-SHA256 Credential=a/2019-02-25/cvm, SignedHeaders=content-type;host, Signature=00",
            "TC3-HMAC-SHA256 Credential=a/2019-02-25/cvm/tc3_request/x, SignedHeaders=h, Signature=00",
            "TC3-HMAC-SHA256 Credential=/2019-02-25/cvm/tc3_request, SignedHeaders=h, Signature=00",
            "TC3-HMAC-SHA256 Credential=a/2019-02-25/cvm/tc3_request, Signature=00",
            "TC3-HMAC-SHA256 Credential=a/d/s/tc3_request, SignedHeaders=h, Signature=0, Signature=1",
            "TC3-HMAC-SHA256 Credential=a/d/s/tc3_request, SignedHeaders=h, Signature=0, Token=x",
        ] {
            assert_eq!(parse_authorization(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn verify_accepts_the_right_signature_and_nothing_else() {
        let input = doc_input();
        let good = sign(&input).signature;
        assert!(verify(&input, &good));
        let mut flipped = good.clone().into_bytes();
        flipped[0] = if flipped[0] == b'7' { b'8' } else { b'7' };
        assert!(!verify(&input, std::str::from_utf8(&flipped).unwrap()));
        assert!(!verify(&input, "not hex"));
        assert!(!verify(
            &SigningInput {
                host: "cvm.tencentcloudapi.com:443",
                ..input
            },
            &good
        ));
        assert!(!verify(
            &SigningInput {
                timestamp: DOC_TIMESTAMP + 1,
                ..input
            },
            &good
        ));
        assert!(!verify(
            &SigningInput {
                secret_key: "other",
                ..input
            },
            &good
        ));
        assert!(!verify(
            &SigningInput {
                payload: b"{}",
                ..input
            },
            &good
        ));
    }

    #[test]
    fn debug_of_a_signing_input_hides_the_key() {
        let shown = format!("{:?}", doc_input());
        assert!(!shown.contains(DOC_SECRET_KEY), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}
