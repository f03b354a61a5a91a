//! Rule-based recommendations, each tied to the endpoint, query or subsystem
//! it concerns and the numbers behind it.
//!
//! | rule                 | fires when                                                                 | severity                               |
//! |----------------------|----------------------------------------------------------------------------|----------------------------------------|
//! | `low_cache_hit_rate` | at least 20 lookups and a hit rate under 0.5                               | ratio 0.8 / hit rate                   |
//! | `enable_caching`     | no cache lookups while a GET endpoint served at least 50 requests          | low                                    |
//! | `slow_endpoint`      | an endpoint's p95 is over `slow_request_threshold` (5 worst by p95)        | ratio p95 / threshold                  |
//! | `slow_query`         | a read or write run in requests has p95 over `slow_query_threshold` (5 costliest by total; schema changes, transactions and background queries never) | ratio p95 / threshold |
//! | `n_plus_one`         | N+1 findings in the window, one per (route, fingerprint) (5 costliest in total time) | ratio largest count / 10, at least low |
//! | `high_memory`        | the latest process RSS is over `high_memory_threshold`                     | ratio RSS / threshold                  |
//! | `rising_memory`      | the memory trend over the window is `degrading`                            | ratio (RSS + 1 h of slope) / threshold, at least low |
//!
//! Recommendations are sorted by severity, most severe first, then by rule
//! in the order above.

use perf_core::{NPlusOneFinding, QueryKind, Recommendation, Severity, Snapshot, Thresholds, Trend, TrendDirection};

use crate::health::{CACHE_TARGET_HIT_RATE, current_memory_mb, endpoint_name};

/// Tunables of the recommendation rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecommendSettings {
    /// Lookups needed before the hit rate is judged (default 20).
    pub min_cache_lookups: u64,
    /// Hit rate under which caching is called ineffective (default 0.5).
    pub low_hit_rate: f64,
    /// Requests to one GET endpoint that suggest caching when nothing is cached (default 50).
    pub min_requests_for_caching: u64,
    /// Most recommendations per rule (default 5).
    pub max_per_rule: usize,
}

impl Default for RecommendSettings {
    fn default() -> Self {
        RecommendSettings { min_cache_lookups: 20, low_hit_rate: 0.5, min_requests_for_caching: 50, max_per_rule: 5 }
    }
}

/// Runs every rule over `snapshot`; `memory_trend` is the window's
/// `memory_mb` trend, when computed.
pub fn recommend(
    snapshot: &Snapshot,
    thresholds: &Thresholds,
    memory_trend: Option<&Trend>,
    settings: &RecommendSettings,
) -> Vec<Recommendation> {
    let mut out = Vec::new();
    cache_rules(snapshot, settings, &mut out);
    slow_endpoints(snapshot, thresholds, settings, &mut out);
    slow_queries(snapshot, thresholds, settings, &mut out);
    n_plus_one(snapshot, settings, &mut out);
    memory_rules(snapshot, thresholds, memory_trend, &mut out);
    // Stable sort: rule order is kept within a severity.
    out.sort_by_key(|r| std::cmp::Reverse(r.severity));
    out
}

fn cache_rules(s: &Snapshot, settings: &RecommendSettings, out: &mut Vec<Recommendation>) {
    let (hits, misses) = (s.cache.hits(), s.cache.misses());
    let lookups = hits + misses;
    if lookups >= settings.min_cache_lookups.max(1) {
        let rate = s.cache.hit_rate();
        if rate < settings.low_hit_rate {
            out.push(Recommendation {
                rule: "low_cache_hit_rate".into(),
                severity: Severity::from_ratio(CACHE_TARGET_HIT_RATE / rate).unwrap_or(Severity::Low),
                message: format!(
                    "Cache hit rate is {:.0} % over {lookups} lookups (target {:.0} %): cache what is read repeatedly, \
                     lengthen TTLs where data allows, and check that cache keys are stable",
                    rate * 100.0,
                    CACHE_TARGET_HIT_RATE * 100.0
                ),
                subject: "cache".into(),
                evidence: vec![
                    ("hit_rate".into(), rate),
                    ("hits".into(), hits as f64),
                    ("misses".into(), misses as f64),
                    ("target_hit_rate".into(), CACHE_TARGET_HIT_RATE),
                ],
            });
        }
        return;
    }
    if lookups > 0 {
        return;
    }
    let busiest = s
        .endpoints
        .iter()
        .filter(|e| e.method == perf_core::Method::Get && e.stats.count >= settings.min_requests_for_caching.max(1))
        .max_by_key(|e| e.stats.count);
    if let Some(e) = busiest {
        out.push(Recommendation {
            rule: "enable_caching".into(),
            severity: Severity::Low,
            message: format!(
                "Consider enabling response caching for frequently accessed endpoints: {} served {} requests \
                 (mean {:.0} ms) with no cache lookups",
                endpoint_name(e),
                e.stats.count,
                e.stats.avg * 1e3
            ),
            subject: endpoint_name(e),
            evidence: vec![("requests".into(), e.stats.count as f64), ("avg_response_time".into(), e.stats.avg)],
        });
    }
}

