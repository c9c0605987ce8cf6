//! minilvb: the business server of the Mini LVB live-broadcast apps.
//!
//! It stands on two crates below it: `minilvb_protocol` (the wire contract
//! and the cloud's signing rules, pure) and `minilvb_store` (the storage
//! traits and their SQL backends). This crate runs them:
//! - [`actions`]: one function per Action, over the store;
//! - [`callbacks`]: the cloud's stream event callbacks;
//! - [`http`]: the router, the accept loop, limits, client addresses, caller auth;
//! - [`admin`]: the operator's tools (operations, moderation, legacy
//!   import) and the web console on its own listener (`admin.listen`);
//! - [`config`], [`telemetry`] (logs, metrics), [`cli`]: running it.

pub mod actions;
pub mod admin;
pub mod allocator;
pub mod callbacks;
pub mod cli;
pub mod clock;
pub mod config;
pub mod http;
pub mod telemetry;

use std::future::Future;

use anyhow::Context as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::actions::Context;
use crate::admin::moderation::Moderator;
use crate::admin::stream_sweep::{StreamSweep, SweepStatus};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use minilvb_store::Store;

/// A server built from settings, bound and ready to run.
pub struct Application {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    console: Option<ConsoleListener>,
    state: http::AppState,
    moderator: Moderator,
    /// When the cloud API is configured and `cloud_api.sweep_secs` is not 0.
    sweep: Option<StreamSweep>,
    sweep_status: Option<Arc<SweepStatus>>,
}

/// The web console (`admin.listen`): a listener of its own and its pages.
struct ConsoleListener {
    listener: TcpListener,
    router: axum::Router,
    base_path: String,
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
        let console_addr = settings.admin.listen_addr()?;
        telemetry::metrics::install();
        // The store's errors say which database and why.
        let store =
            minilvb_store::connect(&settings.database, Some(settings.members.order)).await?;
        let listener = bind("server.listen", addr).await?;
        let metrics_listener = match metrics_addr {
            Some(addr) => Some(bind("metrics.listen", addr).await?),
            None => None,
        };
        let moderator = Moderator::new(store.clone(), clock.clone(), &settings)
            .context("cloud_api: cannot build the cloud API client")?;
        let sweep = StreamSweep::new(moderator.clone(), &settings.cloud_api);
        log_moderation_mode(&settings, sweep.is_some());
        let console_listener = match console_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("admin.listen: cannot listen on {addr}"))?,
            ),
            None => None,
        };
        let ctx = Context::new(store, clock, Arc::new(settings));
        let console = match console_listener {
            Some(listener) => {
                let settings = &ctx.settings;
                Some(ConsoleListener {
                    listener,
                    router: admin::console::router(
                        moderator.clone(),
                        settings.members.order,
                        settings,
                    )?,
                    base_path: settings.admin.console_config()?.base_path.to_string(),
                })
            }
            None => None,
        };
        let state = http::AppState::new(ctx)?;
        Ok(Self {
            listener,
            metrics_listener,
            console,
            state,
            moderator,
            sweep_status: sweep.as_ref().map(StreamSweep::status),
            sweep,
        })
    }

    /// Moderation (the operator's actions, at the cloud and here), for the
    /// front ends that offer it.
    pub fn moderator(&self) -> &Moderator {
        &self.moderator
    }

    /// The stream-status sweep's state on this node, when it runs.
    pub fn sweep_status(&self) -> Option<Arc<SweepStatus>> {
        self.sweep_status.clone()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The most connections the server holds at once, on all its ports.
    pub fn max_connections(&self) -> usize {
        self.state.guards.connection_limits.total()
    }

    /// The metrics endpoint's address, when `metrics.listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// The web console's address, when `admin.listen` is set.
    pub fn console_addr(&self) -> Option<SocketAddr> {
        self.console
            .as_ref()
            .and_then(|c| c.listener.local_addr().ok())
    }

    /// Where an operator opens the console (its listener and base path).
    pub fn console_url(&self) -> Option<String> {
        let console = self.console.as_ref()?;
        let addr = console.listener.local_addr().ok()?;
        Some(format!("http://{addr}{}/", console.base_path))
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
        self.serve_until(http::router, shutdown).await
    }

    /// [`Application::run_until`] with another router on the public port
    /// (the load generator's do-nothing baseline, built with
    /// [`http::with_guards`]).
    pub async fn serve_until(
        self,
        router: impl FnOnce(http::AppState) -> axum::Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let server_settings = &self.state.ctx.settings.server;
        let options = http::accept::ServeOptions {
            header_read_timeout: Duration::from_secs(server_settings.header_read_timeout_secs),
            drain: Duration::from_secs(server_settings.shutdown_drain_secs),
        };
        let store = self.state.ctx.store.clone();
        let sweeper = tokio::spawn(callbacks::expire_stale_rooms(self.state.ctx.clone()));
        let janitor = tokio::spawn(self.state.guards.clone().forget_idle_clients());
        let (stopping, stopped) = tokio::sync::watch::channel(false);
        let stream_sweep = self
            .sweep
            .map(|sweep| tokio::spawn(sweep.run(stopped.clone())));
        // The sweep lifts ended bans each round; without it, this does.
        let ban_ends = stream_sweep.is_none().then(|| {
            let every = Duration::from_secs(ENDED_BANS_EVERY_SECS);
            tokio::spawn(self.moderator.clone().lift_ended_bans_every(every))
        });
        // Every listener under the same connection caps.
        let limits = self.state.guards.connection_limits.clone();
        let metrics = self.metrics_listener.map(|listener| {
            let mut stopped = stopped.clone();
            tokio::spawn(http::accept::serve(
                listener,
                http::metrics_router(self.state.clone()),
                options,
                limits.clone(),
                Arc::default(),
                async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                },
            ))
        });
        let console = self.console.map(|console| {
            let mut stopped = stopped.clone();
            tokio::spawn(http::accept::serve(
                console.listener,
                console.router,
                options,
                limits.clone(),
                Arc::default(),
                async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                },
            ))
        });
        let connections = self.state.guards.connections.clone();
        let router = router(self.state);
        http::accept::serve(
            self.listener,
            router,
            options,
            limits,
            connections,
            async move {
                shutdown.await;
                let _ = stopping.send(true);
            },
        )
        .await;
        if let Some(metrics) = metrics {
            let _ = metrics.await;
        }
        if let Some(console) = console {
            let _ = console.await;
        }
        sweeper.abort();
        janitor.abort();
        if let Some(ban_ends) = ban_ends {
            ban_ends.abort();
        }
        // It gives its lease up before the database closes, so that another
        // node takes the sweep over at its next round.
        if let Some(stream_sweep) = stream_sweep {
            let _ = stream_sweep.await;
        }
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

