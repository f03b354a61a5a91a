//! [`PlanCapture`]: the plan of a slow SELECT, asked for once per
//! fingerprint and interval on a connection of its own, off the request path.
//!
//! The monitor offers a slow read ([`PlanCapture::offer`]: a map lookup,
//! and a copy of the SQL when it is taken); a thread of the capture asks the
//! database how it would run the statement and hands the plan to the
//! [`Recorder`] as a [`QueryPlanSample`]. Bind values never reach the
//! database or the plan: the recorded SQL has none, PostgreSQL is asked for
//! the *generic* plan (`plan_cache_mode = force_generic_plan`, every
//! parameter `NULL`), and SQLite explains with its parameters unbound.
//! Nothing is run: `EXPLAIN` without `ANALYZE`, and `PREPARE` only plans.

use std::{
    collections::HashMap,
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
        mpsc::{self, Receiver, SyncSender, TrySendError},
    },
    time::{Duration, Instant},
};

use diesel::{Connection, ConnectionError, result::Error as DieselError};
use parking_lot::Mutex;
use perf_core::{
    Clock, DEFAULT_LOG_INTERVAL, LogLimiter, PerfContext, QueryPlan, QueryPlanSample, Recorder, Timestamp,
};

use crate::{
    DbError, StatementKind,
    lexer::{Lexer, TokenKind},
};

/// How long a fingerprint's plan stands before it is asked for again.
pub const DEFAULT_PLAN_INTERVAL: Duration = Duration::from_secs(600);

/// Statements waiting for their plan at most; offers past it are dropped and counted.
pub const PLAN_QUEUE: usize = 16;

/// Fingerprints whose last capture the rate limit remembers; past it the
/// oldest is forgotten.
const TRACKED_FINGERPRINTS: usize = 1_024;

/// The longest a plan query may run on the capture's connection.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(2);

/// A database perfkit can ask for plans: the statement to ask with and how
/// to read the answer. Implemented for diesel's `SqliteConnection` (feature
/// `sqlite`) and `PgConnection` (feature `postgres`).
pub trait Explain: Connection + Send + 'static {
    /// Prepares a fresh connection for plan queries (time limits, generic plans).
    ///
    /// # Errors
    /// The database's error.
    fn prepare_session(&mut self) -> Result<(), DieselError>;

    /// The plan of `sql`, a single SELECT with `shape.params` parameters.
    ///
    /// # Errors
    /// The database's error (a statement it cannot plan without values,
    /// e.g. a PostgreSQL parameter whose type cannot be inferred).
    fn explain(&mut self, sql: &str, shape: &PlanShape) -> Result<QueryPlan, DieselError>;
}

/// What the capture knows about an explainable statement from its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanShape {
    /// Parameters to pass: the highest `$n`, or the number of `?`
    /// placeholders (`?n` counts as n).
    pub params: u16,
    /// Whether the statement has a `WHERE` clause anywhere.
    pub filtered: bool,
}

impl PlanShape {
    /// The shape of `sql` when perfkit explains it: one SELECT (a trailing
    /// `;` allowed, no second statement). `None` otherwise.
    pub fn of(sql: &str) -> Option<PlanShape> {
        if StatementKind::of(sql) != StatementKind::Select {
            return None;
        }
        let mut shape = PlanShape { params: 0, filtered: false };
        let mut ended = false;
        let mut positional = 0u16;
        for t in Lexer::new(sql) {
            if ended {
                return None;
            }
            match t.kind {
                TokenKind::Semi => ended = true,
                TokenKind::Word if t.text.eq_ignore_ascii_case("where") => shape.filtered = true,
                TokenKind::Param => {
                    let digits = t.text.trim_start_matches(['$', '?']);
                    let n = if digits.is_empty() {
                        positional = positional.saturating_add(1);
                        positional
                    } else {
                        digits.parse().ok()?
                    };
                    shape.params = shape.params.max(n);
                }
                _ => {}
            }
        }
        Some(shape)
    }
}

/// What became of one [`PlanCapture::offer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Queued for the capture thread.
    Queued,
    /// This fingerprint's plan was asked for within the interval.
    Recent,
    /// Not a single SELECT: never explained.
    NotExplainable,
    /// The queue was full; dropped and counted.
    Dropped,
}

