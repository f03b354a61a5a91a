#!/usr/bin/env bash
# Installs the external tools the test suites call, only when they are missing.
# Idempotent: a second run does nothing.
#
#   promtool (Debian package `prometheus`): perf-http checks its /metrics output with it.
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
