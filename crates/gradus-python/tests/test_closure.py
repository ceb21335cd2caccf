"""Closure optimizers from Python: gradus.torch.LBFGS against torch.optim.LBFGS
(Rosenbrock and a small MLP, state dicts both ways), gradus.torch.Newton's three ways
of getting the Hessian, and the NumPy step(params, closure, hessian=)."""

import numpy as np
import pytest

import gradus

torch = pytest.importorskip("torch")
import gradus.torch as gt  # noqa: E402

LBFGS_CONFIGS = [
    dict(),
    dict(line_search_fn="strong_wolfe"),
    dict(lr=0.5, max_iter=7, history_size=3),
]


def rosenbrock_run(cls, dtype, kwargs, steps=5):
    w = torch.tensor([-1.5, 2.0], dtype=dtype, requires_grad=True)
    opt = cls([w], **kwargs)

    def closure():
        opt.zero_grad()
        loss = (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2
        loss.backward()
        return loss

    losses = [opt.step(closure).item() for _ in range(steps)]
    return w.detach().clone(), losses, opt


@pytest.mark.parametrize("kwargs", LBFGS_CONFIGS, ids=["fixed", "strong_wolfe", "short"])
def test_lbfgs_equals_torch_bit_for_bit_on_rosenbrock_f64(kwargs):
    ours, our_losses, _ = rosenbrock_run(gt.LBFGS, torch.float64, kwargs)
    ref, ref_losses, _ = rosenbrock_run(torch.optim.LBFGS, torch.float64, kwargs)
    assert torch.equal(ours, ref), (ours, ref)
    assert our_losses == ref_losses


def test_lbfgs_f32_rosenbrock_within_tolerance():
    # torch evaluates the line search's tests on float32 tensors, gradus in f64: the
    # accepted steps may differ in the last bits.
    for kwargs in LBFGS_CONFIGS:
        ours, _, _ = rosenbrock_run(gt.LBFGS, torch.float32, kwargs)
        ref, _, _ = rosenbrock_run(torch.optim.LBFGS, torch.float32, kwargs)
        assert torch.allclose(ours, ref, rtol=1e-4, atol=1e-4), (kwargs, ours, ref)


def mlp(dtype):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).to(dtype)


def mlp_run(cls, dtype, kwargs, steps):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 5, generator=g, dtype=dtype)
    y = torch.randn(64, 3, generator=g, dtype=dtype)
    model = mlp(dtype)
    opt = cls(model.parameters(), **kwargs)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


@pytest.mark.parametrize("kwargs", LBFGS_CONFIGS, ids=["fixed", "strong_wolfe", "short"])
@pytest.mark.parametrize("dtype,steps,rtol", [(torch.float64, 2, 1e-12), (torch.float32, 1, 1e-4)], ids=["f64", "f32"])
def test_lbfgs_matches_torch_on_an_mlp(kwargs, dtype, steps, rtol):
    # Up to 2 x 20 iterations: dot products summed in another order (torch's BLAS)
    # differ in the last bit, and L-BFGS amplifies that from step to step.
    ours = mlp_run(gt.LBFGS, dtype, kwargs, steps)
    ref = mlp_run(torch.optim.LBFGS, dtype, kwargs, steps)
    scale = ref.abs().max()
    assert ((ours - ref).abs().max() / scale).item() <= rtol


