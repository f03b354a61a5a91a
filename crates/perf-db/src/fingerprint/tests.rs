//! Fingerprint normalization cases.

use super::*;

fn check(input: &str, expected: &str) {
    let fp = Fingerprint::of(input);
    assert_eq!(fp.as_str(), expected, "fingerprint of {input:?}");
    assert_eq!(fp.hash(), fingerprint_hash(expected));
    let mut buf = String::from("leftover");
    assert_eq!(fingerprint_into(input, &mut buf), fp.hash());
    assert_eq!(buf, expected);
}

#[test]
fn plain_select_is_unchanged() {
    check("SELECT id, name FROM users WHERE id = ?", "SELECT id, name FROM users WHERE id = ?");
}

#[test]
fn string_literals_become_placeholders() {
    check("SELECT * FROM users WHERE name = 'alice'", "SELECT * FROM users WHERE name = ?");
}

#[test]
fn escaped_quotes_stay_inside_the_literal() {
    check("SELECT * FROM t WHERE a = 'it''s' AND b = 1", "SELECT * FROM t WHERE a = ? AND b = ?");
}

#[test]
fn prefixed_and_dollar_quoted_strings_become_placeholders() {
    check("SELECT E'a\\n', $$x$$, $tag$y$tag$", "SELECT ?, ?, ?");
}

#[test]
fn numbers_become_placeholders() {
    check(
        "SELECT * FROM t WHERE a = 42 AND b > 3.5e-3 AND c = 0x1F",
        "SELECT * FROM t WHERE a = ? AND b > ? AND c = ?",
    );
}

#[test]
fn unary_minus_folds_into_the_number() {
    check("SELECT * FROM t WHERE a = -5 AND b=-2", "SELECT * FROM t WHERE a = ? AND b = ?");
}

#[test]
fn binary_minus_stays() {
    check("SELECT a - 1, a-2 FROM t", "SELECT a - ?, a - ? FROM t");
}

#[test]
fn identifiers_with_digits_are_not_numbers() {
    check("SELECT col1, t2.x FROM t2", "SELECT col1, t2.x FROM t2");
}

#[test]
fn postgres_placeholders_become_question_marks() {
    check("SELECT * FROM t WHERE a = $1 AND b = $12", "SELECT * FROM t WHERE a = ? AND b = ?");
}

#[test]
fn numbered_sqlite_placeholders_become_question_marks() {
    check("SELECT * FROM t WHERE a = ?1", "SELECT * FROM t WHERE a = ?");
}

#[test]
fn in_lists_of_any_length_fold() {
    check("SELECT * FROM t WHERE id IN (1, 2, 3)", "SELECT * FROM t WHERE id IN (...)");
    check("SELECT * FROM t WHERE id IN (?)", "SELECT * FROM t WHERE id IN (...)");
    check("SELECT * FROM t WHERE id in($1,$2,$3,$4)", "SELECT * FROM t WHERE id in (...)");
}

#[test]
fn not_in_lists_fold() {
    check("SELECT * FROM t WHERE id NOT IN ('a', 'b')", "SELECT * FROM t WHERE id NOT IN (...)");
}

#[test]
fn in_subqueries_are_kept() {
    check(
        "SELECT * FROM t WHERE id IN (SELECT t_id FROM u WHERE x = 1)",
        "SELECT * FROM t WHERE id IN (SELECT t_id FROM u WHERE x = ?)",
    );
}

#[test]
fn words_ending_in_in_do_not_fold() {
    check("SELECT * FROM t WHERE join_in(1, 2)", "SELECT * FROM t WHERE join_in(?, ?)");
    check("SELECT min(1, 2)", "SELECT min(?, ?)");
}

#[test]
fn repeated_values_tuples_fold() {
    check("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')", "INSERT INTO t(a, b) VALUES (?, ?)");
    check("INSERT INTO t (a, b) VALUES (?, ?)", "INSERT INTO t(a, b) VALUES (?, ?)");
}

#[test]
fn whitespace_folds() {
    check("SELECT\n\t*   FROM  t\r\n WHERE a=1", "SELECT * FROM t WHERE a = ?");
    check("  SELECT 1  ", "SELECT ?");
}

#[test]
fn punctuation_spacing_is_canonical() {
    check("SELECT count( * ),max(a)FROM t WHERE (a=1)", "SELECT count(*), max(a) FROM t WHERE (a = ?)");
}

