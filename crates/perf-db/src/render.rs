//! The SQL text of a query as diesel's instrumentation describes it,
//! rendered into a reused buffer and cut before the bind values unless they
//! are wanted.
//!
//! diesel hands instrumentation a query only as a `Display` value whose text
//! is `<SQL> -- binds: [...]`. It writes the SQL and the marker
//! ` -- binds: ` as separate pieces, so a sink that refuses the marker piece
//! ends the rendering there and no bind value is ever formatted; what came
//! before it is the statement's whole SQL, even when a string literal in it
//! reads ` -- binds: `. Texts that arrive in one piece (plain SQL from
//! `batch_execute`, other connection types) are cut with [`strip_binds`]
//! instead: there a marker cannot be told from the SQL's own text, and the
//! first one is taken as the start of a bind list, so no value leaks.

use std::fmt::{self, Write as _};

use crate::fingerprint::{BINDS_MARKER, strip_binds};

/// The text recorded when a query's `Display` fails before writing anything.
pub(crate) const UNAVAILABLE: &str = "<query text unavailable>";

/// Renders `query` into `out` (cleared first) and returns the length of the
/// text before diesel's bind marker: before the marker piece when diesel
/// writes one (a marker inside the SQL piece itself is the statement's own
/// text and stays), else before the first marker in the text
/// ([`strip_binds`]). That prefix is the bare SQL: it must not be cut again.
///
/// With `binds` false the rendering stops at the marker, so `out` holds only
/// the SQL; with `binds` true `out` holds the whole text, marker and values
/// included.
///
/// # Guarantees
/// Never panics; a failing `Display` leaves what it wrote, or
/// [`UNAVAILABLE`] when it wrote nothing.
pub(crate) fn render(query: &dyn fmt::Display, out: &mut String, binds: bool) -> usize {
    out.clear();
    let mut sink = Sink { out, binds, marker_at: None };
    // An error is either the sink stopping at the marker or the query's own
    // `Display` failing; both leave usable text behind.
    let failed = write!(sink, "{query}").is_err();
    let marker_at = sink.marker_at;
    match marker_at {
        Some(at) => at,
        None => {
            if failed && out.is_empty() {
                out.push_str(UNAVAILABLE);
            }
            strip_binds(out).len()
        }
    }
}

/// Renders `query` whole, bind values included, into `out` (cleared first)
/// and returns the length of its SQL: the text before diesel's marker piece,
/// or before the first marker of a text written in one piece
/// ([`strip_binds`]). `None` when the query's `Display` fails, leaving `out`
/// with whatever it wrote.
///
/// # Guarantees
/// Never panics.
pub(crate) fn render_whole(query: &dyn fmt::Display, out: &mut String) -> Option<usize> {
    out.clear();
    let mut sink = Sink { out, binds: true, marker_at: None };
    write!(sink, "{query}").ok()?;
    let marker_at = sink.marker_at;
    Some(marker_at.unwrap_or_else(|| strip_binds(out).len()))
}

/// A `fmt::Write` that copies pieces into a buffer and notes (or stops at)
/// the piece that starts diesel's bind list: the marker written on its own,
/// as diesel's format string writes it.
struct Sink<'a> {
    out: &'a mut String,
    binds: bool,
    marker_at: Option<usize>,
}

impl fmt::Write for Sink<'_> {
    fn write_str(&mut self, piece: &str) -> fmt::Result {
        if self.marker_at.is_none() && piece == BINDS_MARKER {
            self.marker_at = Some(self.out.len());
            if !self.binds {
                return Err(fmt::Error);
            }
        }
        self.out.push_str(piece);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
