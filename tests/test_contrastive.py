"""Tests of gradland.contrastive (Chapter 9): fit, force, and contrastive training.

Training runs are tiny and seeded. The force is checked against its closed
form, and the contrastive losses against their formulas and their signs (the
regularised energy is tested in test_regularised.py). Every error message of
the new public names is tested.
"""

from __future__ import annotations

import math

import pytest
import torch
from badinput import Arg, battery
from gradland.contrastive import (
    CONTRASTIVE_KINDS,
    EnergyMLP,
    FourierDecoder,
    contrastive_loss,
    fit,
    fit_contrastive,
    force,
    langevin,
)
from gradland.data import horn, horn_manifold
from gradland.ebm import EllipseDecoder, HornDecoder, LatentEBM, softmin_weights
from hypothesis import given, settings
from hypothesis import strategies as st

GRID = torch.linspace(0, 2 * math.pi, 65)[:-1]
FINE = torch.linspace(0, 2 * math.pi, 361)[:-1]
PROPERTY = settings(max_examples=30, deadline=None)


pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def curve_gap(model: LatentEBM) -> float:
    """Mean distance between the model's curve and the true ellipse at x = 1, both ways round."""
    with torch.no_grad():
        d = torch.cdist(model.decode(FINE), horn_manifold(1.0, FINE))
    return 0.5 * (d.min(dim=1).values.mean() + d.min(dim=0).values.mean()).item()


# --------------------------------------------------------------------------
# fit
# --------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [math.inf, 3.0])
def test_fit_lowers_the_loss_and_recovers_the_ellipse(beta, device):
    y = horn(24, x=1.0, noise=0.05, seed=0, device=device).y
    model = LatentEBM(EllipseDecoder())
    before = curve_gap(model)
    grid = GRID.to(device)
    losses = fit(model.to(device), y, grid, beta, steps=200, lr=0.05)
    assert losses[-1] < 0.5 * losses[0]
    points, forces = force(model, y, grid, beta)  # the force of the trained model, on the device
    assert points.device.type == forces.device.type == device.type
    torch.testing.assert_close(forces, closed_form_force(points, y, beta))
    assert before > 1.0
    assert curve_gap(model.cpu()) < 0.15


def test_fit_conditional_horn_lowers_the_loss():
    data = horn(64, seed=1)
    model = LatentEBM(HornDecoder(d_hidden=8))
    losses = fit(model, data.y, GRID[::2], math.inf, data.x, steps=60, lr=0.02)
    assert losses[-1] < 0.5 * losses[0]


def test_fit_rejects_a_fixed_decoder():
    with pytest.raises(ValueError, match="no parameters"):
        fit(LatentEBM(horn_manifold), horn(4).y, GRID, 1.0, horn(4).x, steps=1)


def test_warm_fit_of_a_flexible_decoder_is_closer_to_the_truth():
    y = horn(24, x=1.0, noise=0.2, seed=0).y
    grid = torch.linspace(0, 2 * math.pi, 97)[:-1]
    gaps = {}
    for beta in (math.inf, 3.0):
        model = LatentEBM(FourierDecoder(8))
        fit(model, y, grid, beta, steps=300, lr=0.03)
        gaps[beta] = curve_gap(model)
    assert gaps[3.0] < gaps[math.inf]


# --------------------------------------------------------------------------
# force
# --------------------------------------------------------------------------


def closed_form_force(points: torch.Tensor, y: torch.Tensor, beta: float) -> torch.Tensor:
    energies = (y[:, None, :] - points[None, :, :]).square().sum(dim=-1)  # (n, K)
    w = softmin_weights(energies, beta)
    return (2 * w[:, :, None] * (y[:, None, :] - points[None, :, :])).sum(dim=0)


@PROPERTY
@given(beta=st.sampled_from([0.1, 1.0, 5.0, math.inf]), seed=st.integers(0, 10_000))
def test_force_matches_its_closed_form(beta, seed):
    torch.manual_seed(seed)
    model = LatentEBM(EllipseDecoder(weight=torch.randn(2, 2, dtype=torch.float64), seed=seed))
    model = model.double()
    y = torch.randn(5, 2, dtype=torch.float64)
    grid = torch.linspace(0, 2 * math.pi, 17, dtype=torch.float64)[:-1]
    points, forces = force(model, y, grid, beta)
    torch.testing.assert_close(points, model.decode(grid).detach())
    torch.testing.assert_close(forces, closed_form_force(points, y, beta))


