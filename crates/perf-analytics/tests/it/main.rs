//! Integration tests of perf-analytics: the alert engine's tracing events
//! under a process-wide subscriber, and the background evaluator.
#![allow(clippy::unwrap_used)]

mod evaluator;
mod events;
