//! Real servers over TCP for `cargo xtask loadtest`.
//!
//! - `serve <app> <port>`: one of the apps of [`bench::apps`] (`bare`,
//!   `floor`, `perfkit`, `perfkit-no-server-timing`, `perfkit-disabled`,
//!   `actix-web-prom`) in an actix `HttpServer` with one worker on
//!   `127.0.0.1:<port>`, until killed. It prints `listening` once bound.
//! - `serve-scale <endpoints> <port>`: perfkit's performance API over a store
//!   that already holds an hour of traffic for `<endpoints>` distinct
//!   endpoints (one request per endpoint every 10 s, recorded directly on a
//!   manual clock that then stays at the hour's end), with analytics and
//!   without the 1 s reuse of expensive documents, so every request computes
//!   its document. It prints `scale<TAB>endpoints<TAB>series<TAB>accounted
//!   bytes<TAB>bytes of the same store empty`, then `listening`.

use std::{num::NonZeroUsize, sync::Arc, time::Duration};

use actix_web::{App, HttpServer, rt::System};
use anyhow::{Context, Result, bail};
use perf_core::{Clock, ManualClock, Method, PerfConfig, PerfContext, Recorder, RequestSample, Store, SystemClock};
use perf_http::PerfState;

/// Runs `$factory` in an `HttpServer` with one worker on `$port` until the
/// process is killed.
macro_rules! run_server {
    ($port:expr, $factory:expr) => {{
        let server = HttpServer::new($factory).workers(1).bind(("127.0.0.1", $port))?.run();
        println!("listening");
        server.await?;
    }};
}

/// `bench serve <app> <port>`.
pub(crate) fn serve(app: &str, port: u16) -> Result<()> {
    System::new().block_on(async move {
        bench::with_app!(app, run_server, port)?;
        Ok(())
    })
}

/// Seconds of history recorded before serving, and the step between two
/// requests of one endpoint.
const HISTORY_SECS: u64 = 3_600;
const STEP_SECS: u64 = 10;

/// The route of endpoint `k` in the scale server's store.
fn scale_route(k: usize) -> String {
    format!("/api/resource{k}/{{id}}")
}

/// `bench serve-scale <endpoints> <port>`.
pub(crate) fn serve_scale(endpoints: usize, port: u16) -> Result<()> {
    if !(1..=100_000).contains(&endpoints) {
        bail!("endpoints must be in 1..=100000");
    }
    let end = SystemClock.now();
    let start = end.saturating_sub(Duration::from_secs(HISTORY_SECS));
    let clock = Arc::new(ManualClock::new(start));
    let mut config = PerfConfig::default();
    // Room for every endpoint, so none lands in the overflow key.
    config.store.max_endpoints = NonZeroUsize::new(endpoints + 16).context("endpoint count")?;
    let ctx = PerfContext::with_clock(&config, clock.clone())?;
    let store = ctx.store().cloned().context("a context built from a config has a store")?;
    let empty = Store::new(config.store.clone(), clock.clone(), store.thresholds().clone())?.accounted_bytes();
    let routes: Vec<String> = (0..endpoints).map(scale_route).collect();
    let mut i = 0u64;
    for step in 0..HISTORY_SECS / STEP_SECS {
        clock.set(start.saturating_add(Duration::from_secs(step * STEP_SECS)));
        let at = clock.now();
        for route in &routes {
            i += 1;
            // Derived from the index: 200 µs to about 5 ms, one in 50 a server error.
            let duration = Duration::from_micros(200 + i * 7_919 % 4_800);
            let status = if i.is_multiple_of(50) { 500 } else { 200 };
            store.record_request(&RequestSample::new(
                Method::Get,
                Some(route),
                status,
                duration,
                at,
                store.thresholds(),
            ));
        }
    }
    clock.set(end);
    // The store's own unmatched and overflow keys are not recorded series.
    let series = store.key_usage().endpoints.saturating_sub(2);
    println!("scale\t{endpoints}\t{series}\t{}\t{empty}", store.accounted_bytes());
    let analytics = Arc::new(perf_analytics::Analytics::from_context(&ctx));
    let perf = PerfState::builder(config).context(&ctx).analytics(analytics).heavy_reuse(Duration::ZERO).build()?;
    System::new().block_on(async move {
        run_server!(port, move || App::new().service(perf.api()));
        Ok(())
    })
}
