//! [`OutageLatch`]: fail fast while the database is known to be down.
//!
//! Without it, every request during a database outage waits the pool's
//! whole `connection_timeout` before failing, and a burst of requests
//! piles up blocked threads. The latch turns the first failure into a
//! fast path:
//!
//! - a check-out that times out *because the pool could not open
//!   connections* trips the latch (a timeout with every connection open
//!   and busy is saturation, not an outage: it fails that request only);
//! - while tripped, [`OutageLatch::checkout`] answers
//!   [`CheckoutError::Down`] at once, without touching the pool;
//! - one background thread probes the pool every `probe_interval` (each
//!   probe waits at most `probe_timeout`) and clears the latch when a
//!   connection is handed out again, so the service recovers by itself.
//!
//! The guarantee is about bounded waiting: once the outage is known, a
//! request spends no time waiting on the pool. The probe thread holds only
//! a weak reference to the latch and ends once the latch is dropped.

use std::{
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use diesel::r2d2::{ManageConnection, Pool, PoolError, PooledConnection};

/// Why no connection was handed out.
#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    /// The pool timed out (the error holds the driver's last message).
    #[error("{0}")]
    Pool(#[from] PoolError),
    /// The database is known to be down; the pool was not asked.
    #[error("the database is down (outage latched)")]
    Down,
}

/// Remembers that the database is down; see the module docs.
#[derive(Debug)]
pub struct OutageLatch {
    down: AtomicBool,
    state: Mutex<State>,
    probe_interval: Duration,
    probe_timeout: Duration,
}

#[derive(Debug, Default)]
struct State {
    /// When the current outage was noticed.
    since: Option<Instant>,
    /// Whether a probe thread is running.
    probing: bool,
}

impl OutageLatch {
    /// A latch (initially up) whose probe tries the pool every
    /// `probe_interval`, waiting at most `probe_timeout` each time.
    pub fn new(probe_interval: Duration, probe_timeout: Duration) -> Arc<OutageLatch> {
        Arc::new(OutageLatch {
            down: AtomicBool::new(false),
            state: Mutex::new(State::default()),
            probe_interval,
            probe_timeout,
        })
    }

    /// Whether the database is currently known to be down.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// A connection from `pool`, or [`CheckoutError::Down`] at once while
    /// the latch is set. A check-out that fails because the pool could not
    /// open connections sets the latch and starts the recovery probe.
    ///
    /// # Errors
    /// [`CheckoutError::Down`] while latched; [`CheckoutError::Pool`] when
    /// the pool timed out.
    pub fn checkout<M>(self: &Arc<Self>, pool: &Pool<M>) -> Result<PooledConnection<M>, CheckoutError>
    where
        M: ManageConnection,
    {
        if self.is_down() {
            return Err(CheckoutError::Down);
        }
        match pool.get() {
            Ok(conn) => Ok(conn),
            Err(e) => {
                // Every connection open and busy: saturation, not an outage.
                if pool.state().connections < pool.max_size() {
                    self.trip(pool, &e);
                }
                Err(CheckoutError::Pool(e))
            }
        }
    }

    fn trip<M: ManageConnection>(self: &Arc<Self>, pool: &Pool<M>, cause: &PoolError) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !self.down.swap(true, Ordering::AcqRel) {
            state.since = Some(Instant::now());
            tracing::warn!(error = %cause, "database unavailable; answering 503 until it is reachable again");
        }
        if state.probing {
            return;
        }
        state.probing = true;
        let latch = Arc::downgrade(self);
        let pool = pool.clone();
        let spawned = std::thread::Builder::new().name("db-outage-probe".into()).spawn(move || probe(&latch, &pool));
        if let Err(e) = spawned {
            // No probe: clear the latch so requests try the pool themselves.
            tracing::error!(error = %e, "cannot start the database probe");
            state.probing = false;
            self.down.store(false, Ordering::Release);
        }
    }

    /// Clears the latch after a successful probe.
    fn recover(&self) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.probing = false;
        let since = state.since.take();
        self.down.store(false, Ordering::Release);
        tracing::info!(down_for_ms = since.map(|s| s.elapsed().as_millis()), "database reachable again");
    }

    /// Ends a probe that stopped without recovering (latch dropped).
    fn stop_probing(&self) {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).probing = false;
    }
}

/// The probe thread: tries `pool` every interval until a connection is
/// handed out (then clears the latch) or the latch is dropped.
fn probe<M: ManageConnection>(latch: &Weak<OutageLatch>, pool: &Pool<M>) {
    loop {
        let Some(interval) = latch.upgrade().map(|l| l.probe_interval) else { return };
        std::thread::sleep(interval);
        let Some(latch) = latch.upgrade() else { return };
        if !latch.is_down() {
            latch.stop_probing();
            return;
        }
        match pool.get_timeout(latch.probe_timeout) {
            Ok(conn) => {
                drop(conn);
                latch.recover();
                return;
            }
            Err(e) => tracing::debug!(error = %e, "database still unavailable"),
        }
    }
}

#[cfg(test)]
mod tests;
