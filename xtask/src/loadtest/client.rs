//! The load generator: `connections` threads, each holding one keep-alive
//! HTTP/1.1 connection and sending its next request as soon as the previous
//! response has been read to its end (a closed loop), for a fixed time.
//!
//! Requests are rendered before the load starts (a table cycled by index),
//! so the client's own cost per request is a write, the reads of the
//! response, and a scan for the end of its head.

use std::{
    io::{Read, Write},
    net::TcpStream,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

/// A rendered HTTP/1.1 request.
pub(crate) type Request = Vec<u8>;

/// `method path` with an optional JSON body, as bytes on the wire.
pub(crate) fn render(method: &str, path: &str, body: Option<&str>) -> Request {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    if let Some(b) = body {
        out.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}", b.len()));
    } else {
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// What one load run measured.
#[derive(Debug, Default, Clone)]
pub(crate) struct Outcome {
    /// Responses read to their end (any status).
    pub(crate) responses: u64,
    /// Responses with a 5xx status, plus dropped connections.
    pub(crate) errors: u64,
    /// Per response, microseconds from the request's write to the response's end.
    pub(crate) latencies_us: Vec<u32>,
    /// Wall time of the run.
    pub(crate) elapsed: Duration,
}

impl Outcome {
    /// Responses per second.
    pub(crate) fn throughput(&self) -> f64 {
        self.responses as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The status and the head's length of a response whose head is complete
/// in `buf`, with its body length; `None` while the head is incomplete.
///
/// # Errors
/// A malformed status line or a response without `Content-Length`.
pub(crate) fn parse_head(buf: &[u8]) -> Result<Option<(u16, usize, usize)>> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { return Ok(None) };
    let head = std::str::from_utf8(&buf[..end]).context("response head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .context("malformed status line")?;
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .context("response without Content-Length")?;
    Ok(Some((status, end + 4, length)))
}

/// Why an exchange failed.
enum Failure {
    /// The connection broke (reset, closed, timed out): counted, reopened.
    Dropped(std::io::Error),
    /// The server answered something this client cannot read: the run stops.
    Malformed(anyhow::Error),
}

/// One keep-alive connection with its read buffer.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Bytes of `buf` holding data not yet consumed.
    filled: usize,
}

impl Conn {
    fn open(port: u16) -> Result<Conn> {
        let stream = TcpStream::connect(("127.0.0.1", port)).with_context(|| format!("connecting to port {port}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Conn { stream, buf: vec![0; 64 * 1024], filled: 0 })
    }

    /// Sends `req` and reads its response to the end; returns the status.
    fn exchange(&mut self, req: &[u8]) -> Result<u16, Failure> {
        self.stream.write_all(req).map_err(Failure::Dropped)?;
        loop {
            if let Some((status, head, length)) = parse_head(&self.buf[..self.filled]).map_err(Failure::Malformed)? {
                let total = head + length;
                while self.filled < total {
                    if total > self.buf.len() {
                        self.buf.resize(total, 0);
                    }
                    self.fill()?;
                }
                self.buf.copy_within(total..self.filled, 0);
                self.filled -= total;
                return Ok(status);
            }
            if self.filled == self.buf.len() {
                self.buf.resize(self.buf.len() * 2, 0);
            }
            self.fill()?;
        }
    }

    fn fill(&mut self) -> Result<(), Failure> {
        let n = self.stream.read(&mut self.buf[self.filled..]).map_err(Failure::Dropped)?;
        if n == 0 {
            return Err(Failure::Dropped(std::io::ErrorKind::UnexpectedEof.into()));
        }
        self.filled += n;
        Ok(())
    }
}

/// Runs the closed loop against `127.0.0.1:port` for `duration` with
/// `connections` connections; connection `c` starts at request `c * 7` of
/// `requests` and cycles through it. A dropped connection is counted as an
/// error and reopened.
///
/// # Errors
/// When a connection cannot be opened, or a response is malformed.
pub(crate) fn run(port: u16, requests: &Arc<[Request]>, connections: usize, duration: Duration) -> Result<Outcome> {
    if requests.is_empty() {
        bail!("no requests to send");
    }
    let started = Instant::now();
    let deadline = started + duration;
    let threads: Vec<_> = (0..connections.max(1))
        .map(|c| {
            let requests = requests.clone();
            std::thread::spawn(move || -> Result<Outcome> {
                let mut conn = Conn::open(port)?;
                let mut out = Outcome::default();
                let mut i = c * 7;
                loop {
                    let t = Instant::now();
                    if t >= deadline {
                        break;
                    }
                    match conn.exchange(&requests[i % requests.len()]) {
                        Ok(status) => {
                            out.responses += 1;
                            out.latencies_us.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                            if status >= 500 {
                                out.errors += 1;
                            }
                        }
                        Err(Failure::Dropped(_)) => {
                            out.errors += 1;
                            conn = Conn::open(port)?;
                        }
                        Err(Failure::Malformed(e)) => return Err(e),
                    }
                    i += 1;
                }
                Ok(out)
            })
        })
        .collect();
    let mut total = Outcome::default();
    for t in threads {
        let o = t.join().map_err(|_| anyhow::anyhow!("a load thread panicked"))??;
        total.responses += o.responses;
        total.errors += o.errors;
        total.latencies_us.extend(o.latencies_us);
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

/// Sends `request` `n` times in sequence on one connection; returns each
/// exchange's microseconds.
///
/// # Errors
/// A failed exchange, or a status other than 200.
pub(crate) fn sequential(port: u16, request: &[u8], n: usize) -> Result<Vec<u32>> {
    let mut conn = Conn::open(port)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let status = conn.exchange(request).map_err(|f| match f {
            Failure::Dropped(e) => anyhow::Error::from(e).context("connection dropped"),
            Failure::Malformed(e) => e,
        })?;
        out.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
        if status != 200 {
            bail!("{} answered {status}", String::from_utf8_lossy(request).lines().next().unwrap_or(""));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    #[test]
    fn a_head_is_parsed_once_complete() {
        let r = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx: y\r\n\r\nok";
        assert_eq!(parse_head(&r[..20]).unwrap(), None);
        assert_eq!(parse_head(r).unwrap(), Some((200, r.len() - 2, 2)));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\n\r\n").is_err(), "no Content-Length");
        assert!(parse_head(b"garbage\r\n\r\n").is_err());
    }

    #[test]
    fn requests_are_rendered_with_their_body_length() {
        assert_eq!(render("GET", "/a", None), b"GET /a HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_vec());
        let put = String::from_utf8(render("PUT", "/b", Some("{}"))).unwrap();
        assert!(put.ends_with("Content-Length: 2\r\n\r\n{}"), "{put}");
    }

    /// A keep-alive server answering each request head with a body split over
    /// two writes, and a 503 for `/fail`; it closes each connection after
    /// `per_conn` responses.
    fn tiny_server(per_conn: usize) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for s in listener.incoming() {
                let Ok(mut s) = s else { return };
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    let mut served = 0;
                    while served < per_conn {
                        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                            match s.read(&mut chunk) {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                            continue;
                        };
                        let fail = buf.starts_with(b"GET /fail ");
                        buf.drain(..end + 4);
                        let status = if fail { "503 Service Unavailable" } else { "200 OK" };
                        let body = "x".repeat(100_000);
                        let _ = s.write_all(
                            format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n{}", body.len(), &body[..10])
                                .as_bytes(),
                        );
                        let _ = s.write_all(&body.as_bytes()[10..]);
                        served += 1;
                    }
                });
            }
        });
        port
    }

    #[test]
    fn the_closed_loop_counts_responses_errors_and_reconnects() {
        let port = tiny_server(5);
        let requests: Arc<[Request]> = Arc::from(vec![render("GET", "/ok", None), render("GET", "/fail", None)]);
        let out = run(port, &requests, 2, Duration::from_millis(300)).unwrap();
        assert!(out.responses > 10, "{out:?}");
        assert_eq!(out.latencies_us.len() as u64, out.responses);
        // Half the answers are 503; every fifth exchange finds its connection closed.
        let failed = out.responses / 2;
        assert!(out.errors >= failed.saturating_sub(2), "{} errors for {} responses", out.errors, out.responses);
        assert!(out.errors > failed + out.responses / 10, "dropped connections count: {out:?}");
        assert!(out.throughput() > 0.0);
    }

    #[test]
    fn sequential_exchanges_time_each_response_and_refuse_a_failure() {
        let port = tiny_server(100);
        assert_eq!(sequential(port, &render("GET", "/ok", None), 20).unwrap().len(), 20);
        let err = sequential(port, &render("GET", "/fail", None), 3).unwrap_err();
        assert!(err.to_string().contains("503"), "{err}");
    }
}
