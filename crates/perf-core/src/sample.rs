//! The measurements instrumented code hands to a [`Recorder`](crate::Recorder).
//!
//! Samples borrow their strings so recording needs no allocation.

use std::{fmt, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{ThresholdStore, Timestamp, TraceContext};

/// An HTTP method, as a small enum so endpoint keys need no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
    /// HEAD
    Head,
    /// OPTIONS
    Options,
    /// Any other method, or the shared key of unmatched and overflowing routes;
    /// `*` in JSON, as in [`Method::as_str`].
    #[serde(rename = "*")]
    Other,
}

impl Method {
    /// Every method, in the order of [`Method::index`].
    pub const ALL: [Method; 8] = [
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
        Method::Head,
        Method::Options,
        Method::Other,
    ];

    /// Parses a method name; unknown names become [`Method::Other`].
    pub fn parse(name: &str) -> Method {
        match name {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "HEAD" => Method::Head,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }

    /// The method's name; `*` for [`Method::Other`].
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
            Method::Other => "*",
        }
    }

    /// A dense index in `0..8`.
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An endpoint: a method and a route pattern (or [`UNMATCHED_ROUTE`] /
/// [`OVERFLOW_ROUTE`]). Its [`Display`](fmt::Display), `"GET /api/projects/{id}"`,
/// is the one spelling of an endpoint's label: a request scope's label, the
/// scope of its queries and N+1 findings, and the key alerts, trends and
/// Apdex name an endpoint by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EndpointKey<'a> {
    /// The request method.
    pub method: Method,
    /// The route pattern, or the shared key of unmatched or overflowing requests.
    pub route: &'a str,
}

impl<'a> EndpointKey<'a> {
    /// The key of `method` on `route`; `None` (no route matched) is [`UNMATCHED_ROUTE`].
    pub const fn new(method: Method, route: Option<&'a str>) -> Self {
        EndpointKey {
            method,
            route: match route {
                Some(r) => r,
                None => UNMATCHED_ROUTE,
            },
        }
    }
}

impl fmt::Display for EndpointKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method.as_str(), self.route)
    }
}

/// The route of requests that matched no route pattern; they share one key.
pub const UNMATCHED_ROUTE: &str = "<unmatched>";
/// The route of the key that collects endpoints past the distinct-key cap.
pub const OVERFLOW_ROUTE: &str = "<overflow>";
/// The fingerprint of the key that collects queries past the distinct-key cap.
pub const OVERFLOW_FINGERPRINT: &str = "<overflow>";

/// One finished HTTP request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestSample<'a> {
    /// The request method.
    pub method: Method,
    /// The matched route pattern (`/api/projects/{id}`), never the raw path;
    /// `None` when no route matched.
    pub route: Option<&'a str>,
    /// The response status code.
    pub status: u16,
    /// Wall time from the request's arrival to its response head.
    pub duration: Duration,
    /// When the request finished.
    pub at: Timestamp,
    /// Database queries the request issued (from its [`RequestScope`](crate::RequestScope)).
    pub queries: u32,
    /// Total time of those queries.
    pub query_time: Duration,
    /// The producer's slow verdict ([`ThresholdStore::request_is_slow`] of
    /// `duration`): the store counts and keeps slow requests by it, and the
    /// slow-request log writes by it, so both agree.
    pub slow: bool,
    /// The request's trace (an incoming `traceparent`'s, or one started for
    /// it): its trace id is kept with it when it is slow, and exporters
    /// read its span ids; `None` when it has none.
    pub trace: Option<TraceContext>,
}

impl<'a> RequestSample<'a> {
    /// A sample with no query attribution, judged slow or not by
    /// `thresholds` ([`ThresholdStore::request_is_slow`]) as it is made.
    pub fn new(
        method: Method,
        route: Option<&'a str>,
        status: u16,
        duration: Duration,
        at: Timestamp,
        thresholds: &(impl ThresholdStore + ?Sized),
    ) -> Self {
        let slow = thresholds.request_is_slow(duration);
        RequestSample { method, route, status, duration, at, queries: 0, query_time: Duration::ZERO, slow, trace: None }
    }

    /// Whether the status is a server error (5xx).
    pub fn is_server_error(&self) -> bool {
        self.status >= 500
    }

    /// Whether the status is a client error (4xx).
    pub fn is_client_error(&self) -> bool {
        (400..500).contains(&self.status)
    }
}

