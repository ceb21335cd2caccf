#!/usr/bin/env python3
"""Generate the torch.optim.Muon trajectories gradus is tested against.

Usage (from the repository root, with torch 2.15 installed):

    python3 tools/muon_fixtures.py          # writes crates/gradus/tests/fixtures/muon.json
    python3 tools/muon_fixtures.py --check  # fails if the file would change

Each case runs torch.optim.Muon on the CPU on one matrix parameter for a few steps,
with gradients given explicitly (seeded normal draws stored in the file, or the
Rosenbrock gradient of the flattened matrix computed with Python floats, one IEEE
operation at a time in the order of gradus-problems' Rosenbrock), recording the
parameter after each step. Cases run with:

* `ns_dtype = "bfloat16"`: torch's own Newton-Schulz iteration, in bfloat16;
* `ns_dtype = "float64"`: the same function with `torch.bfloat16` replaced by
  `torch.float64` (patched below, nothing else changed), which gradus matches to
  rounding (its `ns_dtype=float64`).

The Rust tests are crates/gradus/tests/muon_torch.rs and the CLI test
`muon_on_a_shaped_rosenbrock_matches_torch` in crates/gradus-cli/tests/cli.rs.
"""
import json
import math
import sys

import torch
import torch.optim._muon as muon_module

OUT = "crates/gradus/tests/fixtures/muon.json"
TORCH_NS = muon_module._zeropower_via_newtonschulz


def ns_float64(grad, ns_coefficients, ns_steps, eps):
    """torch's _zeropower_via_newtonschulz with float64 in place of bfloat16."""
    a, b, c = ns_coefficients
    ortho_grad = grad.to(dtype=torch.float64, copy=True)
    if grad.size(0) > grad.size(1):
        ortho_grad = ortho_grad.T
    ortho_grad.div_(ortho_grad.norm().clamp(min=eps))
    for _ in range(ns_steps):
        gram_matrix = ortho_grad @ ortho_grad.T
        gram_update = torch.addmm(gram_matrix, gram_matrix, gram_matrix, beta=b, alpha=c)
        ortho_grad = torch.addmm(ortho_grad, gram_update, ortho_grad, beta=a)
    if grad.size(0) > grad.size(1):
        ortho_grad = ortho_grad.T
    return ortho_grad


def rosenbrock_grad(x):
    """gradus-problems' Rosenbrock gradient, operation by operation."""
    n = len(x)
    g = [0.0] * n
    for i in range(n - 1):
        a = x[i + 1] - x[i] * x[i]
        b = 1.0 - x[i]
        g[i] = g[i] - 400.0 * x[i] * a - 2.0 * b
        g[i + 1] = g[i + 1] + 200.0 * a
    return g


def rosenbrock_start(n):
    return [-1.2 if i % 2 == 0 else 1.0 for i in range(n)]


TORCH_DTYPE = {"f32": torch.float32, "f64": torch.float64}

# (spec for gradus, torch kwargs)
CONFIGS = [
    ("muon(lr=0.02)", dict(lr=0.02)),
    ("muon(lr=0.02, nesterov=false)", dict(lr=0.02, nesterov=False)),
    ("muon(lr=0.05, momentum=0.5, weight_decay=0.0)", dict(lr=0.05, momentum=0.5, weight_decay=0.0)),
    ("muon(lr=0.01, weight_decay=0.3, adjust_lr_fn=match_rms_adamw)", dict(lr=0.01, weight_decay=0.3, adjust_lr_fn="match_rms_adamw")),
    ("muon(lr=0.01, adjust_lr_fn=spectral_unclamped)", dict(lr=0.01, adjust_lr_fn="spectral_unclamped")),
    ("muon(lr=0.03, ns_steps=3, ns_coefficients=(2.0, -1.5, 0.5), eps=1e-5)", dict(lr=0.03, ns_steps=3, ns_coefficients=(2.0, -1.5, 0.5), eps=1e-5)),
    ("muon(lr=0.02, momentum=0.0)", dict(lr=0.02, momentum=0.0, nesterov=False)),
]
# Small shapes (square, wide, tall) for every configuration; two larger ones, where
# bfloat16 accumulation order starts to matter, for the first two.
SHAPES = [[3, 3], [4, 7], [9, 2]]
LARGE_SHAPES = [[12, 20], [24, 8]]
# Products beyond 16³ multiply-adds go to oneDNN in torch, whose f32 summation order
# gradus does not reproduce: checked to a tolerance, default configuration only.
ONEDNN_SHAPES = [[18, 30]]
STEPS = 4


