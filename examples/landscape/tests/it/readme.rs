//! The README's "from the focused crates" snippet is the compiled `focused`
//! example, line for line.

/// Lines with whitespace removed, so indentation doesn't count.
fn squashed(code: &str) -> Vec<String> {
    code.lines().map(|l| l.split_whitespace().collect::<String>()).filter(|l| !l.is_empty()).collect()
}

#[test]
fn readme_focused_snippet_is_the_focused_example() {
    let readme = include_str!("../../../../README.md");
    let section = readme.split("### From the focused crates").nth(1).expect("README section missing");
    let snippet = section.split("```rust").nth(1).unwrap().split("```").next().unwrap();
    let example = include_str!("../../examples/focused.rs");
    let body = example.split("// --- the README's lines start here ---").nth(1).unwrap();
    let body = body.split("// --- and end here ---").next().unwrap();
    // `rustfmt` splits `.bind(..)?.run().await?` over three lines in the example.
    let body = squashed(body).join("\n").replace("?\n.run()\n.await?;", "?.run().await?;");
    assert_eq!(squashed(snippet).join("\n"), body);
}
