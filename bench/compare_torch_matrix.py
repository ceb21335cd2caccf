#!/usr/bin/env python3
"""Side-by-side step times of gradus and torch.optim for the matrix optimizers.

Muon (Newton–Schulz orthogonalization: matrix products) and Adafactor (row and column
reductions of the factored second moment) are not single element-wise passes, so
`gradus bench` reports no bare pass for them; what counts is the time against torch on
the same shapes, hyperparameters, dtype (f32) and threads.

For each configuration (optimizer, shape, tensors of that shape) the script alternates,
REPEATS times: torch.optim's step (its default path, and its foreach path where the
class has one), then `gradus bench --shape R,C --tensors K --format json`. Each
measurement is the median of STEPS steps after WARMUP steps; the table shows the median
over the repeats and the ratio torch / gradus (> 1: gradus is faster).

Usage:
    python3 bench/compare_torch_matrix.py [--gradus target/release/gradus] [--threads 2]
        [--steps 10] [--warmup 2] [--repeats 3] [--shapes 1024x1024:1,256x256:16]
        [--only muon,adafactor] [--json out.json]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch

# name, gradus spec, torch class, torch kwargs, torch paths ("default" = the class's
# own choice; "foreach" forced on). The same hyperparameters on both sides: gradus'
# defaults are torch's, and the values are written out so that a change of either
# default cannot make the comparison unequal unnoticed.
OPTIMIZERS = [
    ("muon", "muon(lr=0.02, weight_decay=0.1, momentum=0.95, nesterov=true, ns_steps=5)",
     "Muon", {"lr": 0.02, "weight_decay": 0.1, "momentum": 0.95, "nesterov": True,
              "ns_steps": 5}, ["default"]),
    ("muon-f32", "muon(lr=0.02, ns_dtype=float32)", "Muon", {"lr": 0.02}, ["f32"]),
    ("adafactor", "adafactor(lr=0.01)", "Adafactor", {"lr": 0.01}, ["default", "foreach"]),
]

# (rows, cols, tensors)
SHAPES = [(1024, 1024, 1), (256, 256, 16), (2048, 512, 2)]


def det_values(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g, dtype=torch.float32) * 2 - 1


def make_params(rows, cols, tensors):
    params = []
    for t in range(tensors):
        p = torch.nn.Parameter(det_values((rows, cols), 2 * t + 1))
        p.grad = det_values((rows, cols), 2 * t + 2)
        params.append(p)
    return params


def torch_median_step(cls_name, kwargs, path, rows, cols, tensors, steps, warmup):
    """Median seconds per torch.optim step, or None if the path does not exist."""
    params = make_params(rows, cols, tensors)
    kw = dict(kwargs)
    if path == "foreach":
        kw["foreach"] = True
    opt = getattr(torch.optim, cls_name)(params, **kw)
    restore = None
    if path == "f32":
        # torch.optim.Muon iterates in bfloat16; its module-level Newton–Schulz takes
        # the input's dtype after its own cast, so run it with the cast patched to f32.
        import torch.optim._muon as m
        original = m._zeropower_via_newtonschulz

        def f32_ns(grad, ns_coefficients, ns_steps, eps):
            a, b, c = ns_coefficients
            x = grad.float()
            if grad.size(0) > grad.size(1):
                x = x.T
            x = x / x.norm().clamp(min=eps)
            for _ in range(ns_steps):
                gram = x @ x.T
                x = torch.addmm(x, torch.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
            if grad.size(0) > grad.size(1):
                x = x.T
            return x

        m._zeropower_via_newtonschulz = f32_ns
        restore = lambda: setattr(m, "_zeropower_via_newtonschulz", original)
    times = []
    try:
        with torch.no_grad():
            for i in range(warmup + steps):
                t0 = time.perf_counter()
                opt.step()
                dt = time.perf_counter() - t0
                if i >= warmup:
                    times.append(dt)
    finally:
        if restore:
            restore()
    return statistics.median(times)


def gradus_run(binary, spec, rows, cols, tensors, threads, steps, warmup):
    cmd = [binary, "bench", "--optimizer", spec, "--shape", f"{rows},{cols}", "--tensors",
           str(tensors), "--dtype", "f32", "--threads", str(threads), "--steps", str(steps),
           "--warmup", str(warmup), "--format", "json"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()
    return json.loads(r.stdout), None


def parse_shapes(text):
    out = []
    for item in text.split(","):
        dims, _, k = item.partition(":")
        r, _, c = dims.partition("x")
        out.append((int(r), int(c), int(k or 1)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gradus", default=None, help="path to the gradus binary")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default=None, help="comma-separated optimizer names")
    ap.add_argument("--shapes", default=None, help="RxC:K,... (default 1024x1024:1,"
                    "256x256:16,2048x512:2)")
    ap.add_argument("--json", default=None, help="also write the rows to this file")
    a = ap.parse_args()
    binary = a.gradus or os.path.join(os.path.dirname(__file__), "..", "target", "release",
                                      "gradus")
    if not os.path.exists(binary):
        sys.exit(f"no gradus binary at {binary}: cargo build --release -p gradus-cli")
    torch.set_num_threads(a.threads)
    shapes = parse_shapes(a.shapes) if a.shapes else SHAPES
    only = set(a.only.split(",")) if a.only else None
    rows = []
    print(f"torch {torch.__version__}, {a.threads} threads, f32, median of {a.steps} steps "
          f"after {a.warmup}, median of {a.repeats} repeats (alternating)")
    print(f"{'optimizer':<11} {'shape':>13} {'torch path':>10} {'torch ms':>9} "
          f"{'gradus ms':>9} {'torch/gradus':>12}")
    for name, spec, cls, kw, paths in OPTIMIZERS:
        if only and name not in only:
            continue
        for (r, c, k) in shapes:
            t = {p: [] for p in paths}
            g = []
            err = None
            for _ in range(a.repeats):
                for p in paths:
                    t[p].append(torch_median_step(cls, kw, p, r, c, k, a.steps, a.warmup))
                rep, err = gradus_run(binary, spec, r, c, k, a.threads, a.steps, a.warmup)
                if rep:
                    g.append(rep["median_step_seconds"])
            gm = statistics.median(g) if g else None
            for p in paths:
                tm = statistics.median(t[p])
                row = {"optimizer": name, "rows": r, "cols": c, "tensors": k, "torch_path": p,
                       "torch_seconds": tm, "gradus_seconds": gm,
                       "ratio": (tm / gm) if gm else None, "gradus_error": err if not g else None}
                rows.append(row)
                ratio = f"{tm / gm:12.2f}" if gm else f"{'n/a':>12}"
                gms = f"{gm * 1e3:9.2f}" if gm else f"{'n/a':>9}"
                print(f"{name:<11} {f'{r}x{c} x{k}':>13} {p:>10} {tm * 1e3:9.2f} {gms} {ratio}")
                if err and not g:
                    print(f"    gradus: {err}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
