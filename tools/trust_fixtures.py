#!/usr/bin/env python3
"""Generate the pytorch-optimizer 4.1.0 trajectories of LAMB, LARS, Lookahead and SAM.

Usage (from the repository root, with torch 2.15 and pytorch-optimizer 4.1.0 installed):

    python3 tools/trust_fixtures.py          # writes crates/gradus/tests/fixtures/{lamb,lars,lookahead,sam}.json
    python3 tools/trust_fixtures.py --check  # fails if a file would change

Every case runs the reference optimizer in float64 on the CPU with its default
`foreach=None` (on the CPU: the batched path for Lamb without `rectify` and for LARS,
the per-parameter path for SAM) for STEPS steps on one analytic problem of four
tensors (a 3x4 matrix, a vector, a 2x2x2 tensor and a one-element vector), recording
the parameters after each step. The gradients do not use autograd: they are written
from the explicit formulas of `gradient` below with Python floats (IEEE doubles, one
operation at a time, left to right), so the Rust test (crates/gradus/tests/trust_ref.rs)
evaluates exactly the same numbers and any difference comes from the optimizer. SAM's
closure evaluates the same formulas at the perturbed parameters.
"""
import json
from importlib.metadata import version
import sys

import torch
from pytorch_optimizer import LARS, SAM, Lamb, Lookahead

STEPS = 8
SHAPES = {"w": [3, 4], "b": [3], "k": [2, 2, 2], "s": [1]}
NAMES = ["w", "b", "k", "s"]
U = [0.5, -1.0, 1.5, 2.0]
Y = [1.0, -2.0, 0.5]
T = [0.5, -0.25, 1.0, 0.0, -1.0, 2.0, 0.25, -0.5]
H = [1.0, 2.0, 0.5, 4.0, 1.5, 0.25, 3.0, 1.0]
Q = 3.0

START = {
    "w": [0.3, -0.2, 0.8, 0.1, -0.5, 0.4, 0.0, 0.9, 0.2, -0.7, 0.6, -0.1],
    "b": [0.1, -0.3, 0.2],
    "k": [1.0, 0.5, -0.5, 0.25, 2.0, -1.0, 0.75, 0.0],
    "s": [0.8],
}


def gradient(x, sign):
    """The loss and gradient of `sign` times
    f = 0.5·Σ_i r_i² + 0.05·Σ w⁴ + Σ_j h_j·(k_j − t_j)² + 0.5·q·s² + 0.3·s·Σ b,
    r_i = Σ_j w_ij·u_j + b_i − y_i, at the tensors `x` (name -> flat list)."""
    w, b, k, s = x["w"], x["b"], x["k"], x["s"][0]
    r = []
    for i in range(3):
        acc = 0.0
        for j in range(4):
            acc = acc + w[4 * i + j] * U[j]
        r.append(acc + b[i] - Y[i])
    sum_b = 0.0
    for v in b:
        sum_b = sum_b + v
    gw = []
    for i in range(3):
        for j in range(4):
            wij = w[4 * i + j]
            gw.append(sign * (r[i] * U[j] + 0.2 * (wij * wij * wij)))
    gb = [sign * (r[i] + 0.3 * s) for i in range(3)]
    gk = [sign * (2.0 * H[j] * (k[j] - T[j])) for j in range(8)]
    gs = [sign * (Q * s + 0.3 * sum_b)]
    f = 0.0
    for v in r:
        f = f + 0.5 * (v * v)
    for v in w:
        f = f + 0.05 * (v * v * v * v)
    for j in range(8):
        f = f + H[j] * ((k[j] - T[j]) * (k[j] - T[j]))
    f = f + 0.5 * Q * (s * s) + 0.3 * s * sum_b
    return sign * f, {"w": gw, "b": gb, "k": gk, "s": gs}


def make_params(start):
    return [
        torch.tensor(start[n], dtype=torch.float64).reshape(SHAPES[n]).requires_grad_(True)
        for n in NAMES
    ]


