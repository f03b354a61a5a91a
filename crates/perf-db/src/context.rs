//! [`QueryMonitor::from_context`]: a monitor wired to the shared
//! [`PerfContext`], so its slow-query threshold and clock are the store's.

use perf_core::PerfContext;

use crate::QueryMonitor;

impl QueryMonitor {
    /// A monitor recording into the context's recorder, reading its
    /// thresholds (at every query, so run-time changes apply at once) and its
    /// clock: [`QueryMonitor::new`] plus [`QueryMonitor::with_thresholds`]
    /// and [`QueryMonitor::with_clock`] from one place.
    ///
    /// # Examples
    /// ```
    /// use perf_core::{PerfConfig, PerfContext};
    /// use perf_db::QueryMonitor;
    ///
    /// let ctx = PerfContext::new(&PerfConfig::default())?;
    /// let monitor = QueryMonitor::from_context(&ctx).with_capture_binds(false);
    /// assert!(std::sync::Arc::ptr_eq(monitor.clock(), ctx.clock()));
    /// # Ok::<(), perf_core::CoreError>(())
    /// ```
    pub fn from_context(ctx: &PerfContext) -> QueryMonitor {
        QueryMonitor::new(ctx.recorder().clone())
            .with_thresholds(ctx.thresholds().clone())
            .with_clock(ctx.clock().clone())
    }
}
