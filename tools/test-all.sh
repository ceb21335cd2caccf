#!/usr/bin/env bash
# Every test gradus has, in one command (the README's test command; .ci/run calls it):
#   1. the Rust workspace (`cargo test --workspace --locked`),
#   2. the Python package: a fresh virtual environment with maturin, numpy, pytest and
#      torch from PyPI, the package installed with pip, pytest (tools/ci/python.sh),
#   3. the playground in headless Chromium: Debian's chromium and npm's playwright-core,
#      installed if missing (tools/ci/browser.sh).
# Each part installs what it needs; the script stops at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s (%s)\n' "$1" "$(date +%T)"; }

step "Rust: cargo test --workspace"
cargo test --workspace --locked

if [ -f tools/ci/python.sh ]; then
    step "Python: pytest on the installed package"
    bash tools/ci/python.sh
fi

if [ -f tools/ci/browser.sh ]; then
    step "Browser: the playground in headless Chromium"
    # The binary the Rust tests built: building it alone resolves other features
    # and recompiles the library.
    GRADUS_BIN="$PWD/target/debug/gradus" bash tools/ci/browser.sh
fi

step "all tests passed"
