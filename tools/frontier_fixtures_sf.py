#!/usr/bin/env python3
"""Generate the Schedule-Free and Prodigy trajectories gradus is tested against.

Usage (from the repository root, with torch 2.15, schedulefree 1.4.1 and prodigyopt
1.1.2 installed):

    python3 tools/frontier_fixtures_sf.py          # writes the two fixture files
    python3 tools/frontier_fixtures_sf.py --check  # fails if a file would change

Writes crates/gradus/tests/fixtures/schedule_free.json (schedulefree.AdamWScheduleFree
and SGDScheduleFree) and crates/gradus/tests/fixtures/prodigy.json (prodigyopt.Prodigy),
replayed by crates/gradus/tests/schedule_free_ref.rs and prodigy_ref.rs.

Every case runs the reference optimizer in float64 on the CPU on an analytic problem
of several tensors. Gradients are not taken by autograd: they are written from the
explicit formulas below with Python floats (IEEE doubles, one operation at a time,
left to right), so the Rust tests evaluate exactly the same numbers and differences
come from the optimizer alone.

Schedule-Free records, after each step, `params` (the tensors in train mode: the
point y where the next gradient is taken) and `eval_params` (what the tensors hold
after the optimizer's `eval()`: the averaged point x). The eval read-out does not
perturb the run: y is copied back exactly afterwards and the group put back in train
mode, so the trajectory is the one of a loop that never calls `eval()` (a
`train()` after `eval()` would recompute y by a second `lerp` and may move it by an
ulp). Each Schedule-Free case is run with `foreach=True` (the default) and
`foreach=False`; the script checks both agree to 1e-13 and records the default.

Prodigy records `params` and the group's `d` after each step, in float64 (`steps`)
and in float32 (`steps_f32`: tensors, gradients and state in float32).
"""
import json
import math
import sys

import torch
import schedulefree
import prodigyopt

STEPS = 12
OUT_SF = "crates/gradus/tests/fixtures/schedule_free.json"
OUT_PRODIGY = "crates/gradus/tests/fixtures/prodigy.json"


def bowl(x):
    # a coupled quadratic over two tensors: a (3 values) and b (2 values)
    a0, a1, a2, b0, b1 = x
    g = [
        2.0 * a0 + 0.5 * b0,
        20.0 * a1,
        6.0 * (a2 - 1.0),
        0.5 * a0 + 8.0 * b0,
        b1 + 2.0,
    ]
    return g


def rosenbrock(x):
    # gradus-problems' Rosenbrock (dim 2), in its order of operations
    x0, x1 = x
    a = x1 - x0 * x0
    b = 1.0 - x0
    return [0.0 - 400.0 * x0 * a - 2.0 * b, 0.0 + 200.0 * a]


def quartic(x):
    # sum of w_i (x_i - c_i)^4 + (x_i - c_i)^2 over a 2x3 matrix W and a vector v of 2
    c = [0.5, -1.0, 2.0, 0.0, 1.5, -0.5, 1.0, -2.0]
    w = [1.0, 0.5, 2.0, 0.25, 1.0, 3.0, 0.5, 1.0]
    g = []
    for xi, ci, wi in zip(x, c, w):
        d = xi - ci
        g.append(4.0 * wi * d * d * d + 2.0 * d)
    return g


PROBLEMS = {
    "bowl": (bowl, [[3.0, -2.0, 0.5], [1.0, -1.0]]),
    "bowl_zero": (bowl, [[0.0, 0.0, 0.0], [1.0, -1.0]]),
    "rosenbrock": (rosenbrock, [[-1.5, 2.0]]),
    "quartic": (quartic, [[1.0, 0.0, 1.0, -1.0, 2.0, 0.5], [0.0, -1.0]]),
}

SHAPES = {"quartic": [[2, 3], [2]]}


def spec_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, tuple):
        return "(" + ", ".join(spec_value(x) for x in v) + ")"
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return repr(v)


