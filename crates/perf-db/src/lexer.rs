//! A small, forgiving SQL lexer shared by fingerprinting and statement analysis.
//!
//! It never fails: unterminated strings, comments or quoted identifiers run
//! to the end of the input, and any byte it does not know becomes an
//! operator token.

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A bare word: keyword, identifier or function name.
    Word,
    /// A quoted identifier (`"x"` or `` `x` ``); the token text is the inner text, still escaped.
    QuotedIdent,
    /// A string literal (including dollar-quoted and `E'..'` forms).
    Str,
    /// A numeric literal, with a unary minus folded in.
    Num,
    /// A bind placeholder: `?`, `?1`, `$1`.
    Param,
    /// `(`
    Open,
    /// `)`
    Close,
    /// `,`
    Comma,
    /// `.`
    Dot,
    /// `;`
    Semi,
    /// A run of operator characters (`=`, `<>`, `::`, `*`, ...).
    Op,
}

/// One token: its kind and its text in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    pub(crate) kind: TokenKind,
    pub(crate) text: &'a str,
}

/// An iterator over the tokens of a SQL text, skipping whitespace and comments.
#[derive(Debug, Clone)]
pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    prev: Option<TokenKind>,
}

impl<'a> Lexer<'a> {
    /// A lexer over `src`.
    pub(crate) fn new(src: &'a str) -> Self {
        Lexer { src, pos: 0, prev: None }
    }

    fn byte(&self, at: usize) -> Option<u8> {
        self.src.as_bytes().get(at).copied()
    }

    /// Skips whitespace and comments.
    fn skip_trivia(&mut self) {
        let b = self.src.as_bytes();
        loop {
            while self.pos < b.len() && b[self.pos].is_ascii_whitespace() {
                self.pos += 1;
            }
            if b[self.pos..].starts_with(b"--") {
                self.pos = match b[self.pos..].iter().position(|&c| c == b'\n') {
                    Some(n) => self.pos + n + 1,
                    None => b.len(),
                };
            } else if b[self.pos..].starts_with(b"/*") {
                self.pos = match find(&b[self.pos + 2..], b"*/") {
                    Some(n) => self.pos + 2 + n + 2,
                    None => b.len(),
                };
            } else {
                return;
            }
        }
    }

    /// Advances past a quoted run starting at `self.pos` (the opening quote),
    /// where a doubled quote is an escape; returns the end of the inner text.
    fn quoted(&mut self, quote: u8) -> usize {
        let b = self.src.as_bytes();
        let mut i = self.pos + 1;
        while i < b.len() {
            if b[i] == quote {
                if b.get(i + 1) == Some(&quote) {
                    i += 2;
                    continue;
                }
                self.pos = i + 1;
                return i;
            }
            i += 1;
        }
        self.pos = b.len();
        b.len()
    }

    fn number_end(&self, start: usize) -> usize {
        let b = self.src.as_bytes();
        let mut i = start;
        while i < b.len() {
            let c = b[i];
            let exponent_sign =
                (c == b'+' || c == b'-') && i > start && matches!(b[i - 1], b'e' | b'E') && !is_hex(&b[start..i]);
            if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || exponent_sign {
                i += 1;
            } else {
                break;
            }
        }
        i
    }

    fn prev_is_value(&self) -> bool {
        matches!(
            self.prev,
            Some(
                TokenKind::Word
                    | TokenKind::QuotedIdent
                    | TokenKind::Str
                    | TokenKind::Num
                    | TokenKind::Param
                    | TokenKind::Close
            )
        )
    }

