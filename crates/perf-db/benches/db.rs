//! perf-db benchmarks: the instrumentation's overhead on a SQLite in-memory
//! select by primary key (recording into a store, into a no-op recorder, and
//! switched off), and the cost of fingerprinting one query.
//!
//! `cargo bench -p perf-db --bench db -- --warm-up-time 0.5 --measurement-time 2 --noplot`
#![allow(clippy::unwrap_used)]

use std::{hint::black_box, sync::Arc};

use criterion::{Criterion, criterion_group, criterion_main};
use diesel::{connection::SimpleConnection, prelude::*, sqlite::SqliteConnection};
use perf_core::{NoopRecorder, SharedThresholds, Store, StoreConfig, SystemClock};
use perf_db::{Fingerprint, QueryMonitor, fingerprint_into};

diesel::table! {
    /// The benchmark table.
    items (id) {
        /// Primary key.
        id -> Integer,
        /// Name.
        name -> Text,
    }
}

const ROWS: i32 = 1_000;

fn database() -> SqliteConnection {
    let mut conn = SqliteConnection::establish(":memory:").unwrap();
    conn.batch_execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)").unwrap();
    let values: Vec<String> = (1..=ROWS).map(|i| format!("({i}, 'item {i}')")).collect();
    conn.batch_execute(&format!("INSERT INTO items VALUES {}", values.join(","))).unwrap();
    conn
}

/// One select by primary key, the `i`-th of a rotation over every row.
fn select(conn: &mut SqliteConnection, i: i32) -> (i32, String) {
    items::table.find(black_box(i % ROWS + 1)).first(conn).unwrap()
}

fn select_by_pk(c: &mut Criterion) {
    // Every connection is built the same way and warmed up (each row read
    // twice, the statement prepared and cached) before the first one is
    // measured: measured cold and first, bare diesel used to look slower
    // than the monitored connections that followed it.
    let thresholds = Arc::new(SharedThresholds::default());
    let store = Arc::new(Store::new(StoreConfig::default(), Arc::new(SystemClock), thresholds.clone()).unwrap());
    let monitored = |monitor: QueryMonitor| {
        let mut conn = database();
        conn.set_instrumentation(monitor);
        conn
    };
    let mut conns = vec![
        ("diesel", database()),
        ("perfkit_monitored_store", monitored(QueryMonitor::new(store.clone()).with_thresholds(thresholds.clone()))),
        ("perfkit_monitored_noop_recorder", monitored(QueryMonitor::new(Arc::new(NoopRecorder)))),
        (
            "perfkit_monitored_disabled",
            monitored(QueryMonitor::new(store).with_thresholds(thresholds).with_enabled(false)),
        ),
    ];
    for (_, conn) in &mut conns {
        for i in 0..2 * ROWS {
            black_box(select(conn, i));
        }
    }
    let mut group = c.benchmark_group("perf-db/select_by_pk");
    for (name, conn) in &mut conns {
        let mut id = 0;
        group.bench_function(*name, |b| {
            b.iter(|| {
                id = (id + 1) % ROWS;
                black_box(select(conn, id))
            })
        });
    }
    group.finish();
}

fn fingerprint(c: &mut Criterion) {
    let mut group = c.benchmark_group("perf-db/fingerprint");
    let short = "SELECT `items`.`id`, `items`.`name` FROM `items` WHERE (`items`.`id` = ?) LIMIT ? -- binds: [7, 1]";
    let long = "SELECT \"projects\".\"id\", \"projects\".\"name\", \"tasks\".\"id\", \"tasks\".\"title\", \
                \"users\".\"email\" FROM \"projects\" INNER JOIN \"tasks\" ON \"tasks\".\"project_id\" = \
                \"projects\".\"id\" LEFT OUTER JOIN \"users\" ON \"users\".\"id\" = \"tasks\".\"owner_id\" WHERE \
                \"projects\".\"client_id\" IN ($1, $2, $3, $4, $5, $6, $7, $8) AND \"tasks\".\"status\" <> 'done' \
                ORDER BY \"projects\".\"name\" LIMIT 50 -- binds: [1, 2, 3, 4, 5, 6, 7, 8]";
    let mut buf = String::with_capacity(1024);
    group.bench_function("short_reused_buffer", |b| b.iter(|| fingerprint_into(black_box(short), &mut buf)));
    group.bench_function("long_reused_buffer", |b| b.iter(|| fingerprint_into(black_box(long), &mut buf)));
    group.bench_function("long_owned", |b| b.iter(|| Fingerprint::of(black_box(long))));
    group.finish();
}

fn query_text(c: &mut Criterion) {
    // What the instrumentation pays per query to learn its SQL from diesel.
    let mut group = c.benchmark_group("perf-db/query_text");
    let mut buf = String::with_capacity(1024);
    group.bench_function("debug_query_display", |b| {
        b.iter(|| {
            use std::fmt::Write as _;
            buf.clear();
            let query = items::table.find(black_box(7)).limit(1);
            write!(buf, "{}", diesel::debug_query::<diesel::sqlite::Sqlite, _>(&query)).unwrap();
            buf.len()
        })
    });
    group.finish();
}

criterion_group!(benches, select_by_pk, fingerprint, query_text);
criterion_main!(benches);
