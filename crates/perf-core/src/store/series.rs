//! One time series: write shards in front of a fine scalar ring, a roll-up
//! scalar ring and a ring of per-roll-up-bucket histograms.
//!
//! Writes go to the caller's shard (a thread-affine mutex, so two threads
//! rarely meet). When a shard's fine bucket ends, its scalars move into both
//! rings; when its roll-up bucket ends, its dense histogram moves into the
//! series' pending histogram, which is compacted into the histogram arena
//! once a later roll-up bucket begins. Lock order is always shards (in index
//! order) before `tiers`.
//!
//! Memory follows the history actually written: the rings and the arena are
//! allocated in chunks when a write first reaches a chunk, and a shard's
//! histogram (like the pending one) when the shard first records. A key seen
//! once holds one chunk of each scalar ring; a key with a full ring holds
//! every chunk and stops growing.

use std::{
    cell::Cell,
    sync::atomic::{AtomicUsize, Ordering},
};

use parking_lot::Mutex;

use super::status::StatusTable;
use crate::histogram::{BINS, Dense, bin_of, bin_range, decode, encode};

pub(crate) const NONE: u64 = u64::MAX;

/// Bucket geometry shared by every series of a store, in microseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Geometry {
    pub(crate) fine_us: u64,
    pub(crate) coarse_us: u64,
    pub(crate) fine_n: u64,
    pub(crate) coarse_n: u64,
    pub(crate) arena: usize,
    pub(crate) shards: usize,
    /// Upper bounds of the `le` buckets in nanoseconds; the first `le_n` are used.
    pub(crate) le_nanos: [u64; LE_BUCKETS],
    pub(crate) le_n: usize,
    /// Per histogram bin, the `le` bucket of every duration in it, or
    /// [`LE_SPLIT`] when a bound falls inside the bin.
    pub(crate) le_of_bin: [u8; BINS],
}

/// Marks a histogram bin that an `le` bound splits.
const LE_SPLIT: u8 = u8::MAX;

impl Geometry {
    /// The `le` bucket index of every histogram bin, for `le_of_bin`:
    /// `le_nanos[..le_n]` must be ascending.
    pub(crate) fn le_table(le_nanos: &[u64]) -> [u8; BINS] {
        let index = |nanos: u64| le_nanos.partition_point(|&b| b < nanos);
        std::array::from_fn(|bin| {
            let (lo, hi) = bin_range(bin);
            let i = index(lo);
            if i == index(hi) { u8::try_from(i).unwrap_or(LE_SPLIT) } else { LE_SPLIT }
        })
    }

    /// The index of the `le` bucket holding `nanos`, or `le_n` when it is over every bound.
    #[inline]
    pub(crate) fn le_index(&self, nanos: u64) -> usize {
        self.le_nanos[..self.le_n].partition_point(|&b| b < nanos)
    }

    /// The histogram bin and `le` bucket of a duration: one table read
    /// unless an `le` bound falls inside the bin.
    #[inline]
    pub(crate) fn classify(&self, nanos: u64) -> (u16, u8) {
        let bin = bin_of(nanos);
        let le = self.le_of_bin[bin];
        // Bins are under 1,024 and `le` indices at most 32, so both fit.
        if le == LE_SPLIT { (bin as u16, self.le_index(nanos) as u8) } else { (bin as u16, le) }
    }

    pub(crate) fn ratio(&self) -> u64 {
        self.coarse_us / self.fine_us
    }
}

/// Scalars of one bucket. Counts saturate at u32::MAX.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Acc {
    pub(crate) count: u32,
    pub(crate) errors: u32,
    pub(crate) client_errors: u32,
    pub(crate) slow: u32,
    pub(crate) aux_count: u32,
    pub(crate) sum_ns: u64,
    pub(crate) min_ns: u64,
    pub(crate) max_ns: u64,
    pub(crate) aux_ns: u64,
}

