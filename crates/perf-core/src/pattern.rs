//! [`KeyPattern`]: the one glob grammar for cache keys, parsed once where a
//! pattern enters (the HTTP API, a caller of `CacheAdmin::clear`) and
//! matched by every cache tier.
//!
//! The grammar is the subset of Redis's `SCAN MATCH` globs that every tier
//! matches the same way:
//! - 1 to [`MAX_PATTERN_BYTES`] printable ASCII characters other than space;
//! - `*` (any run), `?` (any one character), `\` (escapes the next
//!   character, which then matches itself);
//! - `[abc]`, `[a-z]`, `[^a-z]` / `[!a-z]`: non-empty, closed and not
//!   nested classes (`\` escapes inside them too; a reversed range such as
//!   `[z-a]` matches as if written in order, as Redis does; a `-` last in a
//!   class is literal);
//! - no `]` outside a class, at most [`MAX_PATTERN_STARS`] `*` outside
//!   classes and escapes.
//!
//! Matching is O(key × pattern) at worst (one backtracking point).
//!
//! ```
//! use perf_core::KeyPattern;
//! let p = KeyPattern::parse("users:[0-9]*")?;
//! assert!(p.matches("users:42"));
//! assert!(!p.matches("users:x"));
//! assert!(KeyPattern::parse("a b").is_err());
//! # Ok::<(), perf_core::PatternError>(())
//! ```

use std::fmt;

/// The longest pattern accepted, in bytes.
pub const MAX_PATTERN_BYTES: usize = 256;
/// The most `*` wildcards (outside classes and escapes) a pattern may hold.
pub const MAX_PATTERN_STARS: usize = 16;

/// A pattern refused by [`KeyPattern::parse`], with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cache pattern {pattern:?}: {reason}")]
pub struct PatternError {
    pattern: String,
    reason: &'static str,
}

impl PatternError {
    /// The pattern refused, cut to 64 bytes.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Why it was refused.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    AnyRun,
    AnyOne,
    Class { negated: bool, ranges: Vec<(char, char)> },
}

/// A parsed, valid glob pattern over cache keys (see the module docs for
/// the grammar).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    source: Box<str>,
    tokens: Vec<Token>,
}

