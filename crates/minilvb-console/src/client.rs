//! Who is asking and how: the client's address (for the login limits) and
//! whether the request came over HTTPS (for `Secure` cookies), believing
//! forwarded headers only from trusted proxies; and whether a state-changing
//! request comes from the console's own pages (Origin/Referer).

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Uri, header};

use crate::config::{ConsoleConfig, SecureCookies};

/// What the console knows of the connection a request came on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Client {
    /// The client's address: the peer's, or the one a trusted proxy forwarded.
    pub ip: IpAddr,
    /// Whether the peer is a trusted proxy.
    pub via_proxy: bool,
    /// Whether cookies set in the answer carry `Secure`.
    pub secure_cookies: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the client's address is unknown: serve the console's router with \
     into_make_service_with_connect_info::<SocketAddr>()"
)]
pub(crate) struct NoPeerAddress;

impl Client {
    pub fn of(
        connect_info: Option<&ConnectInfo<SocketAddr>>,
        headers: &HeaderMap,
        config: &ConsoleConfig,
    ) -> Result<Client, NoPeerAddress> {
        let peer = connect_info.ok_or(NoPeerAddress)?.0.ip();
        let trusted = |ip: &IpAddr| config.trusted_proxies.iter().any(|net| net.contains(ip));
        let via_proxy = trusted(&peer);
        let ip = if via_proxy {
            forwarded_client(headers, &trusted).unwrap_or(peer)
        } else {
            peer
        };
        let https = via_proxy
            && last_value(headers, "x-forwarded-proto")
                .is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
        let secure_cookies = match config.secure_cookies {
            SecureCookies::Always => true,
            SecureCookies::Never => false,
            SecureCookies::Auto => https,
        };
        Ok(Client {
            ip,
            via_proxy,
            secure_cookies,
        })
    }
}

/// The nearest address in `X-Forwarded-For` that is not a trusted proxy:
/// entries to its left were written by the client and prove nothing.
fn forwarded_client(headers: &HeaderMap, trusted: &dyn Fn(&IpAddr) -> bool) -> Option<IpAddr> {
    let mut hops: Vec<IpAddr> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let text = value.to_str().ok()?;
        for hop in text.split(',') {
            hops.push(hop.trim().parse().ok()?);
        }
    }
    let first = hops.first().copied();
    hops.into_iter().rev().find(|ip| !trusted(ip)).or(first)
}

/// The last comma-separated value of a header (the nearest proxy's word).
fn last_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let value = headers.get_all(name).iter().next_back()?.to_str().ok()?;
    value.rsplit(',').next().map(str::trim)
}

/// Whether the request's Origin (or, without one, its Referer) names the
/// host the request was sent to. Neither header: nothing to judge by, and
/// the CSRF token decides alone.
pub(crate) fn from_own_pages(headers: &HeaderMap, client: &Client) -> bool {
    let claimed = if let Some(origin) = headers.get(header::ORIGIN) {
        origin.to_str().ok().and_then(authority_of)
    } else if let Some(referer) = headers.get(header::REFERER) {
        referer.to_str().ok().and_then(authority_of)
    } else {
        return true;
    };
    let Some(claimed) = claimed else {
        // "null", or not a URL: a sandboxed frame, a data: URL, a redirect
        // across origins.
        return false;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let forwarded = client
        .via_proxy
        .then(|| last_value(headers, "x-forwarded-host"))
        .flatten();
    [host, forwarded]
        .into_iter()
        .flatten()
        .any(|own| own.eq_ignore_ascii_case(&claimed))
}

/// `host[:port]` of an absolute http(s) URL.
fn authority_of(url: &str) -> Option<String> {
    let uri: Uri = url.parse().ok()?;
    match uri.scheme_str() {
        Some("http") | Some("https") => uri.authority().map(|a| a.as_str().to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn config(trusted: &[&str], secure: SecureCookies) -> ConsoleConfig {
        ConsoleConfig {
            trusted_proxies: trusted.iter().map(|t| t.parse().unwrap()).collect(),
            secure_cookies: secure,
            ..ConsoleConfig::default()
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn client(
        peer: &str,
        pairs: &[(&'static str, &'static str)],
        config: &ConsoleConfig,
    ) -> Client {
        let addr: SocketAddr = format!("{peer}:50000").parse().unwrap();
        Client::of(Some(&ConnectInfo(addr)), &headers(pairs), config).unwrap()
    }

    #[test]
    fn forwarded_headers_from_an_untrusted_peer_are_ignored() {
        let config = config(&["10.0.0.0/8"], SecureCookies::Auto);
        let c = client(
            "192.0.2.7",
            &[
                ("x-forwarded-for", "203.0.113.1"),
                ("x-forwarded-proto", "https"),
            ],
            &config,
        );
        assert_eq!(c.ip, "192.0.2.7".parse::<IpAddr>().unwrap());
        assert!(!c.secure_cookies);
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_the_scheme() {
        let config = config(&["10.0.0.0/8"], SecureCookies::Auto);
        let c = client(
            "10.0.0.2",
            &[
                ("x-forwarded-for", "198.51.100.9, 203.0.113.1, 10.0.0.5"),
                ("x-forwarded-proto", "https"),
            ],
            &config,
        );
        assert_eq!(c.ip, "203.0.113.1".parse::<IpAddr>().unwrap());
        assert!(c.secure_cookies);
    }

    #[test]
    fn secure_cookies_always_and_never_ignore_the_scheme() {
        let always = config(&[], SecureCookies::Always);
        assert!(client("127.0.0.1", &[], &always).secure_cookies);
        let never = config(&["127.0.0.1/32"], SecureCookies::Never);
        assert!(!client("127.0.0.1", &[("x-forwarded-proto", "https")], &never).secure_cookies);
    }

    #[test]
    fn without_connect_info_the_address_is_an_error() {
        assert_eq!(
            Client::of(None, &HeaderMap::new(), &ConsoleConfig::default()),
            Err(NoPeerAddress)
        );
    }

    #[test]
    fn origins_must_name_the_host_asked() {
        let cfg = config(&[], SecureCookies::Auto);
        let c = client("127.0.0.1", &[], &cfg);
        let own = headers(&[
            ("host", "console.example:8081"),
            ("origin", "http://console.example:8081"),
        ]);
        assert!(from_own_pages(&own, &c));
        let foreign = headers(&[
            ("host", "console.example:8081"),
            ("origin", "https://evil.example"),
        ]);
        assert!(!from_own_pages(&foreign, &c));
        let null = headers(&[("host", "console.example:8081"), ("origin", "null")]);
        assert!(!from_own_pages(&null, &c));
        let referer = headers(&[
            ("host", "console.example"),
            ("referer", "https://evil.example/x"),
        ]);
        assert!(!from_own_pages(&referer, &c));
        let none = headers(&[("host", "console.example")]);
        assert!(from_own_pages(&none, &c));
    }

    #[test]
    fn a_trusted_proxy_may_name_the_public_host() {
        let cfg = config(&["10.0.0.0/8"], SecureCookies::Auto);
        let pairs = [
            ("host", "127.0.0.1:8081"),
            ("x-forwarded-host", "ops.example"),
            ("origin", "https://ops.example"),
        ];
        assert!(from_own_pages(
            &headers(&pairs),
            &client("10.1.1.1", &pairs, &cfg)
        ));
        assert!(!from_own_pages(
            &headers(&pairs),
            &client("192.0.2.1", &pairs, &cfg)
        ));
    }
}
