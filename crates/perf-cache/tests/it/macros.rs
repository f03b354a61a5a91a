//! `#[cached]` and `#[invalidate_on_change]` on real fns, through the
//! process-wide default cache (a memory cache installed once for this test
//! binary; each test uses its own prefix).

use std::{
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use perf_cache::{Cache, MemoryCache, cached, default_cache, install_default, invalidate_on_change};
use serde::{Deserialize, Serialize};

fn ensure_default() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        // Another test may have won the race; either way one is installed.
        let _ = install_default(Cache::new(Arc::new(MemoryCache::new().unwrap())));
    });
    assert!(default_cache().is_some());
}

static PROFILE_RUNS: AtomicU32 = AtomicU32::new(0);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Profile {
    id: u64,
    name: String,
}

#[cached(ttl = 600, prefix = "macro_profiles")]
async fn profile(id: u64, name: String) -> Profile {
    PROFILE_RUNS.fetch_add(1, Ordering::SeqCst);
    Profile { id, name }
}

#[invalidate_on_change("macro_profiles")]
async fn rename_profile(_id: u64) -> Result<(), String> {
    Ok(())
}

#[tokio::test]
async fn cached_fn_runs_once_per_argument_set_until_invalidated() {
    ensure_default();
    let a = profile(1, "ada".into()).await;
    assert_eq!(profile(1, "ada".into()).await, a);
    assert_eq!(PROFILE_RUNS.load(Ordering::SeqCst), 1);
    profile(2, "bob".into()).await;
    assert_eq!(PROFILE_RUNS.load(Ordering::SeqCst), 2);
    rename_profile(1).await.unwrap();
    profile(1, "ada".into()).await;
    assert_eq!(PROFILE_RUNS.load(Ordering::SeqCst), 3, "invalidation dropped the cached call");
}

static FALLIBLE_RUNS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 60, prefix = "macro_fallible")]
async fn fallible(fail: bool) -> Result<u32, String> {
    FALLIBLE_RUNS.fetch_add(1, Ordering::SeqCst);
    if fail {
        return Err("no".into());
    }
    let n: u32 = "41".parse().map_err(|_| "parse".to_owned())?;
    Ok(n + 1)
}

#[tokio::test]
async fn cached_result_caches_ok_only() {
    ensure_default();
    assert!(fallible(true).await.is_err());
    assert!(fallible(true).await.is_err());
    assert_eq!(FALLIBLE_RUNS.load(Ordering::SeqCst), 2, "errors are not cached");
    assert_eq!(fallible(false).await, Ok(42));
    assert_eq!(fallible(false).await, Ok(42));
    assert_eq!(FALLIBLE_RUNS.load(Ordering::SeqCst), 3, "Ok is cached");
}

static FAILED_WRITES: AtomicU32 = AtomicU32::new(0);
static SYNC_RUNS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 60, prefix = "macro_sync_ns")]
async fn counted() -> u32 {
    SYNC_RUNS.fetch_add(1, Ordering::SeqCst) + 1
}

#[invalidate_on_change("macro_sync_ns")]
fn failing_write() -> Result<(), String> {
    FAILED_WRITES.fetch_add(1, Ordering::SeqCst);
    Err("rolled back".into())
}

#[invalidate_on_change("macro_sync_ns")]
fn plain_write() {}

#[tokio::test]
async fn invalidation_only_after_success() {
    ensure_default();
    assert_eq!(counted().await, 1);
    assert!(failing_write().is_err());
    assert_eq!(counted().await, 1, "a failed write invalidates nothing");
    plain_write();
    assert_eq!(counted().await, 2);
    let _ = Duration::ZERO;
}
