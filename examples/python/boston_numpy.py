#!/usr/bin/env python3
"""The first tutorial's Boston housing experiment with gradus on NumPy arrays:
MEDV ≈ w·LSTAT + b on standardized data, mean squared error, minibatches of 32 drawn
with replacement, trained with momentum, Nesterov, AdaGrad, RMSProp and Adam.

The model and its gradient are plain NumPy; gradus updates ``w`` and ``b`` in place.

    pip install ./crates/gradus-python
    python examples/python/boston_numpy.py
"""

import csv
import os

import numpy as np

import gradus

here = os.path.dirname(os.path.abspath(__file__))
rows = list(csv.reader(open(os.path.join(here, "..", "..", "data", "boston_house_prices.csv"))))
header = rows[1]
data = np.array([[float(v) for v in r] for r in rows[2:] if r])
x = data[:, header.index("LSTAT")]
y = data[:, header.index("MEDV")]
x = (x - x.mean()) / x.std()
y = (y - y.mean()) / y.std()

OPTIMIZERS = {
    "momentum": gradus.SGD(lr=0.01, momentum=0.9),
    "Nesterov": gradus.SGD(lr=0.01, momentum=0.9, nesterov=True),
    "AdaGrad": gradus.Adagrad(lr=0.1),
    "RMSProp": gradus.RMSprop(lr=0.01),
    "Adam": gradus.Adam(lr=0.01, betas=(0.9, 0.95)),
}


def train(opt, steps=2000, batch=32, seed=0):
    rng = np.random.default_rng(seed)
    w, b = np.zeros(1), np.zeros(1)
    for _ in range(steps):
        rows = rng.integers(0, len(x), batch)
        err = w * x[rows] + b - y[rows]
        gw, gb = np.array([2 * np.mean(err * x[rows])]), np.array([2 * np.mean(err)])
        opt.step({"w": (w, gw), "b": (b, gb)})
    return w[0], b[0], np.mean((w * x + b - y) ** 2)


# The least-squares optimum, for reference.
slope, intercept = np.polyfit(x, y, 1)
print(f"{'least squares':<14} w = {slope:+.4f}  b = {intercept:+.4f}  mse = {np.mean((slope * x + intercept - y) ** 2):.4f}")
for name, opt in OPTIMIZERS.items():
    w, b, mse = train(opt)
    print(f"{name:<14} w = {w:+.4f}  b = {b:+.4f}  mse = {mse:.4f}   ({opt.spec})")

# The same experiment on the built-in problem, full batch, with the whole trajectory:
result = gradus.run(gradus.problems.boston(), gradus.Adam(lr=0.05), 300)
print(f"gradus.run: loss {result['losses'][0]:.4f} -> {result['losses'][-1]:.4f}, trajectory {result['trajectory'].shape}")
