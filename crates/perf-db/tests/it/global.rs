//! The process-wide default instrumentation and `monitored` units. One test
//! function, because the default is global to the test binary.

use diesel::connection::SimpleConnection;
use perf_core::RequestScope;
use perf_db::{QueryMonitor, monitored, monitored_async};

use crate::{recording_monitor, sqlite};

#[perf_db::monitored]
fn annotated_sync(x: i32) -> i32 {
    x * 2
}

#[perf_db::monitored(name = "renamed_unit")]
async fn annotated_async(x: i32) -> Result<i32, String> {
    Ok(x * 2)
}

#[actix_web::test]
async fn global_monitor_covers_new_connections_and_monitored_units() {
    let (monitor, recorder) = recording_monitor();
    monitor.install_global().unwrap();
    assert!(QueryMonitor::global().is_some());

    let mut conn = sqlite();
    conn.batch_execute("SELECT 1 AS global_marker").unwrap();
    assert!(recorder.queries.lock().iter().any(|q| q.sql.contains("global_marker")));

    let value = monitored("sync_unit", || 41 + 1);
    assert_eq!(value, 42);
    let scope = RequestScope::new("GET /units");
    let value = scope.instrument(monitored_async("async_unit", async { "done" })).await;
    assert_eq!(value, "done");
    {
        let queries = recorder.queries.lock();
        assert!(queries.iter().any(|q| q.fingerprint == "monitored:sync_unit" && q.scope.is_none()));
        let unit = queries.iter().find(|q| q.fingerprint == "monitored:async_unit").unwrap();
        assert_eq!(unit.scope.as_deref(), Some("GET /units"));
    }
    assert_eq!(scope.query_count(), 0, "a unit is not a query of the request");

    assert_eq!(annotated_sync(3), 6);
    assert_eq!(annotated_async(4).await, Ok(8));
    {
        let queries = recorder.queries.lock();
        assert!(queries.iter().any(|q| q.fingerprint == "monitored:annotated_sync"));
        assert!(queries.iter().any(|q| q.fingerprint == "monitored:renamed_unit"));
    }

    QueryMonitor::uninstall_global();
    let mut later = sqlite();
    later.batch_execute("SELECT 2 AS after_uninstall").unwrap();
    monitored("after_uninstall_unit", || ());
    let queries = recorder.queries.lock();
    assert!(!queries.iter().any(|q| q.sql.contains("after_uninstall")));
}
