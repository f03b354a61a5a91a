//! The 0–100 health score with the specification's weights, how open alerts
//! cap its status, and Apdex per endpoint.
//!
//! # Components
//!
//! | component       | weight | value (`input`)                                  | compared with            |
//! |-----------------|--------|--------------------------------------------------|--------------------------|
//! | `response_time` | 0.30   | p95 response time, seconds (`p95_response_time`) | `slow_request_threshold` |
//! | `error_rate`    | 0.25   | failed (5xx) requests / requests (`error_rate`)  | `error_rate_threshold`   |
//! | `memory`        | 0.20   | mean process RSS, MiB (`avg_memory_mb`)          | `high_memory_threshold`  |
//! | `database`      | 0.15   | p95 of all queries, seconds (`p95_query_time`)   | `slow_query_threshold`   |
//! | `cache`         | 0.10   | hits / (hits + misses) (`cache_hit_rate`)        | [`CACHE_TARGET_HIT_RATE`] |
//!
//! The first four are "lower is better" and scored by the ratio
//! `r = value / threshold`: **100 at or under 1x, falling linearly to 0 at
//! 3x** (`100 × (3 − r) / 2`, clamped to 0..=100), so a value at 2x scores 50.
//! The cache is "higher is better": 100 at or above the target hit rate
//! (0.8), falling linearly to 0 at a hit rate of 0.
//!
//! # Per-endpoint inputs
//!
//! Global averages hide a broken route among busy healthy ones, so
//! `response_time` and `error_rate` look at every endpoint too. An endpoint
//! *qualifies* with at least [`MIN_ENDPOINT_REQUESTS`] (10) requests in the
//! window, the same minimum the error-rate alert uses, so one slow or failed
//! request on a quiet route does not sink the score. The component scores
//! **the worse of** the value over all requests and the value of the worst
//! qualifying endpoint (its p95, or its 5xx rate). When an endpoint scores
//! worse than all traffic together, the component reports that endpoint
//! (`endpoint`), its value (`value`) and its requests (`events`), next to the
//! value over all traffic (`overall`); otherwise `value` is `overall` and
//! `endpoint` is `None`. Ties go to the overall value.
//!
//! # Score
//!
//! A component without data in the window (no requests, no system reading,
//! no queries, no cache lookups) has `score: None` and is left out: the
//! weights of the others are divided by their sum, which is reported as
//! `effective_weight`. **Without requests in the window there is no score**
//! (`None`, `null` in JSON) even when other components have data: a service
//! nobody called has not shown that it is healthy. The other components are
//! still computed and reported.
//!
//! # Status
//!
//! The score gives a status by cut-off: healthy at or above
//! [`HEALTHY_CUTOFF`] (80), unhealthy below [`UNHEALTHY_CUTOFF`] (50),
//! degraded in between, and `no_data` without a score. Open alerts then
//! **cap** it, so the status is never better than the worst open alert allows:
//!
//! | worst open alert | best status allowed |
//! |------------------|---------------------|
//! | `critical`       | `unhealthy`         |
//! | `high`           | `degraded`          |
//! | `medium`, `low`  | no cap              |
//!
//! The status is the worse of the two; a cap also replaces `no_data` (an open
//! critical memory alert makes an idle service unhealthy). When a cap made
//! the status worse, `capped_by` names the alert (the most severe, the oldest
//! among equals). The score itself is not changed by alerts: it stays the
//! weighted components, so it can read 85 next to `unhealthy`, with
//! `capped_by` saying why.
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
    Aggregate, Alert, CacheCounts, ComponentScore, ComponentUnit, EndpointApdex, EndpointStats, Health, HealthStatus,
    Severity, Snapshot, StatusCap, SystemStats, Thresholds,
};

/// The health score at or above which the status is healthy.
pub const HEALTHY_CUTOFF: f64 = 80.0;
/// The health score below which the status is unhealthy.
pub const UNHEALTHY_CUTOFF: f64 = 50.0;
/// The cache hit rate that scores 100.
pub const CACHE_TARGET_HIT_RATE: f64 = 0.8;
/// The ratio to the threshold at which a lower-is-better component scores 0.
pub const ZERO_SCORE_RATIO: f64 = 3.0;
/// Requests an endpoint needs in the window before its own p95 and error
/// rate count towards the score.
pub const MIN_ENDPOINT_REQUESTS: u64 = 10;

/// Nominal weights, in the order the components are reported.
const WEIGHTS: [(&str, f64); 5] =
    [("response_time", 0.30), ("error_rate", 0.25), ("memory", 0.20), ("database", 0.15), ("cache", 0.10)];

