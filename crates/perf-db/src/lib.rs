//! perf-db (in progress).
