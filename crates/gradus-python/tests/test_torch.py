"""gradus.torch against torch.optim: the same results on a small MLP, param groups,
state dicts, lr schedulers, and clear errors for tensors gradus cannot step."""

import copy
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
import gradus.torch as gt  # noqa: E402

# Every optimizer torch has, with its defaults (lr raised where torch's is tiny) and
# the options that change the update rule.
CONFIGS = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.1, weight_decay=0.01, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, amsgrad=True, betas=(0.8, 0.9), maximize=True)),
    ("Adagrad", dict(lr=0.05)),
    ("Adagrad", dict(lr=0.05, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)),
    ("RMSprop", dict(lr=0.005)),
    ("RMSprop", dict(lr=0.005, centered=True, momentum=0.5, weight_decay=0.1)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.1, momentum_decay=0.01)),
    ("RAdam", dict(lr=0.01)),
    ("RAdam", dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.1)),
    ("Adamax", dict(lr=0.01)),
    ("Adamax", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("Rprop", dict(lr=0.01)),
    ("Rprop", dict(lr=0.01, etas=(0.4, 1.3), step_sizes=(1e-5, 1.0), maximize=True)),
    ("ASGD", dict(lr=0.01)),
    ("ASGD", dict(lr=0.01, lambd=1e-3, alpha=0.5, t0=10.0, weight_decay=0.1)),
    ("Adafactor", dict(lr=0.01)),
    ("Adafactor", dict(lr=0.01, beta2_decay=-0.5, eps=(1e-30, 1e-3), weight_decay=0.1, maximize=True)),
]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)]


def mlp(dtype):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).to(dtype)


def data(dtype):
    g = torch.Generator().manual_seed(1)
    return torch.randn(64, 5, generator=g, dtype=dtype), torch.randn(64, 3, generator=g, dtype=dtype)


def train(model, opt, x, y, steps, sched=None):
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-9), (torch.float32, 1e-5)], ids=["f64", "f32"])
@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_matches_torch_optim_on_an_mlp_over_50_steps(name, kwargs, dtype, rtol):
    x, y = data(dtype)
    ref_model, our_model = mlp(dtype), mlp(dtype)
    want = train(ref_model, getattr(torch.optim, name)(ref_model.parameters(), **kwargs), x, y, 50)
    got = train(our_model, getattr(gt, name)(our_model.parameters(), **kwargs), x, y, 50)
    start = torch.cat([p.detach().reshape(-1) for p in mlp(dtype).parameters()])
    assert not torch.equal(want, start)
    torch.testing.assert_close(got, want, rtol=rtol, atol=rtol * want.abs().max().item())


def test_every_shared_optimizer_is_covered():
    shared = {n for n in dir(gt) if isinstance(getattr(gt, n), type) and issubclass(getattr(gt, n), torch.optim.Optimizer)}
    shared = {n for n in shared if hasattr(torch.optim, n) and n != "Optimizer"}
    # The closure optimizers are checked against torch by test_closure.py; Muon (2-D
    # weights only) and SparseAdam (sparse gradients) by their own tests below.
    assert shared <= {n for n, _ in CONFIGS} | {"LBFGS", "Muon", "SparseAdam"}
    assert {"Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Adadelta", "NAdam", "RAdam", "Adamax"} <= shared


@pytest.mark.parametrize("kwargs", [dict(lr=0.02), dict(lr=0.02, nesterov=False, weight_decay=0.0, adjust_lr_fn="match_rms_adamw")], ids=["default", "options"])
@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-9), (torch.float32, 1e-5)], ids=["f64", "f32"])
def test_muon_matches_torch_on_the_weight_matrices_of_an_mlp(kwargs, dtype, rtol):
    # Muon steps 2-D weights only: a bias-free MLP. Its Gram matrices (at most 5 x 5)
    # are small enough for gradus' bfloat16 Newton-Schulz to be torch's bit for bit.
    def model():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(5, 16, bias=False), torch.nn.Tanh(),
                                   torch.nn.Linear(16, 3, bias=False)).to(dtype)
    x, y = data(dtype)
    ref, ours = model(), model()
    want = train(ref, torch.optim.Muon(ref.parameters(), **kwargs), x, y, 50)
    got = train(ours, gt.Muon(ours.parameters(), **kwargs), x, y, 50)
    assert not torch.equal(want, torch.cat([p.detach().reshape(-1) for p in model().parameters()]))
    torch.testing.assert_close(got, want, rtol=rtol, atol=rtol * want.abs().max().item())


