//! The alert lifecycle emits tracing events.
//!
//! A process-wide subscriber is installed before any test emits an event
//! (every test calls [`install`] first), so no call site can cache "no
//! interest" before it exists. It counts events per thread, so tests
//! running in parallel do not see each other's events.

use std::{cell::RefCell, collections::HashMap, sync::Once};

use perf_analytics::{AlertEngine, check_threshold};
use perf_core::{AlertFilter, AlertType, Timestamp};

thread_local! {
    static SEEN: RefCell<HashMap<String, usize>> = RefCell::new(HashMap::new());
}

struct PerThread;

struct MessageVisitor(String);

impl tracing::field::Visit for MessageVisitor {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl tracing::Subscriber for PerThread {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut v = MessageVisitor(String::new());
        event.record(&mut v);
        SEEN.with(|s| *s.borrow_mut().entry(v.0).or_default() += 1);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| tracing::subscriber::set_global_default(PerThread).unwrap());
    SEEN.with(|s| s.borrow_mut().clear());
}

pub(crate) fn seen(message: &str) -> usize {
    SEEN.with(|s| s.borrow().get(message).copied().unwrap_or(0))
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
