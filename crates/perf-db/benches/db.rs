//! perf-db benchmarks: the instrumentation's overhead on a SQLite in-memory
//! select by primary key, and the cost of fingerprinting one query.
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

fn select_by_pk(c: &mut Criterion) {
    let mut group = c.benchmark_group("perf-db/select_by_pk");
    let mut run = |name: &str, mut conn: SqliteConnection| {
        let mut id = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                id = id % ROWS + 1;
                let row: (i32, String) = items::table.find(black_box(id)).first(&mut conn).unwrap();
                black_box(row)
            })
        });
    };
    run("diesel", database());

    let mut conn = database();
    conn.set_instrumentation(QueryMonitor::new(Arc::new(NoopRecorder)));
    run("perfkit_monitored_noop_recorder", conn);

    let thresholds = Arc::new(SharedThresholds::default());
    let store = Arc::new(Store::new(StoreConfig::default(), Arc::new(SystemClock), thresholds.clone()).unwrap());
    let mut conn = database();
    conn.set_instrumentation(QueryMonitor::new(store).with_thresholds(thresholds));
    run("perfkit_monitored_store", conn);
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
