"""Generate crates/gradus/tests/fixtures/schedules_torch.json with torch.optim.lr_scheduler.

Each case builds a torch optimizer (SGD with momentum 0.9, or Adam) on one float64
tensor, then runs `n` updates: record param_groups[0]['lr'] (and the momentum or
betas[0] when a one_cycle cycles it), optimizer.step(), scheduler.step() (or
scheduler.step(metric) for ReduceLROnPlateau). After the loop the lr is recorded once
more, so each case holds n + 1 values: the lr of updates 0..=n. The gradus spec of
each case is stored beside it; tests/schedules_torch.rs replays them.

The tutorials' forms (exp_decay, inverse_poly, piecewise_constant) are not torch
classes; they are generated with LambdaLR and the documented formula.

LambdaLR and MultiplicativeLR take a Python function, which a gradus spec cannot hold
(gradus has them as library-only schedules taking a Rust closure): their cases carry a
`closure` name, and the test builds them with the same function written in Rust.

Usage: python tools/schedule_fixtures.py  (from the repository root)
"""

import json
import math
import struct
import warnings

import torch
from torch.optim import SGD, Adam
from torch.optim import lr_scheduler as S
from torch.optim.swa_utils import SWALR

warnings.filterwarnings("ignore")

OUT = "crates/gradus/tests/fixtures/schedules_torch.json"


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", float(x)))[0]


def make_opt(kind, lr):
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    if kind == "sgd":
        opt = SGD([p], lr=lr, momentum=0.9)
    elif kind == "adam":
        opt = Adam([p], lr=lr)
    else:
        raise ValueError(kind)
    return p, opt


def momentum_of(kind, opt):
    g = opt.param_groups[0]
    return g["momentum"] if kind == "sgd" else g["betas"][0]


def run(spec, kind, lr, n, make, metrics=None, record_momentum=False, closure=None):
    p, opt = make_opt(kind, lr)
    sched = make(opt)
    lrs, moms = [], []
    for k in range(n):
        lrs.append(float(opt.param_groups[0]["lr"]))
        moms.append(float(momentum_of(kind, opt)))
        p.grad = torch.ones_like(p)
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[k])
    lrs.append(float(opt.param_groups[0]["lr"]))
    moms.append(float(momentum_of(kind, opt)))
    return {
        "spec": spec,
        "optimizer": kind,
        "base_lr": lr,
        "base_momentum": 0.9 if kind == "sgd" else 0.9,
        "metrics": metrics,
        "lrs": lrs,
        "lr_bits": [bits(x) for x in lrs],
        "momenta": moms if record_momentum else None,
        "momentum_bits": [bits(x) for x in moms] if record_momentum else None,
        "closure": closure,
    }


def lam(f):
    return lambda opt: S.LambdaLR(opt, f)


