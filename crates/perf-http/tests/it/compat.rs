//! The actix-web-prom naming against the real actix-web-prom middleware:
//! both watch the same requests in one app, and their expositions must
//! agree on family names, types, label names and values, and counts.

use std::{collections::BTreeMap, time::Duration};

use actix_web::{App, HttpResponse, http::StatusCode, test, web};
use actix_web_prom::PrometheusMetricsBuilder;
use perf_core::{MetricsNaming, PerfConfig};

use crate::{
    expo::{self, Sample},
    fakes::parts,
};

/// actix-web-prom's default buckets (the prometheus crate's `DEFAULT_BUCKETS`).
const PROM_BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
const ROUTES: [&str; 2] = ["/items/{id}", "/items"];

async fn item(path: web::Path<u16>) -> HttpResponse {
    let code = StatusCode::from_u16(*path).unwrap_or(StatusCode::OK);
    HttpResponse::build(code).body("item")
}

async fn create() -> HttpResponse {
    HttpResponse::Created().finish()
}

/// A sample's family and labels, and its value where it is a count.
type Comparable = BTreeMap<(String, Vec<(String, String)>), Option<f64>>;

/// Families, label sets and counts of the request series on `ROUTES`,
/// leaving out bucket values (each middleware times the request itself).
fn comparable(text: &str, namespace: &str) -> Comparable {
    let samples: Vec<Sample> = expo::parse(text);
    samples
        .into_iter()
        .filter(|s| s.name.starts_with(&format!("{namespace}_http_requests")))
        .filter(|s| s.label("endpoint").is_some_and(|e| ROUTES.contains(&e)))
        .filter(|s| !s.name.ends_with("_sum"))
        .map(|s| {
            let counted = s.name.ends_with("_total") || s.name.ends_with("_count") || s.label("le") == Some("+Inf");
            let labels = s.labels.clone().into_iter().collect();
            ((s.name, labels), counted.then_some(s.value))
        })
        .collect()
}

fn family_types(text: &str, namespace: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .filter(|(n, _)| n.starts_with(&format!("{namespace}_http_requests")))
        .map(|(n, t)| (n.to_owned(), t.to_owned()))
        .collect()
}

async fn get(
    app: &impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
    >,
    uri: &str,
) -> String {
    let res = test::call_service(app, test::TestRequest::get().uri(uri).to_request()).await;
    String::from_utf8(test::read_body(res).await.to_vec()).unwrap()
}

#[actix_web::test]
async fn actix_web_prom_naming_matches_the_real_middleware() {
    let namespace = "api";
    let prom = PrometheusMetricsBuilder::new(namespace).endpoint("/prom").build().unwrap();
    let config = PerfConfig::builder()
        .metrics_naming(MetricsNaming::actix_web_prom(namespace).unwrap())
        .histogram_buckets(PROM_BUCKETS.map(Duration::from_secs_f64))
        .build()
        .unwrap();
    let p = parts(config);
    let app = test::init_service(
        App::new()
            .wrap(prom.clone())
            .wrap(p.state.monitor())
            .service(p.state.metrics().at("/perf-metrics"))
            .route("/items/{id}", web::get().to(item))
            .route("/items", web::post().to(create)),
    )
    .await;
    for (method, uri, times) in
        [("GET", "/items/200", 5), ("GET", "/items/404", 3), ("GET", "/items/503", 2), ("POST", "/items", 4)]
    {
        for _ in 0..times {
            let req = match method {
                "POST" => test::TestRequest::post(),
                _ => test::TestRequest::get(),
            };
            let res = test::call_service(&app, req.uri(uri).to_request()).await;
            let _ = test::read_body(res).await;
        }
    }
    let theirs = get(&app, "/prom").await;
    let ours = get(&app, "/perf-metrics").await;

    assert_eq!(family_types(&ours, namespace), family_types(&theirs, namespace), "ours:\n{ours}\ntheirs:\n{theirs}");
    assert_eq!(
        family_types(&theirs, namespace).keys().collect::<Vec<_>>(),
        ["api_http_requests_duration_seconds", "api_http_requests_total"]
    );
    let (a, b) = (comparable(&ours, namespace), comparable(&theirs, namespace));
    assert_eq!(a, b, "ours:\n{ours}\ntheirs:\n{theirs}");
    let total = |status: &str| {
        b.iter()
            .filter(|((n, l), _)| n == "api_http_requests_total" && l.contains(&("status".into(), status.into())))
            .filter_map(|(_, v)| *v)
            .sum::<f64>()
    };
    assert_eq!((total("200"), total("404"), total("503"), total("201")), (5.0, 3.0, 2.0, 4.0));
}

#[actix_web::test]
async fn actix_web_prom_naming_without_a_namespace_has_bare_names() {
    let config = PerfConfig::builder().metrics_naming(MetricsNaming::actix_web_prom("").unwrap()).build().unwrap();
    let p = parts(config);
    let app = test::init_service(
        App::new().wrap(p.state.monitor()).service(p.state.metrics()).route("/items", web::post().to(create)),
    )
    .await;
    let res = test::call_service(&app, test::TestRequest::post().uri("/items").to_request()).await;
    assert_eq!(res.status(), 201);
    let text = get(&app, "/metrics").await;
    assert!(text.contains("http_requests_total{endpoint=\"/items\",method=\"POST\",status=\"201\"} 1\n"), "{text}");
    assert!(text.contains("# TYPE http_requests_duration_seconds histogram\n"), "{text}");
    assert!(!text.contains("perfkit_http_requests_total"), "{text}");
}
