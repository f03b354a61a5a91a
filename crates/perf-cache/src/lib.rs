//! perf-cache (in progress).
