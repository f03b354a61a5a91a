#!/usr/bin/env bash
# Installs the external tools the test suites call, only when they are missing.
# Idempotent: a second run does nothing.
#
#   promtool and prometheus (Debian package `prometheus`): perf-http checks its /metrics output with
#     promtool and has a real Prometheus scrape it and answer the Grafana dashboard's queries.
#   chromium (Debian package `chromium`): the landscape demo's dashboard test drives it headless.
#   schemathesis 4.x (PyPI, pinned): the landscape demo's test runs it against the served OpenAPI document.
#   oteltap (PyPI, pinned): an OTLP/HTTP protobuf receiver; perfkit's `otel` tests export to it and read what it got.
#   the nightly toolchain and cargo-fuzz (crates.io): `cargo xtask fuzz` runs the targets in fuzz/.
#   valgrind (Debian package `valgrind`): `cargo xtask bench` counts instructions with callgrind.
set -euo pipefail

# Installs Debian packages, refreshing the package lists first (as root, or through sudo).
apt_install() {
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

if ! command -v valgrind >/dev/null 2>&1; then
    echo "ensure-test-tools: valgrind missing, installing the valgrind package" >&2
    apt_install valgrind
fi

valgrind --version >/dev/null
echo "ensure-test-tools: $(valgrind --version) ready" >&2

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
    echo "ensure-test-tools: promtool or prometheus missing, installing the prometheus package" >&2
    apt_install prometheus
fi

promtool --version >/dev/null
prometheus --version >/dev/null 2>&1
echo "ensure-test-tools: promtool $(promtool --version 2>&1 | head -n1 | awk '{print $3}') ready" >&2

if [ ! -x /usr/bin/chromium ] && ! command -v chromium >/dev/null 2>&1; then
    echo "ensure-test-tools: chromium missing, installing the chromium package" >&2
    apt_install chromium
fi

chromium --version >/dev/null 2>&1 || /usr/bin/chromium --version >/dev/null
echo "ensure-test-tools: $(chromium --version 2>/dev/null || /usr/bin/chromium --version) ready" >&2

SCHEMATHESIS_VERSION="4.32.5"
if ! command -v schemathesis >/dev/null 2>&1 || ! schemathesis --version 2>/dev/null | grep -q ' 4\.'; then
    echo "ensure-test-tools: schemathesis 4.x missing, installing schemathesis==$SCHEMATHESIS_VERSION from PyPI" >&2
    if ! python3 -m pip --version >/dev/null 2>&1; then
        apt_install python3-pip
    fi
    # Debian's own python3 refuses pip installs outside a venv unless told otherwise (PEP 668).
    PIP_FLAGS=""
    if python3 -m pip install --help 2>/dev/null | grep -q -- '--break-system-packages'; then
        PIP_FLAGS="--break-system-packages"
    fi
    python3 -m pip install --quiet $PIP_FLAGS "schemathesis==$SCHEMATHESIS_VERSION"
fi

echo "ensure-test-tools: $(schemathesis --version) ready" >&2

OTELTAP_VERSION="1.0.0"
# Read whole before matching: with pipefail, `grep -q` closing the pipe early would fail pip.
installed_oteltap="$(python3 -m pip show oteltap 2>/dev/null | awk '/^Version:/ {print $2}' || true)"
if ! command -v oteltap >/dev/null 2>&1 || [ "$installed_oteltap" != "$OTELTAP_VERSION" ]; then
    echo "ensure-test-tools: oteltap missing, installing oteltap==$OTELTAP_VERSION from PyPI" >&2
    if ! python3 -m pip --version >/dev/null 2>&1; then
        apt_install python3-pip
    fi
    PIP_FLAGS=""
    if python3 -m pip install --help 2>/dev/null | grep -q -- '--break-system-packages'; then
        PIP_FLAGS="--break-system-packages"
    fi
    python3 -m pip install --quiet $PIP_FLAGS "oteltap==$OTELTAP_VERSION"
fi

oteltap --help >/dev/null
echo "ensure-test-tools: oteltap $(python3 -m pip show oteltap 2>/dev/null | awk '/^Version:/ {print $2}') ready" >&2
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
