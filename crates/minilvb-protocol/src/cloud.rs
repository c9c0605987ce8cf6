//! The cloud's rules as pure functions: stream ids, push/play URL signing
//! (anti-leech `txSecret`/`txTime`), COS upload signatures, the callback
//! signature, and the IM UserSig ([`usersig`]). No I/O; each rule is
//! unit-tested with the published vectors (`reference/tencent-cloud.md`).

pub mod events;
pub mod media_hosts;
pub mod tc3;
pub mod usersig;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;

fn md5_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

fn hmac_sha1(key: &[u8], message: &[u8]) -> [u8; 20] {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// The original's stream id: `BIZID_userid`, with `@`, `#` and `-` in the
/// userid replaced by `_` (guest ids look like `@TLS#abc`). The cloud reports
/// this back as `stream_id` in its callbacks.
pub fn legacy_stream_id(bizid: &str, userid: &str) -> String {
    let mut id = String::with_capacity(bizid.len() + 1 + userid.len());
    id.push_str(bizid);
    id.push('_');
    id.extend(userid.chars().map(|c| match c {
        '@' | '#' | '-' => '_',
        c => c,
    }));
    id
}

/// Whether a stream id can go into a push URL path unescaped and is of the
/// characters the cloud accepts.
pub fn is_url_safe_stream_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A stream id that no other userid can have: the safe characters of the
/// legacy id plus a digest of the userid. Used when the legacy id is taken by
/// another userid (`a-b` and `a_b` both map to `BIZID_a_b`) or contains
/// characters that cannot go into a URL.
pub fn unique_stream_id(bizid: &str, userid: &str) -> String {
    let legacy = legacy_stream_id(bizid, userid);
    let safe: String = legacy
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    let digest = md5_hex(&[userid.as_bytes()]);
    format!("{safe}_{}", &digest[..16])
}

/// A file id for a recording notice that carries none: a digest of its URL.
pub fn url_file_id(url: &str) -> String {
    md5_hex(&[url.as_bytes()])[..16].to_owned()
}

/// Unix seconds as the lower-case hex the cloud expects in `txTime`.
pub fn tx_time(expires_at: i64) -> String {
    format!("{expires_at:x}")
}

/// `txSecret = md5(KEY + STREAM_ID + txTime)`, over txTime exactly as it
/// appears in the URL.
pub fn tx_secret(key: &str, stream_id: &str, tx_time: &str) -> String {
    md5_hex(&[key.as_bytes(), stream_id.as_bytes(), tx_time.as_bytes()])
}

/// What a push URL is built from.
#[derive(Debug, Clone)]
pub struct PushUrlParams<'a> {
    pub push_domain: &'a str,
    pub bizid: &'a str,
    pub push_key: &'a str,
    /// e.g. `flv|hls`; empty means the cloud records nothing.
    pub record: &'a str,
    pub record_interval: u32,
    pub expires_at: i64,
}

/// The signed push URL, in the original's shape:
/// `rtmp://DOMAIN/live/STREAM?bizid=B&record_interval=I&record=flv|hls&txSecret=S&txTime=T`.
pub fn push_url(p: &PushUrlParams<'_>, stream_id: &str) -> String {
    let time = tx_time(p.expires_at);
    let secret = tx_secret(p.push_key, stream_id, &time);
    let mut url = format!(
        "rtmp://{}/live/{stream_id}?bizid={}",
        p.push_domain, p.bizid
    );
    if !p.record.is_empty() {
        url.push_str(&format!(
            "&record_interval={}&record={}",
            p.record_interval, p.record
        ));
    }
    url.push_str(&format!("&txSecret={secret}&txTime={time}"));
    url
}

/// The unsigned play URLs of a stream: (flv over http, hls, rtmp).
pub fn play_urls(play_domain: &str, stream_id: &str) -> (String, String, String) {
    (
        format!("http://{play_domain}/live/{stream_id}.flv"),
        format!("http://{play_domain}/live/{stream_id}.m3u8"),
        format!("rtmp://{play_domain}/live/{stream_id}"),
    )
}

/// What a COS v4 signature is made of.
#[derive(Debug, Clone)]
pub struct CosV4<'a> {
    pub appid: &'a str,
    pub bucket: &'a str,
    pub secret_id: &'a str,
    pub secret_key: &'a str,
    pub expires_at: i64,
    pub now: i64,
    pub rand: u32,
}

