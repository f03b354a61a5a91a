//! Totals to OTLP: names, attributes, bucket conversion and the resource.

use opentelemetry_proto::tonic::{
    collector::metrics::v1::ExportMetricsServiceRequest,
    common::v1::{KeyValue, any_value::Value},
    metrics::v1::{HistogramDataPoint, Metric, metric::Data},
};
use perf_core::{CacheCounts, EndpointTotals, QueryTotals, StatusTotals, TierCounts, Totals};
use prost::Message;

use super::*;

fn totals() -> TotalsSnapshot {
    let status = |s: &str, count, sum, buckets: &[u64]| StatusTotals {
        status: s.to_owned(),
        count,
        sum,
        buckets: buckets.to_vec(),
        exemplars: Vec::new(),
    };
    TotalsSnapshot {
        bucket_bounds: vec![0.01, 0.1, 1.0],
        endpoints: vec![
            EndpointTotals {
                method: Method::Get,
                route: "/items/{id}".to_owned(),
                totals: Totals { count: 6, ..Totals::default() },
                statuses: vec![
                    status("200", 4, 0.25, &[1, 3, 4]),
                    status("503", 1, 2.0, &[0, 0, 0]),
                    status("5xx", 1, 0.05, &[0, 1, 1]),
                ],
            },
            EndpointTotals {
                method: Method::Other,
                route: UNMATCHED_ROUTE.to_owned(),
                totals: Totals { count: 2, ..Totals::default() },
                statuses: vec![status("404", 2, 0.002, &[2, 2, 2])],
            },
        ],
        queries: vec![
            QueryTotals {
                fingerprint: "SELECT * FROM items WHERE id = ?".to_owned(),
                background: false,
                totals: Totals { count: 3, sum: 0.006, buckets: vec![3, 3, 3], ..Totals::default() },
            },
            QueryTotals {
                fingerprint: "SELECT * FROM items WHERE id = ?".to_owned(),
                background: true,
                totals: Totals { count: 1, sum: 0.5, buckets: vec![0, 0, 1], ..Totals::default() },
            },
        ],
        cache: CacheCounts {
            memory: TierCounts { hits: 7, misses: 2, sets: 2, ..TierCounts::default() },
            ..CacheCounts::default()
        },
        n_plus_one: Vec::new(),
    }
}

fn config() -> OtelConfig {
    OtelConfig {
        resource: vec![
            ("service.name".to_owned(), "shop".to_owned()),
            ("telemetry.sdk.name".to_owned(), "fake".to_owned()),
        ],
        db_system_name: Some("sqlite".to_owned()),
        ..OtelConfig::default()
    }
}

/// Encodes and decodes again, so the test reads what goes on the wire.
fn wire(totals: &TotalsSnapshot) -> ExportMetricsServiceRequest {
    let bytes = Encoder::new(&config(), 1_000).request(totals, 5_000).encode_to_vec();
    ExportMetricsServiceRequest::decode(bytes.as_slice()).unwrap()
}

fn metric<'a>(req: &'a ExportMetricsServiceRequest, name: &str) -> &'a Metric {
    req.resource_metrics[0].scope_metrics[0].metrics.iter().find(|m| m.name == name).unwrap()
}

fn histogram_points(m: &Metric) -> &[HistogramDataPoint] {
    match &m.data {
        Some(Data::Histogram(h)) => {
            assert_eq!(h.aggregation_temporality, AggregationTemporality::Cumulative as i32);
            &h.data_points
        }
        other => panic!("{} is not a histogram: {other:?}", m.name),
    }
}

fn attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref()).and_then(|v| v.value.as_ref())
}

fn s(v: &str) -> Option<Value> {
    Some(Value::StringValue(v.to_owned()))
}

#[test]
fn requests_are_a_cumulative_histogram_per_route_method_and_status() {
    let req = wire(&totals());
    let m = metric(&req, HTTP_SERVER_REQUEST_DURATION);
    assert_eq!(m.unit, "s");
    let points = histogram_points(m);
    assert_eq!(points.len(), 4);
    let ok = &points[0];
    assert_eq!(attr(&ok.attributes, "http.route").cloned(), s("/items/{id}"));
    assert_eq!(attr(&ok.attributes, "http.request.method").cloned(), s("GET"));
    assert_eq!(attr(&ok.attributes, "http.response.status_code").cloned(), Some(Value::IntValue(200)));
    assert_eq!(attr(&ok.attributes, "error.type"), None);
    assert_eq!((ok.count, ok.sum), (4, Some(0.25)));
    // le counts 1, 3, 4 of 4: per bucket 1, 2, 1, and nothing past 1 s.
    assert_eq!(ok.bucket_counts, [1, 2, 1, 0]);
    assert_eq!(ok.explicit_bounds, [0.01, 0.1, 1.0]);
    assert_eq!((ok.start_time_unix_nano, ok.time_unix_nano), (1_000, 5_000));

    let unavailable = &points[1];
    assert_eq!(attr(&unavailable.attributes, "error.type").cloned(), s("503"));
    assert_eq!(unavailable.bucket_counts, [0, 0, 0, 1]);
}

