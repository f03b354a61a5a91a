//! Requests per status code of one endpoint since start: a fixed table of
//! atomic counters with `le` buckets, so recording takes no lock and never
//! allocates.
//!
//! The first [`STATUS_CODES_PER_ENDPOINT`] distinct codes claim a slot each
//! (a compare-and-swap on first sight); later codes fold into one slot per
//! class (`1xx` … `9xx`, and `0xx` for anything under 100).

use std::sync::atomic::{
    AtomicU16, AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};

use super::series::{Cumulative, Geometry};
use crate::{STATUS_CODES_PER_ENDPOINT, StatusTotals};

/// Class slots after the code slots: `0xx` to `9xx`.
const CLASSES: usize = 10;
const SLOTS: usize = STATUS_CODES_PER_ENDPOINT + CLASSES;

pub(crate) struct StatusTable {
    /// The code held by each code slot; 0 while free.
    codes: [AtomicU16; STATUS_CODES_PER_ENDPOINT],
    /// Per slot: count, sum of nanoseconds, then one counter per `le` bucket.
    cells: Box<[AtomicU64]>,
    stride: usize,
}

impl StatusTable {
    pub(crate) fn new(g: &Geometry) -> Self {
        let stride = 2 + g.le_n;
        StatusTable {
            codes: std::array::from_fn(|_| AtomicU16::new(0)),
            cells: (0..SLOTS * stride).map(|_| AtomicU64::new(0)).collect(),
            stride,
        }
    }

    /// Bytes one table holds, from its structures' sizes.
    pub(crate) fn accounted_bytes(g: &Geometry) -> usize {
        std::mem::size_of::<StatusTable>() + SLOTS * (2 + g.le_n) * std::mem::size_of::<AtomicU64>()
    }

    /// Counts one request: at most 16 loads and one compare-and-swap to find
    /// the slot, then three relaxed additions.
    /// `le` is the request's `le` bucket (`le_n` when over every bound).
    #[inline]
    pub(crate) fn record(&self, status: u16, nanos: u64, le: u8, g: &Geometry) {
        let base = self.slot_of(status) * self.stride;
        let Some(cells) = self.cells.get(base..base + self.stride) else { return };
        cells[0].fetch_add(1, Relaxed);
        cells[1].fetch_add(nanos, Relaxed);
        let i = usize::from(le);
        if i < g.le_n
            && let Some(c) = cells.get(2 + i)
        {
            c.fetch_add(1, Relaxed);
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
            out.push(StatusTotals {
                status,
                count: count.max(running),
                sum: self.cells[base + 1].load(Relaxed) as f64 / 1e9,
                buckets,
            });
        }
        out.sort_by(|a, b| a.status.cmp(&b.status));
        out
    }
}
