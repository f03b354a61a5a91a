//! [`PerfContext`]: the recorder, metrics source, thresholds and clock that
//! every perfkit adapter shares, made once and handed to each of them.

use std::sync::Arc;

use crate::{
    Clock, CoreError, MetricsSource, PerfConfig, Recorder, SharedThresholds, Store, SystemClock, ThresholdStore,
};

/// The shared measurement context: where samples go ([`Recorder`]), where
/// they are read back ([`MetricsSource`]), the run-time thresholds and the
/// clock. Cheap to clone (four `Arc`s).
///
/// Build it once and hand it to each adapter — perf-db's
/// `QueryMonitor::from_context`, perf-cache's `MemoryCacheBuilder::context`,
/// perf-analytics' `Analytics::from_context`, [`crate::SystemSampler::from_context`]
/// and perf-http's `PerfStateBuilder::context` — so no part can hold other
/// thresholds or another clock than the store it records into. The older
/// constructors taking each handle separately keep working.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use perf_core::{Clock as _, ManualClock, PerfConfig, PerfContext, Timestamp};
///
/// let clock = Arc::new(ManualClock::new(Timestamp::from_unix_micros(1_000_000)));
/// let ctx = PerfContext::with_clock(&PerfConfig::default(), clock.clone())?;
/// assert_eq!(ctx.clock().now(), clock.now());
/// // The store reads the very thresholds the context hands out.
/// let store = ctx.store().expect("built from a config, so backed by a store");
/// assert!(Arc::ptr_eq(store.thresholds(), ctx.thresholds()));
/// # Ok::<(), perf_core::CoreError>(())
/// ```
#[derive(Clone)]
pub struct PerfContext {
    recorder: Arc<dyn Recorder>,
    source: Arc<dyn MetricsSource>,
    thresholds: Arc<dyn ThresholdStore>,
    clock: Arc<dyn Clock>,
    store: Option<Arc<Store>>,
    /// `PerfConfig::enabled`: whether the adapters monitor at all.
    enabled: bool,
    /// `PerfConfig::capture_binds`: whether query monitors keep bind values.
    capture_binds: bool,
}

impl std::fmt::Debug for PerfContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerfContext")
            .field("thresholds", &self.thresholds.thresholds())
            .field("store", &self.store.is_some())
            .field("enabled", &self.enabled)
            .field("capture_binds", &self.capture_binds)
            .finish_non_exhaustive()
    }
}

impl PerfContext {
    /// A new [`Store`] sized by `config.store`, with the thresholds of
    /// `config` and the system clock.
    ///
    /// # Errors
    /// [`CoreError::InvalidConfig`] when the store sizing or the thresholds are invalid.
    pub fn new(config: &PerfConfig) -> Result<Self, CoreError> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// Like [`PerfContext::new`] with `clock` (a `ManualClock` in tests).
    ///
    /// # Errors
    /// [`CoreError::InvalidConfig`] when the store sizing or the thresholds are invalid.
    pub fn with_clock(config: &PerfConfig, clock: Arc<dyn Clock>) -> Result<Self, CoreError> {
        let thresholds: Arc<dyn ThresholdStore> = Arc::new(SharedThresholds::new(config.thresholds)?);
        let store = Store::new(config.store.clone(), clock, thresholds)?;
        Ok(Self::from_store(Arc::new(store)).switches(config))
    }

    /// The context of an existing store: it records, it is read, and its
    /// thresholds and clock are everyone's.
    pub fn from_store(store: Arc<Store>) -> Self {
        PerfContext {
            recorder: store.clone(),
            source: store.clone(),
            thresholds: store.thresholds().clone(),
            clock: store.clock().clone(),
            store: Some(store),
            enabled: true,
            capture_binds: false,
        }
    }

    /// Takes `config`'s monitoring switches ([`PerfConfig::enabled`],
    /// [`PerfConfig::capture_binds`]); [`PerfContext::new`] and
    /// [`PerfContext::with_clock`] do this, [`PerfContext::from_store`] and
    /// [`PerfContext::from_parts`] start from the defaults (enabled, no binds).
    pub fn switches(mut self, config: &PerfConfig) -> Self {
        self.enabled = config.enabled;
        self.capture_binds = config.capture_binds;
        self
    }

    /// A context of separate parts, for a recorder that is not a [`Store`]
    /// (a fan-out to an exporter, a test double). The caller vouches that
    /// `recorder` uses `thresholds` and `clock`.
    pub fn from_parts(
        recorder: Arc<dyn Recorder>,
        source: Arc<dyn MetricsSource>,
        thresholds: Arc<dyn ThresholdStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        PerfContext { recorder, source, thresholds, clock, store: None, enabled: true, capture_binds: false }
    }

    /// The same context with samples going to `recorder` instead (a
    /// recorder in front of the store, such as an exporter's that forwards
    /// to it); the metrics source, thresholds, clock, store and switches stay.
    /// The caller vouches that `recorder` forwards to the store, or the
    /// store's figures stop growing.
    pub fn with_recorder(mut self, recorder: Arc<dyn Recorder>) -> Self {
        self.recorder = recorder;
        self
    }

    /// Where samples go.
    pub fn recorder(&self) -> &Arc<dyn Recorder> {
        &self.recorder
    }

    /// Where metrics are read back.
    pub fn source(&self) -> &Arc<dyn MetricsSource> {
        &self.source
    }

    /// The run-time thresholds (the ones `PUT /api/performance/thresholds` changes).
    pub fn thresholds(&self) -> &Arc<dyn ThresholdStore> {
        &self.thresholds
    }

    /// The clock every part reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Whether monitoring is on (`PERFORMANCE_MONITORING_ENABLED`).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Whether query monitors keep bind values (`PERFORMANCE_CAPTURE_BINDS`).
    pub fn capture_binds(&self) -> bool {
        self.capture_binds
    }

    /// The store behind the context, when it was built from one.
    pub fn store(&self) -> Option<&Arc<Store>> {
        self.store.as_ref()
    }
}

#[cfg(test)]
mod tests;
