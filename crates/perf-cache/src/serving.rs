//! [`HitWindow`]: hits per tier over the last few seconds, from which a
//! tiered cache tells which tier is serving (see
//! [`perf_core::RecentHits::serving_tier`]).
//!
//! The window is [`WINDOW_SECS`] one-second slots per tier. Each slot is one
//! atomic word holding the second it counts (low 32 bits of the Unix second)
//! and the count, so a hit restarts a slot left over from an older second and
//! counts itself in one compare-and-swap loop, without a lock, and no hit is
//! lost to a race with that restart.

use std::sync::atomic::{AtomicU64, Ordering};

use perf_core::{CacheTier, RecentHits};

/// Length of the window, seconds (the current second included).
pub(crate) const WINDOW_SECS: u64 = 10;
const SLOTS: usize = WINDOW_SECS as usize;

/// Per-second hit counts of the memory and Redis tiers.
#[derive(Debug, Default)]
pub(crate) struct HitWindow {
    memory: [AtomicU64; SLOTS],
    redis: [AtomicU64; SLOTS],
}

impl HitWindow {
    /// Counts one hit answered by `tier` during Unix second `now_secs`.
    pub(crate) fn record(&self, tier: CacheTier, now_secs: u64) {
        let slots = match tier {
            CacheTier::Memory => &self.memory,
            CacheTier::Remote => &self.redis,
        };
        let second = now_secs & 0xFFFF_FFFF;
        let slot = &slots[(now_secs % WINDOW_SECS) as usize];
        // The closure always returns `Some`, so the update cannot fail.
        let _ = slot.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |word| {
            Some(match word {
                // A full count stays full rather than spilling into the second.
                w if w >> 32 == second && w & 0xFFFF_FFFF == 0xFFFF_FFFF => w,
                w if w >> 32 == second => w + 1,
                _ => (second << 32) | 1,
            })
        });
    }

    /// Hits per tier over the window ending with second `now_secs`.
    pub(crate) fn recent(&self, now_secs: u64) -> RecentHits {
        RecentHits { window_secs: WINDOW_SECS, memory: sum(&self.memory, now_secs), remote: sum(&self.redis, now_secs) }
    }
}

fn sum(slots: &[AtomicU64; SLOTS], now_secs: u64) -> u64 {
    let now = (now_secs & 0xFFFF_FFFF) as u32;
    slots
        .iter()
        .map(|slot| {
            let word = slot.load(Ordering::Relaxed);
            let age = now.wrapping_sub((word >> 32) as u32);
            if u64::from(age) < WINDOW_SECS { word & 0xFFFF_FFFF } else { 0 }
        })
        .sum()
}

#[cfg(test)]
mod tests;
