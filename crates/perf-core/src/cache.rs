//! The cache traits: [`CacheStore`] (bytes in, bytes out), [`CacheAdmin`]
//! (what the API needs) and [`Invalidator`] (what query instrumentation needs).

use std::{collections::BTreeMap, future::Future, pin::Pin, sync::Arc, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{CacheStoreError, KeyPattern, Timestamp};

/// A boxed, sendable future: how async trait methods stay object safe
/// without pulling a runtime into perf-core.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The breaker state of a remote tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Requests go to the remote tier.
    Closed,
    /// The remote tier failed; everything is served from memory.
    Open,
    /// A probe is checking whether the remote tier is back.
    HalfOpen,
}

/// Statistics of one tier.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TierStats {
    /// Lookups that found a value.
    pub hits: u64,
    /// Lookups that found nothing.
    pub misses: u64,
    /// Values stored.
    pub sets: u64,
    /// Values removed on request.
    pub deletes: u64,
    /// Values evicted to respect a bound.
    pub evictions: u64,
    /// Values dropped because their TTL passed.
    pub expirations: u64,
    /// Failed operations.
    pub errors: u64,
    /// Entries held now (when known).
    pub entries: Option<u64>,
    /// Bytes held now (when known).
    pub bytes: Option<u64>,
}

/// State of a cache's remote tier (one shared by every instance of the
/// service, reached over the network) as seen by this instance. The
/// implementation fills it; perf-cache's Redis tier is one. On the wire
/// (`/api/performance/cache`) the tier's field names are the ones the API
/// has always used (`available`, and `redis` for the tier itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteTierStatus {
    /// Whether the tier could be reached by the last operation or liveness
    /// probe. A command the tier refused (for Redis: OOM, READONLY, ...)
    /// still counts as reached.
    #[serde(rename = "available")]
    pub reachable: bool,
    /// The circuit breaker's state.
    pub breaker: BreakerState,
    /// How many times the breaker went from closed to open.
    pub breaker_openings: u64,
    /// Operations that failed because the tier could not be reached (I/O
    /// error, refused or dropped connection, timeout).
    pub unreachable_errors: u64,
    /// The latest reason the tier could not be reached (operations and
    /// probes), if it ever was unreachable.
    pub last_unreachable: Option<TierErrorCause>,
    /// Commands the tier answered with an error, by cause as the
    /// implementation names it (perf-cache's Redis tier: the server's error
    /// code `OOM`, `READONLY`, `NOAUTH`, `WRONGTYPE`, `ERR`, ... or, for
    /// errors the client raised on a reply, `TYPE`, `AUTH`, `CLIENT` or
    /// `OTHER`). They never open the breaker.
    pub command_errors: BTreeMap<String, CommandErrorStats>,
    /// The tier's counters; `errors` counts both kinds of failure.
    pub stats: TierStats,
}

/// Why a call to a tier failed, as last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierErrorCause {
    /// The error as the client or server phrased it.
    pub message: String,
    /// When it happened.
    pub at: Timestamp,
}

/// Commands a tier refused for one cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandErrorStats {
    /// How many commands failed this way.
    pub count: u64,
    /// The latest failure of this kind.
    pub last: TierErrorCause,
}

/// Which tier answered a cache's recent hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServingTier {
    /// The in-process memory tier.
    Memory,
    /// The remote tier (`"redis"` in JSON, the name the API has always used).
    #[serde(rename = "redis")]
    Remote,
    /// No lookup hit recently.
    None,
}

impl ServingTier {
    /// The name used in JSON: `"memory"`, `"redis"` or `"none"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ServingTier::Memory => "memory",
            ServingTier::Remote => "redis",
            ServingTier::None => "none",
        }
    }
}

/// Hits per tier over a recent window: the evidence behind
/// [`CacheStats::serving_tier`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RecentHits {
    /// Length of the window, seconds (the current second included).
    pub window_secs: u64,
    /// Hits the memory tier answered in the window.
    pub memory: u64,
    /// Hits the remote tier answered in the window (`redis` in JSON).
    #[serde(rename = "redis")]
    pub remote: u64,
}

impl RecentHits {
    /// The tier with more hits in the window; the remote tier on a tie
    /// (each of its hits proves it is in use), [`ServingTier::None`]
    /// without hits.
    pub const fn serving_tier(&self) -> ServingTier {
        match (self.memory, self.remote) {
            (0, 0) => ServingTier::None,
            (m, r) if m > r => ServingTier::Memory,
            _ => ServingTier::Remote,
        }
    }
}

/// Statistics of a cache as the API reports them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheStats {
    /// Lookups answered with a value, over all tiers.
    pub hits: u64,
    /// Lookups answered without one.
    pub misses: u64,
    /// hits / (hits + misses), 0 without lookups.
    pub hit_rate: f64,
    /// All operations counted.
    pub total_operations: u64,
    /// Which tier served the recent hits. A tiered cache derives it from
    /// [`recent_hits`](Self::recent_hits); a single-tier cache names its
    /// only tier; a cache that holds nothing says [`ServingTier::None`].
    pub serving_tier: ServingTier,
    /// Hits per tier over a recent window, where the cache tracks them.
    pub recent_hits: Option<RecentHits>,
    /// The memory tier.
    pub memory: TierStats,
    /// The remote tier, when configured (`redis` in JSON).
    #[serde(rename = "redis")]
    pub remote: Option<RemoteTierStatus>,
}