impl Acc {
    pub(crate) const EMPTY: Acc = Acc {
        count: 0,
        errors: 0,
        client_errors: 0,
        slow: 0,
        aux_count: 0,
        sum_ns: 0,
        min_ns: u64::MAX,
        max_ns: 0,
        aux_ns: 0,
    };

    #[inline]
    fn add(&mut self, s: &Sample) {
        self.count = self.count.saturating_add(1);
        self.errors = self.errors.saturating_add(u32::from(s.error));
        self.client_errors = self.client_errors.saturating_add(u32::from(s.client_error));
        self.slow = self.slow.saturating_add(u32::from(s.slow));
        self.aux_count = self.aux_count.saturating_add(s.aux_count);
        self.sum_ns = self.sum_ns.saturating_add(s.nanos);
        self.min_ns = self.min_ns.min(s.nanos);
        self.max_ns = self.max_ns.max(s.nanos);
        self.aux_ns = self.aux_ns.saturating_add(s.aux_ns);
    }

    pub(crate) fn merge(&mut self, o: &Acc) {
        self.count = self.count.saturating_add(o.count);
        self.errors = self.errors.saturating_add(o.errors);
        self.client_errors = self.client_errors.saturating_add(o.client_errors);
        self.slow = self.slow.saturating_add(o.slow);
        self.aux_count = self.aux_count.saturating_add(o.aux_count);
        self.sum_ns = self.sum_ns.saturating_add(o.sum_ns);
        self.min_ns = self.min_ns.min(o.min_ns);
        self.max_ns = self.max_ns.max(o.max_ns);
        self.aux_ns = self.aux_ns.saturating_add(o.aux_ns);
    }
}

/// One measurement on its way into a series.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub(crate) at_us: u64,
    pub(crate) nanos: u64,
    pub(crate) error: bool,
    pub(crate) client_error: bool,
    pub(crate) slow: bool,
    pub(crate) aux_count: u32,
    pub(crate) aux_ns: u64,
    /// The histogram bin of `nanos`.
    pub(crate) bin: u16,
    /// The `le` bucket of `nanos` (`le_n` when over every bound).
    pub(crate) le: u8,
}

impl Sample {
    /// A sample of `nanos` at `at_us` with its bin and `le` bucket found
    /// under `g`; flags and auxiliary figures are filled in by the caller.
    #[inline]
    pub(crate) fn new(at_us: u64, nanos: u64, g: &Geometry) -> Self {
        let (bin, le) = g.classify(nanos);
        Sample { at_us, nanos, error: false, client_error: false, slow: false, aux_count: 0, aux_ns: 0, bin, le }
    }
}

/// Whether bucket `epoch` is the one a slot holds as `held` (the low 32
/// bits of its index; buckets 2^32 apart, 136 years of one-second buckets,
/// would share a slot's mark).
#[inline]
pub(crate) fn same_epoch(epoch: u64, held: u32) -> bool {
    epoch as u32 == held
}

/// Whether bucket `epoch` is newer than `held` (the low 32 bits of a
/// slot's bucket index), comparing with wrap-around: exact while the two
/// are under 2^31 buckets apart.
#[inline]
pub(crate) fn newer_epoch(epoch: u64, held: u32) -> bool {
    (epoch as u32).wrapping_sub(held) as i32 > 0
}

/// A fine bucket, holding what a fine series point shows (count, errors,
/// slow, sum, max): 32 bytes. Empty while `count` is 0; `epoch` holds the
/// low 32 bits of the bucket's index.
#[derive(Debug, Clone, Copy)]
struct FineSlot {
    epoch: u32,
    count: u32,
    errors: u32,
    slow: u32,
    sum_ns: u64,
    max_ns: u64,
}

impl FineSlot {
    const EMPTY: FineSlot = FineSlot { epoch: 0, count: 0, errors: 0, slow: 0, sum_ns: 0, max_ns: 0 };

