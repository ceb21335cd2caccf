"""The scripts under examples/python run to the end and print what they promise."""

import pathlib
import re
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[3] / "examples" / "python"


def run(name):
    out = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_boston_numpy_trains_every_tutorial_optimizer():
    text = run("boston_numpy.py")

    def mse(name):
        line = next(l for l in text.splitlines() if l.startswith(name))
        return float(re.search(r"mse = ([0-9.]+)", line).group(1))

    best = mse("least squares")
    for name in ("momentum", "Nesterov", "AdaGrad", "RMSProp", "Adam"):
        # Every optimizer gets within 1 % of the closed-form fit's error.
        assert best <= mse(name) < 1.01 * best, (name, text)
    first, last = map(float, re.search(r"loss ([0-9.]+) -> ([0-9.]+)", text).groups())
    assert last < first


def test_torch_nadam_learns_its_task():
    text = run("torch_nadam.py")
    accuracy = float(re.search(r"training accuracy ([0-9.]+)%", text).group(1))
    assert accuracy > 90.0, text


def test_ddp_example_trains_and_consolidates_zero_state():
    pytest.importorskip("torch.distributed")
    text = run("ddp_adam.py")
    assert "consolidated optimizer state: 4 tensors" in text, text
