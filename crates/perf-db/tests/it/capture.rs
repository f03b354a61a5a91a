//! Query-count assertions.

use std::num::NonZeroU32;

use diesel::{connection::SimpleConnection, prelude::*, sql_query, sql_types::Integer};
use perf_core::bind_current;
use perf_db::{DEFAULT_N_PLUS_ONE_THRESHOLD, DbError, capture_queries, capture_queries_async};

use crate::{Item, recording_monitor, sqlite};

fn seeded() -> SqliteConnection {
    let mut conn = sqlite();
    conn.set_instrumentation(recording_monitor().0);
    conn.batch_execute(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
         INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e');",
    )
    .unwrap();
    conn
}

fn load_one_by_one(conn: &mut SqliteConnection, n: i32) -> Vec<Item> {
    (1..=n)
        .map(|id| sql_query("SELECT id, name FROM items WHERE id = ?").bind::<Integer, _>(id).load::<Item>(conn))
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
        .concat()
}

#[test]
fn capture_counts_the_queries_of_the_closure() {
    let mut conn = seeded();
    let (rows, queries) = capture_queries(|| load_one_by_one(&mut conn, 2));
    assert_eq!(rows.len(), 2);
    assert_eq!(queries.len(), 2);
    queries.assert_exactly(2).unwrap();
    queries.assert_at_most(2).unwrap();
    assert!(queries.queries()[1].sql.contains("binds: [2]"));
}

#[test]
fn too_many_queries_is_an_error_listing_them() {
    let mut conn = seeded();
    let ((), queries) = capture_queries(|| {
        load_one_by_one(&mut conn, 3);
    });
    let err = queries.assert_at_most(1).unwrap_err();
    assert!(matches!(err, DbError::Assertion(_)));
    let msg = err.to_string();
    assert!(msg.contains("expected at most 1 queries, 3 ran"), "{msg}");
    assert!(msg.contains("1. SELECT id, name FROM items WHERE id = ? -- binds: [1]"), "{msg}");
    assert!(msg.contains("3. SELECT id, name FROM items WHERE id = ? -- binds: [3]"), "{msg}");
}

#[test]
fn n_plus_one_assertion_names_the_repeated_shape() {
    let mut conn = seeded();
    let (_, queries) = capture_queries(|| load_one_by_one(&mut conn, 5));
    let err = queries.assert_no_n_plus_one(DEFAULT_N_PLUS_ONE_THRESHOLD).unwrap_err().to_string();
    assert!(err.contains("5× SELECT id, name FROM items WHERE id = ?"), "{err}");
    let (_, few) = capture_queries(|| load_one_by_one(&mut conn, 4));
    few.assert_no_n_plus_one(DEFAULT_N_PLUS_ONE_THRESHOLD).unwrap();
    assert_eq!(few.repeated_selects(NonZeroU32::new(4).unwrap()).len(), 1);
}

#[test]
fn failed_queries_are_marked_in_the_listing() {
    let mut conn = seeded();
    let (_, queries) = capture_queries(|| conn.batch_execute("SELECT * FROM nowhere").is_err());
    assert!(!queries.queries()[0].ok);
    assert!(queries.assert_at_most(0).unwrap_err().to_string().contains("[failed]"));
}

#[test]
fn capture_follows_bound_closures_to_other_threads() {
    let conn = seeded();
    let (_, queries) = capture_queries(|| {
        let task = bind_current(move || {
            let mut conn = conn;
            load_one_by_one(&mut conn, 2)
        });
        std::thread::spawn(task).join().unwrap()
    });
    assert_eq!(queries.len(), 2);
}

#[test]
fn unmonitored_connections_are_not_captured() {
    let mut conn = sqlite();
    // Replaces any default instrumentation another test may have installed.
    conn.set_instrumentation(|_: diesel::connection::InstrumentationEvent<'_>| {});
    let (_, queries) = capture_queries(|| conn.batch_execute("SELECT 1").unwrap());
    assert!(queries.is_empty());
}

#[test]
fn macro_passes_within_the_limit() {
    let mut conn = seeded();
    let rows = perf_db::assert_max_queries!(2, load_one_by_one(&mut conn, 2));
    assert_eq!(rows.len(), 2);
    let rows = perf_db::assert_no_n_plus_one!(load_one_by_one(&mut conn, 3));
    assert_eq!(rows.len(), 3);
}

#[actix_web::test]
async fn async_capture_sees_queries_of_web_block() {
    let conn = seeded();
    let (rows, queries) = capture_queries_async(async move {
        actix_web::web::block(bind_current(move || {
            let mut conn = conn;
            load_one_by_one(&mut conn, 3)
        }))
        .await
        .unwrap()
    })
    .await;
    assert_eq!(rows.len(), 3);
    queries.assert_exactly(3).unwrap();
}