    fn merge(&mut self, a: &Acc) {
        self.count = self.count.saturating_add(a.count);
        self.errors = self.errors.saturating_add(a.errors);
        self.slow = self.slow.saturating_add(a.slow);
        self.sum_ns = self.sum_ns.saturating_add(a.sum_ns);
        self.max_ns = self.max_ns.max(a.max_ns);
    }

    /// The slot's figures as scalars (the fields a fine slot does not keep
    /// stay empty).
    fn acc(&self) -> Acc {
        Acc {
            count: self.count,
            errors: self.errors,
            slow: self.slow,
            sum_ns: self.sum_ns,
            max_ns: self.max_ns,
            ..Acc::EMPTY
        }
    }
}

/// A roll-up bucket: every scalar, and where the bucket's compacted
/// histogram lies in the arena (`hist_len` 0 while it has none): 64 bytes.
/// Empty while `count` is 0; `epoch` holds the low 32 bits of the bucket's
/// index, `hist_start` the low 32 bits of the arena position.
#[derive(Debug, Clone, Copy)]
struct RollupSlot {
    epoch: u32,
    count: u32,
    errors: u32,
    client_errors: u32,
    slow: u32,
    aux_count: u32,
    hist_start: u32,
    hist_len: u32,
    sum_ns: u64,
    min_ns: u64,
    max_ns: u64,
    aux_ns: u64,
}

impl RollupSlot {
    const EMPTY: RollupSlot = RollupSlot {
        epoch: 0,
        count: 0,
        errors: 0,
        client_errors: 0,
        slow: 0,
        aux_count: 0,
        hist_start: 0,
        hist_len: 0,
        sum_ns: 0,
        min_ns: u64::MAX,
        max_ns: 0,
        aux_ns: 0,
    };

    fn merge(&mut self, a: &Acc) {
        let mut acc = self.acc();
        acc.merge(a);
        *self = RollupSlot {
            epoch: self.epoch,
            hist_start: self.hist_start,
            hist_len: self.hist_len,
            ..RollupSlot::of(&acc)
        };
    }

    fn of(a: &Acc) -> RollupSlot {
        RollupSlot {
            count: a.count,
            errors: a.errors,
            client_errors: a.client_errors,
            slow: a.slow,
            aux_count: a.aux_count,
            sum_ns: a.sum_ns,
            min_ns: a.min_ns,
            max_ns: a.max_ns,
            aux_ns: a.aux_ns,
            ..RollupSlot::EMPTY
        }
    }

    fn acc(&self) -> Acc {
        Acc {
            count: self.count,
            errors: self.errors,
            client_errors: self.client_errors,
            slow: self.slow,
            aux_count: self.aux_count,
            sum_ns: self.sum_ns,
            min_ns: self.min_ns,
            max_ns: self.max_ns,
            aux_ns: self.aux_ns,
        }
    }

    /// Whether the slot holds bucket `epoch`.
    fn holds(&self, epoch: u64) -> bool {
        self.count > 0 && same_epoch(epoch, self.epoch)
    }
}

struct ShardState {
    /// Start and end (exclusive) of the fine bucket in microseconds, so the
    /// common case needs a compare instead of a division.
    fine_start_us: u64,
    fine_end_us: u64,
    fine_epoch: u64,
    coarse_epoch: u64,
    acc: Acc,
    hist: Dense,
    totals: Cumulative,
}

/// Counts since the series was created, never reset: what Prometheus
/// counters and `le` histograms need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cumulative {
    pub(crate) count: u64,
    pub(crate) errors: u64,
    pub(crate) client_errors: u64,
    pub(crate) slow: u64,
    pub(crate) sum_ns: u64,
    /// Events per `le` bucket (not cumulative across buckets); events over
    /// the last bound are in `count` only.
    pub(crate) buckets: [u64; LE_BUCKETS],
}

pub(crate) const LE_BUCKETS: usize = crate::MAX_HISTOGRAM_BUCKETS;

impl Default for Cumulative {
    fn default() -> Self {
        Cumulative { count: 0, errors: 0, client_errors: 0, slow: 0, sum_ns: 0, buckets: [0; LE_BUCKETS] }
    }
}

