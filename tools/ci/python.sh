#!/usr/bin/env bash
# The Python package's tests: a fresh virtual environment with maturin, numpy, pytest
# and torch (CPU wheel) from PyPI, the package installed with `pip install
# ./crates/gradus-python` (through maturin, in the dev profile), then pytest. Exits
# non-zero on any failure, and when pytest collects no test (its exit code 5).
set -euo pipefail
cd "$(dirname "$0")/../.."

venv="${GRADUS_PY_VENV:-$(mktemp -d)/venv}"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
# torch's CPU build is enough (no accelerator here); the default index's wheel works too.
# On a venv that already has them (see --prepare) this only checks the versions.
"$venv/bin/pip" install --quiet maturin numpy pytest torch
# `--prepare`: only the installs above, which need the network and not the Rust build
# (tools/test-all.sh runs them while `cargo test` compiles).
if [ "${1:-}" = "--prepare" ]; then
    exit 0
fi
# The tests need no release build: the dev profile (optimized, see Cargo.toml) reuses
# what `cargo test --workspace` compiled, which saves CI a second full compile.
# Users' `pip install ./crates/gradus-python` builds the release profile as usual.
MATURIN_PEP517_ARGS="${MATURIN_PEP517_ARGS:---profile dev}" \
    "$venv/bin/pip" install --quiet ./crates/gradus-python
"$venv/bin/python" -c "import gradus, gradus.torch; print('gradus', len(gradus.optimizers()), 'optimizers')"

status=0
(cd crates/gradus-python && "$venv/bin/python" -m pytest -q tests) || status=$?
if [ "$status" -eq 5 ]; then
    echo "error: pytest collected no tests" >&2
    exit 1
fi
exit "$status"
