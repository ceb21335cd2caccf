#!/usr/bin/env python3
"""Side-by-side step times of gradus and torch.optim on the same sizes and threads.

For each configuration (optimizer, total parameters, number of tensors) this script
alternates, REPEATS times: torch.optim's fused CPU kernel (Adam, AdamW, SGD, Adagrad),
its foreach path, its default single-tensor path, then `gradus bench --format json`
with the same size, tensors, dtype (f32) and thread count. Each measurement is the
median step time of STEPS steps after WARMUP steps; the table shows the median over
the repeats. Optimizers the gradus binary does not know are reported as n/a.

"bare pass" is `gradus bench`'s roofline: the same reads and writes as the step
(`x += g` on the parameters and on as many state buffers), no arithmetic, same
threads. No single-pass step can beat it, so "ceiling vs fused/foreach" (torch's time
over the bare pass) is the largest speedup any single-pass implementation could show.

Usage:
    python3 bench/compare_torch.py [--gradus target/release/gradus] [--threads 2]
        [--steps 20] [--warmup 3] [--repeats 3] [--only adam,sgd] [--json out.json]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch

# name, gradus spec, torch class name, torch kwargs (torch defaults otherwise),
# paths to time. "fused" exists on CPU for Adam, AdamW, SGD and Adagrad only.
OPTIMIZERS = [
    ("adam", "adam", "Adam", {}, ["fused", "foreach", "single"]),
    ("adamw", "adamw", "AdamW", {}, ["fused", "foreach", "single"]),
    ("sgd-momentum", "sgd(lr=0.001, momentum=0.9)", "SGD", {"lr": 1e-3, "momentum": 0.9},
     ["fused", "foreach", "single"]),
    ("adagrad", "adagrad", "Adagrad", {}, ["fused", "foreach", "single"]),
    ("rmsprop", "rmsprop", "RMSprop", {}, ["foreach", "single"]),
    ("nadam", "nadam", "NAdam", {}, ["foreach", "single"]),
    ("adadelta", "adadelta", "Adadelta", {}, ["foreach", "single"]),
    ("radam", "radam", "RAdam", {}, ["foreach", "single"]),
    ("adamax", "adamax", "Adamax", {}, ["foreach", "single"]),
]

# (total parameters, tensors)
SHAPES = [(10_000_000, 1), (1_000_000, 1000)]


def det_values(n, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, generator=g, dtype=torch.float32) * 2 - 1


def make_params(size, tensors):
    """`tensors` parameters of `size` elements in all, with deterministic gradients."""
    per = [size // tensors + (1 if t < size % tensors else 0) for t in range(tensors)]
    params = []
    for t, n in enumerate(per):
        p = torch.nn.Parameter(det_values(n, 2 * t + 1))
        p.grad = det_values(n, 2 * t + 2)
        params.append(p)
    return params


def torch_median_step(cls_name, kwargs, path, size, tensors, steps, warmup):
    """Median seconds per torch.optim step."""
    params = make_params(size, tensors)
    kw = dict(kwargs)
    if path == "fused":
        kw["fused"] = True
    elif path == "foreach":
        kw["foreach"] = True
    else:
        kw["foreach"] = False
    opt = getattr(torch.optim, cls_name)(params, **kw)
    times = []
    with torch.no_grad():
        for i in range(warmup + steps):
            t0 = time.perf_counter()
            opt.step()
            dt = time.perf_counter() - t0
            if i >= warmup:
                times.append(dt)
    return statistics.median(times)


def torch_guarded_step(cls_name, kwargs, guard, size, tensors, steps, warmup, max_norm):
    """Median seconds per fused torch.optim step behind `guard`: "check" (GradScaler's
    finiteness check and unscale by 1, then the step if everything is finite) or "clip"
    (`clip_grad_norm_(max_norm)`, then the step)."""
    params = make_params(size, tensors)
    opt = getattr(torch.optim, cls_name)(params, fused=True, **kwargs)
    grads = [p.grad for p in params]
    saved = [g.clone() for g in grads]
    found_inf = torch.zeros(1)
    inv_scale = torch.ones(1)
    times = []
    with torch.no_grad():
        for i in range(warmup + steps):
            if guard == "clip":
                # clip_grad_norm_ rewrites the gradients: restore them, untimed.
                for g, s in zip(grads, saved):
                    g.copy_(s)
            t0 = time.perf_counter()
            if guard == "check":
                found_inf.zero_()
                torch._amp_foreach_non_finite_check_and_unscale_(grads, found_inf, inv_scale)
                if found_inf.item() == 0:
                    opt.step()
            else:
                torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=True)
                opt.step()
            dt = time.perf_counter() - t0
            if i >= warmup:
                times.append(dt)
    return statistics.median(times)


def gradus_run(binary, spec, size, tensors, threads, steps, warmup, nonfinite="error",
               clip_norm=None):
    cmd = [binary, "bench", "--optimizer", spec, "--size", str(size), "--tensors",
           str(tensors), "--dtype", "f32", "--threads", str(threads), "--steps", str(steps),
           "--warmup", str(warmup), "--format", "json", "--nonfinite", nonfinite]
    if clip_norm is not None:
        cmd += ["--clip-norm", str(clip_norm)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()
    return json.loads(r.stdout), None


def fmt_ms(x):
    return "n/a" if x is None else f"{x * 1e3:8.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gradus", default=None, help="path to the gradus binary")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default=None, help="comma-separated optimizer names")
    ap.add_argument("--shapes", default=None,
                    help="comma-separated SIZExTENSORS, e.g. 10000000x1,1000000x1000")
    ap.add_argument("--nonfinite-cost", action="store_true",
                    help="also time gradus with --nonfinite propagate (no gradient check)")
    ap.add_argument("--single-many", action="store_true",
                    help="also time torch's single-tensor path on shapes with many tensors "
                         "(slow: a Python loop over the tensors)")
    ap.add_argument("--json", default=None, help="also write the rows to this file")
    ap.add_argument("--guards", action="store_true",
                    help="instead: torch fused plain / behind its finiteness check / after "
                         "clip_grad_norm_, gradus plain / checked / clipped, the bare pass "
                         "(fused optimizers only)")
    ap.add_argument("--clip-norm", type=float, default=1.0,
                    help="max_norm of the --guards clipping (small enough to clip)")
    ap.add_argument("--gradus-before", default=None,
                    help="with --guards: also time this (older) gradus binary, plain and checked")
    ap.add_argument("--state-dtypes", action="store_true",
                    help="instead of the main table: torch fused (f32 state) against gradus "
                         "with state_dtype=param, bf16, bf16_sr and q8 (no gradient check on "
                         "either side), and the bare passes with f32, bf16 and 8-bit state")
    a = ap.parse_args()

    binary = a.gradus
    if binary is None:
        here = os.path.dirname(os.path.abspath(__file__))
        binary = os.path.join(here, "..", "target", "release", "gradus")
    if not os.path.exists(binary):
        sys.exit(f"gradus binary not found at {binary}: build it with "
                 "`cargo build --release -p gradus-cli` or pass --gradus PATH")
    torch.set_num_threads(a.threads)
    shapes = SHAPES
    if a.shapes:
        shapes = [tuple(int(v) for v in s.split("x")) for s in a.shapes.split(",")]
    only = set(a.only.split(",")) if a.only else None

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; gradus {binary}; "
          f"{a.steps} steps after {a.warmup} warm-up, median of {a.repeats} alternating repeats")
    try:
        print(f"load average at start: {os.getloadavg()}")
    except OSError:
        pass
    if a.state_dtypes:
        state_dtype_table(a, binary, shapes, only)
        return
    if a.guards:
        guard_table(a, binary, shapes, only)
        return
    rows = []
    for size, tensors in shapes:
        for name, spec, cls, kw, paths in OPTIMIZERS:
            if only and name not in only:
                continue
            if tensors > 1 and not a.single_many:
                paths = [p for p in paths if p != "single"]
            t = {p: [] for p in paths}
            g, g_prop = [], []
            bw, frac, roof, err = [], [], [], None
            for _ in range(a.repeats):
                for p in paths:
                    t[p].append(torch_median_step(cls, kw, p, size, tensors, a.steps, a.warmup))
                rep, err = gradus_run(binary, spec, size, tensors, a.threads, a.steps, a.warmup)
                if rep is not None:
                    g.append(rep["median_step_seconds"])
                    bw.append(rep["memory_bandwidth_gbps"])
                    frac.append(rep["bandwidth_fraction"])
                    if "roofline_step_seconds" in rep:
                        roof.append(rep["roofline_step_seconds"])
                if a.nonfinite_cost and rep is not None:
                    rep2, _ = gradus_run(binary, spec, size, tensors, a.threads, a.steps,
                                         a.warmup, "propagate")
                    g_prop.append(rep2["median_step_seconds"])
            med = {p: statistics.median(v) for p, v in t.items()}
            gm = statistics.median(g) if g else None
            row = {
                "optimizer": name, "size": size, "tensors": tensors, "threads": a.threads,
                "torch": med, "gradus": gm,
                "gradus_propagate": statistics.median(g_prop) if g_prop else None,
                "bandwidth_gbps": statistics.median(bw) if bw else None,
                "bandwidth_fraction": statistics.median(frac) if frac else None,
                "bare_pass": statistics.median(roof) if roof else None,
                "gradus_error": None if g else err,
            }
            rows.append(row)
            print_row(row)
            sys.stdout.flush()
    print()
    print_table(rows)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


def guard_table(a, binary, shapes, only):
    """The cost of safety: plain, checked and clipped steps of torch fused and gradus,
    alternating within each repeat."""
    print("| optimizer | params x tensors | torch fused | torch fused + check | torch clip + fused "
          "| gradus plain | gradus checked | gradus clip + checked | bare pass "
          "| clip vs torch clip | clip vs own plain | before: plain / checked |")
    print("|" + "---|" * 12)
    for size, tensors in shapes:
        for name, spec, cls, kw, paths in OPTIMIZERS:
            if (only and name not in only) or "fused" not in paths:
                continue
            m = {k: [] for k in ("tf", "tc", "tk", "gp", "gc", "gk", "bare", "bp", "bc")}
            for _ in range(a.repeats):
                m["tf"].append(torch_median_step(cls, kw, "fused", size, tensors, a.steps, a.warmup))
                m["tc"].append(torch_guarded_step(cls, kw, "check", size, tensors, a.steps,
                                                  a.warmup, a.clip_norm))
                m["tk"].append(torch_guarded_step(cls, kw, "clip", size, tensors, a.steps,
                                                  a.warmup, a.clip_norm))
                runs = [("gp", binary, "propagate", None), ("gc", binary, "error", None),
                        ("gk", binary, "error", a.clip_norm)]
                if a.gradus_before:
                    runs += [("bp", a.gradus_before, "propagate", None),
                             ("bc", a.gradus_before, "error", None)]
                for key, b, policy, clip in runs:
                    rep, err = gradus_run(b, spec, size, tensors, a.threads, a.steps, a.warmup,
                                          policy, clip)
                    if rep is None:
                        sys.exit(f"gradus bench failed: {err}")
                    m[key].append(rep["median_step_seconds"])
                    if key == "gp":
                        m["bare"].append(rep["roofline_step_seconds"])
            med = {k: statistics.median(v) if v else None for k, v in m.items()}
            before = "-"
            if med["bp"]:
                before = f"{fmt_ms(med['bp']).strip()} / {fmt_ms(med['bc']).strip()}"
            print(f"| {name} | {size} x {tensors} | " + " | ".join(
                fmt_ms(med[k]).strip() for k in ("tf", "tc", "tk", "gp", "gc", "gk", "bare"))
                + f" | {med['tk'] / med['gk']:.2f}x | {med['gk'] / med['gp']:.2f} | {before} |")
            sys.stdout.flush()


def with_state_dtype(spec, dtype):
    """`spec` with `state_dtype=dtype` added (the default `param` adds nothing)."""
    if dtype == "param":
        return spec
    if spec.endswith(")"):
        return spec[:-1] + f", state_dtype={dtype})"
    return f"{spec}(state_dtype={dtype})"


def state_dtype_table(a, binary, shapes, only):
    """Low-precision state: torch fused (f32 state) against gradus with f32, bf16,
    stochastically rounded bf16 and 8-bit state, alternating within each repeat; no
    gradient check on either side; and the bare passes with the same bytes."""
    dtypes = ["param", "bf16", "bf16_sr", "q8"]
    bare = ["param", "bf16", "q8"]
    print("| optimizer | params x tensors | torch fused | gradus f32 state | gradus bf16 "
          "| gradus bf16_sr | gradus q8 | bare pass f32 / bf16 / q8 state "
          "| bf16 vs torch fused | bf16_sr vs torch fused | q8 vs torch fused "
          "| step vs bare f32 / bf16 / q8 | state bytes/param f32 / bf16 / q8 |")
    print("|" + "---|" * 13)
    for size, tensors in shapes:
        for name, spec, cls, kw, paths in OPTIMIZERS:
            if (only and name not in only) or "fused" not in paths:
                continue
            m = {k: [] for k in ["tf"] + ["bare_" + d for d in bare] + dtypes}
            state_bytes = {}
            for _ in range(a.repeats):
                m["tf"].append(torch_median_step(cls, kw, "fused", size, tensors, a.steps, a.warmup))
                for d in dtypes:
                    rep, err = gradus_run(binary, with_state_dtype(spec, d), size, tensors,
                                          a.threads, a.steps, a.warmup, "propagate")
                    if rep is None:
                        sys.exit(f"gradus bench failed: {err}")
                    m[d].append(rep["median_step_seconds"])
                    state_bytes[d] = rep["state_bytes_per_param"]
                    if d in bare:
                        m["bare_" + d].append(rep["roofline_step_seconds"])
            med = {k: statistics.median(v) for k, v in m.items()}
            print(f"| {name} | {size} x {tensors} | " + " | ".join(
                fmt_ms(med[k]).strip() for k in ("tf", "param", "bf16", "bf16_sr", "q8"))
                + " | " + " / ".join(fmt_ms(med["bare_" + d]).strip() for d in bare)
                + "".join(f" | {med['tf'] / med[d]:.2f}x" for d in ("bf16", "bf16_sr", "q8"))
                + " | " + " / ".join(f"{med['bare_' + d] / med[d]:.2f}" for d in bare)
                + " | " + " / ".join(f"{state_bytes[d]:.3g}" for d in bare) + " |")
            sys.stdout.flush()


def speedup(row, path):
    t = row["torch"].get(path)
    return None if t is None or row["gradus"] is None else t / row["gradus"]


def print_row(r):
    parts = [f"{r['optimizer']:<13} {r['size']:>9} x{r['tensors']:<5}"]
    for p in ("fused", "foreach", "single"):
        if p in r["torch"]:
            parts.append(f"{p} {fmt_ms(r['torch'][p])} ms")
    parts.append(f"gradus {fmt_ms(r['gradus'])} ms")
    print("  ".join(parts), file=sys.stderr)


def print_table(rows):
    hdr = ("| optimizer | params x tensors | torch fused ms | torch foreach ms | torch single ms "
           "| gradus ms | speedup vs fused | vs foreach | vs single | gradus GB/s frac. of triad "
           "| check cost | bare pass ms | ceiling vs fused | ceiling vs foreach |")
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    for r in rows:
        def sp(p):
            s = speedup(r, p)
            return "-" if s is None else f"{s:.2f}x"
        frac = "-" if r["bandwidth_fraction"] is None else f"{100 * r['bandwidth_fraction']:.0f} %"
        cost = "-"
        if r["gradus_propagate"] and r["gradus"]:
            cost = f"{100 * (r['gradus'] / r['gradus_propagate'] - 1):+.0f} %"
        def ceiling(p):
            t, b = r["torch"].get(p), r.get("bare_pass")
            return "-" if t is None or not b else f"{t / b:.2f}x"
        bare = "-" if not r.get("bare_pass") else fmt_ms(r["bare_pass"]).strip()
        g = fmt_ms(r["gradus"]).strip()
        if r["gradus_error"]:
            g = "n/a (not in this build)"
        print(f"| {r['optimizer']} | {r['size']} x {r['tensors']} | "
              f"{fmt_ms(r['torch'].get('fused')).strip() if 'fused' in r['torch'] else '-'} | "
              f"{fmt_ms(r['torch'].get('foreach')).strip()} | {fmt_ms(r['torch'].get('single')).strip()} | "
              f"{g} | {sp('fused')} | {sp('foreach')} | {sp('single')} | {frac} | {cost} | "
              f"{bare} | {ceiling('fused')} | {ceiling('foreach')} |")


if __name__ == "__main__":
    main()
