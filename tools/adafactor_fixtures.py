#!/usr/bin/env python3
"""torch.optim.Adafactor and torch.optim.SparseAdam trajectories that gradus is tested against.

Usage (from the repository root, with torch 2.15):

    python3 tools/adafactor_fixtures.py           # writes crates/gradus/tests/fixtures/{adafactor,sparse_adam}.json
    python3 tools/adafactor_fixtures.py --check   # regenerates in memory, fails if a file would change

Each case is a list of named tensors (shape, start values) and a spec. Every step the
script computes each tensor's gradient in torch from the current parameters, records
it, steps the optimizer, and records the parameters (and, for Adafactor, the state
buffers `row_var`, `col_var` / `variance`). The Rust tests feed the recorded gradients,
so any difference they see comes from the optimizer alone. Numbers are Python `repr`
strings (for float32, of the value widened to double), read back exactly with
`str::parse::<f64>`.

Gradients. Adafactor: `g = c * (x - t) + s * x**3` with per-case constants `c`, `t`, `s`
(tensors of the parameter's shape), a smooth problem whose gradients shrink. SparseAdam:
the gradient of `0.5 * sum(w * (x - t)**2)` restricted to a few rows per step (which rows
is a fixed pattern per step, sometimes with duplicated indices; never an all-zero row, which gradus cannot tell
from an absent one),
given to torch as an uncoalesced sparse COO tensor whose sparse dimension is the first
axis, as `nn.Embedding(sparse=True)` produces.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

OUT_DIR = Path(__file__).resolve().parent.parent / "crates" / "gradus" / "tests" / "fixtures"
DTYPES = {"f64": torch.float64, "f32": torch.float32}


def num(x: float) -> str:
    return repr(float(x))


def flat(t: torch.Tensor) -> list[str]:
    return [num(v) for v in t.detach().reshape(-1).tolist()]


def det(shape, seed, lo=-1.0, hi=1.0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g, dtype=torch.float64) * (hi - lo) + lo).to(dtype)


# --------------------------------------------------------------------------------------
# Adafactor
# --------------------------------------------------------------------------------------

# name -> list of (tensor name, shape)
ADAFACTOR_TENSORS = {
    "vector": [("b", [5])],
    "matrix": [("w", [3, 4])],
    "tall": [("w", [6, 2])],
    "cube": [("k", [2, 3, 4])],
    "shape4x5": [("x", [4, 5])],
    "mlp": [("w1", [4, 3]), ("b1", [4]), ("w2", [2, 4]), ("b2", [2])],
    "scalar_row": [("r", [1, 7]), ("c", [7, 1])],
}

# (tensor set, gradus spec, torch kwargs, steps)
ADAFACTOR_CASES = [
    ("vector", "adafactor", {}, 30),
    ("matrix", "adafactor", {}, 30),
    ("tall", "adafactor", {}, 30),
    ("cube", "adafactor", {}, 30),
    ("shape4x5", "adafactor", {}, 40),
    ("shape4x5", "adafactor(lr=0.1)", {"lr": 0.1}, 40),
    ("mlp", "adafactor", {}, 30),
    ("mlp", "adafactor", {"foreach": True}, 30),
    ("scalar_row", "adafactor", {}, 20),
    ("mlp", "adafactor(lr=0.05, beta2_decay=-0.5)", {"lr": 0.05, "beta2_decay": -0.5}, 30),
    ("mlp", "adafactor(eps=(1e-6, 1e-2))", {"eps": (1e-6, 1e-2)}, 30),
    ("cube", "adafactor(eps=(0.0, 0.0))", {"eps": (0.0, 0.0)}, 20),
    ("mlp", "adafactor(d=1.5)", {"d": 1.5}, 30),
    ("mlp", "adafactor(d=10.0, lr=0.3)", {"d": 10.0, "lr": 0.3}, 30),
    ("mlp", "adafactor(weight_decay=0.5)", {"weight_decay": 0.5}, 30),
    ("mlp", "adafactor(maximize=true)", {"maximize": True}, 20),
    (
        "cube",
        "adafactor(lr=0.2, beta2_decay=-0.3, eps=(1e-4, 1e-4), d=2.0, weight_decay=0.1, maximize=true)",
        {"lr": 0.2, "beta2_decay": -0.3, "eps": (1e-4, 1e-4), "d": 2.0, "weight_decay": 0.1, "maximize": True},
        30,
    ),
    ("shape4x5", "adafactor(beta2_decay=0.0)", {"beta2_decay": 0.0}, 20),
]


def adafactor_case(tensors_id, spec, kwargs, steps, dtype_name, seed):
    dtype = DTYPES[dtype_name]
    specs = ADAFACTOR_TENSORS[tensors_id]
    params, consts = [], []
    for k, (name, shape) in enumerate(specs):
        s = seed * 100 + k * 10
        params.append(det(shape, s, -1.5, 1.5, dtype).requires_grad_(False))
        c = det(shape, s + 1, 0.5, 3.0, dtype)
        t = det(shape, s + 2, -1.0, 1.0, dtype)
        cubic = det(shape, s + 3, 0.0, 0.5, dtype)
        consts.append((c, t, cubic))
    start = [flat(p) for p in params]
    opt = torch.optim.Adafactor(params, **{"foreach": False, **kwargs})
    rec = []
    for _ in range(steps):
        grads = []
        for p, (c, t, cubic) in zip(params, consts):
            p.grad = c * (p - t) + cubic * p * p * p
            grads.append(flat(p.grad))
        opt.step()
        state = []
        for p in params if len(rec) % 10 == 9 or len(rec) == steps - 1 else []:
            st = opt.state[p]
            if "variance" in st:
                state.append({"variance": flat(st["variance"])})
            else:
                state.append({"row_var": flat(st["row_var"]), "col_var": flat(st["col_var"])})
        step = {"grads": grads, "params": [flat(p) for p in params]}
        if state:
            step["state"] = state
        rec.append(step)
    return {
        "tensors": [{"name": n, "shape": s} for n, s in specs],
        "spec": spec,
        "torch_kwargs": {k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items()},
        "dtype": dtype_name,
        "start": start,
        "steps": rec,
    }


def adafactor_fixtures():
    cases = []
    for dtype_name in ("f64", "f32"):
        for i, (tid, spec, kwargs, steps) in enumerate(ADAFACTOR_CASES):
            if dtype_name == "f32" and i % 2 == 1:
                continue  # float32: every other case is enough to measure its tolerance
            cases.append(adafactor_case(tid, spec, kwargs, steps, dtype_name, i + 1))
    return {
        "torch": torch.__version__.split("+")[0],
        "note": "torch.optim.Adafactor on the CPU (foreach=False unless torch_kwargs says "
        "otherwise); gradients recorded per step (see tools/adafactor_fixtures.py)",
        "cases": cases,
    }


# --------------------------------------------------------------------------------------
# SparseAdam
# --------------------------------------------------------------------------------------

# (shape, gradus spec, torch kwargs, steps)
SPARSE_CASES = [
    ([6, 3], "sparse_adam", {}, 25),
    ([6, 3], "sparse_adam(lr=0.05, betas=(0.5, 0.9), eps=1e-3)", {"lr": 0.05, "betas": (0.5, 0.9), "eps": 1e-3}, 25),
    ([6, 3], "sparse_adam(lr=0.01, maximize=true)", {"lr": 0.01, "maximize": True}, 20),
    ([8], "sparse_adam(lr=0.1)", {"lr": 0.1}, 25),
    ([5, 2, 3], "sparse_adam(lr=0.02, betas=(0.0, 0.99))", {"lr": 0.02, "betas": (0.0, 0.99)}, 20),
]


def sparse_rows(step, n_rows):
    """The row indices given at `step`: a rotating pattern, with a duplicate every third
    step and an empty gradient every seventh (torch counts the step but changes nothing)."""
    if step % 7 == 6:
        return []
    rows = [(step + k * 2) % n_rows for k in range(1 + step % 3)]
    if step % 3 == 2:
        rows.append(rows[0])
    return rows


def sparse_case(shape, spec, kwargs, steps, dtype_name, seed):
    dtype = DTYPES[dtype_name]
    p = det(shape, seed * 100, -1.5, 1.5, dtype)
    w = det(shape, seed * 100 + 1, 0.5, 3.0, dtype)
    t = det(shape, seed * 100 + 2, -1.0, 1.0, dtype)
    start = flat(p)
    opt = torch.optim.SparseAdam([p], **kwargs)
    rec = []
    for step in range(steps):
        rows = sparse_rows(step, shape[0])
        dense = w * (p - t)
        values = []
        for k, r in enumerate(rows):
            v = dense[r].clone()
            if k > 0 and r == rows[0]:
                v = v * 0.5  # the duplicate: coalesce adds it
            values.append(v)
        if rows:
            vals = torch.stack(values)
        else:
            vals = torch.zeros([0] + shape[1:], dtype=dtype)
        idx = torch.tensor([rows], dtype=torch.int64).reshape(1, len(rows))
        p.grad = torch.sparse_coo_tensor(idx, vals, shape, check_invariants=True)
        opt.step()
        rec.append({"rows": rows, "row_grads": [num(v) for v in vals.reshape(-1).tolist()], "params": flat(p)})
    return {
        "shape": shape,
        "spec": spec,
        "dtype": dtype_name,
        "start": start,
        "steps": rec,
    }


def sparse_fixtures():
    cases = []
    for dtype_name in ("f64", "f32"):
        for i, (shape, spec, kwargs, steps) in enumerate(SPARSE_CASES):
            cases.append(sparse_case(shape, spec, kwargs, steps, dtype_name, i + 1))
    return {
        "torch": torch.__version__.split("+")[0],
        "note": "torch.optim.SparseAdam on the CPU; gradients are uncoalesced sparse COO tensors "
        "over the first axis: `rows` (may repeat: coalesce sums them) and their values, "
        "flattened (see tools/adafactor_fixtures.py)",
        "cases": cases,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    outputs = {"adafactor.json": adafactor_fixtures(), "sparse_adam.json": sparse_fixtures()}
    stale = []
    for name, data in outputs.items():
        # One case per line: readable diffs without a line per number.
        head = {k: v for k, v in data.items() if k != "cases"}
        lines = [json.dumps(c, separators=(",", ":")) for c in data["cases"]]
        text = json.dumps(head, indent=1)[:-2] + ',\n "cases": [\n' + ",\n".join(lines) + "\n ]\n}\n"
        path = OUT_DIR / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
            print(f"wrote {path} ({len(data['cases'])} cases)")
    if stale:
        print("stale fixtures: " + ", ".join(stale), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
