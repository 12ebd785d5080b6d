"""Tests of gradland.ae: the four autoencoders, the KL, the ELBO bound and training."""

from __future__ import annotations

import math

import pytest
import torch
from badinput import Arg, battery
from gradland import ae
from gradland.data import horn
from gradland.layers import mlp
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def small(cls, d_y=2, d_z=2, **kwargs):
    out = 2 * d_z if cls is ae.VariationalAutoencoder else d_z
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
    "cls", [ae.Autoencoder, ae.DenoisingAutoencoder, ae.ContractiveAutoencoder, ae.VariationalAutoencoder]
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
    with pytest.raises(ValueError, match="likelihood"):
        small(ae.VariationalAutoencoder, likelihood="poisson")
    with pytest.raises(ValueError, match="likelihood"):
        small(ae.VariationalAutoencoder, likelihood=["gaussian"])
    with pytest.raises(ValueError, match=r"2 d_z"):
        ae.VariationalAutoencoder(mlp([2, 3]), mlp([2, 2])).encode(torch.zeros(1, 2))


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
        (ae.VariationalAutoencoder, "scale", 0.0, ValueError, "scale must be positive"),
        (ae.VariationalAutoencoder, "scale", math.inf, ValueError, "scale must be a finite number"),
        (ae.VariationalAutoencoder, "scale", "0.1", TypeError, "scale must be a real number"),
        (ae.VariationalAutoencoder, "scale", None, TypeError, "scale must be a real number"),
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
    out = 4 if cls is ae.VariationalAutoencoder else 2
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


def test_train_refuses_data_outside_the_unit_interval_for_a_bernoulli_vae():
    vae = small(ae.VariationalAutoencoder, likelihood="bernoulli")
    with pytest.raises(ValueError, match=r"data must have entries in \[0, 1\].*from -1 to 2"):
        ae.train(vae, torch.tensor([[0.5, -1.0], [2.0, 0.0]]), steps=1)
    ae.train(vae, torch.tensor([[0.5, 1.0], [0.0, 0.25]]), steps=1)  # probabilities are fine


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


@pytest.mark.parametrize("activation, derivative", [
    (nn.Sigmoid(), lambda h: h * (1 - h)),
    (nn.Tanh(), lambda h: 1 - h**2),
])
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


# --- the variational autoencoder -----------------------------------------------------


@settings(max_examples=10, deadline=None)
@given(
    st.lists(st.floats(-2, 2), min_size=3, max_size=3),
    st.lists(st.floats(-2, 1), min_size=3, max_size=3),
)
def test_closed_form_kl_equals_a_monte_carlo_estimate(mu, logvar):
    mu, logvar = torch.tensor(mu, dtype=torch.float64), torch.tensor(logvar, dtype=torch.float64)
    torch.manual_seed(0)
    z = ae.reparameterise(mu, logvar, samples=20_000)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(3, dtype=torch.float64), 1.0)
    terms = (q.log_prob(z) - p.log_prob(z)).sum(dim=1)
    mc, se = terms.mean(), terms.std() / math.sqrt(len(terms))
    closed = ae.gaussian_kl(mu, logvar)
    assert abs(closed - mc) < 4 * se + 1e-9
    torch.testing.assert_close(closed, torch.distributions.kl_divergence(q, p).sum())


def test_kl_is_zero_only_at_the_prior():
    assert ae.gaussian_kl(torch.zeros(4), torch.zeros(4)) == 0
    assert ae.gaussian_kl(torch.tensor([0.1, 0.0]), torch.zeros(2)) > 0
    assert ae.gaussian_kl(torch.zeros(2), torch.tensor([0.1, 0.0])) > 0


def test_reparameterisation_gives_gradients_to_mu_and_logvar():
    mu = torch.tensor([0.5, -1.0], requires_grad=True)
    logvar = torch.tensor([0.2, -0.4], requires_grad=True)
    torch.manual_seed(0)
    z = ae.reparameterise(mu, logvar, samples=5)
    eps = (z - mu) / (0.5 * logvar).exp()
    z.sum().backward()
    torch.testing.assert_close(mu.grad, torch.full((2,), 5.0))
    # dz/dlogvar = eps * sigma / 2, summed over the samples
    torch.testing.assert_close(logvar.grad, (0.5 * eps * (0.5 * logvar).exp()).sum(dim=0).detach())


