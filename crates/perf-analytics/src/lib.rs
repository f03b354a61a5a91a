//! Performance analytics for perfkit: the 0–100 health score with the
//! specification's weights, Apdex per endpoint, continuous de-duplicated
//! alerts, trends with a robust slope and a significance test,
//! rule-based recommendations with their evidence, and the detailed report.
//!
//! Everything here is a pure function of a [`perf_core::Snapshot`] (or a
//! series), the [`perf_core::Thresholds`] and the time, plus an alert engine
//! that keeps state between evaluations. It reads metrics only through
//! [`perf_core::MetricsSource`] and knows nothing about HTTP or databases.
//!
//! ```
//! use perf_analytics::health;
//! use perf_core::{HealthStatus, MetricsSource, Store, Thresholds, Window};
//!
//! let store = Store::with_defaults();
//! let snapshot = store.snapshot(Window::DEFAULT);
//! let h = health(&snapshot, &Thresholds::DEVELOPMENT);
//! // No data in any component: nothing says the service is unwell.
//! assert_eq!(h.score, 100.0);
//! assert_eq!(h.status, HealthStatus::Healthy);
//! ```
mod alerts;
mod engine;
mod error;
mod evaluator;
mod health;
mod recommend;
mod service;
mod stats;
mod trends;

#[cfg(test)]
mod fixtures;

pub use crate::{
    alerts::{AlertRules, Detection, OVERALL_KEY, PROCESS_KEY, check, detect},
    engine::{AlertEngine, EngineSettings, Outcome},
    error::AnalyticsError,
    evaluator::AlertEvaluator,
    health::{
        CACHE_TARGET_HIT_RATE, HEALTHY_CUTOFF, UNHEALTHY_CUTOFF, ZERO_SCORE_RATIO, apdex, apdex_of, apdex_target,
        cache_hit_rate, current_memory_mb, endpoint_name, health, memory_mb, score_hit_rate, score_lower_is_better,
        status_of,
    },
    recommend::{RecommendSettings, recommend},
    service::{Analytics, AnalyticsSettings, SUMMARY_WINDOW},
    stats::{MannKendall, mann_kendall, median, theil_sen},
    trends::{
        Better, TrendPoint, TrendSettings, collect_trends, gauge_trends, memory_trend, request_trends,
        series_with_percentiles, trend,
    },
};
