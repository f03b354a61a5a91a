//! perf-analytics (in progress).
