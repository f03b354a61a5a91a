//! Tests of the sample types: the endpoint label.

use super::*;

#[test]
fn an_endpoint_key_displays_as_method_space_route() {
    assert_eq!(EndpointKey::new(Method::Get, Some("/api/projects/{id}")).to_string(), "GET /api/projects/{id}");
    assert_eq!(EndpointKey::new(Method::Post, None).to_string(), "POST <unmatched>");
    assert_eq!(EndpointKey::new(Method::Other, Some(OVERFLOW_ROUTE)).to_string(), "* <overflow>");
}
