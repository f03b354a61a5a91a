//! [`Analytics`]: the [`AnalyticsService`] over a metrics source, the
//! thresholds and a clock, with the alert engine it feeds.

use std::{sync::Arc, time::Duration};

use parking_lot::{Condvar, Mutex};
use perf_core::{
    Alert, AlertError, AlertFilter, AnalyticsReport, AnalyticsService, CachePerformance, Clock, DetailedReport,
    KeyMetrics, MetricsSource, Summary, ThresholdStore, TrendReport, Window,
};

use crate::{
    alerts::{AlertRules, detect},
    engine::{AlertEngine, EngineSettings, Outcome},
    health::{apdex, cache_hit_rate, current_memory_mb, health},
    recommend::{RecommendSettings, recommend},
    trends::{TrendSettings, collect_trends, memory_trend},
};

/// Everything [`Analytics`] can be tuned with; the defaults follow the
/// specification.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnalyticsSettings {
    /// Alert rule tunables.
    pub rules: AlertRules,
    /// Alert hold-down and history bound.
    pub engine: EngineSettings,
    /// Trend tunables.
    pub trends: TrendSettings,
    /// Recommendation tunables.
    pub recommend: RecommendSettings,
    /// The window each alert evaluation looks at (default 2 minutes: the
    /// current roll-up minute and the one before, so an evaluation early in
    /// a minute still sees a minute of data).
    pub alert_window: Window,
    /// Endpoints and queries listed in the detailed report (default 10).
    pub top: usize,
}

impl Default for AnalyticsSettings {
    fn default() -> Self {
        AnalyticsSettings {
            rules: AlertRules::default(),
            engine: EngineSettings::default(),
            trends: TrendSettings::default(),
            recommend: RecommendSettings::default(),
            alert_window: Window::minutes(2).unwrap_or(Window::DEFAULT),
            top: 10,
        }
    }
}

/// The default window of [`AnalyticsService::summary`] (the API's default).
pub const SUMMARY_WINDOW: Window = Window::DEFAULT;

/// Health, alerts, trends, recommendations and reports over a
/// [`MetricsSource`]; implements [`AnalyticsService`].
///
/// Reads (`analytics`, `summary`, `trends`, `report`) never change state.
/// Alerts come from evaluations: call [`Analytics::evaluate`] or run an
/// [`AlertEvaluator`](crate::AlertEvaluator) that calls it every
/// `ALERT_EVALUATION_INTERVAL`.
///
/// # Guarantees
/// Every method costs O(keys × buckets) of the window plus
/// O(`top_endpoints` × 60²) for trends; none blocks on I/O. Safe to share
/// between threads.
pub struct Analytics {
    source: Arc<dyn MetricsSource>,
    thresholds: Arc<dyn ThresholdStore>,
    clock: Arc<dyn Clock>,
    engine: AlertEngine,
    settings: AnalyticsSettings,
    evaluations: Mutex<u64>,
    evaluated: Condvar,
}

