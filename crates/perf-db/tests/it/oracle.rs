//! `tables_written` against sqlparser as an oracle: cache invalidation
//! relies on it naming every table a statement writes, and no other.

use std::collections::BTreeSet;

use proptest::prelude::*;
use sqlparser::{
    ast::{FromTable, ObjectName, ObjectNamePart, ObjectType, SetExpr, Statement, TableFactor, TableObject},
    dialect::PostgreSqlDialect,
    parser::Parser,
};

/// The last part of a name, lowercased and unquoted, as `tables_written` reports it.
fn table(name: &ObjectName) -> String {
    match name.0.last() {
        Some(ObjectNamePart::Identifier(ident)) => ident.value.to_lowercase(),
        _ => String::new(),
    }
}

fn factor(f: &TableFactor, out: &mut BTreeSet<String>) {
    if let TableFactor::Table { name, .. } = f {
        out.insert(table(name));
    }
}

/// What sqlparser says `statement` writes.
fn written_by(statement: &Statement, out: &mut BTreeSet<String>) {
    match statement {
        Statement::Insert(insert) => {
            if let TableObject::TableName(name) = &insert.table {
                out.insert(table(name));
            }
        }
        Statement::Update(update) => factor(&update.table.relation, out),
        Statement::Delete(delete) => {
            let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &delete.from;
            for t in from {
                factor(&t.relation, out);
            }
        }
        Statement::Truncate(truncate) => {
            for t in &truncate.table_names {
                out.insert(table(&t.name));
            }
        }
        Statement::Drop { object_type: ObjectType::Table, names, .. } => {
            for n in names {
                out.insert(table(n));
            }
        }
        Statement::AlterTable(alter) => {
            out.insert(table(&alter.name));
        }
        Statement::Query(query) => {
            if let SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) = &*query.body {
                written_by(s, out);
            }
        }
        _ => {}
    }
}

fn oracle(sql: &str) -> BTreeSet<String> {
    let statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut out = BTreeSet::new();
    for s in &statements {
        written_by(s, &mut out);
    }
    out
}

fn name() -> impl Strategy<Value = String> {
    let base = prop::sample::select(vec!["plants", "projects", "site_tasks", "Orders", "delete_log", "insert_queue"]);
    (base, any::<bool>(), any::<bool>()).prop_map(|(b, schema, quoted)| {
        let t = if quoted { format!("\"{}\"", b.to_lowercase()) } else { b.to_owned() };
        if schema { format!("public.{t}") } else { t }
    })
}

/// A literal that looks like SQL but is data.
fn literal() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["'x'", "'delete from ghosts'", "'insert into ghosts'", "'update ghosts'", "42"])
        .prop_map(str::to_owned)
}

fn statement() -> impl Strategy<Value = String> {
    (name(), name(), literal(), 0usize..10).prop_map(|(t, r, lit, shape)| match shape {
        0 => format!("INSERT INTO {t} (a, b) VALUES (1, {lit})"),
        1 => format!("INSERT INTO {t} (a, b) VALUES (1, {lit}) ON CONFLICT (a) DO UPDATE SET b = {lit}"),
        2 => format!("INSERT INTO {t} (a) SELECT a FROM {r} WHERE b = {lit}"),
        3 => format!("UPDATE {t} SET a = {lit} WHERE b IN (SELECT b FROM {r})"),
        4 => format!("DELETE FROM {t} WHERE a = (SELECT max(a) FROM {r} WHERE c = {lit})"),
        5 => format!("TRUNCATE TABLE {t}"),
        6 => format!("DROP TABLE IF EXISTS {t}"),
        7 => format!("ALTER TABLE {t} ADD COLUMN c INT"),
        8 => format!("SELECT a FROM {t} JOIN {r} ON {t}.a = {r}.a WHERE b = {lit} FOR UPDATE"),
        _ => format!("WITH x AS (SELECT a FROM {r}) INSERT INTO {t} (a) SELECT a FROM x"),
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn tables_written_agrees_with_sqlparser(batch in prop::collection::vec(statement(), 1..4)) {
        let sql = batch.join("; ");
        let ours: BTreeSet<String> = perf_db::tables_written(&sql).into_iter().collect();
        prop_assert_eq!(ours, oracle(&sql), "{}", sql);
    }
}

#[test]
fn the_oracle_names_targets_not_sources() {
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(oracle("UPDATE public.\"plants\" SET a = 1 WHERE b IN (SELECT b FROM tasks)"), set(&["plants"]));
    assert_eq!(oracle("INSERT INTO a (x) SELECT x FROM b; DELETE FROM c"), set(&["a", "c"]));
    assert!(oracle("SELECT 'delete from ghosts' FROM plants FOR UPDATE").is_empty());
}
