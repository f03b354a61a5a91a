//! [`Heavy`]: where the API's expensive documents (report, analytics,
//! long-window snapshots and series) are computed, away from the app's
//! actix worker threads.
//!
//! - Each computation runs on the blocking pool (`spawn_blocking`), never on
//!   the worker thread that received the request.
//! - Identical requests in flight share one computation (single flight,
//!   keyed by endpoint and normalized parameters).
//! - A finished body is reused for a short time (about a second, measured on
//!   the state's clock) from a small bounded table.
//! - At most `limit` computations run at once; a request that would start
//!   another is refused with [`HttpError::Busy`] (429 with `Retry-After`).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use actix_web::web::Bytes;
use futures_util::{
    FutureExt as _,
    future::{BoxFuture, Shared},
};
use perf_core::{Clock, Timestamp};
use serde::Serialize;

use crate::HttpError;

/// How many heavy computations may run at once by default.
pub(crate) const DEFAULT_HEAVY_LIMIT: usize = 2;
/// How long a computed body is reused by default.
pub(crate) const DEFAULT_HEAVY_REUSE: Duration = Duration::from_secs(1);
/// The most finished bodies kept at once.
const CAPACITY: usize = 64;

/// What a computation yields: the JSON body, or why it failed.
type Outcome = Result<Bytes, String>;
type Computation = Shared<BoxFuture<'static, Outcome>>;

enum Slot {
    /// Being computed; later identical requests await the same future.
    Running(Computation),
    /// Computed at `at`; served until `at + reuse`.
    Ready { at: Timestamp, body: Bytes },
}

struct Table {
    slots: HashMap<String, Slot>,
    running: usize,
}

/// The heavy-work runner of one [`PerfState`](crate::PerfState).
pub(crate) struct Heavy {
    table: Arc<Mutex<Table>>,
    clock: Arc<dyn Clock>,
    limit: usize,
    reuse: Duration,
}

impl std::fmt::Debug for Heavy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Heavy").field("limit", &self.limit).field("reuse", &self.reuse).finish_non_exhaustive()
    }
}

fn lock(table: &Mutex<Table>) -> MutexGuard<'_, Table> {
    table.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Heavy {
    /// A runner allowing `limit` concurrent computations (at least 1) and
    /// reusing bodies for `reuse`, timed by `clock`.
    pub(crate) fn new(clock: Arc<dyn Clock>, limit: usize, reuse: Duration) -> Self {
        Heavy {
            table: Arc::new(Mutex::new(Table { slots: HashMap::new(), running: 0 })),
            clock,
            limit: limit.max(1),
            reuse,
        }
    }

    /// Forgets every finished body (after a change that alters the
    /// documents, such as new thresholds or a resolved alert). Computations
    /// in flight finish and are stored.
    pub(crate) fn invalidate(&self) {
        lock(&self.table).slots.retain(|_, s| matches!(s, Slot::Running(_)));
    }

    /// The JSON body of `compute()` for `key`: reused when computed less
    /// than `reuse` ago, shared with an identical computation in flight, or
    /// computed on the blocking pool.
    ///
    /// # Errors
    /// [`HttpError::Busy`] when `limit` computations already run;
    /// [`HttpError::Internal`] when the computation panicked or its result
    /// could not be serialized.
    pub(crate) async fn run<T, F>(&self, key: String, compute: F) -> Result<Bytes, HttpError>
    where
        T: Serialize,
        F: FnOnce() -> T + Send + 'static,
    {
        let computation = {
            let mut table = lock(&self.table);
            let now = self.clock.now();
            match table.slots.get(&key) {
                Some(Slot::Ready { at, body }) if now.duration_since(*at) < self.reuse && now >= *at => {
                    return Ok(body.clone());
                }
                Some(Slot::Running(c)) => c.clone(),
                _ => {
                    if table.running >= self.limit {
                        return Err(HttpError::Busy { retry_after: self.reuse.as_secs().max(1) });
                    }
                    table.running += 1;
                    let c = self.spawn(key.clone(), compute);
                    table.slots.insert(key, Slot::Running(c.clone()));
                    c
                }
            }
        };
        computation.await.map_err(HttpError::Internal)
    }

    /// Starts `compute` on the blocking pool now (whether or not anyone
    /// awaits it); the task itself stores its body and frees its permit.
    fn spawn<T, F>(&self, key: String, compute: F) -> Computation
    where
        T: Serialize,
        F: FnOnce() -> T + Send + 'static,
    {
        let done = Done { table: self.table.clone(), clock: self.clock.clone(), key, body: None };
        let handle = actix_web::rt::task::spawn_blocking(move || {
            // The whole guard moves in, so it drops when this task ends.
            let mut done = done;
            let body = serde_json::to_vec(&compute()).map(Bytes::from).map_err(|e| e.to_string());
            if let Ok(b) = &body {
                done.body = Some(b.clone());
            }
            body
        });
        async move {
            match handle.await {
                Ok(outcome) => outcome,
                Err(e) => Err(format!("performance computation failed: {e}")),
            }
        }
        .boxed()
        .shared()
    }
}

/// Dropped when a computation ends, however it ends: frees the permit and
/// replaces the running slot by the body (or removes it on failure).
struct Done {
    table: Arc<Mutex<Table>>,
    clock: Arc<dyn Clock>,
    key: String,
    body: Option<Bytes>,
}

impl Drop for Done {
    fn drop(&mut self) {
        let mut table = lock(&self.table);
        table.running = table.running.saturating_sub(1);
        match self.body.take() {
            Some(body) => {
                let now = self.clock.now();
                table.slots.insert(std::mem::take(&mut self.key), Slot::Ready { at: now, body });
                while table.slots.len() > CAPACITY && evict(&mut table.slots) {}
            }
            None => {
                table.slots.remove(&self.key);
            }
        }
    }
}

/// Makes room for one body: drops the oldest finished one; `false` when
/// there was none.
fn evict(slots: &mut HashMap<String, Slot>) -> bool {
    let oldest = slots
        .iter()
        .filter_map(|(k, s)| match s {
            Slot::Ready { at, .. } => Some((*at, k)),
            Slot::Running(_) => None,
        })
        .min()
        .map(|(_, k)| k.clone());
    oldest.is_some_and(|k| slots.remove(&k).is_some())
}

#[cfg(test)]
mod tests;
