//! Cached queries on SQLite: hits, invalidation by writes, commit-time
//! invalidation inside transactions.

use std::{sync::Arc, time::Duration};

use diesel::{connection::SimpleConnection, prelude::*, sql_query, sql_types::Integer};
use perf_core::{Invalidator, RequestScope, testing::MapCache};
use perf_db::{LoadCached, QueryCache};

use crate::{Item, recording_monitor, sqlite};

diesel::table! {
    items (id) {
        id -> Integer,
        name -> Text,
    }
}

const TTL: Duration = Duration::from_secs(60);

fn setup() -> (SqliteConnection, QueryCache, Arc<MapCache>, Arc<perf_core::testing::RecordingRecorder>) {
    let store = Arc::new(MapCache::default());
    let cache = QueryCache::new(store.clone());
    let (monitor, recorder) = recording_monitor();
    let mut conn = sqlite();
    conn.set_instrumentation(monitor.with_invalidator(Arc::new(cache.clone())));
    conn.batch_execute(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
         INSERT INTO items VALUES (1, 'a'), (2, 'b');",
    )
    .unwrap();
    (conn, cache, store, recorder)
}

fn names(conn: &mut SqliteConnection, cache: &QueryCache) -> Vec<String> {
    items::table.select(items::name).order(items::id).load_cached(conn, cache, TTL).unwrap()
}

fn selects_run(recorder: &perf_core::testing::RecordingRecorder) -> usize {
    recorder.queries.lock().iter().filter(|q| q.sql.starts_with("SELECT `items`.`name`")).count()
}

#[test]
fn second_load_is_served_from_the_cache() {
    let (mut conn, cache, store, recorder) = setup();
    assert_eq!(names(&mut conn, &cache), ["a", "b"]);
    assert_eq!(names(&mut conn, &cache), ["a", "b"]);
    assert_eq!(selects_run(&recorder), 1);
    assert_eq!(store.entries.lock().len(), 1);
    let key = store.entries.lock().keys().next().cloned().unwrap();
    assert!(key.starts_with("db:") && key.contains(":items@0:"), "{key}");
}

#[test]
fn different_binds_are_different_entries() {
    let (mut conn, cache, store, _recorder) = setup();
    for id in [1, 2, 1] {
        let rows: Vec<Item> = sql_query("SELECT id, name FROM items WHERE id = ?")
            .bind::<Integer, _>(id)
            .load_cached(&mut conn, &cache, TTL)
            .unwrap();
        assert_eq!(rows[0].id, id);
    }
    assert_eq!(store.entries.lock().len(), 2);
}

#[test]
fn a_write_makes_the_cached_query_return_fresh_rows() {
    let (mut conn, cache, _store, recorder) = setup();
    assert_eq!(names(&mut conn, &cache), ["a", "b"]);
    diesel::insert_into(items::table).values((items::id.eq(3), items::name.eq("c"))).execute(&mut conn).unwrap();
    assert_eq!(names(&mut conn, &cache), ["a", "b", "c"]);
    diesel::update(items::table.find(1)).set(items::name.eq("z")).execute(&mut conn).unwrap();
    assert_eq!(names(&mut conn, &cache), ["z", "b", "c"]);
    diesel::delete(items::table.find(2)).execute(&mut conn).unwrap();
    assert_eq!(names(&mut conn, &cache), ["z", "c"]);
    assert_eq!(selects_run(&recorder), 4);
}

#[test]
fn a_literal_reading_like_the_bind_marker_hides_no_table_read_after_it() {
    let (mut conn, cache, _store, _recorder) = setup();
    conn.batch_execute("CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL)").unwrap();
    let load = |conn: &mut SqliteConnection| -> Vec<Item> {
        sql_query(
            "SELECT id, name FROM items WHERE name <> ' -- binds: ' \
             UNION ALL SELECT id, name FROM tags WHERE id > ? ORDER BY id",
        )
        .bind::<Integer, _>(0)
        .load_cached(conn, &cache, TTL)
        .unwrap()
    };
    assert_eq!(load(&mut conn).len(), 2);
    diesel::sql_query("INSERT INTO tags (id, name) VALUES (3, 't')").execute(&mut conn).unwrap();
    // The write to `tags`, read after the literal, invalidates the entry.
    assert_eq!(load(&mut conn).len(), 3);
}

#[test]
fn writes_to_other_tables_keep_the_entry() {
    let (mut conn, cache, _store, recorder) = setup();
    conn.batch_execute("CREATE TABLE other (id INTEGER)").unwrap();
    names(&mut conn, &cache);
    conn.batch_execute("INSERT INTO other VALUES (1)").unwrap();
    names(&mut conn, &cache);
    assert_eq!(selects_run(&recorder), 1);
}

#[test]
fn inside_a_transaction_invalidation_waits_for_commit() {
    let (mut conn, cache, _store, _recorder) = setup();
    names(&mut conn, &cache);
    let before = cache.generation("items");
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::insert_into(items::table).values((items::id.eq(3), items::name.eq("c"))).execute(conn)?;
        assert_eq!(cache.generation("items"), before, "no invalidation before commit");
        Ok(())
    })
    .unwrap();
    assert_ne!(cache.generation("items"), before);
    assert_eq!(names(&mut conn, &cache), ["a", "b", "c"]);
}

