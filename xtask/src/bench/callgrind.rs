//! Instruction counts under `valgrind --tool=callgrind`: each variant of the
//! `bench` binary runs twice, with loops of `n1` and `n2` operations, and
//! collects only inside its `measured_loop`; the cost of one operation is
//! `(I(n2) - I(n1)) / (n2 - n1)`, so setup, warm-up and the loop's fixed
//! cost cancel out.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use anyhow::{Context, Result, bail};

/// A variant as `bench list` describes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Listed {
    pub(crate) group: String,
    pub(crate) name: String,
    pub(crate) baseline: Option<String>,
    pub(crate) n1: u64,
    pub(crate) n2: u64,
}

/// A variant's measured cost.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Counted {
    pub(crate) variant: Listed,
    /// Instructions per operation.
    pub(crate) per_op: f64,
}

/// Parses the output of `bench list`.
pub(crate) fn parse_list(text: &str) -> Result<Vec<Listed>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let [group, name, baseline, n1, n2] = f.as_slice() else { bail!("bad list line {line:?}") };
            Ok(Listed {
                group: (*group).to_owned(),
                name: (*name).to_owned(),
                baseline: (*baseline != "-").then(|| (*baseline).to_owned()),
                n1: n1.parse().with_context(|| format!("bad n1 in {line:?}"))?,
                n2: n2.parse().with_context(|| format!("bad n2 in {line:?}"))?,
            })
        })
        .collect()
}

/// The instructions a callgrind output file counted: its `totals:` line
/// (or, failing that, `summary:`), first event (Ir).
pub(crate) fn parse_total(text: &str) -> Result<u64> {
    let field = |prefix: &str| {
        text.lines().find_map(|l| l.strip_prefix(prefix)).and_then(|rest| rest.split_whitespace().next())
    };
    let value = field("totals:").or_else(|| field("summary:")).context("no totals or summary line")?;
    value.parse().with_context(|| format!("bad instruction count {value:?}"))
}

/// Cost per operation from two loop lengths and their counts.
pub(crate) fn per_op(n1: u64, i1: u64, n2: u64, i2: u64) -> Result<f64> {
    if n2 <= n1 {
        bail!("the second loop ({n2}) must be longer than the first ({n1})");
    }
    Ok((i2 as f64 - i1 as f64) / (n2 - n1) as f64)
}

/// Runs one variant with a loop of `n` under callgrind and returns the
/// instructions counted on the main thread. Each thread gets its own output
/// file (`--separate-threads`), so a background thread of a peer library
/// cannot leak into the figure.
fn count(bin: &Path, dir: &Path, v: &Listed, n: u64, tag: usize) -> Result<u64> {
    let out = dir.join(format!("callgrind.{tag}.{n}"));
    let mut c = Command::new("valgrind");
    c.args(["--tool=callgrind", "--collect-atstart=no", "--toggle-collect=*measured_loop*", "--separate-threads=yes"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(bin)
        .args(["run", &v.group, &v.name, &n.to_string()]);
    let output = c.output().with_context(|| format!("could not start {c:?}"))?;
    if !output.status.success() {
        bail!("{c:?} failed with {}: {}", output.status, String::from_utf8_lossy(&output.stderr));
    }
    let main_thread = PathBuf::from(format!("{}-01", out.display()));
    let file = if main_thread.exists() { main_thread } else { out.clone() };
    let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    parse_total(&text).with_context(|| format!("in {}", file.display()))
}

/// Counts every variant, `jobs` valgrind processes at a time, in list order.
pub(crate) fn count_all(bin: &Path, dir: &Path, variants: &[Listed], jobs: usize) -> Result<Vec<Counted>> {
    std::fs::create_dir_all(dir)?;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Counted>>>> = Mutex::new(variants.iter().map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(v) = variants.get(k) else { break };
                    let r = (|| {
                        let i1 = count(bin, dir, v, v.n1, k)?;
                        let i2 = count(bin, dir, v, v.n2, k)?;
                        Ok(Counted { variant: v.clone(), per_op: per_op(v.n1, i1, v.n2, i2)? })
                    })();
                    eprintln!(
                        "  {} {}: {}",
                        v.group,
                        v.name,
                        match &r {
                            Ok(c) => format!("{:.1} instructions per op", c.per_op),
                            Err(e) => format!("failed: {e:#}"),
                        }
                    );
                    results.lock().unwrap_or_else(std::sync::PoisonError::into_inner)[k] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .map(|r| r.context("a variant was not run")?)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Two real callgrind files (valgrind 3.19, main thread only) of
    // `bench run perf-core/record hdrhistogram <n>` from a debug build, n = 100 and 500.
    const RUN_100: &str = include_str!("testdata/callgrind.out.100-01");
    const RUN_500: &str = include_str!("testdata/callgrind.out.500-01");

    #[test]
    fn reads_the_total_of_a_captured_callgrind_file() {
        assert_eq!(parse_total(RUN_100).unwrap(), 36_543);
        assert_eq!(parse_total(RUN_500).unwrap(), 182_543);
    }

    #[test]
    fn per_op_cost_is_the_difference_over_the_extra_operations() {
        let (i1, i2) = (parse_total(RUN_100).unwrap(), parse_total(RUN_500).unwrap());
        assert_eq!(per_op(100, i1, 500, i2).unwrap(), 365.0);
    }

    #[test]
    fn totals_win_over_summary_and_summary_is_the_fallback() {
        assert_eq!(parse_total("events: Ir\nsummary: 10\ntotals: 12 3\n").unwrap(), 12);
        assert_eq!(parse_total("events: Ir\nsummary: 10\n").unwrap(), 10);
        assert!(parse_total("events: Ir\n").is_err());
    }

    #[test]
    fn loops_must_grow() {
        assert!(per_op(500, 1, 500, 2).is_err());
    }

    #[test]
    fn list_lines_name_their_baseline() {
        let got = parse_list("g\tbare\t-\t10\t50\ng\tperfkit\tbare\t10\t50\n").unwrap();
        assert_eq!(got[0].baseline, None);
        assert_eq!(got[1].baseline.as_deref(), Some("bare"));
        assert_eq!((got[1].n1, got[1].n2), (10, 50));
        assert!(parse_list("g\tbare\n").is_err());
    }
}
