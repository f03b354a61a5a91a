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

use std::{
    cell::{OnceCell, RefCell},
    collections::HashMap,
    future::{Future, Ready, ready},
    hash::{BuildHasher, Hasher},
    pin::Pin,
    rc::Rc,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use actix_web::{
    Error, HttpRequest,
    dev::{Path, Service, ServiceRequest, ServiceResponse, Transform, Url, forward_ready},
    http::header::{HeaderName, HeaderValue},
    web::BytesMut,
};
use foldhash::fast::FixedState;
use perf_core::{
    Clock, EndpointKey, LogLimiter, Method, NPlusOneSample, Recorder, RequestHandle, RequestSample, RequestScope,
    ThresholdStore, Timestamp, UNMATCHED_ROUTE,
};

use crate::{HttpError, PerfState};

/// Paths the monitor skips by default: the perf API, `/metrics` and the dashboard.
pub const DEFAULT_EXCLUDED_PATHS: [&str; 3] = ["/api/performance", "/metrics", "/performance"];

/// Most distinct route patterns whose scope labels a worker keeps ready.
const MAX_CACHED_ROUTES: usize = 1_024;

static SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

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
        let scope = RequestScope::new(guess.endpoint.label.clone());
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
                if track.settings.server_timing
                    && let Some(value) =
                        server_timing_value(elapsed, &track.scope, &mut track.worker.timing.borrow_mut())
                {
                    res.headers_mut().append(SERVER_TIMING.clone(), value);
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

/// `total;dur=12.345, db;dur=1.200;desc="3 queries", cache;desc="2 hits 1 misses"`,
/// written on the stack with integer arithmetic (no `core::fmt`), then
/// split off `buf` as the header value's bytes (no allocation while `buf`
/// has room or can reclaim the room of values already dropped).
fn server_timing_value(total: Duration, scope: &RequestScope, buf: &mut BytesMut) -> Option<HeaderValue> {
    let mut out = StackText::new();
    out.push("total;dur=");
    out.push_millis(total);
    let queries = scope.query_count();
    if queries > 0 {
        out.push(", db;dur=");
        out.push_millis(scope.query_time());
        out.push(";desc=\"");
        out.push_u64(u64::from(queries));
        out.push(" queries\"");
    }
    let (hits, misses) = (scope.cache_hits(), scope.cache_misses());
    if hits + misses > 0 {
        out.push(", cache;desc=\"");
        out.push_u64(u64::from(hits));
        out.push(" hits ");
        out.push_u64(u64::from(misses));
        out.push(" misses\"");
    }
    let text = out.as_bytes()?;
    // Reclaims the buffer when every earlier value is gone, else allocates
    // another of the buffer's first capacity.
    buf.reserve(text.len());
    buf.extend_from_slice(text);
    HeaderValue::from_maybe_shared(buf.split().freeze()).ok()
}

/// Bytes of a worker's `Server-Timing` buffer.
const TIMING_BUFFER: usize = 4_096;

/// A fixed buffer for the `Server-Timing` value. Writing past its end marks
/// it overflowed (the value is then dropped, never cut short).
struct StackText {
    buf: [u8; 160],
    len: usize,
    overflowed: bool,
}

impl StackText {
    fn new() -> Self {
        StackText { buf: [0; 160], len: 0, overflowed: false }
    }

    fn push_bytes(&mut self, bytes: &[u8]) {
        match self.buf.get_mut(self.len..self.len + bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            None => self.overflowed = true,
        }
    }

    fn push(&mut self, text: &str) {
        self.push_bytes(text.as_bytes());
    }

    /// `n` in decimal.
    fn push_u64(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            // `n % 10` is below 10, so the cast keeps its value.
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push_bytes(&digits[at..]);
    }

    /// `d` in milliseconds with three decimals (`12.345`), truncated to the microsecond.
    fn push_millis(&mut self, d: Duration) {
        let micros = d.subsec_micros();
        self.push_u64(d.as_secs().saturating_mul(1_000).saturating_add(u64::from(micros / 1_000)));
        let frac = micros % 1_000;
        // Each digit is below 10, so the casts keep their values.
        self.push_bytes(&[b'.', b'0' + (frac / 100) as u8, b'0' + (frac / 10 % 10) as u8, b'0' + (frac % 10) as u8]);
    }

    fn as_bytes(&self) -> Option<&[u8]> {
        (!self.overflowed).then(|| &self.buf[..self.len])
    }
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

/// One (method, route) a worker has seen: its route text, its ready-made
/// scope label (`"GET /api/projects/{id}"`), once its first request
/// ends the recorder's handle for it, and the [`Signature`] of the
/// requests actix routed to it.
struct Endpoint {
    route: Option<Rc<str>>,
    label: Arc<str>,
    /// Whether the route table holds this endpoint: only held ones resolve
    /// (and keep) a recorder handle.
    held: bool,
    handle: OnceCell<Option<RequestHandle>>,
    /// Learnt from a routed request that `match_pattern()` placed here.
    signature: RefCell<Option<Signature>>,
}

impl Endpoint {
    fn new(route: Option<Rc<str>>, label: Arc<str>, held: bool) -> Rc<Self> {
        Rc::new(Endpoint { route, label, held, handle: OnceCell::new(), signature: RefCell::new(None) })
    }

    /// The recorder's handle for this endpoint, resolved on first use;
    /// `None` for endpoints the table does not hold, or when the recorder
    /// offers none (the request then goes through the key map).
    fn handle(&self, recorder: &dyn Recorder, method: Method) -> Option<&RequestHandle> {
        if !self.held {
            return None;
        }
        self.handle.get_or_init(|| recorder.request_handle(method, self.route.as_deref())).as_ref()
    }

    /// Whether `info` (a routed request's match info) shows the route this
    /// endpoint learnt. Never true before one of its requests was placed by
    /// actix's own `match_pattern()`.
    fn routed_here(&self, info: &Path<Url>) -> bool {
        self.signature.borrow().as_ref().is_some_and(|s| s.matches(info))
    }

    /// Keeps the signature of `info`, a request actix routed to this
    /// endpoint, if it has none yet. Requests that matched no route teach
    /// nothing: a guard can send a path to the default service and the same
    /// path to a static resource, with the same match info.
    fn learn(&self, info: &Path<Url>) {
        if self.route.is_none() {
            return;
        }
        let mut slot = self.signature.borrow_mut();
        if slot.is_none() {
            *slot = Signature::of(info);
        }
    }

    #[cfg(test)]
    fn parts(&self) -> (Option<Rc<str>>, Arc<str>) {
        (self.route.clone(), self.label.clone())
    }
}

/// What a routed request's match info says about the resource that took
/// it: the names of its dynamic segments, by address, and the path text
/// around their values.
///
/// actix-router leaks each segment name of a `ResourceDef` once when the
/// definition is built and hands out that `&'static str` with every match,
/// so a name's address identifies the definition that captured it:
/// `/items/{id:\d{1,3}}` and `/items/{id}` have names at different
/// addresses. The path text around the values identifies static resources
/// and static scopes, whose text is the path itself. Two requests with equal
/// signatures were therefore routed through the same definitions, and
/// `match_pattern()` gives both the same pattern.
#[derive(Debug, PartialEq)]
struct Signature {
    /// Address and length of each segment's name, in path order.
    names: Box<[(usize, usize)]>,
    /// The path text before each segment's value, then after the last.
    literals: Box<[Box<str>]>,
}

impl Signature {
    /// The signature of a fully matched request: `None` when part of the
    /// path is unprocessed (no resource took it) or a value is not a slice of
    /// the path, in order.
    fn of(info: &Path<Url>) -> Option<Signature> {
        if !info.unprocessed().is_empty() {
            return None;
        }
        let path = info.as_str();
        let mut names = Vec::with_capacity(info.segment_count());
        let mut literals = Vec::with_capacity(info.segment_count() + 1);
        let mut at = 0;
        for (name, value) in info.iter() {
            let (start, end) = value_range(path, value, at)?;
            names.push((name.as_ptr() as usize, name.len()));
            literals.push(Box::from(&path[at..start]));
            at = end;
        }
        literals.push(Box::from(&path[at..]));
        Some(Signature { names: names.into(), literals: literals.into() })
    }

    /// Whether `info` has this signature (compared in place, no allocation).
    fn matches(&self, info: &Path<Url>) -> bool {
        if info.segment_count() != self.names.len() || !info.unprocessed().is_empty() {
            return false;
        }
        let path = info.as_str();
        let mut at = 0;
        for ((name, value), (&(addr, len), literal)) in info.iter().zip(self.names.iter().zip(self.literals.iter())) {
            if name.as_ptr() as usize != addr || name.len() != len {
                return false;
            }
            let Some((start, end)) = value_range(path, value, at) else { return false };
            if path[at..start] != **literal {
                return false;
            }
            at = end;
        }
        self.literals.last().is_some_and(|last| path[at..] == **last)
    }
}

/// Where `value` lies in `path`, if it is a slice of it starting at or after `from`.
fn value_range(path: &str, value: &str, from: usize) -> Option<(usize, usize)> {
    let start = (value.as_ptr() as usize).checked_sub(path.as_ptr() as usize)?;
    let end = start.checked_add(value.len())?;
    (start >= from && end <= path.len() && path.is_char_boundary(start)).then_some((start, end))
}

/// The route table's answer before routing: the endpoint whose label the
/// request's scope carries, and the shape slot it came from, if any.
struct Guess {
    endpoint: Rc<Endpoint>,
    /// (slot index, slot generation) of the shape memo entry used.
    slot: Option<(usize, u32)>,
}

/// Per-worker table of route patterns to their [`Endpoint`]s per method, so
/// a request costs no label allocation and no key lookup in the store once
/// its route has been seen.
///
/// In front of it sits a bounded, direct-mapped memo keyed by method and
/// path *shape*: the decoded path with every all-digit segment and every
/// UUID-looking segment replaced by a marker, so `/items/1` and
/// `/items/4095` share one entry. `match_pattern()` before routing walks the
/// app's routes (and runs actix's regex for every dynamic one); a shape the
/// memo knows skips that walk. The memo only guesses: when the response is
/// ready, [`RouteTable::routed`] checks the guess against the request as
/// actix routed it and records under the routed pattern; a shape whose
/// guess was wrong is poisoned and always walks from then on.
struct RouteTable {
    /// Hashed with foldhash's fast, fixed-seed hasher: the keys are the
    /// app's own route patterns (`match_pattern` never returns request
    /// text), so flooding the table with chosen collisions is not possible.
    routes: HashMap<String, RouteSlot, FixedState>,
    unmatched: [Option<Rc<Endpoint>>; 8],
    shapes: Vec<ShapeSlot>,
    /// Scratch space for the shape of the request at hand.
    shape: Box<[u8; MAX_MEMO_PATH]>,
}

struct RouteSlot {
    route: Rc<str>,
    endpoints: [Option<Rc<Endpoint>>; 8],
}

#[derive(Default)]
struct ShapeSlot {
    /// Bumped on every refill, so a verdict on an earlier occupant is ignored.
    generation: u32,
    method: Option<Method>,
    shape: Vec<u8>,
    endpoint: Option<Rc<Endpoint>>,
    /// A request of this shape was routed elsewhere than guessed: the slot
    /// is never used for guessing nor refilled again.
    poisoned: bool,
}

/// Slots of the shape memo (a power of two).
const MEMO_SLOTS: usize = 1_024;
/// Longest path the memo keeps; longer ones are always looked up.
const MAX_MEMO_PATH: usize = 128;
/// Marker of an all-digit segment in a shape.
const DIGITS: u8 = 0;
/// Marker of a UUID-looking segment in a shape.
const UUID: u8 = 1;

/// Writes the shape of `path` into `out` and returns its length: all-digit
/// segments become [`DIGITS`], UUID-looking ones [`UUID`]. `None` for paths
/// longer than [`MAX_MEMO_PATH`] or holding a marker byte themselves: they
/// are always looked up, so no literal segment can pass for a marker.
fn shape_of(path: &str, out: &mut [u8; MAX_MEMO_PATH]) -> Option<usize> {
    let bytes = path.as_bytes();
    if bytes.len() > MAX_MEMO_PATH {
        return None;
    }
    // `len` never passes the bytes read, so every write is in bounds.
    let mut len = 0;
    // Where the current segment starts in `out`, and whether it is all digits so far.
    let mut segment = 0;
    let mut digits = true;
    for &b in bytes {
        if b == b'/' {
            len = close_segment(out, segment, len, digits);
            out[len] = b'/';
            len += 1;
            segment = len;
            digits = true;
        } else {
            if b <= UUID {
                return None;
            }
            digits &= b.is_ascii_digit();
            out[len] = b;
            len += 1;
        }
    }
    Some(close_segment(out, segment, len, digits))
}

/// Replaces the segment `out[start..end]` by its marker, if it has one;
/// returns the shape's new length.
#[inline]
fn close_segment(out: &mut [u8; MAX_MEMO_PATH], start: usize, end: usize, digits: bool) -> usize {
    let marker = if end > start && digits {
        DIGITS
    } else if end - start == 36 && looks_like_uuid(&out[start..end]) {
        UUID
    } else {
        return end;
    };
    out[start] = marker;
    start + 1
}

/// `8-4-4-4-12` hex digits, either case.
fn looks_like_uuid(segment: &[u8]) -> bool {
    segment.len() == 36
        && segment.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

impl RouteTable {
    fn new() -> Self {
        RouteTable {
            routes: HashMap::default(),
            unmatched: Default::default(),
            shapes: Vec::new(),
            shape: Box::new([0; MAX_MEMO_PATH]),
        }
    }

    /// The guessed endpoint of a request to `path`; `find` is the (costly)
    /// pattern lookup before routing, called only when the shape memo has
    /// no usable entry.
    fn lookup(&mut self, method: Method, path: &str, find: impl FnOnce() -> Option<String>) -> Guess {
        let Some(len) = shape_of(path, &mut self.shape) else {
            let found = find();
            return Guess { endpoint: self.resolve(method, found.as_deref()), slot: None };
        };
        let shape = &self.shape[..len];
        if self.shapes.is_empty() {
            self.shapes.resize_with(MEMO_SLOTS, ShapeSlot::default);
        }
        let mut hasher = FixedState::default().build_hasher();
        hasher.write_usize(method.index());
        hasher.write(shape);
        let index = (hasher.finish() as usize) & (MEMO_SLOTS - 1);
        let slot = &self.shapes[index];
        if slot.method == Some(method)
            && slot.shape == shape
            && let (Some(endpoint), false) = (&slot.endpoint, slot.poisoned)
        {
            return Guess { endpoint: endpoint.clone(), slot: Some((index, slot.generation)) };
        }
        let poisoned = slot.poisoned;
        let found = find();
        let endpoint = self.resolve(method, found.as_deref());
        if poisoned {
            return Guess { endpoint, slot: None };
        }
        let slot = &mut self.shapes[index];
        slot.generation = slot.generation.wrapping_add(1);
        slot.method = Some(method);
        slot.shape.clear();
        slot.shape.extend_from_slice(&self.shape[..len]);
        slot.endpoint = Some(endpoint.clone());
        Guess { endpoint, slot: Some((index, slot.generation)) }
    }

    /// The endpoint `req` (the request as actix routed it) belongs to: the
    /// guess when the request carries the guess's [`Signature`], else the one
    /// of `req.match_pattern()`, which then learns the signature; a shape
    /// slot whose guess was wrong is poisoned.
    fn routed(&mut self, method: Method, guess: &Guess, req: &HttpRequest) -> Rc<Endpoint> {
        let info = req.match_info();
        if guess.endpoint.routed_here(info) {
            return guess.endpoint.clone();
        }
        let pattern = req.match_pattern();
        let endpoint = self.resolve(method, pattern.as_deref());
        endpoint.learn(info);
        if endpoint.route != guess.endpoint.route
            && let Some((index, generation)) = guess.slot
            && let Some(slot) = self.shapes.get_mut(index)
            && slot.generation == generation
        {
            slot.poisoned = true;
            slot.endpoint = None;
        }
        endpoint
    }

    fn resolve(&mut self, method: Method, pattern: Option<&str>) -> Rc<Endpoint> {
        let i = method.index();
        let Some(pattern) = pattern else {
            let endpoint = self.unmatched[i].get_or_insert_with(|| {
                Endpoint::new(None, Arc::from(EndpointKey::new(method, None).to_string()), true)
            });
            return endpoint.clone();
        };
        if let Some(slot) = self.routes.get_mut(pattern) {
            let route = &slot.route;
            let endpoint = slot.endpoints[i].get_or_insert_with(|| {
                Endpoint::new(Some(route.clone()), Arc::from(EndpointKey::new(method, Some(pattern)).to_string()), true)
            });
            return endpoint.clone();
        }
        let label: Arc<str> = Arc::from(EndpointKey::new(method, Some(pattern)).to_string());
        let route: Rc<str> = Rc::from(pattern);
        if self.routes.len() >= MAX_CACHED_ROUTES {
            return Endpoint::new(Some(route), label, false);
        }
        let endpoint = Endpoint::new(Some(route.clone()), label, true);
        let mut endpoints: [Option<Rc<Endpoint>>; 8] = Default::default();
        endpoints[i] = Some(endpoint.clone());
        self.routes.insert(pattern.to_owned(), RouteSlot { route, endpoints });
        endpoint
    }
}

#[cfg(test)]
mod tests;