def test_reparameterise_checks_its_arguments():
    with pytest.raises(ValueError, match="same shape"):
        ae.reparameterise(torch.zeros(2), torch.zeros(3))
    with pytest.raises(TypeError, match="floating"):
        ae.gaussian_kl(torch.zeros(2, dtype=torch.int64), torch.zeros(2))
    with pytest.raises(ValueError, match="samples must be at least 1; got 0"):
        ae.reparameterise(torch.zeros(2), torch.zeros(2), samples=0)
    with pytest.raises(TypeError, match="samples must be an int; got bool"):
        ae.reparameterise(torch.zeros(2), torch.zeros(2), samples=True)


def test_vae_methods_check_their_inputs():
    vae = small(ae.VariationalAutoencoder)
    for n, error, message in [(-1, ValueError, "n must be at least 1"), (2.5, TypeError, "n must be an int"),
                              (None, TypeError, "n must be an int")]:
        with pytest.raises(error, match=message):
            vae.sample(n)
    with pytest.raises(TypeError, match="samples must be an int; got bool"):
        vae.elbo(torch.zeros(3, 2), samples=True)
    with pytest.raises(ValueError, match=r"z must have one row per row of y, \(3, 2\)"):
        vae.log_likelihood(torch.zeros(3, 2), torch.zeros(4, 2))


@pytest.mark.parametrize("y", [torch.tensor([[2.0, 0.0]]), torch.tensor([[0.5, -1.0]])])
def test_a_bernoulli_vae_refuses_targets_outside_the_unit_interval(y):
    vae = small(ae.VariationalAutoencoder, likelihood="bernoulli")
    for method in (vae.elbo, vae.energy, vae.loss, lambda y: vae.log_likelihood(y, torch.zeros(1, 2))):
        with pytest.raises(ValueError, match=r"y must have entries in \[0, 1\] for the Bernoulli likelihood"):
            method(y)
    assert vae.elbo(y.clamp(0, 1)).isfinite().all()


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
        st.text(max_size=3), st.none(), st.booleans(), st.lists(st.floats(0, 1), max_size=2),
    ),
)
def test_bad_hyperparameters_always_get_a_named_error(name, value):
    """No bad number passes: a non-finite or out-of-range float is a ValueError, anything else a
    TypeError, and both name the argument."""
    cls = {"noise": ae.DenoisingAutoencoder, "mask": ae.DenoisingAutoencoder, "lam": ae.ContractiveAutoencoder,
           "scale": ae.VariationalAutoencoder, "lr": ae.Autoencoder}[name]
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


def linear_gaussian_vae(exact: bool):
    """p(z) = N(0, I), p(y | z) = N(W z + b, s^2 I), with W of orthogonal columns so that
    the exact posterior N(M^-1 W^T (y - b) / s^2, M^-1), M = W^T W / s^2 + I, is diagonal."""
    d_y, d_z, s = 4, 2, 0.5
    generator = torch.Generator().manual_seed(0)
    Q, _ = torch.linalg.qr(torch.randn(d_y, d_z, generator=generator, dtype=torch.float64))
    W = Q * torch.tensor([2.0, 0.7], dtype=torch.float64)
    b = torch.randn(d_y, generator=generator, dtype=torch.float64)
    decoder = nn.Linear(d_z, d_y).double()
    encoder = nn.Linear(d_y, 2 * d_z).double()
    precision = (W**2).sum(dim=0) / s**2 + 1.0  # the diagonal of M
    with torch.no_grad():
        decoder.weight.copy_(W)
        decoder.bias.copy_(b)
        A = (W / s**2 / precision).T  # M^-1 W^T / s^2, shape (d_z, d_y)
        encoder.weight.zero_()
        encoder.bias.zero_()
        if exact:
            encoder.weight[:d_z] = A
            encoder.bias[:d_z] = -A @ b
            encoder.bias[d_z:] = -precision.log()
        else:
            encoder.bias[d_z:] = -1.0
    vae = ae.VariationalAutoencoder(encoder, decoder, likelihood="gaussian", scale=s)
    evidence = torch.distributions.MultivariateNormal(b, W @ W.T + s**2 * torch.eye(d_y, dtype=torch.float64))
    return vae, evidence


