//! Starts the demo binary on a free port (`BIND=127.0.0.1:0`) with a fresh
//! data directory, waits for the address it logs, and stops it on drop.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicU32, Ordering},
        mpsc,
    },
    time::Duration,
};

use crate::http::{self, Response};

static NEXT_DIR: AtomicU32 = AtomicU32::new(0);

/// A fresh, empty directory under the system temp dir, removed by [`Server`]'s drop.
pub(crate) fn fresh_dir(label: &str) -> PathBuf {
    let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("landscape-it-{}-{label}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running demo.
pub(crate) struct Server {
    child: Child,
    pub(crate) addr: SocketAddr,
    pub(crate) data_dir: PathBuf,
    keep_dir: bool,
}

impl Server {
    /// Starts the binary with `env` on top of a clean environment for the
    /// service's own variables, in a new data directory.
    pub(crate) fn start(label: &str, env: &[(&str, &str)]) -> Server {
        let dir = fresh_dir(label);
        let mut server = Server::start_in(dir, env);
        server.keep_dir = false;
        server
    }

    /// Starts the binary on an existing data directory (kept on drop).
    pub(crate) fn start_in(data_dir: PathBuf, env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_landscape"));
        for var in [
            "DATABASE_URL",
            "REDIS_URL",
            "PERFORMANCE_API_TOKEN",
            "PERFORMANCE_READ_TOKEN",
            "PERFORMANCE_PROFILE",
            "PERFORMANCE_MONITORING_ENABLED",
            "SLOW_REQUEST_THRESHOLD",
            "SLOW_QUERY_THRESHOLD",
            "HIGH_MEMORY_THRESHOLD",
            "ERROR_RATE_THRESHOLD",
            "ALERT_EVALUATION_INTERVAL",
            "CACHE_PREFIX",
            "CLIENT_REQUEST_TIMEOUT",
            "BODY_READ_TIMEOUT",
            "KEEP_ALIVE",
            "CLIENT_DISCONNECT_TIMEOUT",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("BIND", "127.0.0.1:0")
            .env("DATA_DIR", &data_dir)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        // Keeps draining the log so the service never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let mut seen = Vec::new();
        let addr = loop {
            match rx.recv_timeout(Duration::from_secs(120)) {
                Ok(line) => {
                    if let Some(rest) = line.split("landscape listening on http://").nth(1) {
                        let addr = rest.split_whitespace().next().unwrap();
                        assert!(line.contains(&format!("dashboard at http://{addr}/performance")), "{line}");
                        break addr.parse::<SocketAddr>().unwrap();
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("the service did not report its address; log:\n{}", seen.join("\n"));
                }
            }
        };
        Server { child, addr, data_dir, keep_dir: true }
    }

    pub(crate) fn get(&self, path: &str) -> Response {
        http::request(self.addr, "GET", path, None, &[])
    }

    pub(crate) fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        http::request(self.addr, "GET", path, None, headers)
    }

    pub(crate) fn send(&self, method: &str, path: &str, body: &str) -> Response {
        http::request(self.addr, method, path, Some(body), &[])
    }

    pub(crate) fn send_with(&self, method: &str, path: &str, body: Option<&str>, headers: &[(&str, &str)]) -> Response {
        http::request(self.addr, method, path, body, headers)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.keep_dir {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}
