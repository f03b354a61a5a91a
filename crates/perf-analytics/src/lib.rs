//! Performance analytics for perfkit: the 0–100 health score with the
//! specification's weights, Apdex per endpoint, continuous de-duplicated
//! alerts, trends with a robust slope and a significance test,
//! rule-based recommendations with their evidence, and the detailed report.
//!
//! The rules are pure functions of a [`perf_core::Snapshot`] (or a series),
//! the [`perf_core::Thresholds`] and the time: [`health()`], [`apdex`],
//! [`detect`] (one rule at a time: [`check_threshold`]), [`trend`],
//! [`recommend`]. [`AlertEngine`] keeps alerts between
//! evaluations (one open alert per type and key, escalating, easing and
//! resolving itself after a hold-down). [`Analytics`] puts them together
//! behind [`perf_core::AnalyticsService`], reading metrics only through
//! [`perf_core::MetricsSource`]; [`AlertEvaluator`] runs its evaluation on a
//! background thread every `ALERT_EVALUATION_INTERVAL`. The crate knows
//! nothing about HTTP or databases.
//!
//! How the health score is made, and how open alerts cap its status, is
//! documented in the [`health`](mod@health) module.
//!
//! ```
//! use std::{sync::Arc, time::Duration};
//! use perf_analytics::Analytics;
//! use perf_core::{
//!     AlertFilter, AlertType, AnalyticsService, Clock, HealthStatus, ManualClock, Method, Recorder,
//!     RequestSample, SharedThresholds, Store, StoreConfig, Timestamp,
//! };
//!
//! let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_700_000_000)));
//! let thresholds = Arc::new(SharedThresholds::default()); // 1 s slow-request threshold
//! let store = Arc::new(Store::new(StoreConfig::default(), clock.clone(), thresholds.clone())?);
//! for _ in 0..20 {
//!     let slow = RequestSample::new(Method::Get, Some("/api/report"), 200, Duration::from_millis(2_500), clock.now(), &*thresholds);
//!     store.record_request(&slow);
//! }
//! let analytics = Analytics::new(store, thresholds, clock);
//! analytics.evaluate(); // what the background evaluator does every 10 s
//!
//! let alerts = analytics.alerts(AlertFilter::Open);
//! assert_eq!(alerts[0].alert_type, AlertType::SlowRequest);
//! assert_eq!(alerts[0].key, "GET /api/report");
//! let summary = analytics.summary(perf_analytics::SUMMARY_WINDOW);
//! assert_eq!(summary.active_alerts, 1);
//! // p95 at 2.5x costs most of the 30 % weight; the alert is high (over 2x), which caps at degraded too.
//! assert_eq!(summary.status, HealthStatus::Degraded);
//! assert_eq!(summary.components[0].endpoint, None); // the only endpoint is all the traffic
//! # Ok::<(), perf_core::CoreError>(())
//! ```
mod alerts;
mod engine;
mod error;
mod evaluator;
pub mod health;
mod recommend;
mod service;
mod stats;
mod trends;

#[cfg(test)]
mod fixtures;

pub use crate::{
    alerts::{AlertRules, Detection, check_threshold, detect},
    engine::{AlertEngine, EngineSettings, Outcome},
    error::AnalyticsError,
    evaluator::AlertEvaluator,
    health::{apdex, health},
    recommend::{RecommendSettings, recommend},
    service::{Analytics, AnalyticsSettings, SUMMARY_WINDOW},
    trends::{Better, TrendPoint, TrendSettings, trend},
};
