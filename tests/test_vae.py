"""Tests of gradland.vae: the closed-form KL, the reparameterisation trick, the ELBO and
its bound, and the training of a variational autoencoder by gradland.ae.train."""

from __future__ import annotations

import math

import pytest
import torch
from badinput import Arg, battery
from gradland import ae
from gradland.data import horn
from gradland.layers import mlp
from gradland.vae import VariationalAutoencoder, gaussian_kl, reparameterise
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def small(d_y=2, d_z=2, **kwargs):
    return VariationalAutoencoder(mlp([d_y, 16, 2 * d_z]), mlp([d_z, 16, d_y], seed=1), **kwargs)


# --- the divergence and the reparameterisation trick --------------------------------


@settings(max_examples=10, deadline=None)
@given(
    st.lists(st.floats(-2, 2), min_size=3, max_size=3),
    st.lists(st.floats(-2, 1), min_size=3, max_size=3),
)
def test_closed_form_kl_equals_a_monte_carlo_estimate(mu, logvar):
    mu, logvar = torch.tensor(mu, dtype=torch.float64), torch.tensor(logvar, dtype=torch.float64)
    torch.manual_seed(0)
    z = reparameterise(mu, logvar, samples=20_000)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(3, dtype=torch.float64), 1.0)
    terms = (q.log_prob(z) - p.log_prob(z)).sum(dim=1)
    mc, se = terms.mean(), terms.std() / math.sqrt(len(terms))
    closed = gaussian_kl(mu, logvar)
    assert abs(closed - mc) < 4 * se + 1e-9
    torch.testing.assert_close(closed, torch.distributions.kl_divergence(q, p).sum())


def test_kl_is_zero_only_at_the_prior():
    assert gaussian_kl(torch.zeros(4), torch.zeros(4)) == 0
    assert gaussian_kl(torch.tensor([0.1, 0.0]), torch.zeros(2)) > 0
    assert gaussian_kl(torch.zeros(2), torch.tensor([0.1, 0.0])) > 0


def test_reparameterisation_gives_gradients_to_mu_and_logvar():
    mu = torch.tensor([0.5, -1.0], requires_grad=True)
    logvar = torch.tensor([0.2, -0.4], requires_grad=True)
    torch.manual_seed(0)
    z = reparameterise(mu, logvar, samples=5)
    eps = (z - mu) / (0.5 * logvar).exp()
    z.sum().backward()
    torch.testing.assert_close(mu.grad, torch.full((2,), 5.0))
    # dz/dlogvar = eps * sigma / 2, summed over the samples
    torch.testing.assert_close(logvar.grad, (0.5 * eps * (0.5 * logvar).exp()).sum(dim=0).detach())


def test_reparameterise_checks_its_arguments():
    with pytest.raises(ValueError, match="same shape"):
        reparameterise(torch.zeros(2), torch.zeros(3))
    with pytest.raises(TypeError, match="floating"):
        gaussian_kl(torch.zeros(2, dtype=torch.int64), torch.zeros(2))
    with pytest.raises(ValueError, match="samples must be at least 1; got 0"):
        reparameterise(torch.zeros(2), torch.zeros(2), samples=0)
    with pytest.raises(TypeError, match="samples must be an int; got bool"):
        reparameterise(torch.zeros(2), torch.zeros(2), samples=True)


# --- the model ---------------------------------------------------------------------


def test_constructor_arguments_are_checked():
    with pytest.raises(ValueError, match="likelihood"):
        small(likelihood="poisson")
    with pytest.raises(ValueError, match="likelihood"):
        small(likelihood=["gaussian"])
    with pytest.raises(ValueError, match=r"2 d_z"):
        VariationalAutoencoder(mlp([2, 3]), mlp([2, 2])).encode(torch.zeros(1, 2))


def test_vae_methods_check_their_inputs():
    vae = small()
    for n, error, message in [
        (-1, ValueError, "n must be at least 1"),
        (2.5, TypeError, "n must be an int"),
        (None, TypeError, "n must be an int"),
    ]:
        with pytest.raises(error, match=message):
            vae.sample(n)
    with pytest.raises(TypeError, match="samples must be an int; got bool"):
        vae.elbo(torch.zeros(3, 2), samples=True)
    with pytest.raises(ValueError, match=r"z must have one row per row of y, \(3, 2\)"):
        vae.log_likelihood(torch.zeros(3, 2), torch.zeros(4, 2))


@pytest.mark.parametrize("y", [torch.tensor([[2.0, 0.0]]), torch.tensor([[0.5, -1.0]])])
def test_a_bernoulli_vae_refuses_targets_outside_the_unit_interval(y):
    vae = small(likelihood="bernoulli")
    for method in (vae.elbo, vae.energy, vae.loss, lambda y: vae.log_likelihood(y, torch.zeros(1, 2))):
        with pytest.raises(ValueError, match=r"y must have entries in \[0, 1\] for the Bernoulli likelihood"):
            method(y)
    assert vae.elbo(y.clamp(0, 1)).isfinite().all()


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
    vae = VariationalAutoencoder(encoder, decoder, likelihood="gaussian", scale=s)
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
    vae = small(d_y=3, likelihood="bernoulli")
    y, z = torch.tensor([[1.0, 0.0, 1.0]]), torch.randn(1, 2)
    p = torch.sigmoid(vae.decode(z))
    expected = (y * p.log() + (1 - y) * (1 - p).log()).sum(dim=1)
    torch.testing.assert_close(vae.log_likelihood(y, z), expected)
    assert ((vae.sample(4) > 0) & (vae.sample(4) < 1)).all()


