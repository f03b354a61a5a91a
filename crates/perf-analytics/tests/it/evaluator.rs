//! The background evaluator runs evaluations and stops when dropped.

use std::{sync::Arc, time::Duration};

use perf_analytics::{AlertEvaluator, Analytics, AnalyticsError};
use perf_core::{
    AlertFilter, AlertType, AnalyticsService, Clock, ManualClock, Method, PerfConfig, Recorder, RequestSample,
    SharedThresholds, Store, StoreConfig, Timestamp,
};

fn analytics() -> (Arc<ManualClock>, Arc<Store>, Arc<Analytics>) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_700_000_000)));
    let thresholds = Arc::new(SharedThresholds::default());
    let store = Arc::new(Store::new(StoreConfig::default(), clock.clone(), thresholds.clone()).unwrap());
    let analytics = Arc::new(Analytics::new(store.clone(), thresholds, clock.clone()));
    (clock, store, analytics)
}

#[test]
fn evaluator_thread_opens_alerts_and_stops_on_drop() {
    crate::events::install();
    let (clock, store, analytics) = analytics();
    for _ in 0..20 {
        store.record_request(&RequestSample::new(
            Method::Get,
            Some("/slow"),
            200,
            Duration::from_secs(2),
            clock.now(),
            store.thresholds(),
        ));
    }
    let evaluator = AlertEvaluator::from_config(analytics.clone(), &PerfConfig::default()).unwrap();
    // The first evaluation runs at start; wait for it instead of sleeping.
    assert!(analytics.wait_for_evaluations(1, Duration::from_secs(30)));
    let open = analytics.alerts(AlertFilter::Open);
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].alert_type, AlertType::SlowRequest);
    // Dropping wakes the thread from its 10 s wait and joins it.
    drop(evaluator);
    assert_eq!(Arc::strong_count(&analytics), 1, "the thread released its handle");
}

#[test]
fn zero_interval_is_refused() {
    let (_clock, _store, analytics) = analytics();
    let err = AlertEvaluator::start(analytics, Duration::ZERO).unwrap_err();
    assert!(matches!(err, AnalyticsError::InvalidSetting { name: "alert_evaluation_interval", .. }), "{err}");
}

#[test]
fn short_interval_keeps_evaluating() {
    crate::events::install();
    let (_clock, _store, analytics) = analytics();
    let evaluator = AlertEvaluator::start(analytics.clone(), Duration::from_millis(1)).unwrap();
    assert!(analytics.wait_for_evaluations(3, Duration::from_secs(30)));
    evaluator.stop();
    assert_eq!(Arc::strong_count(&analytics), 1);
}
