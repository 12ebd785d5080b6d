"""Tests of gradland.calculus: finite differences against autograd, gradient descent
against its closed form on a quadratic, and every error message.

Everything runs in float64. A central difference with step 1e-6 has a
truncation error of order 1e-12 times the third derivative and a rounding error
of order 1e-16 / 1e-6 = 1e-10 times the size of f, so the finite-difference
tolerances below are 1e-7: loose enough for any smooth test function, tight
enough that a wrong column, a transposed layout or a forward difference fails.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from gradland import calculus
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.autograd.functional import hessian, jacobian

DT = torch.float64
FD_TOL = {"rtol": 1e-7, "atol": 1e-7}
TOL = {"rtol": 1e-12, "atol": 1e-12}
PROPERTY = settings(max_examples=60)

sizes = st.integers(min_value=1, max_value=6)
seeds = st.integers(min_value=0, max_value=2**31 - 1)


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    """A reproducible float64 tensor of standard normal entries."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator, dtype=DT)


def smooth_map(m: int, n: int, seed: int):
    """A random smooth f: R^n -> R^m mixing a layer, a product and a sine."""
    W, b, B = randn(m, n, seed=seed), randn(m, seed=seed + 1), randn(m, n, seed=seed + 2)

    def f(x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(W @ x + b) * (1 + x.sum() ** 2 / 4) + torch.sin(B @ x)

    return f


def smooth_scalar(n: int, seed: int):
    """A random smooth f: R^n -> R, returned as a 0-D tensor."""
    g = smooth_map(3, n, seed)
    return lambda x: torch.logsumexp(g(x), dim=0) + 0.1 * (x**4).sum()


# --- jacobian_fd: the book's layout, m x n ----------------------------------------


@PROPERTY
@given(m=sizes, n=sizes, seed=seeds)
def test_jacobian_fd_matches_autograd(m: int, n: int, seed: int) -> None:
    f, x = smooth_map(m, n, seed), 0.5 * randn(n, seed=seed + 3)
    J = calculus.jacobian_fd(f, x)
    assert J.shape == (m, n) and J.dtype == DT
    torch.testing.assert_close(J, jacobian(f, x), **FD_TOL)


@PROPERTY
@given(n=sizes, seed=seeds)
def test_jacobian_fd_of_a_scalar_function_is_a_row(n: int, seed: int) -> None:
    f, x = smooth_scalar(n, seed), 0.5 * randn(n, seed=seed + 3)
    J = calculus.jacobian_fd(f, x)
    gradient = jacobian(f, x)  # PyTorch returns the gradient, shape (n,)
    assert J.shape == (1, n) and gradient.shape == (n,)
    torch.testing.assert_close(J, gradient[None, :], **FD_TOL)  # the row is the gradient, transposed
    torch.testing.assert_close(J[0], torch.func.grad(f)(x), **FD_TOL)


def test_jacobian_fd_of_a_one_entry_vector_is_also_a_row() -> None:
    x = randn(4, seed=1)
    J = calculus.jacobian_fd(lambda x: (x**2).sum().reshape(1), x)
    assert J.shape == (1, 4)
    torch.testing.assert_close(J[0], 2 * x, **FD_TOL)


@PROPERTY
@given(m=sizes, n=sizes, seed=seeds)
def test_jacobian_fd_of_a_linear_map_is_its_matrix(m: int, n: int, seed: int) -> None:
    A, x = randn(m, n, seed=seed), randn(n, seed=seed + 1)
    # no truncation error for a linear map, only rounding: far below FD_TOL
    torch.testing.assert_close(calculus.jacobian_fd(lambda v: A @ v, x), A, rtol=0, atol=5e-8)


def test_jacobian_fd_columns_are_inputs_rows_are_outputs() -> None:
    x = torch.tensor([1.0, 2.0, 3.0], dtype=DT)
    J = calculus.jacobian_fd(lambda x: torch.stack([x[0], 5 * x[2]]), x)  # R^3 -> R^2
    expected = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 5.0]], dtype=DT)
    torch.testing.assert_close(J, expected, rtol=0, atol=1e-8)


def test_central_difference_error_is_second_order() -> None:
    # f = exp at 0: the central difference is exactly (e^h - e^-h) / 2h = sinh(h) / h,
    # whose error is h^2 / 6 + O(h^4). Halving h divides it by 4 (by 2 for a forward one).
    x = torch.zeros(1, dtype=DT)
    errors = [(calculus.jacobian_fd(torch.exp, x, eps=h)[0, 0] - 1.0).abs().item() for h in (1e-2, 5e-3)]
    assert errors[0] == pytest.approx(1e-4 / 6, rel=1e-3)
    assert errors[0] / errors[1] == pytest.approx(4.0, rel=1e-3)


