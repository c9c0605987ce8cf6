//! minilvb: the business server of the Mini LVB live-broadcast apps.
//!
//! - [`protocol`]: the wire contract (envelope, error codes, request parsing, replies);
//! - [`actions`]: one function per Action, over the [`store::Store`] trait;
//! - [`callbacks`]: the cloud's stream event callbacks;
//! - [`cloud`]: the cloud's signing rules, pure functions;
//! - [`store`]: the storage trait and its backends;
//! - [`http`]: the thin HTTP layer, with the guards of [`ratelimit`] and [`auth`];
//! - [`server`]: the accept loop (header timeout, graceful shutdown);
//! - [`config`], [`telemetry`] (logs, metrics), [`cli`]: running it.

pub mod actions;
pub mod allocator;
pub mod auth;
pub mod callbacks;
pub mod cli;
pub mod clock;
pub mod cloud;
pub mod config;
pub mod http;
pub mod import;
pub mod loadgen;
pub mod operator;
pub mod protocol;
pub mod ratelimit;
pub mod server;
pub mod store;
pub mod telemetry;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::actions::Context;
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::store::Store;

/// A server built from settings, bound and ready to run.
pub struct Application {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    state: http::AppState,
    /// Serve [`http::baseline_router`] instead of the protocol (load generator).
    baseline: bool,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// As [`Application::build`], with a clock of the caller's (tests set "now").
    pub async fn build_with_clock(
        mut settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        settings.derive_domains();
        settings.validate()?;
        let addr = settings.listen_addr()?;
        let metrics_addr = settings.metrics_addr()?;
        telemetry::metrics::install();
        let store = store::connect(&settings.database, Some(settings.members.order))
            .await
            .with_context(|| {
                format!(
                    "cannot open the database ({})",
                    redact_url(&settings.database.url)
                )
            })?;
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("server.listen: cannot listen on {addr}"))?;
        let metrics_listener = match metrics_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("metrics.listen: cannot listen on {addr}"))?,
            ),
            None => None,
        };
        let ctx = Context::new(store, clock, Arc::new(settings));
        let state = http::AppState::new(ctx)?;
        Ok(Self {
            listener,
            metrics_listener,
            state,
            baseline: false,
        })
    }

    /// Serves the same HTTP stack answering a fixed envelope with no work
    /// ([`http::baseline_router`]): the load generator's `baseline`.
    pub fn into_baseline(mut self) -> Self {
        self.baseline = true;
        self
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The metrics endpoint's address, when `metrics.listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.state.ctx.store.clone()
    }

    /// Serves until `shutdown` completes, then stops accepting, lets
    /// in-flight requests finish (up to `server.shutdown_drain_secs`) and
    /// closes the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let server_settings = &self.state.ctx.settings.server;
        let options = server::ServeOptions {
            header_read_timeout: Duration::from_secs(server_settings.header_read_timeout_secs),
            drain: Duration::from_secs(server_settings.shutdown_drain_secs),
        };
        let store = self.state.ctx.store.clone();
        let sweeper = tokio::spawn(callbacks::expire_stale_rooms(self.state.ctx.clone()));
        let janitor = tokio::spawn(self.state.ops.clone().forget_idle_clients());
        let (stopping, stopped) = tokio::sync::watch::channel(false);
        let metrics = self.metrics_listener.map(|listener| {
            let mut stopped = stopped.clone();
            tokio::spawn(server::serve(
                listener,
                http::metrics_router(self.state.clone()),
                options,
                Arc::default(),
                async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                },
            ))
        });
        let connections = self.state.ops.connections.clone();
        let router = if self.baseline {
            http::baseline_router(self.state)
        } else {
            http::router(self.state)
        };
        server::serve(self.listener, router, options, connections, async move {
            shutdown.await;
            let _ = stopping.send(true);
        })
        .await;
        if let Some(metrics) = metrics {
            let _ = metrics.await;
        }
        sweeper.abort();
        janitor.abort();
        // Connections still busy after the drain may hold database
        // connections; committed writes are safe either way (WAL).
        if tokio::time::timeout(options.drain.max(Duration::from_secs(1)), store.close())
            .await
            .is_err()
        {
            tracing::warn!("database connections still in use; exiting without waiting");
        }
        Ok(())
    }
}

/// A database URL fit for a log line: no password.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:<redacted>{}",
                    &url[..scheme_end + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
