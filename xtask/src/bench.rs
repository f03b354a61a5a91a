//! `cargo xtask bench`: instruction counts under callgrind, interleaved
//! wall-clock ratios, and every crate's criterion benches, from one run,
//! written to BENCHMARKS.md with a plausibility pass over all three.
//!
//! - Instructions: the `bench` binary (built with the bench profile) runs
//!   each variant twice under callgrind, see [`callgrind`].
//! - Wall clock, interleaved: `bench wall` times every variant of a group
//!   once per round, in turn, and reports medians of per-round ratios.
//! - Criterion: `cargo bench` on every crate with a `benches/` folder; in
//!   each group, functions whose id starts with `perfkit` are ours and the
//!   others are peers (or baselines) measured in the same run.
//!
//! A monitored variant measured cheaper than its unmonitored baseline
//! (beyond noise) is flagged in the output and in BENCHMARKS.md in place of
//! its figure.
//!
//! Options: `--quick` (fewer wall-clock rounds, no criterion), `--filter S`
//! (only groups whose name contains `S`), `--no-criterion`, `--report-only`
//! (re-render from the last run's results). Only a full, unfiltered run
//! rewrites BENCHMARKS.md.

mod callgrind;

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    path::{Path, PathBuf},
    process::Command,
    time::SystemTime,
};

use anyhow::{Context, Result, bail};

use crate::{cargo, root};

/// Options of one `cargo xtask bench` run.
#[derive(Debug, Default)]
struct Options {
    quick: bool,
    filter: Option<String>,
    no_criterion: bool,
    report_only: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let mut o = Options::default();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--quick" => o.quick = true,
                "--no-criterion" => o.no_criterion = true,
                "--report-only" => o.report_only = true,
                "--filter" => o.filter = Some(it.next().context("--filter needs a group name or part of one")?.clone()),
                other => bail!("unknown bench option {other:?} (--quick, --filter S, --no-criterion, --report-only)"),
            }
        }
        Ok(o)
    }

    fn keeps(&self, group: &str) -> bool {
        self.filter.as_deref().is_none_or(|f| group.contains(f))
    }

    /// Whether this run may rewrite BENCHMARKS.md (all groups, all methods).
    fn complete(&self) -> bool {
        !self.quick && !self.no_criterion && self.filter.is_none()
    }
}

/// One criterion benchmark.
#[derive(Debug, Clone)]
struct Measured {
    group: String,
    function: String,
    median_ns: f64,
    /// The median's 95 % confidence interval.
    ci_ns: (f64, f64),
}

