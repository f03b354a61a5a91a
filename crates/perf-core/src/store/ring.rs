//! Fixed-capacity rings of recent details (slow requests, slow queries, N+1
//! findings). Slots and their string buffers are allocated once; recording
//! overwrites the oldest slot in place.

/// A ring of `T` that overwrites its oldest slot.
pub(crate) struct Ring<T> {
    slots: Box<[T]>,
    next: usize,
    len: usize,
}

impl<T> Ring<T> {
    pub(crate) fn new(capacity: usize, mut make: impl FnMut() -> T) -> Self {
        Ring { slots: (0..capacity.max(1)).map(|_| make()).collect(), next: 0, len: 0 }
    }

    /// The slot to overwrite next; the caller fills it in place.
    pub(crate) fn push_slot(&mut self) -> &mut T {
        let i = self.next;
        self.next = (self.next + 1) % self.slots.len();
        self.len = (self.len + 1).min(self.slots.len());
        &mut self.slots[i]
    }

    /// Held entries, newest first.
    pub(crate) fn iter_newest_first(&self) -> impl Iterator<Item = &T> {
        let cap = self.slots.len();
        (0..self.len).map(move |k| &self.slots[(self.next + cap - 1 - k) % cap])
    }

    pub(crate) fn slots(&self) -> &[T] {
        &self.slots
    }
}

/// Replaces `dst`'s contents with at most `max` bytes of `src`, cut at a
/// character boundary. Never reallocates when `dst` has `max` capacity.
pub(crate) fn set_truncated(dst: &mut String, src: &str, max: usize) {
    dst.clear();
    dst.push_str(crate::text::truncated(src, max));
}
