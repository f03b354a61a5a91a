//! Trend verdicts: improving, stable, degrading or insufficient data, from a
//! Theil–Sen slope and a Mann–Kendall test over a window's buckets.
//!
//! # Metrics
//!
//! Overall: `avg_response_time`, `p95_response_time`, `error_rate` (all
//! requests), `memory_mb` (process RSS), `query_time` (mean query time),
//! `cache_hit_rate`. Per endpoint (the [`TrendSettings::top_endpoints`]
//! busiest, default 10, so the cost stays flat however many endpoints the
//! store holds): `avg_response_time`, `p95_response_time`, `error_rate`.
//! Every metric is lower-is-better except the cache hit rate.
//!
//! # Method
//!
//! 1. One value per non-empty bucket of the window, oldest first, weighted by
//!    its events (requests, queries, readings or lookups). Empty buckets are
//!    skipped, not read as zero.
//! 2. More than [`TrendSettings::max_points`] buckets (default 60) are merged
//!    into at most that many equal runs of consecutive buckets (weighted means), which
//!    bounds the O(n²) statistics and damps bucket noise.
//! 3. Fewer than [`TrendSettings::min_points`] points (default 8) give
//!    `insufficient_data` with no slope or p-value: no guess.
//! 4. The Theil–Sen slope (in metric units per hour) and the two-sided
//!    Mann–Kendall p-value (normal approximation, tie-corrected) are
//!    computed. The trend is significant when p < [`TrendSettings::alpha`]
//!    (default 0.05), the slope is non-zero, and the change the slope implies
//!    over the points' span is at least [`TrendSettings::min_relative_change`]
//!    (default 5 %) of the median level, so a statistically clear but
//!    negligible drift stays `stable`.
//! 5. A significant rise of a lower-is-better metric is `degrading`, a fall
//!    `improving`; the reverse for the cache hit rate.
//!
//! # Percentiles
//!
//! Fine buckets (10 s by default) carry no percentiles, only roll-up buckets
//! (1 min) do. For `p95_response_time` over a window the fine tier serves,
//! the series is read again at roll-up resolution
//! (`MetricsSource::series_at` with `SeriesResolution::Rollup`). A 5-minute
//! window therefore has at most 5 p95 points: `insufficient_data`. Merged runs of p95 values use the
//! count-weighted mean of the bucket p95s, an approximation of the run's p95.
//!
//! # Cost
//!
//! An aggregate series over roll-ups merges a latency histogram per roll-up
//! bucket per key, so it costs about keys × buckets histogram merges; see
//! [`TrendSettings::max_rollup_cost`] for the limit that keeps a 24-hour
//! trend report over 1,000 endpoints from taking seconds.

use perf_core::{
    GaugePoint, MetricsSource, SeriesKey, SeriesPoint, SeriesResolution, Snapshot, Trend, TrendDirection, Window,
};

use crate::{health::endpoint_name, stats};

/// How trends are computed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendSettings {
    /// Fewest points that give a verdict (default 8).
    pub min_points: usize,
    /// Most points the statistics run on; longer series are merged (default 60).
    pub max_points: usize,
    /// Significance level of the Mann–Kendall test (default 0.05).
    pub alpha: f64,
    /// Smallest change over the span, relative to the median level, that
    /// counts as a trend (default 0.05).
    pub min_relative_change: f64,
    /// How many of the busiest endpoints get their own trends (default 10).
    pub top_endpoints: usize,
    /// Largest cost, in keys × roll-up buckets, of reading an aggregate
    /// series (all requests or all queries) over roll-up buckets (default
    /// 100,000, e.g. 1,000 endpoints × 100 minutes). Reading roll-ups costs
    /// the store a latency histogram per bucket per key, so 1,000 endpoints
    /// over 24 h would take seconds; past the budget those overall trends
    /// are `insufficient_data` with 0 points. Per-endpoint trends, memory
    /// and cache are not limited.
    pub max_rollup_cost: u64,
}

impl Default for TrendSettings {
    fn default() -> Self {
        TrendSettings {
            min_points: 8,
            max_points: 60,
            alpha: 0.05,
            min_relative_change: 0.05,
            top_endpoints: 10,
            max_rollup_cost: 100_000,
        }
    }
}

/// Which way is better for a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Response times, error rates, memory, query time.
    Lower,
    /// Cache hit rate.
    Higher,
}

