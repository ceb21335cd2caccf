"""gradus: gradient-based optimizers exact to torch.optim, for NumPy arrays.

::

    import numpy as np, gradus
    opt = gradus.Adam(lr=0.1)                  # or gradus.build("adam(lr=0.1)")
    w = np.array([3.0, -2.0])
    for _ in range(200):
        opt.step({"w": (w, 2 * w)})            # updates w in place
    sched = gradus.StepLR(opt, step_size=10)   # lr schedules drive opt.lr

One class per optimizer and schedule is generated from the core's list of
algorithms (``gradus.optimizers()``, ``gradus.schedules()``), with the spec's
keyword arguments and defaults. ``gradus.problems`` has the test functions and data
sets, ``gradus.run`` optimizes one and returns NumPy arrays, and ``gradus.torch``
(needs torch) has ``torch.optim.Optimizer`` subclasses.
"""

import inspect as _inspect
import json as _json

from . import _gradus
from ._gradus import Optimizer, Schedule, build, clip_grad_norm, clip_grad_value, run
from ._names import class_name
from . import problems

__all__ = [
    "Optimizer",
    "Schedule",
    "build",
    "run",
    "clip_grad_norm",
    "clip_grad_value",
    "optimizers",
    "schedules",
    "problems",
]


_CATALOG = _json.loads(_gradus.catalog_json())


def optimizers():
    """Every optimizer that steps named arrays: a list of dicts with ``name``,
    ``summary``, ``kind`` and ``params``, the hyperparameter table in positional order
    (each with ``name``, ``kind``, ``default``, ``required``, ``range``, ``doc``, ...),
    read from the core's catalog."""
    kinds = _gradus.steppable_kinds()
    return [a for a in _CATALOG["optimizers"] if a["kind"] in kinds]


def schedules():
    """Every schedule, as :func:`optimizers` lists optimizers."""
    return list(_CATALOG["schedules"])


def _default(value):
    # The catalog gives pairs as lists; the spec language reads tuples for them.
    return tuple(value) if isinstance(value, list) else value


def _doc(algorithm, call):
    lines = [f"{algorithm['summary']}", "", f"Spec: ``{call}``."]
    for p in algorithm["params"]:
        doc = p.get("doc", "")
        extra = f" ({p['range']})" if p.get("range") else ""
        lines.append(f"  {p['name']} = {p['default']!r}: {doc}{extra}".rstrip(": "))
    return "\n".join(lines)


def _optimizer_class(algorithm):
    spec_name = algorithm["name"]
    P = _inspect.Parameter
    hyper = [
        P(p["name"], P.POSITIONAL_OR_KEYWORD, default=P.empty if p.get("required") else _default(p["default"]))
        for p in algorithm["params"]
    ]
    extra = [P("dtype", P.KEYWORD_ONLY, default=None), P("nonfinite", P.KEYWORD_ONLY, default="error")]
    signature = _inspect.Signature(hyper + extra)

    def __new__(cls, *args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        given = dict(bound.arguments)
        dtype = given.pop("dtype", None)
        nonfinite = given.pop("nonfinite", "error")
        return Optimizer.__new__(cls, spec_name, given, dtype=dtype, nonfinite=nonfinite)

    name = class_name(spec_name)
    cls = type(name, (Optimizer,), {"__new__": __new__, "__module__": __name__, "spec_name": spec_name})
    cls.__doc__ = _doc(algorithm, f"{spec_name}(...)")
    cls.__signature__ = signature
    return name, cls


def _schedule_class(algorithm):
    spec_name = algorithm["name"]
    P = _inspect.Parameter
    params = [P("optimizer", P.POSITIONAL_OR_KEYWORD)]
    for p in algorithm["params"]:
        default = P.empty if p.get("required") else _default(p["default"])
        params.append(P(p["name"], P.POSITIONAL_OR_KEYWORD, default=default))
    if not algorithm["params"]:
        params.append(P("kwargs", P.VAR_KEYWORD))
    signature = _inspect.Signature(params)

    def __new__(cls, *args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        given = dict(bound.arguments)
        optimizer = given.pop("optimizer")
        given.update(given.pop("kwargs", {}))
        return Schedule.__new__(cls, spec_name, optimizer, given)

    name = class_name(spec_name)
    cls = type(name, (Schedule,), {"__new__": __new__, "__module__": __name__, "spec_name": spec_name})
    cls.__doc__ = _doc(algorithm, f"{spec_name}(...)")
    cls.__signature__ = signature
    return name, cls


for _algorithm in optimizers():
    _name, _cls = _optimizer_class(_algorithm)
    globals()[_name] = _cls
    __all__.append(_name)
for _algorithm in schedules():
    _name, _cls = _schedule_class(_algorithm)
    globals()[_name] = _cls
    __all__.append(_name)
del _algorithm, _name, _cls
