//! The hit window: counts per tier, ageing out, and the serving tier it
//! implies.

use perf_core::ServingTier;

use super::*;

const T0: u64 = 1_700_000_000;

fn check(memory: &[u64], redis: &[u64], now: u64, expected: (u64, u64, ServingTier)) {
    let w = HitWindow::default();
    for &s in memory {
        w.record(CacheTier::Memory, s);
    }
    for &s in redis {
        w.record(CacheTier::Remote, s);
    }
    let recent = w.recent(now);
    assert_eq!(recent.window_secs, WINDOW_SECS);
    assert_eq!((recent.memory, recent.remote, recent.serving_tier()), expected);
}

#[test]
fn no_hits_serve_nothing() {
    check(&[], &[], T0, (0, 0, ServingTier::None));
}

#[test]
fn the_tier_with_more_recent_hits_serves() {
    check(&[T0, T0, T0 + 1], &[T0 + 2], T0 + 2, (3, 1, ServingTier::Memory));
    check(&[T0], &[T0, T0 + 3, T0 + 9], T0 + 9, (1, 3, ServingTier::Remote));
}

#[test]
fn a_tie_goes_to_redis() {
    check(&[T0], &[T0], T0, (1, 1, ServingTier::Remote));
}

#[test]
fn hits_older_than_the_window_are_forgotten() {
    // Memory served long ago; Redis served within the last 10 s.
    check(&[T0, T0, T0, T0 + 1], &[T0 + 5], T0 + 11, (0, 1, ServingTier::Remote));
    check(&[T0, T0 + 9], &[], T0 + 9 + WINDOW_SECS, (0, 0, ServingTier::None));
}

#[test]
fn a_slot_reused_by_a_later_second_restarts_its_count() {
    // T0 and T0 + 10 share a slot: the later hits replace the older ones.
    check(&[T0, T0, T0 + 10], &[], T0 + 10, (1, 0, ServingTier::Memory));
}

#[test]
fn a_hit_from_the_future_is_not_counted() {
    // A clock that stepped back: hits recorded "ahead" do not count, rather
    // than counting forever.
    check(&[T0 + 5], &[], T0, (0, 0, ServingTier::None));
}
