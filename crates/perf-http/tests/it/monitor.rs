//! The monitoring middleware: what it records, for which requests, and the
//! headers it adds.

use std::{
    io::{Read as _, Write as _},
    net::TcpStream,
    sync::Arc,
    time::Duration,
};

use actix_web::{
    App, HttpResponse,
    body::MessageBody,
    dev::{Service as _, ServiceRequest, ServiceResponse},
    error::{ErrorForbidden, ErrorInternalServerError},
    middleware::{Next, from_fn},
    test, web,
};
use futures_util::FutureExt as _;
use perf_core::{
    Method, MetricsSource as _, PerfConfig, RequestScope, UNMATCHED_ROUTE, Window,
    testing::{LogCapture, RecordingRecorder},
};
use perf_http::PerfState;
use std::future::Future as _;

use crate::fakes::{T0, parts, with_server};

async fn ok() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/items/{id}", web::get().to(ok))
        .route("/boom", web::get().to(|| async { HttpResponse::InternalServerError().finish() }))
        .route("/bad", web::get().to(|| async { HttpResponse::BadRequest().finish() }))
        .route("/fails", web::get().to(|| async { Err::<HttpResponse, _>(ErrorInternalServerError("handler failed")) }))
        .route("/hang", web::get().to(std::future::pending::<HttpResponse>))
        .route("/panics", web::get().to(panicking))
        .route("/query", web::get().to(query_in_handler))
        .route("/blocking", web::get().to(query_in_block))
        .route("/n-plus-one/{n}", web::get().to(n_plus_one_in_handler));
}

/// Runs one shape `n` times, flagging it at the 5th run the way perf-db does.
async fn n_plus_one_in_handler(n: web::Path<u32>) -> HttpResponse {
    let scope = RequestScope::current().expect("the monitor enters a scope");
    let text: Arc<str> = Arc::from("SELECT * FROM plants WHERE id = ?");
    for _ in 0..n.into_inner() {
        if scope.record_query(77, Duration::from_millis(3)) == 5 {
            scope.flag_n_plus_one(77, &text);
        }
    }
    HttpResponse::Ok().finish()
}

async fn panicking() -> HttpResponse {
    let fail = std::hint::black_box(true);
    assert!(!fail, "handler panicked on purpose");
    HttpResponse::Ok().finish()
}

async fn query_in_handler() -> HttpResponse {
    let scope = RequestScope::current().expect("the monitor enters a scope");
    assert_eq!(scope.label(), "GET /query");
    scope.record_query(7, Duration::from_millis(5));
    scope.record_cache(true);
    HttpResponse::Ok().finish()
}

async fn query_in_block() -> HttpResponse {
    perf_http::block(|| RequestScope::with_current(|s| s.map(|s| s.record_query(9, Duration::from_millis(2)))))
        .await
        .unwrap();
    HttpResponse::Ok().finish()
}

fn recording(config: PerfConfig) -> (PerfState, Arc<RecordingRecorder>) {
    let p = parts(config.clone());
    let rec = Arc::new(RecordingRecorder::default());
    let state = PerfState::builder(config)
        .recorder(rec.clone())
        .source(p.store.clone())
        .clock(p.clock.clone())
        .build()
        .unwrap();
    (state, rec)
}

async fn get(state: &PerfState, uri: &str) -> ServiceResponse {
    let app = test::init_service(App::new().wrap(state.monitor()).configure(routes)).await;
    test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await
}

#[actix_web::test]
async fn records_method_route_pattern_status_and_time() {
    let (state, rec) = recording(PerfConfig::default());
    let res = get(&state, "/items/42").await;
    assert_eq!(res.status(), 200);
    let r = rec.requests.lock()[0].clone();
    assert_eq!(r.method, Method::Get);
    assert_eq!(r.route.as_deref(), Some("/items/{id}"));
    assert_eq!(r.status, 200);
    assert_eq!(r.at.as_unix_micros(), T0 * 1_000_000);
}

#[actix_web::test]
async fn n_plus_one_findings_are_recorded_once_per_request_with_the_final_count() {
    let (state, rec) = recording(PerfConfig::default());
    let app = test::init_service(App::new().wrap(state.monitor()).configure(routes)).await;
    for n in [12, 4, 7] {
        let res =
            test::call_service(&app, test::TestRequest::get().uri(&format!("/n-plus-one/{n}")).to_request()).await;
        assert_eq!(res.status(), 200);
    }
    let found: Vec<_> = rec.n_plus_one.lock().iter().map(|f| (f.scope.clone(), f.count)).collect();
    // 4 runs stay under the threshold; 12 and 7 are reported as they ended, not as 5.
    assert_eq!(found, [("GET /n-plus-one/{n}".to_owned(), 12), ("GET /n-plus-one/{n}".to_owned(), 7)]);
}

