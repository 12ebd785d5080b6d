"""Tests of gradland._checks: the input checks that the modules share.

The modules' own tests trigger every message through the public functions; these
check the rules of the helpers themselves: the error type (TypeError for types and
dtypes, ValueError for values, shapes and devices), a message that names the
argument and says what came in, and metadata only where that is promised.
"""

import math

import numpy as np
import pytest
import torch
from gradland import _checks
from torch import nn


def test_numbers_are_returned_as_python_numbers():
    assert type(_checks.integer("n", np.int64(3))) is int
    assert type(_checks.real("lr", np.float32(0.5))) is float
    assert _checks.sizes(a=1, b=np.int32(2)) == [1, 2]
    assert _checks.integers("steps", range(3), minimum=0, maximum=2) == [0, 1, 2]
    assert _checks.betas("betas", [0.0, 0.5]) == (0.0, 0.5)
    assert _checks.inverse_temperature("beta", torch.tensor(2.0)) == 2.0
    assert _checks.inverse_temperature("beta", math.inf) == math.inf


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: _checks.integer("n", True), TypeError, "n must be an int; got bool"),
        (lambda: _checks.integer("n", 5, maximum=4), ValueError, "n must be at most 4; got 5"),
        (
            lambda: _checks.integer("d_model", 5, even="for the codes"),
            ValueError,
            "d_model must be even, for the codes; got 5",
        ),
        (
            lambda: _checks.argnums("grad", (0, True)),
            TypeError,
            r"grad: argnums must be an int or a tuple of ints; got \(0, True\)",
        ),
        (
            lambda: _checks.argnums("grad", 2, 2),
            ValueError,
            "grad: argnums must pick arguments among the 2 given; got 2",
        ),
        (lambda: _checks.factory("cpu", torch.int64), TypeError, "dtype must be a floating-point torch.dtype or None"),
        (lambda: _checks.size_of("d_y", None, "encoder", nn.ReLU()), ValueError, "cannot read d_y from the encoder"),
        (
            lambda: _checks.size_of("d_y", 3, "encoder", nn.Linear(2, 1)),
            ValueError,
            "d_y = 3 disagrees with the encoder, whose first nn.Linear takes 2",
        ),
        (
            lambda: _checks.batch(nn.Linear(2, 1), nn.functional.mse_loss, torch.ones(3, 2), torch.ones(2, 1)),
            ValueError,
            "x and y must hold the same number of examples",
        ),
        (lambda: _checks.sizes(d=2, k=0), ValueError, "k must be at least 1; got 0"),
        (lambda: _checks.integers("sizes", "12"), TypeError, "sizes must be a sequence of ints; got str"),
        (lambda: _checks.integers("sizes", [1], count=2), ValueError, r"sizes must hold at least 2 ints; got \[1\]"),
        (lambda: _checks.integers("sizes", [1, 2.0]), TypeError, r"sizes\[1\] must be an int; got float"),
        (lambda: _checks.inverse_temperature("beta", math.nan), ValueError, "beta must be a positive inverse"),
        (lambda: _checks.inverse_temperature("beta", torch.ones(2)), ValueError, "beta must be a single number"),
        (lambda: _checks.betas("betas", 0.9), TypeError, "betas must be a pair of numbers"),
        (lambda: _checks.betas("betas", (0.9,)), ValueError, "got 1 of them"),
        (lambda: _checks.betas("betas", (0.9, 1.0)), ValueError, r"betas\[1\] must be below 1.0"),
        (lambda: _checks.choice("kind", 1, (True, "a")), ValueError, r"kind must be one of \(True, 'a'\); got 1"),
        (lambda: _checks.function("f", 3, "a function of x"), TypeError, "f must be a function of x; got int"),
        (
            lambda: _checks.instance("rnn", nn.RNN(1, 1), nn.Linear),
            TypeError,
            "rnn must be a torch.nn.modules.linear.Linear; got RNN",
        ),
        (lambda: _checks.module("model", lambda x: x), TypeError, "model must be a torch.nn.Module; got function"),
        (
            lambda: _checks.rowwise("net", nn.Sequential(nn.BatchNorm1d(2))),
            ValueError,
            r"net must treat the rows of a batch independently, but net.0 is a BatchNorm1d",
        ),
        (lambda: _checks.generator("generator", 0), TypeError, "generator must be a torch.Generator or None"),
        (lambda: _checks.dtype("dtype", torch.int64), TypeError, "dtype must be a floating-point torch.dtype or None"),
        (
            lambda: _checks.dtype("dtype", None, optional=False),
            TypeError,
            "dtype must be a floating-point torch.dtype; got None",
        ),
        (lambda: _checks.keys("params", {"a": 1}, ["b"]), KeyError, r"missing \['b'\], unexpected \['a'\]"),
    ],
)
def test_numbers_options_and_objects_fail_with_the_right_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: _checks.tensor("x", [1.0], shape="(n,)"),
            TypeError,
            r"x must be a torch.Tensor of shape \(n,\); got list",
        ),
        (
            lambda: _checks.tensor("x", torch.ones(2, dtype=torch.int64), floating=True),
            TypeError,
            "x must have a floating-point dtype; got torch.int64",
        ),
        (
            lambda: _checks.tensor("x", torch.ones(2, 3), size=2, shape="(..., 2)"),
            ValueError,
            r"x must have shape \(\.\.\., 2\); got shape \(2, 3\)",
        ),
        (
            lambda: _checks.tensor("h0", torch.ones(3), exact=(2, 3)),
            ValueError,
            r"h0 must have shape \(2, 3\); got shape \(3,\)",
        ),
        (
            lambda: _checks.tensor("x", torch.ones(2).double(), reference=torch.ones(2), owner="the network"),
            TypeError,
            "x must have the network's dtype torch.float32",
        ),
        (
            lambda: _checks.tensor("x", torch.ones(2, device="meta"), reference=torch.ones(2)),
            ValueError,
            "x must be on the model's device cpu; got a tensor of shape",
        ),
        (lambda: _checks.rows("y", torch.ones(0, 2), 2), ValueError, r"y must have shape \(n, 2\) with n >= 1"),
        (lambda: _checks.energies("e", torch.ones(2, 1)), ValueError, r"e must have shape \(n,\) with n >= 1"),
        (
            lambda: _checks.returned("f", 1.0, ndim=(0,), shape="()"),
            TypeError,
            r"f must return a torch.Tensor of shape \(\); got float",
        ),
        (
            lambda: _checks.alike(a=torch.ones(2), b=torch.ones(3), same_shape=True),
            ValueError,
            r"a and b must have the same shape; got \(2,\) and \(3,\)",
        ),
        (
            lambda: _checks.alike(a=torch.ones(2), b=torch.ones(2).double()),
            TypeError,
            "a and b must have the same dtype",
        ),
        (
            lambda: _checks.entries("y", torch.tensor([0.5, 2.0]), minimum=0, maximum=1, why=" here"),
            ValueError,
            r"y must have entries in \[0, 1\] here; got values from 0.5 to 2",
        ),
        (
            lambda: _checks.per_row("labels", torch.ones(3), 3, torch.device("cpu"), "the logits"),
            TypeError,
            r"labels must be an integer tensor of shape \(3,\); got a tensor of shape \(3,\), dtype torch.float32",
        ),
        (
            lambda: _checks.per_row("mask", torch.ones(3, dtype=torch.int64), 3, torch.device("cpu"), "x", kind="mask"),
            TypeError,
            r"mask must be a boolean tensor of shape \(3,\) \(for 0/1 values, mask.bool\(\)\)",
        ),
        (
            lambda: _checks.per_row("x", torch.ones(2), 3, torch.device("cpu"), "y", kind="reals"),
            ValueError,
            r"x must have shape \(3,\), one entry per row of y",
        ),
        (
            lambda: _checks.matrix_vector(torch.ones(2, 3), torch.ones(2)),
            ValueError,
            r"A has shape \(2, 3\), so x must have shape \(3,\); got shape \(2,\)",
        ),
        (
            lambda: _checks.mask("mask", torch.ones(2, 2, dtype=torch.bool), (3, 2), torch.device("cpu")),
            ValueError,
            r"mask must broadcast to the shape of the scores, \(3, 2\)",
        ),
        (
            lambda: _checks.mask("mask", torch.ones(2, 2), (2, 2), torch.device("cpu")),
            TypeError,
            "mask must be a boolean tensor",
        ),
        (
            lambda: _checks.vectors("x", torch.ones(2, 0, 4), torch.ones(3, 4), keys=True),
            ValueError,
            r"x must have shape \(B, T, 4\) with T >= 1",
        ),
        (
            lambda: _checks.vectors("x", torch.ones(2, 1, 4).double(), torch.ones(3, 4)),
            TypeError,
            "x and the parameters must have the same dtype",
        ),
        (
            lambda: _checks.indices("x", torch.tensor([[0, 5]]), 5, torch.device("cpu")),
            ValueError,
            r"x must hold tokens in 0\.\.4; got values from 0 to 5",
        ),
        (
            lambda: _checks.indices("x", torch.tensor([[0, 1]], dtype=torch.int32), 5, torch.device("cpu")),
            TypeError,
            r"x must be an integer tensor of token indices \(torch.long\)",
        ),
        (
            lambda: _checks.indices("x", torch.zeros(2, 0, dtype=torch.long), 5, torch.device("cpu")),
            ValueError,
            "x must hold at least one token per row",
        ),
        (
            lambda: _checks.indices("x", torch.zeros(1, 2, dtype=torch.long, device="meta"), 5, torch.device("cpu")),
            ValueError,
            "x must be on cpu; got a tensor of shape",
        ),
    ],
)
def test_tensor_checks_fail_with_the_right_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_rows_may_allow_an_empty_batch_and_entries_let_nan_pass():
    empty = torch.ones(0, 2)
    assert _checks.rows("y", empty, 2, row="point", empty=True) is empty
    assert _checks.entries("y", torch.tensor([math.nan, 0.5]), minimum=0, maximum=1).shape == (2,)


