//! Tests of each recommendation rule and its evidence.

use perf_core::{NPlusOneFinding, QueryStats, Recommendation, Severity, Thresholds, Trend, TrendDirection};

use super::*;
use crate::fixtures::{at, empty, endpoint, flat, query, with_cache, with_memory, with_requests};

const DEV: Thresholds = Thresholds::DEVELOPMENT;

fn run(s: &Snapshot, trend: Option<&Trend>) -> Vec<Recommendation> {
    recommend(s, &DEV, trend, &RecommendSettings::default())
}

fn evidence(r: &Recommendation, name: &str) -> f64 {
    r.evidence.iter().find(|(n, _)| n == name).map_or(f64::NAN, |(_, v)| *v)
}

fn rules(rs: &[Recommendation]) -> Vec<&str> {
    rs.iter().map(|r| r.rule.as_str()).collect()
}

#[test]
fn healthy_snapshot_has_no_recommendations() {
    let s = with_cache(with_memory(with_requests(empty(), flat(10, 0, 0.05)), 100.0), 90, 10);
    assert!(run(&s, None).is_empty());
}

#[test]
fn low_hit_rate_with_evidence() {
    let r = run(&with_cache(empty(), 30, 70), None);
    assert_eq!(rules(&r), ["low_cache_hit_rate"]);
    assert_eq!(r[0].subject, "cache");
    assert_eq!(evidence(&r[0], "hit_rate"), 0.3);
    assert_eq!(evidence(&r[0], "hits"), 30.0);
    assert_eq!(evidence(&r[0], "misses"), 70.0);
    assert_eq!(r[0].severity, Severity::High); // 0.8 / 0.3 = 2.67x
    assert!(r[0].message.contains("30 %"), "{}", r[0].message);
}

#[test]
fn hit_rate_at_the_limit_or_with_few_lookups_is_fine() {
    assert!(run(&with_cache(empty(), 50, 50), None).is_empty());
    assert!(run(&with_cache(empty(), 0, 19), None).is_empty());
}

#[test]
fn zero_hit_rate_is_critical() {
    let r = run(&with_cache(empty(), 0, 20), None);
    assert_eq!(r[0].severity, Severity::Critical);
}

#[test]
fn busy_get_endpoint_without_cache_suggests_caching() {
    let r = run(&with_requests(empty(), flat(50, 0, 0.05)), None);
    assert_eq!(rules(&r), ["enable_caching"]);
    assert_eq!(r[0].subject, "GET /a");
    assert!(r[0].message.starts_with("Consider enabling response caching"), "{}", r[0].message);
    assert!(run(&with_requests(empty(), flat(49, 0, 0.05)), None).is_empty());
}

#[test]
fn slow_endpoints_worst_first_with_evidence() {
    let mut s = empty();
    let mut a = flat(20, 0, 1.2);
    a.slow = 20;
    let mut b = flat(10, 0, 3.5);
    b.slow = 10;
    s.endpoints = vec![endpoint("/a", a), endpoint("/b", b), endpoint("/fast", flat(100, 0, 0.1))];
    s.cache = with_cache(empty(), 90, 10).cache;
    let r = run(&s, None);
    assert_eq!(rules(&r), ["slow_endpoint", "slow_endpoint"]);
    assert_eq!(r[0].subject, "GET /b");
    assert_eq!(r[0].severity, Severity::Critical);
    assert_eq!(evidence(&r[0], "p95"), 3.5);
    assert_eq!(evidence(&r[0], "requests"), 10.0);
    assert_eq!(evidence(&r[0], "threshold"), 1.0);
    assert_eq!((r[1].subject.as_str(), r[1].severity), ("GET /a", Severity::Low));
}

#[test]
fn slow_endpoint_dominated_by_queries_says_so() {
    let mut s = empty();
    let mut e = endpoint("/db", flat(5, 0, 2.0));
    e.queries_per_request = 40.0;
    e.query_time_per_request = 1.6;
    s.endpoints = vec![e];
    let r = run(&s, None);
    assert!(r[0].message.contains("80 % of its time is database work"), "{}", r[0].message);
    assert_eq!(evidence(&r[0], "queries_per_request"), 40.0);
}

#[test]
fn slow_queries_costliest_first_capped() {
    let mut s = empty();
    s.query_stats = (0..8).map(|i| query(&format!("SELECT {i}"), flat(10 + i, 0, 0.2))).collect();
    s.query_stats.push(query("SELECT fast", flat(1_000, 0, 0.001)));
    let r = run(&s, None);
    assert_eq!(r.len(), 5);
    assert!(r.iter().all(|r| r.rule == "slow_query" && r.severity == Severity::Medium));
    assert_eq!(r[0].subject, "SELECT 7"); // 17 runs × 0.2 s: the largest total
    assert_eq!(evidence(&r[0], "count"), 17.0);
    assert!((evidence(&r[0], "total_time") - 3.4).abs() < 1e-9);
}