def spec(name, kwargs):
    return name + "(" + ", ".join(f"{k}={spec_value(v)}" for k, v in kwargs.items()) + ")"


def tensors(problem, dtype=torch.float64):
    _, start = PROBLEMS[problem]
    return [torch.tensor(s, dtype=dtype) for s in start]


def set_grads(problem, params):
    # float32 runs: the gradient at the float32 values, in doubles, then rounded
    f, _ = PROBLEMS[problem]
    x = [v for p in params for v in p.tolist()]
    g = f(x)
    k = 0
    for p in params:
        n = p.numel()
        p.grad = torch.tensor(g[k : k + n], dtype=p.dtype)
        k += n


def run_schedule_free(cls, problem, kwargs, foreach):
    params = tensors(problem)
    opt = cls(params, foreach=foreach, **kwargs)
    opt.train()
    steps = []
    for _ in range(STEPS):
        set_grads(problem, params)
        opt.step()
        y = [p.detach().clone() for p in params]
        opt.eval()
        x = [p.tolist() for p in params]
        with torch.no_grad():
            for p, v in zip(params, y):
                p.copy_(v)
        for group in opt.param_groups:
            group["train_mode"] = True
        steps.append({"params": [v.tolist() for v in y], "eval_params": x})
    return steps


SF_CASES = [
    ("schedule_free_adamw", "bowl", {}),
    ("schedule_free_adamw", "bowl", {"lr": 0.05}),
    ("schedule_free_adamw", "bowl", {"lr": 0.1, "betas": (0.8, 0.99), "eps": 1e-3}),
    ("schedule_free_adamw", "bowl", {"lr": 0.05, "weight_decay": 0.1}),
    ("schedule_free_adamw", "bowl", {"lr": 0.05, "warmup_steps": 5}),
    ("schedule_free_adamw", "bowl", {"lr": 0.05, "warmup_steps": 4, "weight_lr_power": 0.0}),
    ("schedule_free_adamw", "quartic", {"lr": 0.02, "r": 1.0, "warmup_steps": 3}),
    ("schedule_free_adamw", "quartic", {"lr": 0.03, "betas": (0.95, 0.9), "weight_decay": 0.5, "r": 0.5, "weight_lr_power": 1.0}),
    ("schedule_free_adamw", "rosenbrock", {"lr": 0.01}),
    ("schedule_free_adamw", "rosenbrock", {"lr": 0.02, "betas": (0.9, 0.99), "warmup_steps": 6, "r": 2.0, "weight_decay": 0.01}),
    ("schedule_free_sgd", "bowl", {"lr": 0.02}),
    ("schedule_free_sgd", "bowl", {"lr": 0.03, "momentum": 0.5}),
    ("schedule_free_sgd", "bowl", {"lr": 0.02, "weight_decay": 0.2}),
    ("schedule_free_sgd", "bowl", {"lr": 0.04, "warmup_steps": 5}),
    ("schedule_free_sgd", "quartic", {"lr": 0.01, "momentum": 0.95, "r": 1.0, "weight_lr_power": 0.0}),
    ("schedule_free_sgd", "quartic", {"lr": 0.02, "warmup_steps": 3, "r": 0.5, "weight_lr_power": 1.0, "weight_decay": 0.05}),
    ("schedule_free_sgd", "rosenbrock", {"lr": 0.0005}),
    ("schedule_free_sgd", "rosenbrock", {"lr": 0.001, "momentum": 0.8, "warmup_steps": 4, "r": 1.0}),
]

SF_CLASSES = {
    "schedule_free_adamw": schedulefree.AdamWScheduleFree,
    "schedule_free_sgd": schedulefree.SGDScheduleFree,
}


