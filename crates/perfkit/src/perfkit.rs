//! [`Perfkit`] and [`PerfkitBuilder`]: the one place where the store,
//! thresholds and clock are made and handed to every other part.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use perf_cache::{CacheBackend, MemoryCache, TypedCache};
use perf_core::{CacheAdmin, CacheStore, Clock, Invalidator, PerfConfig, PerfContext, Store, SystemClock};
use perf_db::QueryMonitor;
use perf_http::{PerfApi, PerfMetrics, PerfMonitor, PerfState, ResponseCache};

use crate::PerfkitError;

/// Which cache [`Perfkit`] built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheKind {
    /// The in-process memory tier alone (`REDIS_URL` unset).
    Memory,
    /// Redis behind the memory tier (`REDIS_URL` set, feature `redis`).
    Tiered,
}

impl CacheKind {
    /// `"memory"` or `"tiered"`, as logs and the demo name it.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheKind::Memory => "memory",
            CacheKind::Tiered => "tiered",
        }
    }
}

/// Every perfkit part of a service, wired from one configuration.
///
/// Made by [`Perfkit::from_env`] or [`Perfkit::builder`]: one [`Store`]
/// with its thresholds and clock (one [`PerfContext`]) feeds the request
/// monitor and the API ([`PerfState`]), the diesel [`QueryMonitor`], the
/// cache, the analytics and alert evaluator (feature `analytics`) and the
/// system sampler (feature `system`).
///
/// Cheap to clone (one `Arc`), so it can move into `HttpServer::new`'s
/// factory. Alert evaluation and system sampling run while any clone lives
/// and stop when the last one is dropped; the cache's maintenance and Redis
/// tasks stop when the last handle to the cache is dropped (the handles
/// given out by [`Perfkit::cache`], the query monitor and the perf state
/// hold it too). Keep the `Perfkit` alive as long as the server serves, as
/// moving it into the `HttpServer::new` factory does.
#[derive(Clone)]
pub struct Perfkit {
    inner: Arc<Inner>,
}

struct Inner {
    context: PerfContext,
    store: Arc<Store>,
    state: PerfState,
    queries: QueryMonitor,
    cache: TypedCache,
    cache_store: Arc<dyn CacheStore>,
    invalidator: Arc<dyn Invalidator>,
    cache_kind: CacheKind,
    #[cfg(feature = "analytics")]
    analytics: Arc<perf_analytics::Analytics>,
    // Dropped with the last clone: the threads stop and are joined.
    #[cfg(feature = "analytics")]
    _evaluator: perf_analytics::AlertEvaluator,
    #[cfg(feature = "system")]
    sampler: Option<perf_core::SystemSampler>,
    // Dropped with the last clone: one last export, bounded by the OTLP timeout.
    #[cfg(feature = "otel")]
    otel: Option<perf_otel::OtelExporter>,
    // Dropped with the last clone: what is queued is sent, bounded by the OTLP timeout.
    #[cfg(feature = "otel")]
    spans: Option<perf_otel::SpanExporter>,
}

impl std::fmt::Debug for Perfkit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Perfkit")
            .field("state", &self.inner.state)
            .field("cache", &self.inner.cache_kind)
            .field("system_sampled", &self.system_sampled())
            .finish_non_exhaustive()
    }
}

impl Perfkit {
    /// Everything from [`PerfConfig::from_env`] with the builder's defaults.
    ///
    /// # Errors
    /// A bad variable ([`PerfkitError::Config`]), `REDIS_URL` set without
    /// the `redis` feature, or a part that cannot start; see
    /// [`PerfkitBuilder::build`].
    pub fn from_env() -> Result<Perfkit, PerfkitError> {
        let config = PerfConfig::from_env().map_err(PerfkitError::Config)?;
        Perfkit::builder(config).build()
    }

    /// A builder wiring everything from `config`.
    pub fn builder(config: PerfConfig) -> PerfkitBuilder {
        PerfkitBuilder {
            config,
            data_dir: PathBuf::from("."),
            cache_prefix: None,
            clock: None,
            #[cfg(feature = "otel")]
            otel: None,
        }
    }

    /// The request monitor: `App::new().wrap(perf.monitor())`.
    pub fn monitor(&self) -> PerfMonitor {
        self.inner.state.monitor()
    }

