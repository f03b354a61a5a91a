//! [`PerfMetrics`]: the Prometheus text exposition at `/metrics`.
//!
//! Values are read from a store snapshot over a sliding window (`?minutes=`,
//! default 5; the window is exported as `perfkit_window_seconds`), so the
//! per-endpoint and per-query counts are the counts *in the window*: they
//! are exposed as summaries (quantiles, `_sum`, `_count`) and gauges, not as
//! ever-growing counters. Counters proper (`_total`) are only used for
//! values that never decrease.

use std::fmt::Write as _;

use actix_web::{
    HttpRequest, HttpResponse,
    dev::{AppService, HttpServiceFactory},
    http::header,
    web,
};
use perf_core::{Aggregate, CacheStats, Snapshot, TierCounts, Window};

use crate::{
    HttpError, PerfState,
    auth::{Access, authorize},
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
        web::resource(self.path).app_data(web::Data::new(self.state)).route(web::get().to(handler)).register(config);
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
    // Cache statistics are best effort: a failing backend must not take the
    // whole exposition down, so its metrics are left out instead.
    let cache = state.cache().stats().await.ok();
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(render(&snapshot, cache.as_ref())))
}

type Quantile = (&'static str, fn(&Aggregate) -> f64);

const QUANTILES: [Quantile; 4] = [("0.5", |a| a.p50), ("0.9", |a| a.p90), ("0.95", |a| a.p95), ("0.99", |a| a.p99)];

/// Renders a snapshot (and cache statistics, when available) in the
/// Prometheus text format 0.0.4.
pub fn render(s: &Snapshot, cache: Option<&CacheStats>) -> String {
    let mut out = String::with_capacity(4096 + 512 * (s.endpoints.len() + s.query_stats.len()));
    let o = &mut out;

    family(o, "perfkit_window_seconds", "gauge", "Length of the sliding window the other values cover.");
    sample(o, "perfkit_window_seconds", &[], s.window.as_duration().as_secs_f64());

    family(
        o,
        "perfkit_http_request_duration_seconds",
        "summary",
        "Request latency per endpoint over the window (response head).",
    );
    for e in &s.endpoints {
        let labels = [("method", e.method.as_str()), ("route", e.route.as_str())];
        summary(o, "perfkit_http_request_duration_seconds", &labels, &e.stats);
    }
    family(o, "perfkit_http_requests", "gauge", "Requests per endpoint and outcome over the window.");
    for e in &s.endpoints {
        let ok = e.stats.count - e.stats.errors - e.stats.client_errors;
        for (outcome, n) in [("success", ok), ("client_error", e.stats.client_errors), ("server_error", e.stats.errors)]
        {
            let labels = [("method", e.method.as_str()), ("route", e.route.as_str()), ("outcome", outcome)];
            sample(o, "perfkit_http_requests", &labels, n as f64);
        }
    }
    family(o, "perfkit_http_slow_requests", "gauge", "Requests over the slow threshold per endpoint over the window.");
    for e in &s.endpoints {
        let labels = [("method", e.method.as_str()), ("route", e.route.as_str())];
        sample(o, "perfkit_http_slow_requests", &labels, e.stats.slow as f64);
    }
    family(o, "perfkit_http_queries_per_request", "gauge", "Mean database queries per request over the window.");
    for e in &s.endpoints {
        let labels = [("method", e.method.as_str()), ("route", e.route.as_str())];
        sample(o, "perfkit_http_queries_per_request", &labels, e.queries_per_request);
    }

    family(o, "perfkit_db_query_duration_seconds", "summary", "Query latency per SQL fingerprint over the window.");
    for q in &s.query_stats {
        summary(o, "perfkit_db_query_duration_seconds", &[("fingerprint", q.fingerprint.as_str())], &q.stats);
    }
    family(o, "perfkit_db_query_errors", "gauge", "Failed queries per SQL fingerprint over the window.");
    for q in &s.query_stats {
        sample(o, "perfkit_db_query_errors", &[("fingerprint", q.fingerprint.as_str())], q.stats.errors as f64);
    }
    family(
        o,
        "perfkit_db_slow_queries",
        "gauge",
        "Queries over the slow threshold per SQL fingerprint over the window.",
    );
    for q in &s.query_stats {
        sample(o, "perfkit_db_slow_queries", &[("fingerprint", q.fingerprint.as_str())], q.stats.slow as f64);
    }
    family(o, "perfkit_db_n_plus_one_findings", "gauge", "N+1 query findings over the window.");
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

fn summary(o: &mut String, name: &str, labels: &[(&str, &str)], a: &Aggregate) {
    let mut with_q: Vec<(&str, &str)> = labels.to_vec();
    with_q.push(("quantile", ""));
    for (q, get) in QUANTILES {
        if let Some(last) = with_q.last_mut() {
            last.1 = q;
        }
        sample(o, name, &with_q, if a.count == 0 { f64::NAN } else { get(a) });
    }
    sample(o, &format!("{name}_sum"), labels, a.total_time);
    sample(o, &format!("{name}_count"), labels, a.count as f64);
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
