//! Add perfkit to your own actix-web + diesel service: the code the README
//! shows, compiled with the workspace so it stays true.
//!
//! Run it with `cargo run -p perfkit --features sqlite --example quickstart`
//! (it keeps its SQLite file `app.db` in the current directory; link
//! libsqlite3 as your application does, e.g. libsqlite3-sys's `bundled`),
//! call `curl http://127.0.0.1:8080/hello` a few times and open
//! <http://127.0.0.1:8080/performance>.
#![allow(clippy::unwrap_used)]

use actix_web::{App, HttpServer, web};
use diesel::{
    prelude::*,
    r2d2::{ConnectionManager, Pool},
};
use perfkit::Perfkit;

type DbPool = Pool<ConnectionManager<SqliteConnection>>;

async fn hello(pool: web::Data<DbPool>) -> actix_web::Result<String> {
    // perfkit::block = web::block that keeps the request's attribution,
    // so this query is counted towards GET /hello.
    perfkit::block(move || -> anyhow::Result<usize> { Ok(diesel::sql_query("SELECT 1").execute(&mut pool.get()?)?) })
        .await?
        .map_err(actix_web::error::ErrorInternalServerError)?;
    Ok("hello\n".to_owned())
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    // --- the README's lines start here ---
    let perf = Perfkit::from_env()?; // store, cache, analytics, sampler: once, outside HttpServer::new
    let pool = Pool::builder()
        .connection_customizer(Box::new(perf.query_monitor())) // time every diesel query, find N+1s
        .build(ConnectionManager::<SqliteConnection>::new("app.db"))?;
    HttpServer::new(move || {
        App::new()
            .wrap(perf.monitor()) // time every request, attribute its queries
            .service(perf.api()) // JSON under /api/performance: metrics, health, alerts, cache
            .service(perf.metrics()) // Prometheus text at /metrics
            .service(perf.dashboard()) // the live dashboard at /performance
            .app_data(web::Data::new(pool.clone()))
            .route("/hello", web::get().to(hello)) // run diesel in perfkit::block(..)
    })
    .bind("127.0.0.1:8080")?
    .run()
    .await?;
    // --- and end here ---
    Ok(())
}
