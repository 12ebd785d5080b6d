"""The building blocks of gradland.ebm: decoders, the energy and its input checks.

Inference, free energy and training have their own files, one per chapter:
test_ebm_inference.py, test_ebm_free_energy.py and test_ebm_training.py.
"""

import math

import pytest
import torch

from gradland import data, ebm


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
            model.free_energy(sample.y, grid, beta), ebm.free_energy(model.grid_energies(sample.y, grid), beta)
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


def test_decoder_must_be_callable_and_fit_needs_parameters():
    with pytest.raises(TypeError, match="decoder must be callable"):
        ebm.LatentEBM(3)
    fixed = ebm.LatentEBM(data.horn_manifold)
    with pytest.raises(ValueError, match="no parameters to train"):
        ebm.fit(fixed, torch.zeros(2, 2), torch.zeros(3), 1.0, torch.zeros(2))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_free_energy_keeps_the_dtype_and_the_shape(dtype):
    energies = torch.rand(3, 4, 5, dtype=dtype)
    for beta in (1e-3, 1.0, math.inf):
        assert ebm.free_energy(energies, beta, dim=1).shape == (3, 5)
        assert ebm.free_energy(energies, beta).dtype == dtype


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_energy_runs_on_the_gpu_and_refuses_mixed_devices():
    model = ebm.LatentEBM(ebm.EllipseDecoder()).to("cuda")
    y, z = torch.zeros(4, 2, device="cuda"), torch.zeros(4, device="cuda")
    assert model.energy(y, z).device.type == "cuda"
    with pytest.raises(ValueError, match="same device"):
        model.energy(y, z.cpu())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_training_runs_on_the_gpu():
    y = data.horn(64, x=1.0, device="cuda").y
    grid = torch.linspace(0, 2 * math.pi, 65, device="cuda")[:-1]
    model = ebm.LatentEBM(ebm.EllipseDecoder()).to("cuda")
    for beta in (math.inf, 3.0):
        losses = ebm.fit(model, y, grid, beta, steps=50, lr=0.05)
        assert losses[-1] < losses[0]
    points, forces = ebm.force(model, y, grid, 3.0)
    assert points.device.type == forces.device.type == "cuda"
    energy = ebm.EnergyMLP(hidden=16).to("cuda")
    losses, y_hat = ebm.fit_contrastive(energy, y, steps=20, langevin_steps=2)
    assert y_hat.device.type == "cuda" and len(losses) == 20