def values(params):
    return {n: p.detach().reshape(-1).tolist() for n, p in zip(NAMES, params)}


def set_grads(params, sign):
    f, g = gradient(values(params), sign)
    for n, p in zip(NAMES, params):
        p.grad = torch.tensor(g[n], dtype=torch.float64).reshape(SHAPES[n])
    return f


def run(case, build):
    """Runs STEPS steps of the optimizer `build(params)` (plain `step()`, or
    `step(closure)` for SAM), returning the case with its trajectory."""
    start = dict(START)
    start.update(case.get("start", {}))
    sign = -1.0 if case.get("maximize_problem") else 1.0
    params = make_params(start)
    opt = build(params)
    steps = []
    for _ in range(STEPS):
        set_grads(params, sign)
        if case.get("closure"):
            def closure():
                opt.zero_grad()
                return set_grads(params, sign)

            opt.step(closure)
        else:
            opt.step()
        steps.append([values(params)[n] for n in NAMES])
    return {
        "spec": case["spec"],
        "sign": sign,
        "start": [start[n] for n in NAMES],
        "steps": steps,
    }


def lamb_cases():
    specs = [
        ("lamb(lr=0.05)", dict(lr=0.05)),
        ("lamb(lr=0.05, betas=(0.8, 0.95), weight_decay=0.1)",
         dict(lr=0.05, betas=(0.8, 0.95), weight_decay=0.1)),
        ("lamb(lr=0.05, weight_decay=0.1, weight_decouple=false)",
         dict(lr=0.05, weight_decay=0.1, weight_decouple=False)),
        ("lamb(lr=0.05, weight_decay=0.05, fixed_decay=true)",
         dict(lr=0.05, weight_decay=0.05, fixed_decay=True)),
        ("lamb(lr=0.05, betas=(0.9, 0.9), rectify=true, weight_decay=0.1)",
         dict(lr=0.05, betas=(0.9, 0.9), rectify=True, weight_decay=0.1)),
        ("lamb(lr=0.05, betas=(0.9, 0.9), rectify=true, degenerated_to_sgd=true, n_sma_threshold=4)",
         dict(lr=0.05, betas=(0.9, 0.9), rectify=True, degenerated_to_sgd=True, n_sma_threshold=4)),
        ("lamb(lr=0.05, betas=(0.9, 0.9), rectify=true, weight_decay=0.1, weight_decouple=false)",
         dict(lr=0.05, betas=(0.9, 0.9), rectify=True, weight_decay=0.1, weight_decouple=False)),
        ("lamb(lr=0.05, grad_averaging=false)", dict(lr=0.05, grad_averaging=False)),
        ("lamb(lr=0.05, pre_norm=true)", dict(lr=0.05, pre_norm=True)),
        ("lamb(lr=0.05, pre_norm=true, max_grad_norm=0.0)",
         dict(lr=0.05, pre_norm=True, max_grad_norm=0.0)),
        ("lamb(lr=0.05, pre_norm=true, max_grad_norm=100.0, eps=1e-3)",
         dict(lr=0.05, pre_norm=True, max_grad_norm=100.0, eps=1e-3)),
        ("lamb(lr=0.05, adam=true, weight_decay=0.1)", dict(lr=0.05, adam=True, weight_decay=0.1)),
        ("lamb(lr=0.05, eps=0.1)", dict(lr=0.05, eps=0.1)),
        ("lamb(lr=0.05, maximize=true)", dict(lr=0.05, maximize=True)),
    ]
    out = []
    for spec, kw in specs:
        case = {"spec": spec, "maximize_problem": kw.get("maximize", False)}
        out.append(run(case, lambda ps, kw=kw: Lamb(ps, **kw)))
    # Zero tensors: trust ratio 1 (weight norm 0), and a clamped weight norm (> 10).
    case = {
        "spec": "lamb(lr=0.05, weight_decay=0.1)",
        "start": {"b": [0.0, 0.0, 0.0], "k": [9.0, -8.0, 7.0, 6.0, -5.0, 4.0, 3.0, 2.0]},
    }
    out.append(run(case, lambda ps: Lamb(ps, lr=0.05, weight_decay=0.1)))
    return out


