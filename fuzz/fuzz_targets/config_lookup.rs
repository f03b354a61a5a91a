//! Fuzzes `PerfConfig::from_lookup` with arbitrary variables: known names
//! (and a few unknown ones) holding values drawn from a dictionary of
//! near-valid forms or arbitrary text.
//!
//! Invariants:
//! - it never panics;
//! - an `Ok` configuration holds valid thresholds and the default store,
//!   takes every variable set as documented (booleans, whole seconds,
//!   trimmed Redis URL, token as given) and the default for each unset one;
//! - an `Ok` configuration round-trips: rendered back into variables and
//!   read again, it is equal to itself;
//! - its `Debug` output does not depend on the token's value;
//! - an error names a variable that was set and shows its value as given,
//!   a Redis URL redacted and a token not at all.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::{
    arbitrary::{Result, Unstructured},
    fuzz_target,
};
use perf_core::{CoreError, PerfConfig, Profile, StoreConfig, redact_url};

const NAMES: &[&str] = &[
    "PERFORMANCE_PROFILE",
    "PERFORMANCE_MONITORING_ENABLED",
    "MEMORY_MONITORING_ENABLED",
    "PERFORMANCE_SERVER_TIMING",
    "PERFORMANCE_CAPTURE_BINDS",
    "SLOW_REQUEST_THRESHOLD",
    "SLOW_QUERY_THRESHOLD",
    "HIGH_MEMORY_THRESHOLD",
    "ERROR_RATE_THRESHOLD",
    "CACHE_DEFAULT_TIMEOUT",
    "ALERT_EVALUATION_INTERVAL",
    "SYSTEM_SAMPLE_INTERVAL",
    "REDIS_URL",
    "PERFORMANCE_API_TOKEN",
    "PERFORMANCE_PROFILES",
    "redis_url",
];

const VALUES: &[&str] = &[
    "",
    " ",
    "1",
    "0",
    "true",
    "FALSE",
    " yes ",
    "off",
    "On",
    "2",
    "development",
    " Prod ",
    "production",
    "staging",
    "0.25",
    "1e-3",
    "3600",
    "3600.5",
    "3601",
    "-1",
    "0",
    "NaN",
    "inf",
    "1048576",
    "1048577",
    "0.05",
    "1.0",
    "300",
    "2592000",
    "2592001",
    "18446744073709551616",
    "+5",
    " 10 ",
    "redis://127.0.0.1:6379/0",
    " rediss://u:hunter22@cache:6380 ",
    "unix:///run/redis.sock",
    "http://x",
    "s3cr3t-token",
    "short",
    "has space inside",
    "tab\tinside",
    "\u{1}control-char",
];

fn value(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(if u.ratio(3, 4)? { (*u.choose(VALUES)?).to_owned() } else { u.arbitrary()? })
}

fn vars(data: &[u8]) -> Result<BTreeMap<String, String>> {
    let mut u = Unstructured::new(data);
    let mut vars = BTreeMap::new();
    while !u.is_empty() {
        let name = (*u.choose(NAMES)?).to_owned();
        vars.insert(name, value(&mut u)?);
    }
    Ok(vars)
}

fn read(vars: &BTreeMap<String, String>) -> std::result::Result<PerfConfig, CoreError> {
    PerfConfig::from_lookup(|name| vars.get(name).cloned())
}

fn bool_of(v: &str) -> bool {
    matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
}

fn secs_of(v: &str) -> u64 {
    v.trim().parse().expect("an accepted duration is whole seconds")
}

