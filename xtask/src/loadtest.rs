//! `cargo xtask loadtest`: HTTP throughput and latency of real servers over
//! TCP, and the store's cost at scale.
//!
//! 1. **Middleware**: the apps of `bench/src/http.rs` (bare actix-web,
//!    perfkit with defaults, without `Server-Timing`, disabled, and
//!    actix-web-prom), each served by `bench serve <app> <port>` (bench
//!    profile, an actix `HttpServer` with one worker), on `/hello`,
//!    `/items/42` and `/items/{id}` with ids rotating over 0..4096.
//! 2. **Demo**: the landscape binary (release, SQLite, memory cache) with
//!    monitoring on and off (`PERFORMANCE_MONITORING_ENABLED=false`), on a
//!    fixed mix of its routes: the mix of `cargo xtask traffic` without its
//!    `POST /api/projects` (creating projects would grow the list every
//!    round and drift the figures), so reports (one in two naive, N+1),
//!    dashboards, searches, updates, lists, lookups, a 404 and `/health`.
//! 3. **Scale**: `bench serve-scale <n> <port>` for 10, 100 and 1,000
//!    endpoints, each with an hour of recorded traffic: sequential latency of
//!    `/api/performance/summary`, `/endpoints` and `/report` (every request
//!    computes its document: no 1 s reuse), and bytes per series
//!    (`Store::accounted_bytes` minus an empty store's, over the series).
//!
//! Sections 1 and 2 are interleaved: every server runs at once (idle but
//! one), and each round loads each server in turn for `--seconds`, starting
//! with a different variant each round. A variant's ratio is the median
//! (with quartiles) of its per-round throughput over the baseline's in the
//! same round, so drift and neighbours' noise hit both sides of a ratio;
//! p50 and p99 latency pool every request of every round.
//!
//! **Load generator**: written here in Rust ([`client`]): one thread per
//! connection (`--connections`, default 4), keep-alive HTTP/1.1, closed
//! loop, requests rendered beforehand. Chosen over `wrk` because it needs no
//! package, no Lua scripts for the rotating ids and the demo's mix, times
//! every request exactly, and is the same code on every machine.
//!
//! **Cores**: with `taskset` and at least two CPUs, this process (the client)
//! is pinned to CPU 0 and every server to CPU 1, so actix starts one worker
//! in the demo too; the tables say what was done. The server's CPU share
//! during its rounds (from `/proc/<pid>/stat`) is printed beside each
//! figure: near 100 % means the server, not the client, set the pace; a row
//! whose client used 90 % or more of its core is marked client-bound. During
//! a server's turn every other server is stopped (SIGSTOP, then SIGCONT for
//! its own turn), so idle servers' background threads do not share its core.
//!
//! **Soak** (`--soak`, instead of the above): the demo, monitoring on, under
//! the same closed-loop mix for `--minutes` (default 10); its RSS
//! (`VmRSS` in `/proc/<pid>/status`) is sampled every 5 s. It passes when the
//! RSS at the end is at most 5 % above the RSS after warm-up (1 minute, or a
//! fifth of the run when shorter), and exits non-zero otherwise. perfkit's
//! store grows, by design and up to a bound, as each series' history is
//! first written (about 6.5 KiB a series at first sight, 60 KiB after an
//! hour, at most about 229 KiB after a day), so a soak shorter than a day
//! includes that growth; the section says so beside the verdict.
//!
//! Options: `--quick` (3 rounds of 1 s, 5 samples per scale document, for a
//! smoke run; never written to BENCHMARKS.md), `--rounds N` (default 10),
//! `--seconds S` per round (default 2), `--connections C`, `--soak`,
//! `--minutes M`, `--no-write`. A run writes its `## Load test` (or
//! `## Load test: soak`) section into BENCHMARKS.md, replacing that section
//! in place and leaving the rest of the file untouched.

mod client;

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use self::client::Request;
use crate::root;

/// The middleware variants, the baseline first.
const APPS: [&str; 5] = ["bare", "perfkit", "perfkit-no-server-timing", "perfkit-disabled", "actix-web-prom"];

/// Endpoint counts of the scale table.
const SCALES: [usize; 3] = [10, 100, 1_000];

