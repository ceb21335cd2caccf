#!/usr/bin/env python3
"""The first tutorial's Boston experiment as a NumPy loop (Adam, lr 1e-3, betas
(0.9, 0.95), batch 32 drawn with replacement, 2000 steps, y = w·x + b on standardized
LSTAT → MEDV), timed side by side with `gradus run` of the same experiment.

    python3 bench/boston_numpy.py [path/to/gradus]
"""
import csv, os, statistics, subprocess, sys, time
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
rows = list(csv.reader(open(os.path.join(here, "..", "data", "boston_house_prices.csv"))))
header = rows[1]
data = np.array([[float(v) for v in r] for r in rows[2:] if r])
x = data[:, header.index("LSTAT")]
y = data[:, header.index("MEDV")]
x = (x - x.mean()) / x.std()
y = (y - y.mean()) / y.std()
rng = np.random.default_rng(0)
idx = rng.permutation(len(x))
train = idx[: int(0.8 * len(x))]

def numpy_loop():
    w = b = 0.0
    m = np.zeros(2); v = np.zeros(2)
    b1, b2, lr, eps = 0.9, 0.95, 1e-3, 1e-8
    for t in range(1, 2001):
        batch = rng.choice(train, 32)
        xb, yb = x[batch], y[batch]
        err = w * xb + b - yb
        g = np.array([2 * np.mean(err * xb), 2 * np.mean(err)])
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mh = m / (1 - b1 ** t); vh = v / (1 - b2 ** t)
        step = lr * mh / (np.sqrt(vh) + eps)
        w -= step[0]; b -= step[1]
    return w, b

gradus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "target", "release", "gradus")
cmd = [gradus, "run", "--problem", "boston", "--optimizer", "adam(lr=1e-3, betas=(0.9, 0.95))",
       "--batch-size", "32", "--steps", "2000"]
np_times, g_times = [], []
for _ in range(5):
    t0 = time.perf_counter(); numpy_loop(); np_times.append(time.perf_counter() - t0)
    t0 = time.perf_counter(); subprocess.run(cmd, check=True, capture_output=True); g_times.append(time.perf_counter() - t0)
n, g = statistics.median(np_times), statistics.median(g_times)
print(f"NumPy loop: {n*1e3:.1f} ms   gradus run (whole process): {g*1e3:.1f} ms   ratio {n/g:.0f}x  (medians of 5)")
