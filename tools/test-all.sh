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

# The installs of the Python and browser parts need only the network, so they run in
# the background while the Rust tests compile (two cores busy with rustc). Their output
# goes to a log, shown if one fails; the part itself then runs its installs again in
# the foreground, so a failure is reported where it matters, with its own message.
prep="$(mktemp -d)"
export GRADUS_PY_VENV="${GRADUS_PY_VENV:-$prep/venv}"
pids=()
# If a part fails and the script stops, it first waits for the installs still running
# (an apt-get or pip cut off halfway would leave a broken install behind); the exit
# status stays the failure's.
trap 'wait' EXIT
for part in python browser; do
    if [ -f "tools/ci/$part.sh" ]; then
        bash "tools/ci/$part.sh" --prepare >"$prep/$part.log" 2>&1 &
        pids+=("$part:$!")
    fi
done
# Waits for the background installs of part $1; on failure shows their log.
prepared() {
    local entry
    for entry in "${pids[@]}"; do
        if [ "${entry%%:*}" = "$1" ]; then
            if ! wait "${entry#*:}"; then
                echo "the background installs of the $1 tests failed; their log:" >&2
                cat "$prep/$1.log" >&2
                echo "(running them again in the foreground)" >&2
            fi
        fi
    done
}

step "Rust: cargo test --workspace"
cargo test --workspace --locked

if [ -f tools/ci/python.sh ]; then
    step "Python: pytest on the installed package"
    prepared python
    bash tools/ci/python.sh
fi

if [ -f tools/ci/browser.sh ]; then
    step "Browser: the playground in headless Chromium"
    prepared browser
    # The binary the Rust tests built: building it alone resolves other features
    # and recompiles the library.
    GRADUS_BIN="$PWD/target/debug/gradus" bash tools/ci/browser.sh
fi

step "all tests passed"
