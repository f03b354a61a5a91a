//! Coherence between instances of a [`TieredCache`](super::TieredCache):
//! the pub/sub subscriber that applies other instances' invalidations to
//! the memory tier (and clears it after a gap in the subscription), the
//! removal marks that keep a fetch in flight from copying a removed value
//! into memory, and the instance id that tells its own messages apart.

use std::{
    sync::{
        Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures_util::StreamExt;
use tokio::sync::watch;

use super::TieredInner;
use crate::{breaker::Backoff, pending::Op};

impl TieredInner {
    /// Marks a removal for fetches in flight (see `removals`).
    pub(super) fn note_removal(&self) {
        self.removals.fetch_add(1, Ordering::AcqRel);
    }

    /// Applies another instance's invalidation to the memory tier.
    pub(super) fn on_message(&self, payload: &[u8]) {
        let Some((from, op)) = Op::from_message(payload) else { return };
        if from == self.id {
            return;
        }
        self.note_removal();
        match op {
            Op::Delete(key) => {
                self.memory.remove_inner(&key);
            }
            Op::Clear(Some(pattern)) => {
                self.memory.clear_parsed(Some(&pattern));
            }
            Op::Clear(None) => {
                self.memory.clear_parsed(None);
            }
            Op::Invalidate(namespace) => {
                let _ = self.memory.invalidate_namespace(&namespace);
            }
        }
    }
}

pub(super) async fn subscriber(weak: Weak<TieredInner>, mut shutdown: watch::Receiver<bool>) {
    let Some(inner) = weak.upgrade() else { return };
    let client = inner.redis.client().clone();
    let channel = inner.redis.config().channel_name();
    let connect_timeout = inner.redis.config().op_timeout.max(Duration::from_secs(1));
    let mut backoff = Backoff::new(inner.config.probe_min, inner.config.probe_max.min(Duration::from_secs(2)));
    drop(inner);
    let mut missed = false;
    loop {
        let attempt = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let result = tokio::select! {
            r = tokio::time::timeout(connect_timeout, attempt) => r,
            _ = shutdown.changed() => return,
        };
        if let Ok(Ok(pubsub)) = result {
            {
                let Some(inner) = weak.upgrade() else { return };
                if missed {
                    inner.note_removal();
                    inner.memory.clear_parsed(None);
                    inner.resyncs.fetch_add(1, Ordering::Relaxed);
                }
                inner.subscribed.store(true, Ordering::Release);
            }
            backoff.reset();
            let mut stream = pubsub.into_on_message();
            loop {
                tokio::select! {
                    msg = stream.next() => match msg {
                        Some(msg) => {
                            let Some(inner) = weak.upgrade() else { return };
                            inner.on_message(msg.get_payload_bytes());
                        }
                        None => break,
                    },
                    _ = shutdown.changed() => return,
                }
            }
            let Some(inner) = weak.upgrade() else { return };
            inner.subscribed.store(false, Ordering::Release);
        }
        missed = true;
        tokio::select! {
            () = tokio::time::sleep(backoff.next_delay()) => {}
            _ = shutdown.changed() => return,
        }
    }
}

pub(super) fn instance_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}
