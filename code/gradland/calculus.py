r"""Derivatives, gradients and Jacobians: a numerical check and the simplest optimiser.

This module is the code of Chapter 2 of the book. It holds the two pieces of
calculus that the chapter runs rather than only writes down:

* :func:`jacobian_fd`, the Jacobian of :math:`\bm{f} \colon \R^n \to \R^m`
  approximated by central finite differences, one column per input entry. It
  returns an :math:`m \times n` tensor, the book's layout, also when
  :math:`\bm{f}` is scalar-valued (a :math:`1 \times n` row). It needs
  nothing but evaluations of :math:`\bm{f}`, which makes it the independent
  witness against which derivatives computed by automatic differentiation are
  checked;
* :func:`gradient_descent`, the iteration
  :math:`\bm{x}_{k+1} = \bm{x}_k - \eta \nabla f(\bm{x}_k)`, with the
  gradient computed by :mod:`torch.autograd`. It returns the whole trajectory
  of iterates, so that a figure can draw it, and stops with a clear error when
  the iterates blow up.

Both functions check their inputs at the boundary and say what they expected
and what came in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from gradland import _checks

__all__ = ["Descent", "jacobian_fd", "gradient_descent"]


# ---------------------------------------------------------------------------
# Finite differences: the Jacobian from evaluations of f alone.
# ---------------------------------------------------------------------------


def jacobian_fd(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    r"""The Jacobian of :math:`\bm{f}` at :math:`\bm{x}` by central differences, shape
    ``(m, n)``.

    Column :math:`j` of the Jacobian
    :math:`\frac{\partial \bm{f}}{\partial \bm{x}} \in \R^{m \times n}` is the
    derivative of :math:`\bm{f}` along the basis vector :math:`\bm{e}_j`, and
    is approximated by the central difference

    .. math::

       \frac{\bm{f}(\bm{x} + \epsilon \bm{e}_j)
       - \bm{f}(\bm{x} - \epsilon \bm{e}_j)}{2 \epsilon},

    whose truncation error is :math:`O(\epsilon^2)` for a smooth
    :math:`\bm{f}`; rounding adds an error of order
    :math:`u / \epsilon`, with :math:`u` the unit roundoff of the dtype. The
    default :math:`\epsilon = 10^{-6}` balances the two in ``float64``, where
    the result typically has 9 to 10 correct digits. In ``float32`` use a
    larger step, around ``5e-3``, and expect 4 or 5 correct digits.

    The layout is the book's: one row per output, one column per input. For a
    scalar-valued :math:`f` the result is the :math:`1 \times n` row
    :math:`\frac{\partial f}{\partial \bm{x}}`, shape ``(1, n)``; the gradient
    :math:`\nabla_{\bm{x}} f` is its transpose, ``jacobian_fd(f, x)[0]`` as a
    tensor of shape ``(n,)``. (PyTorch's
    :func:`torch.autograd.functional.jacobian` returns shape ``(n,)`` directly
    in that case, the shape of :math:`\bm{x}`.)

    The function makes :math:`2n` calls of ``f``, plus one to learn
    :math:`m`, and does not differentiate anything: ``f`` may be any function
    of a tensor, even one that autograd cannot see through.

    Parameters
    ----------
    f : callable
        :math:`\bm{f} \colon \R^n \to \R^m`. It takes a tensor of shape
        ``(n,)`` and returns a floating-point tensor of shape ``(m,)``, or of
        shape ``()`` for a scalar function (then :math:`m = 1`).
    x : torch.Tensor
        The point :math:`\bm{x} \in \R^n`, shape ``(n,)``, floating point.
    eps : float, optional
        The step :math:`\epsilon > 0`. Default ``1e-6``.

    Returns
    -------
    torch.Tensor
        The approximate Jacobian, shape ``(m, n)``, with the dtype and device
        of ``f(x)``.

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point tensor, ``eps`` is not a number, or
        ``f`` does not return a floating-point tensor.
    ValueError
        If ``x`` is not 1-D or not finite, ``eps`` is not a finite positive
        number or is too small to change ``x`` in its dtype, or ``f`` returns
        a tensor that is neither 0-D nor 1-D, or whose shape changes from one
        call to the next.

    See Also
    --------
    torch.autograd.functional.jacobian : the exact Jacobian, by automatic
        differentiation.

    Examples
    --------
    A map from :math:`\R^2` to :math:`\R^3`, whose Jacobian is
    :math:`3 \times 2`:

    >>> import torch
    >>> from gradland.calculus import jacobian_fd
    >>> def f(x):
    ...     return torch.stack([x[0] * x[1], x[0] ** 2, torch.sin(x[1])])
    >>> x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    >>> jacobian_fd(f, x)  # rows (x_2, x_1), (2 x_1, 0), (0, cos x_2)
    tensor([[ 2.0000,  1.0000],
            [ 2.0000,  0.0000],
            [ 0.0000, -0.4161]], dtype=torch.float64)

    A scalar function gives a row, shape ``(1, n)``:

    >>> jacobian_fd(lambda x: (x ** 2).sum(), x)  # the gradient 2 x, as a row
    tensor([[2.0000, 4.0000]], dtype=torch.float64)
    """
    _checks.function("f", f, "a function from R^n to R^m")
    _checks.point("x", x)
    eps = _checks.real("eps", eps, positive=True)
    if not torch.isfinite(x).all():
        j = int((~torch.isfinite(x)).nonzero()[0, 0])
        raise ValueError(f"x must be finite; got {x[j].item()} at entry {j}")
    if ((x + eps) == x).any() or ((x - eps) == x).any():
        raise ValueError(
            f"eps={eps:g} is below the resolution of x's dtype {x.dtype} at x: "
            "a step of eps does not change x (use a larger eps or float64)"
        )
    y = _checks.returned("f", f(x), ndim=(0, 1), shape="(m,) or ()")
    m, n = y.numel(), x.shape[0]
    columns = []
    for j in range(n):
        step = torch.zeros_like(x)
        step[j] = eps
        y_plus, y_minus = f(x + step), f(x - step)
        for y_j in (y_plus, y_minus):
            if _checks.returned("f", y_j, ndim=(0, 1), shape="(m,)").shape != y.shape:
                raise ValueError(
                    "f must return the same shape at every point; got "
                    f"{tuple(y.shape)} at x and {tuple(y_j.shape)} at a point "
                    f"{eps:g} away along entry {j}"
                )
        column = (y_plus - y_minus).reshape(m) / (2 * eps)  # d f / d x_j
        columns.append(column)
    if not columns:  # n = 0: an m x 0 matrix
        return torch.zeros(m, 0, dtype=y.dtype, device=y.device)
    return torch.stack(columns, dim=1)  # columns side by side: (m, n)


# ---------------------------------------------------------------------------
# Gradient descent: x <- x - lr * grad f(x), with the gradient from autograd.
# ---------------------------------------------------------------------------


class Descent(NamedTuple):
    """What :func:`gradient_descent` returns.

    Examples
    --------
    >>> import torch
    >>> from gradland.calculus import gradient_descent
    >>> run = gradient_descent(lambda x: (x * x).sum(), torch.tensor([1.0]), 0.25, 2)
    >>> run.path.flatten(), run.values
    (tensor([1.0000, 0.5000, 0.2500]), tensor([1.0000, 0.2500, 0.0625]))
    """

    path: torch.Tensor
    """The iterates, one per row, shape ``(steps + 1, n)``."""
    values: torch.Tensor
    """The value of ``f`` at each iterate, shape ``(steps + 1,)``."""


def gradient_descent(
    f: Callable[[torch.Tensor], torch.Tensor],
    x0: torch.Tensor,
    lr: float,
    steps: int,
) -> Descent:
    r"""Plain gradient descent on a scalar function; returns every iterate and its
    value.

    Starting from :math:`\bm{x}_0`, it computes

    .. math::

       \bm{x}_{k+1} = \bm{x}_k - \eta \, \nabla f(\bm{x}_k),
       \qquad k = 0, 1, \dots, K - 1,

    with the learning rate (step size) :math:`\eta` = ``lr`` and
    :math:`K` = ``steps``. The gradient :math:`\nabla f(\bm{x}_k) \in \R^n`,
    a column with the shape of :math:`\bm{x}`, is computed by
    :func:`torch.autograd.grad`, so ``f`` must be built from differentiable
    torch operations. A constant ``f`` has gradient zero and the iterates
    stay where they are.

    Parameters
    ----------
    f : callable
        :math:`f \colon \R^n \to \R`: takes a tensor of shape ``(n,)`` and
        returns a floating-point tensor of shape ``()``.
    x0 : torch.Tensor
        The starting point :math:`\bm{x}_0 \in \R^n`, shape ``(n,)``,
        floating point. It is not modified.
    lr : float
        The learning rate :math:`\eta > 0`.
    steps : int
        The number :math:`K \geq 0` of updates.

    Returns
    -------
    Descent
        The trajectory ``path``, shape ``(steps + 1, n)``: row :math:`k` is
        the iterate :math:`\bm{x}_k`, row 0 the starting point; and the
        ``values`` :math:`f(\bm{x}_k)`, shape ``(steps + 1,)``. Both are
        detached from the graph, with the dtype and device of ``x0``.

    Raises
    ------
    TypeError
        If an argument has the wrong type, or ``f`` does not return a
        floating-point tensor.
    ValueError
        If ``x0`` is not 1-D or not finite, ``lr`` is not a finite positive number,
        ``steps`` is negative, or ``f`` does not return a scalar.
    FloatingPointError
        If an iterate, a value or a gradient stops being finite: the step
        size is too large for this function (or ``f`` is not defined there).
        The message says at which step.

    Examples
    --------
    On :math:`f(\bm{x}) = \frac{1}{2} \bm{x}^\top \bm{x}` the gradient is
    :math:`\bm{x}`, so every step multiplies the iterate by
    :math:`1 - \eta`:

    >>> import torch
    >>> from gradland.calculus import gradient_descent
    >>> f = lambda x: 0.5 * (x ** 2).sum()
    >>> gradient_descent(f, torch.tensor([4.0, -2.0]), lr=0.5, steps=3).path
    tensor([[ 4.0000, -2.0000],
            [ 2.0000, -1.0000],
            [ 1.0000, -0.5000],
            [ 0.5000, -0.2500]])

    With ``lr`` too large the iterates grow until they are no longer finite:

    >>> gradient_descent(f, torch.tensor([1.0]), lr=3.0,
    ...                  steps=200)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FloatingPointError: gradient descent diverged at step 64 of 200: f(x_64) ...
    """
    _checks.function("f", f, "a function f(x) -> scalar tensor")
    _checks.point("x0", x0)
    if not torch.isfinite(x0).all():
        j = int((~torch.isfinite(x0)).nonzero()[0, 0])
        raise ValueError(f"x0 must be finite; got {x0[j].item()} at entry {j}")
    lr = _checks.real("lr", lr, positive=True)
    steps = _checks.integer("steps", steps, minimum=0)

    def diverged(k: int, what: str) -> FloatingPointError:
        return FloatingPointError(
            f"gradient descent diverged at step {k} of {steps}: {what} is not "
            f"finite (lr = {lr:g}); try a smaller learning rate"
        )

    iterates, values = [x0.detach().clone()], []
    with torch.enable_grad():  # also when called under torch.no_grad()
        for k in range(steps + 1):
            x = iterates[k].clone().requires_grad_()
            y = _checks.returned("f", f(x), ndim=(0,), shape="(), a scalar")
            if not torch.isfinite(y):
                raise diverged(k, f"f(x_{k})")
            values.append(y.detach())
            if k == steps:  # the last iterate needs its value, not a gradient
                break
            if y.requires_grad:
                (grad,) = torch.autograd.grad(y, x, materialize_grads=True)
            else:  # nothing differentiable in f: a constant, whose gradient is 0
                grad = torch.zeros_like(x)
            if not torch.isfinite(grad).all():
                raise diverged(k, f"the gradient at x_{k}")
            x_next = iterates[k] - lr * grad  # the gradient has the shape of x
            if not torch.isfinite(x_next).all():
                raise diverged(k + 1, f"the iterate x_{k + 1}")
            iterates.append(x_next)
    path = torch.stack(iterates)  # (steps + 1, n): one iterate per row
    return Descent(path, torch.stack(values).to(x0.dtype))
