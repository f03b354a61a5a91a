//! Spans: [`SpanRecorder`] turns the samples of sampled traces into a
//! SERVER span per request and a CLIENT span per query, queued (bounded,
//! drops counted); [`SpanExporter`] posts them in batches to `/v1/traces`
//! from a thread of its own.

use std::{
    collections::VecDeque,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use opentelemetry_proto::tonic::{
    collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse},
    common::v1::InstrumentationScope,
    trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span, status},
};
use parking_lot::{Condvar, Mutex};
use perf_core::{
    CacheEvent, Clock as _, LogLimiter, Method, NPlusOneSample, QueryPlanSample, QuerySample, Recorder, RequestHandle,
    RequestSample, SpanId, SystemClock, SystemSample, Timestamp, TraceContext,
};
use prost::Message;

use crate::{
    MAX_DURATION, MAX_SPAN_QUEUE, OtelConfig, OtelError, SCOPE_NAME,
    encode::{Encoder, int, method, string},
    exporter::{MIN_FINAL_EXPORT, agent, post, unix_nanos},
};

/// The longest span name and `db.query.summary` value, in bytes (cut at a
/// character boundary): fingerprints can be as long as the SQL.
pub const MAX_QUERY_SUMMARY: usize = 255;

/// The most queue slots allocated at start (more grow on demand, up to the capacity).
const PREALLOCATED_SPANS: usize = 4096;

/// What the span pipeline did since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpanStats {
    /// Spans queued for export.
    pub queued: u64,
    /// Spans dropped: the queue was full, or shutdown's time ran out before they were sent.
    pub dropped: u64,
    /// Spans the receiver accepted (less those it reported rejected).
    pub exported: u64,
    /// Spans in requests that failed (they are not retried).
    pub failed_spans: u64,
    /// Spans the receiver reported as rejected in a partial success.
    pub rejected_spans: u64,
    /// Export requests sent.
    pub attempts: u64,
    /// Requests the receiver accepted (2xx).
    pub succeeded: u64,
    /// Requests that failed: no connection, a timeout, a non-2xx status.
    pub failed: u64,
    /// Why the latest failed request failed (never holding the URL).
    pub last_error: Option<String>,
}

/// One finished span, as compact as the request path can make it; encoded
/// on the export thread.
#[derive(Debug)]
struct SpanRecord {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent: Option<[u8; 8]>,
    start: u64,
    end: u64,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Server { method: Method, route: Option<String>, status: u16 },
    Client { summary: String, ok: bool },
}

/// The queue between the recorder and the export thread.
struct Queue {
    spans: Mutex<QueueState>,
    wake: Condvar,
    capacity: usize,
    batch: usize,
    dropped: AtomicU64,
    queued: AtomicU64,
}

#[derive(Default)]
struct QueueState {
    spans: VecDeque<SpanRecord>,
    /// When shutdown was asked for; `None` while running.
    stop: Option<Instant>,
}

impl Queue {
    /// Queues `span`, or counts it dropped when the queue is full. Holds the
    /// lock for a push only; never waits for the export.
    fn push(&self, span: SpanRecord) {
        let mut state = self.spans.lock();
        if state.stop.is_some() || state.spans.len() >= self.capacity {
            drop(state);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        state.spans.push_back(span);
        let full = state.spans.len() == self.batch;
        drop(state);
        self.queued.fetch_add(1, Ordering::Relaxed);
        if full {
            self.wake.notify_one();
        }
    }
}

/// A [`Recorder`] in front of another (the store): every call is forwarded
/// unchanged, including [`Recorder::request_handle`] and
/// [`Recorder::record_request_with`], so the inner recorder's fast path
/// stays. Requests and queries of a *sampled* trace also become spans:
///
/// | sample | span |
/// |---|---|
/// | [`RequestSample`] | SERVER, name `{method} {route}` (`{method}` without a route), the context's trace id, span id and parent; `http.request.method`, `http.route`, `http.response.status_code`, `error.type` (the code) and an error status on 5xx |
/// | [`QuerySample`] | CLIENT, a new span id whose parent is the request's span; name and `db.query.summary` the fingerprint cut to [`MAX_QUERY_SUMMARY`] bytes, `db.system.name` when configured, `error.type = "_OTHER"` and an error status when the query failed |
///
/// Both start at `at − duration` and end at `at`. Samples without a trace
/// or of an unsampled one (flags `-00`) make no span. Made by
/// [`SpanExporter::recorder`].
pub struct SpanRecorder {
    inner: Arc<dyn Recorder>,
    queue: Arc<Queue>,
}

impl std::fmt::Debug for SpanRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanRecorder").field("capacity", &self.queue.capacity).finish_non_exhaustive()
    }
}

