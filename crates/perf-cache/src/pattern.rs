//! Glob patterns for clearing entries: `*` (any run), `?` (one character),
//! `[abc]`, `[a-z]`, `[^a-z]` / `[!a-z]` (classes) and `\` (escape), the
//! syntax Redis's `SCAN MATCH` understands.
//!
//! A pattern is parsed (and refused when malformed or over-long) before
//! anything is removed, then matched in O(key × pattern) at worst.

use crate::{CacheError, error::truncate};

/// The longest pattern accepted, in bytes.
pub const MAX_PATTERN_BYTES: usize = 256;
/// The most `*` wildcards a pattern may hold.
const MAX_STARS: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    AnyRun,
    AnyOne,
    Class { negated: bool, ranges: Vec<(char, char)> },
}

/// A parsed glob pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    tokens: Vec<Token>,
}

impl Pattern {
    /// Parses `src`.
    pub(crate) fn parse(src: &str) -> Result<Pattern, CacheError> {
        let fail = |reason| CacheError::InvalidPattern { pattern: truncate(src), reason };
        if src.is_empty() {
            return Err(fail("pattern is empty"));
        }
        if src.len() > MAX_PATTERN_BYTES {
            return Err(fail("pattern is longer than 256 bytes"));
        }
        if src.chars().any(char::is_control) {
            return Err(fail("pattern contains a control character"));
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
                '\\' => Token::Literal(chars.next().ok_or_else(|| fail("pattern ends with an escape"))?),
                '[' => {
                    let negated = matches!(chars.peek(), Some('^' | '!'));
                    if negated {
                        chars.next();
                    }
                    let mut ranges = Vec::new();
                    loop {
                        let lo = match chars.next() {
                            None => return Err(fail("unclosed '['")),
                            Some(']') if !ranges.is_empty() => break,
                            Some(']') => return Err(fail("empty character class")),
                            Some('\\') => chars.next().ok_or_else(|| fail("unclosed '['"))?,
                            Some(c) => c,
                        };
                        if chars.peek() == Some(&'-') {
                            chars.next();
                            let hi = match chars.next() {
                                None => return Err(fail("unclosed '['")),
                                Some(']') => {
                                    ranges.push((lo, lo));
                                    ranges.push(('-', '-'));
                                    break;
                                }
                                Some('\\') => chars.next().ok_or_else(|| fail("unclosed '['"))?,
                                Some(c) => c,
                            };
                            // A reversed range matches as if written in order, as in Redis.
                            ranges.push(if hi < lo { (hi, lo) } else { (lo, hi) });
                        } else {
                            ranges.push((lo, lo));
                        }
                    }
                    Token::Class { negated, ranges }
                }
                c => Token::Literal(c),
            };
            tokens.push(token);
        }
        if stars > MAX_STARS {
            return Err(fail("pattern has more than 16 '*'"));
        }
        Ok(Pattern { tokens })
    }

    /// Whether `text` matches the whole pattern.
    pub(crate) fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
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

    /// The pattern in Redis `MATCH` syntax, with every literal escaped.
    #[cfg(feature = "redis")]
    pub(crate) fn to_redis(&self) -> String {
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
                    for (lo, hi) in ranges {
                        push_escaped(&mut out, *lo);
                        if lo != hi {
                            out.push('-');
                            push_escaped(&mut out, *hi);
                        }
                    }
                    out.push(']');
                }
            }
        }
        out
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

/// Escapes every character Redis's glob treats specially.
#[cfg(feature = "redis")]
pub(crate) fn escape_redis_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    out
}

#[cfg(feature = "redis")]
fn push_escaped(out: &mut String, c: char) {
    if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^' | '-') {
        out.push('\\');
    }
    out.push(c);
}

#[cfg(test)]
mod tests;
