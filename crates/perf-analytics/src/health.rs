//! The 0–100 health score with the specification's weights, and Apdex per endpoint.
//!
//! # Components
//!
//! | component       | weight | value                                   | compared with            |
//! |-----------------|--------|-----------------------------------------|--------------------------|
//! | `response_time` | 0.30   | p95 of all requests, seconds            | `slow_request_threshold` |
//! | `error_rate`    | 0.25   | failed (5xx) requests / requests        | `error_rate_threshold`   |
//! | `memory`        | 0.20   | mean process RSS over the window, MiB   | `high_memory_threshold`  |
//! | `database`      | 0.15   | p95 of all queries, seconds             | `slow_query_threshold`   |
//! | `cache`         | 0.10   | hits / (hits + misses)                  | [`CACHE_TARGET_HIT_RATE`] |
//!
//! The first four are "lower is better" and scored by the ratio
//! `r = value / threshold`: **100 at or under 1x, falling linearly to 0 at
//! 3x** (`100 × (3 − r) / 2`, clamped to 0..=100), so a value at 2x scores 50.
//! The cache is "higher is better": 100 at or above the target hit rate
//! (0.8), falling linearly to 0 at a hit rate of 0.
//!
//! A component without data in the window (no requests, no system reading,
//! no queries, no cache lookups) has `score: None` and is left out: the
//! weights of the others are divided by their sum, which is reported as
//! `effective_weight`. When no component has data the score is 100 and the
//! status healthy: nothing in the window says otherwise.
//!
//! # Status
//!
//! Healthy at or above [`HEALTHY_CUTOFF`] (80), unhealthy below
//! [`UNHEALTHY_CUTOFF`] (50), degraded in between.
//!
//! # Apdex
//!
//! Standard Apdex with target `T = slow_request_threshold / 4`, so a request
//! is *frustrated* exactly when it is slow (over 4T) and the store's exact
//! slow count gives the frustrated share. The store keeps latency histograms,
//! not raw samples, so the *satisfied* count (at or under T) is estimated from
//! the endpoint's percentiles: the empirical distribution function is
//! interpolated linearly through (min, 0), (p50, 0.5), (p90, 0.9), (p95, 0.95),
//! (p99, 0.99) and (max, 1). The estimate is exact when T lies outside
//! [min, max] and otherwise off by at most the share between two known
//! percentiles. Apdex = (satisfied + tolerating / 2) / requests. Failed
//! requests are scored by their latency like any other: the store does not
//! say how fast its failures were, so they are not moved to frustrated.

use perf_core::{
    Aggregate, CacheCounts, ComponentScore, EndpointApdex, EndpointStats, Health, HealthStatus, Snapshot, SystemStats,
    Thresholds,
};

/// The health score at or above which the status is healthy.
pub const HEALTHY_CUTOFF: f64 = 80.0;
/// The health score below which the status is unhealthy.
pub const UNHEALTHY_CUTOFF: f64 = 50.0;
/// The cache hit rate that scores 100.
pub const CACHE_TARGET_HIT_RATE: f64 = 0.8;
/// The ratio to the threshold at which a lower-is-better component scores 0.
pub const ZERO_SCORE_RATIO: f64 = 3.0;

/// Nominal weights, in the order the components are reported.
const WEIGHTS: [(&str, f64); 5] =
    [("response_time", 0.30), ("error_rate", 0.25), ("memory", 0.20), ("database", 0.15), ("cache", 0.10)];

const MIB: f64 = 1_048_576.0;

/// The health score of a snapshot under `thresholds`; see the module docs
/// for every formula.
pub fn health(snapshot: &Snapshot, thresholds: &Thresholds) -> Health {
    let measured = [
        measure_latency(&snapshot.requests, thresholds.slow_request_threshold),
        (snapshot.requests.count > 0)
            .then(|| (snapshot.requests.error_rate(), thresholds.error_rate_threshold))
            .map(|(v, t)| (v, t, score_lower_is_better(v, t))),
        memory_mb(&snapshot.system)
            .map(|v| (v, thresholds.high_memory_threshold, score_lower_is_better(v, thresholds.high_memory_threshold))),
        measure_latency(&snapshot.queries, thresholds.slow_query_threshold),
        cache_hit_rate(&snapshot.cache).map(|h| (h, CACHE_TARGET_HIT_RATE, score_hit_rate(h))),
    ];
    let present: f64 = WEIGHTS.iter().zip(&measured).filter(|(_, m)| m.is_some()).map(|((_, w), _)| *w).sum();
    let components: Vec<ComponentScore> = WEIGHTS
        .iter()
        .zip(&measured)
        .map(|(&(name, weight), m)| ComponentScore {
            name: name.to_owned(),
            score: m.map(|(_, _, s)| s),
            weight,
            effective_weight: if m.is_some() && present > 0.0 { weight / present } else { 0.0 },
            value: m.map(|(v, _, _)| v),
            threshold: m.map(|(_, t, _)| t),
        })
        .collect();
    let score = if present > 0.0 {
        components.iter().filter_map(|c| c.score.map(|s| s * c.effective_weight)).sum::<f64>().clamp(0.0, 100.0)
    } else {
        100.0
    };
    Health { score, status: status_of(score), components }
}

