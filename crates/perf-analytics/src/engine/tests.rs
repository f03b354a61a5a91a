//! Tests of the alert lifecycle: open, update, escalate, ease, auto-resolve,
//! manual resolve, re-open and bounded history.

use std::{num::NonZeroUsize, time::Duration};

use perf_core::{AlertError, AlertFilter, AlertType, Resolution, Severity, Timestamp};

use super::*;
use crate::alerts::{Detection, check_threshold};

fn t(secs: u64) -> Timestamp {
    Timestamp::from_unix_secs(1_700_000_000 + secs)
}

/// A slow-request detection for `key` at `ratio` × 1 s.
fn slow(key: &str, ratio: f64) -> Detection {
    check_threshold(AlertType::SlowRequest, key, ratio, 1.0).unwrap_or_else(|| panic!("ratio {ratio} must alert"))
}

#[test]
fn first_detection_opens_an_alert() {
    let e = AlertEngine::default();
    let out = e.apply(&[slow("GET /a", 1.2)], t(0));
    assert_eq!(out.opened, 1);
    let a = e.list(AlertFilter::Open);
    assert_eq!(a.len(), 1);
    assert_eq!((a[0].alert_type, a[0].key.as_str(), a[0].severity), (AlertType::SlowRequest, "GET /a", Severity::Low));
    assert_eq!(a[0].created_at, t(0).to_datetime());
    assert_eq!(a[0].last_seen, t(0).to_datetime());
    assert!(!a[0].resolved && a[0].resolved_at.is_none() && a[0].resolution.is_none());
}

#[test]
fn repeated_detection_updates_instead_of_repeating() {
    let e = AlertEngine::default();
    e.apply(&[slow("GET /a", 1.2)], t(0));
    let out = e.apply(&[slow("GET /a", 1.3)], t(10));
    assert_eq!(out, Outcome { unchanged: 1, ..Outcome::default() });
    let a = e.list(AlertFilter::All);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].value, 1.3);
    assert_eq!(a[0].created_at, t(0).to_datetime());
    assert_eq!(a[0].last_seen, t(10).to_datetime());
}

#[test]
fn duplicate_detections_in_one_evaluation_count_once() {
    let e = AlertEngine::default();
    let out = e.apply(&[slow("GET /a", 1.2), slow("GET /a", 2.5)], t(0));
    assert_eq!(out.opened, 1);
    assert_eq!(e.len(), 1);
}

#[test]
fn same_key_different_type_are_separate_alerts() {
    let e = AlertEngine::default();
    let err = check_threshold(AlertType::HighErrorRate, "GET /a", 0.5, 0.1).unwrap_or_else(|| panic!("must alert"));
    e.apply(&[slow("GET /a", 1.2), err], t(0));
    assert_eq!(e.open_count(), 2);
}

#[test]
fn escalates_and_eases_in_place() {
    let e = AlertEngine::default();
    e.apply(&[slow("GET /a", 1.2)], t(0));
    let id = e.list(AlertFilter::All)[0].id;
    let out = e.apply(&[slow("GET /a", 3.5)], t(10));
    assert_eq!(out.escalated, 1);
    let a = &e.list(AlertFilter::All)[0];
    assert_eq!((a.id, a.severity), (id, Severity::Critical));
    let out = e.apply(&[slow("GET /a", 1.6)], t(20));
    assert_eq!(out.eased, 1);
    let a = &e.list(AlertFilter::All)[0];
    assert_eq!((a.id, a.severity, a.value), (id, Severity::Medium, 1.6));
    assert_eq!(e.len(), 1);
}

