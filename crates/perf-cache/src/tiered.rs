//! [`TieredCache`]: the memory tier (L1) in front of the Redis tier (L2),
//! write-through, with a circuit breaker, replay of invalidations missed
//! during an outage and cross-instance invalidation over Redis pub/sub.
//!
//! # Fallback
//!
//! Every Redis operation is bounded by the Redis tier's `op_timeout`. Only
//! an *unreachable* Redis (I/O error, refused or dropped connection,
//! timeout) counts against the breaker: a timeout, a failed write or
//! invalidation, or `failure_threshold` consecutive failed reads open it;
//! from then on every operation is served by memory alone, without touching
//! Redis and without failing. A background probe pings Redis with
//! exponential backoff; once it answers (and the invalidation subscription
//! is up again), the invalidations queued meanwhile are applied to Redis and
//! published, and only then does the breaker close.
//!
//! A *command error* (Redis answered with an error reply: `OOM`, `READONLY`,
//! `NOAUTH`, `WRONGTYPE`, ...) never opens the breaker: Redis is reachable
//! and keeps being used. The operation falls back to memory as above; the
//! error is counted per cause in the stats and logged at most once a minute
//! per cause (see [`RedisCache`]). A removal Redis refused is kept pending
//! and retried by the liveness timer, and until it lands this instance does
//! not read the keys it covers from Redis.
//!
//! # Liveness
//!
//! While the breaker is closed, a timer owned by the cache wakes every
//! `liveness_interval` (default 500 ms). If Redis answered nothing during
//! the last interval (say, every lookup was a memory hit), it sends one
//! `PING`; an unreachable Redis opens the breaker as a failed write would.
//! So the stats report a dead Redis within about two intervals plus
//! `op_timeout`, even when memory answers every lookup. The timer also
//! retries removals Redis refused. It runs on the tokio runtime the cache
//! was built on, like the probe and the subscriber, and stops when the last
//! clone of the cache is dropped. [`TieredCache::new`] refuses to build
//! outside a runtime ([`CacheError::NoRuntime`]) rather than panic; if that
//! runtime shuts down first, the background tasks end with it and the stats
//! show the state of the last operation.
//!
//! # Serving tier
//!
//! The stats' `serving_tier` is the tier that answered most hits over the
//! last ten seconds (`recent_hits` holds the counts), Redis on a tie, and
//! `none` when nothing hit in that window; it describes what happened, not
//! which tier would be asked first.
//!
//! # Coherence
//!
//! Deletes, clears and namespace invalidations are published on the
//! channel `<prefix>invalidations`; every other instance applies them to its
//! memory tier. When the subscription drops, the instance clears its memory
//! tier as soon as it is subscribed again, since any of its copies could have
//! missed a message. Memory copies of values read from Redis live at most
//! `l1_ttl` (default 60 s) and never past the value's own expiry.
//!
//! A fetch that reads Redis while a removal (delete, clear or namespace
//! invalidation, made here or announced by another instance) is under way
//! returns what it read but does not copy it into memory, so a removal
//! cannot be undone by a racing read.
//!
//! Not guaranteed: a value read from Redis just before another instance
//! deletes it, and copied into memory before that instance's message
//! arrives, is served until `l1_ttl` passes (the usual cache-aside race,
//! bounded by `l1_ttl`). While Redis is unreachable, instances cannot tell
//! each other about invalidations.

mod coherence;
mod recovery;

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use parking_lot::Mutex;
use perf_core::{
    BoxFuture, BreakerState, CacheAdmin, CacheEvent, CacheEventKind, CacheKey, CacheStats, CacheStore, CacheStoreError,
    CacheTier, Invalidator, KeyPattern, Namespace, Recorder, RequestScope,
};
use tokio::sync::watch;

use self::{
    coherence::{instance_id, subscriber},
    recovery::liveness,
};
use crate::{
    CacheError, MemoryCache, MemoryConfig, RedisCache, RedisConfig,
    breaker::Breaker,
    memory::hit_rate,
    pending::{Op, Pending},
    serving::HitWindow,
};