/// The variables that describe `c`.
fn render(c: &PerfConfig) -> BTreeMap<String, String> {
    let t = &c.thresholds;
    let profile = match c.profile {
        Profile::Development => "development",
        Profile::Production => "production",
    };
    let mut out: BTreeMap<String, String> = [
        ("PERFORMANCE_PROFILE", profile.to_owned()),
        ("PERFORMANCE_MONITORING_ENABLED", c.enabled.to_string()),
        ("MEMORY_MONITORING_ENABLED", c.memory_monitoring.to_string()),
        ("PERFORMANCE_SERVER_TIMING", c.server_timing.to_string()),
        ("PERFORMANCE_CAPTURE_BINDS", c.capture_binds.to_string()),
        ("SLOW_REQUEST_THRESHOLD", t.slow_request_threshold.to_string()),
        ("SLOW_QUERY_THRESHOLD", t.slow_query_threshold.to_string()),
        ("HIGH_MEMORY_THRESHOLD", t.high_memory_threshold.to_string()),
        ("ERROR_RATE_THRESHOLD", t.error_rate_threshold.to_string()),
        ("CACHE_DEFAULT_TIMEOUT", c.cache_default_timeout.as_secs().to_string()),
        ("ALERT_EVALUATION_INTERVAL", c.alert_evaluation_interval.as_secs().to_string()),
        ("SYSTEM_SAMPLE_INTERVAL", c.system_sample_interval.as_secs().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(url) = &c.redis_url {
        out.insert("REDIS_URL".into(), url.clone());
    }
    if let Some(token) = &c.api_token {
        out.insert("PERFORMANCE_API_TOKEN".into(), token.clone());
    }
    out
}

fn check_ok(vars: &BTreeMap<String, String>, c: &PerfConfig) {
    let get = |name: &str| vars.get(name).map(String::as_str);
    let defaults = PerfConfig::default();
    c.thresholds.validate().expect("an accepted configuration has valid thresholds");
    assert_eq!(c.store, StoreConfig::default(), "the store sizing is code-only");

    let flags = [
        ("PERFORMANCE_MONITORING_ENABLED", c.enabled, defaults.enabled),
        ("MEMORY_MONITORING_ENABLED", c.memory_monitoring, defaults.memory_monitoring),
        ("PERFORMANCE_SERVER_TIMING", c.server_timing, defaults.server_timing),
        ("PERFORMANCE_CAPTURE_BINDS", c.capture_binds, defaults.capture_binds),
    ];
    for (name, got, default) in flags {
        assert_eq!(got, get(name).map_or(default, bool_of), "{name}");
    }
    let durations = [
        ("CACHE_DEFAULT_TIMEOUT", c.cache_default_timeout, defaults.cache_default_timeout),
        ("ALERT_EVALUATION_INTERVAL", c.alert_evaluation_interval, defaults.alert_evaluation_interval),
        ("SYSTEM_SAMPLE_INTERVAL", c.system_sample_interval, defaults.system_sample_interval),
    ];
    for (name, got, default) in durations {
        assert_eq!(got.as_secs(), get(name).map_or(default.as_secs(), secs_of), "{name}");
        assert_eq!(got.subsec_nanos(), 0, "{name} is whole seconds");
    }
    let base = c.profile.thresholds();
    let t = &c.thresholds;
    let thresholds = [
        ("SLOW_REQUEST_THRESHOLD", t.slow_request_threshold, base.slow_request_threshold),
        ("SLOW_QUERY_THRESHOLD", t.slow_query_threshold, base.slow_query_threshold),
        ("HIGH_MEMORY_THRESHOLD", t.high_memory_threshold, base.high_memory_threshold),
        ("ERROR_RATE_THRESHOLD", t.error_rate_threshold, base.error_rate_threshold),
    ];
    for (name, got, default) in thresholds {
        let want = get(name).map_or(default, |v| v.trim().parse::<f64>().expect("an accepted threshold parses"));
        assert_eq!(got.to_bits(), want.to_bits(), "{name}");
    }
    if get("PERFORMANCE_PROFILE").is_none() {
        assert_eq!(c.profile, defaults.profile, "profile default");
    }
    let url = get("REDIS_URL").map(str::trim).filter(|u| !u.is_empty());
    assert_eq!(c.redis_url.as_deref(), url, "REDIS_URL");
    let token = get("PERFORMANCE_API_TOKEN").filter(|t| !t.is_empty());
    assert_eq!(c.api_token.as_deref(), token, "PERFORMANCE_API_TOKEN");

    let rendered = render(c);
    match read(&rendered) {
        Ok(again) => assert!(again == *c, "round trip changed {c:?} into {again:?} via {rendered:?}"),
        Err(e) => panic!("the rendering {rendered:?} of an accepted configuration is refused: {e}"),
    }

    if c.api_token.is_some() {
        let mut other = c.clone();
        other.api_token = Some("another-token-value".into());
        assert_eq!(format!("{c:?}"), format!("{other:?}"), "Debug output depends on the token");
    }
}

fn check_err(vars: &BTreeMap<String, String>, e: &CoreError) {
    let CoreError::InvalidEnv { name, value, .. } = e else {
        panic!("from_lookup failed with something other than InvalidEnv: {e:?}");
    };
    let Some(given) = vars.get(*name) else {
        panic!("the error names {name}, which was not set");
    };
    // The value shown: as given, but a URL redacted and a token not at all.
    let shown = match *name {
        "PERFORMANCE_API_TOKEN" => "<redacted>".to_owned(),
        "REDIS_URL" => redact_url(given),
        _ => given.clone(),
    };
    assert_eq!(*value, shown, "{name}'s refused value is shown as {value:?}");
}

fuzz_target!(|data: &[u8]| {
    let Ok(vars) = vars(data) else { return };
    match read(&vars) {
        Ok(c) => check_ok(&vars, &c),
        Err(e) => check_err(&vars, &e),
    }
});
