//! The tiered cache's statistics against ground truth the tests count
//! themselves: which tier served the hits, and how many entries a clear
//! removed.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use perf_cache::{TieredCache, TieredConfig};
use perf_core::{RecentHits, ServingTier};

use crate::{raw_connection, redis_url, unique_prefix, wait_for};

fn config(prefix: &str) -> TieredConfig {
    let mut c = TieredConfig::new(redis_url());
    c.redis = c.redis.prefix(prefix).op_timeout(Duration::from_millis(500));
    c
}

async fn cache(prefix: &str) -> TieredCache {
    let c = TieredCache::new(config(prefix), None).unwrap();
    assert!(wait_for(|| async { c.is_subscribed() }).await);
    c
}

fn v(s: &str) -> Arc<[u8]> {
    Arc::from(s.as_bytes())
}

fn recent(c: &TieredCache) -> (u64, u64, ServingTier) {
    let stats = c.snapshot();
    let RecentHits { memory, remote: redis, .. } = stats.recent_hits.unwrap();
    assert_eq!(stats.serving_tier, stats.recent_hits.unwrap().serving_tier());
    (memory, redis, stats.serving_tier)
}

// Issue 10: serving_tier said "redis" whenever the breaker was closed, even
// when memory answered every hit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_10_serving_tier_names_the_tier_that_answered_recent_hits() {
    let prefix = unique_prefix("serving");
    let writer = cache(&prefix).await;
    assert_eq!(recent(&writer), (0, 0, ServingTier::None), "no hits yet");
    let keys: Vec<String> = (0..5).map(|i| format!("users:{i}")).collect();
    for k in &keys {
        writer.store(k, v(k), Duration::from_secs(60)).await.unwrap();
    }
    for _ in 0..3 {
        for k in &keys {
            assert_eq!(writer.fetch(k).await.unwrap(), Some(v(k)));
        }
    }
    assert_eq!(recent(&writer), (15, 0, ServingTier::Memory), "the writer's memory answered every hit");

    // A second instance starts with empty memory: its first reads come from
    // Redis, its later ones from the copies it took.
    let reader = cache(&prefix).await;
    for k in &keys {
        assert_eq!(reader.fetch(k).await.unwrap(), Some(v(k)));
    }
    assert_eq!(recent(&reader), (0, 5, ServingTier::Remote));
    for _ in 0..2 {
        for k in &keys {
            assert_eq!(reader.fetch(k).await.unwrap(), Some(v(k)));
        }
    }
    assert_eq!(recent(&reader), (10, 5, ServingTier::Memory));
    // Misses are not hits.
    assert_eq!(reader.fetch("users:none").await.unwrap(), None);
    assert_eq!(recent(&reader), (10, 5, ServingTier::Memory));
    assert_eq!(reader.snapshot().hits, 15);
}

/// The cache keys (prefix and `k:` stripped) Redis holds under `prefix`
/// matching `glob`, by SCAN on a raw connection.
async fn redis_keys(prefix: &str, glob: &str) -> BTreeSet<String> {
    let mut raw = raw_connection(&redis_url()).await;
    let mut keys = BTreeSet::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}k:{glob}"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut raw)
            .await
            .unwrap();
        keys.extend(batch.into_iter().map(|k| k[prefix.len() + 2..].to_owned()));
        if next == 0 {
            return keys;
        }
        cursor = next;
    }
}

/// Ground truth for a clear of `glob` on `cache`: the keys Redis holds plus
/// the keys of `in_memory` the cache's memory holds, counted once each.
async fn expected_cleared(cache: &TieredCache, prefix: &str, glob: &str, in_memory: &[&str]) -> usize {
    let mut keys = redis_keys(prefix, glob).await;
    for k in in_memory {
        assert!(cache.memory().lookup(k).is_some(), "{k} is in memory");
        keys.insert((*k).to_owned());
    }
    keys.len()
}

// Issue 10: `cleared` counted only the memory tier's removed entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_10_cleared_counts_each_entry_removed_from_any_tier_once() {
    let prefix = unique_prefix("cleared");
    let a = cache(&prefix).await;
    let b = cache(&prefix).await;
    let ttl = Duration::from_secs(60);
    // In both tiers (written through A).
    for k in ["dash:1", "dash:2", "dash:3", "dash:4", "users:1"] {
        a.store(k, v(k), ttl).await.unwrap();
    }
    // In Redis only, as far as A knows (written through B).
    for k in ["dash:5", "dash:6", "users:2"] {
        b.store(k, v(k), ttl).await.unwrap();
    }
    // In A's memory only.
    for k in ["dash:7", "users:3"] {
        a.memory().insert(k, v(k), ttl).unwrap();
    }

    let dash_in_memory = ["dash:1", "dash:2", "dash:3", "dash:4", "dash:7"];
    let expected = expected_cleared(&a, &prefix, "dash:*", &dash_in_memory).await;
    assert_eq!(expected, 7, "ground truth: dash:1..=7");
    assert_eq!(a.clear_matching(Some("dash:*")).await.unwrap(), expected as u64);
    assert!(redis_keys(&prefix, "dash:*").await.is_empty());
    assert_eq!(redis_keys(&prefix, "*").await.len(), 2, "users:1 and users:2 are untouched");

    a.store("x:1", v("x"), ttl).await.unwrap();
    b.store("x:2", v("x"), ttl).await.unwrap();
    let expected = expected_cleared(&a, &prefix, "*", &["users:1", "users:3", "x:1"]).await;
    assert_eq!(expected, 5, "ground truth: users:1..=3, x:1, x:2");
    assert_eq!(a.clear_matching(None).await.unwrap(), expected as u64);
    assert!(redis_keys(&prefix, "*").await.is_empty());
    assert!(a.memory().is_empty());
    // A second clear finds nothing anywhere.
    assert_eq!(a.clear_matching(None).await.unwrap(), 0);
}
