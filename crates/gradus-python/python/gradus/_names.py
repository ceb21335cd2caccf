"""Python class names of gradus' spec names.

Where torch has the algorithm, the class takes torch's name (``sgd`` -> ``SGD``,
``step`` -> ``StepLR``), so a torch user finds what they know; every other spec name
becomes CamelCase (``lion`` -> ``Lion``, ``schedule_free_adamw`` ->
``ScheduleFreeAdamW``), so an algorithm new to the core gets a class without an entry
here.
"""

TORCH_NAMES = {
    # torch.optim
    "sgd": "SGD",
    "adam": "Adam",
    "adamw": "AdamW",
    "adagrad": "Adagrad",
    "adadelta": "Adadelta",
    "adamax": "Adamax",
    "rmsprop": "RMSprop",
    "nadam": "NAdam",
    "radam": "RAdam",
    "lbfgs": "LBFGS",
    "asgd": "ASGD",
    "rprop": "Rprop",
    "sparse_adam": "SparseAdam",
    "muon": "Muon",
    # torch.optim.lr_scheduler
    "step": "StepLR",
    "multi_step": "MultiStepLR",
    "exponential": "ExponentialLR",
    "cosine_annealing": "CosineAnnealingLR",
    "cosine_annealing_warm_restarts": "CosineAnnealingWarmRestarts",
    "polynomial": "PolynomialLR",
    "linear": "LinearLR",
    "constant": "ConstantLR",
    "one_cycle": "OneCycleLR",
    "sequential": "SequentialLR",
    "reduce_on_plateau": "ReduceLROnPlateau",
    "cyclic": "CyclicLR",
    "lambda": "LambdaLR",
}


def class_name(spec_name: str) -> str:
    """The Python class name of the algorithm ``spec_name``."""
    if spec_name in TORCH_NAMES:
        return TORCH_NAMES[spec_name]
    words = [w.capitalize() for w in spec_name.split("_") if w]
    # AdamW-style names keep torch's capital W.
    return "".join(w[:-1] + "W" if w.startswith("Adam") and w.endswith("w") else w for w in words)
