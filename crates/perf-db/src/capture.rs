//! Query-count assertions for tests, in the spirit of Django's
//! `assertNumQueries`: run code, collect the queries it ran, and check their
//! number or look for N+1 patterns.

use std::{
    fmt::{self, Write as _},
    future::Future,
    num::NonZeroU32,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use parking_lot::Mutex;
use perf_core::RequestScope;

use crate::{DbError, StatementKind};

/// One query seen during a capture.
#[derive(Debug, Clone, PartialEq)]
pub struct CapturedQuery {
    /// The SQL text as run (with diesel's binds suffix, if any).
    pub sql: String,
    /// Its fingerprint.
    pub fingerprint: String,
    /// Its kind.
    pub kind: StatementKind,
    /// How long it took.
    pub duration: Duration,
    /// Whether it succeeded.
    pub ok: bool,
}

/// The queries run by the code passed to [`capture_queries`] or
/// [`capture_queries_async`], in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CapturedQueries {
    queries: Vec<CapturedQuery>,
}

impl CapturedQueries {
    /// The captured queries, in the order they finished.
    pub fn queries(&self) -> &[CapturedQuery] {
        &self.queries
    }

    /// How many queries ran.
    pub fn len(&self) -> usize {
        self.queries.len()
    }

    /// Whether no query ran.
    pub fn is_empty(&self) -> bool {
        self.queries.is_empty()
    }

    /// SELECT fingerprints run at least `threshold` times, with their counts,
    /// most frequent first.
    pub fn repeated_selects(&self, threshold: NonZeroU32) -> Vec<(&str, u32)> {
        let mut counts: Vec<(&str, u32)> = Vec::new();
        for q in self.queries.iter().filter(|q| q.kind == StatementKind::Select) {
            match counts.iter_mut().find(|(f, _)| *f == q.fingerprint) {
                Some((_, n)) => *n += 1,
                None => counts.push((&q.fingerprint, 1)),
            }
        }
        counts.retain(|(_, n)| *n >= threshold.get());
        counts.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
        counts
    }

    /// Checks that at most `max` queries ran.
    ///
    /// # Errors
    /// [`DbError::Assertion`] whose message lists every query.
    pub fn assert_at_most(&self, max: usize) -> Result<(), DbError> {
        if self.queries.len() <= max {
            return Ok(());
        }
        Err(DbError::Assertion(format!("expected at most {max} queries, {} ran:\n{self}", self.queries.len())))
    }

    /// Checks that exactly `expected` queries ran.
    ///
    /// # Errors
    /// [`DbError::Assertion`] whose message lists every query.
    pub fn assert_exactly(&self, expected: usize) -> Result<(), DbError> {
        if self.queries.len() == expected {
            return Ok(());
        }
        Err(DbError::Assertion(format!("expected {expected} queries, {} ran:\n{self}", self.queries.len())))
    }

    /// Checks that no SELECT shape ran `threshold` times or more (the N+1 rule).
    ///
    /// # Errors
    /// [`DbError::Assertion`] naming the repeated shapes and listing every query.
    pub fn assert_no_n_plus_one(&self, threshold: NonZeroU32) -> Result<(), DbError> {
        let repeated = self.repeated_selects(threshold);
        if repeated.is_empty() {
            return Ok(());
        }
        let mut msg = String::from("N+1 query pattern:\n");
        for (fingerprint, count) in &repeated {
            let _ = writeln!(msg, "  {count}× {fingerprint}");
        }
        let _ = write!(msg, "all {} queries:\n{self}", self.queries.len());
        Err(DbError::Assertion(msg))
    }
}

impl fmt::Display for CapturedQueries {
    /// One numbered line per query.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, q) in self.queries.iter().enumerate() {
            let failed = if q.ok { "" } else { " [failed]" };
            writeln!(f, "  {}. {}{failed}", i + 1, q.sql)?;
        }
        Ok(())
    }
}

/// Runs `f` in a fresh [`RequestScope`] and returns its result with the
/// queries it ran on monitored connections (those with a
/// [`QueryMonitor`](crate::QueryMonitor)), including queries in closures it
/// hands to other threads through [`perf_core::bind_current`].
///
/// The fresh scope hides any request scope current around the call, and a
/// scope opened inside `f` (e.g. by request middleware) hides this one: to
/// capture a whole request, use [`QueryMonitor::capture_async`](crate::QueryMonitor::capture_async).
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use diesel::{prelude::*, sqlite::SqliteConnection, connection::SimpleConnection};
/// use perf_db::{QueryMonitor, capture_queries};
///
/// let mut conn = SqliteConnection::establish(":memory:")?;
/// conn.set_instrumentation(QueryMonitor::new(Arc::new(perf_core::NoopRecorder)));
/// let ((), queries) = capture_queries(|| {
///     conn.batch_execute("CREATE TABLE t (id INTEGER); SELECT * FROM t").ok();
/// });
/// queries.assert_at_most(1)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn capture_queries<R>(f: impl FnOnce() -> R) -> (R, CapturedQueries) {
    let capture = Capture::start();
    let result = {
        let _guard = capture.scope.enter();
        f()
    };
    (result, capture.finish())
}

/// [`capture_queries`] for a future: the scope is current during each of its polls.
pub async fn capture_queries_async<F: Future>(future: F) -> (F::Output, CapturedQueries) {
    let capture = Capture::start();
    let result = capture.scope.instrument(future).await;
    (result, capture.finish())
}

