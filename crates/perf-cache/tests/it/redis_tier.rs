//! The Redis tier alone against the shared Redis.

use std::{sync::Arc, time::Duration};

use perf_cache::{CacheError, RedisCache, RedisConfig};
use redis::AsyncCommands;

use crate::{raw_connection, redis_url, unique_prefix, wait_for};

fn cache(test: &str) -> RedisCache {
    RedisCache::new(RedisConfig::new(redis_url()).prefix(unique_prefix(test))).unwrap()
}

#[tokio::test]
async fn set_get_delete_round_trip() {
    let c = cache("round_trip");
    c.store("plain", b"v1", Duration::from_secs(30)).await.unwrap();
    c.store("users:1", b"u1", Duration::from_secs(30)).await.unwrap();
    assert_eq!(c.fetch("plain").await.unwrap().as_deref(), Some(&b"v1"[..]));
    assert_eq!(c.fetch("users:1").await.unwrap().as_deref(), Some(&b"u1"[..]));
    assert!(c.remove("plain").await.unwrap());
    assert!(!c.remove("plain").await.unwrap());
    assert_eq!(c.fetch("plain").await.unwrap(), None);
    let stats = c.tier_stats();
    assert_eq!((stats.hits, stats.misses, stats.sets, stats.errors), (2, 1, 2, 0));
}

#[tokio::test]
async fn namespace_invalidation_hides_old_values_only() {
    let c = cache("namespace");
    for i in 0..50 {
        c.store(&format!("users:{i}"), b"old", Duration::from_secs(30)).await.unwrap();
    }
    c.store("projects:1", b"p", Duration::from_secs(30)).await.unwrap();
    c.bump_namespace("users").await.unwrap();
    assert_eq!(c.fetch("users:3").await.unwrap(), None);
    assert_eq!(c.fetch("projects:1").await.unwrap().as_deref(), Some(&b"p"[..]));
    c.store("users:3", b"new", Duration::from_secs(30)).await.unwrap();
    assert_eq!(c.fetch("users:3").await.unwrap().as_deref(), Some(&b"new"[..]));
}

#[tokio::test]
async fn clears_never_touch_keys_outside_the_prefix() {
    let prefix = unique_prefix("clear_scope");
    let c = RedisCache::new(RedisConfig::new(redis_url()).prefix(prefix.clone())).unwrap();
    let mut raw = raw_connection(&redis_url()).await;
    let outside = format!("{}-outside:k:dashboard:a", prefix.trim_end_matches(':'));
    let _: () = raw.set_ex(&outside, "keep", 30).await.unwrap();
    for k in ["dashboard:a", "dashboard:b", "users:1"] {
        c.store(k, b"v", Duration::from_secs(30)).await.unwrap();
    }
    assert_eq!(c.clear_matching(Some("dashboard:*")).await.unwrap(), 2);
    assert_eq!(c.fetch("users:1").await.unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(c.clear_matching(None).await.unwrap(), 1);
    let kept: Option<String> = raw.get(&outside).await.unwrap();
    assert_eq!(kept.as_deref(), Some("keep"));
    let _: () = raw.del(&outside).await.unwrap();
}

#[tokio::test]
async fn malformed_pattern_removes_nothing() {
    let c = cache("bad_pattern");
    c.store("a:1", b"v", Duration::from_secs(30)).await.unwrap();
    assert!(matches!(c.clear_matching(Some("a:[1")).await, Err(CacheError::InvalidPattern { .. })));
    assert!(c.fetch("a:1").await.unwrap().is_some());
}

#[tokio::test]
async fn values_expire_in_redis() {
    let c = cache("expiry");
    c.store("k", b"v", Duration::from_millis(50)).await.unwrap();
    assert!(wait_for(|| async { c.fetch("k").await.unwrap().is_none() }).await);
}

#[tokio::test]
async fn unreachable_redis_is_an_error_not_a_hang() {
    let c = RedisCache::new(RedisConfig::new("redis://127.0.0.1:1/")).unwrap();
    let err = c.fetch("k").await.unwrap_err();
    assert!(err.is_backend_failure(), "{err:?}");
    assert!(c.store("k", &Arc::<[u8]>::from(&b"v"[..]), Duration::from_secs(1)).await.is_err());
    assert!(c.tier_stats().errors >= 2);
}
