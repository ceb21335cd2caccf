"""The NumPy API: steps equal the Rust library's bit for bit, in place; state dicts,
schedules, clipping, problems and gradus.run."""

import json
import pathlib

import numpy as np
import pytest

import gradus

FIXTURE = json.loads((pathlib.Path(__file__).parent / "fixtures" / "rust_steps.json").read_text())
CASES = FIXTURE["cases"]


def grad(p):
    # The fixture's gradient, p·p·p·2 − 0.5, in the same IEEE operations.
    return p * p * p * 2.0 - 0.5


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=[c["spec"] for c in CASES])
def test_steps_equal_the_rust_library_bit_for_bit(case, dtype):
    # tests/numpy_fixture.rs ran the same spec in Rust and wrote every iterate.
    opt = gradus.build(case["spec"])
    a = np.array(FIXTURE["start"]["a"], dtype=dtype).reshape(FIXTURE["shapes"]["a"])
    b = np.array(FIXTURE["start"]["b"], dtype=dtype).reshape(FIXTURE["shapes"]["b"])
    for want_a, want_b in case[dtype]:
        ga, gb = grad(a), grad(b)
        assert opt.step({"a": (a, ga), "b": (b, gb)}) is True
        np.testing.assert_array_equal(a.ravel(), np.array(want_a, dtype=dtype))
        np.testing.assert_array_equal(b.ravel(), np.array(want_b, dtype=dtype))
    assert opt.dtype == dtype


def test_generated_classes_cover_every_optimizer_and_schedule():
    names = {c.__name__ for c in vars(gradus).values() if isinstance(c, type)}
    for algorithm in gradus.optimizers():
        cls = getattr(gradus, gradus.class_name(algorithm["name"]))
        assert issubclass(cls, gradus.Optimizer)
        assert cls().name == algorithm["name"]
    for algorithm in gradus.schedules():
        assert gradus.class_name(algorithm["name"]) in names
    assert {"Adam", "SGD", "NAdam", "RMSprop", "Lion", "StepLR", "OneCycleLR"} <= names


def test_class_keywords_equal_the_spec():
    opt = gradus.Adam(lr=0.01, betas=(0.8, 0.9), amsgrad=True)
    assert opt.spec == gradus.build("adam(lr=0.01, betas=(0.8, 0.9), amsgrad=true)").spec
    assert opt.hyperparameters["betas"] == (0.8, 0.9)
    # Positional arguments follow the spec's order, as in torch.
    assert gradus.SGD(0.1, 0.9).hyperparameters["momentum"] == 0.9


def test_step_is_in_place_and_equals_gradus_run():
    problem = gradus.problems.rosenbrock(dim=3)
    spec = "nadam(lr=0.01, betas=(0.8, 0.99))"
    result = gradus.run(problem, spec, 40)
    opt = gradus.build(spec)
    x = problem.start()
    buffer = x  # the same object is updated
    for k in range(40):
        loss, g = problem.gradient(x)
        assert loss == result["losses"][k]
        opt.step({"x": (x, g)})
        np.testing.assert_array_equal(x, result["trajectory"][k + 1])
    assert buffer is x
    assert result["trajectory"].shape == (41, 3) and result["losses"].shape == (41,)
    assert result["losses"][-1] < result["losses"][0]


def test_state_dict_round_trip_mid_run_equals_an_uninterrupted_run():
    def fresh():
        return np.linspace(-1, 1, 6).reshape(2, 3)

    full, x = gradus.build("adam(lr=0.05, amsgrad=true)"), fresh()
    for _ in range(20):
        full.step({"w": (x, grad(x))})
    first, y = gradus.build("adam(lr=0.05, amsgrad=true)"), fresh()
    for _ in range(10):
        first.step({"w": (y, grad(y))})
    saved = first.state_dict()
    assert saved["state"]["w"]["exp_avg"].shape == (2, 3)
    assert saved["state"]["w"]["step"] == 10
    resumed = gradus.Adam()
    resumed.load_state_dict(saved)
    assert resumed.spec == first.spec
    for _ in range(10):
        resumed.step({"w": (y, grad(y))})
    np.testing.assert_array_equal(x, y)