def lars_cases():
    # Vectors take plain SGD steps of size lr, matrices steps of about
    # lr·trust_coefficient·‖w‖: the trust coefficients are large enough to move them.
    specs = [
        ("lars(lr=0.05)", dict(lr=0.05)),
        ("lars(lr=0.05, weight_decay=0.1, trust_coefficient=0.5)",
         dict(lr=0.05, weight_decay=0.1, trust_coefficient=0.5)),
        ("lars(lr=0.05, momentum=0.5, dampening=0.2, trust_coefficient=0.2)",
         dict(lr=0.05, momentum=0.5, dampening=0.2, trust_coefficient=0.2)),
        ("lars(lr=0.02, nesterov=true, weight_decay=0.05, trust_coefficient=1.0)",
         dict(lr=0.02, nesterov=True, weight_decay=0.05, trust_coefficient=1.0)),
        ("lars(lr=0.05, momentum=0.0, trust_coefficient=0.5)",
         dict(lr=0.05, momentum=0.0, trust_coefficient=0.5)),
        ("lars(lr=0.05, maximize=true, trust_coefficient=0.3)",
         dict(lr=0.05, maximize=True, trust_coefficient=0.3)),
        ("lars(lr=0.1, weight_decay=0.1, trust_coefficient=0.5, dampening=0.5, nesterov=true)",
         dict(lr=0.1, weight_decay=0.1, trust_coefficient=0.5, dampening=0.5, nesterov=True)),
    ]
    out = []
    for spec, kw in specs:
        case = {"spec": spec, "maximize_problem": kw.get("maximize", False)}
        out.append(run(case, lambda ps, kw=kw: LARS(ps, **kw)))
    # A zero matrix: trust ratio 1 until it moves.
    case = {"spec": "lars(lr=0.05, weight_decay=0.1, trust_coefficient=0.5)", "start": {"k": [0.0] * 8}}
    out.append(run(case, lambda ps: LARS(ps, lr=0.05, weight_decay=0.1, trust_coefficient=0.5)))
    return out


def torch_inner(name, kw):
    """The inner optimizer of a wrapper: torch.optim's (single-tensor path, which
    gradus matches) or pytorch-optimizer's."""
    if name == "sgd":
        return lambda ps: torch.optim.SGD(ps, foreach=False, **kw)
    if name == "adam":
        return lambda ps: torch.optim.Adam(ps, foreach=False, **kw)
    if name == "rmsprop":
        return lambda ps: torch.optim.RMSprop(ps, foreach=False, **kw)
    if name == "lamb":
        return lambda ps: Lamb(ps, **kw)
    if name == "lars":
        return lambda ps: LARS(ps, **kw)
    raise ValueError(name)