def test_cold_force_pulls_only_the_nearest_points():
    # The example of the chapter's first exercise: four points of the unit circle.
    model = LatentEBM(EllipseDecoder(weight=torch.eye(2)))
    grid = torch.arange(4) * math.pi / 2
    y = torch.tensor([[2.0, 0.0], [0.0, 0.5]])
    _, forces = force(model, y, grid, math.inf)
    expected = torch.tensor([[2.0, 0.0], [0.0, -1.0], [0.0, 0.0], [0.0, 0.0]])
    torch.testing.assert_close(forces, expected, atol=1e-6, rtol=0)
    # warm: every point is pulled
    _, warm = force(model, y, grid, 0.5)
    assert bool((warm.norm(dim=1) > 0).all())


def test_force_conditional_shape():
    data = horn(3, seed=2)
    model = LatentEBM(HornDecoder(d_hidden=4))
    points, forces = force(model, data.y, GRID[:8], 2.0, data.x)
    assert points.shape == forces.shape == (3, 8, 2)


# --------------------------------------------------------------------------
# contrastive losses
# --------------------------------------------------------------------------

ENERGY = st.floats(0.0, 5.0)


@PROPERTY
@given(e_pos=ENERGY, e_neg=ENERGY, m=st.floats(0.1, 3.0))
def test_contrastive_losses_match_their_formulas(e_pos, e_neg, m):
    p, n = torch.tensor([e_pos], dtype=torch.float64), torch.tensor([e_neg], dtype=torch.float64)
    expected = {
        "hinge": max(0.0, m + e_pos - e_neg),
        "square-square": e_pos**2 + max(0.0, m - e_neg) ** 2,
        "log": math.log1p(math.exp(e_pos - e_neg)),
    }
    for kind in CONTRASTIVE_KINDS:
        assert contrastive_loss(p, n, kind=kind, margin=m).item() == pytest.approx(expected[kind], rel=1e-9, abs=1e-12)


@PROPERTY
@given(e_pos=ENERGY, e_neg=ENERGY, delta=st.floats(0.01, 1.0), kind=st.sampled_from(CONTRASTIVE_KINDS))
def test_contrastive_losses_have_the_right_signs(e_pos, e_neg, delta, kind):
    def loss(a, b):
        return contrastive_loss(torch.tensor([a]), torch.tensor([b]), kind=kind, margin=1.0).item()

    # Lower data energy or higher contrastive energy never increases the loss ...
    assert loss(max(e_pos - delta, 0.0), e_neg) <= loss(e_pos, e_neg) + 1e-6
    assert loss(e_pos, e_neg + delta) <= loss(e_pos, e_neg) + 1e-6
    # ... and the gradient says so: down on data, up on the contrastive sample.
    p = torch.tensor([e_pos], requires_grad=True)
    n = torch.tensor([e_neg], requires_grad=True)
    contrastive_loss(p, n, kind=kind, margin=1.0).backward()
    assert p.grad.item() >= 0 and n.grad.item() <= 0