#[test]
fn auto_resolves_only_after_the_hold_down() {
    let e = AlertEngine::default(); // 60 s hold-down
    e.apply(&[slow("GET /a", 1.2)], t(0));
    e.apply(&[], t(10));
    let out = e.apply(&[], t(59));
    assert_eq!(out.resolved, 0);
    assert_eq!(e.open_count(), 1);
    let out = e.apply(&[], t(60));
    assert_eq!(out.resolved, 1);
    let a = &e.list(AlertFilter::Resolved)[0];
    assert!(a.resolved);
    assert_eq!(a.resolution, Some(Resolution::Auto));
    assert_eq!(a.resolved_at, Some(t(60).to_datetime()));
    assert_eq!(e.open_count(), 0);
}

#[test]
fn reappearing_condition_restarts_the_hold_down() {
    let e = AlertEngine::default();
    e.apply(&[slow("GET /a", 1.2)], t(0));
    e.apply(&[], t(50));
    e.apply(&[slow("GET /a", 1.2)], t(55));
    assert_eq!(e.apply(&[], t(100)).resolved, 0);
    assert_eq!(e.apply(&[], t(115)).resolved, 1);
}

#[test]
fn custom_hold_down() {
    let e = AlertEngine::new(EngineSettings { hold_down: Duration::from_secs(5), ..EngineSettings::default() });
    e.apply(&[slow("GET /a", 1.2)], t(0));
    assert_eq!(e.apply(&[], t(4)).resolved, 0);
    assert_eq!(e.apply(&[], t(5)).resolved, 1);
}

#[test]
fn manual_resolve_by_id() {
    let e = AlertEngine::default();
    e.apply(&[slow("GET /a", 1.2)], t(0));
    let id = e.list(AlertFilter::All)[0].id;
    let a = e.resolve(id, t(5)).unwrap_or_else(|err| panic!("{err}"));
    assert!(a.resolved);
    assert_eq!(a.resolution, Some(Resolution::Manual));
    assert_eq!(a.resolved_at, Some(t(5).to_datetime()));
    assert_eq!(e.open_count(), 0);
    assert_eq!(e.list(AlertFilter::Resolved), vec![a.clone()]);
    // Resolving again changes nothing.
    assert_eq!(e.resolve(id, t(9)), Ok(a));
}

#[test]
fn unknown_id_is_not_found_and_changes_nothing() {
    let e = AlertEngine::default();
    e.apply(&[slow("GET /a", 1.2)], t(0));
    let before = e.list(AlertFilter::All);
    assert_eq!(e.resolve(999, t(1)), Err(AlertError::NotFound(999)));
    assert_eq!(e.list(AlertFilter::All), before);
}

#[test]
fn reopens_with_a_new_id_after_manual_resolve() {
    let e = AlertEngine::default();
    e.apply(&[slow("GET /a", 1.2)], t(0));
    let first = e.list(AlertFilter::All)[0].id;
    e.resolve(first, t(5)).unwrap_or_else(|err| panic!("{err}"));
    let out = e.apply(&[slow("GET /a", 2.5)], t(10));
    assert_eq!(out.opened, 1);
    let all = e.list(AlertFilter::All);
    assert_eq!(all.len(), 2);
    assert!(all[0].id > first, "newest first");
    assert!(!all[0].resolved && all[1].resolved);
}

#[test]
fn reopens_after_auto_resolve() {
    let e = AlertEngine::default();
    e.apply(&[slow("GET /a", 1.2)], t(0));
    e.apply(&[], t(60));
    assert_eq!(e.apply(&[slow("GET /a", 1.2)], t(70)).opened, 1);
    assert_eq!(e.list(AlertFilter::Open).len(), 1);
    assert_eq!(e.list(AlertFilter::Resolved).len(), 1);
}

