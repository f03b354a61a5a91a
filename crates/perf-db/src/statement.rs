//! Statement analysis: what kind of statement a SQL text is, which tables it
//! reads (to tag cached results) and which it writes (to invalidate them).

use crate::lexer::{Lexer, Token, TokenKind};

/// The kind of a SQL statement, from its leading keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatementKind {
    /// `SELECT`, `VALUES`, or `WITH ... SELECT`.
    Select,
    /// `INSERT` or `REPLACE`.
    Insert,
    /// `UPDATE`.
    Update,
    /// `DELETE`.
    Delete,
    /// Schema changes that invalidate a table: `DROP`, `ALTER`, `TRUNCATE`.
    Ddl,
    /// Anything else (`BEGIN`, `PRAGMA`, `CREATE`, `SET`, ...).
    Other,
}

impl StatementKind {
    /// The kind of `sql`. A `WITH` statement takes the kind of its first
    /// top-level data-changing verb, or [`StatementKind::Select`].
    pub fn of(sql: &str) -> StatementKind {
        let mut depth = 0usize;
        let mut first = true;
        let mut with = false;
        for t in Lexer::new(sql) {
            match t.kind {
                TokenKind::Open => depth += 1,
                TokenKind::Close => depth = depth.saturating_sub(1),
                TokenKind::Word if first => {
                    first = false;
                    match verb(t.text) {
                        Some(kind) => return kind,
                        None if t.text.eq_ignore_ascii_case("with") => with = true,
                        None => return StatementKind::Other,
                    }
                }
                TokenKind::Word if with && depth == 0 => {
                    if let Some(kind) = verb(t.text) {
                        return kind;
                    }
                }
                _ if first => return StatementKind::Other,
                _ => {}
            }
        }
        if with { StatementKind::Select } else { StatementKind::Other }
    }

    /// Whether the statement changes table contents or shape.
    pub fn is_write(self) -> bool {
        matches!(self, StatementKind::Insert | StatementKind::Update | StatementKind::Delete | StatementKind::Ddl)
    }
}

/// The core [`QueryKind`](perf_core::QueryKind) of a statement of `kind`
/// with text `sql`: schema changes include `CREATE`, `COMMENT`, `GRANT`,
/// `REVOKE` and `RENAME` (which [`StatementKind`] files under `Other`), and
/// transaction control (`BEGIN`, `COMMIT`, `SAVEPOINT`, ...) is `Transaction`.
pub(crate) fn query_kind(kind: StatementKind, sql: &str) -> perf_core::QueryKind {
    use perf_core::QueryKind;
    match kind {
        StatementKind::Select => QueryKind::Read,
        StatementKind::Insert | StatementKind::Update | StatementKind::Delete => QueryKind::Write,
        StatementKind::Ddl => QueryKind::Schema,
        StatementKind::Other => {
            let first = Lexer::new(sql).find(|t| t.kind == TokenKind::Word).map_or("", |t| t.text);
            let is = |words: &[&str]| words.iter().any(|w| w.eq_ignore_ascii_case(first));
            if is(&["create", "comment", "grant", "revoke", "rename", "reindex", "vacuum", "analyze"]) {
                QueryKind::Schema
            } else if is(&["begin", "commit", "rollback", "savepoint", "release", "start", "end"]) {
                QueryKind::Transaction
            } else {
                QueryKind::Other
            }
        }
    }
}

fn verb(word: &str) -> Option<StatementKind> {
    let kinds = [
        ("select", StatementKind::Select),
        ("values", StatementKind::Select),
        ("insert", StatementKind::Insert),
        ("replace", StatementKind::Insert),
        ("update", StatementKind::Update),
        ("delete", StatementKind::Delete),
        ("drop", StatementKind::Ddl),
        ("alter", StatementKind::Ddl),
        ("truncate", StatementKind::Ddl),
    ];
    kinds.iter().find(|(k, _)| k.eq_ignore_ascii_case(word)).map(|(_, kind)| *kind)
}

/// The tables `sql` reads: every name after `FROM` or `JOIN` (comma lists
/// included), lowercased, without schema, deduplicated, in order of first
/// appearance. Targets of `DELETE FROM` are not reads.
pub fn tables_read(sql: &str) -> Vec<String> {
    let tokens: Vec<Token<'_>> = Lexer::new(sql).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i];
        let from = is_word(t, "from") && !(i > 0 && is_word(tokens[i - 1], "delete"));
        if from || is_word(t, "join") {
            let mut j = i + 1;
            while let Some((name, next)) = table_name(&tokens, j) {
                push_unique(&mut out, name);
                j = skip_alias(&tokens, next);
                if tokens.get(j).is_some_and(|t| t.kind == TokenKind::Comma) {
                    j += 1;
                } else {
                    break;
                }
            }
        }
        i += 1;
    }
    out
}

