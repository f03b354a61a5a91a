//! [`MapCache`]: a map-backed [`CacheStore`] for tests of code that uses a
//! cache (perf-cache provides the production stores).

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use parking_lot::Mutex;

use crate::{BoxFuture, CacheAdmin, CacheKey, CacheStats, CacheStore, CacheStoreError, KeyPattern, Namespace};

/// A map-backed [`CacheStore`] that follows the real tiers' rules for keys,
/// namespaces and patterns: a key is parsed as a [`CacheKey`] and a name as a
/// [`Namespace`] (refusals are [`CacheStoreError::InvalidKey`]),
/// `invalidate` drops exactly the keys whose namespace is the one given, and
/// `clear` matches with [`KeyPattern`]. TTLs are accepted and not enforced.
#[derive(Debug, Default)]
pub struct MapCache {
    /// Stored values by key.
    pub entries: Mutex<BTreeMap<String, Arc<[u8]>>>,
    /// Calls of `get` so far.
    pub gets: AtomicU64,
    /// While set, `get`, `set`, `stats` and `clear` fail with this message
    /// as [`CacheStoreError::Backend`].
    pub failure: Mutex<Option<String>>,
    /// What `stats` reports, with `memory.entries` and `memory.bytes` (keys
    /// plus values) taken from the map; `None` reports no operations.
    pub reported: Mutex<Option<CacheStats>>,
}

impl MapCache {
    /// The keys held, in order.
    pub fn keys(&self) -> Vec<String> {
        self.entries.lock().keys().cloned().collect()
    }

    fn failing(&self) -> Result<(), CacheStoreError> {
        match &*self.failure.lock() {
            Some(message) => Err(CacheStoreError::Backend { message: message.clone(), source: None }),
            None => Ok(()),
        }
    }
}

impl CacheAdmin for MapCache {
    fn stats(&self) -> BoxFuture<'_, Result<CacheStats, CacheStoreError>> {
        Box::pin(async move {
            self.failing()?;
            let (entries, bytes) = {
                let map = self.entries.lock();
                (map.len() as u64, map.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum())
            };
            let mut stats = self.reported.lock().clone().unwrap_or_else(CacheStats::empty);
            stats.memory.entries = Some(entries);
            stats.memory.bytes = Some(bytes);
            Ok(stats)
        })
    }

    fn clear<'a>(&'a self, pattern: Option<&'a KeyPattern>) -> BoxFuture<'a, Result<u64, CacheStoreError>> {
        Box::pin(async move {
            self.failing()?;
            let mut entries = self.entries.lock();
            let before = entries.len();
            entries.retain(|k, _| pattern.is_some_and(|p| !p.matches(k)));
            Ok((before - entries.len()) as u64)
        })
    }
}

impl CacheStore for MapCache {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Arc<[u8]>>, CacheStoreError>> {
        Box::pin(async move {
            self.gets.fetch_add(1, Ordering::Relaxed);
            self.failing()?;
            let key = CacheKey::parse(key)?;
            Ok(self.entries.lock().get(key.as_str()).cloned())
        })
    }

    fn set<'a>(&'a self, key: &'a str, value: Arc<[u8]>, _ttl: Duration) -> BoxFuture<'a, Result<(), CacheStoreError>> {
        Box::pin(async move {
            self.failing()?;
            let key = CacheKey::parse(key)?;
            self.entries.lock().insert(key.as_str().to_owned(), value);
            Ok(())
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, CacheStoreError>> {
        Box::pin(async move {
            let key = CacheKey::parse(key)?;
            Ok(self.entries.lock().remove(key.as_str()).is_some())
        })
    }

    fn invalidate<'a>(&'a self, namespace: &'a str) -> BoxFuture<'a, Result<(), CacheStoreError>> {
        Box::pin(async move {
            let namespace = Namespace::parse(namespace)?;
            self.entries.lock().retain(|k, _| Namespace::of(k) != Some(namespace));
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests;