def test_elbo_is_below_the_log_likelihood_and_reaches_it_with_the_exact_posterior():
    y = torch.randn(5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(0)
    with torch.no_grad():
        exact, evidence = linear_gaussian_vae(exact=True)
        crude, _ = linear_gaussian_vae(exact=False)
        log_p = evidence.log_prob(y)
        elbo_exact = exact.elbo(y, samples=20_000)
        elbo_crude = crude.elbo(y, samples=2_000)
    assert (elbo_crude < log_p - 0.1).all()
    torch.testing.assert_close(elbo_exact, log_p, atol=0.02, rtol=0)


def test_bernoulli_log_likelihood_is_the_negative_cross_entropy():
    vae = small(ae.VariationalAutoencoder, d_y=3, likelihood="bernoulli")
    y, z = torch.tensor([[1.0, 0.0, 1.0]]), torch.randn(1, 2)
    p = torch.sigmoid(vae.decode(z))
    expected = (y * p.log() + (1 - y) * (1 - p).log()).sum(dim=1)
    torch.testing.assert_close(vae.log_likelihood(y, z), expected)
    assert ((vae.sample(4) > 0) & (vae.sample(4) < 1)).all()


# --- training -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        (ae.Autoencoder, {}),
        (ae.DenoisingAutoencoder, {"noise": 0.3}),
        (ae.ContractiveAutoencoder, {"lam": 0.1}),
        (ae.VariationalAutoencoder, {"scale": 0.3}),
    ],
)
def test_training_lowers_the_loss(cls, kwargs):
    y = horn(128, x=1.0, noise=0.05, seed=3).y
    model = small(cls, d_z=1, **kwargs)

    def full_loss():
        torch.manual_seed(0)
        with torch.no_grad() if cls is not ae.ContractiveAutoencoder else torch.enable_grad():
            return model.loss(y).item()

    before = full_loss()
    history = ae.train(model, y, steps=100, lr=1e-2, batch_size=64, seed=0)
    assert len(history.loss) == 100 and history.lr == [1e-2] * 100
    assert full_loss() < 0.7 * before


def test_training_is_reproducible_and_leaves_the_global_state_alone():
    y = horn(64, x=1.0, seed=0).y
    state = torch.random.get_rng_state()
    runs = [ae.train(small(ae.DenoisingAutoencoder, noise=0.2), y, steps=20, seed=7).loss for _ in range(2)]
    assert runs[0] == runs[1]
    assert torch.equal(torch.random.get_rng_state(), state)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_every_autoencoder_trains_on_the_gpu():
    y = horn(256, x=1.0, device="cuda").y
    models = [
        ae.Autoencoder(mlp([2, 16, 1]), mlp([1, 16, 2], seed=1)),
        ae.VariationalAutoencoder(mlp([2, 16, 2]), mlp([1, 16, 2], seed=1)),
    ]
    for model in models:
        model = model.to("cuda")
        losses = ae.train(model, y, steps=50, lr=0.02).loss
        assert losses[-1] < losses[0]
        assert model.energy(y).device.type == "cuda"


# --- the bad-input battery (tests/badinput.py) ------------------------------------------

T = Arg("tensor")
MODULE = Arg("custom", custom={"None": None, "function": lambda y: y, "tensor": torch.ones(2)})


def _model(cls, **kwargs):
    out = 4 if cls is ae.VariationalAutoencoder else 1
    return cls(mlp([2, 8, out]), mlp([2 if cls is ae.VariationalAutoencoder else 1, 8, 2], seed=1), **kwargs)


def _method(cls, name, **kwargs):
    model = _model(cls, **kwargs)
    return lambda **arguments: getattr(model, name)(**arguments)


