//! diesel query instrumentation for perfkit: timings, SQL fingerprints, slow
//! queries, per-request attribution, N+1 detection and cached queries.
//!
//! [`QueryMonitor`] implements diesel's `Instrumentation`: it times every
//! query and transaction on SQLite and PostgreSQL and hands a
//! [`perf_core::QuerySample`] per query (grouped by its [`Fingerprint`]) to a
//! [`perf_core::Recorder`]. Queries finished while a [`perf_core::RequestScope`]
//! is current (also in `web::block(perf_core::bind_current(..))`) are
//! counted in it and attributed to its route; one SELECT shape repeated
//! within a scope is reported as an N+1 finding. Writes invalidate the
//! tables they touch in a [`QueryCache`] (or any [`perf_core::Invalidator`])
//! when they commit, which keeps [`LoadCached::load_cached`] results fresh.
//! [`capture_queries`] turns all this into query-count assertions for tests.
//!
//! ```
//! use std::sync::Arc;
//! use diesel::{connection::SimpleConnection, prelude::*, sqlite::SqliteConnection};
//! use perf_core::{RequestScope, testing::RecordingRecorder};
//! use perf_db::QueryMonitor;
//!
//! let recorder = Arc::new(RecordingRecorder::default());
//! let mut conn = SqliteConnection::establish(":memory:")?;
//! conn.set_instrumentation(QueryMonitor::new(recorder.clone()));
//!
//! let scope = RequestScope::new("GET /api/items");
//! {
//!     let _current = scope.enter();
//!     conn.batch_execute("CREATE TABLE items (id INTEGER PRIMARY KEY)")?;
//!     diesel::sql_query("SELECT id FROM items WHERE id IN (1, 2, 3)").execute(&mut conn)?;
//! }
//! assert_eq!(scope.query_count(), 2);
//! let queries = recorder.queries.lock();
//! assert_eq!(queries[1].fingerprint, "SELECT id FROM items WHERE id IN (...)");
//! assert_eq!(queries[1].scope.as_deref(), Some("GET /api/items"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Installing the monitor
//! - one connection: `conn.set_instrumentation(monitor.clone())`;
//! - every connection the process establishes from now on:
//!   [`QueryMonitor::install_global`] (also what [`monitored()`] records through);
//! - an r2d2 pool: `Pool::builder().connection_customizer(Box::new(monitor.clone()))`.
//!
//! Sync diesel belongs in `web::block`; wrap the closure in
//! [`perf_core::bind_current`] *inside* the request's instrumented future so
//! its queries count for the request.
//!
//! # Cost
//! diesel hands instrumentation the query only as a `Display` value, so the
//! monitor renders each query's SQL once (the `perf-db/query_text` bench),
//! stopping before the bind values: those are formatted only when
//! [`QueryMonitor::with_capture_binds`] or a query capture asks for them.
//! Fingerprint, kind and written tables are worked out once per distinct
//! statement per connection and then found with one hash lookup of that
//! text. A disabled monitor renders nothing (unless an invalidator needs to
//! see writes). On an in-memory SQLite primary-key select, the cheapest
//! query there is, diesel's own rendering (building the SQL string and
//! collecting the binds, before the first byte reaches the monitor) is most
//! of the overhead measured by the `perf-db/select_by_pk` bench; against a
//! database over the network it is a small fraction of the query's time.
mod cache;
mod capture;
mod context;
mod error;
mod fingerprint;
mod lexer;
mod monitor;
mod monitored;
mod plan;
mod render;
mod statement;

pub use crate::{
    cache::{LoadCached, QueryCache},
    capture::{CapturedQueries, CapturedQuery, capture_queries, capture_queries_async},
    error::DbError,
    fingerprint::{Fingerprint, fingerprint_hash, fingerprint_into, strip_binds},
    monitor::{DEFAULT_N_PLUS_ONE_THRESHOLD, POOL_CHECK_SQL, QueryMonitor, TRANSACTION_FINGERPRINT},
    monitored::{MONITORED_PREFIX, monitored, monitored_async},
    plan::{DEFAULT_PLAN_INTERVAL, Explain, Offer, PLAN_QUEUE, PlanCapture, PlanCaptureStats, PlanShape},
    statement::{StatementKind, tables_read, tables_written},
};
/// Times a fn as a named unit: `#[monitored]` or `#[monitored(name = "x")]`;
/// expands to a call of [`monitored()`] (sync fn) or [`monitored_async`] (async fn).
pub use perf_macros::monitored;
