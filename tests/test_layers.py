"""Tests of gradland.layers: the multilayer perceptron that the models of Part II build on."""

import pytest
import torch
from badinput import Arg, battery
from gradland.layers import mlp
from torch import nn


def test_mlp_is_seeded_and_leaves_the_global_state_alone():
    state = torch.random.get_rng_state()
    a, b, c = mlp([3, 4, 2], seed=5), mlp([3, 4, 2], seed=5), mlp([3, 4, 2], seed=6)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a[0].weight, b[0].weight)
    assert not torch.equal(a[0].weight, c[0].weight)


@pytest.mark.parametrize(
    "sizes, message",
    [
        ([3], r"sizes must hold at least 2 ints; got \[3\]"),
        ([], r"sizes must hold at least 2 ints; got \[\]"),
        ([3, 0], r"sizes\[1\] must be at least 1; got 0"),
        ([-1, 2], r"sizes\[0\] must be at least 1; got -1"),
    ],
)
def test_mlp_rejects_bad_sizes(sizes, message):
    with pytest.raises(ValueError, match=message):
        mlp(sizes)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sizes": None}, "sizes must be a sequence of ints"),
        ({"sizes": 5}, "sizes must be a sequence of ints"),
        ({"sizes": "23"}, "sizes must be a sequence of ints"),
        ({"sizes": [3, 2.5]}, r"sizes\[1\] must be an int; got float"),
        ({"sizes": [True, 2]}, r"sizes\[0\] must be an int; got bool"),
        ({"activation": None}, "activation must make a module"),
        ({"activation": "tanh"}, "activation must make a module"),
        ({"activation": nn.Tanh()}, "activation must make a module"),
        ({"activation": torch.tanh}, "activation must make a module when called with no argument"),
        ({"activation": lambda: 3}, "activation must make a torch.nn.Module; it made int"),
        ({"output": "sigmoid"}, "output must be a torch.nn.Module"),
        ({"output": nn.Sigmoid}, "output must be a torch.nn.Module"),
        ({"output": torch.sigmoid}, "output must be a torch.nn.Module"),
        ({"seed": None}, "seed must be an int; got NoneType"),
        ({"seed": 1.5}, "seed must be an int; got float"),
        ({"seed": "a"}, "seed must be an int; got str"),
    ],
)
def test_mlp_checks_its_inputs(kwargs, message):
    kwargs = {"sizes": [2, 3, 1], **kwargs}
    with pytest.raises(TypeError, match=message):
        mlp(**kwargs)


def test_mlp_takes_any_iterable_of_ints():
    a = mlp(torch.Size([2, 3]), seed=1)
    b = mlp(iter([2, 3]), seed=1)
    assert torch.equal(a[0].weight, b[0].weight)


# --- the bad-input battery (tests/badinput.py) ------------------------------------------

SPECS = [
    (
        "layers.mlp",
        mlp,
        lambda: {"sizes": [2, 4, 1], "activation": nn.Tanh, "output": None, "seed": 0},
        {
            "sizes": Arg("custom", custom={"None": None, "int": 5, "str": "21", "zero": [2, 0], "float": [2, 2.5]}),
            "activation": Arg("callable", custom={"module": nn.Tanh(), "function": torch.tanh}),
            "output": Arg("custom", custom={"str": "sigmoid", "class": nn.Sigmoid, "function": torch.sigmoid}),
            "seed": Arg("int"),
        },
    ),
]
test_the_valid_call_works, test_bad_input_gets_a_clear_error = battery(SPECS)


def test_the_horn_decoder_and_the_energy_mlp_are_mlps_of_the_same_weights():
    from gradland.contrastive import EnergyMLP
    from gradland.ebm import HornDecoder

    for model, sizes, activation in (
        (HornDecoder(d_hidden=8, seed=3), [1, 8, 8, 6], nn.Tanh),
        (EnergyMLP(d_hidden=8, seed=3), [2, 8, 8, 1], nn.SiLU),
    ):
        reference = mlp(sizes, activation=activation, seed=3)
        assert str(model.net) == str(reference)
        for a, b in zip(model.net.parameters(), reference.parameters()):
            assert torch.equal(a, b)