/// The tables `sql` writes: targets of `INSERT INTO`, `REPLACE INTO`,
/// `UPDATE`, `DELETE FROM`, `TRUNCATE`, `DROP TABLE` and `ALTER TABLE`, for
/// every statement in a `;`-separated batch; lowercased, without schema,
/// deduplicated.
pub fn tables_written(sql: &str) -> Vec<String> {
    let tokens: Vec<Token<'_>> = Lexer::new(sql).collect();
    let mut out = Vec::new();
    for (i, &t) in tokens.iter().enumerate() {
        if t.kind != TokenKind::Word {
            continue;
        }
        let mut j = i + 1;
        let skip = |j: &mut usize, words: &[&str]| {
            while tokens.get(*j).is_some_and(|t| words.iter().any(|w| is_word(*t, w))) {
                *j += 1;
            }
        };
        let target = if is_word(t, "insert") || is_word(t, "replace") {
            // INSERT [OR REPLACE|IGNORE|...] INTO t
            skip(&mut j, &["or", "replace", "ignore", "abort", "fail", "rollback"]);
            if tokens.get(j).is_some_and(|t| is_word(*t, "into")) { Some(j + 1) } else { None }
        } else if is_word(t, "update") {
            // Not `ON CONFLICT ... DO UPDATE SET`, nor `FOR UPDATE`.
            let prev = i.checked_sub(1).map(|p| tokens[p]);
            if prev.is_some_and(|p| is_word(p, "do") || is_word(p, "for") || is_word(p, "key")) {
                None
            } else {
                skip(&mut j, &["or", "replace", "ignore", "abort", "fail", "rollback", "only"]);
                Some(j)
            }
        } else if is_word(t, "delete") {
            if tokens.get(j).is_some_and(|t| is_word(*t, "from")) { Some(j + 1) } else { None }
        } else if is_word(t, "truncate") {
            skip(&mut j, &["table", "only"]);
            Some(j)
        } else if (is_word(t, "drop") || is_word(t, "alter")) && tokens.get(j).is_some_and(|t| is_word(*t, "table")) {
            j += 1;
            skip(&mut j, &["if", "exists", "only"]);
            Some(j)
        } else {
            None
        };
        if let Some(mut j) = target {
            if tokens.get(j).is_some_and(|t| is_word(*t, "only")) {
                j += 1;
            }
            while let Some((name, next)) = table_name(&tokens, j) {
                push_unique(&mut out, name);
                // TRUNCATE a, b and DROP TABLE a, b name several tables.
                let several = is_word(t, "truncate") || is_word(t, "drop");
                if several && tokens.get(next).is_some_and(|t| t.kind == TokenKind::Comma) {
                    j = next + 1;
                } else {
                    break;
                }
            }
        }
    }
    out
}

fn is_word(t: Token<'_>, word: &str) -> bool {
    t.kind == TokenKind::Word && t.text.eq_ignore_ascii_case(word)
}

/// A table name (`t`, `"t"`, `schema.t`) starting at `i`: its last segment
/// lowercased, and the index after it.
fn table_name(tokens: &[Token<'_>], mut i: usize) -> Option<(String, usize)> {
    let mut name = ident(*tokens.get(i)?)?;
    i += 1;
    while tokens.get(i).is_some_and(|t| t.kind == TokenKind::Dot) {
        match tokens.get(i + 1).copied().and_then(ident) {
            Some(part) => {
                name = part;
                i += 2;
            }
            None => break,
        }
    }
    Some((name.to_ascii_lowercase(), i))
}

fn ident(t: Token<'_>) -> Option<&str> {
    match t.kind {
        TokenKind::QuotedIdent => Some(t.text),
        TokenKind::Word if !is_clause_word(t.text) => Some(t.text),
        _ => None,
    }
}

/// Skips an optional alias (`AS x` or a bare non-keyword word) at `i`.
fn skip_alias(tokens: &[Token<'_>], mut i: usize) -> usize {
    if tokens.get(i).is_some_and(|t| is_word(*t, "as")) {
        i += 1;
    }
    if tokens.get(i).is_some_and(|&t| ident(t).is_some()) {
        i += 1;
    }
    i
}

fn is_clause_word(word: &str) -> bool {
    const WORDS: &[&str] = &[
        "select",
        "where",
        "group",
        "order",
        "having",
        "limit",
        "offset",
        "join",
        "inner",
        "left",
        "right",
        "full",
        "outer",
        "cross",
        "natural",
        "on",
        "using",
        "union",
        "except",
        "intersect",
        "as",
        "set",
        "values",
        "returning",
        "lateral",
        "window",
        "for",
        "from",
        "into",
        "default",
        "natural",
        "only",
    ];
    WORDS.iter().any(|w| w.eq_ignore_ascii_case(word))
}

fn push_unique(out: &mut Vec<String>, name: String) {
    if !out.contains(&name) {
        out.push(name);
    }
}

#[cfg(test)]
mod tests;
