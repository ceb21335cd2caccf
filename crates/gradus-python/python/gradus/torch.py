"""gradus optimizers as ``torch.optim.Optimizer`` subclasses.

::

    import gradus.torch
    opt = gradus.torch.Adam(model.parameters(), lr=1e-3)   # torch's signature
    sched = torch.optim.lr_scheduler.StepLR(opt, 10)       # torch's schedulers work
    loss.backward(); opt.step(); opt.zero_grad()

Where torch has the algorithm the class has torch's name and constructor signature
(read from ``torch.optim`` itself); the others (``Lion``, ...) are CamelCase. The
classes are generated from the core's optimizer list, so an optimizer new to the core
appears here too.

CPU tensors are stepped in place through zero-copy views of their memory (the GIL is
released during the step); CUDA, sparse or non-contiguous tensors raise a clear error.
Hyperparameters live in ``param_groups`` as in torch: change ``group["lr"]`` (as
torch's lr schedulers do) or any other key and the next step uses it.

The state lives in Rust. ``opt.state[p]`` gives a copy in torch's layout (``step``
and the buffers, named as torch names them, shaped like ``p``); assigning
``opt.state[p] = {...}`` (as ``ZeroRedundancyOptimizer`` does) or
``load_state_dict`` loads it before the next step. ``state_dict()`` has torch's
format, so checkpoints, ``ZeroRedundancyOptimizer`` and ``torch.save`` work as with
torch's optimizers. State that belongs to no single parameter (Prodigy's ``d``,
Lookahead's step counter, the states of the optimizers ``Lookahead``, ``Partition`` and
``Sam`` wrap, the count of skipped steps) goes into each param group of the state dict
under the key ``"gradus"``, per dtype, as plain values and tensors (so
``torch.load(weights_only=True)`` reads it); resuming from it equals an uninterrupted
run.

Non-finite gradients: by default the update is applied as torch applies it
(``nonfinite="propagate"``); ``nonfinite="error"`` refuses the step with a
``ValueError`` naming the tensor, ``"skip"`` leaves everything unchanged.
"""

import collections.abc as _abc
import inspect as _inspect

import numpy as _np
import torch as _torch

from . import _gradus
from . import optimizers as _optimizers
from ._names import class_name as _class_name

__all__ = ["GradusOptimizer", "ClosureOptimizer", "SecondOrderOptimizer", "SamOptimizer"]

# torch's implementation switches: accepted and ignored (gradus has one CPU kernel).
_IGNORED = {"foreach": None, "fused": None}
# torch options gradus cannot honour: refused unless left at torch's default.
_REFUSED = {"capturable": False, "differentiable": False}


def _plain(value):
    """A hyperparameter as a plain Python value (tensor lrs and betas become floats)."""
    if isinstance(value, _torch.Tensor):
        return value.item()
    if isinstance(value, (tuple, list)):
        return tuple(_plain(v) for v in value)
    return value


def _dtype_name(dtype):
    return "float32" if dtype is _torch.float32 else "float64"


_DTYPES = {"float32": _torch.float32, "float64": _torch.float64}


