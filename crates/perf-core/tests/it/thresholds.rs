//! Threshold validation and the shared run-time store.

use std::sync::Arc;

use perf_core::{CoreError, SharedThresholds, ThresholdStore, Thresholds, ThresholdsPatch, Window};

fn check_rejected(patch: ThresholdsPatch, field: &str) {
    let shared = SharedThresholds::default();
    match shared.update_thresholds(&patch) {
        Err(CoreError::InvalidThreshold { name, .. }) => assert_eq!(name, field),
        other => panic!("{patch:?} gave {other:?}"),
    }
    assert_eq!(shared.thresholds(), Thresholds::DEVELOPMENT, "state unchanged");
}

#[test]
fn bad_values_are_rejected_and_leave_state_unchanged() {
    let p = ThresholdsPatch::default;
    check_rejected(ThresholdsPatch { slow_request_threshold: Some(-1.0), ..p() }, "slow_request_threshold");
    check_rejected(ThresholdsPatch { slow_request_threshold: Some(0.0), ..p() }, "slow_request_threshold");
    check_rejected(ThresholdsPatch { slow_query_threshold: Some(f64::NAN), ..p() }, "slow_query_threshold");
    check_rejected(ThresholdsPatch { slow_query_threshold: Some(1e9), ..p() }, "slow_query_threshold");
    check_rejected(ThresholdsPatch { high_memory_threshold: Some(f64::INFINITY), ..p() }, "high_memory_threshold");
    check_rejected(ThresholdsPatch { error_rate_threshold: Some(1.01), ..p() }, "error_rate_threshold");
    check_rejected(ThresholdsPatch { error_rate_threshold: Some(0.0), ..p() }, "error_rate_threshold");
    check_rejected(
        ThresholdsPatch { slow_request_threshold: Some(2.0), error_rate_threshold: Some(2.0), ..p() },
        "error_rate_threshold",
    );
}

#[test]
fn a_partial_update_keeps_the_other_fields() {
    let shared: Arc<dyn ThresholdStore> = Arc::new(SharedThresholds::default());
    let next = shared.update_thresholds(&ThresholdsPatch { slow_query_threshold: Some(0.02), ..Default::default() });
    let next = next.unwrap();
    assert_eq!(next.slow_query_threshold, 0.02);
    assert_eq!(next.slow_request_threshold, 1.0);
    assert_eq!(shared.thresholds(), next);
    assert_eq!(shared.set_thresholds(Thresholds::PRODUCTION).unwrap(), Thresholds::PRODUCTION);
}

#[test]
fn error_rate_of_exactly_one_is_allowed() {
    let t = Thresholds { error_rate_threshold: 1.0, ..Thresholds::DEVELOPMENT };
    assert!(t.validate().is_ok());
}

#[test]
fn patches_refuse_unknown_fields() {
    let e = serde_json::from_str::<ThresholdsPatch>(r#"{"slow_request_threshold": 1, "bogus": 2}"#);
    assert!(e.is_err());
    let ok: ThresholdsPatch = serde_json::from_str(r#"{"error_rate_threshold": 0.2}"#).unwrap();
    assert_eq!(ok.error_rate_threshold, Some(0.2));
}

#[test]
fn windows_are_one_to_1440_minutes() {
    for bad in [-5, 0, 1441, i64::MAX] {
        assert_eq!(Window::minutes(bad), Err(CoreError::InvalidWindow(bad)));
    }
    assert_eq!(Window::minutes(1440).unwrap().as_minutes(), 1440);
    assert!(serde_json::from_str::<Window>("0").is_err());
    assert_eq!(serde_json::from_str::<Window>("15").unwrap().as_minutes(), 15);
}

#[test]
fn windows_parse_from_query_text() {
    assert_eq!("60".parse::<Window>(), Ok(Window::ONE_HOUR));
    assert_eq!("1440".parse::<Window>().unwrap().as_minutes(), 1440);
    assert_eq!("0".parse::<Window>(), Err(CoreError::InvalidWindow(0)));
    assert_eq!("99999999999999999999".parse::<Window>(), Err(CoreError::WindowNotANumber));
    for bad in ["", " 5", "5 ", "1.5", "five", "+"] {
        assert_eq!(bad.parse::<Window>(), Err(CoreError::WindowNotANumber), "{bad:?}");
    }
}