def test_lbfgs_state_dict_round_trips_and_crosses_with_torch():
    kwargs = dict(line_search_fn="strong_wolfe", history_size=4, max_iter=5)
    straight, _, _ = rosenbrock_run(torch.optim.LBFGS, torch.float64, kwargs, steps=4)
    for first, second in [(gt.LBFGS, gt.LBFGS), (torch.optim.LBFGS, gt.LBFGS), (gt.LBFGS, torch.optim.LBFGS)]:
        w, _, opt = rosenbrock_run(first, torch.float64, kwargs, steps=2)
        saved = opt.state_dict()
        w2 = w.clone().requires_grad_(True)
        again = second([w2], **kwargs)
        again.load_state_dict(saved)

        def closure():
            again.zero_grad()
            loss = (1 - w2[0]) ** 2 + 100 * (w2[1] - w2[0] ** 2) ** 2
            loss.backward()
            return loss

        for _ in range(2):
            again.step(closure)
        assert torch.equal(w2.detach(), straight), (first.__module__, second.__module__)
    state = opt.state_dict()["state"][0]
    assert {"d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "n_iter", "func_evals"} <= set(state)
    assert len(state["old_dirs"]) <= 4


def test_lbfgs_refuses_groups_and_a_missing_closure():
    a = torch.nn.Parameter(torch.zeros(2))
    b = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(ValueError, match="parameter groups"):
        gt.LBFGS([{"params": [a]}, {"params": [b]}])
    with pytest.raises(ValueError, match="closure"):
        gt.LBFGS([a]).step()


def test_a_closure_that_raises_leaves_the_parameters_unchanged():
    w = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
    opt = gt.LBFGS([w], line_search_fn="strong_wolfe")
    calls = []

    def closure():
        calls.append(1)
        if len(calls) > 3:
            raise RuntimeError("data loader broke")
        opt.zero_grad()
        loss = (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="data loader broke"):
        opt.step(closure)
    assert w.tolist() == [-1.5, 2.0]


def quartic(v, A, b):
    return 0.5 * v @ A @ v - b @ v + 0.01 * (v**4).sum()


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_newton_gets_the_hessian_three_ways_and_they_agree():
    A = torch.tensor([[4.0, 1, 0], [1, 3, 0.5], [0, 0.5, 2]], dtype=torch.float64)
    b = torch.tensor([1.0, 2, 3], dtype=torch.float64)
    start = [3.0, -2.0, 1.0]
    results = []
    for way in ("create_graph", "no_backward", "hessian"):
        w = torch.tensor(start, dtype=torch.float64, requires_grad=True)
        opt = gt.Newton([w])

        def closure():
            opt.zero_grad()
            loss = quartic(w, A, b)
            if way == "create_graph":
                loss.backward(create_graph=True)
            elif way == "hessian":
                loss.backward()
            return loss

        for _ in range(4):
            if way == "hessian":
                opt.step(closure, hessian=lambda: torch.autograd.functional.hessian(lambda v: quartic(v, A, b), w.detach()))
            else:
                opt.step(closure)
        results.append(w.detach().clone())
    assert torch.equal(results[0], results[1]) and torch.equal(results[0], results[2])
    # The same steps by hand: w <- w - H^-1 g.
    w = torch.tensor(start, dtype=torch.float64)
    for _ in range(4):
        g = torch.autograd.functional.jacobian(lambda v: quartic(v, A, b), w)
        H = torch.autograd.functional.hessian(lambda v: quartic(v, A, b), w)
        w = w - torch.linalg.solve(H, g)
    assert torch.allclose(results[0], w, rtol=1e-12, atol=1e-14)
    assert opt.state_dict()["state"][0]["step"].item() == 4


def test_newton_explains_a_plain_backward():
    w = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    opt = gt.Newton([w])

    def closure():
        opt.zero_grad()
        loss = (w**4).sum()
        loss.backward()
        return loss

    with pytest.raises(ValueError, match="create_graph=True"):
        opt.step(closure)
    assert w.tolist() == [1.0, 2.0]


def rosenbrock_np(x):
    a, b = x
    return (1 - a) ** 2 + 100 * (b - a * a) ** 2, np.array([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)])


def test_numpy_lbfgs_with_a_closure_equals_torch():
    x = np.array([-1.5, 2.0])
    opt = gradus.build("lbfgs(line_search_fn=strong_wolfe)")
    losses = []
    for _ in range(5):
        losses.append(opt.step({"x": x}, lambda: (lambda f, g: (f, {"x": g}))(*rosenbrock_np(x))))
    ref, ref_losses, _ = rosenbrock_run(torch.optim.LBFGS, torch.float64, dict(line_search_fn="strong_wolfe"))
    # The hand-written gradient rounds differently from autograd's, in the last bits.
    assert np.allclose(x, ref.numpy(), rtol=1e-12, atol=0)
    assert np.allclose(losses, ref_losses, rtol=1e-9, atol=1e-15)
    # The state round trips like every optimizer's.
    again = gradus.build("lbfgs")
    again.load_state_dict(opt.state_dict())
    assert again.state_dict()["state"].keys() == opt.state_dict()["state"].keys()


def test_numpy_closure_kinds_and_errors():
    x = np.array([-1.5, 2.0])
    with pytest.raises(ValueError, match="closure"):
        gradus.build("lbfgs").step({"x": x})
    with pytest.raises(TypeError, match="loss, gradients"):
        gradus.build("lbfgs").step({"x": x}, lambda: 1.0)
    with pytest.raises(ValueError, match="no gradient for 'x'"):
        gradus.build("lbfgs").step({"x": x}, lambda: (1.0, {"y": x}))
    assert x.tolist() == [-1.5, 2.0]
    # An element-wise optimizer calls the closure once, for the gradients.
    sgd = gradus.build("sgd(lr=0.1)")
    assert sgd.step({"x": x}, lambda: (1.0, [np.array([1.0, -1.0])])) == 1.0
    assert x.tolist() == [-1.6, 2.1]
    # Newton: gradients from the pairs, the Hessian from hessian().
    z = np.array([1.0, 2.0])
    newton = gradus.build("newton")
    assert newton.step({"z": (z, 2 * z)}, hessian=lambda: 2 * np.eye(2))
    assert z.tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="Hessian has 3 entries"):
        newton.step({"z": (z, 2 * z)}, hessian=lambda: np.ones(3))
