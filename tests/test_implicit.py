"""Tests of gradland.implicit: the solvers, and the gradients of the implicit layer.

The gradients of :class:`FixedPoint` are checked three ways, all in float64:
by finite differences (``torch.autograd.gradcheck``), against a linear layer
whose fixed point PyTorch can compute directly with ``torch.linalg.solve``,
and against backpropagation through many unrolled iterations. Solutions are
checked against the fixed-point equation itself. Every error message is
tested.
"""

from __future__ import annotations

import math

import pytest
import torch
from gradland.bench import saved_bytes
from gradland.implicit import (
    ConvergenceError,
    FixedPoint,
    TanhCell,
    anderson,
    fixed_point_iteration,
    relative_residual,
)
from hypothesis import given, settings
from hypothesis import strategies as st

DT = torch.float64
TIGHT = {"tol": 1e-12, "max_iter": 500}
PROPERTY = settings(max_examples=25)
SOLVERS = [anderson, fixed_point_iteration]


def cell(n: int = 4, d: int = 5, *, spectral_norm: float = 0.8, seed: int = 0) -> TanhCell:
    """A contractive TanhCell in float64, with a nonzero bias so that b gets tested too."""
    torch.manual_seed(seed)
    f = TanhCell(n, d, spectral_norm=spectral_norm, dtype=DT)
    with torch.no_grad():
        f.b.normal_(0.0, 0.3)
    return f


def randn(*shape: int, seed: int = 0, requires_grad: bool = False) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator, dtype=DT).requires_grad_(requires_grad)


class Linear(torch.nn.Module):
    """f(z, x) = A z + x, whose fixed point is (I - A)^{-1} x: a case with a closed form."""

    def __init__(self, A: torch.Tensor) -> None:
        super().__init__()
        self.A = torch.nn.Parameter(A)

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return z @ self.A.T + x


class Translation(torch.nn.Module):
    """f(z, x) = z + x: moves every point by x, so it has no fixed point when x != 0."""

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return z + x


# --- the solvers --------------------------------------------------------------


@pytest.mark.parametrize("solve", SOLVERS)
def test_solution_of_a_scalar_equation(solve) -> None:
    z, residuals = solve(torch.cos, torch.zeros(1, dtype=DT), tol=1e-12)
    torch.testing.assert_close(z, torch.cos(z), rtol=0, atol=1e-11)
    assert residuals[-1] <= 1e-12 < residuals[0]


@pytest.mark.parametrize("solve", SOLVERS)
@PROPERTY
@given(
    batch=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    d=st.integers(1, 8),
    norm=st.floats(0.1, 0.95),
    seed=st.integers(0, 2**16),
)
def test_solution_satisfies_the_fixed_point_equation(solve, batch, d, norm, seed) -> None:
    f, x = cell(3, d, spectral_norm=norm, seed=seed), randn(*batch, 3, seed=seed)
    tol = 1e-10
    with torch.no_grad():
        z, residuals = solve(lambda z: f(z, x), torch.zeros(*batch, d, dtype=DT), tol=tol, max_iter=1000)
        fz = f(z, x)
    assert z.shape == (*batch, d)
    assert residuals[-1] <= tol and relative_residual(z, fz) == residuals[-1]
    # the residual test, example by example, in the norm of the docstring
    gap = torch.linalg.vector_norm(fz - z, dim=-1)
    size = torch.maximum(torch.linalg.vector_norm(fz, dim=-1), torch.linalg.vector_norm(z, dim=-1))
    assert torch.all(gap <= tol * size)


