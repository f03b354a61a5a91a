//! Finds the Redis and PostgreSQL servers the tests need, and says exactly
//! what to start when one is unreachable: tests never skip silently.

use std::{
    net::{TcpStream, ToSocketAddrs},
    time::Duration,
};

use anyhow::{Result, bail};

/// Where the test servers are.
pub(crate) struct Urls {
    pub(crate) redis: String,
    pub(crate) database: String,
}

const REDIS_DEFAULT: &str = "redis://127.0.0.1:6379";
const DATABASE_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The test URLs, after checking that both servers accept connections.
pub(crate) fn require() -> Result<Urls> {
    let urls = Urls {
        redis: std::env::var("PERF_TEST_REDIS_URL").unwrap_or_else(|_| REDIS_DEFAULT.into()),
        database: std::env::var("PERF_TEST_DATABASE_URL").unwrap_or_else(|_| DATABASE_DEFAULT.into()),
    };
    let mut missing = Vec::new();
    if !reachable(&urls.redis, 6379) {
        missing.push(format!(
            "Redis is not reachable at {}.\n  Start it with:\n    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no\n  (Debian: apt-get install redis-server), or point PERF_TEST_REDIS_URL at a server.",
            urls.redis
        ));
    }
    if !reachable(&urls.database, 5432) {
        missing.push(format!(
            "PostgreSQL is not reachable at {}.\n  Start it with:\n    pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n  (Debian: apt-get install postgresql; the tests use database `test` with trust auth), or point PERF_TEST_DATABASE_URL at a server.",
            urls.database
        ));
    }
    if !missing.is_empty() {
        bail!("the test suite needs real servers:\n\n{}", missing.join("\n\n"));
    }
    Ok(urls)
}

/// Host and port of a `scheme://[user@]host[:port][/...]` URL.
fn host_port(url: &str, default_port: u16) -> Option<(String, u16)> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    match host_port.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
        None => Some((host_port.to_string(), default_port)),
    }
}

fn reachable(url: &str, default_port: u16) -> bool {
    let Some((host, port)) = host_port(url, default_port) else { return false };
    let Ok(addrs) = (host.as_str(), port).to_socket_addrs() else { return false };
    addrs.into_iter().any(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
}

#[cfg(test)]
mod tests {
    use super::host_port;

    #[test]
    fn parses_host_and_port() {
        assert_eq!(host_port("redis://127.0.0.1:6380/0", 6379), Some(("127.0.0.1".into(), 6380)));
        assert_eq!(host_port("postgres://postgres@db/test", 5432), Some(("db".into(), 5432)));
        assert_eq!(host_port("nonsense", 1), None);
    }
}