def test_contrastive_loss_strictly_decreases_inside_the_margin():
    p, n = torch.tensor([0.5]), torch.tensor([0.8])
    for kind in CONTRASTIVE_KINDS:
        base = contrastive_loss(p, n, kind=kind)
        assert contrastive_loss(p - 0.1, n, kind=kind) < base
        assert contrastive_loss(p, n + 0.1, kind=kind) < base


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((torch.zeros(3), torch.zeros(4)), {}, ValueError, "pair up"),
        ((torch.zeros(3, 1), torch.zeros(3, 1)), {}, ValueError, r"shape \(n,\)"),
        ((torch.zeros(0), torch.zeros(0)), {}, ValueError, r"e_pos must have shape \(n,\) with n >= 1"),
        ((torch.zeros(3, dtype=torch.long), torch.zeros(3)), {}, TypeError, "e_pos must have a floating-point dtype"),
        (([0.0], torch.zeros(1)), {}, TypeError, "e_pos must be a torch.Tensor"),
        ((torch.zeros(3), torch.zeros(3)), {"kind": "square"}, ValueError, "kind must be one of"),
        ((torch.zeros(3), torch.zeros(3)), {"margin": 0.0}, ValueError, "margin must be positive"),
        ((torch.zeros(3), torch.zeros(3)), {"margin": math.inf}, ValueError, "margin must be a finite number; got inf"),
    ],
)
def test_contrastive_loss_checks_its_inputs(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        contrastive_loss(*args, **kwargs)


# --------------------------------------------------------------------------
# energy network, samples and contrastive training
# --------------------------------------------------------------------------


def test_energy_mlp_is_non_negative_and_checks_its_input():
    energy = EnergyMLP(d_hidden=8)
    assert bool((energy(10 * torch.randn(50, 2)) >= 0).all())
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        energy(torch.zeros(5, 3))
    with pytest.raises(ValueError, match="d_hidden"):
        EnergyMLP(d_hidden=0)


def test_langevin_descends_and_is_reproducible():
    bowl = lambda y: y.square().sum(dim=1)  # noqa: E731
    y0 = torch.full((4, 2), 2.0)
    quiet = langevin(bowl, y0, steps=10, step_size=0.1, noise=0.0)
    assert bool((quiet.norm(dim=1) < y0.norm(dim=1)).all())
    a = langevin(bowl, y0, steps=5, generator=torch.Generator().manual_seed(3))
    b = langevin(bowl, y0, steps=5, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="step_size"):
        langevin(bowl, y0, step_size=0.0)
    with pytest.raises(ValueError, match="steps"):
        langevin(bowl, y0, steps=-1)


def test_pushing_down_only_collapses():
    y = horn(24, x=1.0, noise=0.1, seed=0).y
    energy = EnergyMLP(d_hidden=16)
    fit_contrastive(energy, y, kind=None, steps=150, lr=0.02)
    with torch.no_grad():
        far = energy(6 * torch.rand(200, 2) - 3)
    assert far.max().item() < 1e-2


@pytest.mark.parametrize("kind", CONTRASTIVE_KINDS)
def test_contrastive_training_lowers_its_loss_and_separates_data_from_samples(kind, device):
    y = horn(24, x=1.0, noise=0.1, seed=0, device=device).y
    energy = EnergyMLP(d_hidden=16).to(device)
    losses, y_hat = fit_contrastive(energy, y, kind=kind, steps=150, lr=0.02)
    assert len(losses) == 150 and y_hat.device.type == device.type
    assert sum(losses[-10:]) / 10 < losses[0]
    with torch.no_grad():
        assert energy(y).mean() < energy(y_hat).mean()


def test_fit_contrastive_checks_its_inputs():
    energy = EnergyMLP(d_hidden=4)
    with pytest.raises(ValueError, match="kind"):
        fit_contrastive(energy, torch.zeros(3, 2), kind="ranking", steps=1)
    with pytest.raises(ValueError, match="box"):
        fit_contrastive(energy, torch.zeros(3, 2), box=-1.0, steps=1)
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        fit_contrastive(energy, torch.zeros(3), steps=1)


def test_fourier_decoder_with_one_harmonic_is_an_ellipse():
    dec = FourierDecoder(harmonics=1)
    ell = EllipseDecoder(weight=dec.coef[0].detach())
    z = torch.rand(10) * 2 * math.pi
    torch.testing.assert_close(dec(z), ell(z))
    with pytest.raises(ValueError, match="harmonics"):
        FourierDecoder(harmonics=0)


# --------------------------------------------------------------------------
# the loops are gradland.train.fit, with the numbers of the loops they replaced
# --------------------------------------------------------------------------


def _adam_loop(parameters, loss, steps, lr):
    """The loop that fit and fit_contrastive ran before they used gradland.train.fit,
    written out."""
    optimizer = torch.optim.Adam(parameters, lr=lr)
    losses = []
    for _ in range(steps):
        value = loss()
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        losses.append(value.item())
    return losses


def test_fit_gives_the_losses_of_the_hand_written_loop():
    y = horn(16, x=1.0, noise=0.1, seed=0).y
    ours = fit(LatentEBM(EllipseDecoder()), y, GRID, 3.0, steps=20, lr=0.05)
    model = LatentEBM(EllipseDecoder())
    assert ours == _adam_loop(model.parameters(), lambda: model.free_energy(y, GRID, 3.0).mean(), 20, 0.05)


def test_fit_contrastive_gives_the_losses_and_samples_of_the_hand_written_loop():
    y = horn(16, x=1.0, noise=0.1, seed=0).y
    ours, ours_hat = fit_contrastive(EnergyMLP(d_hidden=8), y, steps=15, lr=0.02, langevin_steps=2, seed=4)
    energy, generator = EnergyMLP(d_hidden=8), torch.Generator().manual_seed(4)
    y_hat = []

    def loss():
        start = (2 * torch.rand(y.shape, generator=generator) - 1) * 3.0
        y_hat[:] = [langevin(energy, start, steps=2, generator=generator)]
        return contrastive_loss(energy(y), energy(y_hat[0]))

    assert ours == _adam_loop(energy.parameters(), loss, 15, 0.02)
    assert torch.equal(ours_hat, y_hat[0])


def test_a_diverging_run_stops_with_its_step():
    y = horn(16, x=1.0, seed=0).y
    model = LatentEBM(EllipseDecoder())
    with pytest.raises(FloatingPointError, match="at step 2"):
        fit(model, y, GRID, math.inf, steps=5, lr=1e30)


# --------------------------------------------------------------------------
# bad hyper-parameters and inputs get an error that names them
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, error, message",
    [
        ({"steps": -1}, ValueError, "steps must be at least 0; got -1"),
        ({"steps": 2.5}, TypeError, "steps must be an int; got float"),
        ({"lr": math.inf}, ValueError, "lr must be a finite number; got inf"),
        ({"lr": 0.0}, ValueError, "lr must be positive; got 0.0"),
        ({"lr": "0.01"}, TypeError, "lr must be a real number; got str"),
        (
            {"y": torch.zeros(0, 2)},
            ValueError,
            r"y must have shape \(n, 2\) with n >= 1, one point per row; got a tensor of shape \(0, 2\)",
        ),
    ],
)
def test_fit_checks_its_hyper_parameters_and_data(change, error, message):
    args = {"y": torch.zeros(3, 2)} | change
    with pytest.raises(error, match=message):
        fit(LatentEBM(EllipseDecoder()), args.pop("y"), GRID, 1.0, **args)


