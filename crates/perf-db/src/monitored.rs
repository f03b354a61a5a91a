//! [`monitored`] and [`monitored_async`]: time a whole database operation
//! as one named unit (the specification's `@monitor_db_performance`).
//!
//! These are what `#[perf_db::monitored]` expands to: a sync fn becomes
//! `::perf_db::monitored("<name>", || { body })`, an async fn
//! `::perf_db::monitored_async("<name>", async move { body }).await`.

use std::{future::Future, time::Instant};

use perf_core::{QueryKind, QuerySample, RequestScope, ThresholdStore};

use crate::QueryMonitor;

/// The prefix of the fingerprint under which a named unit is recorded.
pub const MONITORED_PREFIX: &str = "monitored:";

/// Runs `f` and records its wall time as one unit named `name` through the
/// globally installed [`QueryMonitor`] (see [`QueryMonitor::install_global`]).
///
/// The unit is recorded as a [`QuerySample`] with fingerprint and SQL text
/// `monitored:<name>`, `ok = true` (the result type is opaque here; failed
/// queries inside are recorded on their own), and the current request
/// scope's label as `scope`; it is not counted as a query of the request.
/// Without a global monitor, `f` just runs.
///
/// # Examples
/// ```
/// let rows = perf_db::monitored("load_projects", || vec![1, 2, 3]);
/// assert_eq!(rows.len(), 3);
/// ```
pub fn monitored<R>(name: &str, f: impl FnOnce() -> R) -> R {
    let started = Instant::now();
    let result = f();
    record(name, started);
    result
}

/// [`monitored`] for a future: times it from first poll to completion.
pub async fn monitored_async<F: Future>(name: &str, future: F) -> F::Output {
    let started = Instant::now();
    let result = future.await;
    record(name, started);
    result
}

fn record(name: &str, started: Instant) {
    let duration = started.elapsed();
    let Some(monitor) = QueryMonitor::global() else { return };
    let key = format!("{MONITORED_PREFIX}{name}");
    let at = monitor.clock().now();
    RequestScope::with_current(|scope| {
        monitor.recorder().record_query(&QuerySample {
            fingerprint: &key,
            sql: &key,
            duration,
            ok: true,
            at,
            scope: scope.map(RequestScope::label),
            kind: QueryKind::Other,
            slow: monitor.thresholds().query_is_slow(duration),
            trace: scope.and_then(RequestScope::trace).copied(),
        });
    });
}
