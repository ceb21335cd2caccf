#!/usr/bin/env python3
"""Generate the torch.optim trajectories that gradus is tested against.

Usage (from the repository root):

    python3 tools/torch_fixtures.py            # writes crates/gradus/tests/fixtures/optimizers_*.json
    python3 tools/torch_fixtures.py --check    # regenerates in memory, fails if a file would change

For every optimizer x flag set x test problem this runs torch.optim on the CPU (the
default single-tensor path: no `foreach`, no `fused`) for STEPS steps and records the
parameters after every step. The Rust test `crates/gradus/tests/torch_fixtures.rs` replays
each case with `gradus::optim::build` and compares every step.

Exactness of the gradients. The gradient fed to the optimizer is not computed by autograd
but by the explicit formulas in `GRADIENTS` below, evaluated one IEEE operation at a time
in the case's dtype (numpy float64 / float32 scalars, each operation rounded to the dtype,
no fused multiply-add), strictly left to right as written. The Rust test evaluates the
very same expressions in the same order (see `grad` in the test), so as long as the
parameters agree bit for bit the gradients do too, and any difference the test sees comes
from the optimizer. The formulas are also written out in each JSON file.

Robustness. torch's CPU kernels on AVX2/AVX-512 machines fuse multiply-adds (in
`add(alpha=)`, `lerp`, `addcmul`) and its CPU `sqrt` is not correctly rounded, so a
correct reimplementation may differ from torch in the last bit now and then. Cases that
amplify such differences beyond a tenth of the Rust test's tolerance are dropped: every
case is also run in a child process with ATEN_CPU_CAPABILITY=default (torch's unfused
kernels) and the two torch trajectories are compared (see ROBUST_LIMIT); the measured
difference is stored with each case as `fma_sensitivity`.

Numbers are stored as strings holding Python's `repr` (the shortest decimal that reads
back to the same double; for float32 values, of the value widened to double), so that
the Rust side parses them exactly with `str::parse::<f64>` instead of relying on a JSON
library's float parser.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

STEPS = 150
OUT_DIR = Path(__file__).resolve().parent.parent / "crates" / "gradus" / "tests" / "fixtures"

# --------------------------------------------------------------------------------------
# Problems: start points, objectives (only used to report progress) and gradients.
#
# `K` turns a Python constant into a scalar of the case's dtype; `x` is a list of scalars
# of that dtype. Every binary operation rounds to the dtype. Keep each expression in
# exactly this form: the Rust test mirrors it operation for operation.
# --------------------------------------------------------------------------------------


def grad_rosenbrock(x, K):
    # f = sum_i 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2
    n = len(x)
    g = []
    for i in range(n):
        gi = None
        if i + 1 < n:
            gi = K(-400.0) * x[i] * (x[i + 1] - x[i] * x[i]) - K(2.0) * (K(1.0) - x[i])
        if i > 0:
            r = K(200.0) * (x[i] - x[i - 1] * x[i - 1])
            gi = r if gi is None else gi + r
        g.append(gi)
    return g


def grad_beale(x, K):
    # f = (1.5 - x + x y)^2 + (2.25 - x + x y^2)^2 + (2.625 - x + x y^3)^2
    a, b = x
    y2 = b * b
    y3 = y2 * b
    t1 = K(1.5) - a + a * b
    t2 = K(2.25) - a + a * y2
    t3 = K(2.625) - a + a * y3
    gx = K(2.0) * t1 * (b - K(1.0)) + K(2.0) * t2 * (y2 - K(1.0)) + K(2.0) * t3 * (y3 - K(1.0))
    gy = K(2.0) * t1 * a + K(4.0) * t2 * a * b + K(6.0) * t3 * a * y2
    return [gx, gy]


def grad_booth(x, K):
    # f = (x + 2y - 7)^2 + (2x + y - 5)^2
    a, b = x
    u = a + K(2.0) * b - K(7.0)
    v = K(2.0) * a + b - K(5.0)
    return [K(2.0) * u + K(4.0) * v, K(4.0) * u + K(2.0) * v]


def grad_himmelblau(x, K):
    # f = (x^2 + y - 11)^2 + (x + y^2 - 7)^2
    a, b = x
    u = a * a + b - K(11.0)
    v = a + b * b - K(7.0)
    return [K(4.0) * a * u + K(2.0) * v, K(2.0) * u + K(4.0) * b * v]


def grad_quadratic(x, K):
    # f = 50 x0^2 + x1^2
    return [K(100.0) * x[0], K(2.0) * x[1]]


def grad_parabola(x, K):
    # f = x^2
    return [K(2.0) * x[0]]


SEPARABLE_A_WEIGHTS = [2.0, 20.0, 200.0]


def grad_separable_a(x, K):
    # f_a = sum_i w_i (a_i - 1)^2 with w = (1, 10, 100); gradient (2 w_i) (a_i - 1)
    return [K(SEPARABLE_A_WEIGHTS[i]) * (x[i] - K(1.0)) for i in range(len(x))]


def grad_separable_b(x, K):
    # f_b = sum_j (b_j^2 - 1)^2; gradient 4 b_j (b_j^2 - 1)
    return [K(4.0) * v * (v * v - K(1.0)) for v in x]


# Formulas as documented in the JSON (and mirrored in the Rust test). Operations are
# evaluated left to right, each rounded to the dtype; `x*x` is a product, never pow.
GRADIENT_FORMULAS = {
    "rosenbrock": "g[i] = (-400*x[i])*(x[i+1] - x[i]*x[i]) - 2*(1 - x[i])   [if i+1 < n]; "
    "then + 200*(x[i] - x[i-1]*x[i-1])   [if i > 0] (added to the first term when both apply)",
    "beale": "y2 = y*y; y3 = y2*y; t1 = (1.5 - x) + x*y; t2 = (2.25 - x) + x*y2; t3 = (2.625 - x) + x*y3; "
    "gx = ((2*t1)*(y - 1) + (2*t2)*(y2 - 1)) + (2*t3)*(y3 - 1); "
    "gy = ((2*t1)*x + ((4*t2)*x)*y) + ((6*t3)*x)*y2",
    "booth": "u = (x + 2*y) - 7; v = (2*x + y) - 5; gx = 2*u + 4*v; gy = 4*u + 2*v",
    "himmelblau": "u = (x*x + y) - 11; v = (x + y*y) - 7; gx = (4*x)*u + 2*v; gy = 2*u + (4*y)*v",
    "quadratic": "g = (100*x0, 2*x1)",
    "parabola": "g = 2*x",
    "separable": "tensor a: g[i] = c[i]*(a[i] - 1) with c = (2, 20, 200); "
    "tensor b: g[j] = (4*b[j])*(b[j]*b[j] - 1)",
}

# problem id -> (gradient family, [(tensor name, start, gradient function)])
PROBLEMS = {
    "rosenbrock2": ("rosenbrock", [("x", [-1.5, 2.0], grad_rosenbrock)]),
    "rosenbrock5": ("rosenbrock", [("x", [-1.2, 1.0, -1.2, 1.0, -1.2], grad_rosenbrock)]),
    "beale": ("beale", [("x", [1.0, 1.5], grad_beale)]),
    "booth": ("booth", [("x", [0.0, 0.0], grad_booth)]),
    "himmelblau": ("himmelblau", [("x", [0.0, 0.0], grad_himmelblau)]),
    "quadratic": ("quadratic", [("x", [1.5, 10.0], grad_quadratic)]),
    "parabola": ("parabola", [("x", [10.0], grad_parabola)]),
    "separable": (
        "separable",
        [("a", [3.0, -2.0, 0.5], grad_separable_a), ("b", [2.0, -0.5], grad_separable_b)],
    ),
}
ALL = list(PROBLEMS)

# --------------------------------------------------------------------------------------
# Optimizers and flag sets.
# --------------------------------------------------------------------------------------

TORCH_CLASS = {
    "sgd": "SGD",
    "adam": "Adam",
    "adamw": "AdamW",
    "nadam": "NAdam",
    "radam": "RAdam",
    "adamax": "Adamax",
    "adagrad": "Adagrad",
    "rmsprop": "RMSprop",
    "adadelta": "Adadelta",
    "rprop": "Rprop",
    "asgd": "ASGD",
}

# State buffers recorded after every step beside the parameters (torch's state keys),
# for the optimizers whose state is part of their answer: ASGD's averaged parameters
# `ax`, and Rprop's per-element step sizes.
RECORDED_STATE = {
    "asgd": ["ax"],
    "rprop": ["step_size"],
}

# Learning rates for plain gradient descent: below 2/L on each problem's start region.
SGD_LR = {
    "rosenbrock2": 2e-4,
    "rosenbrock5": 5e-4,
    "beale": 2e-3,
    "booth": 0.02,
    "himmelblau": 5e-3,
    "quadratic": 5e-3,
    "parabola": 0.05,
    "separable": 2e-3,
}

# Step-size-like learning rates of the adaptive methods (a step moves each coordinate by
# about lr), by problem scale.
ADAPTIVE_LR = {
    "rosenbrock2": 0.02,
    "rosenbrock5": 0.01,
    "beale": 0.01,
    "booth": 0.05,
    "himmelblau": 0.05,
    "quadratic": 0.05,
    "parabola": 0.2,
    "separable": 0.05,
}


# RAdam's first steps (rho_t <= 5) are un-normalized momentum steps of length about
# lr*|g|, so it needs gradient-descent-sized rates where gradients are large.
RADAM_LR = {
    "rosenbrock2": 2e-3,
    "rosenbrock5": 5e-4,
    "beale": 5e-3,
    "booth": 0.05,
    "himmelblau": 0.05,
    "quadratic": 0.01,
    "parabola": 0.2,
    "separable": 5e-3,
}


def lrs(table, scale=1.0):
    return lambda problem: table[problem] * scale


def const(v):
    return lambda problem: v


# (optimizer, tag, extra kwargs, lr(problem), float64 problems)
# Every optimizer's base flag set runs on every problem in float64; the variants run on a
# few problems each, so that every flag meets a curved valley (rosenbrock), an
# ill-conditioned bowl (quadratic) and several tensors (separable) somewhere. The float32
# set (F32_PROBLEMS below) runs every flag set once more, on one problem each.
R2, R5, BE, BO, HI, QU, PA, SE = ALL

CASES = [
    # ---- sgd ------------------------------------------------------------------------
    ("sgd", "plain", {}, lrs(SGD_LR), ALL),
    ("sgd", "momentum", {"momentum": 0.9}, lrs(SGD_LR, 0.5), [R2, R5, BE, HI, QU, SE]),
    ("sgd", "dampening", {"momentum": 0.9, "dampening": 0.5}, lrs(SGD_LR), [R2, BO, QU, SE]),
    ("sgd", "nesterov", {"momentum": 0.9, "nesterov": True}, lrs(SGD_LR, 0.5), [R2, R5, BE, QU, SE]),
    ("sgd", "weight_decay", {"weight_decay": 0.1}, lrs(SGD_LR), [R2, HI, QU, SE]),
    ("sgd", "momentum_wd", {"momentum": 0.5, "weight_decay": 0.05}, lrs(SGD_LR), [R5, BE, PA]),
    ("sgd", "maximize", {"maximize": True}, lrs(SGD_LR), [R2, QU, SE]),
    (
        "sgd",
        "maximize_nesterov_wd",
        {"momentum": 0.8, "weight_decay": 0.1, "nesterov": True, "maximize": True},
        lrs(SGD_LR, 0.5),
        [R2, BO, SE],
    ),
    # ---- adam -----------------------------------------------------------------------
    ("adam", "default", {}, lrs(ADAPTIVE_LR), ALL),
    ("adam", "amsgrad", {"amsgrad": True}, lrs(ADAPTIVE_LR), [R2, R5, BE, HI, QU, SE]),
    ("adam", "betas_eps", {"betas": (0.8, 0.99), "eps": 1e-6}, lrs(ADAPTIVE_LR), [R2, BO, QU, PA]),
    ("adam", "weight_decay", {"weight_decay": 0.1}, lrs(ADAPTIVE_LR), [R2, R5, HI, SE]),
    (
        "adam",
        "decoupled_wd",
        {"weight_decay": 0.1, "decoupled_weight_decay": True},
        lrs(ADAPTIVE_LR),
        [R2, BE, QU, SE],
    ),
    ("adam", "maximize", {"maximize": True}, lrs(ADAPTIVE_LR), [R2, QU, SE]),
    (
        "adam",
        "maximize_amsgrad_wd",
        {"amsgrad": True, "weight_decay": 0.05, "maximize": True, "betas": (0.9, 0.99)},
        lrs(ADAPTIVE_LR),
        [R5, HI, SE],
    ),
    # ---- adamw ----------------------------------------------------------------------
    ("adamw", "default", {}, lrs(ADAPTIVE_LR), ALL),
    ("adamw", "weight_decay", {"weight_decay": 0.5}, lrs(ADAPTIVE_LR), [R2, R5, BO, QU, SE]),
    ("adamw", "amsgrad", {"amsgrad": True}, lrs(ADAPTIVE_LR), [R2, BE, HI, SE]),
    (
        "adamw",
        "amsgrad_wd_maximize",
        {"amsgrad": True, "weight_decay": 0.2, "maximize": True, "betas": (0.85, 0.995)},
        lrs(ADAPTIVE_LR),
        [R2, QU, SE],
    ),
    # ---- nadam ----------------------------------------------------------------------
    ("nadam", "default", {}, lrs(ADAPTIVE_LR), ALL),
    ("nadam", "momentum_decay", {"momentum_decay": 0.02}, lrs(ADAPTIVE_LR), [R2, R5, QU, SE]),
    ("nadam", "weight_decay", {"weight_decay": 0.1}, lrs(ADAPTIVE_LR), [R2, HI, SE]),
    (
        "nadam",
        "decoupled_wd",
        {"weight_decay": 0.1, "decoupled_weight_decay": True},
        lrs(ADAPTIVE_LR),
        [R2, BE, QU, SE],
    ),
    (
        "nadam",
        "maximize_betas",
        {"maximize": True, "betas": (0.8, 0.99), "eps": 1e-6},
        lrs(ADAPTIVE_LR),
        [R5, BO, SE],
    ),
    # ---- radam ----------------------------------------------------------------------
    # With beta2 = 0.999, rho_t exceeds 5 from step 6 on: steps 1-5 take the
    # un-rectified branch, the rest the rectified one.
    ("radam", "default", {}, lrs(RADAM_LR), ALL),
    ("radam", "weight_decay", {"weight_decay": 0.1}, lrs(RADAM_LR), [R2, R5, HI, SE]),
    (
        "radam",
        "decoupled_wd",
        {"weight_decay": 0.1, "decoupled_weight_decay": True},
        lrs(RADAM_LR),
        [R2, BE, QU, SE],
    ),
    (
        "radam",
        "maximize_betas",
        {"maximize": True, "betas": (0.8, 0.99), "eps": 1e-6},
        lrs(RADAM_LR),
        [R2, BO, SE],
    ),
    # ---- adamax ---------------------------------------------------------------------
    ("adamax", "default", {}, lrs(ADAPTIVE_LR), ALL),
    ("adamax", "weight_decay", {"weight_decay": 0.1}, lrs(ADAPTIVE_LR), [R2, R5, HI, QU, SE]),
    (
        "adamax",
        "maximize_betas",
        {"maximize": True, "betas": (0.8, 0.99), "eps": 1e-6},
        lrs(ADAPTIVE_LR),
        [R2, BE, SE],
    ),
    # ---- adagrad --------------------------------------------------------------------
    ("adagrad", "default", {}, lrs(ADAPTIVE_LR, 5.0), ALL),
    ("adagrad", "lr_decay", {"lr_decay": 0.01}, lrs(ADAPTIVE_LR, 5.0), [R2, R5, QU, SE]),
    (
        "adagrad",
        "initial_accumulator",
        {"initial_accumulator_value": 0.5, "eps": 1e-6},
        lrs(ADAPTIVE_LR, 5.0),
        [R2, BE, HI, SE],
    ),
    ("adagrad", "weight_decay", {"weight_decay": 0.1}, lrs(ADAPTIVE_LR, 5.0), [R2, BO, QU, SE]),
    (
        "adagrad",
        "maximize_all",
        {"maximize": True, "lr_decay": 0.05, "weight_decay": 0.05, "initial_accumulator_value": 0.1},
        lrs(ADAPTIVE_LR, 5.0),
        [R5, PA, SE],
    ),
    # ---- rmsprop --------------------------------------------------------------------
    ("rmsprop", "default", {}, lrs(ADAPTIVE_LR, 0.2), ALL),
    ("rmsprop", "momentum", {"momentum": 0.9}, lrs(ADAPTIVE_LR, 0.05), [R2, R5, BE, QU, SE]),
    ("rmsprop", "centered", {"centered": True}, lrs(ADAPTIVE_LR, 0.2), [R2, HI, QU, SE]),
    (
        "rmsprop",
        "centered_momentum",
        {"centered": True, "momentum": 0.5, "alpha": 0.9},
        lrs(ADAPTIVE_LR, 0.1),
        [R2, R5, BO, SE],
    ),
    ("rmsprop", "weight_decay", {"weight_decay": 0.1}, lrs(ADAPTIVE_LR, 0.2), [R2, HI, SE]),
    (
        "rmsprop",
        "maximize_wd_eps",
        {"maximize": True, "weight_decay": 0.05, "eps": 1e-6, "alpha": 0.95},
        lrs(ADAPTIVE_LR, 0.2),
        [R2, QU, PA, SE],
    ),
    # ---- adadelta -------------------------------------------------------------------
    ("adadelta", "default", {}, const(1.0), ALL),
    ("adadelta", "rho", {"rho": 0.95, "eps": 1e-4}, const(1.0), [R2, R5, BE, QU, SE]),
    ("adadelta", "lr", {"eps": 1e-4}, const(20.0), [R2, HI, QU, SE]),
    ("adadelta", "weight_decay", {"weight_decay": 0.1, "eps": 1e-4}, const(5.0), [R2, BO, SE]),
    (
        "adadelta",
        "maximize_wd",
        {"maximize": True, "weight_decay": 0.05, "rho": 0.8, "eps": 1e-3},
        const(2.0),
        [R5, PA, SE],
    ),
    # ---- rprop ----------------------------------------------------------------------
    # lr is the initial step size; the sign-driven steps then grow by etas[1] and shrink
    # by etas[0] within step_sizes.
    ("rprop", "default", {}, const(0.01), ALL),
    ("rprop", "etas", {"etas": (0.3, 1.5)}, const(0.05), [R2, R5, BE, QU, SE]),
    ("rprop", "step_sizes", {"step_sizes": (1e-3, 0.1)}, const(0.05), [R2, HI, QU, SE]),
    ("rprop", "maximize", {"maximize": True}, const(0.01), [R2, QU, SE]),
    (
        "rprop",
        "maximize_etas_step_sizes",
        {"etas": (0.6, 1.1), "step_sizes": (1e-4, 1.0), "maximize": True},
        const(0.2),
        [R5, BO, PA, SE],
    ),
    # ---- asgd -----------------------------------------------------------------------
    # The default t0 = 1e6 never averages within STEPS; the other flag sets start the
    # average early (a fractional t0 makes the weights non-uniform), and lambd = 0.5
    # makes the step size decay visibly (eta_t = lr / (1 + lambd lr t)^alpha).
    ("asgd", "default", {}, lrs(SGD_LR), ALL),
    ("asgd", "t0", {"t0": 20.0}, lrs(SGD_LR), [R2, R5, BE, HI, QU, SE]),
    (
        "asgd",
        "lambd_alpha",
        {"lambd": 0.5, "alpha": 1.0, "t0": 50.0},
        lrs(SGD_LR),
        [R2, BO, QU, PA, SE],
    ),
    ("asgd", "weight_decay", {"weight_decay": 0.1, "t0": 10.0}, lrs(SGD_LR), [R2, HI, QU, SE]),
    ("asgd", "maximize", {"maximize": True, "t0": 0.0}, lrs(SGD_LR), [R2, QU, SE]),
    (
        "asgd",
        "all",
        {"lambd": 0.01, "alpha": 0.6, "t0": 5.5, "weight_decay": 0.05, "maximize": True},
        lrs(SGD_LR, 2.0),
        [R5, BE, SE],
    ),
]

# float32: every flag set once more, on one problem, taking the problems in turn (and the
# next one whenever a problem is not robust for that flag set, see ROBUST_LIMIT).
F32_PROBLEMS = [R2, SE, QU, R5, BE, HI]

# A case is kept only if torch agrees with itself across CPU kernels: run once with the
# kernels this machine selects (AVX2 or AVX-512, which fuse multiply-adds in add(alpha=),
# lerp and addcmul) and once with ATEN_CPU_CAPABILITY=default (no fusing), the two
# trajectories must differ by less than a tenth of the Rust test's tolerance (same error
# measure as the test: |a - b| / max(|a|, floor)). A case above it amplifies last-bit
# differences (a chaotic choice of basin, say), so it could not tell a correct
# implementation from a wrong one. The measured difference is stored as `fma_sensitivity`.
ROBUST_LIMIT = {"f64": 1e-10, "f32": 1e-5}
ERROR_FLOOR = {"f64": 1e-6, "f32": 1e-3}


def candidate_groups():
    """Lists of candidate cases; the first robust case of each list is written.

    A float64 case forms a list of its own; the float32 cases of one flag set form one
    list, in order of preference."""
    groups = []
    turn = {}
    for opt_name, tag, kw, lr_of, problems in CASES:

        def case(problem, dtype):
            kwargs = {"lr": float(lr_of(problem))}
            kwargs.update(kw)
            return {
                "id": f"{opt_name}/{tag}/{problem}/{dtype}",
                "optimizer": opt_name,
                "kwargs": kwargs,
                "problem": problem,
                "dtype": dtype,
            }

        groups.extend([case(problem, "f64")] for problem in problems)
        k = turn.get(opt_name, 0) % len(F32_PROBLEMS)
        turn[opt_name] = k + 1
        groups.append([case(p, "f32") for p in F32_PROBLEMS[k:] + F32_PROBLEMS[:k]])
    return groups


# --------------------------------------------------------------------------------------
# Spec strings.
# --------------------------------------------------------------------------------------


def spec_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, tuple):
        return "(" + ", ".join(spec_value(u) for u in v) + ")"
    if isinstance(v, float):
        return repr(v)
    raise TypeError(v)


def spec_string(name: str, kwargs: dict) -> str:
    return f"{name}(" + ", ".join(f"{k}={spec_value(v)}" for k, v in kwargs.items()) + ")"


def json_kwargs(kwargs: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()}


# --------------------------------------------------------------------------------------
# Running one case.
# --------------------------------------------------------------------------------------

DTYPES = {"f64": (torch.float64, np.float64), "f32": (torch.float32, np.float32)}


def exact(v) -> str:
    """The shortest decimal that reads back to the same double (a float32 value is
    widened to double first, exactly)."""
    r = repr(float(v))
    assert float(r) == float(v)
    return r


def run_case(opt_name, kwargs, problem, dtype):
    torch_dtype, np_dtype = DTYPES[dtype]
    _, tensors = PROBLEMS[problem]

    def K(c):
        return np_dtype(c)

    params = [
        torch.tensor(start, dtype=torch_dtype, requires_grad=False) for (_, start, _) in tensors
    ]
    cls = getattr(torch.optim, TORCH_CLASS[opt_name])
    opt = cls(params, **kwargs)
    maximize = bool(kwargs.get("maximize", False))
    recorded = RECORDED_STATE.get(opt_name, [])
    # One series per tensor, then one per recorded state buffer and tensor.
    traj = [[] for _ in range(len(tensors) * (1 + len(recorded)))]
    for _ in range(STEPS):
        for p, (_, _, gfun) in zip(params, tensors):
            x = [K(v) for v in p.detach().numpy().tolist()]
            g = gfun(x, K)
            assert all(type(v) is np_dtype for v in g), (problem, dtype, [type(v) for v in g])
            if maximize:
                # Maximize the negated objective: torch negates the gradient again, so the
                # trajectory descends the objective.
                g = [-v for v in g]
            p.grad = torch.tensor([float(v) for v in g], dtype=torch_dtype)
        opt.step()
        for k, p in enumerate(params):
            values = p.detach().numpy().tolist()
            if not all(math.isfinite(v) and abs(v) <= 1e3 for v in values):
                return None
            traj[k].append([exact(v) for v in values])
        for j, key in enumerate(recorded):
            for k, p in enumerate(params):
                values = opt.state[p][key].numpy().tolist()
                traj[(1 + j) * len(params) + k].append([exact(v) for v in values])
    return traj


def grad_norm(problem, point):
    """The float64 gradient norm at `point` (one list per tensor), for the progress log."""
    _, tensors = PROBLEMS[problem]
    total = 0.0
    for values, (_, _, gfun) in zip(point, tensors):
        total += sum(float(v) ** 2 for v in gfun([np.float64(float(v)) for v in values], np.float64))
    return math.sqrt(total)


def dumps(doc) -> str:
    """JSON with one line per step: arrays of scalars are kept on one line."""
    text = json.dumps(doc, indent=0)
    flat = re.compile(r"\[\n\s*([^\[\]{}]*?)\n\s*\]")
    return flat.sub(lambda m: "[" + re.sub(r",\n\s*", ", ", m.group(1)) + "]", text) + "\n"


def run_all(cases):
    """Trajectories of `cases` (None for a case that diverged)."""
    torch.set_num_threads(1)
    return [run_case(c["optimizer"], c["kwargs"], c["problem"], c["dtype"]) for c in cases]


def run_unfused(cases):
    """Starts a child process running `cases` on torch's default (unfused) CPU kernels;
    returns a function that waits for its trajectories."""
    env = dict(os.environ, ATEN_CPU_CAPABILITY="default")
    child = subprocess.Popen(
        [sys.executable, __file__, "--raw"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    child.stdin.write(json.dumps(cases))
    child.stdin.close()

    def wait():
        out = json.load(child.stdout)
        if child.wait() != 0:
            raise RuntimeError("the unfused torch run failed")
        assert out["cpu_capability"] == "DEFAULT", out["cpu_capability"]
        return out["trajectories"]

    return wait


def raw_main():
    """Child process: read cases from stdin, print their trajectories."""
    cases = json.load(sys.stdin)
    for c in cases:
        c["kwargs"] = {k: tuple(v) if isinstance(v, list) else v for k, v in c["kwargs"].items()}
    out = {"cpu_capability": torch.backends.cpu.get_cpu_capability(), "trajectories": run_all(cases)}
    json.dump(out, sys.stdout)


def difference(a, b, dtype):
    """The largest |x - y| / max(|x|, floor) between two trajectories."""
    worst = 0.0
    for ta, tb in zip(a, b):
        for sa, sb in zip(ta, tb):
            for x, y in zip(sa, sb):
                x, y = float(x), float(y)
                worst = max(worst, abs(x - y) / max(abs(x), ERROR_FLOOR[dtype]))
    return worst


def tensor_record(opt_name, traj, k, name, start, ntensors):
    """The JSON of tensor `k`: its start, its values after every step and, for the
    optimizers in RECORDED_STATE, its state buffers after every step."""
    record = {"name": name, "start": [exact(v) for v in start], "steps": traj[k]}
    recorded = RECORDED_STATE.get(opt_name, [])
    if recorded:
        record["state"] = {key: traj[(1 + j) * ntensors + k] for j, key in enumerate(recorded)}
    return record


def generate():
    # The path taken matters for bit-exactness: make sure it is the default CPU one.
    assert not torch.cuda.is_initialized()
    capability = torch.backends.cpu.get_cpu_capability()
    meta = {
        "generator": "tools/torch_fixtures.py",
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "cpu_capability": capability,
        "machine": platform.machine(),
        "steps": STEPS,
        "torch_path": "CPU, single-tensor (foreach and fused not passed, so torch uses neither)",
        "number_format": "strings holding Python repr() of the value as a double (exact)",
        "gradients": (
            "explicit formulas evaluated one IEEE operation at a time in the case's dtype, "
            "left to right, no fused multiply-add; under maximize=true the gradient given to "
            "the optimizer is the negation of the formula's (the negated objective is "
            "maximized, so the trajectory still descends the objective)"
        ),
        "gradient_formulas": GRADIENT_FORMULAS,
        "fma_sensitivity": (
            "largest |a - b| / max(|a|, floor) (floor 1e-6 for f64, 1e-3 for f32) between "
            "this trajectory and torch's on its unfused default CPU kernels "
            "(ATEN_CPU_CAPABILITY=default); cases above 1e-10 (f64) or 1e-5 (f32) are not kept"
        ),
    }
    groups = candidate_groups()
    flat = [c for g in groups for c in g]
    wait = run_unfused(flat)
    fused = run_all(flat)
    unfused = wait()
    if capability == "DEFAULT":
        print("warning: torch runs unfused kernels here; fma_sensitivity is 0", file=sys.stderr)
    result = {c["id"]: (t, u) for c, t, u in zip(flat, fused, unfused)}

    files = {}
    dropped = []
    log = []
    for group in groups:
        for c in group:
            traj, other = result[c["id"]]
            if traj is None or other is None:
                dropped.append(f"{c['id']}: diverged or left [-1e3, 1e3]")
                continue
            sensitivity = difference(traj, other, c["dtype"])
            if sensitivity > ROBUST_LIMIT[c["dtype"]]:
                dropped.append(f"{c['id']}: not robust, fma_sensitivity {sensitivity:.2e}")
                continue
            opt_name, kwargs, problem = c["optimizer"], c["kwargs"], c["problem"]
            family, tensors = PROBLEMS[problem]
            g0 = grad_norm(problem, [start for (_, start, _) in tensors])
            g1 = grad_norm(problem, [t[-1] for t in traj[: len(tensors)]])
            log.append(f"{c['id']:50} |grad| {g0:10.3g} -> {g1:10.3g}, sensitivity {sensitivity:.1e}")
            files.setdefault(opt_name, []).append(
                {
                    "id": c["id"],
                    "spec": spec_string(opt_name, kwargs),
                    "torch_class": "torch.optim." + TORCH_CLASS[opt_name],
                    "torch_kwargs": json_kwargs(kwargs),
                    "problem": problem,
                    "gradient": family,
                    # maximize=true: the gradient handed over is the formula's, negated.
                    "negate_gradient": bool(kwargs.get("maximize", False)),
                    "dtype": c["dtype"],
                    "fma_sensitivity": float(f"{sensitivity:.2e}"),
                    "tensors": [
                        tensor_record(opt_name, traj, k, name, start, len(tensors))
                        for k, (name, start, _) in enumerate(tensors)
                    ],
                }
            )
            break
        else:
            if len(group) > 1:
                dropped.append(f"{group[0]['id']}: no robust float32 problem for this flag set")
    out = {}
    for opt_name in TORCH_CLASS:
        doc = dict(meta)
        doc["optimizer"] = opt_name
        if opt_name in RECORDED_STATE:
            doc["recorded_state"] = (
                "each tensor's `state` holds torch's state buffers "
                + ", ".join(RECORDED_STATE[opt_name])
                + " after every step, beside `steps`"
            )
        doc["cases"] = files.get(opt_name, [])
        out[f"optimizers_{opt_name}.json"] = dumps(doc)
    return out, dropped, log


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if a fixture file would change")
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    ap.add_argument("-v", "--verbose", action="store_true", help="log each case's progress")
    ap.add_argument("--raw", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.raw:
        raw_main()
        return
    out, dropped, log = generate()
    if args.verbose:
        print("\n".join(log))
    for case_id in dropped:
        print(f"dropped {case_id}", file=sys.stderr)
    changed = []
    for name, text in out.items():
        path = args.out / name
        old = path.read_text() if path.exists() else None
        if old != text:
            changed.append(name)
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    for name, text in out.items():
        n = len(json.loads(text)["cases"])
        print(f"{name}: {n} cases, {len(text) / 1024:.0f} KiB")
    if args.check and changed:
        print("would change: " + ", ".join(changed), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