@pytest.mark.parametrize(
    "change, error, message",
    [
        ({"beta": 0.0}, ValueError, "beta must be a positive inverse temperature"),
        ({"y": [[0.0, 0.0]]}, TypeError, r"y must be a torch.Tensor of shape \(n, 2\); got list"),
        ({"y": torch.zeros(3, 2, dtype=torch.int64)}, TypeError, "y must have a floating-point dtype"),
        ({"y": torch.zeros(3, 3)}, ValueError, r"y must have shape \(n, 2\)"),
        ({"z_grid": GRID.reshape(1, -1, 1)}, ValueError, r"z_grid must have shape \(K,\) with K >= 1"),
        ({"z_grid": torch.zeros(0)}, ValueError, r"z_grid must have shape \(K,\) with K >= 1"),
        ({"z_grid": [0.0, 1.0]}, TypeError, r"z_grid must be a torch.Tensor of shape \(K,\) with K >= 1; got list"),
        ({"x": torch.zeros(1)}, ValueError, r"x must have shape \(3,\), one entry per row of y"),
        ({"model": EllipseDecoder()}, TypeError, "model must be a gradland.ebm.LatentEBM; got EllipseDecoder"),
    ],
)
def test_fit_and_force_check_their_model_data_and_grid(change, error, message):
    model = LatentEBM(HornDecoder(d_hidden=4) if "x" in change else EllipseDecoder())
    args = {"model": model, "y": torch.zeros(3, 2), "z_grid": GRID, "beta": 1.0, "x": None} | change
    with pytest.raises(error, match=message):
        force(**args)
    with pytest.raises(error, match=message):
        fit(**args)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"steps": -1}, ValueError, "steps must be at least 0; got -1"),
        ({"steps": 2.5}, TypeError, "steps must be an int; got float"),
        ({"step_size": math.inf}, ValueError, "step_size must be a finite number; got inf"),
        ({"step_size": None}, TypeError, "step_size must be a real number; got NoneType"),
        ({"noise": math.inf}, ValueError, "noise must be a finite number; got inf"),
        ({"noise": -0.1}, ValueError, "noise must be at least 0.0; got -0.1"),
        ({"generator": 3}, TypeError, "generator must be a torch.Generator or None; got int"),
    ],
)
def test_langevin_checks_its_hyper_parameters(kwargs, error, message):
    with pytest.raises(error, match=message):
        langevin(lambda y: y.square().sum(dim=1), torch.ones(3, 2), **kwargs)
    with pytest.raises(TypeError, match="energy must be a function; got NoneType"):
        langevin(None, torch.ones(3, 2))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"steps": -1}, ValueError, "steps must be at least 0; got -1"),
        ({"lr": math.inf}, ValueError, "lr must be a finite number; got inf"),
        ({"box": math.inf}, ValueError, "box must be a finite number; got inf"),
        ({"box": "3"}, TypeError, "box must be a real number; got str"),
        ({"margin": math.inf}, ValueError, "margin must be a finite number; got inf"),
        ({"langevin_steps": -1}, ValueError, "langevin_steps must be at least 0; got -1"),
        ({"langevin_steps": 2.5}, TypeError, "langevin_steps must be an int; got float"),
        ({"seed": 0.5}, TypeError, "seed must be an int; got float"),
        ({"y": torch.zeros(0, 2)}, ValueError, r"y must have shape \(n, 2\) with n >= 1"),
        (
            {"energy": lambda y: y.sum(dim=1)},
            TypeError,
            "energy must be a torch.nn.Module, such as EnergyMLP; got function",
        ),
    ],
)
def test_fit_contrastive_checks_its_hyper_parameters(kwargs, error, message):
    args = {"energy": EnergyMLP(d_hidden=4), "y": torch.zeros(3, 2)}
    args.update(kwargs)
    with pytest.raises(error, match=message):
        fit_contrastive(args.pop("energy"), args.pop("y"), **args)


