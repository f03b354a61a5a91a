//! Requests per status code of one endpoint since start: a fixed table of
//! atomic counters with `le` buckets, so recording takes no lock and never
//! allocates.
//!
//! The first [`STATUS_CODES_PER_ENDPOINT`] distinct codes claim a slot each
//! (a compare-and-swap on first sight); later codes fold into one slot per
//! class (`1xx` … `9xx`, and `0xx` for anything under 100).
//!
//! Each slot also keeps one exemplar per `le` bucket (and `+Inf`): the trace
//! id, duration and time of a recent traced request in that bucket, in a
//! per-cell seqlock. The writer moves the cell's version from even to odd
//! with a compare-and-swap, stores, then makes it even again; a writer that
//! finds the cell odd or loses the swap skips (an exemplar is a recent
//! request, not necessarily the latest), so recording never waits. A reader
//! retries a cell caught mid-write a few times, then skips it, so a trace id
//! is never shown with another request's value.

use std::sync::atomic::{
    AtomicU16, AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
    fence,
};

use super::series::{Cumulative, Geometry};
use crate::{Exemplar, STATUS_CODES_PER_ENDPOINT, StatusTotals, Timestamp, TraceContext, TraceId};

/// Class slots after the code slots: `0xx` to `9xx`.
const CLASSES: usize = 10;
const SLOTS: usize = STATUS_CODES_PER_ENDPOINT + CLASSES;

pub(crate) struct StatusTable {
    /// The code held by each code slot; 0 while free.
    codes: [AtomicU16; STATUS_CODES_PER_ENDPOINT],
    /// Per slot: count, sum of nanoseconds, then one counter per `le` bucket.
    cells: Box<[AtomicU64]>,
    stride: usize,
    /// Per slot, one exemplar cell per `le` bucket and one for `+Inf`.
    exemplars: Box<[ExemplarCell]>,
}

/// One exemplar under a seqlock: even `version` when whole, odd while a
/// writer stores; a trace id of zero (never a valid id) when empty.
#[derive(Default)]
pub(crate) struct ExemplarCell {
    version: AtomicU64,
    trace_hi: AtomicU64,
    trace_lo: AtomicU64,
    nanos: AtomicU64,
    at_us: AtomicU64,
}

/// How often a reader retries a cell caught mid-write before skipping it.
const READ_TRIES: usize = 4;

impl ExemplarCell {
    /// Stores the exemplar unless another writer holds the cell.
    #[inline]
    fn write(&self, trace: TraceId, nanos: u64, at_us: u64) {
        let v = self.version.load(Relaxed);
        if v & 1 == 1 || self.version.compare_exchange(v, v + 1, Acquire, Relaxed).is_err() {
            return;
        }
        // The odd version is ordered before the data stores: a reader that
        // sees any of them also sees the version moved on.
        fence(Release);
        let id = u128::from_be_bytes(trace.to_bytes());
        self.trace_hi.store((id >> 64) as u64, Relaxed);
        self.trace_lo.store(id as u64, Relaxed);
        self.nanos.store(nanos, Relaxed);
        self.at_us.store(at_us, Relaxed);
        self.version.store(v + 2, Release);
    }

    /// The cell's exemplar, read whole; `None` when empty or when writers
    /// kept it busy for every try.
    fn read(&self) -> Option<Exemplar> {
        for _ in 0..READ_TRIES {
            let v1 = self.version.load(Acquire);
            if v1 & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let hi = self.trace_hi.load(Relaxed);
            let lo = self.trace_lo.load(Relaxed);
            let nanos = self.nanos.load(Relaxed);
            let at_us = self.at_us.load(Relaxed);
            fence(Acquire);
            if self.version.load(Relaxed) != v1 {
                continue;
            }
            let id = u128::from(hi) << 64 | u128::from(lo);
            return TraceId::from_bytes(id.to_be_bytes()).map(|trace_id| Exemplar {
                trace_id,
                value: nanos as f64 / 1e9,
                at: Timestamp::from_unix_micros(at_us),
            });
        }
        None
    }
}

impl StatusTable {
    pub(crate) fn new(g: &Geometry) -> Self {
        let stride = 2 + g.le_n;
        StatusTable {
            codes: std::array::from_fn(|_| AtomicU16::new(0)),
            cells: (0..SLOTS * stride).map(|_| AtomicU64::new(0)).collect(),
            stride,
            exemplars: (0..SLOTS * (g.le_n + 1)).map(|_| ExemplarCell::default()).collect(),
        }
    }

    /// Bytes one table holds, from its structures' sizes.
    pub(crate) fn accounted_bytes(g: &Geometry) -> usize {
        std::mem::size_of::<StatusTable>()
            + SLOTS * (2 + g.le_n) * std::mem::size_of::<AtomicU64>()
            + SLOTS * (g.le_n + 1) * std::mem::size_of::<ExemplarCell>()
    }

