//! The heart of perfkit: metric types, the fixed-memory time-bucketed store,
//! configuration, thresholds, time, the per-request scope, the system
//! sampler, and every trait through which the other perfkit crates meet.
//!
//! perf-core depends on no async runtime, web framework, database or Redis
//! client. perf-http, perf-db, perf-cache and perf-analytics each implement
//! or consume the traits defined here ([`Recorder`], [`MetricsSource`],
//! [`CacheStore`], [`CacheAdmin`], [`Invalidator`], [`AnalyticsService`],
//! [`ThresholdStore`], [`Clock`]), so an application wires them together
//! with `Arc<dyn Trait>` values. Values that cross crates are parsed once
//! where they enter, e.g. [`KeyPattern`], the one glob grammar for cache keys.
//!
//! ```
//! use std::{sync::Arc, time::Duration};
//! use perf_core::{
//!     Clock,
//!     ManualClock, Method, MetricsSource, Recorder, RequestSample, SharedThresholds, Store,
//!     StoreConfig, Timestamp, Window,
//! };
//!
//! let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_700_000_000)));
//! let store = Store::new(StoreConfig::default(), clock.clone(), Arc::new(SharedThresholds::default()))?;
//! for ms in [12, 15, 30, 1_500] {
//!     let sample = RequestSample::new(
//!         Method::Get, Some("/api/projects/{id}"), 200, Duration::from_millis(ms), clock.now(),
//!         store.thresholds(),
//!     );
//!     store.record_request(&sample);
//! }
//! let snap = store.snapshot(Window::minutes(5)?);
//! assert_eq!(snap.requests.count, 4);
//! assert_eq!(snap.requests.slow, 1); // over the 1 s development threshold
//! assert_eq!(snap.endpoints[0].route, "/api/projects/{id}");
//! # Ok::<(), perf_core::CoreError>(())
//! ```
//!
//! # Memory
//!
//! The store's memory is bounded by [`StoreConfig`] and independent of
//! request volume; a series allocates its history as it is written. With `S`
//! write shards, `F` fine buckets, `C` roll-up buckets and `H` histogram
//! entries, one series (one endpoint or one fingerprint) takes at most
//!
//! ```text
//! series ≤ S × (512 + 4096) + F × 32 + C × 64 + H × 2 + 2 × 4096 + 1 KiB  bytes
//! ```
//!
//! which with the defaults (S = 2 on a 2-core machine, F = 360, C = 1,440,
//! H = 16,384) is about 151 KiB, reached only after a day of traffic. A fine
//! bucket takes 32 bytes (count, errors, slow, sum, max: what a fine series
//! point shows), a roll-up bucket 64 (every scalar, with 32-bit counts and
//! bucket marks, and where its histogram lies in the arena), and the arena
//! holds 16-bit entries: one per non-empty bin of a roll-up bucket, three
//! for a bin with 64 or more events, so counts stay exact. A series starts
//! at the series and its shard array plus 4 KiB of histogram for each shard
//! that has recorded (about 6 KiB for a key seen once on one thread); ring
//! chunks of 64 buckets (2 KiB fine, 4 KiB roll-up) are added when the first
//! bucket in them ends, histogram-arena chunks of 2,048 entries (4 KiB) as
//! roll-up histograms are compacted. Measured with ten requests every 10 s
//! on one thread, spread over 60 histogram bins a minute: about 37 KiB after
//! an hour, 79 KiB after six, 143 KiB after a day. An endpoint series adds
//! its status table, 26 × (2 + B) × 8 bytes of counters and 26 × (B + 1) ×
//! 40 bytes of exemplars (the trace id, value and time of a recent traced
//! request per bucket) for B histogram buckets (21 KiB with the default 16),
//! at first sight:
//! [`STATUS_CODES_PER_ENDPOINT`] code slots plus one per class. The store
//! holds at most `max_endpoints + max_queries + 4` series (the unmatched key
//! and three overflow keys), plus the rings, allocated up front: about
//! 2.4 KiB per slow query or N+1 slot, 40 bytes per slow-request slot, and
//! 128 bytes per fine and roll-up gauge bucket. At the default caps the
//! worst case is about 316 MiB of series on a 2-core machine (2,004 series,
//! 1,002 of them with a status table) and about 440 MiB with 16 shards.
//! Captured query plans come on top: at most [`MAX_PLANS`] (128), each
//! held to [`MAX_PLAN_NODES`] nodes and [`MAX_PLAN_TEXT`] bytes of text,
//! about 2.3 MiB in all.
//! [`Store::accounted_bytes`] reports the figure in use.
//!
//! # Percentiles
//!
//! Latencies go into a log-linear histogram (32 bins per power of two, in
//! nanoseconds, up to ~68.7 s) whose midpoint estimate is within 1.6 % of
//! the true value; percentiles use the nearest-rank definition and are
//! clamped to the exact min and max. Histograms are kept per roll-up bucket
//! (1 minute by default), so windows are aligned to roll-up buckets: a
//! 5-minute window covers the current minute and the four before it.
mod analytics;
mod cache;
mod cache_key;
mod clock;
mod config;
mod context;
mod error;
mod histogram;
mod limiter;
mod pattern;
mod plan;
mod recorder;
mod redact;
mod sample;
#[cfg(feature = "system")]
mod sampler;
mod scope;
mod snapshot;
mod source;
mod store;
mod text;
mod thresholds;
mod trace;

