//! How a [`TieredCache`](super::TieredCache) lives through a Redis outage:
//! failures counted against the breaker, invalidations queued while Redis
//! is unreachable and replayed in order when it is back, the recovery probe
//! (breaker open) and the liveness timer (breaker closed).

use std::sync::{Arc, Weak, atomic::Ordering};

use perf_core::{CacheEventKind, CacheTier};
use tokio::sync::watch;

use super::TieredInner;
use crate::{
    CacheError,
    breaker::Backoff,
    error::chain,
    pending::{Op, Overflow, Pending},
};

impl TieredInner {
    /// Handles a failed Redis operation: an unreachable Redis counts
    /// against the breaker (and starts the probe if this opened it); a
    /// command error shows Redis answered, so it only resets the run of
    /// failures (the Redis tier has counted and logged it).
    pub(super) fn redis_failed(self: &Arc<Self>, e: &CacheError, write: bool) {
        self.report(CacheEventKind::Error, CacheTier::Remote);
        if e.is_unreachable() {
            self.unreachable(e, write || matches!(e, CacheError::Timeout { .. }));
        } else {
            self.breaker.record_success();
        }
    }

    /// Counts an unreachable Redis against the breaker; `immediate` opens it
    /// at once.
    pub(super) fn unreachable(self: &Arc<Self>, e: &CacheError, immediate: bool) {
        if self.breaker.record_failure(immediate) {
            tracing::warn!(
                prefix = %self.redis.config().prefix,
                error = %chain(e),
                "redis unreachable: serving from memory until it is back"
            );
            self.start_probe();
        }
    }

    pub(super) fn start_probe(self: &Arc<Self>) {
        self.runtime.spawn(probe(Arc::downgrade(self), self.shutdown.clone()));
    }

    /// Queues `op` for the probe's replay. The breaker closes only while
    /// holding the queue's lock and with the queue empty, so an op queued
    /// just as it closed is noticed here and replayed right away.
    pub(super) fn queue(self: &Arc<Self>, op: Op) {
        let closed_meanwhile = {
            let mut pending = self.pending.lock();
            pending.push(op, self.config.max_pending);
            self.pending_any.store(true, Ordering::Release);
            self.breaker.allows()
        };
        if closed_meanwhile {
            let me = Arc::clone(self);
            self.runtime.spawn(async move {
                if let Err(e) = me.replay().await {
                    me.redis_failed(&e, true);
                }
            });
        }
    }

    /// Applies `op` to Redis and publishes it, or queues it when Redis is
    /// unreachable.
    pub(super) async fn remote(self: &Arc<Self>, op: Op) {
        if !self.breaker.allows() {
            self.queue(op);
            return;
        }
        match self.apply(&op).await {
            Ok(()) => self.breaker.record_success(),
            Err(e) => {
                self.redis_failed(&e, true);
                self.queue(op);
            }
        }
    }

    pub(super) async fn apply(&self, op: &Op) -> Result<(), CacheError> {
        match op {
            Op::Delete(key) => self.redis.remove(key).await.map(drop)?,
            Op::Clear(pattern) => {
                self.redis.clear_parsed(pattern.as_ref(), |_| {}).await.map(drop)?;
            }
            Op::Invalidate(ns) => self.redis.bump_namespace(ns).await.map(drop)?,
        }
        self.redis.publish(&op.message(&self.id)).await
    }

    pub(super) async fn apply_overflow(&self, overflow: &Overflow) -> Result<(), CacheError> {
        if overflow.clear_all {
            return self.apply(&Op::Clear(None)).await;
        }
        for ns in &overflow.namespaces {
            self.apply(&Op::Invalidate(ns.clone())).await?;
        }
        Ok(())
    }

    /// Applies every queued invalidation in order; on failure puts the rest
    /// back. One replay runs at a time, and the ops it took stay visible to
    /// `is_pending` (as `in_flight`) until they are applied.
    pub(super) async fn replay(&self) -> Result<(), CacheError> {
        let _one_at_a_time = self.replaying.lock().await;
        let (ops, overflow) = {
            let mut pending = self.pending.lock();
            let taken = pending.take();
            self.in_flight.lock().restore(taken.0.clone(), taken.1.clone(), usize::MAX);
            taken
        };
        let applied = self.apply_all(ops, overflow).await;
        let mut pending = self.pending.lock();
        *self.in_flight.lock() = Pending::default();
        let result = applied.map_err(|(e, ops, overflow)| {
            pending.restore(ops, overflow, self.config.max_pending);
            e
        });
        self.pending_any.store(!pending.is_empty(), Ordering::Release);
        result
    }

    /// Applies the overflow summary, then `ops` in order; on failure returns
    /// the error with what is left to apply.
    pub(super) async fn apply_all(
        &self,
        ops: Vec<Op>,
        overflow: Option<Overflow>,
    ) -> Result<(), (CacheError, Vec<Op>, Option<Overflow>)> {
        if let Some(o) = &overflow
            && let Err(e) = self.apply_overflow(o).await
        {
            return Err((e, ops, overflow));
        }
        for (i, op) in ops.iter().enumerate() {
            if let Err(e) = self.apply(op).await {
                return Err((e, ops[i..].to_vec(), None));
            }
        }
        Ok(())
    }
}

pub(super) async fn probe(weak: Weak<TieredInner>, mut shutdown: watch::Receiver<bool>) {
    let Some(inner) = weak.upgrade() else { return };
    let mut backoff = Backoff::new(inner.config.probe_min, inner.config.probe_max);
    drop(inner);
    loop {
        tokio::select! {
            () = tokio::time::sleep(backoff.next_delay()) => {}
            _ = shutdown.changed() => return,
        }
        let Some(inner) = weak.upgrade() else { return };
        inner.breaker.half_open();
        let ready = inner.redis.ping().await.is_ok()
            && inner.subscribed.load(Ordering::Acquire)
            && inner.replay().await.is_ok();
        if ready {
            let pending = inner.pending.lock();
            // Ops queued while the replay ran go in the next round.
            if pending.is_empty() {
                inner.breaker.close();
                drop(pending);
                tracing::info!("redis is back: breaker closed");
                return;
            }
        }
        inner.breaker.reopen();
    }
}

/// The liveness timer: while the breaker is closed, retries removals Redis
/// refused, or pings Redis when it answered nothing for a whole interval.
pub(super) async fn liveness(weak: Weak<TieredInner>, mut shutdown: watch::Receiver<bool>) {
    let Some(inner) = weak.upgrade() else { return };
    let every = inner.config.liveness_interval;
    drop(inner);
    if every.is_zero() {
        return;
    }
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        let Some(inner) = weak.upgrade() else { return };
        // While the breaker is not closed the probe is in charge.
        if !inner.breaker.allows() {
            continue;
        }
        if inner.pending_any.load(Ordering::Acquire) {
            if let Err(e) = inner.replay().await {
                inner.redis_failed(&e, true);
            }
            continue;
        }
        let quiet = inner.redis.now().as_unix_micros().saturating_sub(inner.redis.last_answer().as_unix_micros());
        if u128::from(quiet) < every.as_micros() {
            continue;
        }
        match inner.redis.ping().await {
            Ok(()) => inner.breaker.record_success(),
            // A health check, so not reported as a failed cache operation.
            Err(e) if e.is_unreachable() => inner.unreachable(&e, true),
            Err(_) => inner.breaker.record_success(),
        }
    }
}
