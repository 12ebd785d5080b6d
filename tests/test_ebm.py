"""Tests of gradland.ebm (Chapters 7 and 8): decoders, the energy, inference, and the
free energy.

The building blocks first: the decoders, the energy of a decoder and its
input checks. Then inference: the latent by exhaustive search over a grid and
by gradient descent, and the target by descent on the zero-temperature free
energy.

Then the free energy over ``K`` latent values (Chapter 8), checked against its
definition on cases computed by hand, at its two limits (the minimum as beta
grows, the mean as beta shrinks, thanks to the 1/K), for monotonicity in beta and
the bounds min <= F <= mean on random energies, for the derivative in beta
(``-KL(w || uniform) / beta**2``), for stability in single precision from
beta = 1e-8 to 1e8 against a double-precision reference, for its ``dim``
argument, for its gradient (the softmin weights) and for its errors. The last
tests check the claims of Chapter 8 about the ellipse model.
"""

from __future__ import annotations

import math

import pytest
import torch
from badinput import Arg, battery
from gradland import data, ebm
from gradland.data import horn_manifold
from gradland.ebm import EllipseDecoder, HornDecoder, LatentEBM, free_energy, softmin_weights
from hypothesis import given, settings
from hypothesis import strategies as st


def test_ellipse_decoder_draws_the_affine_image_of_the_circle():
    weight = torch.tensor([[2.0, 0.5], [0.0, 1.0]])
    bias = torch.tensor([0.3, -0.2])
    dec = ebm.EllipseDecoder(weight=weight, bias=bias)
    z = torch.linspace(0, 2 * math.pi, 17)
    circle = torch.stack((torch.cos(z), torch.sin(z)), dim=1)
    torch.testing.assert_close(dec(z), circle @ weight.T + bias)
    assert dec(torch.zeros(3, 4)).shape == (3, 4, 2)


def test_ellipse_decoder_default_is_a_small_seeded_circle():
    a, b = ebm.EllipseDecoder(seed=1), ebm.EllipseDecoder(seed=1)
    assert torch.equal(a.weight, b.weight)
    assert not torch.equal(a.weight, ebm.EllipseDecoder(seed=2).weight)
    torch.testing.assert_close(a.weight, 0.1 * torch.eye(2), atol=0.1, rtol=0)


def test_ellipse_decoder_rejects_wrong_shapes():
    with pytest.raises(ValueError, match=r"weight must have shape \(2, 2\)"):
        ebm.EllipseDecoder(weight=torch.eye(3))


def test_horn_decoder_broadcasts_and_is_seeded():
    dec = ebm.HornDecoder(d_hidden=8, seed=3)
    out = dec(torch.rand(4, 1), torch.rand(1, 6))
    assert out.shape == (4, 6, 2)
    again = ebm.HornDecoder(d_hidden=8, seed=3)
    x, z = torch.rand(5), torch.rand(5)
    torch.testing.assert_close(dec(x, z), again(x, z))
    with pytest.raises(ValueError, match="d_hidden must be at least 1; got 0"):
        ebm.HornDecoder(d_hidden=0)


def test_energy_is_the_squared_distance_to_the_decoded_point():
    sample = data.horn(50, noise=0.1, seed=2)
    model = ebm.LatentEBM(data.horn_manifold)
    expected = ((sample.y - data.horn_manifold(sample.x, sample.z)) ** 2).sum(dim=1)
    torch.testing.assert_close(model.energy(sample.y, sample.z, sample.x), expected)


def test_grid_energies_shape_and_agreement_with_energy():
    sample = data.horn(7, seed=0)
    grid = torch.linspace(0, 2 * math.pi, 11)
    model = ebm.LatentEBM(data.horn_manifold)
    energies = model.grid_energies(sample.y, grid, sample.x)
    assert energies.shape == (7, 11)
    torch.testing.assert_close(energies[3, 5], model.energy(sample.y[3], grid[5], sample.x[3]))
    unconditional = ebm.LatentEBM(ebm.EllipseDecoder()).grid_energies(sample.y, grid)
    assert unconditional.shape == (7, 11)


