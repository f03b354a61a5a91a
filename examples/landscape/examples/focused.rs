//! perfkit from the focused crates (perf-core, perf-db, perf-http) instead
//! of the `perfkit` facade: the README's second snippet, compiled with the
//! workspace so it stays true.
//!
//! Run it with `cargo run -p landscape --example focused` (it keeps its
//! SQLite file `app.db` in the current directory), call
//! `curl http://127.0.0.1:8080/hello` a few times and open
//! <http://127.0.0.1:8080/performance>. One `PerfContext` carries the store,
//! thresholds and clock to each part; perf-analytics' `Analytics::from_context`
//! and perf-cache's `MemoryCache::builder().context(..)` take it the same way.
#![allow(clippy::unwrap_used)]

use actix_web::{App, HttpServer, web};
use diesel::{
    prelude::*,
    r2d2::{ConnectionManager, Pool},
};
use perf_core::{PerfConfig, PerfContext};
use perf_db::QueryMonitor;
use perf_http::PerfState;

type DbPool = Pool<ConnectionManager<SqliteConnection>>;

async fn hello(pool: web::Data<DbPool>) -> actix_web::Result<String> {
    // perf_http::block = web::block that keeps the request's attribution,
    // so this query is counted towards GET /hello.
    perf_http::block(move || -> anyhow::Result<usize> { Ok(diesel::sql_query("SELECT 1").execute(&mut pool.get()?)?) })
        .await?
        .map_err(actix_web::error::ErrorInternalServerError)?;
    Ok("hello\n".to_owned())
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    // --- the README's lines start here ---
    let config = PerfConfig::from_env()?;
    let ctx = PerfContext::new(&config)?; // one store, thresholds and clock for every part
    let perf = PerfState::builder(config).context(&ctx).build()?; // once, outside HttpServer::new
    let pool = Pool::builder()
        .connection_customizer(Box::new(QueryMonitor::from_context(&ctx))) // time every diesel query
        .build(ConnectionManager::<SqliteConnection>::new("app.db"))?;
    HttpServer::new(move || {
        App::new()
            .wrap(perf.monitor()) // time every request, attribute its queries
            .service(perf.api()) // JSON under /api/performance
            .service(perf.metrics()) // Prometheus text at /metrics
            .service(perf.dashboard()) // the live dashboard at /performance
            .app_data(web::Data::new(pool.clone()))
            .route("/hello", web::get().to(hello)) // run diesel in perf_http::block(..)
    })
    .bind("127.0.0.1:8080")?
    .run()
    .await?;
    // --- and end here ---
    Ok(())
}
