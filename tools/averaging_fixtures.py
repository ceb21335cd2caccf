#!/usr/bin/env python3
"""torch.optim.swa_utils.AveragedModel (SWA and EMA) beside an optimizer: the fixture
gradus' weight averaging is tested against.

Usage (from the repository root, with torch 2.15):

    python3 tools/averaging_fixtures.py           # writes crates/gradus/tests/fixtures/averaging.json
    python3 tools/averaging_fixtures.py --check   # regenerates in memory, fails if the file would change

A small model (a 3x2 matrix `w` and a vector `b` of 3) is trained by torch's Adam (and
SGD with momentum) on a fixed least-squares problem, on CPU, in float64 and float32.
After each optimizer step every averaging case below updates its AveragedModel when its
cadence says so (`t > start and (t - start) % every == 0`, t = 1, 2, ... counting
optimizer steps), as gradus' `swa(start, every)` / `ema(decay, start, every)` do. The
fixture records the live parameters after each step (the Rust test feeds exactly these,
so a difference can only come from the averaging) and every case's averaged parameters
and `n_averaged` after each step.

Cases:
* `swa()`: `AveragedModel(model)`, torch's default (on CPU, `get_swa_avg_fn` tensor by
  tensor; the foreach `get_swa_multi_avg_fn` runs only on CUDA/XPU/MTIA).
* `ema(decay=d)`: `AveragedModel(model, avg_fn=get_ema_avg_fn(d))`.
* `lerp_ema(decay=d)`: `AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(d))`,
  torch's foreach lerp, recorded to document how far it is from `get_ema_avg_fn`
  (gradus follows the latter; the Rust test reports, not asserts, this difference).

Numbers are Python `repr` strings (float32 values widened to double), read back exactly.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from torch.optim.swa_utils import (
    AveragedModel,
    get_ema_avg_fn,
    get_ema_multi_avg_fn,
)

OUT = Path(__file__).resolve().parent.parent / "crates" / "gradus" / "tests" / "fixtures" / "averaging.json"
DTYPES = {"f64": torch.float64, "f32": torch.float32}
STEPS = 25

OPTIMIZERS = {
    "adam(lr=0.05)": lambda p: torch.optim.Adam(p, lr=0.05),
    "sgd(lr=0.02, momentum=0.9)": lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.9),
}

# (gradus spec, torch constructor, start, every)
CASES = [
    ("swa()", lambda m: AveragedModel(m), 0, 1),
    ("swa(start=5, every=3)", lambda m: AveragedModel(m), 5, 3),
    ("ema(decay=0.9)", lambda m: AveragedModel(m, avg_fn=get_ema_avg_fn(0.9)), 0, 1),
    ("ema(decay=0.99)", lambda m: AveragedModel(m, avg_fn=get_ema_avg_fn(0.99)), 0, 1),
    ("ema(decay=0.999)", lambda m: AveragedModel(m, avg_fn=get_ema_avg_fn()), 0, 1),
    ("ema(decay=0.7, start=4, every=2)", lambda m: AveragedModel(m, avg_fn=get_ema_avg_fn(0.7)), 4, 2),
    ("lerp_ema(decay=0.9)", lambda m: AveragedModel(m, multi_avg_fn=get_ema_multi_avg_fn(0.9)), 0, 1),
]


def num(x: float) -> str:
    return repr(float(x))


def flat(t: torch.Tensor) -> list[str]:
    return [num(v) for v in t.detach().reshape(-1).tolist()]


class Model(torch.nn.Module):
    def __init__(self, dtype):
        super().__init__()
        g = torch.Generator().manual_seed(7)
        self.w = torch.nn.Parameter((torch.rand(3, 2, generator=g, dtype=torch.float64) * 2 - 1).to(dtype))
        self.b = torch.nn.Parameter((torch.rand(3, generator=g, dtype=torch.float64) - 0.5).to(dtype))


def run(opt_spec: str, dtype_name: str) -> dict:
    dtype = DTYPES[dtype_name]
    torch.manual_seed(0)
    model = Model(dtype)
    g = torch.Generator().manual_seed(11)
    xs = (torch.rand(16, 2, generator=g, dtype=torch.float64) * 4 - 2).to(dtype)
    ys = (torch.rand(16, 3, generator=g, dtype=torch.float64) * 2 - 1).to(dtype)
    opt = OPTIMIZERS[opt_spec](model.parameters())
    averaged = [(spec, make(model), start, every) for spec, make, start, every in CASES]
    steps = []
    for t in range(1, STEPS + 1):
        opt.zero_grad()
        loss = ((xs @ model.w.T + model.b - ys) ** 2).mean()
        loss.backward()
        opt.step()
        rec = {"params": {"w": flat(model.w), "b": flat(model.b)}, "averages": {}}
        for spec, avg, start, every in averaged:
            if t > start and (t - start) % every == 0:
                avg.update_parameters(model)
            rec["averages"][spec] = {
                "n_averaged": int(avg.n_averaged),
                "w": flat(avg.module.w),
                "b": flat(avg.module.b),
            }
        steps.append(rec)
    return {
        "optimizer": opt_spec,
        "dtype": dtype_name,
        "shapes": {"w": [3, 2], "b": [3]},
        "order": ["w", "b"],
        "steps": steps,
    }


def build() -> dict:
    return {
        "torch": torch.__version__,
        "script": "tools/averaging_fixtures.py",
        "cases": [spec for spec, *_ in CASES],
        "runs": [run(o, d) for o in OPTIMIZERS for d in DTYPES],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if the committed file would change")
    a = ap.parse_args()
    text = json.dumps(build(), indent=1) + "\n"
    if a.check:
        if OUT.read_text() != text:
            print(f"{OUT} is out of date; rerun tools/averaging_fixtures.py", file=sys.stderr)
            return 1
        print(f"{OUT} is up to date")
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