def test_free_energy_method_is_the_function_of_the_grid_energies():
    sample = data.horn(9, x=1.0, seed=1)
    grid = torch.linspace(0, 2 * math.pi, 33)[:-1]
    model = ebm.LatentEBM(ebm.EllipseDecoder())
    for beta in (0.5, 10.0, math.inf):
        torch.testing.assert_close(
            model.free_energy(sample.y, grid, beta), free_energy(model.grid_energies(sample.y, grid), beta)
        )


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda m: m.energy(torch.zeros(3, 3), torch.zeros(3)), ValueError, r"y must have shape \(\.\.\., 2\), points"),
        (
            lambda m: m.energy(torch.zeros(3, 2), torch.zeros(3, dtype=torch.int64)),
            TypeError,
            "z must have a floating-point",
        ),
        (lambda m: m.grid_energies(torch.zeros(3, 2), torch.zeros(2, 2)), ValueError, r"z_grid must have shape \(K,\)"),
        (
            lambda m: m.grid_energies(torch.zeros(3, 2), torch.zeros(4), torch.zeros(2)),
            ValueError,
            r"x must have shape \(3,\)",
        ),
        (lambda m: m.infer_z_descent(torch.zeros(3, 2), torch.zeros(2)), ValueError, r"z0 must have shape \(3,\)"),
        (lambda m: m.infer_z_descent(torch.zeros(3, 2), torch.zeros(3), lr=0.0), ValueError, "lr must be positive"),
    ],
)
def test_boundary_checks_say_what_was_expected(call, error, message):
    model = ebm.LatentEBM(ebm.EllipseDecoder())
    with pytest.raises(error, match=message):
        call(model)


def test_decoder_must_be_callable():
    with pytest.raises(TypeError, match="decoder must be callable"):
        ebm.LatentEBM(3)


def test_energy_on_every_device_is_its_formula_and_refuses_mixed_devices(device):
    gen = torch.Generator().manual_seed(4)
    y, z = torch.randn(4, 2, generator=gen, dtype=torch.float64), 6 * torch.rand(4, generator=gen, dtype=torch.float64)
    W, b = torch.tensor([[2.0, 0.5], [-0.3, 1.0]], dtype=torch.float64), torch.tensor([0.1, -0.2], dtype=torch.float64)
    expected = (y - torch.stack([z.cos(), z.sin()], dim=-1) @ W.T - b).square().sum(dim=-1)  # on the CPU
    model = ebm.LatentEBM(ebm.EllipseDecoder(weight=W, bias=b)).to(device)
    y, z = y.to(device), z.to(device)
    energy = model.energy(y, z)
    assert energy.device.type == device.type
    torch.testing.assert_close(energy.detach().cpu(), expected, rtol=1e-12, atol=1e-14)
    other = "meta" if device.type == "cpu" else "cpu"  # another device, one that every machine has
    with pytest.raises(ValueError, match="y and z must be on the same device"):
        model.energy(y, z.to(other))


# --------------------------------------------------------------------------
# Inference
# --------------------------------------------------------------------------

TWO_PI = 2 * math.pi


def wrapped(angle: torch.Tensor) -> torch.Tensor:
    """Signed distance on the circle, in [-pi, pi)."""
    return torch.remainder(angle + math.pi, TWO_PI) - math.pi


def grid(k: int, dtype=torch.float64) -> torch.Tensor:
    return torch.linspace(0, TWO_PI, k + 1, dtype=dtype)[:-1]


@pytest.fixture
def horn_model() -> LatentEBM:
    return LatentEBM(data.horn_manifold)


@pytest.fixture
def clean() -> data.Horn:
    return data.horn(500, seed=11, dtype=torch.float64)


# --------------------------------------------------------------------------
# Grid search
# --------------------------------------------------------------------------


@pytest.mark.parametrize("k", [16, 64, 257])
def test_grid_on_a_circle_is_within_half_a_spacing(k):
    model = LatentEBM(EllipseDecoder(weight=torch.eye(2)).double())
    z = TWO_PI * torch.rand(300, generator=torch.Generator().manual_seed(k), dtype=torch.float64)
    y = torch.stack((z.cos(), z.sin()), dim=-1)
    with torch.no_grad():
        z_check = model.infer_z_grid(y, grid(k))
    assert wrapped(z_check - z).abs().max() <= math.pi / k + 1e-12


@pytest.mark.parametrize("k", [32, 64, 128])
def test_grid_on_the_horn_returns_a_grid_neighbour_of_the_truth(horn_model, clean, k):
    """On an ellipse the nearest grid point in the plane is one of the two grid
    neighbours of the true angle (error below one spacing), and most of the
    time the nearer one in angle (error below half a spacing)."""
    error = wrapped(horn_model.infer_z_grid(clean.y, grid(k), clean.x) - clean.z).abs()
    assert error.max() < TWO_PI / k
    assert (error <= math.pi / k + 1e-12).float().mean() > 0.95