#[actix_web::test]
async fn n_plus_one_warnings_are_written_once_per_minute_by_all_workers_together() {
    let (state, _rec) = recording(PerfConfig::default());
    let log = LogCapture::new();
    let _log = tracing::subscriber::set_default(log.clone());
    // Another test's thread may have cached this callsite's interest without
    // this thread's subscriber; recompute it so no line is filtered out.
    tracing::callsite::rebuild_interest_cache();
    // Two monitors made from one state, as two actix workers would make them.
    let a = test::init_service(App::new().wrap(state.monitor()).configure(routes)).await;
    let b = test::init_service(App::new().wrap(state.monitor()).configure(routes)).await;
    for _ in 0..10 {
        test::call_service(&a, test::TestRequest::get().uri("/n-plus-one/9").to_request()).await;
        test::call_service(&b, test::TestRequest::get().uri("/n-plus-one/9").to_request()).await;
    }
    let lines = warnings(&log).iter().filter(|l| l.contains("N+1 query pattern")).count();
    assert_eq!(lines, 1, "20 N+1 requests within a minute: one line; seen {:?}", warnings(&log));
}

#[actix_web::test]
async fn unmatched_paths_share_one_key() {
    let p = parts(PerfConfig::default());
    let app = test::init_service(App::new().wrap(p.state.monitor()).configure(routes)).await;
    for uri in ["/nope", "/other/path", "/x/y/z"] {
        let res = test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(res.status(), 404);
    }
    let snap = p.store.snapshot(Window::DEFAULT);
    assert_eq!(snap.endpoints.len(), 1);
    assert_eq!(snap.endpoints[0].route, UNMATCHED_ROUTE);
    assert_eq!(snap.endpoints[0].stats.count, 3);
    assert_eq!(snap.requests.client_errors, 3);
}

#[actix_web::test]
async fn server_errors_and_handler_errors_count_as_errors_and_4xx_apart() {
    let p = parts(PerfConfig::default());
    let app = test::init_service(App::new().wrap(p.state.monitor()).configure(routes)).await;
    for uri in ["/boom", "/fails", "/bad", "/items/1"] {
        test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
    }
    let snap = p.store.snapshot(Window::DEFAULT);
    assert_eq!(snap.requests.count, 4);
    assert_eq!(snap.requests.errors, 2);
    assert_eq!(snap.requests.client_errors, 1);
}

#[actix_web::test]
async fn errors_returned_by_inner_middleware_are_recorded_with_their_status() {
    let (state, rec) = recording(PerfConfig::default());
    async fn deny(_req: ServiceRequest, _next: Next<impl MessageBody>) -> Result<ServiceResponse, actix_web::Error> {
        Err(ErrorForbidden("denied"))
    }
    let app = test::init_service(App::new().wrap(from_fn(deny)).wrap(state.monitor()).configure(routes)).await;
    let err = test::try_call_service(&app, test::TestRequest::get().uri("/items/1").to_request()).await.unwrap_err();
    assert_eq!(err.as_response_error().status_code(), 403);
    let r = rec.requests.lock()[0].clone();
    assert_eq!((r.status, r.route.as_deref()), (403, Some("/items/{id}")));
}

#[actix_web::test]
async fn panicking_requests_are_recorded_as_500() {
    let (state, rec) = recording(PerfConfig::default());
    let app = test::init_service(App::new().wrap(state.monitor()).configure(routes)).await;
    let call = app.call(test::TestRequest::get().uri("/panics").to_request());
    let outcome = std::panic::AssertUnwindSafe(call).catch_unwind().await;
    assert!(outcome.is_err(), "the handler panics");
    let r = rec.requests.lock()[0].clone();
    assert_eq!((r.status, r.route.as_deref()), (500, Some("/panics")));
}

#[actix_web::test]
async fn abandoned_requests_are_recorded_as_499() {
    let (state, rec) = recording(PerfConfig::default());
    let app = test::init_service(App::new().wrap(state.monitor()).configure(routes)).await;
    let mut call = Box::pin(app.call(test::TestRequest::get().uri("/hang").to_request()));
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(call.as_mut().poll(cx))).await;
    assert!(first.is_pending());
    assert!(rec.requests.lock().is_empty(), "nothing is recorded while the request runs");
    drop(call);
    let r = rec.requests.lock()[0].clone();
    assert_eq!((r.status, r.route.as_deref()), (499, Some("/hang")));
}