@PROPERTY
@given(d=st.integers(1, 8), norm=st.floats(0.1, 0.95), seed=st.integers(0, 2**16))
def test_anderson_and_plain_iteration_agree(d, norm, seed) -> None:
    f, x = cell(3, d, spectral_norm=norm, seed=seed), randn(4, 3, seed=seed)
    with torch.no_grad():
        z0 = torch.zeros(4, d, dtype=DT)
        z_plain, _ = fixed_point_iteration(lambda z: f(z, x), z0, tol=1e-12, max_iter=5000)
        z_anderson, _ = anderson(lambda z: f(z, x), z0, tol=1e-12, max_iter=5000)
    # both are within about tol / (1 - L) of the one fixed point (Banach)
    torch.testing.assert_close(z_anderson, z_plain, rtol=0, atol=1e-10)


def test_anderson_with_memory_one_is_plain_iteration() -> None:
    f, x = cell(), randn(2, 4)
    with torch.no_grad():
        plain = fixed_point_iteration(lambda z: f(z, x), torch.zeros(2, 5, dtype=DT), tol=1e-9)
        one = anderson(lambda z: f(z, x), torch.zeros(2, 5, dtype=DT), tol=1e-9, memory=1)
    assert len(one.residuals) == len(plain.residuals)
    torch.testing.assert_close(one.z, plain.z, rtol=0, atol=1e-14)


def test_anderson_solves_a_linear_map_that_iteration_cannot() -> None:
    # g(z) = x - z: plain iteration jumps between 0 and x forever, Anderson
    # with two iterates lands on the fixed point x / 2 at its third evaluation.
    x = randn(3, 4)
    with pytest.raises(ConvergenceError):
        fixed_point_iteration(lambda z: x - z, torch.zeros_like(x), tol=1e-10, max_iter=50)
    z, residuals = anderson(lambda z: x - z, torch.zeros_like(x), tol=1e-10)
    assert len(residuals) == 3
    torch.testing.assert_close(z, x / 2, rtol=0, atol=1e-14)


def test_anderson_converges_in_fewer_iterations() -> None:
    d = 40
    f, x = cell(3, d, spectral_norm=0.95, seed=1), randn(8, 3, seed=1)
    with torch.no_grad():  # a symmetric W: eigenvalues near +-0.95 make plain iteration slow
        A = randn(d, d, seed=2)
        f.W.copy_(0.95 * (A + A.T) / torch.linalg.matrix_norm(A + A.T, ord=2))
        plain = fixed_point_iteration(lambda z: f(z, x), torch.zeros(8, d, dtype=DT), tol=1e-10, max_iter=2000)
        fast = anderson(lambda z: f(z, x), torch.zeros(8, d, dtype=DT), tol=1e-10)
    assert 2 * len(fast.residuals) < len(plain.residuals)


def test_batched_problems_are_solved_independently() -> None:
    f, x = cell(), randn(6, 4, seed=3)
    with torch.no_grad():
        together = anderson(lambda z: f(z, x), torch.zeros(6, 5, dtype=DT), **TIGHT).z
        alone = [anderson(lambda z: f(z, x_b), torch.zeros(5, dtype=DT), **TIGHT).z for x_b in x]
    torch.testing.assert_close(together, torch.stack(alone), rtol=0, atol=1e-11)


def test_unrolled_solver_records_every_iteration() -> None:
    f, x = cell(), randn(3, 4, seed=4, requires_grad=True)
    (z, residuals), nbytes = saved_bytes(
        lambda: fixed_point_iteration(lambda z: f(z, x), torch.zeros(3, 5, dtype=DT), tol=1e-8)
    )
    # Each evaluation of f keeps tanh's output, which is also the next
    # iterate (B x d floats); once only: z0, x, W and U.
    B, n, d, float64 = 3, 4, 5, 8
    once = (B * d + B * n + d * d + d * n) * float64
    assert nbytes == len(residuals) * B * d * float64 + once
    assert z.grad_fn is not None


# --- non-convergence ----------------------------------------------------------


