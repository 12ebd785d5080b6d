r"""Linear algebra, recalled: the matrix--vector product and the shapes built on it.

This module is the code of Chapter 1 of the book. It implements, in the most
literal way we could write them, the few pieces of linear algebra that every
later chapter leans on:

* :func:`matvec_columns` and :func:`matvec_rows`, the two readings of the
  product :math:`\bm{A} \bm{x}`: a linear combination of the columns of
  :math:`\bm{A}`, or one scalar product per row of :math:`\bm{A}`;
* :func:`linear`, what :class:`torch.nn.Linear` computes on a batch of
  examples stored as rows, with the weight stored as *out* :math:`\times` *in*;
* :func:`conv1x1`, a one-dimensional convolution with kernel size 1: the same
  matrix applied at every position of a sequence;
* :func:`stack` and :func:`concat`, which turn
  :math:`\bm{W}_x \bm{x}[t] + \bm{W}_h \bm{h}[t-1]` into one product of a
  concatenated matrix with a stacked vector;
* :func:`no_tf32`, a context in which CUDA computes ``float32`` products and
  convolutions in full ``float32`` precision, for checks that two
  computations agree to ``float32`` rounding.

The implementations favour reading over speed (two of them are Python loops);
the tests check each one against the PyTorch operation it explains. Every
public function checks its inputs and says what it expected and what it got.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from gradland import _checks

__all__ = ["concat", "conv1x1", "linear", "matvec_columns", "matvec_rows", "no_tf32", "stack"]


# ---------------------------------------------------------------------------
# The matrix--vector product, read two ways.
# ---------------------------------------------------------------------------


def matvec_columns(A: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""The product :math:`\bm{A} \bm{x}` as a linear combination of the columns of
    :math:`\bm{A}`.

    Computes :math:`\bm{A} \bm{x} = \sum_{j=1}^{n} x_j \bm{a}_j`, where
    :math:`\bm{a}_j \in \R^m` is column :math:`j` of :math:`\bm{A}`: each
    column is scaled by the matching entry of :math:`\bm{x}` and the scaled
    columns are added up, one column at a time.

    Parameters
    ----------
    A : torch.Tensor
        The matrix :math:`\bm{A} \in \R^{m \times n}`, shape ``(m, n)``,
        floating point.
    x : torch.Tensor
        The vector :math:`\bm{x} \in \R^{n}`, shape ``(n,)``, with the dtype
        and device of ``A``.

    Returns
    -------
    torch.Tensor
        :math:`\bm{A} \bm{x} \in \R^m`, shape ``(m,)``. With :math:`n = 0` it
        is the zero vector, the empty sum.

    Raises
    ------
    TypeError
        If an argument is not a floating-point tensor, or the dtypes differ.
    ValueError
        If the shapes do not fit or the devices differ.

    See Also
    --------
    matvec_rows : the same product, one scalar product per row.

    Examples
    --------
    >>> import torch
    >>> from gradland.linalg import matvec_columns
    >>> A = torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, -1.0]])
    >>> x = torch.tensor([3.0, 1.0, 2.0])
    >>> matvec_columns(A, x)  # 3 * (1, 0) + 1 * (2, 1) + 2 * (0, -1)
    tensor([ 5., -1.])
    """
    _checks.matrix_vector(A, x)
    m, n = A.shape
    y = torch.zeros(m, dtype=A.dtype, device=A.device)
    for j in range(n):
        y = y + x[j] * A[:, j]  # add column j, weighted by entry j of x
    return y