def plateau_losses(n):
    # falls in steps, with flat stretches and small wiggles, then rises
    out = []
    for k in range(n):
        base = 1.0 / (1 + k // 12)
        wiggle = 1e-5 * ((k * 7) % 3)
        out.append(base + wiggle if k < 70 else base + 0.01 * (k - 70))
    return out


def accuracies(n):
    return [min(0.9, 0.5 + 0.05 * (k // 4)) + 0.001 * (k % 2) for k in range(n)]


def cases():
    c = []
    # step
    c.append(run("step(step_size=7, gamma=0.5)", "sgd", 0.1, 60, lambda o: S.StepLR(o, 7, 0.5)))
    c.append(run("step(3)", "adam", 0.01, 40, lambda o: S.StepLR(o, 3)))
    c.append(run("step(1, gamma=0.97)", "sgd", 0.3, 60, lambda o: S.StepLR(o, 1, 0.97)))
    # multi_step (a repeated milestone decays twice; a milestone 0 applies at once)
    c.append(run("multi_step(milestones=[5, 20, 20, 41], gamma=0.3)", "sgd", 0.1, 60,
                 lambda o: S.MultiStepLR(o, [5, 20, 20, 41], 0.3)))
    c.append(run("multi_step([0, 10])", "adam", 0.02, 30, lambda o: S.MultiStepLR(o, [0, 10])))
    # exponential
    c.append(run("exponential(0.93)", "sgd", 0.1, 60, lambda o: S.ExponentialLR(o, 0.93)))
    c.append(run("exponential(gamma=0.999)", "adam", 0.003, 300, lambda o: S.ExponentialLR(o, 0.999)))
    # cosine annealing, well beyond t_max (it climbs back up)
    c.append(run("cosine_annealing(t_max=25, eta_min=0.001)", "sgd", 0.1, 120,
                 lambda o: S.CosineAnnealingLR(o, 25, 0.001)))
    c.append(run("cosine_annealing(7)", "adam", 0.01, 60, lambda o: S.CosineAnnealingLR(o, 7)))
    c.append(run("cosine_annealing(T_max=1, eta_min=0.01)", "sgd", 0.1, 10, lambda o: S.CosineAnnealingLR(o, 1, 0.01)))
    c.append(run("cosine_annealing(300, 1e-5)", "sgd", 0.05, 300, lambda o: S.CosineAnnealingLR(o, 300, 1e-5)))
    # warm restarts
    c.append(run("cosine_annealing_warm_restarts(t_0=5, t_mult=2, eta_min=0.0005)", "sgd", 0.1, 80,
                 lambda o: S.CosineAnnealingWarmRestarts(o, 5, 2, 0.0005)))
    c.append(run("cosine_annealing_warm_restarts(10)", "adam", 0.01, 60,
                 lambda o: S.CosineAnnealingWarmRestarts(o, 10)))
    c.append(run("cosine_annealing_warm_restarts(T_0=3, T_mult=3)", "sgd", 0.2, 60,
                 lambda o: S.CosineAnnealingWarmRestarts(o, 3, 3)))
    # polynomial
    c.append(run("polynomial(total_iters=30, power=2.0)", "sgd", 0.1, 60, lambda o: S.PolynomialLR(o, 30, 2.0)))
    c.append(run("polynomial", "adam", 0.01, 20, lambda o: S.PolynomialLR(o)))
    c.append(run("polynomial(45, 0.5)", "sgd", 0.1, 60, lambda o: S.PolynomialLR(o, 45, 0.5)))
    # linear
    c.append(run("linear", "sgd", 0.1, 20, lambda o: S.LinearLR(o)))
    c.append(run("linear(start_factor=0.1, total_iters=20)", "adam", 0.01, 40,
                 lambda o: S.LinearLR(o, start_factor=0.1, total_iters=20)))
    c.append(run("linear(1.0, 0.05, 40)", "sgd", 0.1, 60, lambda o: S.LinearLR(o, 1.0, 0.05, 40)))
    c.append(run("linear(0.3, 0.0, 25)", "sgd", 0.1, 40, lambda o: S.LinearLR(o, 0.3, 0.0, 25)))
    # constant
    c.append(run("constant", "sgd", 0.1, 20, lambda o: S.ConstantLR(o)))
    c.append(run("constant(factor=0.25, total_iters=17)", "adam", 0.003, 40,
                 lambda o: S.ConstantLR(o, factor=0.25, total_iters=17)))
    # one_cycle: n = total_steps (torch allows exactly that many scheduler steps)
    c.append(run("one_cycle(max_lr=0.5, total_steps=60)", "sgd", 0.1, 60,
                 lambda o: S.OneCycleLR(o, 0.5, total_steps=60), record_momentum=True))
    c.append(run("one_cycle(0.01, 50, pct_start=0.25, anneal_strategy=linear, three_phase=true)", "adam", 0.001, 50,
                 lambda o: S.OneCycleLR(o, 0.01, total_steps=50, pct_start=0.25, anneal_strategy="linear",
                                        three_phase=True), record_momentum=True))
    c.append(run("one_cycle(1.0, epochs=6, steps_per_epoch=7, div_factor=10, final_div_factor=100, three_phase=true)",
                 "sgd", 0.1, 42,
                 lambda o: S.OneCycleLR(o, 1.0, epochs=6, steps_per_epoch=7, div_factor=10.0,
                                        final_div_factor=100.0, three_phase=True), record_momentum=True))
    c.append(run("one_cycle(0.3, 40, pct_start=0.4, cycle_momentum=false, base_momentum=0.8, max_momentum=0.9)",
                 "sgd", 0.1, 40,
                 lambda o: S.OneCycleLR(o, 0.3, total_steps=40, pct_start=0.4, cycle_momentum=False,
                                        base_momentum=0.8, max_momentum=0.9), record_momentum=True))
    c.append(run("one_cycle(0.1, 33, pct_start=0.0, anneal_strategy=cos)", "adam", 0.1, 33,
                 lambda o: S.OneCycleLR(o, 0.1, total_steps=33, pct_start=0.0), record_momentum=True))
    # sequential
    c.append(run("sequential(schedulers=[linear(start_factor=0.1, total_iters=10), cosine_annealing(t_max=40, eta_min=1e-4)], milestones=[10])",
                 "sgd", 0.1, 70,
                 lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=10),
                                              S.CosineAnnealingLR(o, 40, 1e-4)], [10])))
    c.append(run("sequential([constant(0.5, 10), exponential(0.9), cosine_annealing_warm_restarts(5, 2)], [7, 25])",
                 "adam", 0.01, 70,
                 lambda o: S.SequentialLR(o, [S.ConstantLR(o, 0.5, 10), S.ExponentialLR(o, 0.9),
                                              S.CosineAnnealingWarmRestarts(o, 5, 2)], [7, 25])))
    c.append(run("sequential([linear(0.2, 1.0, 8), multi_step([3, 6], 0.5), polynomial(10, 2), step(4, 0.7)], [5, 15, 30])",
                 "sgd", 0.1, 60,
                 lambda o: S.SequentialLR(o, [S.LinearLR(o, 0.2, 1.0, 8), S.MultiStepLR(o, [3, 6], 0.5),
                                              S.PolynomialLR(o, 10, 2), S.StepLR(o, 4, 0.7)], [5, 15, 30])))
    c.append(run("sequential([exponential(0.9), step(4, 0.5)], [0])", "sgd", 0.1, 20,
                 lambda o: S.SequentialLR(o, [S.ExponentialLR(o, 0.9), S.StepLR(o, 4, 0.5)], [0])))
    c.append(run("sequential([cosine_annealing(5, 0.01), linear(0.5, 0.1, 10)], [12])", "sgd", 0.1, 40,
                 lambda o: S.SequentialLR(o, [S.CosineAnnealingLR(o, 5, 0.01), S.LinearLR(o, 0.5, 0.1, 10)], [12])))
    c.append(run("sequential([linear(0.5, 1.0, 5), one_cycle(1.0, 30)], [8])", "sgd", 0.1, 38,
                 lambda o: S.SequentialLR(o, [S.LinearLR(o, 0.5, 1.0, 5), S.OneCycleLR(o, 1.0, total_steps=30)], [8]),
                 record_momentum=True))
    # reduce_on_plateau, fed a fixed metric sequence
    m = plateau_losses(100)
    c.append(run("reduce_on_plateau", "sgd", 0.1, 100, lambda o: S.ReduceLROnPlateau(o), metrics=m))
    c.append(run("reduce_on_plateau(factor=0.5, patience=3, cooldown=2, min_lr=0.004)", "adam", 0.1, 100,
                 lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=3, cooldown=2, min_lr=0.004), metrics=m))
    c.append(run("reduce_on_plateau(mode=max, factor=0.7, patience=2, threshold=0.01, threshold_mode=abs)", "sgd", 0.1, 60,
                 lambda o: S.ReduceLROnPlateau(o, mode="max", factor=0.7, patience=2, threshold=0.01,
                                               threshold_mode="abs"), metrics=accuracies(60)))
    c.append(run("reduce_on_plateau(min, 0.3, 0, 1e-3, rel, 1, 0, 0.001)", "sgd", 0.1, 100,
                 lambda o: S.ReduceLROnPlateau(o, "min", 0.3, 0, 1e-3, "rel", 1, 0, 0.001), metrics=m))
    # the tutorials' forms, through LambdaLR
    c.append(run("exp_decay(lam=0.1)", "sgd", 0.1, 100, lam(lambda k: math.exp(-0.1 * k))))
    c.append(run("inverse_poly(beta=0.1, alpha=0.5)", "sgd", 0.1, 100, lam(lambda k: (1 + 0.1 * k) ** -0.5)))
    c.append(run("piecewise_constant(boundaries=[10, 30], values=[0.1, 0.05, 0.01])", "sgd", 0.1, 50,
                 lam(lambda k: (0.1 if k < 10 else 0.05 if k < 30 else 0.01) / 0.1)))
    # cyclic: every mode, scale_mode (which torch overrides for the built-in modes),
    # momentum cycling on SGD's momentum and Adam's beta1, an empty falling half
    c.append(run("cyclic(base_lr=0.001, max_lr=0.01, step_size_up=5)", "sgd", 0.1, 40,
                 lambda o: S.CyclicLR(o, 0.001, 0.01, step_size_up=5), record_momentum=True))
    c.append(run("cyclic(base_lr=1e-4, max_lr=0.01, step_size_up=20, mode=triangular2)", "adam", 0.001, 130,
                 lambda o: S.CyclicLR(o, 1e-4, 0.01, step_size_up=20, mode="triangular2"), record_momentum=True))
    c.append(run("cyclic(0.001, 0.1, 4, 7, mode=exp_range, gamma=0.97)", "sgd", 0.1, 60,
                 lambda o: S.CyclicLR(o, 0.001, 0.1, 4, 7, mode="exp_range", gamma=0.97), record_momentum=True))
    c.append(run("cyclic(0.01, 0.05, 3, 2, mode=triangular2, scale_mode=iterations, cycle_momentum=false)", "sgd", 0.1, 40,
                 lambda o: S.CyclicLR(o, 0.01, 0.05, 3, 2, mode="triangular2", scale_mode="iterations",
                                      cycle_momentum=False), record_momentum=True))
    c.append(run("cyclic(0.002, 0.02, 6, mode=exp_range, gamma=0.99, scale_mode=cycle, base_momentum=0.85, max_momentum=0.95)",
                 "adam", 0.001, 50,
                 lambda o: S.CyclicLR(o, 0.002, 0.02, 6, mode="exp_range", gamma=0.99, scale_mode="cycle",
                                      base_momentum=0.85, max_momentum=0.95), record_momentum=True))
    c.append(run("cyclic(0.01, 0.1, 3, 0, mode=triangular, scale_mode=iterations)", "sgd", 0.1, 20,
                 lambda o: S.CyclicLR(o, 0.01, 0.1, 3, 0, scale_mode="iterations"), record_momentum=True))
    c.append(run("cyclic(0.001, 0.006)", "sgd", 0.1, 60, lambda o: S.CyclicLR(o, 0.001, 0.006), record_momentum=True))
    c.append(run("cyclic(0.05, 0.01, 5, 3, mode=exp_range, gamma=1.01, base_momentum=0.9, max_momentum=0.8)", "sgd", 0.1, 40,
                 lambda o: S.CyclicLR(o, 0.05, 0.01, 5, 3, mode="exp_range", gamma=1.01, base_momentum=0.9,
                                      max_momentum=0.8), record_momentum=True))
    # chained: the children share the lr; recursive children multiply, closed forms override
    c.append(run("chained(schedulers=[step(step_size=10), exponential(gamma=0.99)])", "sgd", 0.1, 60,
                 lambda o: S.ChainedScheduler([S.StepLR(o, 10), S.ExponentialLR(o, 0.99)])))
    c.append(run("chained([linear(0.5, 1.0, 5), constant(0.5, 8), cosine_annealing(20, 0.001)])", "adam", 0.01, 60,
                 lambda o: S.ChainedScheduler([S.LinearLR(o, 0.5, 1.0, 5), S.ConstantLR(o, 0.5, 8),
                                               S.CosineAnnealingLR(o, 20, 0.001)])))
    c.append(run("chained([multi_step([5, 15], 0.5), polynomial(30, 2.0), cosine_annealing_warm_restarts(7, 2)])", "sgd", 0.1, 60,
                 lambda o: S.ChainedScheduler([S.MultiStepLR(o, [5, 15], 0.5), S.PolynomialLR(o, 30, 2.0),
                                               S.CosineAnnealingWarmRestarts(o, 7, 2)])))
    c.append(run("chained([cosine_annealing_warm_restarts(7, 2), multi_step([5, 15], 0.5), polynomial(30, 2.0)])", "sgd", 0.1, 60,
                 lambda o: S.ChainedScheduler([S.CosineAnnealingWarmRestarts(o, 7, 2), S.MultiStepLR(o, [5, 15], 0.5),
                                               S.PolynomialLR(o, 30, 2.0)])))
    c.append(run("chained([cyclic(0.001, 0.01, 5), exponential(0.98)])", "sgd", 0.1, 40,
                 lambda o: S.ChainedScheduler([S.CyclicLR(o, 0.001, 0.01, 5), S.ExponentialLR(o, 0.98)]),
                 record_momentum=True))
    c.append(run("chained([exponential(0.95), cyclic(0.001, 0.01, 4, mode=triangular2)])", "adam", 0.01, 40,
                 lambda o: S.ChainedScheduler([S.ExponentialLR(o, 0.95), S.CyclicLR(o, 0.001, 0.01, 4, mode="triangular2")]),
                 record_momentum=True))
    c.append(run("chained([cyclic(0.01, 0.1, 3, cycle_momentum=false), linear(0.5, 1.0, 6)])", "sgd", 0.1, 30,
                 lambda o: S.ChainedScheduler([S.CyclicLR(o, 0.01, 0.1, 3, cycle_momentum=False),
                                               S.LinearLR(o, 0.5, 1.0, 6)])))
    c.append(run("chained([one_cycle(0.5, 50), step(5, 0.8)])", "sgd", 0.1, 50,
                 lambda o: S.ChainedScheduler([S.OneCycleLR(o, 0.5, total_steps=50), S.StepLR(o, 5, 0.8)]),
                 record_momentum=True))
    c.append(run("chained([step(4, 0.5), one_cycle(0.5, 40, anneal_strategy=linear)])", "adam", 0.01, 40,
                 lambda o: S.ChainedScheduler([S.StepLR(o, 4, 0.5), S.OneCycleLR(o, 0.5, total_steps=40,
                                                                                  anneal_strategy="linear")]),
                 record_momentum=True))
    c.append(run("chained([swa_lr(0.05, 10, linear), exponential(0.9)])", "sgd", 0.1, 40,
                 lambda o: S.ChainedScheduler([SWALR(o, 0.05, 10, "linear"), S.ExponentialLR(o, 0.9)])))
    c.append(run("chained([step(3, 0.5), swa_lr(0.01, 5)])", "sgd", 0.1, 30,
                 lambda o: S.ChainedScheduler([S.StepLR(o, 3, 0.5), SWALR(o, 0.01, 5)])))
    # swa_lr, alone and as a sequential child (it counts its own step() calls)
    c.append(run("swa_lr(swa_lr=0.05)", "sgd", 0.1, 30, lambda o: SWALR(o, swa_lr=0.05)))
    c.append(run("swa_lr(0.001, 5, linear)", "adam", 0.01, 20, lambda o: SWALR(o, 0.001, 5, "linear")))
    c.append(run("swa_lr(0.2, anneal_epochs=0)", "sgd", 0.1, 5, lambda o: SWALR(o, 0.2, 0)))
    c.append(run("swa_lr(0.02, anneal_epochs=1, anneal_strategy=cos)", "sgd", 0.1, 5, lambda o: SWALR(o, 0.02, 1)))
    c.append(run("swa_lr(0.3, 7)", "sgd", 0.1, 20, lambda o: SWALR(o, 0.3, 7)))
    c.append(run("sequential([cosine_annealing(30), swa_lr(0.005, 5)], [20])", "sgd", 0.1, 50,
                 lambda o: S.SequentialLR(o, [S.CosineAnnealingLR(o, 30), SWALR(o, 0.005, 5)], [20])))
    c.append(run("sequential([swa_lr(0.01, 4, linear), exponential(0.9)], [10])", "sgd", 0.1, 30,
                 lambda o: S.SequentialLR(o, [SWALR(o, 0.01, 4, "linear"), S.ExponentialLR(o, 0.9)], [10])))
    # cyclic inside sequential: first (its base_lr becomes initial_lr) and later
    c.append(run("sequential([cyclic(0.01, 0.1, 5), cosine_annealing(20)], [15])", "sgd", 0.1, 40,
                 lambda o: S.SequentialLR(o, [S.CyclicLR(o, 0.01, 0.1, 5), S.CosineAnnealingLR(o, 20)], [15]),
                 record_momentum=True))
    c.append(run("sequential([linear(0.5, 1.0, 5), cyclic(0.01, 0.1, 5, max_momentum=0.95)], [10])", "sgd", 0.1, 40,
                 lambda o: S.SequentialLR(o, [S.LinearLR(o, 0.5, 1.0, 5), S.CyclicLR(o, 0.01, 0.1, 5, max_momentum=0.95)],
                                          [10]), record_momentum=True))
    # the library-only closure schedules, with the closures the Rust test writes again
    c.append(run("lambda_lr", "sgd", 0.1, 50, lam(lambda k: 0.95 ** k), closure="pow_0.95"))
    c.append(run("lambda_lr", "adam", 0.01, 50, lam(lambda k: 1 / math.sqrt(1 + k)), closure="inv_sqrt"))
    c.append(run("multiplicative", "sgd", 0.1, 50,
                 lambda o: S.MultiplicativeLR(o, lambda k: 0.5 if k % 10 == 0 else 0.98), closure="halve_every_10"))
    c.append(run("multiplicative", "adam", 0.01, 50,
                 lambda o: S.MultiplicativeLR(o, lambda k: 0.95 ** k), closure="pow_0.95"))
    return c


def main():
    data = {
        "generator": "tools/schedule_fixtures.py",
        "torch_version": torch.__version__,
        "note": "lrs[k] is param_groups[0]['lr'] at update k; lr_bits are the same values as IEEE-754 bits",
        "cases": cases(),
    }
    # one case per line: readable diffs without one number per line
    all_cases = data.pop("cases")
    cases_text = ",\n".join("  " + json.dumps(c) for c in all_cases)
    head = json.dumps(data, indent=1)[:-2]
    with open(OUT, "w") as f:
        f.write(head + ',\n "cases": [\n' + cases_text + "\n ]\n}\n")
    print(f"wrote {len(all_cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
