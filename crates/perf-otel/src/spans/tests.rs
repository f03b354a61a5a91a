//! The span recorder forwards and queues only sampled traces, a full queue
//! drops and counts, spans encode under the semantic conventions, and the
//! traces variables are read.
#![allow(clippy::unwrap_used)]

use std::{net::TcpListener, sync::Arc, time::Duration};

use perf_core::{
    Clock, Method, MetricsSource, PerfConfig, PerfContext, QueryKind, QuerySample, Recorder, RequestSample,
    TraceContext,
};

use super::*;

fn closed_port_config(queue: usize) -> OtelConfig {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut c = OtelConfig::from_lookup(|name| match name {
        "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(format!("http://127.0.0.1:{port}")),
        "OTEL_EXPORTER_OTLP_TIMEOUT" => Some("500".to_owned()),
        "OTEL_BSP_SCHEDULE_DELAY" => Some("86400000".to_owned()),
        _ => None,
    })
    .unwrap();
    c.span_queue = queue;
    c.span_batch = queue;
    c
}

fn request(context: &PerfContext, trace: Option<TraceContext>) -> RequestSample<'static> {
    let mut sample = RequestSample::new(
        Method::Get,
        Some("/items"),
        200,
        Duration::from_millis(4),
        context.clock().now(),
        context.thresholds(),
    );
    sample.trace = trace;
    sample
}

fn query(context: &PerfContext, trace: Option<TraceContext>) -> QuerySample<'static> {
    QuerySample {
        fingerprint: "SELECT * FROM items WHERE id = ?",
        sql: "SELECT * FROM items WHERE id = 1",
        duration: Duration::from_millis(1),
        ok: true,
        at: context.clock().now(),
        scope: Some("GET /items"),
        kind: QueryKind::Read,
        slow: false,
        trace,
    }
}

