//! Fuzzes SQL fingerprinting (`fingerprint_into`, `Fingerprint::of`,
//! `strip_binds`) on arbitrary text.
//!
//! Invariants checked on every input:
//! - `strip_binds` returns a prefix of its input, cut at the first
//!   ` -- binds: ` marker (none remains in it);
//! - `fingerprint_into` into a dirty buffer, `Fingerprint::of` and
//!   `fingerprint_hash` agree on text and hash;
//! - the binds suffix never changes the fingerprint;
//! - the output has canonical spacing (no leading, trailing or doubled
//!   space) and no trailing `;`;
//! - for text without quoted identifiers (whose unquoting may legitimately
//!   produce new tokens), fingerprinting is idempotent (the fingerprint of a
//!   fingerprint is itself, except where `glued_operator` says why not) and leaves no
//!   string literal quote behind.
#![no_main]

use libfuzzer_sys::fuzz_target;
use perf_db::{Fingerprint, fingerprint_hash, fingerprint_into, strip_binds};

const MARKER: &str = " -- binds: ";

fn is_op_byte(c: u8) -> bool {
    b"=<>!+-*/%|&^~:#@".contains(&c)
}

/// Whether the fingerprint writes an operator against a `::` cast or a `-`
/// against a `.` (`x # ::int`, `x ::= y`, `x = - .y`: not meaningful SQL).
/// Casts and dots are written without a space, so re-reading such a text
/// lexes one longer operator (or a negative number) where there were two
/// tokens: these texts are not fixed points, by design of the spacing.
fn glued_operator(text: &str) -> bool {
    let b = text.as_bytes();
    (0..b.len()).any(|i| {
        let rest = &b[i + 1..];
        (is_op_byte(b[i]) && rest.starts_with(b"::"))
            || (b[i..].starts_with(b"::") && rest.get(1).copied().is_some_and(is_op_byte))
            || (b[i] == b'-' && rest.first() == Some(&b'.'))
    })
}

fuzz_target!(|data: &[u8]| {
    let sql = String::from_utf8_lossy(data);
    let sql: &str = &sql;

    let stripped = strip_binds(sql);
    assert!(sql.starts_with(stripped), "strip_binds output is not a prefix of its input");
    assert!(!stripped.contains(MARKER), "strip_binds left a binds marker: {stripped:?}");
    match sql.find(MARKER) {
        Some(at) => assert_eq!(stripped.len(), at, "strip_binds did not cut at the first marker"),
        None => assert_eq!(stripped, sql, "strip_binds changed text without a marker"),
    }

    let fp = Fingerprint::of(sql);
    let mut buf = String::from("left over from an earlier statement");
    let hash = fingerprint_into(sql, &mut buf);
    assert_eq!(buf, fp.as_str(), "fingerprint_into and Fingerprint::of disagree");
    assert_eq!(hash, fp.hash(), "fingerprint_into's hash differs from Fingerprint::hash");
    assert_eq!(hash, fingerprint_hash(&buf), "hash is not fingerprint_hash of the text");
    assert_eq!(Fingerprint::of(stripped), fp, "the binds suffix changed the fingerprint");

    let text = fp.as_str();
    assert!(!text.ends_with(';'), "trailing ';' kept: {text:?}");
    if !sql.contains(['"', '`']) {
        assert!(!text.starts_with(' ') && !text.ends_with(' '), "untrimmed fingerprint: {text:?}");
        assert!(!text.contains("  "), "doubled space in fingerprint: {text:?}");
        assert!(!text.contains('\''), "a string literal survived: {sql:?} -> {text:?}");
        if !glued_operator(text) {
            let again = Fingerprint::of(text);
            assert_eq!(again.as_str(), text, "fingerprinting is not idempotent for {sql:?}");
        }
    }
});
