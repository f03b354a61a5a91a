//! Tests of the typed front and single-flight.

use std::sync::atomic::{AtomicU32, Ordering};

use serde::Deserialize;

use super::*;
use crate::MemoryCache;

fn cache() -> TypedCache {
    TypedCache::new(Arc::new(MemoryCache::builder().background(false).build().unwrap()))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
}

#[tokio::test]
async fn typed_values_round_trip() {
    let c = cache();
    let u = User { id: 7, name: "ada".into() };
    c.set("users:7", &u, Duration::from_secs(60)).await.unwrap();
    assert_eq!(c.get::<User>("users:7").await.unwrap(), Some(u));
    assert!(matches!(c.get::<String>("users:7").await, Err(CacheError::Codec(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_compute_once() {
    let c = cache();
    let runs = Arc::new(AtomicU32::new(0));
    let release = Arc::new(tokio::sync::Notify::new());
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (c, runs, release) = (c.clone(), runs.clone(), release.clone());
        tasks.push(tokio::spawn(async move {
            c.get_or_compute("k", Duration::from_secs(60), || async move {
                runs.fetch_add(1, Ordering::SeqCst);
                release.notified().await;
                Ok::<_, String>(99u32)
            })
            .await
        }));
    }
    // Wait (bounded) until the 19 others queue behind the one computing.
    let mut queued = false;
    for _ in 0..2000 {
        if c.waiting_on("k") == 19 {
            queued = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(queued, "waiting: {}", c.waiting_on("k"));
    release.notify_one();
    for t in tasks {
        assert_eq!(t.await.unwrap(), Ok(99));
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(c.waiting_on("k"), 0);
}

#[tokio::test]
async fn errors_are_returned_not_cached() {
    let c = cache();
    let r: Result<u32, String> = c.get_or_compute("k", Duration::from_secs(60), || async { Err("boom".into()) }).await;
    assert_eq!(r, Err("boom".to_owned()));
    assert_eq!(c.get::<u32>("k").await.unwrap(), None);
    let r: Result<u32, String> = c.get_or_compute("k", Duration::from_secs(60), || async { Ok(5) }).await;
    assert_eq!(r, Ok(5));
    let r: Result<u32, String> = c.get_or_compute("k", Duration::from_secs(60), || async { Ok(6) }).await;
    assert_eq!(r, Ok(5), "second call is served from the cache");
}

#[tokio::test]
async fn undecodable_value_is_recomputed() {
    let c = cache();
    c.set("k", "not a number", Duration::from_secs(60)).await.unwrap();
    let r: Result<User, String> =
        c.get_or_compute("k", Duration::from_secs(60), || async { Ok(User { id: 1, name: "x".into() }) }).await;
    assert_eq!(r.unwrap().id, 1);
    assert_eq!(c.get::<User>("k").await.unwrap().unwrap().id, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_leader_hands_the_flight_on_and_leaves_no_entry() {
    let c = cache();
    let started = Arc::new(tokio::sync::Notify::new());
    let leader = {
        let (c, started) = (c.clone(), started.clone());
        tokio::spawn(async move {
            c.get_or_compute("k", Duration::from_secs(60), || async move {
                started.notify_one();
                std::future::pending::<Result<u32, String>>().await
            })
            .await
        })
    };
    started.notified().await;
    let waiter = {
        let c = c.clone();
        tokio::spawn(
            async move { c.get_or_compute("k", Duration::from_secs(60), || async { Ok::<u32, String>(7) }).await },
        )
    };
    let mut queued = false;
    for _ in 0..2000 {
        if c.waiting_on("k") == 1 {
            queued = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(queued, "waiting: {}", c.waiting_on("k"));
    leader.abort();
    assert!(leader.await.unwrap_err().is_cancelled());
    assert_eq!(waiter.await.unwrap(), Ok(7), "the waiter computes once the leader is gone");
    assert_eq!(c.flights.len(), 0);
    assert_eq!(c.get::<u32>("k").await.unwrap(), Some(7));

    // A caller dropped before it computed anything leaves nothing either.
    let dropped = tokio::time::timeout(
        Duration::from_millis(20),
        c.get_or_compute("other", Duration::from_secs(60), std::future::pending::<Result<u32, String>>),
    )
    .await;
    assert!(dropped.is_err());
    assert_eq!(c.flights.len(), 0);
}

#[tokio::test]
async fn a_panicking_computation_ends_its_flight() {
    let c = cache();
    let task = {
        let c = c.clone();
        tokio::spawn(async move {
            c.get_or_compute("k", Duration::from_secs(60), || async {
                if c.flights.len() == 1 {
                    panic!("computation failed");
                }
                Ok::<u32, String>(1)
            })
            .await
        })
    };
    assert!(task.await.unwrap_err().is_panic());
    assert_eq!(c.flights.len(), 0);
    let r = c.get_or_compute("k", Duration::from_secs(60), || async { Ok::<u32, String>(2) }).await;
    assert_eq!(r, Ok(2));
}
