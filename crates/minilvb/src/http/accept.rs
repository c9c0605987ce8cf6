//! The accept loop: HTTP/1.1 connections served by hyper with a header read
//! timeout (axum's `serve` has none), the peer address handed to the router,
//! and a graceful shutdown that stops accepting, lets in-flight requests
//! finish within the drain time, then closes what is left.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpListener;
use tower::ServiceExt as _;

use minilvb_protocol::{Envelope, ProtocolError};

/// How connections are served.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// Time for a request's headers to arrive, and for an idle keep-alive
    /// connection to start its next request.
    pub header_read_timeout: Duration,
    /// After shutdown begins, time for in-flight requests to finish.
    pub drain: Duration,
}

/// Open connections, for the metrics.
#[derive(Debug, Default)]
pub struct ConnectionGauge(AtomicI64);

impl ConnectionGauge {
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

struct Open(Arc<ConnectionGauge>);

impl Open {
    fn new(gauge: Arc<ConnectionGauge>) -> Self {
        gauge.0.fetch_add(1, Ordering::Relaxed);
        Self(gauge)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then drains.
/// Returns whether every connection finished within the drain time.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    connections: Arc<ConnectionGauge>,
    shutdown: impl Future<Output = ()> + Send,
) -> bool {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let open = Open::new(connections.clone());
                    serve_connection(stream, peer, router.clone(), options, &graceful, open);
                }
                Err(error) => {
                    // Out of file descriptors, or the peer gave up: back off a little.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let in_flight = graceful.count();
    tracing::info!(connections = in_flight, "stopped accepting; draining");
    tokio::select! {
        () = graceful.shutdown() => true,
        () = tokio::time::sleep(options.drain) => {
            tracing::warn!(drain_secs = options.drain.as_secs(), "drain time over; closing remaining connections");
            false
        }
    }
}

fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    router: Router,
    options: ServeOptions,
    graceful: &GracefulShutdown,
    open: Open,
) {
    let _ = stream.set_nodelay(true);
    // A second handle on the socket, to answer a client whose headers never
    // came (hyper closes such a connection without a word).
    let (stream, spare) = match split_spare(stream) {
        Ok(pair) => pair,
        Err(error) => {
            tracing::warn!(%error, "cannot set up a connection");
            return;
        }
    };
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        counter.fetch_add(1, Ordering::Relaxed);
        request.extensions_mut().insert(ConnectInfo(peer));
        let router = router.clone();
        async move { Ok::<_, Infallible>(router.oneshot(request).await.unwrap_or_else(|e| match e {})) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .serve_connection(TokioIo::new(stream), service);
    let connection = graceful.watch(connection);
    tokio::spawn(async move {
        let _open = open;
        if let Err(error) = connection.await {
            if error.is_timeout() && served.load(Ordering::Relaxed) == 0 {
                tracing::info!(%peer, "request headers not received in time");
                answer_header_timeout(spare, options.header_read_timeout).await;
            } else {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        }
    });
}

fn split_spare(
    stream: tokio::net::TcpStream,
) -> std::io::Result<(tokio::net::TcpStream, std::net::TcpStream)> {
    let stream = stream.into_std()?;
    let spare = stream.try_clone()?;
    Ok((tokio::net::TcpStream::from_std(stream)?, spare))
}

/// HTTP 408 with the protocol's envelope, then close.
async fn answer_header_timeout(spare: std::net::TcpStream, timeout: Duration) {
    let body = serde_json::to_vec(&Envelope::error(&ProtocolError::invalid_json(&format!(
        "request headers not received within {} s",
        timeout.as_secs()
    ))))
    .unwrap_or_default();
    let head = format!(
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let Ok(mut stream) = tokio::net::TcpStream::from_std(spare) else {
        return;
    };
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&body).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}
