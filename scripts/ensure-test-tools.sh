#!/usr/bin/env bash
# Installs the external tools the test suites call, only when they are missing.
# Idempotent: a second run does nothing.
#
#   promtool (Debian package `prometheus`): perf-http checks its /metrics output with it.
#   chromium (Debian package `chromium`): the landscape demo's dashboard test drives it headless.
#   the nightly toolchain and cargo-fuzz (crates.io): `cargo xtask fuzz` runs the targets in fuzz/.
set -euo pipefail

if ! command -v promtool >/dev/null 2>&1; then
    echo "ensure-test-tools: promtool missing, installing the prometheus package" >&2
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        SUDO="sudo"
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus
fi

promtool --version >/dev/null
echo "ensure-test-tools: promtool $(promtool --version 2>&1 | head -n1 | awk '{print $3}') ready" >&2

if [ ! -x /usr/bin/chromium ] && ! command -v chromium >/dev/null 2>&1; then
    echo "ensure-test-tools: chromium missing, installing the chromium package" >&2
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        SUDO="sudo"
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
fi

chromium --version >/dev/null 2>&1 || /usr/bin/chromium --version >/dev/null
echo "ensure-test-tools: $(chromium --version 2>/dev/null || /usr/bin/chromium --version) ready" >&2

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "ensure-test-tools: nightly toolchain missing, installing it (minimal profile)" >&2
    rustup toolchain install nightly --profile minimal
fi

rustup run nightly rustc --version >/dev/null
echo "ensure-test-tools: $(rustup run nightly rustc --version) ready" >&2

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "ensure-test-tools: cargo-fuzz missing, installing it from crates.io" >&2
    cargo install cargo-fuzz --locked
fi

cargo fuzz --version >/dev/null
echo "ensure-test-tools: $(cargo fuzz --version) ready" >&2
