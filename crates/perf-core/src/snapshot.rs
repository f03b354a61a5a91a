//! What a [`MetricsSource`](crate::MetricsSource) answers: windows, snapshots,
//! aggregates and time series. All durations are seconds as `f64`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{CapturedPlan, CoreError, EndpointKey, Method, QueryKind, SystemSample, Timestamp, TraceId};

/// A look-back window of 1 to 1,440 whole minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u32")]
pub struct Window(u32);

impl Window {
    /// The shortest window.
    pub const MIN_MINUTES: u32 = 1;
    /// The longest window (24 h).
    pub const MAX_MINUTES: u32 = 1_440;
    /// The default window of the API (5 minutes).
    pub const DEFAULT: Window = Window(5);
    /// One hour, the default of the trend and report endpoints.
    pub const ONE_HOUR: Window = Window(60);

    /// A window of `minutes`.
    ///
    /// # Errors
    /// [`CoreError::InvalidWindow`] outside 1..=1440.
    pub fn minutes(minutes: i64) -> Result<Window, CoreError> {
        if (i64::from(Self::MIN_MINUTES)..=i64::from(Self::MAX_MINUTES)).contains(&minutes) {
            Ok(Window(minutes as u32))
        } else {
            Err(CoreError::InvalidWindow(minutes))
        }
    }

    /// The window's length in minutes.
    pub const fn as_minutes(self) -> u32 {
        self.0
    }

    /// The window's length.
    pub const fn as_duration(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.0 as u64 * 60)
    }
}

impl Default for Window {
    fn default() -> Self {
        Window::DEFAULT
    }
}

/// Parses a `?minutes=` value: a decimal integer in 1..=1440.
impl std::str::FromStr for Window {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, CoreError> {
        Window::minutes(s.parse::<i64>().map_err(|_| CoreError::WindowNotANumber)?)
    }
}

impl TryFrom<i64> for Window {
    type Error = CoreError;
    fn try_from(m: i64) -> Result<Self, CoreError> {
        Window::minutes(m)
    }
}

impl From<Window> for u32 {
    fn from(w: Window) -> u32 {
        w.0
    }
}

/// Aggregate statistics of a set of timed events over a window.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Aggregate {
    /// Number of events.
    pub count: u64,
    /// Failed events (5xx and handler errors for requests, database errors for queries).
    pub errors: u64,
    /// Client errors (4xx); zero for queries.
    pub client_errors: u64,
    /// Events over the slow threshold in force when they were recorded.
    pub slow: u64,
    /// Sum of durations, seconds.
    pub total_time: f64,
    /// Mean duration, seconds (0 with no events).
    pub avg: f64,
    /// Shortest duration, seconds.
    pub min: f64,
    /// Longest duration, seconds.
    pub max: f64,
    /// Median, seconds (relative error at most 2 %).
    pub p50: f64,
    /// 90th percentile, seconds.
    pub p90: f64,
    /// 95th percentile, seconds.
    pub p95: f64,
    /// 99th percentile, seconds.
    pub p99: f64,
    /// Share of events whose latency histogram was still held when the
    /// percentiles were computed (1.0 unless old detail had to be dropped).
    pub histogram_coverage: f64,
}

impl Aggregate {
    /// errors / count, 0 with no events.
    pub fn error_rate(&self) -> f64 {
        ratio(self.errors, self.count)
    }
    /// client_errors / count, 0 with no events.
    pub fn client_error_rate(&self) -> f64 {
        ratio(self.client_errors, self.count)
    }
}

pub(crate) fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Per-endpoint statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointStats {
    /// The method.
    pub method: Method,
    /// The route pattern (or the unmatched/overflow key).
    pub route: String,
    /// Timing statistics.
    pub stats: Aggregate,
    /// Mean database queries per request.
    pub queries_per_request: f64,
    /// Mean database time per request, seconds.
    pub query_time_per_request: f64,
}

impl EndpointStats {
    /// The endpoint's key; its `Display` is the endpoint's label (`"GET /x"`).
    pub fn key(&self) -> EndpointKey<'_> {
        EndpointKey { method: self.method, route: &self.route }
    }
}