@pytest.mark.parametrize(
    "solve, name", [(anderson, "Anderson acceleration"), (fixed_point_iteration, "fixed-point iteration")]
)
def test_a_map_without_fixed_point_raises(solve, name) -> None:
    x = torch.ones(2, 3, dtype=DT)
    with pytest.raises(
        ConvergenceError,
        match=rf"{name} did not converge: after 50 iterations the "
        r"relative residual is 0\.0\d+, above the tolerance 1e-06 \(is the map a contraction\?\)",
    ) as info:
        solve(lambda z: z + x, torch.zeros_like(x), tol=1e-6, max_iter=50)
    err = info.value
    assert isinstance(err, RuntimeError)
    assert err.iterations == 50 and err.tol == 1e-6 and 0 < err.residual < 0.1


def test_a_diverging_iteration_stops_early() -> None:
    with pytest.raises(
        ConvergenceError,
        match=r"after \d+ iterations the relative residual is nan.*"
        r"the iterates are no longer finite",
    ) as info:
        fixed_point_iteration(lambda z: z * z + 1, torch.zeros(1, dtype=DT), max_iter=100)
    assert info.value.iterations < 20


def test_non_contractive_layer_raises_in_forward() -> None:
    layer = FixedPoint(Translation(), 3, tol=1e-6, max_iter=30)
    with pytest.raises(
        ConvergenceError,
        match=r"the forward solve of FixedPoint \(anderson\) did not "
        r"converge: after 30 iterations the relative residual is .*, above the tolerance 1e-06",
    ):
        layer(torch.ones(2, 3, dtype=DT))


def test_failed_backward_solve_raises_from_backward() -> None:
    f = cell()
    layer = FixedPoint(f, 5, solver="iteration", tol=1e-10, backward_tol=1e-10, backward_max_iter=1)
    z = layer(randn(2, 4, requires_grad=True))  # the forward solve is fine
    with pytest.raises(
        ConvergenceError,
        match=r"the backward solve of FixedPoint \(iteration\) did not "
        r"converge: after 1 iterations the relative residual is 1, above the tolerance 1e-10",
    ):
        z.sum().backward()


# --- the layer and its gradients ---------------------------------------------


@pytest.mark.parametrize("solver", ["anderson", "iteration"])
def test_gradcheck_with_respect_to_x_and_the_parameters(solver) -> None:
    f = cell(3, 3)
    layer = FixedPoint(f, 3, solver=solver, **TIGHT)
    x = randn(2, 3, seed=5, requires_grad=True)
    # gradcheck perturbs its inputs in place: passing the parameters of f
    # themselves makes the layer see every perturbation.
    assert torch.autograd.gradcheck(lambda x, *params: layer(x), (x, *f.parameters()))


def test_a_gradcheck_that_must_fail_does() -> None:
    # A loose forward tolerance makes z* wrong by more than gradcheck forgives.
    f = cell(3, 3)
    layer = FixedPoint(f, 3, tol=1e-3)
    x = randn(2, 3, seed=5, requires_grad=True)
    assert not torch.autograd.gradcheck(lambda x: layer(x), (x,), raise_exception=False)


def test_linear_fixed_point_matches_linalg_solve() -> None:
    # z* = (I - A)^{-1} x, so every gradient can be compared with linalg.solve's.
    d = 5
    A = randn(d, d, seed=6)
    A = 0.7 * A / torch.linalg.matrix_norm(A, ord=2)
    layer = FixedPoint(Linear(A.clone()), d, **TIGHT)
    x = randn(3, d, seed=7, requires_grad=True)
    c = randn(3, d, seed=8)
    z = layer(x)
    (z * c).sum().backward()

    A_ref, x_ref = A.clone().requires_grad_(), x.detach().clone().requires_grad_()
    z_ref = torch.linalg.solve(torch.eye(d, dtype=DT) - A_ref, x_ref.T).T
    (z_ref * c).sum().backward()
    torch.testing.assert_close(z, z_ref, rtol=0, atol=1e-10)
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=0, atol=1e-10)
    torch.testing.assert_close(layer.f.A.grad, A_ref.grad, rtol=0, atol=1e-10)


