//! The [`AnalyticsService`] trait and the documents it produces: health
//! score, alerts, trends, recommendations and the detailed report.
//! Implemented by perf-analytics; served by perf-http.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AlertError, CacheCounts, EndpointStats, NPlusOneFinding, QueryStats, SystemStats, Window};

/// Alert severity by the ratio of the observed value to its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Over 1x the threshold.
    Low,
    /// Over 1.5x.
    Medium,
    /// Over 2x.
    High,
    /// Over 3x.
    Critical,
}

impl Severity {
    /// The severity of `value / threshold`, `None` at or under 1x (or for a
    /// ratio that is not a number). Boundaries are exclusive: exactly 2x is
    /// `Medium`, just over 2x is `High`.
    pub fn from_ratio(ratio: f64) -> Option<Severity> {
        if ratio.is_nan() || ratio <= 1.0 {
            None
        } else if ratio > 3.0 {
            Some(Severity::Critical)
        } else if ratio > 2.0 {
            Some(Severity::High)
        } else if ratio > 1.5 {
            Some(Severity::Medium)
        } else {
            Some(Severity::Low)
        }
    }

    /// The lowercase name used in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertType {
    /// An endpoint's responses are slow (key: the endpoint).
    SlowRequest,
    /// A query fingerprint is slow (key: the fingerprint).
    SlowQuery,
    /// Process memory is high (key: `process`).
    HighMemory,
    /// Too many requests fail (key: an endpoint, or `overall`).
    HighErrorRate,
}

/// How an alert was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// A user resolved it through the API.
    Manual,
    /// Its condition stayed clear for the hold-down period.
    Auto,
}

/// One alert. Open alerts are unique per (type, key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable id.
    pub id: u64,
    /// What it is about.
    #[serde(rename = "type")]
    pub alert_type: AlertType,
    /// Current severity.
    pub severity: Severity,
    /// Human-readable description.
    pub message: String,
    /// The endpoint, fingerprint, `process` or `overall`.
    pub key: String,
    /// The observed value (seconds, MiB or a fraction).
    pub value: f64,
    /// The threshold it was compared with.
    pub threshold: f64,
    /// When it opened.
    pub created_at: DateTime<Utc>,
    /// When its condition was last seen.
    pub last_seen: DateTime<Utc>,
    /// Whether it is resolved.
    pub resolved: bool,
    /// When it was resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// How it was resolved.
    pub resolution: Option<Resolution>,
    /// Whether this alert re-opens one that was resolved: the same (type,
    /// key) fired before, its alert was resolved, and the condition returned.
    #[serde(default)]
    pub reopened: bool,
    /// The id of the resolved alert this one re-opens (the latest resolved
    /// alert of the same type and key still kept), when `reopened`.
    #[serde(default)]
    pub reopens: Option<u64>,
}

/// Overall health status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Score at or above the healthy cut-off and no open alert that caps it.
    Healthy,
    /// Between the cut-offs, or capped here by an open `high` alert.
    Degraded,
    /// Below the unhealthy cut-off, or capped here by an open `critical` alert.
    Unhealthy,
    /// No requests in the window: there is nothing to score (the score is
    /// `None`), and no open alert caps the status.
    NoData,
}

impl HealthStatus {
    /// The lowercase name used in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "healthy",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Unhealthy => "unhealthy",
            HealthStatus::NoData => "no_data",
        }
    }

    /// The worse of two scored statuses (healthy < degraded < unhealthy);
    /// [`HealthStatus::NoData`] gives way to any other status.
    pub fn worst(self, other: HealthStatus) -> HealthStatus {
        let rank = |s: HealthStatus| match s {
            HealthStatus::NoData => 0,
            HealthStatus::Healthy => 1,
            HealthStatus::Degraded => 2,
            HealthStatus::Unhealthy => 3,
        };
        if rank(other) > rank(self) { other } else { self }
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The unit of a health component's value and threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentUnit {
    /// Seconds (latencies).
    Seconds,
    /// A fraction 0..=1 (error rate, hit rate).
    Ratio,
    /// Mebibytes (process memory).
    Mib,
}

