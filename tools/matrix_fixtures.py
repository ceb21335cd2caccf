#!/usr/bin/env python3
"""Generate the SOAP and Shampoo trajectories that gradus is tested against.

Usage (from the repository root, with torch and pytorch-optimizer 4.1.0 installed):

    python3 tools/matrix_fixtures.py           # writes crates/gradus/tests/fixtures/{soap,shampoo}.json
    python3 tools/matrix_fixtures.py --check   # regenerates in memory, fails if a file would change

Reference: `pytorch_optimizer.SOAP` and `pytorch_optimizer.Shampoo` of pytorch-optimizer
4.1.0 (PyPI), on the CPU in float64. The Rust test `crates/gradus/tests/matrix_ref.rs`
replays every case.

Problems. Each case optimizes a few named tensors (matrices of several shapes, a 1-D
bias, 3-D and 4-D tensors where a flag is about them) under the separable quartic

    f(W) = sum_ij s_ij/2 (w_ij - t_ij)^2 + c_ij/4 w_ij^4,
    g_ij = s_ij*(w_ij - t_ij) + c_ij*((w_ij*w_ij)*w_ij)

with per-element constants s (curvatures spread over two decades, so a preconditioner
matters), t (targets) and c, all stored in the JSON. The gradient is evaluated one IEEE
double operation at a time, left to right as written (torch's element-wise kernels round
each operation), and the Rust test evaluates the same expression in the same order, so
while the parameters agree bit for bit the gradients do too.

Recorded per case and step: every tensor's parameters after the step and the reference's
complete state after the step (SOAP: exp_avg, exp_avg_sq, GG, Q; Shampoo:
momentum_buffer, pre_cond_*, inv_pre_cond_*), each flattened row-major; the per-dimension
matrices of a tensor are concatenated in dimension order (a dimension the reference does
not precondition, `[]` in its lists, contributes nothing). That lets the Rust test both
replay whole trajectories and check single steps from the reference's own state.

Numbers are written by Python's json (shortest round-trip repr); serde_json with
`float_roundtrip` reads them back exactly.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
from pytorch_optimizer import SOAP, Shampoo

OUT_DIR = Path(__file__).resolve().parent.parent / "crates" / "gradus" / "tests" / "fixtures"
REFERENCE = f"pytorch-optimizer {importlib.metadata.version('pytorch_optimizer')}"

GRADIENT_FORMULA = "g = s*(w - t) + c*((w*w)*w), element-wise, each operation rounded to f64"


def tensor_spec(name, shape, k):
    """Deterministic start values and problem constants for a tensor (the `k`-th)."""
    n = math.prod(shape)
    start, s, t, c = [], [], [], []
    for i in range(n):
        u = 1.3 * (k + 1) + 0.7 * i
        start.append(round(0.8 * math.sin(u) + 0.1 * math.cos(3.1 * u), 6))
        s.append(round(10.0 ** (2.0 * ((0.37 * i + 0.61 * k) % 1.0) - 1.0), 6))
        t.append(round(0.5 * math.cos(1.7 * u + 0.3), 6))
        c.append(round(0.05 + 0.1 * ((0.53 * i + 0.29 * k) % 1.0), 6))
    return {"name": name, "shape": list(shape), "start": start, "s": s, "t": t, "c": c}


def grad_of(w, spec):
    s = torch.tensor(spec["s"], dtype=torch.float64).reshape(w.shape)
    t = torch.tensor(spec["t"], dtype=torch.float64).reshape(w.shape)
    c = torch.tensor(spec["c"], dtype=torch.float64).reshape(w.shape)
    return s * (w - t) + c * ((w * w) * w)


def flat(x):
    return [float(v) for v in x.detach().contiguous().reshape(-1).tolist()]


def soap_state(state):
    if not state:
        return None
    cat = lambda mats: [v for m in mats if len(m) > 0 for v in flat(m)]
    return {
        "exp_avg": flat(state["exp_avg"]),
        "exp_avg_sq": flat(state["exp_avg_sq"]),
        "GG": cat(state["GG"]),
        "Q": cat(state["Q"]),
    }


def shampoo_state(state, order):
    if not state:
        return None
    out = {
        "momentum_buffer": flat(state["momentum_buffer"]) if "momentum_buffer" in state else None,
        "pre_cond": [v for i in range(order) for v in flat(state[f"pre_cond_{i}"])],
        "inv_pre_cond": [v for i in range(order) for v in flat(state[f"inv_pre_cond_{i}"])],
    }
    return out


def spec_value(v):
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, tuple):
        return "(" + ", ".join(spec_value(x) for x in v) + ")"
    if isinstance(v, str):
        return v
    return repr(v)


def numpy_eigh(m):
    """torch.linalg.eigh through NumPy's LAPACK, every other eigenvector negated."""
    w, v = np.linalg.eigh(m.numpy())
    return torch.tensor(w), torch.tensor(v * np.where(np.arange(v.shape[1]) % 2 == 0, 1.0, -1.0))