impl Cumulative {
    #[inline]
    fn add(&mut self, s: &Sample, g: &Geometry) {
        self.count += 1;
        self.errors += u64::from(s.error);
        self.client_errors += u64::from(s.client_error);
        self.slow += u64::from(s.slow);
        self.sum_ns = self.sum_ns.saturating_add(s.nanos);
        let i = usize::from(s.le);
        if i < g.le_n
            && let Some(b) = self.buckets.get_mut(i)
        {
            *b += 1;
        }
    }

    pub(crate) fn merge(&mut self, o: &Cumulative) {
        self.count += o.count;
        self.errors += o.errors;
        self.client_errors += o.client_errors;
        self.slow += o.slow;
        self.sum_ns = self.sum_ns.saturating_add(o.sum_ns);
        for (a, b) in self.buckets.iter_mut().zip(o.buckets.iter()) {
            *a += b;
        }
    }
}

#[repr(align(128))]
struct Padded(Mutex<ShardState>);

struct Tiers {
    fine: Chunked<FineSlot, SLOT_CHUNK>,
    coarse: Chunked<RollupSlot, SLOT_CHUNK>,
    hists: Arena,
    pending_epoch: u64,
    pending: Dense,
    scratch: Dense,
}

/// Compacted histograms of roll-up buckets in a fixed ring of 16-bit
/// entries (`histogram::encode`); each roll-up slot says where its own lies.
struct Arena {
    entries: Chunked<u16, ENTRY_CHUNK>,
    written: u64,
}

/// Bytes of one fine slot, as the crate docs count them.
#[cfg(test)]
pub(crate) const FINE_SLOT_BYTES: usize = std::mem::size_of::<FineSlot>();
/// Bytes of one roll-up slot, as the crate docs count them.
#[cfg(test)]
pub(crate) const ROLLUP_SLOT_BYTES: usize = std::mem::size_of::<RollupSlot>();

/// Slots per ring chunk: 2 KiB of fine slots, 4 KiB of roll-up slots.
const SLOT_CHUNK: usize = 64;
/// Histogram entries per arena chunk: 4 KiB.
const ENTRY_CHUNK: usize = 2_048;

/// A ring of `len` items held in chunks of `C`, each allocated when an item
/// in it is first written; unwritten chunks read as absent.
struct Chunked<T, const C: usize> {
    len: usize,
    empty: T,
    chunks: Box<[Option<Box<[T]>>]>,
}

impl<T: Copy, const C: usize> Chunked<T, C> {
    fn new(len: usize, empty: T) -> Self {
        Chunked { len, empty, chunks: (0..len.div_ceil(C)).map(|_| None).collect() }
    }

    fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn get(&self, i: usize) -> Option<&T> {
        self.chunks[i / C].as_deref().map(|c| &c[i % C])
    }

    /// The item at `i`, allocating its chunk (filled with the empty item) on first use.
    #[inline]
    fn get_mut(&mut self, i: usize) -> &mut T {
        let (empty, len) = (self.empty, self.len);
        let chunk = self.chunks[i / C].get_or_insert_with(|| vec![empty; C.min(len - i / C * C)].into_boxed_slice());
        &mut chunk[i % C]
    }

    /// Bytes of the chunk table and the chunks allocated so far.
    fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.chunks)
            + self.chunks.iter().flatten().map(|c| std::mem::size_of_val(&**c)).sum::<usize>()
    }

    /// Bytes once every chunk is allocated.
    #[cfg(test)]
    fn max_heap_bytes(len: usize) -> usize {
        len.div_ceil(C) * std::mem::size_of::<Option<Box<[T]>>>() + len * std::mem::size_of::<T>()
    }
}

/// A time series of timed events.
pub(crate) struct Series {
    shards: Box<[Padded]>,
    tiers: Mutex<Tiers>,
    /// Requests per status code; endpoint series only.
    statuses: Option<StatusTable>,
}