def test_float32_state_dict_keeps_its_dtype():
    opt = gradus.RMSprop(lr=0.01)
    w = np.ones(4, dtype=np.float32)
    opt.step({"w": (w, w.copy())})
    sd = opt.state_dict()
    assert sd["dtype"] == "float32" and sd["state"]["w"]["square_avg"].dtype == np.float32
    other = gradus.RMSprop(lr=0.01)
    other.load_state_dict(sd)
    assert other.dtype == "float32"


def test_schedules_drive_the_optimizer_lr():
    opt = gradus.SGD(lr=0.1)
    sched = gradus.StepLR(opt, step_size=2, gamma=0.5)
    lrs = []
    for _ in range(5):
        lrs.append(opt.lr)
        sched.step()
    assert lrs == [0.1, 0.1, 0.05, 0.05, 0.025]
    state = sched.state_dict()
    assert state["last_epoch"] == 5
    plateau = gradus.ReduceLROnPlateau(gradus.Adam(lr=1.0), patience=0)
    with pytest.raises(ValueError, match="metric"):
        plateau.step()
    plateau.step(1.0)
    plateau.step(2.0)
    assert plateau.lr == pytest.approx(0.1)


def test_one_cycle_cycles_momentum():
    opt = gradus.SGD(lr=0.1, momentum=0.9)
    gradus.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    assert opt.momentum == pytest.approx(0.95)


def test_run_with_schedule_and_clipping_records_lrs():
    result = gradus.run(gradus.problems.beale(), gradus.SGD(lr=0.01), 6, schedule="step(step_size=2, gamma=0.5)", clip_norm=1.0)
    np.testing.assert_array_equal(result["lrs"], [0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025])
    # The first step is clipped to norm 1: |Δx| = lr·1.
    step = result["trajectory"][1] - result["trajectory"][0]
    assert np.linalg.norm(step) == pytest.approx(0.01, rel=1e-5)


def test_clipping_in_place_matches_torch_formula():
    a, b = np.array([3.0, 4.0]), np.array([12.0])
    total = gradus.clip_grad_norm([a, b], 6.5)
    assert total == pytest.approx(13.0)
    s = 6.5 / (13.0 + 1e-6)
    np.testing.assert_array_equal(a, np.array([3.0, 4.0]) * s)
    c = np.array([-3.0, 1.0], dtype=np.float32)
    gradus.clip_grad_value([c], 2.0)
    np.testing.assert_array_equal(c, [-2.0, 1.0])


def test_problems_boston_and_digits():
    boston = gradus.problems.boston()
    assert boston.tensors() == [("w", 1), ("b", 1)]
    result = gradus.run(boston, gradus.Adam(lr=0.1), 200, trajectory=False)
    assert "trajectory" not in result
    assert result["losses"][-1] < 0.5 * result["losses"][0]
    assert boston.test_loss(result["x"]) is not None
    digits = gradus.problems.digits_softmax()
    assert digits.dim == 64 * 10 + 10
    names = [n for n, _ in gradus.problems.names()]
    assert "rosenbrock" in names and "digits" in names


def test_float32_problem_runs_in_float32():
    sphere = gradus.problems.sphere(dtype="float32")
    assert sphere.start().dtype == np.float32
    result = gradus.run(sphere, "sgd(lr=0.1)", 3)
    assert result["optimizer"].dtype == "float32"
    # Every iterate is a float32 value, and float32 rounding shows against float64.
    t = result["trajectory"]
    np.testing.assert_array_equal(t, t.astype(np.float32).astype(np.float64))
    t64 = gradus.run(gradus.problems.sphere(), "sgd(lr=0.1)", 3)["trajectory"]
    assert (t != t64).any()


def test_state_dict_has_globals_and_inner_and_old_dicts_still_load():
    opt = gradus.build("adam(lr=0.1)")
    w = np.array([1.0, -2.0])
    opt.step({"w": (w, np.array([0.5, 0.5]))})
    saved = opt.state_dict()
    assert saved["globals"] == [] and saved["inner"] == []
    # A dict written before optimizer-wide scalars and nested states existed.
    old = {k: v for k, v in saved.items() if k not in ("globals", "inner")}
    again = gradus.build("adam(lr=0.1)")
    again.load_state_dict(old)
    assert again.state_dict()["state"]["w"]["exp_avg"].tolist() == saved["state"]["w"]["exp_avg"].tolist()
    bad = dict(saved, inner=[1])
    with pytest.raises(TypeError, match=r"'inner'\[0\]"):
        again.load_state_dict(bad)
