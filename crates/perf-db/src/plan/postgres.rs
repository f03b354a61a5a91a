//! PostgreSQL plans: the generic plan of the statement, prepared under a
//! name of the capture's own and explained with every parameter `NULL`
//! (`plan_cache_mode = force_generic_plan`, so no value shapes the plan).
//!
//! Every statement goes through the extended protocol (diesel's
//! `sql_query`), which refuses more than one command, so the statement's
//! text can never run a second one.

use diesel::{
    QueryableByName, RunQueryDsl, pg::PgConnection, result::Error as DieselError, sql_query, sql_types::Text,
};
use perf_core::{PlanAccess, PlanBackend, PlanNode, QueryPlan};
use serde_json::Value;

use super::{Explain, PlanShape, timeout_ms};

/// The name the statement is prepared under, released after each plan.
const STATEMENT: &str = "perfkit_plan";

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    plan: String,
}

impl Explain for PgConnection {
    fn prepare_session(&mut self) -> Result<(), DieselError> {
        sql_query("SET plan_cache_mode = force_generic_plan").execute(self)?;
        sql_query(format!("SET statement_timeout = {}", timeout_ms())).execute(self)?;
        Ok(())
    }

    fn explain(&mut self, sql: &str, shape: &PlanShape) -> Result<QueryPlan, DieselError> {
        let sql = sql.trim_end().trim_end_matches(';');
        sql_query(format!("PREPARE {STATEMENT} AS {sql}")).execute(self)?;
        let args = vec!["NULL"; usize::from(shape.params)].join(", ");
        let explain = if shape.params == 0 {
            format!("EXPLAIN (FORMAT JSON) EXECUTE {STATEMENT}")
        } else {
            format!("EXPLAIN (FORMAT JSON) EXECUTE {STATEMENT}({args})")
        };
        let rows = sql_query(explain).load::<Row>(self);
        let released = sql_query(format!("DEALLOCATE {STATEMENT}")).execute(self);
        let rows = rows?;
        released?;
        let text = rows.into_iter().map(|r| r.plan).collect::<Vec<_>>().join("\n");
        Ok(plan_of(text))
    }
}

/// Reads PostgreSQL's JSON plan (`[{"Plan": {...}}]`) into plan nodes; a
/// text that is not such JSON keeps no nodes but is kept as it is.
fn plan_of(text: String) -> QueryPlan {
    let mut nodes = Vec::new();
    if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(&text) {
        for item in &items {
            if let Some(plan) = item.get("Plan") {
                walk(plan, 0, &mut nodes);
            }
        }
    }
    QueryPlan::new(PlanBackend::Postgresql, nodes, text)
}

fn walk(node: &Value, depth: u8, out: &mut Vec<PlanNode>) {
    if out.len() > perf_core::MAX_PLAN_NODES {
        return;
    }
    let text = |key: &str| node.get(key).and_then(Value::as_str).map(str::to_owned);
    let operation = text("Node Type").unwrap_or_default();
    let access = match operation.as_str() {
        "Seq Scan" => PlanAccess::FullScan,
        "Index Scan" | "Index Only Scan" | "Bitmap Index Scan" | "Bitmap Heap Scan" => PlanAccess::IndexScan,
        _ => PlanAccess::Other,
    };
    out.push(PlanNode {
        depth,
        operation,
        access,
        relation: text("Relation Name"),
        index: text("Index Name"),
        filtered: node.get("Filter").is_some(),
    });
    if let Some(Value::Array(children)) = node.get("Plans") {
        for child in children {
            walk(child, depth.saturating_add(1), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_plan_is_read_into_nodes_in_plan_order() {
        let text = r#"[{"Plan": {"Node Type": "Nested Loop", "Plans": [
            {"Node Type": "Seq Scan", "Relation Name": "plants", "Filter": "(name = $1)"},
            {"Node Type": "Index Scan", "Relation Name": "zones", "Index Name": "zones_pkey"}]}}]"#;
        let plan = plan_of(text.to_owned());
        let seen: Vec<_> = plan.nodes.iter().map(|n| (n.depth, n.operation.as_str(), n.access, n.filtered)).collect();
        assert_eq!(
            seen,
            [
                (0, "Nested Loop", PlanAccess::Other, false),
                (1, "Seq Scan", PlanAccess::FullScan, true),
                (1, "Index Scan", PlanAccess::IndexScan, false),
            ]
        );
        assert_eq!(plan.nodes[2].index.as_deref(), Some("zones_pkey"));
        assert_eq!(plan.filtered_full_scans(), ["plants"]);
        assert_eq!(plan.text, text);
    }

    #[test]
    fn text_that_is_not_a_json_plan_keeps_no_nodes() {
        let plan = plan_of("Seq Scan on plants".to_owned());
        assert!(plan.nodes.is_empty());
        assert_eq!(plan.text, "Seq Scan on plants");
    }
}
