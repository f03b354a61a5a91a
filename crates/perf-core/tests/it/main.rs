//! Integration tests of perf-core's public API.
#![allow(clippy::unwrap_used, missing_docs)]

mod config;
mod percentiles;
mod sampler;
mod thresholds;
