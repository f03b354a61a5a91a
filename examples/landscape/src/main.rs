//! The landscape demo service.
fn main() {}
