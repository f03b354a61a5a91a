//! diesel query instrumentation for perfkit: timings, SQL fingerprints, slow
//! queries, per-request attribution, N+1 detection and cached queries.
mod capture;
mod error;
mod fingerprint;
mod lexer;
mod monitor;
mod monitored;
mod statement;

pub use crate::{
    capture::{CapturedQueries, CapturedQuery, capture_queries, capture_queries_async},
    error::DbError,
    fingerprint::{Fingerprint, fingerprint_hash, fingerprint_into, strip_binds},
    monitor::{DEFAULT_N_PLUS_ONE_THRESHOLD, QueryMonitor, TRANSACTION_FINGERPRINT},
    monitored::{MONITORED_PREFIX, monitored, monitored_async},
    statement::{StatementKind, tables_read, tables_written},
};
