//! The response-caching middleware over a fake `CacheStore`.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use actix_web::{
    App, HttpRequest, HttpResponse,
    dev::ServiceResponse,
    http::header::{self, HeaderName},
    test, web,
};
use perf_http::ResponseCache;

type Body = actix_web::body::EitherBody<actix_web::body::BoxBody>;

use crate::fakes::{fail, fake_cache};

struct Counter(AtomicU64);

async fn counted(req: HttpRequest, hits: web::Data<Counter>) -> HttpResponse {
    let n = hits.0.fetch_add(1, Ordering::SeqCst) + 1;
    let lang = req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
    match req.path() {
        "/cookie" => HttpResponse::Ok().insert_header((header::SET_COOKIE, "s=1")).body(format!("{n}")),
        "/private" => {
            HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "private, max-age=60")).body(format!("{n}"))
        }
        "/nostore" => HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).body(format!("{n}")),
        "/vary" => HttpResponse::Ok().insert_header((header::VARY, "Accept-Language")).body(format!("{n} {lang}")),
        "/missing" => HttpResponse::NotFound().body(format!("{n}")),
        _ => HttpResponse::Ok().content_type("application/json").body(format!("{{\"n\":{n}}}")),
    }
}

struct Fixture {
    cache: Arc<perf_core::testing::MapCache>,
    calls: web::Data<Counter>,
}

async fn app(
    f: &Fixture,
    mw: ResponseCache,
) -> impl actix_web::dev::Service<actix_http::Request, Response = ServiceResponse<Body>, Error = actix_web::Error> + use<>
{
    let calls = f.calls.clone();
    test::init_service(App::new().app_data(calls).wrap(mw).default_service(web::to(counted))).await
}

fn fixture() -> (Fixture, ResponseCache) {
    let cache = fake_cache();
    let mw = ResponseCache::new(cache.clone()).namespace("dashboard");
    (Fixture { cache, calls: web::Data::new(Counter(AtomicU64::new(0))) }, mw)
}

async fn send(
    app: &impl actix_web::dev::Service<actix_http::Request, Response = ServiceResponse<Body>, Error = actix_web::Error>,
    req: test::TestRequest,
) -> (u16, Option<String>, Option<String>, String) {
    let res = test::call_service(app, req.to_request()).await;
    let status = res.status().as_u16();
    let h = |n: &str| res.headers().get(n).map(|v| v.to_str().unwrap().to_owned());
    let (x, etag) = (h("x-cache"), h("etag"));
    let body = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    (status, x, etag, body)
}

#[actix_web::test]
async fn second_get_is_a_hit_with_the_same_body_and_etag() {
    let (f, mw) = fixture();
    let app = app(&f, mw).await;
    let (s1, x1, e1, b1) = send(&app, test::TestRequest::get().uri("/stats?b=2&a=1")).await;
    let (s2, x2, e2, b2) = send(&app, test::TestRequest::get().uri("/stats?a=1&b=2")).await;
    assert_eq!((s1, x1.as_deref(), s2, x2.as_deref()), (200, Some("MISS"), 200, Some("HIT")));
    assert_eq!((b1.as_str(), b2.as_str()), ("{\"n\":1}", "{\"n\":1}"));
    assert!(e1.is_some());
    assert_eq!(e1, e2);
    assert_eq!(f.calls.0.load(Ordering::SeqCst), 1, "query order does not change the key");
    assert_eq!(f.cache.keys(), vec!["dashboard:GET /stats?a=1&b=2".to_owned()]);
}

#[actix_web::test]
async fn cached_responses_keep_their_content_type() {
    let (f, mw) = fixture();
    let app = app(&f, mw).await;
    send(&app, test::TestRequest::get().uri("/stats")).await;
    let res = test::call_service(&app, test::TestRequest::get().uri("/stats").to_request()).await;
    assert_eq!(res.headers().get(header::CONTENT_TYPE).unwrap(), "application/json");
}

#[actix_web::test]
async fn if_none_match_gets_304_on_hit_and_miss() {
    let (f, mw) = fixture();
    let app = app(&f, mw).await;
    let (_, _, etag, _) = send(&app, test::TestRequest::get().uri("/stats")).await;
    let etag = etag.unwrap();
    let (s, x, e, body) =
        send(&app, test::TestRequest::get().uri("/stats").insert_header((header::IF_NONE_MATCH, etag.clone()))).await;
    assert_eq!((s, x.as_deref(), body.as_str()), (304, Some("HIT"), ""));
    assert_eq!(e.as_deref(), Some(etag.as_str()));
    let (s, _, _, _) =
        send(&app, test::TestRequest::get().uri("/stats").insert_header((header::IF_NONE_MATCH, "\"other\""))).await;
    assert_eq!(s, 200);
    // A fresh response whose tag the client already holds is a 304 too.
    let (s, x, _, _) = send(
        &app,
        test::TestRequest::get()
            .uri("/stats")
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .insert_header((header::IF_NONE_MATCH, "\"other\", *")),
    )
    .await;
    assert_eq!((s, x.as_deref()), (304, Some("MISS")));
}

