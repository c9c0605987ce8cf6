//! How many connections the server holds: at most
//! `server.max_connections_per_ip` from one client address, and at most
//! `server.max_connections` in all, below the process's open-file limit
//! so that accepting never runs out of descriptors. Shared by every
//! listener; checked as a connection is accepted, before anything is read.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ipnet::IpNet;

use crate::config::{ConfigError, Settings};
use crate::http::rate_limit;

/// Descriptors kept for other uses than client connections: listeners,
/// log and database files, DNS, the database connections (a SQLite
/// connection holds up to three files: the database, its WAL, its index).
fn reserved_descriptors(settings: &Settings) -> u64 {
    64 + 4 * u64::from(settings.database.max_connections)
}

/// The caps, and the connections open under them.
#[derive(Debug)]
pub struct ConnectionLimits {
    per_address: usize,
    total: usize,
    /// Reverse proxies carry many clients: only the total caps them.
    uncapped: Vec<IpNet>,
    open: AtomicUsize,
    by_address: Mutex<HashMap<IpAddr, usize>>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `server.max_connections_per_ip` from its address.
    PerAddress,
    /// `server.max_connections` in all.
    Total,
}

impl Refused {
    pub fn name(self) -> &'static str {
        match self {
            Refused::PerAddress => "per_address",
            Refused::Total => "total",
        }
    }

    pub fn why(self) -> &'static str {
        match self {
            Refused::PerAddress => "too many connections from this address",
            Refused::Total => "too many connections",
        }
    }
}

/// A connection's place under the caps, given back when it is dropped.
#[derive(Debug)]
pub struct Slot {
    limits: Arc<ConnectionLimits>,
    /// Its address, when capped per address.
    address: Option<IpAddr>,
}

impl ConnectionLimits {
    pub fn new(per_address: usize, total: usize, uncapped: Vec<IpNet>) -> Self {
        Self {
            per_address: per_address.max(1),
            total: total.max(1),
            uncapped,
            open: AtomicUsize::new(0),
            by_address: Mutex::new(HashMap::new()),
        }
    }

    /// The caps for `settings`: raises the soft open-file limit to the hard
    /// one, and holds `server.max_connections` connections, or (0, or more
    /// than the limit leaves room for) as many as the limit leaves room for.
    pub fn for_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let descriptors = rlimit::increase_nofile_limit(u64::MAX)
            .or_else(|_| rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft))
            .unwrap_or(1024);
        let room = descriptors
            .saturating_sub(reserved_descriptors(settings))
            .max(1);
        let room = usize::try_from(room).unwrap_or(usize::MAX);
        let configured = settings.server.max_connections;
        let total = match configured {
            0 => room,
            n if n > room => {
                tracing::warn!(
                    configured = n,
                    holds = room,
                    open_files = descriptors,
                    "server.max_connections is more than the open-file limit leaves room for; \
                     holding fewer (raise the limit, e.g. LimitNOFILE in the systemd unit)"
                );
                room
            }
            n => n,
        };
        Ok(Self::new(
            settings.server.max_connections_per_ip,
            total,
            settings.trusted_proxies()?,
        ))
    }

    /// The most connections held at once.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// A place for a connection from `peer`, or why there is none.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Slot, Refused> {
        let address = rate_limit::client_key(peer);
        if self.open.fetch_add(1, Ordering::Relaxed) >= self.total {
            self.open.fetch_sub(1, Ordering::Relaxed);
            return Err(Refused::Total);
        }
        if self.uncapped.iter().any(|net| net.contains(&address)) {
            return Ok(Slot {
                limits: Arc::clone(self),
                address: None,
            });
        }
        let mut by_address = self.by_address.lock().unwrap_or_else(|p| p.into_inner());
        let count = by_address.entry(address).or_insert(0);
        if *count >= self.per_address {
            drop(by_address);
            self.open.fetch_sub(1, Ordering::Relaxed);
            return Err(Refused::PerAddress);
        }
        *count += 1;
        Ok(Slot {
            limits: Arc::clone(self),
            address: Some(address),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(address) = self.address {
            let mut by_address = self
                .limits
                .by_address
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some(count) = by_address.get_mut(&address) {
                *count -= 1;
                if *count == 0 {
                    by_address.remove(&address);
                }
            }
        }
        self.limits.open.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_cannot_take_every_place() {
        let limits = Arc::new(ConnectionLimits::new(2, 3, Vec::new()));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = limits.admit(a).unwrap();
        let _second = limits.admit(a).unwrap();
        assert_eq!(limits.admit(a).unwrap_err(), Refused::PerAddress);
        let _third = limits.admit(b).unwrap();
        assert_eq!(limits.admit(b).unwrap_err(), Refused::Total);
        assert_eq!(limits.open(), 3);
        drop(first);
        assert_eq!(limits.open(), 2);
        let _again = limits.admit(a).unwrap();
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_prefix() {
        let limits = Arc::new(ConnectionLimits::new(1, 10, Vec::new()));
        let _one = limits.admit("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert_eq!(
            limits
                .admit("2001:db8:1:2::ffff".parse().unwrap())
                .unwrap_err(),
            Refused::PerAddress
        );
        let _other = limits.admit("2001:db8:1:3::1".parse().unwrap()).unwrap();
        // An IPv4-mapped address is the IPv4 address.
        let _v4 = limits.admit("192.0.2.9".parse().unwrap()).unwrap();
        assert_eq!(
            limits
                .admit("::ffff:192.0.2.9".parse().unwrap())
                .unwrap_err(),
            Refused::PerAddress
        );
    }

    #[test]
    fn reverse_proxies_count_only_toward_the_total() {
        let proxy: IpAddr = "10.0.0.7".parse().unwrap();
        let limits = Arc::new(ConnectionLimits::new(
            1,
            3,
            vec!["10.0.0.0/8".parse().unwrap()],
        ));
        let held: Vec<Slot> = (0..3).map(|_| limits.admit(proxy).unwrap()).collect();
        assert_eq!(limits.admit(proxy).unwrap_err(), Refused::Total);
        drop(held);
        assert_eq!(limits.open(), 0);
    }

    #[test]
    fn the_total_stays_below_the_open_file_limit() {
        let total = |max_connections: usize| {
            let mut settings = Settings::demo();
            settings.server.max_connections = max_connections;
            ConnectionLimits::for_settings(&settings).unwrap().total() as u64
        };
        let derived = total(0);
        let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        assert!(derived < soft, "{derived} of {soft}");
        assert_eq!(total(100), 100);
        assert_eq!(total(usize::MAX), derived);
    }
}