def test_muon_refuses_a_vector_naming_it():
    with pytest.raises(ValueError, match="2"):
        opt = gt.Muon([torch.nn.Parameter(torch.zeros(4, dtype=torch.float64))], lr=0.02)
        opt.param_groups[0]["params"][0].grad = torch.ones(4, dtype=torch.float64)
        opt.step()


@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-9), (torch.float32, 1e-5)], ids=["f64", "f32"])
def test_sparse_adam_matches_torch_on_a_sparse_embedding(dtype, rtol):
    # nn.Embedding(sparse=True): each step's gradient holds only the rows looked up.
    def model():
        torch.manual_seed(0)
        return torch.nn.Embedding(20, 4, sparse=True).to(dtype)
    g = torch.Generator().manual_seed(3)
    batches = [torch.randint(0, 20, (6,), generator=g) for _ in range(30)]
    targets = [torch.randn(6, 4, generator=g, dtype=dtype) for _ in range(30)]
    out = []
    for cls in (torch.optim.SparseAdam, gt.SparseAdam):
        m = model()
        opt = cls(list(m.parameters()), lr=0.01)
        for idx, t in zip(batches, targets):
            opt.zero_grad()
            torch.nn.functional.mse_loss(m(idx), t).backward()
            opt.step()
        out.append(m.weight.detach().clone())
    want, got = out
    assert not torch.equal(want, model().weight.detach())
    torch.testing.assert_close(got, want, rtol=rtol, atol=rtol * want.abs().max().item())


def test_signatures_are_torchs():
    import inspect

    for name in ["Adam", "SGD", "RMSprop", "NAdam", "Adagrad"]:
        ours = inspect.signature(getattr(gt, name)).parameters
        theirs = inspect.signature(getattr(torch.optim, name)).parameters
        assert list(theirs) == [p for p in ours if p != "nonfinite"][: len(theirs)]
    # Optimizers torch lacks get CamelCase names and gradus' keywords.
    assert "betas" in inspect.signature(gt.Lion).parameters
    model = mlp(torch.float64)
    x, y = data(torch.float64)
    before = train(model, gt.Lion(model.parameters(), lr=1e-3), x, y, 3)
    assert torch.isfinite(before).all()


@pytest.mark.parametrize("name,kwargs", [("Adam", dict(lr=0.01, amsgrad=True)), ("NAdam", dict(lr=0.01)), ("SGD", dict(lr=0.05, momentum=0.9)), ("RMSprop", dict(lr=0.01, centered=True, momentum=0.3))])
def test_state_dict_round_trip_mid_run_equals_an_uninterrupted_run(name, kwargs, tmp_path):
    x, y = data(torch.float64)
    full_model = mlp(torch.float64)
    full = train(full_model, getattr(gt, name)(full_model.parameters(), **kwargs), x, y, 30)

    model = mlp(torch.float64)
    opt = getattr(gt, name)(model.parameters(), **kwargs)
    train(model, opt, x, y, 15)
    path = tmp_path / "ckpt.pt"
    torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, path)
    ckpt = torch.load(path)
    model2 = mlp(torch.float64)
    model2.load_state_dict(ckpt["model"])
    opt2 = getattr(gt, name)(model2.parameters(), **kwargs)
    opt2.load_state_dict(ckpt["opt"])
    assert len(opt2.state) == 4
    resumed = train(model2, opt2, x, y, 15)
    assert torch.equal(resumed, full)


def test_state_is_in_torchs_layout_and_loads_into_torch():
    x, y = data(torch.float64)
    model = mlp(torch.float64)
    opt = gt.Adam(model.parameters(), lr=0.01)
    train(model, opt, x, y, 5)
    p = next(model.parameters())
    state = opt.state[p]
    assert set(state) == {"step", "exp_avg", "exp_avg_sq"}
    assert state["exp_avg"].shape == p.shape and float(state["step"]) == 5.0
    # torch.optim.Adam continues from gradus' state exactly as gradus does.
    ref_model = copy.deepcopy(model)
    ref = torch.optim.Adam(ref_model.parameters(), lr=0.01)
    ref.load_state_dict(opt.state_dict())
    want = train(ref_model, ref, x, y, 5)
    got = train(model, opt, x, y, 5)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_param_groups_add_param_group_and_zero_grad():
    x, y = data(torch.float64)
    a, b = mlp(torch.float64), mlp(torch.float64)
    groups = lambda m: [{"params": m[0].parameters(), "lr": 0.05}, {"params": m[2].parameters()}]
    ref = torch.optim.SGD(groups(a), lr=0.01, momentum=0.9)
    ours = gt.SGD(groups(b), lr=0.01, momentum=0.9)
    assert ours.param_groups[0]["lr"] == 0.05 and ours.param_groups[1]["lr"] == 0.01
    torch.testing.assert_close(train(b, ours, x, y, 10), train(a, ref, x, y, 10), rtol=1e-12, atol=1e-12)
    extra = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    ours.add_param_group({"params": [extra], "lr": 0.5})
    extra.grad = torch.ones(3, dtype=torch.float64)
    ours.step()
    assert torch.equal(extra.detach(), torch.full((3,), 0.5, dtype=torch.float64))
    ours.zero_grad()
    assert all(p.grad is None for g in ours.param_groups for p in g["params"])


