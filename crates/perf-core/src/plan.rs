//! Query plans: how the database said it would run a slow statement,
//! reduced to the nodes every backend has (what it does, to which table,
//! through which index, under a filter or not) beside the backend's own text.
//!
//! A plan is the database's answer for the statement's *shape*: perf-db
//! asks for it without bind values (PostgreSQL's generic plan, SQLite's
//! `EXPLAIN QUERY PLAN` with unbound parameters), so no value a user sent
//! is ever part of a plan.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// The most nodes a plan keeps; deeper plans are cut, and say so.
pub const MAX_PLAN_NODES: usize = 32;

/// The longest plan text kept, bytes; longer texts are cut at a character
/// boundary, and say so.
pub const MAX_PLAN_TEXT: usize = 8 * 1024;

/// The longest name a node keeps (operation, table, index), bytes.
pub const MAX_PLAN_NAME: usize = 64;

/// The database a plan came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanBackend {
    /// PostgreSQL: `EXPLAIN (FORMAT JSON)` of the generic plan.
    Postgresql,
    /// SQLite: `EXPLAIN QUERY PLAN`.
    Sqlite,
}

/// What a plan node does, in the terms both backends share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanAccess {
    /// Reads every row of a table (PostgreSQL `Seq Scan`, SQLite `SCAN t`
    /// without an index).
    FullScan,
    /// Reads rows through an index (index, index-only and bitmap scans;
    /// SQLite `SEARCH` or `SCAN t USING INDEX`).
    IndexScan,
    /// Anything else: joins, sorts, aggregates, temporary B-trees, ...
    Other,
}

/// One node of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanNode {
    /// Nesting depth, 0 for the root.
    pub depth: u8,
    /// The backend's name for the node (`Seq Scan`, `Index Scan`,
    /// `SEARCH`, `USE TEMP B-TREE FOR ORDER BY`, ...).
    pub operation: String,
    /// What it does, in shared terms.
    pub access: PlanAccess,
    /// The table it reads, when it reads one.
    pub relation: Option<String>,
    /// The index it reads through, when it names one.
    pub index: Option<String>,
    /// Whether rows are filtered at this node by a condition the plan shows
    /// (PostgreSQL's `Filter`). SQLite's plans do not say; for them this is
    /// whether the statement has a `WHERE` clause.
    pub filtered: bool,
}

/// A captured plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryPlan {
    /// Where it came from.
    pub backend: PlanBackend,
    /// Its nodes in plan order (a parent before its children), at most
    /// [`MAX_PLAN_NODES`].
    pub nodes: Vec<PlanNode>,
    /// The backend's own text: PostgreSQL's JSON, SQLite's plan lines
    /// indented by depth; at most [`MAX_PLAN_TEXT`] bytes.
    pub text: String,
    /// Whether nodes or text were cut to their bounds.
    pub truncated: bool,
}

impl QueryPlan {
    /// A plan from its parts, held to [`MAX_PLAN_NODES`] and [`MAX_PLAN_TEXT`].
    pub fn new(backend: PlanBackend, mut nodes: Vec<PlanNode>, mut text: String) -> Self {
        let mut truncated = false;
        if nodes.len() > MAX_PLAN_NODES {
            nodes.truncate(MAX_PLAN_NODES);
            truncated = true;
        }
        for node in &mut nodes {
            truncated |= cut(&mut node.operation, MAX_PLAN_NAME);
            for name in [&mut node.relation, &mut node.index].into_iter().flatten() {
                truncated |= cut(name, MAX_PLAN_NAME);
            }
        }
        truncated |= cut(&mut text, MAX_PLAN_TEXT);
        QueryPlan { backend, nodes, text, truncated }
    }

    /// The tables read in full under a filter: the plan's evidence for a
    /// missing index, in plan order, each once.
    pub fn filtered_full_scans(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for node in &self.nodes {
            if let (PlanAccess::FullScan, true, Some(table)) = (node.access, node.filtered, node.relation.as_deref())
                && !out.contains(&table)
            {
                out.push(table);
            }
        }
        out
    }

    /// Bytes this plan holds, for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity()
            + self.nodes.capacity() * std::mem::size_of::<PlanNode>()
            + self
                .nodes
                .iter()
                .map(|n| {
                    n.operation.capacity()
                        + n.relation.as_ref().map_or(0, String::capacity)
                        + n.index.as_ref().map_or(0, String::capacity)
                })
                .sum::<usize>()
    }
}

/// Cuts `s` to at most `max` bytes at a character boundary; whether it cut.
fn cut(s: &mut String, max: usize) -> bool {
    let end = crate::text::truncated(s, max).len();
    let cut = end < s.len();
    s.truncate(end);
    cut
}

/// The latest plan captured for a fingerprint, as a snapshot shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapturedPlan {
    /// The fingerprint explained.
    pub fingerprint: String,
    /// Its stable id ([`query_id`](crate::query_id)).
    pub query_id: String,
    /// When the plan was captured.
    pub captured_at: chrono::DateTime<chrono::Utc>,
    /// The plan.
    pub plan: QueryPlan,
}

/// A plan captured for one query fingerprint, handed to a
/// [`Recorder`](crate::Recorder).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueryPlanSample<'a> {
    /// The fingerprint of the statement explained.
    pub fingerprint: &'a str,
    /// The plan.
    pub plan: &'a QueryPlan,
    /// When it was captured.
    pub at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(access: PlanAccess, table: &str, filtered: bool) -> PlanNode {
        PlanNode { depth: 0, operation: "x".into(), access, relation: Some(table.into()), index: None, filtered }
    }

    #[test]
    fn a_plan_is_held_to_its_bounds_and_says_it_was_cut() {
        let mut nodes = vec![node(PlanAccess::Other, "t", false); MAX_PLAN_NODES + 3];
        nodes[0].relation = Some("r".repeat(MAX_PLAN_NAME + 10));
        let text = "é".repeat(MAX_PLAN_TEXT);
        let plan = QueryPlan::new(PlanBackend::Sqlite, nodes, text);
        assert_eq!(plan.nodes.len(), MAX_PLAN_NODES);
        assert_eq!(plan.nodes[0].relation.as_deref().map(str::len), Some(MAX_PLAN_NAME));
        assert!(plan.text.len() <= MAX_PLAN_TEXT && plan.text.len() > MAX_PLAN_TEXT - 2);
        assert!(plan.truncated);
        let small = QueryPlan::new(PlanBackend::Sqlite, vec![], "SCAN t".into());
        assert!(!small.truncated);
    }

    #[test]
    fn filtered_full_scans_name_each_table_once() {
        let plan = QueryPlan::new(
            PlanBackend::Postgresql,
            vec![
                node(PlanAccess::FullScan, "plants", true),
                node(PlanAccess::FullScan, "zones", false),
                node(PlanAccess::IndexScan, "gardens", true),
                node(PlanAccess::FullScan, "plants", true),
            ],
            String::new(),
        );
        assert_eq!(plan.filtered_full_scans(), ["plants"]);
    }
}
