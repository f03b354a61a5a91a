//! System readings and cache counts, bucketed like request series but with
//! gauge semantics (mean and max per bucket) and plain counters.

use crate::{CacheCounts, CacheEvent, CacheEventKind, CacheTier, SystemSample, TierCounts};

const NONE: u64 = u64::MAX;

#[derive(Debug, Clone, Copy)]
pub(crate) struct GaugeSlot {
    pub(crate) epoch: u64,
    pub(crate) samples: u64,
    pub(crate) rss_sum: f64,
    pub(crate) rss_max: f64,
    pub(crate) cpu_sum: f64,
    pub(crate) cpu_max: f64,
    pub(crate) cache: CacheCounts,
}

impl GaugeSlot {
    const EMPTY: GaugeSlot = GaugeSlot {
        epoch: NONE,
        samples: 0,
        rss_sum: 0.0,
        rss_max: 0.0,
        cpu_sum: 0.0,
        cpu_max: 0.0,
        cache: CacheCounts {
            memory: TierCounts { hits: 0, misses: 0, sets: 0, deletes: 0, errors: 0 },
            remote: TierCounts { hits: 0, misses: 0, sets: 0, deletes: 0, errors: 0 },
        },
    };

    pub(crate) fn is_live(&self) -> bool {
        self.epoch != NONE
    }
}

pub(crate) struct Gauges {
    pub(crate) fine: Box<[GaugeSlot]>,
    pub(crate) coarse: Box<[GaugeSlot]>,
    pub(crate) last: Option<SystemSample>,
    /// Cache operations since start: never reset, unlike the buckets.
    pub(crate) cache_totals: CacheCounts,
}

impl Gauges {
    pub(crate) fn new(fine_n: usize, coarse_n: usize) -> Self {
        Gauges {
            fine: vec![GaugeSlot::EMPTY; fine_n].into_boxed_slice(),
            coarse: vec![GaugeSlot::EMPTY; coarse_n].into_boxed_slice(),
            last: None,
            cache_totals: CacheCounts::default(),
        }
    }

    pub(crate) fn record_system(&mut self, s: &SystemSample, fine_us: u64, coarse_us: u64) {
        let at = s.at.as_unix_micros();
        let rss = s.rss_mb();
        for (slots, width) in [(&mut self.fine, fine_us), (&mut self.coarse, coarse_us)] {
            if let Some(slot) = slot_for(slots, at / width) {
                slot.samples += 1;
                slot.rss_sum += rss;
                slot.rss_max = slot.rss_max.max(rss);
                slot.cpu_sum += s.cpu_percent;
                slot.cpu_max = slot.cpu_max.max(s.cpu_percent);
            }
        }
        if self.last.is_none_or(|l| l.at <= s.at) {
            self.last = Some(*s);
        }
    }

    pub(crate) fn record_cache(&mut self, e: &CacheEvent, fine_us: u64, coarse_us: u64) {
        *counter_of(&mut self.cache_totals, e) += 1;
        let at = e.at.as_unix_micros();
        for (slots, width) in [(&mut self.fine, fine_us), (&mut self.coarse, coarse_us)] {
            if let Some(slot) = slot_for(slots, at / width) {
                *counter_of(&mut slot.cache, e) += 1;
            }
        }
    }
}

fn counter_of<'a>(counts: &'a mut CacheCounts, e: &CacheEvent) -> &'a mut u64 {
    let tier = match e.tier {
        CacheTier::Memory => &mut counts.memory,
        CacheTier::Remote => &mut counts.remote,
    };
    match e.kind {
        CacheEventKind::Hit => &mut tier.hits,
        CacheEventKind::Miss => &mut tier.misses,
        CacheEventKind::Set => &mut tier.sets,
        CacheEventKind::Delete => &mut tier.deletes,
        CacheEventKind::Error => &mut tier.errors,
    }
}

fn slot_for(slots: &mut [GaugeSlot], epoch: u64) -> Option<&mut GaugeSlot> {
    let n = slots.len() as u64;
    let slot = &mut slots[(epoch % n) as usize];
    if slot.epoch == epoch {
        Some(slot)
    } else if slot.epoch == NONE || epoch > slot.epoch {
        *slot = GaugeSlot { epoch, ..GaugeSlot::EMPTY };
        Some(slot)
    } else {
        None
    }
}

pub(crate) fn add_counts(a: &mut CacheCounts, b: &CacheCounts) {
    for (x, y) in [(&mut a.memory, &b.memory), (&mut a.remote, &b.remote)] {
        x.hits += y.hits;
        x.misses += y.misses;
        x.sets += y.sets;
        x.deletes += y.deletes;
        x.errors += y.errors;
    }
}
