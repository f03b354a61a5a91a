//! [`TierCounters`]: the operation counters every tier keeps, read out as
//! one [`TierStats`].

use std::sync::atomic::{AtomicU64, Ordering};

use perf_core::TierStats;

/// Counts of one tier's operations, bumped with relaxed atomics.
#[derive(Debug, Default)]
pub(crate) struct TierCounters {
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) sets: AtomicU64,
    pub(crate) deletes: AtomicU64,
    pub(crate) evictions: AtomicU64,
    pub(crate) expirations: AtomicU64,
    pub(crate) errors: AtomicU64,
}

impl TierCounters {
    /// The counters now, with the entries and bytes the tier holds (where
    /// it knows them).
    pub(crate) fn stats(&self, entries: Option<u64>, bytes: Option<u64>) -> TierStats {
        TierStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            sets: self.sets.load(Ordering::Relaxed),
            deletes: self.deletes.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            expirations: self.expirations.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            entries,
            bytes,
        }
    }
}
