//! Tests of Theil–Sen, Mann–Kendall and erfc against known values.

use super::*;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1e-300)
}

#[test]
fn erfc_matches_reference_values() {
    // Reference values from a double-precision erfc.
    for (x, want) in [
        (0.0, 1.0),
        (0.5, 0.4795001221869535),
        (1.0, 0.15729920705028513),
        (2.0, 0.004677734981047266),
        (-1.0, 1.8427007929497148),
    ] {
        assert!(close(erfc(x), want, 2e-7), "erfc({x}) = {}, want {want}", erfc(x));
    }
}

#[test]
fn mann_kendall_strictly_increasing_ten_points() {
    // S = 45, Var = 10·9·25/18 = 125, Z = 44/√125, p ≈ 8.303e-5.
    let ys: Vec<f64> = (1..=10).map(f64::from).collect();
    let mk = mann_kendall(&ys);
    assert_eq!(mk.s, 45);
    assert!(close(mk.variance, 125.0, 1e-12));
    assert!(close(mk.z, 3.9354796403996297, 1e-12));
    assert!(close(mk.p_value, 8.303070332644999e-05, 1e-5), "{}", mk.p_value);
}

#[test]
fn mann_kendall_with_ties() {
    // Tie groups of 2 and 3: Var = (1176 − 18 − 66)/18 = 60.667, S = 24.
    let mk = mann_kendall(&[1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0, 5.0]);
    assert_eq!(mk.s, 24);
    assert!(close(mk.variance, 60.666666666666664, 1e-12));
    assert!(close(mk.z, 2.9529273983252993, 1e-12));
    assert!(close(mk.p_value, 0.003147759855700587, 1e-5), "{}", mk.p_value);
}

#[test]
fn mann_kendall_decreasing_with_ties() {
    let mk = mann_kendall(&[5.0, 3.0, 4.0, 4.0, 2.0, 3.0, 1.0, 2.0, 1.0, 0.0]);
    assert_eq!(mk.s, -33);
    assert!(close(mk.variance, 121.0, 1e-12));
    assert!(close(mk.z, -2.909090909090909, 1e-12));
    assert!(close(mk.p_value, 0.0036248143852060932, 1e-5), "{}", mk.p_value);
}

#[test]
fn mann_kendall_all_equal_has_no_evidence() {
    let mk = mann_kendall(&[3.0; 12]);
    assert_eq!(mk.s, 0);
    assert_eq!(mk.z, 0.0);
    assert_eq!(mk.p_value, 1.0);
}

#[test]
fn mann_kendall_of_too_few_points() {
    assert_eq!(mann_kendall(&[]).p_value, 1.0);
    assert_eq!(mann_kendall(&[1.0]).p_value, 1.0);
}

#[test]
fn theil_sen_ignores_an_outlier() {
    let mut pts: Vec<(f64, f64)> = (0..10).map(|i| (f64::from(i), 2.0 * f64::from(i) + 1.0)).collect();
    pts[7].1 = 1_000.0;
    assert_eq!(theil_sen(&pts), Some(2.0));
}

#[test]
fn theil_sen_even_number_of_slopes_takes_the_middle_pair() {
    // Slopes: (0,0)-(1,1) = 1, (0,0)-(2,4) = 2, (1,1)-(2,4) = 3 → median 2;
    // add (3, 3): slopes 1, 2, 3, 1, 1, -1 → sorted -1 1 1 1 2 3 → median 1.
    assert_eq!(theil_sen(&[(0.0, 0.0), (1.0, 1.0), (2.0, 4.0)]), Some(2.0));
    assert_eq!(theil_sen(&[(0.0, 0.0), (1.0, 1.0), (2.0, 4.0), (3.0, 3.0)]), Some(1.0));
}

#[test]
fn theil_sen_needs_two_distinct_x() {
    assert_eq!(theil_sen(&[]), None);
    assert_eq!(theil_sen(&[(1.0, 1.0), (1.0, 5.0)]), None);
    assert_eq!(theil_sen(&[(0.0, f64::NAN), (1.0, 1.0)]), None);
}

#[test]
fn median_of_odd_and_even() {
    assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
    assert_eq!(median(&mut []), None);
}
