//! Cache hit costs, side by side with their peers:
//! `perf-cache/memory_hit` (memory tier vs raw DashMap get+clone, moka,
//! quick_cache) and `perf-cache/redis_hit` (a tiered-cache hit served by
//! Redis vs a raw redis-rs GET). The Redis group is skipped, with a note on
//! stderr, when `PERF_TEST_REDIS_URL` (default `redis://127.0.0.1:6379/`)
//! does not answer.
#![allow(clippy::unwrap_used)]

use std::{hint::black_box, sync::Arc, time::Duration};

use criterion::{Criterion, criterion_group, criterion_main};
use dashmap::DashMap;
use perf_cache::MemoryCache;
#[cfg(feature = "redis")]
use perf_cache::{TieredCache, TieredConfig};
#[cfg(feature = "redis")]
use redis::AsyncCommands;

const KEYS: usize = 1000;

fn keys() -> Vec<String> {
    (0..KEYS).map(|i| format!("bench:{i}")).collect()
}

fn memory_hit(c: &mut Criterion) {
    let keys = keys();
    let value: Arc<[u8]> = Arc::from(vec![7u8; 64]);
    let ttl = Duration::from_secs(3600);

    let ours = MemoryCache::new().unwrap();
    let raw: DashMap<String, Arc<[u8]>> = DashMap::new();
    let moka_cache: moka::sync::Cache<String, Arc<[u8]>> = moka::sync::Cache::new(10_000);
    let quick: quick_cache::sync::Cache<String, Arc<[u8]>> = quick_cache::sync::Cache::new(10_000);
    for k in &keys {
        ours.insert(k, value.clone(), ttl).unwrap();
        raw.insert(k.clone(), value.clone());
        moka_cache.insert(k.clone(), value.clone());
        quick.insert(k.clone(), value.clone());
    }

    let mut g = c.benchmark_group("perf-cache/memory_hit");
    let mut i = 0usize;
    g.bench_function("perfkit_memory", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(ours.lookup(black_box(&keys[i])))
        })
    });
    g.bench_function("dashmap_get_clone", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(raw.get(black_box(keys[i].as_str())).map(|r| r.value().clone()))
        })
    });
    g.bench_function("moka_sync_get", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(moka_cache.get(black_box(&keys[i])))
        })
    });
    g.bench_function("quick_cache_get", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(quick.get(black_box(keys[i].as_str())))
        })
    });
    g.finish();
}

#[cfg(feature = "redis")]
fn redis_hit(c: &mut Criterion) {
    let url = std::env::var("PERF_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let reachable = rt.block_on(async {
        let Ok(client) = redis::Client::open(url.as_str()) else { return None };
        let fut = client.get_multiplexed_async_connection();
        match tokio::time::timeout(Duration::from_secs(1), fut).await {
            Ok(Ok(conn)) => Some(conn),
            _ => None,
        }
    });
    let Some(mut raw) = reachable else {
        eprintln!(
            "perf-cache/redis_hit: Redis at {} is not reachable; skipping this group",
            perf_core::redact_url(&url)
        );
        return;
    };
    let prefix = format!("perfkit-bench:{}:", std::process::id());
    let mut config = TieredConfig::new(url.clone());
    config.redis = config.redis.prefix(prefix.clone()).op_timeout(Duration::from_millis(500));
    // No memory copies of Redis reads: every hit below is served by Redis.
    config.l1_ttl = Duration::ZERO;
    let tiered = rt.block_on(async { TieredCache::new(config, None).unwrap() });
    let value = vec![7u8; 64];
    let raw_key = format!("{prefix}raw");
    rt.block_on(async {
        tiered.redis().store("hit", &value, Duration::from_secs(600)).await.unwrap();
        let _: () = raw.set_ex(&raw_key, value.clone(), 600).await.unwrap();
    });

    let mut g = c.benchmark_group("perf-cache/redis_hit");
    g.bench_function("perfkit_tiered", |b| {
        b.to_async(&rt).iter(|| async { black_box(tiered.fetch("hit").await.unwrap().unwrap()) })
    });
    g.bench_function("redis_rs_get", |b| {
        b.to_async(&rt).iter(|| {
            let mut conn = raw.clone();
            let key = raw_key.clone();
            async move { black_box(conn.get::<_, Option<Vec<u8>>>(&key).await.unwrap().unwrap()) }
        })
    });
    g.finish();
    rt.block_on(async {
        tiered.clear_matching(None).await.unwrap();
        let _: () = raw.del(&raw_key).await.unwrap();
    });
}

#[cfg(feature = "redis")]
criterion_group!(benches, memory_hit, redis_hit);
#[cfg(not(feature = "redis"))]
criterion_group!(benches, memory_hit);
criterion_main!(benches);
