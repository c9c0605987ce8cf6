//! minilvb: the business server of the Mini LVB live-broadcast apps.
//!
//! - [`protocol`]: the wire contract (envelope, error codes, request parsing, replies);
//! - [`actions`]: one function per Action, over the [`store::Store`] trait;
//! - [`callbacks`]: the cloud's stream event callbacks;
//! - [`cloud`]: the cloud's signing rules, pure functions;
//! - [`store`]: the storage trait and its backends;
//! - [`http`]: the thin HTTP layer;
//! - [`config`], [`telemetry`], [`cli`]: running it.

pub mod actions;
pub mod callbacks;
pub mod cli;
pub mod clock;
pub mod cloud;
pub mod config;
pub mod http;
pub mod operator;
pub mod protocol;
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
    ctx: Context,
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
        let store = store::connect(&settings.database).await.with_context(|| {
            format!(
                "cannot open the database ({})",
                redact_url(&settings.database.url)
            )
        })?;
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("server.listen: cannot listen on {addr}"))?;
        let ctx = Context::new(store, clock, Arc::new(settings));
        Ok(Self { listener, ctx })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.ctx.store.clone()
    }

    /// Serves until `shutdown` completes, then stops accepting, lets
    /// in-flight requests finish (up to `server.shutdown_drain_secs`) and
    /// closes the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let drain = Duration::from_secs(self.ctx.settings.server.shutdown_drain_secs);
        let store = self.ctx.store.clone();
        let sweeper = tokio::spawn(callbacks::expire_stale_rooms(self.ctx.clone()));
        let router = http::router(self.ctx);
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let server = axum::serve(self.listener, router).with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stopping_tx.send(());
        });
        let mut server = std::pin::pin!(server.into_future());
        tokio::select! {
            result = &mut server => result?,
            _ = async { let _ = stopping_rx.await; tokio::time::sleep(drain).await } => {
                tracing::warn!(drain_secs = drain.as_secs(), "drain time over; closing remaining connections");
            }
        }
        sweeper.abort();
        store.close().await;
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
