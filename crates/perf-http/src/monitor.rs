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
    hash::{BuildHasherDefault, Hasher},
    pin::Pin,
    rc::Rc,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use actix_web::{
    Error,
    dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready},
    http::header::{HeaderName, HeaderValue},
};
use perf_core::{
    Clock, LogLimiter, Method, NPlusOneSample, Recorder, RequestHandle, RequestSample, RequestScope, ThresholdStore,
    Timestamp, UNMATCHED_ROUTE,
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
            routes: RefCell::new(RouteTable::new()),
        }))
    }
}

/// The monitoring service: one per worker, made by [`PerfMonitor`].
pub struct PerfMonitorMiddleware<S> {
    service: S,
    settings: Rc<Settings>,
    routes: RefCell<RouteTable>,
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
        // The path the router matches: percent-decoded once by actix's `Url`
        // (all but `%25`, `%2F` and `%2B`), not the raw `req.path()`.
        let path = req.match_info().as_str();
        if !settings.enabled || settings.is_excluded(path) {
            return PerfMonitorFuture { inner: self.service.call(req), track: None };
        }
        let start = Instant::now();
        let method = Method::parse(req.method().as_str());
        let endpoint = self.routes.borrow_mut().lookup(method, path, || req.resource_map().match_pattern(path));
        let scope = RequestScope::new(endpoint.label.clone());
        let inner = {
            let _entered = scope.enter();
            self.service.call(req)
        };
        let sleep = settings.timeout.map(|limit| Box::pin(actix_web::rt::time::sleep(limit)));
        PerfMonitorFuture {
            inner,
            track: Some(Tracking {
                settings: settings.clone(),
                start,
                method,
                endpoint,
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
                let elapsed = track.finish(res.status().as_u16());
                if track.settings.server_timing
                    && let Some(value) = server_timing_value(elapsed, &track.scope)
                {
                    res.headers_mut().append(SERVER_TIMING.clone(), value);
                }
                *this.track = None;
                Poll::Ready(Ok(res))
            }
            Poll::Ready(Err(e)) => {
                track.finish(e.as_response_error().status_code().as_u16());
                *this.track = None;
                Poll::Ready(Err(e))
            }
            Poll::Pending => {
                if let Some(sleep) = track.sleep.as_mut()
                    && sleep.as_mut().poll(cx).is_ready()
                {
                    let limit = track.settings.timeout.unwrap_or_default();
                    track.finish(504);
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
    start: Instant,
    method: Method,
    endpoint: Rc<Endpoint>,
    scope: RequestScope,
    sleep: Option<Pin<Box<actix_web::rt::time::Sleep>>>,
    in_poll: bool,
    done: bool,
}

impl Tracking {
    fn finish(&mut self, status: u16) -> Duration {
        let elapsed = self.start.elapsed();
        self.done = true;
        let settings = &self.settings;
        let route = self.endpoint.route.as_deref();
        let now = settings.clock.now();
        let mut sample = RequestSample::new(self.method, route, status, elapsed, now);
        sample.queries = self.scope.query_count();
        sample.query_time = self.scope.query_time();
        match self.endpoint.handle(&*settings.recorder, self.method) {
            Some(handle) => settings.recorder.record_request_with(handle, &sample),
            None => settings.recorder.record_request(&sample),
        }
        if elapsed.as_secs_f64() > settings.thresholds.slow_request_secs() {
            log_slow(&settings.log_limiter, now, self.method, route, status, elapsed, sample.queries);
        }
        // N+1 shapes flagged by perf-db during the request, with the
        // request's final counts.
        self.scope.take_n_plus_one_findings(|fingerprint, count, total_time| {
            let label = self.scope.label();
            settings.recorder.record_n_plus_one(&NPlusOneSample {
                route: label,
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
            self.finish(status);
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
/// written on the stack with integer arithmetic (no `core::fmt`; one
/// allocation: the header value itself).
fn server_timing_value(total: Duration, scope: &RequestScope) -> Option<HeaderValue> {
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
    HeaderValue::from_bytes(out.as_bytes()?).ok()
}

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
        self.excluded
            .iter()
            .any(|prefix| path.strip_prefix(&**prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
    }
}

/// One (method, route) a worker has seen: its route text, its ready-made
/// scope label (`"GET /api/projects/{id}"`) and, once its first request
/// ends, the recorder's handle for it.
struct Endpoint {
    route: Option<Rc<str>>,
    label: Arc<str>,
    /// Whether the route table holds this endpoint: only held ones resolve
    /// (and keep) a recorder handle.
    held: bool,
    handle: OnceCell<Option<RequestHandle>>,
}

impl Endpoint {
    fn new(route: Option<Rc<str>>, label: Arc<str>, held: bool) -> Rc<Self> {
        Rc::new(Endpoint { route, label, held, handle: OnceCell::new() })
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

    #[cfg(test)]
    fn parts(&self) -> (Option<Rc<str>>, Arc<str>) {
        (self.route.clone(), self.label.clone())
    }
}

/// Per-worker table of route patterns to their [`Endpoint`]s per method, so
/// a request costs no label allocation and no key lookup in the store once
/// its route has been seen.
///
/// In front of it sits a bounded, direct-mapped memo of (decoded) paths to
/// their pattern: `match_pattern()` before routing walks the app's routes (and runs
/// actix's regex for every dynamic one), while its result for a given path
/// never changes, so repeated paths skip that walk.
struct RouteTable {
    routes: HashMap<String, RouteSlot, BuildHasherDefault<FxHasher>>,
    unmatched: [Option<Rc<Endpoint>>; 8],
    memo: Vec<MemoSlot>,
}

struct RouteSlot {
    route: Rc<str>,
    endpoints: [Option<Rc<Endpoint>>; 8],
}

#[derive(Default)]
struct MemoSlot {
    filled: bool,
    path: String,
    pattern: Option<Rc<str>>,
}

/// Slots of the path memo (a power of two).
const MEMO_SLOTS: usize = 1_024;
/// Longest path the memo keeps; longer ones are always looked up.
const MAX_MEMO_PATH: usize = 128;

impl RouteTable {
    fn new() -> Self {
        RouteTable { routes: HashMap::default(), unmatched: Default::default(), memo: Vec::new() }
    }

    /// The endpoint of a request to `path`; `find` is the (costly) pattern
    /// lookup, called only when the memo does not know `path`.
    fn lookup(&mut self, method: Method, path: &str, find: impl FnOnce() -> Option<String>) -> Rc<Endpoint> {
        if path.len() > MAX_MEMO_PATH {
            let found = find();
            return self.resolve(method, found.as_deref());
        }
        if self.memo.is_empty() {
            self.memo.resize_with(MEMO_SLOTS, MemoSlot::default);
        }
        let mut hasher = FxHasher::default();
        hasher.write(path.as_bytes());
        let index = (hasher.finish() as usize) & (MEMO_SLOTS - 1);
        let slot = &self.memo[index];
        if slot.filled && slot.path == path {
            let pattern = slot.pattern.clone();
            return self.resolve(method, pattern.as_deref());
        }
        let found = find();
        let resolved = self.resolve(method, found.as_deref());
        let slot = &mut self.memo[index];
        slot.path.clear();
        slot.path.push_str(path);
        slot.pattern = resolved.route.clone();
        slot.filled = true;
        resolved
    }

    fn resolve(&mut self, method: Method, pattern: Option<&str>) -> Rc<Endpoint> {
        let i = method.index();
        let Some(pattern) = pattern else {
            let endpoint = self.unmatched[i].get_or_insert_with(|| {
                Endpoint::new(None, Arc::from(format!("{} {UNMATCHED_ROUTE}", method.as_str())), true)
            });
            return endpoint.clone();
        };
        if let Some(slot) = self.routes.get_mut(pattern) {
            let route = &slot.route;
            let endpoint = slot.endpoints[i].get_or_insert_with(|| {
                Endpoint::new(Some(route.clone()), Arc::from(format!("{} {pattern}", method.as_str())), true)
            });
            return endpoint.clone();
        }
        let label: Arc<str> = Arc::from(format!("{} {pattern}", method.as_str()));
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

/// The Fx hash (as in rustc) with a final mix: fast for short keys. The keys are the app's own
/// route patterns (`match_pattern` never returns request text), so flooding
/// the table with chosen collisions is not possible.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }

    fn finish(&self) -> u64 {
        // A splitmix64 finalizer, so the low bits (hashbrown's bucket index,
        // the memo's slot) depend on every input byte.
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests;
