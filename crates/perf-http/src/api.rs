//! [`PerfApi`]: the JSON API under `/api/performance`, mounted by one
//! `service()` call. The spec's endpoints (metrics, analytics, summary,
//! alerts, thresholds, cache) keep the spec's field names; endpoints,
//! queries, timeseries, trends, report and openapi.json go beyond it.
//!
//! This file holds the routes and the handlers; `api/params.rs` reads the
//! inputs (query string, window, JSON bodies, cache patterns) and
//! `api/body.rs` holds the bodies and builds the documents.

mod body;
mod params;

use actix_web::{
    HttpRequest, HttpResponse, ResponseError as _,
    dev::{AppService, HttpServiceFactory},
    http::header,
    web,
};
use perf_core::{AlertFilter, Method, SeriesKey, SeriesResolution, ThresholdsPatch, Window};
use serde::{Deserialize as _, Serialize};

pub(crate) use self::params::{query_params, validate_pattern, window_param};
use self::{
    body::{
        AlertsBody, CacheStatsBody, ClearRequest, ClearedBody, MetricsBody, ResolvedBody, SeriesQuery, endpoints_body,
        queries_body, timeseries_body,
    },
    params::{is_long, parse_method, read_json, window_param_or},
};
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

#[cfg(test)]
mod tests;