/// The performance documents timed at each scale.
const DOCUMENTS: [&str; 3] = ["/api/performance/summary", "/api/performance/endpoints", "/api/performance/report"];

/// Distinct ids of the rotating route (as in `bench/src/http.rs`).
const IDS: u64 = 4096;

/// Allowed RSS growth of the soak, in percent.
const SOAK_GROWTH_LIMIT_PCT: f64 = 5.0;

/// Seconds between two RSS samples of the soak.
const SOAK_SAMPLE_SECS: u64 = 5;

/// Options of one run.
#[derive(Debug, Clone, PartialEq)]
struct Options {
    quick: bool,
    rounds: usize,
    seconds: u64,
    connections: usize,
    soak: bool,
    minutes: u64,
    no_write: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let (mut quick, mut soak, mut no_write) = (false, false, false);
        let (mut rounds, mut seconds, mut connections, mut minutes) = (None, None, None, None);
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = |name: &str| it.next().with_context(|| format!("{name} needs a number"));
            match a.as_str() {
                "--quick" => quick = true,
                "--soak" => soak = true,
                "--no-write" => no_write = true,
                "--rounds" => rounds = Some(value("--rounds")?.parse().context("--rounds")?),
                "--seconds" => seconds = Some(value("--seconds")?.parse().context("--seconds")?),
                "--connections" => connections = Some(value("--connections")?.parse().context("--connections")?),
                "--minutes" => minutes = Some(value("--minutes")?.parse().context("--minutes")?),
                other => bail!(
                    "unknown loadtest option {other:?} (--quick, --rounds N, --seconds S, --connections C, --soak, --minutes M, --no-write)"
                ),
            }
        }
        if minutes.is_some() && !soak {
            bail!("--minutes applies to --soak only");
        }
        let o = Options {
            quick,
            rounds: rounds.unwrap_or(if quick { 3 } else { 10 }),
            seconds: seconds.unwrap_or(if quick { 1 } else { 2 }),
            connections: connections.unwrap_or(4),
            soak,
            minutes: minutes.unwrap_or(10),
            no_write,
        };
        if !(1..=1_000).contains(&o.rounds) || !(1..=600).contains(&o.seconds) {
            bail!("--rounds must be in 1..=1000 and --seconds in 1..=600");
        }
        if !(1..=256).contains(&o.connections) || !(1..=1_440).contains(&o.minutes) {
            bail!("--connections must be in 1..=256 and --minutes in 1..=1440");
        }
        Ok(o)
    }

    /// Whether this run's figures go into BENCHMARKS.md.
    fn writes(&self) -> bool {
        !self.quick && !self.no_write
    }
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    let opts = Options::parse(args)?;
    let command = format!("cargo xtask loadtest {}", args.join(" ")).trim_end().to_owned();
    // Builds first: cargo must not inherit the client's pinning.
    let demo = build_demo()?;
    let bench = if opts.soak { None } else { Some(crate::bench::build_bench_binary()?) };
    let pinning = Pinning::apply();
    eprintln!("{}", pinning.note);
    let header = header(&command, &opts, &pinning);
    if opts.soak {
        let soak = soak(&demo, &pinning, &opts)?;
        let section = render_soak(&header, &soak);
        println!("{section}");
        if opts.writes() {
            write_section("## Load test: soak", &section)?;
        }
        if !soak.passed() {
            bail!("RSS grew {:.1} % after warm-up (limit {SOAK_GROWTH_LIMIT_PCT} %)", soak.growth_pct());
        }
        return Ok(());
    }
    let bench = bench.context("the bench binary is built for every run but the soak")?;
    let http = middleware(&bench, &pinning, &opts)?;
    println!("{}", render_rows("Middleware", "route", &http));
    let landscape = demo_comparison(&demo, &pinning, &opts)?;
    println!("{}", render_rows("Demo", "mix", &landscape));
    let mut scale = Vec::new();
    for n in SCALES {
        eprintln!("scale: {n} endpoints");
        scale.push(measure_scale(&bench, n, &pinning, if opts.quick { 5 } else { 30 })?);
    }
    let section = render_report(&header, &http, &landscape, &scale);
    println!("{section}");
    if opts.writes() {
        write_section("## Load test", &section)?;
    } else {
        eprintln!("--quick or --no-write: BENCHMARKS.md left as it is");
    }
    Ok(())
}