def test_grid_error_can_exceed_half_a_spacing_on_an_ellipse(horn_model):
    """The chapter's claim that half a spacing is not a bound on an ellipse: find a witness."""
    sample = data.horn(4000, seed=5, dtype=torch.float64)
    error = wrapped(horn_model.infer_z_grid(sample.y, grid(64), sample.x) - sample.z).abs()
    assert (error > math.pi / 64 + 1e-9).any()


def test_grid_recovers_the_latent_on_unconditional_data():
    ring = data.horn(200, x=1.0, seed=2, dtype=torch.float64)
    model = LatentEBM(lambda z: data.horn_manifold(1.0, z))
    z_check = model.infer_z_grid(ring.y, grid(128))
    assert z_check.shape == (200,)
    assert wrapped(z_check - ring.z).abs().max() < TWO_PI / 128


# --------------------------------------------------------------------------
# Gradient descent
# --------------------------------------------------------------------------


def test_descent_from_a_start_near_the_truth_converges(horn_model, clean):
    start = clean.z + 0.3 * (2 * torch.rand(500, generator=torch.Generator().manual_seed(0), dtype=torch.float64) - 1)
    z_check, path = horn_model.infer_z_descent(clean.y, start, clean.x, lr=0.2, steps=300)
    assert path.shape == (301, 500)
    assert wrapped(z_check - clean.z).abs().max() < 1e-4
    assert ((0 <= z_check) & (z_check < TWO_PI)).all()
    with torch.no_grad():
        assert horn_model.energy(clean.y, z_check, clean.x).max() < 1e-8


