//! Cached queries: [`QueryCache`] and the [`LoadCached`] extension trait.
//!
//! See [`QueryCache`] for the design.

use std::{
    collections::HashMap,
    fmt,
    future::Future,
    pin::pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll, Wake, Waker},
    thread::{self, Thread},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use diesel::{
    Connection, RunQueryDsl,
    backend::Backend,
    connection::TransactionManager,
    query_builder::{AsQuery, QueryFragment},
    query_dsl::LoadQuery,
};
use parking_lot::Mutex;
use perf_core::{CacheStore, CacheStoreError, Invalidator};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{DbError, fingerprint_hash, render::render_whole, tables_read};

/// Query results cached in a [`CacheStore`], invalidated per table.
///
/// # Design
/// Entries live in any [`CacheStore`] (perf-cache's memory, Redis or tiered
/// cache), serialized as JSON together with the SQL they answer. Each entry's
/// key embeds the current *generation* of every table the query reads
/// (parsed from its `FROM`/`JOIN` clauses): `{prefix}{epoch}:{t1}@{g1},{t2}@{g2}:{hash}`.
/// Invalidating a table ([`Invalidator::invalidate_now`], which the
/// [`QueryMonitor`](crate::QueryMonitor) calls when a write commits) bumps
/// its generation, so every key that mentions it becomes unreachable at once
/// (O(1), whatever the number of entries) and ages out by TTL.
///
/// The generation is read *before* the database is queried, so a reader that
/// loaded rows just before a write committed stores them under the old
/// generation, where nobody looks: it cannot re-cache stale rows.
///
/// Generations live in this process (the epoch, taken at creation, keeps a
/// restarted process from reading a predecessor's keys). Other instances
/// sharing a Redis tier do not see this process's invalidations and rely on
/// the TTL.
///
/// # Bridging async and sync
/// [`CacheStore`] is async; diesel is sync. `load_cached` drives the store's
/// futures to completion on the calling thread with a minimal executor. Call
/// it where sync diesel belongs anyway: inside `web::block` or
/// `spawn_blocking` (whose threads also carry the tokio context a Redis tier
/// needs), never directly on an async worker thread. A failing cache never
/// fails the query: errors are logged and the database answers.
///
/// Cloning is cheap and shares the generations. Implements [`Invalidator`]:
/// pass it to [`QueryMonitor::with_invalidator`](crate::QueryMonitor::with_invalidator)
/// so writes seen by the instrumentation invalidate the tables they touch.
///
/// # Examples
/// ```
/// use std::{sync::Arc, time::Duration};
/// use perf_core::Invalidator;
/// use perf_db::QueryCache;
///
/// let cache = QueryCache::new(Arc::new(perf_core::NoopCache));
/// let before = cache.generation("users");
/// cache.invalidate_now("users")?;
/// assert_ne!(cache.generation("users"), before);
/// # Ok::<(), perf_core::CacheStoreError>(())
/// ```
#[derive(Clone)]
pub struct QueryCache {
    inner: Arc<CacheInner>,
}

struct CacheInner {
    store: Arc<dyn CacheStore>,
    prefix: String,
    epoch: u64,
    next: AtomicU64,
    generations: Mutex<HashMap<String, u64>>,
}

impl QueryCache {
    /// A query cache storing entries in `store` under keys starting with `db:`.
    pub fn new(store: Arc<dyn CacheStore>) -> QueryCache {
        QueryCache::with_prefix(store, "db:")
    }