/// Settings of a [`TieredCache`].
#[derive(Debug, Clone)]
pub struct TieredConfig {
    /// The memory tier.
    pub memory: MemoryConfig,
    /// The Redis tier.
    pub redis: RedisConfig,
    /// Longest life of a memory copy (default 60 s); zero keeps values read
    /// from Redis out of memory.
    pub l1_ttl: Duration,
    /// Consecutive failed reads that open the breaker (default 3).
    pub failure_threshold: u32,
    /// First probe delay after the breaker opened (default 100 ms).
    pub probe_min: Duration,
    /// Longest probe delay (default 5 s).
    pub probe_max: Duration,
    /// Invalidations kept individually while Redis is unreachable (default
    /// 1,024); past that they collapse into namespace bumps or a clear.
    pub max_pending: usize,
    /// How often the liveness timer checks on Redis while the breaker is
    /// closed (default 500 ms): it pings when Redis answered nothing for
    /// that long. Zero turns the timer off.
    pub liveness_interval: Duration,
}

impl TieredConfig {
    /// Defaults around a Redis at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        TieredConfig {
            memory: MemoryConfig::default(),
            redis: RedisConfig::new(url),
            l1_ttl: Duration::from_secs(60),
            failure_threshold: 3,
            probe_min: Duration::from_millis(100),
            probe_max: Duration::from_secs(5),
            max_pending: 1024,
            liveness_interval: Duration::from_millis(500),
        }
    }
}

/// Memory in front of Redis, serving from memory alone while Redis is
/// down or stalled. Cloning is cheap; clones share everything.
///
/// # Guarantees
/// - No operation fails because Redis did; errors are only for bad input.
/// - While the breaker is open no Redis call is made at all, so an outage
///   costs at most one `op_timeout` per operation already in flight.
/// - Background tasks (probe, subscriber, liveness timer) stop when the
///   last clone drops.
/// - Stats report an unreachable Redis within about two
///   `liveness_interval`s plus `op_timeout`, even while no lookup reaches it.
#[derive(Clone)]
pub struct TieredCache {
    inner: Arc<TieredInner>,
}

struct TieredInner {
    memory: MemoryCache,
    redis: RedisCache,
    breaker: Breaker,
    pending: Mutex<Pending>,
    /// Ops a replay took from `pending` and has not finished applying.
    in_flight: Mutex<Pending>,
    /// Held by the one replay running.
    replaying: tokio::sync::Mutex<()>,
    /// Whether `pending` or `in_flight` holds anything: set and cleared under
    /// `pending`'s lock, read without it on the fetch path.
    pending_any: AtomicBool,
    /// Hits per tier over the last seconds, for `serving_tier`.
    hit_window: HitWindow,
    config: TieredConfig,
    id: String,
    recorder: Option<Arc<dyn Recorder>>,
    runtime: tokio::runtime::Handle,
    shutdown: watch::Receiver<bool>,
    _shutdown_tx: watch::Sender<bool>,
    subscribed: AtomicBool,
    resyncs: AtomicU64,
    /// Namespaces whose Redis bump, started by `invalidate_now`, has not
    /// finished: their keys are not read from Redis meanwhile.
    bumping: Mutex<HashMap<String, u32>>,
    bumping_any: AtomicU64,
    /// Bumped before and after every removal (delete, clear, namespace
    /// invalidation, local or from another instance): a fetch that saw it
    /// change while it read Redis does not copy what it read into memory,
    /// since the value may be the one being removed.
    removals: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    sets: AtomicU64,
    deletes: AtomicU64,
}

impl std::fmt::Debug for TieredCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TieredCache")
            .field("breaker", &self.inner.breaker.state())
            .field("memory", &self.inner.memory)
            .field("redis", &self.inner.redis)
            .finish_non_exhaustive()
    }
}

impl TieredCache {
    /// Builds the cache and starts its subscriber task and liveness timer on
    /// the current tokio runtime. Redis may be down: the cache starts
    /// serving from memory.
    ///
    /// # Errors
    /// [`CacheError::NoRuntime`] outside a tokio runtime; configuration
    /// errors of either tier.
    pub fn new(config: TieredConfig, recorder: Option<Arc<dyn Recorder>>) -> Result<TieredCache, CacheError> {
        Self::build(config, recorder, None)
    }

    /// [`TieredCache::new`] recording into the context's recorder, with the
    /// memory tier on the context's clock.
    ///
    /// # Errors
    /// As [`TieredCache::new`].
    pub fn from_context(config: TieredConfig, ctx: &perf_core::PerfContext) -> Result<TieredCache, CacheError> {
        Self::build(config, Some(ctx.recorder().clone()), Some(ctx.clock().clone()))
    }

