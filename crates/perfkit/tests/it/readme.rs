//! The README's quickstart is the compiled `quickstart` example's body,
//! line for line, and keeps its promise of at most 15 lines.

/// Lines with whitespace removed, so indentation doesn't count.
fn squashed(code: &str) -> Vec<String> {
    code.lines().map(|l| l.split_whitespace().collect::<String>()).filter(|l| !l.is_empty()).collect()
}

#[test]
fn readme_quickstart_is_the_quickstart_example() {
    let readme = include_str!("../../../../README.md");
    let section = readme.split("## Add perfkit to your own actix-web service").nth(1).expect("README section missing");
    let snippet = section.split("```rust").nth(1).unwrap().split("```").next().unwrap();
    let lines = squashed(snippet);
    assert!(lines.len() <= 15, "the README promises at most 15 lines, has {}", lines.len());
    let example = include_str!("../../examples/quickstart.rs");
    let body = example.split("// --- the README's lines start here ---").nth(1).unwrap();
    let body = body.split("// --- and end here ---").next().unwrap();
    // `rustfmt` splits `.bind(..)?.run().await?` over three lines in the example.
    let body = squashed(body).join("\n").replace("?\n.run()\n.await?;", "?.run().await?;");
    assert_eq!(lines.join("\n"), body);
}
