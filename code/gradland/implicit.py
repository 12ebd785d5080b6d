r"""Implicit layers: a layer whose output is the fixed point of a function.

This module is the code of Chapter 6 of the book. A fixed-point layer maps an
input :math:`\bm{x}` to the solution :math:`\bm{z}^\star` of

.. math::

    \bm{z}^\star = \bm{f}(\bm{z}^\star, \bm{x}),

found by an iterative solver, and differentiates it by the implicit function
theorem instead of backpropagating through the iterations. Top to bottom:

* :class:`ConvergenceError` and :class:`SolverResult`, what a solver raises
  and what it returns;
* :func:`fixed_point_iteration` and :func:`anderson`, two solvers for
  :math:`\bm{z} = \bm{g}(\bm{z})`: plain iteration and Anderson acceleration.
  They are ordinary PyTorch code, so running them with autograd on gives the
  *unrolled* baseline that the chapter compares against;
* :class:`TanhCell`, the chapter's running example
  :math:`\bm{f}(\bm{z}, \bm{x}) = \tanh(\bm{W} \bm{z} + \bm{U} \bm{x} + \bm{b})`,
  a contraction when :math:`\lVert \bm{W} \rVert_2 < 1`;
* :class:`FixedPoint`, the layer itself: a :class:`torch.nn.Module` whose
  backward pass solves the adjoint system
  :math:`\bm{u} = \bm{v} + \bm{J}_{\bm{z}}^\top \bm{u}` with the same solver,
  one vector--Jacobian product per iteration, and never forms a Jacobian.

Shapes follow the book: vectors are the last dimension of a tensor and every
leading dimension is a batch dimension, so ``z`` of shape ``(B, d)`` holds
:math:`B` independent problems, each with its own convergence test.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch.autograd.function import once_differentiable

from gradland import _checks

__all__ = [
    "ConvergenceError",
    "FixedPoint",
    "SolverResult",
    "TanhCell",
    "anderson",
    "fixed_point_iteration",
    "relative_residual",
]


class ConvergenceError(RuntimeError):
    """A solver stopped before the relative residual fell below the tolerance.

    The message says which solve failed, how many iterations ran, the last
    relative residual and the tolerance; the three numbers are also kept as
    attributes.

    Parameters
    ----------
    what : str
        The solve that failed, as the message names it.
    iterations : int
        Evaluations of the map run before giving up.
    residual : float
        The last relative residual (``nan`` or ``inf`` if the iterates blew up).
    tol : float
        The tolerance that was asked for.

    Attributes
    ----------
    iterations, residual, tol
        The last three parameters.

    Examples
    --------
    >>> import torch
    >>> from gradland.implicit import ConvergenceError, fixed_point_iteration
    >>> try:  # z = 2 z + 1 has the fixed point -1, but iteration runs away from it
    ...     fixed_point_iteration(lambda z: 2 * z + 1, torch.zeros(1), max_iter=5)
    ... except ConvergenceError as error:
    ...     print(error.iterations, round(error.residual, 3), error.tol)
    5 0.516 1e-05
    """

    def __init__(self, what: str, iterations: int, residual: float, tol: float) -> None:
        self.iterations, self.residual, self.tol = iterations, residual, tol
        why = "the iterates are no longer finite" if not math.isfinite(residual) else ("is the map a contraction?")
        super().__init__(
            f"{what} did not converge: after {iterations} iterations the relative "
            f"residual is {residual:.3g}, above the tolerance {tol:.3g} ({why})"
        )


class SolverResult(NamedTuple):
    """What a solver returns: the solution and the record of residuals.

    ``residuals[k]`` is the relative residual of the iterate
    :math:`\\bm{z}_k` (the largest one over the batch), so
    ``len(residuals)`` is the number of evaluations of the map.

    Examples
    --------
    >>> import torch
    >>> from gradland.implicit import SolverResult, anderson
    >>> result = anderson(torch.cos, torch.zeros(1, dtype=torch.float64), tol=1e-10)
    >>> isinstance(result, SolverResult), len(result.residuals)
    (True, 14)
    >>> z, residuals = result  # a named tuple: it unpacks into its two fields
    """

    #: The solution, with the shape of the starting point.
    z: torch.Tensor
    #: One relative residual per evaluation of the map, the last one at ``z``.
    residuals: list[float]


# ---------------------------------------------------------------------------
# The convergence test, shared by the two solvers, and the check of g's value.
# ---------------------------------------------------------------------------


def _apply(g: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor) -> torch.Tensor:
    """``g(z)``, checked to be a tensor of the shape of ``z``."""
    gz = g(z)
    if not isinstance(gz, torch.Tensor):
        raise TypeError(f"g must return a tensor of shape {tuple(z.shape)}, the shape of z; got {_checks.describe(gz)}")
    if gz.shape != z.shape:
        raise ValueError(
            f"g must return a tensor of shape {tuple(z.shape)}, the shape of z; got shape {tuple(gz.shape)}"
        )
    return gz


def relative_residual(z: torch.Tensor, gz: torch.Tensor) -> float:
    r"""The relative residual of :math:`\bm{z}` for :math:`\bm{z} = \bm{g}(\bm{z})`, the
    largest over the batch.

    For one example it is

    .. math::

        r(\bm{z}) = \frac{\lVert \bm{g}(\bm{z}) - \bm{z} \rVert}
        {\max(\lVert \bm{g}(\bm{z}) \rVert, \lVert \bm{z} \rVert)},

    with Euclidean norms over the last dimension: zero at a fixed point, at
    most 2 elsewhere, and independent of the scale of :math:`\bm{z}`. (It is
    taken to be zero when :math:`\bm{z} = \bm{g}(\bm{z}) = \bm{0}`.) It is
    computed outside of autograd: it decides when to stop, it is not part of
    the result.

    Parameters
    ----------
    z, gz : torch.Tensor
        :math:`\bm{z}` and :math:`\bm{g}(\bm{z})`, shape ``(..., d)``.

    Returns
    -------
    float
        The largest relative residual over the leading (batch) dimensions;
        ``nan`` if an entry is not finite.

    Raises
    ------
    TypeError
        If ``z`` or ``gz`` is not a floating-point tensor, or their dtypes differ.
    ValueError
        If their shapes differ, they have no dimension, or they are on
        different devices.

    Examples
    --------
    >>> import torch
    >>> from gradland.implicit import relative_residual
    >>> z = torch.tensor([[3.0, 4.0], [1.0, 0.0]])  # two examples
    >>> r = relative_residual(z, torch.tensor([[3.0, 4.0], [1.1, 0.0]]))
    >>> round(r, 4)  # the second example's: 0.1 / 1.1
    0.0909
    """
    _checks.tensor("z", z, floating=True, shape="(..., d)")
    _checks.tensor("gz", gz, floating=True, shape="(..., d)")
    _checks.alike(z=z, gz=gz)
    if z.shape != gz.shape or z.ndim == 0:
        raise ValueError(f"z and gz must have one shape (..., d); got {tuple(z.shape)} and {tuple(gz.shape)}")
    tiny = torch.finfo(z.dtype).tiny
    with torch.no_grad():
        # divide by the largest entry first, so that the norms neither underflow
        # nor overflow: the ratio is the same, and exact at every scale
        scale = torch.maximum(z.abs().amax(dim=-1, keepdim=True), gz.abs().amax(dim=-1, keepdim=True))
        z, gz = z / scale.clamp_min(tiny), gz / scale.clamp_min(tiny)
        distance = torch.linalg.vector_norm(gz - z, dim=-1)
        size = torch.maximum(torch.linalg.vector_norm(gz, dim=-1), torch.linalg.vector_norm(z, dim=-1))
        per_example = distance / size.clamp_min(tiny)
        return per_example.max().item()


def _converged(residuals: list[float], tol: float, what: str, max_iter: int) -> bool:
    """Whether the last residual is below ``tol``; raise if it never will be."""
    r = residuals[-1]
    if r <= tol:
        return True
    if not math.isfinite(r) or len(residuals) == max_iter:
        raise ConvergenceError(what, len(residuals), r, tol)
    return False


# ---------------------------------------------------------------------------
# The two solvers.
# ---------------------------------------------------------------------------


def fixed_point_iteration(
    g: Callable[[torch.Tensor], torch.Tensor],
    z0: torch.Tensor,
    *,
    tol: float = 1e-5,
    max_iter: int = 100,
) -> SolverResult:
    r"""Solve :math:`\bm{z} = \bm{g}(\bm{z})` by plain iteration
    :math:`\bm{z}_{k+1} = \bm{g}(\bm{z}_k)`.

    Stops at the first iterate :math:`\bm{z}_k` whose relative residual (see
    :func:`relative_residual`) is at most ``tol`` for every example of the
    batch, and returns it. When
    :math:`\bm{g}` is a contraction the iterates converge to its unique fixed
    point from any start.

    The loop is ordinary PyTorch: run it with autograd on and it records every
    iteration, which is backpropagation through the unrolled solver.

    Parameters
    ----------
    g : callable
        The map :math:`\bm{g}`, from a tensor of the shape of ``z0`` to one of
        the same shape. The last dimension holds the vector; leading
        dimensions are a batch of independent problems.
    z0 : torch.Tensor
        The starting point :math:`\bm{z}_0`, shape ``(..., d)``, floating point.
    tol : float, optional
        Tolerance on the relative residual, positive.
    max_iter : int, optional
        Most evaluations of :math:`\bm{g}` (at least 1).

    Returns
    -------
    SolverResult
        ``z``, the solution, and ``residuals``, one relative residual per
        evaluation of :math:`\bm{g}`.

    Raises
    ------
    ConvergenceError
        If the residual is still above ``tol`` after ``max_iter`` evaluations,
        or stops being finite.
    TypeError
        If ``g`` is not callable, ``z0`` not a floating-point tensor, or ``g``
        does not return a tensor.
    ValueError
        If ``tol`` or ``max_iter`` is out of range, ``z0`` has no dimension, or
        ``g`` changes the shape.

    See Also
    --------
    anderson : the same problem, usually in far fewer iterations.

    Examples
    --------
    >>> import torch
    >>> from gradland.implicit import fixed_point_iteration
    >>> z0 = torch.zeros(1, dtype=torch.float64)
    >>> z, residuals = fixed_point_iteration(torch.cos, z0, tol=1e-10)
    >>> z  # the solution of z = cos(z)
    tensor([0.7391], dtype=torch.float64)
    >>> len(residuals)  # evaluations of cos
    60
    """
    tol, max_iter = _checks.real("tol", tol, positive=True), _checks.integer("max_iter", max_iter, minimum=1)
    _checks.function("g", g, "a function of z")
    _checks.tensor("z0", z0, floating=True, min_ndim=1, shape="(..., d), at least one dimension")
    z, residuals = z0, []
    while True:
        gz = _apply(g, z)
        residuals.append(relative_residual(z, gz))
        if _converged(residuals, tol, "fixed-point iteration", max_iter):
            return SolverResult(z, residuals)
        z = gz


def anderson(
    g: Callable[[torch.Tensor], torch.Tensor],
    z0: torch.Tensor,
    *,
    tol: float = 1e-5,
    max_iter: int = 100,
    memory: int = 5,
    omega: float = 1.0,
    lam: float = 1e-8,
) -> SolverResult:
    r"""Solve :math:`\bm{z} = \bm{g}(\bm{z})` by Anderson acceleration.

    Keeps the last :math:`m_k = \min(m, k + 1)` iterates
    :math:`\bm{z}_i` and their images :math:`\bm{g}(\bm{z}_i)`, finds the
    weights :math:`\alpha_i` that sum to one and make the combined residual
    :math:`\lVert \sum_i \alpha_i (\bm{g}(\bm{z}_i) - \bm{z}_i) \rVert` smallest,
    and moves to
    :math:`\bm{z}_{k+1} = \sum_i \alpha_i \bigl((1 - \omega) \bm{z}_i + \omega
    \bm{g}(\bm{z}_i)\bigr)`. With ``memory=1`` and ``omega=1`` it is plain
    fixed-point iteration.

    The weights solve the small linear system
    :math:`(\bm{G} / s + \lambda \Id) \bm{w} = \bm{1}`,
    :math:`\bm{\alpha} = \bm{w} / (\bm{1}^\top \bm{w})`, where :math:`\bm{G}`
    is the matrix of scalar products of the residuals
    :math:`\bm{g}(\bm{z}_i) - \bm{z}_i` and :math:`s` is the mean of their
    squared norms, so that the regularisation does not depend on the scale of
    the residuals. Each example of a batch
    gets its own weights.

    Parameters
    ----------
    g : callable
        The map :math:`\bm{g}`, from a tensor of the shape of ``z0`` to one of
        the same shape. The last dimension holds the vector; leading
        dimensions are a batch of independent problems.
    z0 : torch.Tensor
        The starting point :math:`\bm{z}_0`, shape ``(..., d)``, floating point.
    tol : float, optional
        Tolerance on the relative residual, positive.
    max_iter : int, optional
        Most evaluations of :math:`\bm{g}` (at least 1).
    memory : int, optional
        :math:`m`, how many past iterates are combined (at least 1).
    omega : float, optional
        :math:`\omega \in (0, 1]`, the mixing (damping) parameter.
    lam : float, optional
        :math:`\lambda > 0`, the relative regularisation of the
        least-squares problem; raised to ten times the resolution of the
        dtype of ``z0`` if it is smaller (``1e-8`` is lost in float32).

    Returns
    -------
    SolverResult
        ``z``, the solution, and ``residuals``, one relative residual per
        evaluation of :math:`\bm{g}`.

    Raises
    ------
    ConvergenceError
        If the residual is still above ``tol`` after ``max_iter`` evaluations,
        or stops being finite.
    TypeError
        If ``g`` is not callable, ``z0`` not a floating-point tensor, or ``g``
        does not return a tensor.
    ValueError
        If an option is out of range, ``z0`` has no dimension, or ``g``
        changes the shape.

    See Also
    --------
    fixed_point_iteration : the plain iteration that Anderson accelerates.

    Examples
    --------
    >>> import torch
    >>> from gradland.implicit import anderson
    >>> z0 = torch.zeros(1, dtype=torch.float64)
    >>> z, residuals = anderson(torch.cos, z0, tol=1e-10)
    >>> z  # the solution of z = cos(z), as before
    tensor([0.7391], dtype=torch.float64)
    >>> len(residuals)  # evaluations of cos, against 60 for plain iteration
    14
    """
    tol, max_iter = _checks.real("tol", tol, positive=True), _checks.integer("max_iter", max_iter, minimum=1)
    _checks.function("g", g, "a function of z")
    _checks.tensor("z0", z0, floating=True, min_ndim=1, shape="(..., d), at least one dimension")
    memory = _checks.integer("memory", memory, minimum=1)
    omega = _checks.real("omega", omega, positive=True, maximum=1)
    lam = _checks.real("lam", lam, positive=True)
    # below ten times the resolution of z's dtype the regularisation is lost in
    # rounding (1 + 1e-8 == 1 in float32), and collinear residuals make G singular
    lam = max(lam, 10 * torch.finfo(z0.dtype).eps)
    shape, d = z0.shape, z0.shape[-1]

    def g_rows(rows: torch.Tensor) -> torch.Tensor:  # g on a batch of rows (B, d)
        return _apply(g, rows.reshape(shape)).reshape(-1, d)

    z = z0.reshape(-1, d)
    zs, gs, residuals = [], [], []  # the last m iterates and their images
    while True:
        gz = g_rows(z)
        residuals.append(relative_residual(z, gz))
        if _converged(residuals, tol, "Anderson acceleration", max_iter):
            return SolverResult(z.reshape(shape), residuals)
        zs, gs = (zs + [z])[-memory:], (gs + [gz])[-memory:]
        Z, gZ = torch.stack(zs, dim=1), torch.stack(gs, dim=1)  # (B, m_k, d)
        res = gZ - Z  # res[b, i] is the residual g(z_i) - z_i of example b
        gram = res @ res.transpose(1, 2)  # (B, m_k, m_k): their scalar products, G
        s = gram.diagonal(dim1=1, dim2=2).mean(dim=1)  # mean squared norm
        s = s.clamp_min(torch.finfo(z.dtype).tiny)[:, None, None]
        eye = torch.eye(len(zs), dtype=z.dtype, device=z.device)
        ones = torch.ones_like(gram[:, :, :1])  # (B, m_k, 1)
        w = torch.linalg.solve(gram / s + lam * eye, ones)
        alpha = w / w.sum(dim=1, keepdim=True)  # weights that add up to one
        z = (alpha * ((1 - omega) * Z + omega * gZ)).sum(dim=1)


# ---------------------------------------------------------------------------
# The running example: a contractive tanh cell.
# ---------------------------------------------------------------------------


class TanhCell(torch.nn.Module):
    r"""The map
    :math:`\bm{f}(\bm{z}, \bm{x}) = \tanh(\bm{W} \bm{z} + \bm{U} \bm{x} + \bm{b})`.

    The recurrent cell of Chapter 1 with its input held fixed. Since
    :math:`\tanh` is 1-Lipschitz entry by entry, :math:`\bm{f}` is a
    contraction in :math:`\bm{z}` whenever the spectral norm
    :math:`\lVert \bm{W} \rVert_2` is below one; the initial :math:`\bm{W}` is
    a random matrix rescaled to the given spectral norm. (Training may move
    it: the layer then reports a :class:`ConvergenceError` if the solver stops
    converging.)

    Parameters
    ----------
    d_x : int
        :math:`n`, the size of the input :math:`\bm{x} \in \R^n`.
    d_z : int
        :math:`d`, the size of the state :math:`\bm{z} \in \R^d`.
    spectral_norm : float, optional
        :math:`\lVert \bm{W} \rVert_2` at initialisation, positive.
    device, dtype : optional
        Of the parameters, as for :class:`torch.nn.Linear`.

    Raises
    ------
    TypeError
        If ``d_x`` or ``d_z`` is not an int, or ``spectral_norm`` not a real
        number.
    ValueError
        If ``d_x`` or ``d_z`` is below 1, or ``spectral_norm`` is not positive
        and finite.

    Attributes
    ----------
    W : torch.nn.Parameter
        :math:`\bm{W} \in \R^{d \times d}`, shape ``(d, d)``.
    U : torch.nn.Parameter
        :math:`\bm{U} \in \R^{d \times n}`, shape ``(d, n)`` (out, in).
    b : torch.nn.Parameter
        :math:`\bm{b} \in \R^{d}`, shape ``(d,)``, zero at initialisation.

    Examples
    --------
    >>> import torch
    >>> from gradland.implicit import TanhCell
    >>> _ = torch.manual_seed(0)
    >>> f = TanhCell(3, 4, spectral_norm=0.5)
    >>> torch.linalg.matrix_norm(f.W.detach(), ord=2)
    tensor(0.5000)
    >>> f(torch.zeros(2, 4), torch.ones(2, 3)).shape  # a batch of 2 rows
    torch.Size([2, 4])
    """

    def __init__(self, d_x: int, d_z: int, *, spectral_norm: float = 0.9, device=None, dtype=None) -> None:
        super().__init__()
        d_x, d_z = _checks.integer("d_x", d_x, minimum=1), _checks.integer("d_z", d_z, minimum=1)
        spectral_norm = _checks.real("spectral_norm", spectral_norm, positive=True)
        # Drawn on the CPU and then moved, so that every device starts from the
        # same numbers (a CUDA generator would draw others).
        W = torch.randn(d_z, d_z, dtype=dtype)
        W = W * (spectral_norm / torch.linalg.matrix_norm(W, ord=2))
        U = torch.randn(d_z, d_x, dtype=dtype) / math.sqrt(d_x)
        self.W = torch.nn.Parameter(W.to(device))
        self.U = torch.nn.Parameter(U.to(device))
        self.b = torch.nn.Parameter(torch.zeros(d_z, dtype=dtype, device=device))

    @torch.no_grad()
    def clip_spectral_norm_(self, max_norm: float = 0.9) -> float:
        r"""Scale :math:`\bm{W}` down, in place, so that
        :math:`\lVert \bm{W} \rVert_2 \leq` ``max_norm``.

        Called after every step of an optimiser, it keeps the cell a
        contraction during training. It rescales the whole matrix, which keeps it
        feasible but is not the Euclidean projection onto the ball (that one would
        clip each singular value at ``max_norm``). A
        :math:`\bm{W}` already inside the ball is left alone.

        Parameters
        ----------
        max_norm : float, optional
            The largest spectral norm allowed, positive.

        Returns
        -------
        float
            :math:`\lVert \bm{W} \rVert_2` before the clipping.

        Raises
        ------
        ValueError
            If ``max_norm`` is not positive.

        Examples
        --------
        >>> import torch
        >>> from gradland.implicit import TanhCell
        >>> f = TanhCell(3, 4, spectral_norm=2.0)
        >>> round(f.clip_spectral_norm_(0.9), 6)  # the norm it had
        2.0
        >>> torch.linalg.matrix_norm(f.W, ord=2)
        tensor(0.9000, grad_fn=<AmaxBackward0>)
        """
        if not max_norm > 0:
            raise ValueError(f"max_norm must be positive; got {max_norm!r}")
        norm = torch.linalg.matrix_norm(self.W, ord=2).item()
        if norm > max_norm:
            self.W.mul_(max_norm / norm)
        return norm

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """f(z, x) on batches of rows.

        Parameters
        ----------
        z, x : torch.Tensor
            The state, shape ``(..., d)``, and the input, shape ``(..., n)``.

        Returns
        -------
        torch.Tensor
            f(z, x), shape ``(..., d)``.
        """
        return torch.tanh(z @ self.W.T + x @ self.U.T + self.b)


# ---------------------------------------------------------------------------
# The layer: solve forward, solve the adjoint system backward.
# ---------------------------------------------------------------------------


def _bind_cuda_context(t: torch.Tensor) -> None:
    """Make the CUDA context of the device of ``t`` current on the calling thread.

    Autograd runs the backward pass of a CUDA graph on a worker thread of its
    own. It points that thread at the device, but when ``cudaGetDevice``
    already answers that device (index 0, on a fresh thread) it skips
    ``cudaSetDevice``, and no CUDA context is then current on the thread. A
    kernel launched through the CUDA runtime binds the device's primary
    context by itself; a cuBLAS call does not. The first CUDA work of the
    backward pass of :class:`FixedPoint` is the matrix product inside ``f``, a
    cuBLAS call, so PyTorch warned "Attempting to run cuBLAS, but there was no
    current CUDA context!" and bound the context itself. Since PyTorch 2.8
    ``torch.cuda.set_device`` calls ``cudaSetDevice`` even for the current
    device, and that makes the primary context current (the remedy of
    pytorch/pytorch#92055 for PyTorch's own compiled backward kernels). It is
    called only when the thread already points at the device of ``t``, so it
    never changes a thread's device; on another device, the device guard of
    the first operation switches, and switching binds the context. On the CPU
    it does nothing.
    """
    if t.is_cuda and torch.cuda.current_device() == t.device.index:
        torch.cuda.set_device(t.device)


class _ImplicitFixedPoint(torch.autograd.Function):
    """z* = f(z*, x), with the gradient of the implicit function theorem."""

    @staticmethod
    def forward(ctx, layer, x, z0, *params):  # params: those of layer.f
        with torch.no_grad():  # no graph: the iterates are thrown away
            z_star, residuals = layer.solve(lambda z: layer.f(z, x), z0, "forward")
        layer.forward_residuals = residuals
        ctx.layer = layer
        ctx.save_for_backward(z_star, x)  # all that the backward pass needs
        return z_star

    @staticmethod
    @once_differentiable
    def backward(ctx, v):
        _bind_cuda_context(v)  # before the first cuBLAS call, in f below
        z_star, x = ctx.saved_tensors
        layer, params = ctx.layer, list(ctx.layer.f.parameters())
        with torch.enable_grad():  # f at the solution, once, with its graph
            z = z_star.detach().requires_grad_()
            x = x.detach().requires_grad_(ctx.needs_input_grad[1])
            fz = layer.f(z, x)

        def vjp_z(u):  # u -> J_z.T @ u: the row u.T @ J_z, as a column
            return torch.autograd.grad(fz, z, u, retain_graph=True)[0]

        # The adjoint system u = v + J_z.T @ u: a fixed point in u.
        u, residuals = layer.solve(
            lambda u: v + vjp_z(u),
            torch.zeros_like(v),
            "backward",
        )
        layer.backward_residuals = residuals
        # u.T @ df/dx and u.T @ df/dtheta as gradients (columns), only for inputs
        # that need one: x, each parameter of f
        needs = ctx.needs_input_grad[1:2] + ctx.needs_input_grad[3:]
        wrt = [t for t, need in zip([x, *params], needs) if need]
        found = iter(torch.autograd.grad(fz, wrt, u, allow_unused=True) if wrt else ())
        grad_x, *grad_params = [next(found) if need else None for need in needs]
        return None, grad_x, None, *grad_params


class FixedPoint(torch.nn.Module):
    r"""An implicit layer: maps :math:`\bm{x}` to the fixed point
    :math:`\bm{z}^\star = \bm{f}(\bm{z}^\star, \bm{x})`.

    The forward pass solves for :math:`\bm{z}^\star` with a solver, keeping no
    graph of its iterations. The backward pass uses the implicit function
    theorem: given the gradient :math:`\bm{v}` of a loss with respect to
    :math:`\bm{z}^\star`, it solves the adjoint system

    .. math::

        \bm{u} = \bm{v} + \bm{J}_{\bm{z}}^\top \bm{u},
        \qquad \bm{J}_{\bm{z}}
        = \frac{\partial \bm{f}}{\partial \bm{z}}(\bm{z}^\star, \bm{x}),

    with the same solver, one vector--Jacobian product of :math:`\bm{f}` per
    iteration, and returns
    :math:`(\frac{\partial \bm{f}}{\partial \bm{x}})^\top \bm{u}` for
    :math:`\bm{x}` and
    :math:`(\frac{\partial \bm{f}}{\partial \bm{\theta}})^\top \bm{u}` for the
    parameters :math:`\bm{\theta}` of :math:`\bm{f}`. The memory kept for the
    backward pass is :math:`\bm{z}^\star` and :math:`\bm{x}`, whatever the
    number of iterations.

    Parameters
    ----------
    f : torch.nn.Module
        The map, called as ``f(z, x)``, returning a tensor of the shape of
        ``z``; its parameters receive gradients. It must treat the examples of
        a batch independently (no batch normalisation).
    d_z : int
        :math:`d`: the state has shape ``(*x.shape[:-1], d)``.
    solver : {"anderson", "iteration"}, optional
        :func:`anderson` or :func:`fixed_point_iteration`, for both solves.
    tol : float, optional
        Tolerance on the relative residual of the forward solve.
    max_iter : int, optional
        Most evaluations of :math:`\bm{f}` in the forward solve.
    backward_tol : float, optional
        Tolerance of the backward solve; by default ``tol``.
    backward_max_iter : int, optional
        Most iterations of the backward solve; by default ``max_iter``.
    **solver_options
        Passed on to :func:`anderson` (``memory``, ``omega``, ``lam``).

    Attributes
    ----------
    forward_residuals, backward_residuals : list of float
        The residuals of the last forward and backward solves.

    Raises
    ------
    TypeError
        If ``f`` is not a :class:`torch.nn.Module`, or a number is of the wrong
        type; when called, if ``x`` is not a floating tensor of the dtype of
        the parameters of ``f``, or ``z0`` not of the dtype of ``x``.
    ValueError
        If ``f`` batch-normalises, ``solver`` or a solver option is unknown,
        or a number is out of range; when called, if ``x`` has no dimension,
        ``z0`` has the wrong shape, or they and ``f`` are on different
        devices.
    ConvergenceError
        From the forward pass, or from ``backward()``, when a solve fails.

    Examples
    --------
    >>> import torch
    >>> from gradland.implicit import FixedPoint, TanhCell
    >>> _ = torch.manual_seed(0)
    >>> f = TanhCell(3, 4, spectral_norm=0.5, dtype=torch.float64)
    >>> layer = FixedPoint(f, 4, tol=1e-10)
    >>> x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    >>> z = layer(x)
    >>> bool(torch.allclose(f(z, x), z, atol=1e-9))  # a fixed point
    True
    >>> z.sum().backward()  # gradients by the implicit function theorem
    >>> x.grad.shape, f.W.grad.shape
    (torch.Size([2, 3]), torch.Size([4, 4]))
    """

    def __init__(
        self,
        f: torch.nn.Module,
        d_z: int,
        *,
        solver: str = "anderson",
        tol: float = 1e-5,
        max_iter: int = 100,
        backward_tol: float | None = None,
        backward_max_iter: int | None = None,
        **solver_options,
    ) -> None:
        super().__init__()
        _checks.module("f", f, "a torch.nn.Module called as f(z, x)")
        d_z = _checks.integer("d_z", d_z, minimum=1)
        if any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in f.modules()):
            raise ValueError(
                "f must treat the examples of a batch independently, and batch normalisation "
                "mixes them: the solve would couple the examples"
            )
        solvers = {"anderson": anderson, "iteration": fixed_point_iteration}
        _checks.choice("solver", solver, sorted(solvers))
        known = {"iteration": set(), "anderson": {"memory", "omega", "lam"}}[solver]
        if set(solver_options) - known:
            raise ValueError(f"the {solver} solver takes the options {sorted(known)}; got {sorted(solver_options)}")
        backward_tol = tol if backward_tol is None else backward_tol
        backward_max_iter = max_iter if backward_max_iter is None else backward_max_iter
        _checks.real("tol", tol, positive=True)
        _checks.integer("max_iter", max_iter, minimum=1)
        _checks.real("backward_tol", backward_tol, positive=True)
        _checks.integer("backward_max_iter", backward_max_iter, minimum=1)
        self.f, self.d_z, self.solver = f, d_z, solver
        self._solver, self._options = solvers[solver], solver_options
        self._limits = {"forward": (tol, max_iter), "backward": (backward_tol, backward_max_iter)}
        self.forward_residuals: list[float] = []
        self.backward_residuals: list[float] = []

    def solve(self, g, z0: torch.Tensor, which: str) -> SolverResult:
        """Run the layer's solver on ``z = g(z)``, with the limits of one solve.

        Parameters
        ----------
        g : callable
            The map whose fixed point is wanted.
        z0 : torch.Tensor
            The starting point.
        which : {"forward", "backward"}
            Which tolerance and iteration budget to use.

        Returns
        -------
        SolverResult
            The solution and the residuals.

        Raises
        ------
        ConvergenceError
            Naming the solve (forward or backward) and the solver.
        """
        tol, max_iter = self._limits[which]
        try:
            return self._solver(g, z0, tol=tol, max_iter=max_iter, **self._options)
        except ConvergenceError as err:
            raise ConvergenceError(
                f"the {which} solve of FixedPoint ({self.solver})", err.iterations, err.residual, tol
            ) from None

    def forward(self, x: torch.Tensor, z0: torch.Tensor | None = None) -> torch.Tensor:
        r"""The fixed point :math:`\bm{z}^\star = \bm{f}(\bm{z}^\star, \bm{x})`.

        Parameters
        ----------
        x : torch.Tensor
            The input :math:`\bm{x}`, shape ``(..., n)``, of the dtype and on the
            device of the parameters of ``f``.
        z0 : torch.Tensor, optional
            Where the solve starts, shape ``(*x.shape[:-1], d_z)``, of the dtype
            and on the device of ``x``; zeros by default.

        Returns
        -------
        torch.Tensor
            :math:`\bm{z}^\star`, shape ``(*x.shape[:-1], d_z)``.

        Raises
        ------
        TypeError
            If ``x`` is not a floating-point tensor of the dtype of ``f``, or
            ``z0`` not a tensor of the dtype of ``x``.
        ValueError
            If ``x`` has no dimension, ``z0`` has the wrong shape, or they and
            ``f`` are on different devices.
        ConvergenceError
            If the forward solve fails (and from ``backward()``, the backward one).
        """
        _checks.tensor(
            "x", x, floating=True, min_ndim=1, shape="(..., n)", reference=next(self.f.parameters(), None), owner="f"
        )
        shape = (*x.shape[:-1], self.d_z)
        if z0 is None:
            z0 = torch.zeros(shape, dtype=x.dtype, device=x.device)
        _checks.tensor("z0", z0, exact=shape, shape=f"{shape} = (*x.shape[:-1], d_z)")
        _checks.alike(x=x, z0=z0)
        return _ImplicitFixedPoint.apply(self, x, z0.detach(), *self.f.parameters())

    def extra_repr(self) -> str:
        tol, max_iter = self._limits["forward"]
        return f"d_z={self.d_z}, solver={self.solver!r}, tol={tol:g}, max_iter={max_iter}"