/// One variant's interleaved wall-clock result.
#[derive(Debug, Clone, PartialEq)]
struct Wall {
    group: String,
    name: String,
    /// Time per operation in the variant's fastest batch.
    best_ns: f64,
    /// Median, lower and upper quartile of the per-round ratios to the group's first variant.
    ratio: (f64, f64, f64),
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    let opts = Options::parse(args)?;
    let results = target_dir().join("perfkit-bench");
    std::fs::create_dir_all(&results)?;
    let started = SystemTime::now();
    if !opts.report_only {
        let bin = build_bench_binary()?;
        let listed = list(&bin)?;
        let chosen: Vec<_> = listed.into_iter().filter(|v| opts.keeps(&v.group)).collect();
        if chosen.is_empty() {
            bail!("no benchmark group matches {:?}", opts.filter);
        }
        require_valgrind()?;
        eprintln!("instruction counts ({} variants, two callgrind runs each)", chosen.len());
        let counted = callgrind::count_all(&bin, &results.join("callgrind"), &chosen, 2)?;
        std::fs::write(results.join("instructions.tsv"), write_counts(&counted))?;
        eprintln!("interleaved wall clock");
        let mut c = Command::new(&bin);
        c.arg("wall")
            .arg(opts.filter.as_deref().unwrap_or(""))
            .args(["--rounds", if opts.quick { "11" } else { "41" }]);
        let out = c.output().with_context(|| format!("could not start {c:?}"))?;
        if !out.status.success() {
            bail!("{c:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        std::fs::write(results.join("wall.tsv"), &out.stdout)?;
        if !opts.quick && !opts.no_criterion {
            run_criterion(opts.filter.as_deref())?;
        }
    }
    let counted = read_counts(&std::fs::read_to_string(results.join("instructions.tsv")).unwrap_or_default())?;
    let wall = parse_wall(&std::fs::read_to_string(results.join("wall.tsv")).unwrap_or_default())?;
    let mut found = Vec::new();
    if !opts.quick && !opts.no_criterion {
        let dir = target_dir().join("criterion");
        // Only this run's measurements: those written after its instruction
        // counts when re-rendering with --report-only.
        let since = if opts.report_only {
            std::fs::metadata(results.join("instructions.tsv")).and_then(|m| m.modified()).ok()
        } else {
            Some(started)
        };
        collect(&dir, since, &mut found).with_context(|| format!("reading {}", dir.display()))?;
        found.retain(|m| opts.keeps(&m.group));
    }
    let mut body = String::new();
    body.push_str(&render_instructions(&counted));
    body.push_str(&render_wall(&wall));
    if !found.is_empty() {
        body.push_str(&render_criterion(&found));
    }
    println!("{body}");
    let flagged = body.matches(FLAG).count();
    if flagged > 0 {
        eprintln!("{flagged} implausible figure(s) flagged: a monitored variant measured cheaper than its baseline");
    }
    if opts.complete() {
        write_doc(&body)?;
    } else {
        eprintln!("partial run (--quick, --filter or --no-criterion): BENCHMARKS.md left as it is");
    }
    Ok(())
}

/// Marks a figure the plausibility pass refused.
const FLAG: &str = "⚠ implausible";

pub(crate) fn build_bench_binary() -> Result<PathBuf> {
    let mut c = cargo();
    c.args(["build", "-p", "bench", "--profile", "bench"]);
    crate::run(c)?;
    // The bench profile inherits release and shares its output folder.
    Ok(target_dir().join("release").join(format!("bench{}", std::env::consts::EXE_SUFFIX)))
}

fn list(bin: &Path) -> Result<Vec<callgrind::Listed>> {
    let out = Command::new(bin).arg("list").output().with_context(|| format!("could not start {}", bin.display()))?;
    if !out.status.success() {
        bail!("{} list failed: {}", bin.display(), String::from_utf8_lossy(&out.stderr));
    }
    callgrind::parse_list(&String::from_utf8_lossy(&out.stdout))
}

fn require_valgrind() -> Result<()> {
    match Command::new("valgrind").arg("--version").output() {
        Ok(o) if o.status.success() => Ok(()),
        _ => bail!("valgrind is missing: `bash scripts/ensure-test-tools.sh` installs it"),
    }
}

fn run_criterion(filter: Option<&str>) -> Result<()> {
    let mut c = cargo();
    c.arg("bench");
    // Every crate with a `benches/` folder, and the bench harness; binaries
    // (the demo, xtask) have no criterion benches and would refuse
    // criterion's options.
    let crates = root().join("crates");
    let mut names: Vec<String> = std::fs::read_dir(&crates)?
        .flatten()
        .filter(|e| e.path().join("benches").is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // The bench harness's own group (the HTTP apps it shares with `bench run`).
    if root().join("bench/benches").is_dir() {
        names.push("bench".to_owned());
    }
    for n in &names {
        c.args(["-p", n]);
    }
    // Every feature, so the Redis and backend groups are built too.
    c.args(["--all-features", "--benches", "--", "--warm-up-time", "0.5", "--measurement-time", "2", "--noplot"]);
    if let Some(f) = filter {
        c.arg(f);
    }
    crate::run(c)
}

fn write_counts(counted: &[callgrind::Counted]) -> String {
    let mut s = String::new();
    for c in counted {
        let v = &c.variant;
        let _ = writeln!(
            s,
            "{}\t{}\t{}\t{}\t{}\t{}",
            v.group,
            v.name,
            v.baseline.as_deref().unwrap_or("-"),
            v.n1,
            v.n2,
            c.per_op
        );
    }
    s
}

fn read_counts(text: &str) -> Result<Vec<callgrind::Counted>> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let (listed, per_op) = line.rsplit_once('\t').with_context(|| format!("bad result line {line:?}"))?;
        let mut v = callgrind::parse_list(listed)?;
        let variant = v.pop().with_context(|| format!("bad result line {line:?}"))?;
        out.push(callgrind::Counted { variant, per_op: per_op.parse()? });
    }
    Ok(out)
}

fn parse_wall(text: &str) -> Result<Vec<Wall>> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let [group, name, ns, r, q25, q75] = f.as_slice() else { bail!("bad wall-clock line {line:?}") };
            Ok(Wall {
                group: (*group).to_owned(),
                name: (*name).to_owned(),
                best_ns: ns.parse()?,
                ratio: (r.parse()?, q25.parse()?, q75.parse()?),
            })
        })
        .collect()
}