@pytest.mark.parametrize("solver", ["anderson", "iteration"])
def test_implicit_gradients_match_the_unrolled_solver(solver) -> None:
    f = cell(4, 6, spectral_norm=0.9, seed=9)
    x = randn(5, 4, seed=10, requires_grad=True)
    params = [x, *f.parameters()]
    target = randn(5, 6, seed=11)

    z = FixedPoint(f, 6, solver=solver, **TIGHT)(x)
    implicit = torch.autograd.grad(((z - target) ** 2).sum(), params)
    # backpropagation through every one of many plain iterations
    z_unrolled, residuals = fixed_point_iteration(
        lambda z: f(z, x), torch.zeros(5, 6, dtype=DT), tol=1e-14, max_iter=2000
    )
    unrolled = torch.autograd.grad(((z_unrolled - target) ** 2).sum(), params)
    assert len(residuals) > 30
    for a, b in zip(implicit, unrolled):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_few_unrolled_iterations_give_a_different_gradient() -> None:
    # The comparison above can fail: stop unrolling early and it does.
    f, x = cell(4, 6, spectral_norm=0.9, seed=9), randn(5, 4, seed=10, requires_grad=True)
    implicit = torch.autograd.grad(FixedPoint(f, 6, **TIGHT)(x).sum(), x)[0]
    z3 = torch.zeros(5, 6, dtype=DT)
    for _ in range(3):
        z3 = f(z3, x)
    assert (torch.autograd.grad(z3.sum(), x)[0] - implicit).abs().max() > 1e-3


def test_batched_layer_equals_one_example_at_a_time() -> None:
    f = cell()
    layer = FixedPoint(f, 5, **TIGHT)
    x = randn(2, 3, 4, seed=12, requires_grad=True)  # two batch dimensions
    z = layer(x)
    assert z.shape == (2, 3, 5)
    grad_W = torch.autograd.grad((z**2).sum(), f.W)[0]
    zs = [layer(x_b) for x_b in x.detach().reshape(-1, 4)]
    torch.testing.assert_close(z.detach().reshape(-1, 5), torch.stack(zs).detach(), rtol=0, atol=1e-11)
    grad_W_one_by_one = sum(torch.autograd.grad((z_b**2).sum(), f.W)[0] for z_b in zs)
    torch.testing.assert_close(grad_W, grad_W_one_by_one, rtol=0, atol=1e-10)


def test_only_the_gradients_asked_for_are_computed() -> None:
    f = cell()
    f.U.requires_grad_(False)
    layer = FixedPoint(f, 5, **TIGHT)
    x = randn(2, 4, seed=13)  # no gradient for x
    layer(x).sum().backward()
    assert f.U.grad is None and x.grad is None
    assert f.W.grad is not None and f.b.grad is not None


@pytest.mark.parametrize("x_needs_grad", [False, True])
def test_the_last_vjp_asks_only_for_the_inputs_that_need_a_gradient(monkeypatch, x_needs_grad) -> None:
    asked = []
    grad = torch.autograd.grad

    def recording_grad(outputs, inputs, *args, **kwargs):
        asked.append([tuple(t.shape) for t in (inputs if isinstance(inputs, (list, tuple)) else [inputs])])
        return grad(outputs, inputs, *args, **kwargs)

    f = cell()
    f.U.requires_grad_(False)
    layer = FixedPoint(f, 5, **TIGHT)
    x = randn(2, 4, seed=13, requires_grad=x_needs_grad)
    out = layer(x).sum()
    monkeypatch.setattr(torch.autograd, "grad", recording_grad)
    out.backward()
    monkeypatch.undo()
    want = [tuple(x.shape)] * x_needs_grad + [tuple(f.W.shape), tuple(f.b.shape)]
    assert asked[-1] == want  # the VJPs of the adjoint solve ask for z only
    assert (x.grad is not None) == x_needs_grad


