"""Tests of gradland.ae: the plain, denoising and contractive autoencoders, the checks that
every autoencoder shares (the variational one of gradland.vae included), and training."""

from __future__ import annotations

import math

import pytest
import torch
from badinput import Arg, battery
from gradland import ae
from gradland.data import horn
from gradland.layers import mlp
from gradland.vae import VariationalAutoencoder
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def small(cls, d_y=2, d_z=2, **kwargs):
    out = 2 * d_z if cls is VariationalAutoencoder else d_z
    return cls(mlp([d_y, 16, out]), mlp([d_z, 16, d_y], seed=1), **kwargs)


# --- the plain autoencoder -------------------------------------------------------


def test_energy_is_the_squared_reconstruction_error_per_row():
    model = small(ae.Autoencoder)
    y = torch.randn(7, 2)
    expected = torch.stack([((row - model.decoder(model.encoder(row))) ** 2).sum() for row in y])
    torch.testing.assert_close(model.energy(y), expected)
    torch.testing.assert_close(model.loss(y), expected.mean())


def test_an_identity_autoencoder_gives_zero_energy_everywhere():
    """The collapse the bottleneck prevents: a latent as wide as y can copy it."""
    enc, dec = nn.Linear(2, 2), nn.Linear(2, 2)
    for layer in (enc, dec):
        nn.init.eye_(layer.weight)
        nn.init.zeros_(layer.bias)
    model = ae.Autoencoder(enc, dec)
    assert model.energy(10 * torch.randn(50, 2)).abs().max() < 1e-10


# --- checks at the boundary -----------------------------------------------------


@pytest.mark.parametrize(
    "y, error, message",
    [
        ([[0.0, 0.0]], TypeError, "torch.Tensor"),
        (torch.zeros(3, 2, dtype=torch.int64), TypeError, "floating-point dtype"),
        (torch.zeros(3, 3), ValueError, r"shape \(n, 2\)"),
        (torch.zeros(2), ValueError, r"shape \(n, 2\)"),
        (torch.zeros(0, 2), ValueError, r"shape \(n, 2\) with n >= 1"),
        (torch.zeros(3, 2, dtype=torch.float64), TypeError, "model's dtype torch.float32"),
        (torch.zeros(3, 2, device="meta"), ValueError, "model's device cpu"),
    ],
)
@pytest.mark.parametrize(
    "cls", [ae.Autoencoder, ae.DenoisingAutoencoder, ae.ContractiveAutoencoder, VariationalAutoencoder]
)
def test_bad_inputs_are_refused_with_a_clear_message(cls, y, error, message):
    model = small(cls)
    with pytest.raises(error, match=message):
        model.loss(y)


def test_constructor_arguments_are_checked():
    with pytest.raises(TypeError, match="encoder must be a torch.nn.Module; got function"):
        ae.Autoencoder(lambda y: y, nn.Linear(2, 2))
    with pytest.raises(TypeError, match="decoder must be a torch.nn.Module; got NoneType"):
        ae.Autoencoder(nn.Linear(2, 2), None)


@pytest.mark.parametrize(
    "cls, name, value, error, message",
    [
        (ae.DenoisingAutoencoder, "noise", -1.0, ValueError, "noise must be at least 0"),
        (ae.DenoisingAutoencoder, "noise", math.inf, ValueError, "noise must be a finite number; got inf"),
        (ae.DenoisingAutoencoder, "noise", math.nan, ValueError, "noise must be a finite number; got nan"),
        (ae.DenoisingAutoencoder, "noise", "0.1", TypeError, "noise must be a real number; got str"),
        (ae.DenoisingAutoencoder, "noise", None, TypeError, "noise must be a real number; got NoneType"),
        (ae.DenoisingAutoencoder, "mask", 1.0, ValueError, "mask must be below 1"),
        (ae.DenoisingAutoencoder, "mask", -0.1, ValueError, "mask must be at least 0"),
        (ae.DenoisingAutoencoder, "mask", "0.5", TypeError, "mask must be a real number"),
        (ae.ContractiveAutoencoder, "lam", -0.1, ValueError, "lam must be at least 0"),
        (ae.ContractiveAutoencoder, "lam", math.inf, ValueError, "lam must be a finite number"),
        (ae.ContractiveAutoencoder, "lam", "0.1", TypeError, "lam must be a real number"),
        (VariationalAutoencoder, "scale", 0.0, ValueError, "scale must be positive"),
        (VariationalAutoencoder, "scale", math.inf, ValueError, "scale must be a finite number"),
        (VariationalAutoencoder, "scale", "0.1", TypeError, "scale must be a real number"),
        (VariationalAutoencoder, "scale", None, TypeError, "scale must be a real number"),
        (ae.Autoencoder, "d_y", 3, ValueError, "d_y = 3 disagrees with the encoder, whose first nn.Linear takes 2"),
        (ae.Autoencoder, "d_y", 0, ValueError, "d_y must be at least 1; got 0"),
        (ae.Autoencoder, "d_y", 2.7, TypeError, "d_y must be an int; got float"),
        (ae.Autoencoder, "d_y", True, TypeError, "d_y must be an int; got bool"),
        (ae.Autoencoder, "d_y", "a", TypeError, "d_y must be an int; got str"),
        (ae.Autoencoder, "d_z", 5, ValueError, "d_z = 5 disagrees with the decoder"),
        (ae.Autoencoder, "d_z", -1, ValueError, "d_z must be at least 1"),
    ],
)
def test_hyperparameters_are_checked_by_name(cls, name, value, error, message):
    out = 4 if cls is VariationalAutoencoder else 2
    with pytest.raises(error, match=message):
        cls(mlp([2, 16, out]), mlp([2, 16, 2], seed=1), **{name: value})


