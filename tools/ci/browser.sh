#!/usr/bin/env bash
# The playground's browser tests: `gradus serve` driven in headless Chromium (Debian's
# `chromium`) by Playwright (npm `playwright-core`). Installs both if missing, builds the
# dev-profile binary (the one `cargo test` already built: optimized at opt-level 1, so CI
# does not compile the workspace a second time), runs crates/gradus-cli/tests/browser
# with node's test runner.
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

cargo build --locked -p gradus-cli

cd crates/gradus-cli/tests/browser
if [ ! -d node_modules/playwright-core ]; then
    npm ci --no-audit --no-fund
fi
GRADUS_BIN="$PWD/../../../../target/debug/gradus" \
    SCREENSHOTS="${SCREENSHOTS:+$(cd ../../../.. && mkdir -p "$SCREENSHOTS" && cd "$SCREENSHOTS" && pwd)}" \
    node --test --test-concurrency=1 playground.test.mjs
