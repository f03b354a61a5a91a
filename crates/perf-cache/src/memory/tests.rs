//! Tests of the memory tier's TTLs, bounds, eviction and invalidation.

use std::{
    num::{NonZeroU64, NonZeroUsize},
    sync::Arc,
    time::Duration,
};

use perf_core::{
    CacheEventKind, CacheStore, CacheTier, ManualClock, RequestScope, Timestamp, testing::RecordingRecorder,
};

use super::*;

fn manual() -> (Arc<ManualClock>, MemoryCacheBuilder) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_700_000_000)));
    let builder = MemoryCache::builder().background(false).clock(clock.clone());
    (clock, builder)
}

fn val(s: &str) -> Arc<[u8]> {
    Arc::from(s.as_bytes())
}

#[test]
fn entry_expires_after_its_ttl() {
    let (clock, b) = manual();
    let c = b.build().unwrap();
    c.insert("a", val("1"), Duration::from_secs(10)).unwrap();
    clock.advance(Duration::from_secs(9));
    c.run_maintenance();
    assert_eq!(c.lookup("a"), Some(val("1")));
    clock.advance(Duration::from_secs(2));
    c.run_maintenance();
    assert_eq!(c.lookup("a"), None);
    assert_eq!(c.tier_stats().expirations, 1);
    assert_eq!(c.len(), 0);
}

#[test]
fn sweep_removes_expired_entries_without_lookups() {
    let (clock, b) = manual();
    let c = b.build().unwrap();
    for i in 0..100 {
        let ttl = Duration::from_secs(if i % 2 == 0 { 5 } else { 50 });
        c.insert(&format!("k{i:03}"), val("x"), ttl).unwrap();
    }
    clock.advance(Duration::from_secs(6));
    c.run_maintenance();
    assert_eq!(c.len(), 50);
    assert_eq!(c.tier_stats().expirations, 50);
    assert_eq!(c.tier_stats().bytes, Some(50 * (ENTRY_OVERHEAD_BYTES + 5)));
}

#[test]
fn entry_bound_holds_and_hot_keys_survive() {
    let (_, b) = manual();
    let c = b.max_entries(NonZeroUsize::new(100).unwrap()).build().unwrap();
    for i in 0..10 {
        c.insert(&format!("hot{i}"), val("h"), Duration::from_secs(60)).unwrap();
    }
    for round in 0..20 {
        for i in 0..10 {
            assert!(c.lookup(&format!("hot{i}")).is_some(), "hot{i} evicted in round {round}");
        }
        for j in 0..50 {
            c.insert(&format!("cold{round}-{j}"), val("c"), Duration::from_secs(60)).unwrap();
        }
        assert!(c.len() <= 100);
    }
    assert!(c.tier_stats().evictions >= 900);
}

#[test]
fn byte_bound_holds() {
    let (_, b) = manual();
    let c = b.max_bytes(NonZeroU64::new(10_000).unwrap()).build().unwrap();
    for i in 0..1000 {
        c.insert(&format!("k{i}"), Arc::from(vec![0u8; 200]), Duration::from_secs(60)).unwrap();
        assert!(c.tier_stats().bytes.unwrap() <= 10_000);
    }
    // Too large to ever fit: not stored, and an older value does not survive.
    c.insert("k999", Arc::from(vec![0u8; 20_000]), Duration::from_secs(60)).unwrap();
    assert_eq!(c.lookup("k999"), None);
}

#[test]
fn overwrites_do_not_grow_the_ring_without_bound() {
    let (_, b) = manual();
    let c = b.build().unwrap();
    for i in 0..50_000 {
        c.insert("same", val(&i.to_string()), Duration::from_secs(60)).unwrap();
    }
    assert_eq!(c.len(), 1);
    assert!(c.ring_len() <= 2 + 64 + 1, "ring holds {}", c.ring_len());
    assert_eq!(c.lookup("same"), Some(val("49999")));
}