fn slow_endpoints(s: &Snapshot, t: &Thresholds, settings: &RecommendSettings, out: &mut Vec<Recommendation>) {
    let threshold = t.slow_request_threshold;
    let mut slow: Vec<_> = s.endpoints.iter().filter(|e| e.stats.count > 0 && e.stats.p95 > threshold).collect();
    slow.sort_by(|a, b| b.stats.p95.total_cmp(&a.stats.p95).then_with(|| a.route.cmp(&b.route)));
    for e in slow.into_iter().take(settings.max_per_rule) {
        let name = endpoint_name(e);
        let mut message = format!(
            "Optimize {name}: p95 {:.0} ms is {:.1}x the {:.0} ms threshold over {} requests ({} slow)",
            e.stats.p95 * 1e3,
            e.stats.p95 / threshold,
            threshold * 1e3,
            e.stats.count,
            e.stats.slow
        );
        if e.query_time_per_request > 0.5 * e.stats.avg && e.stats.avg > 0.0 {
            message.push_str(&format!(
                "; {:.0} % of its time is database work ({:.1} queries per request)",
                100.0 * e.query_time_per_request / e.stats.avg,
                e.queries_per_request
            ));
        }
        out.push(Recommendation {
            rule: "slow_endpoint".into(),
            severity: Severity::from_ratio(e.stats.p95 / threshold).unwrap_or(Severity::Low),
            message,
            subject: name,
            evidence: vec![
                ("p95".into(), e.stats.p95),
                ("avg".into(), e.stats.avg),
                ("requests".into(), e.stats.count as f64),
                ("slow".into(), e.stats.slow as f64),
                ("threshold".into(), threshold),
                ("queries_per_request".into(), e.queries_per_request),
                ("query_time_per_request".into(), e.query_time_per_request),
            ],
        });
    }
}

fn slow_queries(s: &Snapshot, t: &Thresholds, settings: &RecommendSettings, out: &mut Vec<Recommendation>) {
    let threshold = t.slow_query_threshold;
    // Index advice is for statements that read or write rows inside requests:
    // not schema changes, not whole transactions, not background work.
    let mut slow: Vec<_> = s
        .query_stats
        .iter()
        .filter(|q| matches!(q.kind, QueryKind::Read | QueryKind::Write))
        .filter(|q| q.stats.count > 0 && q.stats.p95 > threshold)
        .collect();
    slow.sort_by(|a, b| {
        b.stats.total_time.total_cmp(&a.stats.total_time).then_with(|| a.fingerprint.cmp(&b.fingerprint))
    });
    for q in slow.into_iter().take(settings.max_per_rule) {
        let mut evidence = vec![
            ("p95".into(), q.stats.p95),
            ("avg".into(), q.stats.avg),
            ("count".into(), q.stats.count as f64),
            ("total_time".into(), q.stats.total_time),
            ("threshold".into(), threshold),
        ];
        let advice = match q.plan.as_ref().map(|p| p.plan.filtered_full_scans()) {
            Some(scans) if !scans.is_empty() => {
                evidence.push(("filtered_full_scans".into(), scans.len() as f64));
                let tables: Vec<String> = scans.iter().map(|t| format!("`{t}`")).collect();
                format!(
                    "its captured plan reads {} in full under a filter: an index on the filtered column(s) \
                     would let the database skip the scan",
                    tables.join(", ")
                )
            }
            Some(_) => "its captured plan reads through indexes already: cache its result or fetch less".to_owned(),
            None => "check its plan for a missing index or cache its result".to_owned(),
        };
        out.push(Recommendation {
            rule: "slow_query".into(),
            severity: Severity::from_ratio(q.stats.p95 / threshold).unwrap_or(Severity::Low),
            message: format!(
                "Speed up query `{}`: p95 {:.1} ms is {:.1}x the {:.1} ms threshold, {} runs costing {:.2} s in total; \
                 {advice}",
                q.fingerprint,
                q.stats.p95 * 1e3,
                q.stats.p95 / threshold,
                threshold * 1e3,
                q.stats.count,
                q.stats.total_time
            ),
            subject: q.fingerprint.clone(),
            evidence,
        });
    }
}