#[test]
fn a_class_slot_has_no_status_code_but_its_class() {
    let req = wire(&totals());
    let class = &histogram_points(metric(&req, HTTP_SERVER_REQUEST_DURATION))[2];
    assert_eq!(attr(&class.attributes, "http.response.status_code"), None);
    assert_eq!(attr(&class.attributes, "perfkit.http.response.status_class").cloned(), s("5xx"));
    assert_eq!(attr(&class.attributes, "error.type").cloned(), s("5xx"));
    assert_eq!(class.bucket_counts, [0, 1, 0, 0]);
}

#[test]
fn unmatched_requests_have_no_route_and_other_methods_are_other() {
    let req = wire(&totals());
    let unmatched = &histogram_points(metric(&req, HTTP_SERVER_REQUEST_DURATION))[3];
    assert_eq!(attr(&unmatched.attributes, "http.route"), None);
    assert_eq!(attr(&unmatched.attributes, "perfkit.route").cloned(), s(UNMATCHED_ROUTE));
    assert_eq!(attr(&unmatched.attributes, "http.request.method").cloned(), s("_OTHER"));
    assert_eq!(attr(&unmatched.attributes, "error.type"), None);
}

#[test]
fn queries_are_a_histogram_per_fingerprint_and_origin() {
    let req = wire(&totals());
    let m = metric(&req, DB_CLIENT_OPERATION_DURATION);
    assert_eq!(m.unit, "s");
    let points = histogram_points(m);
    assert_eq!(points.len(), 2);
    for (p, origin, count) in [(&points[0], "request", 3), (&points[1], "background", 1)] {
        assert_eq!(attr(&p.attributes, "db.query.summary").cloned(), s("SELECT * FROM items WHERE id = ?"));
        assert_eq!(attr(&p.attributes, "db.system.name").cloned(), s("sqlite"));
        assert_eq!(attr(&p.attributes, "perfkit.query.origin").cloned(), s(origin));
        assert_eq!(attr(&p.attributes, "perfkit.query.id").cloned(), s(&query_id("SELECT * FROM items WHERE id = ?")));
        assert_eq!(p.count, count);
        assert_eq!(p.bucket_counts.iter().sum::<u64>(), count);
    }
}

#[test]
fn cache_operations_are_monotonic_sums_for_tiers_in_use() {
    let req = wire(&totals());
    let m = metric(&req, CACHE_OPERATIONS);
    let Some(Data::Sum(sum)) = &m.data else { panic!("{m:?}") };
    assert!(sum.is_monotonic);
    assert_eq!(sum.data_points.len(), 5, "memory only: redis saw nothing");
    let hits =
        sum.data_points.iter().find(|p| attr(&p.attributes, "perfkit.cache.operation") == s("hit").as_ref()).unwrap();
    assert_eq!(attr(&hits.attributes, "perfkit.cache.tier").cloned(), s("memory"));
    assert_eq!(hits.value, Some(number_data_point::Value::AsInt(7)));
}

#[test]
fn the_resource_names_the_service_and_honestly_perfkit() {
    let req = wire(&totals());
    let resource = req.resource_metrics[0].resource.as_ref().unwrap();
    assert_eq!(attr(&resource.attributes, "service.name").cloned(), s("shop"));
    assert_eq!(attr(&resource.attributes, "telemetry.sdk.name").cloned(), s("perfkit"));
    assert_eq!(attr(&resource.attributes, "telemetry.sdk.language").cloned(), s("rust"));
    assert_eq!(attr(&resource.attributes, "telemetry.sdk.version").cloned(), s(env!("CARGO_PKG_VERSION")));
    assert_eq!(resource.attributes.iter().filter(|kv| kv.key == "telemetry.sdk.name").count(), 1);
    assert_eq!(req.resource_metrics[0].scope_metrics[0].scope.as_ref().unwrap().name, SCOPE_NAME);
}

#[test]
fn nothing_recorded_gives_no_metrics() {
    let req = wire(&TotalsSnapshot::default());
    assert!(req.resource_metrics[0].scope_metrics[0].metrics.is_empty());
}

#[test]
fn per_bucket_counts_sum_to_the_count_even_when_read_mid_update() {
    assert_eq!(per_bucket(&[1, 3, 4], 5), (vec![1, 2, 1, 1], 5));
    // An le count read after a request landed that the count missed.
    assert_eq!(per_bucket(&[1, 3, 4], 3), (vec![1, 2, 1, 0], 4));
    // A lower bucket read after a higher one.
    assert_eq!(per_bucket(&[2, 1, 3], 3), (vec![2, 0, 1, 0], 3));
    assert_eq!(per_bucket(&[], 2), (vec![2], 2));
}

#[test]
fn mismatched_buckets_send_count_and_sum_only() {
    let mut t = totals();
    t.endpoints[0].statuses[0].buckets.pop();
    let req = wire(&t);
    let p = &histogram_points(metric(&req, HTTP_SERVER_REQUEST_DURATION))[0];
    assert_eq!((p.count, p.bucket_counts.len(), p.explicit_bounds.len()), (4, 0, 0));
}