def test_train_checks_its_arguments():
    model = small(ae.Autoencoder)
    y = torch.zeros(4, 2)
    with pytest.raises(TypeError, match="model must be a gradland.ae.Autoencoder; got Linear"):
        ae.train(nn.Linear(2, 2), y)
    for bad, error, message in [
        ({"steps": 0}, ValueError, "steps must be at least 1; got 0"),
        ({"steps": True}, TypeError, "steps must be an int; got bool"),
        ({"batch_size": 0}, ValueError, "batch_size must be at least 1"),
        ({"lr": 0.0}, ValueError, "lr must be positive; got 0.0"),
        ({"lr": math.inf}, ValueError, "lr must be a finite number; got inf"),
        ({"lr": "0.1"}, TypeError, "lr must be a real number; got str"),
        ({"lr": None}, TypeError, "lr must be a real number; got NoneType"),
        ({"seed": 1.5}, TypeError, "seed must be an int; got float"),
        ({"seed": None}, TypeError, "seed must be an int; got NoneType"),
    ]:
        with pytest.raises(error, match=message):
            ae.train(model, y, **bad)


@pytest.mark.parametrize(
    "data, error, message",
    [
        (torch.zeros(4, 3), ValueError, r"data must have shape \(n, 2\)"),
        (torch.zeros(0, 2), ValueError, r"data must have shape \(n, 2\) with n >= 1"),
        (torch.zeros(1, 4, 2), ValueError, r"data must have shape \(n, 2\)"),
        (torch.zeros(4, 2, dtype=torch.int64), TypeError, "data must have a floating-point dtype"),
        (torch.zeros(4, 2, dtype=torch.float64), TypeError, "data must have the model's dtype torch.float32"),
        ([[0.0, 0.0]], TypeError, "data must be a torch.Tensor"),
        (torch.zeros(4, 2, device="meta"), ValueError, "data must be on the model's device cpu"),
    ],
)
def test_train_names_data_in_its_messages(data, error, message):
    with pytest.raises(error, match=message):
        ae.train(small(ae.Autoencoder), data, steps=1)


def test_train_stops_when_the_loss_diverges():
    model = small(ae.Autoencoder)
    with pytest.raises(FloatingPointError, match="diverged"):
        ae.train(model, torch.full((4, 2), 1e30), steps=2)


# --- the denoising autoencoder ------------------------------------------------------


def test_corruption_has_the_requested_noise_and_mask():
    model = small(ae.DenoisingAutoencoder, noise=0.5)
    torch.manual_seed(0)
    noise = model.corrupt(torch.zeros(20_000, 2))
    assert abs(noise.std().item() - 0.5) < 0.01
    masked = small(ae.DenoisingAutoencoder, noise=0.0, mask=0.25).corrupt(torch.ones(20_000, 2))
    assert abs((masked == 0).double().mean().item() - 0.25) < 0.01
    assert set(masked.unique().tolist()) == {0.0, 1.0}


# --- the contractive autoencoder ---------------------------------------------------


@pytest.mark.parametrize(
    "activation, derivative",
    [
        (nn.Sigmoid(), lambda h: h * (1 - h)),
        (nn.Tanh(), lambda h: 1 - h**2),
    ],
)
def test_contraction_equals_the_closed_form_of_a_one_layer_encoder(activation, derivative):
    """For h = s(W y + b), ||dh/dy||_F^2 = sum_i s'(a_i)^2 sum_j W_ij^2 (Rifai et al., 2011)."""
    encoder = mlp([5, 3], output=activation, seed=2)
    model = ae.ContractiveAutoencoder(encoder, mlp([3, 5]))
    y = torch.randn(11, 5)
    h = encoder(y)
    W = encoder[0].weight
    closed = (derivative(h) ** 2 * (W**2).sum(dim=1)).sum(dim=1)
    torch.testing.assert_close(model.contraction(y), closed)


