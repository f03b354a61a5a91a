//! The log-linear latency histogram behind every percentile.
//!
//! Durations are binned in nanoseconds: values below 32 ns each get their own
//! bin; above, every power of two is split into 32 equal bins, up to 2^36 ns
//! (about 68.7 s); longer values share the top bin. A bin's width is at most
//! 1/32 of its lower bound, so reporting its midpoint is off by at most 1/64
//! (1.6 %) of the true value. Percentiles are further clamped to the exact
//! min and max. 1,024 bins in all.

/// Number of bins.
pub(crate) const BINS: usize = 1024;
const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
/// Largest value with a bin of its own, exclusive.
const LIMIT: u64 = 1 << 36;

/// The bin of a duration in nanoseconds.
#[inline]
pub(crate) fn bin_of(nanos: u64) -> usize {
    if nanos < SUB {
        return nanos as usize;
    }
    if nanos >= LIMIT {
        return BINS - 1;
    }
    let k = 63 - nanos.leading_zeros(); // >= SUB_BITS
    let sub = (nanos >> (k - SUB_BITS)) & (SUB - 1);
    (SUB + u64::from(k - SUB_BITS) * SUB + sub) as usize
}

/// The smallest and largest duration in nanoseconds that fall in `bin`
/// (the top bin also holds everything from [`LIMIT`] up).
pub(crate) fn bin_range(bin: usize) -> (u64, u64) {
    let bin = bin as u64;
    if bin < SUB {
        return (bin, bin);
    }
    let shift = (bin - SUB) / SUB;
    let lower = (SUB + (bin - SUB) % SUB) << shift;
    if bin as usize == BINS - 1 { (lower, u64::MAX) } else { (lower, lower + (1 << shift) - 1) }
}

/// The value reported for a bin: its midpoint, in nanoseconds.
pub(crate) fn bin_value(bin: usize) -> f64 {
    let bin = bin as u64;
    if bin < SUB {
        return bin as f64;
    }
    let k = (bin - SUB) / SUB + u64::from(SUB_BITS);
    let sub = (bin - SUB) % SUB;
    let shift = k - u64::from(SUB_BITS);
    let lower = (SUB + sub) << shift;
    let width = 1u64 << shift;
    lower as f64 + (width as f64 - 1.0) / 2.0
}

/// A dense histogram used to collect a shard's current bucket and to merge
/// buckets at query time. It tracks the range of bins in use so merging,
/// clearing and percentile scans touch only that range. A histogram made by
/// [`Dense::unallocated`] holds no bins until [`Dense::allocate`]; it reads
/// as empty and must be allocated before anything is added.
#[derive(Clone)]
pub(crate) struct Dense {
    /// `BINS` counters, or none while unallocated.
    bins: Box<[u32]>,
    /// Lowest bin in use; `BINS` when empty.
    lo: usize,
    /// Highest bin in use; 0 when empty.
    hi: usize,
}

impl Dense {
    pub(crate) fn new() -> Self {
        Dense { bins: vec![0; BINS].into_boxed_slice(), lo: BINS, hi: 0 }
    }

    /// An empty histogram that holds no bins yet (no allocation).
    pub(crate) fn unallocated() -> Self {
        Dense { bins: Box::new([]), lo: BINS, hi: 0 }
    }

    /// Gives an unallocated histogram its bins; a no-op once allocated.
    pub(crate) fn allocate(&mut self) {
        if self.bins.is_empty() {
            self.bins = vec![0; BINS].into_boxed_slice();
        }
    }