/// Counts of a [`PlanCapture`] since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlanCaptureStats {
    /// Statements queued for their plan.
    pub queued: u64,
    /// Plans captured and recorded.
    pub captured: u64,
    /// Plan queries or connections that failed.
    pub failed: u64,
    /// Offers dropped because the queue was full.
    pub dropped: u64,
}

struct Job {
    fingerprint: String,
    sql: String,
    shape: PlanShape,
}

#[derive(Default)]
struct Counters {
    queued: AtomicU64,
    captured: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

struct Inner {
    jobs: SyncSender<Job>,
    /// When each fingerprint (by hash) was last queued.
    recent: Mutex<HashMap<u64, Timestamp>>,
    interval: Duration,
    clock: Arc<dyn Clock>,
    counters: Arc<Counters>,
}

/// Captures plans of slow SELECTs on a connection of its own (cheap to
/// clone; the thread ends when the last clone is dropped, after the plan
/// query it is running, which is bounded by a 2 s statement timeout).
///
/// Give it to the monitor with
/// [`QueryMonitor::with_plan_capture`](crate::QueryMonitor::with_plan_capture).
/// The connection it opens must not carry the monitor (its plan queries
/// would be recorded as the application's): the capture replaces any
/// default instrumentation on it with none.
#[derive(Clone)]
pub struct PlanCapture {
    inner: Arc<Inner>,
}

impl fmt::Debug for PlanCapture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlanCapture").field("interval", &self.inner.interval).field("stats", &self.stats()).finish()
    }
}

impl PlanCapture {
    /// Starts the capture thread; it opens its connection with `connect` on
    /// the first plan it needs, and again after the connection fails.
    /// Plans go to the context's recorder, stamped with its clock, and a
    /// fingerprint is explained at most once per `interval`.
    ///
    /// # Errors
    /// [`DbError::PlanThread`] when the thread cannot be started.
    pub fn spawn<C, F>(ctx: &PerfContext, interval: Duration, connect: F) -> Result<PlanCapture, DbError>
    where
        C: Explain,
        F: FnMut() -> Result<C, ConnectionError> + Send + 'static,
    {
        let (jobs, rx) = mpsc::sync_channel(PLAN_QUEUE);
        let counters = Arc::new(Counters::default());
        let worker = Worker {
            recorder: ctx.recorder().clone(),
            clock: ctx.clock().clone(),
            counters: counters.clone(),
            warnings: LogLimiter::new(DEFAULT_LOG_INTERVAL),
        };
        std::thread::Builder::new()
            .name("perfkit-plans".into())
            .spawn(move || worker.run(rx, connect))
            .map_err(DbError::PlanThread)?;
        Ok(PlanCapture {
            inner: Arc::new(Inner {
                jobs,
                recent: Mutex::new(HashMap::new()),
                interval,
                clock: ctx.clock().clone(),
                counters,
            }),
        })
    }

    /// Offers a slow statement (its fingerprint and its SQL without binds)
    /// for a plan. Never blocks: at most a map lookup, and a copy of the
    /// text when the statement is queued.
    pub fn offer(&self, fingerprint: &str, sql: &str) -> Offer {
        let inner = &*self.inner;
        let key = crate::fingerprint_hash(fingerprint);
        let now = inner.clock.now();
        let fresh = |recent: &HashMap<u64, Timestamp>| {
            recent.get(&key).is_some_and(|&last| now.duration_since(last) < inner.interval)
        };
        // The common case of a slow-query storm: a fingerprint just explained.
        if fresh(&inner.recent.lock()) {
            return Offer::Recent;
        }
        let Some(shape) = PlanShape::of(sql) else {
            return Offer::NotExplainable;
        };
        {
            let mut recent = inner.recent.lock();
            if fresh(&recent) {
                return Offer::Recent;
            }
            if recent.len() >= TRACKED_FINGERPRINTS && !recent.contains_key(&key) {
                // Forget the oldest; a capture is rare, so the scan is too.
                if let Some(oldest) = recent.iter().min_by_key(|(_, at)| **at).map(|(k, _)| *k) {
                    recent.remove(&oldest);
                }
            }
            recent.insert(key, now);
        }
        let job = Job { fingerprint: fingerprint.to_owned(), sql: sql.to_owned(), shape };
        match inner.jobs.try_send(job) {
            Ok(()) => {
                inner.counters.queued.fetch_add(1, Ordering::Relaxed);
                Offer::Queued
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                // Let a later offer try again instead of waiting an interval.
                inner.recent.lock().remove(&key);
                inner.counters.dropped.fetch_add(1, Ordering::Relaxed);
                Offer::Dropped
            }
        }
    }