#[test]
fn listing_is_newest_first_and_filtered() {
    let e = AlertEngine::default();
    e.apply(&[slow("GET /a", 1.2)], t(0));
    e.apply(&[slow("GET /a", 1.2), slow("GET /b", 1.2)], t(10));
    e.apply(&[slow("GET /a", 1.2), slow("GET /b", 1.2), slow("GET /c", 1.2)], t(20));
    let keys: Vec<String> = e.list(AlertFilter::All).into_iter().map(|a| a.key).collect();
    assert_eq!(keys, ["GET /c", "GET /b", "GET /a"]);
    let id_b = e.list(AlertFilter::All)[1].id;
    e.resolve(id_b, t(21)).unwrap_or_else(|err| panic!("{err}"));
    let open: Vec<String> = e.list(AlertFilter::Open).into_iter().map(|a| a.key).collect();
    assert_eq!(open, ["GET /c", "GET /a"]);
    let resolved: Vec<String> = e.list(AlertFilter::Resolved).into_iter().map(|a| a.key).collect();
    assert_eq!(resolved, ["GET /b"]);
}

#[test]
fn history_is_bounded_dropping_oldest_resolved() {
    let cap = NonZeroUsize::new(3).unwrap_or(NonZeroUsize::MIN);
    let e = AlertEngine::new(EngineSettings { history: cap, ..EngineSettings::default() });
    for i in 0..10u64 {
        let key = format!("GET /{i}");
        e.apply(&[slow(&key, 1.2)], t(i * 100));
        // The previous alert resolves at the next evaluation (100 s later, no detection of it).
    }
    let all = e.list(AlertFilter::All);
    assert_eq!(all.len(), 3);
    let keys: Vec<&str> = all.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys, ["GET /9", "GET /8", "GET /7"]);
    assert!(!all[0].resolved && all[1].resolved && all[2].resolved);
}

#[test]
fn open_alerts_are_never_dropped_by_the_bound() {
    let cap = NonZeroUsize::new(2).unwrap_or(NonZeroUsize::MIN);
    let e = AlertEngine::new(EngineSettings { history: cap, ..EngineSettings::default() });
    let ds: Vec<Detection> = (0..4).map(|i| slow(&format!("GET /{i}"), 1.2)).collect();
    e.apply(&ds, t(0));
    assert_eq!(e.open_count(), 4);
    assert_eq!(e.len(), 4);
}

#[test]
fn a_new_alert_for_a_fresh_key_is_not_reopened() {
    let e = AlertEngine::default();
    e.apply(&[slow("GET /a", 1.2)], t(0));
    e.apply(&[], t(60));
    let out = e.apply(&[slow("GET /b", 1.2)], t(70));
    assert_eq!((out.opened, out.reopened), (1, 0));
    let b = &e.list(AlertFilter::Open)[0];
    assert_eq!((b.key.as_str(), b.reopened, b.reopens), ("GET /b", false, None));
}

#[test]
fn reopened_alert_links_to_the_resolved_one_of_the_same_type_and_key() {
    let e = AlertEngine::default();
    let err = check_threshold(AlertType::HighErrorRate, "GET /a", 0.5, 0.1).unwrap_or_else(|| panic!("must alert"));
    e.apply(&[slow("GET /a", 1.2), err.clone()], t(0));
    let slow_id = e.list(AlertFilter::All).iter().find(|a| a.alert_type == AlertType::SlowRequest).map(|a| a.id);
    let slow_id = slow_id.unwrap_or_else(|| panic!("no slow alert"));
    e.resolve(slow_id, t(5)).unwrap_or_else(|err| panic!("{err}"));
    let out = e.apply(&[slow("GET /a", 1.2), err], t(10));
    assert_eq!((out.opened, out.reopened, out.unchanged), (1, 1, 1));
    let open = e.list(AlertFilter::Open);
    let reopened = open.iter().find(|a| a.alert_type == AlertType::SlowRequest).unwrap_or_else(|| panic!("none"));
    assert!(reopened.reopened);
    assert_eq!(reopened.reopens, Some(slow_id));
    let still = open.iter().find(|a| a.alert_type == AlertType::HighErrorRate).unwrap_or_else(|| panic!("none"));
    assert!(!still.reopened && still.reopens.is_none());
}
