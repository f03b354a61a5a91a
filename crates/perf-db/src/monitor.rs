//! [`QueryMonitor`]: diesel instrumentation that times queries and
//! transactions, records them through a [`Recorder`], attributes them to the
//! current [`RequestScope`], detects N+1 patterns and invalidates cached
//! queries when a write commits.

use std::{
    collections::HashMap,
    fmt,
    num::NonZeroU32,
    sync::Arc,
    time::{Duration, Instant},
};

use diesel::{
    Connection,
    connection::{Instrumentation, InstrumentationEvent},
};
use foldhash::fast::FixedState;
use parking_lot::RwLock;
use perf_core::{
    Clock, DEFAULT_LOG_INTERVAL, Invalidator, LogLimiter, QueryKind, QuerySample, Recorder, RequestScope,
    SharedThresholds, SystemClock, ThresholdStore,
};

use crate::{
    CapturedQueries, DbError, PlanCapture, StatementKind,
    capture::{self, MonitorCaptures, NotedQuery},
    fingerprint::fingerprint_bare_into,
    render::{UNAVAILABLE, render},
    tables_written,
};

/// The default number of runs of one SELECT shape within one request that
/// makes an N+1 finding.
pub const DEFAULT_N_PLUS_ONE_THRESHOLD: NonZeroU32 = NonZeroU32::new(5).expect("5 is not zero");

/// The fingerprint under which whole transactions are recorded.
pub const TRANSACTION_FINGERPRINT: &str = "TRANSACTION";

/// The statement connection pools run to check a connection on check-out
/// (diesel's r2d2 `ConnectionManager` runs exactly this): pool housekeeping,
/// never recorded as a query.
pub const POOL_CHECK_SQL: &str = "SELECT 1";

/// Longest SQL text written to a slow-query log line.
const MAX_LOGGED_SQL: usize = 2_048;

/// Distinct statements whose fingerprint one connection remembers.
const FINGERPRINT_CACHE_ENTRIES: usize = 512;

/// Longest statement text kept as a key of that memory.
const MAX_CACHED_SQL: usize = 4_096;

/// Capacity above which the per-connection SQL buffers are shrunk after use.
const MAX_KEPT_BUFFER: usize = 64 * 1_024;

