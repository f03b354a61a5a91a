//! `PerfConfig::from_lookup` and the builder.

use std::{collections::HashMap, time::Duration};

use perf_core::{CoreError, MetricsNaming, PerfConfig, Profile, Thresholds};

fn from(vars: &[(&str, &str)]) -> Result<PerfConfig, CoreError> {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    PerfConfig::from_lookup(|k| map.get(k).cloned())
}

fn check_invalid(name: &str, value: &str) {
    match from(&[(name, value)]) {
        Err(CoreError::InvalidEnv { name: n, value: v, .. }) => {
            assert_eq!(n, name);
            if !name.ends_with("_TOKEN") {
                assert_eq!(v, value);
            }
        }
        other => panic!("{name}={value:?} gave {other:?}"),
    }
}

#[test]
fn empty_environment_gives_the_development_defaults() {
    let c = from(&[]).unwrap();
    assert_eq!(c, PerfConfig::default());
    assert_eq!(c.thresholds, Thresholds::DEVELOPMENT);
    assert!(c.enabled && c.memory_monitoring && c.server_timing);
    assert_eq!(c.cache_default_timeout, Duration::from_secs(300));
}

#[test]
fn production_profile_selects_its_thresholds() {
    let c = from(&[("PERFORMANCE_PROFILE", "production")]).unwrap();
    assert_eq!(c.profile, Profile::Production);
    assert_eq!(c.thresholds, Thresholds::PRODUCTION);
}

#[test]
fn explicit_variables_win_over_the_profile() {
    let c = from(&[("PERFORMANCE_PROFILE", "production"), ("SLOW_QUERY_THRESHOLD", "0.2")]).unwrap();
    assert_eq!(c.thresholds.slow_query_threshold, 0.2);
    assert_eq!(c.thresholds.slow_request_threshold, 0.5);
}

#[test]
fn every_variable_is_read() {
    let c = from(&[
        ("PERFORMANCE_MONITORING_ENABLED", "false"),
        ("MEMORY_MONITORING_ENABLED", "0"),
        ("SLOW_REQUEST_THRESHOLD", "2"),
        ("SLOW_QUERY_THRESHOLD", "0.3"),
        ("HIGH_MEMORY_THRESHOLD", "1024"),
        ("ERROR_RATE_THRESHOLD", "1"),
        ("CACHE_DEFAULT_TIMEOUT", "60"),
        ("REDIS_URL", "redis://127.0.0.1:6379/0"),
        ("PERFORMANCE_API_TOKEN", "s3cret-token"),
        ("PERFORMANCE_READ_TOKEN", "read-only-token"),
        ("ALERT_EVALUATION_INTERVAL", "3"),
        ("SYSTEM_SAMPLE_INTERVAL", "7"),
        ("PERFORMANCE_SERVER_TIMING", "off"),
        ("PERFORMANCE_CAPTURE_BINDS", "true"),
    ])
    .unwrap();
    assert!(!c.enabled && !c.memory_monitoring && !c.server_timing);
    assert!(c.capture_binds);
    assert!(!perf_core::PerfConfig::default().capture_binds, "binds are cut by default");
    assert_eq!(
        c.thresholds,
        Thresholds {
            slow_request_threshold: 2.0,
            slow_query_threshold: 0.3,
            high_memory_threshold: 1024.0,
            error_rate_threshold: 1.0
        }
    );
    assert_eq!(c.cache_default_timeout, Duration::from_secs(60));
    assert_eq!(c.redis_url.as_deref(), Some("redis://127.0.0.1:6379/0"));
    assert_eq!(c.api_token.as_deref(), Some("s3cret-token"));
    assert_eq!(c.read_token.as_deref(), Some("read-only-token"));
    assert_eq!(c.alert_evaluation_interval, Duration::from_secs(3));
    assert_eq!(c.system_sample_interval, Duration::from_secs(7));
}

#[test]
fn bad_booleans_are_errors() {
    check_invalid("PERFORMANCE_MONITORING_ENABLED", "maybe");
    check_invalid("MEMORY_MONITORING_ENABLED", "");
}

#[test]
fn bad_thresholds_are_errors() {
    check_invalid("SLOW_REQUEST_THRESHOLD", "fast");
    check_invalid("SLOW_REQUEST_THRESHOLD", "-1");
    check_invalid("SLOW_QUERY_THRESHOLD", "0");
    check_invalid("SLOW_QUERY_THRESHOLD", "NaN");
    check_invalid("HIGH_MEMORY_THRESHOLD", "inf");
    check_invalid("ERROR_RATE_THRESHOLD", "1.5");
    check_invalid("ERROR_RATE_THRESHOLD", "0");
}