    /// A query cache whose keys start with `prefix`.
    pub fn with_prefix(store: Arc<dyn CacheStore>, prefix: impl Into<String>) -> QueryCache {
        let epoch = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        QueryCache {
            inner: Arc::new(CacheInner {
                store,
                prefix: prefix.into(),
                epoch,
                next: AtomicU64::new(1),
                generations: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The current generation of `table` (0 until first invalidated).
    pub fn generation(&self, table: &str) -> u64 {
        self.inner.generations.lock().get(&table.to_ascii_lowercase()).copied().unwrap_or(0)
    }

    /// The cache key of the SQL text `sql` (with binds) reading `tables`, at
    /// the tables' current generations.
    pub fn key_for(&self, sql: &str, tables: &[String]) -> String {
        let mut key = format!("{}{:x}:", self.inner.prefix, self.inner.epoch);
        {
            let generations = self.inner.generations.lock();
            for (i, table) in tables.iter().enumerate() {
                if i > 0 {
                    key.push(',');
                }
                let generation = generations.get(table).copied().unwrap_or(0);
                key.push_str(table);
                key.push('@');
                key.push_str(&generation.to_string());
            }
        }
        key.push(':');
        key.push_str(&format!("{:016x}", fingerprint_hash(sql)));
        key
    }

    /// The cached rows for `sql` under `key`, if present and readable.
    fn get<U: DeserializeOwned>(&self, key: &str, sql: &str) -> Option<Vec<U>> {
        let bytes = match block_on(self.inner.store.get(key)) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return None,
            Err(error) => {
                tracing::warn!(target: "perf_db::cache", key, %error, "query cache read failed");
                return None;
            }
        };
        match serde_json::from_slice::<StoredOwned<U>>(&bytes) {
            // A different SQL under the same key is a hash collision: a miss.
            Ok(entry) if entry.sql == sql => Some(entry.rows),
            Ok(_) => None,
            Err(source) => {
                let error = DbError::Codec { key: key.to_owned(), action: "decoded", source };
                tracing::warn!(target: "perf_db::cache", %error, "query cache entry unreadable");
                None
            }
        }
    }

    fn set<U: Serialize>(&self, key: &str, sql: &str, rows: &[U], ttl: Duration) {
        let bytes = match serde_json::to_vec(&Stored { sql, rows }) {
            Ok(bytes) => bytes,
            Err(source) => {
                let error = DbError::Codec { key: key.to_owned(), action: "encoded", source };
                tracing::warn!(target: "perf_db::cache", %error, "query result not cached");
                return;
            }
        };
        if let Err(error) = block_on(self.inner.store.set(key, Arc::from(bytes), ttl)) {
            tracing::warn!(target: "perf_db::cache", key, %error, "query cache write failed");
        }
    }
}

impl Invalidator for QueryCache {
    /// Bumps `namespace`'s (a table name's) generation.
    fn invalidate_now(&self, namespace: &str) -> Result<(), CacheStoreError> {
        if namespace.is_empty() {
            return Err(CacheStoreError::InvalidKey {
                key: String::new(),
                reason: "a table name must not be empty".into(),
            });
        }
        let generation = self.inner.next.fetch_add(1, Ordering::Relaxed);
        self.inner.generations.lock().insert(namespace.to_ascii_lowercase(), generation);
        Ok(())
    }
}

impl fmt::Debug for QueryCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryCache")
            .field("prefix", &self.inner.prefix)
            .field("tables", &self.inner.generations.lock().len())
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Stored<'a, U> {
    sql: &'a str,
    rows: &'a [U],
}

#[derive(Deserialize)]
struct StoredOwned<U> {
    sql: String,
    rows: Vec<U>,
}

/// `load_cached` for every diesel query.
pub trait LoadCached: Sized {
    /// Loads the query's rows from `cache` if an entry for the same SQL and
    /// binds is fresh, else from the database, caching them for `ttl`.
    ///
    /// The entry is tagged with the tables the SQL reads; a committed write
    /// to any of them (seen by a [`QueryMonitor`](crate::QueryMonitor) whose
    /// invalidator is `cache`) makes it unreachable. The cache store counts
    /// the hit or miss in the current [`RequestScope`](perf_core::RequestScope) (perf-cache's stores
    /// do). Inside a transaction the cache is bypassed in both directions:
    /// the transaction may have written the tables (so cached rows would be
    /// stale to it), and rows it reads are not committed (so caching them
    /// would leak them, or keep them after a rollback). See [`QueryCache`]
    /// for where to call it from.
    ///
    /// # Errors
    /// [`DbError::Query`] when the database fails; cache failures only cost a miss.
    fn load_cached<'query, Conn, U>(
        self,
        conn: &mut Conn,
        cache: &QueryCache,
        ttl: Duration,
    ) -> Result<Vec<U>, DbError>
    where
        Conn: Connection,
        Conn::Backend: Default,
        <Conn::Backend as Backend>::QueryBuilder: Default,
        Self: AsQuery,
        <Self as AsQuery>::Query: QueryFragment<Conn::Backend> + RunQueryDsl<Conn> + LoadQuery<'query, Conn, U>,
        U: Serialize + DeserializeOwned;
}

impl<T> LoadCached for T {
    fn load_cached<'query, Conn, U>(self, conn: &mut Conn, cache: &QueryCache, ttl: Duration) -> Result<Vec<U>, DbError>
    where
        Conn: Connection,
        Conn::Backend: Default,
        <Conn::Backend as Backend>::QueryBuilder: Default,
        Self: AsQuery,
        <Self as AsQuery>::Query: QueryFragment<Conn::Backend> + RunQueryDsl<Conn> + LoadQuery<'query, Conn, U>,
        U: Serialize + DeserializeOwned,
    {
        let query = self.as_query();
        let in_transaction = !matches!(
            <Conn::TransactionManager as TransactionManager<Conn>>::transaction_manager_status_mut(conn)
                .transaction_depth(),
            Ok(None)
        );
        if in_transaction {
            return Ok(query.load(conn)?);
        }
        let mut sql = String::new();
        let Some(bare_len) = render_whole(&diesel::debug_query::<Conn::Backend, _>(&query), &mut sql) else {
            // A query diesel cannot describe has no key: it just runs.
            return Ok(query.load(conn)?);
        };
        // The tables come from the SQL alone, whole: a string literal in it
        // that reads like diesel's bind marker hides none of them.
        let tables = tables_read(sql.get(..bare_len).unwrap_or(&sql));
        let key = cache.key_for(&sql, &tables);
        if let Some(rows) = cache.get::<U>(&key, &sql) {
            return Ok(rows);
        }
        let rows: Vec<U> = query.load(conn)?;
        cache.set(&key, &sql, &rows, ttl);
        Ok(rows)
    }
}

/// Drives `future` to completion on this thread, parking between polls.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return output,
            Poll::Pending => thread::park(),
        }
    }
}