#[actix_web::test]
async fn timed_out_requests_get_504_and_are_recorded() {
    let (state, rec) = recording(PerfConfig::default());
    let monitor = state.monitor().timeout(Duration::from_millis(20));
    let app = test::init_service(App::new().wrap(monitor).configure(routes)).await;
    let err = test::try_call_service(&app, test::TestRequest::get().uri("/hang").to_request()).await.unwrap_err();
    assert_eq!(err.as_response_error().status_code(), 504);
    assert_eq!(rec.requests.lock().len(), 1);
    assert_eq!(rec.requests.lock()[0].status, 504);
}

#[actix_web::test]
async fn handlers_see_the_request_scope_and_queries_are_attributed() {
    let (state, rec) = recording(PerfConfig::default());
    let res = get(&state, "/query").await;
    let timing = res.headers().get("server-timing").unwrap().to_str().unwrap().to_owned();
    assert!(timing.starts_with("total;dur="), "{timing}");
    assert!(timing.contains("db;dur=5.000;desc=\"1 queries\""), "{timing}");
    assert!(timing.contains("cache;desc=\"1 hits 0 misses\""), "{timing}");
    let r = rec.requests.lock()[0].clone();
    assert_eq!((r.queries, r.query_time), (1, Duration::from_millis(5)));
}

#[actix_web::test]
async fn block_keeps_attribution_on_the_blocking_pool() {
    let (state, rec) = recording(PerfConfig::default());
    get(&state, "/blocking").await;
    let r = rec.requests.lock()[0].clone();
    assert_eq!((r.queries, r.query_time), (1, Duration::from_millis(2)));
}

#[actix_web::test]
async fn excluded_paths_are_not_recorded() {
    let (state, rec) = recording(PerfConfig::default());
    let app = test::init_service(
        App::new()
            .wrap(state.monitor().exclude("/health"))
            .service(state.api())
            .route("/health", web::get().to(ok))
            .route("/healthz", web::get().to(ok)),
    )
    .await;
    for uri in ["/api/performance/thresholds", "/health", "/healthz"] {
        let res = test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(res.status(), 200, "{uri}");
        assert_eq!(res.headers().contains_key("server-timing"), uri == "/healthz", "{uri}");
    }
    let recorded: Vec<_> = rec.requests.lock().iter().map(|r| r.route.clone()).collect();
    assert_eq!(recorded, vec![Some("/healthz".to_owned())]);
}

#[actix_web::test]
async fn disabled_monitoring_is_a_pass_through() {
    let (state, rec) = recording(PerfConfig::builder().enabled(false).build().unwrap());
    let res = get(&state, "/items/1").await;
    assert_eq!(res.status(), 200);
    assert!(!res.headers().contains_key("server-timing"));
    assert!(rec.requests.lock().is_empty());
}

#[actix_web::test]
async fn the_excluded_list_can_be_replaced() {
    let (state, rec) = recording(PerfConfig::default());
    let monitor = state.monitor().excluded_paths(["/items/"]);
    let app = test::init_service(App::new().wrap(monitor).service(state.api()).configure(routes)).await;
    for uri in ["/items/1", "/api/performance/summary"] {
        test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
    }
    let recorded: Vec<_> = rec.requests.lock().iter().map(|r| r.route.clone()).collect();
    assert_eq!(recorded, vec![Some("/api/performance/summary".to_owned())]);
}

#[actix_web::test]
async fn server_timing_can_be_turned_off_by_config() {
    let (state, rec) = recording(PerfConfig::builder().server_timing(false).build().unwrap());
    let res = get(&state, "/items/1").await;
    assert!(!res.headers().contains_key("server-timing"));
    assert_eq!(rec.requests.lock().len(), 1);
}

