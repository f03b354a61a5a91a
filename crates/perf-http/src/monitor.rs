//! [`PerfMonitor`]: the monitoring middleware. One `wrap()` times every
//! request, attributes its queries and cache lookups through a
//! [`RequestScope`], records a [`RequestSample`] and can add a
//! `Server-Timing` header.
//!
//! What is recorded, per request:
//! - method ([`Method::parse`]) and route pattern, never the raw path;
//!   requests that match no route share one key. Both the exclusions and
//!   the pattern lookup read the path the router matches
//!   (`req.match_info().as_str()`: percent-decoded once, as actix decodes
//!   it, keeping `%25`, `%2F` and `%2B` encoded), so `/api/%70rojects/1`
//!   counts under `/api/projects/{id}` and `/api/%70erformance/summary`
//!   stays unmonitored like `/api/performance/summary`;
//! - which pattern: a request that gets a response counts under the pattern
//!   actix routed it to (`match_pattern()` of the routed request, guards
//!   included). The scope's label, which perf-db attributes queries with, is
//!   chosen before routing from a per-worker memo of path shapes (see
//!   `RouteTable`) and checked when the response is ready; a shape whose
//!   guess proved wrong is never guessed again, so at most one request per
//!   shape and worker has its queries under a neighbouring route. A request
//!   that ends without a routed request (an error returned by an inner
//!   service, a timeout, a dropped future) counts under that label: the
//!   pattern `match_pattern()` gives before routing (guards not considered)
//!   for its path or, through the memo, for an earlier path of the same
//!   shape that no checked request has contradicted;
//! - the status: of the response, or of the error an inner service
//!   returned (`Err(e)` → `e.as_response_error().status_code()`);
//! - the time from the request reaching the middleware to the response head;
//! - the queries and query time the request's scope counted.
//!
//! A request whose future is dropped before it completes is recorded too:
//! with status 500 when a poll of the handler panicked, and
//! with 499 (the de-facto "client closed request" code) otherwise, e.g. when
//! the client disconnected or an outer timeout cancelled it. With
//! [`PerfMonitor::timeout`], requests slower than the limit are answered
//! with a 504 error and recorded as such.

mod routes;
mod timing;

use std::{
    cell::RefCell,
    future::{Future, Ready, ready},
    pin::Pin,
    rc::Rc,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use actix_web::{
    Error, HttpRequest,
    dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready},
    http::header::HeaderName,
    web::BytesMut,
};
use perf_core::{
    Clock, LogLimiter, Method, NPlusOneSample, Recorder, RequestSample, RequestScope, ThresholdStore, Timestamp,
    TraceContext, UNMATCHED_ROUTE,
};

use self::{
    routes::{Guess, RouteTable},
    timing::{TIMING_BUFFER, server_timing_value, traceparent_value},
};
#[cfg(test)]
use self::{
    routes::{MAX_CACHED_ROUTES, MAX_MEMO_PATH, MEMO_SLOTS, shape_of},
    timing::StackText,
};
use crate::{HttpError, PerfState};

/// Paths the monitor skips by default: the perf API, `/metrics` and the dashboard.
pub const DEFAULT_EXCLUDED_PATHS: [&str; 3] = ["/api/performance", "/metrics", "/performance"];

static SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");
/// The W3C Trace Context header, read from requests and written to responses.
static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The monitoring middleware factory (an actix [`Transform`]).
///
/// Build it from a [`PerfState`] made once outside `HttpServer::new`; every
/// worker's copy records into the same recorder.
///
/// # Examples
/// ```
/// use actix_web::{App, web};
/// use perf_core::PerfConfig;
/// use perf_http::PerfState;
/// let perf = PerfState::builder(PerfConfig::default()).build()?;
/// let monitor = perf.monitor().exclude("/health").server_timing(false);
/// let _app = App::new().wrap(monitor).route("/", web::get().to(|| async { "hi" }));
/// # Ok::<(), perf_http::HttpError>(())
/// ```
#[derive(Clone)]
pub struct PerfMonitor {
    settings: Arc<Settings>,
}