    fn build(
        config: TieredConfig,
        recorder: Option<Arc<dyn Recorder>>,
        clock: Option<Arc<dyn perf_core::Clock>>,
    ) -> Result<TieredCache, CacheError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| CacheError::NoRuntime)?;
        let mut memory = MemoryCache::builder().config(config.memory.clone());
        if let Some(clock) = clock {
            memory = memory.clock(clock);
        }
        let memory = memory.build()?;
        let redis = RedisCache::new(config.redis.clone())?;
        let (tx, rx) = watch::channel(false);
        let inner = Arc::new(TieredInner {
            memory,
            redis,
            breaker: Breaker::new(config.failure_threshold),
            pending: Mutex::new(Pending::default()),
            in_flight: Mutex::new(Pending::default()),
            replaying: tokio::sync::Mutex::new(()),
            pending_any: AtomicBool::new(false),
            hit_window: HitWindow::default(),
            id: instance_id(),
            recorder,
            runtime,
            shutdown: rx,
            _shutdown_tx: tx,
            subscribed: AtomicBool::new(false),
            resyncs: AtomicU64::new(0),
            bumping: Mutex::new(HashMap::new()),
            bumping_any: AtomicU64::new(0),
            removals: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            sets: AtomicU64::new(0),
            deletes: AtomicU64::new(0),
            config,
        });
        inner.runtime.spawn(subscriber(Arc::downgrade(&inner), inner.shutdown.clone()));
        inner.runtime.spawn(liveness(Arc::downgrade(&inner), inner.shutdown.clone()));
        Ok(TieredCache { inner })
    }

    /// The memory tier.
    pub fn memory(&self) -> &MemoryCache {
        &self.inner.memory
    }

    /// The Redis tier.
    pub fn redis(&self) -> &RedisCache {
        &self.inner.redis
    }

    /// The breaker's state now.
    pub fn breaker_state(&self) -> BreakerState {
        self.inner.breaker.state()
    }

    /// How many times the breaker opened.
    pub fn breaker_openings(&self) -> u64 {
        self.inner.breaker.times_opened()
    }

    /// Invalidations waiting for Redis (an overflow summary counts as one).
    pub fn pending_invalidations(&self) -> usize {
        self.inner.pending.lock().len()
    }

    /// Whether the invalidation subscription is up.
    pub fn is_subscribed(&self) -> bool {
        self.inner.subscribed.load(Ordering::Acquire)
    }

    /// How many times the memory tier was cleared after the subscription
    /// came back from a drop.
    pub fn resyncs(&self) -> u64 {
        self.inner.resyncs.load(Ordering::Relaxed)
    }

    /// The value under `key`: from memory, else from Redis (copied into
    /// memory), else `None`. Reports one hit or one miss.
    ///
    /// # Errors
    /// [`CacheError::InvalidKey`] only.
    pub async fn fetch(&self, key: &str) -> Result<Option<Arc<[u8]>>, CacheError> {
        let key = CacheKey::parse(key)?;
        let inner = &self.inner;
        let removals = inner.removals.load(Ordering::Acquire);
        if let Some(v) = inner.memory.peek(key.as_str()) {
            inner.count_lookup(true, CacheTier::Memory);
            return Ok(Some(v));
        }
        if !inner.breaker.allows() || inner.is_bumping(key) || inner.is_pending(key) {
            inner.count_lookup(false, CacheTier::Memory);
            return Ok(None);
        }
        match inner.redis.fetch_raw(key).await {
            Ok(Some(found)) => {
                inner.breaker.record_success();
                let now_ms = inner.memory.now().as_unix_micros() / 1000;
                let left = Duration::from_millis(found.expires_ms.saturating_sub(now_ms));
                let l1_ttl = left.min(inner.config.l1_ttl);
                if !l1_ttl.is_zero() && inner.removals.load(Ordering::Acquire) == removals {
                    inner.memory.insert_parsed(key, found.value.clone(), l1_ttl);
                }
                inner.count_lookup(true, CacheTier::Remote);
                Ok(Some(found.value))
            }
            Ok(None) => {
                inner.breaker.record_success();
                inner.count_lookup(false, CacheTier::Remote);
                Ok(None)
            }
            // A value Redis returned but that is not in our format is a miss,
            // not an outage: Redis answered, so the breaker stays closed.
            Err(CacheError::BadEnvelope) => {
                inner.breaker.record_success();
                inner.count_lookup(false, CacheTier::Remote);
                Ok(None)
            }
            Err(e) => {
                inner.redis_failed(&e, false);
                inner.count_lookup(false, CacheTier::Memory);
                Ok(None)
            }
        }
    }

    /// Stores `value` in memory and Redis. While Redis is unreachable the
    /// value lives in memory only, and Redis's older copy is removed before
    /// the breaker closes again.
    ///
    /// # Errors
    /// [`CacheError::InvalidKey`] only.
    pub async fn store(&self, key: &str, value: Arc<[u8]>, ttl: Duration) -> Result<(), CacheError> {
        let key = CacheKey::parse(key)?;
        let inner = &self.inner;
        inner.sets.fetch_add(1, Ordering::Relaxed);
        inner.memory.insert_parsed(key, value.clone(), ttl.min(inner.config.l1_ttl.max(Duration::from_millis(1))));
        inner.report(CacheEventKind::Set, CacheTier::Memory);
        if inner.breaker.allows() {
            match inner.redis.store_raw(key, &value, ttl).await {
                Ok(()) => {
                    inner.breaker.record_success();
                    inner.report(CacheEventKind::Set, CacheTier::Remote);
                    return Ok(());
                }
                Err(e) => inner.redis_failed(&e, true),
            }
        }
        inner.queue(Op::Delete(key.as_str().to_owned()));
        Ok(())
    }

    /// Removes `key` from both tiers and from every instance's memory.
    ///
    /// # Errors
    /// [`CacheError::InvalidKey`] only.
    pub async fn remove(&self, key: &str) -> Result<bool, CacheError> {
        CacheKey::parse(key)?;
        self.inner.deletes.fetch_add(1, Ordering::Relaxed);
        self.inner.note_removal();
        let removed = self.inner.memory.remove_inner(key);
        self.inner.report(CacheEventKind::Delete, CacheTier::Memory);
        self.inner.remote(Op::Delete(key.to_owned())).await;
        self.inner.note_removal();
        Ok(removed)
    }

    /// Drops every entry of `namespace` on both tiers and every instance, in
    /// O(1) per tier.
    ///
    /// # Errors
    /// [`CacheError::InvalidNamespace`] only.
    pub async fn invalidate_namespace(&self, namespace: &str) -> Result<(), CacheError> {
        let parsed = Namespace::parse(namespace)?;
        self.inner.note_removal();
        self.inner.memory.invalidate_parsed(parsed);
        self.inner.remote(Op::Invalidate(namespace.to_owned())).await;
        self.inner.note_removal();
        Ok(())
    }

    /// Removes entries matching `pattern` (all with `None`) on both tiers and
    /// every instance; returns how many distinct entries were removed from
    /// this instance's memory and from Redis (a key held by both counts
    /// once).
    ///
    /// Not counted: other instances' memory copies (they are copies of
    /// Redis's entries or were never shared); and while Redis is
    /// unreachable, its entries, since the clear only reaches Redis later.
    /// An entry hidden by a namespace invalidation whose key is still in
    /// Redis counts as removed. Telling the tiers' keys apart costs a set of
    /// the memory keys removed, bounded by the memory tier's `max_entries`.
    ///
    /// # Errors
    /// [`CacheError::InvalidPattern`] before anything is removed.
    pub async fn clear_matching(&self, pattern: Option<&str>) -> Result<u64, CacheError> {
        let parsed = pattern.map(KeyPattern::parse).transpose()?;
        Ok(self.clear_parsed(parsed.as_ref()).await)
    }

    /// [`clear_matching`](Self::clear_matching) for a parsed pattern.
    async fn clear_parsed(&self, parsed: Option<&KeyPattern>) -> u64 {
        let inner = &self.inner;
        inner.note_removal();
        let mut from_memory = HashSet::new();
        inner.memory.clear_parsed_with(parsed, |key| {
            from_memory.insert(Arc::clone(key));
        });
        let op = Op::Clear(parsed.cloned());
        let mut redis_only = 0u64;
        if inner.breaker.allows() {
            let cleared = inner
                .redis
                .clear_parsed(parsed, |key| {
                    let held = std::str::from_utf8(key).is_ok_and(|key| from_memory.contains(key));
                    redis_only += u64::from(!held);
                })
                .await;
            let published = match cleared {
                Ok(_) => inner.redis.publish(&op.message(&inner.id)).await,
                Err(e) => Err(e),
            };
            match published {
                Ok(()) => inner.breaker.record_success(),
                Err(e) => {
                    inner.redis_failed(&e, true);
                    inner.queue(op);
                }
            }
        } else {
            inner.queue(op);
        }
        inner.note_removal();
        from_memory.len() as u64 + redis_only
    }

    /// Statistics of both tiers, the tier that served recent hits, the
    /// breaker and the Redis failures by class and cause.
    pub fn snapshot(&self) -> CacheStats {
        let inner = &*self.inner;
        let (hits, misses) = (inner.hits.load(Ordering::Relaxed), inner.misses.load(Ordering::Relaxed));
        let recent = inner.hit_window.recent(inner.now_secs());
        CacheStats {
            hits,
            misses,
            hit_rate: hit_rate(hits, misses),
            total_operations: hits
                + misses
                + inner.sets.load(Ordering::Relaxed)
                + inner.deletes.load(Ordering::Relaxed),
            serving_tier: recent.serving_tier(),
            recent_hits: Some(recent),
            memory: inner.memory.tier_stats(),
            remote: Some(inner.redis.status(
                inner.breaker.available(),
                inner.breaker.state(),
                inner.breaker.times_opened(),
            )),
        }
    }
}