# --- training by gradland.ae.train -----------------------------------------------


def test_train_refuses_data_outside_the_unit_interval_for_a_bernoulli_vae():
    vae = small(likelihood="bernoulli")
    with pytest.raises(ValueError, match=r"data must have entries in \[0, 1\].*from -1 to 2"):
        ae.train(vae, torch.tensor([[0.5, -1.0], [2.0, 0.0]]), steps=1)
    ae.train(vae, torch.tensor([[0.5, 1.0], [0.0, 0.25]]), steps=1)  # probabilities are fine


def test_training_checks_the_values_of_a_bernoulli_vae_once(monkeypatch):
    """ae.train checks that a Bernoulli VAE's data lie in [0, 1] once, by check_data; its
    steps call the loss with checked=True, so no step reads the batch's values (a device
    synchronisation on a GPU), while a direct call of the loss still checks them."""
    from gradland import _checks

    reads = []
    original = _checks.entries
    monkeypatch.setattr(_checks, "entries", lambda *a, **k: reads.append(a[0]) or original(*a, **k))
    vae = small(likelihood="bernoulli")
    data = torch.rand(32, 2, generator=torch.Generator().manual_seed(0))
    assert len(ae.train(vae, data, steps=3, batch_size=8).loss) == 3
    assert reads == ["data"]
    with pytest.raises(ValueError, match=r"y must have entries in \[0, 1\] for the Bernoulli likelihood"):
        vae.loss(torch.tensor([[2.0, 0.5]]))
    assert reads == ["data", "y"]


def test_a_subclass_can_pass_checked_on_to_the_log_likelihood():
    """The chapter's exercise: a loss of its own, called by ae.train with checked=True."""

    class Weighted(VariationalAutoencoder):
        def loss(self, y, *, checked=False):
            mu, logvar = self.encode(y)
            log_lik = self.log_likelihood(y, reparameterise(mu, logvar), checked=checked)
            return (-log_lik + 0.5 * gaussian_kl(mu, logvar)).mean()

    model = Weighted(mlp([2, 16, 4]), mlp([2, 16, 2], seed=1), likelihood="bernoulli")
    data = torch.rand(32, 2, generator=torch.Generator().manual_seed(0))
    assert len(ae.train(model, data, steps=3, batch_size=8).loss) == 3
    with pytest.raises(ValueError, match=r"y must have entries in \[0, 1\]"):
        model.loss(torch.tensor([[2.0, 0.5]]))


# --- the bad-input battery (tests/badinput.py) ------------------------------------------

T = Arg("tensor")


def _model(**kwargs):
    return VariationalAutoencoder(mlp([2, 8, 4]), mlp([2, 8, 2], seed=1), **kwargs)


def _method(name, **kwargs):
    model = _model(**kwargs)
    return lambda **arguments: getattr(model, name)(**arguments)


def _batch():
    return {"y": horn(6, x=1.0).y}


SPECS = [
    (
        "vae.VariationalAutoencoder",
        _model,
        lambda: {"likelihood": "gaussian", "scale": 0.5},
        {
            "likelihood": Arg("custom", custom={"None": None, "poisson": "poisson", "list": ["gaussian"]}),
            "scale": Arg("real", positive=True),
        },
    ),
    *[
        (f"vae.VariationalAutoencoder.{name}", _method(name), _batch, {"y": T})
        for name in ("energy", "loss", "encode", "reconstruct")
    ],
    (
        "vae.VariationalAutoencoder.elbo",
        _method("elbo"),
        lambda: {"y": horn(6, x=1.0).y, "samples": 2},
        {"y": T, "samples": Arg("int", minimum=1)},
    ),
    ("vae.VariationalAutoencoder.sample", _method("sample"), lambda: {"n": 3}, {"n": Arg("int", minimum=1)}),
    (
        "vae.VariationalAutoencoder.log_likelihood",
        _method("log_likelihood"),
        lambda: {"y": torch.zeros(3, 2), "z": torch.zeros(3, 2)},
        {"y": T, "z": T},
    ),
    (
        "vae.reparameterise",
        reparameterise,
        lambda: {"mu": torch.zeros(3, 2), "logvar": torch.zeros(3, 2), "samples": 2},
        {"mu": T, "logvar": T, "samples": Arg("int", minimum=1, accepts=("None",))},
    ),
    (
        "vae.gaussian_kl",
        gaussian_kl,
        lambda: {"mu": torch.zeros(3, 2), "logvar": torch.zeros(3, 2)},
        {"mu": T, "logvar": T},
    ),
]
test_the_valid_call_works, test_bad_input_gets_a_clear_error = battery(SPECS)
