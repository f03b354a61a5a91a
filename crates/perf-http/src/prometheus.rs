//! [`PerfMetrics`]: the Prometheus text exposition at `/metrics`.
//!
//! Two kinds of values:
//!
//! - Counts since start (`MetricsSource::totals`): request, query, cache and
//!   N+1 counters (`_total`) and latency histograms with cumulative `le`
//!   buckets (`StoreConfig::histogram_buckets`), `_sum` and `_count`, which
//!   never decrease, so `rate()` and `histogram_quantile()` work on them as
//!   on any Prometheus client's.
//! - Figures over a sliding window (`?minutes=`, default 5; exported as
//!   `perfkit_window_seconds`): the store's percentiles (relative error at
//!   most 2 %, far finer than `le` buckets) as `*_window_seconds` gauges with
//!   a `percentile` label, queries per request and the cache hit ratio.
//!
//! Parts that are not configured have no series: no cache families without
//! a cache, no Redis tier without Redis, no system gauges without the
//! sampler. Every family is listed in `docs/METRICS.md`.
//!
//! A scraper that accepts `application/openmetrics-text` (any version, by
//! its q-value against `text/plain`) gets the same families as OpenMetrics
//! 1.0.0 ([`render_openmetrics`]): counters declared without their `_total`
//! suffix, request-duration bucket lines carrying the bucket's exemplar
//! (` # {trace_id="…"} <seconds> <unix seconds>`), and a closing `# EOF`.
//! Every other scraper gets the text format 0.0.4 as before ([`render`]).

use std::fmt::Write as _;

use actix_web::{
    HttpRequest, HttpResponse,
    dev::{AppService, HttpServiceFactory},
    http::header,
    web,
};
use perf_core::{Aggregate, CacheStats, Exemplar, MetricsNaming, Snapshot, TierCounts, TotalsSnapshot, query_id};

use crate::{HttpError, PerfState, auth::Read, methods};

/// Where [`PerfMetrics`] mounts by default.
pub const METRICS_PATH: &str = "/metrics";

/// Longest fingerprint text carried by `perfkit_db_query_info`, in bytes;
/// longer text is cut at the last character boundary before it.
pub const MAX_FINGERPRINT_LABEL_BYTES: usize = 512;

/// The Prometheus endpoint as an actix service factory: `App::new().service(perf.metrics())`.
#[derive(Debug, Clone)]
pub struct PerfMetrics {
    state: PerfState,
    path: String,
    naming: MetricsNaming,
}

impl PerfMetrics {
    /// The endpoint over `state`, at [`METRICS_PATH`], named as
    /// `PerfConfig::metrics_naming` says.
    pub fn new(state: PerfState) -> Self {
        let naming = state.config().metrics_naming.clone();
        PerfMetrics { state, path: METRICS_PATH.to_owned(), naming }
    }

    /// Serves at `path` instead.
    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Names the request counter and histogram as `naming` says, e.g.
    /// `MetricsNaming::actix_web_prom("api")?` for dashboards built on
    /// actix-web-prom.
    pub fn naming(mut self, naming: MetricsNaming) -> Self {
        self.naming = naming;
        self
    }
}

impl HttpServiceFactory for PerfMetrics {
    fn register(self, config: &mut AppService) {
        let options = RenderOptions { naming: self.naming, cache_configured: self.state.cache_configured() };
        methods::get(&self.path, handler)
            .app_data(web::Data::new(self.state))
            .app_data(web::Data::new(options))
            .register(config);
    }
}

/// What [`render`] needs besides the figures.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// How the request families are named.
    pub naming: MetricsNaming,
    /// Whether a cache was wired in; without one no cache family is written.
    pub cache_configured: bool,
}