#[test]
fn rollback_invalidates_nothing() {
    let (mut conn, cache, _store, recorder) = setup();
    names(&mut conn, &cache);
    let before = cache.generation("items");
    let _ = conn.transaction::<(), _, _>(|conn| {
        diesel::insert_into(items::table).values((items::id.eq(3), items::name.eq("c"))).execute(conn)?;
        Err(diesel::result::Error::RollbackTransaction)
    });
    assert_eq!(cache.generation("items"), before);
    assert_eq!(names(&mut conn, &cache), ["a", "b"]);
    assert_eq!(selects_run(&recorder), 1);
}

#[test]
fn rolled_back_savepoint_drops_only_its_writes() {
    let (mut conn, cache, _store, _recorder) = setup();
    conn.batch_execute("CREATE TABLE other (id INTEGER)").unwrap();
    let items_before = cache.generation("items");
    let other_before = cache.generation("other");
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        conn.batch_execute("INSERT INTO other VALUES (1)")?;
        let _ = conn.transaction::<(), _, _>(|conn| {
            diesel::insert_into(items::table).values((items::id.eq(3), items::name.eq("c"))).execute(conn)?;
            Err(diesel::result::Error::RollbackTransaction)
        });
        Ok(())
    })
    .unwrap();
    assert_eq!(cache.generation("items"), items_before);
    assert_ne!(cache.generation("other"), other_before);
}

#[test]
fn committed_savepoint_writes_invalidate_at_the_outer_commit() {
    let (mut conn, cache, _store, _recorder) = setup();
    let before = cache.generation("items");
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        conn.transaction::<_, diesel::result::Error, _>(|conn| {
            diesel::insert_into(items::table).values((items::id.eq(3), items::name.eq("c"))).execute(conn)
        })?;
        assert_eq!(cache.generation("items"), before, "savepoint release is not the commit");
        Ok(())
    })
    .unwrap();
    assert_ne!(cache.generation("items"), before);
}

#[test]
fn hits_and_misses_are_counted_once_in_the_request_scope() {
    // perf-cache's stores count lookups in the scope; load_cached adds nothing.
    let cache = QueryCache::new(Arc::new(perf_cache::MemoryCache::new().unwrap()));
    let mut conn = sqlite();
    conn.batch_execute(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL); INSERT INTO items VALUES (1, 'a');",
    )
    .unwrap();
    let scope = RequestScope::new("GET /names");
    let _guard = scope.enter();
    names(&mut conn, &cache);
    names(&mut conn, &cache);
    assert_eq!((scope.cache_hits(), scope.cache_misses()), (1, 1));
}

#[test]
fn inside_a_transaction_the_cache_is_bypassed() {
    let (mut conn, cache, store, recorder) = setup();
    assert_eq!(names(&mut conn, &cache), ["a", "b"]);
    let entries_before = store.entries.lock().len();
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::insert_into(items::table).values((items::id.eq(9), items::name.eq("z"))).execute(conn)?;
        // The transaction sees its own write, not the cached rows...
        assert_eq!(names(conn, &cache), ["a", "b", "z"]);
        Err::<(), _>(diesel::result::Error::RollbackTransaction)
    })
    .unwrap_err();
    // ...and its uncommitted rows were not cached: after the rollback the cache still answers the old rows.
    assert_eq!(store.entries.lock().len(), entries_before);
    let selects = selects_run(&recorder);
    assert_eq!(names(&mut conn, &cache), ["a", "b"]);
    assert_eq!(selects_run(&recorder), selects, "served from the cache");
}

#[test]
fn empty_table_name_is_refused() {
    let cache = QueryCache::new(Arc::new(MapCache::default()));
    assert!(cache.invalidate_now("").is_err());
}

#[test]
fn database_errors_pass_through_load_cached() {
    let (mut conn, cache, store, _recorder) = setup();
    let err = sql_query("SELECT id, name FROM missing").load_cached::<_, Item>(&mut conn, &cache, TTL).unwrap_err();
    assert!(matches!(err, perf_db::DbError::Query(_)), "{err}");
    assert!(store.entries.lock().is_empty());
}

#[test]
fn works_end_to_end_with_perf_cache_memory_tier() {
    let memory = Arc::new(perf_cache::MemoryCache::new().unwrap());
    let cache = QueryCache::new(memory.clone());
    let (monitor, recorder) = recording_monitor();
    let mut conn = sqlite();
    conn.set_instrumentation(monitor.with_invalidator(Arc::new(cache.clone())));
    conn.batch_execute(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
         INSERT INTO items VALUES (1, 'a'), (2, 'b');",
    )
    .unwrap();
    assert_eq!(names(&mut conn, &cache), ["a", "b"]);
    assert_eq!(names(&mut conn, &cache), ["a", "b"]);
    assert_eq!(selects_run(&recorder), 1, "the second load is a memory-tier hit");
    diesel::insert_into(items::table).values((items::id.eq(3), items::name.eq("c"))).execute(&mut conn).unwrap();
    assert_eq!(names(&mut conn, &cache), ["a", "b", "c"]);
    assert_eq!(selects_run(&recorder), 2);
}

#[test]
fn a_failed_begin_does_not_hold_back_later_invalidations() {
    let (mut conn, cache, _store, _recorder) = setup();
    conn.batch_execute("BEGIN").unwrap();
    // diesel's BEGIN fails: SQLite is already inside a transaction.
    assert!(conn.transaction::<_, diesel::result::Error, _>(|_| Ok(())).is_err());
    conn.batch_execute("COMMIT").unwrap();
    let before = cache.generation("items");
    diesel::insert_into(items::table).values((items::id.eq(3), items::name.eq("c"))).execute(&mut conn).unwrap();
    assert_ne!(cache.generation("items"), before);
}
