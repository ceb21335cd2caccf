"""Step time of gradus.torch.X against torch.optim.X, side by side, in one run.

For every optimizer both have: 10 M float32 parameters in one tensor, 1000
tensors of 1000, and 1000 tensors of 1 element (where the step is nearly all call
overhead: the Python side, the gradient lookups, the tensor checks). torch runs its fused CPU kernel where it has one for the optimizer,
else its foreach path. Gradients are fixed, so only the step is timed (the median of
``--steps`` steps after two warm-up steps).

    pip install ./crates/gradus-python   # release build
    python bench/python_torch.py [--steps 20]
"""

import argparse
import statistics
import time

import torch

import gradus.torch as gt

# The optimizers stepped from their gradients alone (closure optimizers such as LBFGS
# re-evaluate the loss, so a step's time is the closure's).
SHARED = [
    n
    for n in gt.__all__
    if hasattr(torch.optim, n) and isinstance(getattr(gt, n), type) and not issubclass(getattr(gt, n), gt.ClosureOptimizer)
    and getattr(gt, n) is not gt.GradusOptimizer
]
SETUPS = {"1 x 10M": [10_000_000], "1000 x 1000": [1000] * 1000, "1000 x 1": [1] * 1000}
# Configurations in which every optimizer makes a real update.
KWARGS = {"SGD": dict(lr=0.01, momentum=0.9), "Adadelta": dict(lr=1.0)}


def tensors(sizes):
    g = torch.Generator().manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(n, generator=g)) for n in sizes]
    for p in params:
        p.grad = torch.randn(p.numel(), generator=g) * 0.01
    return params


def median_step(opt, steps):
    for _ in range(2):
        opt.step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        opt.step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def torch_reference(name, params, kwargs):
    cls = getattr(torch.optim, name)
    try:
        opt = cls(params, fused=True, **kwargs)
        opt.step()
        return opt, "fused"
    except (RuntimeError, TypeError, ValueError):
        return cls(params, foreach=True, **kwargs), "foreach"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; median of {args.steps} steps, float32")
    print(f"{'optimizer':<10} {'setup':<12} {'torch path':<10} {'torch ms':>10} {'gradus ms':>10} {'speed-up':>9}")
    for name in SHARED:
        kwargs = KWARGS.get(name, dict(lr=1e-3))
        for setup, sizes in SETUPS.items():
            ref, path = torch_reference(name, tensors(sizes), kwargs)
            t_torch = median_step(ref, args.steps)
            del ref
            ours = getattr(gt, name)(tensors(sizes), **kwargs)
            t_gradus = median_step(ours, args.steps)
            del ours
            print(f"{name:<10} {setup:<12} {path:<10} {t_torch * 1e3:>10.3f} {t_gradus * 1e3:>10.3f} {t_torch / t_gradus:>8.2f}x", flush=True)


if __name__ == "__main__":
    main()
