//! Rebuilds the service when a migration changes (the migrations are embedded).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
