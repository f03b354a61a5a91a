//! Methods on the perf API, `/metrics` and the dashboard (RFC 9110): `HEAD`
//! wherever `GET` works, and a 405 with `Allow` and the JSON error body for
//! every other method.

use std::{
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpStream},
};

use actix_web::{
    App,
    dev::{Service, ServiceResponse},
    http::{Method as HttpMethod, header},
    test,
};
use perf_core::PerfConfig;
use serde_json::Value;

use perf_http::PerfState;

use crate::fakes::{parts, with_server};

const GET_ONLY: &str = "GET, HEAD";

/// Every resource the three services mount, with the methods it answers.
const RESOURCES: [(&str, &str); 19] = [
    ("/api/performance/metrics", GET_ONLY),
    ("/api/performance/analytics", GET_ONLY),
    ("/api/performance/summary", GET_ONLY),
    ("/api/performance/alerts", GET_ONLY),
    ("/api/performance/alerts/1/resolve", "POST"),
    ("/api/performance/thresholds", "GET, HEAD, PUT"),
    ("/api/performance/cache/stats", GET_ONLY),
    ("/api/performance/cache/clear", "POST"),
    ("/api/performance/endpoints", GET_ONLY),
    ("/api/performance/queries", GET_ONLY),
    ("/api/performance/timeseries", GET_ONLY),
    ("/api/performance/trends", GET_ONLY),
    ("/api/performance/report", GET_ONLY),
    ("/api/performance/openapi.json", GET_ONLY),
    ("/metrics", GET_ONLY),
    ("/performance", GET_ONLY),
    ("/performance/", GET_ONLY),
    ("/performance/dashboard.js", GET_ONLY),
    ("/performance/dashboard.css", GET_ONLY),
];

const METHODS: [HttpMethod; 6] =
    [HttpMethod::GET, HttpMethod::HEAD, HttpMethod::POST, HttpMethod::PUT, HttpMethod::DELETE, HttpMethod::PATCH];

fn app_of(
    state: PerfState,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new().wrap(state.monitor()).service(state.api()).service(state.metrics()).service(state.dashboard())
}

async fn call(
    app: &impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
    method: HttpMethod,
    uri: &str,
) -> ServiceResponse {
    test::call_service(app, test::TestRequest::default().method(method).uri(uri).to_request()).await
}

#[actix_web::test]
async fn other_methods_get_405_with_allow_and_the_json_error() {
    let p = parts(PerfConfig::default());
    let app = test::init_service(app_of(p.state.clone())).await;
    let mut refused = 0;
    for (uri, allow) in RESOURCES {
        let allowed: Vec<&str> = allow.split(", ").collect();
        for method in METHODS {
            let res = call(&app, method.clone(), uri).await;
            if allowed.contains(&method.as_str()) {
                assert_ne!(res.status(), 405, "{method} {uri}");
                continue;
            }
            refused += 1;
            assert_eq!(res.status(), 405, "{method} {uri}");
            let listed = res.headers().get(header::ALLOW).map(|v| v.to_str().unwrap().to_owned());
            assert_eq!(listed.as_deref(), Some(allow), "{method} {uri}");
            let body: Value = serde_json::from_slice(&test::read_body(res).await).unwrap();
            assert_eq!(body["error"]["code"], "method_not_allowed", "{method} {uri}");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.contains(method.as_str()) && message.contains(uri), "{message}");
        }
    }
    // 16 GET-only resources refuse 4 of the 6 methods, thresholds 3, the two POST ones 5.
    assert_eq!(refused, 16 * 4 + 3 + 2 * 5);
}

#[actix_web::test]
async fn head_answers_like_get_wherever_get_works() {
    let p = parts(PerfConfig::default());
    let app = test::init_service(app_of(p.state.clone())).await;
    let mut checked = 0;
    for (uri, allow) in RESOURCES.iter().filter(|(_, a)| a.starts_with("GET")) {
        let get = call(&app, HttpMethod::GET, uri).await;
        let head = call(&app, HttpMethod::HEAD, uri).await;
        assert_eq!(head.status(), get.status(), "{uri} ({allow})");
        assert_eq!(head.headers().get(header::CONTENT_TYPE), get.headers().get(header::CONTENT_TYPE), "{uri}");
        checked += 1;
    }
    assert_eq!(checked, 17);
    for uri in ["/performance", "/metrics", "/api/performance/summary"] {
        assert_eq!(call(&app, HttpMethod::HEAD, uri).await.status(), 200, "{uri}");
    }
}

/// One HTTP/1.1 exchange over a fresh connection: the head's lines and the
/// bytes after the blank line.
fn exchange(addr: SocketAddr, method: &str, uri: &str) -> (Vec<String>, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "{method} {uri} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(out[..split].to_vec()).unwrap();
    (head.lines().map(str::to_owned).collect(), out[split + 4..].to_vec())
}

fn content_length(head: &[String]) -> Option<usize> {
    head.iter().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length: ").map(|v| v.parse().unwrap()))
}

#[core::prelude::v1::test]
fn head_over_a_real_server_has_the_get_length_and_no_body() {
    let p = parts(PerfConfig::default());
    let state = p.state.clone();
    let app = move || {
        App::new().wrap(state.monitor()).service(state.api()).service(state.metrics()).service(state.dashboard())
    };
    with_server(1, app, move |addr| {
        for uri in [
            "/performance",
            "/performance/dashboard.js",
            "/metrics",
            "/api/performance/summary",
            "/api/performance/thresholds",
            "/api/performance/openapi.json",
        ] {
            let (get_head, get_body) = exchange(addr, "GET", uri);
            assert_eq!(get_head[0], "HTTP/1.1 200 OK", "GET {uri}");
            assert!(!get_body.is_empty(), "GET {uri}");
            let (head_head, head_body) = exchange(addr, "HEAD", uri);
            assert_eq!(head_head[0], "HTTP/1.1 200 OK", "HEAD {uri}");
            assert!(head_body.is_empty(), "HEAD {uri} sent {} body bytes", head_body.len());
            assert_eq!(content_length(&head_head), Some(get_body.len()), "HEAD {uri}: {head_head:?}");
        }
    });
}
