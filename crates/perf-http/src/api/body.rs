//! The API's request and response bodies, and the documents built from a
//! snapshot or series (endpoints, queries, timeseries), in the field names
//! `openapi.json` states.

use chrono::{DateTime, Utc};
use perf_core::{
    GaugePoint, Method, NPlusOneFinding, SeriesKey, SeriesPoint, SeriesResolution, SlowQuery, Snapshot, Window,
};
use serde::{Deserialize, Serialize};

use crate::PerfState;

/// `GET metrics`: the spec's three groups plus cache, CPU and key usage.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct MetricsBody {
    pub(super) timestamp: DateTime<Utc>,
    pub(super) period_minutes: u32,
    pub(super) requests: RequestMetrics,
    pub(super) database: DatabaseMetrics,
    pub(super) memory: MemoryMetrics,
    pub(super) cpu: CpuMetrics,
    pub(super) cache: CacheMetrics,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct RequestMetrics {
    pub(super) total_requests: u64,
    pub(super) avg_response_time: f64,
    pub(super) max_response_time: f64,
    pub(super) min_response_time: f64,
    pub(super) error_rate: f64,
    pub(super) client_error_rate: f64,
    pub(super) error_count: u64,
    pub(super) client_error_count: u64,
    pub(super) slow_request_count: u64,
    pub(super) p50_response_time: f64,
    pub(super) p95_response_time: f64,
    pub(super) p99_response_time: f64,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct DatabaseMetrics {
    pub(super) total_queries: u64,
    pub(super) avg_query_time: f64,
    pub(super) max_query_time: f64,
    pub(super) slow_query_count: u64,
    pub(super) failed_query_count: u64,
    pub(super) p95_query_time: f64,
    pub(super) total_query_time: f64,
}

/// Process memory; every value is `null` when no system reading was taken
/// in the window (`sampled: false`: no sampler runs, or it has not read yet).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct MemoryMetrics {
    pub(super) sampled: bool,
    pub(super) current_memory_mb: Option<f64>,
    pub(super) avg_memory_mb: Option<f64>,
    pub(super) max_memory_mb: Option<f64>,
    pub(super) samples: u64,
}

/// Process CPU; `null` values as for [`MemoryMetrics`].
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct CpuMetrics {
    pub(super) sampled: bool,
    pub(super) current_percent: Option<f64>,
    pub(super) avg_percent: Option<f64>,
    pub(super) max_percent: Option<f64>,
}

/// Cache operations recorded in the window; `configured` says whether the
/// state has a cache at all (without one, every count is 0 for that reason).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct CacheMetrics {
    pub(super) configured: bool,
    pub(super) hits: u64,
    pub(super) misses: u64,
    pub(super) hit_rate: f64,
    pub(super) total_operations: u64,
}