/// One bucket's contribution to a trend: time in hours, value, weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendPoint {
    /// Time, hours since any fixed origin.
    pub hours: f64,
    /// The metric's value in the bucket.
    pub value: f64,
    /// How many events the value summarizes (for merging).
    pub weight: f64,
}

/// The verdict for one metric from its per-bucket points (oldest first,
/// empty buckets as `None`); see the module docs for the method.
pub fn trend(
    metric: &str,
    scope: &str,
    points: &[Option<TrendPoint>],
    better: Better,
    settings: &TrendSettings,
) -> Trend {
    let merged = merge(points, settings.max_points.max(2));
    let mut t = Trend {
        metric: metric.to_owned(),
        scope: scope.to_owned(),
        direction: TrendDirection::InsufficientData,
        slope_per_hour: None,
        p_value: None,
        points: merged.len(),
    };
    if merged.len() < settings.min_points.max(2) {
        return t;
    }
    let origin = merged[0].hours;
    let xy: Vec<(f64, f64)> = merged.iter().map(|p| (p.hours - origin, p.value)).collect();
    let ys: Vec<f64> = merged.iter().map(|p| p.value).collect();
    let Some(slope) = stats::theil_sen(&xy) else { return t };
    let mk = stats::mann_kendall(&ys);
    let span = xy.last().map_or(0.0, |p| p.0);
    let mut levels: Vec<f64> = ys.iter().map(|y| y.abs()).collect();
    let level = stats::median(&mut levels).unwrap_or(0.0);
    let material = level <= 0.0 || (slope * span).abs() >= settings.min_relative_change * level;
    let significant = mk.p_value < settings.alpha && slope != 0.0 && material;
    t.slope_per_hour = Some(slope);
    t.p_value = Some(mk.p_value);
    t.direction = if !significant {
        TrendDirection::Stable
    } else if (slope > 0.0) == (better == Better::Lower) {
        TrendDirection::Degrading
    } else {
        TrendDirection::Improving
    };
    t
}

/// Trends of a request series: `avg_response_time` and `error_rate` from
/// `series`, `p95_response_time` from `p95_series` (roll-up buckets).
pub(crate) fn request_trends(
    scope: &str,
    series: &[SeriesPoint],
    p95_series: &[SeriesPoint],
    settings: &TrendSettings,
) -> Vec<Trend> {
    let avg: Vec<_> = series.iter().map(|p| (p.count > 0).then(|| point(p, p.avg, p.count))).collect();
    let p95: Vec<_> = p95_series.iter().map(|p| p.has_percentiles.then(|| point(p, p.p95, p.count))).collect();
    let err: Vec<_> =
        series.iter().map(|p| (p.count > 0).then(|| point(p, p.errors as f64 / p.count as f64, p.count))).collect();
    vec![
        trend("avg_response_time", scope, &avg, Better::Lower, settings),
        trend("p95_response_time", scope, &p95, Better::Lower, settings),
        trend("error_rate", scope, &err, Better::Lower, settings),
    ]
}

/// The `memory_mb` trend of the process RSS.
pub(crate) fn memory_trend(gauges: &[GaugePoint], settings: &TrendSettings) -> Trend {
    let mem: Vec<_> =
        gauges.iter().map(|g| (g.samples > 0).then(|| gauge_point(g, g.rss_mb, g.samples as f64))).collect();
    trend("memory_mb", "overall", &mem, Better::Lower, settings)
}

fn cache_trend(gauges: &[GaugePoint], settings: &TrendSettings) -> Trend {
    let hit: Vec<_> = gauges
        .iter()
        .map(|g| {
            let lookups = g.cache_hits + g.cache_misses;
            (lookups > 0).then(|| gauge_point(g, g.cache_hits as f64 / lookups as f64, lookups as f64))
        })
        .collect();
    trend("cache_hit_rate", "overall", &hit, Better::Higher, settings)
}