def _as_tensors(value):
    """``value`` with every NumPy array made a torch tensor (which ``torch.load(...,
    weights_only=True)`` reads, unlike arrays)."""
    if isinstance(value, dict):
        return {k: _as_tensors(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_tensors(v) for v in value]
    if isinstance(value, _np.ndarray):
        return _torch.from_numpy(value)
    return value


def _as_arrays(value, dtype):
    """The inverse of :func:`_as_tensors`: tensors become NumPy arrays of ``dtype``."""
    if isinstance(value, dict):
        return {k: _as_arrays(v, dtype) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_arrays(v, dtype) for v in value]
    if isinstance(value, _torch.Tensor):
        return value.detach().to(device="cpu", dtype=dtype).contiguous().numpy()
    return value


class _State(_abc.MutableMapping):
    """``optimizer.state``: torch's per-parameter state, read from and written to the
    Rust optimizers (reads are copies; writes are loaded before the next step)."""

    def __init__(self, optimizer):
        self._opt = optimizer

    def __getitem__(self, param):
        opt = self._opt
        if param in opt._pending:
            return opt._pending[param]
        return opt._export_one(param)

    def __setitem__(self, param, value):
        self._opt._pending[param] = value

    def __delitem__(self, param):
        raise TypeError("gradus.torch: state entries cannot be deleted; load a state_dict instead")

    def __iter__(self):
        return iter(self._opt._params_with_state())

    def __len__(self):
        return len(self._opt._params_with_state())

    def __contains__(self, param):
        return any(param is p for p in self._opt._params_with_state())


class GradusOptimizer(_torch.optim.Optimizer):
    """The base of every ``gradus.torch`` optimizer (see the module docs)."""

    spec_name = None  # set by each generated class
    _keys = ()  # the gradus hyperparameter keys, in positional order
    # Whether the rule works on whole tensors (its buffers have shapes of their own).
    _per_tensor = False
    # Whether gradients may be sparse (SparseAdam: nn.Embedding(sparse=True)); they are
    # then made dense for the step, whose rows that are zero everywhere stay untouched.
    _sparse_grads = False

    def __init__(self, params, defaults, nonfinite="propagate"):
        self._nonfinite = nonfinite
        self._natives = {}  # (group index, torch dtype) -> (gradus.Optimizer, last hyperparameters)
        self._pending = {}  # param -> torch-format state waiting to be loaded
        self._pending_extras = {}  # (group index, dtype name) -> optimizer-wide state waiting
        self._dtype_mix = {}  # group index -> ((id, len) of its params list, mixed?)
        # Check the policy name before any work.
        _gradus.build(self.spec_name, nonfinite=nonfinite)
        super().__init__(params, defaults)
        self.state = _State(self)

    # -- hyperparameters -------------------------------------------------------------

    def _hyper(self, group):
        return {k: _plain(group[k]) for k in self._keys}

    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for key, default in _REFUSED.items():
            if group.get(key, default) != default:
                raise ValueError(f"gradus.torch.{type(self).__name__} does not support {key}={group[key]!r}")
        for p in group["params"]:
            if p.dtype not in (_torch.float32, _torch.float64):
                raise TypeError(f"gradus.torch steps float32 and float64 parameters, not {p.dtype}")
        # Validate the hyperparameters now, so a bad one fails where it was given.
        _gradus.Optimizer(self.spec_name, self._hyper(group))

    def _native(self, index, group, dtype):
        """The Rust optimizer of group ``index`` for ``dtype``, brought up to date with
        the group's hyperparameters."""
        hyper = self._hyper(group)
        entry = self._natives.get((index, dtype))
        if entry is None:
            native = _gradus.Optimizer(self.spec_name, hyper, dtype=_dtype_name(dtype), nonfinite=self._nonfinite)
            self._natives[(index, dtype)] = (native, hyper)
            return native
        native, last = entry
        if hyper != last:
            changed = {k: v for k, v in hyper.items() if v != last[k]}
            if set(changed) == {"lr"}:
                native.lr = changed["lr"]
            else:
                native.reconfigure(**changed)
            self._natives[(index, dtype)] = (native, hyper)
        return native

    # -- the step ----------------------------------------------------------------------

    @_torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient (as torch.optim)."""
        loss = None
        if closure is not None:
            with _torch.enable_grad():
                loss = closure()
        if self._pending or self._pending_extras:
            self._load_pending()
        strided = _torch.strided
        for index, group in enumerate(self.param_groups):
            params = group["params"]
            if not params:
                continue
            if not self._sparse_grads and not self._mixed(index, params):
                # One dtype: the Rust side reads the gradients and remembers the tensors.
                dtype = params[0].dtype
                _gradus.step_group(self._native(index, group, dtype), params, dtype, strided)
                continue
            keys = [i for i, p in enumerate(params) if p.grad is not None]
            if not keys:
                continue
            ps = [params[i] for i in keys]
            gs = [p.grad for p in ps]
            if self._sparse_grads:
                gs = [g if g.layout is strided else g.to_dense() for g in gs]
            dtype = ps[0].dtype
            if all(p.dtype is dtype for p in ps):
                _gradus.step_tensors(self._native(index, group, dtype), keys, ps, gs, dtype, strided)
                continue
            for d in (_torch.float32, _torch.float64):
                sel = [j for j, p in enumerate(ps) if p.dtype is d]
                if sel:
                    _gradus.step_tensors(
                        self._native(index, group, d),
                        [keys[j] for j in sel],
                        [ps[j] for j in sel],
                        [gs[j] for j in sel],
                        d,
                        strided,
                    )
        return loss

    def _mixed(self, index, params):
        """Whether group ``index`` mixes float32 and float64 parameters (cached while
        its parameter list is the same list of the same length)."""
        key = (id(params), len(params))
        known = self._dtype_mix.get(index)
        if known is None or known[0] != key:
            known = (key, len({p.dtype for p in params}) > 1)
            self._dtype_mix[index] = known
        return known[1]

    # -- state ---------------------------------------------------------------------------

    def _where(self, param):
        for gi, group in enumerate(self.param_groups):
            for i, p in enumerate(group["params"]):
                if p is param:
                    return gi, i
        raise KeyError("this tensor is not a parameter of the optimizer")

    def _exported(self):
        """torch-format state of every parameter stepped so far: {param: dict}."""
        out = {}
        for (gi, dtype), (native, _) in self._natives.items():
            params = self.param_groups[gi]["params"]
            for name, step, slots, scalars in _gradus.tensor_states(native):
                p = params[int(name)]
                entry = {"step": _torch.tensor(float(step))}
                for slot, values in slots.items():
                    tensor = _torch.from_numpy(values)
                    # An element-wise rule's buffers come flat and take the parameter's
                    # shape; a per-tensor rule's come in their own shapes (Adafactor's
                    # row and column moments, Prodigy's flat p0), which loading needs.
                    if not self._per_tensor and tensor.numel() == p.numel():
                        tensor = tensor.view_as(p)
                    entry[slot] = tensor
                if scalars:
                    entry["scalars"] = list(scalars)
                out[p] = entry
        return out

    def _export_one(self, param):
        return self._exported().get(param, {})

    def _params_with_state(self):
        exported = self._exported()
        return list(exported) + [p for p in self._pending if p not in exported]

    def _load_pending(self):
        batches = {}
        for param, entry in self._pending.items():
            gi, i = self._where(param)
            dtype = param.dtype
            if "step" not in entry:
                raise ValueError(f"the state of parameter {i} of group {gi} has no 'step'")
            # A per-tensor rule checks each buffer's shape; the others take them flat.
            shaped = (lambda v: v.contiguous()) if self._per_tensor else (lambda v: v.reshape(-1))
            slots = {
                k: shaped(v.detach().to(device="cpu", dtype=dtype)).numpy()
                for k, v in entry.items()
                if isinstance(v, _torch.Tensor) and k != "step"
            }
            scalars = [float(s) for s in entry.get("scalars", [])]
            batches.setdefault((gi, dtype), []).append((str(i), int(round(float(entry["step"]))), slots, scalars))
        for gi, name in self._pending_extras:
            if gi >= len(self.param_groups) or name not in _DTYPES:
                raise ValueError(f"the state dict's 'gradus' state of group {gi} for {name!r} matches no group and dtype")
            batches.setdefault((gi, _DTYPES[name]), [])
        for (gi, dtype), states in batches.items():
            native = self._native(gi, self.param_groups[gi], dtype)
            extras = self._pending_extras.get((gi, _dtype_name(dtype)))
            if extras is not None:
                extras = _as_arrays(extras, dtype)
            _gradus.load_tensor_states(native, _dtype_name(dtype), states, extras=extras)
        self._pending = {}
        self._pending_extras = {}

    def _extras(self):
        """The optimizer-wide state, ``{(group index, dtype name): {...}}`` with tensors
        for arrays: what is waiting to be loaded, then what the optimizers hold."""
        out = dict(self._pending_extras)
        for (gi, dtype), (native, _) in self._natives.items():
            extras = _gradus.optimizer_extras(native)
            if extras is not None:
                out[(gi, _dtype_name(dtype))] = _as_tensors(extras)
        return out

    def _with_extras(self, groups):
        """Copies of ``groups`` (packed param groups) carrying the optimizer-wide state."""
        groups = [dict(g) for g in groups]
        for (gi, name), extras in self._extras().items():
            groups[gi].setdefault("gradus", {})[name] = extras
        return groups

    def state_dict(self):
        """torch's ``state_dict()``: ``{"state": {index: {...}}, "param_groups": [...]}``,
        with the state in torch's layout (copies)."""
        live = self.state
        state = self._exported()
        state.update(self._pending)
        self.state = state
        try:
            out = super().state_dict()
        finally:
            self.state = live
        out["param_groups"] = self._with_extras(out["param_groups"])
        return out

    def __setstate__(self, state):
        # Reached from load_state_dict (and unpickling): the loaded state replaces all
        # of it, and is handed to the Rust optimizers before the next step.
        loaded = state.pop("state", {})
        super().__setstate__(state)
        self._natives = {}
        self._dtype_mix = {}
        self._pending = {p: v for p, v in loaded.items() if isinstance(p, _torch.Tensor) and len(v) > 0}
        self._pending_extras = {}
        for gi, group in enumerate(self.param_groups):
            for name, extras in (group.pop("gradus", None) or {}).items():
                self._pending_extras[(gi, name)] = extras
        self.state = _State(self)

    def __getstate__(self):
        state = super().__getstate__()
        state["state"] = dict(self.state.items())
        state["param_groups"] = self._with_extras(state["param_groups"])
        return state


def _array(p):
    """The memory of parameter ``p`` as a NumPy array (zero-copy)."""
    if not p.is_cpu:
        raise ValueError(f"a parameter is on {p.device}; gradus.torch steps CPU tensors only")
    if p.layout is not _torch.strided or not p.is_contiguous():
        raise ValueError("a parameter is not a dense contiguous tensor; gradus.torch steps those only")
    return p.detach().numpy()


def _flat_grad(p, g):
    """Gradient ``g`` of ``p`` as a flat NumPy array (zeros for ``None``, dense for sparse)."""
    if g is None:
        return _torch.zeros(p.numel(), dtype=p.dtype).numpy()
    if g.layout is not _torch.strided:
        g = g.to_dense()
    return g.detach().reshape(-1).numpy()


class ClosureOptimizer(GradusOptimizer):
    """The base of the ``gradus.torch`` optimizers that re-evaluate the loss
    (``LBFGS``): ``step(closure)`` is required, one parameter group, and the state is
    global, kept (as torch keeps it) under the first parameter."""

    def add_param_group(self, param_group):
        if self.param_groups:
            raise ValueError(f"{type(self).__name__} doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)
        group = self.param_groups[0]
        if group.get("max_eval", 0) is None:
            # As torch.optim.LBFGS stores it, so its state dicts load into torch's.
            group["max_eval"] = group["max_iter"] * 5 // 4
        dtypes = {p.dtype for p in group["params"]}
        if len(dtypes) > 1:
            raise TypeError(f"{type(self).__name__} keeps one state for all parameters: they must share one dtype")

    def _begin(self, closure):
        if closure is None:
            raise ValueError(f"{type(self).__name__}.step needs a closure that re-evaluates the model and returns the loss")
        if self._pending or self._pending_extras:
            self._load_pending()
        params = self.param_groups[0]["params"]
        native = self._native(0, self.param_groups[0], params[0].dtype) if params else None
        return params, native

    @_torch.no_grad()
    def step(self, closure=None):
        """One torch ``step(closure)``: the closure is called as often as the
        algorithm needs (with gradients enabled); returns its first loss."""
        params, native = self._begin(closure)
        if not params:
            with _torch.enable_grad():
                return closure()
        first = []

        def evaluate():
            with _torch.enable_grad():
                loss = closure()
            if not first:
                first.append(loss)
            return float(loss), [_flat_grad(p, p.grad) for p in params]

        native.step({str(i): _array(p) for i, p in enumerate(params)}, evaluate)
        return first[0] if first else None

    # The global state as torch's LBFGS keeps it under the first parameter.
    def _exported(self):
        params = self.param_groups[0]["params"] if self.param_groups else []
        entry = None
        for (_, _dtype), (native, _) in self._natives.items():
            states = _gradus.tensor_states(native)
            if states:
                entry = self._to_torch(states, params[0])
        return {params[0]: entry} if entry else {}

    def _load_pending(self):
        params = self.param_groups[0]["params"]
        for param, entry in self._pending.items():
            if param is not params[0]:
                raise ValueError(f"{type(self).__name__} keeps its state under the first parameter only")
            native = self._native(0, self.param_groups[0], param.dtype)
            _gradus.load_tensor_states(native, _dtype_name(param.dtype), self._from_torch(entry, param), replace=True)
        self._pending = {}
        GradusOptimizer._load_pending(self)  # the optimizer-wide state, if any

    def _to_torch(self, states, p0):
        (_, n_iter, slots, scalars), history = states[0], states[1:]
        func_evals, t, h_diag, prev_loss, _ = scalars
        like = dict(dtype=p0.dtype)
        return {
            "func_evals": int(func_evals),
            "n_iter": int(n_iter),
            "d": _torch.from_numpy(slots["a"]),
            "t": t,
            "old_dirs": [_torch.from_numpy(h[2]["a"]) for h in history],
            "old_stps": [_torch.from_numpy(h[2]["b"]) for h in history],
            "ro": [_torch.tensor(h[3][0], **like) for h in history],
            "H_diag": _torch.tensor(h_diag, **like),
            "prev_flat_grad": _torch.from_numpy(slots["b"]),
            "prev_loss": prev_loss,
        }

    def _from_torch(self, entry, p0):
        def arr(v):
            return v.detach().to(device="cpu", dtype=p0.dtype).reshape(-1).numpy()

        if "d" not in entry:
            return []
        scalars = [
            float(entry["func_evals"]),
            float(entry["t"]),
            float(entry["H_diag"]),
            float(entry["prev_loss"]),
            float(len(self.param_groups[0]["params"])),
        ]
        states = [(str(0), int(entry["n_iter"]), {"a": arr(entry["d"]), "b": arr(entry["prev_flat_grad"])}, scalars)]
        for i, (y, s, ro) in enumerate(zip(entry["old_dirs"], entry["old_stps"], entry["ro"])):
            states.append((f"history/{i}", 0, {"a": arr(y), "b": arr(s)}, [float(ro)]))
        return states


class SecondOrderOptimizer(ClosureOptimizer):
    """The base of the ``gradus.torch`` optimizers that need the Hessian (``Newton``).

    ``step(closure)``: the closure returns the loss and either leaves it
    undifferentiated or calls ``loss.backward(create_graph=True)``; the optimizer
    differentiates the gradient once more (one backward pass per parameter element,
    so this is for small models). ``step(closure, hessian=h)`` takes the Hessian of all
    parameters flattened in order from ``h()`` instead, as a tensor or array
    (``torch.autograd.functional.hessian`` gives one)."""

    @_torch.no_grad()
    def step(self, closure=None, hessian=None):
        params, native = self._begin(closure)
        if not params:
            with _torch.enable_grad():
                return closure()
        with _torch.enable_grad():
            loss = closure()
            grads = [p.grad for p in params]
            if hessian is None and not all(g is not None and g.requires_grad for g in grads):
                if not (isinstance(loss, _torch.Tensor) and loss.requires_grad):
                    raise ValueError(
                        f"{type(self).__name__} differentiates the gradient: the closure must return the loss "
                        "tensor, and call loss.backward(create_graph=True) or not call backward at all"
                    )
                try:
                    grads = list(_torch.autograd.grad(loss, params, create_graph=True, allow_unused=True))
                except RuntimeError as e:
                    raise ValueError(
                        f"{type(self).__name__} differentiates the gradient: call loss.backward(create_graph=True) "
                        "in the closure (a plain backward() frees the graph), or do not call backward at all"
                    ) from e
            grads = [g if g is not None else _torch.zeros_like(p) for g, p in zip(grads, params)]
            if hessian is None:
                matrix = self._hessian(grads, params)
            else:
                matrix = hessian()
        if isinstance(matrix, _torch.Tensor):
            matrix = matrix.detach().to(device="cpu", dtype=params[0].dtype).contiguous().numpy()
        pairs = {str(i): (_array(p), g.detach().reshape(p.shape).contiguous().numpy()) for i, (p, g) in enumerate(zip(params, grads))}
        native.step(pairs, hessian=lambda: matrix)
        return loss

    @staticmethod
    def _hessian(grads, params):
        flat = _torch.cat([g.reshape(-1) for g in grads])
        n = flat.numel()
        if not flat.requires_grad:
            return _torch.zeros(n, n, dtype=flat.dtype)
        rows = []
        for i in range(n):
            row = _torch.autograd.grad(flat[i], params, retain_graph=True, allow_unused=True)
            rows.append(_torch.cat([(r if r is not None else _torch.zeros_like(p)).reshape(-1) for r, p in zip(row, params)]))
        return _torch.stack(rows)

    def _to_torch(self, states, p0):
        return {"step": _torch.tensor(float(states[0][1]))}

    def _from_torch(self, entry, p0):
        return [("newton", int(round(float(entry["step"]))), {}, [])]


class SamOptimizer(ClosureOptimizer):
    """The base of ``gradus.torch.Sam``: sharpness-aware minimization around an inner
    optimizer, stepped as pytorch-optimizer's ``SAM.step(closure)``.

    ::

        loss = loss_fn(model(x), y); loss.backward()   # the gradient at w, in .grad
        opt.step(lambda: (opt.zero_grad(), loss_fn(model(x), y).backward()))

    The gradients at the current weights must already be in ``.grad``; the closure
    re-evaluates them at the perturbed weights (zero_grad, forward, backward) and may
    return the loss, which ``step`` returns. One parameter group of one dtype (the
    perturbation spans all parameters at once). The inner optimizer's state is
    optimizer-wide: it is in the state dict under each group's ``"gradus"`` key, and
    ``opt.state[p]`` is empty."""

    _exported = GradusOptimizer._exported
    _load_pending = GradusOptimizer._load_pending

    @_torch.no_grad()
    def step(self, closure=None):
        params, native = self._begin(closure)
        if not params:
            with _torch.enable_grad():
                return closure()
        if all(p.grad is None for p in params):
            raise ValueError(
                f"{type(self).__name__}.step(closure) takes the gradient at the current weights from .grad: "
                "call loss.backward() before step() (as pytorch-optimizer's SAM)"
            )
        pairs = {}
        for i, p in enumerate(params):
            g = p.grad if p.grad is not None else _torch.zeros_like(p)
            if g.layout is not _torch.strided:
                g = g.to_dense()
            pairs[str(i)] = (_array(p), g.detach().reshape(p.shape).contiguous().numpy())
        losses = []

        def evaluate():
            with _torch.enable_grad():
                loss = closure()
            losses.append(loss)
            return (float(loss) if loss is not None else 0.0), [_flat_grad(p, p.grad) for p in params]

        native.step(pairs, evaluate)
        return losses[0] if losses else None


# The algorithms that need the Hessian as well as the loss.
_SECOND_ORDER = {"newton"}
# The combinators that evaluate the gradient again at other weights.
_SAM = {"sam"}


def _torch_signature(name):
    cls = getattr(_torch.optim, name, None)
    if cls is None or not (isinstance(cls, type) and issubclass(cls, _torch.optim.Optimizer)):
        return None
    return _inspect.signature(cls.__init__)


def _optimizer_class(algorithm):
    spec_name = algorithm["name"]
    name = _class_name(spec_name)
    keys = [p["name"] for p in algorithm["params"]]
    P = _inspect.Parameter
    torch_sig = _torch_signature(name)
    if torch_sig is not None:
        params = [p for n, p in torch_sig.parameters.items() if n != "self"]
        # Keys gradus has and torch's signature lacks are keyword-only extras.
        known = {p.name for p in params}
        defaults = {p["name"]: p["default"] for p in algorithm["params"]}
        extras = [P(k, P.KEYWORD_ONLY, default=_default(defaults[k])) for k in keys if k not in known]
        torch_only = {p.name: p.default for p in params if p.name != "params" and p.name not in keys}
    else:
        params = [P("params", P.POSITIONAL_OR_KEYWORD)] + [
            P(p["name"], P.POSITIONAL_OR_KEYWORD, default=_default(p["default"])) for p in algorithm["params"]
        ]
        extras = []
        torch_only = {}
    extras.append(P("nonfinite", P.KEYWORD_ONLY, default="propagate"))
    # Keyword-only parameters must follow the positional ones.
    positional = [p for p in params if p.kind in (P.POSITIONAL_OR_KEYWORD, P.POSITIONAL_ONLY)]
    keyword = [p for p in params if p.kind == P.KEYWORD_ONLY]
    signature = _inspect.Signature(positional + keyword + extras)

    def __init__(self, *args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        given = dict(bound.arguments)
        params_arg = given.pop("params")
        nonfinite = given.pop("nonfinite")
        for key, default in torch_only.items():
            value = given[key]
            if key in _IGNORED:
                continue
            if key in _REFUSED or value != default:
                if value != default:
                    raise ValueError(f"gradus.torch.{name} does not support {key}={value!r} (torch's option)")
        GradusOptimizer.__init__(self, params_arg, given, nonfinite=nonfinite)

    doc = f"{algorithm['summary']}\n\ngradus' ``{spec_name}`` as a torch.optim.Optimizer (see gradus.torch)."
    base = GradusOptimizer
    if algorithm["kind"] == "closure":
        base = SecondOrderOptimizer if spec_name in _SECOND_ORDER else ClosureOptimizer
    elif spec_name in _SAM:
        base = SamOptimizer
    cls = type(
        name,
        (base,),
        {
            "__init__": __init__,
            "__module__": __name__,
            "__doc__": doc,
            "spec_name": spec_name,
            "_keys": tuple(keys),
            "_sparse_grads": spec_name == "sparse_adam",
            "_per_tensor": algorithm["kind"] == "tensor",
        },
    )
    cls.__signature__ = signature
    return name, cls


def _default(value):
    return tuple(value) if isinstance(value, list) else value


for _algorithm in _optimizers():
    _name, _cls = _optimizer_class(_algorithm)
    globals()[_name] = _cls
    __all__.append(_name)
del _algorithm, _name, _cls