def test_energy_mlp_and_fourier_decoder_refuse_another_dtype_instead_of_casting():
    with pytest.raises(TypeError, match="y must have the model's dtype torch.float32"):
        EnergyMLP(d_hidden=4)(torch.zeros(3, 2, dtype=torch.float64))
    with pytest.raises(TypeError, match="d_hidden must be an int; got bool"):
        EnergyMLP(d_hidden=True)
    dec = FourierDecoder(harmonics=3)
    z = torch.linspace(0, 2 * math.pi, 11)
    with pytest.raises(TypeError, match="z must have the decoder's dtype torch.float32; got .*float64"):
        dec(z.double())
    with pytest.raises(TypeError, match="z must have a floating-point dtype"):
        dec(torch.zeros(3, dtype=torch.int64))
    with pytest.raises(TypeError, match="harmonics must be an int; got bool"):
        FourierDecoder(harmonics=True)
    with pytest.raises(ValueError, match="harmonics must be at least 1; got 0"):
        FourierDecoder(harmonics=0)
    double = FourierDecoder(harmonics=3).double()  # converting the module is the way
    torch.testing.assert_close(double(z.double()).float(), dec(z))


# ---------------------------------------------------------------- the bad-input battery (tests/badinput.py)

T = Arg("tensor")
OPTIONAL = Arg("tensor", accepts=("None",))  # x: None is an unconditional model
BETA = Arg("real", positive=True, accepts=("inf", "tensor"))  # math.inf, and a one-number tensor, by design
STEPS = Arg("int", minimum=0)
RATE = Arg("real", positive=True)
ANGLES = Arg("tensor", accepts=("extra-dim", "missing-dim", "wrong-size"))  # angles of any shape
BATTERY_GRID = torch.linspace(0, 2 * math.pi, 9)[:-1]
GRID_ARG = Arg("tensor", accepts=("wrong-size",))  # a grid of any K >= 1
KIND = Arg("custom", custom={"other": "wasserstein", "upper": "Hinge"})


def _points(n=4):
    return horn(n, x=1.0).y


def _method(model, name):
    return lambda **arguments: getattr(model, name)(**arguments)


