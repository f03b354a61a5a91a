//! Store benches.
fn main() {}