#[core::prelude::v1::test]
fn workers_share_one_set_of_totals() {
    let p = parts(PerfConfig::default());
    let state = p.state.clone();
    // The client runs on the blocking pool while the server's two workers answer.
    with_server(
        2,
        move || App::new().wrap(state.monitor()).configure(routes),
        move |addr| {
            for i in 0..20 {
                let mut s = TcpStream::connect(addr).unwrap();
                write!(s, "GET /items/{i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
                let mut out = String::new();
                s.read_to_string(&mut out).unwrap();
                assert!(out.starts_with("HTTP/1.1 200"), "{out}");
            }
        },
    );
    let snap = p.store.snapshot(Window::DEFAULT);
    assert_eq!(snap.requests.count, 20);
    assert_eq!(snap.endpoints[0].route, "/items/{id}");
}

/// The WARN lines `log` kept, as `target name=value …`.
fn warnings(log: &LogCapture) -> Vec<String> {
    log.events().into_iter().filter(|e| e.level == tracing::Level::WARN).map(|e| e.line).collect()
}

#[core::prelude::v1::test]
fn slow_requests_are_logged_with_route_and_duration() {
    let log = LogCapture::new();
    log.capture(|| {
        actix_web::rt::System::new().block_on(async {
            let fast = recording(PerfConfig::default()).0;
            get(&fast, "/items/1").await;
            assert!(warnings(&log).is_empty(), "a fast request is not logged");
            // Every request is slower than a 1 µs threshold.
            let slow = recording(PerfConfig::builder().slow_request_threshold(1e-6).build().unwrap()).0;
            get(&slow, "/items/1").await;
        });
    });
    let lines = warnings(&log);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("message=slow request"), "{}", lines[0]);
    assert!(lines[0].contains("route=\"/items/{id}\""), "{}", lines[0]);
    assert!(lines[0].contains("duration_ms="), "{}", lines[0]);
}

async fn echo(id: web::Path<String>) -> HttpResponse {
    HttpResponse::Ok().body(id.into_inner())
}

/// Each request's route as recorded, in order.
fn recorded_routes(rec: &RecordingRecorder) -> Vec<Option<String>> {
    rec.requests.lock().iter().map(|r| r.route.clone()).collect()
}

#[actix_web::test]
async fn percent_encoded_paths_count_under_the_route_that_served_them() {
    let (state, rec) = recording(PerfConfig::default());
    let app = test::init_service(App::new().wrap(state.monitor()).configure(routes)).await;
    // Twice each, so the second of each comes from the per-worker memo.
    let uris = ["/items/%34%32", "/items/42", "/%69tems/42", "/items/%34%32", "/%71uery", "/%71uery"];
    for uri in uris {
        let res = test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(res.status(), 200, "{uri}");
    }
    let expected: Vec<_> =
        uris.iter().map(|u| Some(if u.ends_with("uery") { "/query" } else { "/items/{id}" }.to_owned())).collect();
    assert_eq!(recorded_routes(&rec), expected);
    // The handler's queries went to the request's route, not to `<unmatched>`.
    let queries: Vec<_> =
        rec.requests.lock().iter().filter(|r| r.route.as_deref() == Some("/query")).map(|r| r.queries).collect();
    assert_eq!(queries, [1, 1]);
}

#[actix_web::test]
async fn excluded_prefixes_hold_however_the_path_is_spelled() {
    let (state, rec) = recording(PerfConfig::default());
    let app = test::init_service(
        App::new()
            .wrap(state.monitor().exclude("/health"))
            .service(state.api())
            .service(state.metrics())
            .route("/health", web::get().to(ok))
            .configure(routes),
    )
    .await;
    for uri in ["/api/%70erformance/thresholds", "/api/performance/%74hresholds", "/%6Detrics", "/h%65alth"] {
        let res = test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
        // Served by the real handlers...
        assert_eq!(res.status(), 200, "{uri}");
        // ...and not monitored.
        assert!(!res.headers().contains_key("server-timing"), "{uri}");
    }
    assert_eq!(recorded_routes(&rec), Vec::<Option<String>>::new());
}

