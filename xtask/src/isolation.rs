//! `cargo xtask bench-isolation`: how much heavy performance-API traffic
//! slows an application route of the landscape demo.
//!
//! Starts the demo binary on a free port with a fresh SQLite directory,
//! sends some traffic so the store has keys, measures the p50 of `--requests`
//! sequential `GET /api/projects/1` alone, then again while `--clients`
//! threads hammer `/api/performance/report?minutes=1440` and
//! `/api/performance/timeseries?metric=requests&minutes=1440`, and prints
//! both p50s and their ratio. A benchmark, not a test: nothing is asserted.
//!
//! Options: `--bin target/release/landscape` (default: the release binary,
//! else the debug one), `--requests 2000`, `--clients 8`.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

struct Options {
    bin: PathBuf,
    requests: usize,
    clients: usize,
}

fn parse(args: &[String]) -> Result<Options> {
    let release = crate::root().join("target/release/landscape");
    let mut bin = if release.exists() { release } else { crate::root().join("target/debug/landscape") };
    let (mut requests, mut clients) = (2_000, 8);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let v = it.next().with_context(|| format!("{a} needs a value"))?;
        match a.as_str() {
            "--bin" => bin = PathBuf::from(v),
            "--requests" => requests = v.parse().context("--requests")?,
            "--clients" => clients = v.parse().context("--clients")?,
            _ => bail!("unknown option {a}"),
        }
    }
    if !(10..=1_000_000).contains(&requests) || !(1..=256).contains(&clients) {
        bail!("--requests must be in 10..=1000000 and --clients in 1..=256");
    }
    if !bin.exists() {
        bail!("{} does not exist; build it with `cargo build --release -p landscape`", bin.display());
    }
    Ok(Options { bin, requests, clients })
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    reader: BufReader<TcpStream>,
    port: u16,
}

impl Conn {
    fn open(port: u16) -> Result<Conn> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Conn { reader: BufReader::new(s), port })
    }

    /// Sends a GET and reads the whole response; returns the status.
    fn get(&mut self, path: &str) -> Result<u16> {
        write!(self.reader.get_mut(), "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n", self.port)?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status = line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).context("malformed status line")?;
        let mut length = None;
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                bail!("connection closed in the headers");
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse::<u64>().ok();
            }
        }
        let length = length.context("response without Content-Length")?;
        std::io::copy(&mut (&mut self.reader).take(length), &mut std::io::sink())?;
        Ok(status)
    }
}

/// The demo process, killed (by its own handle) when dropped.
struct Demo {
    child: Child,
    port: u16,
    _data: TempDir,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn start(bin: &PathBuf) -> Result<Demo> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let data = std::env::temp_dir().join(format!("perfkit-bench-isolation-{}", std::process::id()));
    std::fs::create_dir_all(&data)?;
    let child = Command::new(bin)
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("DATA_DIR", &data)
        .env("RUST_LOG", "error")
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let demo = Demo { child, port, _data: TempDir(data) };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if Conn::open(port).and_then(|mut c| c.get("/health")).is_ok_and(|s| s == 200) {
            return Ok(demo);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("the demo did not answer /health within 60 s")
}

/// p50 and p95 of `n` sequential GETs of `path` on one connection, in ms.
fn measure(port: u16, path: &str, n: usize) -> Result<(f64, f64)> {
    let mut c = Conn::open(port)?;
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let status = c.get(path)?;
        times.push(t.elapsed().as_secs_f64() * 1_000.0);
        if status != 200 {
            bail!("{path} answered {status}");
        }
    }
    times.sort_by(f64::total_cmp);
    Ok((times[n / 2], times[n * 95 / 100]))
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    println!("demo binary: {}", o.bin.display());
    let demo = start(&o.bin)?;
    let app_route = "/api/projects/1";
    // Some keys in the store, so the report and series have work to do.
    let mut c = Conn::open(demo.port)?;
    for n in 0..400u32 {
        let path = match n % 5 {
            0 => format!("/api/projects/{}", 1 + n % 20),
            1 => format!("/api/projects/{}/report", 1 + n % 20),
            2 => "/api/dashboard".to_owned(),
            3 => format!("/api/plants?search=oak&page={}", 1 + n % 3),
            _ => "/api/projects".to_owned(),
        };
        c.get(&path)?;
    }
    let (alone_p50, alone_p95) = measure(demo.port, app_route, o.requests)?;
    println!("{app_route} alone: p50 {alone_p50:.3} ms, p95 {alone_p95:.3} ms ({} requests)", o.requests);

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, busy, other) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let hammers: Vec<_> = (0..o.clients)
        .map(|i| {
            let (stop, ok, busy, other) = (stop.clone(), ok.clone(), busy.clone(), other.clone());
            let port = demo.port;
            std::thread::spawn(move || -> Result<()> {
                let mut c = Conn::open(port)?;
                let paths = [
                    "/api/performance/report?minutes=1440",
                    "/api/performance/timeseries?metric=requests&minutes=1440",
                ];
                let mut n = i;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    match c.get(paths[n % 2]) {
                        Ok(200) => ok.fetch_add(1, Ordering::Relaxed),
                        Ok(429) => busy.fetch_add(1, Ordering::Relaxed),
                        Ok(_) => other.fetch_add(1, Ordering::Relaxed),
                        // A dropped connection (e.g. a server timeout): count it, reconnect.
                        Err(_) => {
                            c = Conn::open(port)?;
                            other.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
                Ok(())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let loaded = measure(demo.port, app_route, o.requests);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for h in hammers {
        h.join().map_err(|_| anyhow::anyhow!("a hammer thread panicked"))??;
    }
    let (loaded_p50, loaded_p95) = loaded?;
    println!(
        "{app_route} with {} clients on report + timeseries (1440 min): p50 {loaded_p50:.3} ms, p95 {loaded_p95:.3} ms",
        o.clients
    );
    println!(
        "heavy requests while hammering: {} answered 200, {} answered 429, {} other or dropped ({:.1} s)",
        ok.load(Ordering::Relaxed),
        busy.load(Ordering::Relaxed),
        other.load(Ordering::Relaxed),
        elapsed
    );
    println!("p50 ratio loaded / alone: {:.1}x", loaded_p50 / alone_p50);
    Ok(())
}