/// Instruction counts closer than this to their baseline are within noise
/// (callgrind counts repeat to the instruction; the slack covers hash seeds
/// and allocator state).
fn instructions_slack(baseline: f64) -> f64 {
    (baseline * 0.002).max(2.0)
}

/// The plausibility verdict on a monitored variant's instruction count.
fn implausible_instructions(per_op: f64, baseline: f64) -> bool {
    per_op < baseline - instructions_slack(baseline)
}

/// A monitored variant is implausibly fast in wall-clock terms when it beat
/// its baseline in three rounds out of four (upper quartile of the ratios below 1).
fn implausible_wall(ratio_q75: f64) -> bool {
    ratio_q75 < 1.0
}

/// A criterion median is implausibly fast when it is more than 2 % below
/// the baseline's or its whole confidence interval lies below the
/// baseline's (monitoring only adds work, as the instruction counts show).
fn implausible_criterion(ours: &Measured, baseline: &Measured) -> bool {
    ours.median_ns < baseline.median_ns * 0.98 || ours.ci_ns.1 < baseline.ci_ns.0
}

/// Figures from issue #13, measured on main before this harness existed:
/// instructions added per request over a bare app on (/hello, /items/42, rotating ids).
const BEFORE_ADDED: [(&str, [u64; 3]); 5] = [
    ("floor", [173, 174, 177]),
    ("perfkit", [3_351, 3_436, 12_649]),
    ("perfkit-no-server-timing", [1_786, 1_873, 11_091]),
    ("perfkit-disabled", [98, 98, 108]),
    ("actix-web-prom", [3_373, 6_300, 6_293]),
];

/// Issue #13's instructions per record.
const BEFORE_RECORD: [(&str, u64); 4] =
    [("perfkit_store", 464), ("perfkit_handle", 258), ("hdrhistogram", 88), ("metrics_cached_handle", 182)];

const HTTP_GROUPS: [(&str, &str); 3] = [
    ("perf-http/request/hello", "/hello"),
    ("perf-http/request/items_42", "/items/42"),
    ("perf-http/request/items_rotating", "/items/{0..4095}"),
];

fn thousands(x: f64) -> String {
    let neg = x < 0.0;
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (k, ch) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if neg { format!("-{out}") } else { out }
}

