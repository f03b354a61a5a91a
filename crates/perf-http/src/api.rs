//! [`PerfApi`]: the JSON API under `/api/performance`, mounted by one
//! `service()` call. The spec's endpoints (metrics, analytics, summary,
//! alerts, thresholds, cache) keep the spec's field names; endpoints,
//! queries, timeseries, trends, report and openapi.json go beyond it.

use std::collections::HashMap;

use actix_web::{
    HttpRequest, HttpResponse, ResponseError as _,
    dev::{AppService, HttpServiceFactory},
    http::header,
    web,
};
use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use perf_core::{
    AlertFilter, GaugePoint, KeyPattern, Method, NPlusOneFinding, SeriesKey, SeriesPoint, SeriesResolution, SlowQuery,
    Snapshot, ThresholdsPatch, Window,
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{
    HttpError, PerfState,
    auth::{Admin, Read},
    methods::{self, clip},
};

/// Where [`PerfApi`] mounts by default.
pub const API_PREFIX: &str = "/api/performance";
/// The largest request body the API reads, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// The longest cache pattern accepted by `POST cache/clear`, in bytes (the
/// one grammar of [`perf_core::KeyPattern`]).
pub use perf_core::MAX_PATTERN_BYTES;
/// The most `*` wildcards (outside classes and escapes) a cache pattern may hold.
pub use perf_core::MAX_PATTERN_STARS;

const OPENAPI: &str = include_str!("openapi.json");

/// The performance API as an actix service factory: `App::new().service(perf.api())`.
///
/// Every endpoint answers JSON; errors are `{"error": {"code", "message"}}`
/// (see [`HttpError`]). When `PERFORMANCE_API_TOKEN` is configured, every
/// endpoint needs `Authorization: Bearer <token>`; without it, the mutating
/// endpoints answer 403.
#[derive(Debug, Clone)]
pub struct PerfApi {
    state: PerfState,
    prefix: String,
}

impl PerfApi {
    /// The API over `state`, mounted at [`API_PREFIX`].
    pub fn new(state: PerfState) -> Self {
        PerfApi { state, prefix: API_PREFIX.to_owned() }
    }

    /// Mounts the API at `prefix` instead (the monitor's exclusions are not
    /// changed: exclude the new prefix there too).
    pub fn at(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

impl HttpServiceFactory for PerfApi {
    fn register(self, config: &mut AppService) {
        let scope = web::scope(&self.prefix)
            .app_data(web::Data::new(self.state))
            .service(methods::get("/metrics", metrics))
            .service(methods::get("/analytics", analytics))
            .service(methods::get("/summary", summary))
            .service(methods::get("/alerts", alerts))
            .service(methods::post("/alerts/{id}/resolve", resolve_alert))
            .service(
                methods::with_get(web::resource("/thresholds"), get_thresholds)
                    .route(web::put().to(put_thresholds))
                    .default_service(methods::not_allowed("GET, HEAD, PUT")),
            )
            .service(methods::get("/cache/stats", cache_stats))
            .service(methods::post("/cache/clear", cache_clear))
            .service(methods::get("/endpoints", endpoints))
            .service(methods::get("/queries", queries))
            .service(methods::get("/timeseries", timeseries))
            .service(methods::get("/trends", trends))
            .service(methods::get("/report", report))
            .service(methods::get("/openapi.json", openapi))
            .default_service(web::to(not_found));
        scope.register(config);
    }
}

type Result<T, E = HttpError> = std::result::Result<T, E>;
type Data = web::Data<PerfState>;

// ---- response shapes ----------------------------------------------------

/// `GET metrics`: the spec's three groups plus cache, CPU and key usage.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct MetricsBody {
    timestamp: DateTime<Utc>,
    period_minutes: u32,
    requests: RequestMetrics,
    database: DatabaseMetrics,
    memory: MemoryMetrics,
    cpu: CpuMetrics,
    cache: CacheMetrics,
}

#[derive(Debug, Serialize, Deserialize)]
struct RequestMetrics {
    total_requests: u64,
    avg_response_time: f64,
    max_response_time: f64,
    min_response_time: f64,
    error_rate: f64,
    client_error_rate: f64,
    error_count: u64,
    client_error_count: u64,
    slow_request_count: u64,
    p50_response_time: f64,
    p95_response_time: f64,
    p99_response_time: f64,
}

#[derive(Debug, Serialize, Deserialize)]
struct DatabaseMetrics {
    total_queries: u64,
    avg_query_time: f64,
    max_query_time: f64,
    slow_query_count: u64,
    failed_query_count: u64,
    p95_query_time: f64,
    total_query_time: f64,
}

/// Process memory; every value is `null` when no system reading was taken
/// in the window (`sampled: false`: no sampler runs, or it has not read yet).
#[derive(Debug, Serialize, Deserialize)]
struct MemoryMetrics {
    sampled: bool,
    current_memory_mb: Option<f64>,
    avg_memory_mb: Option<f64>,
    max_memory_mb: Option<f64>,
    samples: u64,
}

/// Process CPU; `null` values as for [`MemoryMetrics`].
#[derive(Debug, Serialize, Deserialize)]
struct CpuMetrics {
    sampled: bool,
    current_percent: Option<f64>,
    avg_percent: Option<f64>,
    max_percent: Option<f64>,
}

/// Cache operations recorded in the window; `configured` says whether the
/// state has a cache at all (without one, every count is 0 for that reason).
#[derive(Debug, Serialize, Deserialize)]
struct CacheMetrics {
    configured: bool,
    hits: u64,
    misses: u64,
    hit_rate: f64,
    total_operations: u64,
}

impl MetricsBody {
    pub(crate) fn from_snapshot(s: &Snapshot, cache_configured: bool) -> Self {
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
struct AlertsBody {
    alerts: Vec<perf_core::Alert>,
    count: usize,
}

#[derive(Debug, Serialize)]
struct ResolvedBody {
    resolved: bool,
    alert: perf_core::Alert,
}

/// `GET cache/stats`: the cache's own statistics (since it started), and
/// whether a cache is configured at all (`false`: the state has no cache
/// admin and the counts are those of an empty no-op cache).
#[derive(Debug, Serialize)]
struct CacheStatsBody {
    configured: bool,
    #[serde(flatten)]
    stats: perf_core::CacheStats,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClearRequest {
    #[serde(default)]
    pattern: Option<String>,
}

#[derive(Debug, Serialize)]
struct ClearedBody {
    cleared: u64,
    pattern: Option<String>,
}

#[derive(Debug, Serialize)]
struct EndpointRow {
    method: Method,
    route: String,
    count: u64,
    avg: f64,
    p50: f64,
    p95: f64,
    p99: f64,
    max: f64,
    error_rate: f64,
    client_error_rate: f64,
    error_count: u64,
    client_error_count: u64,
    slow_count: u64,
    queries_per_request: f64,
    query_time_per_request: f64,
}

#[derive(Debug, Serialize)]
struct EndpointsBody {
    timestamp: DateTime<Utc>,
    period_minutes: u32,
    endpoints: Vec<EndpointRow>,
}

#[derive(Debug, Serialize)]
struct QueryRow {
    query_id: String,
    fingerprint: String,
    example_sql: String,
    kind: perf_core::QueryKind,
    count: u64,
    total_time: f64,
    avg: f64,
    p95: f64,
    max: f64,
    error_count: u64,
    slow_count: u64,
}

#[derive(Debug, Serialize)]
struct QueriesBody {
    timestamp: DateTime<Utc>,
    period_minutes: u32,
    top_queries: Vec<QueryRow>,
    /// Queries run outside any request (start-up, migrations, background
    /// jobs): shown apart, never part of the request figures.
    background_queries: Vec<QueryRow>,
    slow_queries: Vec<SlowQuery>,
    n_plus_one: Vec<NPlusOneFinding>,
    /// Whether SQL text keeps bind values (`PERFORMANCE_CAPTURE_BINDS`).
    binds_captured: bool,
}

#[derive(Debug, Serialize)]
struct TimeseriesBody {
    timestamp: DateTime<Utc>,
    period_minutes: u32,
    metric: &'static str,
    method: Option<Method>,
    route: Option<String>,
    fingerprint: Option<String>,
    points: Points,
}

/// The points of a series: request or query buckets, or system readings.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Points {
    Series(Vec<SeriesPoint>),
    Gauges(Vec<GaugePoint>),
}

/// What `GET timeseries` reads, once its parameters are checked.
#[derive(Debug)]
enum SeriesQuery {
    Requests { key: SeriesKey, method: Option<Method>, route: Option<String> },
    Queries { key: SeriesKey, fingerprint: Option<String> },
    System,
}

// ---- handlers -----------------------------------------------------------

async fn metrics(_: Read, req: HttpRequest, state: Data) -> Result<HttpResponse> {
    let window = window_param(&query_params(&req)?)?;
    let st = state.get_ref().clone();
    serve(&state, is_long(window), format!("metrics {}", window.as_minutes()), move || {
        MetricsBody::from_snapshot(&st.source().snapshot(window), st.cache_configured())
    })
    .await
}

async fn analytics(_: Read, req: HttpRequest, state: Data) -> Result<HttpResponse> {
    let window = window_param(&query_params(&req)?)?;
    let analytics = state.analytics().ok_or(HttpError::AnalyticsUnavailable)?.clone();
    // The health score, alerts and recommendations: heavy at every window.
    serve(&state, true, format!("analytics {}", window.as_minutes()), move || analytics.analytics(window)).await
}

async fn summary(_: Read, req: HttpRequest, state: Data) -> Result<HttpResponse> {
    let window = window_param(&query_params(&req)?)?;
    let analytics = state.analytics().ok_or(HttpError::AnalyticsUnavailable)?.clone();
    serve(&state, is_long(window), format!("summary {}", window.as_minutes()), move || analytics.summary(window)).await
}

async fn alerts(_: Read, req: HttpRequest, state: Data) -> Result<HttpResponse> {
    let params = query_params(&req)?;
    let filter = match params.get("resolved").map(String::as_str) {
        None => AlertFilter::All,
        Some("true") => AlertFilter::Resolved,
        Some("false") => AlertFilter::Open,
        Some(other) => {
            return Err(HttpError::InvalidQuery {
                name: "resolved".into(),
                reason: format!("expected true or false, got {:?}", clip(other)),
            });
        }
    };
    let analytics = state.analytics().ok_or(HttpError::AnalyticsUnavailable)?;
    let alerts = analytics.alerts(filter);
    Ok(json(&AlertsBody { count: alerts.len(), alerts }))
}

async fn resolve_alert(_: Admin, req: HttpRequest, state: Data) -> Result<HttpResponse> {
    let raw = req.match_info().get("id").unwrap_or("");
    let id: u64 = raw.parse().map_err(|_| HttpError::InvalidAlertId(clip(raw).to_owned()))?;
    let analytics = state.analytics().ok_or(HttpError::AnalyticsUnavailable)?;
    let alert = analytics.resolve_alert(id)?;
    state.heavy().invalidate();
    Ok(json(&ResolvedBody { resolved: true, alert }))
}

async fn get_thresholds(_: Read, state: Data) -> Result<HttpResponse> {
    Ok(json(&state.thresholds().thresholds()))
}

async fn put_thresholds(_: Admin, req: HttpRequest, payload: web::Payload, state: Data) -> Result<HttpResponse> {
    let body: serde_json::Map<String, serde_json::Value> = read_json(&req, payload)
        .await?
        .ok_or_else(|| HttpError::InvalidBody("expected a JSON object with at least one threshold".into()))?;
    // A threshold given as null would read as absent; the document says number.
    if let Some((name, _)) = body.iter().find(|(_, v)| v.is_null()) {
        return Err(HttpError::InvalidBody(format!("{:?} must be a number, not null", clip(name))));
    }
    let patch = ThresholdsPatch::deserialize(serde_json::Value::Object(body))
        .map_err(|e| HttpError::InvalidBody(e.to_string()))?;
    if patch == ThresholdsPatch::default() {
        return Err(HttpError::InvalidBody(
            "expected at least one of slow_request_threshold, slow_query_threshold, high_memory_threshold, \
             error_rate_threshold"
                .into(),
        ));
    }
    let updated = state.thresholds().update_thresholds(&patch).map_err(HttpError::InvalidThreshold)?;
    state.heavy().invalidate();
    tracing::info!(?updated, "performance thresholds updated");
    Ok(json(&updated))
}

async fn cache_stats(_: Read, state: Data) -> Result<HttpResponse> {
    let stats = state.cache().stats().await?;
    Ok(json(&CacheStatsBody { configured: state.cache_configured(), stats }))
}

async fn cache_clear(_: Admin, req: HttpRequest, payload: web::Payload, state: Data) -> Result<HttpResponse> {
    let body: Option<ClearRequest> = read_json(&req, payload).await?;
    let pattern = body.and_then(|b| b.pattern);
    let parsed = pattern.as_deref().map(validate_pattern).transpose()?;
    let cleared = state.cache().clear(parsed.as_ref()).await?;
    tracing::info!(pattern = pattern.as_deref().unwrap_or("*"), cleared, "cache cleared through the API");
    Ok(json(&ClearedBody { cleared, pattern }))
}

async fn endpoints(_: Read, req: HttpRequest, state: Data) -> Result<HttpResponse> {
    let window = window_param(&query_params(&req)?)?;
    let st = state.get_ref().clone();
    serve(&state, is_long(window), format!("endpoints {}", window.as_minutes()), move || endpoints_body(&st, window))
        .await
}

fn endpoints_body(state: &PerfState, window: Window) -> EndpointsBody {
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
    EndpointsBody { timestamp: snap.timestamp, period_minutes: window.as_minutes(), endpoints }
}

async fn queries(_: Read, req: HttpRequest, state: Data) -> Result<HttpResponse> {
    let params = query_params(&req)?;
    let window = window_param(&params)?;
    let limit = match params.get("limit") {
        None => 20,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=1_000).contains(&n) => n,
            _ => {
                return Err(HttpError::InvalidQuery {
                    name: "limit".into(),
                    reason: format!("expected a whole number between 1 and 1000, got {:?}", clip(raw)),
                });
            }
        },
    };
    let st = state.get_ref().clone();
    let key = format!("queries {} {limit}", window.as_minutes());
    serve(&state, is_long(window), key, move || queries_body(&st, window, limit)).await
}

fn queries_body(state: &PerfState, window: Window, limit: usize) -> QueriesBody {
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

async fn timeseries(_: Read, req: HttpRequest, state: Data) -> Result<HttpResponse> {
    let params = query_params(&req)?;
    let window = window_param(&params)?;
    let route = params.get("route").cloned();
    let fingerprint = params.get("fingerprint").cloned();
    let metric = params.get("metric").map_or("requests", String::as_str);
    let resolution = match params.get("resolution").map(String::as_str) {
        None | Some("auto") => SeriesResolution::Auto,
        Some("rollup") => SeriesResolution::Rollup,
        Some(other) => {
            return Err(HttpError::InvalidQuery {
                name: "resolution".into(),
                reason: format!("expected auto or rollup, got {:?}", clip(other)),
            });
        }
    };
    // Checked whatever the metric, as the document states it for every request.
    let method = params.get("method").map(|m| parse_method(m)).transpose()?;
    let query = match metric {
        "requests" => {
            let method = method.or_else(|| route.as_ref().map(|_| Method::Get));
            let key = match (&route, method) {
                (Some(r), Some(m)) => SeriesKey::Endpoint { method: m, route: r.clone() },
                _ => SeriesKey::Requests,
            };
            SeriesQuery::Requests { key, method: route.as_ref().and(method), route }
        }
        "queries" => {
            let key = match &fingerprint {
                Some(f) => SeriesKey::Query { fingerprint: f.clone() },
                None => SeriesKey::Queries,
            };
            SeriesQuery::Queries { key, fingerprint }
        }
        "system" => SeriesQuery::System,
        other => {
            return Err(HttpError::InvalidQuery {
                name: "metric".into(),
                reason: format!("expected requests, queries or system, got {:?}", clip(other)),
            });
        }
    };
    let key = format!("timeseries {} {resolution:?} {query:?}", window.as_minutes());
    let st = state.get_ref().clone();
    serve(&state, is_long(window), key, move || timeseries_body(&st, window, resolution, query)).await
}

fn timeseries_body(
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

async fn trends(_: Read, req: HttpRequest, state: Data) -> Result<HttpResponse> {
    let window = window_param_or(&query_params(&req)?, Window::ONE_HOUR)?;
    let analytics = state.analytics().ok_or(HttpError::AnalyticsUnavailable)?.clone();
    serve(&state, is_long(window), format!("trends {}", window.as_minutes()), move || analytics.trends(window)).await
}

async fn report(_: Read, req: HttpRequest, state: Data) -> Result<HttpResponse> {
    let window = window_param_or(&query_params(&req)?, Window::ONE_HOUR)?;
    let analytics = state.analytics().ok_or(HttpError::AnalyticsUnavailable)?.clone();
    // Every part of the analytics over the window: heavy at every window.
    serve(&state, true, format!("report {}", window.as_minutes()), move || analytics.report(window)).await
}

async fn openapi(_: Read) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().content_type("application/json").body(OPENAPI))
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    HttpError::NotFound(clip(req.path()).to_owned()).error_response()
}

// ---- helpers ------------------------------------------------------------

/// Windows longer than this many minutes make metrics, endpoints, queries,
/// summary, trends and timeseries heavy work.
const LONG_WINDOW_MINUTES: u32 = 60;

/// Whether a document over `window` is computed as heavy work.
fn is_long(window: Window) -> bool {
    window.as_minutes() > LONG_WINDOW_MINUTES
}

/// Answers `compute()` as JSON: on this worker when `heavy` is false,
/// otherwise through the state's heavy runner under `key` (off the worker
/// threads, shared with identical requests, briefly reused, bounded).
async fn serve<T, F>(state: &PerfState, heavy: bool, key: String, compute: F) -> Result<HttpResponse>
where
    T: Serialize,
    F: FnOnce() -> T + Send + 'static,
{
    if !heavy {
        return Ok(json(&compute()));
    }
    let body = state.heavy().run(key, compute).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type(header::ContentType::json())
        .body(body))
}

fn json<T: Serialize>(value: &T) -> HttpResponse {
    HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(value)
}

pub(crate) fn query_params(req: &HttpRequest) -> Result<HashMap<String, String>> {
    web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| HttpError::InvalidQuery { name: "query string".into(), reason: e.to_string() })
}

