//! [`QueryMonitor::from_context`]: a monitor wired to the shared
//! [`PerfContext`], so its slow-query threshold and clock are the store's.

use perf_core::PerfContext;

use crate::QueryMonitor;

impl QueryMonitor {
    /// A monitor recording into the context's recorder, reading its
    /// thresholds (at every query, so run-time changes apply at once) and its
    /// clock, switched on or off and keeping bind values as the context's
    /// configuration says: [`QueryMonitor::new`] plus
    /// [`QueryMonitor::with_thresholds`], [`QueryMonitor::with_clock`],
    /// [`QueryMonitor::with_enabled`] and [`QueryMonitor::with_capture_binds`]
    /// from one place.
    ///
    /// # Examples
    /// ```
    /// use perf_core::{PerfConfig, PerfContext};
    /// use perf_db::QueryMonitor;
    ///
    /// let ctx = PerfContext::new(&PerfConfig::default())?;
    /// let monitor = QueryMonitor::from_context(&ctx);
    /// assert!(std::sync::Arc::ptr_eq(monitor.clock(), ctx.clock()));
    /// // PERFORMANCE_MONITORING_ENABLED=false reaches the monitor through the context.
    /// let off = PerfContext::new(&PerfConfig::builder().enabled(false).build()?)?;
    /// assert!(!QueryMonitor::from_context(&off).is_enabled());
    /// # Ok::<(), perf_core::CoreError>(())
    /// ```
    pub fn from_context(ctx: &PerfContext) -> QueryMonitor {
        QueryMonitor::new(ctx.recorder().clone())
            .with_thresholds(ctx.thresholds().clone())
            .with_clock(ctx.clock().clone())
            .with_enabled(ctx.enabled())
            .with_capture_binds(ctx.capture_binds())
    }
}