    /// The JSON API under `/api/performance`: `App::new().service(perf.api())`.
    pub fn api(&self) -> PerfApi {
        self.inner.state.api()
    }

    /// Prometheus text at `/metrics`: `App::new().service(perf.metrics())`.
    pub fn metrics(&self) -> PerfMetrics {
        self.inner.state.metrics()
    }

    /// The live dashboard at `/performance`: `App::new().service(perf.dashboard())`.
    #[cfg(feature = "dashboard")]
    pub fn dashboard(&self) -> perf_http::PerfDashboard {
        self.inner.state.dashboard()
    }

    /// The diesel instrumentation, on the shared context, enabled and
    /// capturing binds as configured and invalidating the cache on writes:
    /// `Pool::builder().connection_customizer(Box::new(perf.query_monitor()))`.
    pub fn query_monitor(&self) -> QueryMonitor {
        self.inner.queries.clone()
    }

    /// [`Perfkit::query_monitor`], also capturing the plan of slow SELECTs
    /// when `PERFORMANCE_QUERY_PLANS` is on (default: development only):
    /// `connect` opens the capture's own connection to the same database
    /// (never a pooled one, whose queries would be recorded), e.g.
    /// `move || PgConnection::establish(&url)`. A SQLite database must be a
    /// file, so the capture's connection sees the application's tables.
    ///
    /// # Errors
    /// [`PerfkitError::Db`] when the capture's thread cannot be started.
    pub fn query_monitor_with_plans<C, F>(&self, connect: F) -> Result<QueryMonitor, PerfkitError>
    where
        C: perf_db::Explain,
        F: FnMut() -> Result<C, diesel::ConnectionError> + Send + 'static,
    {
        let monitor = self.query_monitor();
        if !self.config().query_plans() || !monitor.is_enabled() {
            return Ok(monitor);
        }
        let capture = perf_db::PlanCapture::spawn(self.context(), perf_db::DEFAULT_PLAN_INTERVAL, connect)
            .map_err(PerfkitError::Db)?;
        Ok(monitor.with_plan_capture(capture))
    }

    /// The typed cache (postcard values, single-flight `get_or_compute`)
    /// over the memory or tiered cache.
    pub fn cache(&self) -> &TypedCache {
        &self.inner.cache
    }

    /// The same cache as a raw [`CacheStore`] (bytes in, bytes out).
    pub fn cache_store(&self) -> &Arc<dyn CacheStore> {
        &self.inner.cache_store
    }

    /// The same cache as an [`Invalidator`] (namespace invalidation).
    pub fn invalidator(&self) -> &Arc<dyn Invalidator> {
        &self.inner.invalidator
    }

    /// Which cache was built.
    pub fn cache_kind(&self) -> CacheKind {
        self.inner.cache_kind
    }

    /// A response-caching middleware over the cache, keeping pages for
    /// `CACHE_DEFAULT_TIMEOUT` in `namespace` (so `invalidator().invalidate(namespace)`
    /// drops them): `web::scope("/x").wrap(perf.response_cache("x"))`.
    pub fn response_cache(&self, namespace: &str) -> ResponseCache {
        ResponseCache::new(self.inner.cache_store.clone()).namespace(namespace).ttl(self.config().cache_default_timeout)
    }

    /// The analytics service behind the summary, alerts, trends and report.
    #[cfg(feature = "analytics")]
    pub fn analytics(&self) -> &Arc<perf_analytics::Analytics> {
        &self.inner.analytics
    }

    /// The state the middleware and the API share.
    pub fn state(&self) -> &PerfState {
        &self.inner.state
    }

    /// The shared recorder, metrics source, thresholds and clock.
    pub fn context(&self) -> &PerfContext {
        &self.inner.context
    }

    /// The metrics store.
    pub fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }

    /// The configuration everything was built from.
    pub fn config(&self) -> &PerfConfig {
        self.inner.state.config()
    }

    /// What the OpenTelemetry exporter did so far (attempts, failures, the
    /// latest error); `None` when no exporter runs.
    #[cfg(feature = "otel")]
    pub fn otel_stats(&self) -> Option<perf_otel::ExportStats> {
        self.inner.otel.as_ref().map(perf_otel::OtelExporter::stats)
    }

    /// What the span pipeline did so far (spans queued, dropped, exported,
    /// failed); `None` when no spans are exported (no traces endpoint, or
    /// `OTEL_TRACES_EXPORTER=none`).
    #[cfg(feature = "otel")]
    pub fn span_stats(&self) -> Option<perf_otel::SpanStats> {
        self.inner.spans.as_ref().map(perf_otel::SpanExporter::stats)
    }

    /// Whether the system sampler runs (feature `system`,
    /// `MEMORY_MONITORING_ENABLED`, and a platform that gives figures).
    pub fn system_sampled(&self) -> bool {
        #[cfg(feature = "system")]
        {
            self.inner.sampler.is_some()
        }
        #[cfg(not(feature = "system"))]
        {
            false
        }
    }
}