def numpy_svd(m, full_matrices=True):
    u, s, vh = np.linalg.svd(m.numpy(), full_matrices=full_matrices)
    return torch.tensor(u), torch.tensor(s), torch.tensor(vh)


def self_deviation(kind, kwargs, tensors, steps, reference):
    """How far the reference moves from itself when its decomposition comes from another
    LAPACK (NumPy's) with other eigenvector signs: the largest, over steps and tensors,
    of max|a - b| / max|b|, overall and (SOAP) before the first basis refresh reaches the
    parameters."""
    saved = (torch.linalg.eigh, torch.linalg.svd)
    torch.linalg.eigh, torch.linalg.svd = numpy_eigh, numpy_svd
    try:
        other = run_case(kind, kwargs, tensors, steps)
    finally:
        torch.linalg.eigh, torch.linalg.svd = saved
    # SOAP's parameters depend on a refreshed basis from step precondition_frequency + 2.
    exact = kwargs.get("precondition_frequency", 10) + 1 if kind == "soap" else steps
    worst, early = 0.0, 0.0
    for k, (a, b) in enumerate(zip(other["steps"], reference["steps"])):
        for x, y in zip(a["params"], b["params"]):
            scale = max(abs(v) for v in y)
            dev = max(abs(u - v) for u, v in zip(x, y)) / scale
            worst = max(worst, dev)
            if k < exact:
                early = max(early, dev)
    return worst, early


def f32_deviation(kind, kwargs, tensors, reference):
    """How far the reference run in float32 (parameters, gradients, state) ends up from
    its float64 run: the largest, over steps and tensors, of max|a - b| / max|b|."""
    torch.set_default_dtype(torch.float32)
    try:
        params = [torch.nn.Parameter(torch.tensor(t["start"], dtype=torch.float32).reshape(t["shape"])) for t in tensors]
        opt = (SOAP if kind == "soap" else Shampoo)(params, **kwargs)
        worst = 0.0
        for step in reference["steps"]:
            for p, t in zip(params, tensors):
                p.grad = grad_of(p.detach().double(), t).float()
            opt.step()
            for p, want in zip(params, step["params"]):
                y = torch.tensor(want, dtype=torch.float64)
                worst = max(worst, ((p.detach().double().flatten() - y).abs().max() / y.abs().max()).item())
        return worst
    finally:
        torch.set_default_dtype(torch.float64)


def run_case(kind, kwargs, tensors, steps):
    torch.set_default_dtype(torch.float64)
    params = [
        torch.nn.Parameter(torch.tensor(t["start"], dtype=torch.float64).reshape(t["shape"]))
        for t in tensors
    ]
    cls = SOAP if kind == "soap" else Shampoo
    opt = cls(params, **kwargs)
    trajectory = []
    for _ in range(steps):
        for p, t in zip(params, tensors):
            p.grad = grad_of(p.detach(), t)
        opt.step()
        record = {"params": [flat(p) for p in params], "state": []}
        for p, t in zip(params, tensors):
            st = opt.state[p]
            record["state"].append(soap_state(st) if kind == "soap" else shampoo_state(st, len(t["shape"])))
        trajectory.append(record)
    spec = kind + "(" + ", ".join(f"{k}={spec_value(v)}" for k, v in kwargs.items()) + ")"
    return {"spec": spec, "kwargs": {k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items()},
            "tensors": tensors, "steps": trajectory}


def tensors_of(*shapes):
    return [tensor_spec(name, shape, k) for k, (name, shape) in enumerate(shapes)]


# Matrices whose sides differ by at most one, a bias of length 2: the first eigenbasis
# (from one gradient's outer products) has no repeated eigenvalue, so it is unique up to
# signs and SOAP's result does not depend on LAPACK's conventions (see matrix_ref.rs).
PLAIN = [("w1", (4, 3)), ("w2", (3, 4)), ("w3", (4, 4)), ("b", (2,))]