def test_descent_energy_never_increases_with_a_safe_step(horn_model, clean):
    start = TWO_PI * torch.rand(500, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    _, path = horn_model.infer_z_descent(clean.y, start, clean.x, lr=0.2, steps=50)
    with torch.no_grad():
        energies = horn_model.energy(clean.y[None], path, clean.x[None])  # (51, n)
    assert (energies[1:] <= energies[:-1] + 1e-12).all()


def _second_minimum(model, x, z_true):
    """The latent at the other local minimum of E along z, for the target of z_true."""
    y = data.horn_manifold(x, z_true)
    line = grid(7200)
    with torch.no_grad():
        e = model.energy(y, line, x)
    local = (e < e.roll(1)) & (e < e.roll(-1))
    candidates = line[local & (e > 1e-6)]
    return y, candidates


def test_descent_from_a_bad_start_lands_in_the_other_local_minimum(horn_model):
    """Near the end of the short axis, E(z) has a second local minimum
    (Proposition: a1^2 > 2 a2^2); descent started there stays there."""
    x = torch.tensor([0.5], dtype=torch.float64)
    z_true = torch.tensor([math.pi / 2 + 0.04], dtype=torch.float64)
    y, candidates = _second_minimum(horn_model, x, z_true)
    assert len(candidates) == 1
    z_other = candidates[0]
    start = (z_other + 0.3).reshape(1)
    z_check, _ = horn_model.infer_z_descent(y, start, x, lr=0.2, steps=400)
    # a wrong answer: far from the truth, with positive energy ...
    assert wrapped(z_check - z_true).abs().item() > math.pi / 2
    with torch.no_grad():
        e_check = horn_model.energy(y, z_check, x)
        assert e_check.item() > 1.0
        # ... at a local minimum: both neighbours are higher, the derivative vanishes
        for h in (1e-3, 1e-2):
            assert horn_model.energy(y, z_check + h, x) > e_check
            assert horn_model.energy(y, z_check - h, x) > e_check
    z = z_check.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(horn_model.energy(y, z, x).sum(), z)
    assert grad.abs().item() < 1e-6
    # from a good start, the same target gives the truth
    z_good, _ = horn_model.infer_z_descent(y, z_true + 1.0, x, lr=0.2, steps=400)
    assert wrapped(z_good - z_true).abs().item() < 1e-6


@settings(max_examples=20, deadline=None)
@given(ratio=st.floats(min_value=1.05, max_value=3.0))
def test_second_minimum_exists_iff_the_ellipse_is_long_enough(ratio):
    """At the end of the short axis, z = -pi/2 is a local minimum iff A1^2 > 2 A2^2."""
    a2 = 1.0
    a1 = ratio * a2
    model = LatentEBM(EllipseDecoder(weight=torch.diag(torch.tensor([a1, a2]))).double())
    y = torch.tensor([[0.0, a2]], dtype=torch.float64)
    t = 1e-2
    with torch.no_grad():
        at = model.energy(y, torch.tensor([-math.pi / 2], dtype=torch.float64))
        beside = model.energy(y, torch.tensor([-math.pi / 2 + t], dtype=torch.float64))
    curvature = (beside - at).item() / t**2  # about A1^2 - 2 A2^2
    assert (curvature > 0) == (a1**2 > 2 * a2**2) or abs(a1**2 - 2 * a2**2) < 1e-3
    assert curvature == pytest.approx(a1**2 - 2 * a2**2, abs=1e-3 * a1**2)


# --------------------------------------------------------------------------
# Symmetry: the latent is recovered up to a rotation and a reflection
# --------------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [1.0, -1.0])
def test_rotated_or_reflected_decoder_gives_same_energy_and_transformed_latent(horn_model, clean, sigma):
    k = 64
    c = 2 * math.pi * 11 / k  # a grid angle, so that both grids coincide
    other = LatentEBM(lambda x, z: data.horn_manifold(x, sigma * z + c))
    torch.testing.assert_close(
        other.free_energy(clean.y, grid(k), math.inf, clean.x),
        horn_model.free_energy(clean.y, grid(k), math.inf, clean.x),
    )
    z_ours = horn_model.infer_z_grid(clean.y, grid(k), clean.x)
    z_other = other.infer_z_grid(clean.y, grid(k), clean.x)
    # minimisers correspond by z -> sigma (z - c)
    assert wrapped(z_other - sigma * (z_ours - c)).abs().max() < 1e-9
    # and the other decoder recovers the true latent after aligning
    assert wrapped(sigma * z_other + c - clean.z).abs().max() < TWO_PI / k


# --------------------------------------------------------------------------
# Inference of y
# --------------------------------------------------------------------------


def test_infer_y_lands_on_the_manifold(horn_model):
    gen = torch.Generator().manual_seed(3)
    y0 = 2.4 * torch.rand(40, 2, generator=gen, dtype=torch.float64) - 1.2
    x = torch.rand(40, generator=gen, dtype=torch.float64)
    z_grid = grid(256)
    before = horn_model.free_energy(y0, z_grid, math.inf, x)
    y_check, path = horn_model.infer_y(y0, z_grid, math.inf, x, lr=0.05, steps=300)
    after = horn_model.free_energy(y_check, z_grid, math.inf, x)
    assert path.shape == (301, 40, 2)
    assert y_check.dtype == torch.float64
    assert after.max() < 1e-10 < before.min()
    # on the true ellipse of each x, up to the grid: (y1/A1)^2 + (y2/A2)^2 close to 1
    scale = torch.exp(data.HORN_FLARE * x)
    radius = (y_check[:, 0] / (data.HORN_AXES[0] * scale)) ** 2 + (y_check[:, 1] / (data.HORN_AXES[1] * scale)) ** 2
    torch.testing.assert_close(radius, torch.ones_like(radius), atol=1e-8, rtol=0)


def test_infer_y_is_not_unique_different_starts_give_different_answers(horn_model):
    x = torch.full((2,), 0.5, dtype=torch.float64)
    y0 = torch.tensor([[1.0, 0.1], [-1.0, -0.1]], dtype=torch.float64)
    y_check, _ = horn_model.infer_y(y0, grid(256), math.inf, x)
    assert (y_check[0] - y_check[1]).norm() > 1.0
    assert horn_model.free_energy(y_check, grid(256), math.inf, x).max() < 1e-10


def test_the_centre_is_a_critical_point_of_the_energy(horn_model):
    """Exactly at the centre the two ends of the short axis pull equally: y does not move."""
    x = torch.tensor([0.5], dtype=torch.float64)
    y_check, _ = horn_model.infer_y(torch.zeros(1, 2, dtype=torch.float64), grid(256), math.inf, x, steps=10)
    assert y_check.abs().max() < 1e-12


# --------------------------------------------------------------------------
# Shapes, dtypes and errors at the boundary
# --------------------------------------------------------------------------


def test_conditional_and_unconditional_shapes():
    conditional = LatentEBM(data.horn_manifold)
    unconditional = LatentEBM(EllipseDecoder())
    y = torch.randn(7, 2)
    x = torch.rand(7)
    z_grid = grid(12, dtype=torch.float32)
    assert conditional.grid_energies(y, z_grid, x).shape == (7, 12)
    assert unconditional.grid_energies(y, z_grid).shape == (7, 12)
    assert conditional.infer_z_grid(y, z_grid, x).shape == (7,)
    assert unconditional.infer_z_grid(y, z_grid).shape == (7,)
    z, path = unconditional.infer_z_descent(y, torch.zeros(7), steps=3)
    assert z.shape == (7,) and path.shape == (4, 7)
    z, path = conditional.infer_z_descent(y, torch.zeros(7), x, steps=3)
    assert z.shape == (7,) and path.shape == (4, 7)
    y_check, path = conditional.infer_y(y, z_grid, math.inf, x, steps=3)
    assert y_check.shape == (7, 2) and path.shape == (4, 7, 2)
    assert conditional.energy(y[:, None, :], z_grid[None, :], x[:, None]).shape == (7, 12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_inference_keeps_the_dtype(dtype):
    sample = data.horn(20, seed=0, dtype=dtype)
    model = LatentEBM(data.horn_manifold)
    z_grid = grid(32, dtype=dtype)
    assert model.grid_energies(sample.y, z_grid, sample.x).dtype == dtype
    assert model.infer_z_grid(sample.y, z_grid, sample.x).dtype == dtype
    z, path = model.infer_z_descent(sample.y, torch.zeros(20, dtype=dtype), sample.x, steps=2)
    assert z.dtype == dtype and path.dtype == dtype
    y_check, _ = model.infer_y(sample.y, z_grid, math.inf, sample.x, steps=2)
    assert y_check.dtype == dtype


def test_grid_energies_rejects_wrong_shapes():
    model = LatentEBM(data.horn_manifold)
    y, x, z_grid = torch.randn(5, 2), torch.rand(5), grid(8, dtype=torch.float32)
    with pytest.raises(ValueError, match=r"y must have shape \(n, 2\)"):
        model.grid_energies(torch.randn(5, 3), z_grid, x)
    with pytest.raises(ValueError, match=r"y must have shape \(n, 2\)"):
        model.grid_energies(torch.randn(2), z_grid, x)
    with pytest.raises(ValueError, match=r"z_grid must have shape \(K,\)"):
        model.grid_energies(y, z_grid[None, :], x)
    with pytest.raises(ValueError, match=r"x must have shape \(5,\)"):
        model.grid_energies(y, z_grid, torch.rand(4))
    with pytest.raises(ValueError, match=r"shape \(4,\)"):  # the message says what came in
        model.grid_energies(y, z_grid, torch.rand(4))


def test_infer_z_descent_rejects_wrong_starts_and_steps():
    model = LatentEBM(data.horn_manifold)
    y, x = torch.randn(5, 2), torch.rand(5)
    with pytest.raises(ValueError, match=r"z0 must have shape \(5,\)"):
        model.infer_z_descent(y, torch.zeros(4), x)
    with pytest.raises(ValueError, match=r"z0 must have shape \(5,\)"):
        model.infer_z_descent(y, torch.zeros(5, 1), x)
    with pytest.raises(TypeError, match=r"y and z0 must have the same dtype; got torch.float32 and torch.float64"):
        model.infer_z_descent(y, torch.zeros(5, dtype=torch.float64), x)
    with pytest.raises(ValueError, match="lr must be positive"):
        model.infer_z_descent(y, torch.zeros(5), x, lr=0.0)
    with pytest.raises(ValueError, match=r"y must have shape \(n, 2\); got a tensor of shape \(5, 3\)"):
        model.infer_z_descent(torch.randn(5, 3), torch.zeros(5), x)
    with pytest.raises(TypeError, match="z0 must have a floating-point dtype"):
        model.infer_z_descent(y, torch.zeros(5, dtype=torch.int64), x)


def test_infer_y_rejects_wrong_starts():
    model = LatentEBM(data.horn_manifold)
    z_grid, x = grid(8, dtype=torch.float32), torch.rand(5)
    with pytest.raises(ValueError, match=r"y0 must have shape \(n, 2\)"):
        model.infer_y(torch.randn(5, 3), z_grid, math.inf, x)
    with pytest.raises(TypeError, match=r"y0 must have a floating-point dtype; got torch.int64"):
        model.infer_y(torch.zeros(5, 2, dtype=torch.int64), z_grid, math.inf, x)
    with pytest.raises(ValueError, match="beta must be a positive inverse temperature"):
        model.infer_y(torch.zeros(5, 2), z_grid, 0.0, x)


# --------------------------------------------------------------------------
# Dtypes: no silent casts; hyper-parameters of inference
# --------------------------------------------------------------------------


def test_ellipse_decoder_keeps_the_dtype_it_is_given():
    weight = torch.tensor([[2.0, 0.5], [0.0, 1.0]], dtype=torch.float64)
    dec = EllipseDecoder(weight=weight)
    assert dec.weight.dtype == dec.bias.dtype == torch.float64
    z = torch.linspace(0, 2 * math.pi, 9, dtype=torch.float64)
    circle = torch.stack((torch.cos(z), torch.sin(z)), dim=1)
    torch.testing.assert_close(dec(z), circle @ weight.T)
    assert EllipseDecoder().weight.dtype == torch.float32


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"weight": torch.eye(2, dtype=torch.int64)}, TypeError, "weight must have a floating-point dtype"),
        ({"weight": [[1.0, 0.0], [0.0, 1.0]]}, TypeError, r"weight must be a torch.Tensor of shape \(2, 2\); got list"),
        ({"bias": "0"}, TypeError, "bias must be a torch.Tensor"),
        (
            {"weight": torch.eye(2), "bias": torch.zeros(2, dtype=torch.float64)},
            TypeError,
            "weight and bias must have the same dtype; got torch.float32 and torch.float64",
        ),
        ({"seed": 1.5}, TypeError, "seed must be an int; got float"),
    ],
)
def test_ellipse_decoder_checks_its_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        EllipseDecoder(**kwargs)