/// Builds a [`Perfkit`]: [`Perfkit::builder`], options, then [`build`](PerfkitBuilder::build).
pub struct PerfkitBuilder {
    config: PerfConfig,
    data_dir: PathBuf,
    cache_prefix: Option<String>,
    clock: Option<Arc<dyn Clock>>,
    #[cfg(feature = "otel")]
    otel: Option<perf_otel::OtelConfig>,
}

impl std::fmt::Debug for PerfkitBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerfkitBuilder")
            .field("config", &self.config)
            .field("data_dir", &self.data_dir)
            .field("cache_prefix", &self.cache_prefix)
            .field("clock", &self.clock.as_ref().map(|_| "<custom>"))
            .finish_non_exhaustive()
    }
}

/// The one cache seen through every trait the parts take; `Arc<dyn
/// WiredCache>` upcasts to each of them.
trait WiredCache: CacheBackend + CacheAdmin {}

impl<T: CacheBackend + CacheAdmin + ?Sized> WiredCache for T {}

impl PerfkitBuilder {
    /// The directory whose volume the system sampler reports as disk usage
    /// (default: the current directory). It must exist.
    pub fn data_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.data_dir = dir.as_ref().to_path_buf();
        self
    }

    /// The prefix of this service's keys in Redis, so several services can
    /// share one Redis (default: perf-cache's). Used only by the tiered cache.
    pub fn cache_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.cache_prefix = Some(prefix.into());
        self
    }

    /// The clock of every part (default: the system clock); tests pass a
    /// `ManualClock` and move time by hand.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The OpenTelemetry export settings (default: [`perf_otel::OtelConfig::from_env`]
    /// at [`build`](PerfkitBuilder::build)). The exporter starts when they are
    /// [enabled](perf_otel::OtelConfig::is_enabled).
    #[cfg(feature = "otel")]
    pub fn otel(mut self, config: perf_otel::OtelConfig) -> Self {
        self.otel = Some(config);
        self
    }

    /// Makes the store, thresholds and clock once and wires every part to
    /// them; starts the background work. Needs a tokio runtime (e.g. inside
    /// `#[actix_web::main]`) only when `REDIS_URL` is set.
    ///
    /// The system sampler starts when the `system` feature is on and
    /// `MEMORY_MONITORING_ENABLED` is true; on a platform that gives no
    /// figures it is left out with a warning (the API then says "not
    /// sampled") rather than failing the service.
    ///
    /// # Errors
    /// - [`PerfkitError::Config`] for invalid store sizing or thresholds;
    /// - [`PerfkitError::RedisNotBuilt`] when `REDIS_URL` is set and the
    ///   `redis` feature is off;
    /// - [`PerfkitError::Cache`] when a cache cannot be built (outside a
    ///   tokio runtime with `REDIS_URL` set, a thread that cannot start);
    /// - [`PerfkitError::Analytics`] when the alert evaluator cannot start;
    /// - [`PerfkitError::Http`] when the HTTP state cannot be built;
    /// - `PerfkitError::Otel` (feature `otel`) for invalid `OTEL_*`
    ///   variables (an unsupported protocol, an `https://` endpoint, a bad
    ///   number or list) or an export thread that cannot start. A collector
    ///   that is down is no error: exports fail, are counted
    ///   (`Perfkit::otel_stats`) and warned about once a minute.
    pub fn build(self) -> Result<Perfkit, PerfkitError> {
        #[cfg(feature = "otel")]
        let otel_config = match self.otel.clone() {
            Some(c) => c,
            None => perf_otel::OtelConfig::from_env().map_err(PerfkitError::Otel)?,
        };
        let PerfkitBuilder { config, data_dir, cache_prefix, clock, .. } = self;
        let clock = clock.unwrap_or_else(|| Arc::new(SystemClock));
        let context = PerfContext::with_clock(&config, clock).map_err(PerfkitError::Config)?;
        let store = context.store().cloned().expect("PerfContext::with_clock always builds a store");
        // Spans: the span recorder goes in front of the store before any
        // part is built, so every part records through it.
        #[cfg(feature = "otel")]
        let (context, spans) = if otel_config.traces_enabled() {
            let spans = perf_otel::SpanExporter::start(&otel_config).map_err(PerfkitError::Otel)?;
            let recorder: Arc<dyn perf_core::Recorder> = Arc::new(spans.recorder(context.recorder().clone()));
            (context.with_recorder(recorder), Some(spans))
        } else {
            (context, None)
        };

        let (cache, cache_kind) = build_cache(&config, &context, cache_prefix)?;
        let cache_store: Arc<dyn CacheStore> = cache.clone();
        let admin: Arc<dyn CacheAdmin> = cache.clone();
        let invalidator: Arc<dyn Invalidator> = cache.clone();

        let queries = QueryMonitor::from_context(&context).with_invalidator(invalidator.clone());

        let state = PerfState::builder(config.clone()).context(&context).cache(admin);
        #[cfg(feature = "analytics")]
        let (state, analytics, evaluator) = {
            let analytics = Arc::new(perf_analytics::Analytics::from_context(&context));
            let evaluator = perf_analytics::AlertEvaluator::from_config(analytics.clone(), &config)
                .map_err(PerfkitError::Analytics)?;
            (state.analytics(analytics.clone()), analytics, evaluator)
        };
        let state = state.build().map_err(PerfkitError::Http)?;

        #[cfg(feature = "system")]
        let sampler = if config.memory_monitoring {
            match perf_core::SystemSampler::from_context(&context, config.system_sample_interval, &data_dir) {
                Ok(s) => Some(s),
                // A bad interval is the caller's mistake, not the machine's.
                Err(e @ perf_core::CoreError::InvalidConfig(_)) => return Err(PerfkitError::Config(e)),
                Err(e) => {
                    tracing::warn!(error = %e, "system sampling unavailable; memory and CPU will not be shown");
                    None
                }
            }
        } else {
            None
        };
        #[cfg(not(feature = "system"))]
        let _ = data_dir;

        // Last, so nothing above can fail after the thread started. It reads
        // the store's totals only: the monitor built above is unchanged.
        #[cfg(feature = "otel")]
        let otel = if otel_config.is_enabled() {
            Some(perf_otel::OtelExporter::from_context(&otel_config, &context).map_err(PerfkitError::Otel)?)
        } else {
            None
        };

        Ok(Perfkit {
            inner: Arc::new(Inner {
                context,
                store,
                state,
                queries,
                cache: TypedCache::new(cache as Arc<dyn CacheBackend>),
                cache_store,
                invalidator,
                cache_kind,
                #[cfg(feature = "analytics")]
                analytics,
                #[cfg(feature = "analytics")]
                _evaluator: evaluator,
                #[cfg(feature = "system")]
                sampler,
                #[cfg(feature = "otel")]
                otel,
                #[cfg(feature = "otel")]
                spans,
            }),
        })
    }
}

/// The cache `config` asks for: tiered when `REDIS_URL` is set, memory otherwise.
fn build_cache(
    config: &PerfConfig,
    context: &PerfContext,
    prefix: Option<String>,
) -> Result<(Arc<dyn WiredCache>, CacheKind), PerfkitError> {
    match config.redis_url.as_deref() {
        None => {
            let _ = prefix;
            let memory = MemoryCache::builder().context(context).build().map_err(PerfkitError::Cache)?;
            Ok((Arc::new(memory), CacheKind::Memory))
        }
        #[cfg(feature = "redis")]
        Some(url) => {
            let mut tiered = perf_cache::TieredConfig::new(url);
            if let Some(prefix) = prefix {
                tiered.redis = tiered.redis.prefix(prefix);
            }
            let cache = perf_cache::TieredCache::from_context(tiered, context).map_err(PerfkitError::Cache)?;
            Ok((Arc::new(cache), CacheKind::Tiered))
        }
        #[cfg(not(feature = "redis"))]
        Some(url) => Err(PerfkitError::RedisNotBuilt { url: perf_core::redact_url(url) }),
    }
}