/// One component of the health score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentScore {
    /// `response_time`, `error_rate`, `memory`, `database` or `cache`.
    pub name: String,
    /// 0..=100, `None` when the component had no data.
    pub score: Option<f64>,
    /// Nominal weight (0.30, 0.25, 0.20, 0.15, 0.10).
    pub weight: f64,
    /// Weight after renormalizing over components with data (0 without data).
    pub effective_weight: f64,
    /// What the value measures, e.g. `p95_response_time`, `error_rate`,
    /// `avg_memory_mb`, `p95_query_time`, `cache_hit_rate`.
    pub input: String,
    /// The unit of `value`, `overall` and `threshold`.
    pub unit: ComponentUnit,
    /// The value the score came from: the worse of the overall value and the
    /// worst qualifying endpoint's (see `endpoint`).
    pub value: Option<f64>,
    /// The threshold it was compared with (for the cache: the target hit rate).
    pub threshold: Option<f64>,
    /// The value over all traffic, before per-endpoint values were considered.
    pub overall: Option<f64>,
    /// The endpoint (`METHOD route`) whose value drove the score, when an
    /// endpoint scored worse than all traffic together; `None` otherwise.
    pub endpoint: Option<String>,
    /// The events behind `value`: requests (of `endpoint` when set), system
    /// readings, queries or cache lookups.
    pub events: u64,
}

/// The open alert that holds the status below what the score alone gives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusCap {
    /// The alert's id.
    pub alert_id: u64,
    /// What it is about.
    #[serde(rename = "type")]
    pub alert_type: AlertType,
    /// Its key.
    pub key: String,
    /// Its severity.
    pub severity: Severity,
    /// The best status its severity allows (`unhealthy` for critical,
    /// `degraded` for high).
    pub status: HealthStatus,
}

/// The health score and its parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// 0..=100, the weighted components; `None` without requests in the window.
    pub score: Option<f64>,
    /// The worse of the score's status by cut-off and the cap of the worst
    /// open alert; `no_data` without requests and without a capping alert.
    pub status: HealthStatus,
    /// The open alert that made the status worse than the score alone, if any.
    pub capped_by: Option<StatusCap>,
    /// The components.
    pub components: Vec<ComponentScore>,
}

/// Hit rate and volume of the cache, as in the specification.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct CachePerformance {
    /// hits / lookups.
    pub hit_rate: f64,
    /// All cache operations.
    pub total_operations: u64,
}

/// A recommendation with the evidence behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// A stable rule name, e.g. `slow_endpoint`.
    pub rule: String,
    /// How urgent it is.
    pub severity: Severity,
    /// The advice in words.
    pub message: String,
    /// The endpoint, fingerprint or subsystem it concerns.
    pub subject: String,
    /// The numbers behind it, as (name, value) pairs.
    pub evidence: Vec<(String, f64)>,
}

/// Apdex of one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointApdex {
    /// `METHOD route`.
    pub endpoint: String,
    /// 0..=1, `None` without requests.
    pub apdex: Option<f64>,
    /// The target time T, seconds.
    pub target: f64,
}

/// `GET /api/performance/analytics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyticsReport {
    /// When it was computed.
    pub timestamp: DateTime<Utc>,
    /// The window.
    pub period_minutes: u32,
    /// 0..=100, `None` without requests in the window.
    pub health_score: Option<f64>,
    /// Status by cut-off, capped by open alerts (see [`Health::status`]).
    pub status: HealthStatus,
    /// The open alert that capped the status, if any.
    pub capped_by: Option<StatusCap>,
    /// Components of the score.
    pub components: Vec<ComponentScore>,
    /// Open alerts.
    pub alerts: Vec<Alert>,
    /// Recommendations in words.
    pub recommendations: Vec<String>,
    /// Recommendations with evidence.
    pub recommendation_details: Vec<Recommendation>,
    /// Cache hit rate and volume.
    pub cache_performance: CachePerformance,
    /// Apdex per endpoint.
    pub apdex: Vec<EndpointApdex>,
}

/// The key metrics of the summary; each is `None` where the window holds
/// nothing to measure it by.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct KeyMetrics {
    /// Requests in the window.
    pub total_requests: u64,
    /// Mean response time, seconds; `None` without requests.
    pub avg_response_time: Option<f64>,
    /// Failed (5xx) requests / requests; `None` without requests.
    pub error_rate: Option<f64>,
    /// Client-error (4xx) requests / requests; `None` without requests.
    pub client_error_rate: Option<f64>,
    /// Cache hits / lookups; `None` without lookups.
    pub cache_hit_rate: Option<f64>,
    /// MiB, the latest reading; `None` without one.
    pub memory_usage_mb: Option<f64>,
}

