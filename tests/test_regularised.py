"""Tests of gradland.regularised (Chapter 9): the regularised energy and its training.

A free latent collapses the energy; the penalised one keeps its shape. Inference
is checked against nearby latents and, for the l2 penalty, against the closed form
of the free energy; training against the loop it replaced. Every error message of
the public names is tested.
"""

from __future__ import annotations

import math

import pytest
import torch
from badinput import Arg, battery
from gradland.data import horn
from gradland.ebm import EllipseDecoder, LatentEBM
from gradland.regularised import RegularisedEBM, fit_regularised

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


# --------------------------------------------------------------------------
# regularised latent
# --------------------------------------------------------------------------


def test_a_free_latent_collapses_the_energy():
    y = 3 * torch.randn(100, 2)
    assert RegularisedEBM(lam=0.0).free_energy(y).abs().max().item() < 1e-6


@pytest.mark.parametrize("penalty", ["l1", "l2", "ring"])
def test_infer_z_reaches_a_minimum(penalty):
    model = RegularisedEBM(lam=0.5, penalty=penalty, seed=1)
    y = torch.randn(6, 2)
    z = model.infer_z(y, steps=500)
    e = model.energy(y, z).detach()
    for _ in range(20):  # no random nearby latent does better
        assert bool((model.energy(y, z + 0.01 * torch.randn_like(z)).detach() >= e - 1e-5).all())


def test_l2_free_energy_matches_its_closed_form():
    # Exercise ex-train-l2: F(y) = (y - b)^T (I + W W^T / lam)^{-1} (y - b).
    model = RegularisedEBM(lam=0.7, penalty="l2", seed=2)
    with torch.no_grad():
        model.bias.copy_(torch.tensor([0.3, -0.2]))
    y = torch.randn(5, 2)
    w, r = model.weight.detach(), y - model.bias.detach()
    m = torch.eye(2) + w @ w.T / 0.7
    expected = (r * torch.linalg.solve(m, r.T).T).sum(dim=1)
    torch.testing.assert_close(model.free_energy(y, steps=500).detach(), expected, atol=1e-5, rtol=1e-4)


def test_regularised_training_shapes_the_energy():
    y = horn(24, x=1.0, noise=0.1, seed=0).y
    model = RegularisedEBM(lam=1.0, penalty="ring")
    losses = fit_regularised(model, y, steps=120, lr=0.03)
    assert losses[-1] < 0.1 * losses[0]
    far = model.free_energy(torch.tensor([[0.0, 0.0], [3.0, 3.0], [-3.0, 3.0]])).detach()
    near = model.free_energy(y).detach()
    assert far.min() > 10 * near.mean()  # not flat: data low, centre and corners high


def test_regularised_checks_its_inputs():
    with pytest.raises(ValueError, match="penalty"):
        RegularisedEBM(penalty="l0")
    with pytest.raises(ValueError, match="lam"):
        RegularisedEBM(lam=-1.0)
    with pytest.raises(ValueError, match="d must be at least 1; got 0"):
        RegularisedEBM(d=0)
    model = RegularisedEBM()
    with pytest.raises(ValueError, match=r"z must have shape \(n, 2\), one latent per row"):
        model.energy(torch.zeros(2, 2), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"z must have one row per row of y, \(2, 2\)"):
        model.energy(torch.zeros(2, 2), torch.zeros(3, 2))
    with pytest.raises(TypeError, match="model must be a gradland.regularised.RegularisedEBM"):
        fit_regularised(LatentEBM(EllipseDecoder()), torch.zeros(2, 2))


# --------------------------------------------------------------------------
# the loop is gradland.train.fit, with the numbers of the loop it replaced
# --------------------------------------------------------------------------


