//! Raw HTTP/1.1 over TCP, for what a well-behaved client cannot do: stall
//! mid-headers or mid-body, hold a connection idle.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// A connection to the server at `base` (`http://ADDR`).
pub async fn connect(base: &str) -> TcpStream {
    let addr = base.trim_start_matches("http://");
    TcpStream::connect(addr).await.expect("connect")
}

pub async fn send(stream: &mut TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).await.expect("write");
    stream.flush().await.expect("flush");
}

/// The head of a POST to `/interface.php` announcing `length` body bytes.
pub fn post_head(length: usize) -> String {
    format!(
        "POST /interface.php HTTP/1.1\r\nHost: minilvb\r\n\
         Content-Type: application/json; charset=utf-8\r\nContent-Length: {length}\r\n\r\n"
    )
}

/// A reply read off the wire.
#[derive(Debug)]
pub struct RawReply {
    pub status: u16,
    pub head: String,
    pub body: Value,
}

/// Reads one response (with a Content-Length), waiting at most `within`.
pub async fn read_reply(stream: &mut TcpStream, within: Duration) -> RawReply {
    tokio::time::timeout(within, async {
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = find(&buffer, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().ok())?
                    })
                    .expect("a content-length");
                while buffer.len() < end + 4 + length {
                    let n = stream.read(&mut chunk).await.expect("read");
                    assert!(n > 0, "connection closed mid-body: {head}");
                    buffer.extend_from_slice(&chunk[..n]);
                }
                let status = head
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .expect("a status");
                let body = serde_json::from_slice(&buffer[end + 4..end + 4 + length])
                    .expect("a JSON body");
                return RawReply { status, head, body };
            }
            let n = stream.read(&mut chunk).await.expect("read");
            assert!(
                n > 0,
                "connection closed without a reply: {:?}",
                String::from_utf8_lossy(&buffer)
            );
            buffer.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .expect("a reply in time")
}

/// Waits for the server to close the connection; returns the bytes it sent meanwhile.
pub async fn read_to_close(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut all = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut all))
        .await
        .expect("closed in time")
        .expect("read");
    all
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
