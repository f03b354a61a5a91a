//! Tests of the log-linear histogram.

use super::*;

#[test]
fn small_values_are_exact() {
    for v in 0..32 {
        assert_eq!(bin_value(bin_of(v)), v as f64);
    }
}

#[test]
fn bins_are_monotonic_and_cover_the_range() {
    let mut last = 0;
    let mut v = 1u64;
    while v < LIMIT {
        let b = bin_of(v);
        assert!(b >= last, "bin of {v} went backwards");
        assert!(b < BINS);
        last = b;
        v = v + v / 7 + 1;
    }
    assert_eq!(bin_of(LIMIT), BINS - 1);
    assert_eq!(bin_of(u64::MAX), BINS - 1);
    assert_eq!(bin_of(LIMIT - 1), BINS - 1);
}

#[test]
fn midpoint_error_is_under_one_sixty_fourth() {
    let mut v = 32u64;
    while v < LIMIT {
        let est = bin_value(bin_of(v));
        let err = (est - v as f64).abs() / v as f64;
        assert!(err <= 1.0 / 64.0 + 1e-12, "value {v} estimated {est}, error {err}");
        v = v * 3 / 2 + 1;
    }
}

#[test]
fn arena_entries_round_trip_exact_counts() {
    let cases = [(1023, 1), (0, SHORT_MAX), (3, SHORT_MAX + 1), (7, 65_536), (512, u32::MAX)];
    let mut units = Vec::new();
    for (bin, count) in cases {
        let before = units.len();
        encode(bin, count, |u| units.push(u));
        assert_eq!(units.len() - before, encoded_len(count));
    }
    assert_eq!(units.len(), 1 + 1 + 3 + 3 + 3);
    let mut it = units.iter().copied();
    let mut back = Vec::new();
    decode(|| it.next(), |bin, count| back.push((bin, count)));
    assert_eq!(back, cases);
    // A long entry missing its halves decodes nothing more.
    let mut cut = units[..units.len() - 1].iter().copied();
    let mut n = 0;
    decode(|| cut.next(), |_, _| n += 1);
    assert_eq!(n, cases.len() - 1);
    let mut d = Dense::new();
    d.add_bin(7, u32::MAX);
    d.add_bin(7, 10);
    assert_eq!(d.iter().collect::<Vec<_>>(), vec![(7, u32::MAX)]);
}

#[test]
fn percentiles_use_nearest_rank() {
    let mut d = Dense::new();
    for v in 1..=10u64 {
        d.record(bin_of(v));
    }
    assert_eq!(d.percentiles([0.5, 0.9, 1.0], 1, 10), [5.0, 9.0, 10.0]);
}

#[test]
fn range_tracking_survives_merge_and_clear() {
    let mut a = Dense::new();
    assert!(a.is_empty() && a.total() == 0);
    a.record(100);
    a.record(40);
    let mut b = Dense::new();
    b.record(900);
    b.add_dense(&a);
    assert_eq!(b.iter().map(|(bin, _)| bin).collect::<Vec<_>>(), vec![40, 100, 900]);
    b.clear();
    assert!(b.is_empty() && b.total() == 0);
    b.record(5);
    assert_eq!(b.iter().collect::<Vec<_>>(), vec![(5, 1)]);
}