impl KeyPattern {
    /// Parses `src`.
    ///
    /// # Errors
    /// [`PatternError`] when `src` breaks a rule of the grammar.
    pub fn parse(src: &str) -> Result<KeyPattern, PatternError> {
        let fail = |reason| PatternError { pattern: clip(src).to_owned(), reason };
        if src.is_empty() {
            return Err(fail("pattern is empty"));
        }
        if src.len() > MAX_PATTERN_BYTES {
            return Err(fail("pattern is longer than 256 bytes"));
        }
        if !src.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(fail("pattern may hold only printable ASCII characters other than space"));
        }
        let mut tokens = Vec::new();
        let mut chars = src.chars().peekable();
        let mut stars = 0;
        while let Some(c) = chars.next() {
            let token = match c {
                '*' => {
                    stars += 1;
                    if tokens.last() == Some(&Token::AnyRun) {
                        continue;
                    }
                    Token::AnyRun
                }
                '?' => Token::AnyOne,
                '\\' => Token::Literal(chars.next().ok_or_else(|| fail("pattern ends with an unfinished escape"))?),
                ']' => return Err(fail("unmatched ']'")),
                '[' => {
                    let negated = chars.next_if(|c| matches!(c, '^' | '!')).is_some();
                    let mut ranges = Vec::new();
                    loop {
                        let lo = match chars.next() {
                            None => return Err(fail("unclosed '[' character class")),
                            Some(']') if !ranges.is_empty() => break,
                            Some(']') => return Err(fail("empty character class")),
                            Some('[') => return Err(fail("nested '[' in a character class")),
                            Some('\\') => chars.next().ok_or_else(|| fail("pattern ends with an unfinished escape"))?,
                            Some(c) => c,
                        };
                        if chars.next_if_eq(&'-').is_none() {
                            ranges.push((lo, lo));
                            continue;
                        }
                        let hi = match chars.next() {
                            None => return Err(fail("unclosed '[' character class")),
                            Some(']') => {
                                ranges.push((lo, lo));
                                ranges.push(('-', '-'));
                                break;
                            }
                            Some('[') => return Err(fail("nested '[' in a character class")),
                            Some('\\') => chars.next().ok_or_else(|| fail("pattern ends with an unfinished escape"))?,
                            Some(c) => c,
                        };
                        // A reversed range matches as if written in order, as in Redis.
                        ranges.push(if hi < lo { (hi, lo) } else { (lo, hi) });
                    }
                    Token::Class { negated, ranges }
                }
                c => Token::Literal(c),
            };
            tokens.push(token);
        }
        if stars > MAX_PATTERN_STARS {
            return Err(fail("pattern has more than 16 '*'"));
        }
        Ok(KeyPattern { source: Box::from(src), tokens })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `key` matches the whole pattern.
    pub fn matches(&self, key: &str) -> bool {
        let text: Vec<char> = key.chars().collect();
        let (mut t, mut p) = (0usize, 0usize);
        // The last `*` seen and the text position it currently absorbs up to:
        // classic single-backtrack glob matching, O(text × pattern) worst case.
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match self.tokens.get(p) {
                Some(Token::AnyRun) => {
                    star = Some((p, t));
                    p += 1;
                    continue;
                }
                Some(tok) if tok.matches_char(text[t]) => {
                    t += 1;
                    p += 1;
                    continue;
                }
                _ => {}
            }
            match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            }
        }
        self.tokens[p..].iter().all(|tok| *tok == Token::AnyRun)
    }

    /// The pattern in Redis `MATCH` syntax, with every literal escaped, so
    /// Redis matches exactly the keys [`KeyPattern::matches`] does.
    pub fn to_redis_match(&self) -> String {
        let mut out = String::new();
        for tok in &self.tokens {
            match tok {
                Token::Literal(c) => push_escaped(&mut out, *c),
                Token::AnyRun => out.push('*'),
                Token::AnyOne => out.push('?'),
                Token::Class { negated, ranges } => {
                    out.push('[');
                    if *negated {
                        out.push('^');
                    }
                    for &(lo, hi) in ranges {
                        if lo == hi {
                            push_escaped(&mut out, lo);
                        } else if is_glob_special(lo) || is_glob_special(hi) {
                            // Redis reads a range only between two plain
                            // characters (`[\*-z]` is `*`, `-`, `z` there), so
                            // such a range is written out member by member
                            // (patterns are ASCII: at most 94 of them).
                            for c in lo..=hi {
                                push_escaped(&mut out, c);
                            }
                        } else {
                            out.push(lo);
                            out.push('-');
                            out.push(hi);
                        }
                    }
                    out.push(']');
                }
            }
        }
        out
    }
}

impl fmt::Display for KeyPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl std::str::FromStr for KeyPattern {
    type Err = PatternError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyPattern::parse(s)
    }
}

impl Token {
    fn matches_char(&self, c: char) -> bool {
        match self {
            Token::Literal(l) => *l == c,
            Token::AnyOne => true,
            Token::AnyRun => false,
            Token::Class { negated, ranges } => ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated,
        }
    }
}

/// `text` with every character Redis's glob treats specially escaped, so a
/// Redis `MATCH` on it matches that text literally (e.g. a key prefix).
pub fn escape_glob(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    out
}

/// Whether Redis's glob gives `c` a meaning of its own.
fn is_glob_special(c: char) -> bool {
    matches!(c, '*' | '?' | '[' | ']' | '\\' | '^' | '-')
}

fn push_escaped(out: &mut String, c: char) {
    if is_glob_special(c) {
        out.push('\\');
    }
    out.push(c);
}

/// At most the first 64 bytes of `s`, cut at a character boundary.
pub(crate) fn clip(s: &str) -> &str {
    let mut end = s.len().min(64);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests;
