//! The alert lifecycle emits tracing events.
//!
//! A process-wide capture is installed before any test emits an event
//! (every test calls [`install`] first), so no call site can cache "no
//! interest" before it exists. Each test reads the events of its own
//! thread, so tests running in parallel do not see each other's events.

use perf_analytics::{AlertEngine, check_threshold};
use perf_core::{AlertFilter, AlertType, Timestamp, testing::LogCapture};

fn logs() -> &'static LogCapture {
    LogCapture::global().expect("no other global subscriber")
}

pub(crate) fn install() {
    logs();
}

/// How many events with `message` this test's thread emitted.
pub(crate) fn seen(message: &str) -> usize {
    logs().this_thread().iter().filter(|e| e.message == message).count()
}

fn t(secs: u64) -> Timestamp {
    Timestamp::from_unix_secs(1_700_000_000 + secs)
}

#[test]
fn lifecycle_emits_tracing_events() {
    install();
    let slow = |key: &str, ratio: f64| check_threshold(AlertType::SlowRequest, key, ratio, 1.0).unwrap();
    let e = AlertEngine::default();
    e.apply(&[slow("GET /a", 1.2), slow("GET /b", 1.2)], t(0));
    e.apply(&[slow("GET /a", 2.5), slow("GET /b", 1.2)], t(10));
    e.apply(&[slow("GET /a", 1.2), slow("GET /b", 1.2)], t(20));
    e.apply(&[slow("GET /b", 1.2)], t(80));
    let id = e.list(AlertFilter::Open)[0].id;
    e.resolve(id, t(81)).unwrap();
    assert_eq!(seen("alert opened"), 2);
    assert_eq!(seen("alert escalated"), 1);
    assert_eq!(seen("alert eased"), 1);
    assert_eq!(seen("alert resolved"), 2);
}