/// Every trend of the module docs over `window`, reading series from `source`.
///
/// Aggregate series (all requests, all queries) over roll-up buckets are
/// read only within [`TrendSettings::max_rollup_cost`]; beyond it their
/// trends are reported as `insufficient_data` with 0 points.
pub(crate) fn collect_trends(
    source: &dyn MetricsSource,
    snapshot: &Snapshot,
    window: Window,
    settings: &TrendSettings,
) -> Vec<Trend> {
    let mut out = Vec::with_capacity(6 + 3 * settings.top_endpoints);
    let budget = Budget { keys: snapshot.endpoints.len() as u64, max: settings.max_rollup_cost };
    let empty: [Option<TrendPoint>; 0] = [];
    if budget.allows(window.as_minutes()) {
        let overall = source.series(&SeriesKey::Requests, window);
        let overall_p95 = percentile_series(source, &SeriesKey::Requests, window, &overall, budget);
        out.extend(request_trends("overall", &overall, &overall_p95, settings));
    } else {
        for metric in ["avg_response_time", "p95_response_time", "error_rate"] {
            out.push(trend(metric, "overall", &empty, Better::Lower, settings));
        }
    }
    let gauges = source.gauges(window);
    out.push(memory_trend(&gauges, settings));
    let query_budget = Budget { keys: snapshot.query_stats.len() as u64, ..budget };
    if query_budget.allows(window.as_minutes()) {
        let queries = source.series(&SeriesKey::Queries, window);
        let qt: Vec<_> = queries.iter().map(|p| (p.count > 0).then(|| point(p, p.avg, p.count))).collect();
        out.push(trend("query_time", "overall", &qt, Better::Lower, settings));
    } else {
        out.push(trend("query_time", "overall", &empty, Better::Lower, settings));
    }
    out.push(cache_trend(&gauges, settings));
    let one = Budget { keys: 1, max: u64::MAX };
    for e in snapshot.endpoints.iter().take(settings.top_endpoints) {
        let key = SeriesKey::Endpoint { method: e.method, route: e.route.clone() };
        let series = source.series(&key, window);
        let p95 = percentile_series(source, &key, window, &series, one);
        out.extend(request_trends(&endpoint_name(e), &series, &p95, settings));
    }
    out
}

/// The longest window the fine tier serves with the default store sizing.
const DEFAULT_FINE_MINUTES: u32 = 60;

/// A cost limit for reading an aggregate over roll-up buckets.
#[derive(Clone, Copy)]
struct Budget {
    keys: u64,
    max: u64,
}

impl Budget {
    /// Whether a read over `minutes` fits: windows the default fine tier
    /// serves always do; longer ones cost about keys × minutes roll-up buckets.
    fn allows(self, minutes: u32) -> bool {
        minutes <= DEFAULT_FINE_MINUTES || self.allows_rollups(minutes)
    }

    fn allows_rollups(self, minutes: u32) -> bool {
        self.keys.saturating_mul(u64::from(minutes)) <= self.max
    }
}

fn percentile_series(
    source: &dyn MetricsSource,
    key: &SeriesKey,
    window: Window,
    series: &[SeriesPoint],
    budget: Budget,
) -> Vec<SeriesPoint> {
    if series.iter().any(|p| p.has_percentiles) || series.iter().all(|p| p.count == 0) {
        return series.to_vec();
    }
    if !budget.allows_rollups(window.as_minutes()) {
        return Vec::new();
    }
    source.series_at(key, window, SeriesResolution::Rollup)
}

fn point(p: &SeriesPoint, value: f64, count: u64) -> TrendPoint {
    TrendPoint { hours: p.start.timestamp() as f64 / 3600.0, value, weight: count as f64 }
}

fn gauge_point(g: &GaugePoint, value: f64, weight: f64) -> TrendPoint {
    TrendPoint { hours: g.start.timestamp() as f64 / 3600.0, value, weight }
}

/// Merges buckets into at most `max` runs of equal length (weighted means of
/// the non-empty buckets of each run), dropping runs without data.
fn merge(points: &[Option<TrendPoint>], max: usize) -> Vec<TrendPoint> {
    let per_run = points.len().div_ceil(max).max(1);
    if per_run == 1 {
        return points.iter().flatten().copied().collect();
    }
    points
        .chunks(per_run)
        .filter_map(|run| {
            let (mut w, mut wx, mut wy, mut n, mut sx, mut sy) = (0.0, 0.0, 0.0, 0usize, 0.0, 0.0);
            for p in run.iter().flatten() {
                let weight = p.weight.max(0.0);
                w += weight;
                wx += weight * p.hours;
                wy += weight * p.value;
                n += 1;
                sx += p.hours;
                sy += p.value;
            }
            match (n, w > 0.0) {
                (0, _) => None,
                (_, true) => Some(TrendPoint { hours: wx / w, value: wy / w, weight: w }),
                (n, false) => Some(TrendPoint { hours: sx / n as f64, value: sy / n as f64, weight: 0.0 }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