/// One measured component before weighting.
struct Measured {
    input: &'static str,
    unit: ComponentUnit,
    value: f64,
    threshold: f64,
    overall: f64,
    endpoint: Option<String>,
    events: u64,
    score: f64,
}

/// The health score of a snapshot under `thresholds`, its status capped by
/// `open_alerts` (resolved alerts in the slice are ignored); see the module
/// docs for every rule.
pub fn health(snapshot: &Snapshot, thresholds: &Thresholds, open_alerts: &[Alert]) -> Health {
    let t = thresholds;
    let requests = &snapshot.requests;
    let measured: [Option<Measured>; 5] = [
        (requests.count > 0).then(|| {
            worst_of_endpoints(
                "p95_response_time",
                ComponentUnit::Seconds,
                requests.p95,
                requests.count,
                t.slow_request_threshold,
                snapshot,
                |a| a.p95,
            )
        }),
        (requests.count > 0).then(|| {
            worst_of_endpoints(
                "error_rate",
                ComponentUnit::Ratio,
                requests.error_rate(),
                requests.count,
                t.error_rate_threshold,
                snapshot,
                Aggregate::error_rate,
            )
        }),
        memory_mb(&snapshot.system)
            .map(|v| overall("avg_memory_mb", ComponentUnit::Mib, v, t.high_memory_threshold, snapshot.system.samples)),
        (snapshot.queries.count > 0).then(|| {
            overall(
                "p95_query_time",
                ComponentUnit::Seconds,
                snapshot.queries.p95,
                t.slow_query_threshold,
                snapshot.queries.count,
            )
        }),
        cache_hit_rate(&snapshot.cache).map(|h| Measured {
            input: "cache_hit_rate",
            unit: ComponentUnit::Ratio,
            value: h,
            threshold: CACHE_TARGET_HIT_RATE,
            overall: h,
            endpoint: None,
            events: snapshot.cache.hits() + snapshot.cache.misses(),
            score: score_hit_rate(h),
        }),
    ];
    let present: f64 = WEIGHTS.iter().zip(&measured).filter(|(_, m)| m.is_some()).map(|((_, w), _)| *w).sum();
    let components: Vec<ComponentScore> = WEIGHTS
        .iter()
        .zip(measured)
        .map(|(&(name, weight), m)| {
            let effective_weight = if m.is_some() && present > 0.0 { weight / present } else { 0.0 };
            match m {
                Some(m) => ComponentScore {
                    name: name.to_owned(),
                    score: Some(m.score),
                    weight,
                    effective_weight,
                    input: m.input.to_owned(),
                    unit: m.unit,
                    value: Some(m.value),
                    threshold: Some(m.threshold),
                    overall: Some(m.overall),
                    endpoint: m.endpoint,
                    events: m.events,
                },
                None => {
                    let (input, unit) = component_input(name);
                    ComponentScore {
                        name: name.to_owned(),
                        score: None,
                        weight,
                        effective_weight,
                        input: input.to_owned(),
                        unit,
                        value: None,
                        threshold: None,
                        overall: None,
                        endpoint: None,
                        events: 0,
                    }
                }
            }
        })
        .collect();
    let score = (requests.count > 0 && present > 0.0).then(|| {
        components.iter().filter_map(|c| c.score.map(|s| s * c.effective_weight)).sum::<f64>().clamp(0.0, 100.0)
    });
    let by_score = score.map_or(HealthStatus::NoData, status_of);
    let cap = worst_cap(open_alerts);
    let (status, capped_by) = match cap {
        Some(c) if by_score.worst(c.status) != by_score => (c.status, Some(c)),
        _ => (by_score, None),
    };
    Health { score, status, capped_by, components }
}

/// The best status an open alert of `severity` allows: `unhealthy` for
/// critical, `degraded` for high, no cap (`None`) for medium and low.
pub(crate) fn status_cap(severity: Severity) -> Option<HealthStatus> {
    match severity {
        Severity::Critical => Some(HealthStatus::Unhealthy),
        Severity::High => Some(HealthStatus::Degraded),
        Severity::Medium | Severity::Low => None,
    }
}

/// The cap of the most severe open alert (the oldest among equals), if any caps.
pub(crate) fn worst_cap(open_alerts: &[Alert]) -> Option<StatusCap> {
    let worst = open_alerts
        .iter()
        .filter(|a| !a.resolved && status_cap(a.severity).is_some())
        .max_by(|a, b| a.severity.cmp(&b.severity).then_with(|| b.id.cmp(&a.id)))?;
    Some(StatusCap {
        alert_id: worst.id,
        alert_type: worst.alert_type,
        key: worst.key.clone(),
        severity: worst.severity,
        status: status_cap(worst.severity)?,
    })
}

