//! Tests of the breaker's transitions and the backoff.

use super::*;

#[test]
fn opens_after_threshold_consecutive_failures() {
    let b = Breaker::new(3);
    assert!(!b.record_failure(false));
    assert!(!b.record_failure(false));
    assert!(b.allows());
    assert!(b.record_failure(false));
    assert_eq!(b.state(), BreakerState::Open);
    // Already open: later failures do not start another probe.
    assert!(!b.record_failure(false));
    assert_eq!(b.times_opened(), 1);
}

#[test]
fn success_resets_the_count() {
    let b = Breaker::new(2);
    assert!(!b.record_failure(false));
    b.record_success();
    assert!(!b.record_failure(false));
    assert!(b.allows());
}

#[test]
fn a_stall_opens_immediately() {
    let b = Breaker::new(3);
    assert!(b.record_failure(true));
    assert!(!b.allows());
    assert!(!b.available());
}

#[test]
fn probe_cycle_half_opens_then_closes() {
    let b = Breaker::new(1);
    assert!(b.record_failure(false));
    b.half_open();
    assert_eq!(b.state(), BreakerState::HalfOpen);
    assert!(!b.allows());
    b.reopen();
    assert_eq!(b.state(), BreakerState::Open);
    b.half_open();
    b.close();
    assert_eq!(b.state(), BreakerState::Closed);
    assert!(b.available());
}

#[test]
fn backoff_doubles_up_to_max_and_resets() {
    let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
    let delays: Vec<_> = (0..4).map(|_| b.next_delay().as_millis()).collect();
    assert_eq!(delays, vec![100, 200, 350, 350]);
    b.reset();
    assert_eq!(b.next_delay(), Duration::from_millis(100));
}
