//! Robust trend statistics: the Theil–Sen slope and the Mann–Kendall test.

/// The Theil–Sen slope of `(x, y)` points: the median of the slopes of all
/// pairs with distinct `x`. `None` with fewer than two distinct `x`, or a
/// non-finite input.
///
/// # Guarantees
/// O(n²) time and memory in the number of points; callers bound `n`.
pub(crate) fn theil_sen(points: &[(f64, f64)]) -> Option<f64> {
    if points.iter().any(|(x, y)| !x.is_finite() || !y.is_finite()) {
        return None;
    }
    let n = points.len();
    let mut slopes = Vec::with_capacity(n.saturating_mul(n.saturating_sub(1)) / 2);
    for (i, &(xi, yi)) in points.iter().enumerate() {
        for &(xj, yj) in &points[i + 1..] {
            let dx = xj - xi;
            if dx != 0.0 {
                slopes.push((yj - yi) / dx);
            }
        }
    }
    median(&mut slopes)
}

/// The result of a Mann–Kendall trend test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct MannKendall {
    /// The statistic S: concordant minus discordant pairs.
    pub(crate) s: i64,
    /// Var(S) with the tie correction.
    pub(crate) variance: f64,
    /// The continuity-corrected standard score.
    pub(crate) z: f64,
    /// Two-sided p-value under the normal approximation.
    pub(crate) p_value: f64,
}

/// The Mann–Kendall test of `ys` in time order: S = Σ sign(y_j − y_i) over
/// i < j, Var(S) = [n(n−1)(2n+5) − Σ t(t−1)(2t+5)] / 18 over tie groups of
/// size t, Z = (S − sign(S)) / √Var(S), p = 2(1 − Φ(|Z|)). With no variance
/// (fewer than two points, or all equal) Z = 0 and p = 1.
pub(crate) fn mann_kendall(ys: &[f64]) -> MannKendall {
    let n = ys.len();
    let mut s: i64 = 0;
    for (i, &a) in ys.iter().enumerate() {
        for &b in &ys[i + 1..] {
            s += match b.partial_cmp(&a) {
                Some(std::cmp::Ordering::Greater) => 1,
                Some(std::cmp::Ordering::Less) => -1,
                _ => 0,
            };
        }
    }
    let mut sorted: Vec<f64> = ys.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut ties = 0.0;
    let mut run = 1usize;
    for i in 1..=sorted.len() {
        if i < sorted.len() && sorted[i] == sorted[i - 1] {
            run += 1;
        } else {
            if run > 1 {
                let t = run as f64;
                ties += t * (t - 1.0) * (2.0 * t + 5.0);
            }
            run = 1;
        }
    }
    let nf = n as f64;
    let variance = ((nf * (nf - 1.0) * (2.0 * nf + 5.0) - ties) / 18.0).max(0.0);
    let z = if variance <= 0.0 || s == 0 {
        0.0
    } else if s > 0 {
        (s - 1) as f64 / variance.sqrt()
    } else {
        (s + 1) as f64 / variance.sqrt()
    };
    let p_value = if variance <= 0.0 { 1.0 } else { erfc(z.abs() / std::f64::consts::SQRT_2).clamp(0.0, 1.0) };
    MannKendall { s, variance, z, p_value }
}

/// The median of `values` (reordered in place), `None` when empty.
pub(crate) fn median(values: &mut [f64]) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mid = n / 2;
    let (_, &mut upper, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    if n % 2 == 1 {
        return Some(upper);
    }
    let lower = values[..mid].iter().copied().max_by(f64::total_cmp).unwrap_or(upper);
    Some((lower + upper) / 2.0)
}

/// The complementary error function, with fractional error under 1.2e-7
/// (Chebyshev fit from Numerical Recipes, `erfcc`).
pub(crate) fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests;
