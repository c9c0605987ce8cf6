//! A minimal HTTP/1.1 keep-alive client, as cheap as it can be because it
//! shares the cores with the server it measures: one request at a time per
//! connection, `Content-Length` bodies only, buffers reused.

use std::io;
use std::net::SocketAddr;

use tokio::net::TcpStream;

/// One keep-alive connection.
pub struct Conn {
    stream: TcpStream,
    host: String,
    request: Vec<u8>,
    buf: Vec<u8>,
    filled: usize,
}

/// A reply: the status and where its body is in the connection's buffer.
pub struct Reply<'a> {
    pub status: u16,
    pub body: &'a [u8],
}

fn bad(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.into())
}

impl Conn {
    pub async fn connect(addr: SocketAddr, host: &str) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            host: host.to_owned(),
            request: Vec::with_capacity(1024),
            buf: vec![0; 16 * 1024],
            filled: 0,
        })
    }

    /// POSTs `body` to `path` and reads the whole reply.
    pub async fn post(&mut self, path: &str, body: &[u8]) -> io::Result<Reply<'_>> {
        use std::io::Write as _;
        self.request.clear();
        write!(
            self.request,
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
            self.host,
            body.len()
        )?;
        self.request.extend_from_slice(body);
        self.write_request().await?;
        let (status, start, end) = self.read_reply().await?;
        Ok(Reply {
            status,
            body: &self.buf[start..end],
        })
    }

    async fn write_request(&mut self) -> io::Result<()> {
        let mut written = 0;
        while written < self.request.len() {
            match self.stream.try_write(&self.request[written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.stream.writable().await?,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads more bytes into the buffer, growing it when full.
    async fn fill(&mut self) -> io::Result<()> {
        if self.filled == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        loop {
            match self.stream.try_read(&mut self.buf[self.filled..]) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    self.filled += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.stream.readable().await?,
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads one reply; returns its status and body range. Bytes of a
    /// previous reply are dropped first (there is never more than one in
    /// flight, so normally none are left).
    async fn read_reply(&mut self) -> io::Result<(u16, usize, usize)> {
        self.filled = 0;
        let mut searched = 0;
        let head_end = loop {
            if let Some(at) = find(&self.buf[searched..self.filled], b"\r\n\r\n") {
                break searched + at + 4;
            }
            searched = self.filled.saturating_sub(3);
            self.fill().await?;
        };
        let head = &self.buf[..head_end];
        if head.len() < 12 || !head.starts_with(b"HTTP/1.") {
            return Err(bad("not an HTTP/1 reply"));
        }
        let status = std::str::from_utf8(&head[9..12])
            .ok()
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| bad("bad status line"))?;
        let mut length = None;
        for line in head.split(|&b| b == b'\n').skip(1) {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
            if name.eq_ignore_ascii_case(b"content-length") {
                length = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.parse::<usize>().ok());
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                return Err(bad("chunked replies are not supported"));
            }
        }
        let length = length.ok_or_else(|| bad("reply without Content-Length"))?;
        let end = head_end + length;
        if self.buf.len() < end {
            self.buf.resize(end.next_power_of_two(), 0);
        }
        while self.filled < end {
            self.fill().await?;
        }
        Ok((status, head_end, end))
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The envelope's `returnValue`, read cheaply: the server writes it first
/// (`{"returnValue":N,...`); anything else is parsed as JSON.
pub fn return_value(body: &[u8]) -> Option<i64> {
    const PREFIX: &[u8] = b"{\"returnValue\":";
    if let Some(rest) = body.strip_prefix(PREFIX) {
        let (negative, digits) = match rest.first() {
            Some(b'-') => (true, &rest[1..]),
            _ => (false, rest),
        };
        let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
        if len > 0 && len < 19 && matches!(digits.get(len), Some(b',') | Some(b'}')) {
            let n = digits[..len]
                .iter()
                .fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
            return Some(if negative { -n } else { n });
        }
    }
    #[derive(serde::Deserialize)]
    struct Envelope {
        #[serde(rename = "returnValue")]
        return_value: i64,
    }
    serde_json::from_slice::<Envelope>(body)
        .ok()
        .map(|e| e.return_value)
}

#[cfg(test)]
mod tests {
    use super::return_value;

    #[test]
    fn return_value_fast_and_slow_paths() {
        assert_eq!(
            return_value(br#"{"returnValue":0,"returnMsg":"x","returnData":{}}"#),
            Some(0)
        );
        assert_eq!(
            return_value(br#"{"returnValue":2003,"returnMsg":"x"}"#),
            Some(2003)
        );
        assert_eq!(
            return_value(br#"{ "returnMsg":"x", "returnValue": 1000 }"#),
            Some(1000)
        );
        assert_eq!(return_value(b"not json"), None);
        assert_eq!(return_value(br#"{"returnValue":"0"}"#), None);
    }
}
