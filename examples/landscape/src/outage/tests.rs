//! The latch over a pool whose "database" a test switches off and on.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use diesel::r2d2::{ManageConnection, Pool};

use super::{CheckoutError, OutageLatch};

/// A connection manager whose connections exist only while `up` is set.
#[derive(Clone, Default)]
struct Switch {
    up: Arc<AtomicBool>,
}

#[derive(Debug)]
struct Down;

impl std::fmt::Display for Down {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection refused")
    }
}

impl std::error::Error for Down {}

impl ManageConnection for Switch {
    type Connection = ();
    type Error = Down;

    fn connect(&self) -> Result<(), Down> {
        if self.up.load(Ordering::SeqCst) { Ok(()) } else { Err(Down) }
    }

    fn is_valid(&self, (): &mut ()) -> Result<(), Down> {
        if self.up.load(Ordering::SeqCst) { Ok(()) } else { Err(Down) }
    }

    fn has_broken(&self, (): &mut ()) -> bool {
        !self.up.load(Ordering::SeqCst)
    }
}

fn pool(switch: &Switch, max: u32) -> Pool<Switch> {
    Pool::builder()
        .max_size(max)
        .min_idle(Some(0))
        .connection_timeout(Duration::from_millis(300))
        .build_unchecked(switch.clone())
}

/// Polls `done` until it holds or `within` passes.
fn eventually(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    done()
}

#[test]
fn a_failed_checkout_latches_and_later_ones_answer_at_once() {
    let switch = Switch::default();
    switch.up.store(true, Ordering::SeqCst);
    let pool = pool(&switch, 2);
    // A long probe interval: nothing clears the latch during this test.
    let latch = OutageLatch::new(Duration::from_secs(60), Duration::from_millis(100));
    assert!(latch.checkout(&pool).is_ok());
    assert!(!latch.is_down());

    switch.up.store(false, Ordering::SeqCst);
    assert!(matches!(latch.checkout(&pool), Err(CheckoutError::Pool(_))));
    assert!(latch.is_down());
    // Latched check-outs return before asking the pool: twenty of them
    // together take less than one connection_timeout (300 ms), where twenty
    // pool check-outs would wait twenty of them.
    let start = Instant::now();
    for _ in 0..20 {
        assert!(matches!(latch.checkout(&pool), Err(CheckoutError::Down)));
    }
    assert!(start.elapsed() < Duration::from_millis(300), "{:?}", start.elapsed());
}

#[test]
fn the_probe_clears_the_latch_once_the_database_returns() {
    let switch = Switch::default();
    let pool = pool(&switch, 2);
    let latch = OutageLatch::new(Duration::from_millis(20), Duration::from_millis(100));
    assert!(matches!(latch.checkout(&pool), Err(CheckoutError::Pool(_))));
    assert!(latch.is_down());
    // Still down: the probe keeps failing and the latch stays set.
    std::thread::sleep(Duration::from_millis(200));
    assert!(latch.is_down());
    assert!(matches!(latch.checkout(&pool), Err(CheckoutError::Down)));

    switch.up.store(true, Ordering::SeqCst);
    assert!(eventually(Duration::from_secs(10), || !latch.is_down()), "the latch was not cleared");
    assert!(latch.checkout(&pool).is_ok());
    // A second outage latches again (a new probe is started).
    switch.up.store(false, Ordering::SeqCst);
    let _ = latch.checkout(&pool);
    assert!(latch.is_down());
    switch.up.store(true, Ordering::SeqCst);
    assert!(eventually(Duration::from_secs(10), || !latch.is_down()), "the second outage was not cleared");
}

#[test]
fn a_saturated_pool_is_not_an_outage() {
    let switch = Switch::default();
    switch.up.store(true, Ordering::SeqCst);
    let pool = pool(&switch, 1);
    let latch = OutageLatch::new(Duration::from_secs(60), Duration::from_millis(100));
    let held = latch.checkout(&pool).unwrap();
    assert!(matches!(latch.checkout(&pool), Err(CheckoutError::Pool(_))));
    assert!(!latch.is_down(), "a timeout with every connection busy latched");
    drop(held);
    assert!(latch.checkout(&pool).is_ok());
}

#[test]
fn the_probe_ends_when_the_latch_is_dropped() {
    let switch = Switch::default();
    let pool = pool(&switch, 1);
    let latch = OutageLatch::new(Duration::from_millis(20), Duration::from_millis(50));
    let _ = latch.checkout(&pool);
    assert!(latch.is_down());
    let weak = Arc::downgrade(&latch);
    drop(latch);
    // The probe holds the latch only while probing: once the service drops
    // it, nothing keeps it alive and the probe stops at its next round.
    assert!(eventually(Duration::from_secs(5), || weak.upgrade().is_none()));
}
