//! One in-process request (no sockets) through actix-web: a bare app, the
//! floor any timing middleware pays (an `Instant` pair and one atomic add in
//! a `from_fn` middleware), perfkit's monitor (defaults, without
//! `Server-Timing`, disabled) and actix-web-prom, on a static route, a route
//! with one parameter, and the same route with ids rotating over 0..4096.

use std::{hint::black_box, rc::Rc};

use actix_http::Request;
use actix_web::{
    Error,
    body::MessageBody,
    dev::{Service, ServiceResponse},
    rt::{System, SystemRunner},
    test,
};
use anyhow::Result;
use bench::apps::{APPS, IDS};

use crate::{Op, Variant};

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

/// Builds the app from `$factory` on this thread's system and serves it with [`serve`].
macro_rules! serve_in_process {
    ($uris:expr, $factory:expr) => {
        serve(SYSTEM.with(|sys| sys.block_on(test::init_service(($factory)()))), $uris)
    };
}

fn make(app: &'static str, uri: Uri) -> Result<Op> {
    // Paths are built before measuring, so the loop only routes them.
    let uris: Rc<[String]> = if uri(0) == uri(1) { Rc::from([uri(0)]) } else { (0..IDS).map(uri).collect() };
    bench::with_app!(app, serve_in_process, uris)
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