#[test]
fn samples_reach_the_inner_recorder_and_only_sampled_traces_queue_spans() {
    let context = PerfContext::new(&PerfConfig::default()).unwrap();
    let exporter = SpanExporter::start(&closed_port_config(16)).unwrap();
    let recorder = exporter.recorder(context.recorder().clone());
    let sampled = TraceContext::continue_from(b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").unwrap();
    let unsampled = TraceContext::continue_from(b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00").unwrap();

    recorder.record_request(&request(&context, Some(sampled)));
    recorder.record_query(&query(&context, Some(sampled)));
    recorder.record_request(&request(&context, Some(unsampled)));
    recorder.record_query(&query(&context, Some(unsampled)));
    recorder.record_request(&request(&context, None));
    // The fast path forwards too.
    let handle = recorder.request_handle(Method::Get, Some("/items")).expect("the store has a fast path");
    recorder.record_request_with(&handle, &request(&context, Some(sampled)));

    let totals = context.source().totals();
    assert_eq!(totals.endpoints[0].totals.count, 4);
    assert_eq!(totals.queries[0].totals.count, 2);
    let stats = exporter.stats();
    assert_eq!((stats.queued, stats.dropped), (3, 0), "{stats:?}");

    // The receiver is down: the last export fails and its spans are counted.
    let last = exporter.shutdown();
    assert_eq!((last.attempts, last.failed, last.failed_spans, last.exported), (1, 1, 3, 0), "{last:?}");
}

#[test]
fn a_full_queue_drops_and_counts_without_blocking() {
    let context = PerfContext::new(&PerfConfig::default()).unwrap();
    let exporter = SpanExporter::start(&closed_port_config(2)).unwrap();
    let recorder = Arc::new(exporter.recorder(context.recorder().clone()));
    // A batch of two wakes the thread, which may take it; either way at
    // most the queue's capacity waits and the rest is counted.
    for _ in 0..50 {
        recorder.record_request(&request(&context, Some(TraceContext::start())));
    }
    let stats = exporter.shutdown();
    assert_eq!(stats.queued + stats.dropped, 50, "{stats:?}");
    assert!(stats.dropped >= 40, "{stats:?}");
    assert_eq!(stats.failed_spans + stats.exported + (stats.dropped - (50 - stats.queued)), stats.queued, "{stats:?}");
    assert_eq!(context.source().totals().endpoints[0].totals.count, 50);
}

#[test]
fn spans_are_encoded_under_the_semantic_conventions() {
    let mut config = closed_port_config(4);
    config.db_system_name = Some("sqlite".to_owned());
    let worker = Worker {
        queue: Arc::new(Queue {
            spans: Mutex::default(),
            wake: Condvar::new(),
            capacity: 1,
            batch: 1,
            dropped: AtomicU64::new(0),
            queued: AtomicU64::new(0),
        }),
        stats: Arc::default(),
        encoder: Encoder::new(&config, 0),
        db_system_name: config.db_system_name.clone(),
        agent: agent(Duration::from_secs(1)),
        endpoint: config.traces_endpoint.clone().unwrap(),
        headers: Vec::new(),
        timeout: Duration::from_secs(1),
        delay: Duration::from_secs(1),
        warnings: LogLimiter::new(Duration::from_secs(60)),
    };
    let server = worker.encode(SpanRecord {
        trace_id: [1; 16],
        span_id: [2; 8],
        parent: Some([3; 8]),
        start: 10,
        end: 20,
        kind: Kind::Server { method: Method::Post, route: Some("/items/{id}".to_owned()), status: 503 },
    });
    assert_eq!(server.name, "POST /items/{id}");
    assert_eq!(server.kind, span::SpanKind::Server as i32);
    assert_eq!((server.trace_id, server.span_id, server.parent_span_id), (vec![1; 16], vec![2; 8], vec![3; 8]));
    assert_eq!((server.start_time_unix_nano, server.end_time_unix_nano), (10, 20));
    let keys: Vec<&str> = server.attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["http.request.method", "http.route", "http.response.status_code", "error.type"]);
    assert_eq!(server.status.unwrap().code, status::StatusCode::Error as i32);

    let long = "x".repeat(300) + "é";
    let client = worker.encode(SpanRecord {
        trace_id: [1; 16],
        span_id: [4; 8],
        parent: Some([2; 8]),
        start: 12,
        end: 14,
        kind: Kind::Client { summary: cut(&long, MAX_QUERY_SUMMARY).to_owned(), ok: false },
    });
    assert_eq!(client.name.len(), MAX_QUERY_SUMMARY);
    assert_eq!(client.kind, span::SpanKind::Client as i32);
    let keys: Vec<&str> = client.attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["db.query.summary", "db.system.name", "error.type"]);
    assert_eq!(cut("aé", 2), "a", "cut at a character boundary");
}

#[test]
fn the_traces_endpoint_follows_the_variables() {
    let base = |extra: &'static [(&'static str, &'static str)]| {
        OtelConfig::from_lookup(move |name| {
            extra
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
                .or_else(|| (name == "OTEL_EXPORTER_OTLP_ENDPOINT").then(|| "http://collector:4318/".to_owned()))
        })
        .unwrap()
    };
    let c = base(&[]);
    assert_eq!(c.traces_endpoint.as_deref(), Some("http://collector:4318/v1/traces"));
    assert!(c.traces_enabled());
    let c = base(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://other:1/spans")]);
    assert_eq!(c.traces_endpoint.as_deref(), Some("http://other:1/spans"));
    let c = base(&[("OTEL_TRACES_EXPORTER", "none")]);
    assert!(!c.traces_enabled() && c.is_enabled());
    let c = base(&[("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "k=t"), ("OTEL_EXPORTER_OTLP_HEADERS", "k=b,j=1")]);
    assert_eq!(c.traces_headers, [("j".to_owned(), "1".to_owned()), ("k".to_owned(), "t".to_owned())]);
    assert_eq!(c.headers, [("k".to_owned(), "b".to_owned()), ("j".to_owned(), "1".to_owned())]);
    let c = base(&[("OTEL_BSP_MAX_QUEUE_SIZE", "8"), ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "64")]);
    assert_eq!((c.span_queue, c.span_batch), (8, 8));
    assert!(OtelConfig::from_lookup(|n| (n == "OTEL_BSP_MAX_QUEUE_SIZE").then(|| "0".to_owned())).is_err());
    assert!(
        OtelConfig::from_lookup(|n| (n == "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").then(|| "grpc".to_owned())).is_err()
    );
}