def test_memory_kept_for_backward_is_the_solution_and_the_input() -> None:
    f = cell()
    x = randn(7, 4, seed=14, requires_grad=True)
    for tol in (1e-2, 1e-6, 1e-12):
        layer = FixedPoint(f, 5, solver="iteration", tol=tol, max_iter=500)
        z, nbytes = saved_bytes(lambda: layer(x))
        assert nbytes == z.nbytes + x.nbytes  # whatever the number of iterations


def test_residuals_of_both_solves_are_recorded() -> None:
    f = cell()
    layer = FixedPoint(f, 5, tol=1e-8, backward_tol=1e-9)
    layer(randn(3, 4, requires_grad=True)).sum().backward()
    assert layer.forward_residuals[-1] <= 1e-8 < layer.forward_residuals[0]
    assert layer.backward_residuals[-1] <= 1e-9 < layer.backward_residuals[0]
    assert "solver='anderson', tol=1e-08" in repr(layer)


def test_a_warm_start_gives_the_same_answer_faster() -> None:
    f, x = cell(), randn(3, 4, seed=15)
    layer = FixedPoint(f, 5, **TIGHT)
    z_cold = layer(x)
    cold = len(layer.forward_residuals)
    z_warm = layer(x, z0=z_cold + 1e-6)
    assert len(layer.forward_residuals) < cold
    torch.testing.assert_close(z_warm, z_cold, rtol=0, atol=1e-11)


def test_the_layer_trains() -> None:
    torch.manual_seed(0)
    f = TanhCell(2, 8, spectral_norm=0.5, dtype=DT)
    layer, head = FixedPoint(f, 8), torch.nn.Linear(8, 1, dtype=DT)
    x = randn(64, 2, seed=16)
    y = torch.sin(x[:, :1]) * x[:, 1:]
    optimiser = torch.optim.Adam([*f.parameters(), *head.parameters()], lr=0.02)
    losses = []
    for _ in range(60):
        loss = ((head(layer(x)) - y) ** 2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]


def test_everything_runs_on_every_device(device) -> None:
    f = cell().to(device)
    layer = FixedPoint(f, 5, **TIGHT)
    x = randn(3, 4, seed=17).to(device).requires_grad_()
    z = layer(x)
    z.sum().backward()
    assert z.device == x.grad.device == f.W.grad.device == torch.device(device.type, z.device.index)
    with torch.no_grad():
        assert relative_residual(z, f(z, x)) <= 1e-12
    assert torch.autograd.gradcheck(lambda x, *params: layer(x), (x, *f.parameters()))


# --- errors at the boundary ---------------------------------------------------


@pytest.mark.parametrize("solve", SOLVERS)
def test_solvers_reject_bad_options(solve) -> None:
    z0 = torch.zeros(3)
    for tol in (0, -1e-3, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"tol must be (positive|a finite number); got "):
            solve(torch.cos, z0, tol=tol)
    for tol in ("1e-3", True):
        with pytest.raises(TypeError, match=r"tol must be a real number; got (str|bool)"):
            solve(torch.cos, z0, tol=tol)
    with pytest.raises(ValueError, match="max_iter must be at least 1; got 0"):
        solve(torch.cos, z0, max_iter=0)
    for max_iter in (2.5, True):
        with pytest.raises(TypeError, match="max_iter must be an int; got (float|bool)"):
            solve(torch.cos, z0, max_iter=max_iter)


@pytest.mark.parametrize("solve", SOLVERS)
def test_solvers_reject_bad_inputs(solve) -> None:
    with pytest.raises(TypeError, match="g must be a function of z; got int"):
        solve(3, torch.zeros(3))
    with pytest.raises(
        TypeError, match=r"z0 must be a torch.Tensor of shape \(\.\.\., d\), at least one dimension; got list"
    ):
        solve(torch.cos, [0.0, 0.0])
    with pytest.raises(TypeError, match="z0 must have a floating-point dtype; got torch.int64"):
        solve(torch.cos, torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"z0 must have shape \(\.\.\., d\), at least one dimension; got shape \(\)"):
        solve(torch.cos, torch.tensor(0.0))
    with pytest.raises(
        ValueError, match=r"g must return a tensor of shape \(2, 3\), the shape of z; got shape \(2, 4\)"
    ):
        solve(lambda z: torch.zeros(2, 4), torch.zeros(2, 3))
    with pytest.raises(TypeError, match=r"g must return a tensor of shape \(3,\), the shape of z; got list"):
        solve(lambda z: [0.0] * 3, torch.zeros(3))


