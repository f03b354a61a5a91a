//! [`PerfMetrics`]: the Prometheus text exposition at `/metrics`.
//!
//! Two kinds of values:
//!
//! - Counts since start (`MetricsSource::totals`): request and query
//!   counters (`_total`) and latency histograms with cumulative `le`
//!   buckets, `_sum` and `_count`, which never decrease, so `rate()` and
//!   `histogram_quantile()` work on them as on any Prometheus client's.
//! - Figures over a sliding window (`?minutes=`, default 5; exported as
//!   `perfkit_window_seconds`): the store's percentiles (relative error at
//!   most 2 %, far finer than `le` buckets) as `*_window_seconds` gauges with
//!   a `percentile` label, queries per request, cache operations and hit
//!   ratio, all gauges.

use std::fmt::Write as _;

use actix_web::{
    HttpRequest, HttpResponse,
    dev::{AppService, HttpServiceFactory},
    http::header,
    web,
};
use perf_core::{Aggregate, CacheStats, Snapshot, TOTALS_BUCKETS, TierCounts, Totals, TotalsSnapshot, Window};

use crate::{
    HttpError, PerfState,
    auth::{Access, authorize},
    methods,
};

/// Where [`PerfMetrics`] mounts by default.
pub const METRICS_PATH: &str = "/metrics";

/// The Prometheus endpoint as an actix service factory: `App::new().service(perf.metrics())`.
#[derive(Debug, Clone)]
pub struct PerfMetrics {
    state: PerfState,
    path: String,
}

impl PerfMetrics {
    /// The endpoint over `state`, at [`METRICS_PATH`].
    pub fn new(state: PerfState) -> Self {
        PerfMetrics { state, path: METRICS_PATH.to_owned() }
    }

    /// Serves at `path` instead.
    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }
}

impl HttpServiceFactory for PerfMetrics {
    fn register(self, config: &mut AppService) {
        methods::get(&self.path, handler).app_data(web::Data::new(self.state)).register(config);
    }
}

async fn handler(req: HttpRequest, state: web::Data<PerfState>) -> Result<HttpResponse, HttpError> {
    authorize(&req, &state, Access::Read)?;
    let params = web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .map_err(|e| HttpError::InvalidQuery { name: "query string".into(), reason: e.to_string() })?;
    let window = match params.get("minutes") {
        None => Window::DEFAULT,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .and_then(|m| Window::minutes(m).ok())
            .ok_or_else(|| HttpError::InvalidWindow(raw.chars().take(64).collect()))?,
    };
    let snapshot = state.source().snapshot(window);
    let totals = state.source().totals();
    // Cache statistics are best effort: a failing backend must not take the
    // whole exposition down, so its metrics are left out instead.
    let cache = state.cache().stats().await.ok();
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(render(&snapshot, &totals, cache.as_ref())))
}