/// The status of a score: healthy at or above 80, unhealthy below 50.
pub fn status_of(score: f64) -> HealthStatus {
    if score >= HEALTHY_CUTOFF {
        HealthStatus::Healthy
    } else if score >= UNHEALTHY_CUTOFF {
        HealthStatus::Degraded
    } else {
        HealthStatus::Unhealthy
    }
}

/// 100 at or under the threshold, linear to 0 at 3x; 0 for a non-finite ratio.
pub fn score_lower_is_better(value: f64, threshold: f64) -> f64 {
    let ratio = value / threshold;
    if !ratio.is_finite() {
        return if value <= 0.0 { 100.0 } else { 0.0 };
    }
    (100.0 * (ZERO_SCORE_RATIO - ratio) / (ZERO_SCORE_RATIO - 1.0)).clamp(0.0, 100.0)
}

/// 100 at or above the target hit rate, linear to 0 at a hit rate of 0.
pub fn score_hit_rate(hit_rate: f64) -> f64 {
    if hit_rate.is_nan() {
        return 0.0;
    }
    (100.0 * hit_rate / CACHE_TARGET_HIT_RATE).clamp(0.0, 100.0)
}

/// Mean process RSS over the window in MiB, or the latest reading when the
/// window holds none; `None` without any reading.
pub fn memory_mb(system: &SystemStats) -> Option<f64> {
    if system.samples > 0 { Some(system.avg_rss_mb) } else { system.current.map(|s| s.rss_bytes as f64 / MIB) }
}

/// The latest process RSS reading in MiB, if any.
pub fn current_memory_mb(system: &SystemStats) -> Option<f64> {
    system.current.map(|s| s.rss_bytes as f64 / MIB)
}

/// hits / (hits + misses), `None` without lookups.
pub fn cache_hit_rate(cache: &CacheCounts) -> Option<f64> {
    (cache.hits() + cache.misses() > 0).then(|| cache.hit_rate())
}

/// Apdex of every endpoint in the snapshot, in the snapshot's order.
pub fn apdex(snapshot: &Snapshot, thresholds: &Thresholds) -> Vec<EndpointApdex> {
    let target = apdex_target(thresholds);
    snapshot
        .endpoints
        .iter()
        .map(|e| EndpointApdex { endpoint: endpoint_name(e), apdex: apdex_of(&e.stats, target), target })
        .collect()
}

/// The Apdex target T: a quarter of the slow-request threshold, so that
/// "frustrated" (over 4T) means "slow".
pub fn apdex_target(thresholds: &Thresholds) -> f64 {
    thresholds.slow_request_threshold / 4.0
}

/// Apdex of one aggregate with target `t` (see the module docs), `None`
/// without events.
pub fn apdex_of(stats: &Aggregate, t: f64) -> Option<f64> {
    if stats.count == 0 {
        return None;
    }
    let n = stats.count as f64;
    let frustrated = (stats.slow as f64).min(n);
    let satisfied = (n * share_at_or_under(stats, t)).round().min(n - frustrated);
    let tolerating = n - frustrated - satisfied;
    Some(((satisfied + tolerating / 2.0) / n).clamp(0.0, 1.0))
}

/// `METHOD route`, the key alerts, trends and Apdex use for an endpoint.
pub fn endpoint_name(e: &EndpointStats) -> String {
    format!("{} {}", e.method, e.route)
}

/// The estimated share of events at or under `t`, by linear interpolation of
/// the distribution function through the known percentiles.
fn share_at_or_under(stats: &Aggregate, t: f64) -> f64 {
    let knots =
        [(stats.min, 0.0), (stats.p50, 0.5), (stats.p90, 0.9), (stats.p95, 0.95), (stats.p99, 0.99), (stats.max, 1.0)];
    if t < stats.min {
        return 0.0;
    }
    if t >= stats.max {
        return 1.0;
    }
    for pair in knots.windows(2) {
        let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
        if t < x1 {
            // Equal knots (x1 == x0) cannot reach here because t >= x0 and t < x1.
            return y0 + (y1 - y0) * (t - x0) / (x1 - x0);
        }
    }
    1.0
}

fn measure_latency(stats: &Aggregate, threshold: f64) -> Option<(f64, f64, f64)> {
    (stats.count > 0).then(|| (stats.p95, threshold, score_lower_is_better(stats.p95, threshold)))
}

#[cfg(test)]
mod tests;
