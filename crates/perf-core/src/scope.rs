//! [`RequestScope`]: per-request counters that follow a request across
//! `.await` points and into blocking closures.
//!
//! Many requests interleave on one worker thread, so the scope is not a bare
//! thread-local: it is entered for the duration of each poll of the request's
//! future ([`RequestScope::instrument`]), the way `tracing`'s `Instrument`
//! enters a span, and carried explicitly into closures that run on other
//! threads ([`RequestScope::bind`], [`bind_current`]).

use std::{
    cell::RefCell,
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use parking_lot::Mutex;

use crate::{NPlusOneSample, Recorder, Timestamp, TraceContext, TraceId};

/// Distinct query fingerprints counted per request; further ones are counted
/// in total but not per fingerprint.
pub const MAX_FINGERPRINTS_PER_SCOPE: usize = 64;

thread_local! {
    static CURRENT: RefCell<Option<RequestScope>> = const { RefCell::new(None) };
}

/// The counters of one request: its queries and their time, its cache hits
/// and misses, and a per-fingerprint query count for N+1 detection.
///
/// Cloning is cheap (one `Arc`).
///
/// # Examples
/// ```
/// use perf_core::RequestScope;
/// use std::time::Duration;
/// let scope = RequestScope::new("GET /api/projects/{id}");
/// let task = scope.bind(|| {
///     // Runs on another thread in real code (e.g. `web::block`).
///     RequestScope::with_current(|s| s.unwrap().record_query(42, Duration::from_millis(3)));
/// });
/// std::thread::spawn(task).join().unwrap();
/// assert_eq!(scope.query_count(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct RequestScope {
    inner: Arc<ScopeInner>,
}

#[derive(Debug)]
struct ScopeInner {
    label: Arc<str>,
    trace: Option<TraceContext>,
    queries: AtomicU32,
    query_nanos: AtomicU64,
    cache_hits: AtomicU32,
    cache_misses: AtomicU32,
    fingerprints: Mutex<Vec<FingerprintCount>>,
    /// Whether any fingerprint was flagged: the request's end skips the
    /// table's lock when none was (almost every request).
    flagged: AtomicBool,
}

/// Runs of one fingerprint within a scope.
#[derive(Debug)]
struct FingerprintCount {
    hash: u64,
    count: u32,
    nanos: u64,
    /// Set once the shape is an N+1 finding: its text, for the report at
    /// the scope's end.
    flagged: Option<Arc<str>>,
}

impl RequestScope {
    /// A new scope labelled `label` (usually `METHOD route`), without a trace.
    pub fn new(label: impl Into<Arc<str>>) -> Self {
        RequestScope::traced(label, None)
    }

    /// A new scope labelled `label` carrying the request's trace: every
    /// query and N+1 finding recorded in it carries the trace id.
    pub fn traced(label: impl Into<Arc<str>>, trace: Option<TraceContext>) -> Self {
        RequestScope {
            inner: Arc::new(ScopeInner {
                label: label.into(),
                trace,
                queries: AtomicU32::new(0),
                query_nanos: AtomicU64::new(0),
                cache_hits: AtomicU32::new(0),
                cache_misses: AtomicU32::new(0),
                fingerprints: Mutex::new(Vec::new()),
                flagged: AtomicBool::new(false),
            }),
        }
    }

    /// The label given at creation.
    pub fn label(&self) -> &str {
        &self.inner.label
    }

    /// The request's trace, when the scope has one.
    pub fn trace(&self) -> Option<&TraceContext> {
        self.inner.trace.as_ref()
    }

    /// The trace id of the request, when the scope has a trace.
    pub fn trace_id(&self) -> Option<TraceId> {
        self.inner.trace.as_ref().map(TraceContext::trace_id)
    }

    /// The scope entered on this thread, if any (a clone).
    pub fn current() -> Option<RequestScope> {
        CURRENT.with(|c| c.borrow().clone())
    }

    /// Runs `f` with the scope entered on this thread, without cloning it.
    pub fn with_current<R>(f: impl FnOnce(Option<&RequestScope>) -> R) -> R {
        CURRENT.with(|c| f(c.borrow().as_ref()))
    }

    /// Makes this scope current on this thread until the guard drops; the
    /// previous scope (if any) is restored then.
    pub fn enter(&self) -> ScopeGuard {
        let previous = CURRENT.with(|c| c.replace(Some(self.clone())));
        ScopeGuard { previous }
    }

    /// Wraps a future so this scope is current during each of its polls.
    pub fn instrument<F: Future>(&self, future: F) -> Scoped<F> {
        Scoped { scope: self.clone(), future }
    }

    /// Wraps a closure so it runs with this scope current, on whatever thread
    /// calls it: the way to carry a scope into `web::block`.
    pub fn bind<F, R>(&self, f: F) -> impl FnOnce() -> R + Send + 'static
    where
        F: FnOnce() -> R + Send + 'static,
    {
        let scope = self.clone();
        move || {
            let _guard = scope.enter();
            f()
        }
    }