#[derive(Clone)]
struct Settings {
    recorder: Arc<dyn Recorder>,
    thresholds: Arc<dyn ThresholdStore>,
    clock: Arc<dyn Clock>,
    enabled: bool,
    server_timing: bool,
    excluded: Vec<Box<str>>,
    timeout: Option<Duration>,
    /// Shared by every worker: one slow-request or N+1 line per key and minute.
    log_limiter: Arc<LogLimiter>,
}

impl std::fmt::Debug for PerfMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerfMonitor")
            .field("enabled", &self.settings.enabled)
            .field("server_timing", &self.settings.server_timing)
            .field("excluded", &self.settings.excluded)
            .field("timeout", &self.settings.timeout)
            .finish_non_exhaustive()
    }
}

impl PerfMonitor {
    /// A monitor recording into `state`'s recorder, with its configuration:
    /// enabled per `PerfConfig::enabled`, `Server-Timing` per
    /// `PerfConfig::server_timing`, [`DEFAULT_EXCLUDED_PATHS`] skipped, no timeout.
    pub fn new(state: &PerfState) -> Self {
        let config = state.config();
        PerfMonitor {
            settings: Arc::new(Settings {
                recorder: state.recorder().clone(),
                thresholds: state.thresholds().clone(),
                clock: state.clock().clone(),
                enabled: config.enabled,
                server_timing: config.server_timing,
                excluded: DEFAULT_EXCLUDED_PATHS.iter().map(|p| Box::from(*p)).collect(),
                timeout: None,
                log_limiter: state.log_limiter().clone(),
            }),
        }
    }

    /// Skips requests whose path is `prefix` or lies under it (`/health`
    /// skips `/health` and `/health/db`, not `/healthz`). The path compared
    /// is the one the router matches (percent-decoded, see the module docs),
    /// so `/h%65alth` is skipped too.
    pub fn exclude(mut self, prefix: &str) -> Self {
        let prefix = prefix.trim_end_matches('/');
        Arc::make_mut(&mut self.settings).excluded.push(Box::from(prefix));
        self
    }

    /// Replaces the excluded prefixes (an empty list monitors everything).
    pub fn excluded_paths<I, P>(mut self, prefixes: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<str>,
    {
        Arc::make_mut(&mut self.settings).excluded =
            prefixes.into_iter().map(|p| Box::from(p.as_ref().trim_end_matches('/'))).collect();
        self
    }

    /// Turns monitoring on or off; off makes the middleware a pass-through.
    pub fn enabled(mut self, on: bool) -> Self {
        Arc::make_mut(&mut self.settings).enabled = on;
        self
    }

    /// Turns the `Server-Timing` response header on or off.
    pub fn server_timing(mut self, on: bool) -> Self {
        Arc::make_mut(&mut self.settings).server_timing = on;
        self
    }

    /// Answers requests still running after `limit` with a 504 error (and
    /// records them); the handler's future is dropped.
    pub fn timeout(mut self, limit: Duration) -> Self {
        Arc::make_mut(&mut self.settings).timeout = Some(limit);
        self
    }
}

impl<S, B> Transform<S, ServiceRequest> for PerfMonitor
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = PerfMonitorMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(PerfMonitorMiddleware {
            service,
            settings: Rc::new(Settings::clone(&self.settings)),
            worker: Rc::new(Worker {
                routes: RefCell::new(RouteTable::new()),
                timing: RefCell::new(BytesMut::with_capacity(TIMING_BUFFER)),
            }),
        }))
    }
}

/// The monitoring service: one per worker, made by [`PerfMonitor`].
pub struct PerfMonitorMiddleware<S> {
    service: S,
    settings: Rc<Settings>,
    worker: Rc<Worker>,
}

/// What one worker's monitor keeps between requests.
struct Worker {
    routes: RefCell<RouteTable>,
    /// Where `Server-Timing` values are written: each value is split off as
    /// a shared slice, and once the responses holding earlier values are
    /// gone the buffer reuses its memory, so values cost no allocation.
    timing: RefCell<BytesMut>,
}