/// The COS v4 multi-use upload signature that GetCOSSign returns:
/// `base64(hmac_sha1(SECRET_KEY, plain) ++ plain)`.
pub fn cos_v4_sign(c: &CosV4<'_>) -> String {
    let plain = format!(
        "a={}&b={}&k={}&e={}&t={}&r={}&f=",
        c.appid, c.bucket, c.secret_id, c.expires_at, c.now, c.rand
    );
    let mut raw = hmac_sha1(c.secret_key.as_bytes(), plain.as_bytes()).to_vec();
    raw.extend_from_slice(plain.as_bytes());
    BASE64.encode(raw)
}

/// The COS v5 signing key: `hex(hmac_sha1(SECRET_KEY, "start;end"))`.
pub fn cos_v5_sign_key(secret_key: &str, key_time: &str) -> String {
    hex::encode(hmac_sha1(secret_key.as_bytes(), key_time.as_bytes()))
}

/// What a VOD client-upload signature is made of.
#[derive(Debug, Clone)]
pub struct VodUpload<'a> {
    pub secret_id: &'a str,
    pub secret_key: &'a str,
    pub now: i64,
    pub expires_at: i64,
    pub rand: u32,
    /// A task flow run on the uploaded file; empty for none.
    pub procedure: &'a str,
}

/// The VOD client-upload signature v2:
/// `base64(hmac_sha1(SECRET_KEY, plain) ++ plain)` over the form-encoded
/// `secretId=..&currentTimeStamp=..&expireTime=..&random=..[&procedure=..]`.
pub fn vod_upload_signature(v: &VodUpload<'_>) -> String {
    let mut plain = format!(
        "secretId={}&currentTimeStamp={}&expireTime={}&random={}",
        form_encode(v.secret_id),
        v.now,
        v.expires_at,
        v.rand
    );
    if !v.procedure.is_empty() {
        plain.push_str("&procedure=");
        plain.push_str(&form_encode(v.procedure));
    }
    let mut raw = hmac_sha1(v.secret_key.as_bytes(), plain.as_bytes()).to_vec();
    raw.extend_from_slice(plain.as_bytes());
    BASE64.encode(raw)
}

/// Percent-encodes all but the unreserved characters of RFC 3986.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Why a URL cannot be signed for play.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlayUrlError {
    #[error("must start with rtmp://, http:// or https://")]
    Scheme,
    #[error("is not on the play domain")]
    Domain,
    #[error("is not a stream path /live/STREAM[.flv|.m3u8]")]
    Path,
}

/// Signs a play URL with the anti-leech rule: the stream's URL on the play
/// domain, any query dropped, `bizid`, `txSecret` and `txTime` appended.
pub fn sign_play_url(
    url: &str,
    play_domain: &str,
    bizid: &str,
    key: &str,
    expires_at: i64,
) -> Result<String, PlayUrlError> {
    let (scheme, rest) = ["rtmp://", "http://", "https://"]
        .iter()
        .find_map(|scheme| {
            url.get(..scheme.len())
                .filter(|head| head.eq_ignore_ascii_case(scheme))
                .map(|_| (*scheme, &url[scheme.len()..]))
        })
        .ok_or(PlayUrlError::Scheme)?;
    let (host, path) = rest.split_once('/').ok_or(PlayUrlError::Path)?;
    if !host.eq_ignore_ascii_case(play_domain) {
        return Err(PlayUrlError::Domain);
    }
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let file = path.strip_prefix("live/").ok_or(PlayUrlError::Path)?;
    let (stream, extension) = match file.rsplit_once('.') {
        Some((stream, ext @ ("flv" | "m3u8"))) => (stream, format!(".{ext}")),
        Some(_) => return Err(PlayUrlError::Path),
        None => (file, String::new()),
    };
    let stream_ok = !stream.is_empty()
        && stream
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !stream_ok {
        return Err(PlayUrlError::Path);
    }
    let time = tx_time(expires_at);
    let secret = tx_secret(key, stream, &time);
    Ok(format!(
        "{scheme}{play_domain}/live/{stream}{extension}?bizid={bizid}&txSecret={secret}&txTime={time}"
    ))
}

