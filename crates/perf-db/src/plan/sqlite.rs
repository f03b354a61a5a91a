//! SQLite plans: `EXPLAIN QUERY PLAN` with the statement's parameters unbound.

use std::{collections::HashMap, fmt::Write as _};

use diesel::{
    QueryableByName, RunQueryDsl,
    connection::SimpleConnection,
    result::Error as DieselError,
    sql_query,
    sql_types::{Integer, Text},
    sqlite::SqliteConnection,
};
use perf_core::{PlanAccess, PlanBackend, PlanNode, QueryPlan};

use super::{Explain, PlanShape, timeout_ms};

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Integer)]
    id: i32,
    #[diesel(sql_type = Integer)]
    parent: i32,
    #[diesel(sql_type = Text)]
    detail: String,
}

impl Explain for SqliteConnection {
    fn prepare_session(&mut self) -> Result<(), DieselError> {
        self.batch_execute(&format!("PRAGMA busy_timeout = {}", timeout_ms()))
    }

    fn explain(&mut self, sql: &str, shape: &PlanShape) -> Result<QueryPlan, DieselError> {
        let rows: Vec<Row> = sql_query(format!("EXPLAIN QUERY PLAN {sql}")).load(self)?;
        Ok(plan_of(&rows, shape))
    }
}

fn plan_of(rows: &[Row], shape: &PlanShape) -> QueryPlan {
    let mut depth_of: HashMap<i32, u8> = HashMap::new();
    let mut nodes = Vec::with_capacity(rows.len());
    let mut text = String::new();
    for row in rows {
        let depth = if row.parent == 0 { 0 } else { depth_of.get(&row.parent).map_or(0, |d| d.saturating_add(1)) };
        depth_of.insert(row.id, depth);
        let _ = writeln!(text, "{:indent$}{}", "", row.detail, indent = usize::from(depth) * 2);
        nodes.push(node_of(&row.detail, depth, shape.filtered));
    }
    QueryPlan::new(PlanBackend::Sqlite, nodes, text)
}

/// One `EXPLAIN QUERY PLAN` line: `SCAN t`, `SCAN t USING COVERING INDEX i`,
/// `SEARCH t USING INDEX i (a=?)`, `SEARCH t USING INTEGER PRIMARY KEY (rowid=?)`
/// (older versions write `SCAN TABLE t`), or anything else (`USE TEMP B-TREE
/// FOR ORDER BY`, `SCAN CONSTANT ROW`, subqueries, ...).
fn node_of(detail: &str, depth: u8, statement_filtered: bool) -> PlanNode {
    let mut words = detail.split_ascii_whitespace();
    let operation = words.next().unwrap_or_default();
    let other = || PlanNode {
        depth,
        operation: detail.to_owned(),
        access: PlanAccess::Other,
        relation: None,
        index: None,
        filtered: false,
    };
    if operation != "SCAN" && operation != "SEARCH" {
        return other();
    }
    let mut relation = words.next();
    if relation == Some("TABLE") {
        relation = words.next();
    }
    let Some(relation) = relation.filter(|r| *r != "CONSTANT" && *r != "SUBQUERY") else {
        return other();
    };
    let rest: Vec<&str> = words.collect();
    let index = match rest.as_slice() {
        ["USING", "INDEX", name, ..] | ["USING", "COVERING", "INDEX", name, ..] => Some((*name).to_owned()),
        ["USING", "INTEGER", "PRIMARY", "KEY", ..] | ["USING", "PRIMARY", "KEY", ..] => Some("PRIMARY KEY".to_owned()),
        _ => None,
    };
    let access = if operation == "SEARCH" || index.is_some() { PlanAccess::IndexScan } else { PlanAccess::FullScan };
    PlanNode {
        depth,
        operation: operation.to_owned(),
        access,
        relation: Some(relation.to_owned()),
        index,
        filtered: access == PlanAccess::FullScan && statement_filtered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_lines_are_read_into_shared_terms() {
        let scan = node_of("SCAN plants", 0, true);
        assert_eq!(
            (scan.access, scan.relation.as_deref(), scan.filtered),
            (PlanAccess::FullScan, Some("plants"), true)
        );
        let old = node_of("SCAN TABLE plants", 1, false);
        assert_eq!((old.access, old.relation.as_deref(), old.filtered), (PlanAccess::FullScan, Some("plants"), false));
        let search = node_of("SEARCH plants USING INDEX plants_by_name (name=?)", 0, true);
        assert_eq!(
            (search.access, search.index.as_deref(), search.filtered),
            (PlanAccess::IndexScan, Some("plants_by_name"), false)
        );
        let pk = node_of("SEARCH plants USING INTEGER PRIMARY KEY (rowid=?)", 0, true);
        assert_eq!(pk.index.as_deref(), Some("PRIMARY KEY"));
        let covering = node_of("SCAN plants USING COVERING INDEX plants_by_zone", 0, true);
        assert_eq!(covering.access, PlanAccess::IndexScan);
        let sort = node_of("USE TEMP B-TREE FOR ORDER BY", 1, true);
        assert_eq!((sort.access, sort.operation.as_str()), (PlanAccess::Other, "USE TEMP B-TREE FOR ORDER BY"));
        assert_eq!(node_of("SCAN CONSTANT ROW", 0, false).access, PlanAccess::Other);
        assert_eq!(node_of("", 0, false).access, PlanAccess::Other);
    }
}