impl<S> std::fmt::Debug for PerfMonitorMiddleware<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerfMonitorMiddleware").finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for PerfMonitorMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = PerfMonitorFuture<S::Future>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let settings = &self.settings;
        if !settings.enabled {
            return PerfMonitorFuture { inner: self.service.call(req), track: None };
        }
        // The path the router matches: percent-decoded once by actix's `Url`
        // (all but `%25`, `%2F` and `%2B`), not the raw `req.path()`.
        let path = req.match_info().as_str();
        if settings.is_excluded(path) {
            return PerfMonitorFuture { inner: self.service.call(req), track: None };
        }
        let start = Instant::now();
        let method = Method::parse(req.method().as_str());
        let guess = self.worker.routes.borrow_mut().lookup(method, path, || req.resource_map().match_pattern(path));
        // The caller's trace (W3C `traceparent`), or one started here; a
        // request with several `traceparent` headers gets a new trace, as
        // the specification asks.
        let mut incoming = req.headers().get_all(&TRACEPARENT);
        let traceparent = match (incoming.next(), incoming.next()) {
            (Some(value), None) => Some(value.as_bytes()),
            _ => None,
        };
        let trace = TraceContext::continue_or_start(traceparent);
        let scope = RequestScope::traced(guess.endpoint.label.clone(), Some(trace));
        let inner = {
            let _entered = scope.enter();
            self.service.call(req)
        };
        let sleep = settings.timeout.map(|limit| Box::pin(actix_web::rt::time::sleep(limit)));
        PerfMonitorFuture {
            inner,
            track: Some(Tracking {
                settings: settings.clone(),
                worker: self.worker.clone(),
                start,
                method,
                guess,
                scope,
                sleep,
                in_poll: false,
                done: false,
            }),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of a monitored request: polls the inner service's future
    /// with the request's scope entered, and records the request when it
    /// completes, fails, times out or is dropped.
    pub struct PerfMonitorFuture<F> {
        #[pin]
        inner: F,
        track: Option<Tracking>,
    }
}

impl<F> std::fmt::Debug for PerfMonitorFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerfMonitorFuture").field("monitored", &self.track.is_some()).finish_non_exhaustive()
    }
}

impl<F, B> Future for PerfMonitorFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(track) = this.track.as_mut() else { return this.inner.poll(cx) };
        // `in_poll` stays set only if the inner poll unwinds: a panic.
        track.in_poll = true;
        let polled = {
            let _entered = track.scope.enter();
            this.inner.poll(cx)
        };
        track.in_poll = false;
        match polled {
            Poll::Ready(Ok(mut res)) => {
                let elapsed = track.finish(res.status().as_u16(), Some(res.request()));
                if track.settings.server_timing {
                    let (timing, trace) = {
                        let mut buf = track.worker.timing.borrow_mut();
                        let timing = server_timing_value(elapsed, &track.scope, &mut buf);
                        (timing, track.scope.trace().and_then(|t| traceparent_value(t, &mut buf)))
                    };
                    if let Some(value) = timing {
                        res.headers_mut().append(SERVER_TIMING.clone(), value);
                    }
                    if let Some(value) = trace {
                        res.headers_mut().insert(TRACEPARENT.clone(), value);
                    }
                }
                *this.track = None;
                Poll::Ready(Ok(res))
            }
            Poll::Ready(Err(e)) => {
                track.finish(e.as_response_error().status_code().as_u16(), None);
                *this.track = None;
                Poll::Ready(Err(e))
            }
            Poll::Pending => {
                if let Some(sleep) = track.sleep.as_mut()
                    && sleep.as_mut().poll(cx).is_ready()
                {
                    let limit = track.settings.timeout.unwrap_or_default();
                    track.finish(504, None);
                    *this.track = None;
                    return Poll::Ready(Err(HttpError::Timeout(limit).into()));
                }
                Poll::Pending
            }
        }
    }
}

