//! Statement kind and table extraction cases.

use super::*;

fn check_kind(sql: &str, expected: StatementKind) {
    assert_eq!(StatementKind::of(sql), expected, "kind of {sql:?}");
}

fn check_reads(sql: &str, expected: &[&str]) {
    assert_eq!(tables_read(sql), expected, "tables read by {sql:?}");
}

fn check_writes(sql: &str, expected: &[&str]) {
    assert_eq!(tables_written(sql), expected, "tables written by {sql:?}");
}

#[test]
fn kinds_come_from_the_leading_verb() {
    check_kind("SELECT 1", StatementKind::Select);
    check_kind("  select * from t", StatementKind::Select);
    check_kind("INSERT INTO t VALUES (1)", StatementKind::Insert);
    check_kind("REPLACE INTO t VALUES (1)", StatementKind::Insert);
    check_kind("UPDATE t SET a = 1", StatementKind::Update);
    check_kind("DELETE FROM t", StatementKind::Delete);
    check_kind("DROP TABLE t", StatementKind::Ddl);
    check_kind("TRUNCATE t", StatementKind::Ddl);
    check_kind("BEGIN", StatementKind::Other);
    check_kind("CREATE TABLE t (id INT)", StatementKind::Other);
    check_kind("", StatementKind::Other);
    check_kind("(SELECT 1)", StatementKind::Select);
}

#[test]
fn with_takes_the_kind_of_its_main_statement() {
    check_kind("WITH x AS (SELECT 1) SELECT * FROM x", StatementKind::Select);
    check_kind("WITH x AS (SELECT id FROM a) DELETE FROM b WHERE id IN (SELECT id FROM x)", StatementKind::Delete);
}

#[test]
fn writes_are_writes() {
    assert!(StatementKind::Insert.is_write());
    assert!(StatementKind::Ddl.is_write());
    assert!(!StatementKind::Select.is_write());
    assert!(!StatementKind::Other.is_write());
}

#[test]
fn reads_simple_from() {
    check_reads("SELECT * FROM users WHERE id = 1", &["users"]);
}

#[test]
fn reads_quoted_and_schema_qualified_names() {
    check_reads("SELECT `users`.`id` FROM `users`", &["users"]);
    check_reads("SELECT * FROM \"public\".\"Users\"", &["users"]);
    check_reads("SELECT * FROM public.orders", &["orders"]);
}

#[test]
fn reads_joins_and_comma_lists() {
    check_reads(
        "SELECT * FROM projects p INNER JOIN tasks AS t ON t.project_id = p.id LEFT JOIN users ON users.id = t.owner",
        &["projects", "tasks", "users"],
    );
    check_reads("SELECT * FROM a, b AS bb, c WHERE a.id = b.id", &["a", "b", "c"]);
}

#[test]
fn reads_subqueries_once() {
    check_reads("SELECT * FROM a WHERE id IN (SELECT a_id FROM b) AND x IN (SELECT 1 FROM a)", &["a", "b"]);
    check_reads("SELECT * FROM (SELECT * FROM inner_t) sub", &["inner_t"]);
}

#[test]
fn delete_target_is_not_a_read() {
    check_reads("DELETE FROM a WHERE id IN (SELECT id FROM b)", &["b"]);
}

#[test]
fn writes_of_each_verb() {
    check_writes("INSERT INTO `items` (`id`) VALUES (?) -- binds: [1]", &["items"]);
    check_writes("INSERT OR REPLACE INTO items VALUES (1)", &["items"]);
    check_writes("UPDATE \"items\" SET \"name\" = $1 WHERE \"items\".\"id\" = $2", &["items"]);
    check_writes("DELETE FROM public.items WHERE id = 1", &["items"]);
    check_writes("TRUNCATE TABLE a, b", &["a", "b"]);
    check_writes("DROP TABLE IF EXISTS old_items", &["old_items"]);
    check_writes("ALTER TABLE items ADD COLUMN x INT", &["items"]);
}

#[test]
fn upserts_write_only_their_target() {
    check_writes("INSERT INTO a (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET id = 2", &["a"]);
}

#[test]
fn select_for_update_writes_nothing() {
    check_writes("SELECT * FROM a FOR UPDATE", &[]);
}

#[test]
fn batches_write_every_statement() {
    check_writes("INSERT INTO a VALUES (1); UPDATE b SET x = 1; DELETE FROM c", &["a", "b", "c"]);
}

#[test]
fn reads_write_nothing() {
    check_writes("SELECT * FROM a JOIN b ON a.id = b.id", &[]);
}
