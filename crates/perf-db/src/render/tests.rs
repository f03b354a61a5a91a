//! Rendering diesel's query descriptions with and without bind values.

use std::fmt;

use diesel::{prelude::*, sqlite::Sqlite};

use super::*;

diesel::table! {
    items (id) {
        id -> Integer,
        name -> Text,
    }
}

/// Writes its pieces one by one, the way diesel's `Display` does, and
/// counts the bind values it was asked to format.
struct Pieces<'a> {
    pieces: &'a [&'a str],
    binds_formatted: &'a std::cell::Cell<usize>,
}

impl fmt::Display for Pieces<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut past_marker = false;
        for piece in self.pieces {
            if past_marker {
                self.binds_formatted.set(self.binds_formatted.get() + 1);
            }
            f.write_str(piece)?;
            past_marker |= *piece == BINDS_MARKER;
        }
        Ok(())
    }
}

struct Failing;

impl fmt::Display for Failing {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Err(fmt::Error)
    }
}

fn check(pieces: &[&str], binds: bool, expected_text: &str, expected_bare: &str, expected_formatted: usize) {
    let formatted = std::cell::Cell::new(0);
    let mut out = String::from("leftover");
    let bare = render(&Pieces { pieces, binds_formatted: &formatted }, &mut out, binds);
    assert_eq!(out, expected_text, "text of {pieces:?}");
    assert_eq!(&out[..bare], expected_bare, "text before the bind marker of {pieces:?}");
    assert_eq!(formatted.get(), expected_formatted, "bind pieces formatted for {pieces:?}");
}

#[test]
fn rendering_stops_at_the_marker_without_binds() {
    check(&["SELECT ?", " -- binds: ", "[1]"], false, "SELECT ?", "SELECT ?", 0);
}

#[test]
fn rendering_keeps_the_binds_when_asked() {
    check(&["SELECT ?", " -- binds: ", "[1]"], true, "SELECT ? -- binds: [1]", "SELECT ?", 1);
}

#[test]
fn a_marker_inside_the_sql_piece_is_part_of_the_sql() {
    // Rendering stops at the marker piece; the SQL piece before it is the
    // whole statement, its literal included.
    for binds in [false, true] {
        let text = if binds { "SELECT ' -- binds: ' -- binds: [\"x\"]" } else { "SELECT ' -- binds: '" };
        check(
            &["SELECT ' -- binds: '", " -- binds: ", "[\"x\"]"],
            binds,
            text,
            "SELECT ' -- binds: '",
            usize::from(binds),
        );
    }
    // A piece that only starts like the marker is SQL too.
    check(&[" -- binds: x", " -- binds: ", "[1]"], false, " -- binds: x", " -- binds: x", 0);
}

#[test]
fn a_text_in_one_piece_is_cut_after_rendering() {
    check(&["SELECT ? -- binds: [1]"], true, "SELECT ? -- binds: [1]", "SELECT ?", 0);
    check(&["BEGIN"], false, "BEGIN", "BEGIN", 0);
}

#[test]
fn a_failing_display_leaves_a_placeholder() {
    let mut out = String::from("leftover");
    let bare = render(&Failing, &mut out, false);
    assert_eq!(out, UNAVAILABLE);
    assert_eq!(bare, UNAVAILABLE.len());
}

#[test]
fn diesel_queries_render_their_sql_without_binds() {
    let query = items::table.find(7).limit(1);
    let debug = diesel::debug_query::<Sqlite, _>(&query);
    let full = debug.to_string();
    let mut out = String::new();
    let bare = render(&debug, &mut out, false);
    assert_eq!(out, strip_binds(&full));
    assert_eq!(bare, out.len());
    assert!(!out.contains('7'), "{out}");

    let bare = render(&debug, &mut out, true);
    assert_eq!(out, full);
    assert_eq!(&out[..bare], strip_binds(&full));
}

#[test]
fn a_whole_rendering_keeps_the_binds_and_finds_the_sql_before_them() {
    let formatted = std::cell::Cell::new(0);
    let mut out = String::from("leftover");
    let pieces = Pieces { pieces: &["SELECT ' -- binds: '", " -- binds: ", "[1]"], binds_formatted: &formatted };
    let bare = render_whole(&pieces, &mut out);
    assert_eq!(out, "SELECT ' -- binds: ' -- binds: [1]");
    assert_eq!(bare, Some("SELECT ' -- binds: '".len()));
    assert_eq!(
        render_whole(&Pieces { pieces: &["SELECT ? -- binds: [1]"], binds_formatted: &formatted }, &mut out),
        Some(8)
    );
    assert_eq!(render_whole(&Failing, &mut out), None);
}
