//! [`PerfState`]: the shared handles (recorder, metrics source, thresholds,
//! analytics, cache admin, configuration) that the middleware and the API
//! read, built once outside `HttpServer::new` and cloned into every worker.

use std::{sync::Arc, time::Duration};

use perf_core::{
    AnalyticsService, CacheAdmin, Clock, DEFAULT_LOG_INTERVAL, LogLimiter, MetricsSource, NoopCache, PerfConfig,
    Recorder, SharedThresholds, Store, SystemClock, ThresholdStore,
};

use crate::{
    HttpError, PerfApi, PerfMetrics, PerfMonitor,
    heavy::{DEFAULT_HEAVY_LIMIT, DEFAULT_HEAVY_REUSE, Heavy},
};

/// Everything the perfkit middleware and endpoints share. Cheap to clone (one `Arc`).
///
/// Build it once, before `HttpServer::new`, so every worker records into and
/// reads from the same store.
///
/// # Examples
/// ```
/// use perf_core::PerfConfig;
/// use perf_http::PerfState;
/// let perf = PerfState::builder(PerfConfig::default()).build()?;
/// let _monitor = perf.monitor(); // .wrap(...)
/// let _api = perf.api(); // .service(...)
/// # Ok::<(), perf_http::HttpError>(())
/// ```
#[derive(Clone)]
pub struct PerfState {
    inner: Arc<StateInner>,
}

struct StateInner {
    recorder: Arc<dyn Recorder>,
    source: Arc<dyn MetricsSource>,
    thresholds: Arc<dyn ThresholdStore>,
    analytics: Option<Arc<dyn AnalyticsService>>,
    cache: Arc<dyn CacheAdmin>,
    cache_configured: bool,
    clock: Arc<dyn Clock>,
    config: PerfConfig,
    /// Shared by every monitor made from this state (one per worker), so a
    /// repeated warning is written once per minute by the whole service.
    log_limiter: Arc<LogLimiter>,
    /// Runs the API's expensive documents off the worker threads, shared,
    /// reused briefly and bounded in number.
    heavy: Heavy,
}

impl std::fmt::Debug for PerfState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerfState")
            .field("enabled", &self.inner.config.enabled)
            .field("analytics", &self.inner.analytics.is_some())
            .field("token", &self.inner.config.api_token.as_ref().map(|_| "<set>"))
            .field("read_token", &self.inner.config.read_token.as_ref().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

impl PerfState {
    /// A builder starting from `config`.
    pub fn builder(config: PerfConfig) -> PerfStateBuilder {
        PerfStateBuilder {
            config,
            store: None,
            recorder: None,
            source: None,
            thresholds: None,
            analytics: None,
            cache: None,
            clock: None,
            heavy_limit: DEFAULT_HEAVY_LIMIT,
            heavy_reuse: DEFAULT_HEAVY_REUSE,
        }
    }

    /// The monitoring middleware over this state: `App::new().wrap(perf.monitor())`.
    pub fn monitor(&self) -> PerfMonitor {
        PerfMonitor::new(self)
    }

    /// The JSON API under `/api/performance`: `App::new().service(perf.api())`.
    pub fn api(&self) -> PerfApi {
        PerfApi::new(self.clone())
    }

    /// The Prometheus endpoint at `/metrics`: `App::new().service(perf.metrics())`.
    pub fn metrics(&self) -> PerfMetrics {
        PerfMetrics::new(self.clone())
    }

    /// Where request samples go.
    pub fn recorder(&self) -> &Arc<dyn Recorder> {
        &self.inner.recorder
    }

    /// Where the API reads metrics.
    pub fn source(&self) -> &Arc<dyn MetricsSource> {
        &self.inner.source
    }

    /// The run-time thresholds.
    pub fn thresholds(&self) -> &Arc<dyn ThresholdStore> {
        &self.inner.thresholds
    }

    /// The analytics service, when one was wired.
    pub fn analytics(&self) -> Option<&Arc<dyn AnalyticsService>> {
        self.inner.analytics.as_ref()
    }

    /// The cache the API reports on and clears ([`NoopCache`] when none was configured).
    pub fn cache(&self) -> &Arc<dyn CacheAdmin> {
        &self.inner.cache
    }

    /// Whether a cache was given to the builder; `false` means the API
    /// reports the empty [`NoopCache`] and says `configured: false`.
    pub fn cache_configured(&self) -> bool {
        self.inner.cache_configured
    }

    /// The clock request timestamps come from.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The limiter of the monitors' slow-request and N+1 warnings.
    pub(crate) fn log_limiter(&self) -> &Arc<LogLimiter> {
        &self.inner.log_limiter
    }

    /// The runner of the API's expensive computations.
    pub(crate) fn heavy(&self) -> &Heavy {
        &self.inner.heavy
    }

    /// The configuration.
    pub fn config(&self) -> &PerfConfig {
        &self.inner.config
    }
}

/// Builds a [`PerfState`]. Parts not given get defaults: a new [`Store`]
/// sized by the configuration (recorder, source and thresholds), the system
/// clock, a [`NoopCache`], and no analytics (its endpoints answer 501).
pub struct PerfStateBuilder {
    config: PerfConfig,
    store: Option<Arc<Store>>,
    recorder: Option<Arc<dyn Recorder>>,
    source: Option<Arc<dyn MetricsSource>>,
    thresholds: Option<Arc<dyn ThresholdStore>>,
    analytics: Option<Arc<dyn AnalyticsService>>,
    cache: Option<Arc<dyn CacheAdmin>>,
    clock: Option<Arc<dyn Clock>>,
    heavy_limit: usize,
    heavy_reuse: Duration,
}

impl std::fmt::Debug for PerfStateBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerfStateBuilder").finish_non_exhaustive()
    }
}