/// Builds the demo in release and returns its binary.
fn build_demo() -> Result<PathBuf> {
    let mut c = crate::cargo();
    c.args(["build", "--release", "-p", "landscape"]);
    crate::run(c)?;
    Ok(root().join("target/release").join(format!("landscape{}", std::env::consts::EXE_SUFFIX)))
}

/// Where the client and the servers run.
struct Pinning {
    /// `taskset -c <cpus>` for each server, when pinned.
    server_cpus: Option<&'static str>,
    /// What was done, for the tables.
    note: String,
}

impl Pinning {
    /// Pins this process (and so every client thread it starts later) to
    /// CPU 0 and reserves CPU 1 for the servers, when `taskset` exists and
    /// this process may use both.
    fn apply() -> Pinning {
        let cpus = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
        if cpus < 2 {
            return Pinning { server_cpus: None, note: format!("not pinned: {cpus} CPU available") };
        }
        let pid = std::process::id().to_string();
        match Command::new("taskset").args(["-a", "-p", "-c", "0", &pid]).stdout(Stdio::null()).status() {
            Ok(s) if s.success() => Pinning {
                server_cpus: Some("1"),
                note: format!("client pinned to CPU 0 and each server to CPU 1 with taskset ({cpus} CPUs)"),
            },
            _ => Pinning { server_cpus: None, note: "not pinned: taskset is missing or refused".to_owned() },
        }
    }

    /// `program` under `taskset` when pinning.
    fn command(&self, program: &Path) -> Command {
        match self.server_cpus {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.args(["-c", cpus]).arg(program);
                c
            }
            None => Command::new(program),
        }
    }
}

/// A server process, killed (by its own handle) when dropped.
struct Server {
    child: Child,
    port: u16,
    /// Lines the server printed before `listening`.
    printed: Vec<String>,
    _data: Option<TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts `bench <args…> <port>` and waits for its `listening` line.
fn start_bench(bin: &Path, pinning: &Pinning, args: &[&str]) -> Result<Server> {
    let port = free_port()?;
    let mut c = pinning.command(bin);
    c.args(args).arg(port.to_string()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = c.spawn().with_context(|| format!("starting {c:?}"))?;
    let stdout = child.stdout.take().context("piped stdout")?;
    let mut server = Server { child, port, printed: Vec::new(), _data: None };
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if line == "listening" {
            return Ok(server);
        }
        server.printed.push(line);
    }
    bail!("{c:?} exited before listening")
}

/// Starts the demo on a fresh SQLite directory and waits for `/health`.
fn start_demo(bin: &Path, pinning: &Pinning, monitoring: bool) -> Result<Server> {
    let port = free_port()?;
    let data = std::env::temp_dir().join(format!("perfkit-loadtest-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&data)?;
    let mut c = pinning.command(bin);
    c.env("BIND", format!("127.0.0.1:{port}"))
        .env("DATA_DIR", &data)
        .env("RUST_LOG", "error")
        .env("PERFORMANCE_MONITORING_ENABLED", if monitoring { "true" } else { "false" })
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = c.spawn().with_context(|| format!("starting {}", bin.display()))?;
    let server = Server { child, port, printed: Vec::new(), _data: Some(TempDir(data)) };
    let health: Arc<[Request]> = Arc::from(vec![client::render("GET", "/health", None)]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if client::sequential(port, &health[0], 1).is_ok() {
            return Ok(server);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("the demo did not answer /health within 60 s")
}

/// CPU seconds between two readings over `elapsed`: 1.0 is one core busy.
fn share(before: Option<f64>, after: Option<f64>, elapsed: Duration) -> f64 {
    match (before, after) {
        (Some(b), Some(a)) => (a - b) / elapsed.as_secs_f64().max(1e-9),
        _ => f64::NAN,
    }
}

/// Sends `signal` (`-STOP`, `-CONT`) to `pid`; best effort: a server that
/// cannot be paused only keeps running beside the one under load.
fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill").args([signal, &pid.to_string()]).stdout(Stdio::null()).stderr(Stdio::null()).status();
}

/// Servers stopped until dropped (then continued).
struct Paused<'a>(&'a [u32]);

impl<'a> Paused<'a> {
    fn all(pids: &'a [u32]) -> Self {
        for &pid in pids {
            signal(pid, "-STOP");
        }
        Paused(pids)
    }
}

impl Drop for Paused<'_> {
    fn drop(&mut self) {
        for &pid in self.0 {
            signal(pid, "-CONT");
        }
    }
}

/// One server continued until dropped (then stopped again).
struct Running(u32);

impl Running {
    fn resume(pid: u32) -> Self {
        signal(pid, "-CONT");
        Running(pid)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        signal(self.0, "-STOP");
    }
}

/// User plus system CPU time of `pid`, in seconds.
fn cpu_seconds(pid: u32, ticks_per_sec: f64) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let (utime, stime): (u64, u64) = (f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?);
    Some((utime + stime) as f64 / ticks_per_sec)
}

fn ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// `VmRSS` of `pid` in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss(&status)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// One server under one load: a variant of a group.
struct Case<'a> {
    group: String,
    variant: String,
    server: &'a Server,
    requests: Arc<[Request]>,
}

