//! Tests of the heavy-work runner: reuse, invalidation, panics and the bound.

#![allow(clippy::unwrap_used)]

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use perf_core::{ManualClock, Timestamp};

use super::*;

fn runner(limit: usize) -> (Heavy, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_700_000_000)));
    (Heavy::new(clock.clone(), limit, Duration::from_secs(1)), clock)
}

#[actix_web::test]
async fn a_body_is_reused_within_the_reuse_time_and_recomputed_after() {
    let (heavy, clock) = runner(2);
    let calls = Arc::new(AtomicUsize::new(0));
    async fn counted(heavy: &Heavy, calls: &Arc<AtomicUsize>) -> Bytes {
        let calls = calls.clone();
        heavy.run("k".to_owned(), move || calls.fetch_add(1, Ordering::SeqCst) + 1).await.unwrap()
    }
    let run = |heavy| counted(heavy, &calls);
    assert_eq!(run(&heavy).await, "1");
    clock.advance(Duration::from_millis(999));
    assert_eq!(run(&heavy).await, "1", "reused within the second");
    clock.advance(Duration::from_millis(1));
    assert_eq!(run(&heavy).await, "2", "recomputed once a second has passed");
    heavy.invalidate();
    assert_eq!(run(&heavy).await, "3", "recomputed after an invalidation");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[actix_web::test]
async fn a_panicking_computation_frees_its_permit_and_its_slot() {
    let (heavy, _clock) = runner(1);
    let failed = heavy.run("k".to_owned(), || -> u32 { panic!("computation failed") }).await;
    assert!(matches!(failed, Err(HttpError::Internal(_))), "{failed:?}");
    {
        let table = lock(&heavy.table);
        assert_eq!((table.running, table.slots.len()), (0, 0));
    }
    assert_eq!(heavy.run("k".to_owned(), || 7).await.unwrap(), "7");
}

#[actix_web::test]
async fn the_table_keeps_at_most_its_capacity_dropping_the_oldest_body() {
    let (heavy, clock) = runner(1);
    for i in 0..CAPACITY + 5 {
        heavy.run(format!("k{i}"), move || i).await.unwrap();
        clock.advance(Duration::from_millis(1));
    }
    let table = lock(&heavy.table);
    assert_eq!(table.slots.len(), CAPACITY);
    assert!(!table.slots.contains_key("k0") && !table.slots.contains_key("k4"));
    assert!(table.slots.contains_key("k5") && table.slots.contains_key(&format!("k{}", CAPACITY + 4)));
}