#[test]
fn comments_are_dropped() {
    check("SELECT /* hint */ a -- trailing\nFROM t", "SELECT a FROM t");
}

#[test]
fn diesel_binds_suffix_is_stripped() {
    check(
        "SELECT `users`.`id` FROM `users` WHERE `users`.`id` = ? -- binds: [1]",
        "SELECT users.id FROM users WHERE users.id = ?",
    );
}

#[test]
fn quoted_identifiers_lose_their_quotes() {
    check(
        "SELECT \"users\".\"name\" FROM \"users\" WHERE \"users\".\"id\" = $1 -- binds: [3]",
        "SELECT users.name FROM users WHERE users.id = ?",
    );
    check("SELECT \"a\"\"b\" FROM t", "SELECT a\"b FROM t");
}

#[test]
fn casts_keep_no_spaces() {
    check("SELECT $1 :: int, a::text FROM t", "SELECT ?::int, a::text FROM t");
}

#[test]
fn trailing_semicolons_go() {
    check("SELECT 1;", "SELECT ?");
    check("BEGIN; SELECT 1;", "BEGIN; SELECT ?");
}

#[test]
fn operators_keep_their_text() {
    check(
        "SELECT * FROM t WHERE a<>1 AND b>=2 AND c || 'x' LIKE '%y'",
        "SELECT * FROM t WHERE a <> ? AND b >= ? AND c || ? LIKE ?",
    );
}

#[test]
fn unterminated_input_does_not_panic() {
    check("SELECT 'abc", "SELECT ?");
    check("SELECT \"abc", "SELECT abc");
    check("SELECT a /* open", "SELECT a");
    check("SELECT (((", "SELECT (((");
    check("SELECT )))", "SELECT)))");
    check("", "");
}

#[test]
fn non_ascii_text_survives() {
    check("SELECT * FROM città WHERE nome = 'Zürich'", "SELECT * FROM città WHERE nome = ?");
}

#[test]
fn same_shape_gives_same_hash() {
    let a = Fingerprint::of("SELECT * FROM t WHERE id IN (1,2) -- binds: []");
    let b = Fingerprint::of("SELECT  *  FROM t WHERE id IN (3, 4, 5, 6)");
    assert_eq!(a, b);
    assert_ne!(a.hash(), Fingerprint::of("SELECT * FROM u WHERE id IN (1)").hash());
}

#[test]
fn hash_is_stable_across_runs() {
    // FNV-1a of "SELECT ?"; a change here would split stored statistics.
    assert_eq!(fingerprint_hash(""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fingerprint_hash("a"), 0xaf63_dc4c_8601_ec8c);
}

#[test]
fn arbitrary_input_never_panics() {
    // A deterministic generator over fragments that stress the lexer:
    // quotes, comments, multi-byte characters, placeholders, operators.
    const PIECES: &[&str] = &[
        "SELECT", " ", "'", "\"", "`", "$", "$1", "?", "--", "/*", "*/", "\n", "(", ")", ",", ".", ";", "-", "+", "e",
        "1", "0x", ".5", "IN", "VALUES", "é", "日本", "::", "$$", "$a$", "E'", "\\", "=", "<>", "[", "}",
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut buf = String::new();
    for _ in 0..20_000 {
        let mut sql = String::new();
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = (state % 24) as usize;
        for _ in 0..len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            sql.push_str(PIECES[(state % PIECES.len() as u64) as usize]);
        }
        let hash = fingerprint_into(&sql, &mut buf);
        assert_eq!(hash, fingerprint_hash(&buf), "{sql:?}");
        let _ = crate::StatementKind::of(&sql);
        let _ = crate::tables_read(&sql);
        let _ = crate::tables_written(&sql);
    }
}

#[test]
fn strip_binds_cuts_at_the_first_marker() {
    assert_eq!(strip_binds("SELECT ? -- binds: [1]"), "SELECT ?");
    // A bind value holding the marker must not keep the values before it;
    // a literal holding it is cut short instead (only the shown text shrinks).
    assert_eq!(strip_binds("SELECT ? -- binds: [\"a -- binds: b\"]"), "SELECT ?");
    assert_eq!(strip_binds("SELECT ' -- binds: ' -- binds: [\"x\"]"), "SELECT '");
    assert_eq!(strip_binds(" -- binds: "), "");
    assert_eq!(strip_binds("SELECT 1"), "SELECT 1");
    assert_eq!(strip_binds("-- b"), "-- b");
    assert_eq!(strip_binds(""), "");
}