def test_decoders_refuse_angles_of_another_dtype_instead_of_casting():
    with pytest.raises(TypeError, match="z must have the decoder's dtype torch.float32; got .*float64"):
        EllipseDecoder()(torch.zeros(3, dtype=torch.float64))
    horn = ebm.HornDecoder(d_hidden=4)
    with pytest.raises(TypeError, match="z must have the decoder's dtype"):
        horn(torch.zeros(3), torch.zeros(3, dtype=torch.float64))
    with pytest.raises(TypeError, match="x must have the decoder's dtype"):
        horn(torch.zeros(3, dtype=torch.float64), torch.zeros(3))
    with pytest.raises(ValueError, match=r"x and z must broadcast together; got shapes \(5,\) and \(7,\)"):
        horn(torch.zeros(5), torch.zeros(7))
    with pytest.raises(TypeError, match="d_hidden must be an int; got bool"):
        ebm.HornDecoder(d_hidden=True)
    double = ebm.HornDecoder(d_hidden=4).double()  # converting the module is the way
    assert double(torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"steps": -1}, ValueError, "steps must be at least 0; got -1"),
        ({"steps": 2.5}, TypeError, "steps must be an int; got float"),
        ({"steps": None}, TypeError, "steps must be an int; got NoneType"),
        ({"lr": math.inf}, ValueError, "lr must be a finite number; got inf"),
        ({"lr": math.nan}, ValueError, "lr must be a finite number; got nan"),
        ({"lr": -0.1}, ValueError, "lr must be positive; got -0.1"),
        ({"lr": "0.1"}, TypeError, "lr must be a real number; got str"),
    ],
)
def test_descent_in_z_and_in_y_check_their_step_size_and_steps(kwargs, error, message):
    model = LatentEBM(EllipseDecoder(weight=torch.eye(2)))
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(error, match=message):
        model.infer_z_descent(y, torch.tensor([0.1, 1.0]), **kwargs)
    with pytest.raises(error, match=message):
        model.infer_y(y, torch.linspace(0, 2 * math.pi, 37)[:-1], 10.0, **kwargs)