/// Per-fingerprint query statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryStats {
    /// The normalized SQL shape.
    pub fingerprint: String,
    /// The SQL text first seen with this shape (truncated to 2 KiB).
    pub example_sql: String,
    /// What kind of statement it is.
    pub kind: QueryKind,
    /// Timing statistics (errors = failed queries).
    pub stats: Aggregate,
    /// The latest plan captured for this fingerprint, when a slow run of it
    /// was explained ([`Recorder::record_query_plan`](crate::Recorder::record_query_plan)).
    #[serde(default)]
    pub plan: Option<CapturedPlan>,
}

/// A recent slow request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlowRequest {
    /// When it finished.
    pub timestamp: DateTime<Utc>,
    /// The method.
    pub method: Method,
    /// The route pattern.
    pub route: String,
    /// The status code.
    pub status: u16,
    /// Its duration, seconds.
    pub duration: f64,
    /// Its trace, when it had one.
    pub trace_id: Option<TraceId>,
}

/// A recent slow (or failed) query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlowQuery {
    /// When it finished.
    pub timestamp: DateTime<Utc>,
    /// The normalized SQL shape.
    pub fingerprint: String,
    /// The SQL text, truncated to 2 KiB.
    pub sql: String,
    /// Its duration, seconds.
    pub duration: f64,
    /// Whether it succeeded.
    pub ok: bool,
    /// The scope label of the request that issued it (`"GET /x"`); `None`
    /// for a query run outside any request (background). `route` in JSON.
    #[serde(rename = "route")]
    pub scope: Option<String>,
    /// What kind of statement it is.
    pub kind: QueryKind,
    /// The trace of the request that issued it, when it had one.
    pub trace_id: Option<TraceId>,
}

/// One N+1 pattern: a SELECT shape a route runs many times per request,
/// aggregated over the requests that showed it.
///
/// The store keeps one finding per (route, fingerprint); counts are since the
/// finding was first seen (or since it was last evicted from the bounded
/// table), and a snapshot lists the findings last seen within its window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NPlusOneFinding {
    /// The label of the requests' scope (`"GET /api/projects/{id}"`);
    /// `route` in JSON.
    #[serde(rename = "route")]
    pub scope: String,
    /// The repeated query's fingerprint.
    pub fingerprint: String,
    /// Requests that showed the pattern.
    pub requests: u64,
    /// The most runs of the shape in one of those requests.
    pub max_count: u32,
    /// The median runs per request over the most recent of those requests
    /// (up to [`N_PLUS_ONE_RECENT`]).
    pub typical_count: u32,
    /// Runs in the latest such request.
    pub last_count: u32,
    /// Mean time per request spent in the repeated shape, seconds.
    pub time_per_request: f64,
    /// Most time spent in it by one request, seconds.
    pub max_time_per_request: f64,
    /// When it was first seen.
    pub first_seen: DateTime<Utc>,
    /// When it was last seen.
    pub last_seen: DateTime<Utc>,
    /// The trace of the latest request that showed it, when it had one.
    pub trace_id: Option<TraceId>,
}

/// How many recent requests' run counts an N+1 finding keeps for its
/// typical (median) count.
pub const N_PLUS_ONE_RECENT: usize = 16;

/// Process and machine statistics over a window.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SystemStats {
    /// The latest reading, if any was taken.
    pub current: Option<SystemSample>,
    /// Readings in the window.
    pub samples: u64,
    /// Mean process RSS over the window, MiB.
    pub avg_rss_mb: f64,
    /// Largest process RSS over the window, MiB.
    pub max_rss_mb: f64,
    /// Mean process CPU over the window, percent.
    pub avg_cpu_percent: f64,
    /// Largest process CPU over the window, percent.
    pub max_cpu_percent: f64,
}

/// Counts of cache operations of one tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TierCounts {
    /// Lookups that found a value here.
    pub hits: u64,
    /// Lookups that ended here empty-handed.
    pub misses: u64,
    /// Values stored.
    pub sets: u64,
    /// Values removed.
    pub deletes: u64,
    /// Failures.
    pub errors: u64,
}

/// Cache operations over a window, per tier.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct CacheCounts {
    /// The memory tier.
    pub memory: TierCounts,
    /// The remote tier (`redis` in JSON).
    #[serde(rename = "redis")]
    pub remote: TierCounts,
}

