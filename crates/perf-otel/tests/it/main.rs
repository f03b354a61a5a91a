//! The exporter against receivers that are down or never answer: the
//! service keeps recording, failures are counted and warned about once a
//! minute, and shutdown stays within the request timeout. (The metrics a
//! real receiver gets are checked through the facade, in perfkit's tests.)
#![allow(clippy::unwrap_used)]

use std::{
    net::TcpListener,
    sync::Arc,
    time::{Duration, Instant},
};

use perf_core::{Clock, Method, MetricsSource, PerfConfig, PerfContext, RequestSample, testing::LogCapture};
use perf_otel::{ExportStats, OtelConfig, OtelExporter};

fn config(endpoint: &str, interval_ms: u64, timeout_ms: u64) -> OtelConfig {
    let (interval, timeout) = (interval_ms.to_string(), timeout_ms.to_string());
    OtelConfig::from_lookup(|name| match name {
        "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(endpoint.to_owned()),
        "OTEL_METRIC_EXPORT_INTERVAL" => Some(interval.clone()),
        "OTEL_EXPORTER_OTLP_TIMEOUT" => Some(timeout.clone()),
        _ => None,
    })
    .unwrap()
}

fn context_with_a_request() -> PerfContext {
    let context = PerfContext::new(&PerfConfig::default()).unwrap();
    record_a_request(&context);
    context
}

/// One 3 ms `GET /items` answered 200, recorded now.
fn record_a_request(context: &PerfContext) {
    let now = context.clock().now();
    let sample =
        RequestSample::new(Method::Get, Some("/items"), 200, Duration::from_millis(3), now, context.thresholds());
    context.recorder().record_request(&sample);
}

/// Waits (at most 20 s) until the exporter's figures satisfy `done`.
fn wait_for(exporter: &OtelExporter, done: impl Fn(&ExportStats) -> bool) -> ExportStats {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stats = exporter.stats();
        if done(&stats) || Instant::now() > deadline {
            return stats;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn with_the_collector_down_failures_are_counted_and_warned_about_once() {
    let logs = LogCapture::global().expect("no other global subscriber in this binary");
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let context = context_with_a_request();
    let exporter = OtelExporter::from_context(&config(&endpoint, 20, 1_000), &context).unwrap();

    let stats = wait_for(&exporter, |s| s.failed >= 3);
    assert!(stats.failed >= 3, "{stats:?}");
    assert_eq!((stats.succeeded, stats.last_success), (0, None));
    assert!(stats.last_error.as_deref().is_some_and(|e| e.starts_with("connection failed")), "{stats:?}");

    // The store keeps recording meanwhile.
    record_a_request(&context);
    assert_eq!(context.source().totals().endpoints[0].totals.count, 2);

    let last = exporter.shutdown();
    assert!(last.failed >= stats.failed && last.attempts == last.failed, "{last:?}");
    let warnings = logs.events_where("endpoint", &format!("{endpoint}/v1/metrics"));
    assert_eq!(warnings.len(), 1, "one line a minute per cause, {} failures: {warnings:#?}", last.failed);
    assert!(warnings[0].field("cause").is_some_and(|c| c.starts_with("connection failed")), "{warnings:#?}");
}

#[test]
fn shutdown_is_bounded_by_the_timeout_when_the_receiver_never_answers() {
    // Connections complete in the kernel's backlog and are never read.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    let timeout = Duration::from_millis(300);
    let context = context_with_a_request();
    let exporter = OtelExporter::start(&config(&endpoint, 10, 300), Arc::clone(context.source())).unwrap();

    let stats = wait_for(&exporter, |s| s.failed >= 1);
    assert_eq!(stats.last_error.as_deref(), Some("the export timed out"), "{stats:?}");
    // Shut down while the next export hangs.
    wait_for(&exporter, |s| s.attempts > stats.attempts);
    let asked = Instant::now();
    let last = exporter.shutdown();
    let took = asked.elapsed();
    // The in-flight export ends by its timeout; a final export gets only
    // what is left of it. The margin covers a loaded machine, not a second export.
    assert!(took < timeout * 2, "shutdown took {took:?} with a {timeout:?} timeout");
    assert_eq!(last.succeeded, 0, "{last:?}");
    drop(silent);
}

#[test]
fn durations_set_in_code_beyond_a_day_or_zero_do_not_panic() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let context = context_with_a_request();
    // Kept to a day: the last export at shutdown fails on the closed port.
    // Kept to 1 ms: exports may or may not have run; too little time is left
    // for a last one. Either way every attempt is a counted failure.
    for (interval, timeout, last) in [(Duration::MAX, Duration::MAX, true), (Duration::ZERO, Duration::ZERO, false)] {
        let mut c = config(&format!("http://127.0.0.1:{port}"), 1_000, 1_000);
        (c.interval, c.timeout) = (interval, timeout);
        let exporter = OtelExporter::from_context(&c, &context).unwrap();
        let stats = exporter.shutdown();
        assert!(
            stats.attempts == stats.failed && (stats.attempts >= 1 || !last),
            "{interval:?}, {timeout:?}: {stats:?}"
        );
    }
}

#[test]
fn a_disabled_or_endpointless_configuration_starts_nothing() {
    let context = context_with_a_request();
    let none = OtelConfig::from_lookup(|_| None).unwrap();
    assert!(!none.is_enabled());
    assert!(matches!(OtelExporter::from_context(&none, &context), Err(perf_otel::OtelError::NoEndpoint)));
    let disabled = OtelConfig::from_lookup(|name| match name {
        "OTEL_SDK_DISABLED" => Some("true".to_owned()),
        "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://127.0.0.1:4318".to_owned()),
        _ => None,
    })
    .unwrap();
    assert!(!disabled.is_enabled());
}
