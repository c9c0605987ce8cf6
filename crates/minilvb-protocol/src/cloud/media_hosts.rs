//! Where the cloud keeps what its notices point to. A recording notice
//! carries the file's URL (`video_url`), a screenshot notice the picture's
//! (`pic_full_url`); both end up in front of the apps' users. The callback
//! signature does not cover the body, so a URL is accepted only on hosts
//! the operator lists (`callback.allowed_media_hosts`), by default the
//! cloud's own domains:
//! - VOD, where recordings go: `APPID.vod2.myqcloud.com` (older accounts
//!   `*.vod.myqcloud.com`), and `*.vod-qcloud.com` for newer applications;
//! - COS, where screenshots go: `BUCKET-APPID.cos.REGION.myqcloud.com`, its
//!   CDN `*.file.myqcloud.com`, and the newer `*.tencentcos.cn`.
//!
//! A custom domain set up for VOD or COS must be added to the list.

/// The default `callback.allowed_media_hosts`.
pub const DEFAULT_MEDIA_HOSTS: [&str; 3] =
    ["*.myqcloud.com", "*.vod-qcloud.com", "*.tencentcos.cn"];

/// Host patterns: `host.example.com` (that host), `*.example.com` (any host
/// under it, not `example.com` itself), or `*` (any host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPatterns(Vec<Pattern>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Any,
    Exact(String),
    /// `.example.com`, from `*.example.com`.
    Under(String),
}

/// Why a URL is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaUrlError {
    #[error("not an http(s) URL")]
    NotHttp,
    #[error("host {0} is not among callback.allowed_media_hosts")]
    HostNotAllowed(String),
}

impl HostPatterns {
    /// Parses a list of patterns; the error names the first bad one.
    pub fn parse<S: AsRef<str>>(patterns: &[S]) -> Result<Self, String> {
        if patterns.is_empty() {
            return Err("list at least one host pattern (\"*\" allows any host)".into());
        }
        patterns
            .iter()
            .map(|p| parse_pattern(p.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// The cloud's own hosts, [`DEFAULT_MEDIA_HOSTS`].
    pub fn cloud() -> Self {
        Self::parse(&DEFAULT_MEDIA_HOSTS).expect("the default patterns parse")
    }

    fn allows_host(&self, host: &str) -> bool {
        self.0.iter().any(|pattern| match pattern {
            Pattern::Any => true,
            Pattern::Exact(exact) => host == exact,
            Pattern::Under(suffix) => host.len() > suffix.len() && host.ends_with(suffix.as_str()),
        })
    }

    /// Whether `url` is an http(s) URL on an allowed host.
    pub fn check_url(&self, url: &str) -> Result<(), MediaUrlError> {
        let parsed = url::Url::parse(url.trim()).map_err(|_| MediaUrlError::NotHttp)?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(MediaUrlError::NotHttp);
        }
        let host = parsed.host_str().ok_or(MediaUrlError::NotHttp)?;
        // A domain comes lower-cased and without a trailing dot in the
        // patterns; compare the host the same way.
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if self.allows_host(&host) {
            Ok(())
        } else {
            Err(MediaUrlError::HostNotAllowed(host))
        }
    }
}

fn parse_pattern(text: &str) -> Result<Pattern, String> {
    let pattern = text.trim().to_ascii_lowercase();
    if pattern == "*" {
        return Ok(Pattern::Any);
    }
    let (under, host) = match pattern.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, pattern.as_str()),
    };
    let labels_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !labels_ok {
        return Err(format!(
            "{text:?} is not a host pattern such as *.vod2.myqcloud.com or media.example.com"
        ));
    }
    Ok(if under {
        Pattern::Under(format!(".{host}"))
    } else {
        Pattern::Exact(host.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clouds_hosts_are_allowed_by_default() {
        let cloud = HostPatterns::cloud();
        for url in [
            // A recording notice of 2017, as the cloud sent it (trailing space included).
            "http://1251457656.vod2.myqcloud.com/9425a3e9vodgzp1251457656/6367ba459031868223267109922/playlist.m3u8 ",
            "https://1500005830.vod-qcloud.com/abc/f0.mp4",
            "http://200025724.vod.myqcloud.com/200025724_ac92b781.f0.flv",
            "http://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/live/x-screenshot.jpg",
            "https://examplebucket-1250000000.file.myqcloud.com/x.jpg",
            "https://examplebucket-1250000000.cos.ap-beijing.tencentcos.cn/x.jpg",
            "HTTP://1234.VOD2.MYQCLOUD.COM./a.flv",
        ] {
            assert_eq!(cloud.check_url(url), Ok(()), "{url}");
        }
    }

    #[test]
    fn other_hosts_and_look_alikes_are_not() {
        let cloud = HostPatterns::cloud();
        for (url, host) in [
            ("http://evil.example/phish.flv", "evil.example"),
            (
                "http://1234.vod2.myqcloud.com.evil.example/a.flv",
                "1234.vod2.myqcloud.com.evil.example",
            ),
            (
                "http://1234.vod2.myqcloud.com@evil.example/a.flv",
                "evil.example",
            ),
            ("http://evilmyqcloud.com/a.flv", "evilmyqcloud.com"),
            ("http://myqcloud.com/a.flv", "myqcloud.com"),
            ("http://127.0.0.1/a.flv", "127.0.0.1"),
        ] {
            assert_eq!(
                cloud.check_url(url),
                Err(MediaUrlError::HostNotAllowed(host.into())),
                "{url}"
            );
        }
        for url in [
            "ftp://1234.vod2.myqcloud.com/a.flv",
            "/snap.jpg",
            "not a url",
            "",
            "javascript:alert(1)",
        ] {
            assert_eq!(cloud.check_url(url), Err(MediaUrlError::NotHttp), "{url}");
        }
    }

    #[test]
    fn patterns_are_exact_hosts_domains_or_anything() {
        let own = HostPatterns::parse(&["media.example.com", "*.cdn.example.com"]).unwrap();
        assert_eq!(own.check_url("https://media.example.com/a.flv"), Ok(()));
        assert_eq!(own.check_url("https://a.b.cdn.example.com/a.flv"), Ok(()));
        assert!(own.check_url("https://cdn.example.com/a.flv").is_err());
        assert!(own.check_url("https://x.media.example.com/a.flv").is_err());
        let any = HostPatterns::parse(&["*"]).unwrap();
        assert_eq!(any.check_url("http://evil.example/a.flv"), Ok(()));
        for bad in [
            "",
            "*.",
            "http://x.com",
            "x.com/path",
            "*x.com",
            "a..b",
            "x.*.com",
        ] {
            assert!(HostPatterns::parse(&[bad]).is_err(), "{bad:?}");
        }
        assert!(HostPatterns::parse::<&str>(&[]).is_err());
    }
}