/// diesel [`Instrumentation`] that records every query and transaction.
///
/// A `QueryMonitor` holds the shared configuration (recorder, thresholds,
/// clock, N+1 threshold, invalidator) plus the state of one connection.
/// **Cloning shares the configuration and starts fresh connection state**, so
/// one monitor is installed on many connections by cloning it:
///
/// - one connection: `conn.set_instrumentation(monitor.clone())`;
/// - every connection established afterwards in the process:
///   [`QueryMonitor::install_global`];
/// - an r2d2 pool: `Pool::builder().connection_customizer(Box::new(monitor.clone()))`
///   (it implements `CustomizeConnection` for every diesel connection type).
///
/// For each finished query it records a [`QuerySample`] (failed queries with
/// `ok = false`), counts the query in the current [`RequestScope`] (and puts
/// the scope's label in the sample's `scope`), marks an N+1 finding when one
/// SELECT shape reaches the threshold within one scope, logs queries over
/// the run-time slow-query threshold through `tracing` (target
/// `perf_db::slow_query`, SQL truncated to 2 KiB, at most one line per
/// (scope, fingerprint) and minute, with the count of lines held back), and,
/// for writes, calls [`Invalidator::invalidate_now`] with each written
/// table's name: at once outside a transaction, at the outermost commit
/// inside one, and never for a rolled-back transaction or savepoint.
///
/// # Bind values
/// diesel's query text ends with ` -- binds: [...]`, the request's values.
/// The monitor stops rendering at that marker, so the values are not even
/// formatted, and they never reach the store, the API, the dashboard or
/// Prometheus;
/// [`QueryMonitor::with_capture_binds`] keeps them for development. Values
/// inlined into the SQL text itself (`format!`-built statements) are part of
/// the text and kept: pass user data as binds. In-process captures
/// ([`QueryMonitor::capture`], [`capture_queries`](crate::capture_queries))
/// keep binds for test assertions; they are never stored.
///
/// # Which queries count
/// - A query finished while a [`RequestScope`] is current belongs to that
///   request: it is counted in the scope (so in the request's
///   `queries_per_request`) and its sample carries the scope's label.
/// - A query finished outside any scope (start-up, migrations, seeding,
///   background jobs) is recorded with `scope: None`; the store keeps those
///   apart from request figures (`background_queries`).
/// - The pool's connection check, the exact statement [`POOL_CHECK_SQL`]
///   (`SELECT 1`, which diesel's r2d2 manager runs on every check-out), is
///   housekeeping: it is neither recorded nor counted. A handler that runs
///   `SELECT 1` itself is not counted either; spell it differently (e.g.
///   `SELECT 1 AS ok`) to have it counted.
/// - Connection set-up a customizer runs when r2d2 opens a connection
///   happens on r2d2's own threads, outside any request, so it is
///   background.
/// - Each sample carries a [`QueryKind`]; schema changes (`CREATE`,
///   `ALTER`, `DROP`, ...) are [`QueryKind::Schema`], which analytics never
///   turns into slow-query alerts or index advice.
///
/// # Disabled
/// [`QueryMonitor::with_enabled`]`(false)` (what
/// `PERFORMANCE_MONITORING_ENABLED=false` should map to) records nothing,
/// counts nothing in scopes and logs nothing: each query costs one flag
/// check and nothing is rendered. With an invalidator configured, each
/// statement's SQL (without binds) is still rendered so writes invalidate
/// cached queries: invalidation is correctness, not monitoring.
///
/// Committed or rolled-back outermost transactions are recorded too, under
/// the fingerprint [`TRANSACTION_FINGERPRINT`] (`ok` = committed), from
/// `BEGIN` to the end of `COMMIT`/`ROLLBACK`; they are not counted as queries
/// in the request scope.
///
/// # N+1 findings
/// When one SELECT shape reaches the threshold within one scope, the
/// monitor flags it on the scope ([`RequestScope::flag_n_plus_one`]); the
/// request's owner (perf-http's middleware) reports each flagged shape once
/// when the request ends, with the request's final count and total time
/// ([`RequestScope::take_n_plus_one_findings`]).
///
/// # Cost
/// diesel's instrumentation hands out a finished query only as a
/// `Display` value, and no identity of the statement besides its text (on
/// SQLite the finished query is even a boxed `dyn QueryFragment`, the same
/// type for every statement). So each recorded query is rendered once,
/// which diesel does by walking the query twice (binds, then SQL), before
/// the first piece of text arrives; that rendering is most of what
/// monitoring adds to a query (benchmark `perf-db/select_by_pk`, variant
/// `diesel_sql_text`). Everything worked out from the text (fingerprint,
/// kind, written tables) is then one hash lookup per known statement.
///
/// # Guarantees
/// Never panics and never changes a query's outcome: database errors are
/// recorded and passed on to the caller untouched.
pub struct QueryMonitor {
    shared: Arc<Shared>,
    conn: ConnState,
}

#[derive(Clone)]
struct Shared {
    recorder: Arc<dyn Recorder>,
    thresholds: Arc<dyn ThresholdStore>,
    clock: Arc<dyn Clock>,
    n_plus_one: NonZeroU32,
    invalidator: Option<Arc<dyn Invalidator>>,
    captures: Arc<MonitorCaptures>,
    enabled: bool,
    capture_binds: bool,
    slow_log: Arc<LogLimiter>,
    plans: Option<PlanCapture>,
}

impl QueryMonitor {
    /// A monitor recording into `recorder`, with the development thresholds,
    /// the system clock, the default N+1 threshold and no invalidator.
    pub fn new(recorder: Arc<dyn Recorder>) -> QueryMonitor {
        QueryMonitor {
            shared: Arc::new(Shared {
                recorder,
                thresholds: Arc::new(SharedThresholds::default()),
                clock: Arc::new(SystemClock),
                n_plus_one: DEFAULT_N_PLUS_ONE_THRESHOLD,
                invalidator: None,
                captures: Arc::default(),
                enabled: true,
                capture_binds: false,
                slow_log: Arc::new(LogLimiter::new(DEFAULT_LOG_INTERVAL)),
                plans: None,
            }),
            conn: ConnState::default(),
        }
    }

