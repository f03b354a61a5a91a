//! Tests of the sample types: the endpoint label.

use super::*;

#[test]
fn an_endpoint_key_displays_as_method_space_route() {
    assert_eq!(EndpointKey::new(Method::Get, Some("/api/projects/{id}")).to_string(), "GET /api/projects/{id}");
    assert_eq!(EndpointKey::new(Method::Post, None).to_string(), "POST <unmatched>");
    assert_eq!(EndpointKey::new(Method::Other, Some(OVERFLOW_ROUTE)).to_string(), "* <overflow>");
}

#[test]
fn scope_labels_keep_their_json_name() {
    use chrono::TimeZone;
    let at = chrono::Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    let slow = crate::SlowQuery {
        timestamp: at,
        fingerprint: "SELECT ?".into(),
        sql: "SELECT 1".into(),
        duration: 0.5,
        ok: true,
        scope: Some("GET /x".into()),
        kind: QueryKind::Read,
        trace_id: None,
    };
    let totals = crate::NPlusOneTotals { scope: "GET /x".into(), findings: 2 };
    for json in [serde_json::to_value(&slow).unwrap(), serde_json::to_value(&totals).unwrap()] {
        assert_eq!(json["route"], "GET /x", "{json}");
        assert!(json.get("scope").is_none(), "{json}");
    }
}