def lookahead_cases():
    specs = [
        ("lookahead(inner=adam(lr=0.05), k=3)", ("adam", dict(lr=0.05)), dict(k=3)),
        ("lookahead(inner=adam(lr=0.05), k=3, pullback_momentum=pullback)",
         ("adam", dict(lr=0.05)), dict(k=3, pullback_momentum="pullback")),
        ("lookahead(inner=sgd(lr=0.05, momentum=0.9), k=3, alpha=0.8, pullback_momentum=reset)",
         ("sgd", dict(lr=0.05, momentum=0.9)), dict(k=3, alpha=0.8, pullback_momentum="reset")),
        ("lookahead(inner=sgd(lr=0.05, momentum=0.9, nesterov=true), k=2, alpha=0.3, pullback_momentum=pullback)",
         ("sgd", dict(lr=0.05, momentum=0.9, nesterov=True)),
         dict(k=2, alpha=0.3, pullback_momentum="pullback")),
        ("lookahead(inner=sgd(lr=0.05), k=1, alpha=0.25, pullback_momentum=reset)",
         ("sgd", dict(lr=0.05)), dict(k=1, alpha=0.25, pullback_momentum="reset")),
        ("lookahead(inner=rmsprop(lr=0.01, momentum=0.5), k=3, alpha=0.6, pullback_momentum=pullback)",
         ("rmsprop", dict(lr=0.01, momentum=0.5)), dict(k=3, alpha=0.6, pullback_momentum="pullback")),
        ("lookahead(inner=lamb(lr=0.05, weight_decay=0.1), k=4, alpha=0.0)",
         ("lamb", dict(lr=0.05, weight_decay=0.1)), dict(k=4, alpha=0.0)),
        ("lookahead(inner=lars(lr=0.05, trust_coefficient=0.5), k=3, pullback_momentum=pullback)",
         ("lars", dict(lr=0.05, trust_coefficient=0.5)), dict(k=3, pullback_momentum="pullback")),
    ]
    out = []
    for spec, (name, kw), la in specs:
        case = {"spec": spec}
        out.append(run(case, lambda ps, name=name, kw=kw, la=la: Lookahead(torch_inner(name, kw)(ps), **la)))
    return out


def sam_cases():
    torch_class = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "lamb": Lamb, "lars": LARS}
    specs = [
        ("sam(inner=sgd(lr=0.05, momentum=0.9))", ("sgd", dict(lr=0.05, momentum=0.9)), {}),
        ("sam(inner=sgd(lr=0.05, momentum=0.9), rho=0.5, adaptive=true)",
         ("sgd", dict(lr=0.05, momentum=0.9)), dict(rho=0.5, adaptive=True)),
        ("sam(inner=sgd(lr=0.05), rho=0.3, use_gc=true)", ("sgd", dict(lr=0.05)), dict(rho=0.3, use_gc=True)),
        ("sam(inner=adam(lr=0.05), rho=0.2, perturb_eps=0.01)",
         ("adam", dict(lr=0.05)), dict(rho=0.2, perturb_eps=0.01)),
        ("sam(inner=adam(lr=0.05), rho=0.0)", ("adam", dict(lr=0.05)), dict(rho=0.0)),
        ("sam(inner=lamb(lr=0.05), rho=0.1, adaptive=true, use_gc=true)",
         ("lamb", dict(lr=0.05)), dict(rho=0.1, adaptive=True, use_gc=True)),
        ("sam(inner=lars(lr=0.05, trust_coefficient=0.5), rho=0.1)",
         ("lars", dict(lr=0.05, trust_coefficient=0.5)), dict(rho=0.1)),
    ]
    out = []
    for spec, (name, kw), sam_kw in specs:
        case = {"spec": spec, "closure": True}
        inner_kw = dict(kw)
        if name in ("sgd", "adam"):
            inner_kw["foreach"] = False
        out.append(run(case, lambda ps, name=name, ikw=inner_kw, skw=sam_kw:
                       SAM(ps, torch_class[name], **skw, **ikw)))
    return out


def main():
    check = "--check" in sys.argv
    header = {
        "torch": torch.__version__,
        "pytorch_optimizer": version("pytorch-optimizer"),
        "dtype": "f64",
        "tensors": [[n, SHAPES[n]] for n in NAMES],
        "note": "pytorch-optimizer, float64, CPU, foreach=None; gradients from explicit "
                "formulas (see tools/trust_fixtures.py)",
    }
    changed = False
    for name, cases in [("lamb", lamb_cases()), ("lars", lars_cases()),
                        ("lookahead", lookahead_cases()), ("sam", sam_cases())]:
        path = f"crates/gradus/tests/fixtures/{name}.json"
        text = json.dumps(dict(header, cases=cases), indent=1) + "\n"
        if check:
            with open(path) as f:
                if f.read() != text:
                    print(f"{path} would change", file=sys.stderr)
                    changed = True
        else:
            with open(path, "w") as f:
                f.write(text)
    sys.exit(1 if changed else 0)


if __name__ == "__main__":
    main()
