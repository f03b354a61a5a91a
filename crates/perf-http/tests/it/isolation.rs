//! Heavy API work (report, analytics, long-window documents) runs off the
//! worker thread, is shared by identical concurrent requests, reused for a
//! second, and bounded: past the limit the API answers 429.

use std::{
    rc::Rc,
    sync::{
        Arc, Condvar, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    thread::ThreadId,
    time::Duration,
};

use actix_web::{App, dev::Service, http::header, test};
use perf_core::{
    AlertError, AlertFilter, AnalyticsReport, AnalyticsService, Clock as _, DetailedReport, GaugePoint, MetricsSource,
    PerfConfig, SeriesKey, SeriesPoint, SeriesResolution, Snapshot, Store, Summary, Timestamp, TotalsSnapshot,
    TrendReport, Window,
};
use perf_http::PerfState;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::fakes::{FakeAnalytics, parts, with_token};

const TOKEN: &str = "isolation-token";

/// Holds the computations that pass through it until opened, telling the
/// test each time one arrives.
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
    entered: mpsc::UnboundedSender<()>,
}

impl Gate {
    fn new(open: bool) -> (Arc<Gate>, mpsc::UnboundedReceiver<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Arc::new(Gate { open: Mutex::new(open), opened: Condvar::new(), entered: tx }), rx)
    }
    fn pass(&self) {
        let _ = self.entered.send(());
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
    }
    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

/// A store that counts snapshots and series reads, records the threads they
/// ran on, and holds series reads at a gate.
struct CountingSource {
    store: Arc<Store>,
    snapshots: AtomicUsize,
    series: AtomicUsize,
    threads: Mutex<Vec<ThreadId>>,
    series_gate: Arc<Gate>,
}

impl MetricsSource for CountingSource {
    fn snapshot(&self, window: Window) -> Snapshot {
        self.snapshots.fetch_add(1, Ordering::SeqCst);
        self.threads.lock().unwrap().push(std::thread::current().id());
        self.store.snapshot(window)
    }
    fn series(&self, key: &SeriesKey, window: Window) -> Vec<SeriesPoint> {
        self.series_at(key, window, SeriesResolution::Auto)
    }
    fn series_at(&self, key: &SeriesKey, window: Window, resolution: SeriesResolution) -> Vec<SeriesPoint> {
        self.series.fetch_add(1, Ordering::SeqCst);
        self.threads.lock().unwrap().push(std::thread::current().id());
        self.series_gate.pass();
        self.store.series_at(key, window, resolution)
    }
    fn gauges(&self, window: Window) -> Vec<GaugePoint> {
        self.store.gauges(window)
    }
    fn totals(&self) -> TotalsSnapshot {
        self.store.totals()
    }
    fn now(&self) -> Timestamp {
        self.store.now()
    }
}

/// Fake analytics that count reports and hold them at a gate.
struct CountingAnalytics {
    inner: FakeAnalytics,
    reports: AtomicUsize,
    analytics: AtomicUsize,
    report_gate: Arc<Gate>,
}

impl AnalyticsService for CountingAnalytics {
    fn analytics(&self, window: Window) -> AnalyticsReport {
        self.analytics.fetch_add(1, Ordering::SeqCst);
        self.inner.analytics(window)
    }
    fn summary(&self, window: Window) -> Summary {
        self.inner.summary(window)
    }
    fn alerts(&self, filter: AlertFilter) -> Vec<perf_core::Alert> {
        self.inner.alerts(filter)
    }
    fn resolve_alert(&self, id: u64) -> Result<perf_core::Alert, AlertError> {
        self.inner.resolve_alert(id)
    }
    fn trends(&self, window: Window) -> TrendReport {
        self.inner.trends(window)
    }
    fn report(&self, window: Window) -> DetailedReport {
        self.reports.fetch_add(1, Ordering::SeqCst);
        self.report_gate.pass();
        self.inner.report(window)
    }
}

struct Rig {
    state: PerfState,
    clock: Arc<perf_core::ManualClock>,
    source: Arc<CountingSource>,
    analytics: Arc<CountingAnalytics>,
    series_gate: Arc<Gate>,
    report_gate: Arc<Gate>,
    series_entered: mpsc::UnboundedReceiver<()>,
    report_entered: mpsc::UnboundedReceiver<()>,
}