fn render_instructions(counted: &[callgrind::Counted]) -> String {
    if counted.is_empty() {
        return String::new();
    }
    let find = |group: &str, name: &str| {
        counted.iter().find(|c| c.variant.group == group && c.variant.name == name).map(|c| c.per_op)
    };
    let mut out = String::from(
        "## Instructions per operation (callgrind)\n\n\
         Each variant of the `bench` binary (`bench/`, bench profile) runs twice under \
         `valgrind --tool=callgrind`, collecting only inside its measured loop; per-op cost = \
         (I(N2) − I(N1)) / (N2 − N1), so setup, warm-up and fixed costs cancel. Counts include the \
         loop's indirect call and the input's derivation (a few instructions, the same for every \
         variant). HTTP requests are in process (`test::init_service`, each request built, served on a \
         current-thread actix system and its body read).\n\n",
    );
    let http: Vec<_> = HTTP_GROUPS.iter().filter(|(g, _)| find(g, "bare").is_some()).collect();
    if !http.is_empty() {
        out.push_str(
            "### Added per request over a bare app\n\n\"before\" = issue #13's figures (main before this work).\n\n",
        );
        out.push_str("| added per request over a bare app |");
        for (_, label) in &http {
            let _ = write!(out, " {label} before | {label} now |");
        }
        out.push_str("\n|---|");
        out.push_str(&"---:|---:|".repeat(http.len()));
        out.push('\n');
        let _ = write!(out, "| bare app (instructions per request) |");
        for (g, _) in &http {
            let _ = write!(out, " – | {} |", thousands(find(g, "bare").unwrap_or_default()));
        }
        out.push('\n');
        for (k, (name, before)) in BEFORE_ADDED.iter().enumerate() {
            let _ = write!(out, "| {name} |");
            for (g, _) in &http {
                let idx = HTTP_GROUPS.iter().position(|(hg, _)| hg == g).unwrap_or(k);
                let now = match (find(g, name), find(g, "bare")) {
                    (Some(v), Some(b)) if implausible_instructions(v, b) => {
                        format!("{FLAG} ({} < bare {})", thousands(v), thousands(b))
                    }
                    (Some(v), Some(b)) => thousands(v - b),
                    _ => "–".into(),
                };
                let _ = write!(out, " {} | {now} |", thousands(before[idx] as f64));
            }
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str("### Every variant\n\n| group | variant | before | instructions per op | added over baseline |\n|---|---|---:|---:|---:|\n");
    for c in counted {
        let v = &c.variant;
        let before = if v.group == "perf-core/record" {
            BEFORE_RECORD.iter().find(|(n, _)| *n == v.name).map(|(_, b)| thousands(*b as f64))
        } else {
            None
        };
        let base = v.baseline.as_deref().and_then(|b| find(&v.group, b).map(|x| (b, x)));
        let (figure, added) = match base {
            Some((b, x)) if implausible_instructions(c.per_op, x) => {
                (format!("{FLAG} (measured {}, below {b} {})", thousands(c.per_op), thousands(x)), "–".into())
            }
            Some((b, x)) => (thousands(c.per_op), format!("{} over {b}", thousands(c.per_op - x))),
            None => (thousands(c.per_op), "–".into()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {figure} | {added} |",
            v.group,
            v.name,
            before.unwrap_or_else(|| "–".into())
        );
    }
    out.push('\n');
    out
}

fn render_wall(wall: &[Wall]) -> String {
    if wall.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "## Wall clock, interleaved\n\n\
         `bench wall`: the same operations as above; each of 41 rounds times one batch (about 2 ms) of \
         every variant of a group in turn, starting with a different variant each round. The ratio is to \
         the group's first variant, the median of the per-round ratios (quartiles beside it); the time is \
         the variant's fastest batch, the one least disturbed by other work on the machine.\n\n\
         | group | variant | fastest batch, per op | ratio | quartiles |\n|---|---|---:|---:|---:|\n",
    );
    let mut first: BTreeMap<&str, &str> = BTreeMap::new();
    for w in wall {
        first.entry(&w.group).or_insert(&w.name);
    }
    for w in wall {
        let reference = first.get(w.group.as_str()).copied().unwrap_or_default();
        // Groups whose first variant is an unmonitored baseline (bare app, bare diesel).
        let monitored_group = reference == "bare" || reference == "diesel";
        let ratio = if monitored_group && w.name != reference && implausible_wall(w.ratio.2) {
            format!("{FLAG} ({:.3} of {reference})", w.ratio.0)
        } else if w.name == reference {
            "1 (reference)".into()
        } else {
            format!("{:.3}", w.ratio.0)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {ratio} | {:.3}–{:.3} |",
            w.group,
            w.name,
            fmt_ns(w.best_ns),
            w.ratio.1,
            w.ratio.2
        );
    }
    out.push('\n');
    out
}

fn write_doc(body: &str) -> Result<()> {
    let machine = machine();
    let date = crate::output_text("date", &["-u", "+%Y-%m-%d"]);
    let rustc = crate::output_text(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()), &["-V"]);
    let doc = format!(
        "# Benchmarks\n\nProduced by `cargo xtask bench` on {date}: {machine}, {rustc}, bench profile. \
         All tables come from that one run. Compare ratios and instruction counts, not absolute times. \
         A monitored variant measured cheaper than its unmonitored baseline is shown as \"{FLAG}\" \
         instead of a result.\n\n{body}"
    );
    // Sections written by hand (`## Isolation…`) are kept.
    let path = root().join("BENCHMARKS.md");
    let kept = std::fs::read_to_string(&path)
        .ok()
        .and_then(|old| old.find("\n## Isolation").map(|i| old[i + 1..].to_owned()))
        .unwrap_or_default();
    std::fs::write(path, format!("{}\n{kept}", doc.trim_end()))?;
    Ok(())
}

/// `lscpu`'s model name and CPU count.
pub(crate) fn machine() -> String {
    let text =
        Command::new("lscpu").output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim_start_matches(':').trim().to_owned()))
            .unwrap_or_else(|| "?".into())
    };
    format!("{} ({} cores)", field("Model name"), field("CPU(s)"))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