/// `GET /api/performance/summary`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The window.
    pub period_minutes: u32,
    /// Status by cut-off, capped by open alerts (see [`Health::status`]).
    pub status: HealthStatus,
    /// 0..=100, `None` without requests in the window.
    pub health_score: Option<f64>,
    /// The open alert that capped the status, if any.
    pub capped_by: Option<StatusCap>,
    /// The components of the score, with their inputs.
    pub components: Vec<ComponentScore>,
    /// Open alerts.
    pub active_alerts: usize,
    /// The headline numbers.
    pub key_metrics: KeyMetrics,
}

/// Direction of a trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrendDirection {
    /// Getting better, significantly.
    Improving,
    /// No significant change.
    Stable,
    /// Getting worse, significantly.
    Degrading,
    /// Too few points to tell.
    InsufficientData,
}

/// One trend verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    /// e.g. `avg_response_time`, `p95_response_time`, `error_rate`, `memory_mb`,
    /// `query_time`, `cache_hit_rate`.
    pub metric: String,
    /// `overall` or `METHOD route`.
    pub scope: String,
    /// The verdict.
    pub direction: TrendDirection,
    /// Theil–Sen slope in metric units per hour.
    pub slope_per_hour: Option<f64>,
    /// Mann–Kendall two-sided p-value.
    pub p_value: Option<f64>,
    /// Points used.
    pub points: usize,
}

/// `GET /api/performance/trends`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendReport {
    /// When it was computed.
    pub timestamp: DateTime<Utc>,
    /// The window.
    pub period_minutes: u32,
    /// The verdicts.
    pub trends: Vec<Trend>,
}

/// `GET /api/performance/report`: everything in one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetailedReport {
    /// When it was computed.
    pub timestamp: DateTime<Utc>,
    /// The window.
    pub period_minutes: u32,
    /// Score and components.
    pub health: Health,
    /// Open alerts.
    pub alerts: Vec<Alert>,
    /// Trend verdicts.
    pub trends: Vec<Trend>,
    /// Slowest endpoints by p95.
    pub top_endpoints: Vec<EndpointStats>,
    /// Costliest queries by total time.
    pub top_queries: Vec<QueryStats>,
    /// N+1 findings.
    pub n_plus_one: Vec<NPlusOneFinding>,
    /// Cache operations.
    pub cache: CacheCounts,
    /// Cache hit rate and volume.
    pub cache_performance: CachePerformance,
    /// Process and machine.
    pub system: SystemStats,
    /// Recommendations with evidence.
    pub recommendations: Vec<Recommendation>,
}

/// Which alerts to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AlertFilter {
    /// Open and resolved.
    #[default]
    All,
    /// Open only.
    Open,
    /// Resolved only.
    Resolved,
}

/// What the API needs from the analytics side.
///
/// # Guarantees
/// Methods are synchronous and cost O(keys × buckets); they never block on I/O.
pub trait AnalyticsService: Send + Sync {
    /// Health score, open alerts, recommendations and cache performance over `window`.
    fn analytics(&self, window: Window) -> AnalyticsReport;
    /// The quick overview over `window`.
    fn summary(&self, window: Window) -> Summary;
    /// Alerts, newest first.
    fn alerts(&self, filter: AlertFilter) -> Vec<Alert>;
    /// Resolves an alert by id and returns it.
    ///
    /// # Errors
    /// [`AlertError::NotFound`] for an unknown id; nothing changes.
    fn resolve_alert(&self, id: u64) -> Result<Alert, AlertError>;
    /// Trend verdicts over `window`.
    fn trends(&self, window: Window) -> TrendReport;
    /// The detailed report over `window`.
    fn report(&self, window: Window) -> DetailedReport;
}

impl<T: AnalyticsService + ?Sized> AnalyticsService for std::sync::Arc<T> {
    fn analytics(&self, window: Window) -> AnalyticsReport {
        (**self).analytics(window)
    }
    fn summary(&self, window: Window) -> Summary {
        (**self).summary(window)
    }
    fn alerts(&self, filter: AlertFilter) -> Vec<Alert> {
        (**self).alerts(filter)
    }
    fn resolve_alert(&self, id: u64) -> Result<Alert, AlertError> {
        (**self).resolve_alert(id)
    }
    fn trends(&self, window: Window) -> TrendReport {
        (**self).trends(window)
    }
    fn report(&self, window: Window) -> DetailedReport {
        (**self).report(window)
    }
}