/// actix decodes every percent-escape of the path once, except `%25`, `%2F`
/// and `%2B`: an encoded slash is no separator for the router, so it stays
/// inside one segment (and a `web::Path<String>` sees it decoded).
#[actix_web::test]
async fn an_encoded_slash_is_routed_as_actix_routes_it() {
    let (state, rec) = recording(PerfConfig::default());
    let app = test::init_service(
        App::new()
            .wrap(state.monitor())
            .service(state.api())
            .route("/echo/{id}", web::get().to(echo))
            .configure(routes),
    )
    .await;
    let res = test::call_service(&app, test::TestRequest::get().uri("/echo/a%2Fb").to_request()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(test::read_body(res).await, "a/b");
    // `%2F` joins no segments: neither `/items/{id}` nor the perf API's scope matches.
    for uri in ["/items%2F42", "/api/performance%2Fsummary"] {
        let res = test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(res.status(), 404, "{uri}");
    }
    assert_eq!(recorded_routes(&rec), vec![Some("/echo/{id}".to_owned()), None, None]);
}

/// A GET route answering with `pattern`, so a response says where actix routed it.
fn named(pattern: &'static str) -> actix_web::Route {
    web::get().to(move || async move { HttpResponse::Ok().body(pattern) })
}

/// Routes that overlap: a static route before a dynamic one of the same
/// shape, regex-constrained segments before free ones (also under one name),
/// scopes with dynamic prefixes, a tail, a header guard, UUIDs, and a
/// catch-all for two-segment paths.
fn overlapping(cfg: &mut web::ServiceConfig) {
    cfg.route("/items/7", named("/items/7"))
        .route("/items/{id}", named("/items/{id}"))
        .route("/n/{id:\\d+}", named("/n/{id:\\d+}"))
        .route("/n/{slug}", named("/n/{slug}"))
        .route("/r/{id:\\d{1,3}}", named("/r/{id:\\d{1,3}}"))
        .route("/r/{id}", named("/r/{id}"))
        .service(
            web::scope("/u/{uid}")
                .route("/posts/{pid}", named("/u/{uid}/posts/{pid}"))
                .route("/profile", named("/u/{uid}/profile"))
                .service(web::scope("/team/{tid}").route("/m/{mid}", named("/u/{uid}/team/{tid}/m/{mid}"))),
        )
        .service(web::scope("/v/{vid}").route("/profile", named("/v/{vid}/profile")))
        .route("/files/{tail}*", named("/files/{tail}*"))
        .service(web::resource("/g/{id}").guard(actix_web::guard::Header("x-alt", "1")).route(named("/g/{id}")))
        .route("/g/{gid}", named("/g/{gid}"))
        .route("/d/new", named("/d/new"))
        .route("/d/{id}", named("/d/{id}"))
        .route("/{name}/{id}", named("/{name}/{id}"));
}

/// Serves `requests` (path, with the `x-alt: 1` header?) in order and checks
/// that each was recorded under the pattern its response names.
async fn check_routed_patterns(requests: &[(String, bool)]) {
    let (state, rec) = recording(PerfConfig::default());
    let app = test::init_service(
        App::new()
            .wrap(state.monitor())
            .configure(overlapping)
            .default_service(web::to(|| async { HttpResponse::NotFound().body(UNMATCHED_ROUTE) })),
    )
    .await;
    let mut served = Vec::new();
    for (uri, alt) in requests {
        let mut req = test::TestRequest::get().uri(uri);
        if *alt {
            req = req.insert_header(("x-alt", "1"));
        }
        let res = test::call_service(&app, req.to_request()).await;
        let body = test::read_body(res).await;
        let pattern = std::str::from_utf8(&body).unwrap().to_owned();
        served.push((pattern != UNMATCHED_ROUTE).then_some(pattern));
    }
    let recorded = recorded_routes(&rec);
    assert_eq!(recorded.len(), served.len());
    for (i, (got, want)) in recorded.iter().zip(&served).enumerate() {
        assert_eq!(got, want, "request {i}: {:?}", requests[i]);
    }
}

#[actix_web::test]
async fn overlapping_routes_count_under_the_pattern_actix_routed_to() {
    let uuid = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";
    let paths: Vec<(String, bool)> = [
        // The static route first, so its shape's first guess is wrong for 8.
        ("/items/7", false),
        ("/items/8", false),
        ("/items/7", false),
        ("/items/%37", false),
        ("/items/%38", false),
        ("/items/4095", false),
        ("/items/x", false),
        ("/n/5", false),
        ("/n/abc", false),
        ("/n/55", false),
        // One skeleton, two definitions: 1 to 3 digits, then anything.
        ("/r/5", false),
        ("/r/5000", false),
        ("/r/42", false),
        ("/r/4200", false),
        ("/u/1/posts/2", false),
        ("/u/1/profile", false),
        ("/u/alice/profile", false),
        ("/u/1/team/2/m/3", false),
        ("/u/1/team/x/m/3", false),
        ("/v/1/profile", false),
        ("/files/a/b/c.txt", false),
        ("/files/1", false),
        ("/files/", false),
        ("/files/1/2", false),
        // The guard sends one shape to two routes.
        ("/g/1", true),
        ("/g/2", false),
        ("/g/3", true),
        ("/g/4", false),
        ("/d/new", false),
        (&format!("/d/{uuid}"), false),
        (&format!("/d/{}", uuid.to_uppercase()), false),
        ("/x/1", false),
        ("/x/1/2", false),
        ("/nothing", false),
        ("/", false),
        ("/items/9/", false),
    ]
    .iter()
    .map(|(p, alt)| (p.to_string(), *alt))
    .collect();
    // Every path three times, in turn, so later rounds go through the memo.
    let rounds: Vec<_> = (0..3).flat_map(|_| paths.iter().cloned()).collect();
    check_routed_patterns(&rounds).await;
    // The same paths in reverse order: different first guesses.
    let reversed: Vec<_> = (0..3).flat_map(|_| paths.iter().rev().cloned()).collect();
    check_routed_patterns(&reversed).await;
}

#[actix_web::test]
async fn more_shapes_than_memo_slots_still_count_under_the_routed_pattern() {
    // 3,000 literal first segments: more shapes than the memo's 1,024 slots,
    // each path also under two ids, and the overlapping routes in between.
    let mut requests = Vec::new();
    for round in 0..2 {
        for i in 0..3_000 {
            requests.push((format!("/w{i}/{}", i + round), false));
            if i % 97 == 0 {
                requests.push((format!("/items/{}", 7 + round), false));
                requests.push((format!("/r/{}", 9 * 10u32.pow(round + 2)), false));
            }
        }
    }
    check_routed_patterns(&requests).await;
}

/// The trace id in a `traceparent` value (`00-<trace>-<span>-<flags>`).
fn trace_of(value: &str) -> &str {
    value.split('-').nth(1).unwrap_or_default()
}

#[actix_web::test]
async fn an_incoming_traceparent_is_continued_kept_with_slow_requests_and_answered() {
    const INCOMING: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    // Every request is slow at a 1 ns threshold, so each is kept with its trace.
    let config = PerfConfig::builder().slow_request_threshold(1e-9).build().unwrap();
    let p = parts(config);
    let app = test::init_service(App::new().wrap(p.state.monitor()).configure(routes)).await;
    let call = |uri: &'static str, headers: Vec<&'static str>| {
        let mut req = test::TestRequest::get().uri(uri);
        for h in headers {
            req = req.append_header(("traceparent", h));
        }
        req.to_request()
    };
    let header = |res: &ServiceResponse| res.headers().get("traceparent").unwrap().to_str().unwrap().to_owned();

    // Continued: the caller's trace, this request's span as the next parent.
    let res = test::call_service(&app, call("/n-plus-one/6", vec![INCOMING])).await;
    let answered = header(&res);
    assert_eq!(trace_of(&answered), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_ne!(answered, INCOMING);
    assert!(answered.ends_with("-01") && answered.len() == 55, "{answered}");
    // None, invalid, or two headers: a trace of its own each.
    let mut started = Vec::new();
    for headers in [vec![], vec!["00-zz-not-a-trace"], vec![INCOMING, INCOMING]] {
        let res = test::call_service(&app, call("/items/1", headers)).await;
        started.push(header(&res));
    }
    for value in &started {
        assert_ne!(trace_of(value), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(perf_core::TraceContext::continue_from(value.as_bytes()).is_some(), "{value}");
    }

    let snap = p.store.snapshot(Window::minutes(5).unwrap());
    let traced: Vec<(String, Option<String>)> =
        snap.slow_requests.iter().map(|s| (s.route.clone(), s.trace_id.map(|t| t.to_string()))).collect();
    assert_eq!(traced.len(), 4, "{traced:?}");
    assert!(traced.contains(&("/n-plus-one/{n}".into(), Some("4bf92f3577b34da6a3ce929d0e0e4736".into()))));
    for value in &started {
        assert!(traced.contains(&("/items/{id}".into(), Some(trace_of(value).to_owned()))), "{traced:?}");
    }
    assert_eq!(snap.n_plus_one[0].trace_id.map(|t| t.to_string()).as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));

    // Without Server-Timing no header is added; the trace is still kept.
    let quiet = parts(PerfConfig::builder().slow_request_threshold(1e-9).server_timing(false).build().unwrap());
    let app = test::init_service(App::new().wrap(quiet.state.monitor()).configure(routes)).await;
    let res = test::call_service(&app, call("/items/1", vec![INCOMING])).await;
    assert!(res.headers().get("traceparent").is_none());
    let kept = quiet.store.snapshot(Window::minutes(5).unwrap()).slow_requests;
    assert_eq!(kept[0].trace_id.map(|t| t.to_string()).as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
}
