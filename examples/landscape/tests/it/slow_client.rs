//! Slow and silent clients: connections that never finish their request
//! head or body are closed by the server's timeouts, and normal requests
//! are served meanwhile.

use std::{
    io::{ErrorKind, Read, Write},
    net::TcpStream,
    time::{Duration, Instant},
};

use crate::server::Server;

/// The timeouts the service is started with, in seconds.
const TIMEOUT_SECS: u64 = 2;
/// Half-sent requests of each kind.
const EACH: usize = 25;

/// Reads until the server closes `s` or `deadline` passes; returns what
/// was received, or `None` when the connection was still open at the deadline.
fn read_until_closed(s: &mut TcpStream, deadline: Instant) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        s.set_read_timeout(Some(left.max(Duration::from_millis(1)))).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted) => {
                return Some(got);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return None,
            Err(e) => panic!("read failed: {e}"),
        }
    }
}

#[test]
fn half_sent_requests_are_closed_by_the_timeouts() {
    let secs = TIMEOUT_SECS.to_string();
    let server = Server::start(
        "slow-client",
        &[
            ("CLIENT_REQUEST_TIMEOUT", secs.as_str()),
            ("BODY_READ_TIMEOUT", secs.as_str()),
            ("KEEP_ALIVE", secs.as_str()),
            ("CLIENT_DISCONNECT_TIMEOUT", "1"),
        ],
    );
    let addr = server.addr;
    let started = Instant::now();
    let mut heads = Vec::new();
    let mut bodies = Vec::new();
    for _ in 0..EACH {
        // Headers without the blank line that ends them.
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(format!("GET /api/projects HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\n").as_bytes()).unwrap();
        heads.push(s);
        // A complete head announcing 1000 bytes of body, and 10 of them.
        let mut s = TcpStream::connect(addr).unwrap();
        let head = format!(
            "POST /api/projects HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(br#"{"name":"G"#).unwrap();
        bodies.push(s);
    }
    // An unfinished chunked body to a route that answers without reading it.
    let mut unread = TcpStream::connect(addr).unwrap();
    let head = format!("POST /health HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    unread.write_all(head.as_bytes()).unwrap();
    // An idle keep-alive connection after one complete request.
    let mut idle = TcpStream::connect(addr).unwrap();
    idle.write_all(format!("GET /health HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).unwrap();

    // Meanwhile the service answers normal requests.
    let list = server.get("/api/projects");
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.json()["count"], landscape::SEEDED_PROJECTS);

    // Generous: three times the configured timeout (plus the disconnect
    // timeout) after the connections were opened.
    let deadline = started + Duration::from_secs(3 * TIMEOUT_SECS + 1);
    for (i, s) in heads.iter_mut().enumerate() {
        let got = read_until_closed(s, deadline)
            .unwrap_or_else(|| panic!("head {i} still open after {:?}", started.elapsed()));
        let text = String::from_utf8_lossy(&got);
        assert!(text.is_empty() || text.starts_with("HTTP/1.1 408"), "head {i}: {text}");
    }
    for (i, s) in bodies.iter_mut().enumerate() {
        let got = read_until_closed(s, deadline)
            .unwrap_or_else(|| panic!("body {i} still open after {:?}", started.elapsed()));
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("HTTP/1.1 408"), "body {i}: {text}");
        assert!(text.contains(r#""code":"request_timeout""#), "body {i}: {text}");
    }
    let got = read_until_closed(&mut unread, deadline)
        .unwrap_or_else(|| panic!("the unread chunked body still holds its connection after {:?}", started.elapsed()));
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 405"));
    let got = read_until_closed(&mut idle, deadline)
        .unwrap_or_else(|| panic!("the idle keep-alive connection is still open after {:?}", started.elapsed()));
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
    let all_closed = started.elapsed();

    // Nothing was created from the half-sent bodies, and the service still answers.
    let list = server.get("/api/projects");
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.json()["count"], landscape::SEEDED_PROJECTS);
    eprintln!("slow clients: all {} connections closed after {all_closed:?}", 2 * EACH + 2);
}