/// One variant's figures over all rounds.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    group: String,
    variant: String,
    /// Median per-round throughput, requests per second.
    rps: f64,
    /// Lower quartile, median and upper quartile of the per-round ratio to the group's first variant.
    ratio: (f64, f64, f64),
    /// p50 and p99 latency of every request of every round, in microseconds.
    p50_us: f64,
    p99_us: f64,
    /// Median per-round CPU share of the server (1.0 = one core busy).
    cpu: f64,
    /// The same for this process, the load generator.
    client_cpu: f64,
    /// 5xx responses and dropped connections.
    errors: u64,
    rounds: usize,
}

/// The order of `n` variants in `round`: each round starts one further.
fn round_order(round: usize, n: usize) -> Vec<usize> {
    (0..n).map(|k| (round + k) % n).collect()
}

/// Lower quartile, median and upper quartile (nearest rank, as `bench wall`).
fn quartiles(xs: &[f64]) -> (f64, f64, f64) {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v.get((v.len().saturating_sub(1) as f64 * q).round() as usize).copied().unwrap_or(f64::NAN);
    (at(0.25), at(0.5), at(0.75))
}

/// Quartiles of the per-round ratios `ours[r] / base[r]`.
fn ratio_quartiles(ours: &[f64], base: &[f64]) -> (f64, f64, f64) {
    let ratios: Vec<f64> = ours.iter().zip(base).map(|(a, b)| a / b).collect();
    quartiles(&ratios)
}

/// The `q` quantile of sorted `v` (nearest rank), NaN when empty.
fn percentile(v: &[u32], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    f64::from(v[rank - 1])
}

/// Warm-up, then `opts.rounds` interleaved rounds over `groups` (each
/// group's first case is its baseline).
fn interleave(groups: &[Vec<Case<'_>>], opts: &Options) -> Result<Vec<Row>> {
    let hz = ticks_per_sec();
    let warm = Duration::from_millis(if opts.quick { 300 } else { 500 });
    for case in groups.iter().flatten() {
        client::run(case.server.port, &case.requests, opts.connections, warm)?;
    }
    let per_round = Duration::from_secs(opts.seconds);
    let mut rps: Vec<Vec<Vec<f64>>> = groups.iter().map(|g| vec![Vec::new(); g.len()]).collect();
    let mut cpu = rps.clone();
    let mut client_cpu = rps.clone();
    let mut latencies: Vec<Vec<Vec<u32>>> = groups.iter().map(|g| vec![Vec::new(); g.len()]).collect();
    let mut errors: Vec<Vec<u64>> = groups.iter().map(|g| vec![0; g.len()]).collect();
    // Only the server under load runs during its turn: the others are
    // stopped, so their background threads take nothing from the core it
    // is pinned to.
    let all: Vec<u32> = groups.iter().flatten().map(|c| c.server.pid()).collect();
    let _resume = Paused::all(&all);
    for round in 0..opts.rounds {
        eprintln!("round {}/{}", round + 1, opts.rounds);
        for (g, group) in groups.iter().enumerate() {
            for k in round_order(round, group.len()) {
                let case = &group[k];
                let _running = Running::resume(case.server.pid());
                let before = cpu_seconds(case.server.pid(), hz);
                let own_before = cpu_seconds(std::process::id(), hz);
                let out = client::run(case.server.port, &case.requests, opts.connections, per_round)?;
                let after = cpu_seconds(case.server.pid(), hz);
                let own_after = cpu_seconds(std::process::id(), hz);
                client_cpu[g][k].push(share(own_before, own_after, out.elapsed));
                rps[g][k].push(out.throughput());
                cpu[g][k].push(share(before, after, out.elapsed));
                errors[g][k] += out.errors;
                latencies[g][k].extend(out.latencies_us);
            }
        }
    }
    let mut rows = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        for (k, case) in group.iter().enumerate() {
            let lat = &mut latencies[g][k];
            lat.sort_unstable();
            rows.push(Row {
                group: case.group.clone(),
                variant: case.variant.clone(),
                rps: quartiles(&rps[g][k]).1,
                ratio: ratio_quartiles(&rps[g][k], &rps[g][0]),
                p50_us: percentile(lat, 0.5),
                p99_us: percentile(lat, 0.99),
                cpu: quartiles(&cpu[g][k]).1,
                client_cpu: quartiles(&client_cpu[g][k]).1,
                errors: errors[g][k],
                rounds: opts.rounds,
            });
        }
    }
    Ok(rows)
}

