//! Project automation: `cargo xtask <task>`.
//!
//! - `test`: the whole test suite against the real Redis and PostgreSQL, then
//!   `fixture`.
//! - `fixture`: the SQLite-only sample app in `tests/fixtures/sqlite-app`:
//!   no libpq or Redis client in its tree, and it serves the whole API.
//! - `ci`: what CI runs, the phases of [`CI_PHASES`] in order: `checks`,
//!   `test`, then every fuzz target for 10 seconds. `.ci/run` starts the
//!   services and runs the same phases as separate commands.
//! - `checks`: format check, clippy with warnings denied, docs with warnings
//!   denied, then `features`.
//! - `bench`: instruction counts under callgrind, interleaved wall-clock
//!   ratios and every crate's criterion benches, written to BENCHMARKS.md
//!   (`--quick`, `--filter S`, `--no-criterion`, `--report-only`).
//! - `traffic`: a bounded, realistic mix of requests against a running demo.
//! - `bench-isolation`: an app route's p50 alone and while clients hammer the
//!   heavy performance endpoints, against a demo binary it starts.
//! - `loadtest`: HTTP throughput and latency of real servers over TCP (the
//!   bench apps with and without perfkit and actix-web-prom, the demo with
//!   monitoring on and off), the performance API at 10 to 1,000 endpoints,
//!   or (`--soak`) the demo's RSS under steady load; see [`loadtest`].
//! - `fuzz`: the cargo-fuzz targets in `fuzz/`, each for a bounded time (nightly).
//! - `features`: `cargo check` of every library crate alone with its default
//!   features, with none and with all, so no feature combination a user picks first
//!   is left broken by the `--all-features` runs.
#![allow(clippy::print_stdout)]

mod bench;
mod fixture;
mod fuzz;
mod isolation;
mod loadtest;
mod services;
mod tidy;
mod traffic;

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    dispatch(&args)
}

/// Runs the task named by `args[0]` with the rest as its options.
fn dispatch(args: &[String]) -> Result<()> {
    let task = args.first().map(String::as_str).unwrap_or("help");
    let rest = &args[args.len().min(1)..];
    match task {
        "test" => test(rest),
        "ci" => ci(),
        "checks" => checks(),
        "bench" => bench::run(rest),
        "traffic" => traffic::run(rest),
        "bench-isolation" => isolation::run(rest),
        "loadtest" => loadtest::run(rest),
        "fuzz" => fuzz::run(rest),
        "features" => features(),
        "fixture" => fixture::run(),
        _ => {
            println!(
                "usage: cargo xtask <test|ci|checks|features|fixture|bench|traffic|bench-isolation|loadtest|fuzz>"
            );
            println!("  test     run the whole test suite (needs Redis and PostgreSQL; see DEVELOPERS.md)");
            println!("  ci       what CI runs: checks, test, then each fuzz target for 10 s");
            println!("  checks   fmt check, clippy -D warnings, docs -D warnings, features");
            println!("  fixture  check, build and query the SQLite-only sample app on the facade");
            println!("  features cargo check of each library crate alone with default, no and all features");
            println!(
                "  bench    callgrind instruction counts, interleaved wall clock and criterion (--quick, --filter S)"
            );
            println!("  traffic  send a bounded mix of requests to a running demo (--base-url, --seconds, --rps)");
            println!(
                "  bench-isolation  an app route's p50 alone and under heavy API load (--bin, --requests, --clients)"
            );
            println!(
                "  loadtest throughput and latency over TCP: middleware, demo on/off, API at scale (--quick, --rounds N, --seconds S, --connections C, --soak [--minutes M], --no-write)"
            );
            println!(
                "  fuzz     run each fuzz target (or one: fuzz <target>) for --seconds N (default 60), --seed N; needs nightly"
            );
            if task == "help" { Ok(()) } else { bail!("unknown task {task:?}") }
        }
    }
}

/// The workspace root.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

/// A `cargo` command run from the workspace root.
pub(crate) fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

/// What `program args…` prints, trimmed; empty when it cannot run (for the machine
/// and date lines of the benchmark reports).
pub(crate) fn output_text(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Runs a command, failing when it fails.
pub(crate) fn run(mut cmd: Command) -> Result<()> {
    println!("$ {cmd:?}");
    let status = cmd.status().with_context(|| format!("could not start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn test(extra: &[String]) -> Result<()> {
    let urls = services::require()?;
    let tools = root().join("scripts/ensure-test-tools.sh");
    if tools.exists() {
        let mut c = Command::new("bash");
        c.arg(&tools);
        run(c)?;
    }
    let mut c = cargo();
    c.args(["test", "--workspace", "--all-features"]).args(extra);
    c.env("PERF_TEST_REDIS_URL", &urls.redis).env("PERF_TEST_DATABASE_URL", &urls.database);
    run(c)?;
    fixture::run()
}

/// The commands CI runs, in order; `cargo xtask ci` runs them in process,
/// and `.ci/run` runs each as a command (a tidy test keeps the two equal).
/// The fuzz phase is a smoke run (10 s per target) that keeps the targets
/// building and catches shallow crashes.
pub(crate) const CI_PHASES: [&str; 3] =
    ["cargo xtask checks", "cargo xtask test", "cargo xtask fuzz --seconds 10 --seed 1"];

fn ci() -> Result<()> {
    for phase in CI_PHASES {
        let args: Vec<String> = phase.split_whitespace().skip(2).map(str::to_string).collect();
        println!("== {phase}");
        dispatch(&args)?;
    }
    Ok(())
}

/// Everything CI checks without running tests: formatting, clippy with
/// warnings denied, the docs with warnings denied, and each library crate's
/// default and minimal features.
fn checks() -> Result<()> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    run(fmt)?;
    // The fuzz crate is its own workspace, which `--all` does not reach.
    let mut fmt_fuzz = cargo();
    fmt_fuzz.args(["fmt", "--manifest-path", "fuzz/Cargo.toml", "--", "--check"]);
    run(fmt_fuzz)?;
    let mut clippy = cargo();
    clippy.args(["clippy", "--workspace", "--all-targets", "--all-features", "--", "-D", "warnings"]);
    run(clippy)?;
    let mut doc = cargo();
    doc.args(["doc", "--workspace", "--no-deps", "--all-features"]).env("RUSTDOCFLAGS", "-D warnings");
    run(doc)?;
    features()
}

/// The library crates: every folder under `crates/`.
fn library_crates() -> Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("crates"))?
        .flatten()
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// `cargo check` of each library crate alone with its default features, with
/// `--no-default-features` and with `--all-features`: cheap, and it catches an
/// item used outside the `cfg` of the feature that brings it, and a feature
/// that compiles only because another workspace member unifies a dependency's
/// features.
fn features() -> Result<()> {
    for name in library_crates()? {
        let mut defaults = cargo();
        defaults.args(["check", "--quiet", "-p", &name]);
        run(defaults)?;
        let mut none = cargo();
        none.args(["check", "--quiet", "-p", &name, "--no-default-features"]);
        run(none)?;
        let mut all = cargo();
        all.args(["check", "--quiet", "-p", &name, "--all-features"]);
        run(all)?;
    }
    Ok(())
}