    /// Counts since start.
    pub fn stats(&self) -> PlanCaptureStats {
        let c = &self.inner.counters;
        PlanCaptureStats {
            queued: c.queued.load(Ordering::Relaxed),
            captured: c.captured.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
        }
    }

    /// Waits up to `timeout` until every queued statement has its plan or
    /// its failure; whether it got there. For tests and orderly shutdown.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.stats();
            if s.captured + s.failed >= s.queued {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

struct Worker {
    recorder: Arc<dyn Recorder>,
    clock: Arc<dyn Clock>,
    counters: Arc<Counters>,
    warnings: LogLimiter,
}

impl Worker {
    fn run<C: Explain>(self, jobs: Receiver<Job>, mut connect: impl FnMut() -> Result<C, ConnectionError>) {
        let mut conn: Option<C> = None;
        for job in jobs {
            let result = match conn.as_mut() {
                Some(c) => Ok(c),
                None => open(&mut connect).map(|c| conn.insert(c)),
            }
            .and_then(|c| c.explain(&job.sql, &job.shape).map_err(PlanFailure::Query));
            match result {
                Ok(plan) => {
                    self.recorder.record_query_plan(&QueryPlanSample {
                        fingerprint: &job.fingerprint,
                        plan: &plan,
                        at: self.clock.now(),
                    });
                    self.counters.captured.fetch_add(1, Ordering::Relaxed);
                }
                Err(failure) => {
                    if failure.drops_connection() {
                        conn = None;
                    }
                    self.counters.failed.fetch_add(1, Ordering::Relaxed);
                    let key = LogLimiter::key(&[failure.kind()]);
                    if let Some(held_back) = self.warnings.check(key, self.clock.now()) {
                        tracing::warn!(
                            target: "perf_db::query_plan",
                            fingerprint = %job.fingerprint,
                            error = %failure,
                            held_back,
                            "could not capture a query plan"
                        );
                    }
                }
            }
        }
    }
}

/// Opens and prepares the capture's connection.
fn open<C: Explain>(connect: &mut impl FnMut() -> Result<C, ConnectionError>) -> Result<C, PlanFailure> {
    let mut conn = connect().map_err(PlanFailure::Connect)?;
    // No instrumentation: a default one (the monitor's, installed
    // process-wide) would record the plan queries as the application's.
    conn.set_instrumentation(|_: diesel::connection::InstrumentationEvent<'_>| {});
    conn.prepare_session().map_err(PlanFailure::Query)?;
    Ok(conn)
}

#[derive(Debug, thiserror::Error)]
enum PlanFailure {
    #[error("could not connect: {0}")]
    Connect(ConnectionError),
    #[error("{0}")]
    Query(DieselError),
}

impl PlanFailure {
    fn kind(&self) -> &'static str {
        match self {
            PlanFailure::Connect(_) => "connect",
            PlanFailure::Query(_) => "query",
        }
    }

    /// Whether the connection is gone and must be opened again.
    fn drops_connection(&self) -> bool {
        match self {
            PlanFailure::Connect(_) => true,
            PlanFailure::Query(DieselError::DatabaseError(kind, _)) => {
                matches!(kind, diesel::result::DatabaseErrorKind::ClosedConnection)
            }
            PlanFailure::Query(DieselError::BrokenTransactionManager) => true,
            PlanFailure::Query(_) => false,
        }
    }
}

/// The statement timeout as the backends write it.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn timeout_ms() -> u128 {
    STATEMENT_TIMEOUT.as_millis()
}

#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "postgres")]
mod postgres;

#[cfg(test)]
mod tests;
