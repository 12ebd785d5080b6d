"""Tests of gradland.linalg: each function against the PyTorch operation it explains.

Everything runs in float64, where the only differences between two correct
implementations are rounding errors of the order of 1e-15, so the tolerances
are tight. Property tests (hypothesis) draw the shapes, including empty ones.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from gradland import linalg
from hypothesis import given, settings
from hypothesis import strategies as st

TOL = {"rtol": 1e-12, "atol": 1e-12}
DT = torch.float64
PROPERTY = settings(max_examples=60)

sizes = st.integers(min_value=0, max_value=7)
positive = st.integers(min_value=1, max_value=6)
seeds = st.integers(min_value=0, max_value=2**31 - 1)


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    """A reproducible float64 tensor of standard normal entries."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator, dtype=DT)


# --- the two readings of A x ------------------------------------------------


def test_worked_example_of_the_chapter() -> None:
    A = torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, -1.0]], dtype=DT)
    x = torch.tensor([3.0, 1.0, 2.0], dtype=DT)
    expected = torch.tensor([5.0, -1.0], dtype=DT)
    assert torch.equal(linalg.matvec_columns(A, x), expected)
    assert torch.equal(linalg.matvec_rows(A, x), expected)


@pytest.mark.parametrize("matvec", [linalg.matvec_columns, linalg.matvec_rows])
@PROPERTY
@given(m=sizes, n=sizes, seed=seeds)
def test_matvec_matches_matmul(matvec, m: int, n: int, seed: int) -> None:
    A, x = randn(m, n, seed=seed), randn(n, seed=seed + 1)
    y = matvec(A, x)
    assert y.shape == (m,) and y.dtype == DT
    torch.testing.assert_close(y, A @ x, **TOL)


@PROPERTY
@given(m=positive, n=positive, j=st.integers(min_value=0, max_value=5))
def test_a_basis_vector_picks_out_a_column(m: int, n: int, j: int) -> None:
    j = j % n
    A = randn(m, n, seed=m * 10 + n)
    e_j = torch.zeros(n, dtype=DT)
    e_j[j] = 1.0
    assert torch.equal(linalg.matvec_columns(A, e_j), A[:, j])


@pytest.mark.parametrize("matvec", [linalg.matvec_columns, linalg.matvec_rows])
def test_matvec_gradients_match_matmul(matvec) -> None:
    A = randn(4, 3, seed=1).requires_grad_()
    x = randn(3, seed=2).requires_grad_()
    assert torch.autograd.gradcheck(matvec, (A, x))
    ours = torch.autograd.grad(matvec(A, x).sum(), (A, x))
    reference = torch.autograd.grad((A @ x).sum(), (A, x))
    for a, b in zip(ours, reference):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_matvec_keeps_the_dtype(dtype: torch.dtype) -> None:
    A, x = torch.ones(2, 3, dtype=dtype), torch.ones(3, dtype=dtype)
    assert linalg.matvec_columns(A, x).dtype == dtype
    assert linalg.matvec_rows(A, x).dtype == dtype


# --- nn.Linear ---------------------------------------------------------------


@PROPERTY
@given(
    batch=st.lists(positive, min_size=0, max_size=3),
    n=sizes,
    m=sizes,
    seed=seeds,
    with_bias=st.booleans(),
)
def test_linear_matches_functional_linear(batch: list[int], n: int, m: int, seed: int, with_bias: bool) -> None:
    x, W = randn(*batch, n, seed=seed), randn(m, n, seed=seed + 1)
    b = randn(m, seed=seed + 2) if with_bias else None
    y = linalg.linear(x, W, b)
    assert y.shape == (*batch, m)
    torch.testing.assert_close(y, F.linear(x, W, b), **TOL)


