"""Tests of gradland.gan: the losses, the networks, the training loop and the checks."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from badinput import Arg, battery
from gradland.data import horn
from gradland.gan import CostNet, GeneratorNet, cost_loss, generator_loss, train_gan
from hypothesis import given, settings
from hypothesis import strategies as st

energies = st.lists(st.floats(-5.0, 5.0), min_size=1, max_size=6).map(lambda v: torch.tensor(v, dtype=torch.float64))


pytestmark = pytest.mark.usefixtures("one_cpu_thread")


# ---------------------------------------------------------------- the losses


def test_logistic_cost_loss_is_the_cross_entropy_of_the_discriminator():
    data, fake = torch.tensor([0.3, -1.2, 2.0]), torch.tensor([1.5, -0.4])
    d_data, d_fake = torch.sigmoid(-data), torch.sigmoid(-fake)  # D = sigmoid(-C)
    expected = -torch.log(d_data).mean() - torch.log(1 - d_fake).mean()
    assert torch.allclose(cost_loss(data, fake, kind="logistic"), expected, atol=1e-6)
    assert torch.allclose(
        cost_loss(data, fake),
        F.binary_cross_entropy(d_data, torch.ones(3)) + F.binary_cross_entropy(d_fake, torch.zeros(2)),
    )


def test_hinge_cost_loss_matches_its_formula():
    data, fake = torch.tensor([0.5, 1.0]), torch.tensor([0.25, 2.0, 3.0])
    # mean C(y) = 0.75; [2 - C(y_hat)]_+ = 1.75, 0, 0 -> mean 7/12
    assert cost_loss(data, fake, kind="hinge", margin=2.0).item() == pytest.approx(0.75 + 1.75 / 3)


@settings(max_examples=30, deadline=None)
@given(energies, energies, st.sampled_from(["logistic", "hinge"]), st.floats(0.01, 1.0))
def test_cost_loss_falls_when_data_energy_falls_or_sample_energy_rises(data, fake, kind, delta):
    if kind == "hinge":
        data, fake = data.abs() + delta, fake.abs()
    base = cost_loss(data, fake, kind=kind, margin=3.0)
    assert cost_loss(data - delta, fake, kind=kind, margin=3.0) < base  # strictly: C(y) enters linearly
    assert cost_loss(data, fake + delta, kind=kind, margin=3.0) <= base
    if kind == "logistic":
        assert cost_loss(data, fake + delta) < base


def test_generator_losses_match_their_formulas_and_increase_with_the_energy():
    energy = torch.tensor([-1.0, 0.0, 2.0])
    assert torch.allclose(generator_loss(energy + 1, kind="hinge"), (energy + 1).mean())
    d = torch.sigmoid(-energy)
    assert torch.allclose(generator_loss(energy), -torch.log(d).mean())
    assert torch.allclose(generator_loss(energy, saturating=True), torch.log(1 - d).mean())
    for kwargs in ({"kind": "hinge"}, {}, {"saturating": True}):
        assert generator_loss(energy + 1.1, **kwargs) > generator_loss(energy + 1, **kwargs)


def test_the_hinge_losses_refuse_negative_energies_alike():
    """cost_loss(kind="hinge") refuses a negative energy, and so does its sibling."""
    negative, zero = torch.tensor([1.0, -0.5]), torch.zeros(2)
    with pytest.raises(ValueError, match="energy_fake must have entries of at least 0 for the hinge loss"):
        cost_loss(zero, negative, kind="hinge")
    with pytest.raises(ValueError, match="energy_fake must have entries of at least 0 for the hinge loss"):
        generator_loss(negative, kind="hinge")
    assert generator_loss(negative).isfinite()  # the logistic kind takes any real energy


def test_saturating_loss_gives_vanishing_gradients_to_bad_samples():
    energy = torch.tensor([8.0], requires_grad=True)  # a sample the cost network finds very hot
    (g_sat,) = torch.autograd.grad(generator_loss(energy, saturating=True), energy)
    (g_non,) = torch.autograd.grad(generator_loss(energy), energy)
    assert g_sat.item() < 1e-3 < 0.99 < g_non.item()


# ---------------------------------------------------------------- the networks


def test_generator_output_shape_and_range():
    z = torch.randn(7, 3) * 10
    assert GeneratorNet(3, 64, 16, output="sigmoid")(z).shape == (7, 64)
    y = GeneratorNet(3, 64, 16, output="sigmoid")(z)
    assert bool(((y >= 0) & (y <= 1)).all())
    y = GeneratorNet(3, 5, 16, output="tanh")(z)
    assert bool((y.abs() <= 1).all())
    gen = GeneratorNet(2, 2, 16, latent="uniform")
    z = gen.sample_latent(500, generator=torch.Generator().manual_seed(0))
    assert z.shape == (500, 2) and bool((z.abs() <= 1).all())


def test_cost_net_shape_sign_and_seed():
    y = torch.randn(9, 4)
    assert CostNet(4, 8)(y).shape == (9,)
    assert bool((CostNet(4, 8, nonnegative=True)(y) >= 0).all())
    assert torch.equal(CostNet(4, 8, seed=3)(y), CostNet(4, 8, seed=3)(y))
    assert not torch.equal(CostNet(4, 8, seed=3)(y), CostNet(4, 8, seed=4)(y))


def test_generator_step_sends_gradient_to_g_only():
    torch.manual_seed(0)
    cost, gen = CostNet(2, 8), GeneratorNet(1, 2, 8)
    loss = generator_loss(cost(gen(torch.randn(16, 1))))
    g_grads = torch.autograd.grad(loss, list(gen.parameters()), retain_graph=True)
    assert all(g.abs().sum() > 0 for g in g_grads)
    # train_gan: after a step C holds no gradient from the generator's loss, and C's
    # weights are exactly those of its own Adam step: the generator's step left them alone.
    data = horn(64, x=1.0).y
    expected = copy.deepcopy(cost)
    rng = torch.Generator().manual_seed(0)  # train_gan's draws: the data batch, then the latents
    y = data[torch.randint(len(data), (64,), generator=rng)]
    with torch.no_grad():
        y_hat = gen(gen.sample_latent(64, generator=rng))
    optimiser = torch.optim.Adam(expected.parameters(), lr=1e-3, betas=(0.5, 0.999))
    cost_loss(expected(y), expected(y_hat)).backward()
    optimiser.step()
    train_gan(cost, gen, data, steps=1)
    assert all(p.grad is None for p in cost.parameters())
    assert all(torch.equal(a, p) for a, p in zip(expected.parameters(), cost.parameters()))


# ---------------------------------------------------------------- training


@pytest.mark.parametrize("kind", ["logistic", "hinge"])
def test_training_lowers_the_cost_loss_and_the_energy_of_data(kind, device):
    torch.manual_seed(0)
    data = horn(256, x=1.0, noise=0.03, device=device).y
    cost, gen = CostNet(2, (32, 32), nonnegative=kind == "hinge").to(device), GeneratorNet(1, 2, (32, 32)).to(device)
    with torch.no_grad():
        initial = gen(gen.sample_latent(256, generator=torch.Generator().manual_seed(1)))
        before = cost_loss(cost(data), cost(initial), kind=kind)
    assert initial.device.type == device.type
    history = train_gan(cost, gen, data, steps=150, kind=kind, batch_size=64, lr_cost=2e-3, lr_generator=1e-3)
    assert len(history.cost_loss) == 150 and all(math.isfinite(v) for v in history.cost_loss)
    with torch.no_grad():
        # the trained C separates data from the initial generator's samples better than it did
        assert cost_loss(cost(data), cost(initial), kind=kind) < before
        assert cost(data).mean() < cost(initial).mean()


def test_snapshots_are_frozen_copies():
    cost, gen = CostNet(2, 8), GeneratorNet(1, 2, 8)
    history = train_gan(cost, gen, horn(64, x=1.0).y, steps=5, snapshot_at=[0, 5])
    c0, g0 = history.snapshots[0]
    c5, _ = history.snapshots[5]
    y = torch.zeros(1, 2)
    assert c0 is not cost and torch.equal(c5(y), cost(y)) and not torch.equal(c0(y), cost(y))
    assert not g0.training


# ---------------------------------------------------------------- checks at the boundary


def test_shape_dtype_and_device_errors_are_clear():
    cost, gen = CostNet(2, 8), GeneratorNet(1, 2, 8)
    with pytest.raises(ValueError, match=r"shape \(n, 2\).*\(5, 3\)"):
        cost(torch.zeros(5, 3))
    with pytest.raises(TypeError, match="y must have the model's dtype torch.float32.*float64"):
        cost(torch.zeros(5, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"shape \(n, 1\)"):
        gen(torch.zeros(5))
    with pytest.raises(ValueError, match="device"):
        cost(torch.zeros(5, 2, device="meta"))
    with pytest.raises(ValueError, match=r"shape \(n,\)"):
        cost_loss(torch.zeros(3, 1), torch.zeros(3))
    with pytest.raises(TypeError, match="floating"):
        generator_loss(torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="kind must be one of"):
        cost_loss(torch.zeros(3), torch.zeros(3), kind="wasserstein")
    with pytest.raises(ValueError, match="energy_data must have entries of at least 0 for the hinge loss"):
        cost_loss(torch.tensor([-1.0]), torch.zeros(1), kind="hinge")
    with pytest.raises(
        ValueError, match="energy_fake must have entries of at least 0 for the hinge loss.*got values from -inf"
    ):
        cost_loss(torch.zeros(1), torch.tensor([1.0, -math.inf]), kind="hinge")
    with pytest.raises(ValueError, match="margin must be positive"):
        cost_loss(torch.zeros(1), torch.zeros(1), kind="hinge", margin=0.0)
    with pytest.raises(ValueError, match="non-negative cost network"):
        train_gan(cost, gen, torch.zeros(4, 2), steps=1, kind="hinge")
    with pytest.raises(ValueError, match="gen makes points of size d = 3, the cost network reads d = 2"):
        train_gan(cost, GeneratorNet(1, 3, 8), torch.zeros(4, 2), steps=1)
    with pytest.raises(ValueError, match="snapshot_at"):
        train_gan(cost, gen, torch.zeros(4, 2), steps=1, snapshot_at=[2])
    with pytest.raises(ValueError, match="output must be one of"):
        GeneratorNet(1, 2, output="relu")


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: CostNet(True), TypeError, "d must be an int; got bool"),
        (lambda: CostNet(0), ValueError, "d must be at least 1; got 0"),
        (lambda: CostNet(2, d_hidden=(16, 0)), ValueError, r"d_hidden\[1\] must be at least 1; got 0"),
        (lambda: CostNet(2, d_hidden="16"), TypeError, "d_hidden must be a sequence of ints; got str"),
        (lambda: CostNet(2, d_hidden=(16.0,)), TypeError, r"d_hidden\[0\] must be an int; got float"),
        (lambda: CostNet(2, seed=1.5), TypeError, "seed must be an int; got float"),
        (lambda: GeneratorNet(True, 2), TypeError, "d_z must be an int; got bool"),
        (lambda: GeneratorNet(1, 2.0), TypeError, "d must be an int; got float"),
        (lambda: GeneratorNet(1, 2, latent="cauchy"), ValueError, "latent must be one of"),
        (lambda: GeneratorNet(1, 2).sample_latent(True), TypeError, "n must be an int; got bool"),
        (lambda: GeneratorNet(1, 2).sample_latent(0), ValueError, "n must be at least 1; got 0"),
        (lambda: GeneratorNet(1, 2).sample_latent(3, generator=0), TypeError, "generator must be a torch.Generator"),
        (lambda: GeneratorNet(1, 2)(torch.zeros(0, 1)), ValueError, r"z must have shape \(n, 1\) with n >= 1"),
        (lambda: cost_loss(torch.zeros(2), torch.zeros(2), margin=math.inf), ValueError, "margin must be a finite"),
        (lambda: cost_loss(torch.zeros(2), torch.zeros(2), margin="0.1"), TypeError, "margin must be a real number"),
        (lambda: cost_loss(torch.zeros(2), torch.zeros(2), margin=None), TypeError, "margin must be a real number"),
        (lambda: cost_loss(torch.zeros(2), torch.zeros(2), margin=True), TypeError, "margin must be a real number"),
        (lambda: cost_loss(torch.zeros(0), torch.zeros(2)), ValueError, r"energy_data must have shape \(n,\)"),
        (lambda: cost_loss(torch.zeros(2), [0.0]), TypeError, "energy_fake must be a torch.Tensor of shape"),
        (lambda: generator_loss(torch.zeros(2), kind="hinge", saturating=True), ValueError, "saturating=True"),
    ],
)
def test_networks_and_losses_check_their_inputs(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"lr_cost": math.inf}, ValueError, "lr_cost must be a finite number; got inf"),
        ({"lr_generator": math.inf}, ValueError, "lr_generator must be a finite number; got inf"),
        ({"lr_cost": 0.0}, ValueError, "lr_cost must be positive"),
        ({"lr_generator": "0.1"}, TypeError, "lr_generator must be a real number; got str"),
        ({"betas": (0.5,)}, ValueError, r"betas must be a pair of numbers \(beta_1, beta_2\); got 1 of them"),
        ({"betas": None}, TypeError, "betas must be a pair of numbers"),
        ({"betas": (1.0, 0.9)}, ValueError, r"betas\[0\] must be below 1"),
        ({"betas": (0.5, math.nan)}, ValueError, r"betas\[1\] must be a finite number"),
        ({"snapshot_at": 5}, TypeError, "snapshot_at must be a sequence of ints; got int"),
        ({"snapshot_at": [True]}, TypeError, r"snapshot_at\[0\] must be an int; got bool"),
        ({"snapshot_at": [0, 3]}, ValueError, r"snapshot_at\[1\] must be at most 2; got 3"),
        ({"steps": -1}, ValueError, "steps must be at least 0; got -1"),
        ({"steps": 2.0}, TypeError, "steps must be an int; got float"),
        ({"batch_size": 0}, ValueError, "batch_size must be at least 1"),
        ({"margin": math.inf}, ValueError, "margin must be a finite number"),
        ({"seed": None}, TypeError, "seed must be an int; got NoneType"),
        ({"kind": "wasserstein"}, ValueError, "kind must be one of"),
    ],
)
def test_train_gan_checks_its_arguments(kwargs, error, message):
    cost, gen = CostNet(2, 8), GeneratorNet(1, 2, 8)
    with pytest.raises(error, match=message):
        train_gan(cost, gen, horn(16, x=1.0).y, **{"steps": 2, **kwargs})


def test_train_gan_names_the_networks_and_the_data():
    cost, gen = CostNet(2, 8), GeneratorNet(1, 2, 8)
    data = horn(16, x=1.0).y
    with pytest.raises(TypeError, match="cost must be a gradland.gan.CostNet; got Linear"):
        train_gan(torch.nn.Linear(2, 1), gen, data, 1)
    with pytest.raises(TypeError, match="gen must be a gradland.gan.GeneratorNet; got Generator"):
        train_gan(cost, torch.Generator(), data, 1)
    with pytest.raises(ValueError, match=r"data must have shape \(n, 2\) with n >= 1"):
        train_gan(cost, gen, data[:0], 1)
    with pytest.raises(TypeError, match="data must have the model's dtype"):
        train_gan(cost, gen, data.double(), 1)
    with pytest.raises(TypeError, match="data must have gen's dtype torch.float64"):
        train_gan(cost, gen.double(), data, 1)


def test_train_gan_records_the_named_series():
    history = train_gan(CostNet(2, 8), GeneratorNet(1, 2, 8), horn(32, x=1.0).y, steps=3, batch_size=8)
    assert {"cost_loss", "generator_loss", "energy_data", "energy_fake", "lr", "snapshots"} == set(history)
    assert all(len(history[name]) == 3 for name in ("cost_loss", "generator_loss", "energy_data", "energy_fake"))
    assert history.snapshots == {} and history.lr == [1e-3] * 3


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["lr_cost", "lr_generator", "margin"]),
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: not (0 < v < math.inf)),
        st.text(max_size=2),
        st.none(),
        st.booleans(),
    ),
)
def test_bad_rates_and_margins_never_reach_the_loop(name, value):
    error = ValueError if isinstance(value, float) else TypeError
    with pytest.raises(error, match=name):
        train_gan(CostNet(2, 4), GeneratorNet(1, 2, 4), horn(8, x=1.0).y, steps=1, **{name: value})


def test_logistic_optimum_is_the_log_density_ratio():
    """Minimised over the energies, the logistic cost loss sets C(y) = log(p_G(y) / p_data(y)).

    A world of two points, a and b: the data are a with probability 0.7, the generator's
    samples with probability 0.2. The cost network is a table of the two energies, and a
    batch holds the points in those proportions, so that cost_loss is the expected loss.
    """
    p_data, p_gen = torch.tensor([0.7, 0.3]), torch.tensor([0.2, 0.8])
    data = torch.tensor([0] * 7 + [1] * 3)  # indices of the points of a data batch
    fake = torch.tensor([0] * 2 + [1] * 8)  # and of a batch of samples
    energy = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS(
        [energy], max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-15, line_search_fn="strong_wolfe"
    )

    def closure():
        optimiser.zero_grad()
        loss = cost_loss(energy[data], energy[fake], kind="logistic")
        loss.backward()
        return loss

    optimiser.step(closure)
    expected = torch.log(p_gen / p_data).double()
    torch.testing.assert_close(energy.detach(), expected, atol=1e-6, rtol=0)


# ---------------------------------------------------------------- the bad-input battery (tests/badinput.py)

T = Arg("tensor")
ENERGIES = Arg("tensor", accepts=("wrong-size",))  # n data points and m samples: any two lengths
HIDDEN = Arg("custom", custom={"None": None, "str": "8", "zero": (8, 0), "float": (8.0,), "bool": True})
KIND = Arg("custom", custom={"None": None, "other": "wasserstein"})


def _gen_method(name):
    gen = GeneratorNet(1, 2, 8)
    return lambda **arguments: getattr(gen, name)(**arguments)


SPECS = [
    (
        "gan.CostNet",
        CostNet,
        lambda: {"d": 2, "d_hidden": (8,), "seed": 0},
        {"d": Arg("int", minimum=1), "d_hidden": HIDDEN, "seed": Arg("int")},
    ),
    ("gan.CostNet.forward", lambda y: CostNet(2, 8)(y), lambda: {"y": torch.zeros(3, 2)}, {"y": T}),
    (
        "gan.GeneratorNet",
        GeneratorNet,
        lambda: {"d_z": 1, "d": 2, "d_hidden": 8, "output": None, "latent": "normal"},
        {
            "d_z": Arg("int", minimum=1),
            "d": Arg("int", minimum=1),
            "d_hidden": HIDDEN,
            "output": Arg("custom", accepts=("None",), custom={"None": None, "relu": "relu"}),
            "latent": Arg("custom", custom={"None": None, "cauchy": "cauchy"}),
        },
    ),
    ("gan.GeneratorNet.forward", _gen_method("forward"), lambda: {"z": torch.zeros(3, 1)}, {"z": T}),
    (
        "gan.GeneratorNet.sample_latent",
        _gen_method("sample_latent"),
        lambda: {"n": 3, "generator": None},
        {"n": Arg("int", minimum=1), "generator": Arg("custom", custom={"int": 0, "str": "cpu"})},
    ),
    (
        "gan.cost_loss",
        cost_loss,
        lambda: {"energy_data": torch.zeros(3), "energy_fake": torch.ones(2), "kind": "hinge", "margin": 1.0},
        {"energy_data": ENERGIES, "energy_fake": ENERGIES, "kind": KIND, "margin": Arg("real", positive=True)},
    ),
    (
        "gan.generator_loss",
        generator_loss,
        lambda: {"energy_fake": torch.ones(2), "kind": "hinge"},
        {"energy_fake": Arg("tensor", accepts=("wrong-size",), omit=("meta",)), "kind": KIND},
    ),
    (
        "gan.train_gan",
        train_gan,
        lambda: {
            "cost": CostNet(2, 8),
            "gen": GeneratorNet(1, 2, 8),
            "data": horn(16, x=1.0).y,
            "steps": 2,
            "batch_size": 4,
            "margin": 1.0,
            "lr_cost": 1e-3,
            "lr_generator": 1e-3,
            "betas": (0.5, 0.9),
            "snapshot_at": [0],
            "seed": 0,
        },
        {
            "cost": Arg("custom", custom={"None": None, "gen": GeneratorNet(1, 2, 8)}),
            "gen": Arg("custom", custom={"None": None, "rng": torch.Generator(), "other-d": GeneratorNet(1, 3, 8)}),
            "data": T,
            "steps": Arg("int", minimum=0),
            "batch_size": Arg("int", minimum=1),
            "margin": Arg("real", positive=True),
            "lr_cost": Arg("real", positive=True),
            "lr_generator": Arg("real", positive=True),
            "betas": Arg("custom", custom={"None": None, "one": (0.5,), "nan": (math.nan, 0.9), "too-big": (1.0, 0.9)}),
            "snapshot_at": Arg("custom", custom={"int": 5, "late": [3], "float": [1.5]}),
            "seed": Arg("int"),
        },
    ),
]
test_the_valid_call_works, test_bad_input_gets_a_clear_error = battery(SPECS)


def test_hinge_training_reads_no_energy_back_at_its_steps(monkeypatch):
    """train_gan checks once that the cost network is non-negative; its steps call the
    losses with checked=True, so no step reads the energies' values (a device
    synchronisation on a GPU), while a direct call of the losses still checks them."""
    from gradland import _checks

    reads = []
    original = _checks.entries
    monkeypatch.setattr(_checks, "entries", lambda *a, **k: reads.append(a[0]) or original(*a, **k))
    cost, gen = CostNet(2, d_hidden=8, nonnegative=True), GeneratorNet(1, 2, d_hidden=8)
    train_gan(cost, gen, horn(64, x=1.0).y, steps=3, kind="hinge", batch_size=8)
    assert reads == []
    with pytest.raises(ValueError, match="energy_fake must have entries of at least 0"):
        generator_loss(torch.tensor([-1.0]), kind="hinge")
    assert reads == ["energy_fake"]
