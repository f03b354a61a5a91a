//! Fault injection: a redis-server of our own is killed, or frozen with
//! SIGSTOP, in the middle of a stream of operations.

use std::{sync::Arc, time::Duration};

use perf_cache::{TieredCache, TieredConfig};
use perf_core::{BreakerState, ServingTier};

use crate::{OwnRedis, unique_prefix, wait_for};

fn config(url: &str, prefix: &str) -> TieredConfig {
    let mut c = TieredConfig::new(url);
    c.redis = c.redis.prefix(prefix);
    c.probe_min = Duration::from_millis(50);
    c.probe_max = Duration::from_millis(400);
    c
}

fn v(i: usize) -> Arc<[u8]> {
    Arc::from(i.to_string().into_bytes())
}

/// Runs `n` rounds of store / fetch / delete / invalidate; returns how many
/// operations failed and how many fetches of a just-stored key missed.
async fn stream(cache: &TieredCache, from: usize, n: usize) -> (usize, usize) {
    let (mut failed, mut missed) = (0, 0);
    for i in from..from + n {
        let key = format!("items:{i}");
        failed += usize::from(cache.store(&key, v(i), Duration::from_secs(60)).await.is_err());
        match cache.fetch(&key).await {
            Ok(Some(got)) => assert_eq!(got, v(i)),
            Ok(None) => missed += 1,
            Err(_) => failed += 1,
        }
        if i % 10 == 0 {
            failed += usize::from(cache.remove(&format!("items:{}", i - 5.min(i))).await.is_err());
            failed += usize::from(cache.invalidate_namespace("other").await.is_err());
        }
    }
    (failed, missed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_redis_falls_back_to_memory_and_recovers() {
    let mut server = OwnRedis::start().await;
    let cache = TieredCache::new(config(&server.url(), &unique_prefix("kill")), None).unwrap();
    assert!(wait_for(|| async { cache.is_subscribed() }).await);

    let (failed, missed) = stream(&cache, 0, 100).await;
    assert_eq!((failed, missed), (0, 0));
    assert_eq!(cache.breaker_state(), BreakerState::Closed);

    server.kill();
    let errors_before = cache.redis().tier_stats().errors;
    let (failed, missed) = stream(&cache, 100, 300).await;
    assert_eq!(failed, 0, "no operation may fail because Redis did");
    assert_eq!(missed, 0, "memory keeps serving what was just stored");
    assert_ne!(cache.breaker_state(), BreakerState::Closed);
    assert_eq!(cache.breaker_openings(), 1);
    // One failed Redis call opened the breaker; the other ~900 operations
    // never went to Redis.
    assert!(cache.redis().tier_stats().errors - errors_before <= 2);
    assert!(cache.pending_invalidations() > 0);
    assert_eq!(cache.snapshot().serving_tier, ServingTier::Memory);

    server.restart().await;
    assert!(
        wait_for(|| async { cache.breaker_state() == BreakerState::Closed }).await,
        "probe never closed the breaker"
    );
    assert_eq!(cache.pending_invalidations(), 0);
    assert!(cache.resyncs() >= 1, "memory must be dropped after the subscription came back");
    let (failed, _) = stream(&cache, 400, 50).await;
    assert_eq!(failed, 0);
    // Redis is used again: a fresh instance sees values written now.
    let other = TieredCache::new(config(&server.url(), &cache.redis().config().prefix), None).unwrap();
    assert_eq!(other.fetch("items:449").await.unwrap(), Some(v(449)));
    assert!(cache.snapshot().redis.unwrap().available);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_redis_costs_one_timeout_and_replays_invalidations() {
    let server = OwnRedis::start().await;
    let prefix = unique_prefix("freeze");
    let cache = TieredCache::new(config(&server.url(), &prefix), None).unwrap();
    assert!(wait_for(|| async { cache.is_subscribed() }).await);
    cache.store("users:1", v(1), Duration::from_secs(60)).await.unwrap();
    cache.store("plain", v(2), Duration::from_secs(60)).await.unwrap();

    server.freeze();
    let errors_before = cache.redis().tier_stats().errors;
    let (failed, missed) = stream(&cache, 0, 200).await;
    assert_eq!((failed, missed), (0, 0));
    assert_eq!(cache.breaker_openings(), 1);
    assert!(cache.redis().tier_stats().errors - errors_before <= 2, "each stalled call costs a timeout");
    // Invalidations made while Redis is frozen must reach it before its
    // values are trusted again.
    cache.invalidate_namespace("users").await.unwrap();
    cache.remove("plain").await.unwrap();
    assert_ne!(cache.breaker_state(), BreakerState::Closed);

    server.thaw();
    assert!(
        wait_for(|| async { cache.breaker_state() == BreakerState::Closed }).await,
        "probe never closed the breaker"
    );
    assert_eq!(cache.pending_invalidations(), 0);
    let fresh = TieredCache::new(config(&server.url(), &prefix), None).unwrap();
    assert_eq!(fresh.fetch("users:1").await.unwrap(), None, "namespace bump was replayed");
    assert_eq!(fresh.fetch("plain").await.unwrap(), None, "delete was replayed");
    assert_eq!(fresh.fetch("items:199").await.unwrap(), None, "values set during the outage are not in Redis");
    let (failed, missed) = stream(&cache, 200, 20).await;
    assert_eq!((failed, missed), (0, 0));
    assert_eq!(fresh.fetch("items:219").await.unwrap(), Some(v(219)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_pending_invalidations_collapse_into_namespace_bumps() {
    let server = OwnRedis::start().await;
    let prefix = unique_prefix("overflow");
    let mut cfg = config(&server.url(), &prefix);
    cfg.max_pending = 4;
    let cache = TieredCache::new(cfg.clone(), None).unwrap();
    assert!(wait_for(|| async { cache.is_subscribed() }).await);
    for i in 0..10 {
        cache.store(&format!("users:{i}"), v(i), Duration::from_secs(60)).await.unwrap();
    }
    cache.store("projects:1", v(1), Duration::from_secs(60)).await.unwrap();

    server.freeze();
    for i in 0..10 {
        assert!(cache.remove(&format!("users:{i}")).await.is_ok());
    }
    assert_eq!(cache.pending_invalidations(), 1, "ten deletes collapsed into one summary");

    server.thaw();
    assert!(wait_for(|| async { cache.breaker_state() == BreakerState::Closed }).await);
    let fresh = TieredCache::new(cfg, None).unwrap();
    for i in 0..10 {
        assert_eq!(fresh.fetch(&format!("users:{i}")).await.unwrap(), None, "users was bumped");
    }
    assert_eq!(fresh.fetch("projects:1").await.unwrap(), Some(v(1)), "other namespaces untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_subscription_drops_memory_copies() {
    let server = OwnRedis::start().await;
    let cache = TieredCache::new(config(&server.url(), &unique_prefix("resub")), None).unwrap();
    assert!(wait_for(|| async { cache.is_subscribed() }).await);
    cache.store("users:1", v(1), Duration::from_secs(60)).await.unwrap();
    assert_eq!(cache.memory().len(), 1);

    // Kill only the subscription connection; Redis itself stays up.
    let mut admin = crate::raw_connection(&server.url()).await;
    let killed: u64 = redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query_async(&mut admin).await.unwrap();
    assert_eq!(killed, 1);

    assert!(wait_for(|| async { cache.resyncs() == 1 && cache.is_subscribed() }).await);
    assert!(cache.memory().is_empty(), "copies that could have missed a message are gone");
    // The value is still in Redis and comes back from there.
    assert_eq!(cache.fetch("users:1").await.unwrap(), Some(v(1)));
    assert_eq!(cache.breaker_state(), BreakerState::Closed);
}
