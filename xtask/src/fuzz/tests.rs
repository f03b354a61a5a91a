//! Argument parsing and target discovery of `cargo xtask fuzz`.

use super::{Args, DEFAULT_SECONDS, parse, targets};

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn defaults_to_every_target_for_a_minute() {
    assert_eq!(parse(&[]).unwrap(), Args { seconds: DEFAULT_SECONDS, target: None, seed: None });
    assert_eq!(DEFAULT_SECONDS, 60);
}

#[test]
fn takes_seconds_and_one_target_in_any_order() {
    let want = Args { seconds: 10, target: Some("sql_statement".into()), seed: None };
    assert_eq!(parse(&args(&["--seconds", "10", "sql_statement"])).unwrap(), want);
    assert_eq!(parse(&args(&["sql_statement", "--seconds", "10"])).unwrap(), want);
}

#[test]
fn refuses_bad_arguments() {
    for bad in [&["--seconds"][..], &["--seconds", "ten"], &["--seconds", "0"], &["--minutes", "1"], &["a", "b"]] {
        assert!(parse(&args(bad)).is_err(), "{bad:?} was accepted");
    }
}

#[test]
fn finds_every_target_of_the_fuzz_crate() {
    let found = targets().unwrap();
    let manifest = std::fs::read_to_string(crate::root().join("fuzz/Cargo.toml")).unwrap();
    let declared = manifest.matches("[[bin]]").count();
    assert_eq!(found.len(), declared, "fuzz/fuzz_targets has {found:?}, fuzz/Cargo.toml declares {declared} bins");
    for t in &found {
        assert!(
            manifest.contains(&format!("path = \"fuzz_targets/{t}.rs\"")),
            "{t} is not declared in fuzz/Cargo.toml"
        );
        let src = std::fs::read_to_string(crate::root().join(format!("fuzz/fuzz_targets/{t}.rs"))).unwrap();
        assert!(src.trim_start().starts_with("//!"), "fuzz target {t} has no leading //! doc");
        assert!(src.contains("assert"), "fuzz target {t} checks no invariant");
    }
    assert!(found.len() >= 4, "{found:?}");
}

#[test]
fn a_seed_is_passed_on() {
    let args: Vec<String> = ["--seed", "7", "--seconds", "3"].iter().map(|s| s.to_string()).collect();
    assert_eq!(parse(&args).unwrap(), Args { seconds: 3, target: None, seed: Some(7) });
    assert!(parse(&["--seed".to_owned(), "x".to_owned()]).is_err());
}
