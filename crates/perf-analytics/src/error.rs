//! [`AnalyticsError`]: what can go wrong in perf-analytics itself.
//!
//! Errors that cross the [`perf_core::AnalyticsService`] trait are core
//! types ([`perf_core::AlertError`]); this enum covers setting up the crate.

use thiserror::Error;

/// Errors from configuring perf-analytics or starting its evaluator.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AnalyticsError {
    /// A setting that makes no sense, e.g. a zero evaluation interval.
    #[error("invalid analytics setting {name}: {reason}")]
    InvalidSetting {
        /// The setting's name.
        name: &'static str,
        /// Why it was refused, with the bad value.
        reason: String,
    },
    /// The operating system refused to start the evaluator thread.
    #[error("could not start the alert evaluator thread")]
    Spawn(#[source] std::io::Error),
}
