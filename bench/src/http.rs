//! One in-process request (no sockets) through actix-web: a bare app, the
//! floor any timing middleware pays (an `Instant` pair and one atomic add in
//! a `from_fn` middleware), perfkit's monitor (defaults, without
//! `Server-Timing`, disabled) and actix-web-prom, on a static route, a route
//! with one parameter, and the same route with ids rotating over 0..4096.

use std::{
    hint::black_box,
    rc::Rc,
    sync::atomic::{AtomicU64, Ordering},
    time::Instant,
};

use actix_http::Request;
use actix_web::{
    App, Error, HttpResponse,
    body::MessageBody,
    dev::{Service, ServiceRequest, ServiceResponse},
    middleware::{Next, from_fn},
    rt::{System, SystemRunner},
    test, web,
};
use actix_web_prom::PrometheusMetricsBuilder;
use anyhow::Result;
use perf_core::PerfConfig;
use perf_http::PerfState;

use crate::{Op, Variant};

/// Distinct ids of the rotating route.
const IDS: u64 = 4096;

thread_local! {
    /// One actix system per thread serves every app the process builds.
    static SYSTEM: SystemRunner = System::new();
}

/// The path requested at loop index `i`.
type Uri = fn(u64) -> String;

/// The three routes, as (group, path).
const ROUTES: [(&str, Uri); 3] = [
    ("perf-http/request/hello", |_| "/hello".to_owned()),
    ("perf-http/request/items_42", |_| "/items/42".to_owned()),
    ("perf-http/request/items_rotating", |i| format!("/items/{}", i % IDS)),
];

/// Every app kind, in the order measured; the first is the reference.
pub(crate) const APPS: [&str; 6] =
    ["bare", "floor", "perfkit", "perfkit-no-server-timing", "perfkit-disabled", "actix-web-prom"];

pub(crate) fn variants() -> Vec<Variant> {
    let mut out = Vec::new();
    for (group, uri) in ROUTES {
        for app in APPS {
            out.push(Variant {
                group,
                name: app,
                baseline: (app != "bare").then_some("bare"),
                warm_up: IDS + 256,
                n1: 400,
                make: Box::new(move || make(app, uri)),
            });
        }
    }
    out
}

async fn handler() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

/// The bench apps' routes: `/hello` and `/items/{id}`, each answering `ok`.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/hello", web::get().to(handler)).route("/items/{id}", web::get().to(handler));
}

/// Total nanoseconds seen by the floor middleware (the one atomic add).
static FLOOR_NANOS: AtomicU64 = AtomicU64::new(0);

/// The floor middleware: an `Instant` pair and one atomic add.
pub(crate) async fn floor(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let start = Instant::now();
    let res = next.call(req).await;
    FLOOR_NANOS.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
    res
}

/// perfkit's shared state for `config`, as the apps under test use it.
pub(crate) fn perfkit(config: PerfConfig) -> Result<PerfState> {
    Ok(PerfState::builder(config).build()?)
}

/// Builds `$app` on this thread's system and serves it with [`serve`].
macro_rules! serve {
    ($app:expr, $uris:expr) => {
        serve(SYSTEM.with(|sys| sys.block_on(test::init_service($app))), $uris)
    };
}

fn make(app: &'static str, uri: Uri) -> Result<Op> {
    // Paths are built before measuring, so the loop only routes them.
    let uris: Rc<[String]> = if uri(0) == uri(1) { Rc::from([uri(0)]) } else { (0..IDS).map(uri).collect() };
    Ok(match app {
        "bare" => serve!(App::new().configure(routes), uris),
        "floor" => serve!(App::new().wrap(from_fn(floor)).configure(routes), uris),
        "perfkit" => {
            let perf = perfkit(PerfConfig::default())?;
            serve!(App::new().wrap(perf.monitor()).configure(routes), uris)
        }
        "perfkit-no-server-timing" => {
            let perf = perfkit(PerfConfig::builder().server_timing(false).build()?)?;
            serve!(App::new().wrap(perf.monitor()).configure(routes), uris)
        }
        "perfkit-disabled" => {
            let perf = perfkit(PerfConfig::builder().enabled(false).build()?)?;
            serve!(App::new().wrap(perf.monitor()).configure(routes), uris)
        }
        "actix-web-prom" => {
            let prom = PrometheusMetricsBuilder::new("bench")
                .endpoint("/metrics")
                .build()
                .map_err(|e| anyhow::anyhow!("actix-web-prom: {e}"))?;
            serve!(App::new().wrap(prom).configure(routes), uris)
        }
        other => anyhow::bail!("unknown app {other}"),
    })
}

/// One request per call: built, served, and its body read to the end, as a
/// server would.
fn serve<S, B>(app: S, uris: Rc<[String]>) -> Op
where
    S: Service<Request, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    Box::new(move |i| {
        let uri = &uris[(i % uris.len() as u64) as usize];
        let req = test::TestRequest::get().uri(uri).to_request();
        SYSTEM.with(|sys| {
            sys.block_on(async {
                let res = app.call(req).await.expect("the bench routes answer every request");
                black_box(actix_web::body::to_bytes(res.into_body()).await.ok());
            })
        });
    })
}
