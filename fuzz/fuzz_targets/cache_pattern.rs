//! Fuzzes the cache's glob patterns through their public entry point,
//! `MemoryCache::clear_matching(Some(pattern))`, against a reference glob
//! written here independently (a parser over a char vector and a dynamic
//! programming matcher).
//!
//! The input's first line is the pattern; the remaining lines (at most 32)
//! are keys stored before clearing. Invariants:
//! - the cache accepts exactly the patterns the reference accepts (the
//!   documented syntax and limits of `perf_core::KeyPattern`: non-empty, at
//!   most 256 bytes of printable ASCII other than space, at most 16 `*`,
//!   closed, non-empty and not nested classes, ranges (a reversed one read
//!   in order), no `]` outside a class, no dangling `\`);
//! - after clearing, a key is gone exactly when the reference glob matches
//!   it, and the count returned is the number of keys removed;
//! - a key with every special character escaped is a pattern that matches
//!   exactly that key and nothing else.
#![no_main]

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use libfuzzer_sys::fuzz_target;
use perf_cache::{MAX_KEY_BYTES, MemoryCache};
use perf_core::MAX_PATTERN_BYTES;

#[derive(Debug)]
enum Tok {
    Char(char),
    Any,
    One,
    Class(bool, Vec<(char, char)>),
}

/// The reference parser: `None` when the pattern must be refused.
fn parse(src: &str) -> Option<Vec<Tok>> {
    if src.is_empty() || src.len() > MAX_PATTERN_BYTES || !src.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let c: Vec<char> = src.chars().collect();
    let (mut i, mut stars, mut out) = (0, 0, Vec::new());
    while i < c.len() {
        match c[i] {
            '*' => {
                stars += 1;
                out.push(Tok::Any);
                i += 1;
            }
            '?' => {
                out.push(Tok::One);
                i += 1;
            }
            '\\' => {
                out.push(Tok::Char(*c.get(i + 1)?));
                i += 2;
            }
            '[' => {
                i += 1;
                let negated = matches!(c.get(i), Some('^' | '!'));
                if negated {
                    i += 1;
                }
                let mut ranges = Vec::new();
                // One class member, escapes resolved: (char, index after it).
                let member = |i: usize| -> Option<(char, usize)> {
                    match *c.get(i)? {
                        '\\' => Some((*c.get(i + 1)?, i + 2)),
                        // Classes do not nest.
                        '[' => None,
                        ch => Some((ch, i + 1)),
                    }
                };
                loop {
                    if *c.get(i)? == ']' {
                        if ranges.is_empty() {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    let (lo, next) = member(i)?;
                    i = next;
                    if c.get(i) == Some(&'-') {
                        if *c.get(i + 1)? == ']' {
                            // `[a-]`: a literal `-` at the end.
                            ranges.push((lo, lo));
                            ranges.push(('-', '-'));
                            i += 2;
                            break;
                        }
                        let (hi, next) = member(i + 1)?;
                        // A reversed range matches as if written in order, as in Redis.
                        ranges.push((lo.min(hi), lo.max(hi)));
                        i = next;
                    } else {
                        ranges.push((lo, lo));
                    }
                }
                out.push(Tok::Class(negated, ranges));
            }
            // A `]` outside a class closes nothing.
            ']' => return None,
            ch => {
                out.push(Tok::Char(ch));
                i += 1;
            }
        }
    }
    (stars <= 16).then_some(out)
}

/// The reference matcher: `m[i][j]` is whether `pat[i..]` matches `text[j..]`.
fn matches(pat: &[Tok], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let (n, k) = (pat.len(), text.len());
    let mut m = vec![vec![false; k + 1]; n + 1];
    m[n][k] = true;
    for i in (0..n).rev() {
        for j in (0..=k).rev() {
            m[i][j] = match &pat[i] {
                Tok::Any => m[i + 1][j] || (j < k && m[i][j + 1]),
                tok => {
                    j < k
                        && m[i + 1][j + 1]
                        && match tok {
                            Tok::Char(ch) => *ch == text[j],
                            Tok::One => true,
                            Tok::Class(negated, ranges) => {
                                ranges.iter().any(|&(lo, hi)| lo <= text[j] && text[j] <= hi) != *negated
                            }
                            Tok::Any => false,
                        }
                }
            };
        }
    }
    m[0][0]
}

fn escape(key: &str) -> String {
    let mut out = String::new();
    for ch in key.chars() {
        if matches!(ch, '*' | '?' | '[' | ']' | '\\' | '^' | '-' | '!') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

fn filled(keys: &BTreeSet<&str>) -> MemoryCache {
    let cache = MemoryCache::builder().background(false).build().expect("a memory cache builds");
    for key in keys {
        cache.insert(key, Arc::from(&b"v"[..]), Duration::from_secs(3600)).expect("a valid key is stored");
    }
    assert_eq!(cache.len(), keys.len(), "a key was not stored or was evicted");
    cache
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let pattern = lines.next().unwrap_or_default();
    let keys: BTreeSet<&str> = lines.filter(|k| !k.is_empty() && k.len() <= MAX_KEY_BYTES).take(32).collect();

    let cache = filled(&keys);
    let reference = parse(pattern);
    match (cache.clear_matching(Some(pattern)), &reference) {
        (Ok(removed), Some(tokens)) => {
            let mut expected = 0;
            for key in &keys {
                let gone = matches(tokens, key);
                expected += u64::from(gone);
                assert_eq!(
                    cache.lookup(key).is_none(),
                    gone,
                    "pattern {pattern:?} on key {key:?}: cache removed={}, reference matches={gone}",
                    cache.lookup(key).is_none()
                );
            }
            assert_eq!(removed, expected, "clear_matching({pattern:?}) miscounted");
        }
        (Err(_), None) => assert_eq!(cache.len(), keys.len(), "a refused pattern removed entries"),
        (Ok(_), None) => panic!("the cache accepted {pattern:?}, which the reference refuses"),
        (Err(e), Some(_)) => panic!("the cache refused {pattern:?}, which the reference accepts: {e}"),
    }

    // An escaped key is a literal pattern: it removes that key and only it.
    if let Some(first) = keys.iter().next() {
        let literal = escape(first);
        if parse(&literal).is_some() {
            let cache = filled(&keys);
            assert_eq!(cache.clear_matching(Some(&literal)).ok(), Some(1), "{literal:?} did not remove one entry");
            for key in &keys {
                assert_eq!(cache.lookup(key).is_none(), key == first, "{literal:?} vs key {key:?}");
            }
        }
    }
});
