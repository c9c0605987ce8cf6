//! Who the client is (the peer, or what a trusted reverse proxy says) and
//! how many requests each client may make: token buckets per address, one
//! for every request and tighter ones for likes and for RequestLVBAddr.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use ipnet::IpNet;

use crate::config::{RateLimitSettings, Settings};
use minilvb_protocol::Request;

/// Finds the client's address: the peer's, unless the peer is a configured
/// reverse proxy, in which case the proxy's header names it.
#[derive(Debug, Clone)]
pub struct ClientAddr {
    proxies: Vec<IpNet>,
    header: HeaderName,
}

impl ClientAddr {
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        Ok(Self {
            proxies: settings.trusted_proxies()?,
            header: HeaderName::from_bytes(settings.server.client_ip_header.as_bytes())?,
        })
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.proxies.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request from `peer`. Through a chain of trusted
    /// proxies (`X-Forwarded-For: client, proxy1, proxy2`), the rightmost
    /// address that is not a trusted proxy: entries left of it could have
    /// been written by the client itself.
    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusted(peer) {
            return peer;
        }
        let mut chain = headers
            .get_all(&self.header)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .collect::<Vec<_>>();
        let mut client = peer;
        while let Some(entry) = chain.pop() {
            match parse_addr(entry) {
                Some(ip) => {
                    client = ip;
                    if !self.trusted(ip) {
                        break;
                    }
                }
                None => break,
            }
        }
        client
    }
}

/// `1.2.3.4`, `1.2.3.4:5678`, `::1`, `[::1]:80`; IPv4-mapped IPv6 as IPv4.
fn parse_addr(text: &str) -> Option<IpAddr> {
    let ip = text
        .parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))?;
    Some(canonical(ip))
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Who a peer is, for the per-client caps: IPv4-mapped IPv6 as IPv4, IPv6
/// by its /64 (see [`key`]).
pub(crate) fn client_key(peer: IpAddr) -> IpAddr {
    key(canonical(peer))
}

/// The budget key of an address: IPv6 clients by their /64 (one subscriber's
/// prefix), so that rotating addresses within it does not buy more requests.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// Which budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    Requests,
    Likes,
    RequestAddr,
}

impl Budget {
    pub fn name(self) -> &'static str {
        match self {
            Budget::Requests => "requests",
            Budget::Likes => "likes",
            Budget::RequestAddr => "request_addr",
        }
    }
}

/// Over budget: which one, and when the next request would be allowed.
#[derive(Debug, Clone, Copy)]
pub struct OverLimit {
    pub budget: Budget,
    pub retry_after: Duration,
}

/// The per-address budgets.
pub struct RateLimits {
    requests: DefaultKeyedRateLimiter<IpAddr>,
    likes: DefaultKeyedRateLimiter<IpAddr>,
    request_addr: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

fn quota(per_sec: f64, burst: u32) -> Quota {
    let period = Duration::from_secs_f64(1.0 / per_sec).max(Duration::from_nanos(1));
    Quota::with_period(period)
        .expect("a positive period")
        .allow_burst(NonZeroU32::new(burst.max(1)).expect("at least 1"))
}

impl RateLimits {
    pub fn new(settings: &RateLimitSettings) -> Self {
        Self {
            requests: DefaultKeyedRateLimiter::keyed(quota(
                settings.requests_per_sec,
                settings.requests_burst,
            )),
            likes: DefaultKeyedRateLimiter::keyed(quota(
                settings.likes_per_sec,
                settings.likes_burst,
            )),
            request_addr: DefaultKeyedRateLimiter::keyed(quota(
                settings.request_addr_per_sec,
                settings.request_addr_burst,
            )),
            clock: DefaultClock::default(),
        }
    }

