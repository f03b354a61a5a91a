//! Cutting text to a byte bound, the one way every bounded string in the
//! store and its documents is cut.

/// At most `max` bytes of `s`, cut at a character boundary.
pub(crate) fn truncated(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
