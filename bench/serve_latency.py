#!/usr/bin/env python3
"""Latency of the playground's API: `/api/run` for six optimizers x 1000 steps on Beale.

Starts `gradus serve --port 0` (the release build), warms up, then times REPEATS requests
in two forms: one request with the six runs (`{"runs": [...]}`) and six concurrent
single-run requests, as the page sends them. Prints the median and the 90th percentile.
A benchmark, not a test: run it on an idle machine.

    cargo build --release -p gradus-cli && python3 bench/serve_latency.py [--repeats 50]
"""

import argparse
import concurrent.futures
import http.client
import json
import pathlib
import statistics
import subprocess
import time

OPTIMIZERS = [
    "sgd(lr=0.01)",
    "sgd(lr=0.002, momentum=0.9)",
    "adagrad(lr=0.5)",
    "rmsprop(lr=0.01)",
    "adam(lr=0.05)",
    "adadelta(lr=5.0)",
]
RUNS = [
    {"problem": "beale", "optimizer": o, "start": [1.0, 1.5], "steps": 1000}
    for o in OPTIMIZERS
]


def post(port, body):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("POST", "/api/run", body=json.dumps(body), headers={"Content-Type": "application/json"})
    res = conn.getresponse()
    data = res.read()
    conn.close()
    if res.status != 200:
        raise SystemExit(f"HTTP {res.status}: {data[:200]!r}")
    return data


def timed(fn):
    t = time.perf_counter()
    fn()
    return 1000 * (time.perf_counter() - t)


def report(name, ms):
    ms = sorted(ms)
    p90 = ms[int(0.9 * (len(ms) - 1))]
    print(f"{name}: median {statistics.median(ms):.2f} ms, p90 {p90:.2f} ms, min {ms[0]:.2f} ms ({len(ms)} requests)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--bin", default=str(pathlib.Path(__file__).resolve().parents[1] / "target/release/gradus"))
    args = ap.parse_args()
    server = subprocess.Popen([args.bin, "serve", "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        port = int(line.rsplit(":", 1)[1].strip().rstrip("/"))
        batch = {"runs": RUNS}
        for _ in range(5):
            post(port, batch)
        report("one request, six runs", [timed(lambda: post(port, batch)) for _ in range(args.repeats)])
        with concurrent.futures.ThreadPoolExecutor(len(RUNS)) as pool:
            def six():
                list(pool.map(lambda r: post(port, r), RUNS))
            six()
            report("six concurrent requests", [timed(six) for _ in range(args.repeats)])
        size = len(post(port, batch))
        print(f"response size: {size / 1e6:.2f} MB")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
