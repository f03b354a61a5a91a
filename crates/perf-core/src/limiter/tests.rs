//! Tests of the log limiter: one line per key and interval, bounded keys.

use std::{num::NonZeroUsize, time::Duration};

use super::*;

fn at(secs: u64) -> Timestamp {
    Timestamp::from_unix_micros(1_000_000_000 + secs * 1_000_000)
}

#[test]
fn one_line_per_key_and_interval_with_the_held_back_count() {
    let l = LogLimiter::new(Duration::from_secs(60));
    let k = LogLimiter::key(&["GET /a", "SELECT 1"]);
    let mut written = Vec::new();
    // 1 line per second for 150 s: written at 0, 60 and 120.
    for s in 0..150 {
        if let Some(held) = l.check(k, at(s)) {
            written.push((s, held));
        }
    }
    assert_eq!(written, [(0, 0), (60, 59), (120, 59)]);
}

#[test]
fn keys_are_independent() {
    let l = LogLimiter::new(Duration::from_secs(60));
    let a = LogLimiter::key(&["GET /a", "q"]);
    let b = LogLimiter::key(&["GET /b", "q"]);
    assert_ne!(a, b);
    assert_eq!(l.check(a, at(0)), Some(0));
    assert_eq!(l.check(b, at(0)), Some(0));
    assert_eq!(l.check(a, at(1)), None);
    assert_eq!(l.check(b, at(1)), None);
}

#[test]
fn keys_past_the_capacity_share_one_line_per_interval() {
    let l = LogLimiter::with_capacity(Duration::from_secs(60), NonZeroUsize::new(4).unwrap());
    let written = (0..1_000u32).filter(|i| l.check(LogLimiter::key(&[&i.to_string()]), at(1)).is_some()).count();
    // 4 tracked keys write their first line; the other 996 share the overflow key: 1 more line.
    assert_eq!(written, 5);
    assert!(l.entries.lock().len() <= 5);
    // After the interval, expired keys make room again.
    assert_eq!(l.check(LogLimiter::key(&["new"]), at(70)), Some(0));
    assert!(l.entries.lock().len() <= 5);
}
