//! A diesel select by primary key on SQLite in memory (1,000 rows): bare
//! diesel, and the same connection state with perfkit's `QueryMonitor`
//! recording into a store, into a no-op recorder, and switched off.
//!
//! Every variant gets its own connection built the same way, and every
//! query has the same shape, so diesel's prepared-statement cache serves
//! all of them alike after the warm-up.

use std::{hint::black_box, sync::Arc};

use anyhow::Result;
use diesel::{connection::SimpleConnection, prelude::*, sqlite::SqliteConnection};
use perf_core::{NoopRecorder, SharedThresholds, Store, StoreConfig, SystemClock};
use perf_db::QueryMonitor;

use crate::{Op, Variant};

const GROUP: &str = "perf-db/select_by_pk";
const ROWS: u64 = 1_000;

diesel::table! {
    /// The benchmark table.
    items (id) {
        /// Primary key.
        id -> Integer,
        /// Name.
        name -> Text,
    }
}

pub(crate) fn variants() -> Vec<Variant> {
    let v = |name, baseline, make: fn() -> Result<Op>| Variant {
        group: GROUP,
        name,
        baseline,
        warm_up: ROWS * 2,
        n1: 1_000,
        make: Box::new(make),
    };
    vec![
        v("diesel", None, || select(database()?)),
        v("perfkit_monitored_store", Some("diesel"), || {
            let thresholds = Arc::new(SharedThresholds::default());
            let store = Arc::new(Store::new(StoreConfig::default(), Arc::new(SystemClock), thresholds.clone())?);
            monitored(QueryMonitor::new(store).with_thresholds(thresholds))
        }),
        v("perfkit_monitored_noop_recorder", Some("diesel"), || monitored(QueryMonitor::new(Arc::new(NoopRecorder)))),
        v("perfkit_monitored_disabled", Some("diesel"), || {
            let thresholds = Arc::new(SharedThresholds::default());
            let store = Arc::new(Store::new(StoreConfig::default(), Arc::new(SystemClock), thresholds.clone())?);
            monitored(QueryMonitor::new(store).with_thresholds(thresholds).with_enabled(false))
        }),
    ]
}

fn database() -> Result<SqliteConnection> {
    let mut conn = SqliteConnection::establish(":memory:")?;
    conn.batch_execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")?;
    let values: Vec<String> = (1..=ROWS).map(|i| format!("({i}, 'item {i}')")).collect();
    conn.batch_execute(&format!("INSERT INTO items VALUES {}", values.join(",")))?;
    Ok(conn)
}

fn monitored(monitor: QueryMonitor) -> Result<Op> {
    let mut conn = database()?;
    conn.set_instrumentation(monitor);
    select(conn)
}

fn select(mut conn: SqliteConnection) -> Result<Op> {
    Ok(Box::new(move |i| {
        let id = (i % ROWS) as i32 + 1;
        let row: (i32, String) =
            items::table.find(black_box(id)).first(&mut conn).expect("every id in 1..=1000 is in the table");
        black_box(row);
    }))
}
