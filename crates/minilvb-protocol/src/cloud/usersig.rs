//! The Tencent IM UserSig (TLS signature v2): the credential the apps already
//! hold for the IM SDK, which proves who the caller is.
//!
//! A UserSig is url-safe base64 (`+`→`*`, `/`→`-`, `=`→`_`) of the zlib
//! compression of a JSON object with `TLS.ver` (`"2.0"`), `TLS.identifier`,
//! `TLS.sdkappid`, `TLS.time`, `TLS.expire` and `TLS.sig`, where `TLS.sig` is
//! the standard base64 of HMAC-SHA256, under the IM app's secret key, of
//! `TLS.identifier:ID\nTLS.sdkappid:APPID\nTLS.time:T\nTLS.expire:E\n`
//! (followed by `TLS.userbuf:B\n` when the signature carries a user buffer).
//! It is valid until `TLS.time + TLS.expire`.

use std::io::{Read as _, Write as _};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Decompressed signatures larger than this are refused (a zip bomb guard;
/// real ones are about 200 bytes).
const MAX_JSON_BYTES: u64 = 4096;
/// Encoded signatures longer than this are refused before any work.
pub const MAX_SIG_CHARS: usize = 2048;
/// A signature issued further ahead than this is refused (clock skew allowance).
const MAX_FUTURE_SECS: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Serialize, Deserialize)]
struct SigJson {
    #[serde(rename = "TLS.ver")]
    ver: String,
    #[serde(rename = "TLS.identifier")]
    identifier: String,
    #[serde(rename = "TLS.sdkappid")]
    sdkappid: u64,
    #[serde(rename = "TLS.expire")]
    expire: i64,
    #[serde(rename = "TLS.time")]
    time: i64,
    #[serde(rename = "TLS.sig")]
    sig: String,
    #[serde(
        rename = "TLS.userbuf",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    userbuf: Option<String>,
}

/// Why a UserSig was refused. The text is safe to send to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    #[error("usersig is not well formed")]
    Malformed,
    #[error("usersig is of another IM application")]
    OtherApp,
    #[error("usersig signature does not match")]
    BadSignature,
    #[error("usersig has expired")]
    Expired,
    #[error("usersig is not valid yet")]
    NotYetValid,
}

/// A verified signature: who it was issued to, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub identifier: String,
    pub expires_at: i64,
}

fn content(
    identifier: &str,
    sdkappid: u64,
    time: i64,
    expire: i64,
    userbuf: Option<&str>,
) -> String {
    let mut text = format!(
        "TLS.identifier:{identifier}\nTLS.sdkappid:{sdkappid}\nTLS.time:{time}\nTLS.expire:{expire}\n"
    );
    if let Some(userbuf) = userbuf {
        text.push_str(&format!("TLS.userbuf:{userbuf}\n"));
    }
    text
}

fn mac(key: &str) -> HmacSha256 {
    HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes a key of any length")
}

const BASE64_CHARS: [char; 3] = ['+', '/', '='];
const URL_SAFE_CHARS: [char; 3] = ['*', '-', '_'];

/// Replaces each of `from` by the `to` at the same place.
fn swap(text: &str, from: [char; 3], to: [char; 3]) -> String {
    text.chars()
        .map(|c| from.iter().position(|f| *f == c).map_or(c, |i| to[i]))
        .collect()
}

fn url_safe(base64: &str) -> String {
    swap(base64, BASE64_CHARS, URL_SAFE_CHARS)
}

fn from_url_safe(text: &str) -> String {
    swap(text, URL_SAFE_CHARS, BASE64_CHARS)
}

/// Mints a UserSig for `identifier`, issued at `time` and valid `expire`
/// seconds, as the vendor's `genUserSig` does (without a user buffer).
pub fn mint(sdkappid: u64, key: &str, identifier: &str, time: i64, expire: i64) -> String {
    let mut mac = mac(key);
    mac.update(content(identifier, sdkappid, time, expire, None).as_bytes());
    let json = SigJson {
        ver: "2.0".into(),
        identifier: identifier.into(),
        sdkappid,
        expire,
        time,
        sig: BASE64.encode(mac.finalize().into_bytes()),
        userbuf: None,
    };
    let json = serde_json::to_vec(&json).expect("a signature serializes");
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&json).expect("writing to memory");
    let compressed = encoder.finish().expect("writing to memory");
    url_safe(&BASE64.encode(compressed))
}