def test_fit_regularised_gives_the_losses_of_the_hand_written_loop():
    y = horn(16, x=1.0, noise=0.1, seed=0).y
    ours = fit_regularised(RegularisedEBM(lam=1.0), y, steps=10, lr=0.05, infer_steps=20)
    model = RegularisedEBM(lam=1.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(10):  # the loop that fit_regularised ran before it used gradland.train.fit
        loss = model.free_energy(y, steps=20).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert ours == losses


# --------------------------------------------------------------------------
# bad hyper-parameters and inputs get an error that names them
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: RegularisedEBM(lam=math.inf), ValueError, "lam must be a finite number; got inf"),
        (lambda: RegularisedEBM(lam="1"), TypeError, "lam must be a real number; got str"),
        (lambda: RegularisedEBM(d=True), TypeError, "d must be an int; got bool"),
        (lambda: RegularisedEBM(seed=0.5), TypeError, "seed must be an int; got float"),
        (lambda: RegularisedEBM().infer_z(torch.zeros(3, 2), steps=-1), ValueError, "steps must be at least 0; got -1"),
        (lambda: RegularisedEBM().free_energy(torch.zeros(3, 2), steps=2.5), TypeError, "steps must be an int"),
        (
            lambda: RegularisedEBM().infer_z(torch.zeros(3, 2, dtype=torch.float64)),
            TypeError,
            "y must have the model's dtype torch.float32",
        ),
        (
            lambda: RegularisedEBM().energy(torch.zeros(3, 2), torch.zeros(3, 2, dtype=torch.float64)),
            TypeError,
            "z must have the model's dtype torch.float32",
        ),
        (
            lambda: fit_regularised(RegularisedEBM(), torch.zeros(3, 2), steps=-1),
            ValueError,
            "steps must be at least 0; got -1",
        ),
        (
            lambda: fit_regularised(RegularisedEBM(), torch.zeros(3, 2), lr=math.inf),
            ValueError,
            "lr must be a finite number; got inf",
        ),
        (
            lambda: fit_regularised(RegularisedEBM(), torch.zeros(3, 2), infer_steps=-1),
            ValueError,
            "infer_steps must be at least 0; got -1",
        ),
        (
            lambda: fit_regularised(RegularisedEBM(), torch.zeros(0, 2)),
            ValueError,
            r"y must have shape \(n, 2\) with n >= 1",
        ),
    ],
)
def test_regularised_model_and_training_check_their_hyper_parameters(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---------------------------------------------------------------- the bad-input battery (tests/badinput.py)

T = Arg("tensor")
STEPS = Arg("int", minimum=0)
RATE = Arg("real", positive=True)


def _method(model, name):
    return lambda **arguments: getattr(model, name)(**arguments)


SPECS = [
    (
        "regularised.RegularisedEBM",
        RegularisedEBM,
        lambda: {"d": 2, "lam": 1.0, "penalty": "ring", "seed": 0},
        {
            "d": Arg("int", minimum=1),
            "lam": Arg("real", custom={"negative": -1.0}),
            "penalty": Arg("custom", custom={"None": None, "other": "l3"}),
            "seed": Arg("int"),
        },
    ),
    (
        "regularised.RegularisedEBM.energy",
        _method(RegularisedEBM(d=3), "energy"),
        lambda: {"y": torch.zeros(4, 2), "z": torch.zeros(4, 3)},
        {"y": T, "z": T},
    ),
    (
        "regularised.RegularisedEBM.penalty_of",
        _method(RegularisedEBM(d=3), "penalty_of"),
        lambda: {"z": torch.zeros(4, 3)},
        {"z": T},
    ),
    (
        "regularised.RegularisedEBM.infer_z",
        _method(RegularisedEBM(d=3), "infer_z"),
        lambda: {"y": torch.zeros(4, 2), "steps": 2},
        {"y": T, "steps": STEPS},
    ),
    (
        "regularised.RegularisedEBM.free_energy",
        _method(RegularisedEBM(d=3), "free_energy"),
        lambda: {"y": torch.zeros(4, 2), "steps": 2},
        {"y": T, "steps": STEPS},
    ),
    (
        "regularised.fit_regularised",
        fit_regularised,
        lambda: {"model": RegularisedEBM(), "y": horn(4, x=1.0).y, "steps": 1, "lr": 0.02, "infer_steps": 2},
        {
            "model": Arg("custom", custom={"None": None, "latent": LatentEBM(EllipseDecoder())}),
            "y": T,
            "steps": STEPS,
            "lr": RATE,
            "infer_steps": STEPS,
        },
    ),
]
test_the_valid_call_works, test_bad_input_gets_a_clear_error = battery(SPECS)