SPECS = [
    (
        "contrastive.fit",
        fit,
        lambda: {
            "model": LatentEBM(EllipseDecoder()),
            "y": _points(),
            "z_grid": BATTERY_GRID,
            "beta": 1.0,
            "x": None,
            "steps": 1,
            "lr": 0.01,
        },
        {
            "model": Arg(
                "custom",
                custom={"None": None, "decoder": EllipseDecoder(), "fixed": LatentEBM(lambda z: horn_manifold(1.0, z))},
            ),
            "y": T,
            "z_grid": GRID_ARG,
            "beta": BETA,
            "x": Arg("custom", custom={"str": "x", "tensor": torch.ones(4)}),  # an unconditional model refuses x
            "steps": STEPS,
            "lr": RATE,
        },
    ),
    (
        "contrastive.fit-conditional",
        fit,
        lambda: {
            "model": LatentEBM(HornDecoder(d_hidden=4)),
            "y": _points(),
            "z_grid": BATTERY_GRID,
            "beta": 1.0,
            "x": torch.ones(4),
            "steps": 1,
            "lr": 0.01,
        },
        {"x": T},
    ),
    (
        "contrastive.force",
        force,
        lambda: {"model": LatentEBM(EllipseDecoder()), "y": _points(), "z_grid": BATTERY_GRID, "beta": 1.0, "x": None},
        {
            "model": Arg("custom", custom={"None": None, "decoder": EllipseDecoder()}),
            "y": T,
            "z_grid": GRID_ARG,
            "beta": BETA,
            "x": Arg("custom", custom={"str": "x", "tensor": torch.ones(4)}),
        },
    ),
    (
        "contrastive.force-conditional",
        force,
        lambda: {
            "model": LatentEBM(HornDecoder(d_hidden=4)),
            "y": _points(),
            "z_grid": BATTERY_GRID,
            "beta": 1.0,
            "x": torch.ones(4),
        },
        {"x": T},
    ),
    (
        "contrastive.FourierDecoder",
        FourierDecoder,
        lambda: {"harmonics": 4, "seed": 0},
        {"harmonics": Arg("int", minimum=1), "seed": Arg("int")},
    ),
    (
        "contrastive.FourierDecoder.forward",
        lambda z: FourierDecoder(4)(z),
        lambda: {"z": torch.rand(3, 5)},
        {"z": ANGLES},
    ),
    (
        "contrastive.EnergyMLP",
        EnergyMLP,
        lambda: {"d_hidden": 8, "seed": 0},
        {"d_hidden": Arg("int", minimum=1), "seed": Arg("int")},
    ),
    ("contrastive.EnergyMLP.forward", lambda y: EnergyMLP(8)(y), lambda: {"y": torch.zeros(5, 2)}, {"y": T}),
    (
        "contrastive.contrastive_loss",
        contrastive_loss,
        lambda: {"e_pos": torch.tensor([0.2, 0.5]), "e_neg": torch.tensor([2.0, 0.5]), "kind": "hinge", "margin": 1.0},
        {
            "e_pos": T,
            "e_neg": T,
            "kind": Arg("custom", custom={"None": None, **KIND.custom}),
            "margin": Arg("real", positive=True),
        },
    ),
    (
        "contrastive.langevin",
        langevin,
        lambda: {
            "energy": lambda y: y.square().sum(dim=1),
            "y0": torch.ones(3, 2),
            "steps": 2,
            "step_size": 0.1,
            "noise": 0.05,
            "generator": torch.Generator().manual_seed(0),
        },
        {
            "energy": Arg("callable"),
            "y0": Arg("tensor", omit=("meta",)),  # the only tensor: nothing to mismatch
            "steps": STEPS,
            "step_size": RATE,
            "noise": Arg("real", custom={"negative": -1.0}),
            "generator": Arg("custom", accepts=("None",), custom={"None": None, "int": 0, "str": "cpu"}),
        },
    ),
    (
        "contrastive.fit_contrastive",
        fit_contrastive,
        lambda: {
            "energy": EnergyMLP(8),
            "y": _points(),
            "kind": "hinge",
            "margin": 1.0,
            "steps": 1,
            "lr": 0.01,
            "box": 3.0,
            "langevin_steps": 1,
            "seed": 0,
        },
        {
            "energy": Arg("custom", custom={"None": None, "function": lambda y: y.sum(dim=1)}),
            "y": T,
            "kind": KIND,
            "margin": RATE,
            "steps": STEPS,
            "lr": RATE,
            "box": RATE,
            "langevin_steps": STEPS,
            "seed": Arg("int"),
        },
    ),
]
test_the_valid_call_works, test_bad_input_gets_a_clear_error = battery(SPECS)