def _batch():
    return {"y": horn(6, x=1.0).y}


SPECS = [
    ("ae.Autoencoder", ae.Autoencoder,
     lambda: {"encoder": mlp([2, 4, 1]), "decoder": mlp([1, 4, 2]), "d_y": 2, "d_z": 1},
     {"encoder": MODULE, "decoder": MODULE, "d_y": Arg("int", minimum=1, accepts=("None",), custom={"other": 3}),
      "d_z": Arg("int", minimum=1, accepts=("None",), custom={"other": 2})}),
    ("ae.DenoisingAutoencoder", lambda **kw: _model(ae.DenoisingAutoencoder, **kw), lambda: {"noise": 0.1, "mask": 0.2},
     {"noise": Arg("real", custom={"negative": -0.1}), "mask": Arg("real", custom={"negative": -0.1, "one": 1.0})}),
    ("ae.ContractiveAutoencoder", lambda **kw: _model(ae.ContractiveAutoencoder, **kw), lambda: {"lam": 0.1},
     {"lam": Arg("real", custom={"negative": -0.1})}),
    ("ae.VariationalAutoencoder", lambda **kw: _model(ae.VariationalAutoencoder, **kw),
     lambda: {"likelihood": "gaussian", "scale": 0.5},
     {"likelihood": Arg("custom", custom={"None": None, "poisson": "poisson", "list": ["gaussian"]}),
      "scale": Arg("real", positive=True)}),
    *[(f"ae.{cls.__name__}.{name}", _method(cls, name), _batch, {"y": T})
      for cls in (ae.Autoencoder, ae.DenoisingAutoencoder, ae.ContractiveAutoencoder, ae.VariationalAutoencoder)
      for name in ("energy", "loss", "encode", "reconstruct")],
    ("ae.Autoencoder.decode", _method(ae.Autoencoder, "decode"), lambda: {"z": torch.zeros(3, 1)}, {"z": T}),
    ("ae.VariationalAutoencoder.elbo", _method(ae.VariationalAutoencoder, "elbo"),
     lambda: {"y": horn(6, x=1.0).y, "samples": 2}, {"y": T, "samples": Arg("int", minimum=1)}),
    ("ae.VariationalAutoencoder.sample", _method(ae.VariationalAutoencoder, "sample"), lambda: {"n": 3},
     {"n": Arg("int", minimum=1)}),
    ("ae.VariationalAutoencoder.log_likelihood", _method(ae.VariationalAutoencoder, "log_likelihood"),
     lambda: {"y": torch.zeros(3, 2), "z": torch.zeros(3, 2)}, {"y": T, "z": T}),
    ("ae.encoder_jacobian", ae.encoder_jacobian, lambda: {"encoder": nn.Linear(3, 2), "y": torch.randn(5, 3)},
     {"encoder": Arg("callable", custom={"batchnorm": nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2)),
                                         "returns-1d": lambda y: y.sum(1), "detached": lambda y: y.detach()}),
      "y": T}),
    ("ae.reparameterise", ae.reparameterise,
     lambda: {"mu": torch.zeros(3, 2), "logvar": torch.zeros(3, 2), "samples": 2},
     {"mu": T, "logvar": T, "samples": Arg("int", minimum=1, accepts=("None",))}),
    ("ae.gaussian_kl", ae.gaussian_kl, lambda: {"mu": torch.zeros(3, 2), "logvar": torch.zeros(3, 2)},
     {"mu": T, "logvar": T}),
    ("ae.train", ae.train,
     lambda: {"model": _model(ae.Autoencoder), "data": horn(16, x=1.0).y, "steps": 2, "lr": 0.01,
              "batch_size": 4, "seed": 0},
     {"model": Arg("custom", custom={"None": None, "linear": nn.Linear(2, 2)}), "data": T,
      "steps": Arg("int", minimum=1), "lr": Arg("real", positive=True), "batch_size": Arg("int", minimum=1),
      "seed": Arg("int")}),
]
test_the_valid_call_works, test_bad_input_gets_a_clear_error = battery(SPECS)
