//! The accept loop, the same for every listener (the public port, the
//! metrics port): HTTP/1.1 connections served by hyper with a header read
//! timeout (axum's `serve` has none), the peer address handed to the
//! router, and a graceful shutdown that stops accepting, lets in-flight
//! requests finish within the drain time, then closes what is left.
//!
//! Before anything is read, a connection must fit under the caps of
//! [`ConnectionLimits`]; one that does not is answered 503 at once and
//! closed. Each connection holds one file descriptor. Accept errors (out
//! of descriptors after all, say) pause the loop, longer each time, rather
//! than spin.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tower::ServiceExt as _;

use crate::http::connection_limits::{ConnectionLimits, Refused, Slot};
use crate::telemetry::metrics as m;
use minilvb_protocol::{Envelope, ErrorCode, ProtocolError};
use minilvb_store::repeated_log::{self, RepeatedLog};

/// How connections are served.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// Time for a request's headers to arrive, and for an idle keep-alive
    /// connection to start its next request.
    pub header_read_timeout: Duration,
    /// After shutdown begins, time for in-flight requests to finish.
    pub drain: Duration,
}

/// Open connections of one listener, for the metrics.
#[derive(Debug, Default)]
pub struct ConnectionGauge(AtomicI64);

impl ConnectionGauge {
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A connection being served: counted on its listener's gauge, holding its
/// place under the caps, and keeping the drain waiting.
struct Open {
    gauge: Arc<ConnectionGauge>,
    _slot: Slot,
    _alive: mpsc::Sender<Infallible>,
}

impl Open {
    fn new(gauge: Arc<ConnectionGauge>, slot: Slot, alive: mpsc::Sender<Infallible>) -> Self {
        gauge.0.fetch_add(1, Ordering::Relaxed);
        Self {
            gauge,
            _slot: slot,
            _alive: alive,
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.gauge.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Pauses after failed accepts: 5 ms, doubling up to 1 s; reset by a success.
#[derive(Debug, Default)]
struct Backoff(u32);

impl Backoff {
    fn next(&mut self) -> Duration {
        let pause = Duration::from_millis(5 << self.0.min(8)).min(Duration::from_secs(1));
        self.0 = self.0.saturating_add(1);
        pause
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then drains.
/// Returns whether every connection finished within the drain time.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    limits: Arc<ConnectionLimits>,
    gauge: Arc<ConnectionGauge>,
    shutdown: impl Future<Output = ()> + Send,
) -> bool {
    let (stop, stopped) = watch::channel(false);
    let (alive, mut all_closed) = mpsc::channel::<Infallible>(1);
    let mut backoff = Backoff::default();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff = Backoff::default();
                match limits.admit(peer.ip()) {
                    Ok(slot) => {
                        let open = Open::new(gauge.clone(), slot, alive.clone());
                        serve_connection(
                            stream,
                            peer,
                            router.clone(),
                            options,
                            stopped.clone(),
                            open,
                        );
                    }
                    Err(refused) => refuse(stream, peer, refused),
                }
            }
            Err(error) => {
                let pause = backoff.next();
                if accept_failures().first(&error.to_string()) {
                    tracing::warn!(%error, pause_ms = pause.as_millis() as u64, "accept failed; pausing");
                }
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = &mut shutdown => break,
                }
            }
        }
    }
    drop(listener);
    tracing::info!(connections = gauge.get(), "stopped accepting; draining");
    let _ = stop.send(true);
    drop(alive);
    tokio::select! {
        _ = all_closed.recv() => true,
        () = tokio::time::sleep(options.drain) => {
            tracing::warn!(drain_secs = options.drain.as_secs(), "drain time over; closing remaining connections");
            false
        }
    }
}

fn accept_failures() -> &'static Arc<RepeatedLog> {
    static LOG: OnceLock<Arc<RepeatedLog>> = OnceLock::new();
    LOG.get_or_init(|| {
        RepeatedLog::new(repeated_log::INTERVAL, |error, times, interval| {
            tracing::warn!(%error, "accept failed{}", repeated_log::repeated(times, interval));
        })
    })
}

