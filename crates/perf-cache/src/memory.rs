//! [`MemoryCache`]: the in-process tier on a sharded `DashMap`.
//!
//! # Eviction policy: CLOCK (second chance)
//!
//! Every insertion appends `(key, id)` to a FIFO ring. A hit sets the
//! entry's *referenced* bit (one relaxed load, and a store only when the bit
//! was clear). When the cache is over its entry or byte bound, the ring is
//! popped: a referenced entry has its bit cleared and goes to the back (a
//! second chance), an unreferenced one is evicted. Hot keys therefore stay,
//! one-hit wonders leave first, and the hit path takes no lock besides the
//! map shard's read lock. Ring items whose entry was overwritten or removed
//! are skipped, and the ring is compacted when it holds more than twice the
//! live entries, so it cannot grow without bound either.
//!
//! # Time
//!
//! Lookups compare TTLs against a coarse clock (an atomic refreshed by the
//! maintenance thread every `tick`, default 10 ms, and by every write), so
//! the hit path never reads the system clock. An entry may therefore be
//! served up to one tick after its TTL passed.
//!
//! # Namespaces
//!
//! A key's namespace is the text before its first `:`. The cache keeps 1,024
//! generation counters; a namespace maps to one by a fixed hash, and each
//! entry remembers the generation of its slot when stored. Invalidating a
//! namespace bumps its counter (O(1)); entries with an older generation are
//! treated as absent and removed lazily or by the sweep. Two namespaces
//! sharing a slot only cause extra invalidations, never stale reads.

mod map;

use std::{
    num::{NonZeroU64, NonZeroUsize},
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use perf_core::{
    BoxFuture, CacheAdmin, CacheEventKind, CacheKey, CacheStats, CacheStore, CacheStoreError, Clock, Invalidator,
    KeyPattern, Namespace, Recorder, ServingTier, SystemClock, TierStats,
};

use self::map::{Inner, Removal, spawn_maintenance};
use crate::CacheError;

/// Bytes charged per entry on top of its key and value: the map slot, the
/// entry header and the ring item.
pub const ENTRY_OVERHEAD_BYTES: u64 = 96;

/// Settings of a [`MemoryCache`].
#[derive(Debug, Clone)]
pub struct MemoryConfig {
    /// The most entries held at once (default 10,000).
    pub max_entries: NonZeroUsize,
    /// The most bytes held at once, counting keys, values and
    /// [`ENTRY_OVERHEAD_BYTES`] per entry (default 64 MiB).
    pub max_bytes: NonZeroU64,
    /// Whether a background thread refreshes the coarse clock and sweeps
    /// expired entries (default true). Without it, call
    /// [`MemoryCache::run_maintenance`] yourself.
    pub background: bool,
    /// How often the coarse clock is refreshed (default 10 ms).
    pub tick: Duration,
    /// How often expired and invalidated entries are swept (default 1 s).
    pub sweep_interval: Duration,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            max_entries: NonZeroUsize::new(10_000).expect("10,000 is not zero"),
            max_bytes: NonZeroU64::new(64 << 20).expect("64 MiB is not zero"),
            background: true,
            tick: Duration::from_millis(10),
            sweep_interval: Duration::from_secs(1),
        }
    }
}

/// The in-process cache tier: TTL per entry, bounded by entries and bytes,
/// CLOCK eviction, O(1) namespace invalidation, background sweeping.
///
/// Cloning is cheap and clones share the same entries.
///
/// # Guarantees
/// - Memory: at most `max_entries` entries and `max_bytes` charged bytes
///   after every write returns; values larger than `max_bytes` are not stored.
/// - A hit costs one map lookup, an `Arc` clone and a few relaxed atomics.
/// - Safe to share between threads; no method blocks on I/O.
///
/// # Examples
/// ```
/// use std::{sync::Arc, time::Duration};
/// use perf_cache::MemoryCache;
///
/// let cache = MemoryCache::new()?;
/// cache.insert("users:42", Arc::from(&b"alice"[..]), Duration::from_secs(60))?;
/// assert_eq!(cache.lookup("users:42").as_deref(), Some(&b"alice"[..]));
/// cache.invalidate_namespace("users")?;
/// assert_eq!(cache.lookup("users:42"), None);
/// # Ok::<(), perf_cache::CacheError>(())
/// ```
#[derive(Clone)]
pub struct MemoryCache {
    inner: Arc<Inner>,
}

/// Builds a [`MemoryCache`] with a clock, a recorder or non-default bounds.
#[derive(Default)]
pub struct MemoryCacheBuilder {
    config: MemoryConfig,
    clock: Option<Arc<dyn Clock>>,
    recorder: Option<Arc<dyn Recorder>>,
}

