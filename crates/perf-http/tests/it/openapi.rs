//! The OpenAPI document matches what the API answers: every documented
//! operation is called and its response validated against its schema.

use std::time::Duration;

use actix_web::{App, http::header, test};
use perf_core::{Clock as _, QuerySample, Recorder as _};
use serde_json::Value;

use crate::fakes::{parts, with_token};

const TOKEN: &str = "openapi-token";

/// Validation errors of `value` against `schema` (a small OpenAPI 3.0 subset:
/// $ref, allOf, type, nullable, enum, properties, required,
/// additionalProperties, items).
pub(crate) fn validate(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(all) = schema["allOf"].as_array() {
        // OpenAPI 3.0's nullable reference: `{"allOf": [{"$ref"}], "nullable": true}`.
        if value.is_null() {
            if !schema["nullable"].as_bool().unwrap_or(false) {
                errors.push(format!("{at}: null but not nullable"));
            }
            return;
        }
        for part in all {
            validate(doc, part, value, at, errors);
        }
        return;
    }
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        let target = &doc["components"]["schemas"][name];
        assert!(!target.is_null(), "dangling $ref {r}");
        return validate(doc, target, value, at, errors);
    }
    if value.is_null() {
        if !schema["nullable"].as_bool().unwrap_or(false) && schema.get("type").is_some() {
            errors.push(format!("{at}: null but not nullable"));
        }
        return;
    }
    let ok = match schema["type"].as_str() {
        None => true,
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("number") => value.is_number(),
        Some("integer") => value.is_u64() || value.is_i64(),
        Some("boolean") => value.is_boolean(),
        Some(other) => panic!("unknown type {other}"),
    };
    if !ok {
        errors.push(format!("{at}: expected {} got {value}", schema["type"]));
        return;
    }
    if let Some(options) = schema["enum"].as_array()
        && !options.contains(value)
    {
        errors.push(format!("{at}: {value} not in {options:?}"));
    }
    if let (Some(obj), Some(props)) = (value.as_object(), schema["properties"].as_object()) {
        for req in schema["required"].as_array().into_iter().flatten() {
            let k = req.as_str().unwrap();
            if !obj.contains_key(k) {
                errors.push(format!("{at}: missing {k}"));
            }
        }
        for (k, v) in obj {
            match props.get(k) {
                Some(s) => validate(doc, s, v, &format!("{at}.{k}"), errors),
                None if schema["additionalProperties"] == Value::Bool(false) => {
                    errors.push(format!("{at}: undocumented field {k}"));
                }
                None => {}
            }
        }
    }
    if let Some(items) = value.as_array() {
        for (i, v) in items.iter().enumerate() {
            validate(doc, &schema["items"], v, &format!("{at}[{i}]"), errors);
        }
    }
}

#[actix_web::test]
async fn every_documented_operation_answers_what_the_document_says() {
    let p = parts(with_token(TOKEN));
    let now = p.clock.now();
    crate::fakes::record_get(&p.store, "/a/{id}", 200, Duration::from_millis(1_500), now);
    p.store.record_query(&QuerySample {
        fingerprint: "SELECT ?",
        sql: "SELECT 1",
        duration: Duration::from_millis(300),
        ok: true,
        at: now,
        scope: Some("/a/{id}"),
        kind: perf_core::QueryKind::Read,
        slow: p.store.thresholds().query_is_slow(Duration::from_millis(300)),
        trace: None,
    });
    // A captured plan, so the documents that show one are checked with it.
    let node = perf_core::PlanNode {
        depth: 0,
        operation: "Seq Scan".into(),
        access: perf_core::PlanAccess::FullScan,
        relation: Some("a".into()),
        index: None,
        filtered: true,
    };
    let plan = perf_core::QueryPlan::new(perf_core::PlanBackend::Postgresql, vec![node], "[]".into());
    p.store.record_query_plan(&perf_core::QueryPlanSample { fingerprint: "SELECT ?", plan: &plan, at: now });
    let app = test::init_service(App::new().service(p.state.api())).await;
    let doc: Value = serde_json::from_str(include_str!("../../src/openapi.json")).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    let mut checked = 0;
    let mut errors = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let uri = format!("/api/performance{}", path.replace("{id}", "1"));
            let mut req = test::TestRequest::default()
                .method(method.to_uppercase().parse().unwrap())
                .uri(&uri)
                .insert_header((header::AUTHORIZATION, format!("Bearer {TOKEN}")));
            if method == "put" {
                req = req.set_payload(r#"{"error_rate_threshold": 0.2}"#);
            }
            let res = test::call_service(&app, req.to_request()).await;
            assert_eq!(res.status(), 200, "{method} {uri}");
            let body: Value = test::read_body_json(res).await;
            let schema = &op["responses"]["200"]["content"]["application/json"]["schema"];
            validate(&doc, schema, &body, &format!("{method} {path}"), &mut errors);
            // Documented error statuses use the error schema.
            for (code, r) in op["responses"].as_object().unwrap() {
                if code != "200" {
                    assert_eq!(r["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Error");
                }
            }
            checked += 1;
        }
    }
    for uri in ["/api/performance/timeseries?metric=system", "/api/performance/timeseries?metric=queries"] {
        let req = test::TestRequest::get()
            .uri(uri)
            .insert_header((header::AUTHORIZATION, format!("Bearer {TOKEN}")))
            .to_request();
        let body: Value = test::call_and_read_body_json(&app, req).await;
        validate(&doc, &doc["components"]["schemas"]["Timeseries"], &body, uri, &mut errors);
        let point = if uri.ends_with("system") { "GaugePoint" } else { "SeriesPoint" };
        for (i, pt) in body["points"].as_array().unwrap().iter().enumerate() {
            validate(&doc, &doc["components"]["schemas"][point], pt, &format!("{uri}[{i}]"), &mut errors);
        }
    }
    let res =
        test::call_service(&app, test::TestRequest::get().uri("/api/performance/metrics?minutes=0").to_request()).await;
    let body: Value = test::read_body_json(res).await;
    validate(&doc, &doc["components"]["schemas"]["Error"], &body, "error", &mut errors);
    let req = test::TestRequest::get()
        .uri("/api/performance/queries")
        .insert_header((header::AUTHORIZATION, format!("Bearer {TOKEN}")))
        .to_request();
    let body: Value = test::call_and_read_body_json(&app, req).await;
    assert_eq!(body["top_queries"][0]["plan"]["plan"]["nodes"][0]["access"], "full_scan", "{body}");
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(checked, 15, "every operation of the API is documented and checked");
}