/// What a window query over one or more series yields.
pub(crate) struct Collected {
    pub(crate) acc: Acc,
    pub(crate) hist: Dense,
}

impl Collected {
    pub(crate) fn new() -> Self {
        Collected { acc: Acc::EMPTY, hist: Dense::new() }
    }

    pub(crate) fn reset(&mut self) {
        self.acc = Acc::EMPTY;
        self.hist.clear();
    }

    pub(crate) fn merge(&mut self, other: &Collected) {
        self.acc.merge(&other.acc);
        self.hist.add_dense(&other.hist);
    }
}

/// One bucket of a series query.
pub(crate) struct PointAcc {
    pub(crate) start_us: u64,
    pub(crate) acc: Acc,
    pub(crate) hist: Option<Dense>,
}

static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

#[inline]
fn shard_index() -> usize {
    SHARD.with(|s| {
        let v = s.get();
        if v != usize::MAX {
            return v;
        }
        let n = NEXT_SHARD.fetch_add(1, Ordering::Relaxed);
        s.set(n);
        n
    })
}

impl Series {
    /// An endpoint's series: also counts requests per status code.
    pub(crate) fn new_endpoint(g: &Geometry) -> Self {
        Series { statuses: Some(StatusTable::new(g)), ..Series::new(g) }
    }

    /// The per-status counts of an endpoint series.
    pub(crate) fn statuses(&self) -> Option<&StatusTable> {
        self.statuses.as_ref()
    }

    pub(crate) fn new(g: &Geometry) -> Self {
        let shards = (0..g.shards)
            .map(|_| {
                Padded(Mutex::new(ShardState {
                    fine_start_us: u64::MAX,
                    fine_end_us: 0,
                    fine_epoch: NONE,
                    coarse_epoch: NONE,
                    acc: Acc::EMPTY,
                    hist: Dense::unallocated(),
                    totals: Cumulative::default(),
                }))
            })
            .collect();
        Series {
            shards,
            tiers: Mutex::new(Tiers {
                fine: Chunked::new(g.fine_n as usize, FineSlot::EMPTY),
                coarse: Chunked::new(g.coarse_n as usize, RollupSlot::EMPTY),
                hists: Arena { entries: Chunked::new(g.arena, 0), written: 0 },
                pending_epoch: NONE,
                pending: Dense::unallocated(),
                scratch: Dense::unallocated(),
            }),
            statuses: None,
        }
    }

    /// Bytes this series holds now, from its structures' sizes and the
    /// chunks allocated so far (status table not included). Takes the
    /// series' locks in the usual order.
    pub(crate) fn accounted_bytes(&self) -> usize {
        use std::mem::size_of;
        let shards: usize = self.shards.iter().map(|p| size_of::<Padded>() + p.0.lock().hist.heap_bytes()).sum();
        let t = self.tiers.lock();
        size_of::<Series>()
            + shards
            + t.fine.heap_bytes()
            + t.coarse.heap_bytes()
            + t.hists.entries.heap_bytes()
            + t.pending.heap_bytes()
            + t.scratch.heap_bytes()
    }

    /// The most bytes one series can hold under `g` (status table not
    /// included): every shard recording, every chunk written.
    #[cfg(test)]
    pub(crate) fn max_bytes(g: &Geometry) -> usize {
        use std::mem::size_of;
        let dense = crate::histogram::BINS * size_of::<u32>();
        size_of::<Series>()
            + g.shards * (size_of::<Padded>() + dense)
            + Chunked::<FineSlot, SLOT_CHUNK>::max_heap_bytes(g.fine_n as usize)
            + Chunked::<RollupSlot, SLOT_CHUNK>::max_heap_bytes(g.coarse_n as usize)
            + Chunked::<u16, ENTRY_CHUNK>::max_heap_bytes(g.arena)
            + 2 * dense
    }