def test_encoder_jacobian_matches_torch_func():
    encoder = mlp([4, 8, 8, 3], seed=4)
    y = torch.randn(6, 4)
    ours = ae.encoder_jacobian(encoder, y)
    theirs = torch.func.vmap(torch.func.jacrev(encoder))(y)
    assert ours.shape == (6, 3, 4)
    torch.testing.assert_close(ours, theirs)


def test_the_penalty_can_be_evaluated_with_autograd_switched_off():
    model = small(ae.ContractiveAutoencoder)
    y = torch.randn(4, 2)
    with torch.no_grad():
        penalty = model.contraction(y)
    torch.testing.assert_close(penalty, model.contraction(y).detach())


def test_sizes_can_be_given_when_the_modules_do_not_reveal_them():
    model = ae.Autoencoder(nn.Sequential(nn.Tanh()), nn.Sequential(nn.Tanh()), d_y=3, d_z=3)
    assert (model.d_y, model.d_z) == (3, 3)
    with pytest.raises(ValueError, match="cannot read d_y from the encoder: it has no nn.Linear layer; pass d_y"):
        ae.Autoencoder(nn.Tanh(), nn.Linear(3, 3))
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        ae.Autoencoder(nn.Linear(3, 3), nn.Linear(3, 3)).decode(torch.zeros(2, 4))


def test_the_penalty_is_differentiable_in_the_encoder_parameters():
    model = small(ae.ContractiveAutoencoder, lam=1.0)
    model.contraction(torch.randn(5, 2)).sum().backward()
    grad = model.encoder[0].weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_encoder_jacobian_checks_its_inputs():
    linear = nn.Linear(3, 2)
    y = torch.randn(5, 3)
    for encoder, y_bad, error, message in [
        (None, y, TypeError, "encoder must be a torch.nn.Module"),
        (linear, [[0.0] * 3], TypeError, r"y must be a torch.Tensor of shape \(n, 3\); got list"),
        (linear, y.long(), TypeError, "y must have a floating-point dtype"),
        (linear, torch.randn(5, 4), ValueError, r"y must have shape \(n, 3\)"),
        (linear, torch.randn(0, 3), ValueError, r"y must have shape \(n, 3\) with n >= 1"),
        (linear, torch.randn(5), ValueError, r"y must have shape \(n, 3\)"),
        (torch.tanh, torch.randn(5), ValueError, r"y must have shape \(n, d\)"),
        (linear, y.double(), TypeError, "y must have the model's dtype torch.float32"),
        (linear, y.to("meta"), ValueError, "y must be on the model's device cpu"),
        (nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2)), y, ValueError, "BatchNorm1d in training mode, which mixes"),
        (lambda y: y.sum(1), y, ValueError, r"the encoder must return a tensor of shape \(5, d_z\)"),
        (lambda y: y.detach(), y, ValueError, "must depend on y through autograd"),
        (lambda y: y.long(), y, TypeError, "the encoder must return a floating-point tensor"),
    ]:
        with pytest.raises(error, match=message):
            ae.encoder_jacobian(encoder, y_bad)
    evaluating = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2)).eval()  # rows independent again
    one_row = torch.func.jacrev(lambda row: evaluating(row[None])[0])
    torch.testing.assert_close(ae.encoder_jacobian(evaluating, y), torch.func.vmap(one_row)(y))


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["noise", "mask", "lam", "scale", "lr"]),
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: not math.isfinite(v) or v < 0 or v >= 1),
        st.text(max_size=3),
        st.none(),
        st.booleans(),
        st.lists(st.floats(0, 1), max_size=2),
    ),
)
def test_bad_hyperparameters_always_get_a_named_error(name, value):
    """No bad number passes: a non-finite or out-of-range float is a ValueError, anything else a
    TypeError, and both name the argument."""
    cls = {
        "noise": ae.DenoisingAutoencoder,
        "mask": ae.DenoisingAutoencoder,
        "lam": ae.ContractiveAutoencoder,
        "scale": VariationalAutoencoder,
        "lr": ae.Autoencoder,
    }[name]
    if isinstance(value, float) and math.isfinite(value) and value >= 1 and name != "mask":
        return  # in range for every name but the mask's probability
    if isinstance(value, float) and value == 0 and name in ("noise", "lam", "mask"):
        return  # zero noise, penalty or mask is allowed
    error = ValueError if isinstance(value, float) else TypeError
    with pytest.raises(error, match=name):
        if name == "lr":
            ae.train(small(cls), torch.zeros(4, 2), steps=1, lr=value)
        else:
            small(cls, **{name: value})