#[test]
fn namespace_invalidation_hides_only_that_namespace() {
    let (_, b) = manual();
    let c = b.build().unwrap();
    for i in 0..1000 {
        c.insert(&format!("users:{i}"), val("u"), Duration::from_secs(60)).unwrap();
    }
    c.insert("projects:1", val("p"), Duration::from_secs(60)).unwrap();
    c.insert("plain", val("x"), Duration::from_secs(60)).unwrap();
    c.invalidate_namespace("users").unwrap();
    assert_eq!(c.lookup("users:7"), None);
    assert_eq!(c.lookup("projects:1"), Some(val("p")));
    assert_eq!(c.lookup("plain"), Some(val("x")));
    // Written after the invalidation: visible.
    c.insert("users:7", val("new"), Duration::from_secs(60)).unwrap();
    assert_eq!(c.lookup("users:7"), Some(val("new")));
    c.run_maintenance();
    assert_eq!(c.len(), 3);
    assert!(c.invalidate_namespace("a:b").is_err());
}

#[test]
fn pattern_clear_removes_matches_only() {
    let (_, b) = manual();
    let c = b.build().unwrap();
    for k in ["dashboard:a", "dashboard:b", "users:1", "dash"] {
        c.insert(k, val("v"), Duration::from_secs(60)).unwrap();
    }
    assert_eq!(c.clear_matching(Some("dashboard:*")).unwrap(), 2);
    assert_eq!(c.lookup("users:1"), Some(val("v")));
    assert!(matches!(c.clear_matching(Some("[oops")), Err(CacheError::InvalidPattern { .. })));
    assert_eq!(c.len(), 2);
    assert_eq!(c.clear_matching(None).unwrap(), 2);
    assert!(c.is_empty());
    assert_eq!(c.tier_stats().bytes, Some(0));
}

#[test]
fn bad_keys_are_errors_and_counted() {
    let (_, b) = manual();
    let c = b.build().unwrap();
    assert!(matches!(c.insert("", val("v"), Duration::from_secs(1)), Err(CacheError::InvalidKey { .. })));
    assert_eq!(c.tier_stats().errors, 1);
}

#[test]
fn lookups_report_one_event_each_and_count_on_the_scope() {
    let recorder = Arc::new(RecordingRecorder::default());
    let (_, b) = manual();
    let c = b.recorder(recorder.clone()).build().unwrap();
    let scope = RequestScope::new("GET /x");
    let _guard = scope.enter();
    c.insert("k", val("v"), Duration::from_secs(5)).unwrap();
    assert!(c.lookup("k").is_some());
    assert!(c.lookup("missing").is_none());
    let kinds: Vec<_> = recorder.cache.lock().iter().map(|e| (e.kind, e.tier)).collect();
    assert_eq!(
        kinds,
        vec![
            (CacheEventKind::Set, CacheTier::Memory),
            (CacheEventKind::Hit, CacheTier::Memory),
            (CacheEventKind::Miss, CacheTier::Memory)
        ]
    );
    assert_eq!((scope.cache_hits(), scope.cache_misses()), (1, 1));
}

#[tokio::test]
async fn trait_methods_behave_like_inherent_ones() {
    let (_, b) = manual();
    let c = b.build().unwrap();
    let store: &dyn CacheStore = &c;
    store.set("users:1", val("a"), Duration::from_secs(5)).await.unwrap();
    assert_eq!(store.get("users:1").await.unwrap(), Some(val("a")));
    assert!(store.delete("users:1").await.unwrap());
    assert!(!store.delete("users:1").await.unwrap());
    // A malformed pattern cannot reach the trait: it is refused where it is parsed.
    assert!(matches!(c.clear_matching(Some("[")), Err(CacheError::InvalidPattern { .. })));
    assert!(matches!(
        CacheStoreError::from(c.clear_matching(Some("[")).unwrap_err()),
        CacheStoreError::InvalidPattern { .. }
    ));
    store.set("users:2", val("b"), Duration::from_secs(5)).await.unwrap();
    assert_eq!(store.clear(Some(&perf_core::KeyPattern::parse("users:*").unwrap())).await.unwrap(), 1);
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.hits, stats.misses, stats.serving_tier.as_str()), (1, 0, "memory"));
}

#[test]
fn background_thread_expires_entries() {
    let c = MemoryCache::builder()
        .config(MemoryConfig { sweep_interval: Duration::from_millis(20), ..MemoryConfig::default() })
        .build()
        .unwrap();
    c.insert("k", val("v"), Duration::from_millis(30)).unwrap();
    // Bounded poll: the sweep must remove the entry without any lookup.
    for _ in 0..500 {
        if c.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(c.is_empty());
    assert_eq!(c.tier_stats().expirations, 1);
}
