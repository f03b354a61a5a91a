//! The alert rules: which conditions hold in a snapshot, and how severe they are.
//!
//! | type              | key                       | value                           | threshold                |
//! |-------------------|---------------------------|---------------------------------|--------------------------|
//! | `slow_request`    | `METHOD route`            | the endpoint's p95, seconds     | `slow_request_threshold` |
//! | `slow_query`      | the fingerprint           | the fingerprint's p95, seconds  | `slow_query_threshold`   |
//! | `high_memory`     | `process`                 | latest process RSS, MiB         | `high_memory_threshold`  |
//! | `high_error_rate` | `METHOD route`, `overall` | failed (5xx) / requests         | `error_rate_threshold`   |
//!
//! The p95 is used for latency so that one outlier among many fast requests
//! raises nothing while a slow tail does. Error-rate rules need at least
//! [`AlertRules::min_requests`] requests (default 10) in the window, so one
//! failure in one request is no alert. Severity is
//! [`Severity::from_ratio`]`(value / threshold)`: over 1x low, over 1.5x
//! medium, over 2x high, over 3x critical, boundaries exclusive.

use perf_core::{AlertType, QueryKind, Severity, Snapshot, Thresholds};

use crate::health::{current_memory_mb, endpoint_name};

/// The key of the memory alert.
pub(crate) const PROCESS_KEY: &str = "process";
/// The key of the overall error-rate alert.
pub(crate) const OVERALL_KEY: &str = "overall";

/// Tunables of the alert rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertRules {
    /// Requests needed in the window before an error rate can alert (default 10).
    pub min_requests: u64,
}

impl Default for AlertRules {
    fn default() -> Self {
        AlertRules { min_requests: 10 }
    }
}

/// A condition that holds in a snapshot: the raw material of an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// What it is about.
    pub alert_type: AlertType,
    /// The endpoint, fingerprint, `process` or `overall`.
    pub key: String,
    /// The observed value.
    pub value: f64,
    /// The threshold it exceeds.
    pub threshold: f64,
    /// Severity by ratio.
    pub severity: Severity,
    /// Human-readable description.
    pub message: String,
}

/// Every condition that holds in `snapshot` under `thresholds`, in a stable
/// order (slow requests, slow queries, memory, error rates).
pub fn detect(snapshot: &Snapshot, thresholds: &Thresholds, rules: &AlertRules) -> Vec<Detection> {
    let mut out = Vec::new();
    let t = thresholds;
    // The endpoint's name is only built for the few endpoints over a threshold.
    for e in snapshot.endpoints.iter().filter(|e| e.stats.count > 0 && e.stats.p95 > t.slow_request_threshold) {
        if let Some(d) =
            check_threshold(AlertType::SlowRequest, &endpoint_name(e), e.stats.p95, t.slow_request_threshold)
        {
            out.push(d);
        }
    }
    // Only queries run inside requests (the snapshot keeps background ones
    // apart), and never schema changes: a slow CREATE TABLE is not a problem to alert on.
    for q in snapshot.query_stats.iter().filter(|q| q.stats.count > 0 && q.kind != QueryKind::Schema) {
        if let Some(d) = check_threshold(AlertType::SlowQuery, &q.fingerprint, q.stats.p95, t.slow_query_threshold) {
            out.push(d);
        }
    }
    if let Some(mb) = current_memory_mb(&snapshot.system)
        && let Some(d) = check_threshold(AlertType::HighMemory, PROCESS_KEY, mb, t.high_memory_threshold)
    {
        out.push(d);
    }
    if snapshot.requests.count >= rules.min_requests.max(1)
        && let Some(d) = check_threshold(
            AlertType::HighErrorRate,
            OVERALL_KEY,
            snapshot.requests.error_rate(),
            t.error_rate_threshold,
        )
    {
        out.push(d);
    }
    for e in snapshot
        .endpoints
        .iter()
        .filter(|e| e.stats.count >= rules.min_requests.max(1) && e.stats.error_rate() > t.error_rate_threshold)
    {
        let (key, rate) = (endpoint_name(e), e.stats.error_rate());
        if let Some(d) = check_threshold(AlertType::HighErrorRate, &key, rate, t.error_rate_threshold) {
            out.push(d);
        }
    }
    out
}

/// A detection when `value` exceeds `threshold`.
pub fn check_threshold(alert_type: AlertType, key: &str, value: f64, threshold: f64) -> Option<Detection> {
    let ratio = value / threshold;
    let severity = Severity::from_ratio(ratio)?;
    Some(Detection {
        alert_type,
        key: key.to_owned(),
        value,
        threshold,
        severity,
        message: message(alert_type, key, value, threshold, ratio),
    })
}

fn message(alert_type: AlertType, key: &str, value: f64, threshold: f64, ratio: f64) -> String {
    match alert_type {
        AlertType::SlowRequest => format!(
            "{key}: p95 response time {:.0} ms is {ratio:.1}x the {:.0} ms threshold",
            value * 1e3,
            threshold * 1e3
        ),
        AlertType::SlowQuery => {
            format!("query {key}: p95 {:.1} ms is {ratio:.1}x the {:.1} ms threshold", value * 1e3, threshold * 1e3)
        }
        AlertType::HighMemory => {
            format!("process memory {value:.1} MiB is {ratio:.1}x the {threshold:.0} MiB threshold")
        }
        AlertType::HighErrorRate => {
            format!("{key}: error rate {:.1} % is {ratio:.1}x the {:.1} % threshold", value * 100.0, threshold * 100.0)
        }
    }
}

#[cfg(test)]
mod tests;