async fn handler(
    _: Read,
    req: HttpRequest,
    state: web::Data<PerfState>,
    options: web::Data<RenderOptions>,
) -> Result<HttpResponse, HttpError> {
    let window = crate::api::window_param(&crate::api::query_params(&req)?)?;
    let snapshot = state.source().snapshot(window);
    let totals = state.source().totals();
    // Cache statistics are best effort: a failing backend must not take the
    // whole exposition down, so its gauges are left out instead.
    let cache = if options.cache_configured { state.cache().stats().await.ok() } else { None };
    let accept = req.headers().get_all(header::ACCEPT).filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
    let (content_type, body) = if wants_openmetrics(&accept) {
        (OPENMETRICS_CONTENT_TYPE, render_openmetrics(&snapshot, &totals, cache.as_ref(), &options))
    } else {
        (TEXT_CONTENT_TYPE, render(&snapshot, &totals, cache.as_ref(), &options))
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// The content type of [`render`]'s output.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The content type of [`render_openmetrics`]'s output.
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Whether an `Accept` header value prefers OpenMetrics to the text format:
/// `application/openmetrics-text` (any parameters) is named with a q-value
/// above 0 and at least that of the range that matches `text/plain` most
/// specifically (`text/plain`, `text/*`, `*/*`). Malformed ranges and
/// q-values count as absent; a q-value outside 0..1 is clamped.
pub fn wants_openmetrics(accept: &str) -> bool {
    // (specificity, q) of the best match so far per format.
    let mut om: Option<(u8, f32)> = None;
    let mut text: Option<(u8, f32)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let mut q = 1.0_f32;
        for param in parts {
            let Some((k, v)) = param.split_once('=') else { continue };
            if k.trim().eq_ignore_ascii_case("q") {
                q = v.trim().parse::<f32>().ok().filter(|q| q.is_finite()).map_or(0.0, |q| q.clamp(0.0, 1.0));
            }
        }
        let (om_spec, text_spec) = match media.as_str() {
            "application/openmetrics-text" => (Some(3), None),
            "text/plain" => (None, Some(3)),
            "text/*" => (None, Some(2)),
            "*/*" => (None, Some(1)),
            _ => (None, None),
        };
        for (spec, best) in [(om_spec, &mut om), (text_spec, &mut text)] {
            if let Some(spec) = spec
                && best.is_none_or(|(s, bq)| spec > s || (spec == s && q > bq))
            {
                *best = Some((spec, q));
            }
        }
    }
    match om {
        Some((_, q)) if q > 0.0 => text.is_none_or(|(_, tq)| q >= tq),
        _ => false,
    }
}

type Quantile = (&'static str, fn(&Aggregate) -> f64);

const QUANTILES: [Quantile; 4] = [("50", |a| a.p50), ("90", |a| a.p90), ("95", |a| a.p95), ("99", |a| a.p99)];

/// The exposition being written and its format.
struct Out {
    text: String,
    /// OpenMetrics 1.0.0 instead of the text format 0.0.4.
    open_metrics: bool,
}

/// Renders counts since start, a window snapshot and cache statistics (when
/// available) in the Prometheus text format 0.0.4.
pub fn render(s: &Snapshot, t: &TotalsSnapshot, cache: Option<&CacheStats>, options: &RenderOptions) -> String {
    render_as(s, t, cache, options, false)
}

/// Renders the same families as [`render`] in OpenMetrics 1.0.0: counters
/// are declared under their name without `_total` (their samples keep it),
/// request-duration buckets carry their exemplar when one is kept (the
/// trace id, duration and time of a recent traced request in the bucket),
/// and the text ends with `# EOF`.
pub fn render_openmetrics(
    s: &Snapshot,
    t: &TotalsSnapshot,
    cache: Option<&CacheStats>,
    options: &RenderOptions,
) -> String {
    let mut text = render_as(s, t, cache, options, true);
    text.push_str("# EOF\n");
    text
}

fn render_as(
    s: &Snapshot,
    t: &TotalsSnapshot,
    cache: Option<&CacheStats>,
    options: &RenderOptions,
    open_metrics: bool,
) -> String {
    let mut out =
        Out { text: String::with_capacity(4096 + 1024 * (s.endpoints.len() + s.query_stats.len())), open_metrics };
    let o = &mut out;
    let bounds: Vec<String> = t.bucket_bounds.iter().map(f64::to_string).collect();

    family(o, "perfkit_window_seconds", "gauge", "Length of the sliding window the window gauges cover.");
    sample(o, "perfkit_window_seconds", &[], s.window.as_duration().as_secs_f64());
    requests(o, t, &bounds, &options.naming);
    endpoint_families(o, s, t);
    queries(o, s, t, &bounds);
    n_plus_one_families(o, t);
    if options.cache_configured {
        cache_families(o, s, t, cache);
    }
    system_families(o, s);
    store_families(o, s);
    out.text
}

/// Per-endpoint slow-request counters and the window's latency percentiles
/// and queries per request.
fn endpoint_families(o: &mut Out, s: &Snapshot, t: &TotalsSnapshot) {
    family(o, "perfkit_http_slow_requests_total", "counter", "Requests over the slow threshold since start.");
    for e in &t.endpoints {
        let labels = [("method", e.method.as_str()), ("route", e.route.as_str())];
        sample(o, "perfkit_http_slow_requests_total", &labels, e.totals.slow as f64);
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
}

/// N+1 findings per route since start.
fn n_plus_one_families(o: &mut Out, t: &TotalsSnapshot) {
    family(
        o,
        "perfkit_db_n_plus_one_total",
        "counter",
        "N+1 findings per route since start (one per request and repeated query shape).",
    );
    for n in &t.n_plus_one {
        sample(o, "perfkit_db_n_plus_one_total", &[("route", n.scope.as_str())], n.findings as f64);
    }
}

/// Process and machine gauges from the latest system reading; none before
/// the sampler's first reading (or without a sampler).
fn system_families(o: &mut Out, s: &Snapshot) {
    let Some(current) = s.system.current else { return };
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
    for (name, help, value) in gauges {
        family(o, name, "gauge", help);
        sample(o, name, &[], value);
    }
}

/// The store's key counts and overflowed samples.
fn store_families(o: &mut Out, s: &Snapshot) {
    family(o, "perfkit_store_keys", "gauge", "Distinct keys held by the metrics store.");
    sample(o, "perfkit_store_keys", &[("kind", "endpoint")], s.keys.endpoints as f64);
    sample(o, "perfkit_store_keys", &[("kind", "query")], s.keys.queries as f64);
    family(o, "perfkit_store_overflowed_samples_total", "counter", "Samples sent to an overflow key since start.");
    sample(o, "perfkit_store_overflowed_samples_total", &[("kind", "endpoint")], s.keys.overflowed_requests as f64);
    sample(o, "perfkit_store_overflowed_samples_total", &[("kind", "query")], s.keys.overflowed_queries as f64);
}

/// The request counter and duration histogram per endpoint and status, in
/// perfkit's names or actix-web-prom's.
fn requests(o: &mut Out, t: &TotalsSnapshot, bounds: &[String], naming: &MetricsNaming) {
    let (total, duration, total_help, duration_help) = match naming {
        MetricsNaming::Perfkit => (
            "perfkit_http_requests_total".to_owned(),
            "perfkit_http_request_duration_seconds".to_owned(),
            "Requests per endpoint and status since start.",
            "Request latency per endpoint and status since start (response head).",
        ),
        MetricsNaming::ActixWebProm { namespace } => {
            let prefix = match namespace.as_deref() {
                Some(ns) if !ns.is_empty() => format!("{ns}_"),
                _ => String::new(),
            };
            (
                format!("{prefix}http_requests_total"),
                format!("{prefix}http_requests_duration_seconds"),
                "Total number of HTTP requests",
                "HTTP request duration in seconds for all requests",
            )
        }
    };
    let compat = matches!(naming, MetricsNaming::ActixWebProm { .. });
    family(o, &total, "counter", total_help);
    for e in &t.endpoints {
        for st in &e.statuses {
            sample(o, &total, &request_labels(compat, &e.route, e.method.as_str(), &st.status), st.count as f64);
        }
    }
    family(o, &duration, "histogram", duration_help);
    for e in &t.endpoints {
        for st in &e.statuses {
            let l = request_labels(compat, &e.route, e.method.as_str(), &st.status);
            let c = Counts { buckets: &st.buckets, count: st.count, sum: st.sum, exemplars: &st.exemplars };
            histogram(o, &duration, &l, bounds, &c);
        }
    }
}

/// An endpoint's labels in name order, as the prometheus crate writes them:
/// actix-web-prom calls the route pattern `endpoint`.
fn request_labels<'a>(compat: bool, route: &'a str, method: &'a str, status: &'a str) -> [(&'static str, &'a str); 3] {
    if compat {
        [("endpoint", route), ("method", method), ("status", status)]
    } else {
        [("method", method), ("route", route), ("status", status)]
    }
}

/// Query counters, histograms and window gauges by `query_id`, and the
/// info series mapping each id to its fingerprint.
fn queries(o: &mut Out, s: &Snapshot, t: &TotalsSnapshot, bounds: &[String]) {
    // `scope` keeps a fingerprint's runs inside requests apart from its
    // runs outside any request (start-up, background jobs).
    let scope = |q: &perf_core::QueryTotals| if q.background { "background" } else { "request" };
    let ids: Vec<String> = t.queries.iter().map(|q| query_id(&q.fingerprint)).collect();
    family(o, "perfkit_db_query_info", "gauge", "Always 1: the SQL fingerprint of each query_id.");
    let mut seen: Vec<&str> = Vec::with_capacity(ids.len());
    for (q, id) in t.queries.iter().zip(&ids) {
        // A fingerprint run in both scopes has one info series.
        if seen.contains(&id.as_str()) {
            continue;
        }
        seen.push(id);
        let text = truncate(&q.fingerprint, MAX_FINGERPRINT_LABEL_BYTES);
        sample(o, "perfkit_db_query_info", &[("query_id", id), ("fingerprint", text)], 1.0);
    }
    family(o, "perfkit_db_queries_total", "counter", "Queries per query_id, scope and outcome since start.");
    for (q, id) in t.queries.iter().zip(&ids) {
        let ok = q.totals.count - q.totals.errors;
        for (outcome, n) in [("success", ok), ("error", q.totals.errors)] {
            let labels = [("query_id", id.as_str()), ("scope", scope(q)), ("outcome", outcome)];
            sample(o, "perfkit_db_queries_total", &labels, n as f64);
        }
    }
    family(o, "perfkit_db_slow_queries_total", "counter", "Queries over the slow threshold since start.");
    for (q, id) in t.queries.iter().zip(&ids) {
        let labels = [("query_id", id.as_str()), ("scope", scope(q))];
        sample(o, "perfkit_db_slow_queries_total", &labels, q.totals.slow as f64);
    }
    family(o, "perfkit_db_query_duration_seconds", "histogram", "Query latency per query_id and scope since start.");
    for (q, id) in t.queries.iter().zip(&ids) {
        let labels = [("query_id", id.as_str()), ("scope", scope(q))];
        let tt = &q.totals;
        let c = Counts { buckets: &tt.buckets, count: tt.count, sum: tt.sum, exemplars: &[] };
        histogram(o, "perfkit_db_query_duration_seconds", &labels, bounds, &c);
    }
    family(
        o,
        "perfkit_db_query_duration_window_seconds",
        "gauge",
        "Query latency percentiles per query_id over the window.",
    );
    for q in &s.query_stats {
        let id = query_id(&q.fingerprint);
        quantiles(o, "perfkit_db_query_duration_window_seconds", &[("query_id", id.as_str())], &q.stats);
    }
}

/// Cache counters since start and gauges; the remote tier only when there is
/// one. Its families and label keep the names of the Redis tier, the remote
/// tier perfkit ships (`tier="redis"`, `perfkit_cache_redis_up`).
fn cache_families(o: &mut Out, s: &Snapshot, t: &TotalsSnapshot, cache: Option<&CacheStats>) {
    let remote = cache.is_some_and(|c| c.remote.is_some()) || t.cache.remote != TierCounts::default();
    family(o, "perfkit_cache_operations_total", "counter", "Cache operations per tier and op since start.");
    tier_ops(o, "memory", &t.cache.memory);
    if remote {
        tier_ops(o, "redis", &t.cache.remote);
    }
    family(o, "perfkit_cache_hit_ratio", "gauge", "Cache hits over lookups in the window (0 without lookups).");
    sample(o, "perfkit_cache_hit_ratio", &[], s.cache.hit_rate());
    if let Some(c) = cache {
        family(o, "perfkit_cache_entries", "gauge", "Entries held by the memory tier.");
        sample(o, "perfkit_cache_entries", &[("tier", "memory")], c.memory.entries.unwrap_or(0) as f64);
        family(o, "perfkit_cache_size_bytes", "gauge", "Bytes held by the memory tier.");
        sample(o, "perfkit_cache_size_bytes", &[("tier", "memory")], c.memory.bytes.unwrap_or(0) as f64);
        if let Some(r) = &c.remote {
            family(o, "perfkit_cache_redis_up", "gauge", "Whether Redis answered the last operation (1) or not (0).");
            sample(o, "perfkit_cache_redis_up", &[], if r.reachable { 1.0 } else { 0.0 });
        }
    }
}

/// `s` cut to at most `max` bytes at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A family's `HELP` and `TYPE` lines. In OpenMetrics a counter family is
/// named without the `_total` its samples carry.
fn family(o: &mut Out, name: &str, kind: &str, help: &str) {
    let name = match (o.open_metrics, kind) {
        (true, "counter") => name.strip_suffix("_total").unwrap_or(name),
        _ => name,
    };
    let _ = writeln!(o.text, "# HELP {name} {help}");
    let _ = writeln!(o.text, "# TYPE {name} {kind}");
}

/// Window percentiles as a gauge with a `percentile` label (`50`, `90`, `95`,
/// `99`; promtool reserves `quantile` for summaries). None without events.
fn quantiles(o: &mut Out, name: &str, labels: &[(&str, &str)], a: &Aggregate) {
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

/// The counts of one histogram since start, with the exemplar of each
/// bucket and `+Inf` (empty when none are kept).
struct Counts<'a> {
    buckets: &'a [u64],
    count: u64,
    sum: f64,
    exemplars: &'a [Option<Exemplar>],
}

/// A histogram from counts since start: cumulative `le` buckets, `+Inf`,
/// `_sum`, `_count`; in OpenMetrics a bucket's exemplar follows its value.
fn histogram(o: &mut Out, name: &str, labels: &[(&str, &str)], bounds: &[String], c: &Counts<'_>) {
    let Counts { buckets, count, sum, exemplars } = *c;
    let bucket = format!("{name}_bucket");
    let mut with_le: Vec<(&str, &str)> = labels.to_vec();
    with_le.push(("le", ""));
    // One exemplar per bucket, then the `+Inf` one; none in the text format.
    let open_metrics = o.open_metrics;
    let exemplar = |i: usize| if open_metrics { exemplars.get(i).copied().flatten() } else { None };
    for (i, (le, n)) in bounds.iter().zip(buckets).enumerate() {
        if let Some(last) = with_le.last_mut() {
            last.1 = le;
        }
        sample_with(o, &bucket, &with_le, *n as f64, exemplar(i).as_ref());
    }
    if let Some(last) = with_le.last_mut() {
        last.1 = "+Inf";
    }
    let e = exemplar(buckets.len());
    sample_with(o, &bucket, &with_le, count as f64, e.as_ref());
    sample(o, &format!("{name}_sum"), labels, sum);
    sample(o, &format!("{name}_count"), labels, count as f64);
}

fn tier_ops(o: &mut Out, tier: &str, c: &TierCounts) {
    for (op, n) in [("hit", c.hits), ("miss", c.misses), ("set", c.sets), ("delete", c.deletes), ("error", c.errors)] {
        sample(o, "perfkit_cache_operations_total", &[("tier", tier), ("op", op)], n as f64);
    }
}

fn sample(o: &mut Out, name: &str, labels: &[(&str, &str)], value: f64) {
    sample_with(o, name, labels, value, None);
}

/// A sample line, in OpenMetrics followed by an exemplar when given.
fn sample_with(o: &mut Out, name: &str, labels: &[(&str, &str)], value: f64, exemplar: Option<&Exemplar>) {
    let o = &mut o.text;
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
    if let Some(e) = exemplar {
        let _ = write!(o, " # {{trace_id=\"{}\"}} ", e.trace_id);
        write_value(o, e.value);
        o.push(' ');
        write_value(o, e.at.as_unix_secs_f64());
    }
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