impl CacheStats {
    /// The statistics of a cache that was never used: no operations, no
    /// serving tier, no remote tier.
    pub fn empty() -> CacheStats {
        CacheStats {
            hits: 0,
            misses: 0,
            hit_rate: 0.0,
            total_operations: 0,
            serving_tier: ServingTier::None,
            recent_hits: None,
            memory: TierStats::default(),
            remote: None,
        }
    }
}

/// What the API needs from a cache: statistics and clearing.
pub trait CacheAdmin: Send + Sync {
    /// Current statistics.
    fn stats(&self) -> BoxFuture<'_, Result<CacheStats, CacheStoreError>>;

    /// Removes every entry matching `pattern` (parsed where it entered,
    /// see [`KeyPattern`]), or every entry when `None`; returns how many
    /// distinct entries were removed, over every tier the backend can count
    /// (a key held by several tiers counts once).
    ///
    /// # Errors
    /// A backend failure the implementation cannot fall back from.
    fn clear<'a>(&'a self, pattern: Option<&'a KeyPattern>) -> BoxFuture<'a, Result<u64, CacheStoreError>>;
}

/// A byte-oriented cache with TTLs: what response caching and query caching
/// build on. Implemented by perf-cache's memory, Redis and tiered caches.
pub trait CacheStore: CacheAdmin {
    /// The value under `key`, if present and fresh.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Arc<[u8]>>, CacheStoreError>>;

    /// Stores `value` under `key` for `ttl`.
    fn set<'a>(&'a self, key: &'a str, value: Arc<[u8]>, ttl: Duration) -> BoxFuture<'a, Result<(), CacheStoreError>>;

    /// Removes `key`; true if it was present (where the backend can tell).
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, CacheStoreError>>;

    /// Drops every entry of `namespace` at once (O(1) at any key count).
    ///
    /// A key's namespace is the text before its first `:` (`users:42` is in
    /// `users`); keys without a `:` belong to no namespace. The rules are
    /// [`CacheKey`](crate::CacheKey)'s and [`Namespace`](crate::Namespace)'s.
    fn invalidate<'a>(&'a self, namespace: &'a str) -> BoxFuture<'a, Result<(), CacheStoreError>>;
}

/// Synchronous namespace invalidation, callable from blocking code such as
/// diesel instrumentation. Implemented by perf-cache; called by perf-db when
/// a write to a table commits.
///
/// # Guarantees
/// When `invalidate` returns, reads through this instance no longer see the
/// namespace's old entries; remote tiers and other instances follow
/// asynchronously.
pub trait Invalidator: Send + Sync {
    /// Invalidates every entry tagged with `namespace`.
    ///
    /// # Errors
    /// Only for an unusable namespace name; backend failures are handled by
    /// the implementation's fallback rules.
    fn invalidate_now(&self, namespace: &str) -> Result<(), CacheStoreError>;
}

macro_rules! forward_cache {
    ($($ty:ty),*) => {$(
        impl<T: CacheAdmin + ?Sized> CacheAdmin for $ty {
            fn stats(&self) -> BoxFuture<'_, Result<CacheStats, CacheStoreError>> { (**self).stats() }
            fn clear<'a>(&'a self, pattern: Option<&'a KeyPattern>) -> BoxFuture<'a, Result<u64, CacheStoreError>> { (**self).clear(pattern) }
        }
        impl<T: CacheStore + ?Sized> CacheStore for $ty {
            fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Arc<[u8]>>, CacheStoreError>> { (**self).get(key) }
            fn set<'a>(&'a self, key: &'a str, value: Arc<[u8]>, ttl: Duration) -> BoxFuture<'a, Result<(), CacheStoreError>> { (**self).set(key, value, ttl) }
            fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, CacheStoreError>> { (**self).delete(key) }
            fn invalidate<'a>(&'a self, namespace: &'a str) -> BoxFuture<'a, Result<(), CacheStoreError>> { (**self).invalidate(namespace) }
        }
        impl<T: Invalidator + ?Sized> Invalidator for $ty {
            fn invalidate_now(&self, namespace: &str) -> Result<(), CacheStoreError> { (**self).invalidate_now(namespace) }
        }
    )*};
}
forward_cache!(&T, Box<T>, Arc<T>);

/// A cache that holds nothing: every lookup misses, every write is dropped.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopCache;

impl CacheAdmin for NoopCache {
    fn stats(&self) -> BoxFuture<'_, Result<CacheStats, CacheStoreError>> {
        Box::pin(async { Ok(CacheStats::empty()) })
    }
    fn clear<'a>(&'a self, _pattern: Option<&'a KeyPattern>) -> BoxFuture<'a, Result<u64, CacheStoreError>> {
        Box::pin(async { Ok(0) })
    }
}

impl CacheStore for NoopCache {
    fn get<'a>(&'a self, _key: &'a str) -> BoxFuture<'a, Result<Option<Arc<[u8]>>, CacheStoreError>> {
        Box::pin(async { Ok(None) })
    }
    fn set<'a>(
        &'a self,
        _key: &'a str,
        _value: Arc<[u8]>,
        _ttl: Duration,
    ) -> BoxFuture<'a, Result<(), CacheStoreError>> {
        Box::pin(async { Ok(()) })
    }
    fn delete<'a>(&'a self, _key: &'a str) -> BoxFuture<'a, Result<bool, CacheStoreError>> {
        Box::pin(async { Ok(false) })
    }
    fn invalidate<'a>(&'a self, _namespace: &'a str) -> BoxFuture<'a, Result<(), CacheStoreError>> {
        Box::pin(async { Ok(()) })
    }
}

impl Invalidator for NoopCache {
    fn invalidate_now(&self, _namespace: &str) -> Result<(), CacheStoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