/// The three routes of the middleware comparison, as (name, requests).
fn middleware_routes() -> Vec<(&'static str, Arc<[Request]>)> {
    let one = |p: &str| -> Arc<[Request]> { Arc::from(vec![client::render("GET", p, None)]) };
    let rotating: Vec<Request> = (0..IDS).map(|i| client::render("GET", &format!("/items/{i}"), None)).collect();
    vec![("/hello", one("/hello")), ("/items/42", one("/items/42")), ("/items/{rotating}", Arc::from(rotating))]
}

fn middleware(bench: &Path, pinning: &Pinning, opts: &Options) -> Result<Vec<Row>> {
    let servers: Vec<Server> =
        APPS.iter().map(|app| start_bench(bench, pinning, &["serve", app])).collect::<Result<_>>()?;
    let groups: Vec<Vec<Case<'_>>> = middleware_routes()
        .into_iter()
        .map(|(route, requests)| {
            APPS.iter()
                .zip(&servers)
                .map(|(app, server)| Case {
                    group: route.to_owned(),
                    variant: (*app).to_owned(),
                    server,
                    requests: requests.clone(),
                })
                .collect()
        })
        .collect();
    eprintln!("middleware: {} servers, {} routes", servers.len(), groups.len());
    interleave(&groups, opts)
}

/// The demo's request mix: `cargo xtask traffic`'s, creating no projects.
fn demo_mix() -> Vec<Request> {
    (1..=400u64)
        .map(|n| {
            let (method, path, body) = crate::traffic::mix(n, false);
            client::render(method, &path, body.as_deref())
        })
        .collect()
}

fn demo_comparison(demo: &Path, pinning: &Pinning, opts: &Options) -> Result<Vec<Row>> {
    let off = start_demo(demo, pinning, false)?;
    let on = start_demo(demo, pinning, true)?;
    let mix: Arc<[Request]> = Arc::from(demo_mix());
    let group = vec![
        Case { group: "mix".into(), variant: "monitoring off".into(), server: &off, requests: mix.clone() },
        Case { group: "mix".into(), variant: "monitoring on".into(), server: &on, requests: mix },
    ];
    eprintln!("demo: monitoring off and on");
    interleave(&[group], opts)
}

/// One line of the scale table.
#[derive(Debug, Clone, PartialEq)]
struct ScaleRow {
    endpoints: usize,
    series: usize,
    accounted_bytes: usize,
    empty_bytes: usize,
    /// Per document: path, p50 and the slowest request in microseconds (with
    /// tens of samples, a p99 would be the slowest one anyway).
    documents: Vec<(String, f64, f64)>,
    samples: usize,
}

impl ScaleRow {
    /// Bytes the recorded series add to an empty store, per series.
    fn bytes_per_series(&self) -> f64 {
        self.accounted_bytes.saturating_sub(self.empty_bytes) as f64 / self.series.max(1) as f64
    }
}

