//! The memory tier's map: entries in a sharded `DashMap`, the CLOCK ring,
//! the namespace generations, byte and entry accounting, and the
//! maintenance thread (see the parent module for the policies).

use std::{
    collections::VecDeque,
    hash::BuildHasher,
    sync::{
        Arc, Weak,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use dashmap::DashMap;
use parking_lot::Mutex;
use perf_core::{
    CacheEvent, CacheEventKind, CacheKey, CacheTier, Clock, KeyPattern, Namespace, Recorder, RequestScope, Timestamp,
};

use super::{ENTRY_OVERHEAD_BYTES, MemoryConfig};
use crate::{CacheError, counters::TierCounters, ttl::ttl_ms};

const NAMESPACE_SLOTS: usize = 1024;
const NO_NAMESPACE: u32 = u32::MAX;

type Hasher = foldhash::fast::RandomState;

/// One stored value and what decides whether it is still visible.
struct Entry {
    value: Arc<[u8]>,
    expires_ms: u64,
    id: u64,
    ns_slot: u32,
    ns_gen: u64,
    charge: u64,
    referenced: AtomicBool,
}

/// Everything a `MemoryCache` and its clones share.
pub(super) struct Inner {
    map: DashMap<Arc<str>, Entry, Hasher>,
    ring: Mutex<VecDeque<(Arc<str>, u64)>>,
    generations: Box<[AtomicU64]>,
    pub(super) now_ms: AtomicU64,
    next_id: AtomicU64,
    pub(super) entries: AtomicU64,
    pub(super) bytes: AtomicU64,
    pub(super) counters: TierCounters,
    pub(super) config: MemoryConfig,
    clock: Arc<dyn Clock>,
    recorder: Option<Arc<dyn Recorder>>,
    slot_hasher: foldhash::fast::FixedState,
}

/// Why an entry left the map: decides which counter it adds to.
#[derive(Clone, Copy)]
pub(super) enum Removal {
    Deleted,
    Replaced,
    Expired,
    Invalidated,
    Evicted,
}

impl Inner {
    /// An empty map for `config`, its coarse clock read from `clock`.
    pub(super) fn new(config: MemoryConfig, clock: Arc<dyn Clock>, recorder: Option<Arc<dyn Recorder>>) -> Inner {
        let now_ms = to_ms(clock.now());
        Inner {
            map: DashMap::with_hasher(Hasher::default()),
            ring: Mutex::new(VecDeque::new()),
            generations: (0..NAMESPACE_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            now_ms: AtomicU64::new(now_ms),
            next_id: AtomicU64::new(1),
            entries: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            counters: TierCounters::default(),
            config,
            clock,
            recorder,
            slot_hasher: foldhash::fast::FixedState::with_seed(0x5eed_cafe),
        }
    }

    /// The value under `key` if it is fresh and current (an entry that is
    /// not is removed); counts a hit or a miss.
    // `#[inline]` here and on the helpers it calls: the hit path crosses
    // from memory.rs into this module, and without it the calls stayed out
    // of line (268 instructions per hit instead of 238).
    #[inline]
    pub(super) fn get(&self, key: &str) -> Option<Arc<[u8]>> {
        let now = self.now_ms.load(Ordering::Relaxed);
        let stale = match self.map.get(key) {
            Some(e) => {
                if e.expires_ms > now && self.is_current(&e) {
                    if !e.referenced.load(Ordering::Relaxed) {
                        e.referenced.store(true, Ordering::Relaxed);
                    }
                    let value = e.value.clone();
                    drop(e);
                    self.counters.hits.fetch_add(1, Ordering::Relaxed);
                    return Some(value);
                }
                Some((e.id, e.expires_ms <= now))
            }
            None => None,
        };
        if let Some((id, expired)) = stale {
            self.remove_if_id(key, id, if expired { Removal::Expired } else { Removal::Invalidated });
        }
        self.counters.misses.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// Stores `value` under `parsed` for `ttl` (see `MemoryCache::insert`),
    /// then evicts by CLOCK until within bounds.
    // Inlined into `MemoryCache::insert`: one call less on every write.
    #[inline]
    pub(super) fn insert(&self, parsed: CacheKey<'_>, value: Arc<[u8]>, ttl: Duration) {
        let key = parsed.as_str();
        self.counters.sets.fetch_add(1, Ordering::Relaxed);
        let charge = ENTRY_OVERHEAD_BYTES + key.len() as u64 + value.len() as u64;
        if ttl.is_zero() || charge > self.config.max_bytes.get() {
            // Not storable: make sure no older value survives the write.
            self.remove(key, Removal::Replaced);
            return;
        }
        let now = self.refresh_now();
        let (ns_slot, ns_gen) = match parsed.namespace() {
            Some(ns) => {
                let slot = self.slot(ns);
                (slot, self.generations[slot as usize].load(Ordering::Acquire))
            }
            None => (NO_NAMESPACE, 0),
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let key: Arc<str> = Arc::from(key);
        let entry = Entry {
            value,
            expires_ms: now.saturating_add(ttl_ms(ttl)),
            id,
            ns_slot,
            ns_gen,
            charge,
            referenced: AtomicBool::new(false),
        };
        // Charge before the entry becomes visible: a concurrent removal of it
        // then subtracts from counters that already hold it, so they never
        // wrap below zero.
        self.entries.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(charge, Ordering::Relaxed);
        if let Some(old) = self.map.insert(key.clone(), entry) {
            self.entries.fetch_sub(1, Ordering::Relaxed);
            self.bytes.fetch_sub(old.charge, Ordering::Relaxed);
        }
        let mut ring = self.ring.lock();
        ring.push_back((key, id));
        self.enforce_bounds(&mut ring);
    }

    /// Removes every entry matching `pattern` (all with `None`), calling
    /// `removed` with each live one; returns how many live entries went.
    pub(super) fn clear(&self, pattern: Option<&KeyPattern>, mut removed: impl FnMut(&Arc<str>)) -> u64 {
        let now = self.now_ms.load(Ordering::Relaxed);
        let (mut live, mut expired, mut hidden, mut bytes) = (0u64, 0u64, 0u64, 0u64);
        self.map.retain(|k, e| {
            let keep = pattern.is_some_and(|p| !p.matches(k));
            if !keep {
                bytes += e.charge;
                if e.expires_ms <= now {
                    expired += 1;
                } else if !self.is_current(e) {
                    hidden += 1;
                } else {
                    live += 1;
                    removed(k);
                }
            }
            keep
        });
        self.entries.fetch_sub(live + expired + hidden, Ordering::Relaxed);
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
        // The same counters the lazy removal of each kind would charge.
        self.counters.deletes.fetch_add(live + hidden, Ordering::Relaxed);
        self.counters.expirations.fetch_add(expired, Ordering::Relaxed);
        if pattern.is_none() {
            self.ring.lock().clear();
        }
        live
    }

    /// Items in the eviction ring.
    pub(super) fn ring_len(&self) -> usize {
        self.ring.lock().len()
    }

    /// Bumps the generation of `namespace`'s slot: its entries stop being current.
    pub(super) fn bump(&self, namespace: Namespace<'_>) {
        let slot = self.slot(namespace);
        self.generations[slot as usize].fetch_add(1, Ordering::AcqRel);
    }

    fn slot(&self, ns: Namespace<'_>) -> u32 {
        (self.slot_hasher.hash_one(ns.as_str()) % NAMESPACE_SLOTS as u64) as u32
    }

    #[inline]
    fn is_current(&self, e: &Entry) -> bool {
        e.ns_slot == NO_NAMESPACE || self.generations[e.ns_slot as usize].load(Ordering::Acquire) == e.ns_gen
    }

    pub(super) fn refresh_now(&self) -> u64 {
        let now = to_ms(self.clock.now());
        self.now_ms.fetch_max(now, Ordering::Relaxed);
        now
    }

    #[inline]
    pub(super) fn count_lookup(&self, hit: bool) {
        RequestScope::with_current(|s| {
            if let Some(s) = s {
                s.record_cache(hit);
            }
        });
        self.report(if hit { CacheEventKind::Hit } else { CacheEventKind::Miss });
    }

    #[inline]
    pub(super) fn report(&self, kind: CacheEventKind) {
        if let Some(r) = &self.recorder {
            let at = Timestamp::from_unix_micros(self.now_ms.load(Ordering::Relaxed).saturating_mul(1000));
            r.record_cache(&CacheEvent { kind, tier: CacheTier::Memory, at });
        }
    }

    fn account(&self, e: &Entry, why: Removal) {
        self.entries.fetch_sub(1, Ordering::Relaxed);
        self.bytes.fetch_sub(e.charge, Ordering::Relaxed);
        let counter = match why {
            Removal::Deleted | Removal::Replaced => return,
            Removal::Expired => &self.counters.expirations,
            Removal::Invalidated => &self.counters.deletes,
            Removal::Evicted => &self.counters.evictions,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn remove(&self, key: &str, why: Removal) -> bool {
        match self.map.remove(key) {
            Some((_, e)) => {
                self.account(&e, why);
                true
            }
            None => false,
        }
    }

    fn remove_if_id(&self, key: &str, id: u64, why: Removal) -> bool {
        match self.map.remove_if(key, |_, e| e.id == id) {
            Some((_, e)) => {
                self.account(&e, why);
                true
            }
            None => false,
        }
    }

    fn over_bounds(&self) -> bool {
        self.entries.load(Ordering::Relaxed) > self.config.max_entries.get() as u64
            || self.bytes.load(Ordering::Relaxed) > self.config.max_bytes.get()
    }

    /// Evicts by CLOCK until within bounds, then compacts the ring if it
    /// holds too many leftovers. Called with the ring locked.
    fn enforce_bounds(&self, ring: &mut VecDeque<(Arc<str>, u64)>) {
        let now = self.now_ms.load(Ordering::Relaxed);
        // Each live item can be passed over at most once (its bit is cleared
        // on the way), so two laps always find a victim.
        let mut budget = ring.len().saturating_mul(2) + 1;
        while self.over_bounds() && budget > 0 {
            budget -= 1;
            let Some((key, id)) = ring.pop_front() else { break };
            let verdict = match self.map.get(&*key) {
                Some(e) if e.id == id => {
                    if e.expires_ms <= now || !self.is_current(&e) {
                        Some(Removal::Expired)
                    } else if e.referenced.swap(false, Ordering::Relaxed) {
                        None
                    } else {
                        Some(Removal::Evicted)
                    }
                }
                _ => continue,
            };
            match verdict {
                Some(why) => {
                    self.remove_if_id(&key, id, why);
                }
                None => ring.push_back((key, id)),
            }
        }
        let live = self.entries.load(Ordering::Relaxed) as usize;
        if ring.len() > live.saturating_mul(2) + 64 {
            ring.retain(|(k, id)| self.map.get(&**k).is_some_and(|e| e.id == *id));
        }
    }

    pub(super) fn sweep(&self) {
        let now = self.now_ms.load(Ordering::Relaxed);
        let (mut expired, mut invalidated, mut bytes) = (0u64, 0u64, 0u64);
        self.map.retain(|_, e| {
            if e.expires_ms <= now {
                expired += 1;
            } else if !self.is_current(e) {
                invalidated += 1;
            } else {
                return true;
            }
            bytes += e.charge;
            false
        });
        self.entries.fetch_sub(expired + invalidated, Ordering::Relaxed);
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
        self.counters.expirations.fetch_add(expired, Ordering::Relaxed);
        self.counters.deletes.fetch_add(invalidated, Ordering::Relaxed);
        let mut ring = self.ring.lock();
        let live = self.entries.load(Ordering::Relaxed) as usize;
        if ring.len() > live.saturating_mul(2) + 64 {
            ring.retain(|(k, id)| self.map.get(&**k).is_some_and(|e| e.id == *id));
        }
    }
}

fn to_ms(t: Timestamp) -> u64 {
    t.as_unix_micros() / 1000
}

pub(super) fn spawn_maintenance(weak: Weak<Inner>) -> Result<(), CacheError> {
    let Some(inner) = weak.upgrade() else { return Ok(()) };
    let (tick, sweep_every) = (inner.config.tick, inner.config.sweep_interval);
    drop(inner);
    std::thread::Builder::new()
        .name("perf-cache-maintenance".into())
        .spawn(move || {
            let mut since_sweep = Duration::ZERO;
            loop {
                std::thread::sleep(tick);
                let Some(inner) = weak.upgrade() else { return };
                inner.refresh_now();
                since_sweep += tick;
                if since_sweep >= sweep_every {
                    since_sweep = Duration::ZERO;
                    inner.sweep();
                }
            }
        })
        .map_err(CacheError::Spawn)?;
    Ok(())
}