pub(crate) fn window_param(params: &HashMap<String, String>) -> Result<Window> {
    window_param_or(params, Window::DEFAULT)
}

fn window_param_or(params: &HashMap<String, String>, default: Window) -> Result<Window> {
    let Some(raw) = params.get("minutes") else { return Ok(default) };
    raw.parse::<Window>().map_err(|_| HttpError::InvalidWindow(clip(raw).into()))
}

fn parse_method(raw: &str) -> Result<Method> {
    match Method::parse(&raw.to_ascii_uppercase()) {
        Method::Other if raw != "*" => Err(HttpError::InvalidQuery {
            name: "method".into(),
            reason: format!("expected an HTTP method such as GET, got {:?}", clip(raw)),
        }),
        m => Ok(m),
    }
}

/// Reads at most [`MAX_BODY_BYTES`] and parses it as `T`; `None` for an
/// empty (or all-whitespace) body.
async fn read_json<T: DeserializeOwned>(req: &HttpRequest, mut payload: web::Payload) -> Result<Option<T>> {
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(HttpError::PayloadTooLarge { limit: MAX_BODY_BYTES });
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| HttpError::Payload(e.to_string()))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(HttpError::PayloadTooLarge { limit: MAX_BODY_BYTES });
        }
        body.extend_from_slice(&chunk);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Io => HttpError::Payload(e.to_string()),
            Category::Syntax | Category::Eof | Category::Data => HttpError::MalformedJson(e.to_string()),
        }
    })?;
    // Only objects: serde would otherwise accept a struct written as an array.
    if !value.is_object() {
        return Err(HttpError::InvalidBody("expected a JSON object".into()));
    }
    T::deserialize(value).map(Some).map_err(|e| HttpError::InvalidBody(e.to_string()))
}

/// Parses a cache pattern where it enters, with [`KeyPattern`]'s grammar:
/// the rules `openapi.json` states as a regular expression (1 to
/// [`MAX_PATTERN_BYTES`] printable ASCII characters other than space; `\`
/// escapes the next one; `[...]` classes are non-empty, not nested and
/// closed; no `]` outside a class; at most [`MAX_PATTERN_STARS`] `*` outside
/// classes and escapes), which every cache tier then matches by.
pub(crate) fn validate_pattern(pattern: &str) -> Result<KeyPattern> {
    KeyPattern::parse(pattern)
        .map_err(|e| HttpError::InvalidPattern { pattern: e.pattern().to_owned(), reason: e.reason().to_owned() })
}

#[cfg(test)]
mod tests;
