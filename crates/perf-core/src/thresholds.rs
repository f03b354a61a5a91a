//! Performance thresholds, their validation, and the shared run-time store
//! that middleware, query instrumentation and analytics all read.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::CoreError;

/// The largest slow-request or slow-query threshold accepted, in seconds.
pub(crate) const MAX_DURATION_THRESHOLD_SECS: f64 = 3_600.0;
/// The largest memory threshold accepted, in MiB (1 TiB).
pub(crate) const MAX_MEMORY_THRESHOLD_MB: f64 = 1_048_576.0;

/// The four thresholds of the specification. Field names are those of the JSON API.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// A request slower than this many seconds is slow.
    pub slow_request_threshold: f64,
    /// A query slower than this many seconds is slow.
    pub slow_query_threshold: f64,
    /// Process memory above this many MiB is high.
    pub high_memory_threshold: f64,
    /// A share of failed requests above this (in (0, 1]) is high.
    pub error_rate_threshold: f64,
}

impl Thresholds {
    /// The specification's development set: 1 s, 100 ms, 500 MiB, 10 %.
    pub const DEVELOPMENT: Thresholds = Thresholds {
        slow_request_threshold: 1.0,
        slow_query_threshold: 0.1,
        high_memory_threshold: 500.0,
        error_rate_threshold: 0.1,
    };

    /// The specification's production set: 500 ms, 50 ms, 200 MiB, 5 %.
    pub const PRODUCTION: Thresholds = Thresholds {
        slow_request_threshold: 0.5,
        slow_query_threshold: 0.05,
        high_memory_threshold: 200.0,
        error_rate_threshold: 0.05,
    };

    /// Checks every field: finite, positive, within its maximum; error rate in (0, 1].
    ///
    /// # Errors
    /// [`CoreError::InvalidThreshold`] naming the first bad field.
    pub fn validate(&self) -> Result<(), CoreError> {
        check_range(
            "slow_request_threshold",
            self.slow_request_threshold,
            MAX_DURATION_THRESHOLD_SECS,
            "a finite number of seconds in (0, 3600]",
        )?;
        check_range(
            "slow_query_threshold",
            self.slow_query_threshold,
            MAX_DURATION_THRESHOLD_SECS,
            "a finite number of seconds in (0, 3600]",
        )?;
        check_range(
            "high_memory_threshold",
            self.high_memory_threshold,
            MAX_MEMORY_THRESHOLD_MB,
            "a finite number of MiB in (0, 1048576]",
        )?;
        check_range("error_rate_threshold", self.error_rate_threshold, 1.0, "a finite fraction in (0, 1]")
    }

    /// These thresholds with a patch applied, validated as a whole.
    ///
    /// # Errors
    /// [`CoreError::InvalidThreshold`] if the result is invalid; `self` is untouched.
    pub fn patched(&self, patch: &ThresholdsPatch) -> Result<Thresholds, CoreError> {
        let next = Thresholds {
            slow_request_threshold: patch.slow_request_threshold.unwrap_or(self.slow_request_threshold),
            slow_query_threshold: patch.slow_query_threshold.unwrap_or(self.slow_query_threshold),
            high_memory_threshold: patch.high_memory_threshold.unwrap_or(self.high_memory_threshold),
            error_rate_threshold: patch.error_rate_threshold.unwrap_or(self.error_rate_threshold),
        };
        next.validate()?;
        Ok(next)
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds::DEVELOPMENT
    }
}

fn check_range(name: &'static str, value: f64, max: f64, expected: &'static str) -> Result<(), CoreError> {
    if value.is_finite() && value > 0.0 && value <= max {
        Ok(())
    } else {
        Err(CoreError::InvalidThreshold { name, value, expected })
    }
}

/// Any subset of the thresholds, as `PUT /api/performance/thresholds` accepts it.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdsPatch {
    /// New slow-request threshold, seconds.
    #[serde(default)]
    pub slow_request_threshold: Option<f64>,
    /// New slow-query threshold, seconds.
    #[serde(default)]
    pub slow_query_threshold: Option<f64>,
    /// New memory threshold, MiB.
    #[serde(default)]
    pub high_memory_threshold: Option<f64>,
    /// New error-rate threshold, fraction.
    #[serde(default)]
    pub error_rate_threshold: Option<f64>,
}

/// Reads and updates thresholds at run time.
///
/// Implemented by [`SharedThresholds`]; read by perf-http's middleware,
/// perf-db's instrumentation and perf-analytics; updated by the API.
/// Reads are cheap (a few atomic loads) and safe from any thread.
pub trait ThresholdStore: Send + Sync {
    /// The thresholds in force now.
    fn thresholds(&self) -> Thresholds;

    /// Replaces all thresholds after validating them; returns the new set.
    ///
    /// # Errors
    /// [`CoreError::InvalidThreshold`]; the thresholds in force are unchanged.
    fn set_thresholds(&self, thresholds: Thresholds) -> Result<Thresholds, CoreError>;

    /// Applies a partial update atomically with respect to other updates.
    ///
    /// # Errors
    /// [`CoreError::InvalidThreshold`]; the thresholds in force are unchanged.
    fn update_thresholds(&self, patch: &ThresholdsPatch) -> Result<Thresholds, CoreError> {
        let next = self.thresholds().patched(patch)?;
        self.set_thresholds(next)
    }

    /// The slow-request threshold in seconds (what recording reads per sample).
    fn slow_request_secs(&self) -> f64 {
        self.thresholds().slow_request_threshold
    }

