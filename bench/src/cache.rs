//! The memory tier beside its peers. A hit on one of 1,000 keys holding 64
//! bytes: perfkit's `MemoryCache` beside a raw DashMap get + clone,
//! quick_cache and moka (sync). A miss on a key never stored, and an insert
//! of a new key into a cache full at 1,000 entries (so every insert evicts
//! one), beside quick_cache.

use std::{hint::black_box, num::NonZeroUsize, sync::Arc, time::Duration};

use anyhow::{Context, Result};
use dashmap::DashMap;
use perf_cache::MemoryCache;

use crate::{Op, Variant};

const GROUP: &str = "perf-cache/memory_hit";
const MISS: &str = "perf-cache/memory_miss";
const INSERT: &str = "perf-cache/memory_insert";
const KEYS: u64 = 1_000;
/// Keys an insert variant rotates through: four times what the cache holds.
const INSERT_KEYS: u64 = KEYS * 4;

pub(crate) fn variants() -> Vec<Variant> {
    let v = |group, name, make: fn() -> Result<Op>| Variant {
        group,
        name,
        baseline: None,
        warm_up: INSERT_KEYS,
        n1: 4_000,
        make: Box::new(make),
    };
    vec![
        v(GROUP, "dashmap_get_clone", dashmap),
        v(GROUP, "quick_cache_get", quick_cache),
        v(GROUP, "moka_sync_get", moka),
        v(GROUP, "perfkit_memory", perfkit_memory),
        v(MISS, "quick_cache_miss", quick_cache_miss),
        v(MISS, "perfkit_memory_miss", perfkit_memory_miss),
        v(INSERT, "quick_cache_insert", quick_cache_insert),
        v(INSERT, "perfkit_memory_insert", perfkit_memory_insert),
    ]
}

fn keys() -> Vec<String> {
    (0..KEYS).map(|i| format!("bench:{i}")).collect()
}

fn value() -> Arc<[u8]> {
    Arc::from(vec![7u8; 64])
}

fn key(keys: &[String], i: u64) -> &str {
    black_box(&keys[(i % KEYS) as usize])
}

fn perfkit_memory() -> Result<Op> {
    let cache = MemoryCache::new()?;
    let keys = keys();
    for k in &keys {
        cache.insert(k, value(), Duration::from_secs(3600))?;
    }
    Ok(Box::new(move |i| {
        black_box(cache.lookup(key(&keys, i)));
    }))
}

fn perfkit_memory_miss() -> Result<Op> {
    let cache = MemoryCache::new()?;
    let keys = keys();
    for k in &keys {
        cache.insert(k, value(), Duration::from_secs(3600))?;
    }
    let absent = absent_keys();
    Ok(Box::new(move |i| {
        black_box(cache.lookup(key(&absent, i)));
    }))
}

fn perfkit_memory_insert() -> Result<Op> {
    let cache = MemoryCache::builder().max_entries(NonZeroUsize::new(KEYS as usize).context("no keys")?).build()?;
    let keys = insert_keys();
    let value = value();
    Ok(Box::new(move |i| {
        let k = black_box(&keys[(i % INSERT_KEYS) as usize]);
        black_box(cache.insert(k, value.clone(), Duration::from_secs(3600))).ok();
    }))
}

/// 1,000 keys of the same shape as [`keys`], none of them stored.
fn absent_keys() -> Vec<String> {
    (0..KEYS).map(|i| format!("bench:absent{i}")).collect()
}

fn insert_keys() -> Vec<String> {
    (0..INSERT_KEYS).map(|i| format!("bench:{i}")).collect()
}

fn dashmap() -> Result<Op> {
    let map: DashMap<String, Arc<[u8]>> = DashMap::new();
    let keys = keys();
    for k in &keys {
        map.insert(k.clone(), value());
    }
    Ok(Box::new(move |i| {
        black_box(map.get(key(&keys, i)).map(|r| r.value().clone()));
    }))
}

fn quick_cache() -> Result<Op> {
    let cache: quick_cache::sync::Cache<String, Arc<[u8]>> = quick_cache::sync::Cache::new(10_000);
    let keys = keys();
    for k in &keys {
        cache.insert(k.clone(), value());
    }
    Ok(Box::new(move |i| {
        black_box(cache.get(key(&keys, i)));
    }))
}

fn quick_cache_miss() -> Result<Op> {
    let cache: quick_cache::sync::Cache<String, Arc<[u8]>> = quick_cache::sync::Cache::new(10_000);
    let keys = keys();
    for k in &keys {
        cache.insert(k.clone(), value());
    }
    let absent = absent_keys();
    Ok(Box::new(move |i| {
        black_box(cache.get(key(&absent, i)));
    }))
}

fn quick_cache_insert() -> Result<Op> {
    let cache: quick_cache::sync::Cache<String, Arc<[u8]>> = quick_cache::sync::Cache::new(KEYS as usize);
    let keys = insert_keys();
    let value = value();
    Ok(Box::new(move |i| {
        let k = black_box(&keys[(i % INSERT_KEYS) as usize]);
        cache.insert(k.clone(), value.clone());
    }))
}

fn moka() -> Result<Op> {
    let cache: moka::sync::Cache<String, Arc<[u8]>> = moka::sync::Cache::new(10_000);
    let keys = keys();
    for k in &keys {
        cache.insert(k.clone(), value());
    }
    Ok(Box::new(move |i| {
        black_box(cache.get(key(&keys, i)));
    }))
}