def test_torch_lr_schedulers_drive_param_groups():
    x, y = data(torch.float64)
    a, b = mlp(torch.float64), mlp(torch.float64)
    ref = torch.optim.Adam(a.parameters(), lr=0.02)
    ours = gt.Adam(b.parameters(), lr=0.02)
    want = train(a, ref, x, y, 20, torch.optim.lr_scheduler.OneCycleLR(ref, max_lr=0.05, total_steps=20))
    got = train(b, ours, x, y, 20, torch.optim.lr_scheduler.OneCycleLR(ours, max_lr=0.05, total_steps=20))
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
    c, d = mlp(torch.float64), mlp(torch.float64)
    ref = torch.optim.SGD(c.parameters(), lr=0.1)
    ours = gt.SGD(d.parameters(), lr=0.1)
    want = train(c, ref, x, y, 10, torch.optim.lr_scheduler.StepLR(ref, 3, 0.5))
    got = train(d, ours, x, y, 10, torch.optim.lr_scheduler.StepLR(ours, 3, 0.5))
    assert torch.equal(got, want)


def test_changing_a_hyperparameter_between_steps_keeps_the_state():
    x, y = data(torch.float64)
    a, b = mlp(torch.float64), mlp(torch.float64)
    ref = torch.optim.Adam(a.parameters(), lr=0.01)
    ours = gt.Adam(b.parameters(), lr=0.01)
    train(a, ref, x, y, 5)
    train(b, ours, x, y, 5)
    for opt in (ref, ours):
        opt.param_groups[0]["weight_decay"] = 0.1
        opt.param_groups[0]["betas"] = (0.8, 0.99)
    torch.testing.assert_close(train(b, ours, x, y, 5), train(a, ref, x, y, 5), rtol=1e-12, atol=1e-12)


def test_cuda_sparse_and_non_contiguous_tensors_get_a_clear_error():
    base = torch.zeros(4, 3, dtype=torch.float64)
    p = torch.nn.Parameter(base.t())  # a non-contiguous view
    opt = gt.Adam([p])
    p.grad = torch.ones(3, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match="parameter 0 is not contiguous"):
        opt.step()
    q = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    opt = gt.SGD([q], lr=0.1)
    q.grad = torch.ones(6, dtype=torch.float64)[::2]
    with pytest.raises(ValueError, match="the gradient of parameter 0 is not contiguous"):
        opt.step()
    q.grad = torch.ones(3, dtype=torch.float64).to_sparse()
    with pytest.raises(ValueError, match="layout"):
        opt.step()
    if torch.cuda.is_available():
        r = torch.nn.Parameter(torch.zeros(3, device="cuda"))
        r.grad = torch.ones_like(r)
        with pytest.raises(ValueError, match="cuda"):
            gt.Adam([r]).step()
    with pytest.raises(TypeError, match="float16"):
        gt.Adam([torch.nn.Parameter(torch.zeros(2, dtype=torch.float16))])


def test_bad_hyperparameters_and_torch_only_options():
    params = [torch.nn.Parameter(torch.zeros(2))]
    with pytest.raises(ValueError, match=r"betas\[1\]"):
        gt.Adam(params, betas=(0.9, 1.5))
    with pytest.raises(TypeError, match="lrr"):
        gt.Adam(params, lrr=0.1)
    with pytest.raises(ValueError, match="capturable"):
        gt.Adam(params, capturable=True)
    gt.Adam(params, foreach=True, fused=False)  # implementation switches are accepted
    opt = gt.Adam(params, nonfinite="error")
    params[0].grad = torch.tensor([0.0, float("nan")])
    with pytest.raises(ValueError, match="non-finite gradient in tensor '0' at index 1"):
        opt.step()