SOAP_CASES = [
    ("defaults", dict(precondition_frequency=4), PLAIN),
    ("lr_betas_shampoo_beta", dict(lr=0.02, betas=(0.9, 0.99), shampoo_beta=0.8, precondition_frequency=3), PLAIN),
    ("no_weight_decay_eps", dict(lr=0.01, weight_decay=0.0, eps=1e-6, precondition_frequency=5), PLAIN),
    ("precondition_1d", dict(lr=0.01, precondition_1d=True, precondition_frequency=4), PLAIN),
    ("max_precondition_dim", dict(lr=0.01, max_precondition_dim=3, precondition_1d=True, precondition_frequency=4), PLAIN),
    ("no_correct_bias", dict(lr=0.005, correct_bias=False, precondition_frequency=4), PLAIN),
    ("normalize_gradient", dict(lr=0.01, normalize_gradient=True, precondition_frequency=4), PLAIN),
    ("maximize", dict(lr=0.01, maximize=True, precondition_frequency=4), PLAIN),
    # merge_dims: [2,3,5] merges to [6,5]; [4,5] stays; a bias longer than the limit
    # becomes [1,8] (a shorter one makes the reference fail: it reshapes it to [1]).
    ("merge_dims", dict(lr=0.01, merge_dims=True, max_precondition_dim=6, precondition_frequency=4),
     [("t3", (2, 3, 5)), ("w", (4, 5)), ("b", (8,))]),
    # channels_last 4-D NHWC [2,2,3,3]: permuted (0, 3, 1, 2) to [2,3,2,3], merged to
    # [6,6] (channels_first would merge it to [4,3,3]).
    ("channels_last", dict(lr=0.01, merge_dims=True, max_precondition_dim=6, data_format="channels_last",
                           precondition_frequency=3), [("conv", (2, 2, 3, 3)), ("w", (3, 4))]),
    # Without merging, a 3-D tensor has three eigenbases.
    ("three_dims", dict(lr=0.01, precondition_frequency=4), [("t3", (2, 3, 3)), ("w", (3, 3))]),
    # Rank-deficient first statistics (a 6 x 2 matrix, a bias of 5 under precondition_1d):
    # repeated zero eigenvalues, so the reference's result depends on its LAPACK (see
    # `reference_self_deviation`); replayed with a measured bound only.
    ("rank_deficient", dict(lr=0.01, precondition_1d=True, precondition_frequency=4), [("w", (6, 2)), ("b", (5,))]),
]

SHAMPOO_PLAIN = [("w1", (4, 3)), ("w2", (3, 3)), ("b", (4,))]

SHAMPOO_CASES = [
    ("defaults", dict(lr=0.01), SHAMPOO_PLAIN),
    ("momentum", dict(lr=0.01, momentum=0.9), SHAMPOO_PLAIN),
    ("l2_weight_decay", dict(lr=0.01, weight_decay=0.1), SHAMPOO_PLAIN),
    ("decoupled_weight_decay", dict(lr=0.01, weight_decay=0.1, weight_decouple=True), SHAMPOO_PLAIN),
    ("fixed_decay", dict(lr=0.01, weight_decay=0.01, weight_decouple=True, fixed_decay=True), SHAMPOO_PLAIN),
    ("compute_steps", dict(lr=0.01, momentum=0.5, preconditioning_compute_steps=3, matrix_eps=1e-2), SHAMPOO_PLAIN),
    ("matrix_eps", dict(lr=0.01, matrix_eps=1e-3), SHAMPOO_PLAIN),
    # maximize with momentum: the reference seeds momentum_buffer with the gradient
    # before negating it.
    ("maximize", dict(lr=0.005, momentum=0.5, maximize=True), SHAMPOO_PLAIN),
    ("three_dims", dict(lr=0.01, momentum=0.3), [("t3", (2, 3, 2)), ("w", (2, 2))]),
    # A 6 x 2 matrix: its 6 x 6 statistics stay at matrix_eps on a 4-dimensional subspace.
    ("rank_deficient", dict(lr=0.01, momentum=0.5), [("w", (6, 2)), ("b", (3,))]),
]

# Cases whose reference result depends on LAPACK's choices (repeated eigenvalues).
DEGENERATE = {"rank_deficient"}

STEPS = {"soap": 24, "shampoo": 20}


def generate(kind):
    cases = SOAP_CASES if kind == "soap" else SHAMPOO_CASES
    out = {
        "reference": f"pytorch_optimizer.{'SOAP' if kind == 'soap' else 'Shampoo'} ({REFERENCE}), torch {torch.__version__}, CPU, float64",
        "generator": "tools/matrix_fixtures.py",
        "gradient": GRADIENT_FORMULA,
        "cases": [],
    }
    for name, kwargs, shapes in cases:
        case = run_case(kind, kwargs, tensors_of(*shapes), STEPS[kind])
        case["name"] = name
        worst, early = self_deviation(kind, kwargs, case["tensors"], STEPS[kind], case)
        case["reference_self_deviation"] = worst
        case["reference_self_deviation_before_refresh"] = early
        case["reference_f32_deviation"] = f32_deviation(kind, kwargs, case["tensors"], case)
        case["degenerate"] = name in DEGENERATE
        out["cases"].append(case)
    return json.dumps(out, indent=None, separators=(",", ":")) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    bad = False
    for kind in ("soap", "shampoo"):
        text = generate(kind)
        path = OUT_DIR / f"{kind}.json"
        if args.check:
            if not path.exists() or path.read_text() != text:
                print(f"{path} would change", file=sys.stderr)
                bad = True
        else:
            path.write_text(text)
            print(f"wrote {path} ({len(text) // 1024} KiB)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