impl std::fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCache")
            .field("entries", &self.inner.entries.load(Ordering::Relaxed))
            .field("bytes", &self.inner.bytes.load(Ordering::Relaxed))
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for MemoryCacheBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCacheBuilder").field("config", &self.config).finish_non_exhaustive()
    }
}

impl MemoryCacheBuilder {
    /// Replaces the whole configuration.
    pub fn config(mut self, config: MemoryConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the entry bound.
    pub fn max_entries(mut self, n: NonZeroUsize) -> Self {
        self.config.max_entries = n;
        self
    }

    /// Sets the byte bound.
    pub fn max_bytes(mut self, n: NonZeroU64) -> Self {
        self.config.max_bytes = n;
        self
    }

    /// Turns the background maintenance thread on or off.
    pub fn background(mut self, on: bool) -> Self {
        self.config.background = on;
        self
    }

    /// Uses `clock` for TTLs (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Reports hits, misses, sets and deletes to `recorder`.
    pub fn recorder(mut self, recorder: Arc<dyn Recorder>) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// Records into the context's recorder and reads its clock: the
    /// shorthand for [`MemoryCacheBuilder::recorder`] plus
    /// [`MemoryCacheBuilder::clock`] from one [`perf_core::PerfContext`].
    pub fn context(self, ctx: &perf_core::PerfContext) -> Self {
        self.recorder(ctx.recorder().clone()).clock(ctx.clock().clone())
    }

    /// Builds the cache and, if configured, starts its maintenance thread
    /// (which stops by itself once the last clone of the cache is dropped).
    ///
    /// # Errors
    /// [`CacheError::InvalidConfig`] for a zero tick or sweep interval,
    /// [`CacheError::Spawn`] if the thread cannot start.
    pub fn build(self) -> Result<MemoryCache, CacheError> {
        let config = self.config;
        if config.tick.is_zero() || config.sweep_interval.is_zero() {
            return Err(CacheError::InvalidConfig("tick and sweep_interval must be positive".into()));
        }
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let inner = Arc::new(Inner::new(config, clock, self.recorder));
        if inner.config.background {
            spawn_maintenance(Arc::downgrade(&inner))?;
        }
        Ok(MemoryCache { inner })
    }
}

impl MemoryCache {
    /// A cache with the default configuration and a maintenance thread.
    ///
    /// # Errors
    /// [`CacheError::Spawn`] if the maintenance thread cannot start.
    pub fn new() -> Result<MemoryCache, CacheError> {
        MemoryCache::builder().build()
    }

    /// A builder for non-default settings.
    pub fn builder() -> MemoryCacheBuilder {
        MemoryCacheBuilder::default()
    }

    /// The value under `key`, if present, fresh and not invalidated; counts
    /// the lookup (stats, recorder, current [`RequestScope`](perf_core::RequestScope)).
    pub fn lookup(&self, key: &str) -> Option<Arc<[u8]>> {
        let found = self.peek(key);
        self.inner.count_lookup(found.is_some());
        found
    }

    /// Like [`lookup`](Self::lookup) but counted only in this tier's
    /// hit/miss counters: the tiered cache reports lookups itself.
    pub(crate) fn peek(&self, key: &str) -> Option<Arc<[u8]>> {
        self.inner.get(key)
    }

    /// Stores `value` under `key` for `ttl`, evicting as needed to stay within
    /// bounds. A zero `ttl` or a value larger than the byte bound is not stored.
    ///
    /// # Errors
    /// [`CacheError::InvalidKey`] for an empty or over-long key.
    pub fn insert(&self, key: &str, value: Arc<[u8]>, ttl: Duration) -> Result<(), CacheError> {
        let key = CacheKey::parse(key).inspect_err(|_| {
            self.inner.counters.errors.fetch_add(1, Ordering::Relaxed);
        })?;
        self.insert_parsed(key, value, ttl);
        self.inner.report(CacheEventKind::Set);
        Ok(())
    }

    /// Like [`insert`](Self::insert) with a key parsed by the caller, and
    /// without reporting an event: the tiered cache reports writes itself.
    pub(crate) fn insert_parsed(&self, parsed: CacheKey<'_>, value: Arc<[u8]>, ttl: Duration) {
        self.inner.insert(parsed, value, ttl);
    }

    /// Removes `key`; true if a live entry was removed.
    pub fn remove(&self, key: &str) -> bool {
        let removed = self.remove_inner(key);
        self.inner.report(CacheEventKind::Delete);
        removed
    }

    pub(crate) fn remove_inner(&self, key: &str) -> bool {
        self.inner.counters.deletes.fetch_add(1, Ordering::Relaxed);
        self.inner.remove(key, Removal::Deleted)
    }

    /// Drops every entry of `namespace` in O(1) by bumping its generation.
    ///
    /// # Errors
    /// [`CacheError::InvalidNamespace`] for an empty or over-long name or one
    /// containing `:`.
    pub fn invalidate_namespace(&self, namespace: &str) -> Result<(), CacheError> {
        self.invalidate_parsed(Namespace::parse(namespace)?);
        Ok(())
    }