fn n_plus_one(s: &Snapshot, settings: &RecommendSettings, out: &mut Vec<Recommendation>) {
    // The store keeps one finding per (scope, fingerprint) already.
    let mut findings: Vec<_> = s.n_plus_one.iter().collect();
    let total = |f: &NPlusOneFinding| f.time_per_request * f.requests as f64;
    findings.sort_by(|a, b| {
        total(b).total_cmp(&total(a)).then_with(|| (&a.scope, &a.fingerprint).cmp(&(&b.scope, &b.fingerprint)))
    });
    for f in findings.into_iter().take(settings.max_per_rule) {
        out.push(Recommendation {
            rule: "n_plus_one".into(),
            severity: Severity::from_ratio(f64::from(f.max_count) / 10.0).unwrap_or(Severity::Low),
            message: format!(
                "N+1 queries in {}: `{}` runs {} times in a typical request (up to {}), in {} requests, \
                 costing {:.1} ms per request ({:.3} s in total); load the rows in one query \
                 (a JOIN or WHERE id IN (...))",
                f.scope,
                f.fingerprint,
                f.typical_count,
                f.max_count,
                f.requests,
                f.time_per_request * 1e3,
                total(f)
            ),
            subject: format!("{} {}", f.scope, f.fingerprint),
            evidence: vec![
                ("typical_count".into(), f64::from(f.typical_count)),
                ("max_count".into(), f64::from(f.max_count)),
                ("requests".into(), f.requests as f64),
                ("time_per_request".into(), f.time_per_request),
                ("total_time".into(), total(f)),
            ],
        });
    }
}

fn memory_rules(s: &Snapshot, t: &Thresholds, trend: Option<&Trend>, out: &mut Vec<Recommendation>) {
    let threshold = t.high_memory_threshold;
    let current = current_memory_mb(&s.system);
    if let Some(mb) = current
        && let Some(severity) = Severity::from_ratio(mb / threshold)
    {
        out.push(Recommendation {
            rule: "high_memory".into(),
            severity,
            message: format!(
                "Process memory {mb:.0} MiB is over the {threshold:.0} MiB threshold: review cache sizes and \
                 large in-memory collections"
            ),
            subject: "memory".into(),
            evidence: vec![("rss_mb".into(), mb), ("threshold".into(), threshold)],
        });
    }
    let Some(trend) = trend.filter(|t| t.direction == TrendDirection::Degrading) else { return };
    let slope = trend.slope_per_hour.unwrap_or(0.0);
    let level = current.unwrap_or(s.system.avg_rss_mb);
    let projected = level + slope;
    out.push(Recommendation {
        rule: "rising_memory".into(),
        severity: Severity::from_ratio(projected / threshold).unwrap_or(Severity::Low),
        message: format!(
            "Memory is rising by {slope:.1} MiB per hour (now {level:.0} MiB, {projected:.0} MiB in an hour at this \
             rate, threshold {threshold:.0} MiB): look for a leak or an unbounded cache"
        ),
        subject: "memory".into(),
        evidence: vec![
            ("slope_mb_per_hour".into(), slope),
            ("p_value".into(), trend.p_value.unwrap_or(1.0)),
            ("rss_mb".into(), level),
            ("projected_mb".into(), projected),
            ("threshold".into(), threshold),
        ],
    });
}

#[cfg(test)]
mod tests;