type Quantile = (&'static str, fn(&Aggregate) -> f64);

const QUANTILES: [Quantile; 4] = [("50", |a| a.p50), ("90", |a| a.p90), ("95", |a| a.p95), ("99", |a| a.p99)];

/// Renders counts since start, a window snapshot and cache statistics (when
/// available) in the Prometheus text format 0.0.4.
pub fn render(s: &Snapshot, t: &TotalsSnapshot, cache: Option<&CacheStats>) -> String {
    let mut out = String::with_capacity(4096 + 1024 * (s.endpoints.len() + s.query_stats.len()));
    let o = &mut out;

    family(o, "perfkit_window_seconds", "gauge", "Length of the sliding window the window gauges cover.");
    sample(o, "perfkit_window_seconds", &[], s.window.as_duration().as_secs_f64());

    family(o, "perfkit_http_requests_total", "counter", "Requests per endpoint and outcome since start.");
    for e in &t.endpoints {
        let tt = &e.totals;
        let ok = tt.count - tt.errors - tt.client_errors;
        for (outcome, n) in [("success", ok), ("client_error", tt.client_errors), ("server_error", tt.errors)] {
            let labels = [("method", e.method.as_str()), ("route", e.route.as_str()), ("outcome", outcome)];
            sample(o, "perfkit_http_requests_total", &labels, n as f64);
        }
    }
    family(o, "perfkit_http_slow_requests_total", "counter", "Requests over the slow threshold since start.");
    for e in &t.endpoints {
        let labels = [("method", e.method.as_str()), ("route", e.route.as_str())];
        sample(o, "perfkit_http_slow_requests_total", &labels, e.totals.slow as f64);
    }
    family(
        o,
        "perfkit_http_request_duration_seconds",
        "histogram",
        "Request latency per endpoint since start (response head).",
    );
    for e in &t.endpoints {
        let labels = [("method", e.method.as_str()), ("route", e.route.as_str())];
        histogram(o, "perfkit_http_request_duration_seconds", &labels, &e.totals);
    }
    family(
        o,
        "perfkit_http_request_duration_window_seconds",
        "gauge",
        "Request latency percentiles per endpoint over the window.",
    );
    for e in &s.endpoints {
        let labels = [("method", e.method.as_str()), ("route", e.route.as_str())];
        quantiles(o, "perfkit_http_request_duration_window_seconds", &labels, &e.stats);
    }
    family(o, "perfkit_http_queries_per_request", "gauge", "Mean database queries per request over the window.");
    for e in &s.endpoints {
        let labels = [("method", e.method.as_str()), ("route", e.route.as_str())];
        sample(o, "perfkit_http_queries_per_request", &labels, e.queries_per_request);
    }

    // `scope` keeps a fingerprint's runs inside requests apart from its
    // runs outside any request (start-up, background jobs).
    let scope = |q: &perf_core::QueryTotals| if q.background { "background" } else { "request" };
    family(o, "perfkit_db_queries_total", "counter", "Queries per SQL fingerprint, scope and outcome since start.");
    for q in &t.queries {
        let ok = q.totals.count - q.totals.errors;
        for (outcome, n) in [("success", ok), ("error", q.totals.errors)] {
            let labels = [("fingerprint", q.fingerprint.as_str()), ("scope", scope(q)), ("outcome", outcome)];
            sample(o, "perfkit_db_queries_total", &labels, n as f64);
        }
    }
    family(o, "perfkit_db_slow_queries_total", "counter", "Queries over the slow threshold since start.");
    for q in &t.queries {
        let labels = [("fingerprint", q.fingerprint.as_str()), ("scope", scope(q))];
        sample(o, "perfkit_db_slow_queries_total", &labels, q.totals.slow as f64);
    }
    family(o, "perfkit_db_query_duration_seconds", "histogram", "Query latency per SQL fingerprint since start.");
    for q in &t.queries {
        let labels = [("fingerprint", q.fingerprint.as_str()), ("scope", scope(q))];
        histogram(o, "perfkit_db_query_duration_seconds", &labels, &q.totals);
    }
    family(
        o,
        "perfkit_db_query_duration_window_seconds",
        "gauge",
        "Query latency percentiles per SQL fingerprint over the window.",
    );
    for q in &s.query_stats {
        quantiles(o, "perfkit_db_query_duration_window_seconds", &[("fingerprint", q.fingerprint.as_str())], &q.stats);
    }
    family(
        o,
        "perfkit_db_n_plus_one_findings",
        "gauge",
        "Distinct N+1 patterns (route, fingerprint) seen in the window.",
    );
    sample(o, "perfkit_db_n_plus_one_findings", &[], s.n_plus_one.len() as f64);

    family(o, "perfkit_cache_operations", "gauge", "Cache operations per tier and kind over the window.");
    for (tier, c) in [("memory", &s.cache.memory), ("redis", &s.cache.redis)] {
        tier_ops(o, tier, c);
    }
    family(o, "perfkit_cache_hit_ratio", "gauge", "Cache hits over lookups in the window (0 without lookups).");
    sample(o, "perfkit_cache_hit_ratio", &[], s.cache.hit_rate());
    if let Some(c) = cache {
        family(o, "perfkit_cache_entries", "gauge", "Entries held by the memory tier.");
        sample(o, "perfkit_cache_entries", &[("tier", "memory")], c.memory.entries.unwrap_or(0) as f64);
        family(o, "perfkit_cache_size_bytes", "gauge", "Bytes held by the memory tier.");
        sample(o, "perfkit_cache_size_bytes", &[("tier", "memory")], c.memory.bytes.unwrap_or(0) as f64);
        family(o, "perfkit_cache_redis_up", "gauge", "Whether Redis answered the last operation (1) or not (0).");
        if let Some(r) = &c.redis {
            sample(o, "perfkit_cache_redis_up", &[], if r.available { 1.0 } else { 0.0 });
        }
    }

    let current = s.system.current.unwrap_or_default();
    let gauges: [(&str, &str, f64); 6] = [
        ("perfkit_process_resident_memory_bytes", "Resident memory of this process.", current.rss_bytes as f64),
        (
            "perfkit_process_cpu_ratio",
            "CPU used by this process as a share of the machine (0..1).",
            current.cpu_percent / 100.0,
        ),
        ("perfkit_system_memory_used_bytes", "Memory used on the machine.", current.memory_used_bytes as f64),
        ("perfkit_system_memory_total_bytes", "Memory installed on the machine.", current.memory_total_bytes as f64),
        ("perfkit_system_disk_used_bytes", "Disk space used on the data volume.", current.disk_used_bytes as f64),
        ("perfkit_system_disk_total_bytes", "Disk space of the data volume.", current.disk_total_bytes as f64),
    ];
    if s.system.current.is_some() {
        for (name, help, value) in gauges {
            family(o, name, "gauge", help);
            sample(o, name, &[], value);
        }
    }

    family(o, "perfkit_store_keys", "gauge", "Distinct keys held by the metrics store.");
    sample(o, "perfkit_store_keys", &[("kind", "endpoint")], s.keys.endpoints as f64);
    sample(o, "perfkit_store_keys", &[("kind", "query")], s.keys.queries as f64);
    family(o, "perfkit_store_overflowed_samples_total", "counter", "Samples sent to an overflow key since start.");
    sample(o, "perfkit_store_overflowed_samples_total", &[("kind", "endpoint")], s.keys.overflowed_requests as f64);
    sample(o, "perfkit_store_overflowed_samples_total", &[("kind", "query")], s.keys.overflowed_queries as f64);
    out
}

fn family(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}");
    let _ = writeln!(o, "# TYPE {name} {kind}");
}

