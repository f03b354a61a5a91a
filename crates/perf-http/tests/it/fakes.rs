//! Fakes of the core traits that other crates fill in production, and helpers
//! to build a state over a real `perf_core::Store` driven by a `ManualClock`.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use actix_web::{
    App, HttpServer,
    body::MessageBody,
    dev::{ServiceFactory, ServiceRequest, ServiceResponse},
};
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use perf_core::{
    Aggregate, Alert, AlertError, AlertFilter, AlertType, AnalyticsReport, AnalyticsService, CacheEvent,
    CacheEventKind, CachePerformance, CacheStats, CacheTier, ComponentScore, ComponentUnit, DetailedReport,
    EndpointApdex, EndpointStats, Health, HealthStatus, KeyMetrics, ManualClock, NPlusOneSample, PerfConfig, QueryKind,
    QuerySample, QueryStats, Recommendation, Recorder as _, Resolution, ServingTier, SharedThresholds, Store, Summary,
    SystemSample, TierStats, Timestamp, Trend, TrendDirection, TrendReport, Window, testing::MapCache,
};
use perf_http::PerfState;

pub(crate) const T0: u64 = 1_700_000_000;

fn at() -> DateTime<Utc> {
    Timestamp::from_unix_secs(T0).to_datetime()
}

/// Analytics with two alerts (ids 1 open, 2 resolved) and fixed documents.
pub(crate) struct FakeAnalytics {
    pub(crate) alerts: Mutex<Vec<Alert>>,
}

impl FakeAnalytics {
    pub(crate) fn new() -> Self {
        let alert = |id, resolved| Alert {
            id,
            alert_type: AlertType::SlowRequest,
            severity: perf_core::Severity::High,
            message: format!("alert {id}"),
            key: "GET /slow".into(),
            value: 2.5,
            threshold: 1.0,
            created_at: at(),
            last_seen: at(),
            resolved,
            resolved_at: resolved.then(at),
            resolution: resolved.then_some(Resolution::Auto),
            reopened: false,
            reopens: None,
        };
        FakeAnalytics { alerts: Mutex::new(vec![alert(1, false), alert(2, true)]) }
    }
}

impl AnalyticsService for FakeAnalytics {
    fn analytics(&self, window: Window) -> AnalyticsReport {
        AnalyticsReport {
            timestamp: at(),
            period_minutes: window.as_minutes(),
            health_score: Some(85.0),
            status: HealthStatus::Healthy,
            capped_by: None,
            components: vec![component()],
            alerts: self.alerts(AlertFilter::Open),
            recommendations: vec!["Consider enabling response caching".into()],
            recommendation_details: vec![recommendation()],
            cache_performance: CachePerformance { hit_rate: 0.75, total_operations: 500 },
            apdex: vec![EndpointApdex { endpoint: "GET /a/{id}".into(), apdex: Some(0.9), target: 0.5 }],
        }
    }
    fn summary(&self, window: Window) -> Summary {
        Summary {
            period_minutes: window.as_minutes(),
            status: HealthStatus::Healthy,
            health_score: Some(85.0),
            capped_by: None,
            components: vec![component()],
            active_alerts: self.alerts(AlertFilter::Open).len(),
            key_metrics: KeyMetrics {
                total_requests: 40,
                avg_response_time: Some(0.25),
                error_rate: Some(0.02),
                client_error_rate: Some(0.05),
                cache_hit_rate: Some(0.75),
                memory_usage_mb: Some(185.5),
            },
        }
    }
    fn alerts(&self, filter: AlertFilter) -> Vec<Alert> {
        self.alerts
            .lock()
            .iter()
            .filter(|a| match filter {
                AlertFilter::All => true,
                AlertFilter::Open => !a.resolved,
                AlertFilter::Resolved => a.resolved,
            })
            .cloned()
            .collect()
    }
    fn resolve_alert(&self, id: u64) -> Result<Alert, AlertError> {
        let mut alerts = self.alerts.lock();
        let a = alerts.iter_mut().find(|a| a.id == id).ok_or(AlertError::NotFound(id))?;
        a.resolved = true;
        a.resolved_at = Some(at());
        a.resolution = Some(Resolution::Manual);
        Ok(a.clone())
    }
    fn trends(&self, window: Window) -> TrendReport {
        TrendReport { timestamp: at(), period_minutes: window.as_minutes(), trends: vec![] }
    }
    fn report(&self, window: Window) -> DetailedReport {
        DetailedReport {
            timestamp: at(),
            period_minutes: window.as_minutes(),
            health: Health {
                score: Some(85.0),
                status: HealthStatus::Healthy,
                capped_by: None,
                components: vec![component()],
            },
            alerts: self.alerts(AlertFilter::All),
            trends: vec![Trend {
                metric: "avg_response_time".into(),
                scope: "overall".into(),
                direction: TrendDirection::Stable,
                slope_per_hour: Some(0.01),
                p_value: None,
                points: 12,
            }],
            top_endpoints: vec![EndpointStats {
                method: perf_core::Method::Get,
                route: "/a/{id}".into(),
                stats: Aggregate { count: 3, avg: 0.1, ..Aggregate::default() },
                queries_per_request: 1.0,
                query_time_per_request: 0.01,
            }],
            top_queries: vec![QueryStats {
                fingerprint: "SELECT ?".into(),
                example_sql: "SELECT 1".into(),
                kind: perf_core::QueryKind::Read,
                stats: Aggregate::default(),
                plan: None,
            }],
            n_plus_one: vec![],
            cache: Default::default(),
            cache_performance: CachePerformance::default(),
            system: Default::default(),
            recommendations: vec![recommendation()],
        }
    }
}

