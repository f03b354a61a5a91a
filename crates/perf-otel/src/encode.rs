//! perf-core's totals since start as one OTLP `ExportMetricsServiceRequest`:
//! cumulative explicit-bucket histograms under the stable semantic
//! conventions, and cumulative sums for cache operations.

use opentelemetry_proto::tonic::{
    collector::metrics::v1::ExportMetricsServiceRequest,
    common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value},
    metrics::v1::{
        AggregationTemporality, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
        Sum, metric, number_data_point,
    },
    resource::v1::Resource,
};
use perf_core::{Method, OVERFLOW_ROUTE, TierCounts, TotalsSnapshot, UNMATCHED_ROUTE, query_id};

use crate::OtelConfig;

/// `http.server.request.duration`: a histogram in seconds per route, method and status.
pub const HTTP_SERVER_REQUEST_DURATION: &str = "http.server.request.duration";
/// `db.client.operation.duration`: a histogram in seconds per query fingerprint.
pub const DB_CLIENT_OPERATION_DURATION: &str = "db.client.operation.duration";
/// `perfkit.cache.operations`: a monotonic sum per cache tier and operation.
pub const CACHE_OPERATIONS: &str = "perfkit.cache.operations";
/// The instrumentation scope's name (its version is perf-otel's).
pub const SCOPE_NAME: &str = "perfkit";

/// The fixed parts of every request: resource, scope and the cumulative start time.
#[derive(Debug, Clone)]
pub(crate) struct Encoder {
    resource: Resource,
    db_system_name: Option<String>,
    start_unix_nanos: u64,
}

impl Encoder {
    /// An encoder for `config`'s resource whose cumulative series start at `start_unix_nanos`.
    pub(crate) fn new(config: &OtelConfig, start_unix_nanos: u64) -> Encoder {
        let mut attributes: Vec<KeyValue> = config
            .resource
            .iter()
            .filter(|(k, _)| !k.starts_with("telemetry.sdk."))
            .map(|(k, v)| string(k, v))
            .collect();
        // The SDK attributes name what produced the data: perfkit, not an OpenTelemetry SDK.
        attributes.push(string("telemetry.sdk.name", "perfkit"));
        attributes.push(string("telemetry.sdk.language", "rust"));
        attributes.push(string("telemetry.sdk.version", env!("CARGO_PKG_VERSION")));
        Encoder {
            resource: Resource { attributes, ..Resource::default() },
            db_system_name: config.db_system_name.clone(),
            start_unix_nanos,
        }
    }

    /// The resource every export names.
    pub(crate) fn resource(&self) -> &Resource {
        &self.resource
    }

    /// The request exporting `totals` as read at `now_unix_nanos`.
    pub(crate) fn request(&self, totals: &TotalsSnapshot, now_unix_nanos: u64) -> ExportMetricsServiceRequest {
        let times = Times { start: self.start_unix_nanos, now: now_unix_nanos.max(self.start_unix_nanos) };
        let mut metrics = Vec::with_capacity(3);
        let requests = http_points(totals, times);
        if !requests.is_empty() {
            metrics.push(histogram(HTTP_SERVER_REQUEST_DURATION, "Duration of HTTP server requests.", requests));
        }
        let queries = db_points(totals, self.db_system_name.as_deref(), times);
        if !queries.is_empty() {
            metrics.push(histogram(DB_CLIENT_OPERATION_DURATION, "Duration of database client operations.", queries));
        }
        let cache = cache_points(totals, times);
        if !cache.is_empty() {
            metrics.push(Metric {
                name: CACHE_OPERATIONS.to_owned(),
                description: "Cache operations by tier and outcome.".to_owned(),
                unit: "{operation}".to_owned(),
                data: Some(metric::Data::Sum(Sum {
                    data_points: cache,
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    is_monotonic: true,
                })),
                ..Metric::default()
            });
        }
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(self.resource.clone()),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: SCOPE_NAME.to_owned(),
                        version: env!("CARGO_PKG_VERSION").to_owned(),
                        ..InstrumentationScope::default()
                    }),
                    metrics,
                    ..ScopeMetrics::default()
                }],
                ..ResourceMetrics::default()
            }],
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Times {
    start: u64,
    now: u64,
}

fn histogram(name: &str, description: &str, data_points: Vec<HistogramDataPoint>) -> Metric {
    Metric {
        name: name.to_owned(),
        description: description.to_owned(),
        unit: "s".to_owned(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points,
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        })),
        ..Metric::default()
    }
}