impl MetricsBody {
    pub(super) fn from_snapshot(s: &Snapshot, cache_configured: bool) -> Self {
        let r = &s.requests;
        let q = &s.queries;
        let sampled = s.system.samples > 0;
        // The latest reading is only "current" when the window holds readings.
        let current = s.system.current.filter(|_| sampled);
        let in_window = |v: f64| sampled.then_some(v);
        MetricsBody {
            timestamp: s.timestamp,
            period_minutes: s.window.as_minutes(),
            requests: RequestMetrics {
                total_requests: r.count,
                avg_response_time: r.avg,
                max_response_time: r.max,
                min_response_time: r.min,
                error_rate: r.error_rate(),
                client_error_rate: r.client_error_rate(),
                error_count: r.errors,
                client_error_count: r.client_errors,
                slow_request_count: r.slow,
                p50_response_time: r.p50,
                p95_response_time: r.p95,
                p99_response_time: r.p99,
            },
            database: DatabaseMetrics {
                total_queries: q.count,
                avg_query_time: q.avg,
                max_query_time: q.max,
                slow_query_count: q.slow,
                failed_query_count: q.errors,
                p95_query_time: q.p95,
                total_query_time: q.total_time,
            },
            memory: MemoryMetrics {
                sampled,
                current_memory_mb: current.map(|c| c.rss_mb()),
                avg_memory_mb: in_window(s.system.avg_rss_mb),
                max_memory_mb: in_window(s.system.max_rss_mb),
                samples: s.system.samples,
            },
            cpu: CpuMetrics {
                sampled,
                current_percent: current.map(|c| c.cpu_percent),
                avg_percent: in_window(s.system.avg_cpu_percent),
                max_percent: in_window(s.system.max_cpu_percent),
            },
            cache: CacheMetrics {
                configured: cache_configured,
                hits: s.cache.hits(),
                misses: s.cache.misses(),
                hit_rate: s.cache.hit_rate(),
                total_operations: s.cache.total_operations(),
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct AlertsBody {
    pub(super) alerts: Vec<perf_core::Alert>,
    pub(super) count: usize,
}

#[derive(Debug, Serialize)]
pub(super) struct ResolvedBody {
    pub(super) resolved: bool,
    pub(super) alert: perf_core::Alert,
}

/// `GET cache/stats`: the cache's own statistics (since it started), and
/// whether a cache is configured at all (`false`: the state has no cache
/// admin and the counts are those of an empty no-op cache).
#[derive(Debug, Serialize)]
pub(super) struct CacheStatsBody {
    pub(super) configured: bool,
    #[serde(flatten)]
    pub(super) stats: perf_core::CacheStats,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ClearRequest {
    #[serde(default)]
    pub(super) pattern: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct ClearedBody {
    pub(super) cleared: u64,
    pub(super) pattern: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct EndpointRow {
    pub(super) method: Method,
    pub(super) route: String,
    pub(super) count: u64,
    pub(super) avg: f64,
    pub(super) p50: f64,
    pub(super) p95: f64,
    pub(super) p99: f64,
    pub(super) max: f64,
    pub(super) error_rate: f64,
    pub(super) client_error_rate: f64,
    pub(super) error_count: u64,
    pub(super) client_error_count: u64,
    pub(super) slow_count: u64,
    pub(super) queries_per_request: f64,
    pub(super) query_time_per_request: f64,
}

#[derive(Debug, Serialize)]
pub(super) struct EndpointsBody {
    pub(super) timestamp: DateTime<Utc>,
    pub(super) period_minutes: u32,
    pub(super) endpoints: Vec<EndpointRow>,
    /// The window's recent slow requests, newest first, each with its trace id.
    pub(super) slow_requests: Vec<perf_core::SlowRequest>,
}

#[derive(Debug, Serialize)]
pub(super) struct QueryRow {
    pub(super) query_id: String,
    pub(super) fingerprint: String,
    pub(super) example_sql: String,
    pub(super) kind: perf_core::QueryKind,
    pub(super) count: u64,
    pub(super) total_time: f64,
    pub(super) avg: f64,
    pub(super) p95: f64,
    pub(super) max: f64,
    pub(super) error_count: u64,
    pub(super) slow_count: u64,
    /// The fingerprint's latest captured plan, if any.
    pub(super) plan: Option<perf_core::CapturedPlan>,
}

#[derive(Debug, Serialize)]
pub(super) struct QueriesBody {
    pub(super) timestamp: DateTime<Utc>,
    pub(super) period_minutes: u32,
    pub(super) top_queries: Vec<QueryRow>,
    /// Queries run outside any request (start-up, migrations, background
    /// jobs): shown apart, never part of the request figures.
    pub(super) background_queries: Vec<QueryRow>,
    pub(super) slow_queries: Vec<SlowQuery>,
    pub(super) n_plus_one: Vec<NPlusOneFinding>,
    /// Whether SQL text keeps bind values (`PERFORMANCE_CAPTURE_BINDS`).
    pub(super) binds_captured: bool,
}

#[derive(Debug, Serialize)]
pub(super) struct TimeseriesBody {
    pub(super) timestamp: DateTime<Utc>,
    pub(super) period_minutes: u32,
    pub(super) metric: &'static str,
    pub(super) method: Option<Method>,
    pub(super) route: Option<String>,
    pub(super) fingerprint: Option<String>,
    pub(super) points: Points,
}

/// The points of a series: request or query buckets, or system readings.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum Points {
    Series(Vec<SeriesPoint>),
    Gauges(Vec<GaugePoint>),
}

/// What `GET timeseries` reads, once its parameters are checked.
#[derive(Debug)]
pub(super) enum SeriesQuery {
    Requests { key: SeriesKey, method: Option<Method>, route: Option<String> },
    Queries { key: SeriesKey, fingerprint: Option<String> },
    System,
}

pub(super) fn endpoints_body(state: &PerfState, window: Window) -> EndpointsBody {
    let snap = state.source().snapshot(window);
    let endpoints = snap
        .endpoints
        .iter()
        .map(|e| EndpointRow {
            method: e.method,
            route: e.route.clone(),
            count: e.stats.count,
            avg: e.stats.avg,
            p50: e.stats.p50,
            p95: e.stats.p95,
            p99: e.stats.p99,
            max: e.stats.max,
            error_rate: e.stats.error_rate(),
            client_error_rate: e.stats.client_error_rate(),
            error_count: e.stats.errors,
            client_error_count: e.stats.client_errors,
            slow_count: e.stats.slow,
            queries_per_request: e.queries_per_request,
            query_time_per_request: e.query_time_per_request,
        })
        .collect();
    EndpointsBody {
        timestamp: snap.timestamp,
        period_minutes: window.as_minutes(),
        endpoints,
        slow_requests: snap.slow_requests,
    }
}

pub(super) fn queries_body(state: &PerfState, window: Window, limit: usize) -> QueriesBody {
    let snap = state.source().snapshot(window);
    let rows = |stats: &[perf_core::QueryStats]| -> Vec<QueryRow> {
        stats
            .iter()
            .take(limit)
            .map(|q| QueryRow {
                query_id: perf_core::query_id(&q.fingerprint),
                fingerprint: q.fingerprint.clone(),
                example_sql: q.example_sql.clone(),
                kind: q.kind,
                count: q.stats.count,
                total_time: q.stats.total_time,
                avg: q.stats.avg,
                p95: q.stats.p95,
                max: q.stats.max,
                error_count: q.stats.errors,
                slow_count: q.stats.slow,
                plan: q.plan.clone(),
            })
            .collect()
    };
    QueriesBody {
        timestamp: snap.timestamp,
        period_minutes: window.as_minutes(),
        top_queries: rows(&snap.query_stats),
        background_queries: rows(&snap.background_query_stats),
        slow_queries: snap.slow_queries.into_iter().take(limit).collect(),
        n_plus_one: snap.n_plus_one.into_iter().take(limit).collect(),
        binds_captured: state.config().capture_binds,
    }
}

pub(super) fn timeseries_body(
    state: &PerfState,
    window: Window,
    resolution: SeriesResolution,
    query: SeriesQuery,
) -> TimeseriesBody {
    let timestamp = state.source().now().to_datetime();
    let period_minutes = window.as_minutes();
    match query {
        SeriesQuery::Requests { key, method, route } => TimeseriesBody {
            timestamp,
            period_minutes,
            metric: "requests",
            method,
            route,
            fingerprint: None,
            points: Points::Series(state.source().series_at(&key, window, resolution)),
        },
        SeriesQuery::Queries { key, fingerprint } => TimeseriesBody {
            timestamp,
            period_minutes,
            metric: "queries",
            method: None,
            route: None,
            fingerprint,
            points: Points::Series(state.source().series_at(&key, window, resolution)),
        },
        SeriesQuery::System => TimeseriesBody {
            timestamp,
            period_minutes,
            metric: "system",
            method: None,
            route: None,
            fingerprint: None,
            points: Points::Gauges(state.source().gauges(window)),
        },
    }
}
