//! Memory and Redis caching for perfkit, plus a tiered cache that keeps
//! answering from memory when Redis is down.
//!
//! Implements [`perf_core::CacheStore`], [`perf_core::CacheAdmin`] and
//! [`perf_core::Invalidator`]; knows nothing about HTTP or diesel.
//!
//! ```
//! use std::{sync::Arc, time::Duration};
//! use perf_cache::MemoryCache;
//!
//! let cache = MemoryCache::new()?;
//! cache.insert("users:42", Arc::from(&b"alice"[..]), Duration::from_secs(60))?;
//! assert_eq!(cache.lookup("users:42").as_deref(), Some(&b"alice"[..]));
//!
//! // O(1) invalidation of everything in the `users` namespace.
//! cache.invalidate_namespace("users")?;
//! assert!(cache.lookup("users:42").is_none());
//! # Ok::<(), perf_cache::CacheError>(())
//! ```
//!
//! # The pieces
//!
//! - [`MemoryCache`]: the in-process tier (dashmap, TTLs, entry and byte
//!   bounds, CLOCK eviction, background sweeping).
//! - `RedisCache` (feature `redis`, off by default): the Redis tier (lazy `ConnectionManager`, key prefix,
//!   per-operation timeout, SCAN + UNLINK clears, failures counted as
//!   unreachable or as command errors per cause, rate-limited warnings).
//! - `TieredCache` (feature `redis`): memory in front of Redis with a circuit breaker that
//!   only an unreachable Redis opens, a liveness timer that notices a dead
//!   Redis while memory answers everything, replay of invalidations missed
//!   during an outage, pub/sub coherence between instances, and stats that
//!   name the tier that served recent hits.
//! - [`TypedCache`]: typed values (postcard) and single-flight
//!   [`TypedCache::get_or_compute`] over any of them.
//! - [`install_default`], [`default_cache`], [`invalidate_now`] and the
//!   attributes [`macro@cached`] and [`macro@invalidate_on_change`]: function
//!   caching the way the spec's decorators do it, through the process-wide
//!   default cache.
//!
//! # Keys and namespaces
//!
//! Keys are 1 to 1,024 bytes. A key's namespace is the text before its first
//! `:` (`users:42` is in `users`); invalidating a namespace drops all of its
//! keys in O(1) on every tier and instance. Glob patterns for clears use
//! `*`, `?`, `[...]` and `\` and are matched against whole keys.
#[cfg(feature = "redis")]
mod breaker;
mod counters;
mod error;
#[cfg(feature = "redis")]
mod failures;
mod function;
mod memory;
#[cfg(feature = "redis")]
mod pending;
#[cfg(feature = "redis")]
mod redis_tier;
#[cfg(feature = "redis")]
mod serving;
#[cfg(feature = "redis")]
mod tiered;
mod ttl;
mod typed;

pub use perf_core::{MAX_KEY_BYTES, MAX_NAMESPACE_BYTES};
pub use perf_macros::{cached, invalidate_on_change};

pub use crate::{
    error::CacheError,
    function::{default_cache, install_default, invalidate_now},
    memory::{ENTRY_OVERHEAD_BYTES, MemoryCache, MemoryCacheBuilder, MemoryConfig},
    typed::{CacheBackend, TypedCache},
};
#[cfg(feature = "redis")]
pub use crate::{
    redis_tier::{RedisCache, RedisConfig},
    tiered::{TieredCache, TieredConfig},
};

/// What the expansions of [`macro@cached`] and [`macro@invalidate_on_change`]
/// call. Not an API: names and signatures here change with the macros.
#[doc(hidden)]
pub mod __private {
    pub use crate::function::{
        CacheableResult, Fallible, FunctionKey, cached_call, cached_result, function_key, invalidate_after,
        invalidate_after_ok, invalidate_after_ok_sync, invalidate_after_sync,
    };
}