#[test]
fn bad_other_values_are_errors() {
    check_invalid("PERFORMANCE_PROFILE", "staging");
    check_invalid("CACHE_DEFAULT_TIMEOUT", "5m");
    check_invalid("CACHE_DEFAULT_TIMEOUT", "0");
    check_invalid("ALERT_EVALUATION_INTERVAL", "-3");
    check_invalid("REDIS_URL", "localhost:6379");
    check_invalid("PERFORMANCE_API_TOKEN", "short");
    check_invalid("PERFORMANCE_READ_TOKEN", "short");
    check_invalid("PERFORMANCE_READ_TOKEN", "has a space");
}

#[test]
fn read_token_is_parsed_like_the_api_token_and_must_differ_from_it() {
    // Empty is unset, as for the API token.
    let c = from(&[("PERFORMANCE_READ_TOKEN", ""), ("PERFORMANCE_API_TOKEN", "")]).unwrap();
    assert_eq!((c.read_token, c.api_token), (None, None));
    let c = from(&[("PERFORMANCE_READ_TOKEN", "scrape-token")]).unwrap();
    assert_eq!((c.read_token.as_deref(), c.api_token), (Some("scrape-token"), None));
    // A read token equal to the API token would grant everything: refused,
    // without echoing the value.
    match from(&[("PERFORMANCE_READ_TOKEN", "same-token"), ("PERFORMANCE_API_TOKEN", "same-token")]) {
        Err(CoreError::InvalidEnv { name, value, .. }) => {
            assert_eq!(name, "PERFORMANCE_READ_TOKEN");
            assert!(!value.contains("same-token"), "{value}");
        }
        other => panic!("equal tokens gave {other:?}"),
    }
    let built = PerfConfig::builder().api_token("admin-token").read_token("scrape-token").build().unwrap();
    assert_eq!(built.read_token.as_deref(), Some("scrape-token"));
    assert!(PerfConfig::builder().api_token("same-token").read_token("same-token").build().is_err());
}

#[test]
fn error_messages_name_the_variable_and_value() {
    let e = from(&[("SLOW_QUERY_THRESHOLD", "abc")]).unwrap_err().to_string();
    assert!(e.contains("SLOW_QUERY_THRESHOLD") && e.contains("abc"), "{e}");
}

#[test]
fn builder_validates() {
    assert!(PerfConfig::builder().error_rate_threshold(0.0).build().is_err());
    assert!(PerfConfig::builder().slow_request_threshold(f64::NAN).build().is_err());
    let c = PerfConfig::builder().profile(Profile::Production).high_memory_threshold(300.0).build().unwrap();
    assert_eq!(c.thresholds.high_memory_threshold, 300.0);
    assert_eq!(c.thresholds.error_rate_threshold, 0.05);
}

#[test]
fn store_config_rejects_mismatched_resolutions() {
    let s = perf_core::StoreConfig { coarse_resolution: Duration::from_secs(45), ..Default::default() };
    assert!(s.validate().is_err());
    let s = perf_core::StoreConfig { fine_resolution: Duration::from_millis(1500), ..Default::default() };
    assert!(s.validate().is_err());
    assert!(perf_core::StoreConfig::default().validate().is_ok());
}

#[test]
fn a_bad_redis_url_is_reported_without_its_password() {
    let value = "http://default:hunter2@cache.internal:6379/0";
    let e = from(&[("REDIS_URL", value)]).unwrap_err();
    let CoreError::InvalidEnv { name, value: shown, .. } = &e else { panic!("{e:?}") };
    assert_eq!(*name, "REDIS_URL");
    assert_eq!(shown, "http://***@cache.internal:6379/0");
    for text in [e.to_string(), format!("{e:?}")] {
        assert!(text.contains("REDIS_URL") && text.contains("cache.internal"), "{text}");
        assert!(!text.contains("hunter2") && !text.contains("default:"), "{text}");
    }
}

