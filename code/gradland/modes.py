r"""Forward and reverse mode: a Jacobian built from JVPs or from VJPs.

This module is the code of Chapter 3 of the book. Automatic differentiation
never forms a Jacobian :math:`\bm{J} = \frac{\partial \bm{f}}{\partial \bm{x}}
\in \R^{m \times n}` unless asked to: it computes products with it. Forward
mode computes a Jacobian-vector product (JVP) :math:`\dot{\bm{x}} \mapsto
\bm{J} \dot{\bm{x}}`, which pushes a tangent forward, and reverse mode a
vector-Jacobian product (VJP) :math:`\bar{\bm{y}}^\top \mapsto
\bar{\bm{y}}^\top \bm{J}`, which pulls a cotangent back. The whole Jacobian
is then either

* :func:`jacobian_forward`: :math:`n` JVPs, one per basis vector
  :math:`\bm{e}_j \in \R^n`, each giving a *column* :math:`\bm{J} \bm{e}_j`;
* :func:`jacobian_reverse`: :math:`m` VJPs, one per basis vector
  :math:`\bm{e}_i \in \R^m`, each giving a *row* :math:`\bm{e}_i^\top \bm{J}`.

Each product costs a small constant times one evaluation of
:math:`\bm{f}`, so the first Jacobian costs about :math:`n` evaluations and
the second about :math:`m`: that is the whole argument of the chapter, and
:func:`mlp_function` builds the functions on which the chapter measures it.

Both Jacobian functions are deliberately plain Python loops over single
products, the cost model of the chapter. :func:`torch.func.jacfwd` and
:func:`torch.func.jacrev` compute the same matrices by batching the products
with :func:`torch.func.vmap`, and the tests check the two against each other.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from gradland import _checks

__all__ = ["jacobian_forward", "jacobian_reverse", "mlp_function", "mlp_jvp"]


# ---------------------------------------------------------------------------
# Errors of f, in words the caller can act on.
# ---------------------------------------------------------------------------


IN_PLACE = "f changed its input in place; let it compute on a copy (x = x.clone())"


def _blame_f(error: RuntimeError) -> Exception:
    """The error to raise when :func:`torch.func.vjp` fails: one that says what is
    wrong with ``f`` where that is known, else ``error`` itself."""
    if "in-place" in str(error):
        clear: Exception = ValueError(IN_PLACE)
    elif "must be floating-point" in str(error):
        dtype = str(error).split("dtype ")[-1]
        clear = TypeError(f"f must return a floating-point tensor; got dtype {dtype}")
    else:
        return error
    clear.__cause__ = error
    return clear


# ---------------------------------------------------------------------------
# The two ways to build a Jacobian.
# ---------------------------------------------------------------------------


def jacobian_forward(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    r"""The Jacobian of :math:`\bm{f}` at :math:`\bm{x}`, one column per JVP (forward
    mode).

    For :math:`\bm{f} \colon \R^n \to \R^m`, column :math:`j` of the Jacobian
    :math:`\bm{J} = \frac{\partial \bm{f}}{\partial \bm{x}} \in \R^{m \times
    n}` is the Jacobian-vector product :math:`\bm{J} \bm{e}_j` with the
    :math:`j`-th basis vector. This function computes the :math:`n` columns
    with :math:`n` calls of :func:`torch.func.jvp`, one forward-mode pass
    each, and never forms anything but the columns. Its cost grows with the
    number of *inputs* :math:`n`.

    Parameters
    ----------
    f : callable
        A function from :math:`\R^n` to :math:`\R^m`: it takes a tensor of
        shape ``(n,)`` and returns one of shape ``(m,)``, or a scalar (shape
        ``()``) when :math:`m = 1`. It must be differentiable by
        :mod:`torch.func` (no in-place changes to its input, no ``.item()``).
    x : torch.Tensor
        The point :math:`\bm{x} \in \R^n`, shape ``(n,)``, floating point.

    Returns
    -------
    torch.Tensor
        :math:`\bm{J} \in \R^{m \times n}`, shape ``(m, n)``: one row per
        output, one column per input. For a scalar function it is the
        :math:`1 \times n` row :math:`\frac{\partial f}{\partial \bm{x}}`,
        shape ``(1, n)``; the gradient is its transpose.

    Raises
    ------
    TypeError
        If ``f`` is not callable, ``x`` is not a floating-point tensor, or
        ``f`` does not return a floating-point tensor.
    ValueError
        If ``x`` is not a vector, ``f`` returns neither a scalar nor a
        vector, or ``f`` changes its input in place.

    See Also
    --------
    jacobian_reverse : the same matrix, one row per VJP.
    torch.func.jacfwd : the same matrix, with the JVPs batched by ``vmap``.

    Examples
    --------
    For :math:`\bm{f}(\bm{x}) = (x_1 x_2, \sin x_1, 3 x_2)` the three
    outputs make three rows, and the two inputs two columns, each the result
    of one JVP:

    >>> import torch
    >>> from gradland.modes import jacobian_forward
    >>> f = lambda x: torch.stack([x[0] * x[1], torch.sin(x[0]), 3 * x[1]])
    >>> jacobian_forward(f, torch.tensor([0.0, 2.0]))
    tensor([[2., 0.],
            [1., 0.],
            [0., 3.]])
    """
    _checks.function("f", f, "a function from R^n to R^m")
    _checks.point("x", x)
    n = x.shape[0]
    basis = torch.eye(n, dtype=x.dtype, device=x.device)
    columns = []
    for j in range(n):
        x_j = x.clone()  # f sees a copy: the caller's x cannot change
        y, column = torch.func.jvp(f, (x_j,), (basis[j],))  # J e_j: column j
        if x_j._version:
            raise ValueError(IN_PLACE)
        if j == 0:
            _checks.returned("f", y, ndim=(0, 1), shape="() or (m,)")
        columns.append(column.reshape(-1))
    if n == 0:  # no direction to push forward: evaluate f for m alone
        y = f(x)
        _checks.returned("f", y, ndim=(0, 1), shape="() or (m,)")
        return torch.zeros(y.numel(), 0, dtype=y.dtype, device=y.device)
    return torch.stack(columns, dim=1)


def jacobian_reverse(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    r"""The Jacobian of :math:`\bm{f}` at :math:`\bm{x}`, one row per VJP (reverse
    mode).

    For :math:`\bm{f} \colon \R^n \to \R^m`, row :math:`i` of the Jacobian
    :math:`\bm{J} = \frac{\partial \bm{f}}{\partial \bm{x}} \in \R^{m \times
    n}` is the vector-Jacobian product :math:`\bm{e}_i^\top \bm{J}` with the
    :math:`i`-th basis vector of :math:`\R^m`. This function runs
    :func:`torch.func.vjp` once, a forward pass that keeps what the backward
    passes need, then calls the pullback it returns :math:`m` times, one
    backward pass per row. Its cost grows with the number of *outputs*
    :math:`m`.

    PyTorch's pullback returns :math:`\bm{J}^\top \bm{e}_i`, a tensor with the
    shape of :math:`\bm{x}` (as a gradient has); it is row :math:`i`
    transposed, and the rows are stacked into the :math:`m \times n` matrix.

    Parameters
    ----------
    f : callable
        A function from :math:`\R^n` to :math:`\R^m`: it takes a tensor of
        shape ``(n,)`` and returns one of shape ``(m,)``, or a scalar (shape
        ``()``) when :math:`m = 1`. It must be differentiable by
        :mod:`torch.func`.
    x : torch.Tensor
        The point :math:`\bm{x} \in \R^n`, shape ``(n,)``, floating point.

    Returns
    -------
    torch.Tensor
        :math:`\bm{J} \in \R^{m \times n}`, shape ``(m, n)``. For a scalar
        function it is the :math:`1 \times n` row
        :math:`\frac{\partial f}{\partial \bm{x}}`, shape ``(1, n)``, computed
        by a single backward pass; the gradient is its transpose.

    Raises
    ------
    TypeError
        If ``f`` is not callable, ``x`` is not a floating-point tensor, or
        ``f`` does not return a floating-point tensor.
    ValueError
        If ``x`` is not a vector, ``f`` returns neither a scalar nor a
        vector, or ``f`` changes its input in place.

    See Also
    --------
    jacobian_forward : the same matrix, one column per JVP.
    torch.func.jacrev : the same matrix, with the VJPs batched by ``vmap``.

    Examples
    --------
    The function of :func:`jacobian_forward`, now three backward passes, one
    per output:

    >>> import torch
    >>> from gradland.modes import jacobian_reverse
    >>> f = lambda x: torch.stack([x[0] * x[1], torch.sin(x[0]), 3 * x[1]])
    >>> jacobian_reverse(f, torch.tensor([0.0, 2.0]))
    tensor([[2., 0.],
            [1., 0.],
            [0., 3.]])

    A scalar function has a one-row Jacobian, found in one backward pass:

    >>> jacobian_reverse(lambda x: (x**2).sum(), torch.tensor([1.0, 2.0, 3.0]))
    tensor([[2., 4., 6.]])
    """
    _checks.function("f", f, "a function from R^n to R^m")
    _checks.point("x", x)
    # one forward pass, keeping what the backward needs
    try:
        y, pullback = torch.func.vjp(f, x)
    except RuntimeError as error:  # f's fault: say so
        raise _blame_f(error)
    _checks.returned("f", y, ndim=(0, 1), shape="() or (m,)")
    m = y.numel()
    basis = torch.eye(m, dtype=y.dtype, device=y.device)
    rows = []
    for i in range(m):
        # J.T @ e_i: row i of J, as a column
        (row,) = pullback(basis[i].reshape(y.shape))
        rows.append(row)
    if m == 0:
        return torch.zeros(0, x.shape[0], dtype=x.dtype, device=x.device)
    return torch.stack(rows, dim=0)


# ---------------------------------------------------------------------------
# A family of test functions with n inputs and m outputs.
# ---------------------------------------------------------------------------


def mlp_function(
    n: int,
    m: int,
    *,
    d_hidden: int = 64,
    layers: int = 2,
    seed: int = 0,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Callable[[torch.Tensor], torch.Tensor]:
    r"""A pure function :math:`\bm{f} \colon \R^n \to \R^m`: a small random MLP.

    The function is a multilayer perceptron with ``layers`` hidden layers of
    ``d_hidden`` units, :math:`\tanh` activations and fixed random weights,

    .. math::

        \bm{h}_0 = \bm{x}, \qquad
        \bm{h}_k = \tanh(\bm{W}_k \bm{h}_{k-1}), \quad k = 1, \dots, L,
        \qquad \bm{f}(\bm{x}) = \bm{W}_{L+1} \bm{h}_L,

    with :math:`L` the number of hidden layers; with :math:`L = 1`, for instance,
    :math:`\bm{f}(\bm{x}) = \bm{W}_2 \tanh(\bm{W}_1 \bm{x})`. There are no
    biases: the function is a plain chain of matrix products and
    :math:`\tanh`, the chain of Jacobians of the chapter. It is *pure*: the
    weights are constants of the function, not inputs, so :math:`\bm{x}` is
    its only argument and the Jacobian
    :math:`\frac{\partial \bm{f}}{\partial \bm{x}}` is :math:`m \times n`.
    Changing :math:`n` and :math:`m` while keeping the width and depth changes
    only the first and last layers, so the cost of one evaluation changes
    little: the chapter uses it to time forward against reverse mode as
    :math:`n` and :math:`m` vary.

    Weights are drawn from a normal distribution with variance
    :math:`1 / \text{fan-in}` by a generator seeded with ``seed`` on the CPU,
    so the same seed gives the same function on every device.

    Parameters
    ----------
    n, m : int
        Numbers of inputs and outputs (at least 1).
    d_hidden : int, optional
        Units per hidden layer, the width (at least 1).
    layers : int, optional
        Number of hidden layers :math:`L` (0 or more; 0 gives an affine map).
    seed : int, optional
        Seed of the weights.
    dtype : torch.dtype, optional
        Floating-point dtype of the weights (and of the inputs it expects).
    device : torch.device or str, optional
        Device of the weights; ``None`` means the CPU.

    Returns
    -------
    callable
        ``f(x)`` for ``x`` of shape ``(n,)``, returning shape ``(m,)``. Since
        every layer is a matrix product, ``f`` also takes a batch of inputs
        as the columns of a matrix ``X`` of shape ``(n, B)`` and returns their
        outputs as the columns of an ``(m, B)`` matrix. Its attribute
        ``f.weights`` lists the matrices :math:`\bm{W}_1, \dots,
        \bm{W}_{L+1}`, each stored out :math:`\times` in.

    Raises
    ------
    TypeError
        If a size or the seed is not an integer, ``dtype`` is not a
        floating-point dtype, or ``device`` is not a device.
    ValueError
        If a size is out of range, or ``device`` names no device available
        here.

    Examples
    --------
    >>> import torch
    >>> from gradland.modes import mlp_function, jacobian_forward
    >>> f = mlp_function(n=5, m=3, d_hidden=8, layers=2)
    >>> f(torch.zeros(5)).shape
    torch.Size([3])
    >>> [tuple(W.shape) for W in f.weights]
    [(8, 5), (8, 8), (3, 8)]
    >>> jacobian_forward(f, torch.zeros(5)).shape  # m x n
    torch.Size([3, 5])
    >>> X = torch.randn(5, 4)  # four inputs, one per column
    >>> torch.allclose(f(X)[:, 2], f(X[:, 2]), atol=1e-6)
    True
    """
    n, m = _checks.integer("n", n, minimum=1), _checks.integer("m", m, minimum=1)
    d_hidden = _checks.integer("d_hidden", d_hidden, minimum=1)
    layers = _checks.integer("layers", layers, minimum=0)
    seed = _checks.integer("seed", seed)
    _checks.dtype("dtype", dtype, optional=False)
    device = _checks.device("device", device)
    generator = torch.Generator().manual_seed(seed)
    sizes = [n] + [d_hidden] * layers + [m]
    weights = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        W = torch.randn(fan_out, fan_in, generator=generator, dtype=dtype) / fan_in**0.5
        weights.append(W.to(device))

    def f(x: torch.Tensor) -> torch.Tensor:
        h = x
        for W in weights[:-1]:
            h = torch.tanh(W @ h)  # a hidden layer
        return weights[-1] @ h  # the linear output layer

    f.weights = weights
    return f


def mlp_jvp(
    f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, x_dot: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The JVP of an :func:`mlp_function`, written out by hand: the arithmetic of
    forward mode.

    For :math:`\bm{h}_k = \tanh(\bm{W}_k \bm{h}_{k-1})` the tangent rule of
    the chapter gives :math:`\dot{\bm{h}}_k = (1 - \bm{h}_k \odot \bm{h}_k)
    \odot (\bm{W}_k \dot{\bm{h}}_{k-1})`, and for the output layer
    :math:`\dot{\bm{y}} = \bm{W}_{L+1} \dot{\bm{h}}_L`. Each layer costs its
    evaluation plus one more matrix product of the same size and a few
    elementwise operations, so one JVP does about the arithmetic of two
    evaluations, and nothing else: no tangent for the weights, no
    bookkeeping. The chapter times it against :func:`torch.func.jvp`.

    Parameters
    ----------
    f : callable
        A function built by :func:`mlp_function` (it reads ``f.weights``).
    x, x_dot : torch.Tensor
        The point and the tangent, both of shape ``(n,)``, or both ``(n, B)``
        for a batch of points and tangents in the columns.

    Returns
    -------
    tuple of torch.Tensor
        :math:`\bm{f}(\bm{x})` and :math:`\bm{J} \dot{\bm{x}}`, each of
        shape ``(m,)`` (or ``(m, B)``).

    Raises
    ------
    TypeError
        If ``f`` has no ``weights`` (it was not built by :func:`mlp_function`).
    ValueError
        If ``x`` and ``x_dot`` differ in shape.

    Examples
    --------
    >>> import torch
    >>> from gradland.modes import mlp_function, mlp_jvp
    >>> f = mlp_function(n=5, m=3, d_hidden=8, layers=2, dtype=torch.float64)
    >>> x = torch.randn(5, dtype=torch.float64)
    >>> x_dot = torch.randn(5, dtype=torch.float64)
    >>> y, y_dot = mlp_jvp(f, x, x_dot)
    >>> y_ref, y_dot_ref = torch.func.jvp(f, (x,), (x_dot,))
    >>> torch.allclose(y, y_ref) and torch.allclose(y_dot, y_dot_ref)
    True
    """
    weights = getattr(f, "weights", None)
    if weights is None:
        raise TypeError(f"f must be built by mlp_function (with f.weights); got {type(f).__name__}")
    if not isinstance(x, torch.Tensor) or not isinstance(x_dot, torch.Tensor):
        raise TypeError(f"x and x_dot must be torch.Tensors; got {type(x).__name__} and {type(x_dot).__name__}")
    if x.shape != x_dot.shape:
        raise ValueError(
            f"the tangent must have the shape of the point; got x {tuple(x.shape)} and x_dot {tuple(x_dot.shape)}"
        )
    h, h_dot = x, x_dot
    for W in weights[:-1]:
        h = torch.tanh(W @ h)  # the layer
        h_dot = (1 - h * h) * (W @ h_dot)  # its tangent: diag(tanh') W h_dot
    return weights[-1] @ h, weights[-1] @ h_dot
