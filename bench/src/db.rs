//! A diesel select by primary key on SQLite in memory (1,000 rows): bare
//! diesel, and the same connection state with perfkit's `QueryMonitor`
//! recording into a store, into a no-op recorder, and switched off.
//!
//! `diesel_sql_text` is bare diesel plus the one thing any instrumentation
//! that reads a query's SQL must do: diesel's instrumentation hands out a
//! query only as a `Display` value, so this variant renders it once per
//! query (stopping before the bind values, as the monitor does). It is the
//! floor of a monitor that fingerprints by SQL text.
//!
//! Every variant gets its own connection built the same way, and every
//! query has the same shape, so diesel's prepared-statement cache serves
//! all of them alike after the warm-up.

use std::{
    fmt::{self, Write as _},
    hint::black_box,
    sync::Arc,
};

use anyhow::Result;
use diesel::{
    connection::{InstrumentationEvent, SimpleConnection},
    prelude::*,
    sqlite::SqliteConnection,
};
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
        v("diesel_sql_text", Some("diesel"), || {
            let mut conn = database()?;
            let mut sql = String::new();
            conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
                if let InstrumentationEvent::FinishQuery { query, .. } = event {
                    sql.clear();
                    // The sink refuses the bind marker, which ends the rendering there.
                    let _ = write!(UpToBinds(&mut sql), "{query}");
                    black_box(&sql);
                }
            });
            select(conn)
        }),
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

/// Copies what diesel writes until the piece that starts its bind values.
struct UpToBinds<'a>(&'a mut String);

impl fmt::Write for UpToBinds<'_> {
    fn write_str(&mut self, piece: &str) -> fmt::Result {
        if piece == " -- binds: " {
            return Err(fmt::Error);
        }
        self.0.push_str(piece);
        Ok(())
    }
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