#[cfg(feature = "testing")]
pub mod testing;

#[cfg(feature = "system")]
pub use crate::sampler::{SystemSampler, read_system_sample};
pub use crate::{
    analytics::{
        Alert, AlertFilter, AlertType, AnalyticsReport, AnalyticsService, CachePerformance, ComponentScore,
        ComponentUnit, DetailedReport, EndpointApdex, Health, HealthStatus, KeyMetrics, Recommendation, Resolution,
        Severity, StatusCap, Summary, Trend, TrendDirection, TrendReport,
    },
    cache::{
        BoxFuture, BreakerState, CacheAdmin, CacheStats, CacheStore, CommandErrorStats, Invalidator, NoopCache,
        RecentHits, RemoteTierStatus, ServingTier, TierErrorCause, TierStats,
    },
    cache_key::{CacheKey, KeyError, MAX_KEY_BYTES, MAX_NAMESPACE_BYTES, Namespace},
    clock::{Clock, ManualClock, SystemClock, Timestamp},
    config::{
        DEFAULT_HISTOGRAM_BUCKETS, MAX_HISTOGRAM_BOUND, MAX_HISTOGRAM_BUCKETS, MIN_HISTOGRAM_BOUND, MetricsNaming,
        PerfConfig, PerfConfigBuilder, Profile, StoreConfig,
    },
    context::PerfContext,
    error::{AlertError, CacheStoreError, CoreError},
    limiter::{DEFAULT_LOG_INTERVAL, DEFAULT_LOG_KEYS, LogLimiter},
    pattern::{KeyPattern, MAX_PATTERN_BYTES, MAX_PATTERN_STARS, PatternError, escape_glob},
    plan::{
        CapturedPlan, MAX_PLAN_NAME, MAX_PLAN_NODES, MAX_PLAN_TEXT, PlanAccess, PlanBackend, PlanNode, QueryPlan,
        QueryPlanSample,
    },
    recorder::{NoopRecorder, Recorder, RequestHandle},
    redact::redact_url,
    sample::{
        CacheEvent, CacheEventKind, CacheTier, EndpointKey, Method, NPlusOneSample, OVERFLOW_FINGERPRINT,
        OVERFLOW_ROUTE, QueryKind, QuerySample, RequestSample, SystemSample, UNMATCHED_ROUTE,
    },
    scope::{MAX_FINGERPRINTS_PER_SCOPE, RequestScope, ScopeGuard, Scoped, bind_current},
    snapshot::{
        Aggregate, CacheCounts, EndpointStats, EndpointTotals, Exemplar, GaugePoint, KeyUsage, N_PLUS_ONE_RECENT,
        NPlusOneFinding, NPlusOneTotals, QueryStats, QueryTotals, STATUS_CODES_PER_ENDPOINT, SeriesKey, SeriesPoint,
        SlowQuery, SlowRequest, Snapshot, StatusTotals, SystemStats, TierCounts, Totals, TotalsSnapshot, Window,
        query_id,
    },
    source::{MetricsSource, SeriesResolution},
    store::{EndpointHandle, MAX_PLANS, MAX_ROUTE_BYTES, MAX_SQL_BYTES, Store},
    thresholds::{SharedThresholds, ThresholdStore, Thresholds, ThresholdsPatch},
    trace::{InvalidId, SpanId, TRACEPARENT_LEN, TraceContext, TraceId},
};
