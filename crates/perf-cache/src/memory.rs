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

use std::{
    collections::VecDeque,
    hash::BuildHasher,
    num::{NonZeroU64, NonZeroUsize},
    sync::{
        Arc, Weak,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use dashmap::DashMap;
use parking_lot::Mutex;
use perf_core::{
    BoxFuture, CacheAdmin, CacheEvent, CacheEventKind, CacheStats, CacheStore, CacheStoreError, CacheTier, Clock,
    Invalidator, KeyPattern, Recorder, RequestScope, ServingTier, SystemClock, TierStats, Timestamp,
};

use crate::{
    CacheError,
    key::{check_key, check_namespace, namespace_of},
};

/// Bytes charged per entry on top of its key and value: the map slot, the
/// entry header and the ring item.
pub const ENTRY_OVERHEAD_BYTES: u64 = 96;
const NAMESPACE_SLOTS: usize = 1024;
const NO_NAMESPACE: u32 = u32::MAX;

type Hasher = foldhash::fast::RandomState;

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

struct Entry {
    value: Arc<[u8]>,
    expires_ms: u64,
    id: u64,
    ns_slot: u32,
    ns_gen: u64,
    charge: u64,
    referenced: AtomicBool,
}

struct Inner {
    map: DashMap<Arc<str>, Entry, Hasher>,
    ring: Mutex<VecDeque<(Arc<str>, u64)>>,
    generations: Box<[AtomicU64]>,
    now_ms: AtomicU64,
    next_id: AtomicU64,
    entries: AtomicU64,
    bytes: AtomicU64,
    counters: Counters,
    config: MemoryConfig,
    clock: Arc<dyn Clock>,
    recorder: Option<Arc<dyn Recorder>>,
    slot_hasher: foldhash::fast::FixedState,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    sets: AtomicU64,
    deletes: AtomicU64,
    evictions: AtomicU64,
    expirations: AtomicU64,
    errors: AtomicU64,
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
        let now_ms = to_ms(clock.now());
        let inner = Arc::new(Inner {
            map: DashMap::with_hasher(Hasher::default()),
            ring: Mutex::new(VecDeque::new()),
            generations: (0..NAMESPACE_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            now_ms: AtomicU64::new(now_ms),
            next_id: AtomicU64::new(1),
            entries: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            counters: Counters::default(),
            config,
            clock,
            recorder: self.recorder,
            slot_hasher: foldhash::fast::FixedState::with_seed(0x5eed_cafe),
        });
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
    /// the lookup (stats, recorder, current [`RequestScope`]).
    pub fn lookup(&self, key: &str) -> Option<Arc<[u8]>> {
        let found = self.peek(key);
        self.inner.count_lookup(found.is_some());
        found
    }

    /// Like [`lookup`](Self::lookup) but counted only in this tier's
    /// hit/miss counters: the tiered cache reports lookups itself.
    pub(crate) fn peek(&self, key: &str) -> Option<Arc<[u8]>> {
        let inner = &*self.inner;
        let now = inner.now_ms.load(Ordering::Relaxed);
        let stale = match inner.map.get(key) {
            Some(e) => {
                if e.expires_ms > now && inner.is_current(&e) {
                    if !e.referenced.load(Ordering::Relaxed) {
                        e.referenced.store(true, Ordering::Relaxed);
                    }
                    let value = e.value.clone();
                    drop(e);
                    inner.counters.hits.fetch_add(1, Ordering::Relaxed);
                    return Some(value);
                }
                Some((e.id, e.expires_ms <= now))
            }
            None => None,
        };
        if let Some((id, expired)) = stale {
            inner.remove_if_id(key, id, if expired { Removal::Expired } else { Removal::Invalidated });
        }
        inner.counters.misses.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// Stores `value` under `key` for `ttl`, evicting as needed to stay within
    /// bounds. A zero `ttl` or a value larger than the byte bound is not stored.
    ///
    /// # Errors
    /// [`CacheError::InvalidKey`] for an empty or over-long key.
    pub fn insert(&self, key: &str, value: Arc<[u8]>, ttl: Duration) -> Result<(), CacheError> {
        self.insert_inner(key, value, ttl)?;
        self.inner.report(CacheEventKind::Set);
        Ok(())
    }

    pub(crate) fn insert_inner(&self, key: &str, value: Arc<[u8]>, ttl: Duration) -> Result<(), CacheError> {
        if let Err(e) = check_key(key) {
            self.inner.counters.errors.fetch_add(1, Ordering::Relaxed);
            return Err(e);
        }
        let inner = &*self.inner;
        inner.counters.sets.fetch_add(1, Ordering::Relaxed);
        let charge = ENTRY_OVERHEAD_BYTES + key.len() as u64 + value.len() as u64;
        if ttl.is_zero() || charge > inner.config.max_bytes.get() {
            // Not storable: make sure no older value survives the write.
            inner.remove(key, Removal::Replaced);
            return Ok(());
        }
        let now = inner.refresh_now();
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let (ns_slot, ns_gen) = match namespace_of(key) {
            Some(ns) => {
                let slot = inner.slot(ns);
                (slot, inner.generations[slot as usize].load(Ordering::Acquire))
            }
            None => (NO_NAMESPACE, 0),
        };
        let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
        let key: Arc<str> = Arc::from(key);
        let entry = Entry {
            value,
            expires_ms: now.saturating_add(ttl_ms),
            id,
            ns_slot,
            ns_gen,
            charge,
            referenced: AtomicBool::new(false),
        };
        // Charge before the entry becomes visible: a concurrent removal of it
        // then subtracts from counters that already hold it, so they never
        // wrap below zero.
        inner.entries.fetch_add(1, Ordering::Relaxed);
        inner.bytes.fetch_add(charge, Ordering::Relaxed);
        if let Some(old) = inner.map.insert(key.clone(), entry) {
            inner.entries.fetch_sub(1, Ordering::Relaxed);
            inner.bytes.fetch_sub(old.charge, Ordering::Relaxed);
        }
        let mut ring = inner.ring.lock();
        ring.push_back((key, id));
        inner.enforce_bounds(&mut ring);
        Ok(())
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
        check_namespace(namespace)?;
        let slot = self.inner.slot(namespace);
        self.inner.generations[slot as usize].fetch_add(1, Ordering::AcqRel);
        Ok(())
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
    pub(crate) fn clear_parsed_with(&self, pattern: Option<&KeyPattern>, mut removed: impl FnMut(&Arc<str>)) -> u64 {
        let inner = &*self.inner;
        let now = inner.now_ms.load(Ordering::Relaxed);
        let (mut live, mut expired, mut hidden, mut bytes) = (0u64, 0u64, 0u64, 0u64);
        inner.map.retain(|k, e| {
            let keep = pattern.is_some_and(|p| !p.matches(k));
            if !keep {
                bytes += e.charge;
                if e.expires_ms <= now {
                    expired += 1;
                } else if !inner.is_current(e) {
                    hidden += 1;
                } else {
                    live += 1;
                    removed(k);
                }
            }
            keep
        });
        inner.entries.fetch_sub(live + expired + hidden, Ordering::Relaxed);
        inner.bytes.fetch_sub(bytes, Ordering::Relaxed);
        // The same counters the lazy removal of each kind would charge.
        inner.counters.deletes.fetch_add(live + hidden, Ordering::Relaxed);
        inner.counters.expirations.fetch_add(expired, Ordering::Relaxed);
        if pattern.is_none() {
            inner.ring.lock().clear();
        }
        live
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
        let c = &self.inner.counters;
        TierStats {
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            sets: c.sets.load(Ordering::Relaxed),
            deletes: c.deletes.load(Ordering::Relaxed),
            evictions: c.evictions.load(Ordering::Relaxed),
            expirations: c.expirations.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            entries: Some(self.inner.entries.load(Ordering::Relaxed)),
            bytes: Some(self.inner.bytes.load(Ordering::Relaxed)),
        }
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
        self.inner.ring.lock().len()
    }

    /// The configured clock's time, as the cache sees it.
    #[cfg(feature = "redis")]
    pub(crate) fn now(&self) -> Timestamp {
        Timestamp::from_unix_micros(self.inner.now_ms.load(Ordering::Relaxed).saturating_mul(1000))
    }
}

#[derive(Clone, Copy)]
enum Removal {
    Deleted,
    Replaced,
    Expired,
    Invalidated,
    Evicted,
}

impl Inner {
    fn slot(&self, ns: &str) -> u32 {
        (self.slot_hasher.hash_one(ns) % NAMESPACE_SLOTS as u64) as u32
    }

    fn is_current(&self, e: &Entry) -> bool {
        e.ns_slot == NO_NAMESPACE || self.generations[e.ns_slot as usize].load(Ordering::Acquire) == e.ns_gen
    }

    fn refresh_now(&self) -> u64 {
        let now = to_ms(self.clock.now());
        self.now_ms.fetch_max(now, Ordering::Relaxed);
        now
    }

    fn count_lookup(&self, hit: bool) {
        RequestScope::with_current(|s| {
            if let Some(s) = s {
                s.record_cache(hit);
            }
        });
        self.report(if hit { CacheEventKind::Hit } else { CacheEventKind::Miss });
    }

    fn report(&self, kind: CacheEventKind) {
        if let Some(r) = &self.recorder {
            let at = Timestamp::from_unix_micros(self.now_ms.load(Ordering::Relaxed).saturating_mul(1000));
            r.record_cache(&CacheEvent { kind, tier: CacheTier::Memory, at });
        }
    }

    fn account(&self, e: &Entry, why: Removal) {
        self.entries.fetch_sub(1, Ordering::Relaxed);
        self.bytes.fetch_sub(e.charge, Ordering::Relaxed);
        let counter = match why {
            Removal::Deleted | Removal::Replaced => return,
            Removal::Expired => &self.counters.expirations,
            Removal::Invalidated => &self.counters.deletes,
            Removal::Evicted => &self.counters.evictions,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn remove(&self, key: &str, why: Removal) -> bool {
        match self.map.remove(key) {
            Some((_, e)) => {
                self.account(&e, why);
                true
            }
            None => false,
        }
    }

    fn remove_if_id(&self, key: &str, id: u64, why: Removal) -> bool {
        match self.map.remove_if(key, |_, e| e.id == id) {
            Some((_, e)) => {
                self.account(&e, why);
                true
            }
            None => false,
        }
    }

    fn over_bounds(&self) -> bool {
        self.entries.load(Ordering::Relaxed) > self.config.max_entries.get() as u64
            || self.bytes.load(Ordering::Relaxed) > self.config.max_bytes.get()
    }

    /// Evicts by CLOCK until within bounds, then compacts the ring if it
    /// holds too many leftovers. Called with the ring locked.
    fn enforce_bounds(&self, ring: &mut VecDeque<(Arc<str>, u64)>) {
        let now = self.now_ms.load(Ordering::Relaxed);
        // Each live item can be passed over at most once (its bit is cleared
        // on the way), so two laps always find a victim.
        let mut budget = ring.len().saturating_mul(2) + 1;
        while self.over_bounds() && budget > 0 {
            budget -= 1;
            let Some((key, id)) = ring.pop_front() else { break };
            let verdict = match self.map.get(&*key) {
                Some(e) if e.id == id => {
                    if e.expires_ms <= now || !self.is_current(&e) {
                        Some(Removal::Expired)
                    } else if e.referenced.swap(false, Ordering::Relaxed) {
                        None
                    } else {
                        Some(Removal::Evicted)
                    }
                }
                _ => continue,
            };
            match verdict {
                Some(why) => {
                    self.remove_if_id(&key, id, why);
                }
                None => ring.push_back((key, id)),
            }
        }
        let live = self.entries.load(Ordering::Relaxed) as usize;
        if ring.len() > live.saturating_mul(2) + 64 {
            ring.retain(|(k, id)| self.map.get(&**k).is_some_and(|e| e.id == *id));
        }
    }

    fn sweep(&self) {
        let now = self.now_ms.load(Ordering::Relaxed);
        let (mut expired, mut invalidated, mut bytes) = (0u64, 0u64, 0u64);
        self.map.retain(|_, e| {
            if e.expires_ms <= now {
                expired += 1;
            } else if !self.is_current(e) {
                invalidated += 1;
            } else {
                return true;
            }
            bytes += e.charge;
            false
        });
        self.entries.fetch_sub(expired + invalidated, Ordering::Relaxed);
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
        self.counters.expirations.fetch_add(expired, Ordering::Relaxed);
        self.counters.deletes.fetch_add(invalidated, Ordering::Relaxed);
        let mut ring = self.ring.lock();
        let live = self.entries.load(Ordering::Relaxed) as usize;
        if ring.len() > live.saturating_mul(2) + 64 {
            ring.retain(|(k, id)| self.map.get(&**k).is_some_and(|e| e.id == *id));
        }
    }
}

fn to_ms(t: Timestamp) -> u64 {
    t.as_unix_micros() / 1000
}

fn spawn_maintenance(weak: Weak<Inner>) -> Result<(), CacheError> {
    let Some(inner) = weak.upgrade() else { return Ok(()) };
    let (tick, sweep_every) = (inner.config.tick, inner.config.sweep_interval);
    drop(inner);
    std::thread::Builder::new()
        .name("perf-cache-maintenance".into())
        .spawn(move || {
            let mut since_sweep = Duration::ZERO;
            loop {
                std::thread::sleep(tick);
                let Some(inner) = weak.upgrade() else { return };
                inner.refresh_now();
                since_sweep += tick;
                if since_sweep >= sweep_every {
                    since_sweep = Duration::ZERO;
                    inner.sweep();
                }
            }
        })
        .map_err(CacheError::Spawn)?;
    Ok(())
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