def test_jacobian_fd_of_the_gradient_is_the_hessian() -> None:
    # f may itself call autograd: jacobian_fd leaves grad mode alone
    f, x = smooth_scalar(4, seed=7), 0.3 * randn(4, seed=8)

    def gradient(v: torch.Tensor) -> torch.Tensor:
        v = v.detach().requires_grad_()
        return torch.autograd.grad(f(v), v)[0]

    torch.testing.assert_close(calculus.jacobian_fd(gradient, x), hessian(f, x), **FD_TOL)


def test_jacobian_fd_needs_no_autograd() -> None:
    # a function autograd cannot see through (it leaves torch) still has its Jacobian
    def f(x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(x.numpy() ** 3)

    x = torch.tensor([1.0, -2.0], dtype=DT)
    torch.testing.assert_close(calculus.jacobian_fd(f, x), torch.diag(3 * x**2), **FD_TOL)


def test_jacobian_fd_with_no_inputs_is_m_by_0() -> None:
    J = calculus.jacobian_fd(lambda x: torch.ones(3, dtype=DT) + x.sum(), torch.zeros(0, dtype=DT))
    assert J.shape == (3, 0) and J.dtype == DT


def test_jacobian_fd_keeps_float32() -> None:
    x = torch.tensor([0.5, 1.5])
    J = calculus.jacobian_fd(torch.sin, x, eps=1e-2)
    assert J.dtype == torch.float32
    torch.testing.assert_close(J, torch.diag(torch.cos(x)), rtol=0, atol=1e-4)


# --- gradient_descent ----------------------------------------------------------


def spd(n: int, seed: int) -> torch.Tensor:
    """A random symmetric positive definite matrix with eigenvalues in [1, 10]."""
    Q, _ = torch.linalg.qr(randn(n, n, seed=seed))
    eigenvalues = torch.linspace(1.0, 10.0, n, dtype=DT)
    return Q @ torch.diag(eigenvalues) @ Q.T


@PROPERTY
@given(
    n=sizes,
    seed=seeds,
    steps=st.integers(min_value=0, max_value=30),
    fraction=st.floats(min_value=0.01, max_value=1.9),
)
def test_gradient_descent_on_a_quadratic_matches_the_closed_form(
    n: int, seed: int, steps: int, fraction: float
) -> None:
    # f(x) = x^T A x / 2 has gradient A x, so x_k = (I - lr A)^k x_0
    A, x0 = spd(n, seed), randn(n, seed=seed + 1)
    lr = fraction / 10.0  # the largest eigenvalue is L = 10: lr < 2 / L
    trajectory, values = calculus.gradient_descent(lambda x: 0.5 * x @ A @ x, x0, lr=lr, steps=steps)
    assert trajectory.shape == (steps + 1, n) and values.shape == (steps + 1,)
    M = torch.eye(n, dtype=DT) - lr * A
    expected = torch.stack([torch.linalg.matrix_power(M, k) @ x0 for k in range(steps + 1)])
    torch.testing.assert_close(trajectory, expected, **TOL)
    torch.testing.assert_close(values, 0.5 * torch.einsum("ki,ij,kj->k", expected, A, expected), **TOL)


def test_gradient_descent_decreases_f_for_a_small_step() -> None:
    f = smooth_scalar(5, seed=3)
    _, values = calculus.gradient_descent(f, randn(5, seed=4), lr=1e-3, steps=50)
    assert bool((values[1:] < values[:-1]).all())


def test_gradient_descent_with_zero_steps_returns_the_start() -> None:
    x0 = randn(3, seed=5)
    trajectory, values = calculus.gradient_descent(lambda x: (x**2).sum(), x0, lr=0.1, steps=0)
    assert torch.equal(trajectory, x0[None, :])
    torch.testing.assert_close(values, (x0**2).sum()[None], **TOL)


def test_gradient_descent_leaves_x0_alone_and_returns_detached_tensors() -> None:
    x0 = randn(3, seed=6).requires_grad_()
    before = x0.detach().clone()
    trajectory, values = calculus.gradient_descent(lambda x: (x**2).sum(), x0, lr=0.1, steps=5)
    assert torch.equal(x0.detach(), before) and x0.grad is None
    assert not trajectory.requires_grad and not values.requires_grad


def test_gradient_descent_works_under_no_grad_and_on_constants() -> None:
    x0 = randn(2, seed=7)
    with torch.no_grad():
        trajectory = calculus.gradient_descent(lambda x: (x**2).sum(), x0, lr=0.25, steps=1).path
    torch.testing.assert_close(trajectory[1], 0.5 * x0, **TOL)
    constant = torch.tensor(3.0, dtype=DT)
    assert torch.equal(calculus.gradient_descent(lambda x: constant, x0, lr=1.0, steps=3).path[3], x0)
    weight = torch.ones((), dtype=DT, requires_grad=True)  # depends on a parameter, not on x
    assert torch.equal(calculus.gradient_descent(lambda x: 2 * weight, x0, lr=1.0, steps=3).path[3], x0)


def test_gradient_descent_uses_the_autograd_gradient() -> None:
    f, x0, lr = smooth_scalar(4, seed=9), randn(4, seed=10), 0.05
    trajectory = calculus.gradient_descent(f, x0, lr=lr, steps=3).path
    x = x0
    for k in range(1, 4):
        x = x - lr * torch.func.grad(f)(x)
        torch.testing.assert_close(trajectory[k], x, **TOL)


def test_gradient_descent_diverges_beyond_two_over_L_and_says_when() -> None:
    # f = x^2 / 2 has L = 1; with lr = 3 each step multiplies x by 1 - 3 = -2, so
    # x_k^2 = 4^k overflows float64 (max about 2^1024) at k = 512
    with pytest.raises(
        FloatingPointError,
        match=r"diverged at step 512 of 1000: f\(x_512\) is not finite \(lr = 3\); try a smaller",
    ):
        calculus.gradient_descent(lambda x: 0.5 * (x**2).sum(), torch.ones(1, dtype=DT), 3.0, 1000)
    # just below 2 / L it converges, oscillating
    trajectory = calculus.gradient_descent(lambda x: 0.5 * (x**2).sum(), torch.ones(1, dtype=DT), 1.9, 50).path
    assert abs(trajectory[-1, 0].item()) == pytest.approx(0.9**50, rel=1e-9)


def test_gradient_descent_reports_a_non_finite_gradient() -> None:
    with pytest.raises(FloatingPointError, match=r"at step 0 of 5: the gradient at x_0 is not finite"):
        calculus.gradient_descent(lambda x: x.abs().sqrt().sum(), torch.zeros(2, dtype=DT), 0.1, 5)
    with pytest.raises(FloatingPointError, match=r"at step 0 of 5: f\(x_0\) is not finite"):
        calculus.gradient_descent(lambda x: torch.log(x).sum(), -torch.ones(2, dtype=DT), 0.1, 5)


def test_gradient_descent_reports_an_iterate_that_overflows() -> None:
    # the value stays finite (it is bounded), but the step is too large to represent
    f = lambda x: torch.tanh(1e300 * x).sum()  # noqa: E731
    with pytest.raises(FloatingPointError, match=r"at step 1 of 3: the iterate x_1 is not finite"):
        calculus.gradient_descent(f, torch.zeros(1, dtype=DT), lr=1e10, steps=3)


# --- errors at the boundary ---------------------------------------------------------


def test_jacobian_fd_rejects_bad_input() -> None:
    f = lambda x: x**2  # noqa: E731
    with pytest.raises(TypeError, match=r"x must be a torch.Tensor of shape \(n,\); got list"):
        calculus.jacobian_fd(f, [1.0, 2.0])
    with pytest.raises(TypeError, match="x must have a floating-point dtype; got torch.int64"):
        calculus.jacobian_fd(f, torch.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"x must be a vector of shape \(n,\); got shape \(2, 2\)"):
        calculus.jacobian_fd(f, torch.ones(2, 2))
    with pytest.raises(ValueError, match=r"x must be a vector of shape \(n,\); got shape \(\)"):
        calculus.jacobian_fd(f, torch.tensor(1.0))
    with pytest.raises(ValueError, match="eps must be positive; got 0.0"):
        calculus.jacobian_fd(f, torch.ones(2), eps=0)
    with pytest.raises(ValueError, match="eps must be a finite number; got nan"):
        calculus.jacobian_fd(f, torch.ones(2), eps=float("nan"))
    with pytest.raises(TypeError, match="eps must be a real number; got str"):
        calculus.jacobian_fd(f, torch.ones(2), eps="1e-6")


def test_jacobian_fd_rejects_bad_output() -> None:
    x = torch.ones(2, dtype=DT)
    with pytest.raises(ValueError, match=r"f must return a tensor of shape \(m,\) or \(\); got shape \(2, 2\)"):
        calculus.jacobian_fd(lambda x: torch.outer(x, x), x)
    with pytest.raises(TypeError, match=r"f must return a torch.Tensor of shape \(m,\) or \(\); got float"):
        calculus.jacobian_fd(lambda x: float(x.sum()), x)
    with pytest.raises(TypeError, match="f must return a floating-point tensor; got dtype torch.int64"):
        calculus.jacobian_fd(lambda x: torch.ones(2, dtype=torch.int64), x)
    with pytest.raises(
        ValueError, match=r"same shape at every point; got \(2,\) at x and \(3,\) at a point 1e-06 away along entry 0"
    ):
        calculus.jacobian_fd(lambda v: v if torch.equal(v, x) else torch.ones(3, dtype=DT), x)


def test_gradient_descent_rejects_bad_input() -> None:
    f, x0 = (lambda x: (x**2).sum()), torch.ones(2)
    with pytest.raises(
        TypeError, match="f must be a function f\\(x\\) -> scalar tensor; got a tensor of shape \\(2,\\)"
    ):
        calculus.gradient_descent(x0, x0, 0.1, 10)
    with pytest.raises(TypeError, match="x0 must have a floating-point dtype; got torch.int64"):
        calculus.gradient_descent(f, torch.tensor([1, 2]), 0.1, 10)
    with pytest.raises(ValueError, match=r"x0 must be a vector of shape \(n,\); got shape \(1, 2\)"):
        calculus.gradient_descent(f, torch.ones(1, 2), 0.1, 10)
    for lr in (0.0, -0.1, math.inf):
        with pytest.raises(ValueError, match=f"lr must be (positive|a finite number); got {float(lr)}"):
            calculus.gradient_descent(f, x0, lr, 10)
    with pytest.raises(TypeError, match="lr must be a real number; got bool"):
        calculus.gradient_descent(f, x0, True, 10)
    with pytest.raises(TypeError, match="lr must be a real number; got a tensor"):
        calculus.gradient_descent(f, x0, torch.tensor(0.1), 10)
    with pytest.raises(ValueError, match="steps must be at least 0; got -1"):
        calculus.gradient_descent(f, x0, 0.1, -1)
    with pytest.raises(TypeError, match="steps must be an int; got float"):
        calculus.gradient_descent(f, x0, 0.1, 10.0)
    for bad in (math.nan, math.inf, 1e30):
        x_bad = torch.tensor([0.0, bad])
        if bad == 1e30:
            continue  # finite: f overflows, and the FloatingPointError names step 0
        with pytest.raises(ValueError, match=f"x0 must be finite; got {bad} at entry 1"):
            calculus.gradient_descent(f, x_bad, 0.1, 10)
    assert calculus.gradient_descent(f, x0, 0.1, np.int64(2)).path.shape == (3, 2)


def test_jacobian_fd_refuses_what_would_give_a_silent_garbage_jacobian() -> None:
    x = torch.ones(2, dtype=torch.float16)
    with pytest.raises(ValueError, match="eps=1e-06 is below the resolution of x's dtype torch.float16"):
        calculus.jacobian_fd(lambda v: v.sum(), x)
    with pytest.raises(ValueError, match="x must be finite; got nan at entry 0"):
        calculus.jacobian_fd(lambda v: v.sum(), torch.tensor([math.nan, 1.0]))
    for f in (None, "sin", 3):
        with pytest.raises(TypeError, match="f must be a function from R\\^n to R\\^m; got"):
            calculus.jacobian_fd(f, torch.ones(2))


def test_gradient_descent_rejects_a_function_that_is_not_scalar() -> None:
    x0 = torch.ones(3)
    with pytest.raises(ValueError, match=r"f must return a tensor of shape \(\), a scalar; got shape \(3,\)"):
        calculus.gradient_descent(lambda x: x**2, x0, 0.1, 5)
    with pytest.raises(ValueError, match=r"got shape \(1,\)"):
        calculus.gradient_descent(lambda x: x.sum().reshape(1), x0, 0.1, 5)
    with pytest.raises(TypeError, match=r"f must return a torch.Tensor of shape \(\), a scalar; got float"):
        calculus.gradient_descent(lambda x: 1.0, x0, 0.1, 5)


def test_everything_runs_on_every_device(device) -> None:
    W, x = randn(3, 4, seed=11).to(device), randn(4, seed=12).to(device)
    f = lambda v: torch.tanh(W @ v)  # noqa: E731
    J = calculus.jacobian_fd(f, x)
    assert J.device.type == device.type and J.shape == (3, 4)
    torch.testing.assert_close(J, jacobian(f, x), **FD_TOL)
    A = spd(3, seed=13).to(device)
    x0 = randn(3, seed=14).to(device)
    descent = calculus.gradient_descent(lambda v: 0.5 * v @ A @ v, x0, 0.1, 5)
    assert descent.path.device.type == device.type and descent.path.shape == (6, 3)
    assert descent.values.device.type == device.type and descent.values.shape == (6,)
    x = x0
    for k in range(1, 6):
        x = x - 0.1 * (A @ x)
        torch.testing.assert_close(descent.path[k], x, **TOL)