fn component() -> ComponentScore {
    ComponentScore {
        name: "response_time".into(),
        score: Some(90.0),
        weight: 0.3,
        effective_weight: 0.3,
        input: "p95_response_time".into(),
        unit: ComponentUnit::Seconds,
        value: Some(0.2),
        threshold: Some(1.0),
        overall: Some(0.2),
        endpoint: None,
        events: 40,
    }
}

fn recommendation() -> Recommendation {
    Recommendation {
        rule: "slow_endpoint".into(),
        severity: perf_core::Severity::Medium,
        message: "Cache GET /a/{id}".into(),
        subject: "GET /a/{id}".into(),
        evidence: vec![("p95".into(), 1.2)],
    }
}

/// What a failing fake cache says: the kind of detail (a host, a port)
/// that must reach the log but never a response body.
pub(crate) const FAKE_BACKEND_FAILURE: &str = "redis at 10.0.0.7:6379: connection refused";

/// The cache of the test states: the shared map-backed fake, reporting
/// fixed statistics (3 hits, 1 miss) beside the entries it holds.
pub(crate) fn fake_cache() -> Arc<MapCache> {
    let cache = MapCache::default();
    *cache.reported.lock() = Some(CacheStats {
        hits: 3,
        misses: 1,
        hit_rate: 0.75,
        total_operations: 4,
        serving_tier: ServingTier::Memory,
        recent_hits: None,
        memory: TierStats::default(),
        remote: None,
    });
    Arc::new(cache)
}

/// Makes `cache` fail every lookup, write, stats call and clear with
/// [`FAKE_BACKEND_FAILURE`].
pub(crate) fn fail(cache: &MapCache) {
    *cache.failure.lock() = Some(FAKE_BACKEND_FAILURE.into());
}

/// The parts of a test state.
pub(crate) struct Parts {
    pub(crate) state: PerfState,
    pub(crate) store: Arc<Store>,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) analytics: Arc<FakeAnalytics>,
    pub(crate) cache: Arc<MapCache>,
}