/// One point per endpoint and status slot. A code slot carries
/// `http.response.status_code`; a class slot (`"5xx"`, codes past the
/// endpoint's [`perf_core::STATUS_CODES_PER_ENDPOINT`]) carries no code, which
/// is unknown, but `perfkit.http.response.status_class`. Server errors carry
/// `error.type` (the code, or the class).
fn http_points(totals: &TotalsSnapshot, times: Times) -> Vec<HistogramDataPoint> {
    let mut points = Vec::new();
    for endpoint in &totals.endpoints {
        let mut base = vec![string("http.request.method", method(endpoint.method))];
        if endpoint.route == UNMATCHED_ROUTE || endpoint.route == OVERFLOW_ROUTE {
            // No route template: the semantic conventions leave `http.route` out.
            base.push(string("perfkit.route", &endpoint.route));
        } else {
            base.push(string("http.route", &endpoint.route));
        }
        for status in &endpoint.statuses {
            let mut attributes = base.clone();
            match status.status.parse::<u16>() {
                Ok(code) => {
                    attributes.push(int("http.response.status_code", i64::from(code)));
                    if code >= 500 {
                        attributes.push(string("error.type", &status.status));
                    }
                }
                Err(_) => {
                    attributes.push(string("perfkit.http.response.status_class", &status.status));
                    if status.status.as_bytes().first().is_some_and(|&b| b >= b'5') {
                        attributes.push(string("error.type", &status.status));
                    }
                }
            }
            points.push(point(attributes, status.count, status.sum, &status.buckets, &totals.bucket_bounds, times));
        }
    }
    points
}

/// One point per fingerprint and origin: `db.query.summary` is the
/// fingerprint, `perfkit.query.id` its stable id (the `query_id` label of
/// `/metrics`), `perfkit.query.origin` `request` or `background`.
fn db_points(totals: &TotalsSnapshot, db_system_name: Option<&str>, times: Times) -> Vec<HistogramDataPoint> {
    totals
        .queries
        .iter()
        .map(|q| {
            let mut attributes = vec![
                string("db.query.summary", &q.fingerprint),
                string("perfkit.query.id", &query_id(&q.fingerprint)),
                string("perfkit.query.origin", if q.background { "background" } else { "request" }),
            ];
            if let Some(system) = db_system_name {
                attributes.push(string("db.system.name", system));
            }
            point(attributes, q.totals.count, q.totals.sum, &q.totals.buckets, &totals.bucket_bounds, times)
        })
        .collect()
}

fn cache_points(totals: &TotalsSnapshot, times: Times) -> Vec<NumberDataPoint> {
    let mut points = Vec::new();
    for (tier, counts) in [("memory", &totals.cache.memory), ("redis", &totals.cache.remote)] {
        if *counts == TierCounts::default() {
            continue;
        }
        for (operation, value) in [
            ("hit", counts.hits),
            ("miss", counts.misses),
            ("set", counts.sets),
            ("delete", counts.deletes),
            ("error", counts.errors),
        ] {
            points.push(NumberDataPoint {
                attributes: vec![string("perfkit.cache.tier", tier), string("perfkit.cache.operation", operation)],
                start_time_unix_nano: times.start,
                time_unix_nano: times.now,
                value: Some(number_data_point::Value::AsInt(i64::try_from(value).unwrap_or(i64::MAX))),
                ..NumberDataPoint::default()
            });
        }
    }
    points
}

/// A histogram point from perfkit's cumulative `le` counts. OTLP wants
/// per-bucket counts with one overflow bucket past the last bound, summing
/// to `count`; counts read while requests land may be a step apart, so the
/// differences never go negative and `count` is at least the last `le`.
/// Without one `le` count per bound the point carries count and sum only.
fn point(
    attributes: Vec<KeyValue>,
    count: u64,
    sum: f64,
    cumulative: &[u64],
    bounds: &[f64],
    times: Times,
) -> HistogramDataPoint {
    let (count, bucket_counts, explicit_bounds) = if cumulative.len() == bounds.len() && !bounds.is_empty() {
        let (counts, count) = per_bucket(cumulative, count);
        (count, counts, bounds.to_vec())
    } else {
        (count, Vec::new(), Vec::new())
    };
    HistogramDataPoint {
        attributes,
        start_time_unix_nano: times.start,
        time_unix_nano: times.now,
        count,
        sum: Some(sum),
        bucket_counts,
        explicit_bounds,
        ..HistogramDataPoint::default()
    }
}

/// Per-bucket counts (one per bound plus the overflow) from cumulative
/// ones, and the count they sum to.
pub(crate) fn per_bucket(cumulative: &[u64], count: u64) -> (Vec<u64>, u64) {
    let mut out = Vec::with_capacity(cumulative.len() + 1);
    let mut below = 0u64;
    for &c in cumulative {
        let c = c.max(below);
        out.push(c - below);
        below = c;
    }
    let count = count.max(below);
    out.push(count - below);
    (out, count)
}

/// The semantic conventions' method value: the known methods as is, `_OTHER` else.
pub(crate) fn method(m: Method) -> &'static str {
    match m {
        Method::Other => "_OTHER",
        m => m.as_str(),
    }
}

pub(crate) fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.to_owned())) }),
        ..KeyValue::default()
    }
}

pub(crate) fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(any_value::Value::IntValue(value)) }),
        ..KeyValue::default()
    }
}

#[cfg(test)]
mod tests;