    fn with_shared(mut self, f: impl FnOnce(&mut Shared)) -> QueryMonitor {
        f(Arc::make_mut(&mut self.shared));
        self
    }

    /// Reads the slow-query threshold from `thresholds` (at every query, so
    /// run-time changes apply at once).
    pub fn with_thresholds(self, thresholds: Arc<dyn ThresholdStore>) -> QueryMonitor {
        self.with_shared(|s| s.thresholds = thresholds)
    }

    /// Turns monitoring on or off (on by default). Off, the monitor records,
    /// counts and logs nothing; see the type's docs for what still runs.
    pub fn with_enabled(self, enabled: bool) -> QueryMonitor {
        self.with_shared(|s| s.enabled = enabled)
    }

    /// Keeps bind values in the recorded and logged SQL text (off by
    /// default; what `PERFORMANCE_CAPTURE_BINDS=true` maps to). Bind values
    /// are user data (search terms, emails, tokens): only turn this on in
    /// development. Off, they are cut before any text leaves the monitor.
    pub fn with_capture_binds(self, capture: bool) -> QueryMonitor {
        self.with_shared(|s| s.capture_binds = capture)
    }

    /// Whether this monitor records anything.
    pub fn is_enabled(&self) -> bool {
        self.shared.enabled
    }

    /// Timestamps samples with `clock`.
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> QueryMonitor {
        self.with_shared(|s| s.clock = clock)
    }

    /// Reports an N+1 finding when one SELECT shape runs `threshold` times in one request.
    pub fn with_n_plus_one_threshold(self, threshold: NonZeroU32) -> QueryMonitor {
        self.with_shared(|s| s.n_plus_one = threshold)
    }

    /// Invalidates written tables' namespaces through `invalidator` (e.g. a
    /// [`QueryCache`](crate::QueryCache) or perf-cache's cache).
    pub fn with_invalidator(self, invalidator: Arc<dyn Invalidator>) -> QueryMonitor {
        self.with_shared(|s| s.invalidator = Some(invalidator))
    }

    /// Offers every slow SELECT that succeeded to `capture`, which asks the
    /// database for its plan on a connection of its own, at most once per
    /// fingerprint and interval ([`PlanCapture`]). The query path pays a
    /// map lookup per slow query, never a wait.
    pub fn with_plan_capture(self, capture: PlanCapture) -> QueryMonitor {
        self.with_shared(|s| s.plans = Some(capture))
    }

    /// Runs `f` and returns its result with every query that finished on
    /// this monitor's connections meanwhile, on any thread and in any request
    /// scope: the way to assert on the queries of a whole request served by
    /// an app whose pool uses this monitor. Queries of other tests sharing
    /// the monitor would be seen too, so give each test its own monitor.
    pub fn capture<R>(&self, f: impl FnOnce() -> R) -> (R, CapturedQueries) {
        self.shared.captures.capture(f)
    }

    /// [`QueryMonitor::capture`] for a future, e.g. `test::call_service(&app, req)`.
    pub async fn capture_async<F: std::future::Future>(&self, future: F) -> (F::Output, CapturedQueries) {
        self.shared.captures.capture_async(future).await
    }