impl CacheCounts {
    /// Hits over all tiers.
    pub fn hits(&self) -> u64 {
        self.memory.hits + self.remote.hits
    }
    /// Misses over all tiers.
    pub fn misses(&self) -> u64 {
        self.memory.misses + self.remote.misses
    }
    /// hits / (hits + misses), 0 without lookups.
    pub fn hit_rate(&self) -> f64 {
        ratio(self.hits(), self.hits() + self.misses())
    }
    /// Every operation counted.
    pub fn total_operations(&self) -> u64 {
        let t = |c: &TierCounts| c.hits + c.misses + c.sets + c.deletes + c.errors;
        t(&self.memory) + t(&self.remote)
    }
}

/// How many keys the store tracks and how many samples overflowed its caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KeyUsage {
    /// Distinct endpoint keys held (overflow and unmatched keys included).
    pub endpoints: usize,
    /// Distinct query fingerprints held (overflow key included).
    pub queries: usize,
    /// Request samples sent to the overflow key since start.
    pub overflowed_requests: u64,
    /// Query samples sent to the overflow key since start.
    pub overflowed_queries: u64,
}

/// Everything known about a window, computed in O(keys × buckets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// When the snapshot was taken.
    pub timestamp: DateTime<Utc>,
    /// The window's length.
    pub window: Window,
    /// All requests together.
    pub requests: Aggregate,
    /// Per endpoint, busiest first.
    pub endpoints: Vec<EndpointStats>,
    /// All queries run inside requests together.
    pub queries: Aggregate,
    /// Queries run inside requests, per fingerprint, largest total time first.
    pub query_stats: Vec<QueryStats>,
    /// All queries run outside any request (start-up, migrations, background
    /// jobs) together: never part of the request figures above.
    pub background_queries: Aggregate,
    /// Queries run outside any request, per fingerprint, largest total time first.
    pub background_query_stats: Vec<QueryStats>,
    /// Process and machine.
    pub system: SystemStats,
    /// Cache operations.
    pub cache: CacheCounts,
    /// Recent slow requests in the window, newest first.
    pub slow_requests: Vec<SlowRequest>,
    /// Recent slow or failed queries in the window, newest first.
    pub slow_queries: Vec<SlowQuery>,
    /// N+1 findings last seen in the window, one per (route, fingerprint),
    /// most time per request first.
    pub n_plus_one: Vec<NPlusOneFinding>,
    /// Key counts and overflow.
    pub keys: KeyUsage,
}

/// Which series a time-series query reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SeriesKey {
    /// All requests together.
    Requests,
    /// One endpoint.
    Endpoint {
        /// The method.
        method: Method,
        /// The route pattern.
        route: String,
    },
    /// All queries together.
    Queries,
    /// One query fingerprint.
    Query {
        /// The fingerprint.
        fingerprint: String,
    },
}

/// One bucket of a request or query series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// The bucket's start.
    pub start: DateTime<Utc>,
    /// Bucket width, seconds.
    pub width: f64,
    /// Events in the bucket.
    pub count: u64,
    /// Failed events.
    pub errors: u64,
    /// Slow events.
    pub slow: u64,
    /// Mean duration, seconds (0 when empty).
    pub avg: f64,
    /// Median, seconds.
    pub p50: f64,
    /// 95th percentile, seconds.
    pub p95: f64,
    /// 99th percentile, seconds.
    pub p99: f64,
    /// Longest duration, seconds.
    pub max: f64,
    /// Whether p50/p95/p99 were computed: true for roll-up buckets with
    /// events, false for fine buckets, which keep no histogram.
    pub has_percentiles: bool,
}

/// One bucket of the system and cache series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GaugePoint {
    /// The bucket's start.
    pub start: DateTime<Utc>,
    /// Bucket width, seconds.
    pub width: f64,
    /// System readings in the bucket.
    pub samples: u64,
    /// Mean process RSS, MiB (0 without readings).
    pub rss_mb: f64,
    /// Mean process CPU, percent.
    pub cpu_percent: f64,
    /// Cache hits in the bucket.
    pub cache_hits: u64,
    /// Cache misses in the bucket.
    pub cache_misses: u64,
}