fn collect(dir: &Path, since: Option<SystemTime>, out: &mut Vec<Measured>) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            let bench_file = path.join("benchmark.json");
            let modified = std::fs::metadata(&bench_file)?.modified()?;
            if since.is_some_and(|s| modified < s) {
                continue;
            }
            let bench: serde_json::Value = serde_json::from_slice(&std::fs::read(&bench_file)?)?;
            let est: serde_json::Value = serde_json::from_slice(&std::fs::read(path.join("estimates.json"))?)?;
            let group = bench["group_id"].as_str().unwrap_or_default().to_string();
            let mut function = bench["function_id"].as_str().unwrap_or_default().to_string();
            if let Some(v) = bench["value_str"].as_str() {
                function = format!("{function}/{v}");
            }
            let median = &est["median"];
            if let Some(m) = median["point_estimate"].as_f64() {
                let ci = &median["confidence_interval"];
                let lo = ci["lower_bound"].as_f64().unwrap_or(m);
                let hi = ci["upper_bound"].as_f64().unwrap_or(m);
                out.push(Measured { group, function, median_ns: m, ci_ns: (lo, hi) });
            }
        } else if path.file_name().is_none_or(|n| n != "base" && n != "report") {
            collect(&path, since, out)?;
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

/// The unmonitored baseline a criterion function is checked against, if any.
fn criterion_baseline(group: &str, function: &str) -> Option<String> {
    match group {
        "perf-http/request" if !function.starts_with("bare/") && !function.starts_with("actix-web-prom/") => {
            param(function).map(|p| format!("bare/{p}"))
        }
        "perf-db/select_by_pk" if function.starts_with("perfkit") => Some("diesel".into()),
        _ => None,
    }
}

fn render_criterion(found: &[Measured]) -> String {
    let mut groups: BTreeMap<&str, Vec<&Measured>> = BTreeMap::new();
    for m in found {
        groups.entry(&m.group).or_default().push(m);
    }
    let mut out = String::from(
        "## Criterion (wall clock, one run)\n\n\
         Criterion medians; each function is measured after the previous one, so these ratios carry \
         order effects the interleaved table above does not. In each group, `perfkit*` rows are ours and \
         the others are the peers a user would pick instead.\n\n\
         | bench | our median | peer | peer median | ratio (ours/peer) |\n|---|---:|---|---:|---:|\n",
    );
    for (group, mut items) in groups {
        items.sort_by(|a, b| a.function.cmp(&b.function));
        let ours: Vec<&Measured> = items.iter().copied().filter(|m| is_ours(group, &m.function)).collect();
        let peers: Vec<&Measured> = items.iter().copied().filter(|m| !is_ours(group, &m.function)).collect();
        for o in &ours {
            // A parameterised bench (`name/param`) is compared with peers of
            // the same parameter only.
            let matching: Vec<&&Measured> = peers.iter().filter(|p| param(&p.function) == param(&o.function)).collect();
            let baseline =
                criterion_baseline(group, &o.function).and_then(|b| items.iter().copied().find(|m| m.function == b));
            let mine = match baseline {
                Some(b) if implausible_criterion(o, b) => {
                    format!("{FLAG} ({}, below {} {})", fmt_ns(o.median_ns), b.function, fmt_ns(b.median_ns))
                }
                _ => fmt_ns(o.median_ns),
            };
            let refused = mine.starts_with(FLAG);
            if matching.is_empty() {
                let _ = writeln!(out, "| {group}/{} | {mine} | – | – | – |", o.function);
            }
            for p in matching {
                let ratio = if refused { "–".into() } else { format!("{:.2}", o.median_ns / p.median_ns) };
                let _ = writeln!(
                    out,
                    "| {group}/{} | {mine} | {} | {} | {ratio} |",
                    o.function,
                    p.function,
                    fmt_ns(p.median_ns),
                );
            }
        }
        if ours.is_empty() {
            for p in &peers {
                let _ = writeln!(out, "| {group}/{} | {} | – | – | – |", p.function, fmt_ns(p.median_ns));
            }
        }
    }
    out.push('\n');
    out
}

/// Ours: ids starting with `perfkit`.
fn is_ours(_group: &str, function: &str) -> bool {
    function.starts_with("perfkit")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(f: &str, ns: f64) -> Measured {
        Measured { group: "g".into(), function: f.into(), median_ns: ns, ci_ns: (ns * 0.99, ns * 1.01) }
    }

    #[test]
    fn pairs_ours_with_every_peer() {
        let t = render_criterion(&[m("perfkit_x", 20.0), m("moka", 40.0), m("dashmap", 10.0)]);
        assert!(t.contains("| g/perfkit_x | 20.0 ns | moka | 40.0 ns | 0.50 |"), "{t}");
        assert!(t.contains("| g/perfkit_x | 20.0 ns | dashmap | 10.0 ns | 2.00 |"), "{t}");
    }

    #[test]
    fn parameterised_benches_pair_with_the_same_parameter() {
        let t = render_criterion(&[m("perfkit/a", 20.0), m("bare/a", 10.0), m("bare/b", 40.0)]);
        assert!(t.contains("| g/perfkit/a | 20.0 ns | bare/a | 10.0 ns | 2.00 |"), "{t}");
        assert!(!t.contains("bare/b |"), "{t}");
    }

    #[test]
    fn a_monitored_request_faster_than_bare_is_flagged_not_published() {
        let mut fast = m("perfkit-disabled/static", 1380.0);
        let mut bare = m("bare/static", 1670.0);
        fast.group = "perf-http/request".into();
        bare.group = "perf-http/request".into();
        let t = render_criterion(&[fast, bare]);
        assert!(t.contains(FLAG), "{t}");
        assert!(!t.contains("| 0.83 |"), "{t}");
    }

    #[test]
    fn a_cheaper_median_is_flagged_even_inside_wide_confidence_intervals() {
        let ours = Measured { ci_ns: (1_000.0, 9_000.0), ..m("perfkit/items_42", 4_170.0) };
        let bare = Measured { ci_ns: (2_000.0, 9_000.0), ..m("bare/items_42", 5_190.0) };
        assert!(implausible_criterion(&ours, &bare));
        assert!(!implausible_criterion(&m("perfkit/x", 5_150.0), &m("bare/x", 5_190.0)), "within 2 %");
    }

    #[test]
    fn instruction_counts_below_baseline_beyond_slack_are_implausible() {
        assert!(!implausible_instructions(15_000.0, 15_010.0), "within slack");
        assert!(implausible_instructions(14_900.0, 15_000.0));
        assert!(!implausible_instructions(15_098.0, 15_000.0));
    }

    #[test]
    fn the_added_over_bare_table_subtracts_the_bare_app() {
        let listed = |name: &str, baseline: Option<&str>| callgrind::Listed {
            group: "perf-http/request/hello".into(),
            name: name.into(),
            baseline: baseline.map(Into::into),
            n1: 1,
            n2: 5,
        };
        let counted = vec![
            callgrind::Counted { variant: listed("bare", None), per_op: 10_000.0 },
            callgrind::Counted { variant: listed("perfkit", Some("bare")), per_op: 13_351.0 },
            callgrind::Counted { variant: listed("perfkit-disabled", Some("bare")), per_op: 9_000.0 },
        ];
        let t = render_instructions(&counted);
        assert!(t.contains("| perfkit | 3,351 | 3,351 |"), "{t}");
        assert!(t.contains(&format!("| perfkit-disabled | 98 | {FLAG} (9,000 < bare 10,000) |")), "{t}");
    }

    #[test]
    fn results_survive_a_round_trip_through_their_file() {
        let v = callgrind::Listed { group: "g".into(), name: "v".into(), baseline: Some("b".into()), n1: 2, n2: 10 };
        let counted = vec![callgrind::Counted { variant: v, per_op: 12.5 }];
        assert_eq!(read_counts(&write_counts(&counted)).unwrap(), counted);
        let w = parse_wall("g\tbare\t1500.5\t1.000\t1.000\t1.000\n").unwrap();
        assert_eq!(w[0].best_ns, 1500.5);
    }

    #[test]
    fn options_parse_and_only_a_full_run_is_complete() {
        let o = Options::parse(&["--filter".into(), "perf-db".into()]).unwrap();
        assert!(o.keeps("perf-db/select_by_pk") && !o.keeps("perf-core/record") && !o.complete());
        assert!(Options::parse(&[]).unwrap().complete());
        assert!(Options::parse(&["--bogus".into()]).is_err());
    }
}
