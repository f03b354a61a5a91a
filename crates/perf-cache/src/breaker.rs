//! The circuit breaker in front of the Redis tier, and the probe's backoff.
//!
//! Closed: Redis is used. Only failures that say Redis is unreachable are
//! recorded here (command errors such as OOM are not): a stall (timeout), a
//! failed write or a failed liveness ping opens the breaker at once; other
//! failures open it after `threshold` in a row.
//! Open: nothing is sent to Redis; a background probe retries with
//! exponential backoff, moving to half-open while it checks, and closes the
//! breaker once Redis answers and the pending invalidations are replayed.

use std::{
    sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering},
    time::Duration,
};

use perf_core::BreakerState;

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const HALF_OPEN: u8 = 2;

/// The breaker's state machine; all methods are lock-free.
#[derive(Debug)]
pub(crate) struct Breaker {
    state: AtomicU8,
    failures: AtomicU32,
    threshold: u32,
    available: AtomicBool,
    opened: AtomicU64,
}

impl Breaker {
    pub(crate) fn new(threshold: u32) -> Self {
        Breaker {
            state: AtomicU8::new(CLOSED),
            failures: AtomicU32::new(0),
            threshold: threshold.max(1),
            available: AtomicBool::new(true),
            opened: AtomicU64::new(0),
        }
    }

    pub(crate) fn state(&self) -> BreakerState {
        match self.state.load(Ordering::Acquire) {
            CLOSED => BreakerState::Closed,
            OPEN => BreakerState::Open,
            _ => BreakerState::HalfOpen,
        }
    }

    /// Whether requests may go to Redis.
    pub(crate) fn allows(&self) -> bool {
        self.state.load(Ordering::Acquire) == CLOSED
    }

    /// Whether Redis answered the last operation or probe.
    pub(crate) fn available(&self) -> bool {
        self.available.load(Ordering::Relaxed)
    }

    /// How many times the breaker opened.
    pub(crate) fn times_opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    pub(crate) fn record_success(&self) {
        self.failures.store(0, Ordering::Relaxed);
        self.available.store(true, Ordering::Relaxed);
    }

    /// Counts a failure; `immediate` opens at once. Returns true when this
    /// call moved the breaker from closed to open (the caller starts the probe).
    pub(crate) fn record_failure(&self, immediate: bool) -> bool {
        self.available.store(false, Ordering::Relaxed);
        let n = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if !immediate && n < self.threshold {
            return false;
        }
        let opened = self.state.compare_exchange(CLOSED, OPEN, Ordering::AcqRel, Ordering::Acquire).is_ok();
        if opened {
            self.opened.fetch_add(1, Ordering::Relaxed);
        }
        opened
    }

    pub(crate) fn half_open(&self) {
        self.state.store(HALF_OPEN, Ordering::Release);
    }

    pub(crate) fn reopen(&self) {
        self.state.store(OPEN, Ordering::Release);
    }

    pub(crate) fn close(&self) {
        self.record_success();
        self.state.store(CLOSED, Ordering::Release);
    }
}

/// Exponential backoff between `min` and `max`.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    next: Duration,
    min: Duration,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        let min = min.max(Duration::from_millis(1));
        Backoff { next: min, min, max: max.max(min) }
    }

    /// The delay to wait now; doubles the next one.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.min;
    }
}

#[cfg(test)]
mod tests;