def test_anderson_rejects_bad_options() -> None:
    z0 = torch.zeros(3)
    with pytest.raises(ValueError, match="memory must be at least 1; got 0"):
        anderson(torch.cos, z0, memory=0)
    with pytest.raises(ValueError, match="omega must be positive; got 0.0"):
        anderson(torch.cos, z0, omega=0.0)
    with pytest.raises(ValueError, match="omega must be at most 1; got 1.5"):
        anderson(torch.cos, z0, omega=1.5)
    with pytest.raises(ValueError, match="lam must be positive; got 0.0"):
        anderson(torch.cos, z0, lam=0.0)


def test_fixed_point_layer_rejects_bad_construction() -> None:
    with pytest.raises(TypeError, match=r"f must be a torch.nn.Module called as f\(z, x\); got function"):
        FixedPoint(lambda z, x: z, 3)
    with pytest.raises(ValueError, match="d_z must be at least 1; got 0"):
        FixedPoint(cell(), 0)
    with pytest.raises(ValueError, match=r"solver must be one of \('anderson', 'iteration'\); got 'newton'"):
        FixedPoint(cell(), 5, solver="newton")
    with pytest.raises(ValueError, match=r"the iteration solver takes the options \[\]; got \['memory'\]"):
        FixedPoint(cell(), 5, solver="iteration", memory=3)
    with pytest.raises(
        ValueError, match=r"the anderson solver takes the options \['lam', 'memory', 'omega'\]; got \['momentum'\]"
    ):
        FixedPoint(cell(), 5, momentum=0.9)
    with pytest.raises(ValueError, match="tol must be positive; got -1"):
        FixedPoint(cell(), 5, tol=-1)
    with pytest.raises(ValueError, match="backward_tol must be positive; got 0"):
        FixedPoint(cell(), 5, backward_tol=0)
    with pytest.raises(ValueError, match="backward_max_iter must be at least 1; got 0"):
        FixedPoint(cell(), 5, backward_max_iter=0)
    for bad in (0, math.inf):
        with pytest.raises(ValueError, match="spectral_norm must be (positive|a finite number)"):
            TanhCell(3, 4, spectral_norm=bad)
    with pytest.raises(ValueError, match="batch normalisation mixes them"):
        FixedPoint(torch.nn.Sequential(torch.nn.BatchNorm1d(5)), 5)


def test_relative_residual_is_exact_at_every_scale_of_float32() -> None:
    for scale in (1e-40, 1e-30, 1e-23, 1.0, 1e19, 1e30):
        z = torch.full((2,), scale)
        assert relative_residual(z, 2 * z) == pytest.approx(0.5, rel=1e-6)
    assert relative_residual(torch.zeros(3), torch.zeros(3)) == 0.0
    assert math.isnan(relative_residual(torch.tensor([1.0, math.inf]), torch.ones(2)))
    with pytest.raises(ValueError, match=r"z and gz must have one shape \(\.\.\., d\); got \(\) and \(2, 2\)"):
        relative_residual(torch.tensor(1.0), torch.ones(2, 2))


@pytest.mark.parametrize("solve", SOLVERS)
def test_solvers_find_a_tiny_fixed_point_in_float32(solve) -> None:
    result = solve(lambda z: z / 2 + 1e-25, torch.zeros(3), tol=1e-5)
    torch.testing.assert_close(result.z, torch.full((3,), 2e-25), rtol=1e-4, atol=0)