#[actix_web::test]
async fn no_cache_requests_bypass_the_lookup() {
    let (f, mw) = fixture();
    let app = app(&f, mw).await;
    send(&app, test::TestRequest::get().uri("/stats")).await;
    let (_, x, _, body) =
        send(&app, test::TestRequest::get().uri("/stats").insert_header((header::CACHE_CONTROL, "no-cache"))).await;
    assert_eq!((x.as_deref(), body.as_str()), (Some("MISS"), "{\"n\":2}"));
    let (_, x, _, body) = send(&app, test::TestRequest::get().uri("/stats")).await;
    assert_eq!((x.as_deref(), body.as_str()), (Some("HIT"), "{\"n\":2}"), "the fresh response was stored");
}

#[actix_web::test]
async fn only_get_and_head_are_cached() {
    let (f, mw) = fixture();
    let app = app(&f, mw).await;
    for _ in 0..2 {
        let (_, x, _, _) = send(&app, test::TestRequest::post().uri("/stats")).await;
        assert_eq!(x, None);
    }
    assert_eq!(f.calls.0.load(Ordering::SeqCst), 2);
    assert!(f.cache.keys().is_empty());
    send(&app, test::TestRequest::default().method(actix_web::http::Method::HEAD).uri("/stats")).await;
    let (_, x, _, _) =
        send(&app, test::TestRequest::default().method(actix_web::http::Method::HEAD).uri("/stats")).await;
    assert_eq!(x.as_deref(), Some("HIT"));
}

/// `path` is answered twice by the handler: its response is never stored.
async fn check_never_stored(path: &str) {
    let (f, mw) = fixture();
    let app = app(&f, mw).await;
    send(&app, test::TestRequest::get().uri(path)).await;
    let (_, x, _, _) = send(&app, test::TestRequest::get().uri(path)).await;
    assert_eq!(x.as_deref(), Some("MISS"), "{path}");
    assert_eq!(f.calls.0.load(Ordering::SeqCst), 2, "{path}");
    assert!(f.cache.keys().is_empty(), "{path}");
}

#[actix_web::test]
async fn cookies_private_no_store_errors_and_unknown_vary_are_never_stored() {
    check_never_stored("/cookie").await;
    check_never_stored("/private").await;
    check_never_stored("/nostore").await;
    check_never_stored("/missing").await;
    check_never_stored("/vary").await;
}

#[actix_web::test]
async fn configured_vary_headers_split_the_key() {
    let (f, mw) = fixture();
    let app = app(&f, mw.vary(HeaderName::from_static("accept-language"))).await;
    let get = |lang: &'static str| test::TestRequest::get().uri("/vary").insert_header((header::ACCEPT_LANGUAGE, lang));
    let (_, x1, _, b1) = send(&app, get("en")).await;
    let (_, x2, _, b2) = send(&app, get("fr")).await;
    let (_, x3, _, b3) = send(&app, get("en")).await;
    assert_eq!((x1.as_deref(), x2.as_deref(), x3.as_deref()), (Some("MISS"), Some("MISS"), Some("HIT")));
    assert_eq!((b1.as_str(), b2.as_str(), b3.as_str()), ("1 en", "2 fr", "1 en"));
}

#[actix_web::test]
async fn namespace_invalidation_drops_cached_responses() {
    use perf_core::CacheStore as _;
    let (f, mw) = fixture();
    let app = app(&f, mw).await;
    send(&app, test::TestRequest::get().uri("/stats")).await;
    f.cache.invalidate("dashboard").await.unwrap();
    let (_, x, _, body) = send(&app, test::TestRequest::get().uri("/stats")).await;
    assert_eq!((x.as_deref(), body.as_str()), (Some("MISS"), "{\"n\":2}"));
}

#[actix_web::test]
async fn a_failing_cache_serves_from_the_handler() {
    let (f, mw) = fixture();
    fail(&f.cache);
    let app = app(&f, mw).await;
    for n in 1..=2 {
        let (s, x, _, body) = send(&app, test::TestRequest::get().uri("/stats")).await;
        assert_eq!((s, x.as_deref(), body), (200, Some("MISS"), format!("{{\"n\":{n}}}")));
    }
    assert!(f.cache.gets.load(Ordering::Relaxed) >= 2);
}

#[actix_web::test]
async fn bodies_over_the_limit_are_not_stored() {
    let (f, mw) = fixture();
    let app = app(&f, mw.max_body_bytes(4)).await;
    for n in 1..=2 {
        let (_, x, _, body) = send(&app, test::TestRequest::get().uri("/stats")).await;
        assert_eq!((x.as_deref(), body), (Some("MISS"), format!("{{\"n\":{n}}}")));
    }
    assert!(f.cache.keys().is_empty());
}

#[actix_web::test]
async fn corrupt_entries_are_treated_as_misses() {
    let (f, mw) = fixture();
    f.cache.entries.lock().insert("dashboard:GET /stats".into(), Arc::from(&b"garbage"[..]));
    let app = app(&f, mw).await;
    let (s, x, _, body) = send(&app, test::TestRequest::get().uri("/stats")).await;
    assert_eq!((s, x.as_deref(), body.as_str()), (200, Some("MISS"), "{\"n\":1}"));
    let (_, x, _, _) = send(&app, test::TestRequest::get().uri("/stats")).await;
    assert_eq!(x.as_deref(), Some("HIT"), "the corrupt entry was overwritten");
}
