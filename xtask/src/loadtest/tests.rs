use super::*;

fn args(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn options_have_defaults_quick_presets_and_explicit_overrides() {
    let d = Options::parse(&[]).unwrap();
    assert_eq!((d.rounds, d.seconds, d.connections, d.soak, d.minutes), (10, 2, 4, false, 10));
    assert!(d.writes());
    let q = Options::parse(&args("--quick")).unwrap();
    assert_eq!((q.rounds, q.seconds), (3, 1));
    assert!(!q.writes(), "a smoke run never writes BENCHMARKS.md");
    let o = Options::parse(&args("--quick --rounds 7 --seconds 4 --connections 16 --no-write")).unwrap();
    assert_eq!((o.rounds, o.seconds, o.connections, o.no_write), (7, 4, 16, true));
    assert!(!o.writes());
    let s = Options::parse(&args("--soak --minutes 3")).unwrap();
    assert!(s.soak && s.writes());
    assert_eq!(s.minutes, 3);
}

#[test]
fn bad_options_are_refused() {
    for bad in [
        "--rounds",
        "--rounds x",
        "--rounds 0",
        "--seconds 601",
        "--connections 0",
        "--minutes 5",
        "--soak --minutes 0",
        "--fast",
    ] {
        assert!(Options::parse(&args(bad)).is_err(), "{bad} was accepted");
    }
}

#[test]
fn each_round_starts_with_the_next_variant() {
    assert_eq!(round_order(0, 3), [0, 1, 2]);
    assert_eq!(round_order(1, 3), [1, 2, 0]);
    assert_eq!(round_order(5, 3), [2, 0, 1]);
    // Over n rounds every variant goes first once.
    let firsts: Vec<usize> = (0..5).map(|r| round_order(r, 5)[0]).collect();
    assert_eq!(firsts, [0, 1, 2, 3, 4]);
}

#[test]
fn ratios_are_taken_per_round_then_summarised() {
    // Throughput drifts by 10x across rounds; each round's ratio is 0.9 or 0.8.
    let base = [1_000.0, 10_000.0, 5_000.0, 2_000.0, 8_000.0];
    let ours = [900.0, 8_000.0, 4_500.0, 1_800.0, 6_400.0];
    let (q25, q50, q75) = ratio_quartiles(&ours, &base);
    assert!((q50 - 0.9).abs() < 1e-9, "{q50}");
    assert!((q25 - 0.8).abs() < 1e-9 && (q75 - 0.9).abs() < 1e-9, "{q25} {q75}");
    // The ratio of medians would be 5,000 over 4,500: not what is reported.
    assert!((ratio_quartiles(&base, &base).1 - 1.0).abs() < 1e-12);
    assert!(quartiles(&[]).1.is_nan());
}

#[test]
fn percentiles_use_the_nearest_rank() {
    let v: Vec<u32> = (1..=100).collect();
    assert_eq!(percentile(&v, 0.5), 50.0);
    assert_eq!(percentile(&v, 0.99), 99.0);
    assert_eq!(percentile(&v, 1.0), 100.0);
    assert_eq!(percentile(&[7], 0.99), 7.0);
    assert!(percentile(&[], 0.5).is_nan());
}

fn row(group: &str, variant: &str, rps: f64, ratio: (f64, f64, f64)) -> Row {
    Row {
        group: group.into(),
        variant: variant.into(),
        rps,
        ratio,
        p50_us: 123.0,
        p99_us: 4_567.0,
        cpu: 0.99,
        client_cpu: 0.5,
        errors: 0,
        rounds: 10,
    }
}

#[test]
fn the_report_renders_every_table_with_its_figures() {
    let http =
        [row("/hello", "bare", 41_234.4, (1.0, 1.0, 1.0)), row("/hello", "perfkit", 38_000.0, (0.91, 0.925, 0.94))];
    let demo = [
        row("mix", "monitoring off", 3_100.0, (1.0, 1.0, 1.0)),
        row("mix", "monitoring on", 3_000.0, (0.95, 0.97, 0.99)),
    ];
    let scale = [ScaleRow {
        endpoints: 1_000,
        series: 1_000,
        accounted_bytes: 54_983_546,
        empty_bytes: 1_962_656,
        documents: DOCUMENTS.iter().map(|d| ((*d).to_owned(), 2_500.0, 9_000.0)).collect(),
        samples: 30,
    }];
    let text = render_report("`cargo xtask loadtest` on a machine.", &http, &demo, &scale);
    assert!(text.starts_with("## Load test\n\n`cargo xtask loadtest` on a machine."), "{text}");
    assert!(
        text.contains("| /hello | perfkit | 38,000 | 0.925 [0.910, 0.940] | 0.123 ms | 4.567 ms | 99 % | 50 % | 0 |"),
        "{text}"
    );
    assert!(text.contains("| mix | monitoring on | 3,000 | 0.970 [0.950, 0.990] |"), "{text}");
    assert!(text.contains("the 10 per-round throughput ratios"), "{text}");
    // (54,983,546 - 1,962,656) / 1,000 = 53,020.89 bytes per series.
    assert!(
        text.contains(
            "| 1,000 | 2.500 ms / 9.000 ms | 2.500 ms / 9.000 ms | 2.500 ms / 9.000 ms | 53,021 | 54,983,546 |"
        ),
        "{text}"
    );
    assert!(text.contains("30 sequential requests"), "{text}");
    assert_eq!(text.matches("\n## ").count(), 0, "one top-level heading, so the section is replaced whole");
}

fn soak(samples: &[(u64, u64)]) -> Soak {
    Soak {
        minutes: 10,
        warm_up_secs: 60,
        samples: samples.to_vec(),
        responses: 1_000,
        errors: 0,
        throughput: 100.0,
        p50_us: 1_000.0,
        p99_us: 2_000.0,
    }
}

#[test]
fn the_soak_compares_the_end_with_the_rss_after_warm_up() {
    // Start-up growth before the warm-up does not count.
    let ok = soak(&[(0, 10_000), (55, 19_000), (60, 20_000), (300, 20_800), (600, 21_000)]);
    assert_eq!((ok.warm_rss(), ok.end_rss()), (Some(20_000), Some(21_000)));
    assert!((ok.growth_pct() - 5.0).abs() < 1e-9);
    assert!(ok.passed(), "exactly 5 % passes");
    let grown = soak(&[(60, 20_000), (600, 21_001)]);
    assert!(!grown.passed());
    assert!(!soak(&[(0, 10_000), (30, 10_000)]).passed(), "no sample after warm-up fails");
    let text = render_soak("header", &ok);
    assert!(text.starts_with("## Load test: soak\n\nheader\n"), "{text}");
    assert!(text.contains("| 20,000 KiB | 21,000 KiB | 21,000 KiB | 5.0 % | pass |"), "{text}");
    assert!(text.contains("| 5 | 20,800 KiB |") && text.contains("| 10 | 21,000 KiB |"), "{text}");
    assert!(render_soak("h", &grown).contains("| FAIL |"));
    assert_eq!((soak_warm_up(600), soak_warm_up(120), soak_warm_up(60)), (60, 24, 12));
}

#[test]
fn a_section_is_replaced_in_place_and_the_rest_is_kept() {
    let doc =
        "# Benchmarks\n\nintro\n\n## Isolation\n\nkept\n\n## Load test\n\nold figures\nmore\n\n## After\n\nalso kept\n";
    let new = replace_section(doc, "## Load test", "## Load test\n\nnew figures\n");
    assert_eq!(
        new,
        "# Benchmarks\n\nintro\n\n## Isolation\n\nkept\n\n## Load test\n\nnew figures\n\n## After\n\nalso kept\n"
    );
    // Replacing again changes nothing; a sibling heading sharing the prefix is its own section.
    assert_eq!(replace_section(&new, "## Load test", "## Load test\n\nnew figures"), new);
    let with_soak = replace_section(&new, "## Load test: soak", "## Load test: soak\n\nrss");
    assert_eq!(with_soak, format!("{}\n\n## Load test: soak\n\nrss\n", new.trim_end()));
    let again = replace_section(&with_soak, "## Load test", "## Load test\n\nthird");
    assert!(
        again.contains("## Load test\n\nthird\n\n## After") && again.ends_with("## Load test: soak\n\nrss\n"),
        "{again}"
    );
    // The last section is replaced to the end of the file.
    assert_eq!(
        replace_section(&with_soak, "## Load test: soak", "## Load test: soak\n\nless"),
        format!("{}\n\n## Load test: soak\n\nless\n", new.trim_end())
    );
    assert_eq!(replace_section("", "## Load test", "## Load test\n\nx"), "## Load test\n\nx\n");
}

#[test]
fn server_figures_are_parsed_from_their_lines() {
    assert_eq!(parse_scale_line("scale\t10\t10\t2500000\t1962656").unwrap(), (10, 10, 2_500_000, 1_962_656));
    assert!(parse_scale_line("scale\t10\t10").is_err());
    assert!(parse_scale_line("other\t1\t2\t3\t4").is_err());
    assert_eq!(parse_vm_rss("Name:\tx\nVmPeak:\t 9 kB\nVmRSS:\t   20480 kB\n"), Some(20_480));
    assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    let row = ScaleRow {
        endpoints: 10,
        series: 10,
        accounted_bytes: 3_000,
        empty_bytes: 1_000,
        documents: vec![],
        samples: 5,
    };
    assert_eq!(row.bytes_per_series(), 200.0);
}

#[test]
fn the_demo_mix_creates_nothing_and_covers_its_routes() {
    let mix: Vec<String> = demo_mix().iter().map(|r| String::from_utf8_lossy(r).into_owned()).collect();
    assert!(mix.iter().all(|r| !r.starts_with("POST ")));
    for route in [
        "/report?naive=true ",
        "/report ",
        "/api/dashboard ",
        "PUT /api/projects/",
        "/api/plants?search=",
        "/api/projects/999999 ",
        "/health ",
    ] {
        assert!(mix.iter().any(|r| r.contains(route)), "{route} missing");
    }
}

#[test]
fn rows_whose_client_set_the_pace_are_marked() {
    let mut bound = row("/hello", "bare", 41_000.0, (1.0, 1.0, 1.0));
    bound.client_cpu = 0.93;
    let text = render_report("header", &[bound, row("/hello", "perfkit", 40_000.0, (0.9, 0.95, 1.0))], &[], &[]);
    assert!(text.contains("| 93 % ⚠ client-bound | 0 |"), "{text}");
    assert!(text.contains("| 50 % | 0 |"), "{text}");
    assert_eq!(text.matches("⚠ client-bound |").count(), 1, "{text}");
}

#[test]
fn a_monitored_server_clearly_faster_than_its_baseline_is_flagged() {
    let rows = [
        row("mix", "monitoring off", 8_500.0, (1.0, 1.0, 1.0)),
        row("mix", "monitoring on", 9_000.0, (0.973, 1.125, 1.171)),
        row("/hello", "perfkit-disabled", 9_000.0, (0.99, 1.02, 1.05)),
        row("/hello", "actix-web-prom", 9_000.0, (1.0, 1.2, 1.3)),
    ];
    let text = render_report("header", &[], &rows, &[]);
    assert!(text.contains("| ⚠ implausible: 1.125 [0.973, 1.171], faster than its baseline |"), "{text}");
    assert!(text.contains("| 1.020 [0.990, 1.050] |"), "within the slack: {text}");
    assert!(text.contains("| 1.200 [1.000, 1.300] |"), "a peer is not perfkit's to flag: {text}");
    assert_eq!(text.matches("⚠ implausible").count(), 1, "{text}");
}