/// A state over counting doubles; the gates start closed when `held`.
fn rig(config: PerfConfig, held: bool) -> Rig {
    let p = parts(config.clone());
    let now = p.clock.now();
    crate::fakes::record_get(&p.store, "/a/{id}", 200, Duration::from_millis(20), now);
    let (series_gate, series_entered) = Gate::new(!held);
    let (report_gate, report_entered) = Gate::new(!held);
    let source = Arc::new(CountingSource {
        store: p.store.clone(),
        snapshots: AtomicUsize::new(0),
        series: AtomicUsize::new(0),
        threads: Mutex::new(Vec::new()),
        series_gate: series_gate.clone(),
    });
    let analytics = Arc::new(CountingAnalytics {
        inner: FakeAnalytics::new(),
        reports: AtomicUsize::new(0),
        analytics: AtomicUsize::new(0),
        report_gate: report_gate.clone(),
    });
    let state = PerfState::builder(config)
        .store(p.store.clone())
        .source(source.clone())
        .analytics(analytics.clone())
        .build()
        .unwrap();
    Rig { state, clock: p.clock, source, analytics, series_gate, report_gate, series_entered, report_entered }
}

/// Sends a GET and returns the status, the `Retry-After` header and the body.
async fn get(
    app: &impl Service<actix_http::Request, Response = actix_web::dev::ServiceResponse, Error = actix_web::Error>,
    uri: &str,
) -> (u16, Option<String>, Value) {
    let res = test::call_service(app, test::TestRequest::get().uri(uri).to_request()).await;
    let status = res.status().as_u16();
    let retry = res.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_owned());
    let body = test::read_body(res).await;
    (status, retry, serde_json::from_slice(&body).unwrap())
}

/// Lets every spawned request on this thread run up to its next wait.
async fn settle() {
    for _ in 0..20 {
        actix_web::rt::task::yield_now().await;
    }
}

#[actix_web::test]
async fn identical_concurrent_requests_share_one_computation() {
    let mut r = rig(PerfConfig::default(), true);
    let app = Rc::new(test::init_service(App::new().service(r.state.api())).await);
    let mut tasks = Vec::new();
    for uri in ["/api/performance/report?minutes=1440", "/api/performance/timeseries?metric=requests&minutes=1440"] {
        for _ in 0..8 {
            let app = app.clone();
            tasks.push(actix_web::rt::spawn(async move { get(&*app, uri).await }));
        }
    }
    r.report_entered.recv().await.unwrap();
    r.series_entered.recv().await.unwrap();
    settle().await;
    r.report_gate.open();
    r.series_gate.open();
    let mut bodies = Vec::new();
    for t in tasks {
        let (status, _, body) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
        bodies.push(body);
    }
    assert_eq!(r.analytics.reports.load(Ordering::SeqCst), 1, "8 identical reports, one computation");
    assert_eq!(r.source.series.load(Ordering::SeqCst), 1, "8 identical series, one computation");
    assert!(bodies[..8].iter().all(|b| *b == bodies[0]) && bodies[8..].iter().all(|b| *b == bodies[8]));
    assert_eq!(bodies[0]["period_minutes"], 1440);
    assert_eq!(bodies[8]["metric"], "requests");
}

#[actix_web::test]
async fn a_result_is_reused_within_a_second_and_recomputed_after() {
    let r = rig(PerfConfig::default(), false);
    let app = test::init_service(App::new().service(r.state.api())).await;
    let reports = || r.analytics.reports.load(Ordering::SeqCst);
    let (s, _, first) = get(&app, "/api/performance/report?minutes=1440").await;
    assert_eq!((s, reports()), (200, 1));
    r.clock.advance(Duration::from_millis(500));
    let (_, _, again) = get(&app, "/api/performance/report?minutes=1440").await;
    assert_eq!((reports(), &again), (1, &first), "reused half a second later");
    get(&app, "/api/performance/report?minutes=720").await;
    assert_eq!(reports(), 2, "another window is another computation");
    r.clock.advance(Duration::from_millis(600));
    get(&app, "/api/performance/report?minutes=1440").await;
    assert_eq!(reports(), 3, "recomputed 1.1 s after the first");

    // Long-window snapshots are reused the same way, short ones never.
    let snapshots = || r.source.snapshots.load(Ordering::SeqCst);
    let before = snapshots();
    get(&app, "/api/performance/metrics?minutes=1440").await;
    get(&app, "/api/performance/metrics?minutes=1440").await;
    assert_eq!(snapshots(), before + 1);
    get(&app, "/api/performance/metrics?minutes=5").await;
    get(&app, "/api/performance/metrics?minutes=5").await;
    assert_eq!(snapshots(), before + 3);
}