impl std::fmt::Debug for Analytics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analytics")
            .field("settings", &self.settings)
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl Analytics {
    /// Analytics with the default settings.
    pub fn new(source: Arc<dyn MetricsSource>, thresholds: Arc<dyn ThresholdStore>, clock: Arc<dyn Clock>) -> Self {
        Analytics::with_settings(source, thresholds, clock, AnalyticsSettings::default())
    }

    /// Analytics over the context's metrics source, thresholds and clock.
    pub fn from_context(ctx: &perf_core::PerfContext) -> Self {
        Analytics::new(ctx.source().clone(), ctx.thresholds().clone(), ctx.clock().clone())
    }

    /// Analytics with explicit settings.
    pub fn with_settings(
        source: Arc<dyn MetricsSource>,
        thresholds: Arc<dyn ThresholdStore>,
        clock: Arc<dyn Clock>,
        settings: AnalyticsSettings,
    ) -> Self {
        Analytics {
            source,
            thresholds,
            clock,
            engine: AlertEngine::new(settings.engine),
            settings,
            evaluations: Mutex::new(0),
            evaluated: Condvar::new(),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &AnalyticsSettings {
        &self.settings
    }

    /// The alert engine.
    pub fn engine(&self) -> &AlertEngine {
        &self.engine
    }

    /// Runs the alert rules over the alert window now and applies them to
    /// the engine: opens, updates, escalates, eases and auto-resolves.
    pub fn evaluate(&self) -> Outcome {
        let snapshot = self.source.snapshot(self.settings.alert_window);
        let detections = detect(&snapshot, &self.thresholds.thresholds(), &self.settings.rules);
        let outcome = self.engine.apply(&detections, self.clock.now());
        let mut n = self.evaluations.lock();
        *n += 1;
        self.evaluated.notify_all();
        outcome
    }

    /// Evaluations run so far.
    pub fn evaluations(&self) -> u64 {
        *self.evaluations.lock()
    }

    /// Waits until at least `n` evaluations have run or `timeout` passes;
    /// returns whether they did. For callers that start an evaluator and
    /// need its first result (e.g. tests), without sleeping.
    pub fn wait_for_evaluations(&self, n: u64, timeout: Duration) -> bool {
        let mut count = self.evaluations.lock();
        let deadline = std::time::Instant::now() + timeout;
        while *count < n {
            if self.evaluated.wait_until(&mut count, deadline).timed_out() {
                return *count >= n;
            }
        }
        true
    }
}

impl AnalyticsService for Analytics {
    fn analytics(&self, window: Window) -> AnalyticsReport {
        let snapshot = self.source.snapshot(window);
        let thresholds = self.thresholds.thresholds();
        let alerts = self.engine.list(AlertFilter::Open);
        let h = health(&snapshot, &thresholds, &alerts);
        let memory = memory_trend(&self.source.gauges(window), &self.settings.trends);
        let details = recommend(&snapshot, &thresholds, Some(&memory), &self.settings.recommend);
        AnalyticsReport {
            timestamp: self.clock.now().to_datetime(),
            period_minutes: window.as_minutes(),
            health_score: h.score,
            status: h.status,
            capped_by: h.capped_by,
            components: h.components,
            alerts,
            recommendations: details.iter().map(|r| r.message.clone()).collect(),
            recommendation_details: details,
            cache_performance: cache_performance(&snapshot.cache),
            apdex: apdex(&snapshot, &thresholds),
        }
    }

    fn summary(&self, window: Window) -> Summary {
        let snapshot = self.source.snapshot(window);
        let alerts = self.engine.list(AlertFilter::Open);
        let h = health(&snapshot, &self.thresholds.thresholds(), &alerts);
        let r = &snapshot.requests;
        let requested = r.count > 0;
        Summary {
            period_minutes: window.as_minutes(),
            status: h.status,
            health_score: h.score,
            capped_by: h.capped_by,
            components: h.components,
            active_alerts: alerts.len(),
            key_metrics: KeyMetrics {
                total_requests: r.count,
                avg_response_time: requested.then_some(r.avg),
                error_rate: requested.then(|| r.error_rate()),
                client_error_rate: requested.then(|| r.client_error_rate()),
                cache_hit_rate: cache_hit_rate(&snapshot.cache),
                memory_usage_mb: current_memory_mb(&snapshot.system),
            },
        }
    }

    fn alerts(&self, filter: AlertFilter) -> Vec<Alert> {
        self.engine.list(filter)
    }

    fn resolve_alert(&self, id: u64) -> Result<Alert, AlertError> {
        self.engine.resolve(id, self.clock.now())
    }

    fn trends(&self, window: Window) -> TrendReport {
        let snapshot = self.source.snapshot(window);
        TrendReport {
            timestamp: self.clock.now().to_datetime(),
            period_minutes: window.as_minutes(),
            trends: collect_trends(self.source.as_ref(), &snapshot, window, &self.settings.trends),
        }
    }

    fn report(&self, window: Window) -> DetailedReport {
        let snapshot = self.source.snapshot(window);
        let thresholds = self.thresholds.thresholds();
        let alerts = self.engine.list(AlertFilter::Open);
        let trends = collect_trends(self.source.as_ref(), &snapshot, window, &self.settings.trends);
        let memory = trends.iter().find(|t| t.metric == "memory_mb" && t.scope == "overall");
        let recommendations = recommend(&snapshot, &thresholds, memory, &self.settings.recommend);
        let mut top_endpoints = snapshot.endpoints.clone();
        top_endpoints
            .sort_by(|a, b| b.stats.p95.total_cmp(&a.stats.p95).then_with(|| b.stats.count.cmp(&a.stats.count)));
        top_endpoints.truncate(self.settings.top);
        // The snapshot lists queries by total time already.
        let top_queries = snapshot.query_stats.iter().take(self.settings.top).cloned().collect();
        DetailedReport {
            timestamp: self.clock.now().to_datetime(),
            period_minutes: window.as_minutes(),
            health: health(&snapshot, &thresholds, &alerts),
            alerts,
            trends,
            top_endpoints,
            top_queries,
            n_plus_one: snapshot.n_plus_one.clone(),
            cache: snapshot.cache,
            cache_performance: cache_performance(&snapshot.cache),
            system: snapshot.system,
            recommendations,
        }
    }
}

fn cache_performance(cache: &perf_core::CacheCounts) -> CachePerformance {
    CachePerformance { hit_rate: cache.hit_rate(), total_operations: cache.total_operations() }
}

#[cfg(test)]
mod tests;