    // Inlined into the store's record paths, so the sample stays in registers.
    #[inline(always)]
    pub(crate) fn record(&self, s: &Sample, g: &Geometry) {
        let shard = &self.shards[shard_index() & (self.shards.len() - 1)].0;
        let mut st = shard.lock();
        if s.at_us >= st.fine_end_us || s.at_us < st.fine_start_us {
            let fine = s.at_us / g.fine_us;
            if st.fine_epoch == NONE || fine > st.fine_epoch {
                self.roll(&mut st, fine, g);
            }
        }
        // A sample older than the shard's bucket (clock skew between threads)
        // counts in the shard's current bucket.
        st.acc.add(s);
        if self.statuses.is_some() {
            // An endpoint's status table counts the rest since start.
            st.totals.slow += u64::from(s.slow);
        } else {
            st.totals.add(s, g);
        }
        st.hist.record(usize::from(s.bin));
    }

    #[cold]
    fn roll(&self, st: &mut ShardState, fine: u64, g: &Geometry) {
        // The shard's first record: its histogram is allocated here, once.
        st.hist.allocate();
        let coarse = fine / g.ratio();
        let mut tiers = self.tiers.lock();
        if st.fine_epoch != NONE && st.acc.count > 0 {
            tiers.add_scalars(st.fine_epoch, &st.acc, g);
        }
        st.acc = Acc::EMPTY;
        st.fine_epoch = fine;
        st.fine_start_us = fine * g.fine_us;
        st.fine_end_us = st.fine_start_us + g.fine_us;
        if st.coarse_epoch != coarse {
            if !st.hist.is_empty() {
                tiers.add_hist(st.coarse_epoch, &st.hist, g);
                st.hist.clear();
            }
            st.coarse_epoch = coarse;
        }
    }

    /// Counts since the series was created.
    /// An endpoint series' shards count only slow requests since start;
    /// its status table holds the count, errors, sum and `le` buckets.
    pub(crate) fn totals(&self, g: &Geometry) -> Cumulative {
        let mut out = Cumulative::default();
        for p in self.shards.iter() {
            out.merge(&p.0.lock().totals);
        }
        if let Some(statuses) = &self.statuses {
            out = Cumulative { slow: out.slow, ..statuses.cumulative(g) };
        }
        out
    }

    /// Merges everything recorded in `[start_us, end_us)` into `out`, from
    /// the roll-up tier (scalars and histograms); the caller aligns
    /// `start_us` to a roll-up bucket. Touches only the buckets inside the
    /// window.
    pub(crate) fn collect_into(&self, start_us: u64, end_us: u64, g: &Geometry, out: &mut Collected) {
        let guards: Vec<_> = self.shards.iter().map(|p| p.0.lock()).collect();
        for st in &guards {
            if st.fine_epoch != NONE && in_range(st.fine_epoch * g.fine_us, start_us, end_us) {
                out.acc.merge(&st.acc);
            }
            if !st.hist.is_empty() && in_range(st.coarse_epoch * g.coarse_us, start_us, end_us) {
                out.hist.add_dense(&st.hist);
            }
        }
        let tiers = self.tiers.lock();
        let slots = &tiers.coarse;
        for (epoch, slot) in ring_iter(slots, epochs(start_us, end_us, g.coarse_us, slots.len())) {
            if slot.holds(epoch) {
                out.acc.merge(&slot.acc());
                tiers.hists.read(slot, |bin, count| out.hist.add_bin(bin, count));
            }
        }
        if tiers.pending_epoch != NONE && in_range(tiers.pending_epoch * g.coarse_us, start_us, end_us) {
            out.hist.add_dense(&tiers.pending);
        }
        drop(tiers);
        drop(guards);
    }