#[actix_web::test]
async fn a_change_through_the_api_is_not_hidden_by_a_reused_result() {
    let r = rig(with_token(TOKEN), false);
    let app = test::init_service(App::new().service(r.state.api())).await;
    let auth = (header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    let analytics = |app| {
        let req = test::TestRequest::get().uri("/api/performance/analytics").insert_header(auth.clone()).to_request();
        async move {
            let body: Value = test::call_and_read_body_json(app, req).await;
            body["alerts"].as_array().unwrap().len()
        }
    };
    assert_eq!(analytics(&app).await, 1, "alert 1 is open");
    let req =
        test::TestRequest::post().uri("/api/performance/alerts/1/resolve").insert_header(auth.clone()).to_request();
    assert_eq!(test::call_service(&app, req).await.status(), 200);
    assert_eq!(analytics(&app).await, 0, "the resolved alert is gone at the same instant");
    assert_eq!(r.analytics.analytics.load(Ordering::SeqCst), 2);
}

#[actix_web::test]
async fn past_the_limit_heavy_requests_get_429_with_retry_after() {
    let mut r = rig(PerfConfig::default(), true);
    let app = Rc::new(test::init_service(App::new().service(r.state.api())).await);
    let spawn = |uri: &'static str| {
        let app = app.clone();
        actix_web::rt::spawn(async move { get(&*app, uri).await })
    };
    // The default limit: two heavy computations at once.
    let report = spawn("/api/performance/report?minutes=1440");
    let series = spawn("/api/performance/timeseries?metric=requests&minutes=1440");
    r.report_entered.recv().await.unwrap();
    r.series_entered.recv().await.unwrap();

    let (status, retry, body) = get(&*app, "/api/performance/metrics?minutes=1440").await;
    assert_eq!((status, retry.as_deref()), (429, Some("1")), "{body}");
    assert_eq!(body["error"]["code"], "busy");
    assert!(body["error"]["message"].as_str().unwrap().contains("busy"));
    let (status, _, body) = get(&*app, "/api/performance/analytics").await;
    assert_eq!((status, &body["error"]["code"]), (429, &Value::from("busy")));

    // An identical request joins the running computation instead; cheap
    // requests are answered at once.
    let joined = spawn("/api/performance/report?minutes=1440");
    settle().await;
    let (status, _, body) = get(&*app, "/api/performance/metrics?minutes=5").await;
    assert_eq!((status, &body["requests"]["total_requests"]), (200, &Value::from(1)));

    r.report_gate.open();
    r.series_gate.open();
    for t in [report, series, joined] {
        assert_eq!(t.await.unwrap().0, 200);
    }
    assert_eq!(r.analytics.reports.load(Ordering::SeqCst), 1);
    let (status, _, _) = get(&*app, "/api/performance/metrics?minutes=1440").await;
    assert_eq!(status, 200, "the permits are back once the computations end");
}

#[actix_web::test]
async fn the_limit_is_set_on_the_builder() {
    let p = parts(PerfConfig::default());
    let (gate, mut entered) = Gate::new(false);
    let analytics = Arc::new(CountingAnalytics {
        inner: FakeAnalytics::new(),
        reports: AtomicUsize::new(0),
        analytics: AtomicUsize::new(0),
        report_gate: gate.clone(),
    });
    let state =
        PerfState::builder(PerfConfig::default()).store(p.store).analytics(analytics).heavy_limit(1).build().unwrap();
    let app = Rc::new(test::init_service(App::new().service(state.api())).await);
    let held = {
        let app = app.clone();
        actix_web::rt::spawn(async move { get(&*app, "/api/performance/report").await })
    };
    entered.recv().await.unwrap();
    let (status, retry, _) = get(&*app, "/api/performance/analytics").await;
    assert_eq!((status, retry.as_deref()), (429, Some("1")));
    gate.open();
    assert_eq!(held.await.unwrap().0, 200);
    assert_eq!(get(&*app, "/api/performance/analytics").await.0, 200);
}

#[actix_web::test]
async fn heavy_work_runs_off_the_calling_thread_and_light_work_on_it() {
    let r = rig(PerfConfig::default(), false);
    let app = test::init_service(App::new().service(r.state.api())).await;
    let me = std::thread::current().id();
    for uri in [
        "/api/performance/metrics?minutes=1440",
        "/api/performance/endpoints?minutes=1440",
        "/api/performance/queries?minutes=600",
        "/api/performance/timeseries?metric=requests&minutes=1440",
    ] {
        r.source.threads.lock().unwrap().clear();
        let (status, _, _) = get(&app, uri).await;
        let threads = r.source.threads.lock().unwrap().clone();
        assert_eq!(status, 200);
        assert!(!threads.is_empty() && threads.iter().all(|t| *t != me), "{uri} ran on the calling thread");
    }
    r.source.threads.lock().unwrap().clear();
    get(&app, "/api/performance/metrics?minutes=5").await;
    assert_eq!(*r.source.threads.lock().unwrap(), vec![me], "a short window is answered inline");
}