def matvec_rows(A: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""The product :math:`\bm{A} \bm{x}` as one scalar product per row of
    :math:`\bm{A}`.

    Computes entry :math:`i` of :math:`\bm{A} \bm{x}` as
    :math:`\bm{r}_i^\top \bm{x} = \sum_{j=1}^{n} a_{ij} x_j`, where
    :math:`\bm{r}_i^\top` is row :math:`i` of :math:`\bm{A}`, one row at a
    time.

    Parameters
    ----------
    A : torch.Tensor
        The matrix :math:`\bm{A} \in \R^{m \times n}`, shape ``(m, n)``,
        floating point.
    x : torch.Tensor
        The vector :math:`\bm{x} \in \R^{n}`, shape ``(n,)``, with the dtype
        and device of ``A``.

    Returns
    -------
    torch.Tensor
        :math:`\bm{A} \bm{x} \in \R^m`, shape ``(m,)``.

    Raises
    ------
    TypeError
        If an argument is not a floating-point tensor, or the dtypes differ.
    ValueError
        If the shapes do not fit or the devices differ.

    See Also
    --------
    matvec_columns : the same product, as a combination of columns.

    Examples
    --------
    >>> import torch
    >>> from gradland.linalg import matvec_rows
    >>> A = torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, -1.0]])
    >>> x = torch.tensor([3.0, 1.0, 2.0])
    >>> matvec_rows(A, x)  # (1*3 + 2*1 + 0*2, 0*3 + 1*1 - 1*2)
    tensor([ 5., -1.])
    """
    _checks.matrix_vector(A, x)
    m = A.shape[0]
    entries = [torch.dot(A[i, :], x) for i in range(m)]  # row i against x
    if not entries:  # m = 0: the empty vector
        return torch.zeros(0, dtype=A.dtype, device=A.device)
    return torch.stack(entries)


# ---------------------------------------------------------------------------
# Shapes in PyTorch: a batch of rows, and a weight stored as out x in.
# ---------------------------------------------------------------------------


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    r"""The affine map of :class:`torch.nn.Linear`:
    :math:`\bm{y} = \bm{W} \bm{x} + \bm{b}` on each row.

    PyTorch stores a batch of examples as the *rows* of a tensor, and stores
    the weight :math:`\bm{W} \in \R^{m \times n}` as it appears in the math,
    *out* :math:`\times` *in*. Transposing :math:`\bm{y} = \bm{W} \bm{x} +
    \bm{b}` row by row gives what is computed:
    :math:`\bm{y}^\top = \bm{x}^\top \bm{W}^\top + \bm{b}^\top`, that is
    ``x @ weight.T + bias``. Every dimension of ``x`` but the last is a batch
    dimension.

    Parameters
    ----------
    x : torch.Tensor
        The inputs, shape ``(..., n)``: any number of leading batch
        dimensions, then the :math:`n` features of one example.
    weight : torch.Tensor
        :math:`\bm{W} \in \R^{m \times n}`, shape ``(m, n)`` (out, in), with
        the dtype and device of ``x``.
    bias : torch.Tensor, optional
        :math:`\bm{b} \in \R^{m}`, shape ``(m,)``. ``None`` means no bias.

    Returns
    -------
    torch.Tensor
        Shape ``(..., m)``: the same batch dimensions, :math:`m` features.

    Raises
    ------
    TypeError
        If an argument is not a floating-point tensor, or the dtypes differ.
    ValueError
        If the shapes do not fit or the devices differ.

    Examples
    --------
    >>> import torch
    >>> from gradland.linalg import linear
    >>> W = torch.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0]])  # out = 2, in = 3
    >>> X = torch.ones(4, 3)  # a batch of 4 examples, one per row
    >>> linear(X, W, bias=torch.tensor([0.0, 10.0]))
    tensor([[ 3., 11.],
            [ 3., 11.],
            [ 3., 11.],
            [ 3., 11.]])
    """
    _checks.tensor("x", x, floating=True, shape="(..., n)", min_ndim=1)
    shape = "(m, n) = (out_features, in_features)"
    _checks.tensor("weight", weight, floating=True, ndim=2, shape=shape)
    _checks.alike(x=x, weight=weight)
    if x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"weight has shape {tuple(weight.shape)} (out, in), so x must have shape "
            f"(..., {weight.shape[1]}); got shape {tuple(x.shape)}"
        )
    if bias is not None:
        _checks.tensor("bias", bias, floating=True, shape="(m,)", ndim=1)
        _checks.alike(x=x, bias=bias)
        if bias.shape[0] != weight.shape[0]:
            raise ValueError(
                f"weight has shape {tuple(weight.shape)}, so bias must have shape "
                f"({weight.shape[0]},); got shape {tuple(bias.shape)}"
            )
    y = x @ weight.T  # row b of y is W @ x_b, as a row
    if bias is not None:
        y = y + bias  # broadcast: the same bias added to every row
    return y


# ---------------------------------------------------------------------------
# A 1 x 1 convolution: one matrix, applied at every position.
# ---------------------------------------------------------------------------


def conv1x1(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    r"""A one-dimensional convolution with kernel size 1, one position at a time.

    At every position :math:`t` of the sequence it computes
    :math:`\bm{y}[t] = \bm{W} \bm{x}[t] + \bm{b}`, with the same
    :math:`\bm{W}` and :math:`\bm{b}` at every :math:`t` and nothing taken
    from neighbouring positions. It changes the number of channels from
    :math:`C_\text{in}` to :math:`C_\text{out}` and keeps the length.

    It equals ``torch.nn.functional.conv1d(x, weight[:, :, None], bias)``;
    PyTorch's kernel has a third dimension, of size :math:`k = 1`.

    Parameters
    ----------
    x : torch.Tensor
        A batch of sequences, shape ``(batch, C_in, T)`` (channels first, as
        :class:`torch.nn.Conv1d` expects): ``x[b, :, t]`` is
        :math:`\bm{x}[t] \in \R^{C_\text{in}}` for example ``b``.
    weight : torch.Tensor
        :math:`\bm{W} \in \R^{C_\text{out} \times C_\text{in}}`, shape
        ``(C_out, C_in)``, with the dtype and device of ``x``.
    bias : torch.Tensor, optional
        :math:`\bm{b} \in \R^{C_\text{out}}`, shape ``(C_out,)``. ``None``
        means no bias.

    Returns
    -------
    torch.Tensor
        Shape ``(batch, C_out, T)``.

    Raises
    ------
    TypeError
        If an argument is not a floating-point tensor, or the dtypes differ.
    ValueError
        If the shapes do not fit or the devices differ.

    Examples
    --------
    >>> import torch
    >>> from gradland.linalg import conv1x1
    >>> x = torch.arange(6.0).reshape(1, 2, 3)  # 1 sequence, 2 channels, length 3
    >>> W = torch.tensor([[1.0, 1.0]])  # 2 channels in, 1 channel out: their sum
    >>> conv1x1(x, W)
    tensor([[[3., 5., 7.]]])
    """
    _checks.tensor("x", x, floating=True, shape="(batch, C_in, T)", ndim=3)
    _checks.tensor("weight", weight, floating=True, shape="(C_out, C_in)", ndim=2)
    _checks.alike(x=x, weight=weight)
    batch, c_in, length = x.shape
    c_out = weight.shape[0]
    if weight.shape[1] != c_in:
        raise ValueError(
            f"x has C_in = {c_in} channels (shape {tuple(x.shape)}), so weight must "
            f"have shape (C_out, {c_in}); got shape {tuple(weight.shape)}"
        )
    if bias is not None:
        _checks.tensor("bias", bias, floating=True, shape="(C_out,)", ndim=1)
        _checks.alike(x=x, bias=bias)
        if bias.shape[0] != c_out:
            raise ValueError(
                f"weight has shape {tuple(weight.shape)}, so bias must have shape "
                f"({c_out},); got shape {tuple(bias.shape)}"
            )
    y = torch.zeros(batch, c_out, length, dtype=x.dtype, device=x.device)
    for t in range(length):
        y_t = x[:, :, t] @ weight.T  # (batch, C_in) rows -> (batch, C_out) rows
        if bias is not None:
            y_t = y_t + bias
        y[:, :, t] = y_t  # position t sees only position t
    return y


# ---------------------------------------------------------------------------
# Stacking vectors, concatenating matrices: two maps become one product.
# ---------------------------------------------------------------------------


def stack(x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    r"""The stacked vector :math:`\begin{bmatrix} \bm{x} \\ \bm{h} \end{bmatrix}`.

    The entries of :math:`\bm{x} \in \R^n` come first, those of
    :math:`\bm{h} \in \R^d` after them. On batches of rows, shapes
    ``(..., n)`` and ``(..., d)``, every row is stacked with its partner, so
    the result has shape ``(..., n + d)``: stacking column vectors is
    concatenating along the *last* dimension.

    Not to be confused with ``torch.stack``, which adds a new dimension.

    Parameters
    ----------
    x : torch.Tensor
        Shape ``(..., n)``, floating point.
    h : torch.Tensor
        Shape ``(..., d)``, with the leading dimensions, dtype and device of
        ``x``.

    Returns
    -------
    torch.Tensor
        Shape ``(..., n + d)``.

    Raises
    ------
    TypeError
        If an argument is not a floating-point tensor, or the dtypes differ.
    ValueError
        If the leading dimensions or the devices differ.

    See Also
    --------
    concat : the matching concatenation of two matrices side by side.

    Examples
    --------
    >>> import torch
    >>> from gradland.linalg import stack
    >>> stack(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0, 5.0]))
    tensor([1., 2., 3., 4., 5.])
    """
    _checks.tensor("x", x, floating=True, shape="(..., n)", min_ndim=1)
    _checks.tensor("h", h, floating=True, shape="(..., d)", min_ndim=1)
    _checks.alike(x=x, h=h)
    if x.shape[:-1] != h.shape[:-1]:
        wanted = "x and h must have the same leading (batch) dimensions"
        raise ValueError(f"{wanted}; got shapes {tuple(x.shape)} and {tuple(h.shape)}")
    return torch.cat([x, h], dim=-1)


def concat(W_x: torch.Tensor, W_h: torch.Tensor) -> torch.Tensor:
    r"""The concatenated matrix
    :math:`\begin{bmatrix} \bm{W}_x & \bm{W}_h \end{bmatrix}`.

    The columns of :math:`\bm{W}_x \in \R^{d \times n}` come first, those of
    :math:`\bm{W}_h \in \R^{d \times p}` after them, so that
    ``concat(W_x, W_h) @ stack(x, h)`` equals ``W_x @ x + W_h @ h``.

    Parameters
    ----------
    W_x : torch.Tensor
        Shape ``(d, n)``, floating point.
    W_h : torch.Tensor
        Shape ``(d, p)``: as many rows as ``W_x``, with its dtype and device.

    Returns
    -------
    torch.Tensor
        Shape ``(d, n + p)``.

    Raises
    ------
    TypeError
        If an argument is not a floating-point tensor, or the dtypes differ.
    ValueError
        If the numbers of rows or the devices differ.

    See Also
    --------
    stack : the matching stacked vector.

    Examples
    --------
    >>> import torch
    >>> from gradland.linalg import concat, stack
    >>> W_x, W_h = torch.ones(2, 3), 2 * torch.eye(2)
    >>> x, h = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, -1.0])
    >>> concat(W_x, W_h) @ stack(x, h)
    tensor([8., 4.])
    >>> W_x @ x + W_h @ h
    tensor([8., 4.])
    """
    _checks.tensor("W_x", W_x, floating=True, shape="(d, n)", ndim=2)
    _checks.tensor("W_h", W_h, floating=True, shape="(d, p)", ndim=2)
    _checks.alike(W_x=W_x, W_h=W_h)
    if W_x.shape[0] != W_h.shape[0]:
        shapes = f"{tuple(W_x.shape)} and {tuple(W_h.shape)}"
        raise ValueError(f"W_x and W_h must have as many rows; got shapes {shapes}")
    return torch.cat([W_x, W_h], dim=1)


# ---------------------------------------------------------------------------
# Full float32 precision on CUDA, for checks that compare to float32 rounding.
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def no_tf32() -> Iterator[None]:
    r"""Compute ``float32`` products and convolutions in full ``float32`` on CUDA.

    NVIDIA GPUs since the Ampere generation have a number format, TF32
    ("TensorFloat-32"), that keeps the 8-bit exponent of ``float32`` but only
    10 of its 23 mantissa bits, so each factor of a product is rounded to a
    relative precision of about :math:`2^{-11} \approx 5 \times 10^{-4}`
    instead of :math:`2^{-24} \approx 6 \times 10^{-8}`. cuDNN computes
    ``float32`` convolutions in TF32 unless told otherwise, and cuBLAS does
    the same for matrix products when asked to. Inside this context both are
    told to compute in full ``float32`` (``"ieee"``); on the way out they get
    back the settings they had. A check that two computations agree to
    ``float32`` rounding must run here, or it measures TF32 instead. On a CPU
    the settings have no effect, and neither has the context.

    The settings are PyTorch's ``fp32_precision`` switches
    (``torch.backends.cuda.matmul`` and ``torch.backends.cudnn.conv``), or on
    releases older than 2.9, which lack them, the ``allow_tf32`` flags. Only
    one of the two interfaces is touched, since PyTorch refuses a mix.

    Yields
    ------
    None

    Examples
    --------
    >>> import torch
    >>> from gradland.linalg import no_tf32
    >>> conv = torch.backends.cudnn.conv
    >>> before = conv.fp32_precision
    >>> with no_tf32():
    ...     conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision
    ('ieee', 'ieee')
    >>> conv.fp32_precision == before
    True
    """
    matmul, conv = torch.backends.cuda.matmul, getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        switches, off = [(matmul, "fp32_precision"), (conv, "fp32_precision")], "ieee"
    else:  # PyTorch before 2.9
        switches, off = [(matmul, "allow_tf32"), (torch.backends.cudnn, "allow_tf32")], False
    saved = [getattr(owner, name) for owner, name in switches]
    for owner, name in switches:
        setattr(owner, name, off)
    try:
        yield
    finally:
        for (owner, name), value in zip(switches, saved):
            setattr(owner, name, value)
