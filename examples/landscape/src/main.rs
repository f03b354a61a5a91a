//! The landscape demo service: `cargo run --release -p landscape`, then open
//! the dashboard URL it logs. See the crate docs for the environment.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let settings = landscape::Settings::from_env()?;
    landscape::run(settings).await
}
