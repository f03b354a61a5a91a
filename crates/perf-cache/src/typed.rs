//! [`TypedCache`]: the typed front of any byte cache, with single-flight
//! [`TypedCache::get_or_compute`].
//!
//! Values are encoded with postcard: compact, non-self-describing, so a
//! type's field order is its format. A value that no longer decodes (its
//! type changed) counts as a miss for `get_or_compute` and is recomputed.

use std::{future::Future, sync::Arc, time::Duration};

use dashmap::DashMap;
use perf_core::{CacheStore, Invalidator};
use serde::{Serialize, de::DeserializeOwned};

use crate::CacheError;

/// A cache usable behind [`TypedCache`]: a [`CacheStore`] that can also
/// invalidate synchronously. Implemented for every type that is both.
pub trait CacheBackend: CacheStore + Invalidator {}

impl<T: CacheStore + Invalidator + ?Sized> CacheBackend for T {}

/// Typed get/set over any [`CacheBackend`], plus single-flight
/// computation. Cloning is cheap; clones share in-flight computations.
///
/// # Examples
/// ```
/// use std::{sync::Arc, time::Duration};
/// use perf_cache::{TypedCache, MemoryCache};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let cache = TypedCache::new(Arc::new(MemoryCache::new()?));
/// let n: u64 = cache
///     .get_or_compute("stats:total", Duration::from_secs(60), || async { Ok::<_, std::io::Error>(42) })
///     .await?;
/// assert_eq!(n, 42);
/// assert_eq!(cache.get::<u64>("stats:total").await?, Some(42));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct TypedCache {
    backend: Arc<dyn CacheBackend>,
    flights: Arc<Flights>,
}

impl std::fmt::Debug for TypedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedCache").field("in_flight", &self.flights.len()).finish_non_exhaustive()
    }
}

impl TypedCache {
    /// A typed front for `backend`.
    pub fn new(backend: Arc<dyn CacheBackend>) -> Self {
        TypedCache { backend, flights: Arc::new(DashMap::with_hasher(foldhash::fast::RandomState::default())) }
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn CacheBackend> {
        &self.backend
    }

    /// The value under `key`, decoded.
    ///
    /// # Errors
    /// [`CacheError::Store`] from the backend, [`CacheError::Codec`] when the
    /// stored bytes are not a `T`.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, CacheError> {
        match self.backend.get(key).await.map_err(CacheError::Store)? {
            Some(bytes) => Ok(Some(postcard::from_bytes(&bytes).map_err(CacheError::Codec)?)),
            None => Ok(None),
        }
    }

    /// Stores `value` under `key` for `ttl`.
    ///
    /// # Errors
    /// [`CacheError::Codec`] when `value` cannot be encoded,
    /// [`CacheError::Store`] from the backend.
    pub async fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T, ttl: Duration) -> Result<(), CacheError> {
        let bytes = postcard::to_stdvec(value).map_err(CacheError::Codec)?;
        self.backend.set(key, Arc::from(bytes), ttl).await.map_err(CacheError::Store)
    }

    /// Removes `key`.
    ///
    /// # Errors
    /// [`CacheError::Store`] from the backend.
    pub async fn delete(&self, key: &str) -> Result<bool, CacheError> {
        self.backend.delete(key).await.map_err(CacheError::Store)
    }

    /// Drops every entry of `namespace`.
    ///
    /// # Errors
    /// [`CacheError::Store`] for an unusable namespace.
    pub async fn invalidate(&self, namespace: &str) -> Result<(), CacheError> {
        self.backend.invalidate(namespace).await.map_err(CacheError::Store)
    }

    /// The cached value under `key`, or the result of `f`, stored for `ttl`
    /// when it is `Ok`.
    ///
    /// # Guarantees
    /// - Concurrent callers that miss the same key on this `TypedCache` (and its
    ///   clones) wait for one computation instead of each running `f`.
    /// - An `Err` from `f` is returned to the caller that ran it and is not
    ///   cached; callers that waited then compute in turn.
    /// - Cache failures never fail the call: an undecodable value or a
    ///   backend error means computing (and possibly not storing) the value.
    /// - A caller whose future is dropped (cancelled, timed out) or whose `f`
    ///   panics ends its part of the flight on the way out: a waiting caller
    ///   then computes, and no entry is left behind for the key.
    ///
    /// # Errors
    /// Only what `f` returns.
    pub async fn get_or_compute<T, E, F, Fut>(&self, key: &str, ttl: Duration, f: F) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(v) = self.lookup(key).await {
            return Ok(v);
        }
        // Declared before the lock guard, so the lock is released first and
        // the flight ends however this future stops: returning, failing,
        // panicking in `f` or dropped while waiting or computing.
        let flight = Flight {
            flights: &self.flights,
            key,
            mutex: Some(self.flights.entry(key.to_owned()).or_default().clone()),
        };
        // Always `Some` until the flight drops; computing alone is the
        // harmless answer to the impossible `None`.
        let Some(mutex) = flight.mutex.as_deref() else { return f().await };
        let _computing = match mutex.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                let guard = mutex.lock().await;
                if let Some(v) = self.lookup(key).await {
                    return Ok(v);
                }
                guard
            }
        };
        let result = f().await;
        if let Ok(v) = &result
            && let Err(e) = self.set(key, v, ttl).await
        {
            tracing::warn!(error = %e, key, "computed value not cached");
        }
        result
    }

    /// How many callers are waiting for an in-flight computation of `key`.
    pub fn waiting_on(&self, key: &str) -> usize {
        // The map holds one reference and the computing caller another.
        self.flights.get(key).map_or(0, |f| Arc::strong_count(&f).saturating_sub(2))
    }

    async fn lookup<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        match self.get(key).await {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!(error = %e, key, "cached value unusable; recomputing");
                None
            }
        }
    }
}

type Flights = DashMap<String, Arc<tokio::sync::Mutex<()>>, foldhash::fast::RandomState>;

/// One caller's part in the single flight of a key: ends the flight when
/// dropped, removing the key's entry once no other caller holds it.
struct Flight<'a> {
    flights: &'a Flights,
    key: &'a str,
    /// `Some` until dropped.
    mutex: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let Some(mutex) = self.mutex.take() else { return };
        let ours = Arc::as_ptr(&mutex);
        // Release our reference first, then remove the entry if only the
        // map holds it. Every clone is made under the map's shard lock,
        // which `remove_if` holds too, so two callers ending at once cannot
        // both see the other's reference and both leave the entry.
        drop(mutex);
        self.flights.remove_if(self.key, |_, f| Arc::as_ptr(f) == ours && Arc::strong_count(f) == 1);
    }
}

#[cfg(test)]
mod tests;