/// Parses `scale<TAB>endpoints<TAB>series<TAB>accounted<TAB>empty`.
fn parse_scale_line(line: &str) -> Result<(usize, usize, usize, usize)> {
    let f: Vec<&str> = line.split('\t').collect();
    let [tag, n, series, accounted, empty] = f.as_slice() else { bail!("malformed scale line {line:?}") };
    if *tag != "scale" {
        bail!("malformed scale line {line:?}");
    }
    let num = |s: &str| s.parse::<usize>().with_context(|| format!("bad number {s:?} in {line:?}"));
    Ok((num(n)?, num(series)?, num(accounted)?, num(empty)?))
}

fn measure_scale(bench: &Path, n: usize, pinning: &Pinning, samples: usize) -> Result<ScaleRow> {
    let server = start_bench(bench, pinning, &["serve-scale", &n.to_string()])?;
    let line = server.printed.iter().find(|l| l.starts_with("scale\t")).context("serve-scale printed no figures")?;
    let (endpoints, series, accounted_bytes, empty_bytes) = parse_scale_line(line)?;
    let mut documents = Vec::new();
    for path in DOCUMENTS {
        let req = client::render("GET", path, None);
        client::sequential(server.port, &req, 1)?;
        let mut times = client::sequential(server.port, &req, samples)?;
        times.sort_unstable();
        let slowest = times.last().map_or(0.0, |&t| f64::from(t));
        documents.push((path.to_owned(), percentile(&times, 0.5), slowest));
    }
    Ok(ScaleRow { endpoints, series, accounted_bytes, empty_bytes, documents, samples })
}

/// Soak figures.
#[derive(Debug, Clone, PartialEq)]
struct Soak {
    minutes: u64,
    warm_up_secs: u64,
    /// (seconds since the load started, RSS in KiB).
    samples: Vec<(u64, u64)>,
    responses: u64,
    errors: u64,
    throughput: f64,
    p50_us: f64,
    p99_us: f64,
}

impl Soak {
    /// The first sample at or after the warm-up.
    fn warm_rss(&self) -> Option<u64> {
        self.samples.iter().find(|(t, _)| *t >= self.warm_up_secs).map(|s| s.1)
    }

    fn end_rss(&self) -> Option<u64> {
        self.samples.last().map(|s| s.1)
    }

    fn growth_pct(&self) -> f64 {
        match (self.warm_rss(), self.end_rss()) {
            (Some(w), Some(e)) if w > 0 => (e as f64 - w as f64) / w as f64 * 100.0,
            _ => f64::NAN,
        }
    }

    /// Within the limit (a run without samples after warm-up fails).
    fn passed(&self) -> bool {
        self.growth_pct() <= SOAK_GROWTH_LIMIT_PCT
    }
}

/// Warm-up of a soak of `secs`: one minute, or a fifth of a shorter run.
fn soak_warm_up(secs: u64) -> u64 {
    (secs / 5).min(60)
}