# --- training -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        (ae.Autoencoder, {}),
        (ae.DenoisingAutoencoder, {"noise": 0.3}),
        (ae.ContractiveAutoencoder, {"lam": 0.1}),
        (VariationalAutoencoder, {"scale": 0.3}),
    ],
)
def test_training_lowers_the_loss(cls, kwargs, device):
    y = horn(128, x=1.0, noise=0.05, seed=3, device=device).y
    model = small(cls, d_z=1, **kwargs).to(device)

    def full_loss():
        torch.manual_seed(0)
        with torch.no_grad() if cls is not ae.ContractiveAutoencoder else torch.enable_grad():
            return model.loss(y).item()

    before = full_loss()
    history = ae.train(model, y, steps=100, lr=1e-2, batch_size=64, seed=0)
    assert len(history.loss) == 100 and history.lr == [1e-2] * 100
    assert full_loss() < 0.7 * before
    assert model.energy(y).device.type == device.type


def test_training_is_reproducible_and_leaves_the_global_state_alone():
    y = horn(64, x=1.0, seed=0).y
    state = torch.random.get_rng_state()
    runs = [ae.train(small(ae.DenoisingAutoencoder, noise=0.2), y, steps=20, seed=7).loss for _ in range(2)]
    assert runs[0] == runs[1]
    assert torch.equal(torch.random.get_rng_state(), state)


# --- the bad-input battery (tests/badinput.py) ------------------------------------------

T = Arg("tensor")
MODULE = Arg("custom", custom={"None": None, "function": lambda y: y, "tensor": torch.ones(2)})


def _model(cls, **kwargs):
    return cls(mlp([2, 8, 1]), mlp([1, 8, 2], seed=1), **kwargs)


def _method(cls, name, **kwargs):
    model = _model(cls, **kwargs)
    return lambda **arguments: getattr(model, name)(**arguments)


def _batch():
    return {"y": horn(6, x=1.0).y}


SPECS = [
    (
        "ae.Autoencoder",
        ae.Autoencoder,
        lambda: {"encoder": mlp([2, 4, 1]), "decoder": mlp([1, 4, 2]), "d_y": 2, "d_z": 1},
        {
            "encoder": MODULE,
            "decoder": MODULE,
            "d_y": Arg("int", minimum=1, accepts=("None",), custom={"other": 3}),
            "d_z": Arg("int", minimum=1, accepts=("None",), custom={"other": 2}),
        },
    ),
    (
        "ae.DenoisingAutoencoder",
        lambda **kw: _model(ae.DenoisingAutoencoder, **kw),
        lambda: {"noise": 0.1, "mask": 0.2},
        {"noise": Arg("real", custom={"negative": -0.1}), "mask": Arg("real", custom={"negative": -0.1, "one": 1.0})},
    ),
    (
        "ae.ContractiveAutoencoder",
        lambda **kw: _model(ae.ContractiveAutoencoder, **kw),
        lambda: {"lam": 0.1},
        {"lam": Arg("real", custom={"negative": -0.1})},
    ),
    *[
        (f"ae.{cls.__name__}.{name}", _method(cls, name), _batch, {"y": T})
        for cls in (ae.Autoencoder, ae.DenoisingAutoencoder, ae.ContractiveAutoencoder)
        for name in ("energy", "loss", "encode", "reconstruct")
    ],
    ("ae.Autoencoder.decode", _method(ae.Autoencoder, "decode"), lambda: {"z": torch.zeros(3, 1)}, {"z": T}),
    (
        "ae.encoder_jacobian",
        ae.encoder_jacobian,
        lambda: {"encoder": nn.Linear(3, 2), "y": torch.randn(5, 3)},
        {
            "encoder": Arg(
                "callable",
                custom={
                    "batchnorm": nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2)),
                    "returns-1d": lambda y: y.sum(1),
                    "detached": lambda y: y.detach(),
                },
            ),
            "y": T,
        },
    ),
    (
        "ae.train",
        ae.train,
        lambda: {
            "model": _model(ae.Autoencoder),
            "data": horn(16, x=1.0).y,
            "steps": 2,
            "lr": 0.01,
            "batch_size": 4,
            "seed": 0,
        },
        {
            "model": Arg("custom", custom={"None": None, "linear": nn.Linear(2, 2)}),
            "data": T,
            "steps": Arg("int", minimum=1),
            "lr": Arg("real", positive=True),
            "batch_size": Arg("int", minimum=1),
            "seed": Arg("int"),
        },
    ),
]
test_the_valid_call_works, test_bad_input_gets_a_clear_error = battery(SPECS)