fn sampled(trace: Option<TraceContext>) -> Option<TraceContext> {
    trace.filter(TraceContext::is_sampled)
}

fn times(at: Timestamp, duration: Duration) -> (u64, u64) {
    let end = unix_nanos(at);
    (end.saturating_sub(u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)), end)
}

/// `s` cut to at most `max` bytes at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl SpanRecorder {
    fn request_span(&self, sample: &RequestSample<'_>) {
        let Some(trace) = sampled(sample.trace) else { return };
        let (start, end) = times(sample.at, sample.duration);
        self.queue.push(SpanRecord {
            trace_id: trace.trace_id().to_bytes(),
            span_id: trace.span_id().to_bytes(),
            parent: trace.parent().map(SpanId::to_bytes),
            start,
            end,
            kind: Kind::Server { method: sample.method, route: sample.route.map(str::to_owned), status: sample.status },
        });
    }
}

impl Recorder for SpanRecorder {
    fn record_request(&self, sample: &RequestSample<'_>) {
        self.inner.record_request(sample);
        self.request_span(sample);
    }

    fn record_query(&self, sample: &QuerySample<'_>) {
        self.inner.record_query(sample);
        let Some(trace) = sampled(sample.trace) else { return };
        let (start, end) = times(sample.at, sample.duration);
        self.queue.push(SpanRecord {
            trace_id: trace.trace_id().to_bytes(),
            span_id: SpanId::random().to_bytes(),
            parent: Some(trace.span_id().to_bytes()),
            start,
            end,
            kind: Kind::Client { summary: cut(sample.fingerprint, MAX_QUERY_SUMMARY).to_owned(), ok: sample.ok },
        });
    }

    fn record_system(&self, sample: &SystemSample) {
        self.inner.record_system(sample);
    }

    fn record_cache(&self, event: &CacheEvent) {
        self.inner.record_cache(event);
    }

    fn record_n_plus_one(&self, finding: &NPlusOneSample<'_>) {
        self.inner.record_n_plus_one(finding);
    }

    fn record_query_plan(&self, sample: &QueryPlanSample<'_>) {
        self.inner.record_query_plan(sample);
    }

    fn request_handle(&self, method: Method, route: Option<&str>) -> Option<RequestHandle> {
        self.inner.request_handle(method, route)
    }

    fn record_request_with(&self, handle: &RequestHandle, sample: &RequestSample<'_>) {
        self.inner.record_request_with(handle, sample);
        self.request_span(sample);
    }
}

/// Posts the spans a [`SpanRecorder`] queues to an OTLP/HTTP receiver
/// (`/v1/traces`, protobuf) in batches, from a thread of its own, until
/// dropped or [`shut down`](SpanExporter::shutdown).
///
/// # Guarantees
/// - The request path only pushes onto a bounded queue
///   ([`OtelConfig::span_queue`]); a full queue drops the span and counts it
///   ([`SpanStats::dropped`]), so a receiver that is down or slow costs
///   the service nothing but the spans.
/// - A failed export is counted, warned about at most once a minute per
///   cause, and not retried (its spans count in [`SpanStats::failed_spans`]).
/// - Shutdown sends what is queued, batch by batch, and returns within
///   [`OtelConfig::timeout`] (plus the time to encode one batch); what is
///   left then is counted dropped.
pub struct SpanExporter {
    queue: Arc<Queue>,
    stats: Arc<Mutex<SpanStats>>,
    thread: Option<JoinHandle<()>>,
    endpoint: String,
}