/// The callback signature `md5(API_KEY + t)`.
pub fn callback_sign(api_key: &str, t: &str) -> String {
    md5_hex(&[api_key.as_bytes(), t.as_bytes()])
}

/// Constant-time check of a callback signature against one key.
pub fn callback_sign_matches(api_key: &str, t: &str, sign: &str) -> bool {
    use subtle::ConstantTimeEq;
    let expected = callback_sign(api_key, t);
    expected
        .as_bytes()
        .ct_eq(sign.to_ascii_lowercase().as_bytes())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_id_vector() {
        assert_eq!(legacy_stream_id("8888", "user-1@x"), "8888_user_1_x");
        assert_eq!(legacy_stream_id("8888", "@TLS#abc"), "8888__TLS_abc");
    }

    #[test]
    fn push_url_vector() {
        let now = 1_500_000_000;
        let time = tx_time(now + 3 * 3600);
        assert_eq!(time, "59685930");
        assert_eq!(
            tx_secret("testkey", "8888_user_1_x", &time),
            "4f3a812ed89ea8a0a9447414e617457f"
        );
        let url = push_url(
            &PushUrlParams {
                push_domain: "8888.livepush2.myqcloud.com",
                bizid: "8888",
                push_key: "testkey",
                record: "flv|hls",
                record_interval: 10800,
                expires_at: now + 3 * 3600,
            },
            "8888_user_1_x",
        );
        assert_eq!(
            url,
            "rtmp://8888.livepush2.myqcloud.com/live/8888_user_1_x?bizid=8888&record_interval=10800&record=flv|hls&txSecret=4f3a812ed89ea8a0a9447414e617457f&txTime=59685930"
        );
    }

    #[test]
    fn push_url_without_recording() {
        let url = push_url(
            &PushUrlParams {
                push_domain: "push.example.com",
                bizid: "8888",
                push_key: "testkey",
                record: "",
                record_interval: 10800,
                expires_at: 1_500_010_800,
            },
            "8888_user_1_x",
        );
        assert_eq!(
            url,
            "rtmp://push.example.com/live/8888_user_1_x?bizid=8888&txSecret=4f3a812ed89ea8a0a9447414e617457f&txTime=59685930"
        );
    }

    #[test]
    fn hex_time_vector() {
        assert_eq!(tx_time(1_469_848_425), "579c1b69");
    }

    #[test]
    fn unique_stream_ids_differ_where_legacy_ones_collide() {
        assert_eq!(
            legacy_stream_id("8888", "a-b"),
            legacy_stream_id("8888", "a_b")
        );
        let (x, y) = (
            unique_stream_id("8888", "a-b"),
            unique_stream_id("8888", "a_b"),
        );
        assert_ne!(x, y);
        assert!(x.starts_with("8888_a_b_") && is_url_safe_stream_id(&x));
        let odd = unique_stream_id("8888", "名字/../?x");
        assert!(is_url_safe_stream_id(&odd), "{odd}");
        assert!(!is_url_safe_stream_id("8888_a/b"));
    }

    #[test]
    fn play_urls_shape() {
        let (flv, hls, rtmp) = play_urls("8888.liveplay.myqcloud.com", "8888_u");
        assert_eq!(flv, "http://8888.liveplay.myqcloud.com/live/8888_u.flv");
        assert_eq!(hls, "http://8888.liveplay.myqcloud.com/live/8888_u.m3u8");
        assert_eq!(rtmp, "rtmp://8888.liveplay.myqcloud.com/live/8888_u");
    }

    #[test]
    fn cos_v4_vector() {
        let sign = cos_v4_sign(&CosV4 {
            appid: "200001",
            bucket: "newbucket",
            secret_id: "AKIDUfLUEUigQiXqm7CVSspKJnuaiIKtxqAv",
            secret_key: "bLcPnl88WU30VY57ipRhSePfPdOfSruK",
            expires_at: 1_437_995_704,
            now: 1_437_995_644,
            rand: 2_081_660_421,
        });
        assert_eq!(
            sign,
            "wHgvVkXpcZ3d+G0rOkAJml3R5NdhPTIwMDAwMSZiPW5ld2J1Y2tldCZrPUFLSURVZkxVRVVpZ1FpWHFtN0NWU3NwS0pudWFpSUt0eHFBdiZlPTE0Mzc5OTU3MDQmdD0xNDM3OTk1NjQ0JnI9MjA4MTY2MDQyMSZmPQ=="
        );
    }

    #[test]
    fn cos_v5_vector() {
        assert_eq!(
            cos_v5_sign_key("BQYIM75p8x0iWVFSIgqEKwFprpRSVHlz", "1557989151;1557996351"),
            "eb2519b498b02ac213cb1f3d1a3d27a3b3c9bc5f"
        );
    }

    /// Vectors computed independently (Python hmac/hashlib/base64).
    #[test]
    fn vod_upload_vectors() {
        let mut v = VodUpload {
            secret_id: "AKIDexample",
            secret_key: "vodsecretkey",
            now: 1_700_000_000,
            expires_at: 1_700_086_400,
            rand: 123_456,
            procedure: "",
        };
        assert_eq!(
            vod_upload_signature(&v),
            "UBjATYbftb+RNcE5yA1UC+z1OoJzZWNyZXRJZD1BS0lEZXhhbXBsZSZjdXJyZW50VGltZVN0YW1wPTE3MDAwMDAwMDAmZXhwaXJlVGltZT0xNzAwMDg2NDAwJnJhbmRvbT0xMjM0NTY="
        );
        v.procedure = "QCVB_SimpleProcessFile(1,0)";
        assert_eq!(
            vod_upload_signature(&v),
            "aa7ekKS9OPfDxsdp68GPTiahxUVzZWNyZXRJZD1BS0lEZXhhbXBsZSZjdXJyZW50VGltZVN0YW1wPTE3MDAwMDAwMDAmZXhwaXJlVGltZT0xNzAwMDg2NDAwJnJhbmRvbT0xMjM0NTYmcHJvY2VkdXJlPVFDVkJfU2ltcGxlUHJvY2Vzc0ZpbGUlMjgxJTJDMCUyOQ=="
        );
    }

    #[test]
    fn play_url_signing() {
        let sign =
            |url: &str| sign_play_url(url, "play.example.com", "8888", "testkey", 1_500_010_800);
        assert_eq!(
            sign("rtmp://play.example.com/live/8888_user_1_x").unwrap(),
            "rtmp://play.example.com/live/8888_user_1_x?bizid=8888&txSecret=4f3a812ed89ea8a0a9447414e617457f&txTime=59685930"
        );
        assert_eq!(
            sign("http://PLAY.example.com/live/8888_user_1_x.flv?old=1").unwrap(),
            "http://play.example.com/live/8888_user_1_x.flv?bizid=8888&txSecret=4f3a812ed89ea8a0a9447414e617457f&txTime=59685930"
        );
        assert_eq!(
            sign("rtmp://evil.example.com/live/x"),
            Err(PlayUrlError::Domain)
        );
        assert_eq!(
            sign("rtmp://play.example.com.evil/live/x"),
            Err(PlayUrlError::Domain)
        );
        assert_eq!(
            sign("ftp://play.example.com/live/x"),
            Err(PlayUrlError::Scheme)
        );
        assert_eq!(
            sign("rtmp://play.example.com/other/x"),
            Err(PlayUrlError::Path)
        );
        assert_eq!(
            sign("rtmp://play.example.com/live/a/../b"),
            Err(PlayUrlError::Path)
        );
        assert_eq!(
            sign("rtmp://play.example.com/live/x.exe"),
            Err(PlayUrlError::Path)
        );
        assert_eq!(sign("rtmp://play.example.com"), Err(PlayUrlError::Path));
    }

    #[test]
    fn callback_sign_vector() {
        assert_eq!(
            callback_sign("callbackkey", "1471256100"),
            "8242c9c1826f72903adf2c146ef6ba14"
        );
        assert!(callback_sign_matches(
            "callbackkey",
            "1471256100",
            "8242C9C1826F72903ADF2C146EF6BA14"
        ));
        assert!(!callback_sign_matches(
            "callbackkey",
            "1471256101",
            "8242c9c1826f72903adf2c146ef6ba14"
        ));
        assert!(!callback_sign_matches("callbackkey", "1471256100", ""));
    }
}
