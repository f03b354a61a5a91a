//! perf-http (in progress).