def test_zero_steps_of_descent_return_the_start():
    model = LatentEBM(EllipseDecoder(weight=torch.eye(2)))
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    z, path = model.infer_z_descent(y, torch.tensor([0.1, 1.0]), steps=0)
    torch.testing.assert_close(z, torch.tensor([0.1, 1.0]))
    assert path.shape == (1, 2)


# ==========================================================================
# The free energy (Chapter 8)
# ==========================================================================

DT = torch.float64
PROPERTY = settings(max_examples=60)

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
    with pytest.raises(TypeError, match="energies must have a floating-point dtype; got torch.int64"):
        function(torch.tensor([1, 2, 3]), 1.0)
    with pytest.raises(TypeError, match="must be a torch.Tensor; got list"):
        function([1.0, 2.0], 1.0)


def test_zero_dimensional_energies_are_a_value_error():
    with pytest.raises(ValueError, match=r"energies must have 1 or more dimensions; got shape \(\)"):
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


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("beta", [1e-45, 1e-300, 1e-30])
def test_free_energy_is_the_mean_at_any_heat(dtype, beta):
    energies = torch.tensor([1.0, 2.0, 4.0], dtype=dtype, requires_grad=True)
    value = free_energy(energies, beta)
    torch.testing.assert_close(value, torch.tensor(7 / 3, dtype=dtype))
    value.backward()  # the weights are uniform
    torch.testing.assert_close(energies.grad, torch.full((3,), 1 / 3, dtype=dtype))