def test_import_gradus_works_without_torch():
    code = "import sys; sys.modules['torch'] = None; import gradus, numpy as np; o = gradus.Adam(); w = np.ones(2); o.step({'w': (w, w.copy())}); print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_tensors_replaced_between_steps_are_seen():
    # The Rust side remembers each tensor between steps; new gradients, gradients
    # changed in place, and parameters given new storage must all be stepped as torch does.
    results = []
    for cls in (torch.optim.SGD, gt.SGD):
        p = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
        q = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
        opt = cls([p, q], lr=0.1, momentum=0.9)
        p.grad = torch.ones(3, dtype=torch.float64)
        q.grad = torch.ones(2, dtype=torch.float64)
        opt.step()
        p.grad = torch.full((3,), 2.0, dtype=torch.float64)  # a new gradient object
        opt.step()
        p.grad.mul_(0.5)  # the same object, changed in place
        q.grad = None  # q is skipped
        opt.step()
        p.data = torch.full((3,), 10.0, dtype=torch.float64)  # new storage
        q.grad = torch.ones(2, dtype=torch.float64)
        opt.step()
        opt.zero_grad()  # set_to_none: gradients are freed
        p.grad = torch.ones(3, dtype=torch.float64)
        q.grad = torch.ones(2, dtype=torch.float64)
        opt.step()
        results.append(torch.cat([p.detach(), q.detach()]))
    assert torch.equal(results[0], results[1])
    # A parameter whose storage becomes another dtype is refused by name.
    p.data = torch.zeros(3, dtype=torch.float32)
    p.grad = torch.ones(3, dtype=torch.float32)
    with pytest.raises(TypeError, match="parameter 1 is torch.float64, expected torch.float32"):
        opt.step()


# Every gradus.torch optimizer that steps from .grad, with settings under which its
# optimizer-wide state (if any) changes within a few steps.
RESUMABLE = {
    "Prodigy": dict(),
    "Lookahead": dict(k=3),
    "Partition": dict(),
    "Lamb": dict(lr=0.01),
    "Lars": dict(lr=0.01),
    "Lion": dict(lr=1e-3),
    "Muon": dict(lr=0.01),
    "Shampoo": dict(lr=0.01),
    "Soap": dict(lr=0.01),
    "ScheduleFreeAdamW": dict(lr=0.01),
    "ScheduleFreeSgd": dict(lr=0.05),
    "SparseAdam": dict(lr=0.01),
    "ASGD": dict(lr=0.01, t0=2.0),
    "Adafactor": dict(lr=0.01),
    "Rprop": dict(lr=0.01),
}


def assert_same(a, b):
    """Nested dicts, lists, tensors and plain values, equal exactly."""
    assert type(a) is type(b) or {type(a), type(b)} <= {list, tuple}, (a, b)
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            assert_same(u, v)
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    else:
        assert a == b


def resumable_params(name, model):
    # Muon steps matrices only.
    return [p for p in model.parameters() if p.ndim == 2] if name == "Muon" else list(model.parameters())


def test_every_optimizer_is_checked_for_resuming():
    torch_names = {n for n, _ in CONFIGS}
    closure = {n for n in gt.__all__ if isinstance(getattr(gt, n), type) and issubclass(getattr(gt, n), gt.ClosureOptimizer)}
    generated = {n for n in gt.__all__ if getattr(getattr(gt, n), "spec_name", None)}
    assert generated - torch_names - closure <= set(RESUMABLE), generated - torch_names - closure - set(RESUMABLE)


@pytest.mark.parametrize("name", sorted(RESUMABLE))
def test_resuming_from_a_saved_state_dict_equals_an_uninterrupted_run(name, tmp_path):
    kwargs = RESUMABLE[name]
    x, y = data(torch.float64)
    cls = getattr(gt, name)

    def run(model, opt, steps):
        return train(model, opt, x, y, steps)

    full_model = mlp(torch.float64)
    full = run(full_model, cls(resumable_params(name, full_model), **kwargs), 12)

    model = mlp(torch.float64)
    opt = cls(resumable_params(name, model), **kwargs)
    run(model, opt, 7)
    path = tmp_path / "ckpt.pt"
    torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, path)
    ckpt = torch.load(path, weights_only=True)  # plain values and tensors only
    model2 = mlp(torch.float64)
    model2.load_state_dict(ckpt["model"])
    opt2 = cls(resumable_params(name, model2), **kwargs)
    opt2.load_state_dict(ckpt["opt"])
    # What was loaded is what is saved again, before the next step.
    assert_same(opt2.state_dict()["param_groups"], ckpt["opt"]["param_groups"])
    resumed = run(model2, opt2, 5)
    assert torch.equal(resumed, full)