    /// The clock this monitor timestamps samples with.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.shared.clock
    }

    /// The recorder this monitor writes to.
    pub fn recorder(&self) -> &Arc<dyn Recorder> {
        &self.shared.recorder
    }

    /// The thresholds this monitor judges its samples slow by.
    pub(crate) fn thresholds(&self) -> &Arc<dyn ThresholdStore> {
        &self.shared.thresholds
    }

    /// Installs this monitor (a clone per connection) as diesel's default
    /// instrumentation: every connection established afterwards, in any
    /// thread, is monitored, and [`monitored()`](crate::monitored()) records
    /// through it. Installing again replaces the monitor for connections
    /// established afterwards.
    ///
    /// # Errors
    /// [`DbError::InstallDefault`] if diesel refuses the default.
    pub fn install_global(&self) -> Result<(), DbError> {
        *GLOBAL.write() = Some(self.clone());
        diesel::connection::set_default_instrumentation(global_instrumentation).map_err(DbError::InstallDefault)
    }

    /// The globally installed monitor, if any.
    pub fn global() -> Option<QueryMonitor> {
        GLOBAL.read().clone()
    }

    /// Removes the global monitor: connections established afterwards are
    /// not monitored (connections already open keep theirs).
    pub fn uninstall_global() {
        *GLOBAL.write() = None;
    }

    fn finish_query(&mut self, query: &dyn fmt::Display, ok: bool) {
        let enabled = self.shared.enabled;
        if !enabled && self.shared.invalidator.is_none() {
            return;
        }
        let duration = self.conn.started.take().map_or(Duration::ZERO, |t| t.elapsed());
        let shared = &*self.shared;
        let conn = &mut self.conn;
        // Bind values are rendered only for someone who reads them: the
        // opt-in text of samples and logs, or an open capture (tests). A
        // capture opened while this query renders may miss its values.
        let binds = enabled && (shared.capture_binds || shared.captures.is_open() || capture::any_open());
        let key_len = render(query, &mut conn.sql, binds);
        // `render` cuts at a piece boundary or an ASCII space: always a char
        // boundary. Were it not, no text with binds may pass as the key.
        let key = conn.sql.get(..key_len).unwrap_or(UNAVAILABLE);
        let statement = conn.fingerprints.lookup(key, &mut conn.scratch);
        if statement.pool_check {
            return;
        }
        let at = shared.clock.now();
        if enabled {
            // Bind values never leave the monitor unless asked for: the
            // recorder, the logs and the store only see the bare text.
            let text = if shared.capture_binds { conn.sql.as_str() } else { key };
            record(shared, &statement, Texts { recorded: text, bare: key, full: &conn.sql }, duration, ok, at);
        }
        if conn.sql.capacity() > MAX_KEPT_BUFFER || conn.scratch.capacity() > MAX_KEPT_BUFFER {
            conn.sql = String::new();
            conn.scratch = String::new();
        }
        if std::mem::take(&mut conn.beginning) && !ok {
            // The BEGIN (or SAVEPOINT) itself failed: no level was opened.
            conn.transactions.pop();
        }
        if let Some((depth, committed)) = conn.ending.take() {
            self.finish_transaction(depth, committed && ok, at);
        } else if ok && !statement.written.is_empty() {
            match self.conn.transactions.last_mut() {
                Some(level) => {
                    for table in statement.written.iter() {
                        if !level.tables.contains(table) {
                            level.tables.push(table.clone());
                        }
                    }
                }
                None => invalidate(shared, &statement.written),
            }
        }
    }

    fn finish_transaction(&mut self, depth: u32, committed: bool, at: perf_core::Timestamp) {
        let keep = depth.saturating_sub(1) as usize;
        if self.conn.transactions.len() <= keep {
            return;
        }
        let level = self.conn.transactions.swap_remove(keep);
        self.conn.transactions.truncate(keep);
        if !committed {
            return;
        }
        match self.conn.transactions.last_mut() {
            Some(parent) => {
                for table in level.tables {
                    if !parent.tables.contains(&table) {
                        parent.tables.push(table);
                    }
                }
            }
            None => {
                invalidate(&self.shared, &level.tables);
            }
        }
        if keep == 0 && self.shared.enabled {
            let duration = level.started.elapsed();
            RequestScope::with_current(|scope| {
                self.shared.recorder.record_query(&QuerySample {
                    fingerprint: TRANSACTION_FINGERPRINT,
                    sql: "BEGIN … COMMIT",
                    duration,
                    ok: true,
                    at,
                    scope: scope.map(RequestScope::label),
                    kind: QueryKind::Transaction,
                    slow: self.shared.thresholds.query_is_slow(duration),
                    trace: scope.and_then(RequestScope::trace).copied(),
                });
            });
        }
    }

    fn record_rollback(&self, started: Instant) {
        if !self.shared.enabled {
            return;
        }
        let duration = started.elapsed();
        let at = self.shared.clock.now();
        RequestScope::with_current(|scope| {
            self.shared.recorder.record_query(&QuerySample {
                fingerprint: TRANSACTION_FINGERPRINT,
                sql: "BEGIN … ROLLBACK",
                duration,
                ok: false,
                at,
                scope: scope.map(RequestScope::label),
                kind: QueryKind::Transaction,
                slow: self.shared.thresholds.query_is_slow(duration),
                trace: scope.and_then(RequestScope::trace).copied(),
            });
        });
    }
}

