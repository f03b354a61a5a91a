//! SQL fingerprints: the normalized shape of a statement that groups its
//! statistics, and a stable 64-bit hash of it.
//!
//! Normalization:
//! - string, numeric and dollar-quoted literals, and `?`, `?N` and `$N`
//!   placeholders all become `?`;
//! - `IN (...)` lists of literals or placeholders, whatever their length,
//!   become `IN (...)`, and repeated `VALUES` tuples fold into one;
//! - quoted identifiers (`"users"`, `` `users` ``) lose their quotes;
//! - whitespace and comments fold into canonical spacing; a trailing `;` goes;
//! - diesel's ` -- binds: [...]` suffix is stripped.
//!
//! Keywords keep the case they were written in.

use std::fmt;

use crate::lexer::{Lexer, TokenKind};

/// A statement's fingerprint: the normalized text and its hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    text: Box<str>,
    hash: u64,
}

impl Fingerprint {
    /// The fingerprint of `sql` (see the module docs for the rules).
    ///
    /// # Examples
    /// ```
    /// let a = perf_db::Fingerprint::of("SELECT * FROM \"users\" WHERE id IN ($1, $2) -- binds: [1, 2]");
    /// let b = perf_db::Fingerprint::of("select *  from users where id in (7)");
    /// assert_eq!(a.as_str(), "SELECT * FROM users WHERE id IN (...)");
    /// assert_ne!(a, b); // keyword case is kept
    /// assert_eq!(a.hash(), perf_db::fingerprint_hash(a.as_str()));
    /// ```
    pub fn of(sql: &str) -> Fingerprint {
        let mut text = String::with_capacity(sql.len());
        let hash = fingerprint_into(sql, &mut text);
        Fingerprint { text: text.into_boxed_str(), hash }
    }

