//! [`LogLimiter`]: at most one log line per key and interval, with a count
//! of the lines held back.

use std::{
    collections::HashMap,
    hash::{DefaultHasher, Hash, Hasher},
    num::NonZeroUsize,
    time::Duration,
};

use parking_lot::Mutex;

use crate::Timestamp;

/// The interval perfkit's own warnings use: one line per key and minute.
pub const DEFAULT_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Keys a [`LogLimiter`] tracks by default.
pub const DEFAULT_LOG_KEYS: NonZeroUsize = NonZeroUsize::new(1_024).expect("1024 is not zero");

/// Decides which of many repeated log lines are written: the first line of a
/// key is written, then at most one per `interval`, and each written line
/// carries how many were held back since the previous one.
///
/// Keys are hashes of whatever identifies a line (e.g. route and
/// fingerprint, see [`LogLimiter::key`]); time is an input, so tests drive
/// it with a [`ManualClock`](crate::ManualClock).
///
/// # Guarantees
/// Memory is bounded by the key capacity: once it is full, keys whose
/// interval has passed are dropped, and if none has, new keys share one
/// overflow key (so a flood of distinct keys still writes at most one line
/// per interval beyond the tracked ones). One short mutex per call.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use perf_core::{LogLimiter, Timestamp};
/// let limiter = LogLimiter::new(Duration::from_secs(60));
/// let key = LogLimiter::key(&["GET /items", "SELECT ..."]);
/// let t = Timestamp::from_unix_micros(1_000_000);
/// assert_eq!(limiter.check(key, t), Some(0)); // written
/// assert_eq!(limiter.check(key, t), None); // held back
/// let later = Timestamp::from_unix_micros(62_000_000);
/// assert_eq!(limiter.check(key, later), Some(1)); // written, 1 held back
/// ```
#[derive(Debug)]
pub struct LogLimiter {
    interval_us: u64,
    capacity: usize,
    entries: Mutex<HashMap<u64, Entry>>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// When the next line may be written, µs since the epoch.
    next_us: u64,
    /// Lines held back since the last written one.
    suppressed: u64,
}

/// The key that keys past the capacity share.
const OVERFLOW_KEY: u64 = 0;

impl LogLimiter {
    /// A limiter writing one line per key and `interval`, tracking
    /// [`DEFAULT_LOG_KEYS`] keys.
    pub fn new(interval: Duration) -> LogLimiter {
        LogLimiter::with_capacity(interval, DEFAULT_LOG_KEYS)
    }

    /// A limiter writing one line per key and `interval`, tracking at most
    /// `capacity` keys.
    pub fn with_capacity(interval: Duration, capacity: NonZeroUsize) -> LogLimiter {
        LogLimiter {
            interval_us: u64::try_from(interval.as_micros()).unwrap_or(u64::MAX),
            capacity: capacity.get(),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// A key for the parts that identify a line.
    pub fn key(parts: &[&str]) -> u64 {
        let mut h = DefaultHasher::new();
        parts.hash(&mut h);
        // 0 is the overflow key.
        h.finish().max(1)
    }

    /// `Some(held_back)` when a line for `key` should be written at `now`
    /// (`held_back` lines of that key were not written since the previous
    /// one); `None` when this one should be held back.
    pub fn check(&self, key: u64, now: Timestamp) -> Option<u64> {
        let now_us = now.as_unix_micros();
        let mut entries = self.entries.lock();
        let key = if entries.contains_key(&key) || entries.len() < self.capacity {
            key
        } else {
            entries.retain(|_, e| e.next_us > now_us);
            if entries.len() < self.capacity { key } else { OVERFLOW_KEY }
        };
        let interval = self.interval_us;
        let entry = entries.entry(key).or_insert(Entry { next_us: 0, suppressed: 0 });
        if now_us >= entry.next_us {
            let held_back = std::mem::take(&mut entry.suppressed);
            entry.next_us = now_us.saturating_add(interval);
            Some(held_back)
        } else {
            entry.suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests;