/// Runs `$body` and panics with the query list if more than `$max` queries
/// ran; evaluates to the body's value. For tests.
///
/// ```
/// # use std::sync::Arc;
/// # use diesel::{prelude::*, sqlite::SqliteConnection, connection::SimpleConnection};
/// # let mut conn = SqliteConnection::establish(":memory:").unwrap();
/// # conn.set_instrumentation(perf_db::QueryMonitor::new(Arc::new(perf_core::NoopRecorder)));
/// let ok = perf_db::assert_max_queries!(2, conn.batch_execute("SELECT 1").is_ok());
/// assert!(ok);
/// ```
#[macro_export]
macro_rules! assert_max_queries {
    ($max:expr, $body:expr) => {{
        let (value, queries) = $crate::capture_queries(|| $body);
        if let Err(error) = queries.assert_at_most($max) {
            panic!("{error}");
        }
        value
    }};
}

/// Runs `$body` and panics with the query list if one SELECT shape ran
/// [`DEFAULT_N_PLUS_ONE_THRESHOLD`](crate::DEFAULT_N_PLUS_ONE_THRESHOLD) times or more; evaluates to the body's value.
#[macro_export]
macro_rules! assert_no_n_plus_one {
    ($body:expr) => {{
        let (value, queries) = $crate::capture_queries(|| $body);
        if let Err(error) = queries.assert_no_n_plus_one($crate::DEFAULT_N_PLUS_ONE_THRESHOLD) {
            panic!("{error}");
        }
        value
    }};
}

type Log = Arc<Mutex<Vec<CapturedQuery>>>;

/// Active captures, keyed by the address of their scope's label (unique
/// while the scope lives, because each capture allocates its own label).
static CAPTURES: Mutex<Vec<(usize, Log)>> = Mutex::new(Vec::new());
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

struct Capture {
    scope: RequestScope,
    key: usize,
    log: Log,
}

impl Capture {
    fn start() -> Capture {
        let scope = RequestScope::new(Arc::<str>::from("capture_queries"));
        let key = scope.label().as_ptr() as usize;
        let log: Log = Arc::default();
        CAPTURES.lock().push((key, log.clone()));
        ACTIVE.fetch_add(1, Ordering::SeqCst);
        Capture { scope, key, log }
    }

    fn finish(self) -> CapturedQueries {
        let queries = std::mem::take(&mut *self.log.lock());
        CapturedQueries { queries }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        CAPTURES.lock().retain(|(k, _)| *k != self.key);
        ACTIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether any [`capture_queries`] capture is open, in any thread (one atomic load).
pub(crate) fn any_open() -> bool {
    ACTIVE.load(Ordering::Relaxed) != 0
}

/// Called by the monitor for each query finished inside a scope.
pub(crate) fn note(scope: &RequestScope, query: &NotedQuery<'_>) {
    if ACTIVE.load(Ordering::Relaxed) == 0 {
        return;
    }
    let key = scope.label().as_ptr() as usize;
    let log = CAPTURES.lock().iter().find(|(k, _)| *k == key).map(|(_, log)| log.clone());
    if let Some(log) = log {
        log.lock().push(query.to_owned());
    }
}

/// A finished query as the monitor sees it, before it is copied into a capture.
pub(crate) struct NotedQuery<'a> {
    pub(crate) fingerprint: &'a str,
    pub(crate) sql: &'a str,
    pub(crate) kind: StatementKind,
    pub(crate) duration: Duration,
    pub(crate) ok: bool,
}

impl NotedQuery<'_> {
    fn to_owned(&self) -> CapturedQuery {
        CapturedQuery {
            sql: self.sql.to_owned(),
            fingerprint: self.fingerprint.to_owned(),
            kind: self.kind,
            duration: self.duration,
            ok: self.ok,
        }
    }
}

/// The captures open on one [`QueryMonitor`](crate::QueryMonitor): they see
/// every query of the monitor's connections, whatever scope is current.
#[derive(Debug, Default)]
pub(crate) struct MonitorCaptures {
    active: AtomicUsize,
    logs: Mutex<Vec<(usize, Log)>>,
    next: AtomicUsize,
}

impl MonitorCaptures {
    /// Copies `query` into every open capture (one atomic load when none is open).
    pub(crate) fn note(&self, query: &NotedQuery<'_>) {
        if self.active.load(Ordering::Relaxed) == 0 {
            return;
        }
        for (_, log) in self.logs.lock().iter() {
            log.lock().push(query.to_owned());
        }
    }

    /// Whether a capture is open on this monitor (one atomic load).
    pub(crate) fn is_open(&self) -> bool {
        self.active.load(Ordering::Relaxed) != 0
    }

    /// Runs `f` with a capture open.
    pub(crate) fn capture<R>(&self, f: impl FnOnce() -> R) -> (R, CapturedQueries) {
        let open = self.open();
        let result = f();
        (result, open.finish())
    }

    /// Awaits `future` with a capture open.
    pub(crate) async fn capture_async<F: Future>(&self, future: F) -> (F::Output, CapturedQueries) {
        let open = self.open();
        let result = future.await;
        (result, open.finish())
    }

    fn open(&self) -> OpenCapture<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let log: Log = Arc::default();
        self.logs.lock().push((id, log.clone()));
        self.active.fetch_add(1, Ordering::SeqCst);
        OpenCapture { owner: self, id, log }
    }
}

/// Closes its capture when dropped, also on unwinding.
struct OpenCapture<'a> {
    owner: &'a MonitorCaptures,
    id: usize,
    log: Log,
}

impl OpenCapture<'_> {
    fn finish(self) -> CapturedQueries {
        CapturedQueries { queries: std::mem::take(&mut *self.log.lock()) }
    }
}

impl Drop for OpenCapture<'_> {
    fn drop(&mut self) {
        self.owner.logs.lock().retain(|(id, _)| *id != self.id);
        self.owner.active.fetch_sub(1, Ordering::SeqCst);
    }
}
