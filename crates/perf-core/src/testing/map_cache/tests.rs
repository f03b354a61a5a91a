//! Tests of the map-backed test cache.

use super::*;

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    // The fake's futures never wait: one poll finishes them.
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("a MapCache future waited"),
    }
}

fn filled(keys: &[&str]) -> MapCache {
    let cache = MapCache::default();
    for k in keys {
        block_on(cache.set(k, Arc::from(&b"v"[..]), Duration::from_secs(1))).unwrap();
    }
    cache
}

#[test]
fn invalidate_drops_exactly_the_namespace_as_the_tiers_do() {
    let cache = filled(&["users:1", "users:2:x", "users2:1", "users", ":users", "projects:1"]);
    block_on(cache.invalidate("users")).unwrap();
    assert_eq!(cache.keys(), vec![":users", "projects:1", "users", "users2:1"]);
    assert!(matches!(block_on(cache.invalidate("a:b")), Err(CacheStoreError::InvalidKey { .. })));
    assert!(matches!(block_on(cache.invalidate("")), Err(CacheStoreError::InvalidKey { .. })));
}

#[test]
fn keys_are_checked_and_failures_are_backend_errors() {
    let cache = filled(&["a:1"]);
    assert!(matches!(
        block_on(cache.set("", Arc::from(&b"v"[..]), Duration::ZERO)),
        Err(CacheStoreError::InvalidKey { .. })
    ));
    *cache.failure.lock() = Some("down".into());
    assert!(matches!(block_on(cache.get("a:1")), Err(CacheStoreError::Backend { .. })));
    *cache.failure.lock() = None;
    assert_eq!(block_on(cache.get("a:1")).unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(cache.gets.load(Ordering::Relaxed), 2);
    let stats = block_on(cache.stats()).unwrap();
    assert_eq!((stats.memory.entries, stats.memory.bytes), (Some(1), Some(4)));
}