def test_linear_uses_the_weight_of_nn_linear_as_stored() -> None:
    torch.manual_seed(0)
    layer = torch.nn.Linear(in_features=5, out_features=3, dtype=DT)
    assert layer.weight.shape == (3, 5)  # out x in: the W of y = W x + b
    X = randn(7, 5, seed=3)
    with torch.no_grad():
        torch.testing.assert_close(linalg.linear(X, layer.weight, layer.bias), layer(X), **TOL)
        for b in range(7):  # each row is one example: y_b = W x_b + b
            torch.testing.assert_close(layer(X)[b], linalg.matvec_columns(layer.weight, X[b]) + layer.bias, **TOL)


# --- 1 x 1 convolution -------------------------------------------------------


@PROPERTY
@given(
    batch=positive,
    c_in=positive,
    c_out=positive,
    length=positive,
    seed=seeds,
    with_bias=st.booleans(),
)
def test_conv1x1_matches_conv1d_with_kernel_size_1(
    batch: int, c_in: int, c_out: int, length: int, seed: int, with_bias: bool
) -> None:
    x, W = randn(batch, c_in, length, seed=seed), randn(c_out, c_in, seed=seed + 1)
    b = randn(c_out, seed=seed + 2) if with_bias else None
    y = linalg.conv1x1(x, W, b)
    assert y.shape == (batch, c_out, length)
    torch.testing.assert_close(y, F.conv1d(x, W[:, :, None], b), **TOL)


def test_conv1x1_matches_nn_conv1d_module() -> None:
    torch.manual_seed(0)
    conv = torch.nn.Conv1d(in_channels=4, out_channels=2, kernel_size=1, dtype=DT)
    assert conv.weight.shape == (2, 4, 1)
    x = randn(3, 4, 9, seed=4)
    with torch.no_grad():
        torch.testing.assert_close(linalg.conv1x1(x, conv.weight[:, :, 0], conv.bias), conv(x), **TOL)


@PROPERTY
@given(batch=positive, c_in=positive, c_out=positive, length=positive, seed=seeds)
def test_conv1x1_is_linear_at_every_position(batch: int, c_in: int, c_out: int, length: int, seed: int) -> None:
    x, W, b = (
        randn(batch, c_in, length, seed=seed),
        randn(c_out, c_in, seed=seed + 1),
        randn(c_out, seed=seed + 2),
    )
    y = linalg.conv1x1(x, W, b)
    # the same map at every position: nn.Linear on the positions as rows
    torch.testing.assert_close(y, F.linear(x.transpose(1, 2), W, b).transpose(1, 2), **TOL)


def test_conv1x1_does_not_mix_positions() -> None:
    x, W = randn(2, 3, 8, seed=5), randn(4, 3, seed=6)
    x_changed = x.clone()
    x_changed[:, :, 5] += 1.0  # change one position only
    difference = linalg.conv1x1(x_changed, W) - linalg.conv1x1(x, W)
    changed = difference.abs().amax(dim=(0, 1)) > 0
    assert changed.tolist() == [t == 5 for t in range(8)]


def test_conv1x1_commutes_with_a_shift() -> None:
    x, W, b = randn(2, 3, 8, seed=7), randn(4, 3, seed=8), randn(4, seed=9)
    shifted = torch.roll(x, shifts=3, dims=-1)
    torch.testing.assert_close(linalg.conv1x1(shifted, W, b), torch.roll(linalg.conv1x1(x, W, b), 3, -1), **TOL)


# --- stacking and concatenating ----------------------------------------------


@PROPERTY
@given(n=sizes, d=sizes, p=sizes, seed=seeds)
def test_block_product_is_the_sum_of_the_two_products(n: int, d: int, p: int, seed: int) -> None:
    W_x, W_h = randn(d, n, seed=seed), randn(d, p, seed=seed + 1)
    x, h = randn(n, seed=seed + 2), randn(p, seed=seed + 3)
    W, v = linalg.concat(W_x, W_h), linalg.stack(x, h)
    assert W.shape == (d, n + p) and v.shape == (n + p,)
    torch.testing.assert_close(W, torch.cat([W_x, W_h], dim=1), rtol=0, atol=0)
    torch.testing.assert_close(v, torch.cat([x, h]), rtol=0, atol=0)
    torch.testing.assert_close(W @ v, W_x @ x + W_h @ h, **TOL)
    torch.testing.assert_close(linalg.matvec_columns(W, v), W_x @ x + W_h @ h, **TOL)


