#!/usr/bin/env bash
# The playground's browser tests: `gradus serve` driven in headless Chromium (Debian's
# `chromium`) by Playwright (npm `playwright-core`). Installs both if missing, runs
# crates/gradus-cli/tests/browser with node's test runner against GRADUS_BIN: the binary
# `cargo test --workspace` built (tools/test-all.sh sets it). Without GRADUS_BIN it builds
# the dev-profile binary first; `cargo build -p gradus-cli` resolves features for that
# crate alone, not the workspace, so it compiles gradus again (about 6 minutes on CI's
# two cores), which is why test-all.sh passes the test build's binary instead.
# Exits non-zero if anything fails. SCREENSHOTS=docs/screenshots refreshes the README's.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v chromium >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm
fi

# `--prepare`: only the installs (Debian's packages and npm's playwright-core), which
# need the network and not the Rust build (tools/test-all.sh runs them while `cargo
# test` compiles).
if [ "${1:-}" = "--prepare" ]; then
    cd crates/gradus-cli/tests/browser
    if [ ! -d node_modules/playwright-core ]; then
        npm ci --no-audit --no-fund
    fi
    exit 0
fi

if [ -z "${GRADUS_BIN:-}" ]; then
    cargo build --locked -p gradus-cli
    GRADUS_BIN="$PWD/target/debug/gradus"
fi
if [ ! -x "$GRADUS_BIN" ]; then
    echo "browser.sh: GRADUS_BIN=$GRADUS_BIN is not an executable" >&2
    exit 1
fi
GRADUS_BIN="$(cd "$(dirname "$GRADUS_BIN")" && pwd)/$(basename "$GRADUS_BIN")"

cd crates/gradus-cli/tests/browser
if [ ! -d node_modules/playwright-core ]; then
    npm ci --no-audit --no-fund
fi
GRADUS_BIN="$GRADUS_BIN" \
    SCREENSHOTS="${SCREENSHOTS:+$(cd ../../../.. && mkdir -p "$SCREENSHOTS" && cd "$SCREENSHOTS" && pwd)}" \
    node --test --test-concurrency=1 playground.test.mjs