impl TieredInner {
    fn is_bumping(&self, key: CacheKey<'_>) -> bool {
        if self.bumping_any.load(Ordering::Acquire) == 0 {
            return false;
        }
        key.namespace().is_some_and(|ns| self.bumping.lock().contains_key(ns.as_str()))
    }

    /// Whether a removal Redis has not applied yet covers `key`, so that
    /// Redis's copy may be stale.
    fn is_pending(&self, key: CacheKey<'_>) -> bool {
        self.pending_any.load(Ordering::Acquire)
            && (self.pending.lock().affects(key) || self.in_flight.lock().affects(key))
    }

    fn now_secs(&self) -> u64 {
        self.memory.now().as_unix_micros() / 1_000_000
    }

    fn count_lookup(&self, hit: bool, tier: CacheTier) {
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        if hit {
            self.hit_window.record(tier, self.now_secs());
        }
        RequestScope::with_current(|s| {
            if let Some(s) = s {
                s.record_cache(hit);
            }
        });
        self.report(if hit { CacheEventKind::Hit } else { CacheEventKind::Miss }, tier);
    }

    fn report(&self, kind: CacheEventKind, tier: CacheTier) {
        if let Some(r) = &self.recorder {
            r.record_cache(&CacheEvent { kind, tier, at: self.memory.now() });
        }
    }
}