/// Verifies a UserSig against the IM app's `sdkappid` and secret `key` at
/// `now` (Unix seconds).
pub fn verify(usersig: &str, sdkappid: u64, key: &str, now: i64) -> Result<Verified, SigError> {
    if usersig.is_empty() || usersig.len() > MAX_SIG_CHARS {
        return Err(SigError::Malformed);
    }
    let compressed = BASE64
        .decode(from_url_safe(usersig.trim()))
        .map_err(|_| SigError::Malformed)?;
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed.as_slice())
        .take(MAX_JSON_BYTES + 1)
        .read_to_end(&mut json)
        .map_err(|_| SigError::Malformed)?;
    if json.len() as u64 > MAX_JSON_BYTES {
        return Err(SigError::Malformed);
    }
    let sig: SigJson = serde_json::from_slice(&json).map_err(|_| SigError::Malformed)?;
    if sig.sdkappid != sdkappid {
        return Err(SigError::OtherApp);
    }
    let claimed = BASE64.decode(&sig.sig).map_err(|_| SigError::Malformed)?;
    let mut mac = mac(key);
    mac.update(
        content(
            &sig.identifier,
            sig.sdkappid,
            sig.time,
            sig.expire,
            sig.userbuf.as_deref(),
        )
        .as_bytes(),
    );
    // Constant-time comparison.
    mac.verify_slice(&claimed)
        .map_err(|_| SigError::BadSignature)?;
    if sig.time > now.saturating_add(MAX_FUTURE_SECS) {
        return Err(SigError::NotYetValid);
    }
    let expires_at = sig.time.saturating_add(sig.expire);
    if expires_at <= now {
        return Err(SigError::Expired);
    }
    Ok(Verified {
        identifier: sig.identifier,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: u64 = 1_400_000_000;
    const KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
    const NOW: i64 = 1_767_225_600;

    #[test]
    fn minted_signatures_verify() {
        let sig = mint(APP, KEY, "user-1@x", NOW - 10, 86_400);
        assert!(!sig.contains(['+', '/', '=']), "{sig}");
        let verified = verify(&sig, APP, KEY, NOW).unwrap();
        assert_eq!(verified.identifier, "user-1@x");
        assert_eq!(verified.expires_at, NOW - 10 + 86_400);
    }

    #[test]
    fn refusals() {
        let sig = mint(APP, KEY, "u1", NOW - 100, 50);
        assert_eq!(verify(&sig, APP, KEY, NOW), Err(SigError::Expired));
        let sig = mint(APP, KEY, "u1", NOW + 3600, 86_400);
        assert_eq!(verify(&sig, APP, KEY, NOW), Err(SigError::NotYetValid));
        let sig = mint(APP, "another key", "u1", NOW, 86_400);
        assert_eq!(verify(&sig, APP, KEY, NOW), Err(SigError::BadSignature));
        let sig = mint(APP + 1, KEY, "u1", NOW, 86_400);
        assert_eq!(verify(&sig, APP, KEY, NOW), Err(SigError::OtherApp));
        for junk in ["", "!!!", "eJw_", "abc*def-", &"A".repeat(5000)] {
            assert_eq!(
                verify(junk, APP, KEY, NOW),
                Err(SigError::Malformed),
                "{junk}"
            );
        }
    }

    /// A signature whose JSON was altered after signing (here: the
    /// identifier) no longer verifies.
    #[test]
    fn tampered_identifier_is_refused() {
        let mut mac = mac(KEY);
        mac.update(content("victim", APP, NOW, 86_400, None).as_bytes());
        let genuine_sig = BASE64.encode(mac.finalize().into_bytes());
        let json = serde_json::json!({"TLS.ver":"2.0","TLS.identifier":"attacker",
            "TLS.sdkappid":APP,"TLS.expire":86_400,"TLS.time":NOW,"TLS.sig":genuine_sig});
        let mut encoder =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(json.to_string().as_bytes()).unwrap();
        let forged = url_safe(&BASE64.encode(encoder.finish().unwrap()));
        assert_eq!(verify(&forged, APP, KEY, NOW), Err(SigError::BadSignature));
    }

    #[test]
    fn user_buffer_is_signed_too() {
        let userbuf = BASE64.encode("room 7");
        let mut mac = mac(KEY);
        mac.update(content("u1", APP, NOW, 600, Some(&userbuf)).as_bytes());
        let json = serde_json::json!({"TLS.ver":"2.0","TLS.identifier":"u1","TLS.sdkappid":APP,
            "TLS.expire":600,"TLS.time":NOW,"TLS.userbuf":userbuf,
            "TLS.sig":BASE64.encode(mac.finalize().into_bytes())});
        let mut encoder =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(json.to_string().as_bytes()).unwrap();
        let sig = url_safe(&BASE64.encode(encoder.finish().unwrap()));
        assert_eq!(verify(&sig, APP, KEY, NOW).unwrap().identifier, "u1");
    }
}