/// The status of a score: healthy at or above 80, unhealthy below 50.
pub(crate) fn status_of(score: f64) -> HealthStatus {
    if score >= HEALTHY_CUTOFF {
        HealthStatus::Healthy
    } else if score >= UNHEALTHY_CUTOFF {
        HealthStatus::Degraded
    } else {
        HealthStatus::Unhealthy
    }
}

/// 100 at or under the threshold, linear to 0 at 3x; 0 for a non-finite ratio.
pub(crate) fn score_lower_is_better(value: f64, threshold: f64) -> f64 {
    let ratio = value / threshold;
    if !ratio.is_finite() {
        return if value <= 0.0 { 100.0 } else { 0.0 };
    }
    (100.0 * (ZERO_SCORE_RATIO - ratio) / (ZERO_SCORE_RATIO - 1.0)).clamp(0.0, 100.0)
}

/// 100 at or above the target hit rate, linear to 0 at a hit rate of 0.
pub(crate) fn score_hit_rate(hit_rate: f64) -> f64 {
    if hit_rate.is_nan() {
        return 0.0;
    }
    (100.0 * hit_rate / CACHE_TARGET_HIT_RATE).clamp(0.0, 100.0)
}

/// Mean process RSS over the window in MiB, or the latest reading when the
/// window holds none; `None` without any reading.
pub(crate) fn memory_mb(system: &SystemStats) -> Option<f64> {
    if system.samples > 0 { Some(system.avg_rss_mb) } else { current_memory_mb(system) }
}

/// The latest process RSS reading in MiB, if any.
pub(crate) fn current_memory_mb(system: &SystemStats) -> Option<f64> {
    system.current.map(|s| s.rss_mb())
}

/// hits / (hits + misses), `None` without lookups.
pub(crate) fn cache_hit_rate(cache: &CacheCounts) -> Option<f64> {
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
pub(crate) fn apdex_target(thresholds: &Thresholds) -> f64 {
    thresholds.slow_request_threshold / 4.0
}

/// Apdex of one aggregate with target `t` (see the module docs), `None`
/// without events.
pub(crate) fn apdex_of(stats: &Aggregate, t: f64) -> Option<f64> {
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
pub(crate) fn endpoint_name(e: &EndpointStats) -> String {
    e.key().to_string()
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

/// A component scored by its overall value alone.
fn overall(input: &'static str, unit: ComponentUnit, value: f64, threshold: f64, events: u64) -> Measured {
    Measured {
        input,
        unit,
        value,
        threshold,
        overall: value,
        endpoint: None,
        events,
        score: score_lower_is_better(value, threshold),
    }
}

/// A lower-is-better component scored by the worse of its overall value and
/// the worst qualifying endpoint's `value_of`.
fn worst_of_endpoints(
    input: &'static str,
    unit: ComponentUnit,
    overall_value: f64,
    overall_events: u64,
    threshold: f64,
    snapshot: &Snapshot,
    value_of: impl Fn(&Aggregate) -> f64,
) -> Measured {
    let mut best = overall(input, unit, overall_value, threshold, overall_events);
    let worst = snapshot
        .endpoints
        .iter()
        .filter(|e| e.stats.count >= MIN_ENDPOINT_REQUESTS)
        .map(|e| (e, value_of(&e.stats)))
        .filter(|(_, v)| !v.is_nan())
        .max_by(|(_, a), (_, b)| a.total_cmp(b));
    if let Some((e, v)) = worst {
        let score = score_lower_is_better(v, threshold);
        if score < best.score {
            best = Measured { value: v, endpoint: Some(endpoint_name(e)), events: e.stats.count, score, ..best };
        }
    }
    best
}

/// The input and unit a component reports when it has no data.
fn component_input(name: &str) -> (&'static str, ComponentUnit) {
    match name {
        "response_time" => ("p95_response_time", ComponentUnit::Seconds),
        "error_rate" => ("error_rate", ComponentUnit::Ratio),
        "memory" => ("avg_memory_mb", ComponentUnit::Mib),
        "database" => ("p95_query_time", ComponentUnit::Seconds),
        _ => ("cache_hit_rate", ComponentUnit::Ratio),
    }
}

#[cfg(test)]
mod tests;