    fn check(&self, budget: Budget, client: IpAddr) -> Result<(), OverLimit> {
        let limiter = match budget {
            Budget::Requests => &self.requests,
            Budget::Likes => &self.likes,
            Budget::RequestAddr => &self.request_addr,
        };
        limiter
            .check_key(&key(client))
            .map_err(|not_until| OverLimit {
                budget,
                retry_after: not_until.wait_time_from(self.clock.now()),
            })
    }

    /// Takes one request from the client's general budget.
    pub fn check_request(&self, client: IpAddr) -> Result<(), OverLimit> {
        self.check(Budget::Requests, client)
    }

    /// Takes one from the budget of the request's Action, if it has one.
    pub fn check_action(&self, client: IpAddr, request: &Request) -> Result<(), OverLimit> {
        match request {
            Request::ChangeLikes { .. } | Request::ChangeViewersDeprecated { .. } => {
                self.check(Budget::Likes, client)
            }
            Request::RequestLvbAddr { .. } | Request::RequestLinkMicAddr { .. } => {
                self.check(Budget::RequestAddr, client)
            }
            _ => Ok(()),
        }
    }

    /// Forgets the clients whose buckets are full again (bounded memory).
    pub fn forget_idle(&self) {
        for limiter in [&self.requests, &self.likes, &self.request_addr] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Clients remembered, for the metrics.
    pub fn tracked(&self) -> usize {
        self.requests.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver(proxies: &[&str]) -> ClientAddr {
        let mut settings = Settings::demo();
        settings.server.trusted_proxies = proxies.iter().map(|p| (*p).to_owned()).collect();
        ClientAddr::new(&settings).unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn the_header_counts_only_from_trusted_proxies() {
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        let headers = forwarded(&["203.0.113.9"]);
        assert_eq!(resolver(&[]).resolve(peer, &headers), peer);
        assert_eq!(resolver(&["10.0.0.1"]).resolve(peer, &headers), peer);
        let client = resolver(&["10.0.0.0/8"]).resolve(peer, &headers);
        assert_eq!(client, "203.0.113.9".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn the_rightmost_untrusted_address_is_the_client() {
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        let via = resolver(&["10.0.0.0/8"]);
        // The client wrote a fake first entry; the proxies appended the real one.
        let headers = forwarded(&["1.1.1.1, 198.51.100.7", "10.0.0.2"]);
        assert_eq!(
            via.resolve(peer, &headers),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        let headers = forwarded(&["[2001:db8::1]:443"]);
        assert_eq!(
            via.resolve(peer, &headers),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(via.resolve(peer, &forwarded(&["garbage"])), peer);
        assert_eq!(via.resolve(peer, &HeaderMap::new()), peer);
        let mapped: IpAddr = "::ffff:10.0.0.5".parse().unwrap();
        assert_eq!(
            via.resolve(mapped, &forwarded(&["192.0.2.1"])),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn budgets_are_per_address_and_per_action() {
        let limits = RateLimits::new(&RateLimitSettings {
            enabled: true,
            requests_per_sec: 0.001,
            requests_burst: 3,
            likes_per_sec: 0.001,
            likes_burst: 1,
            request_addr_per_sec: 0.001,
            request_addr_burst: 1,
        });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            limits.check_request(a).unwrap();
        }
        let over = limits.check_request(a).unwrap_err();
        assert_eq!(over.budget, Budget::Requests);
        assert!(over.retry_after > Duration::from_secs(100), "{over:?}");
        limits.check_request(b).unwrap();
        // IPv6 neighbours in one /64 share a budget.
        let v6a: IpAddr = "2001:db8::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8::2".parse().unwrap();
        let like = Request::ChangeLikes {
            target: minilvb_protocol::Counted::Room { userid: "u".into() },
            delta: 1,
        };
        limits.check_action(v6a, &like).unwrap();
        assert_eq!(
            limits.check_action(v6b, &like).unwrap_err().budget,
            Budget::Likes
        );
        assert!(limits.check_action(v6b, &Request::GetCosSign).is_ok());
    }
}