#[test]
fn debug_of_a_config_shows_no_secret() {
    let token = "s3cret-token-value";
    let built = PerfConfig::builder()
        .api_token(token)
        .redis_url("redis://default:hunter2@cache.internal:6379/0")
        .build()
        .unwrap();
    let read = from(&[
        ("PERFORMANCE_API_TOKEN", token),
        ("PERFORMANCE_READ_TOKEN", "scrape-only-secret"),
        ("REDIS_URL", "rediss://:hunter2@cache.internal:6380"),
    ])
    .unwrap();
    assert!(!format!("{read:?}").contains("scrape-only-secret"));
    assert!(format!("{read:?}").contains(r#"read_token: Some("***")"#));
    assert_eq!(read.api_token.as_deref(), Some(token), "the value itself is kept");
    for config in [&built, &read] {
        let debug = format!("{config:?}");
        let pretty = format!("{config:#?}");
        for text in [&debug, &pretty] {
            assert!(!text.contains("hunter2"), "{text}");
            assert!(!text.contains(token), "{text}");
        }
        assert!(debug.contains(r#"api_token: Some("***")"#), "{debug}");
        assert!(debug.contains("cache.internal"), "{debug}");
    }
    assert!(format!("{built:?}").contains(r#"redis_url: Some("redis://***@cache.internal:6379/0")"#));
    let builder = format!("{:?}", PerfConfig::builder().api_token(token));
    assert!(!builder.contains(token), "{builder}");
    let none = format!("{:?}", PerfConfig::default());
    assert!(none.contains("api_token: None") && none.contains("redis_url: None"), "{none}");
}

#[test]
fn histogram_buckets_come_from_the_environment() {
    let c = from(&[("PERFORMANCE_HISTOGRAM_BUCKETS", "0.00025, 0.001,2.5")]).unwrap();
    assert_eq!(
        c.store.histogram_buckets,
        [Duration::from_micros(250), Duration::from_millis(1), Duration::from_millis(2_500)]
    );
    assert_eq!(PerfConfig::default().store.histogram_buckets.len(), perf_core::DEFAULT_HISTOGRAM_BUCKETS.len());
}

#[test]
fn bad_histogram_buckets_name_the_variable_and_value() {
    let too_many = (1..=33).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    for bad in ["", "0.1,abc", "0", "-1", "NaN", "inf", "0.5,0.25", "0.1,0.1", "7200", too_many.as_str()] {
        check_invalid("PERFORMANCE_HISTOGRAM_BUCKETS", bad);
    }
}

#[test]
fn builder_validates_histogram_buckets() {
    let ok = PerfConfig::builder().histogram_buckets([Duration::from_millis(1), Duration::from_secs(1)]).build();
    assert_eq!(ok.unwrap().store.histogram_buckets.len(), 2);
    for bad in [vec![], vec![Duration::from_secs(1), Duration::from_millis(1)], vec![Duration::ZERO]] {
        let err = PerfConfig::builder().histogram_buckets(bad.clone()).build();
        assert!(matches!(err, Err(CoreError::InvalidConfig(_))), "{bad:?} gave {err:?}");
    }
}

#[test]
fn metrics_naming_comes_from_the_environment() {
    let c =
        from(&[("PERFORMANCE_METRICS_NAMING", "actix-web-prom"), ("PERFORMANCE_METRICS_NAMESPACE", "api")]).unwrap();
    assert_eq!(c.metrics_naming, MetricsNaming::ActixWebProm { namespace: Some("api".into()) });
    let c = from(&[("PERFORMANCE_METRICS_NAMING", "actix-web-prom")]).unwrap();
    assert_eq!(c.metrics_naming, MetricsNaming::ActixWebProm { namespace: None });
    assert_eq!(from(&[]).unwrap().metrics_naming, MetricsNaming::Perfkit);
    check_invalid("PERFORMANCE_METRICS_NAMING", "prometheus");
    check_invalid("PERFORMANCE_METRICS_NAMESPACE", "9lives");
    assert!(MetricsNaming::actix_web_prom("my-app").is_err());
    let built =
        PerfConfig::builder().metrics_naming(MetricsNaming::ActixWebProm { namespace: Some("a b".into()) }).build();
    assert!(matches!(built, Err(CoreError::InvalidConfig(_))));
}

#[test]
fn query_plans_follow_the_profile_unless_set() {
    assert!(from(&[]).unwrap().query_plans(), "on in development");
    assert!(!from(&[("PERFORMANCE_PROFILE", "production")]).unwrap().query_plans(), "off in production");
    let on = from(&[("PERFORMANCE_PROFILE", "production"), ("PERFORMANCE_QUERY_PLANS", "true")]).unwrap();
    assert!(on.query_plans());
    assert!(!from(&[("PERFORMANCE_QUERY_PLANS", "false")]).unwrap().query_plans());
    check_invalid("PERFORMANCE_QUERY_PLANS", "sometimes");
    let built = PerfConfig::builder().query_plans(false).build().unwrap();
    assert!(!built.query_plans());
}