@pytest.mark.parametrize("beta", [1e-6, 1e-5, 1e-4, 3e-4])
def test_free_energy_expansion_meets_the_exact_formula_in_float32(beta):
    # around beta * spread = sqrt(eps) the expansion takes over from log1p: both
    # must agree with a double-precision reference to a few float32 roundings
    energies = torch.linspace(-3.0, 5.0, 17)
    reference = free_energy(energies.double(), beta)
    torch.testing.assert_close(free_energy(energies, beta).double(), reference, rtol=4e-7, atol=0)


def test_free_energy_and_weights_at_infinite_energies():
    rows = torch.tensor(
        [[1.0, -math.inf, 2.0], [math.inf, math.inf, math.inf], [1.0, 2.0, math.inf], [1.0, 2.0, 4.0]],
        requires_grad=True,
    )
    for beta in (1e-3, 1.0, 1e3, math.inf):
        value = free_energy(rows, beta)
        assert value[0].item() == -math.inf and value[1].item() == math.inf
        # an energy of +inf only dilutes the others: F([1, 2, inf]) = F([1, 2]) + log(3/2) / beta
        expected = free_energy(torch.tensor([1.0, 2.0]), beta) + math.log(1.5) / beta
        torch.testing.assert_close(value[2], expected.detach())
        weights = softmin_weights(rows.detach(), beta)
        assert weights[0].tolist() == [0.0, 1.0, 0.0]
        torch.testing.assert_close(weights[1], torch.full((3,), 1 / 3))
        assert weights[2, 2].item() == 0.0 and not weights.isnan().any()
    # rows that do not enter the loss get zero gradient, not NaN
    free_energy(rows, 1.0)[[2, 3]].sum().backward()
    assert not rows.grad.isnan().any() and rows.grad[:2].abs().sum().item() == 0.0
    torch.testing.assert_close(rows.grad[2], softmin_weights(rows.detach()[2], 1.0))


def test_free_energy_counts_a_beta_beyond_the_dtype_as_infinite():
    energies = torch.tensor([10.0, 20.0, 10.0])
    assert free_energy(energies, 1e300).item() == 10.0
    assert softmin_weights(energies, 1e300).tolist() == [0.5, 0.0, 0.5]
    assert softmin_weights(energies, 1e38).tolist() == [0.5, 0.0, 0.5]  # -beta E overflows


# ---------------------------------------------------------------- the bad-input battery (tests/badinput.py)

T = Arg("tensor")
ANGLES = Arg("tensor", accepts=("extra-dim", "missing-dim", "wrong-size"))  # angles of any shape
OPTIONAL = Arg("tensor", accepts=("None",))  # x: None is an unconditional model
BETA = Arg("real", positive=True, accepts=("inf", "tensor"))  # math.inf, and a one-number tensor, by design
DIM = Arg("int", custom={"out-of-range": 3})
STEPS = Arg("int", minimum=0)
LR = Arg("real", positive=True)
GRID = torch.linspace(0, 2 * math.pi, 9)[:-1]


def _ebm_method(name, decoder=horn_manifold):
    model = LatentEBM(decoder)
    return lambda **arguments: getattr(model, name)(**arguments)


def _targets(n=3):
    return horn_manifold(torch.full((n,), 0.5), torch.linspace(0.0, 3.0, n))


