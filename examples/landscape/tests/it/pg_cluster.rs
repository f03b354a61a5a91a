//! A private PostgreSQL cluster for tests that stop and restart the
//! database: `initdb` into a fresh directory, served on a free port of
//! 127.0.0.1 with trust auth, stopped by its postmaster's pid on drop.
//! The shared server on 5432 is never touched.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

/// A running (or stopped) private cluster.
pub(crate) struct PgCluster {
    bin: PathBuf,
    dir: PathBuf,
    pub(crate) port: u16,
}

/// Whether this process runs as root (initdb refuses root; run as `postgres`).
fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The newest `/usr/lib/postgresql/*/bin` (or `PG_BIN_DIR`).
fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("PG_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries not found under /usr/lib/postgresql (set PG_BIN_DIR)")
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop().expect("no initdb under /usr/lib/postgresql/*/bin").1
}

impl PgCluster {
    /// Creates and starts a cluster on a free port.
    pub(crate) fn start(label: &str) -> PgCluster {
        let bin = bin_dir();
        let dir = crate::server::fresh_dir(&format!("pg-{label}"));
        if is_root() {
            let ok = Command::new("chown").args(["-R", "postgres:"]).arg(&dir).status().unwrap().success();
            assert!(ok, "cannot hand {} to the postgres user", dir.display());
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let cluster = PgCluster { bin, dir, port };
        let data = cluster.data();
        cluster.run("initdb", &["-D", data.to_str().unwrap(), "-A", "trust", "-U", "postgres", "--no-sync"]);
        cluster.resume();
        cluster
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Runs a PostgreSQL tool (as `postgres` when this process is root).
    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd.args(args).current_dir(&self.dir).output().unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the server on the cluster's port and waits until it accepts connections.
    pub(crate) fn resume(&self) {
        let data = self.data();
        let log = self.dir.join("postgres.log");
        let options = format!("-p {} -h 127.0.0.1 -k {} -c fsync=off", self.port, self.dir.display());
        self.run(
            "pg_ctl",
            &["start", "-w", "-t", "60", "-D", data.to_str().unwrap(), "-l", log.to_str().unwrap(), "-o", &options],
        );
    }

    /// The postmaster's pid, while it runs.
    fn pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.data().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// Stops the server at once (SIGQUIT to the postmaster: immediate
    /// shutdown, every backend and so every client connection is cut) and
    /// waits until the postmaster is gone.
    pub(crate) fn stop(&self) {
        let Some(pid) = self.pid() else { return };
        let _ = Command::new("kill").args(["-QUIT", &pid.to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
        // An immediate shutdown leaves postmaster.pid behind; pg_ctl start
        // copes, but remove it so pid() reports the server as stopped.
        let _ = std::fs::remove_file(self.data().join("postmaster.pid"));
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