/// Distinct status codes counted per endpoint; further codes fold into
/// their class (`"5xx"`), so an endpoint has at most this many code series
/// plus one per class.
pub const STATUS_CODES_PER_ENDPOINT: usize = 16;

/// Counts of one key since it was first seen; they never decrease.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Totals {
    /// Events.
    pub count: u64,
    /// Failed events.
    pub errors: u64,
    /// Client errors (4xx).
    pub client_errors: u64,
    /// Slow events.
    pub slow: u64,
    /// Sum of durations, seconds.
    pub sum: f64,
    /// Cumulative counts of events at or under each bound of
    /// [`TotalsSnapshot::bucket_bounds`] (one per bound).
    pub buckets: Vec<u64>,
}

/// Requests of one endpoint with one status since start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusTotals {
    /// The status code (`"200"`), or its class (`"5xx"`) for codes seen
    /// after the endpoint's [`STATUS_CODES_PER_ENDPOINT`] slots were taken.
    pub status: String,
    /// Requests.
    pub count: u64,
    /// Sum of durations, seconds.
    pub sum: f64,
    /// Cumulative counts at or under each bound of [`TotalsSnapshot::bucket_bounds`].
    pub buckets: Vec<u64>,
    /// One per `le` bucket and a last one for `+Inf`: a recent traced
    /// request that fell in that bucket (over the previous bound, at or
    /// under its own), `None` while no traced request has.
    #[serde(default)]
    pub exemplars: Vec<Option<Exemplar>>,
}

/// A recent request that fell in a histogram bucket, kept so a latency
/// spike can be followed to its trace (OpenMetrics exemplars).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Exemplar {
    /// The request's trace.
    pub trace_id: TraceId,
    /// The request's duration, seconds.
    pub value: f64,
    /// When the request was recorded.
    pub at: Timestamp,
}

/// Totals of one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointTotals {
    /// The method.
    pub method: Method,
    /// The route pattern.
    pub route: String,
    /// Counts since start.
    pub totals: Totals,
    /// The same requests by status, ordered by status label.
    pub statuses: Vec<StatusTotals>,
}

/// Totals of one query fingerprint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryTotals {
    /// The fingerprint.
    pub fingerprint: String,
    /// Whether these are the fingerprint's runs outside any request.
    pub background: bool,
    /// Counts since start.
    pub totals: Totals,
}

/// N+1 findings of one route since start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NPlusOneTotals {
    /// The request scope's label (`"GET /api/projects/{id}"`), or
    /// [`OVERFLOW_ROUTE`](crate::OVERFLOW_ROUTE) past the endpoint cap;
    /// `route` in JSON.
    #[serde(rename = "route")]
    pub scope: String,
    /// Findings: one per request and repeated query shape.
    pub findings: u64,
}

/// The stable identifier of a SQL fingerprint: 16 lowercase hex digits of
/// the 64-bit FNV-1a hash of its UTF-8 bytes.
///
/// FNV-1a (offset basis `0xcbf29ce484222325`, prime `0x100000001b3`) is
/// fixed by its specification, so the same fingerprint has the same id in
/// every process, instance and release; it is a label, not a security
/// boundary (collisions are possible, though unlikely among a thousand keys).
///
/// # Examples
/// ```
/// assert_eq!(perf_core::query_id(""), "cbf29ce484222325");
/// assert_eq!(perf_core::query_id("a"), "af63dc4c8601ec8c");
/// ```
pub fn query_id(fingerprint: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in fingerprint.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Counts since start of every key: what Prometheus counters need.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TotalsSnapshot {
    /// Upper bounds, seconds, of the `le` buckets of every [`Totals`] and
    /// [`StatusTotals`] here (`+Inf` is the count).
    pub bucket_bounds: Vec<f64>,
    /// Per endpoint.
    pub endpoints: Vec<EndpointTotals>,
    /// Per query fingerprint.
    pub queries: Vec<QueryTotals>,
    /// Cache operations per tier since start.
    pub cache: CacheCounts,
    /// N+1 findings per route since start, ordered by route.
    pub n_plus_one: Vec<NPlusOneTotals>,
}