    /// Merges per-bucket figures of `[start_us, end_us)` into `points`, which
    /// holds one point per bucket of width `width` from `start_us / width`:
    /// fine buckets (scalars only) when `fine` is set, roll-up buckets with
    /// histograms otherwise (when the points carry histograms).
    pub(crate) fn points_into(&self, start_us: u64, end_us: u64, fine: bool, g: &Geometry, points: &mut [PointAcc]) {
        let width = if fine { g.fine_us } else { g.coarse_us };
        let first = start_us / width;
        let index = |bucket_start_us: u64| -> Option<usize> {
            in_range(bucket_start_us, start_us, end_us).then(|| (bucket_start_us / width - first) as usize)
        };
        let guards: Vec<_> = self.shards.iter().map(|p| p.0.lock()).collect();
        for st in &guards {
            if st.fine_epoch != NONE
                && let Some(p) = index(st.fine_epoch * g.fine_us / width * width).and_then(|i| points.get_mut(i))
            {
                p.acc.merge(&st.acc);
            }
            if !fine
                && !st.hist.is_empty()
                && let Some(h) =
                    index(st.coarse_epoch * g.coarse_us).and_then(|i| points.get_mut(i)).and_then(|p| p.hist.as_mut())
            {
                h.add_dense(&st.hist);
            }
        }
        let tiers = self.tiers.lock();
        if fine {
            let slots = &tiers.fine;
            for (epoch, slot) in ring_iter(slots, epochs(start_us, end_us, width, slots.len())) {
                if slot.count > 0
                    && same_epoch(epoch, slot.epoch)
                    && let Some(p) = index(epoch * width).and_then(|i| points.get_mut(i))
                {
                    p.acc.merge(&slot.acc());
                }
            }
        } else {
            let slots = &tiers.coarse;
            for (epoch, slot) in ring_iter(slots, epochs(start_us, end_us, width, slots.len())) {
                if !slot.holds(epoch) {
                    continue;
                }
                let Some(p) = index(epoch * width).and_then(|i| points.get_mut(i)) else { continue };
                p.acc.merge(&slot.acc());
                if let Some(h) = p.hist.as_mut() {
                    tiers.hists.read(slot, |bin, count| h.add_bin(bin, count));
                }
            }
            if tiers.pending_epoch != NONE
                && let Some(h) = index(tiers.pending_epoch * g.coarse_us)
                    .and_then(|i| points.get_mut(i))
                    .and_then(|p| p.hist.as_mut())
            {
                h.add_dense(&tiers.pending);
            }
        }
    }
}

/// Pairs each epoch of `epochs` with its slot in `ring`, stepping through
/// the ring instead of dividing for every slot; slots in chunks never
/// written are skipped.
fn ring_iter<T: Copy, const C: usize>(
    ring: &Chunked<T, C>,
    epochs: std::ops::Range<u64>,
) -> impl Iterator<Item = (u64, &T)> {
    let mut idx = (epochs.start % ring.len() as u64) as usize;
    epochs.filter_map(move |e| {
        let item = ring.get(idx);
        idx += 1;
        if idx == ring.len() {
            idx = 0;
        }
        item.map(|it| (e, it))
    })
}

/// The bucket indices of width `width` starting inside `[start_us, end_us)`,
/// at most `ring` of them (the newest), since older ones are not held.
fn epochs(start_us: u64, end_us: u64, width: u64, ring: usize) -> std::ops::Range<u64> {
    let first = start_us.div_ceil(width);
    let end = end_us.div_ceil(width);
    first.max(end.saturating_sub(ring as u64))..end
}

fn in_range(t: u64, start: u64, end: u64) -> bool {
    t >= start && t < end
}

impl Tiers {
    fn add_scalars(&mut self, fine_epoch: u64, acc: &Acc, g: &Geometry) {
        let n = self.fine.len() as u64;
        let slot = self.fine.get_mut((fine_epoch % n) as usize);
        if slot.count > 0 && same_epoch(fine_epoch, slot.epoch) {
            slot.merge(acc);
        } else if slot.count == 0 || newer_epoch(fine_epoch, slot.epoch) {
            *slot = FineSlot { epoch: fine_epoch as u32, ..FineSlot::EMPTY };
            slot.merge(acc);
        }
        // Otherwise the ring has moved past this bucket: the late data is dropped.
        let coarse = fine_epoch / g.ratio();
        let n = self.coarse.len() as u64;
        let slot = self.coarse.get_mut((coarse % n) as usize);
        if slot.holds(coarse) {
            slot.merge(acc);
        } else if slot.count == 0 || newer_epoch(coarse, slot.epoch) {
            *slot = RollupSlot { epoch: coarse as u32, ..RollupSlot::of(acc) };
        }
    }