fn refusals() -> &'static Arc<RepeatedLog> {
    static LOG: OnceLock<Arc<RepeatedLog>> = OnceLock::new();
    LOG.get_or_init(|| {
        RepeatedLog::new(repeated_log::INTERVAL, |why, times, interval| {
            tracing::warn!(
                "connection refused: {why}{}",
                repeated_log::repeated(times, interval)
            );
        })
    })
}

/// Answers a connection over the caps with HTTP 503 and closes it, without
/// waiting on the client: what the socket takes at once is all it gets.
fn refuse(stream: TcpStream, peer: SocketAddr, refused: Refused) {
    metrics::counter!(m::CONNECTIONS_REFUSED, "reason" => refused.name()).increment(1);
    if refusals().first(refused.why()) {
        tracing::warn!(client = %peer.ip(), "connection refused: {}", refused.why());
    }
    static REPLY: OnceLock<Vec<u8>> = OnceLock::new();
    let reply = REPLY.get_or_init(|| {
        http_reply(
            "503 Service Unavailable",
            &ProtocolError::new(
                ErrorCode::FrequencyControl,
                "frequency control! | too many connections, retry later",
            ),
        )
    });
    // Plain non-blocking calls on the socket: no waiting for readiness.
    let Ok(mut socket) = stream.into_std() else {
        return;
    };
    // A request head already sent is read first: closing a socket with
    // unread data resets it, and the client would not see the reply.
    let mut sent = [0u8; 4096];
    let _ = std::io::Read::read(&mut socket, &mut sent);
    let _ = std::io::Write::write(&mut socket, reply);
}

/// A complete HTTP/1.1 reply with the protocol's envelope, closing the connection.
fn http_reply(status: &str, error: &ProtocolError) -> Vec<u8> {
    let body = serde_json::to_vec(&Envelope::error(error)).unwrap_or_default();
    let mut reply = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    reply.extend_from_slice(&body);
    reply
}

fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    options: ServeOptions,
    mut stopped: watch::Receiver<bool>,
    open: Open,
) {
    let _ = stream.set_nodelay(true);
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        counter.fetch_add(1, Ordering::Relaxed);
        request.extensions_mut().insert(ConnectInfo(peer));
        let router = router.clone();
        Box::pin(async move {
            Ok::<_, Infallible>(router.oneshot(request).await.unwrap_or_else(|e| match e {}))
        })
    });
    let mut connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .serve_connection(TokioIo::new(stream), service);
    tokio::spawn(async move {
        let _open = open;
        // Served without letting hyper close the socket, so that a client
        // whose headers never came can still be answered on it (hyper
        // closes such a connection without a word).
        // Shutdown: no new request on it; the one in progress finishes.
        let mut stopping = *stopped.borrow();
        if stopping {
            std::pin::Pin::new(&mut connection).graceful_shutdown();
        }
        let outcome = loop {
            let step = tokio::select! {
                outcome = std::future::poll_fn(|cx| connection.poll_without_shutdown(cx)) => Some(outcome),
                // Only ever set to true (or the sender gone): stop either way.
                _ = stopped.changed(), if !stopping => None,
            };
            match step {
                Some(outcome) => break outcome,
                None => {
                    stopping = true;
                    std::pin::Pin::new(&mut connection).graceful_shutdown();
                }
            }
        };
        let mut stream = connection.into_parts().io.into_inner();
        match outcome {
            Err(error) if error.is_timeout() && served.load(Ordering::Relaxed) == 0 => {
                tracing::info!(%peer, "request headers not received in time");
                answer_header_timeout(&mut stream, options.header_read_timeout).await;
            }
            Err(error) => tracing::debug!(%peer, %error, "connection ended with an error"),
            Ok(()) => {}
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
    });
}

/// HTTP 408 with the protocol's envelope.
async fn answer_header_timeout(stream: &mut TcpStream, timeout: Duration) {
    let reply = http_reply(
        "408 Request Timeout",
        &ProtocolError::invalid_json(&format!(
            "request headers not received within {} s",
            timeout.as_secs()
        )),
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&reply)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_accepts_pause_longer_each_time_up_to_a_second() {
        let mut backoff = Backoff::default();
        let pauses: Vec<u64> = (0..12).map(|_| backoff.next().as_millis() as u64).collect();
        assert_eq!(
            pauses,
            [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000, 1000]
        );
    }
}
