//! The SQLite-only sample app in `tests/fixtures/sqlite-app`: a service that
//! depends on the perfkit facade alone (`sqlite`, `analytics`, `dashboard`).
//!
//! `cargo xtask test` runs [`run`]: its dependency tree must hold no libpq
//! (`pq-sys`, `pq-src`) and no Redis client (`redis`); then it is built
//! (into `target/fixtures`, shared between runs) and started, and every GET
//! endpoint of the API (read from its own OpenAPI document), `/metrics` and
//! the dashboard must answer 200.

use std::{
    io::{Read as _, Write as _},
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{Context as _, Result, bail, ensure};

use crate::{cargo, root};

/// Crates a SQLite-only app must not build.
const FORBIDDEN: [&str; 3] = ["pq-sys", "pq-src", "redis"];

fn dir() -> PathBuf {
    root().join("tests/fixtures/sqlite-app")
}

/// Checks the tree, builds, starts and queries the fixture app.
pub(crate) fn run() -> Result<()> {
    let manifest = dir().join("Cargo.toml");
    // Same versions as the workspace: start from its lock (cargo drops what
    // the fixture does not use). Offline, since the workspace build has
    // fetched everything the fixture needs.
    std::fs::copy(root().join("Cargo.lock"), dir().join("Cargo.lock")).context("copying Cargo.lock")?;

    let mut tree = cargo();
    tree.args(["tree", "--offline", "--manifest-path"]).arg(&manifest);
    tree.args(["-e", "normal,build", "--prefix", "none"]);
    let out = tree.output().context("cargo tree")?;
    ensure!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    let packages = packages(&String::from_utf8_lossy(&out.stdout));
    let found: Vec<&String> = packages.iter().filter(|p| FORBIDDEN.contains(&p.as_str())).collect();
    ensure!(found.is_empty(), "the SQLite-only app builds {found:?}");
    println!("sqlite-app: {} crates, none of {FORBIDDEN:?}", packages.len());

    let target = root().join("target/fixtures");
    let mut build = cargo();
    build.args(["build", "--offline", "--manifest-path"]).arg(&manifest).arg("--target-dir").arg(&target);
    crate::run(build)?;

    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let addr = format!("127.0.0.1:{port}");
    let app = App(Command::new(target.join("debug/perfkit-sqlite-app"))
        .env("BIND", &addr)
        .env_remove("REDIS_URL")
        .env("MEMORY_MONITORING_ENABLED", "false")
        .stdout(Stdio::null())
        .spawn()
        .context("starting the sqlite app")?);
    wait_until_up(&addr)?;
    for _ in 0..3 {
        expect_ok(&addr, "/hello")?;
    }
    let openapi = expect_ok(&addr, "/api/performance/openapi.json")?;
    let doc: serde_json::Value = serde_json::from_str(&openapi).context("openapi.json is not JSON")?;
    let paths = doc["paths"].as_object().context("openapi.json has no paths")?;
    let mut checked = 0;
    for (path, item) in paths {
        if item.get("get").is_some() && !path.contains('{') {
            expect_ok(&addr, &format!("/api/performance{path}"))?;
            checked += 1;
        }
    }
    ensure!(checked >= 10, "only {checked} GET endpoints in openapi.json");
    let metrics = expect_ok(&addr, "/metrics")?;
    ensure!(metrics.contains("/hello"), "/metrics does not mention the app's route");
    let summary = expect_ok(&addr, "/api/performance/summary")?;
    ensure!(summary.contains("\"health_score\""), "the summary has no health score: {summary}");
    for path in ["/performance", "/performance/dashboard.js", "/performance/dashboard.css"] {
        expect_ok(&addr, path)?;
    }
    println!("sqlite-app: {checked} API GET endpoints, /metrics and /performance answered 200");
    drop(app);
    Ok(())
}

/// The distinct package names in `cargo tree --prefix none` output.
fn packages(tree: &str) -> Vec<String> {
    let mut names: Vec<String> = tree.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_owned).collect();
    names.sort();
    names.dedup();
    names
}

/// The app, killed (by its own pid) and reaped when dropped.
struct App(Child);

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_until_up(addr: &str) -> Result<()> {
    for _ in 0..300 {
        if TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("the sqlite app did not listen on {addr} within 30 s")
}

/// GETs `path` over HTTP/1.1; the body when the status is 200.
fn expect_ok(addr: &str, path: &str) -> Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let status = text.split_whitespace().nth(1).unwrap_or("");
    ensure!(status == "200", "GET {path}: {}", text.lines().next().unwrap_or("no response"));
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Ok(body.to_owned())
}

#[cfg(test)]
mod tests {
    use super::packages;

    #[test]
    fn packages_are_named_once() {
        let tree = "perfkit v0.1.0 (/x)\nredis v1.8.0\nserde v1.0.0\nserde v1.0.0 (*)\n";
        assert_eq!(packages(tree), ["perfkit", "redis", "serde"]);
    }
}