def run(spec_kwargs, shape, dtype, ns_dtype, start, grads_fn, steps):
    muon_module._zeropower_via_newtonschulz = ns_float64 if ns_dtype == "float64" else TORCH_NS
    try:
        p = torch.tensor(start, dtype=TORCH_DTYPE[dtype]).reshape(shape).requires_grad_(True)
        opt = torch.optim.Muon([p], **spec_kwargs)
        out = []
        grads = []
        for k in range(steps):
            g = grads_fn(k, p.detach().reshape(-1).tolist())
            grads.append(g)
            p.grad = torch.tensor(g, dtype=TORCH_DTYPE[dtype]).reshape(shape)
            opt.step()
            out.append(p.detach().reshape(-1).tolist())
        return grads, out
    finally:
        muon_module._zeropower_via_newtonschulz = TORCH_NS


def main():
    gen = torch.Generator().manual_seed(20261201)
    cases = []
    for ci, (spec, kwargs) in enumerate(CONFIGS):
        for shape in SHAPES + (LARGE_SHAPES if ci < 2 else []) + (ONEDNN_SHAPES if ci == 0 else []):
            n = shape[0] * shape[1]
            start = torch.randn(n, generator=gen, dtype=torch.float64).tolist()
            draws = [torch.randn(n, generator=gen, dtype=torch.float64).tolist() for _ in range(STEPS)]
            runs = []
            for dtype in ("f64", "f32"):
                for ns_dtype in ("float64", "bfloat16"):
                    # In f32 the start and gradients are the f64 values rounded to nearest
                    # (as torch.tensor(..., dtype=float32) and Rust's `as f32` round).
                    s = torch.tensor(start, dtype=TORCH_DTYPE[dtype]).tolist()
                    _, steps = run(kwargs, shape, dtype, ns_dtype, s, lambda k, x: draws[k], STEPS)
                    full = spec if ns_dtype == "bfloat16" else spec[:-1] + ", ns_dtype=float64)"
                    runs.append(dict(spec=full, dtype=dtype, ns_dtype=ns_dtype, params=steps))
            cases.append(dict(shape=shape, start=start, grads=draws, runs=runs))
    # The analytic problem of the CLI test: rosenbrock --shape 4,5, f64, gradients of the
    # flattened matrix.
    problems = []
    for spec, kwargs, ns_dtype in [("muon", {}, "bfloat16"), ("muon(lr=0.01, nesterov=false, ns_dtype=float64)", dict(lr=0.01, nesterov=False), "float64")]:
        shape = [4, 5]
        start = rosenbrock_start(20)
        grads, steps = run(kwargs, shape, "f64", ns_dtype, start, lambda k, x: rosenbrock_grad(x), 20)
        problems.append(dict(problem="rosenbrock", shape=shape, spec=spec, ns_dtype=ns_dtype,
                             dtype="f64", start=start, params=steps))
    data = dict(
        torch=torch.__version__.split("+")[0],
        note="torch.optim.Muon on the CPU, one matrix parameter; ns_dtype=float64 cases patch "
             "torch's Newton-Schulz function to run in float64 (see tools/muon_fixtures.py)",
        cases=cases,
        problems=problems,
    )
    text = json.dumps(data, separators=(",", ":")) + "\n"
    if "--check" in sys.argv:
        with open(OUT) as f:
            if f.read() != text:
                sys.exit(f"{OUT} is out of date: run python3 tools/muon_fixtures.py")
        return
    with open(OUT, "w") as f:
        f.write(text)
    print(f"wrote {OUT}: {sum(len(c['runs']) for c in cases)} runs, {len(problems)} problem runs")


if __name__ == "__main__":
    main()
