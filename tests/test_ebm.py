"""Tests of gradland.ebm (Chapter 7): decoders, the energy, and inference.

The building blocks first: the decoders, the energy of a decoder and its
input checks. Then inference: the latent by exhaustive search over a grid and
by gradient descent, and the target by descent on the zero-temperature free
energy.
"""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gradland import data, ebm
from gradland.ebm import EllipseDecoder, LatentEBM
from gradland.free_energy import free_energy

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
    dec = ebm.HornDecoder(hidden=8, seed=3)
    out = dec(torch.rand(4, 1), torch.rand(1, 6))
    assert out.shape == (4, 6, 2)
    again = ebm.HornDecoder(hidden=8, seed=3)
    x, z = torch.rand(5), torch.rand(5)
    torch.testing.assert_close(dec(x, z), again(x, z))
    with pytest.raises(ValueError, match="hidden must be a positive int"):
        ebm.HornDecoder(hidden=0)


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
        (lambda m: m.energy(torch.zeros(3, 3), torch.zeros(3)), ValueError, r"y must be a tensor of points of shape \(\.\.\., 2\)"),
        (lambda m: m.energy(torch.zeros(3, 2), torch.zeros(3, dtype=torch.int64)), TypeError, "z must be a floating"),
        (lambda m: m.grid_energies(torch.zeros(3, 2), torch.zeros(2, 2)), ValueError, r"z_grid must have shape \(K,\)"),
        (lambda m: m.grid_energies(torch.zeros(3, 2), torch.zeros(4), torch.zeros(2)), ValueError, r"x must have shape \(3,\)"),
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


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_energy_runs_on_the_gpu_and_refuses_mixed_devices():
    model = ebm.LatentEBM(ebm.EllipseDecoder()).to("cuda")
    y, z = torch.zeros(4, 2, device="cuda"), torch.zeros(4, device="cuda")
    assert model.energy(y, z).device.type == "cuda"
    with pytest.raises(ValueError, match="same device"):
        model.energy(y, z.cpu())


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
    start = clean.z + 0.3 * (2 * torch.rand(500, generator=torch.Generator().manual_seed(0),
                                            dtype=torch.float64) - 1)
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
    with pytest.raises(ValueError, match=r"z0 must have the dtype of y \(torch.float32\).*got torch.float64"):
        model.infer_z_descent(y, torch.zeros(5, dtype=torch.float64), x)
    with pytest.raises(ValueError, match="lr must be positive"):
        model.infer_z_descent(y, torch.zeros(5), x, lr=0.0)
    with pytest.raises(ValueError, match=r"y must have shape \(n, 2\); got a tensor of shape \(5, 3\)"):
        model.infer_z_descent(torch.randn(5, 3), torch.zeros(5), x)
    with pytest.raises(TypeError, match="z0 must be a floating torch.Tensor of angles"):
        model.infer_z_descent(y, torch.zeros(5, dtype=torch.int64), x)


def test_infer_y_rejects_wrong_starts():
    model = LatentEBM(data.horn_manifold)
    z_grid, x = grid(8, dtype=torch.float32), torch.rand(5)
    with pytest.raises(ValueError, match=r"y0 must be a floating tensor of shape \(n, 2\)"):
        model.infer_y(torch.randn(5, 3), z_grid, math.inf, x)
    with pytest.raises(ValueError, match=r"dtype torch.int64"):
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
        ({"weight": torch.eye(2), "bias": torch.zeros(2, dtype=torch.float64)}, TypeError,
         "weight and bias must have the same dtype; got torch.float32 and torch.float64"),
        ({"seed": 1.5}, TypeError, "seed must be an int; got float"),
    ],
)
def test_ellipse_decoder_checks_its_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        EllipseDecoder(**kwargs)


def test_decoders_refuse_angles_of_another_dtype_instead_of_casting():
    with pytest.raises(TypeError, match="z and weight must have the same dtype; got torch.float64 and torch.float32"):
        EllipseDecoder()(torch.zeros(3, dtype=torch.float64))
    horn = ebm.HornDecoder(hidden=4)
    with pytest.raises(TypeError, match="z and the decoder's weights must have the same dtype"):
        horn(torch.zeros(3), torch.zeros(3, dtype=torch.float64))
    with pytest.raises(TypeError, match="x and the decoder's weights must have the same dtype"):
        horn(torch.zeros(3, dtype=torch.float64), torch.zeros(3))
    with pytest.raises(ValueError, match=r"x and z must broadcast together; got shapes \(5,\) and \(7,\)"):
        horn(torch.zeros(5), torch.zeros(7))
    with pytest.raises(ValueError, match="hidden must be a positive int; got True"):
        ebm.HornDecoder(hidden=True)
    double = ebm.HornDecoder(hidden=4).double()  # converting the module is the way
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