@pytest.mark.parametrize("shape", [(1,), (2, 3), (4, 1)])
def test_anderson_solves_the_docstring_problem_in_float32(shape) -> None:
    result = anderson(torch.cos, torch.zeros(shape), tol=1e-5)
    torch.testing.assert_close(result.z, torch.full(shape, 0.7390851), rtol=1e-4, atol=0)


def test_fixed_point_layer_rejects_bad_inputs() -> None:
    layer = FixedPoint(cell(), 5)
    with pytest.raises(TypeError, match=r"x must be a torch.Tensor of shape \(\.\.\., n\); got list"):
        layer([1.0, 2.0])
    with pytest.raises(TypeError, match="x must have a floating-point dtype; got torch.int64"):
        layer(torch.ones(2, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., n\); got shape \(\)"):
        layer(torch.tensor(1.0, dtype=DT))
    with pytest.raises(TypeError, match="x must have f's dtype torch.float64; got .*float32"):
        layer(torch.ones(2, 4))
    with pytest.raises(ValueError, match="x must be on f's device cpu; got .*on meta"):
        layer(torch.ones(2, 4, dtype=DT, device="meta"))
    with pytest.raises(
        ValueError, match=r"z0 must have shape \(2, 5\) = \(\*x.shape\[:-1\], d_z\); got shape \(2, 4\)"
    ):
        layer(torch.ones(2, 4, dtype=DT), torch.zeros(2, 4, dtype=DT))
    with pytest.raises(ValueError, match="x and z0 must be on the same device; got cpu and meta"):
        layer(torch.ones(2, 4, dtype=DT), torch.zeros(2, 5, dtype=DT, device="meta"))


def test_clipping_the_spectral_norm() -> None:
    f = cell(spectral_norm=0.5)
    W = f.W.detach().clone()
    assert f.clip_spectral_norm_(0.9) == pytest.approx(0.5)
    assert torch.equal(f.W, W)  # inside the ball: left alone
    with torch.no_grad():
        f.W.mul_(4.0)
    assert f.clip_spectral_norm_(0.9) == pytest.approx(2.0)
    torch.testing.assert_close(torch.linalg.matrix_norm(f.W.detach(), ord=2), torch.tensor(0.9, dtype=DT))
    torch.testing.assert_close(f.W.detach(), W * 1.8)  # the same direction, scaled
    with pytest.raises(ValueError, match="max_norm must be positive; got -1"):
        f.clip_spectral_norm_(-1)


def test_backward_in_a_fresh_process_gives_the_gradient_and_no_context_warning(device):
    """The first backward pass through the layer, in a fresh process as in a chapter, gives
    the gradient computed here on the CPU; on a GPU it runs its cuBLAS products with the
    device's context current, so PyTorch prints no "no current CUDA context" warning."""
    import json
    import subprocess
    import sys

    script = (
        "import json, torch, warnings; warnings.simplefilter('always')\n"
        "from gradland import implicit\n"
        "torch.manual_seed(0)\n"
        f"f = implicit.TanhCell(3, 4, dtype=torch.float64).to('{device}')\n"
        f"x = torch.linspace(-1, 1, 6, dtype=torch.float64).reshape(2, 3).to('{device}').requires_grad_()\n"
        "implicit.FixedPoint(f, 4, tol=1e-12, max_iter=500)(x).sum().backward()\n"
        "print(json.dumps(x.grad.cpu().tolist()))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "no current CUDA context" not in done.stderr, done.stderr
    torch.manual_seed(0)
    f = TanhCell(3, 4, dtype=DT)
    x = torch.linspace(-1, 1, 6, dtype=DT).reshape(2, 3).requires_grad_()
    FixedPoint(f, 4, tol=1e-12, max_iter=500)(x).sum().backward()
    torch.testing.assert_close(torch.tensor(json.loads(done.stdout), dtype=DT), x.grad, rtol=1e-9, atol=1e-12)