    /// Like [`invalidate_namespace`](Self::invalidate_namespace) with a name
    /// parsed by the caller.
    pub(crate) fn invalidate_parsed(&self, namespace: Namespace<'_>) {
        self.inner.bump(namespace);
    }

    /// Removes every entry whose key matches the glob `pattern`, or every
    /// entry when `None`; returns how many live entries were removed
    /// (entries already expired or invalidated are dropped too, but they
    /// were not visible, so they are not counted).
    ///
    /// # Errors
    /// [`CacheError::InvalidPattern`] before anything is removed.
    pub fn clear_matching(&self, pattern: Option<&str>) -> Result<u64, CacheError> {
        let pattern = pattern.map(KeyPattern::parse).transpose()?;
        Ok(self.clear_parsed(pattern.as_ref()))
    }

    pub(crate) fn clear_parsed(&self, pattern: Option<&KeyPattern>) -> u64 {
        self.clear_parsed_with(pattern, |_| {})
    }

    /// Like [`clear_parsed`](Self::clear_parsed), calling `removed` with the
    /// key of every live entry it removes (and counts).
    pub(crate) fn clear_parsed_with(&self, pattern: Option<&KeyPattern>, removed: impl FnMut(&Arc<str>)) -> u64 {
        self.inner.clear(pattern, removed)
    }

    /// Refreshes the coarse clock from the configured clock and removes
    /// expired and invalidated entries. The maintenance thread calls this
    /// every `sweep_interval`; tests with a manual clock call it directly.
    pub fn run_maintenance(&self) {
        self.inner.refresh_now();
        self.inner.sweep();
    }

    /// This tier's counters, entries and bytes.
    pub fn tier_stats(&self) -> TierStats {
        let inner = &self.inner;
        inner.counters.stats(Some(inner.entries.load(Ordering::Relaxed)), Some(inner.bytes.load(Ordering::Relaxed)))
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        usize::try_from(self.inner.entries.load(Ordering::Relaxed)).unwrap_or(usize::MAX)
    }

    /// Whether the cache holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Items in the eviction ring (live entries plus not yet compacted
    /// leftovers of overwritten or removed ones): exposed so tests can check
    /// the bound on bookkeeping memory.
    pub fn ring_len(&self) -> usize {
        self.inner.ring_len()
    }

    /// The configured clock's time, as the cache sees it.
    #[cfg(feature = "redis")]
    pub(crate) fn now(&self) -> perf_core::Timestamp {
        perf_core::Timestamp::from_unix_micros(self.inner.now_ms.load(Ordering::Relaxed).saturating_mul(1000))
    }
}

impl CacheAdmin for MemoryCache {
    fn stats(&self) -> BoxFuture<'_, Result<CacheStats, CacheStoreError>> {
        let memory = self.tier_stats();
        Box::pin(async move {
            let total = memory.hits + memory.misses + memory.sets + memory.deletes;
            Ok(CacheStats {
                hits: memory.hits,
                misses: memory.misses,
                hit_rate: hit_rate(memory.hits, memory.misses),
                total_operations: total,
                serving_tier: ServingTier::Memory,
                recent_hits: None,
                memory,
                remote: None,
            })
        })
    }

    fn clear<'a>(&'a self, pattern: Option<&'a KeyPattern>) -> BoxFuture<'a, Result<u64, CacheStoreError>> {
        Box::pin(async move { Ok(self.clear_parsed(pattern)) })
    }
}

impl CacheStore for MemoryCache {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Arc<[u8]>>, CacheStoreError>> {
        Box::pin(async move { Ok(self.lookup(key)) })
    }

    fn set<'a>(&'a self, key: &'a str, value: Arc<[u8]>, ttl: Duration) -> BoxFuture<'a, Result<(), CacheStoreError>> {
        Box::pin(async move { Ok(self.insert(key, value, ttl)?) })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, CacheStoreError>> {
        Box::pin(async move { Ok(self.remove(key)) })
    }

    fn invalidate<'a>(&'a self, namespace: &'a str) -> BoxFuture<'a, Result<(), CacheStoreError>> {
        Box::pin(async move { Ok(self.invalidate_namespace(namespace)?) })
    }
}

impl Invalidator for MemoryCache {
    fn invalidate_now(&self, namespace: &str) -> Result<(), CacheStoreError> {
        Ok(self.invalidate_namespace(namespace)?)
    }
}

/// hits / (hits + misses), 0 without lookups.
pub(crate) fn hit_rate(hits: u64, misses: u64) -> f64 {
    let total = hits + misses;
    if total == 0 { 0.0 } else { hits as f64 / total as f64 }
}

#[cfg(test)]
mod tests;