    fn next_token(&mut self) -> Option<Token<'a>> {
        self.skip_trivia();
        let b = self.src.as_bytes();
        let start = self.pos;
        let c = *b.get(start)?;
        let kind = match c {
            b'\'' => {
                self.quoted(b'\'');
                TokenKind::Str
            }
            b'"' | b'`' => {
                let end = self.quoted(c);
                let text = &self.src[start + 1..end];
                return Some(self.emit(TokenKind::QuotedIdent, text));
            }
            b'0'..=b'9' => {
                self.pos = self.number_end(start);
                TokenKind::Num
            }
            b'.' if self.byte(start + 1).is_some_and(|d| d.is_ascii_digit()) && !self.prev_is_value() => {
                self.pos = self.number_end(start + 1);
                TokenKind::Num
            }
            b'?' => {
                self.pos = digits_end(b, start + 1);
                TokenKind::Param
            }
            b'$' => {
                if self.byte(start + 1).is_some_and(|d| d.is_ascii_digit()) {
                    self.pos = digits_end(b, start + 1);
                    TokenKind::Param
                } else if let Some(end) = dollar_quoted_end(b, start) {
                    self.pos = end;
                    TokenKind::Str
                } else {
                    self.pos = start + 1;
                    TokenKind::Op
                }
            }
            b'(' => self.single(TokenKind::Open),
            b')' => self.single(TokenKind::Close),
            b',' => self.single(TokenKind::Comma),
            b'.' => self.single(TokenKind::Dot),
            b';' => self.single(TokenKind::Semi),
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                let mut i = start + 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$' || b[i] >= 0x80) {
                    i += 1;
                }
                // E'..', X'..', B'..', N'..' are string literals with a prefix.
                if i == start + 1 && matches!(c | 0x20, b'e' | b'x' | b'b' | b'n') && b.get(i) == Some(&b'\'') {
                    self.pos = i;
                    self.quoted(b'\'');
                    TokenKind::Str
                } else {
                    self.pos = i;
                    TokenKind::Word
                }
            }
            _ => return Some(self.operator(start)),
        };
        Some(self.emit(kind, &self.src[start..self.pos]))
    }

    fn single(&mut self, kind: TokenKind) -> TokenKind {
        self.pos += 1;
        kind
    }

    fn operator(&mut self, start: usize) -> Token<'a> {
        let b = self.src.as_bytes();
        let mut i = start;
        while i < b.len() && is_op_byte(b[i]) {
            if i > start && (b[i..].starts_with(b"--") || b[i..].starts_with(b"/*")) {
                break;
            }
            i += 1;
        }
        if i == start {
            // Not an operator byte we know (e.g. `[`, `{`): one character as an operator.
            i = start + self.src[start..].chars().next().map_or(1, char::len_utf8);
        }
        // A trailing `-` before a digit is a unary minus when what precedes it
        // is not a value: fold it into the number so `= -5` reads like `= 5`.
        let minus_number = b[i - 1] == b'-' && b.get(i).is_some_and(|d| d.is_ascii_digit() || *d == b'.');
        if minus_number && (i - start > 1 || !self.prev_is_value()) {
            if i - start > 1 {
                self.pos = i - 1;
                return self.emit(TokenKind::Op, &self.src[start..i - 1]);
            }
            self.pos = self.number_end(i);
            return self.emit(TokenKind::Num, &self.src[start..self.pos]);
        }
        self.pos = i;
        self.emit(TokenKind::Op, &self.src[start..i])
    }

    fn emit(&mut self, kind: TokenKind, text: &'a str) -> Token<'a> {
        self.prev = Some(kind);
        Token { kind, text }
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Token<'a>;
    fn next(&mut self) -> Option<Token<'a>> {
        self.next_token()
    }
}

fn is_op_byte(c: u8) -> bool {
    matches!(
        c,
        b'=' | b'<' | b'>' | b'!' | b'+' | b'-' | b'*' | b'/' | b'%' | b'|' | b'&' | b'^' | b'~' | b':' | b'#' | b'@'
    )
}

fn is_hex(num: &[u8]) -> bool {
    num.len() > 1 && num[0] == b'0' && matches!(num[1], b'x' | b'X')
}

fn digits_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    i
}

/// The end of a PostgreSQL dollar-quoted string starting at `start` (`$$..$$`
/// or `$tag$..$tag$`), or `None` if `start` does not open one.
fn dollar_quoted_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
        i += 1;
    }
    if b.get(i) != Some(&b'$') {
        return None;
    }
    let tag = &b[start..=i];
    let body = i + 1;
    Some(find(&b[body..], tag).map_or(b.len(), |n| body + n + tag.len()))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
