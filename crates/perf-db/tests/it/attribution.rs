//! Per-request attribution through `RequestScope`, across `web::block`, and
//! N+1 detection, exercised through a real actix-web service.

use std::{num::NonZeroU32, sync::Arc};

use actix_web::{App, HttpResponse, test as web_test, web};
use diesel::{connection::SimpleConnection, prelude::*, sql_query, sql_types::Integer};
use parking_lot::Mutex;
use perf_core::{RequestScope, bind_current, testing::RecordingRecorder};
use perf_db::fingerprint_hash;

use crate::{Item, recording_monitor, sqlite};

type Db = web::Data<Arc<Mutex<SqliteConnection>>>;

const SELECT_ONE: &str = "SELECT id, name FROM items WHERE id = ?";

/// Loads `n` items one by one (the N+1 shape) inside `web::block`, in a
/// request scope, and answers `queries,query_time_nanos`.
async fn load_items(db: Db, n: web::Path<i32>, recorder: Option<web::Data<Arc<RecordingRecorder>>>) -> HttpResponse {
    let n = n.into_inner();
    let scope = RequestScope::new("GET /items/{n}");
    let work = async move {
        let db = db.get_ref().clone();
        web::block(bind_current(move || {
            let mut conn = db.lock();
            (1..=n)
                .map(|id| sql_query(SELECT_ONE).bind::<Integer, _>(id).load::<Item>(&mut *conn))
                .collect::<Result<Vec<_>, _>>()
        }))
        .await
    };
    let rows = scope.instrument(work).await.unwrap().unwrap();
    // What the request's owner (perf-http's middleware) does when the request ends.
    if let Some(recorder) = recorder {
        scope.report_n_plus_one(&***recorder, perf_core::Timestamp::EPOCH);
    }
    HttpResponse::Ok().body(format!("{},{},{}", rows.len(), scope.query_count(), scope.query_time().as_nanos()))
}

fn database(threshold: u32) -> (Arc<Mutex<SqliteConnection>>, Arc<RecordingRecorder>) {
    let mut conn = sqlite();
    conn.batch_execute(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
         INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e'), (6, 'f'), (7, 'g');",
    )
    .unwrap();
    let (monitor, recorder) = recording_monitor();
    conn.set_instrumentation(monitor.with_n_plus_one_threshold(NonZeroU32::new(threshold).unwrap()));
    (Arc::new(Mutex::new(conn)), recorder)
}

async fn get(conn: Arc<Mutex<SqliteConnection>>, recorder: &Arc<RecordingRecorder>, path: &str) -> String {
    let app = web_test::init_service(
        App::new()
            .app_data(web::Data::new(conn))
            .app_data(web::Data::new(recorder.clone()))
            .route("/items/{n}", web::get().to(load_items)),
    )
    .await;
    let body = web_test::call_and_read_body(&app, web_test::TestRequest::get().uri(path).to_request()).await;
    String::from_utf8(body.to_vec()).unwrap()
}

#[actix_web::test]
async fn queries_in_web_block_are_attributed_to_the_request() {
    let (conn, recorder) = database(5);
    let body = get(conn, &recorder, "/items/3").await;
    let parts: Vec<u64> = body.split(',').map(|p| p.parse().unwrap()).collect();
    assert_eq!(parts[0], 3, "rows");
    assert_eq!(parts[1], 3, "queries counted in the request scope");
    assert!(parts[2] > 0, "query time counted in the request scope");
    let queries = recorder.queries.lock();
    let selects: Vec<_> = queries.iter().filter(|q| q.fingerprint == SELECT_ONE).collect();
    assert_eq!(selects.len(), 3);
    assert!(selects.iter().all(|q| q.scope.as_deref() == Some("GET /items/{n}")));
    assert!(recorder.n_plus_one.lock().is_empty(), "3 runs stay under the threshold of 5");
}

#[actix_web::test]
async fn repeated_selects_in_one_request_are_one_n_plus_one_finding() {
    let (conn, recorder) = database(5);
    let body = get(conn.clone(), &recorder, "/items/7").await;
    assert!(body.starts_with("7,7,"), "{body}");
    let findings = recorder.n_plus_one.lock().clone();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].scope, "GET /items/{n}");
    assert_eq!(findings[0].fingerprint, SELECT_ONE);
    // The request's final count (7 loads), not the threshold (5).
    assert_eq!(findings[0].count, 7);
    // A second request is a new scope: its own finding, with its own count.
    get(conn, &recorder, "/items/6").await;
    let findings = recorder.n_plus_one.lock().clone();
    assert_eq!(findings.iter().map(|f| f.count).collect::<Vec<_>>(), [7, 6]);
}

#[actix_web::test]
async fn n_plus_one_threshold_is_configurable() {
    let (conn, recorder) = database(3);
    get(conn.clone(), &recorder, "/items/2").await;
    assert!(recorder.n_plus_one.lock().is_empty(), "2 runs stay under the threshold of 3");
    get(conn, &recorder, "/items/3").await;
    let findings = recorder.n_plus_one.lock().clone();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].count, 3);
}

#[test]
fn queries_outside_a_scope_are_not_attributed() {
    let (conn, recorder) = database(5);
    let scope = RequestScope::new("GET /x");
    for id in 1..=6 {
        sql_query(SELECT_ONE).bind::<Integer, _>(id).load::<Item>(&mut *conn.lock()).unwrap();
    }
    assert_eq!(scope.query_count(), 0);
    assert!(recorder.queries.lock().iter().all(|q| q.scope.is_none()));
    assert!(recorder.n_plus_one.lock().is_empty());
}

#[test]
fn scope_counts_each_fingerprint_by_its_hash() {
    let (conn, _recorder) = database(5);
    let scope = RequestScope::new("GET /y");
    let _guard = scope.enter();
    for id in 1..=4 {
        sql_query(SELECT_ONE).bind::<Integer, _>(id).load::<Item>(&mut *conn.lock()).unwrap();
    }
    let (count, _) = scope.fingerprint_stats(fingerprint_hash(SELECT_ONE)).unwrap();
    assert_eq!(count, 4);
}

#[actix_web::test]
async fn monitor_capture_sees_a_whole_request_despite_its_own_scope() {
    let mut conn = sqlite();
    conn.batch_execute(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
         INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e'), (6, 'f');",
    )
    .unwrap();
    let (monitor, _recorder) = recording_monitor();
    conn.set_instrumentation(monitor.clone());
    let app = web_test::init_service(
        App::new().app_data(web::Data::new(Arc::new(Mutex::new(conn)))).route("/items/{n}", web::get().to(load_items)),
    )
    .await;
    let request = web_test::TestRequest::get().uri("/items/6").to_request();
    let (response, queries) = monitor.capture_async(web_test::call_service(&app, request)).await;
    assert!(response.status().is_success());
    assert_eq!(queries.len(), 6);
    let err = queries.assert_no_n_plus_one(perf_db::DEFAULT_N_PLUS_ONE_THRESHOLD).unwrap_err().to_string();
    assert!(err.contains(&format!("6× {SELECT_ONE}")), "{err}");
    // Closed captures see nothing more.
    let (_, after) = monitor.capture(|| ());
    assert!(after.is_empty());
}
