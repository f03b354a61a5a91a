//! Recording one request duration: perfkit's store through its key map and
//! through a resolved endpoint handle (the store's own, and the one a
//! `dyn Recorder` hands out, as the HTTP monitor uses), beside hdrhistogram and the metrics
//! crate (a histogram handle resolved once, Prometheus recorder installed).

use std::{hint::black_box, sync::Arc, time::Duration};

use anyhow::Result;
use perf_core::{
    Clock, ManualClock, Method, Recorder, RequestSample, SharedThresholds, Store, StoreConfig, ThresholdStore,
    Timestamp, TraceContext,
};

use crate::Variant;

const GROUP: &str = "perf-core/record";
const ROUTE: &str = "/api/projects/{id}";

pub(crate) fn variants() -> Vec<Variant> {
    let v = |name, make: fn() -> Result<crate::Op>| Variant {
        group: GROUP,
        name,
        baseline: None,
        warm_up: 10_000,
        n1: 4_000,
        make: Box::new(make),
    };
    vec![
        v("hdrhistogram", hdrhistogram),
        v("metrics_cached_handle", metrics_handle),
        v("perfkit_store", perfkit_store),
        v("perfkit_handle", perfkit_handle),
        v("perfkit_recorder_handle", perfkit_recorder_handle),
        v("perfkit_recorder_handle_traced", perfkit_recorder_handle_traced),
        v("perfkit_recorder_handle_traced_spans", perfkit_recorder_handle_traced_spans),
    ]
}

/// A duration between 200 µs and 50 ms, spread deterministically by `i`.
fn micros(i: u64) -> u64 {
    200 + (i * 7919) % 50_000
}

fn store() -> Result<(Arc<Store>, Timestamp)> {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_700_000_000)));
    let now = clock.now();
    let store = Store::new(StoreConfig::default(), clock, Arc::new(SharedThresholds::default()))?;
    Ok((Arc::new(store), now))
}

fn sample(i: u64, at: Timestamp, thresholds: &dyn ThresholdStore) -> RequestSample<'static> {
    RequestSample::new(Method::Get, Some(ROUTE), 200, Duration::from_micros(micros(i)), at, thresholds)
}

fn perfkit_store() -> Result<crate::Op> {
    let (store, now) = store()?;
    Ok(Box::new(move |i| store.record_request(black_box(&sample(i, now, &**store.thresholds())))))
}

fn perfkit_handle() -> Result<crate::Op> {
    let (store, now) = store()?;
    let handle = store.endpoint(Method::Get, Some(ROUTE));
    Ok(Box::new(move |i| handle.record(&store, black_box(&sample(i, now, &**store.thresholds())))))
}

/// The path the HTTP monitor takes: a `dyn Recorder` and the handle it resolved.
fn perfkit_recorder_handle() -> Result<crate::Op> {
    let (store, now) = store()?;
    let thresholds = store.thresholds().clone();
    let recorder: Arc<dyn Recorder> = store;
    let handle = recorder
        .request_handle(Method::Get, Some(ROUTE))
        .ok_or_else(|| anyhow::anyhow!("the store hands out endpoint handles"))?;
    Ok(Box::new(move |i| recorder.record_request_with(&handle, black_box(&sample(i, now, &*thresholds)))))
}

/// The monitor's path for a request that carries a trace (as every request
/// through the HTTP monitor does): the same samples, each with a trace
/// context, so the status table also keeps the bucket's exemplar.
fn perfkit_recorder_handle_traced() -> Result<crate::Op> {
    let (store, now) = store()?;
    let thresholds = store.thresholds().clone();
    let recorder: Arc<dyn Recorder> = store;
    let handle = recorder
        .request_handle(Method::Get, Some(ROUTE))
        .ok_or_else(|| anyhow::anyhow!("the store hands out endpoint handles"))?;
    let trace = TraceContext::start();
    Ok(Box::new(move |i| {
        let sample = RequestSample { trace: Some(trace), ..sample(i, now, &*thresholds) };
        recorder.record_request_with(&handle, black_box(&sample))
    }))
}

/// [`perfkit_recorder_handle_traced`] through perf-otel's span recorder in
/// front of the store, as the facade wires it when spans are exported:
/// each sampled request also becomes a SERVER span in the export queue.
/// The queue is larger than every run, so each span is queued, never
/// dropped; the exporter thread (which sends to a closed port) is not
/// measured.
fn perfkit_recorder_handle_traced_spans() -> Result<crate::Op> {
    let (store, now) = store()?;
    let thresholds = store.thresholds().clone();
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let config = perf_otel::OtelConfig::from_lookup(|name| match name {
        "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(format!("http://127.0.0.1:{port}")),
        "OTEL_BSP_MAX_QUEUE_SIZE" => Some("1048576".to_owned()),
        "OTEL_BSP_SCHEDULE_DELAY" => Some("3600000".to_owned()),
        _ => None,
    })?;
    let exporter = perf_otel::SpanExporter::start(&config)?;
    let recorder: Arc<dyn Recorder> = Arc::new(exporter.recorder(store));
    let handle = recorder
        .request_handle(Method::Get, Some(ROUTE))
        .ok_or_else(|| anyhow::anyhow!("the span recorder hands out the store's endpoint handles"))?;
    let trace = TraceContext::start();
    Ok(Box::new(move |i| {
        let _keep = &exporter;
        let sample = RequestSample { trace: Some(trace), ..sample(i, now, &*thresholds) };
        recorder.record_request_with(&handle, black_box(&sample))
    }))
}

fn hdrhistogram() -> Result<crate::Op> {
    let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 2)?;
    Ok(Box::new(move |i| {
        // Nanoseconds, as a timing middleware would record them.
        let _ = h.record(black_box(micros(i) * 1_000));
    }))
}

fn metrics_handle() -> Result<crate::Op> {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        // Only this module installs a recorder, once per process.
        let _ = metrics::set_global_recorder(recorder);
    });
    let h = metrics::histogram!("http_request_duration_seconds", "method" => "GET", "route" => ROUTE);
    Ok(Box::new(move |i| h.record(black_box(micros(i) as f64 * 1e-6))))
}