/// Window percentiles as a gauge with a `percentile` label (`50`, `90`, `95`,
/// `99`; promtool reserves `quantile` for summaries). None without events.
fn quantiles(o: &mut String, name: &str, labels: &[(&str, &str)], a: &Aggregate) {
    if a.count == 0 {
        return;
    }
    let mut with_q: Vec<(&str, &str)> = labels.to_vec();
    with_q.push(("percentile", ""));
    for (q, get) in QUANTILES {
        if let Some(last) = with_q.last_mut() {
            last.1 = q;
        }
        sample(o, name, &with_q, get(a));
    }
}

/// A histogram from counts since start: cumulative `le` buckets, `+Inf`, `_sum`, `_count`.
fn histogram(o: &mut String, name: &str, labels: &[(&str, &str)], t: &Totals) {
    let bucket = format!("{name}_bucket");
    let mut with_le: Vec<(&str, &str)> = labels.to_vec();
    with_le.push(("le", ""));
    let bounds: Vec<String> = TOTALS_BUCKETS.iter().map(|b| b.to_string()).collect();
    for (le, n) in bounds.iter().zip(t.buckets.iter()) {
        if let Some(last) = with_le.last_mut() {
            last.1 = le;
        }
        sample(o, &bucket, &with_le, *n as f64);
    }
    if let Some(last) = with_le.last_mut() {
        last.1 = "+Inf";
    }
    sample(o, &bucket, &with_le, t.count as f64);
    sample(o, &format!("{name}_sum"), labels, t.sum);
    sample(o, &format!("{name}_count"), labels, t.count as f64);
}

fn tier_ops(o: &mut String, tier: &str, c: &TierCounts) {
    for (kind, n) in [("hit", c.hits), ("miss", c.misses), ("set", c.sets), ("delete", c.deletes), ("error", c.errors)]
    {
        sample(o, "perfkit_cache_operations", &[("tier", tier), ("kind", kind)], n as f64);
    }
}

fn sample(o: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    o.push_str(name);
    if !labels.is_empty() {
        o.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            o.push_str(k);
            o.push_str("=\"");
            escape_label(o, v);
            o.push('"');
        }
        o.push('}');
    }
    o.push(' ');
    write_value(o, value);
    o.push('\n');
}

/// Escapes a label value: backslash, double quote and line feed.
pub(crate) fn escape_label(o: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
}

fn write_value(o: &mut String, v: f64) {
    if v.is_nan() {
        o.push_str("NaN");
    } else if v.is_infinite() {
        o.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(o, "{v}");
    }
}

#[cfg(test)]
mod tests;
