//! [`AlertEvaluator`]: a background thread that evaluates alerts every
//! `ALERT_EVALUATION_INTERVAL` and stops when dropped.

use std::{
    sync::{
        Arc,
        mpsc::{self, RecvTimeoutError},
    },
    thread::JoinHandle,
    time::Duration,
};

use perf_core::PerfConfig;

use crate::{error::AnalyticsError, service::Analytics};

/// Runs [`Analytics::evaluate`] on a background thread: once at start, then
/// every interval, until it is dropped or [`stop`](AlertEvaluator::stop)ped.
///
/// # Guarantees
/// Dropping the evaluator wakes the thread and waits for it to finish its
/// current evaluation (which never blocks on I/O), so no evaluation runs
/// after the drop returns.
#[derive(Debug)]
pub struct AlertEvaluator {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl AlertEvaluator {
    /// Starts evaluating every `interval`.
    ///
    /// # Errors
    /// [`AnalyticsError::InvalidSetting`] for a zero interval;
    /// [`AnalyticsError::Spawn`] if the thread cannot be started.
    pub fn start(analytics: Arc<Analytics>, interval: Duration) -> Result<Self, AnalyticsError> {
        if interval.is_zero() {
            return Err(AnalyticsError::InvalidSetting {
                name: "alert_evaluation_interval",
                reason: format!("must be positive, got {interval:?}"),
            });
        }
        let (tx, rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("perf-alerts".into())
            .spawn(move || {
                loop {
                    analytics.evaluate();
                    match rx.recv_timeout(interval) {
                        Err(RecvTimeoutError::Timeout) => continue,
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            })
            .map_err(AnalyticsError::Spawn)?;
        Ok(AlertEvaluator { stop: Some(tx), thread: Some(thread) })
    }

    /// Starts evaluating every `config.alert_evaluation_interval`
    /// (`ALERT_EVALUATION_INTERVAL`, default 10 s).
    ///
    /// # Errors
    /// As [`AlertEvaluator::start`].
    pub fn from_config(analytics: Arc<Analytics>, config: &PerfConfig) -> Result<Self, AnalyticsError> {
        AlertEvaluator::start(analytics, config.alert_evaluation_interval)
    }

    /// Stops the thread and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            // The thread may have exited already; a failed send changes nothing.
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!(target: "perf_analytics::alerts", "alert evaluator thread panicked");
        }
    }
}

impl Drop for AlertEvaluator {
    fn drop(&mut self) {
        self.shutdown();
    }
}