    /// The normalized SQL text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The stable 64-bit hash of the normalized text (FNV-1a).
    pub fn hash(&self) -> u64 {
        self.hash
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Writes the fingerprint of `sql` into `out` (cleared first) and returns its
/// hash: the allocation-free form of [`Fingerprint::of`] for a reused buffer.
///
/// # Guarantees
/// One pass over the input; never panics, whatever the input.
pub fn fingerprint_into(sql: &str, out: &mut String) -> u64 {
    fingerprint_bare_into(strip_binds(sql), out)
}

/// [`fingerprint_into`] for text known to hold no bind list (the monitor's
/// rendered SQL, already cut at diesel's marker piece): a ` -- binds: `
/// inside it is the statement's own text (e.g. in a string literal) and is
/// fingerprinted like any other.
pub(crate) fn fingerprint_bare_into(sql: &str, out: &mut String) -> u64 {
    out.clear();
    let mut prev = Prev::Start;
    // Start offsets (just after `(`) of open groups, and whether each follows `IN`.
    let mut groups: Vec<(usize, bool)> = Vec::new();
    for token in Lexer::new(sql) {
        let (text, next) = match token.kind {
            TokenKind::Word => (token.text, if is_keyword(token.text) { Prev::Keyword } else { Prev::Word }),
            TokenKind::QuotedIdent => (token.text, Prev::Word),
            TokenKind::Str | TokenKind::Num | TokenKind::Param => ("?", Prev::Value),
            TokenKind::Open => ("(", Prev::Open),
            TokenKind::Close => (")", Prev::Close),
            TokenKind::Comma => (",", Prev::Comma),
            TokenKind::Dot => (".", Prev::Dot),
            TokenKind::Semi => (";", Prev::Semi),
            TokenKind::Op if token.text == "::" => ("::", Prev::Cast),
            TokenKind::Op => (token.text, Prev::Op),
        };
        let after_in = next == Prev::Open && prev == Prev::Keyword && last_word_is_in(out);
        if needs_space(prev, next) {
            out.push(' ');
        }
        match next {
            Prev::Open => {
                out.push('(');
                groups.push((out.len(), after_in));
            }
            Prev::Close => close_group(out, groups.pop()),
            _ if token.kind == TokenKind::QuotedIdent => push_unquoted(out, text),
            _ => out.push_str(text),
        }
        prev = next;
    }
    while out.ends_with(';') {
        out.pop();
    }
    fingerprint_hash(out)
}

/// The stable 64-bit hash (FNV-1a) of a fingerprint text; the value a
/// [`Fingerprint`] carries and the one counted per request for N+1 detection.
pub fn fingerprint_hash(fingerprint: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in fingerprint.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// `sql` without diesel's ` -- binds: [...]` suffix: everything from the
/// first ` -- binds: ` on.
///
/// The first, not the last: a bind value may itself contain the marker (a
/// search term can be anything), and cutting at the last one would keep the
/// bind values before it. SQL text with that exact comment in it loses the
/// rest, which only shortens what is shown.
///
/// # Guarantees
/// One pass over the text; cheap on the short texts queries have (it only
/// compares at spaces).
pub fn strip_binds(sql: &str) -> &str {
    let bytes = sql.as_bytes();
    let marker = BINDS_MARKER.as_bytes();
    let at = bytes.iter().enumerate().position(|(i, &b)| b == b' ' && bytes[i..].starts_with(marker));
    // The marker starts with an ASCII space, so `at` is always a char boundary.
    at.and_then(|i| sql.get(..i)).unwrap_or(sql)
}

/// The marker diesel writes between a statement's SQL and its bind values.
pub(crate) const BINDS_MARKER: &str = " -- binds: ";

/// What was last written to the fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prev {
    Start,
    Keyword,
    Word,
    Value,
    Open,
    Close,
    Comma,
    Dot,
    Semi,
    Cast,
    Op,
}

fn needs_space(prev: Prev, next: Prev) -> bool {
    match (prev, next) {
        (Prev::Start | Prev::Open | Prev::Dot | Prev::Cast, _) => false,
        (_, Prev::Close | Prev::Comma | Prev::Dot | Prev::Semi | Prev::Cast) => false,
        // `count(*)`, `users(id, name)` but `IN (`, `VALUES (`, `= (`.
        (Prev::Word, Prev::Open) => false,
        _ => true,
    }
}

fn last_word_is_in(out: &str) -> bool {
    let b = out.as_bytes();
    b.len() >= 2
        && b[b.len() - 2..].eq_ignore_ascii_case(b"in")
        && (b.len() == 2 || !(b[b.len() - 3].is_ascii_alphanumeric() || b[b.len() - 3] == b'_'))
}

/// Closes the group opened at `group`: folds an `IN` list of values into
/// `...`, and a `VALUES` tuple equal to the one before it into nothing.
fn close_group(out: &mut String, group: Option<(usize, bool)>) {
    let Some((start, after_in)) = group else {
        out.push(')');
        return;
    };
    let content = &out.as_bytes()[start..];
    let only_values = !content.is_empty() && content.iter().all(|c| matches!(c, b'?' | b',' | b' ' | b'.'));
    if after_in && only_values {
        out.truncate(start);
        out.push_str("...)");
        return;
    }
    out.push(')');
    if only_values {
        // `(?, ?), (?, ?)` → `(?, ?)`: the tuple is out[start - 1..]; compare it
        // with the same length just before the `, ` that precedes it.
        let tuple = start - 1..out.len();
        let len = tuple.len();
        let before = &out.as_bytes()[..tuple.start];
        if before.ends_with(b", ") && before.len() >= 2 + len {
            let prior = before.len() - 2 - len..before.len() - 2;
            if out.as_bytes()[prior.clone()] == out.as_bytes()[tuple.clone()] {
                out.truncate(prior.end);
            }
        }
    }
}

fn push_unquoted(out: &mut String, inner: &str) {
    // Doubled quotes inside a quoted identifier stand for one quote.
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if (c == '"' || c == '`') && chars.peek() == Some(&c) {
            chars.next();
        }
    }
}

/// Keywords after which `(` is written with a space (`IN (`), unlike a
/// function or table name (`count(*)`).
fn is_keyword(word: &str) -> bool {
    let b = word.as_bytes();
    if !(2..=9).contains(&b.len()) {
        return false;
    }
    let mut up = [0u8; 9];
    for (d, s) in up.iter_mut().zip(b) {
        *d = s.to_ascii_uppercase();
    }
    matches!(
        &up[..b.len()],
        b"ALL"
            | b"AND"
            | b"ANY"
            | b"AS"
            | b"BETWEEN"
            | b"BY"
            | b"CASE"
            | b"DISTINCT"
            | b"ELSE"
            | b"EXCEPT"
            | b"EXISTS"
            | b"FROM"
            | b"HAVING"
            | b"IN"
            | b"INTERSECT"
            | b"IS"
            | b"JOIN"
            | b"LIKE"
            | b"LIMIT"
            | b"NOT"
            | b"OFFSET"
            | b"ON"
            | b"OR"
            | b"OVER"
            | b"RETURNING"
            | b"SELECT"
            | b"SET"
            | b"THEN"
            | b"UNION"
            | b"USING"
            | b"VALUES"
            | b"WHEN"
            | b"WHERE"
            | b"WITH"
    )
}

#[cfg(test)]
mod tests;