/// The state of one monitored request. Records the request exactly once:
/// through [`Tracking::finish`], or when dropped unfinished.
struct Tracking {
    settings: Rc<Settings>,
    worker: Rc<Worker>,
    start: Instant,
    method: Method,
    guess: Guess,
    scope: RequestScope,
    sleep: Option<Pin<Box<actix_web::rt::time::Sleep>>>,
    in_poll: bool,
    done: bool,
}

impl Tracking {
    /// Records the request. `routed` is the request as the router left it,
    /// when there is one (a response); the request is recorded under the
    /// pattern it was routed to, else under the guess made before routing.
    fn finish(&mut self, status: u16, routed: Option<&HttpRequest>) -> Duration {
        let elapsed = self.start.elapsed();
        self.done = true;
        let endpoint = match routed {
            Some(req) => self.worker.routes.borrow_mut().routed(self.method, &self.guess, req),
            None => self.guess.endpoint.clone(),
        };
        let settings = &self.settings;
        let route = endpoint.route.as_deref();
        let now = settings.clock.now();
        let mut sample = RequestSample::new(self.method, route, status, elapsed, now, &*settings.thresholds);
        sample.queries = self.scope.query_count();
        sample.query_time = self.scope.query_time();
        sample.trace = self.scope.trace().copied();
        match endpoint.handle(&*settings.recorder, self.method) {
            Some(handle) => settings.recorder.record_request_with(handle, &sample),
            None => settings.recorder.record_request(&sample),
        }
        if sample.slow {
            log_slow(&settings.log_limiter, now, self.method, route, status, elapsed, sample.queries);
        }
        // N+1 shapes flagged by perf-db during the request, with the
        // request's final counts.
        self.scope.take_n_plus_one_findings(|fingerprint, count, total_time| {
            let label = &*endpoint.label;
            settings.recorder.record_n_plus_one(&NPlusOneSample {
                scope: label,
                fingerprint,
                count,
                total_time,
                at: now,
                trace: self.scope.trace().copied(),
            });
            log_n_plus_one(&settings.log_limiter, now, label, fingerprint, count, total_time);
        });
        elapsed
    }
}

impl Drop for Tracking {
    fn drop(&mut self) {
        if !self.done {
            let status = if self.in_poll || std::thread::panicking() { 500 } else { 499 };
            self.finish(status, None);
        }
    }
}

/// Writes a slow-request line, at most one per endpoint and minute.
#[cold]
fn log_slow(
    limiter: &LogLimiter,
    now: Timestamp,
    method: Method,
    route: Option<&str>,
    status: u16,
    elapsed: Duration,
    queries: u32,
) {
    let route = route.unwrap_or(UNMATCHED_ROUTE);
    let Some(suppressed) = limiter.check(LogLimiter::key(&["slow_request", method.as_str(), route]), now) else {
        return;
    };
    tracing::warn!(
        target: "perf_http::slow_request",
        method = method.as_str(),
        route,
        status,
        duration_ms = elapsed.as_secs_f64() * 1e3,
        queries,
        suppressed,
        "slow request"
    );
}

/// Writes an N+1 line, at most one per (route, fingerprint) and minute.
#[cold]
fn log_n_plus_one(limiter: &LogLimiter, now: Timestamp, route: &str, fingerprint: &str, count: u32, total: Duration) {
    let Some(suppressed) = limiter.check(LogLimiter::key(&["n_plus_one", route, fingerprint]), now) else {
        return;
    };
    tracing::warn!(
        target: "perf_db::n_plus_one",
        route,
        fingerprint,
        count,
        total_ms = total.as_secs_f64() * 1e3,
        suppressed,
        "N+1 query pattern"
    );
}

impl Settings {
    fn is_excluded(&self, path: &str) -> bool {
        let path = path.as_bytes();
        self.excluded.iter().any(|prefix| {
            let prefix = prefix.as_bytes();
            // The byte after the prefix and the prefix's last byte settle
            // most paths before the whole prefix is compared.
            let boundary = path.get(prefix.len()).is_none_or(|&b| b == b'/');
            boundary
                && prefix.last().is_none_or(|last| path.get(prefix.len().wrapping_sub(1)) == Some(last))
                && path.starts_with(prefix)
        })
    }
}

#[cfg(test)]
mod tests;
