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

use perf_cache::{MemoryCache, TypedCache, cached, default_cache, install_default, invalidate_on_change};
use serde::{Deserialize, Serialize};

fn ensure_default() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        // Another test may have won the race; either way one is installed.
        let _ = install_default(TypedCache::new(Arc::new(MemoryCache::new().unwrap())));
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

static PLANT_RUNS: AtomicU32 = AtomicU32::new(0);

type SqlitePool = diesel::r2d2::Pool<diesel::r2d2::ConnectionManager<diesel::SqliteConnection>>;

/// A real data-access fn: the pool is how the result is computed, not what
/// identifies it, so it is left out of the key.
#[cached(ttl = 600, prefix = "macro_plants", skip(pool))]
async fn plant_name(pool: SqlitePool, id: i32) -> Result<String, String> {
    use diesel::{RunQueryDsl, sql_types::Text};
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        name: String,
    }
    PLANT_RUNS.fetch_add(1, Ordering::SeqCst);
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let row: Row = diesel::sql_query(format!("SELECT 'plant ' || {id} AS name"))
        .get_result(&mut conn)
        .map_err(|e| e.to_string())?;
    Ok(row.name)
}

#[tokio::test]
async fn cached_fn_taking_a_diesel_pool_keys_on_the_other_arguments() {
    ensure_default();
    let pool = SqlitePool::builder().max_size(1).build(diesel::r2d2::ConnectionManager::new(":memory:")).unwrap();
    assert_eq!(plant_name(pool.clone(), 4).await.unwrap(), "plant 4");
    assert_eq!(plant_name(pool.clone(), 4).await.unwrap(), "plant 4");
    assert_eq!(PLANT_RUNS.load(Ordering::SeqCst), 1, "the second call is served from the cache");
    // Another pool, same id: still the same key.
    let other = SqlitePool::builder().max_size(1).build(diesel::r2d2::ConnectionManager::new(":memory:")).unwrap();
    assert_eq!(plant_name(other, 4).await.unwrap(), "plant 4");
    assert_eq!(PLANT_RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(plant_name(pool, 5).await.unwrap(), "plant 5");
    assert_eq!(PLANT_RUNS.load(Ordering::SeqCst), 2);
}

static PAGE_RUNS: AtomicU32 = AtomicU32::new(0);

#[derive(Debug, Clone)]
struct Viewer {
    id: u64,
    session: String,
}

/// An explicit key: only the viewer's id and the page, not its session.
#[cached(ttl = 600, prefix = "macro_pages", key = (viewer.id, page))]
async fn page_title(viewer: Viewer, page: u32) -> String {
    PAGE_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("page {page} for {}", viewer.id)
}

#[tokio::test]
async fn cached_fn_with_an_explicit_key_ignores_the_rest() {
    ensure_default();
    let a = Viewer { id: 9, session: "s1".into() };
    let b = Viewer { id: 9, session: "s2".into() };
    assert_ne!(a.session, b.session);
    assert_eq!(page_title(a, 1).await, "page 1 for 9");
    assert_eq!(page_title(b, 1).await, "page 1 for 9");
    assert_eq!(PAGE_RUNS.load(Ordering::SeqCst), 1);
    page_title(Viewer { id: 10, session: "s1".into() }, 1).await;
    assert_eq!(PAGE_RUNS.load(Ordering::SeqCst), 2);
}

/// An argument postcard cannot encode (its `Serialize` fails).
#[derive(Debug, Clone)]
struct Opaque(u32);

impl Serialize for Opaque {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("opaque"))
    }
}

static OPAQUE_RUNS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 600, prefix = "macro_opaque")]
async fn opaque(arg: Opaque) -> u32 {
    OPAQUE_RUNS.fetch_add(1, Ordering::SeqCst);
    arg.0
}

#[tokio::test]
async fn calls_with_unencodable_arguments_run_every_time_and_never_share_a_result() {
    ensure_default();
    assert_eq!(opaque(Opaque(1)).await, 1);
    assert_eq!(opaque(Opaque(2)).await, 2, "another call's result was returned");
    assert_eq!(opaque(Opaque(1)).await, 1);
    assert_eq!(OPAQUE_RUNS.load(Ordering::SeqCst), 3);
}