fn soak(demo: &Path, pinning: &Pinning, opts: &Options) -> Result<Soak> {
    let server = start_demo(demo, pinning, true)?;
    let total = opts.minutes * 60;
    let pid = server.pid();
    let (port, connections) = (server.port, opts.connections);
    let mix: Arc<[Request]> = Arc::from(demo_mix());
    eprintln!("soak: {} min against the demo (pid {pid})", opts.minutes);
    let load = std::thread::spawn(move || client::run(port, &mix, connections, Duration::from_secs(total)));
    let started = Instant::now();
    let mut samples = Vec::new();
    while !load.is_finished() {
        let t = started.elapsed().as_secs();
        if let Some(kib) = rss_kib(pid) {
            samples.push((t, kib));
            if t % 60 < SOAK_SAMPLE_SECS {
                eprintln!("{t:>5} s  RSS {kib} KiB");
            }
        }
        let next = Duration::from_secs((t / SOAK_SAMPLE_SECS + 1) * SOAK_SAMPLE_SECS);
        while started.elapsed() < next && !load.is_finished() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    if let Some(kib) = rss_kib(pid) {
        samples.push((started.elapsed().as_secs(), kib));
    }
    let mut out = load.join().map_err(|_| anyhow::anyhow!("the load thread panicked"))??;
    out.latencies_us.sort_unstable();
    Ok(Soak {
        minutes: opts.minutes,
        warm_up_secs: soak_warm_up(total),
        samples,
        responses: out.responses,
        errors: out.errors,
        throughput: out.throughput(),
        p50_us: percentile(&out.latencies_us, 0.5),
        p99_us: percentile(&out.latencies_us, 0.99),
    })
}

/// The lines every section opens with: machine, date, command, settings.
fn header(command: &str, opts: &Options, pinning: &Pinning) -> String {
    let date = crate::output_text("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let load = if opts.soak {
        format!("{} min of closed-loop load", opts.minutes)
    } else {
        format!("{} rounds of {} s per server", opts.rounds, opts.seconds)
    };
    format!(
        "`{command}` on {date}: {}; {} keep-alive connections, {load}; {}.",
        crate::bench::machine(),
        opts.connections,
        pinning.note
    )
}

fn ms(us: f64) -> String {
    if us.is_nan() { "–".to_owned() } else { format!("{:.3} ms", us / 1_000.0) }
}

fn pct(share: f64) -> String {
    if share.is_nan() { "–".to_owned() } else { format!("{:.0} %", share * 100.0) }
}

fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A comparison table; `group` names the first column.
fn render_rows(title: &str, group: &str, rows: &[Row]) -> String {
    let mut out = format!(
        "### {title}\n\n| {group} | variant | req/s (median round) | ratio to baseline: median [q25, q75] | p50 | p99 | server CPU | client CPU | errors |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.group,
            r.variant,
            thousands(r.rps),
            ratio_cell(r),
            ms(r.p50_us),
            ms(r.p99_us),
            pct(r.cpu),
            client_cell(r.client_cpu),
            r.errors
        ));
    }
    out
}

/// How far above 1 a monitored variant's median ratio may lie before it is
/// flagged: monitoring adds work, so a clearly faster monitored server is
/// noise (or a broken measurement), not a result.
const IMPLAUSIBLE_ABOVE: f64 = 0.03;

/// Whether `variant` adds perfkit's work to its group's baseline.
fn is_monitored(variant: &str) -> bool {
    variant.starts_with("perfkit") || variant == "monitoring on"
}

/// The ratio cell: median [q25, q75], or the figures marked implausible
/// when a monitored variant measured clearly faster than its baseline.
fn ratio_cell(r: &Row) -> String {
    let (q25, median, q75) = r.ratio;
    let figures = format!("{median:.3} [{q25:.3}, {q75:.3}]");
    if is_monitored(&r.variant) && median > 1.0 + IMPLAUSIBLE_ABOVE {
        format!("⚠ implausible: {figures}, faster than its baseline")
    } else {
        figures
    }
}

/// Client CPU share at or above which a row measures the load generator
/// more than the server (the client has one core to itself).
const CLIENT_BOUND: f64 = 0.9;

/// The client CPU cell, marked when the client set the pace.
fn client_cell(share: f64) -> String {
    if share >= CLIENT_BOUND { format!("{} ⚠ client-bound", pct(share)) } else { pct(share) }
}

fn render_scale(rows: &[ScaleRow]) -> String {
    let mut out = String::from("### Scale: the performance API over many endpoints\n\n| endpoints |");
    for d in DOCUMENTS {
        out.push_str(&format!(" `{}` p50 / max |", d.trim_start_matches("/api/performance")));
    }
    out.push_str(" bytes per series | store bytes |\n|---:|");
    out.push_str(&"---:|".repeat(DOCUMENTS.len() + 2));
    out.push('\n');
    for r in rows {
        out.push_str(&format!("| {} |", thousands(r.endpoints as f64)));
        for (_, p50, max) in &r.documents {
            out.push_str(&format!(" {} / {} |", ms(*p50), ms(*max)));
        }
        out.push_str(&format!(" {} | {} |\n", thousands(r.bytes_per_series()), thousands(r.accounted_bytes as f64)));
    }
    out
}

