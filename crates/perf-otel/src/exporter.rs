//! [`OtelExporter`]: a thread of its own that reads
//! [`MetricsSource::totals`] every interval and posts it as OTLP/HTTP
//! protobuf, counting what fails.

use std::{
    sync::Arc,
    thread::JoinHandle,
    time::{Duration, Instant},
};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use parking_lot::{Condvar, Mutex};
use perf_core::{LogLimiter, MetricsSource, PerfContext, Timestamp};
use prost::Message;

use crate::{MAX_DURATION, OtelConfig, OtelError, encode::Encoder};

/// The largest response body read (a partial-success message is far smaller).
const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

/// A final export at shutdown is skipped when less than this is left of the
/// shutdown's time limit.
pub(crate) const MIN_FINAL_EXPORT: Duration = Duration::from_millis(10);

/// What the exporter did since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportStats {
    /// Export requests sent (each holds every total since start).
    pub attempts: u64,
    /// Requests the receiver accepted (2xx).
    pub succeeded: u64,
    /// Requests that failed: no connection, a timeout, a non-2xx status.
    /// Nothing is queued for them; the next export carries the same totals, grown.
    pub failed: u64,
    /// Data points the receiver reported as rejected in a partial success.
    pub rejected_points: u64,
    /// Why the latest failed request failed (never holding the URL).
    pub last_error: Option<String>,
    /// When the latest request was accepted, on the source's clock.
    pub last_success: Option<Timestamp>,
}

/// Exports perfkit's request and query totals to an OTLP/HTTP receiver
/// from a thread of its own, until dropped or [`shut down`](OtelExporter::shutdown).
///
/// # Guarantees
/// - Nothing runs on the request path: the thread reads
///   [`MetricsSource::totals`] (cumulative counts the store keeps anyway)
///   every [`OtelConfig::interval`] and needs no async runtime, so it
///   cannot block or panic an actix worker.
/// - Memory is bounded: one request body is built at a time and nothing
///   is queued; a failed export is counted ([`ExportStats::failed`]),
///   warned about at most once a minute per cause, and superseded by the
///   next one, which carries the same cumulative totals.
/// - Shutdown (drop or [`shutdown`](OtelExporter::shutdown)) makes one last
///   export and returns within [`OtelConfig::timeout`] (plus the time to
///   encode one request) however the receiver behaves.
pub struct OtelExporter {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    endpoint: String,
}

struct Shared {
    /// When shutdown was asked for; `None` while running.
    stop: Mutex<Option<Instant>>,
    wake: Condvar,
    stats: Mutex<ExportStats>,
}

impl std::fmt::Debug for OtelExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtelExporter")
            .field("endpoint", &perf_core::redact_url(&self.endpoint))
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl OtelExporter {
    /// Starts exporting `source`'s totals as `config` says. The cumulative
    /// series start now (on `source`'s clock): start the exporter with the
    /// store, as the perfkit facade does.
    ///
    /// # Errors
    /// [`OtelError::NoEndpoint`] when `config` has no endpoint,
    /// [`OtelError::Thread`] when the thread cannot be spawned. A receiver
    /// that is down is not an error: exports fail and are counted.
    pub fn start(config: &OtelConfig, source: Arc<dyn MetricsSource>) -> Result<OtelExporter, OtelError> {
        let endpoint = config.endpoint.clone().ok_or(OtelError::NoEndpoint)?;
        let encoder = Encoder::new(config, unix_nanos(source.now()));
        // Durations set in code may exceed what the variables allow; no
        // instant arithmetic below may overflow.
        let clamp = |d: Duration| d.clamp(Duration::from_millis(1), MAX_DURATION);
        let (timeout, interval) = (clamp(config.timeout), clamp(config.interval));
        let shared = Arc::new(Shared { stop: Mutex::new(None), wake: Condvar::new(), stats: Mutex::default() });
        let agent = agent(timeout);
        let worker = Worker {
            shared: shared.clone(),
            source,
            encoder,
            agent,
            endpoint: endpoint.clone(),
            headers: config.headers.clone(),
            timeout,
            interval,
            warnings: LogLimiter::new(Duration::from_secs(60)),
        };
        let thread = std::thread::Builder::new()
            .name("perfkit-otel".to_owned())
            .spawn(move || worker.run())
            .map_err(OtelError::Thread)?;
        Ok(OtelExporter { shared, thread: Some(thread), endpoint })
    }

    /// [`OtelExporter::start`] on `context`'s metrics source.
    ///
    /// # Errors
    /// As [`OtelExporter::start`].
    pub fn from_context(config: &OtelConfig, context: &PerfContext) -> Result<OtelExporter, OtelError> {
        OtelExporter::start(config, context.source().clone())
    }

    /// What the exporter did so far.
    pub fn stats(&self) -> ExportStats {
        self.shared.stats.lock().clone()
    }

    /// The URL exports go to, through [`perf_core::redact_url`].
    pub fn endpoint(&self) -> String {
        perf_core::redact_url(&self.endpoint)
    }

    /// Stops the thread after one last export (bounded by the request
    /// timeout) and returns the final figures.
    pub fn shutdown(mut self) -> ExportStats {
        self.stop();
        self.stats()
    }

    fn stop(&mut self) {
        {
            let mut stop = self.shared.stop.lock();
            stop.get_or_insert_with(Instant::now);
        }
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the OTLP export thread panicked");
        }
    }
}