impl PerfStateBuilder {
    /// Uses `store` as recorder and metrics source, and its clock and
    /// thresholds (unless set separately).
    pub fn store(mut self, store: Arc<Store>) -> Self {
        self.store = Some(store);
        self
    }
    /// Takes recorder, metrics source, thresholds and clock from one shared
    /// context, so the middleware and the API use exactly the parts every
    /// other adapter was given.
    pub fn context(mut self, ctx: &perf_core::PerfContext) -> Self {
        self.store = ctx.store().cloned();
        self.recorder = Some(ctx.recorder().clone());
        self.source = Some(ctx.source().clone());
        self.thresholds = Some(ctx.thresholds().clone());
        self.clock = Some(ctx.clock().clone());
        self
    }

    /// Sends request samples to `recorder` instead of the store.
    pub fn recorder(mut self, recorder: Arc<dyn Recorder>) -> Self {
        self.recorder = Some(recorder);
        self
    }
    /// Reads metrics from `source` instead of the store.
    pub fn source(mut self, source: Arc<dyn MetricsSource>) -> Self {
        self.source = Some(source);
        self
    }
    /// Reads and updates thresholds through `thresholds`.
    pub fn thresholds(mut self, thresholds: Arc<dyn ThresholdStore>) -> Self {
        self.thresholds = Some(thresholds);
        self
    }
    /// Serves analytics, summary, alerts, trends and the report from `analytics`.
    pub fn analytics(mut self, analytics: Arc<dyn AnalyticsService>) -> Self {
        self.analytics = Some(analytics);
        self
    }
    /// Reports on and clears `cache`.
    pub fn cache(mut self, cache: Arc<dyn CacheAdmin>) -> Self {
        self.cache = Some(cache);
        self
    }
    /// Timestamps requests with `clock`.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// How many expensive API computations (the report, analytics and
    /// long-window documents) may run at once; past it the API answers 429
    /// with `Retry-After`. Default 2; 0 counts as 1.
    pub fn heavy_limit(mut self, limit: usize) -> Self {
        self.heavy_limit = limit;
        self
    }
    /// How long an expensive API document is reused for identical requests
    /// (timed by the state's clock). Default 1 s; zero computes every time
    /// (identical requests in flight still share one computation).
    pub fn heavy_reuse(mut self, reuse: Duration) -> Self {
        self.heavy_reuse = reuse;
        self
    }

    /// The state.
    ///
    /// # Errors
    /// [`HttpError::Internal`] when no store was given and the configuration's
    /// store sizing or thresholds are invalid.
    pub fn build(self) -> Result<PerfState, HttpError> {
        let store = match self.store {
            Some(s) => Some(s),
            None if self.recorder.is_some() && self.source.is_some() => None,
            None => {
                let clock: Arc<dyn Clock> = self.clock.clone().unwrap_or_else(|| Arc::new(SystemClock));
                // The store reads the same thresholds the API updates.
                let thresholds: Arc<dyn ThresholdStore> = match self.thresholds.as_ref() {
                    Some(t) => t.clone(),
                    None => Arc::new(
                        SharedThresholds::new(self.config.thresholds)
                            .map_err(|e| HttpError::Internal(e.to_string()))?,
                    ),
                };
                let store = Store::new(self.config.store.clone(), clock, thresholds)
                    .map_err(|e| HttpError::Internal(e.to_string()))?;
                Some(Arc::new(store))
            }
        };
        let recorder: Arc<dyn Recorder> = match (self.recorder, &store) {
            (Some(r), _) => r,
            (None, Some(s)) => s.clone(),
            (None, None) => return Err(HttpError::Internal("no recorder configured".into())),
        };
        let source: Arc<dyn MetricsSource> = match (self.source, &store) {
            (Some(r), _) => r,
            (None, Some(s)) => s.clone(),
            (None, None) => return Err(HttpError::Internal("no metrics source configured".into())),
        };
        let thresholds: Arc<dyn ThresholdStore> = match (self.thresholds, &store) {
            (Some(t), _) => t,
            (None, Some(s)) => s.thresholds().clone(),
            (None, None) => {
                Arc::new(SharedThresholds::new(self.config.thresholds).map_err(|e| HttpError::Internal(e.to_string()))?)
            }
        };
        let clock: Arc<dyn Clock> = match (self.clock, &store) {
            (Some(c), _) => c,
            (None, Some(s)) => s.clock().clone(),
            (None, None) => Arc::new(SystemClock),
        };
        Ok(PerfState {
            inner: Arc::new(StateInner {
                recorder,
                source,
                thresholds,
                analytics: self.analytics,
                cache_configured: self.cache.is_some(),
                cache: self.cache.unwrap_or_else(|| Arc::new(NoopCache)),
                heavy: Heavy::new(clock.clone(), self.heavy_limit, self.heavy_reuse),
                clock,
                config: self.config,
                log_limiter: Arc::new(LogLimiter::new(DEFAULT_LOG_INTERVAL)),
            }),
        })
    }
}