def schedule_free_case(name, problem, kwargs):
    cls = SF_CLASSES[name]
    steps = run_schedule_free(cls, problem, kwargs, foreach=True)
    single = run_schedule_free(cls, problem, kwargs, foreach=False)
    for a, b in zip(steps, single):
        for key in ("params", "eval_params"):
            for ta, tb in zip(a[key], b[key]):
                for va, vb in zip(ta, tb):
                    assert abs(va - vb) <= 1e-13 * max(1.0, abs(va)), (name, kwargs, key, va, vb)
    return {
        "problem": problem,
        "spec": spec(name, kwargs),
        "start": PROBLEMS[problem][1],
        "shapes": SHAPES.get(problem),
        "steps": steps,
    }


PRODIGY_CASES = [
    ("bowl", {}),
    ("bowl", {"lr": 0.5, "betas": (0.8, 0.99)}),
    ("bowl", {"beta3": 0.9, "eps": 1e-6}),
    ("bowl", {"weight_decay": 0.1}),
    ("bowl", {"weight_decay": 0.1, "decouple": False}),
    ("bowl", {"use_bias_correction": True}),
    ("bowl", {"safeguard_warmup": True, "use_bias_correction": True}),
    ("bowl", {"d0": 1e-3, "d_coef": 0.5}),
    ("bowl", {"growth_rate": 1.5, "d0": 1e-4}),
    ("bowl", {"betas": (0.0, 0.99), "weight_decay": 0.05, "decouple": False}),
    ("bowl", {"betas": (0.0, 0.999), "d_coef": 2.0}),
    ("bowl_zero", {"d0": 1e-2}),
    ("quartic", {"slice_p": 2}),
    ("quartic", {"slice_p": 3, "growth_rate": 1.02, "d0": 1e-2, "safeguard_warmup": True}),
    ("quartic", {"lr": 2.0, "use_bias_correction": True, "weight_decay": 0.01}),
    ("rosenbrock", {"lr": 0.1}),
    ("rosenbrock", {"d0": 1e-3, "betas": (0.9, 0.99), "beta3": 0.95, "use_bias_correction": True}),
]


def prodigy_run(problem, kwargs, dtype):
    params = tensors(problem, dtype)
    opt = prodigyopt.Prodigy(params, **kwargs)
    steps = []
    for _ in range(STEPS):
        set_grads(problem, params)
        opt.step()
        steps.append({"params": [p.tolist() for p in params], "d": opt.param_groups[0]["d"]})
    return steps


def prodigy_case(problem, kwargs):
    return {
        "problem": problem,
        "spec": spec("prodigy", kwargs),
        "start": PROBLEMS[problem][1],
        "shapes": SHAPES.get(problem),
        "steps": prodigy_run(problem, kwargs, torch.float64),
        "steps_f32": prodigy_run(problem, kwargs, torch.float32),
    }


def write(path, data):
    text = json.dumps(data, indent=1) + "\n"
    if "--check" in sys.argv:
        with open(path) as fh:
            if fh.read() != text:
                sys.exit(f"{path} would change")
        return
    with open(path, "w") as fh:
        fh.write(text)
    print(f"wrote {path}: {len(data['cases'])} cases x {STEPS} steps")


def main():
    import importlib.metadata as md

    write(
        OUT_SF,
        {
            "schedulefree": md.version("schedulefree"),
            "torch": torch.__version__.split("+")[0],
            "dtype": "f64",
            "note": "schedulefree.AdamWScheduleFree / SGDScheduleFree, float64, CPU; gradients "
            "from explicit formulas (see tools/frontier_fixtures_sf.py); params = train mode (y), "
            "eval_params = after eval() (x)",
            "cases": [schedule_free_case(*c) for c in SF_CASES],
        },
    )
    write(
        OUT_PRODIGY,
        {
            "prodigyopt": md.version("prodigyopt"),
            "torch": torch.__version__.split("+")[0],
            "dtype": "f64",
            "note": "prodigyopt.Prodigy, float64, CPU; gradients from explicit formulas "
            "(see tools/frontier_fixtures_sf.py); d = param_groups[0]['d'] after each step; "
            "steps_f32: the same in float32",
            "cases": [prodigy_case(*c) for c in PRODIGY_CASES],
        },
    )


if __name__ == "__main__":
    main()
