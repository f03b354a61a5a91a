//! Two tiered caches sharing the test Redis: write-through, Redis-served
//! hits and cross-instance invalidation.

use std::{sync::Arc, time::Duration};

use perf_cache::{TieredCache, TieredConfig};
use perf_core::{BreakerState, CacheEventKind, CacheTier, testing::RecordingRecorder};

use crate::{redis_url, unique_prefix, wait_for};

fn config(prefix: &str) -> TieredConfig {
    let mut c = TieredConfig::new(redis_url());
    c.redis = c.redis.prefix(prefix).op_timeout(Duration::from_millis(500));
    c
}

async fn pair(test: &str) -> (TieredCache, TieredCache, Arc<RecordingRecorder>) {
    let prefix = unique_prefix(test);
    let recorder = Arc::new(RecordingRecorder::default());
    let a = TieredCache::new(config(&prefix), None).unwrap();
    let b = TieredCache::new(config(&prefix), Some(recorder.clone())).unwrap();
    assert!(wait_for(|| async { a.is_subscribed() && b.is_subscribed() }).await);
    (a, b, recorder)
}

fn v(s: &str) -> Arc<[u8]> {
    Arc::from(s.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_through_value_is_served_by_redis_to_the_other_instance() {
    let (a, b, recorder) = pair("write_through").await;
    a.store("users:1", v("alice"), Duration::from_secs(30)).await.unwrap();
    assert_eq!(b.fetch("users:1").await.unwrap(), Some(v("alice")));
    assert_eq!(b.fetch("users:1").await.unwrap(), Some(v("alice")));
    assert_eq!(b.fetch("users:2").await.unwrap(), None);
    let lookups: Vec<_> = recorder
        .cache
        .lock()
        .iter()
        .filter(|e| matches!(e.kind, CacheEventKind::Hit | CacheEventKind::Miss))
        .map(|e| (e.kind, e.tier))
        .collect();
    assert_eq!(
        lookups,
        vec![
            (CacheEventKind::Hit, CacheTier::Remote),
            (CacheEventKind::Hit, CacheTier::Memory),
            (CacheEventKind::Miss, CacheTier::Remote),
        ]
    );
    let stats = b.snapshot();
    assert_eq!((stats.hits, stats.misses, stats.serving_tier.as_str()), (2, 1, "redis"));
    assert_eq!(stats.remote.unwrap().breaker, BreakerState::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_on_one_instance_drops_the_other_instances_copy() {
    let (a, b, _) = pair("coherent_delete").await;
    a.store("plain", v("x"), Duration::from_secs(30)).await.unwrap();
    assert!(b.fetch("plain").await.unwrap().is_some());
    assert_eq!(b.memory().len(), 1);
    a.remove("plain").await.unwrap();
    assert!(wait_for(|| async { b.memory().is_empty() }).await);
    assert_eq!(b.fetch("plain").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_invalidation_reaches_every_instance() {
    let (a, b, _) = pair("coherent_namespace").await;
    a.store("users:1", v("old"), Duration::from_secs(30)).await.unwrap();
    assert!(b.fetch("users:1").await.unwrap().is_some());
    a.invalidate_namespace("users").await.unwrap();
    // Gone from Redis at once (generation bumped) ...
    assert_eq!(a.fetch("users:1").await.unwrap(), None);
    // ... and from B's memory once the message arrives.
    assert!(wait_for(|| async { b.memory().lookup("users:1").is_none() }).await);
    assert_eq!(b.fetch("users:1").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pattern_clear_reaches_every_instance() {
    let (a, b, _) = pair("coherent_clear").await;
    for k in ["dashboard:a", "dashboard:b", "users:1"] {
        a.store(k, v("v"), Duration::from_secs(30)).await.unwrap();
        assert!(b.fetch(k).await.unwrap().is_some());
    }
    a.clear_matching(Some("dashboard:*")).await.unwrap();
    assert!(wait_for(|| async { b.memory().len() == 1 }).await);
    assert_eq!(b.fetch("dashboard:a").await.unwrap(), None);
    assert!(b.fetch("users:1").await.unwrap().is_some());
    a.clear_matching(None).await.unwrap();
    assert!(wait_for(|| async { b.memory().is_empty() }).await);
    assert_eq!(b.fetch("users:1").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidate_now_hides_old_values_at_once() {
    use perf_core::Invalidator;
    let (a, b, _) = pair("invalidate_now").await;
    a.store("users:1", v("old"), Duration::from_secs(30)).await.unwrap();
    a.invalidate_now("users").unwrap();
    // Neither memory nor Redis may serve the old value from here on, even
    // before the Redis bump has landed.
    assert_eq!(a.fetch("users:1").await.unwrap(), None);
    assert!(wait_for(|| async { b.fetch("users:1").await.unwrap().is_none() }).await);
    assert!(a.invalidate_now("bad:ns").is_err());
}
