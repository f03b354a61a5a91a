//! Spans through the facade against a real OTLP receiver (oteltap): a real
//! actix server, requests carrying a known `traceparent` whose handler runs
//! a diesel query, give one SERVER span per request (the known trace id and
//! parent) and a CLIENT span per query (child of the server span); an
//! unsampled trace exports nothing; with the receiver down the server keeps
//! answering and the spans are counted as failed or dropped.

use std::{
    collections::HashSet,
    net::{SocketAddr, TcpListener},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use perfkit::{Perfkit, perf_otel::OtelConfig};
use serde_json::Value;

use crate::{
    config,
    otel::{otel, serve},
    oteltap::{OtelTap, attr},
};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";
const UNSAMPLED_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

fn spans_config(endpoint: &str, timeout_ms: u64) -> OtelConfig {
    // Metrics rarely; spans every 50 ms.
    let mut c = otel(endpoint, 3_600_000, timeout_ms);
    c.span_delay = Duration::from_millis(50);
    c
}

/// GETs `/count` `n` times with `traceparent`; the 200s counted.
fn get_traced(addr: SocketAddr, traceparent: &str, n: usize, ok: &AtomicU64) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    for _ in 0..n {
        let response = agent.get(&format!("http://{addr}/count")).header("traceparent", traceparent).call().unwrap();
        if response.status().as_u16() == 200 {
            ok.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// An id field (OTLP JSON gives ids as lowercase hex).
fn id(span: &Value, field: &str) -> String {
    span[field].as_str().unwrap_or_default().to_owned()
}

/// OTLP's `SPAN_KIND_SERVER`.
fn is_server(span: &Value) -> bool {
    span["kind"] == 2
}

/// OTLP's `SPAN_KIND_CLIENT`.
fn is_client(span: &Value) -> bool {
    span["kind"] == 3
}

#[test]
fn a_traced_request_gives_a_server_span_and_its_query_a_client_span() {
    let tap = OtelTap::start();
    let perf = Perfkit::builder(config()).otel(spans_config(&tap.endpoint(), 2_000)).build().unwrap();
    let (sampled, unsampled) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (sampled2, unsampled2) = (sampled.clone(), unsampled.clone());
    serve(&perf, move |addr| {
        get_traced(addr, &format!("00-{TRACE}-{PARENT}-01"), 3, &sampled2);
        get_traced(addr, &format!("00-{UNSAMPLED_TRACE}-{PARENT}-00"), 2, &unsampled2);
    });
    let (sampled, unsampled) = (sampled.load(Ordering::SeqCst), unsampled.load(Ordering::SeqCst));
    assert_eq!((sampled, unsampled), (3, 2));
    // The last clone's drop sends what is queued.
    drop(perf);

    let ours = |spans: &[Value], pick: fn(&Value) -> bool| {
        spans.iter().filter(|s| id(s, "traceId") == TRACE && pick(s)).cloned().collect::<Vec<_>>()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while (ours(&tap.spans(), is_server).len() as u64) < sampled
        || (ours(&tap.spans(), is_client).len() as u64) < sampled
    {
        assert!(Instant::now() < deadline, "oteltap got no 3 server and 3 client spans in 30 s: {:#?}", tap.spans());
        std::thread::sleep(Duration::from_millis(50));
    }
    // Nothing more arrives: the exporter has shut down.
    std::thread::sleep(Duration::from_millis(300));
    let spans = tap.spans();
    let servers = ours(&spans, is_server);
    let clients = ours(&spans, is_client);
    assert_eq!(servers.len() as u64, sampled, "{servers:#?}");
    assert_eq!(clients.len() as u64, sampled, "one query per request: {clients:#?}");

    let mut server_ids = HashSet::new();
    for s in &servers {
        assert_eq!(id(s, "parentSpanId"), PARENT, "{s:#}");
        assert_eq!(s["name"], "GET /count", "{s:#}");
        assert_eq!(attr(s, "http.request.method").as_deref(), Some("GET"));
        assert_eq!(attr(s, "http.route").as_deref(), Some("/count"));
        assert_eq!(attr(s, "http.response.status_code").as_deref(), Some("200"));
        assert_eq!(attr(s, "error.type"), None);
        assert!(server_ids.insert(id(s, "spanId")), "a span id per request: {servers:#?}");
    }
    assert!(!server_ids.contains(PARENT));
    for c in &clients {
        assert!(server_ids.contains(&id(c, "parentSpanId")), "a client span's parent is a server span: {c:#}");
        assert!(!server_ids.contains(&id(c, "spanId")), "{c:#}");
        let summary = attr(c, "db.query.summary").unwrap();
        assert_eq!(c["name"].as_str(), Some(summary.as_str()));
        assert!(summary.to_ascii_uppercase().starts_with("SELECT"), "{c:#}");
        assert_eq!(attr(c, "db.system.name").as_deref(), Some("sqlite"));
        assert_eq!(attr(c, "error.type"), None);
    }
    // A server span's children are its own queries only: one each.
    let parents: HashSet<String> = clients.iter().map(|c| id(c, "parentSpanId")).collect();
    assert_eq!(parents, server_ids);

    assert!(
        spans.iter().all(|s| id(s, "traceId") != UNSAMPLED_TRACE),
        "an unsampled trace exports no span: {spans:#?}"
    );
}

#[test]
fn with_the_receiver_down_requests_keep_answering_and_spans_are_counted() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut c = spans_config(&format!("http://127.0.0.1:{port}"), 500);
    c.span_queue = 4;
    c.span_batch = 2;
    let perf = Perfkit::builder(config()).otel(c).build().unwrap();
    let ok = Arc::new(AtomicU64::new(0));
    let (ok2, perf2) = (ok.clone(), perf.clone());
    serve(&perf, move |addr| {
        get_traced(addr, &format!("00-{TRACE}-{PARENT}-01"), 10, &ok2);
        let deadline = Instant::now() + Duration::from_secs(20);
        while perf2.span_stats().unwrap().failed == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        get_traced(addr, &format!("00-{TRACE}-{PARENT}-01"), 10, &ok2);
        drop(perf2);
    });
    assert_eq!(ok.load(Ordering::SeqCst), 20, "every request answered 200");
    let during = perf.span_stats().unwrap();
    assert!(during.failed >= 1 && during.succeeded == 0 && during.exported == 0, "{during:?}");
    assert!(during.last_error.as_deref().is_some_and(|e| e.starts_with("connection failed")), "{during:?}");
    // Every span is accounted for: 20 requests with one query each, queued or
    // dropped at a full queue; the queued ones are in a failed export or still waiting.
    assert_eq!(during.queued + during.dropped, 40, "{during:?}");
    assert!(during.failed_spans <= during.queued && during.failed_spans >= 1, "{during:?}");

    let asked = Instant::now();
    drop(perf);
    assert!(asked.elapsed() < Duration::from_secs(2), "dropping the last clone took {:?}", asked.elapsed());
}

#[test]
fn traces_off_leaves_the_recorder_alone() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let c = OtelConfig::from_lookup(|name| match name {
        "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(endpoint.clone()),
        "OTEL_TRACES_EXPORTER" => Some("none".to_owned()),
        _ => None,
    })
    .unwrap();
    let perf = Perfkit::builder(config()).otel(c).build().unwrap();
    assert_eq!(perf.span_stats(), None);
    assert!(perf.otel_stats().is_some(), "metrics still export");
    let store: Arc<dyn perf_core::Recorder> = perf.store().clone();
    assert!(Arc::ptr_eq(perf.context().recorder(), &store), "the store records directly");
}
