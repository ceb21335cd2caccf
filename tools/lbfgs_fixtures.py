#!/usr/bin/env python3
"""Generate the torch.optim.LBFGS trajectories gradus is tested against.

Usage (from the repository root, with torch 2.15 installed):

    python3 tools/lbfgs_fixtures.py          # writes crates/gradus/tests/fixtures/lbfgs.json
    python3 tools/lbfgs_fixtures.py --check  # fails if the file would change

Each case runs torch.optim.LBFGS in float64 on the CPU for STEPS calls of
`step(closure)`, recording the parameters, torch's `func_evals` and `n_iter` after each.
The closure does not use autograd: it evaluates the loss and writes the gradient from
the explicit formulas below with Python floats (IEEE doubles, one operation at a time,
left to right), so the Rust test (crates/gradus/tests/lbfgs_torch.rs) evaluates exactly
the same numbers and any difference comes from the optimizer.
"""
import json
import sys

import torch

STEPS = 6
OUT = "crates/gradus/tests/fixtures/lbfgs.json"


def rosenbrock(x):
    a, b = x
    g = [-2.0 * (1.0 - a) - 400.0 * a * (b - a * a), 200.0 * (b - a * a)]
    return (1.0 - a) * (1.0 - a) + 100.0 * ((b - a * a) * (b - a * a)), g


def bowl(x):
    # an ill-conditioned quadratic over three coordinates in two tensors
    a, b, c = x
    g = [2.0 * a + 0.5 * b, 0.5 * a + 20.0 * b, 200.0 * c - 3.0]
    f = a * a + 0.5 * a * b + 10.0 * b * b + 100.0 * c * c - 3.0 * c
    return f, g


def beale(x):
    a, b = x
    t1 = 1.5 - a + a * b
    t2 = 2.25 - a + a * b * b
    t3 = 2.625 - a + a * b * b * b
    f = t1 * t1 + t2 * t2 + t3 * t3
    g = [
        2.0 * t1 * (b - 1.0) + 2.0 * t2 * (b * b - 1.0) + 2.0 * t3 * (b * b * b - 1.0),
        2.0 * t1 * a + 2.0 * t2 * (2.0 * a * b) + 2.0 * t3 * (3.0 * a * b * b),
    ]
    return f, g


def hill(x):
    # concave: maximize -(a - 1)^2 - 4 (b + 0.5)^2
    a, b = x
    return -(a - 1.0) * (a - 1.0) - 4.0 * ((b + 0.5) * (b + 0.5)), [-2.0 * (a - 1.0), -8.0 * (b + 0.5)]


PROBLEMS = {
    "rosenbrock": (rosenbrock, [[-1.5, 2.0]]),
    "bowl": (bowl, [[3.0, -2.0], [1.0]]),
    "beale": (beale, [[1.0, 1.5]]),
    "hill": (hill, [[3.0, 2.0]]),
}

CASES = [
    ("rosenbrock", "lbfgs"),
    ("rosenbrock", "lbfgs(lr=0.5, max_iter=5)"),
    ("rosenbrock", "lbfgs(line_search_fn=strong_wolfe)"),
    ("rosenbrock", "lbfgs(max_iter=4, history_size=2, line_search_fn=strong_wolfe)"),
    ("rosenbrock", "lbfgs(max_iter=10, max_eval=12, line_search_fn=strong_wolfe)"),
    ("bowl", "lbfgs(lr=0.05, max_iter=8)"),
    ("bowl", "lbfgs(line_search_fn=strong_wolfe, history_size=3)"),
    ("bowl", "lbfgs(max_iter=3, tolerance_grad=1e-3, tolerance_change=1e-6, line_search_fn=strong_wolfe)"),
    ("beale", "lbfgs(lr=0.2, max_iter=6)"),
    ("beale", "lbfgs(max_iter=7, line_search_fn=strong_wolfe)"),
    ("hill", "lbfgs(lr=0.3, max_iter=4, maximize=true)"),
    ("hill", "lbfgs(max_iter=5, line_search_fn=strong_wolfe, maximize=true)"),
]


def parse(spec):
    kwargs = {}
    if "(" in spec:
        for part in spec[spec.index("(") + 1 : -1].split(","):
            k, v = (s.strip() for s in part.split("="))
            if v in ("true", "false"):
                kwargs[k] = v == "true"
            elif v == "strong_wolfe":
                kwargs[k] = v
            elif k in ("max_iter", "max_eval", "history_size"):
                kwargs[k] = int(v)
            else:
                kwargs[k] = float(v)
    return kwargs


def run(problem, spec):
    f, start = PROBLEMS[problem]
    params = [torch.tensor(s, dtype=torch.float64) for s in start]
    opt = torch.optim.LBFGS(params, **parse(spec))

    def closure():
        x = [v for p in params for v in p.tolist()]
        loss, g = f(x)
        k = 0
        for p in params:
            n = p.numel()
            p.grad = torch.tensor(g[k : k + n], dtype=torch.float64)
            k += n
        return loss

    steps = []
    for _ in range(STEPS):
        opt.step(closure)
        st = opt.state[params[0]]
        steps.append(
            {
                "params": [p.tolist() for p in params],
                "func_evals": st["func_evals"],
                "n_iter": st["n_iter"],
            }
        )
    return {"problem": problem, "spec": spec, "start": start, "steps": steps}


def main():
    data = {
        "torch": torch.__version__.split("+")[0],
        "dtype": "f64",
        "note": "torch.optim.LBFGS, float64, CPU; closure gradients from explicit formulas (see tools/lbfgs_fixtures.py)",
        "cases": [run(p, s) for p, s in CASES],
    }
    text = json.dumps(data, indent=1) + "\n"
    if "--check" in sys.argv:
        with open(OUT) as fh:
            if fh.read() != text:
                sys.exit(f"{OUT} would change")
        return
    with open(OUT, "w") as fh:
        fh.write(text)
    print(f"wrote {OUT}: {len(CASES)} cases x {STEPS} steps")


if __name__ == "__main__":
    main()