impl Clone for QueryMonitor {
    /// Shares the configuration; the clone starts with fresh connection state.
    fn clone(&self) -> Self {
        QueryMonitor { shared: self.shared.clone(), conn: ConnState::default() }
    }
}

impl fmt::Debug for QueryMonitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryMonitor")
            .field("enabled", &self.shared.enabled)
            .field("n_plus_one_threshold", &self.shared.n_plus_one)
            .field("has_invalidator", &self.shared.invalidator.is_some())
            .field("open_transactions", &self.conn.transactions.len())
            .finish_non_exhaustive()
    }
}

impl Instrumentation for QueryMonitor {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { .. } if self.shared.enabled => {
                self.conn.started = Some(Instant::now());
            }
            InstrumentationEvent::FinishQuery { query, error, .. } => self.finish_query(&query, error.is_none()),
            InstrumentationEvent::BeginTransaction { depth, .. } => {
                let keep = (depth.get() as usize).saturating_sub(1);
                self.conn.transactions.truncate(keep);
                self.conn.transactions.push(TxLevel { started: Instant::now(), tables: Vec::new() });
                self.conn.beginning = true;
            }
            InstrumentationEvent::CommitTransaction { depth, .. } => self.conn.ending = Some((depth.get(), true)),
            InstrumentationEvent::RollbackTransaction { depth, .. } => {
                if depth.get() == 1
                    && let Some(level) = self.conn.transactions.first()
                {
                    self.record_rollback(level.started);
                }
                self.conn.ending = Some((depth.get(), false));
            }
            _ => {}
        }
    }
}

impl<C: Connection + 'static> diesel::r2d2::CustomizeConnection<C, diesel::r2d2::Error> for QueryMonitor {
    fn on_acquire(&self, conn: &mut C) -> Result<(), diesel::r2d2::Error> {
        conn.set_instrumentation(self.clone());
        Ok(())
    }
}

static GLOBAL: RwLock<Option<QueryMonitor>> = RwLock::new(None);

fn global_instrumentation() -> Option<Box<dyn Instrumentation>> {
    GLOBAL.read().as_ref().map(|m| Box::new(m.clone()) as Box<dyn Instrumentation>)
}

/// Records one finished statement: its sample, its count in the current
/// scope (flagging an N+1 shape at the threshold), its capture, and a
/// rate-limited log line when it was slow.
///
/// A slow SELECT is also offered to the plan capture, if there is one, by
/// its text without binds.
fn record(
    shared: &Shared,
    statement: &Statement,
    texts: Texts<'_>,
    duration: Duration,
    ok: bool,
    at: perf_core::Timestamp,
) {
    let Texts { recorded: sql, bare, full } = texts;
    let noted = NotedQuery { fingerprint: &statement.text, sql: full, kind: statement.kind, duration, ok };
    RequestScope::with_current(|scope| {
        let label = scope.map(RequestScope::label);
        let slow = shared.thresholds.query_is_slow(duration);
        shared.recorder.record_query(&QuerySample {
            fingerprint: &statement.text,
            sql,
            duration,
            ok,
            at,
            scope: label,
            kind: statement.query_kind,
            slow,
            trace: scope.and_then(RequestScope::trace).copied(),
        });
        if let Some(scope) = scope {
            let count = scope.record_query(statement.hash, duration);
            if statement.kind == StatementKind::Select && count == shared.n_plus_one.get() {
                scope.flag_n_plus_one(statement.hash, &statement.text);
            }
            capture::note(scope, &noted);
        }
        shared.captures.note(&noted);
        if slow {
            if let (Some(plans), true, StatementKind::Select) = (&shared.plans, ok, statement.kind) {
                plans.offer(&statement.text, bare);
            }
            let scope_label = label.unwrap_or("background");
            if let Some(held_back) = shared.slow_log.check(LogLimiter::key(&[scope_label, &statement.text]), at) {
                tracing::warn!(
                    target: "perf_db::slow_query",
                    fingerprint = &*statement.text,
                    sql = truncate(sql, MAX_LOGGED_SQL),
                    duration_ms = duration.as_secs_f64() * 1e3,
                    threshold_ms = shared.thresholds.slow_query_secs() * 1e3,
                    route = label,
                    ok,
                    suppressed = held_back,
                    "slow query"
                );
            }
        }
    });
    if !ok {
        tracing::debug!(target: "perf_db::query", sql = truncate(sql, MAX_LOGGED_SQL), "query failed");
    }
}