impl std::fmt::Debug for SpanExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanExporter")
            .field("endpoint", &perf_core::redact_url(&self.endpoint))
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl SpanExporter {
    /// Starts the export thread for `config`'s traces endpoint.
    ///
    /// # Errors
    /// [`OtelError::NoEndpoint`] when `config` has no traces endpoint,
    /// [`OtelError::Thread`] when the thread cannot be spawned. A receiver
    /// that is down is not an error: exports fail and are counted.
    pub fn start(config: &OtelConfig) -> Result<SpanExporter, OtelError> {
        let endpoint = config.traces_endpoint.clone().ok_or(OtelError::NoEndpoint)?;
        let clamp = |d: Duration| d.clamp(Duration::from_millis(1), MAX_DURATION);
        let (timeout, delay) = (clamp(config.timeout), clamp(config.span_delay));
        let capacity = config.span_queue.clamp(1, MAX_SPAN_QUEUE);
        let queue = Arc::new(Queue {
            // Room for a few batches up front, so a steady flow never reallocates.
            spans: Mutex::new(QueueState {
                spans: VecDeque::with_capacity(capacity.min(PREALLOCATED_SPANS)),
                stop: None,
            }),
            wake: Condvar::new(),
            capacity,
            batch: config.span_batch.clamp(1, capacity),
            dropped: AtomicU64::new(0),
            queued: AtomicU64::new(0),
        });
        let stats = Arc::new(Mutex::new(SpanStats::default()));
        let worker = Worker {
            queue: queue.clone(),
            stats: stats.clone(),
            encoder: Encoder::new(config, 0),
            db_system_name: config.db_system_name.clone(),
            agent: agent(timeout),
            endpoint: endpoint.clone(),
            headers: config.traces_headers.clone(),
            timeout,
            delay,
            warnings: LogLimiter::new(Duration::from_secs(60)),
        };
        let thread = std::thread::Builder::new()
            .name("perfkit-otel-spans".to_owned())
            .spawn(move || worker.run())
            .map_err(OtelError::Thread)?;
        Ok(SpanExporter { queue, stats, thread: Some(thread), endpoint })
    }

    /// A recorder forwarding everything to `inner` and queueing the spans
    /// of sampled traces for this exporter.
    pub fn recorder(&self, inner: Arc<dyn Recorder>) -> SpanRecorder {
        SpanRecorder { inner, queue: self.queue.clone() }
    }

    /// What the pipeline did so far.
    pub fn stats(&self) -> SpanStats {
        let mut stats = self.stats.lock().clone();
        stats.dropped += self.queue.dropped.load(Ordering::Relaxed);
        stats.queued = self.queue.queued.load(Ordering::Relaxed);
        stats
    }

    /// The URL spans go to, through [`perf_core::redact_url`].
    pub fn endpoint(&self) -> String {
        perf_core::redact_url(&self.endpoint)
    }

    /// Sends what is queued (bounded by the request timeout), stops the
    /// thread and returns the final figures.
    pub fn shutdown(mut self) -> SpanStats {
        self.stop();
        self.stats()
    }

    fn stop(&mut self) {
        self.queue.spans.lock().stop.get_or_insert_with(Instant::now);
        self.queue.wake.notify_all();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the OTLP span export thread panicked");
        }
    }
}