    /// The slow-query threshold in seconds (what recording reads per sample).
    fn slow_query_secs(&self) -> f64 {
        self.thresholds().slow_query_threshold
    }

    /// The slow verdict of a request that took `duration`: strictly longer
    /// than the slow-request threshold. The one place a request is judged
    /// slow; [`RequestSample::new`](crate::RequestSample::new) carries it.
    fn request_is_slow(&self, duration: Duration) -> bool {
        exceeds(duration, self.slow_request_secs())
    }

    /// The slow verdict of a query that took `duration`: strictly longer
    /// than the slow-query threshold. The one place a query is judged slow;
    /// [`QuerySample::slow`](crate::QuerySample::slow) carries it.
    fn query_is_slow(&self, duration: Duration) -> bool {
        exceeds(duration, self.slow_query_secs())
    }
}

/// Whether `duration` is strictly longer than `threshold_secs`.
#[inline]
fn exceeds(duration: Duration, threshold_secs: f64) -> bool {
    duration.as_secs_f64() > threshold_secs
}

impl<T: ThresholdStore + ?Sized> ThresholdStore for std::sync::Arc<T> {
    fn thresholds(&self) -> Thresholds {
        (**self).thresholds()
    }
    fn set_thresholds(&self, thresholds: Thresholds) -> Result<Thresholds, CoreError> {
        (**self).set_thresholds(thresholds)
    }
    fn update_thresholds(&self, patch: &ThresholdsPatch) -> Result<Thresholds, CoreError> {
        (**self).update_thresholds(patch)
    }
    fn slow_request_secs(&self) -> f64 {
        (**self).slow_request_secs()
    }
    fn slow_query_secs(&self) -> f64 {
        (**self).slow_query_secs()
    }
    fn request_is_slow(&self, duration: Duration) -> bool {
        (**self).request_is_slow(duration)
    }
    fn query_is_slow(&self, duration: Duration) -> bool {
        (**self).query_is_slow(duration)
    }
}

/// Thresholds held in atomics: lock-free reads, serialized validated writes.
///
/// # Guarantees
/// A reader never sees an invalid value. Between the field stores of one
/// update a reader may briefly see a mix of old and new fields; each field
/// on its own is always one that passed validation.
#[derive(Debug)]
pub struct SharedThresholds {
    slow_request: AtomicU64,
    slow_query: AtomicU64,
    high_memory: AtomicU64,
    error_rate: AtomicU64,
    write: Mutex<()>,
}

impl SharedThresholds {
    /// Shared thresholds starting at `initial`.
    ///
    /// # Errors
    /// [`CoreError::InvalidThreshold`] if `initial` is invalid.
    pub fn new(initial: Thresholds) -> Result<Self, CoreError> {
        initial.validate()?;
        Ok(SharedThresholds {
            slow_request: AtomicU64::new(initial.slow_request_threshold.to_bits()),
            slow_query: AtomicU64::new(initial.slow_query_threshold.to_bits()),
            high_memory: AtomicU64::new(initial.high_memory_threshold.to_bits()),
            error_rate: AtomicU64::new(initial.error_rate_threshold.to_bits()),
            write: Mutex::new(()),
        })
    }
}

impl Default for SharedThresholds {
    fn default() -> Self {
        SharedThresholds::new(Thresholds::DEVELOPMENT).expect("the development thresholds are valid")
    }
}

impl ThresholdStore for SharedThresholds {
    fn thresholds(&self) -> Thresholds {
        Thresholds {
            slow_request_threshold: f64::from_bits(self.slow_request.load(Ordering::Relaxed)),
            slow_query_threshold: f64::from_bits(self.slow_query.load(Ordering::Relaxed)),
            high_memory_threshold: f64::from_bits(self.high_memory.load(Ordering::Relaxed)),
            error_rate_threshold: f64::from_bits(self.error_rate.load(Ordering::Relaxed)),
        }
    }

    fn set_thresholds(&self, thresholds: Thresholds) -> Result<Thresholds, CoreError> {
        thresholds.validate()?;
        let _guard = self.write.lock();
        self.store(thresholds);
        Ok(thresholds)
    }

    fn update_thresholds(&self, patch: &ThresholdsPatch) -> Result<Thresholds, CoreError> {
        let _guard = self.write.lock();
        let next = self.thresholds().patched(patch)?;
        self.store(next);
        Ok(next)
    }

    /// One atomic load.
    fn slow_request_secs(&self) -> f64 {
        f64::from_bits(self.slow_request.load(Ordering::Relaxed))
    }

    /// One atomic load.
    fn slow_query_secs(&self) -> f64 {
        f64::from_bits(self.slow_query.load(Ordering::Relaxed))
    }

    /// One atomic load and a comparison (the trait's verdict, with the load
    /// inlined: a producer judges every sample).
    #[inline]
    fn request_is_slow(&self, duration: Duration) -> bool {
        exceeds(duration, self.slow_request_secs())
    }

    /// One atomic load and a comparison, as for requests.
    #[inline]
    fn query_is_slow(&self, duration: Duration) -> bool {
        exceeds(duration, self.slow_query_secs())
    }
}

impl SharedThresholds {
    fn store(&self, t: Thresholds) {
        self.slow_request.store(t.slow_request_threshold.to_bits(), Ordering::Relaxed);
        self.slow_query.store(t.slow_query_threshold.to_bits(), Ordering::Relaxed);
        self.high_memory.store(t.high_memory_threshold.to_bits(), Ordering::Relaxed);
        self.error_rate.store(t.error_rate_threshold.to_bits(), Ordering::Relaxed);
    }
}
