//! `cargo xtask fuzz [--seconds N] [target]`: runs the cargo-fuzz targets in
//! `fuzz/fuzz_targets/` (every one, or the one named) for `N` seconds each
//! (default 60) on the nightly toolchain, and fails when any finds a crash.
//!
//! A crash leaves its input in `fuzz/artifacts/<target>/`; replay it with
//! `cargo +nightly fuzz run <target> <file>`. New corpus entries accumulate
//! in `fuzz/corpus/<target>/` (not committed); `fuzz/dicts/<target>.dict`,
//! when present, is handed to libFuzzer as its dictionary. The fuzz crate is outside
//! the main workspace, so it builds into `fuzz/target/`.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::root;

/// Seconds per target when `--seconds` is not given.
const DEFAULT_SECONDS: u64 = 60;

/// What the command line asked for.
#[derive(Debug, PartialEq, Eq)]
struct Args {
    seconds: u64,
    target: Option<String>,
    /// libFuzzer's random seed; fixed in CI so a run can be repeated.
    seed: Option<u64>,
}

fn parse(args: &[String]) -> Result<Args> {
    let mut out = Args { seconds: DEFAULT_SECONDS, target: None, seed: None };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                let v = it.next().context("--seconds needs a value")?;
                out.seconds = v.parse().with_context(|| format!("--seconds {v:?} is not a whole number"))?;
                if out.seconds == 0 {
                    bail!("--seconds must be at least 1");
                }
            }
            "--seed" => {
                let v = it.next().context("--seed needs a value")?;
                out.seed = Some(v.parse().with_context(|| format!("--seed {v:?} is not a whole number"))?);
            }
            flag if flag.starts_with('-') => bail!("unknown option {flag:?} (expected --seconds N or --seed N)"),
            name if out.target.is_none() => out.target = Some(name.to_owned()),
            extra => bail!("unexpected argument {extra:?}: give at most one target"),
        }
    }
    Ok(out)
}

/// The fuzz targets: the file stems in `fuzz/fuzz_targets/`, sorted.
fn targets() -> Result<Vec<String>> {
    let dir = root().join("fuzz/fuzz_targets");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    Ok(names)
}

/// `cargo fuzz` on the nightly toolchain, from the repository root.
///
/// `rustup run nightly cargo` is `cargo +nightly`, also when this process
/// was started by a toolchain's own cargo rather than rustup's proxy.
fn cargo_fuzz() -> Command {
    let mut c = Command::new("rustup");
    c.args(["run", "nightly", "cargo", "fuzz"]);
    c.current_dir(root());
    c
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    let args = parse(args)?;
    let all = targets()?;
    let chosen = match &args.target {
        Some(t) if all.contains(t) => vec![t.clone()],
        Some(t) => bail!("no fuzz target {t:?}; the targets are {}", all.join(", ")),
        None => all,
    };
    let mut probe = cargo_fuzz();
    probe.arg("--version");
    let ready = probe.output().is_ok_and(|o| o.status.success());
    if !ready {
        bail!(
            "`cargo +nightly fuzz` is not available: run scripts/ensure-test-tools.sh (installs nightly and cargo-fuzz)"
        );
    }
    let mut failed = Vec::new();
    for target in &chosen {
        let mut c = cargo_fuzz();
        c.args(["run", target, "--", &format!("-max_total_time={}", args.seconds)]);
        let dict = root().join(format!("fuzz/dicts/{target}.dict"));
        if dict.exists() {
            c.arg(format!("-dict={}", dict.display()));
        }
        if let Some(seed) = args.seed {
            c.arg(format!("-seed={seed}"));
        }
        if let Err(e) = crate::run(c) {
            println!("fuzz target {target} failed: {e:#}");
            failed.push(target.as_str());
        }
    }
    if !failed.is_empty() {
        bail!("fuzz targets failed: {} (inputs in fuzz/artifacts/<target>/)", failed.join(", "));
    }
    println!("fuzzed {} target(s) for {} s each without a crash", chosen.len(), args.seconds);
    Ok(())
}

#[cfg(test)]
mod tests;