/// How often ended bans are lifted where no stream-status sweep runs.
const ENDED_BANS_EVERY_SECS: u64 = 60;

/// Says at start-up where moderation acts, and whether the sweep runs.
/// Never the key.
fn log_moderation_mode(settings: &Settings, sweeping: bool) {
    let cloud = &settings.cloud_api;
    if !cloud.enabled() {
        tracing::info!(
            "cloud API not configured (cloud_api.secret_id and secret_key unset): moderation \
             acts on the database only, and the stream-status sweep is off"
        );
        return;
    }
    let sweep = match sweeping {
        true => format!(
            "every {} s, a room offline after {} misses",
            cloud.sweep_secs, cloud.sweep_misses
        ),
        false => "off (cloud_api.sweep_secs = 0)".to_owned(),
    };
    tracing::info!(
        live_endpoint = %cloud.live_endpoint,
        vod_endpoint = %cloud.vod_endpoint,
        %sweep,
        "cloud API configured: moderation acts at the cloud, then in the database"
    );
}

pub use minilvb_store::settings::redact_url;

/// Listens on `addr`, the value of `setting`; a failure says what to do.
async fn bind(setting: &str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|error| {
        let advice = match error.kind() {
            std::io::ErrorKind::AddrInUse => {
                "another process listens there; stop it, or set \
                 another address"
            }
            std::io::ErrorKind::AddrNotAvailable => {
                "no network interface of this machine has \
                 that address; use one it has, or 0.0.0.0 for all"
            }
            std::io::ErrorKind::PermissionDenied => {
                "ports below 1024 need privileges; use a \
                 higher port, or give the binary CAP_NET_BIND_SERVICE"
            }
            _ => "set another address",
        };
        anyhow::anyhow!("{setting}: cannot listen on {addr}: {error}; {advice}")
    })
}