/// One finished database query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuerySample<'a> {
    /// The normalized SQL shape that groups this query's statistics.
    pub fingerprint: &'a str,
    /// The SQL text as run (the store truncates it to 2 KiB when it keeps it).
    pub sql: &'a str,
    /// How long the query took.
    pub duration: Duration,
    /// Whether the database reported success.
    pub ok: bool,
    /// When the query finished.
    pub at: Timestamp,
    /// The label of the [`RequestScope`](crate::RequestScope) that issued it
    /// (an [`EndpointKey`]'s `"GET /api/projects/{id}"`); `None` for a query
    /// run outside any request (start-up, migrations, background jobs), which
    /// the store keeps apart from request figures.
    pub scope: Option<&'a str>,
    /// What kind of statement it is.
    pub kind: QueryKind,
    /// The producer's slow verdict ([`ThresholdStore::query_is_slow`] of
    /// `duration`): the store counts and keeps slow queries by it, and the
    /// slow-query log writes by it, so both agree.
    pub slow: bool,
    /// The trace of the request that issued it (its scope's; its span is
    /// the query's parent), kept with it when it is slow; `None` outside a
    /// traced request.
    pub trace: Option<TraceContext>,
}

/// What a statement does, as far as the figures care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryKind {
    /// Reads rows (`SELECT`, `VALUES`, `WITH ... SELECT`).
    #[default]
    Read,
    /// Changes rows (`INSERT`, `UPDATE`, `DELETE`, ...).
    Write,
    /// Changes the schema (`CREATE`, `ALTER`, `DROP`, `TRUNCATE`, ...): never
    /// the subject of slow-query alerts or index advice.
    Schema,
    /// A whole transaction (`BEGIN … COMMIT`).
    Transaction,
    /// Anything else (`SET`, `PRAGMA`, `SHOW`, ...).
    Other,
}

impl QueryKind {
    /// The kind's name as used in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            QueryKind::Read => "read",
            QueryKind::Write => "write",
            QueryKind::Schema => "schema",
            QueryKind::Transaction => "transaction",
            QueryKind::Other => "other",
        }
    }
}

/// One reading of the process and machine.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SystemSample {
    /// When it was read.
    pub at: Timestamp,
    /// Resident set size of this process, bytes.
    pub rss_bytes: u64,
    /// CPU used by this process, percent of the whole machine (0..=100).
    pub cpu_percent: f64,
    /// Memory used on the machine, bytes.
    pub memory_used_bytes: u64,
    /// Memory installed on the machine, bytes.
    pub memory_total_bytes: u64,
    /// Disk space used on the data volume, bytes.
    pub disk_used_bytes: u64,
    /// Disk space of the data volume, bytes.
    pub disk_total_bytes: u64,
}

impl SystemSample {
    /// The resident set size in MiB (2^20 bytes), the unit every memory
    /// figure of perfkit's API, thresholds and dashboard uses.
    pub fn rss_mb(&self) -> f64 {
        self.rss_bytes as f64 / 1_048_576.0
    }
}

/// A cache tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheTier {
    /// The in-process memory tier.
    Memory,
    /// A remote tier shared by every instance (perf-cache's Redis tier);
    /// `"redis"` in JSON and metric labels, the name they have always used.
    #[serde(rename = "redis")]
    Remote,
}

impl CacheTier {
    /// The tier's name as used in JSON and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            CacheTier::Memory => "memory",
            CacheTier::Remote => "redis",
        }
    }
}

/// What happened in a cache operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheEventKind {
    /// A lookup found a value.
    Hit,
    /// A lookup found nothing.
    Miss,
    /// A value was stored.
    Set,
    /// A value was removed.
    Delete,
    /// The tier failed.
    Error,
}

/// One cache operation, per tier.
///
/// Convention: a lookup reports exactly one `Hit` (with the tier that served
/// it) or one `Miss` (with the last tier consulted), so the overall hit rate
/// is hits / (hits + misses) summed over tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheEvent {
    /// What happened.
    pub kind: CacheEventKind,
    /// Which tier it happened in.
    pub tier: CacheTier,
    /// When it happened.
    pub at: Timestamp,
}

/// One N+1 finding: the same SELECT shape run many times within one
/// request, reported once when the request ends (see
/// [`RequestScope::take_n_plus_one_findings`](crate::RequestScope::take_n_plus_one_findings)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NPlusOneSample<'a> {
    /// The label of the request's scope (an [`EndpointKey`]'s
    /// `"GET /api/projects/{id}"`).
    pub scope: &'a str,
    /// The repeated query's fingerprint.
    pub fingerprint: &'a str,
    /// How many times it ran in the request, counted to the request's end.
    pub count: u32,
    /// Their total time in the request.
    pub total_time: Duration,
    /// When the request ended.
    pub at: Timestamp,
    /// The trace of the request, kept as the finding's latest witness.
    pub trace: Option<TraceContext>,
}

#[cfg(test)]
mod tests;