    /// Bytes of bins held on the heap: 0 while unallocated.
    pub(crate) fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.bins)
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.lo > self.hi
    }

    #[inline]
    pub(crate) fn record(&mut self, bin: usize) {
        self.bins[bin] = self.bins[bin].saturating_add(1);
        self.lo = self.lo.min(bin);
        self.hi = self.hi.max(bin);
    }

    /// The non-zero bins with their counts, lowest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        let range = if self.is_empty() { 0..0 } else { self.lo..self.hi + 1 };
        range.filter_map(|b| (self.bins[b] > 0).then_some((b, self.bins[b])))
    }

    pub(crate) fn total(&self) -> u64 {
        self.iter().map(|(_, c)| u64::from(c)).sum()
    }

    /// Adds `count` events to `bin`.
    #[inline]
    pub(crate) fn add_bin(&mut self, bin: usize, count: u32) {
        let Some(b) = self.bins.get_mut(bin) else { return };
        *b = b.saturating_add(count);
        self.lo = self.lo.min(bin);
        self.hi = self.hi.max(bin);
    }

    pub(crate) fn add_dense(&mut self, other: &Dense) {
        if other.is_empty() {
            return;
        }
        for b in other.lo..=other.hi {
            self.bins[b] = self.bins[b].saturating_add(other.bins[b]);
        }
        self.lo = self.lo.min(other.lo);
        self.hi = self.hi.max(other.hi);
    }

    pub(crate) fn clear(&mut self) {
        if !self.is_empty() {
            self.bins[self.lo..=self.hi].fill(0);
        }
        self.lo = BINS;
        self.hi = 0;
    }

    /// Nearest-rank percentiles for each `q` in `qs` (fractions in (0, 1]),
    /// in nanoseconds, clamped to `[min, max]`. Zero for an empty histogram.
    pub(crate) fn percentiles<const N: usize>(&self, qs: [f64; N], min: u64, max: u64) -> [f64; N] {
        let total = self.total();
        let mut out = [0.0; N];
        if total == 0 {
            return out;
        }
        let ranks = qs.map(|q| ((q * total as f64).ceil() as u64).clamp(1, total));
        let mut seen = 0u64;
        let mut next = 0;
        for (bin, c) in self.iter() {
            seen += u64::from(c);
            while next < N && ranks[next] <= seen {
                out[next] = bin_value(bin).clamp(min as f64, max.max(min) as f64);
                next += 1;
            }
            if next == N {
                break;
            }
        }
        out
    }
}

/// Bits of count in a short 16-bit entry; the bin takes the other 10.
const COUNT_BITS: u32 = 6;
/// Largest count a short entry holds; a bin with more takes a long entry.
pub(crate) const SHORT_MAX: u32 = (1 << COUNT_BITS) - 1;

/// Encodes one non-empty bin as 16-bit entries for the histogram arena:
/// one entry `bin << 6 | count` for a count up to [`SHORT_MAX`], otherwise
/// three, `bin << 6` then the count's high and low halves. Counts are exact.
#[inline]
pub(crate) fn encode(bin: usize, count: u32, mut put: impl FnMut(u16)) {
    let head = (bin as u16) << COUNT_BITS;
    if count <= SHORT_MAX {
        put(head | count as u16);
    } else {
        put(head);
        put((count >> 16) as u16);
        put(count as u16);
    }
}

/// Units [`encode`] writes for a bin with `count`.
#[cfg(test)]
pub(crate) fn encoded_len(count: u32) -> usize {
    if count <= SHORT_MAX { 1 } else { 3 }
}

/// Decodes entries written by [`encode`], given one at a time by `next`
/// (`None` at the end), into `(bin, count)` pairs passed to `f`. A long
/// entry cut short ends the decoding.
pub(crate) fn decode(mut next: impl FnMut() -> Option<u16>, mut f: impl FnMut(usize, u32)) {
    while let Some(e) = next() {
        let bin = usize::from(e >> COUNT_BITS);
        let short = u32::from(e) & SHORT_MAX;
        if short > 0 {
            f(bin, short);
            continue;
        }
        let (Some(hi), Some(lo)) = (next(), next()) else { return };
        f(bin, (u32::from(hi) << 16) | u32::from(lo));
    }
}

#[cfg(test)]
mod tests;
