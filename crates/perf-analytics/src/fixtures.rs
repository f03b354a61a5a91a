//! Synthetic snapshots for the unit tests.

use chrono::{DateTime, Utc};
use perf_core::{
    Aggregate, CacheCounts, EndpointStats, KeyUsage, Method, QueryKind, QueryStats, Snapshot, SystemSample,
    SystemStats, TierCounts, Window,
};

pub(crate) const T0: i64 = 1_700_000_000;

pub(crate) fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(T0 + secs, 0).unwrap_or_default()
}

/// An empty snapshot: no requests, queries, readings or cache lookups.
pub(crate) fn empty() -> Snapshot {
    Snapshot {
        timestamp: at(0),
        window: Window::DEFAULT,
        requests: Aggregate::default(),
        endpoints: Vec::new(),
        queries: Aggregate::default(),
        query_stats: Vec::new(),
        background_queries: Aggregate::default(),
        background_query_stats: Vec::new(),
        system: SystemStats::default(),
        cache: CacheCounts::default(),
        slow_requests: Vec::new(),
        slow_queries: Vec::new(),
        n_plus_one: Vec::new(),
        keys: KeyUsage::default(),
    }
}

/// An aggregate of `count` events all taking `secs`, `errors` of them failed.
pub(crate) fn flat(count: u64, errors: u64, secs: f64) -> Aggregate {
    Aggregate {
        count,
        errors,
        client_errors: 0,
        slow: 0,
        total_time: secs * count as f64,
        avg: secs,
        min: secs,
        max: secs,
        p50: secs,
        p90: secs,
        p95: secs,
        p99: secs,
        histogram_coverage: 1.0,
    }
}

pub(crate) fn endpoint(route: &str, stats: Aggregate) -> EndpointStats {
    EndpointStats {
        method: Method::Get,
        route: route.to_owned(),
        stats,
        queries_per_request: 0.0,
        query_time_per_request: 0.0,
    }
}

pub(crate) fn query(fingerprint: &str, stats: Aggregate) -> QueryStats {
    QueryStats {
        fingerprint: fingerprint.to_owned(),
        example_sql: fingerprint.to_owned(),
        kind: QueryKind::Read,
        stats,
        plan: None,
    }
}

pub(crate) fn with_memory(mut s: Snapshot, mib: f64) -> Snapshot {
    s.system = SystemStats {
        current: Some(SystemSample { rss_bytes: (mib * 1_048_576.0) as u64, ..SystemSample::default() }),
        samples: 1,
        avg_rss_mb: mib,
        max_rss_mb: mib,
        avg_cpu_percent: 0.0,
        max_cpu_percent: 0.0,
    };
    s
}

pub(crate) fn with_cache(mut s: Snapshot, hits: u64, misses: u64) -> Snapshot {
    s.cache =
        CacheCounts { memory: TierCounts { hits, misses, ..TierCounts::default() }, remote: TierCounts::default() };
    s
}

/// A snapshot whose overall requests are `requests` (and one endpoint `/a` with the same stats).
pub(crate) fn with_requests(mut s: Snapshot, requests: Aggregate) -> Snapshot {
    s.requests = requests;
    s.endpoints = vec![endpoint("/a", requests)];
    s
}

pub(crate) fn with_queries(mut s: Snapshot, queries: Aggregate) -> Snapshot {
    s.queries = queries;
    s.query_stats = vec![query("SELECT ?", queries)];
    s
}