def test_metadata_checks_accept_tensors_without_values():
    """A tensor on the meta device has no values: a check that read them would fail."""
    weight = torch.ones(3, 2, device="meta")
    x = torch.ones(4, 2, device="meta")
    _checks.tensor("x", x, floating=True, ndim=2, size=2, reference=weight[0])
    _checks.rows("x", x, 2, weight)
    _checks.alike(x=x, w=weight)
    _checks.energies("e", torch.ones(4, device="meta"))
    _checks.returned("f", x, ndim=(2,), shape="(n, 2)")
    _checks.vectors("x", torch.ones(2, 3, 2, device="meta"), weight)
    _checks.mask("mask", torch.ones(1, 3, dtype=torch.bool, device="meta"), (2, 3), x.device)
    _checks.per_row("labels", torch.ones(4, dtype=torch.long, device="meta"), 4, x.device, "x")


def test_shapes_broadcast_as_torch_says():
    for shapes in [((2, 1, 3), (4, 3)), ((1,), ()), ((5, 1), (1, 6), (5, 6))]:
        assert _checks.broadcast(*shapes) == tuple(torch.broadcast_shapes(*shapes))
    assert _checks.broadcast((2, 3), (3, 3)) is None


def test_sizes_are_read_from_the_first_linear_layer():
    assert _checks.size_of("d_y", None, "encoder", nn.Sequential(nn.ReLU(), nn.Linear(5, 2))) == 5
    assert _checks.in_features(nn.ReLU()) is None
    assert _checks.argnums("grad", (0, 1), 2) == (0, 1)
    assert _checks.factory(None, None) == torch.device("cpu")