def test_optimizer_wide_state_is_in_the_param_groups():
    model = mlp(torch.float64)
    x, y = data(torch.float64)
    opt = gt.Prodigy(model.parameters())
    train(model, opt, x, y, 3)
    extras = opt.state_dict()["param_groups"][0]["gradus"]["float64"]
    # Prodigy's d grew from d0 = 1e-6; three steps were counted.
    d = extras["globals"][0]
    assert d > 1e-6
    assert extras["skipped"] == 0 and extras["inner"] == []
    # The live param groups carry no copy of it.
    assert "gradus" not in opt.param_groups[0]
    wrapped = gt.Lookahead(model.parameters(), k=3)
    train(model, wrapped, x, y, 2)
    inner = wrapped.state_dict()["param_groups"][0]["gradus"]["float64"]["inner"]
    assert [s["algorithm"] for s in inner] == ["adam"]
    assert all(isinstance(v["exp_avg"], torch.Tensor) for v in inner[0]["state"].values())
    with pytest.raises(ValueError, match="matches no group"):
        bad = wrapped.state_dict()
        bad["param_groups"][0]["gradus"] = {"float16": bad["param_groups"][0]["gradus"]["float64"]}
        fresh = gt.Lookahead(model.parameters(), k=3)
        fresh.load_state_dict(bad)
        train(model, fresh, x, y, 1)


def sam_reference(model, x, y, rho, steps, lr, momentum):
    """pytorch-optimizer's SAM step (4.1) written out over torch.optim.SGD: ascend to
    w + rho g / |g|, take the gradient there, restore w (the saved copy, as the
    reference does) and step SGD from it with that gradient."""
    base = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    params = list(model.parameters())
    for _ in range(steps):
        base.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        with torch.no_grad():
            # The reference's norm is float32 even for float64 weights (see gradus' sam docs).
            norm = torch.norm(torch.stack([p.grad.norm(p=2).float() for p in params]), p=2)
            scale = (rho / (norm + 1e-12)).to(torch.float64)
            old = [p.detach().clone() for p in params]
            for p in params:
                p.add_(p.grad * scale)
        base.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        with torch.no_grad():
            for p, w in zip(params, old):
                p.copy_(w)
        base.step()
    return torch.cat([p.detach().reshape(-1) for p in params])


def sam_train(model, opt, x, y, steps):
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()

        def closure():
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            return loss

        opt.step(closure)
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def test_sam_steps_with_a_closure_as_pytorch_optimizers_sam(tmp_path):
    x, y = data(torch.float64)
    ref_model = mlp(torch.float64)
    expected = sam_reference(ref_model, x, y, rho=0.05, steps=10, lr=0.01, momentum=0.9)
    model = mlp(torch.float64)
    opt = gt.Sam(model.parameters(), inner="sgd(lr=0.01, momentum=0.9)", rho=0.05)
    got = sam_train(model, opt, x, y, 10)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)

    # Resuming mid-run: the inner SGD's momentum travels in the state dict.
    model = mlp(torch.float64)
    opt = gt.Sam(model.parameters(), inner="sgd(lr=0.01, momentum=0.9)", rho=0.05)
    sam_train(model, opt, x, y, 6)
    path = tmp_path / "sam.pt"
    torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, path)
    ckpt = torch.load(path, weights_only=True)
    model2 = mlp(torch.float64)
    model2.load_state_dict(ckpt["model"])
    opt2 = gt.Sam(model2.parameters(), inner="sgd(lr=0.01, momentum=0.9)", rho=0.05)
    opt2.load_state_dict(ckpt["opt"])
    assert torch.equal(sam_train(model2, opt2, x, y, 4), got)


def test_sam_needs_a_closure_and_the_gradient_first():
    model = mlp(torch.float64)
    opt = gt.Sam(model.parameters())
    with pytest.raises(ValueError, match="needs a closure"):
        opt.step()
    with pytest.raises(ValueError, match="call loss.backward"):
        opt.step(lambda: None)
