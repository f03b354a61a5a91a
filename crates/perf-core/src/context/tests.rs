//! Tests of the shared context: one store, one set of thresholds, one clock.

use std::{sync::Arc, time::Duration};

use super::*;
use crate::{ManualClock, Method, RequestSample, ThresholdsPatch, Timestamp, Window};

fn manual() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Timestamp::from_unix_micros(5_000_000)))
}

#[test]
fn context_parts_are_the_stores_own() {
    let clock = manual();
    let ctx = PerfContext::with_clock(&PerfConfig::default(), clock.clone()).unwrap();
    let store = ctx.store().unwrap();
    assert!(Arc::ptr_eq(store.thresholds(), ctx.thresholds()));
    assert!(Arc::ptr_eq(store.clock(), ctx.clock()));
    clock.advance(Duration::from_secs(3));
    assert_eq!(ctx.clock().now(), Timestamp::from_unix_micros(8_000_000));
}

#[test]
fn a_threshold_change_through_the_context_reaches_the_store() {
    let ctx = PerfContext::new(&PerfConfig::default()).unwrap();
    let patch = ThresholdsPatch { slow_request_threshold: Some(0.25), ..ThresholdsPatch::default() };
    ctx.thresholds().update_thresholds(&patch).unwrap();
    assert_eq!(ctx.store().unwrap().thresholds().thresholds().slow_request_threshold, 0.25);
}

#[test]
fn samples_recorded_through_the_context_are_read_back_through_it() {
    let ctx = PerfContext::with_clock(&PerfConfig::default(), manual()).unwrap();
    let sample =
        RequestSample::new(Method::Get, Some("/x"), 200, Duration::from_millis(3), ctx.clock().now(), ctx.thresholds());
    ctx.recorder().record_request(&sample);
    ctx.recorder().record_request(&sample);
    assert_eq!(ctx.source().snapshot(Window::DEFAULT).requests.count, 2);
}

#[test]
fn an_invalid_store_config_is_an_error() {
    let mut config = PerfConfig::default();
    config.store.fine_resolution = Duration::ZERO;
    assert!(matches!(PerfContext::new(&config), Err(CoreError::InvalidConfig(_))));
}

#[test]
fn the_context_carries_the_configs_monitoring_switches() {
    let config = PerfConfig::builder().enabled(false).capture_binds(true).build().unwrap();
    let ctx = PerfContext::new(&config).unwrap();
    assert!(!ctx.enabled() && ctx.capture_binds());
    let defaults = PerfContext::from_store(ctx.store().unwrap().clone());
    assert!(defaults.enabled() && !defaults.capture_binds());
    let switched = defaults.switches(&config);
    assert!(!switched.enabled() && switched.capture_binds());
}
