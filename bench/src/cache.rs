//! A memory-tier hit on one of 1,000 keys holding 64 bytes: perfkit's
//! `MemoryCache` beside a raw DashMap get + clone, quick_cache and moka (sync).

use std::{hint::black_box, sync::Arc, time::Duration};

use anyhow::Result;
use dashmap::DashMap;
use perf_cache::MemoryCache;

use crate::{Op, Variant};

const GROUP: &str = "perf-cache/memory_hit";
const KEYS: u64 = 1_000;

pub(crate) fn variants() -> Vec<Variant> {
    let v = |name, make: fn() -> Result<Op>| Variant {
        group: GROUP,
        name,
        baseline: None,
        warm_up: KEYS * 4,
        n1: 4_000,
        make: Box::new(make),
    };
    vec![
        v("dashmap_get_clone", dashmap),
        v("quick_cache_get", quick_cache),
        v("moka_sync_get", moka),
        v("perfkit_memory", perfkit_memory),
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
