"""Tests of gradland.modes: both Jacobians against PyTorch's own, and the checks.

Everything runs in float64, where two correct ways of computing a Jacobian
differ only by rounding errors of the order of 1e-15, so the tolerances are
tight. Property tests (hypothesis) draw the sizes, the depth and the point.
"""

from __future__ import annotations

import pytest
import torch
from gradland import modes
from hypothesis import given, settings
from hypothesis import strategies as st

# torch.func.jvp compiles a helper with torch.jit.script on first use, which
# newer PyTorch versions flag as deprecated: PyTorch's business, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")

TOL = {"rtol": 1e-12, "atol": 1e-12}
DT = torch.float64
PROPERTY = settings(max_examples=40)

sizes = st.integers(min_value=1, max_value=7)
seeds = st.integers(min_value=0, max_value=2**31 - 1)
JACOBIANS = [modes.jacobian_forward, modes.jacobian_reverse]


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    """A reproducible float64 tensor of standard normal entries."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator, dtype=DT)


def worked_example(x: torch.Tensor) -> torch.Tensor:
    """The function traced by hand in the chapter: sin(x1 x2) + exp(x1)."""
    return torch.sin(x[0] * x[1]) + torch.exp(x[0])


# --- agreement with PyTorch ------------------------------------------------------


@pytest.mark.parametrize("jacobian", JACOBIANS)
@PROPERTY
@given(n=sizes, m=sizes, d_hidden=sizes, layers=st.integers(min_value=0, max_value=3), seed=seeds)
def test_jacobian_matches_pytorch_on_random_mlps(
    jacobian, n: int, m: int, d_hidden: int, layers: int, seed: int
) -> None:
    f = modes.mlp_function(n, m, d_hidden=d_hidden, layers=layers, seed=seed % 1000, dtype=DT)
    x = randn(n, seed=seed)
    J = jacobian(f, x)
    assert J.shape == (m, n) and J.dtype == DT
    torch.testing.assert_close(J, torch.func.jacrev(f)(x), **TOL)
    torch.testing.assert_close(J, torch.func.jacfwd(f)(x), **TOL)
    torch.testing.assert_close(J, torch.autograd.functional.jacobian(f, x), **TOL)


@pytest.mark.parametrize("jacobian", JACOBIANS)
@PROPERTY
@given(n=sizes, m=sizes, seed=seeds)
def test_jacobian_of_a_linear_map_is_its_matrix(jacobian, n: int, m: int, seed: int) -> None:
    A = randn(m, n, seed=seed)
    J = jacobian(lambda x: A @ x, randn(n, seed=seed + 1))
    torch.testing.assert_close(J, A, **TOL)


@pytest.mark.parametrize("jacobian", JACOBIANS)
@PROPERTY
@given(n=sizes, seed=seeds)
def test_jacobian_of_an_elementwise_function_is_diagonal(jacobian, n: int, seed: int) -> None:
    x = randn(n, seed=seed)
    J = jacobian(torch.sin, x)
    torch.testing.assert_close(J, torch.diag(torch.cos(x)), **TOL)


def test_the_worked_example_of_the_chapter() -> None:
    x = torch.tensor([0.5, 2.0], dtype=DT)
    x1, x2 = x
    by_hand = torch.stack(
        [
            x2 * torch.cos(x1 * x2) + torch.exp(x1),  # the partial derivative in x1
            x1 * torch.cos(x1 * x2),  # the partial derivative in x2
        ]
    )[None, :]
    for jacobian in JACOBIANS:
        torch.testing.assert_close(jacobian(worked_example, x), by_hand, **TOL)


@pytest.mark.parametrize("jacobian", JACOBIANS)
def test_a_scalar_function_has_a_one_row_jacobian(jacobian) -> None:
    x = randn(5, seed=3)
    J = jacobian(lambda x: (x**3).sum(), x)
    assert J.shape == (1, 5)  # the derivative of a scalar is a row
    torch.testing.assert_close(J[0], 3 * x**2, **TOL)  # its transpose is the gradient
    J1 = jacobian(lambda x: x[:1] * x[1:2], x)  # a vector of size 1: the same shape
    assert J1.shape == (1, 5)


@pytest.mark.parametrize("jacobian", JACOBIANS)
def test_empty_inputs_and_outputs(jacobian) -> None:
    assert jacobian(lambda x: torch.ones(3, dtype=DT) * x.sum(), torch.zeros(0, dtype=DT)).shape == (3, 0)
    assert jacobian(lambda x: x[:0], randn(4)).shape == (0, 4)


@pytest.mark.parametrize("jacobian", JACOBIANS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_jacobian_keeps_the_dtype(jacobian, dtype: torch.dtype) -> None:
    f = modes.mlp_function(3, 2, d_hidden=4, layers=1, dtype=dtype)
    assert jacobian(f, torch.ones(3, dtype=dtype)).dtype == dtype


def test_forward_uses_n_jvps_and_reverse_m_pullbacks(monkeypatch) -> None:
    """The cost model of the chapter: n JVPs, or one VJP and m pullbacks."""
    calls = {"jvp": 0, "vjp": 0, "pullback": 0}
    jvp, vjp = torch.func.jvp, torch.func.vjp

    def counting_jvp(*args, **kwargs):
        calls["jvp"] += 1
        return jvp(*args, **kwargs)

    def counting_vjp(*args, **kwargs):
        calls["vjp"] += 1
        y, pullback = vjp(*args, **kwargs)

        def counting_pullback(*cotangents):
            calls["pullback"] += 1
            return pullback(*cotangents)

        return y, counting_pullback

    monkeypatch.setattr(torch.func, "jvp", counting_jvp)
    monkeypatch.setattr(torch.func, "vjp", counting_vjp)
    f = modes.mlp_function(6, 2, d_hidden=5, layers=2, dtype=DT)
    x = randn(6)
    modes.jacobian_forward(f, x)
    assert calls == {"jvp": 6, "vjp": 0, "pullback": 0}
    modes.jacobian_reverse(f, x)
    assert calls == {"jvp": 6, "vjp": 1, "pullback": 2}


# --- mlp_function ---------------------------------------------------------------


def test_mlp_function_shapes_and_formula() -> None:
    f = modes.mlp_function(5, 3, d_hidden=4, layers=2, seed=7, dtype=DT)
    assert [tuple(W.shape) for W in f.weights] == [(4, 5), (4, 4), (3, 4)]
    W1, W2, W3 = f.weights
    x = randn(5, seed=8)
    torch.testing.assert_close(f(x), W3 @ torch.tanh(W2 @ torch.tanh(W1 @ x)), **TOL)
    assert f(x).shape == (3,)


def test_mlp_function_depth_zero_is_linear() -> None:
    f = modes.mlp_function(4, 2, layers=0, dtype=DT)
    (W,) = f.weights
    x = randn(4)
    torch.testing.assert_close(f(x), W @ x, **TOL)


def test_mlp_function_is_reproducible_and_seeded() -> None:
    a, b = modes.mlp_function(3, 2, seed=1), modes.mlp_function(3, 2, seed=1)
    c = modes.mlp_function(3, 2, seed=2)
    assert all(torch.equal(p, q) for p, q in zip(a.weights, b.weights))
    assert not torch.equal(a.weights[0], c.weights[0])


def test_mlp_function_weights_have_variance_one_over_fan_in() -> None:
    f = modes.mlp_function(400, 300, d_hidden=500, layers=1, dtype=DT)
    for W in f.weights:
        fan_in = W.shape[1]
        assert abs(W.var().item() * fan_in - 1.0) < 0.05


# --- errors at the boundary -------------------------------------------------------


@pytest.mark.parametrize("jacobian", JACOBIANS)
def test_jacobian_rejects_bad_input(jacobian) -> None:
    with pytest.raises(TypeError, match="f must be a function from R\\^n to R\\^m; got int"):
        jacobian(3, torch.ones(2))
    with pytest.raises(TypeError, match=r"x must be a torch.Tensor of shape \(n,\); got list"):
        jacobian(torch.sin, [1.0, 2.0])
    with pytest.raises(TypeError, match="x must have a floating-point dtype; got torch.int64"):
        jacobian(torch.sin, torch.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"x must be a vector of shape \(n,\); got shape \(2, 3\)"):
        jacobian(torch.sin, torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"x must be a vector of shape \(n,\); got shape \(\)"):
        jacobian(torch.sin, torch.tensor(1.0))


@pytest.mark.parametrize("jacobian", JACOBIANS)
def test_jacobian_rejects_bad_output(jacobian) -> None:
    with pytest.raises(
        ValueError,
        match=r"f must return a tensor of shape \(\) or \(m,\); got shape \(2, 2\)",
    ):
        jacobian(lambda x: torch.outer(x, x), torch.ones(2))
    with pytest.raises(TypeError, match=r"f must return a torch.Tensor of shape \(\) or \(m,\); got tuple"):
        jacobian(lambda x: (x, x), torch.ones(2))


def test_jacobian_forward_checks_the_output_with_no_input() -> None:
    with pytest.raises(ValueError, match=r"got shape \(1, 1\)"):
        modes.jacobian_forward(lambda x: torch.ones(1, 1), torch.zeros(0))


def test_mlp_function_accepts_numpy_integers() -> None:
    import numpy as np

    f = modes.mlp_function(np.int64(3), np.int32(2), d_hidden=np.int64(4), layers=np.int64(1))
    assert f(torch.zeros(3)).shape == (2,)


def test_mlp_function_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="n must be at least 1; got 0"):
        modes.mlp_function(0, 3)
    with pytest.raises(ValueError, match="layers must be at least 0; got -1"):
        modes.mlp_function(2, 3, layers=-1)
    with pytest.raises(TypeError, match="d_hidden must be an int; got float"):
        modes.mlp_function(2, 3, d_hidden=2.5)
    for dtype in (torch.int64, "float32", None):
        with pytest.raises(TypeError, match="dtype must be a floating-point torch.dtype; got"):
            modes.mlp_function(2, 3, dtype=dtype)
    for seed in (1.5, "a", None):
        with pytest.raises(TypeError, match="seed must be an int; got"):
            modes.mlp_function(2, 3, seed=seed)
    with pytest.raises(ValueError, match="device must name a device such as 'cpu' or 'cuda'; got 'nonsense'"):
        modes.mlp_function(2, 3, device="nonsense")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="PyTorch sees no CUDA device here"):
            modes.mlp_function(2, 3, device="cuda")


def test_the_two_jacobians_refuse_the_same_bad_functions() -> None:
    x = torch.tensor([0.0, 2.0])

    def in_place(v):
        v.mul_(2)
        return v**2

    for jacobian in JACOBIANS:
        with pytest.raises(ValueError, match="f changed its input in place"):
            jacobian(in_place, x)
        assert x.tolist() == [0.0, 2.0]  # the caller's x is untouched
        with pytest.raises(TypeError, match="f must return a floating-point tensor; got dtype torch.int64"):
            jacobian(lambda v: torch.ones(2, dtype=torch.int64), x)
        with pytest.raises(TypeError, match="f must be a function from R\\^n to R\\^m; got NoneType"):
            jacobian(None, x)


# --- devices -------------------------------------------------------------------


def test_jacobian_follows_the_device_of_the_input() -> None:
    # the meta device stands in for a GPU: it exists on every machine
    f = modes.mlp_function(3, 2, d_hidden=4, layers=1, device="meta")
    assert f.weights[0].device.type == "meta"
    x = torch.ones(3, device="meta")
    for jacobian in JACOBIANS:
        J = jacobian(f, x)
        assert J.device.type == "meta" and J.shape == (2, 3)


def test_everything_runs_on_every_device(device) -> None:
    f = modes.mlp_function(4, 3, d_hidden=5, layers=2, dtype=DT, device=device)
    x = randn(4, seed=9).to(device)
    reference = torch.func.jacrev(f)(x)
    for jacobian in JACOBIANS:
        J = jacobian(f, x)
        assert J.device.type == device.type
        torch.testing.assert_close(J, reference, **TOL)


@pytest.mark.parametrize("layers", [0, 1, 3])
def test_mlp_jvp_matches_torch_func_jvp(layers: int) -> None:
    f = modes.mlp_function(n=6, m=4, d_hidden=7, layers=layers, dtype=torch.float64)
    gen = torch.Generator().manual_seed(layers)
    for shape in [(6,), (6, 5)]:
        x = torch.randn(shape, generator=gen, dtype=torch.float64)
        x_dot = torch.randn(shape, generator=gen, dtype=torch.float64)
        y, y_dot = modes.mlp_jvp(f, x, x_dot)
        y_ref, y_dot_ref = torch.func.jvp(f, (x,), (x_dot,))
        torch.testing.assert_close(y, y_ref)
        torch.testing.assert_close(y_dot, y_dot_ref)


def test_mlp_jvp_rejects_bad_input() -> None:
    f = modes.mlp_function(n=3, m=2)
    with pytest.raises(TypeError, match="mlp_function"):
        modes.mlp_jvp(torch.tanh, torch.zeros(3), torch.zeros(3))
    with pytest.raises(ValueError, match="shape of the point"):
        modes.mlp_jvp(f, torch.zeros(3), torch.zeros(3, 2))
    with pytest.raises(TypeError, match="torch.Tensor"):
        modes.mlp_jvp(f, [0.0, 0.0, 0.0], torch.zeros(3))
