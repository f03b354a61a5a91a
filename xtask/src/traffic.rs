//! `cargo xtask traffic`: a bounded, realistic mix of requests against a
//! running landscape demo, so the dashboard shows life within seconds.
//!
//! Options: `--base-url http://127.0.0.1:8080` (default), `--seconds 20`,
//! `--rps 40`. Uses a tiny HTTP/1.1 client over std's TcpStream.

use std::{
    io::{Read, Write},
    net::TcpStream,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

struct Options {
    host: String,
    port: u16,
    seconds: u64,
    rps: u64,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut base = "http://127.0.0.1:8080".to_string();
    let (mut seconds, mut rps) = (20, 40);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let v = it.next().with_context(|| format!("{a} needs a value"))?;
        match a.as_str() {
            "--base-url" => base = v.clone(),
            "--seconds" => seconds = v.parse().context("--seconds")?,
            "--rps" => rps = v.parse().context("--rps")?,
            _ => bail!("unknown option {a}"),
        }
    }
    let rest = base.strip_prefix("http://").context("only http:// base URLs are supported")?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().context("port")?),
        None => (authority.to_string(), 80),
    };
    if seconds == 0 || seconds > 3_600 || rps == 0 || rps > 2_000 {
        bail!("--seconds must be in 1..=3600 and --rps in 1..=2000");
    }
    Ok(Options { host, port, seconds, rps })
}

/// Sends one request and returns the status code.
fn send(o: &Options, method: &str, path: &str, body: Option<&str>) -> Result<u16> {
    let mut s = TcpStream::connect((o.host.as_str(), o.port))
        .with_context(|| format!("connecting to {}:{}", o.host, o.port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        o.host,
        body.len()
    )?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let head = String::from_utf8_lossy(&resp[..resp.len().min(64)]);
    head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).context("malformed response")
}

/// Request `n` of the demo's deterministic mix: mostly reads, some writes,
/// a few expensive pages, as (method, path, JSON body). Without `creates`,
/// the one project creation in twenty is a project lookup instead, so the
/// data stays the same however long the mix runs (`cargo xtask loadtest`).
pub(crate) fn mix(n: u64, creates: bool) -> (&'static str, String, Option<String>) {
    // The project cycles independently of the route choice below.
    let id = 1 + (n / 20) % 20;
    match n % 20 {
        0 if creates => (
            "POST",
            "/api/projects".into(),
            Some(format!(r#"{{"name":"Traffic garden {n}","client":"xtask","budget":{}}}"#, 1000 + n % 9000)),
        ),
        0 => ("GET", format!("/api/projects/{id}"), None),
        1 => ("GET", format!("/api/projects/{id}/report?naive=true"), None),
        2 | 3 => ("GET", "/api/dashboard".into(), None),
        4 => ("GET", format!("/api/projects/{id}/report"), None),
        5 => ("PUT", format!("/api/projects/{id}"), Some(r#"{"status":"active"}"#.into())),
        6 => ("GET", "/api/projects/999999".into(), None),
        7..=10 => (
            "GET",
            format!("/api/plants?search={}&page={}", ["oak", "fern", "rose", "maple"][(n % 4) as usize], 1 + n % 3),
            None,
        ),
        _ => ("GET", if n.is_multiple_of(2) { "/api/projects" } else { "/health" }.into(), None),
    }
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    send(&o, "GET", "/health", None)
        .context("is the demo running? start it with `cargo run --release -p landscape`")?;
    let started = Instant::now();
    let interval = Duration::from_micros(1_000_000 / o.rps);
    let (mut sent, mut errors) = (0u64, 0u64);
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(o.seconds) {
        n += 1;
        let (method, path, body) = mix(n, true);
        let result = send(&o, method, &path, body.as_deref());
        sent += 1;
        match result {
            Ok(status) if status < 500 => {}
            _ => errors += 1,
        }
        std::thread::sleep(interval);
    }
    println!(
        "sent {sent} requests in {:.1}s, {errors} failed (5xx or connection errors)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