#[test]
fn n_plus_one_uses_the_stores_per_pattern_figures() {
    let mut s = empty();
    let finding = |route: &str, fp: &str, requests: u64, typical: u32, max: u32, per_request: f64| NPlusOneFinding {
        scope: route.into(),
        fingerprint: fp.into(),
        requests,
        max_count: max,
        typical_count: typical,
        last_count: typical,
        time_per_request: per_request,
        max_time_per_request: per_request,
        first_seen: at(0),
        last_seen: at(0),
        trace_id: None,
    };
    s.n_plus_one = vec![
        finding("/users", "SELECT roles WHERE user_id = ?", 1, 12, 12, 0.05),
        finding("/projects", "SELECT tasks WHERE project_id = ?", 2, 30, 40, 0.25),
    ];
    let r = run(&s, None);
    assert_eq!(rules(&r), ["n_plus_one", "n_plus_one"]);
    let p = &r[0];
    assert_eq!(p.subject, "/projects SELECT tasks WHERE project_id = ?");
    assert_eq!(p.severity, Severity::Critical); // 40 / 10 = 4x
    assert_eq!(evidence(p, "max_count"), 40.0);
    assert_eq!(evidence(p, "typical_count"), 30.0);
    assert_eq!(evidence(p, "requests"), 2.0);
    assert!((evidence(p, "time_per_request") - 0.25).abs() < 1e-12);
    // 2 requests × 0.25 s: the total quoted is what the requests really spent.
    assert!((evidence(p, "total_time") - 0.5).abs() < 1e-12);
    assert!(p.message.contains("250.0 ms per request (0.500 s in total)"), "{}", p.message);
    assert_eq!(r[1].severity, Severity::Low); // 12 / 10 = 1.2x
}

#[test]
fn schema_changes_and_transactions_get_no_index_advice() {
    let mut s = empty();
    let slow = flat(3, 0, 5.0);
    s.query_stats = vec![
        QueryStats { kind: QueryKind::Schema, ..query("CREATE TABLE plants (id INTEGER)", slow) },
        QueryStats { kind: QueryKind::Transaction, ..query("TRANSACTION", slow) },
        query("SELECT * FROM plants WHERE name = ?", slow),
    ];
    let r = run(&s, None);
    assert_eq!(rules(&r), ["slow_query"]);
    assert_eq!(r[0].subject, "SELECT * FROM plants WHERE name = ?");
}

#[test]
fn high_memory_level() {
    let r = run(&with_memory(empty(), 1_200.0), None);
    assert_eq!(rules(&r), ["high_memory"]);
    assert_eq!(r[0].severity, Severity::High);
    assert_eq!(evidence(&r[0], "rss_mb"), 1_200.0);
}

fn memory_trend(direction: TrendDirection, slope: f64) -> Trend {
    Trend {
        metric: "memory_mb".into(),
        scope: "overall".into(),
        direction,
        slope_per_hour: Some(slope),
        p_value: Some(0.001),
        points: 30,
    }
}

#[test]
fn rising_memory_from_a_degrading_trend() {
    let s = with_memory(empty(), 300.0);
    let r = run(&s, Some(&memory_trend(TrendDirection::Degrading, 450.0)));
    assert_eq!(rules(&r), ["rising_memory"]);
    assert_eq!(evidence(&r[0], "slope_mb_per_hour"), 450.0);
    assert_eq!(evidence(&r[0], "projected_mb"), 750.0);
    assert_eq!(r[0].severity, Severity::Low); // 750 / 500 = 1.5x: exactly 1.5 is low
    assert!(run(&s, Some(&memory_trend(TrendDirection::Stable, 450.0))).is_empty());
    let r = run(&s, Some(&memory_trend(TrendDirection::Degrading, 1.0)));
    assert_eq!(r[0].severity, Severity::Low, "under the threshold still advises, at least low");
}

#[test]
fn sorted_by_severity() {
    let mut s = with_cache(with_memory(empty(), 600.0), 10, 90); // high_memory low, cache critical
    let mut e = flat(5, 0, 2.2);
    e.slow = 5;
    s.endpoints = vec![endpoint("/x", e)]; // high
    let r = run(&s, None);
    let sev: Vec<Severity> = r.iter().map(|r| r.severity).collect();
    assert_eq!(rules(&r), ["low_cache_hit_rate", "slow_endpoint", "high_memory"]);
    assert_eq!(sev, [Severity::Critical, Severity::High, Severity::Low]);
}

fn captured(fingerprint: &str, access: perf_core::PlanAccess, table: &str) -> perf_core::CapturedPlan {
    use perf_core::{PlanBackend, PlanNode, QueryPlan};
    perf_core::CapturedPlan {
        fingerprint: fingerprint.to_owned(),
        query_id: perf_core::query_id(fingerprint),
        captured_at: chrono::DateTime::UNIX_EPOCH,
        plan: QueryPlan::new(
            PlanBackend::Postgresql,
            vec![PlanNode {
                depth: 0,
                operation: "Seq Scan".into(),
                access,
                relation: Some(table.into()),
                index: None,
                filtered: true,
            }],
            String::new(),
        ),
    }
}

#[test]
fn a_slow_query_with_a_captured_plan_cites_it() {
    use perf_core::PlanAccess;
    let mut s = empty();
    let mut scanned = query("SELECT * FROM plants WHERE name = ?", flat(10, 0, 0.2));
    scanned.plan = Some(captured(&scanned.fingerprint, PlanAccess::FullScan, "plants"));
    let mut indexed = query("SELECT * FROM zones WHERE id = ?", flat(5, 0, 0.2));
    indexed.plan = Some(captured(&indexed.fingerprint, PlanAccess::IndexScan, "zones"));
    let plain = query("SELECT * FROM gardens", flat(3, 0, 0.2));
    s.query_stats = vec![scanned, indexed, plain];
    let r = run(&s, None);
    assert_eq!(r.len(), 3);
    assert!(r[0].message.contains("reads `plants` in full under a filter"), "{}", r[0].message);
    assert_eq!(evidence(&r[0], "filtered_full_scans"), 1.0);
    assert!(r[1].message.contains("reads through indexes already"), "{}", r[1].message);
    assert!(r[1].evidence.iter().all(|(n, _)| n != "filtered_full_scans"));
    assert!(r[2].message.contains("check its plan for a missing index"), "{}", r[2].message);
}
