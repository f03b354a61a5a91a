//! The README's "add perfkit to your own service" snippet is the compiled
//! quickstart example, line for line.

/// Lines with whitespace removed, so formatting differences don't count.
fn squashed(code: &str) -> Vec<String> {
    code.lines().map(|l| l.split_whitespace().collect::<String>()).filter(|l| !l.is_empty()).collect()
}

#[test]
fn readme_snippet_is_the_quickstart_example() {
    let readme = include_str!("../../../../README.md");
    let section = readme.split("## Add perfkit to your own actix-web service").nth(1).expect("README section missing");
    let snippet = section.split("```rust").nth(1).unwrap().split("```").next().unwrap();
    let lines = squashed(snippet);
    assert!(lines.len() <= 15, "the README promises at most 15 lines, has {}", lines.len());
    let example = squashed(include_str!("../../examples/quickstart.rs"));
    let joined = example.join("\n");
    // `rustfmt` splits `.bind(..)?.run().await?` over three lines in the example.
    let joined = joined.replace("?\n.run()\n.await?;", "?.run().await?;");
    let example: Vec<&str> = joined.lines().collect();
    let mut at = 0;
    for line in &lines {
        let found = example[at..].iter().position(|l| l == line).unwrap_or_else(|| {
            panic!("README line {line:?} is not in examples/quickstart.rs (in order)");
        });
        at += found + 1;
    }
}