SPECS = [
    (
        "ebm.EllipseDecoder",
        EllipseDecoder,
        lambda: {"weight": torch.eye(2), "bias": torch.zeros(2), "seed": 0},
        {"weight": Arg("tensor", accepts=("None",)), "bias": Arg("tensor", accepts=("None",)), "seed": Arg("int")},
    ),
    ("ebm.EllipseDecoder.forward", lambda z: EllipseDecoder()(z), lambda: {"z": torch.zeros(3)}, {"z": ANGLES}),
    (
        "ebm.HornDecoder",
        HornDecoder,
        lambda: {"d_hidden": 8, "seed": 0},
        {"d_hidden": Arg("int", minimum=1), "seed": Arg("int")},
    ),
    (
        "ebm.HornDecoder.forward",
        lambda x, z: HornDecoder(8)(x, z),
        lambda: {"x": torch.rand(5, 1), "z": torch.rand(1, 7)},
        # x and z broadcast together: a missing or extra axis, or z's length on its own axis, broadcasts
        {
            "x": Arg("tensor", accepts=("extra-dim", "missing-dim")),
            "z": Arg("tensor", accepts=("extra-dim", "missing-dim", "wrong-size")),
        },
    ),
    ("ebm.LatentEBM", LatentEBM, lambda: {"decoder": horn_manifold}, {"decoder": Arg("callable")}),
    (
        "ebm.LatentEBM.energy",
        _ebm_method("energy"),
        lambda: {"y": _targets(), "z": torch.linspace(0.0, 3.0, 3), "x": torch.full((3,), 0.5)},
        # y, z and x broadcast together: targets (..., 2) of any leading shape, one target (2,) included
        {
            "y": Arg("tensor", accepts=("extra-dim", "missing-dim")),
            "z": Arg("tensor", accepts=("extra-dim", "missing-dim")),
            "x": Arg("tensor", accepts=("None", "extra-dim", "missing-dim")),
        },
    ),
    (
        "ebm.LatentEBM.grid_energies",
        _ebm_method("grid_energies"),
        lambda: {"y": _targets(), "z_grid": GRID, "x": torch.full((3,), 0.5)},
        {"y": T, "z_grid": Arg("tensor", accepts=("wrong-size",)), "x": OPTIONAL},
    ),
    (
        "ebm.LatentEBM.free_energy",
        _ebm_method("free_energy"),
        lambda: {"y": _targets(), "z_grid": GRID, "beta": 1.0, "x": torch.full((3,), 0.5)},
        {"y": T, "z_grid": Arg("tensor", accepts=("wrong-size",)), "beta": BETA, "x": OPTIONAL},
    ),
    (
        "ebm.LatentEBM.infer_z_grid",
        _ebm_method("infer_z_grid"),
        lambda: {"y": _targets(), "z_grid": GRID, "x": torch.full((3,), 0.5)},
        {"y": T, "z_grid": Arg("tensor", accepts=("wrong-size",)), "x": OPTIONAL},
    ),
    (
        "ebm.LatentEBM.infer_z_descent",
        _ebm_method("infer_z_descent"),
        lambda: {"y": _targets(), "z0": torch.zeros(3), "x": torch.full((3,), 0.5), "lr": 0.1, "steps": 2},
        {"y": T, "z0": T, "x": OPTIONAL, "lr": LR, "steps": STEPS},
    ),
    (
        "ebm.LatentEBM.infer_y",
        _ebm_method("infer_y"),
        lambda: {"y0": _targets(), "z_grid": GRID, "beta": 1.0, "x": torch.full((3,), 0.5), "lr": 0.05, "steps": 2},
        {
            "y0": T,
            "z_grid": Arg("tensor", accepts=("wrong-size",)),
            "beta": BETA,
            "x": OPTIONAL,
            "lr": LR,
            "steps": STEPS,
        },
    ),
    (
        "ebm.free_energy",
        free_energy,
        lambda: {"energies": torch.tensor([[1.0, 2.0, 4.0]]), "beta": 1.0, "dim": -1},
        # a batch of any leading shape, and any K
        {
            "energies": Arg("tensor", accepts=("extra-dim", "missing-dim", "wrong-size"), omit=("meta",)),
            "beta": BETA,
            "dim": DIM,
        },
    ),
    (
        "ebm.softmin_weights",
        softmin_weights,
        lambda: {"energies": torch.tensor([[1.0, 2.0, 4.0]]), "beta": 1.0, "dim": -1},
        {
            "energies": Arg("tensor", accepts=("extra-dim", "missing-dim", "wrong-size"), omit=("meta",)),
            "beta": BETA,
            "dim": DIM,
        },
    ),
]
test_the_valid_call_works, test_bad_input_gets_a_clear_error = battery(SPECS)