@PROPERTY
@given(batch=positive, n=sizes, d=positive, seed=seeds)
def test_stack_on_row_batches(batch: int, n: int, d: int, seed: int) -> None:
    X, H = randn(batch, n, seed=seed), randn(batch, d, seed=seed + 1)
    W_x, W_h = randn(d, n, seed=seed + 2), randn(d, d, seed=seed + 3)
    S = linalg.stack(X, H)
    assert S.shape == (batch, n + d)
    torch.testing.assert_close(linalg.linear(S, linalg.concat(W_x, W_h)), X @ W_x.T + H @ W_h.T, **TOL)


def test_one_matrix_reproduces_nn_rnncell() -> None:
    torch.manual_seed(0)
    cell = torch.nn.RNNCell(input_size=3, hidden_size=4, dtype=DT)
    x, h = randn(5, 3, seed=10), randn(5, 4, seed=11)
    with torch.no_grad():
        W = linalg.concat(cell.weight_ih, cell.weight_hh)
        ours = torch.tanh(linalg.linear(linalg.stack(x, h), W, cell.bias_ih + cell.bias_hh))
        torch.testing.assert_close(ours, cell(x, h), **TOL)


# --- errors at the boundary ---------------------------------------------------


def test_matvec_rejects_mismatched_shapes() -> None:
    A, x = torch.ones(2, 3), torch.ones(4)
    for matvec in (linalg.matvec_columns, linalg.matvec_rows):
        with pytest.raises(ValueError, match=r"A has shape \(2, 3\), so x must have shape \(3,\); got shape \(4,\)"):
            matvec(A, x)
        with pytest.raises(ValueError, match=r"A must have shape \(m, n\); got shape \(3,\)"):
            matvec(torch.ones(3), torch.ones(3))
        with pytest.raises(ValueError, match=r"x must have shape \(n,\); got shape \(3, 1\)"):
            matvec(A, torch.ones(3, 1))


def test_matvec_rejects_wrong_types_and_dtypes() -> None:
    with pytest.raises(TypeError, match="A must be a torch.Tensor of shape \\(m, n\\); got list"):
        linalg.matvec_columns([[1.0]], torch.ones(1))
    with pytest.raises(TypeError, match="x must have a floating-point dtype; got torch.int64"):
        linalg.matvec_rows(torch.ones(1, 2), torch.tensor([1, 2]))
    with pytest.raises(TypeError, match="same dtype; got torch.float32 and torch.float64"):
        linalg.matvec_columns(torch.ones(2, 2), torch.ones(2, dtype=DT))


def test_matvec_rejects_mixed_devices() -> None:
    # the meta device stands in for a GPU: it exists on every machine
    with pytest.raises(ValueError, match="same device; got cpu and meta"):
        linalg.matvec_columns(torch.ones(2, 2), torch.ones(2, device="meta"))


def test_everything_runs_on_every_device(device) -> None:
    A, x = randn(5, 4, seed=12).to(device), randn(4, seed=13).to(device)
    torch.testing.assert_close(linalg.matvec_columns(A, x), A @ x, **TOL)
    torch.testing.assert_close(linalg.matvec_rows(A, x), A @ x, **TOL)
    seq, W = randn(2, 4, 6, seed=14).to(device), randn(3, 4, seed=15).to(device)
    torch.testing.assert_close(linalg.conv1x1(seq, W), F.conv1d(seq, W[:, :, None]), **TOL)
    torch.testing.assert_close(linalg.linear(seq.transpose(1, 2), W), seq.transpose(1, 2) @ W.T, **TOL)
    other = x.to("meta")  # a device that differs from every real one
    with pytest.raises(ValueError, match=f"same device; got {A.device} and meta"):
        linalg.matvec_rows(A, other)


