"""The problems of gradus: analytic test functions (Rosenbrock, Beale, ...), linear
regression on Boston housing and classifiers on the 8x8 digits, each with its
gradient written out in Rust.

``gradus.problems.rosenbrock(dim=2)`` builds one; ``names()`` lists them all. A
problem gives ``start()``, ``value(x)``, ``gradient(x) -> (loss, grad)``,
``tensors()`` (the named tensors its parameter vector is cut into) and, for data
problems, ``test_loss(x)``. Pass it to ``gradus.run``.
"""

from ._gradus import Problem, problem_names

__all__ = ["Problem", "names"]


def names():
    """Every problem as ``(name, description)``."""
    return problem_names()


def _factory(name, description):
    def make(*, dim=None, seed=0, hidden=None, test_fraction=0.2, dtype="float64"):
        return Problem(name, dim=dim, seed=seed, hidden=hidden, test_fraction=test_fraction, dtype=dtype)

    make.__name__ = make.__qualname__ = name.replace("-", "_")
    make.__doc__ = f"{description}\n\nSame as ``Problem({name!r}, ...)``."
    return make


for _name, _description in problem_names():
    globals()[_name.replace("-", "_")] = _factory(_name, _description)
    __all__.append(_name.replace("-", "_"))
del _name, _description