    /// Counts one request: at most 16 loads and one compare-and-swap to find
    /// the slot, then three relaxed additions; with a trace, also the
    /// bucket's exemplar (a load, a compare-and-swap and five stores).
    /// `le` is the request's `le` bucket (`le_n` when over every bound).
    #[inline]
    pub(crate) fn record(
        &self,
        status: u16,
        nanos: u64,
        le: u8,
        trace: Option<&TraceContext>,
        at_us: u64,
        g: &Geometry,
    ) {
        let slot = self.slot_of(status);
        let base = slot * self.stride;
        let Some(cells) = self.cells.get(base..base + self.stride) else { return };
        cells[0].fetch_add(1, Relaxed);
        cells[1].fetch_add(nanos, Relaxed);
        let i = usize::from(le);
        if i < g.le_n
            && let Some(c) = cells.get(2 + i)
        {
            c.fetch_add(1, Relaxed);
        }
        if let Some(trace) = trace
            && let Some(cell) = self.exemplars.get(slot * (g.le_n + 1) + i.min(g.le_n))
        {
            cell.write(trace.trace_id(), nanos, at_us);
        }
    }

    /// The slot counting `status`: the first code slot is checked inline,
    /// since most endpoints answer mostly with one code.
    #[inline]
    fn slot_of(&self, status: u16) -> usize {
        if status != 0 && self.codes[0].load(Relaxed) == status {
            return 0;
        }
        self.find_slot(status)
    }

    fn find_slot(&self, status: u16) -> usize {
        let class = STATUS_CODES_PER_ENDPOINT + usize::from(status / 100).min(CLASSES - 1);
        if status == 0 {
            return class;
        }
        for (i, code) in self.codes.iter().enumerate() {
            let held = code.load(Relaxed);
            if held == status {
                return i;
            }
            if held == 0 {
                // Release, paired with the scrape's Acquire load: a scrape
                // that reads the code sees it whole; one that still reads 0
                // skips the slot until the code is visible (never `status="0"`).
                match code.compare_exchange(0, status, Release, Relaxed) {
                    Ok(_) => return i,
                    Err(now) if now == status => return i,
                    Err(_) => {}
                }
            }
        }
        class
    }

    /// Counts since start over every status: count, server errors (500 and
    /// up), client errors (400 to 499), sum and `le` buckets; `slow` is
    /// left 0 (the series' shards count it). A code slot whose code is not
    /// visible yet is skipped, as in [`StatusTable::totals`], and a slot's
    /// count is raised to its buckets' sum when a scrape races a record.
    pub(crate) fn cumulative(&self, g: &Geometry) -> Cumulative {
        let mut out = Cumulative::default();
        for slot in 0..SLOTS {
            let base = slot * self.stride;
            let Some(cells) = self.cells.get(base..base + self.stride) else { continue };
            let count = cells[0].load(Relaxed);
            if count == 0 {
                continue;
            }
            // The lowest status the slot can hold: its code, or its class.
            let status = match self.codes.get(slot) {
                Some(code) => match code.load(Acquire) {
                    0 => continue,
                    code => code,
                },
                None => ((slot - STATUS_CODES_PER_ENDPOINT) * 100) as u16,
            };
            let mut in_buckets = 0;
            for (i, b) in out.buckets.iter_mut().enumerate().take(g.le_n) {
                let n = cells.get(2 + i).map_or(0, |c| c.load(Relaxed));
                *b += n;
                in_buckets += n;
            }
            let count = count.max(in_buckets);
            out.count += count;
            out.sum_ns = out.sum_ns.saturating_add(cells[1].load(Relaxed));
            if status >= 500 {
                out.errors += count;
            } else if status >= 400 {
                out.client_errors += count;
            }
        }
        out
    }

    /// Every status with requests, ordered by label, with cumulative `le`
    /// counts. A scrape racing with recording may see a bucket ahead of the
    /// count; the count is raised to the last bucket so `+Inf` stays the
    /// largest.
    pub(crate) fn totals(&self, g: &Geometry) -> Vec<StatusTotals> {
        let mut out = Vec::new();
        for slot in 0..SLOTS {
            let base = slot * self.stride;
            let count = self.cells[base].load(Relaxed);
            if count == 0 {
                continue;
            }
            let status = match self.codes.get(slot) {
                Some(code) => match code.load(Acquire) {
                    0 => continue,
                    code => code.to_string(),
                },
                None => format!("{}xx", slot - STATUS_CODES_PER_ENDPOINT),
            };
            let mut running = 0;
            let buckets: Vec<u64> = (0..g.le_n)
                .map(|i| {
                    running += self.cells[base + 2 + i].load(Relaxed);
                    running
                })
                .collect();
            let first = slot * (g.le_n + 1);
            let exemplars = self
                .exemplars
                .get(first..first + g.le_n + 1)
                .map_or_else(Vec::new, |cells| cells.iter().map(ExemplarCell::read).collect());
            out.push(StatusTotals {
                status,
                count: count.max(running),
                sum: self.cells[base + 1].load(Relaxed) as f64 / 1e9,
                buckets,
                exemplars,
            });
        }
        out.sort_by(|a, b| a.status.cmp(&b.status));
        out
    }
}
