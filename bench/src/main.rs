//! Benchmark operations of perfkit and its peers, run one at a time.
//!
//! `cargo xtask bench` drives this binary; run by hand it takes:
//!
//! - `list`: one line per variant, `group<TAB>variant<TAB>baseline<TAB>n1<TAB>n2`
//!   (`-` when a variant has no baseline), where `n1` and `n2` are the two
//!   loop lengths the instruction count is differenced over;
//! - `run <group> <variant> <n>`: builds the variant, warms it up, then runs
//!   the operation `n` times inside [`measured_loop`], the one function
//!   callgrind collects in (`--toggle-collect=*measured_loop*`);
//! - `wall [filter] [--rounds R]`: wall-clock medians, interleaved: each
//!   round times one short batch of every variant of a group in turn (starting
//!   with a different variant each round), and a variant's ratio to the
//!   group's first variant is the median of the per-round ratios.
//!   Lines: `group<TAB>variant<TAB>fastest batch's ns per op<TAB>median ratio<TAB>q25<TAB>q75`.
//!
//! - `serve <app> <port>` and `serve-scale <endpoints> <port>`: real servers
//!   over TCP for `cargo xtask loadtest`, see [`serve`].
//!
//! Every input is derived from the loop index, so two runs do the same work.
#![allow(clippy::print_stdout)]

mod cache;
mod db;
mod http;
mod record;
mod serve;

use std::{hint::black_box, time::Instant};

use anyhow::{Context, Result, bail};

/// One operation under test, called with the loop index.
type Op = Box<dyn FnMut(u64)>;

/// A benchmarked variant: how to build its operation and what it is compared with.
struct Variant {
    /// `<crate>/<operation>[/<input>]`; variants of a group are measured side by side.
    group: &'static str,
    /// Peers and baselines have plain names; perfkit's start with `perfkit`.
    name: &'static str,
    /// The unmonitored variant this one adds work to, if any: measuring it
    /// cheaper than its baseline is implausible and flagged by xtask.
    baseline: Option<&'static str>,
    /// Iterations run before measuring (covers rotating inputs once).
    warm_up: u64,
    /// The shorter of the two measured loop lengths; the longer is 5x.
    n1: u64,
    /// Builds the operation (setup is not measured).
    make: Box<dyn Fn() -> Result<Op>>,
}

fn variants() -> Vec<Variant> {
    let mut all = Vec::new();
    all.extend(http::variants());
    all.extend(record::variants());
    all.extend(cache::variants());
    all.extend(db::variants());
    all
}

/// The loop callgrind measures: collection is on only while this function
/// is on the stack, so setup and warm-up cost nothing.
#[inline(never)]
fn measured_loop(start: u64, n: u64, op: &mut dyn FnMut(u64)) {
    for i in start..start + n {
        op(black_box(i));
    }
}

/// The same loop outside the collected function.
#[inline(never)]
fn warm_up_loop(n: u64, op: &mut dyn FnMut(u64)) {
    for i in 0..n {
        op(black_box(i));
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("list") => {
            for v in variants() {
                println!("{}\t{}\t{}\t{}\t{}", v.group, v.name, v.baseline.unwrap_or("-"), v.n1, v.n1 * 5);
            }
            Ok(())
        }
        Some("run") => {
            let [_, group, name, n] = args.as_slice() else { bail!("usage: bench run <group> <variant> <n>") };
            let n: u64 = n.parse().with_context(|| format!("bad loop length {n:?}"))?;
            let all = variants();
            let v = all
                .iter()
                .find(|v| v.group == group && v.name == name)
                .with_context(|| format!("no variant {group} {name}"))?;
            let mut op = (v.make)()?;
            warm_up_loop(v.warm_up, &mut op);
            measured_loop(v.warm_up, n, &mut op);
            Ok(())
        }
        Some("wall") => {
            let mut filter = "";
            let mut rounds = 41usize;
            let mut rest = args[1..].iter();
            while let Some(a) = rest.next() {
                if a == "--rounds" {
                    let r = rest.next().context("--rounds needs a number")?;
                    rounds = r.parse().with_context(|| format!("bad round count {r:?}"))?;
                } else {
                    filter = a;
                }
            }
            wall(filter, rounds.max(1))
        }
        Some("serve") => {
            let [_, app, port] = args.as_slice() else { bail!("usage: bench serve <app> <port>") };
            serve::serve(app, port.parse().with_context(|| format!("bad port {port:?}"))?)
        }
        Some("serve-scale") => {
            let [_, n, port] = args.as_slice() else { bail!("usage: bench serve-scale <endpoints> <port>") };
            let n = n.parse().with_context(|| format!("bad endpoint count {n:?}"))?;
            serve::serve_scale(n, port.parse().with_context(|| format!("bad port {port:?}"))?)
        }
        _ => bail!(
            "usage: bench list | run <group> <variant> <n> | wall [filter] [--rounds R] | serve <app> <port> | serve-scale <endpoints> <port>"
        ),
    }
}

/// Interleaved wall-clock rounds for every group whose name contains `filter`.
fn wall(filter: &str, rounds: usize) -> Result<()> {
    let all = variants();
    let mut groups: Vec<&'static str> = all.iter().map(|v| v.group).filter(|g| g.contains(filter)).collect();
    groups.dedup();
    for group in groups {
        let members: Vec<&Variant> = all.iter().filter(|v| v.group == group).collect();
        let mut ops = Vec::new();
        for v in &members {
            let mut op = (v.make)()?;
            warm_up_loop(v.warm_up, &mut op);
            ops.push(op);
        }
        // One batch size for the whole group, about 2 ms of the first variant:
        // short enough that most batches run without being preempted.
        let mut batch = 16u64;
        loop {
            let t = Instant::now();
            warm_up_loop(batch, &mut ops[0]);
            if t.elapsed().as_micros() >= 2_000 || batch >= 1 << 24 {
                break;
            }
            batch *= 2;
        }
        let mut per_op: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); ops.len()];
        let mut index = members[0].warm_up;
        for round in 0..rounds {
            for k in 0..ops.len() {
                let which = (round + k) % ops.len();
                let t = Instant::now();
                measured_loop(index, batch, &mut ops[which]);
                per_op[which].push(t.elapsed().as_nanos() as f64 / batch as f64);
            }
            index += batch;
        }
        for (k, v) in members.iter().enumerate() {
            let ratios: Vec<f64> = (0..rounds).map(|r| per_op[k][r] / per_op[0][r]).collect();
            let (q25, q50, q75) = quartiles(&ratios);
            // Interference only ever adds time, so the fastest batch is the
            // variant's least disturbed figure.
            let fastest = per_op[k].iter().copied().fold(f64::INFINITY, f64::min);
            println!("{}\t{}\t{fastest:.1}\t{q50:.3}\t{q25:.3}\t{q75:.3}", group, v.name);
        }
    }
    Ok(())
}

/// Lower quartile, median and upper quartile (nearest rank).
fn quartiles(xs: &[f64]) -> (f64, f64, f64) {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v.get((v.len().saturating_sub(1) as f64 * q).round() as usize).copied().unwrap_or(f64::NAN);
    (at(0.25), at(0.5), at(0.75))
}
