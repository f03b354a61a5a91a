//! Error bodies of real database failures: a stable code and a plain message, no driver text.

use std::{net::TcpListener, time::Duration};

use actix_web::{ResponseError, body::to_bytes};
use diesel::{
    Connection, RunQueryDsl,
    pg::PgConnection,
    r2d2::{ConnectionManager, Pool},
    sqlite::SqliteConnection,
};
use serde_json::Value;

use super::AppError;

/// The status, the `cache-control` header and the JSON body `e` answers with.
fn answer(e: &AppError) -> (u16, String, Value) {
    let res = e.error_response();
    let status = res.status().as_u16();
    let cache = res.headers().get("cache-control").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let body = actix_web::rt::System::new().block_on(async { to_bytes(res.into_body()).await.ok() }).unwrap();
    (status, cache, serde_json::from_slice(&body).unwrap())
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn a_database_outage_is_answered_without_the_drivers_text() {
    let port = closed_port();
    let url = format!("postgres://app:hunter2@127.0.0.1:{port}/landscape_secret_db");
    let pool = Pool::builder()
        .max_size(1)
        .connection_timeout(Duration::from_millis(500))
        .build_unchecked(ConnectionManager::<PgConnection>::new(url));
    let Err(pool_error) = pool.get() else { panic!("a connection to closed port {port} was made") };
    let e = AppError::from(pool_error);
    // The error itself carries libpq's text (that is what gets logged)...
    let detail = e.to_string();
    assert!(detail.contains("127.0.0.1") && detail.contains(&port.to_string()), "{detail}");
    let (status, cache, body) = answer(&e);
    assert_eq!(status, 503);
    assert_eq!(cache, "no-store");
    assert_eq!(body["error"]["code"], "database_unavailable");
    assert_eq!(body["error"]["message"], "the database is unavailable; try again later");
    // ...and the body none of it.
    let text = body.to_string();
    for leaked in
        ["127.0.0.1", &port.to_string(), "connection to server", "hunter2", "landscape_secret_db", "timed out"]
    {
        assert!(!text.contains(leaked), "body contains {leaked:?}: {text}");
    }
}

#[test]
fn a_failed_query_is_answered_without_sql_or_table_names() {
    let mut conn = SqliteConnection::establish(":memory:").unwrap();
    let err = diesel::sql_query("SELECT budget FROM secret_payroll WHERE id = 1").execute(&mut conn).unwrap_err();
    let e = AppError::from(err);
    assert!(e.to_string().contains("secret_payroll"), "the logged detail names the table: {e}");
    let (status, cache, body) = answer(&e);
    assert_eq!(status, 500);
    assert_eq!(cache, "no-store");
    assert_eq!(body["error"]["code"], "database_error");
    assert_eq!(body["error"]["message"], "the database could not complete the request");
    let text = body.to_string();
    for leaked in ["secret_payroll", "no such table", "SELECT", "budget"] {
        assert!(!text.contains(leaked), "body contains {leaked:?}: {text}");
    }
}

#[test]
fn client_errors_keep_their_message() {
    let (status, _, body) = answer(&AppError::bad_request("invalid_id", "project id must be a positive integer"));
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_id");
    assert_eq!(body["error"]["message"], "project id must be a positive integer");
    let (status, _, body) = answer(&AppError::NotFound("no project 7".into()));
    assert_eq!(status, 404);
    assert_eq!(body["error"]["message"], "no project 7");
}

#[test]
fn a_known_outage_is_answered_like_a_pool_timeout_with_retry_after() {
    let port = closed_port();
    let pool = Pool::builder()
        .max_size(1)
        .connection_timeout(Duration::from_millis(300))
        .build_unchecked(ConnectionManager::<PgConnection>::new(format!("postgres://127.0.0.1:{port}/x")));
    let Err(pool_error) = pool.get() else { panic!("a connection to closed port {port} was made") };
    for e in [AppError::from(pool_error), AppError::from(crate::outage::CheckoutError::Down)] {
        let res = e.error_response();
        let retry = res.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
        assert_eq!(retry.as_deref(), Some(super::RETRY_AFTER_SECS.to_string().as_str()), "{e}");
        let (status, cache, body) = answer(&e);
        assert_eq!((status, cache.as_str()), (503, "no-store"), "{e}");
        assert_eq!(
            body,
            serde_json::json!({"error": {
                "code": "database_unavailable",
                "message": "the database is unavailable; try again later",
            }})
        );
    }
}

#[test]
fn a_body_timeout_is_a_408_that_closes_the_connection() {
    let e = AppError::BodyTimeout { seconds: 3 };
    let res = e.error_response();
    assert!(res.head().connection_type() == actix_web::http::ConnectionType::Close);
    let (status, _, body) = answer(&e);
    assert_eq!(status, 408);
    assert_eq!(body["error"]["code"], "request_timeout");
    assert_eq!(body["error"]["message"], "request body not received within 3 s");
}