impl CacheAdmin for TieredCache {
    fn stats(&self) -> BoxFuture<'_, Result<CacheStats, CacheStoreError>> {
        Box::pin(async move { Ok(self.snapshot()) })
    }

    fn clear<'a>(&'a self, pattern: Option<&'a KeyPattern>) -> BoxFuture<'a, Result<u64, CacheStoreError>> {
        Box::pin(async move { Ok(self.clear_parsed(pattern).await) })
    }
}

impl CacheStore for TieredCache {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Arc<[u8]>>, CacheStoreError>> {
        Box::pin(async move { Ok(self.fetch(key).await?) })
    }

    fn set<'a>(&'a self, key: &'a str, value: Arc<[u8]>, ttl: Duration) -> BoxFuture<'a, Result<(), CacheStoreError>> {
        Box::pin(async move { Ok(self.store(key, value, ttl).await?) })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, CacheStoreError>> {
        Box::pin(async move { Ok(self.remove(key).await?) })
    }

    fn invalidate<'a>(&'a self, namespace: &'a str) -> BoxFuture<'a, Result<(), CacheStoreError>> {
        Box::pin(async move { Ok(self.invalidate_namespace(namespace).await?) })
    }
}

impl Invalidator for TieredCache {
    /// Invalidates the memory tier now; Redis and other instances follow on
    /// the cache's runtime.
    fn invalidate_now(&self, namespace: &str) -> Result<(), CacheStoreError> {
        let parsed = Namespace::parse(namespace).map_err(CacheStoreError::from)?;
        self.inner.note_removal();
        self.inner.memory.invalidate_parsed(parsed);
        // Until Redis has the new generation, this instance must not read the
        // namespace's old values back from it.
        *self.inner.bumping.lock().entry(namespace.to_owned()).or_insert(0) += 1;
        self.inner.bumping_any.fetch_add(1, Ordering::AcqRel);
        let inner = Arc::clone(&self.inner);
        let namespace = namespace.to_owned();
        self.inner.runtime.spawn(async move {
            inner.remote(Op::Invalidate(namespace.clone())).await;
            inner.note_removal();
            let mut bumping = inner.bumping.lock();
            if let Some(n) = bumping.get_mut(&namespace) {
                *n -= 1;
                if *n == 0 {
                    bumping.remove(&namespace);
                }
            }
            inner.bumping_any.fetch_sub(1, Ordering::AcqRel);
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests;
