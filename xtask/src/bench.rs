//! `cargo xtask bench`: runs every crate's criterion benches, then reads
//! `target/criterion/**/new/{benchmark,estimates}.json` and prints one table
//! (bench, our median, peer, peer median, ratio), also written to BENCHMARKS.md.
//!
//! Convention: in each group, functions whose id starts with `perfkit` are
//! ours; the others are peers (or baselines) measured in the same run.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};

use crate::{cargo, root};

/// One measured benchmark.
#[derive(Debug, Clone)]
struct Measured {
    group: String,
    function: String,
    median_ns: f64,
}

fn run_benches(extra: &[String]) -> Result<()> {
    let mut c = cargo();
    c.arg("bench");
    // Every crate with a `benches/` folder; binaries (the demo, xtask) have
    // no criterion benches and would refuse criterion's options.
    let crates = root().join("crates");
    let mut names: Vec<String> = std::fs::read_dir(&crates)?
        .flatten()
        .filter(|e| e.path().join("benches").is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for n in &names {
        c.args(["-p", n]);
    }
    // Every feature, so the Redis and backend groups are built too.
    c.args(["--all-features", "--benches", "--", "--warm-up-time", "0.5", "--measurement-time", "2", "--noplot"]);
    c.args(extra);
    crate::run(c)
}

pub(crate) fn run(extra: &[String]) -> Result<()> {
    let only_report = extra.iter().any(|a| a == "--report-only");
    let passthrough: Vec<String> = extra.iter().filter(|a| *a != "--report-only").cloned().collect();
    if !only_report {
        run_benches(&passthrough)?;
    }
    let dir = target_dir().join("criterion");
    let mut found = Vec::new();
    collect(&dir, &mut found).with_context(|| format!("reading {}", dir.display()))?;
    let table = render(&found);
    println!("{table}");
    let doc = format!(
        "# Benchmarks\n\nProduced by `cargo xtask bench` (criterion medians from one run on one machine; \
         compare ratios, not absolute figures). In each group, `perfkit*` rows are ours and the others are \
         the peers a user would pick instead, measured in the same run.\n\n{table}"
    );
    // Sections written by hand after the table (`## ...`) are kept.
    let path = root().join("BENCHMARKS.md");
    let kept = std::fs::read_to_string(&path)
        .ok()
        .and_then(|old| old.find("\n## ").map(|i| old[i..].to_owned()))
        .unwrap_or_default();
    std::fs::write(path, format!("{doc}{kept}"))?;
    Ok(())
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

fn collect(dir: &Path, out: &mut Vec<Measured>) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            let bench: serde_json::Value = serde_json::from_slice(&std::fs::read(path.join("benchmark.json"))?)?;
            let est: serde_json::Value = serde_json::from_slice(&std::fs::read(path.join("estimates.json"))?)?;
            let group = bench["group_id"].as_str().unwrap_or_default().to_string();
            let mut function = bench["function_id"].as_str().unwrap_or_default().to_string();
            if let Some(v) = bench["value_str"].as_str() {
                function = format!("{function}/{v}");
            }
            if let Some(median) = est["median"]["point_estimate"].as_f64() {
                out.push(Measured { group, function, median_ns: median });
            }
        } else if path.file_name().is_none_or(|n| n != "base" && n != "report") {
            collect(&path, out)?;
        }
    }
    Ok(())
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// The parameter of a `name/param` function id, if any.
fn param(function: &str) -> Option<&str> {
    function.split_once('/').map(|(_, p)| p)
}

fn render(found: &[Measured]) -> String {
    let mut groups: BTreeMap<&str, Vec<&Measured>> = BTreeMap::new();
    for m in found {
        groups.entry(&m.group).or_default().push(m);
    }
    let mut out =
        String::from("| bench | our median | peer | peer median | ratio (ours/peer) |\n|---|---:|---|---:|---:|\n");
    for (group, mut items) in groups {
        items.sort_by(|a, b| a.function.cmp(&b.function));
        let (ours, peers): (Vec<&Measured>, Vec<&Measured>) =
            items.iter().partition(|m| m.function.starts_with("perfkit"));
        for o in &ours {
            // A parameterised bench (`name/param`) is compared with peers of
            // the same parameter only.
            let matching: Vec<&&Measured> = peers.iter().filter(|p| param(&p.function) == param(&o.function)).collect();
            if matching.is_empty() {
                let _ = writeln!(out, "| {group}/{} | {} | – | – | – |", o.function, fmt_ns(o.median_ns));
            }
            for p in matching {
                let _ = writeln!(
                    out,
                    "| {group}/{} | {} | {} | {} | {:.2} |",
                    o.function,
                    fmt_ns(o.median_ns),
                    p.function,
                    fmt_ns(p.median_ns),
                    o.median_ns / p.median_ns
                );
            }
        }
        if ours.is_empty() {
            for p in &peers {
                let _ = writeln!(out, "| {group}/{} | {} | – | – | – |", p.function, fmt_ns(p.median_ns));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_ours_with_every_peer() {
        let m = |f: &str, ns| Measured { group: "g".into(), function: f.into(), median_ns: ns };
        let t = render(&[m("perfkit_x", 20.0), m("moka", 40.0), m("dashmap", 10.0)]);
        assert!(t.contains("| g/perfkit_x | 20.0 ns | moka | 40.0 ns | 0.50 |"), "{t}");
        assert!(t.contains("| g/perfkit_x | 20.0 ns | dashmap | 10.0 ns | 2.00 |"), "{t}");
    }

    #[test]
    fn parameterised_benches_pair_with_the_same_parameter() {
        let m = |f: &str, ns| Measured { group: "g".into(), function: f.into(), median_ns: ns };
        let t = render(&[m("perfkit/a", 20.0), m("bare/a", 10.0), m("bare/b", 40.0)]);
        assert!(t.contains("| g/perfkit/a | 20.0 ns | bare/a | 10.0 ns | 2.00 |"), "{t}");
        assert!(!t.contains("bare/b |"), "{t}");
    }
}
