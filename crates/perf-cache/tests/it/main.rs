//! Integration tests of perf-cache against a real Redis (`PERF_TEST_REDIS_URL`,
//! default `redis://127.0.0.1:6379/`); the fault tests start their own
//! redis-server on a free port.
#![allow(clippy::unwrap_used)]

mod macros;
// Everything below needs the Redis tier.
#[cfg(feature = "redis")]
mod fault;
#[cfg(feature = "redis")]
mod redis_tier;
#[cfg(feature = "redis")]
mod stats;
#[cfg(feature = "redis")]
mod tiered;

#[cfg(feature = "redis")]
use std::{
    future::Future,
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

#[cfg(feature = "redis")]
/// The shared test Redis.
pub(crate) fn redis_url() -> String {
    std::env::var("PERF_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

#[cfg(feature = "redis")]
/// A key prefix no other test (or test run) uses.
pub(crate) fn unique_prefix(test: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("perfkit-test:{test}:{}:{nanos}:{}:", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

#[cfg(feature = "redis")]
/// Polls `cond` every 10 ms for up to 20 s; true once it holds.
pub(crate) async fn wait_for<F, Fut>(mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..2000 {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[cfg(feature = "redis")]
/// A raw connection to the shared test Redis, for looking behind the cache.
pub(crate) async fn raw_connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap()
}

#[cfg(feature = "redis")]
/// A redis-server of our own, stopped by pid.
pub(crate) struct OwnRedis {
    pub(crate) port: u16,
    child: Option<Child>,
}

#[cfg(feature = "redis")]
impl OwnRedis {
    pub(crate) async fn start() -> OwnRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut me = OwnRedis { port, child: None };
        me.restart().await;
        me
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts the server (again) on the same port and waits until it answers.
    pub(crate) async fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let url = self.url();
        let up = wait_for(|| {
            let url = url.clone();
            async move {
                let Ok(client) = redis::Client::open(url) else { return false };
                let Ok(mut c) = client.get_multiplexed_async_connection().await else { return false };
                redis::cmd("PING").query_async::<String>(&mut c).await.is_ok()
            }
        })
        .await;
        assert!(up, "redis-server on port {} did not come up", self.port);
    }

    /// SIGKILL, then reap.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let status = Command::new("kill").args([sig, &pid]).status().unwrap();
        assert!(status.success());
    }

    /// SIGSTOP: the server keeps its sockets but answers nothing.
    pub(crate) fn freeze(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT.
    pub(crate) fn thaw(&self) {
        self.signal("-CONT");
    }
}

#[cfg(feature = "redis")]
impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-CONT", &child.id().to_string()]).status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
