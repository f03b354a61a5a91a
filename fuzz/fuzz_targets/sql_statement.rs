//! Fuzzes statement analysis (`StatementKind::of`, `tables_read`,
//! `tables_written`) on arbitrary text.
//!
//! Invariants checked on every input:
//! - every table name reported is lowercase and occurs in the input
//!   lowercased (names are cut from the text, never invented);
//! - each list is free of duplicates;
//! - keywords are matched regardless of case: upper- or lowercasing the
//!   whole input (which keeps every token boundary) changes neither the
//!   statement kind nor the tables, unless it holds a tagged dollar quote
//!   (`$tag$`), whose tags are case-sensitive;
//! - the kind is a write exactly for the data- and schema-changing kinds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use perf_db::{StatementKind, tables_read, tables_written};

fn check_names(what: &str, names: &[String], lowered: &str) {
    for (i, name) in names.iter().enumerate() {
        assert_eq!(*name, name.to_ascii_lowercase(), "{what} reported a name not lowercased: {name:?}");
        assert!(lowered.contains(name.as_str()), "{what} reported {name:?}, which is not in the input");
        assert!(!names[..i].contains(name), "{what} reported {name:?} twice: {names:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let sql = String::from_utf8_lossy(data);
    let sql: &str = &sql;
    let lowered = sql.to_ascii_lowercase();

    let kind = StatementKind::of(sql);
    let read = tables_read(sql);
    let written = tables_written(sql);
    check_names("tables_read", &read, &lowered);
    check_names("tables_written", &written, &lowered);

    let expect_write =
        matches!(kind, StatementKind::Insert | StatementKind::Update | StatementKind::Delete | StatementKind::Ddl);
    assert_eq!(kind.is_write(), expect_write, "is_write disagrees with the kind {kind:?}");

    // Dollar-quote tags are case-sensitive (`$a$ .. $A$` does not close), so
    // recasing changes the meaning of text with a tagged `$tag$`.
    let tagged = sql.as_bytes().windows(2).any(|w| w[0] == b'$' && (w[1].is_ascii_alphabetic() || w[1] == b'_'));
    let recased = if tagged { vec![] } else { vec![("upper", sql.to_ascii_uppercase()), ("lower", lowered.clone())] };
    for (case, other) in recased {
        assert_eq!(StatementKind::of(&other), kind, "{case}casing changed the kind of {sql:?}");
        assert_eq!(tables_read(&other), read, "{case}casing changed tables_read of {sql:?}");
        assert_eq!(tables_written(&other), written, "{case}casing changed tables_written of {sql:?}");
    }
});