/// The `## Load test` section.
fn render_report(header: &str, http: &[Row], demo: &[Row], scale: &[ScaleRow]) -> String {
    let samples = scale.first().map_or(0, |s| s.samples);
    let rounds = http.first().or(demo.first()).map_or(0, |r| r.rounds);
    format!(
        "## Load test\n\n{header}\n\n\
         Real servers over TCP, each round loading each server in turn (the first variant rotating). \
         Ratios are the median and quartiles of the {rounds} per-round throughput ratios to the group's \
         first variant; p50 and p99 pool every request of every round; server and client CPU are the median \
         shares of a core the server and the load generator used during the rounds (server near 100 %: \
         the server set the pace; client at 90 % or more, marked client-bound: the figures measure the client). \
         During a server's turn every other server is stopped (SIGSTOP), so idle servers' background \
         threads take nothing from the server core. A monitored variant whose median ratio is more than \
         3 % above 1 is marked implausible: monitoring adds work, so such a round set measured noise.\n\n\
         {}\n\
         The demo: the landscape binary (release, SQLite, memory cache) on a fixed mix of its routes \
         (reports, one in two naive, dashboards, searches, updates, lists, lookups, a 404, `/health`).\n\n\
         {}\n\
         Each store holds an hour of traffic (one request per endpoint every 10 s); every document is \
         computed per request (no reuse), {samples} sequential requests each. Bytes per series: \
         `Store::accounted_bytes` minus an empty store's, over the endpoint series.\n\n{}",
        render_rows("Middleware (bench apps, one worker)", "route", http),
        render_rows("Demo, monitoring on and off", "mix", demo),
        render_scale(scale)
    )
}

/// The `## Load test: soak` section.
fn render_soak(header: &str, s: &Soak) -> String {
    let kib = |v: Option<u64>| v.map_or("–".to_owned(), |k| format!("{} KiB", thousands(k as f64)));
    let peak = s.samples.iter().map(|x| x.1).max();
    let verdict = if s.passed() { "pass" } else { "FAIL" };
    let mut out = format!(
        "## Load test: soak\n\n{header}\n\n\
         The landscape demo (release, SQLite, memory cache, monitoring on) under the load test's mix for \
         {} min; RSS (`VmRSS`) sampled every {SOAK_SAMPLE_SECS} s. Pass: RSS at the end at most \
         {SOAK_GROWTH_LIMIT_PCT} % above RSS after the {} s warm-up. The store grows, up to a bound, as \
         each series' history is first written (about 6.5 KiB a series at first sight, 60 KiB after an \
         hour, at most about 229 KiB after a day): a soak shorter than a day includes that growth.\n\n\
         | RSS after warm-up | RSS at the end | peak | growth | verdict | requests | req/s | p50 | p99 | errors |\n\
         |---:|---:|---:|---:|---|---:|---:|---:|---:|---:|\n\
         | {} | {} | {} | {:.1} % | {verdict} | {} | {} | {} | {} | {} |\n\n\
         | minute | RSS |\n|---:|---:|\n",
        s.minutes,
        s.warm_up_secs,
        kib(s.warm_rss()),
        kib(s.end_rss()),
        kib(peak),
        s.growth_pct(),
        thousands(s.responses as f64),
        thousands(s.throughput),
        ms(s.p50_us),
        ms(s.p99_us),
        s.errors
    );
    let mut minute = 0;
    for (t, k) in &s.samples {
        if *t >= minute * 60 {
            out.push_str(&format!("| {} | {} |\n", t / 60, kib(Some(*k))));
            minute = t / 60 + 1;
        }
    }
    out
}

/// `doc` with the section opened by the line `heading` replaced by
/// `section` (up to the next `## ` heading), or `section` appended when
/// there is none.
fn replace_section(doc: &str, heading: &str, section: &str) -> String {
    let section = format!("{}\n", section.trim_end());
    let mut start = None;
    let mut offset = 0;
    for line in doc.split_inclusive('\n') {
        let text = line.trim_end();
        match start {
            None if text == heading => start = Some(offset),
            Some(s) if text.starts_with("## ") => {
                return format!("{}{section}\n{}", &doc[..s], &doc[offset..]);
            }
            _ => {}
        }
        offset += line.len();
    }
    match start {
        Some(s) => format!("{}{section}", &doc[..s]),
        None if doc.trim().is_empty() => section,
        None => format!("{}\n\n{section}", doc.trim_end()),
    }
}

fn write_section(heading: &str, section: &str) -> Result<()> {
    let path = root().join("BENCHMARKS.md");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    std::fs::write(&path, replace_section(&old, heading, section))?;
    eprintln!("wrote the {heading:?} section of {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests;