impl Drop for OtelExporter {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The export thread's state.
struct Worker {
    shared: Arc<Shared>,
    source: Arc<dyn MetricsSource>,
    encoder: Encoder,
    agent: ureq::Agent,
    endpoint: String,
    headers: Vec<(String, String)>,
    timeout: Duration,
    interval: Duration,
    warnings: LogLimiter,
}

impl Worker {
    fn run(self) {
        let mut next = Instant::now() + self.interval;
        let stopped_at = loop {
            {
                let mut stop = self.shared.stop.lock();
                while stop.is_none() {
                    if self.shared.wake.wait_until(&mut stop, next).timed_out() {
                        break;
                    }
                }
                if let Some(at) = *stop {
                    break at;
                }
            }
            self.export(self.timeout);
            let now = Instant::now();
            next += self.interval;
            if next <= now {
                // An export took longer than the interval: skip the missed
                // ones rather than sending them back to back.
                next = now + self.interval;
            }
        };
        // The last export gets what is left of the shutdown's time limit.
        let left = (stopped_at + self.timeout).saturating_duration_since(Instant::now());
        if left >= MIN_FINAL_EXPORT {
            self.export(left);
        }
    }

    fn export(&self, timeout: Duration) {
        let totals = self.source.totals();
        let now = self.source.now();
        let request = self.encoder.request(&totals, unix_nanos(now));
        if request.resource_metrics.iter().all(|r| r.scope_metrics.iter().all(|s| s.metrics.is_empty())) {
            return;
        }
        let body = request.encode_to_vec();
        self.shared.stats.lock().attempts += 1;
        match self.send(&body, timeout) {
            Ok(rejected) => {
                let mut stats = self.shared.stats.lock();
                stats.succeeded += 1;
                stats.rejected_points += rejected;
                stats.last_success = Some(now);
                drop(stats);
                if rejected > 0 {
                    self.warn(now, "the receiver rejected data points", rejected);
                }
            }
            Err(cause) => {
                let failed = {
                    let mut stats = self.shared.stats.lock();
                    stats.failed += 1;
                    stats.last_error = Some(cause.clone());
                    stats.failed
                };
                self.warn(now, &cause, failed);
            }
        }
    }

    /// Posts `body`; the data points the receiver rejected, or why it failed.
    fn send(&self, body: &[u8], timeout: Duration) -> Result<u64, String> {
        // A body that cannot be read or decoded still means the export was accepted.
        let rejected = post(&self.agent, &self.endpoint, &self.headers, body, timeout)?
            .and_then(|bytes| ExportMetricsServiceResponse::decode(bytes.as_slice()).ok())
            .and_then(|r| r.partial_success)
            .map_or(0, |p| u64::try_from(p.rejected_data_points).unwrap_or(0));
        Ok(rejected)
    }

    fn warn(&self, now: Timestamp, cause: &str, count: u64) {
        if let Some(held_back) = self.warnings.check(LogLimiter::key(&[cause]), now) {
            tracing::warn!(
                endpoint = %perf_core::redact_url(&self.endpoint),
                cause,
                count,
                held_back,
                "OTLP metrics export incomplete; the service keeps running and the next export carries the same totals"
            );
        }
    }
}

/// The blocking client of one exporter: every request bounded by `timeout`,
/// statuses read rather than raised, no redirects.
pub(crate) fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("perfkit/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// Posts an OTLP protobuf `body` to `endpoint`: the response body on a 2xx
/// (`None` when it cannot be read), why it failed otherwise.
pub(crate) fn post(
    agent: &ureq::Agent,
    endpoint: &str,
    headers: &[(String, String)],
    body: &[u8],
    timeout: Duration,
) -> Result<Option<Vec<u8>>, String> {
    let mut request = agent.post(endpoint).header("Content-Type", "application/x-protobuf");
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let mut response = request.config().timeout_global(Some(timeout)).build().send(body).map_err(|e| describe(&e))?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(format!("the receiver answered HTTP {status}"));
    }
    Ok(response.body_mut().with_config().limit(MAX_RESPONSE_BYTES).read_to_vec().ok())
}

/// A failed request in words that never hold the URL (ureq's own messages may).
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "the export timed out".to_owned(),
        ureq::Error::Io(io) => format!("connection failed ({:?})", io.kind()),
        ureq::Error::HostNotFound => "the receiver's host was not found".to_owned(),
        ureq::Error::ConnectionFailed => "connection failed".to_owned(),
        ureq::Error::StatusCode(code) => format!("the receiver answered HTTP {code}"),
        ureq::Error::Protocol(_) => "the receiver broke the HTTP protocol".to_owned(),
        _ => "the request could not be sent".to_owned(),
    }
}

pub(crate) fn unix_nanos(t: Timestamp) -> u64 {
    t.as_unix_micros().saturating_mul(1_000)
}