def test_linear_rejects_bad_input() -> None:
    W = torch.ones(3, 5)
    with pytest.raises(
        ValueError,
        match=r"weight has shape \(3, 5\) \(out, in\), so x must have shape \(\.\.\., 5\); got shape \(7, 3\)",
    ):
        linalg.linear(torch.ones(7, 3), W)
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., n\); got shape \(\)"):
        linalg.linear(torch.tensor(1.0), W)
    with pytest.raises(ValueError, match=r"so bias must have shape \(3,\); got shape \(5,\)"):
        linalg.linear(torch.ones(7, 5), W, torch.ones(5))
    with pytest.raises(TypeError, match="x and bias must have the same dtype"):
        linalg.linear(torch.ones(7, 5), W, torch.ones(3, dtype=DT))


def test_conv1x1_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"x must have shape \(batch, C_in, T\); got shape \(4, 9\)"):
        linalg.conv1x1(torch.ones(4, 9), torch.ones(2, 4))
    with pytest.raises(
        ValueError,
        match=r"x has C_in = 4 channels \(shape \(1, 4, 9\)\), so weight must have shape \(C_out, 4\); got shape \(2, 3\)",
    ):
        linalg.conv1x1(torch.ones(1, 4, 9), torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"weight must have shape \(C_out, C_in\); got shape \(2, 4, 1\)"):
        linalg.conv1x1(torch.ones(1, 4, 9), torch.ones(2, 4, 1))
    with pytest.raises(ValueError, match=r"so bias must have shape \(2,\); got shape \(4,\)"):
        linalg.conv1x1(torch.ones(1, 4, 9), torch.ones(2, 4), torch.ones(4))


def test_stack_and_concat_reject_bad_input() -> None:
    with pytest.raises(ValueError, match=r"same leading \(batch\) dimensions; got shapes \(2, 3\) and \(5, 4\)"):
        linalg.stack(torch.ones(2, 3), torch.ones(5, 4))
    with pytest.raises(ValueError, match=r"h must have shape \(\.\.\., d\); got shape \(\)"):
        linalg.stack(torch.ones(3), torch.tensor(1.0))
    with pytest.raises(ValueError, match=r"as many rows; got shapes \(4, 3\) and \(5, 5\)"):
        linalg.concat(torch.ones(4, 3), torch.ones(5, 5))
    with pytest.raises(TypeError, match="W_h must be a torch.Tensor of shape \\(d, p\\); got ndarray"):
        import numpy as np

        linalg.concat(torch.ones(4, 3), np.ones((4, 4)))


def test_no_tf32_restores_the_settings_even_after_an_error() -> None:
    conv, matmul = torch.backends.cudnn.conv, torch.backends.cuda.matmul
    before = conv.fp32_precision, matmul.fp32_precision
    with pytest.raises(RuntimeError, match="inside"):
        with linalg.no_tf32():
            assert (conv.fp32_precision, matmul.fp32_precision) == ("ieee", "ieee")
            raise RuntimeError("inside")
    assert (conv.fp32_precision, matmul.fp32_precision) == before


def test_no_tf32_gives_float32_rounding_for_a_convolution(device) -> None:
    """Chapter 1's check: a float32 convolution on the GPU agrees with float64 to float32
    rounding (about sqrt(C_in) eps) inside no_tf32, whatever the GPU generation. On the
    CPU, which has no TF32, the context changes nothing: the same float32 result."""
    seq, W = randn(8, 64, 128, seed=16), randn(16, 64, seed=17)
    exact = F.conv1d(seq.double(), W.double()[:, :, None])
    seq32, W32 = seq.float().to(device), W.float().to(device)[:, :, None]
    with linalg.no_tf32():
        out = F.conv1d(seq32, W32)
    assert out.device.type == device.type
    if device.type == "cpu":
        assert torch.equal(out, F.conv1d(seq32, W32))
    eps = torch.finfo(torch.float32).eps
    assert ((out.cpu().double() - exact).abs().max() / exact.abs().max()).item() < 8 * eps