impl Drop for SpanExporter {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Worker {
    queue: Arc<Queue>,
    stats: Arc<Mutex<SpanStats>>,
    encoder: Encoder,
    db_system_name: Option<String>,
    agent: ureq::Agent,
    endpoint: String,
    headers: Vec<(String, String)>,
    timeout: Duration,
    delay: Duration,
    warnings: LogLimiter,
}

impl Worker {
    fn run(self) {
        let mut next = Instant::now() + self.delay;
        let stopped_at = loop {
            let batch = {
                let mut state = self.queue.spans.lock();
                while state.stop.is_none() && state.spans.len() < self.queue.batch {
                    if self.queue.wake.wait_until(&mut state, next).timed_out() {
                        break;
                    }
                }
                if let Some(at) = state.stop {
                    break at;
                }
                let n = state.spans.len().min(self.queue.batch);
                state.spans.drain(..n).collect::<Vec<_>>()
            };
            if !batch.is_empty() {
                self.export(batch, self.timeout);
            }
            next = Instant::now() + self.delay;
        };
        // Send what is left, batch by batch, within the shutdown's limit.
        let deadline = stopped_at + self.timeout;
        loop {
            let batch = {
                let mut state = self.queue.spans.lock();
                let n = state.spans.len().min(self.queue.batch);
                state.spans.drain(..n).collect::<Vec<_>>()
            };
            if batch.is_empty() {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left < MIN_FINAL_EXPORT {
                let rest = self.queue.spans.lock().spans.drain(..).count();
                self.queue.dropped.fetch_add((batch.len() + rest) as u64, Ordering::Relaxed);
                return;
            }
            self.export(batch, left);
        }
    }

    fn export(&self, batch: Vec<SpanRecord>, timeout: Duration) {
        let n = batch.len() as u64;
        let spans: Vec<Span> = batch.into_iter().map(|s| self.encode(s)).collect();
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(self.encoder.resource().clone()),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: SCOPE_NAME.to_owned(),
                        version: env!("CARGO_PKG_VERSION").to_owned(),
                        ..InstrumentationScope::default()
                    }),
                    spans,
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        };
        let body = request.encode_to_vec();
        self.stats.lock().attempts += 1;
        match post(&self.agent, &self.endpoint, &self.headers, &body, timeout) {
            Ok(response) => {
                let rejected = response
                    .and_then(|bytes| ExportTraceServiceResponse::decode(bytes.as_slice()).ok())
                    .and_then(|r| r.partial_success)
                    .map_or(0, |p| u64::try_from(p.rejected_spans).unwrap_or(0))
                    .min(n);
                let mut stats = self.stats.lock();
                stats.succeeded += 1;
                stats.exported += n - rejected;
                stats.rejected_spans += rejected;
                drop(stats);
                if rejected > 0 {
                    self.warn("the receiver rejected spans", rejected);
                }
            }
            Err(cause) => {
                let failed = {
                    let mut stats = self.stats.lock();
                    stats.failed += 1;
                    stats.failed_spans += n;
                    stats.last_error = Some(cause.clone());
                    stats.failed
                };
                self.warn(&cause, failed);
            }
        }
    }

    fn encode(&self, s: SpanRecord) -> Span {
        let (name, kind, attributes, error) = match s.kind {
            Kind::Server { method: m, route, status } => {
                let m = method(m);
                let mut attributes = vec![string("http.request.method", m)];
                let name = match &route {
                    Some(route) => {
                        attributes.push(string("http.route", route));
                        format!("{m} {route}")
                    }
                    None => m.to_owned(),
                };
                attributes.push(int("http.response.status_code", i64::from(status)));
                let error = status >= 500;
                if error {
                    attributes.push(string("error.type", &status.to_string()));
                }
                (name, span::SpanKind::Server, attributes, error)
            }
            Kind::Client { summary, ok } => {
                let mut attributes = vec![string("db.query.summary", &summary)];
                if let Some(system) = &self.db_system_name {
                    attributes.push(string("db.system.name", system));
                }
                if !ok {
                    attributes.push(string("error.type", "_OTHER"));
                }
                (summary, span::SpanKind::Client, attributes, !ok)
            }
        };
        Span {
            trace_id: s.trace_id.to_vec(),
            span_id: s.span_id.to_vec(),
            parent_span_id: s.parent.map(|p| p.to_vec()).unwrap_or_default(),
            // Only sampled traces are exported.
            flags: 0x1,
            name,
            kind: kind as i32,
            start_time_unix_nano: s.start,
            end_time_unix_nano: s.end,
            attributes,
            status: error.then(|| Status { code: status::StatusCode::Error as i32, ..Status::default() }),
            ..Span::default()
        }
    }

    fn warn(&self, cause: &str, count: u64) {
        let now = SystemClock.now();
        if let Some(held_back) = self.warnings.check(LogLimiter::key(&[cause]), now) {
            tracing::warn!(
                endpoint = %perf_core::redact_url(&self.endpoint),
                cause,
                count,
                held_back,
                "OTLP span export failed; the service keeps running and these spans are not resent"
            );
        }
    }
}

#[cfg(test)]
mod tests;
