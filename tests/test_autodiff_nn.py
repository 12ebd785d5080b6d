"""The small nn library gradland.autodiff_nn against torch.nn and torch.optim: same initial
weights, same loss curve."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from badinput import Arg, battery
from gradland import autodiff_nn as adnn
from gradland.autodiff import Tensor
from gradland.autodiff_loss import cross_entropy
from gradland.autodiff_nn import MLP, SGD, Adam, Linear


def _digits(n=256):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return torch.tensor(x[:n] / 16.0, dtype=torch.float64), torch.tensor(y[:n])


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_mlp_on_digits_follows_the_torch_loss_curve(optimizer):
    torch.manual_seed(0)
    x, y = _digits()
    ours = MLP([64, 32, 32, 10], dtype=torch.float64)
    theirs = ours.to_torch()
    lr = 0.5 if optimizer == "SGD" else 0.01
    opt_ours = getattr(adnn, optimizer)(list(ours.parameters()), lr=lr)
    opt_theirs = getattr(torch.optim, optimizer)(theirs.parameters(), lr=lr)
    curve_ours, curve_theirs = [], []
    for step in range(60):
        batch = slice(64 * (step % 4), 64 * (step % 4 + 1))
        opt_ours.zero_grad()
        loss = cross_entropy(ours(Tensor(x[batch])), y[batch])
        loss.backward()
        opt_ours.step()
        curve_ours.append(loss.item())

        opt_theirs.zero_grad()
        loss_t = F.cross_entropy(theirs(x[batch]), y[batch])
        loss_t.backward()
        opt_theirs.step()
        curve_theirs.append(loss_t.item())
    torch.testing.assert_close(torch.tensor(curve_ours), torch.tensor(curve_theirs), rtol=1e-9, atol=1e-12)
    assert curve_ours[-1] < 0.6 * curve_ours[0]  # and it learns


def test_parameters_are_found_in_order():
    net = MLP([3, 4, 2])
    shapes = [tuple(p.shape) for p in net.parameters()]
    assert shapes == [(4, 3), (4,), (2, 4), (2,)]
    net(Tensor(torch.randn(5, 3))).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_gradients_on_every_device_are_those_of_torch(device):
    torch.manual_seed(0)
    data = torch.randn(8, 3, dtype=torch.float64).to(device)
    target = torch.tensor([0, 1] * 4, device=device)
    x = Tensor(data, requires_grad=True)
    net = MLP([3, 5, 2], activation="tanh", device=device, dtype=torch.float64)
    theirs, t = net.to_torch(), data.clone().requires_grad_()
    loss = cross_entropy(net(x), target)
    loss.backward()
    F.cross_entropy(theirs(t), target).backward()
    assert loss.data.device.type == x.grad.device.type == device.type
    assert all(p.grad.device.type == device.type for p in net.parameters())
    torch.testing.assert_close(loss.data, F.cross_entropy(theirs(t), target), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(x.grad, t.grad, rtol=1e-12, atol=1e-14)
    for ours, reference in zip(net.parameters(), theirs.parameters(), strict=True):
        torch.testing.assert_close(ours.grad, reference.grad, rtol=1e-12, atol=1e-14)


def test_models_check_their_arguments():
    with pytest.raises(ValueError, match=r"sizes must hold at least 2 ints; got \[3\]"):
        MLP([3])
    with pytest.raises(ValueError, match="activation must be"):
        MLP([3, 2], activation="gelu")
    with pytest.raises(ValueError, match=r"sizes\[1\] must be at least 1; got 0"):
        MLP([2, 0, 1])
    with pytest.raises(ValueError, match=r"sizes\[1\] must be at least 1; got -1"):
        MLP([2, -1, 1])
    with pytest.raises(TypeError, match=r"sizes\[1\] must be an int; got float"):
        MLP([2, 2.5, 1])
    for sizes, kind in ((5, "int"), (None, "NoneType"), ("abc", "str")):
        with pytest.raises(TypeError, match=f"sizes must be a sequence of ints.*; got {kind}"):
            MLP(sizes)
    with pytest.raises(ValueError, match="d_in must be at least 1; got 0"):
        Linear(0, 3)
    with pytest.raises(ValueError, match="d_out must be at least 1; got -1"):
        Linear(4, -1)
    for bad in (2.5, "2", None, True):
        with pytest.raises(TypeError, match="d_in must be an int"):
            Linear(bad, 3)
    with pytest.raises(TypeError, match="dtype must be a floating-point torch.dtype or None; got torch.int64"):
        Linear(4, 3, dtype=torch.int64)


def test_optimisers_check_their_hyperparameters():
    w = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="lr must be positive; got 0"):
        SGD([], lr=0)
    for lr in (math.inf, math.nan):
        with pytest.raises(ValueError, match=f"lr must be a finite number; got {lr}"):
            Adam([], lr=lr)
    with pytest.raises(ValueError, match="lr must be positive; got -1.0"):
        Adam([], lr=-1.0)
    for lr, kind in (("0.1", "str"), (None, "NoneType")):
        with pytest.raises(TypeError, match=f"lr must be a real number; got {kind}"):
            SGD([w], lr=lr)
    # each of these gave NaN or meaningless weights after one step
    for betas, message in (
        ((1.0, 0.999), r"betas\[0\] must be below 1.0; got 1.0"),
        ((0.9, 1.0), r"betas\[1\] must be below 1.0; got 1.0"),
        ((-0.5, 0.999), r"betas\[0\] must be at least 0.0; got -0.5"),
        ((math.nan, 0.999), r"betas\[0\] must be a finite number; got nan"),
    ):
        with pytest.raises(ValueError, match=message):
            Adam([w], lr=0.1, betas=betas)
    with pytest.raises(ValueError, match="betas must be a pair of numbers.*; got 1 of them"):
        Adam([w], betas=(0.9,))
    for betas, kind in (("ab", "str"), (0.9, "float")):
        with pytest.raises(TypeError, match=f"betas must be a pair of numbers.*; got {kind}"):
            Adam([w], betas=betas)
    with pytest.raises(TypeError, match=r"betas\[1\] must be a real number; got NoneType"):
        Adam([w], betas=(0.9, None))
    for eps, message in (
        (-1e-8, "eps must be positive"),
        (0.0, "eps must be positive"),
        (math.nan, "eps must be a finite number"),
    ):
        with pytest.raises(ValueError, match=message):
            Adam([w], eps=eps)


def test_an_optimiser_refuses_parameters_it_could_not_update():
    """SGD(w) for SGD([w]) would iterate over the rows of w, fresh tensors that no step
    reaches, and a torch.Tensor has no gradient that the engine computes."""
    w = Tensor([1.0, 2.0], requires_grad=True)
    for optimiser in (SGD, Adam):
        with pytest.raises(TypeError, match=r"such as \[w\]; got a single gradland.autodiff.Tensor"):
            optimiser(w, lr=0.1)
        with pytest.raises(TypeError, match="got a single torch.Tensor"):
            optimiser(torch.ones(2), lr=0.1)
        with pytest.raises(TypeError, match="must hold gradland.autodiff.Tensor parameters; got a torch.Tensor"):
            optimiser([w, torch.ones(2)], lr=0.1)
        with pytest.raises(TypeError, match="must hold gradland.autodiff.Tensor parameters; got a builtins.NoneType"):
            optimiser([None], lr=0.1)
    opt = SGD([w], lr=0.5)
    (w * w).sum().backward()
    opt.step()
    torch.testing.assert_close(w.data, torch.tensor([0.0, 0.0]))


# ---------------------------------------------------------------- the bad-input battery (tests/badinput.py)

DEVICE = Arg("custom", accepts=("None",), custom={"None": None, "int": 3.5, "unknown": "nowhere"})
DTYPE = Arg("custom", accepts=("None",), custom={"None": None, "int": torch.int64, "str": "float32"})
PARAMS = Arg(
    "custom",
    custom={
        "None": None,
        "tensor": Tensor([1.0], requires_grad=True),
        "torch": [torch.ones(1, requires_grad=True)],
        "str": "w",
    },
)
# a batch is a gradland Tensor; a torch tensor is lifted to a constant by design, as by every operation
BATCH = Arg(
    "custom",
    accepts=("torch",),
    custom={
        "None": None,
        "torch": torch.ones(5, 4),
        "str": "x",
        "wrong-size": Tensor(torch.ones(5, 3)),
        "meta": Tensor(torch.ones(5, 4, device="meta")),
    },
    mentions=("@", "operands", "unsupported operand", "x must"),
)


def _opt_step(optimiser):
    def step(**arguments):
        w = Tensor([1.0], requires_grad=True)
        opt = optimiser([w], **arguments)
        (w * w).sum().backward()
        opt.step()

    return step


SPECS = [
    (
        "autodiff_nn.Linear",
        Linear,
        lambda: {"d_in": 4, "d_out": 3, "bias": True, "device": None, "dtype": None},
        {
            "d_in": Arg("int", minimum=1),
            "d_out": Arg("int", minimum=1),
            "bias": Arg("custom", custom={"None": None, "int": 1, "str": "yes"}),
            "device": DEVICE,
            "dtype": DTYPE,
        },
    ),
    ("autodiff_nn.Linear.forward", lambda x: Linear(4, 3)(x), lambda: {"x": Tensor(torch.ones(5, 4))}, {"x": BATCH}),
    (
        "autodiff_nn.MLP",
        MLP,
        lambda: {"sizes": [2, 8, 1], "activation": "relu", "device": None, "dtype": None},
        {
            "sizes": Arg(
                "custom",
                custom={"None": None, "int": 3, "one": [2], "zero": [2, 0], "float": [2.0, 1], "bool": [True, 1]},
            ),
            "activation": Arg("custom", custom={"None": None, "other": "gelu", "function": torch.tanh}),
            "device": DEVICE,
            "dtype": DTYPE,
        },
    ),
    ("autodiff_nn.MLP.forward", lambda x: MLP([4, 8, 3])(x), lambda: {"x": Tensor(torch.ones(5, 4))}, {"x": BATCH}),
    ("autodiff_nn.MLP.to_torch", lambda: MLP([4, 8, 3]).to_torch(), lambda: {}, {}),
    ("autodiff_nn.Module.parameters", lambda: list(Linear(3, 2).parameters()), lambda: {}, {}),
    ("autodiff_nn.SGD", _opt_step(SGD), lambda: {"lr": 0.1}, {"lr": Arg("real", positive=True)}),
    (
        "autodiff_nn.SGD-params",
        SGD,
        lambda: {"params": [Tensor([1.0], requires_grad=True)], "lr": 0.1},
        {"params": PARAMS},
    ),
    (
        "autodiff_nn.Adam",
        _opt_step(Adam),
        lambda: {"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8},
        {
            "lr": Arg("real", positive=True),
            "betas": Arg(
                "custom",
                custom={"None": None, "one": (0.5,), "nan": (math.nan, 0.9), "too-big": (1.0, 0.9), "str": "0.9"},
            ),
            "eps": Arg("real", positive=True),
        },
    ),
    ("autodiff_nn.Adam-params", Adam, lambda: {"params": [Tensor([1.0], requires_grad=True)]}, {"params": PARAMS}),
]
test_the_valid_call_works, test_bad_input_gets_a_clear_error = battery(SPECS)