    /// Counts one query with fingerprint hash `fingerprint` and returns how
    /// many times that fingerprint has run in this scope (0 once more than
    /// [`MAX_FINGERPRINTS_PER_SCOPE`] distinct fingerprints were seen).
    pub fn record_query(&self, fingerprint: u64, duration: Duration) -> u32 {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        self.inner.queries.fetch_add(1, Ordering::Relaxed);
        self.inner.query_nanos.fetch_add(nanos, Ordering::Relaxed);
        let mut table = self.inner.fingerprints.lock();
        if let Some(entry) = table.iter_mut().find(|e| e.hash == fingerprint) {
            entry.count += 1;
            entry.nanos = entry.nanos.saturating_add(nanos);
            return entry.count;
        }
        if table.len() < MAX_FINGERPRINTS_PER_SCOPE {
            table.push(FingerprintCount { hash: fingerprint, count: 1, nanos, flagged: None });
            return 1;
        }
        0
    }

    /// Count and total time so far of fingerprint hash `fingerprint`.
    pub fn fingerprint_stats(&self, fingerprint: u64) -> Option<(u32, Duration)> {
        let table = self.inner.fingerprints.lock();
        table.iter().find(|e| e.hash == fingerprint).map(|e| (e.count, Duration::from_nanos(e.nanos)))
    }

    /// Marks fingerprint hash `fingerprint` (with its text) as an N+1
    /// finding of this scope: it is reported, with the count and time it
    /// reaches by the scope's end, by
    /// [`RequestScope::take_n_plus_one_findings`]. Marking twice keeps the
    /// first text; a fingerprint this scope does not count is ignored.
    pub fn flag_n_plus_one(&self, fingerprint: u64, text: &Arc<str>) {
        let mut table = self.inner.fingerprints.lock();
        if let Some(entry) = table.iter_mut().find(|e| e.hash == fingerprint)
            && entry.flagged.is_none()
        {
            entry.flagged = Some(text.clone());
            self.inner.flagged.store(true, Ordering::Relaxed);
        }
    }

    /// Calls `f(fingerprint, count, total_time)` for each N+1 finding of
    /// this scope, with the counts so far (the final ones once the request
    /// is over), and forgets them: a second call reports nothing, so a
    /// finding is reported once per scope.
    ///
    /// `f` runs while the scope's fingerprint table is locked: it must not
    /// call back into this scope.
    pub fn take_n_plus_one_findings(&self, mut f: impl FnMut(&str, u32, Duration)) {
        if !self.inner.flagged.swap(false, Ordering::Relaxed) {
            return;
        }
        let mut table = self.inner.fingerprints.lock();
        for entry in table.iter_mut() {
            if let Some(text) = entry.flagged.take() {
                f(&text, entry.count, Duration::from_nanos(entry.nanos));
            }
        }
    }

    /// Records each N+1 finding of this scope through `recorder` as an
    /// [`NPlusOneSample`] stamped `at` (the request's end), with the final
    /// count and time, and returns how many it recorded; see
    /// [`RequestScope::take_n_plus_one_findings`] (a finding is reported once).
    pub fn report_n_plus_one(&self, recorder: &dyn Recorder, at: Timestamp) -> usize {
        let scope = self.inner.label.clone();
        let trace = self.trace().copied();
        let mut reported = 0;
        self.take_n_plus_one_findings(|fingerprint, count, total_time| {
            recorder.record_n_plus_one(&NPlusOneSample { scope: &scope, fingerprint, count, total_time, at, trace });
            reported += 1;
        });
        reported
    }

    /// Counts one cache lookup.
    pub fn record_cache(&self, hit: bool) {
        let counter = if hit { &self.inner.cache_hits } else { &self.inner.cache_misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Queries counted so far.
    pub fn query_count(&self) -> u32 {
        self.inner.queries.load(Ordering::Relaxed)
    }

    /// Total query time so far.
    pub fn query_time(&self) -> Duration {
        Duration::from_nanos(self.inner.query_nanos.load(Ordering::Relaxed))
    }

    /// Cache hits so far.
    pub fn cache_hits(&self) -> u32 {
        self.inner.cache_hits.load(Ordering::Relaxed)
    }

    /// Cache misses so far.
    pub fn cache_misses(&self) -> u32 {
        self.inner.cache_misses.load(Ordering::Relaxed)
    }
}

/// Wraps a closure so it runs with the scope current at the time of this
/// call (if any) current on whatever thread calls it.
///
/// `web::block(bind_current(move || conn.load(...)))` attributes the queries
/// inside to the request that spawned the closure.
pub fn bind_current<F, R>(f: F) -> impl FnOnce() -> R + Send + 'static
where
    F: FnOnce() -> R + Send + 'static,
{
    let scope = RequestScope::current();
    move || {
        let _guard = scope.as_ref().map(RequestScope::enter);
        f()
    }
}

/// Restores the previously current scope when dropped.
#[derive(Debug)]
#[must_use = "the scope is current only while the guard lives"]
pub struct ScopeGuard {
    previous: Option<RequestScope>,
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| {
            *c.borrow_mut() = previous;
        });
    }
}

pin_project_lite::pin_project! {
    /// A future with a [`RequestScope`] entered during each poll.
    #[derive(Debug)]
    pub struct Scoped<F> {
        scope: RequestScope,
        #[pin]
        future: F,
    }
}

impl<F> Scoped<F> {
    /// The scope this future enters.
    pub fn scope(&self) -> &RequestScope {
        &self.scope
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _guard = this.scope.enter();
        this.future.poll(cx)
    }
}

#[cfg(test)]
mod tests;
