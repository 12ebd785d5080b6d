"""Tests of gradland.free_energy (Chapter 8): ``free_energy`` and ``softmin_weights``.

The free energy over ``K`` latent values is checked against its definition on
cases computed by hand, at its two limits (the minimum as beta grows, the mean
as beta shrinks, thanks to the 1/K), for monotonicity in beta and the bounds
min <= F <= mean on random energies, for the derivative in beta
(``-KL(w || uniform) / beta**2``), for stability in single precision from
beta = 1e-8 to 1e8 against a double-precision reference, for its ``dim``
argument, for its gradient (the softmin weights) and for its errors. The last
tests check the claims of Chapter 8 about the ellipse model.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gradland import data
from gradland.ebm import EllipseDecoder, LatentEBM
from gradland.free_energy import free_energy, softmin_weights

DT = torch.float64
PROPERTY = settings(max_examples=60, deadline=None)

energy_lists = st.lists(
    st.floats(min_value=-50.0, max_value=50.0, allow_nan=False, allow_infinity=False), min_size=1, max_size=24
)


def definition(energies: list[float], beta: float) -> float:
    """Equation (eq-fe-free-energy-grid) in exact-enough double precision, for moderate beta."""
    k = len(energies)
    return -math.log(sum(math.exp(-beta * e) for e in energies) / k) / beta


# --------------------------------------------------------------------------
# The definition, on cases computed by hand
# --------------------------------------------------------------------------


def test_agrees_with_the_definition_on_hand_computed_cases():
    energies = [1.0, 2.0, 4.0]
    by_hand = -math.log((math.exp(-1) + math.exp(-2) + math.exp(-4)) / 3)
    assert free_energy(torch.tensor(energies, dtype=DT), 1.0).item() == pytest.approx(by_hand, rel=1e-14)
    # two latents, 0 and delta: -(1/beta) log((1 + exp(-beta delta)) / 2)
    for beta, delta in [(0.5, 3.0), (2.0, 0.25), (7.0, 1.0)]:
        expected = -math.log((1 + math.exp(-beta * delta)) / 2) / beta
        got = free_energy(torch.tensor([0.0, delta], dtype=DT), beta).item()
        assert got == pytest.approx(expected, rel=1e-13)
    # equal energies: the free energy is that energy at every temperature
    for beta in [1e-8, 1.0, 1e8, math.inf]:
        assert free_energy(torch.full((5,), 2.5, dtype=DT), beta).item() == pytest.approx(2.5, rel=1e-15)


@PROPERTY
@given(energy_lists, st.floats(min_value=0.05, max_value=5.0))
def test_agrees_with_the_definition_on_random_energies(energies, beta):
    got = free_energy(torch.tensor(energies, dtype=DT), beta).item()
    # the definition overflows for beta * |E| > 700; shift it by the minimum first
    m = min(energies)
    assert got == pytest.approx(m + definition([e - m for e in energies], beta), rel=1e-12, abs=1e-12)


def test_a_single_latent_value_has_its_own_energy_as_free_energy():
    for beta in [1e-8, 0.3, 1e8, math.inf]:
        assert free_energy(torch.tensor([-1.25], dtype=DT), beta).item() == -1.25


def test_shifting_the_energies_shifts_the_free_energy():
    energies = torch.tensor([0.3, 1.7, 2.2, 5.0], dtype=DT)
    for beta in [0.01, 1.0, 100.0]:
        torch.testing.assert_close(free_energy(energies + 1000.0, beta), free_energy(energies, beta) + 1000.0)


# --------------------------------------------------------------------------
# The limits: min as beta -> inf, mean as beta -> 0
# --------------------------------------------------------------------------


def test_beta_inf_is_exactly_the_minimum():
    energies = torch.randn(7, 33, generator=torch.Generator().manual_seed(0))
    assert torch.equal(free_energy(energies, math.inf), energies.amin(dim=-1))
    assert torch.equal(free_energy(energies.double(), float("inf")), energies.double().amin(dim=-1))


def test_cold_limit_is_the_minimum_within_log_k_over_beta():
    energies = 10 * torch.rand(50, 64, generator=torch.Generator().manual_seed(1), dtype=DT)
    low = energies.amin(dim=-1)
    for beta in [1e2, 1e4, 1e6, 1e8]:
        f = free_energy(energies, beta)
        assert (f >= low).all()
        assert (f - low <= math.log(64) / beta + 1e-15).all()
    torch.testing.assert_close(free_energy(energies, 1e8), low, rtol=0, atol=1e-7)


def test_hot_limit_is_the_mean_because_of_the_one_over_k():
    energies = 10 * torch.rand(50, 64, generator=torch.Generator().manual_seed(2), dtype=DT)
    mean = energies.mean(dim=-1)
    torch.testing.assert_close(free_energy(energies, 1e-8), mean, rtol=1e-7, atol=0)
    # without the 1/K the same quantity would sit log(K)/beta lower: far from the mean
    without = -torch.logsumexp(-1e-8 * energies, dim=-1) / 1e-8
    assert ((mean - without) > 0.99 * math.log(64) / 1e-8).all()


# --------------------------------------------------------------------------
# Monotonicity, bounds and the derivative in beta
# --------------------------------------------------------------------------


@PROPERTY
@given(energy_lists)
def test_non_increasing_in_beta_and_between_min_and_mean(energies):
    e = torch.tensor(energies, dtype=DT)
    low, mean = e.min().item(), e.mean().item()
    slack = 1e-12 * (1 + max(abs(x) for x in energies))
    previous = math.inf
    for beta in torch.logspace(-8, 8, 33, dtype=DT).tolist() + [math.inf]:
        f = free_energy(e, beta).item()
        assert math.isfinite(f)
        assert f <= previous + slack
        assert low - slack <= f <= mean + slack
        previous = f


@PROPERTY
@given(energy_lists.filter(lambda e: len(e) >= 2), st.floats(min_value=0.05, max_value=3.0))
def test_derivative_in_beta_is_minus_kl_over_beta_squared(energies, beta):
    e = torch.tensor(energies, dtype=DT)
    e = e / (1 + e.abs().max()) * 5  # keep beta * spread moderate for the finite difference
    h = 1e-5 * beta
    numeric = (free_energy(e, beta + h) - free_energy(e, beta - h)).item() / (2 * h)
    w = softmin_weights(e, beta)
    kl = (w * torch.log(w * len(e))).nansum().item()
    assert numeric == pytest.approx(-kl / beta**2, rel=1e-5, abs=1e-8)


# --------------------------------------------------------------------------
# Stability in single precision
# --------------------------------------------------------------------------


def test_float32_is_stable_from_beta_1e_minus_8_to_1e8():
    gen = torch.Generator().manual_seed(3)
    energies = torch.cat([10 * torch.rand(20, 256, generator=gen), 1e-3 + torch.rand(20, 256, generator=gen)])
    reference_input = energies.double()  # the same float32 numbers, exactly, in float64
    low, mean = energies.amin(dim=-1), energies.mean(dim=-1)
    for beta in torch.logspace(-8, 8, 17, dtype=DT).tolist():
        f = free_energy(energies, beta)
        reference = free_energy(reference_input, beta)
        assert f.dtype == torch.float32 and torch.isfinite(f).all(), beta
        assert (f >= low).all() and (f <= mean * (1 + 1e-6)).all(), beta
        torch.testing.assert_close(f.double(), reference, rtol=2e-6, atol=1e-7, msg=f"beta = {beta:g}")


def test_float64_reference_agrees_with_the_definition_at_moderate_beta():
    energies = torch.tensor([0.5, 1.0, 3.0, 7.0], dtype=DT)
    for beta in [1e-3, 0.1, 1.0, 10.0]:
        assert free_energy(energies, beta).item() == pytest.approx(definition(energies.tolist(), beta), rel=1e-12)


def test_naive_formula_fails_where_free_energy_does_not():
    """The reason for the care: the formula typed as it stands overflows and loses every digit."""
    energies = torch.tensor([0.5, 1.0, 3.0, 7.0])
    naive = lambda beta: (-torch.log(torch.exp(-beta * energies).mean()) / beta).item()  # noqa: E731
    assert naive(1e8) == math.inf
    assert naive(1e-8) == 0.0
    assert free_energy(energies, 1e8).item() == pytest.approx(0.5, rel=1e-6)
    assert free_energy(energies, 1e-8).item() == pytest.approx(2.875, rel=1e-6)


def test_huge_energies_do_not_overflow():
    energies = torch.tensor([1e30, 2e30, 3e30])
    assert free_energy(energies, 1.0).item() == pytest.approx(1e30, rel=1e-6)
    assert free_energy(energies, 1e-40).item() == pytest.approx(2e30, rel=1e-5)


# --------------------------------------------------------------------------
# The dim argument, shapes and dtypes
# --------------------------------------------------------------------------


def test_dim_selects_the_latent_dimension_and_removes_it():
    energies = torch.rand(3, 10, 4, generator=torch.Generator().manual_seed(4), dtype=DT)
    for beta in [0.1, 2.0, math.inf]:
        along_1 = free_energy(energies, beta, dim=1)
        assert along_1.shape == (3, 4)
        torch.testing.assert_close(along_1, free_energy(energies.transpose(1, 2), beta))
        torch.testing.assert_close(free_energy(energies, beta, dim=-3), free_energy(energies.permute(1, 2, 0), beta))
        assert free_energy(energies, beta).shape == (3, 10)
        w = softmin_weights(energies, beta, dim=1)
        assert w.shape == energies.shape
        torch.testing.assert_close(w.sum(dim=1), torch.ones(3, 4, dtype=DT))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_free_energy_keeps_the_dtype_and_the_shape(dtype):
    energies = torch.rand(3, 4, 5, dtype=dtype)
    for beta in (1e-3, 1.0, math.inf):
        assert free_energy(energies, beta, dim=1).shape == (3, 5)
        assert free_energy(energies, beta).dtype == dtype


def test_dtype_is_kept():
    for dtype in [torch.float16, torch.float32, torch.float64]:
        energies = torch.tensor([1.0, 2.0], dtype=dtype)
        assert free_energy(energies, 1.0).dtype == dtype
        assert softmin_weights(energies, 1.0).dtype == dtype


# --------------------------------------------------------------------------
# The gradient is the softmin
# --------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [1e-6, 0.1, 1.0, 30.0, 1e6])
def test_gradient_is_the_softmin_weights(beta):
    energies = torch.randn(4, 16, generator=torch.Generator().manual_seed(5), dtype=DT).requires_grad_(True)
    (grad,) = torch.autograd.grad(free_energy(energies, beta).sum(), energies)
    torch.testing.assert_close(grad, softmin_weights(energies.detach(), beta))


def test_gradient_at_beta_inf_is_one_hot_at_a_unique_minimum():
    energies = torch.tensor([3.0, 1.0, 2.0], dtype=DT, requires_grad=True)
    (grad,) = torch.autograd.grad(free_energy(energies, math.inf), energies)
    torch.testing.assert_close(grad, torch.tensor([0.0, 1.0, 0.0], dtype=DT))
    torch.testing.assert_close(grad, softmin_weights(energies.detach(), math.inf))


def test_gradcheck_in_double_precision():
    energies = torch.randn(3, 6, generator=torch.Generator().manual_seed(6), dtype=DT).requires_grad_(True)
    for beta in [0.01, 1.0, 10.0]:
        assert torch.autograd.gradcheck(lambda e: free_energy(e, beta), (energies,))


# --------------------------------------------------------------------------
# softmin_weights
# --------------------------------------------------------------------------


@PROPERTY
@given(energy_lists, st.sampled_from([1e-8, 1e-3, 0.5, 4.0, 1e3, 1e8, math.inf]))
def test_softmin_weights_are_a_probability_vector(energies, beta):
    w = softmin_weights(torch.tensor(energies, dtype=DT), beta)
    assert (w >= 0).all()
    assert w.sum().item() == pytest.approx(1.0, abs=1e-12)
    # a lower energy never gets a smaller weight
    order = sorted(range(len(energies)), key=lambda i: energies[i])
    assert all(w[i] >= w[j] for i, j in zip(order, order[1:]))


def test_softmin_weights_share_ties_at_beta_inf_and_are_uniform_when_hot():
    energies = torch.tensor([1.0, 2.0, 1.0, 5.0], dtype=DT)
    torch.testing.assert_close(softmin_weights(energies, math.inf), torch.tensor([0.5, 0.0, 0.5, 0.0], dtype=DT))
    torch.testing.assert_close(softmin_weights(energies, 1e-12), torch.full((4,), 0.25, dtype=DT))
    torch.testing.assert_close(softmin_weights(energies, 1e4), torch.tensor([0.5, 0.0, 0.5, 0.0], dtype=DT))


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize("function", [free_energy, softmin_weights])
@pytest.mark.parametrize("beta", [0, 0.0, -1.0, -math.inf, math.nan, torch.tensor(-2.0)])
def test_non_positive_or_nan_beta_is_a_value_error(function, beta):
    with pytest.raises(ValueError, match="beta must be a positive inverse temperature"):
        function(torch.tensor([1.0, 2.0]), beta)


@pytest.mark.parametrize("function", [free_energy, softmin_weights])
@pytest.mark.parametrize("beta", ["1.0", None, True, [1.0], 1 + 2j])
def test_beta_that_is_not_a_number_is_a_type_error(function, beta):
    with pytest.raises(TypeError, match="beta must be a real number"):
        function(torch.tensor([1.0, 2.0]), beta)


def test_beta_as_a_one_element_tensor_is_accepted_and_a_longer_one_is_not():
    energies = torch.tensor([1.0, 2.0, 4.0], dtype=DT)
    assert free_energy(energies, torch.tensor(1.0)).item() == free_energy(energies, 1.0).item()
    with pytest.raises(ValueError, match="single number"):
        free_energy(energies, torch.tensor([1.0, 2.0]))


@pytest.mark.parametrize("function", [free_energy, softmin_weights])
def test_integer_or_non_tensor_energies_are_a_type_error(function):
    with pytest.raises(TypeError, match="floating dtype; got torch.int64"):
        function(torch.tensor([1, 2, 3]), 1.0)
    with pytest.raises(TypeError, match="must be a torch.Tensor; got list"):
        function([1.0, 2.0], 1.0)


def test_zero_dimensional_energies_are_a_value_error():
    with pytest.raises(ValueError, match="at least one dimension"):
        free_energy(torch.tensor(1.0), 1.0)


# --------------------------------------------------------------------------
# The ellipse model of Chapter 8
# --------------------------------------------------------------------------


def true_ellipse_model() -> tuple[LatentEBM, torch.Tensor]:
    semi_axes = torch.tensor(data.HORN_AXES) * math.exp(data.HORN_FLARE)
    return LatentEBM(EllipseDecoder(weight=torch.diag(semi_axes))), semi_axes


def test_cold_free_energy_vanishes_on_the_data_and_is_the_centre_distance_at_the_centre():
    model, semi_axes = true_ellipse_model()
    grid = 2 * math.pi * torch.arange(256) / 256
    sample = data.horn(32, x=1.0, seed=0)
    with torch.no_grad():
        on_data = model.free_energy(sample.y, grid, math.inf)
        centre = model.free_energy(torch.zeros(1, 2), grid, math.inf)
    assert on_data.max().item() < 1e-3  # the grid is 256 angles, not the exact latent
    assert centre.item() == pytest.approx(semi_axes[1].item() ** 2, rel=1e-5)


def test_too_hot_free_energy_is_mean_squared_error_to_the_centre_plus_a_constant():
    model, semi_axes = true_ellipse_model()
    grid = 2 * math.pi * torch.arange(256) / 256
    y = 3 * torch.rand(40, 2, generator=torch.Generator().manual_seed(7)) - 1.5
    with torch.no_grad():
        hot = model.free_energy(y, grid, 1e-8)
    paraboloid = y.square().sum(dim=1) + semi_axes.square().sum() / 2
    torch.testing.assert_close(hot, paraboloid, rtol=1e-5, atol=1e-5)
