"""The bad-input battery (see ``tests/badinput.py``) on the public names of the package.

Each public name has a valid call and a specification of its arguments; the battery
replaces one argument at a time by each bad value its kind generates, and every
call must end in an error that names the argument, or in a result that the
specification accepts by design.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from badinput import Arg, battery
from gradland import bench, calculus, functional, implicit, linalg, modes, plot, train

T = Arg("tensor")
BATCHED = Arg("tensor", accepts=("extra-dim",))  # a batch of any leading shape


def _f(x):
    return torch.stack([x[0] * x[1], torch.sin(x[0])])


def _linear_model():
    return torch.nn.Linear(3, 1, bias=False)


def _fit_call(loss, optimizer, steps, schedule=None, seed=None):
    return train.fit(loss, optimizer, steps, schedule=schedule, seed=seed)


def _fit_valid():
    w = torch.zeros(2, requires_grad=True)
    return {
        "loss": lambda k: (w**2).sum(),
        "optimizer": torch.optim.SGD([w], lr=0.1),
        "steps": 2,
        "schedule": None,
        "seed": None,
    }


SPECS = [
    # --- Chapter 1 -------------------------------------------------------------------
    (
        "linalg.matvec_columns",
        linalg.matvec_columns,
        lambda: {"A": torch.ones(3, 2), "x": torch.ones(2)},
        {"A": T, "x": T},
    ),
    ("linalg.matvec_rows", linalg.matvec_rows, lambda: {"A": torch.ones(3, 2), "x": torch.ones(2)}, {"A": T, "x": T}),
    (
        "linalg.linear",
        linalg.linear,
        lambda: {"x": torch.ones(4, 3), "weight": torch.ones(2, 3), "bias": torch.ones(2)},
        {
            "x": Arg("tensor", accepts=("extra-dim", "missing-dim")),
            "weight": T,
            "bias": Arg("tensor", accepts=("None",)),
        },
    ),
    (
        "linalg.conv1x1",
        linalg.conv1x1,
        lambda: {"x": torch.ones(2, 3, 5), "weight": torch.ones(4, 3), "bias": torch.ones(4)},
        {
            "x": Arg("tensor", accepts=("wrong-size",), mentions=("weight",)),
            "weight": T,
            "bias": Arg("tensor", accepts=("None",)),
        },
    ),
    (
        "linalg.stack",
        linalg.stack,
        lambda: {"x": torch.ones(4, 3), "h": torch.ones(4, 2)},
        {
            "x": Arg("tensor", accepts=("extra-dim", "missing-dim", "wrong-size"), mentions=("h",)),
            "h": Arg("tensor", accepts=("extra-dim", "missing-dim", "wrong-size"), mentions=("x",)),
        },
    ),
    (
        "linalg.concat",
        linalg.concat,
        lambda: {"W_x": torch.ones(2, 3), "W_h": torch.ones(2, 2)},
        {
            "W_x": Arg("tensor", accepts=("wrong-size",), mentions=("W_h",)),
            "W_h": Arg("tensor", accepts=("wrong-size",), mentions=("W_x",)),
        },
    ),
    # --- Chapter 2 -------------------------------------------------------------------
    (
        "calculus.jacobian_fd",
        calculus.jacobian_fd,
        lambda: {"f": _f, "x": torch.tensor([1.0, 2.0], dtype=torch.float64), "eps": 1e-6},
        {
            "f": Arg("callable"),
            "x": Arg("tensor", accepts=("wrong-size",), mentions=("f",), omit=("meta",)),
            "eps": Arg("real", positive=True),
        },
    ),
    (
        "calculus.gradient_descent",
        calculus.gradient_descent,
        lambda: {"f": lambda x: (x**2).sum(), "x0": torch.tensor([4.0, -2.0]), "lr": 0.5, "steps": 3},
        {
            "f": Arg("callable"),
            "x0": Arg("tensor", accepts=("wrong-size",), mentions=("f",), omit=("meta",)),
            "lr": Arg("real", positive=True),
            "steps": Arg("int", minimum=0),
        },
    ),
    # --- Chapter 3 -------------------------------------------------------------------
    (
        "modes.jacobian_forward",
        modes.jacobian_forward,
        lambda: {"f": _f, "x": torch.tensor([0.0, 2.0])},
        {"f": Arg("callable"), "x": Arg("tensor", accepts=("wrong-size", "meta"), mentions=("f",))},
    ),
    (
        "modes.jacobian_reverse",
        modes.jacobian_reverse,
        lambda: {"f": _f, "x": torch.tensor([0.0, 2.0])},
        {"f": Arg("callable"), "x": Arg("tensor", accepts=("wrong-size", "meta"), mentions=("f",))},
    ),
    (
        "modes.mlp_function",
        modes.mlp_function,
        lambda: {"n": 5, "m": 3, "d_hidden": 8, "layers": 2, "seed": 0},
        {
            "n": Arg("int", minimum=1),
            "m": Arg("int", minimum=1),
            "d_hidden": Arg("int", minimum=1),
            "layers": Arg("int", minimum=0),
            "seed": Arg("int", accepts=("below-minimum",)),
        },
    ),
    # --- Chapter 5 -------------------------------------------------------------------
    (
        "functional.per_example_grads_loop",
        functional.per_example_grads_loop,
        lambda: {
            "model": _linear_model(),
            "loss_fn": F.mse_loss,
            "x": torch.tensor([[1.0, 0, 0], [0, 2, 0]]),
            "y": torch.zeros(2, 1),
        },
        {
            "model": Arg("custom", custom={"None": None, "function": F.linear}),
            "loss_fn": Arg("callable"),
            "x": Arg("tensor", mentions=("model", "y")),
            "y": Arg("tensor", accepts=("int64", "bool"), mentions=("x",)),
        },
    ),
    (
        "functional.per_example_grads_vmap",
        functional.per_example_grads_vmap,
        lambda: {
            "model": _linear_model(),
            "loss_fn": F.mse_loss,
            "x": torch.tensor([[1.0, 0, 0], [0, 2, 0]]),
            "y": torch.zeros(2, 1),
        },
        {
            "model": Arg("custom", custom={"None": None, "function": F.linear}),
            "loss_fn": Arg("callable"),
            "x": Arg("tensor", mentions=("model", "y")),
            "y": Arg("tensor", accepts=("int64", "bool"), mentions=("x",)),
        },
    ),
    # --- Chapter 6 -------------------------------------------------------------------
    (
        "implicit.relative_residual",
        implicit.relative_residual,
        lambda: {"z": torch.tensor([[3.0, 4.0], [1.0, 0.0]]), "gz": torch.tensor([[3.0, 4.0], [1.1, 0.0]])},
        {"z": Arg("tensor", mentions=("gz",)), "gz": Arg("tensor", mentions=("z",))},
    ),
    (
        "implicit.fixed_point_iteration",
        implicit.fixed_point_iteration,
        lambda: {"g": torch.cos, "z0": torch.zeros(2, 3, dtype=torch.float64), "tol": 1e-8, "max_iter": 100},
        {
            "g": Arg("callable"),
            "z0": Arg("tensor", accepts=("extra-dim", "missing-dim", "wrong-size"), mentions=("g",), omit=("meta",)),
            "tol": Arg("real", positive=True),
            "max_iter": Arg("int", minimum=1),
        },
    ),
    (
        "implicit.anderson",
        implicit.anderson,
        lambda: {"g": torch.cos, "z0": torch.zeros(2, 3, dtype=torch.float64), "tol": 1e-8, "memory": 5},
        {
            "g": Arg("callable"),
            "z0": Arg("tensor", accepts=("extra-dim", "missing-dim", "wrong-size"), mentions=("g",), omit=("meta",)),
            "tol": Arg("real", positive=True),
            "memory": Arg("int", minimum=1),
        },
    ),
    (
        "implicit.TanhCell",
        implicit.TanhCell,
        lambda: {"d_x": 3, "d_z": 4, "spectral_norm": 0.5},
        {"d_x": Arg("int", minimum=1), "d_z": Arg("int", minimum=1), "spectral_norm": Arg("real", positive=True)},
    ),
    # --- shared machinery -------------------------------------------------------------
    (
        "bench.median_time",
        bench.median_time,
        lambda: {"fn": lambda: None, "repeat": 3, "number": 2, "warmup": 1},
        {
            "fn": Arg("callable"),
            "repeat": Arg("int", minimum=1),
            "number": Arg("int", minimum=1),
            "warmup": Arg("int", minimum=0),
        },
    ),
    ("bench.saved_bytes", bench.saved_bytes, lambda: {"fn": lambda: None}, {"fn": Arg("callable")}),
    (
        "bench.compare",
        bench.compare,
        lambda: {"ours": lambda: torch.ones(2), "theirs": lambda: torch.ones(2), "rounds": 1, "number": 1, "warmup": 0},
        {
            "ours": Arg("callable"),
            "theirs": Arg("callable"),
            "rounds": Arg("int", minimum=1),
            "number": Arg("int", minimum=1),
            "warmup": Arg("int", minimum=0),
        },
    ),
    (
        "plot.vec",
        plot.vec,
        lambda: {"name": "x"},
        {"name": Arg("custom", custom={"None": None, "list": ["x"], "brace": "{x", "dollar": "x$y"})},
    ),
    (
        "train.fit",
        _fit_call,
        _fit_valid,
        {
            "loss": Arg("callable"),
            "steps": Arg("int", minimum=0),
            "optimizer": Arg("custom", custom={"None": None, "str": "adam"}),
            "schedule": Arg("custom", custom={"float": 0.5}),
            "seed": Arg("int", accepts=("None", "below-minimum")),
        },
    ),
]

test_the_valid_call_works, test_bad_input_gets_a_clear_error = battery(SPECS)