/// The texts of one statement [`record`] uses.
struct Texts<'a> {
    /// What is recorded and logged: the bare text, or with binds when asked.
    recorded: &'a str,
    /// The text without binds, whatever the settings.
    bare: &'a str,
    /// With binds: only for in-process query captures, which tests read.
    full: &'a str,
}

fn invalidate(shared: &Shared, tables: &[String]) {
    let Some(invalidator) = &shared.invalidator else { return };
    for table in tables {
        if let Err(error) = invalidator.invalidate_now(table) {
            tracing::warn!(target: "perf_db::cache", table = table.as_str(), %error, "cache invalidation failed");
        }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Per-connection state.
#[derive(Default)]
struct ConnState {
    started: Option<Instant>,
    sql: String,
    scratch: String,
    fingerprints: FingerprintCache,
    transactions: Vec<TxLevel>,
    /// The next finished statement is the one opening the newest level.
    beginning: bool,
    ending: Option<(u32, bool)>,
}

struct TxLevel {
    started: Instant,
    tables: Vec<String>,
}

/// What the monitor needs to know about one statement text: everything
/// that depends on the SQL alone, worked out once per distinct statement.
pub(crate) struct Statement {
    pub(crate) text: Arc<str>,
    pub(crate) hash: u64,
    pub(crate) kind: StatementKind,
    pub(crate) query_kind: QueryKind,
    pub(crate) written: Box<[String]>,
    /// The statement is the pool's connection check ([`POOL_CHECK_SQL`]).
    pub(crate) pool_check: bool,
}

/// Statement analyses keyed by the SQL text diesel renders before its bind
/// values, so a repeated statement costs one hash lookup instead of a
/// re-parse.
///
/// Hashed with foldhash's fast, fixed-seed hasher, which is not keyed: the
/// map holds at most `FINGERPRINT_CACHE_ENTRIES` statements and is emptied
/// when full, so colliding texts cost at most a slower lookup.
#[derive(Default)]
struct FingerprintCache {
    map: HashMap<Box<str>, Arc<Statement>, FixedState>,
}

impl FingerprintCache {
    /// The analysis of `bare`, a statement's SQL without its bind list (as
    /// [`render`] cuts it): worked out on the first sight of the text, then
    /// looked up. `bare` is never cut again, so a ` -- binds: ` in the
    /// statement's own text (a string literal) stays part of it.
    fn lookup(&mut self, bare: &str, scratch: &mut String) -> Arc<Statement> {
        if let Some(s) = self.map.get(bare) {
            return s.clone();
        }
        let hash = fingerprint_bare_into(bare, scratch);
        let kind = StatementKind::of(bare);
        let written = if kind.is_write() { tables_written(bare).into_boxed_slice() } else { Box::default() };
        let query_kind = crate::statement::query_kind(kind, bare);
        let statement = Arc::new(Statement {
            text: scratch.as_str().into(),
            hash,
            kind,
            query_kind,
            written,
            pool_check: bare == POOL_CHECK_SQL,
        });
        if bare.len() > MAX_CACHED_SQL {
            // Huge statements (bulk inserts with inlined values) are analysed
            // each time rather than kept as keys.
            return statement;
        }
        if self.map.len() >= FINGERPRINT_CACHE_ENTRIES {
            // Statements built with varying text (e.g. literals inlined) would
            // otherwise grow the map without bound.
            self.map.clear();
        }
        self.map.insert(bare.into(), statement.clone());
        statement
    }
}

#[cfg(test)]
mod tests;