/// A state over a real store with a manual clock, fake analytics and cache.
pub(crate) fn parts(config: PerfConfig) -> Parts {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(T0)));
    let thresholds = Arc::new(SharedThresholds::new(config.thresholds).unwrap());
    let store = Arc::new(Store::new(config.store.clone(), clock.clone(), thresholds).unwrap());
    let analytics = Arc::new(FakeAnalytics::new());
    let cache = fake_cache();
    let state = PerfState::builder(config)
        .store(store.clone())
        .analytics(analytics.clone())
        .cache(cache.clone())
        .build()
        .unwrap();
    Parts { state, store, clock, analytics, cache }
}

/// A configuration with a token.
pub(crate) fn with_token(token: &str) -> PerfConfig {
    PerfConfig::builder().api_token(token).build().unwrap()
}

/// Every read the perf API and `/metrics` serve (all GET), for tests that
/// walk every endpoint.
pub(crate) const READ_PATHS: [&str; 13] = [
    "/api/performance/metrics",
    "/api/performance/analytics",
    "/api/performance/summary",
    "/api/performance/alerts",
    "/api/performance/thresholds",
    "/api/performance/cache/stats",
    "/api/performance/endpoints",
    "/api/performance/queries",
    "/api/performance/timeseries",
    "/api/performance/trends",
    "/api/performance/report",
    "/api/performance/openapi.json",
    "/metrics",
];

/// Serves `factory`'s app on a real server (127.0.0.1, a free port, `workers`
/// workers) and runs `client` with its address on the blocking pool; the
/// server stops once the client returns, and a client panic fails the test
/// after that.
pub(crate) fn with_server<F, T, B>(workers: usize, factory: F, client: impl FnOnce(SocketAddr) + Send + 'static)
where
    F: Fn() -> App<T> + Send + Clone + 'static,
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    let system = actix_web::rt::System::new();
    let (addr, handle) = system.block_on(async move {
        let server = HttpServer::new(factory).workers(workers).bind(("127.0.0.1", 0)).unwrap();
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        (addr, handle)
    });
    system.block_on(async move {
        let outcome = actix_web::rt::task::spawn_blocking(move || client(addr)).await;
        handle.stop(true).await;
        outcome.unwrap();
    });
}

/// What the other adapters record beside requests, at `now`: a query run
/// and a failed one, a cache hit, miss and set, an N+1 finding and a system
/// reading.
/// Records a `GET` of `route` into `store`, judged slow by the store's thresholds.
pub(crate) fn record_get(store: &Store, route: &str, status: u16, duration: Duration, at: Timestamp) {
    store.record_request(&perf_core::RequestSample::new(
        perf_core::Method::Get,
        Some(route),
        status,
        duration,
        at,
        store.thresholds(),
    ));
}

pub(crate) fn record_adapter_samples(store: &Store, now: Timestamp) {
    for ok in [true, false] {
        store.record_query(&QuerySample {
            fingerprint: "SELECT * FROM projects WHERE id = ?",
            sql: "SELECT * FROM projects WHERE id = 1",
            duration: Duration::from_micros(300),
            ok,
            at: now,
            scope: Some("GET /api/projects/{id}"),
            kind: QueryKind::Read,
            slow: store.thresholds().query_is_slow(Duration::from_micros(300)),
            trace: None,
        });
    }
    for kind in [CacheEventKind::Hit, CacheEventKind::Miss, CacheEventKind::Set] {
        store.record_cache(&CacheEvent { kind, tier: CacheTier::Memory, at: now });
    }
    store.record_n_plus_one(&NPlusOneSample {
        scope: "GET /api/projects/{id}",
        fingerprint: "SELECT * FROM plants WHERE project_id = ?",
        count: 12,
        total_time: Duration::from_millis(4),
        at: now,
        trace: None,
    });
    store.record_system(&SystemSample {
        at: now,
        rss_bytes: 64 << 20,
        cpu_percent: 3.0,
        memory_used_bytes: 1 << 30,
        memory_total_bytes: 4 << 30,
        disk_used_bytes: 1 << 30,
        disk_total_bytes: 8 << 30,
    });
}