    fn add_hist(&mut self, epoch: u64, hist: &Dense, _g: &Geometry) {
        if self.pending_epoch == epoch {
            self.pending.add_dense(hist);
        } else if self.pending_epoch == NONE || epoch > self.pending_epoch {
            self.finalize_pending();
            self.pending.allocate();
            self.pending.add_dense(hist);
            self.pending_epoch = epoch;
        } else {
            // A shard that was idle flushes an older roll-up bucket late: merge
            // it into that bucket's record if the bucket is still held.
            self.merge_late(epoch, hist);
        }
    }

    fn finalize_pending(&mut self) {
        if self.pending_epoch != NONE {
            let epoch = self.pending_epoch;
            self.write_hist(epoch, Which::Pending);
            self.pending.clear();
        }
        self.pending_epoch = NONE;
    }

    /// Compacts the pending or scratch histogram into the arena as
    /// `epoch`'s record. A histogram is kept only beside its bucket's
    /// scalars, which always reach the slot first.
    fn write_hist(&mut self, epoch: u64, which: Which) {
        let n = self.coarse.len() as u64;
        let slot = self.coarse.get_mut((epoch % n) as usize);
        if !slot.holds(epoch) {
            return;
        }
        let hist = match which {
            Which::Pending => &self.pending,
            Which::Scratch => &self.scratch,
        };
        let (start, len) = self.hists.write(hist);
        slot.hist_start = start;
        slot.hist_len = len;
    }

    fn merge_late(&mut self, epoch: u64, hist: &Dense) {
        let n = self.coarse.len() as u64;
        let Some(slot) = self.coarse.get((epoch % n) as usize).copied() else { return };
        if !slot.holds(epoch) {
            // The ring has moved past this bucket: the late detail is dropped.
            return;
        }
        self.scratch.allocate();
        self.scratch.clear();
        let scratch = &mut self.scratch;
        self.hists.read(&slot, |bin, count| scratch.add_bin(bin, count));
        self.scratch.add_dense(hist);
        self.write_hist(epoch, Which::Scratch);
    }
}

/// Which of the tiers' dense histograms to compact.
#[derive(Clone, Copy)]
enum Which {
    Pending,
    Scratch,
}

impl Arena {
    /// Appends `hist`'s non-zero bins; returns where the record starts (the
    /// low 32 bits of the position) and how many entries it takes.
    fn write(&mut self, hist: &Dense) -> (u32, u32) {
        let cap = self.entries.len() as u64;
        let start = self.written;
        for (bin, c) in hist.iter() {
            encode(bin, c, |e| {
                *self.entries.get_mut((self.written % cap) as usize) = e;
                self.written += 1;
            });
        }
        // At most 3 entries for each of 1,024 bins.
        (start as u32, (self.written - start) as u32)
    }

    /// Passes a roll-up slot's histogram bins to `f` in ascending order, if
    /// the slot has one and the ring has not overwritten it.
    fn read(&self, slot: &RollupSlot, mut f: impl FnMut(usize, u32)) {
        let cap = self.entries.len() as u64;
        let len = u64::from(slot.hist_len);
        // Entries written since the record began, from the low 32 bits.
        let age = u64::from((self.written as u32).wrapping_sub(slot.hist_start));
        if len == 0 || age > cap || len > age {
            return;
        }
        let start = self.written - age;
        let mut at = start;
        let end = start + len;
        decode(
            || {
                if at == end {
                    return None;
                }
                let e = self.entries.get((at % cap) as usize).copied();
                at += 1;
                e
            },
            &mut f,
        );
    }
}
