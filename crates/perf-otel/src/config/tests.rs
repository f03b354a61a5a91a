//! Reading the `OTEL_*` variables.

use std::time::Duration;

use super::*;

fn parse(vars: &[(&str, &str)]) -> Result<OtelConfig, OtelError> {
    OtelConfig::from_lookup(|name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned()))
}

fn check_endpoint(vars: &[(&str, &str)], expected: Option<&str>) {
    let c = parse(vars).unwrap();
    assert_eq!(c.endpoint.as_deref(), expected, "{vars:?}");
}

#[test]
fn the_base_endpoint_gets_the_metrics_path() {
    check_endpoint(
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")],
        Some("http://collector:4318/v1/metrics"),
    );
    check_endpoint(
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")],
        Some("http://collector:4318/v1/metrics"),
    );
    check_endpoint(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c/otlp")], Some("http://c/otlp/v1/metrics"));
}

#[test]
fn the_metrics_endpoint_is_used_as_given_and_wins() {
    check_endpoint(&[("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://c:4318/custom")], Some("http://c:4318/custom"));
    check_endpoint(
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"), ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://b:1/m")],
        Some("http://b:1/m"),
    );
}

#[test]
fn without_an_endpoint_the_exporter_is_off() {
    let c = parse(&[]).unwrap();
    assert_eq!(c.endpoint, None);
    assert!(!c.is_enabled());
    check_endpoint(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "  ")], None);
}

#[test]
fn sdk_disabled_turns_export_off_only_when_true() {
    let on = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")];
    assert!(parse(&on).unwrap().is_enabled());
    for (value, enabled) in [("true", false), ("TRUE", false), ("false", true), ("yes", true), ("", true)] {
        let c = parse(&[on[0], ("OTEL_SDK_DISABLED", value)]).unwrap();
        assert_eq!(c.is_enabled(), enabled, "OTEL_SDK_DISABLED={value}");
    }
}

#[test]
fn only_http_protobuf_is_accepted() {
    assert!(parse(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]).is_ok());
    for name in ["OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"] {
        for value in ["grpc", "http/json"] {
            let e = parse(&[(name, value)]).unwrap_err();
            assert!(matches!(&e, OtelError::UnsupportedProtocol(v) if v == value), "{name}={value}: {e:?}");
        }
    }
}

#[test]
fn https_and_other_schemes_are_refused_with_the_password_redacted() {
    let e = parse(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://user:hunter2@c:4318")]).unwrap_err();
    assert!(matches!(e, OtelError::UnsupportedEndpoint(_)), "{e:?}");
    assert!(!e.to_string().contains("hunter2"), "{e}");
    for bad in ["ftp://c", "collector:4318", "http://", "http://:4318/x", "http://c/a b"] {
        let e = parse(&[("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", bad)]).unwrap_err();
        assert!(
            matches!(e, OtelError::InvalidVariable { name: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", .. }),
            "{bad}: {e:?}"
        );
    }
}

#[test]
fn headers_are_percent_decoded_and_the_metrics_ones_override() {
    let c = parse(&[
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=abc%3D%3D, x-team = shop"),
        ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "X-Team=metrics"),
    ])
    .unwrap();
    assert_eq!(c.headers, [("api-key".to_owned(), "abc==".to_owned()), ("X-Team".to_owned(), "metrics".to_owned())]);
}

#[test]
fn a_malformed_header_is_an_error_that_hides_the_value() {
    for bad in ["api-key", "=v", "bad key=secret1", "k=%zz", "k=%4"] {
        let e = parse(&[("OTEL_EXPORTER_OTLP_HEADERS", bad)]).unwrap_err();
        assert!(matches!(e, OtelError::InvalidVariable { name: "OTEL_EXPORTER_OTLP_HEADERS", .. }), "{bad}: {e:?}");
        assert!(!e.to_string().contains("secret1"), "{e}");
    }
}

#[test]
fn debug_shows_no_header_value_and_no_url_password() {
    let c = parse(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://u:pw-secret@c:4318"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20tok-secret"),
    ])
    .unwrap();
    let debug = format!("{c:?}");
    assert!(!debug.contains("pw-secret") && !debug.contains("tok-secret"), "{debug}");
    assert!(debug.contains("authorization: ***"), "{debug}");
}

#[test]
fn timeouts_and_interval_are_milliseconds() {
    let c = parse(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"), ("OTEL_METRIC_EXPORT_INTERVAL", "15000")]).unwrap();
    assert_eq!((c.timeout, c.interval), (Duration::from_millis(2500), Duration::from_secs(15)));
    let c = parse(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"), ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "700")]).unwrap();
    assert_eq!(c.timeout, Duration::from_millis(700));
    assert_eq!(parse(&[("OTEL_METRIC_EXPORT_INTERVAL", "86400000")]).unwrap().interval, MAX_DURATION);
    let d = OtelConfig::default();
    assert_eq!((d.timeout, d.interval), (Duration::from_secs(10), Duration::from_secs(60)));
    for (name, bad) in [
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "0"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "1.5s"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "-3"),
    ] {
        let e = parse(&[(name, bad)]).unwrap_err();
        assert!(matches!(&e, OtelError::InvalidVariable { name: n, .. } if *n == name), "{name}={bad}: {e:?}");
    }
}

#[test]
fn service_name_comes_from_its_variable_over_the_resource_attributes() {
    let c = parse(&[("OTEL_RESOURCE_ATTRIBUTES", "service.name=a,deployment.environment.name=prod%20eu")]).unwrap();
    assert_eq!(c.service_name(), "a");
    assert!(c.resource.contains(&("deployment.environment.name".to_owned(), "prod eu".to_owned())));
    let c = parse(&[("OTEL_RESOURCE_ATTRIBUTES", "service.name=a"), ("OTEL_SERVICE_NAME", "b")]).unwrap();
    assert_eq!(c.service_name(), "b");
    assert_eq!(c.resource.iter().filter(|(k, _)| k == "service.name").count(), 1);
    assert!(parse(&[]).unwrap().service_name().starts_with("unknown_service"));
    let e = parse(&[("OTEL_RESOURCE_ATTRIBUTES", "novalue")]).unwrap_err();
    assert!(matches!(e, OtelError::InvalidVariable { name: "OTEL_RESOURCE_ATTRIBUTES", .. }), "{e:?}");
}
