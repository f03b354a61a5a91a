//! Tests of the tiered cache that need no Redis: starting with Redis
//! unreachable, every operation is served from memory.

use std::time::Duration;

use perf_core::BreakerState;

use super::*;

fn unreachable() -> TieredConfig {
    // Port 1 on loopback refuses connections at once.
    let mut config = TieredConfig::new("redis://127.0.0.1:1/");
    config.probe_min = Duration::from_secs(3600);
    config
}

#[tokio::test]
async fn redis_down_at_start_serves_from_memory() {
    let cache = TieredCache::new(unreachable(), None).unwrap();
    cache.store("users:1", Arc::from(&b"a"[..]), Duration::from_secs(60)).await.unwrap();
    assert_eq!(cache.breaker_state(), BreakerState::Open);
    assert_eq!(cache.fetch("users:1").await.unwrap().as_deref(), Some(&b"a"[..]));
    cache.invalidate_namespace("users").await.unwrap();
    assert_eq!(cache.fetch("users:1").await.unwrap(), None);
    assert!(cache.remove("users:1").await.is_ok());
    assert!(matches!(cache.clear_matching(Some("[")).await, Err(CacheError::InvalidPattern { .. })));
    // set, invalidate and delete each left one invalidation for later.
    assert_eq!(cache.pending_invalidations(), 3);
    let stats = cache.snapshot();
    assert_eq!(stats.serving_tier, perf_core::ServingTier::Memory);
    assert_eq!((stats.hits, stats.misses), (1, 1));
    let redis = stats.remote.unwrap();
    assert!(!redis.reachable);
    assert_eq!(redis.breaker, BreakerState::Open);
}

#[test]
fn needs_a_runtime() {
    assert!(matches!(TieredCache::new(unreachable(), None), Err(CacheError::NoRuntime)));
}
