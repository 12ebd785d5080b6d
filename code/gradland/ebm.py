r"""Latent-variable energy-based models: the energy, inference and the free energy.

This module is the code of Chapters 7 and 8 of the book. An energy
:math:`E(\bm{x}, \bm{y}, \bm{z})` is low when the input :math:`\bm{x}`, the
target :math:`\bm{y}` and the latent :math:`\bm{z}` are compatible. Here it
is the squared distance between :math:`\bm{y}` and what a decoder makes of
the latent,

.. math::

   E(\bm{x}, \bm{y}, z) = \lVert \bm{y} - \operatorname{dec}(\bm{x}, z) \rVert^2,

and the latent is an angle :math:`z`, as in the horn of :mod:`gradland.data`.
Top to bottom:

* decoders (:class:`EllipseDecoder`, :class:`HornDecoder`) and the model
  :class:`LatentEBM` that turns one into an energy;
* inference of the latent, :math:`\check{z} = \argmin_z E`, by exhaustive
  search over a grid (:meth:`LatentEBM.infer_z_grid`) or by gradient descent
  (:meth:`LatentEBM.infer_z_descent`), and of the target,
  :math:`\check{\bm{y}} = \argmin_{\bm{y}} F_\beta(\bm{x}, \bm{y})`
  (:meth:`LatentEBM.infer_y`).

The energy of a pair is the minimum of :math:`E` over the latent, the
zero-temperature free energy; :meth:`LatentEBM.free_energy` computes it, and
its soft version at an inverse temperature :math:`\beta`, with the code of
Chapter 8 at the end of the module:

* :func:`free_energy`, a soft minimum of the energies of the :math:`K`
  latent values, computed without overflow or loss of precision from
  :math:`\beta \to 0` to :math:`\beta = \infty`;
* :func:`softmin_weights`, the share of each latent value in it, which is
  its derivative in the energies.

Training these models is in :mod:`gradland.contrastive` (Chapter 9).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

import torch
from torch import nn

from gradland import _checks
from gradland._checks import describe as _describe
from gradland.layers import mlp

__all__ = ["EllipseDecoder", "HornDecoder", "LatentEBM", "free_energy", "softmin_weights"]


def _check_grid(y: object, z_grid: object, x: object, target: str = "y") -> None:
    """The arguments of a search over a grid of latent values: targets ``y`` (named
    ``target``), floating, of shape ``(n, 2)``, the grid ``z_grid``, floating,
    ``(K,)`` with ``K >= 1``, and ``x``, None or an input per target, all on one
    device. Metadata only."""
    _checks.tensor(target, y, floating=True, ndim=2, shape="(n, 2)")
    if y.shape[1] != 2:
        raise ValueError(f"{target} must have shape (n, 2); got {_describe(y)}")
    _checks.tensor("z_grid", z_grid, floating=True, ndim=1, shape="(K,) with K >= 1")
    if len(z_grid) == 0:
        raise ValueError(f"z_grid must have shape (K,) with K >= 1; got {_describe(z_grid)}")
    if z_grid.device != y.device:
        raise ValueError(f"z_grid must be on the device of {target}, {y.device}; got {_describe(z_grid)}")
    if x is not None:
        _checks.per_row("x", x, len(y), y.device, target, kind="reals")


def _arity(decoder: Callable[..., torch.Tensor]) -> int | None:
    """How many arguments ``decoder`` takes: 1 (``z``), 2 (``x, z``), or None when its
    signature does not say."""
    try:
        parameters = inspect.signature(
            decoder.forward if isinstance(decoder, nn.Module) else decoder
        ).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return None
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(p.kind in positional and p.default is p.empty for p in parameters)


def _circle(z: torch.Tensor) -> torch.Tensor:
    """The point :math:`(\\cos z, \\sin z)` of the unit circle, shape
    ``z.shape + (2,)``."""
    return torch.stack((torch.cos(z), torch.sin(z)), dim=-1)


class EllipseDecoder(nn.Module):
    r"""An ellipse in :math:`\R^2` drawn by an angle:
    :math:`\operatorname{dec}(z) = \bm{W} (\cos z, \sin z)^\top + \bm{b}`.

    Every ellipse in the plane is the image of the unit circle by an affine
    map, so the learnable :math:`\bm{W} \in \R^{2 \times 2}` and
    :math:`\bm{b} \in \R^2` can describe any of them.

    The parameters keep the dtype of the tensors they are given (``float32``
    by default), and the decoder refuses angles of another dtype or device,
    as the layers of :mod:`torch.nn` do: convert the module with
    :meth:`~torch.nn.Module.to` or :meth:`~torch.nn.Module.double`, or the
    angles, instead of relying on a silent cast.

    Parameters
    ----------
    weight : torch.Tensor, optional
        Initial :math:`\bm{W}`, a floating tensor of shape ``(2, 2)``; by
        default :math:`0.1\,\mathbb{I}` plus a little seeded noise, a small
        circle, in ``float32``.
    bias : torch.Tensor, optional
        Initial :math:`\bm{b}`, shape ``(2,)``, of the dtype and device of
        ``weight``; zero by default.
    seed : int
        Seed of the default initial weight, drawn by a CPU generator.

    Raises
    ------
    TypeError
        If ``weight`` or ``bias`` is not a floating tensor, they differ in
        dtype, or ``seed`` is not an int; and, when called, if the angles are
        not a floating tensor of the parameters' dtype.
    ValueError
        If ``weight`` or ``bias`` has the wrong shape, or they are on
        different devices; and, when called, if the angles are not on the
        parameters' device.

    Examples
    --------
    >>> import math, torch
    >>> from gradland.ebm import EllipseDecoder
    >>> dec = EllipseDecoder(weight=torch.diag(torch.tensor([2.0, 1.0])))
    >>> dec(torch.tensor([0.0, math.pi / 2])).abs().round(decimals=4)
    tensor([[2., 0.],
            [0., 1.]], grad_fn=<RoundBackward1>)
    """

    def __init__(self, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None, *, seed: int = 0):
        super().__init__()
        seed = _checks.integer("seed", seed)
        if weight is None:
            noise = torch.randn(2, 2, generator=torch.Generator().manual_seed(seed))
            weight = 0.1 * torch.eye(2) + 0.02 * noise
        weight = _checks.tensor("weight", weight, floating=True, shape="(2, 2)")
        if bias is None:
            bias = torch.zeros(2, dtype=weight.dtype, device=weight.device)
        bias = _checks.tensor("bias", bias, floating=True, shape="(2,)")
        if tuple(weight.shape) != (2, 2) or tuple(bias.shape) != (2,):
            raise ValueError(
                f"weight must have shape (2, 2) and bias (2,); got {tuple(weight.shape)} and {tuple(bias.shape)}"
            )
        _checks.alike(weight=weight, bias=bias)
        self.weight = nn.Parameter(weight.detach().clone())
        self.bias = nn.Parameter(bias.detach().clone())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        r"""Decode angles into points of the ellipse.

        Parameters
        ----------
        z : torch.Tensor
            Angles, a floating tensor of any shape ``s``.

        Returns
        -------
        torch.Tensor
            The points :math:`\bm{W} (\cos z, \sin z)^\top + \bm{b}`, shape
            ``s + (2,)``.

        Raises
        ------
        TypeError
            If ``z`` is not a floating tensor of the parameters' dtype.
        ValueError
            If ``z`` is not on the parameters' device.
        """
        z = _checks.like("z", _checks.tensor("z", z, floating=True), self.weight, "the decoder")
        return _circle(z) @ self.weight.T + self.bias


class HornDecoder(nn.Module):
    r"""A conditional ellipse:
    :math:`\operatorname{dec}(x, z) = \bm{W}(x) (\cos z, \sin z)^\top + \bm{b}(x)`.

    A small multilayer perceptron maps the input :math:`x \in \R` to the six
    numbers of :math:`\bm{W}(x) \in \R^{2 \times 2}` and
    :math:`\bm{b}(x) \in \R^2`, so that each input gets its own ellipse: a
    model that can learn the horn of :mod:`gradland.data`.

    Parameters
    ----------
    d_hidden : int
        Width of the two hidden layers.
    seed : int
        Seed of the initial weights.

    Raises
    ------
    ValueError
        If ``d_hidden`` is below 1; and, when called, if ``x`` and ``z`` do
        not broadcast together or are not on the parameters' device.
    TypeError
        If ``d_hidden`` or ``seed`` is not an int; and, when called, if ``x``
        or ``z`` is not a floating tensor of the parameters' dtype.

    Examples
    --------
    >>> import torch
    >>> from gradland.ebm import HornDecoder
    >>> dec = HornDecoder(d_hidden=8)
    >>> dec(torch.rand(5, 1), torch.rand(1, 7)).shape  # x and z broadcast
    torch.Size([5, 7, 2])
    """

    def __init__(self, d_hidden: int = 32, *, seed: int = 0):
        super().__init__()
        d_hidden = _checks.integer("d_hidden", d_hidden, minimum=1)
        self.net = mlp([1, d_hidden, d_hidden, 6], activation=nn.Tanh, seed=seed)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        r"""Decode inputs and angles into points of their ellipses.

        Parameters
        ----------
        x : torch.Tensor
            Inputs :math:`x`, a floating tensor.
        z : torch.Tensor
            Angles, a floating tensor that broadcasts with ``x`` to a shape ``s``.

        Returns
        -------
        torch.Tensor
            The points :math:`\bm{W}(x) (\cos z, \sin z)^\top + \bm{b}(x)`, shape
            ``s + (2,)``.

        Raises
        ------
        TypeError
            If ``x`` or ``z`` is not a floating tensor of the parameters' dtype.
        ValueError
            If ``x`` or ``z`` is not on the parameters' device, or they do not
            broadcast together.
        """
        for name, value in (("x", x), ("z", z)):
            _checks.like(name, _checks.tensor(name, value, floating=True), self.net[0].weight, "the decoder")
        try:
            x, z = torch.broadcast_tensors(x, z)
        except RuntimeError:
            raise ValueError(
                f"x and z must broadcast together; got shapes {tuple(x.shape)} and {tuple(z.shape)}"
            ) from None
        params = self.net(x.unsqueeze(-1))
        weight = params[..., :4].unflatten(-1, (2, 2))
        bias = params[..., 4:]
        return (weight @ _circle(z).unsqueeze(-1)).squeeze(-1) + bias


class LatentEBM(nn.Module):
    r"""The energy :math:`E(\bm{x}, \bm{y}, z) = \lVert \bm{y} -
    \operatorname{dec}(\bm{x}, z) \rVert^2` of a decoder.

    Parameters
    ----------
    decoder : callable
        ``decoder(z)`` for an unconditional model, ``decoder(x, z)`` for a
        conditional one; it maps angles of shape ``s`` (and inputs
        broadcastable to ``s``) to points of shape ``s + (2,)``. A module (such
        as :class:`EllipseDecoder`) is trained with the model; a plain
        function (such as :func:`gradland.data.horn_manifold`) is a fixed,
        known decoder.

    Raises
    ------
    TypeError
        If ``decoder`` is not callable.

    Examples
    --------
    >>> import math, torch
    >>> from gradland.data import horn_manifold
    >>> from gradland.ebm import LatentEBM
    >>> model = LatentEBM(horn_manifold)
    >>> x, z = torch.tensor([0.5]), torch.tensor([math.pi / 4])
    >>> y = horn_manifold(x, z)
    >>> model.energy(y, z, x)
    tensor([0.])
    >>> grid = torch.linspace(0, 2 * math.pi, 361)[:-1]
    >>> model.infer_z_grid(y, grid, x)  # pi / 4
    tensor([0.7854])
    """

    def __init__(self, decoder: Callable[..., torch.Tensor]):
        super().__init__()
        _checks.function("decoder", decoder, "callable, a module or a function")
        self.decoder = decoder
        self._arity = _arity(decoder)

    def decode(self, z: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        r"""The points :math:`\operatorname{dec}(\bm{x}, z)` of the model's manifold.

        Parameters
        ----------
        z : torch.Tensor
            Angles.
        x : torch.Tensor, optional
            Inputs of a conditional model, broadcast with ``z``; None for an
            unconditional one.

        Returns
        -------
        torch.Tensor
            The decoder's points, shape ``s + (2,)`` for ``s`` the shape of ``z``
            (broadcast with that of ``x``).

        Raises
        ------
        TypeError
            If ``x`` is None and the decoder is conditional, or given and it is
            unconditional.
        """
        if x is None and self._arity == 2:
            raise TypeError("x must be a tensor of inputs: the decoder is conditional, decoder(x, z); got None")
        if x is not None and self._arity == 1:
            raise TypeError(f"x must be None: the decoder is unconditional, decoder(z); got {_describe(x)}")
        return self.decoder(z) if x is None else self.decoder(x, z)

    def energy(self, y: torch.Tensor, z: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        r"""The energies :math:`E(\bm{x}, \bm{y}, z)`, broadcasting ``y[..., :]``
        against ``z`` (and ``x``).

        Parameters
        ----------
        y : torch.Tensor
            Targets, shape ``(..., 2)``.
        z : torch.Tensor
            Angles, broadcastable against ``y.shape[:-1]``.
        x : torch.Tensor, optional
            Inputs of a conditional model, broadcastable like ``z``.

        Returns
        -------
        torch.Tensor
            The squared distances, shape ``broadcast(y.shape[:-1], z.shape)``.

        Raises
        ------
        TypeError
            If ``y`` or ``z`` is not a floating tensor, or ``x`` does not suit the
            decoder (see :meth:`decode`).
        ValueError
            If ``y`` is not of shape ``(..., 2)``, or ``y`` and ``z`` are on different
            devices.
        """
        _checks.tensor("y", y, shape="(..., 2)", floating=True)
        if y.ndim == 0 or y.shape[-1] != 2:
            raise ValueError(f"y must have shape (..., 2), points; got {_describe(y)}")
        z = _checks.tensor("z", z, floating=True)
        if y.device != z.device:
            raise ValueError(
                f"y and z must be on the same device; got {y.device} and {z.device}",
            )
        return (y - self.decode(z, x)).square().sum(dim=-1)

    def grid_energies(self, y: torch.Tensor, z_grid: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        r"""The energies of ``n`` targets at ``K`` latent values: shape ``(n, K)``.

        Parameters
        ----------
        y : torch.Tensor
            Targets, shape ``(n, 2)``.
        z_grid : torch.Tensor
            The latent values, a floating tensor of shape ``(K,)``,
            :math:`K \ge 1`.
        x : torch.Tensor, optional
            Inputs of a conditional model, a floating tensor of shape ``(n,)``.

        Returns
        -------
        torch.Tensor
            Shape ``(n, K)``: :math:`E(\bm{x}_i, \bm{y}_i, z_k)` at row :math:`i`,
            column :math:`k`.

        Raises
        ------
        TypeError
            If ``y``, ``z_grid`` or ``x`` is not a floating tensor, or ``x`` does not
            suit the decoder (see :meth:`decode`).
        ValueError
            If ``y`` is not of shape ``(n, 2)``, ``z_grid`` not ``(K,)`` with
            :math:`K \ge 1`, ``x`` not ``(n,)``, or they are not all on the device of
            ``y``.
        """
        _check_grid(y, z_grid, x)
        return self.energy(y[:, None, :], z_grid[None, :], None if x is None else x[:, None])

    def free_energy(
        self, y: torch.Tensor, z_grid: torch.Tensor, beta: float, x: torch.Tensor | None = None
    ) -> torch.Tensor:
        r"""The free energy :math:`F_\beta(\bm{x}, \bm{y})` over the latent grid; see
        :func:`free_energy`.

        Parameters
        ----------
        y, z_grid, x
            As in :meth:`grid_energies`.
        beta : float
            Inverse temperature :math:`\beta > 0`, or ``math.inf``.

        Returns
        -------
        torch.Tensor
            Shape ``(n,)``.

        Raises
        ------
        TypeError, ValueError
            As :meth:`grid_energies` does, and for ``beta`` as :func:`free_energy`.
        """
        return free_energy(self.grid_energies(y, z_grid, x), beta)

    def infer_z_grid(self, y: torch.Tensor, z_grid: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        r"""Exhaustive search: :math:`\check{z} = \argmin_k E(\bm{x}, \bm{y}, z_k)` over
        the grid.

        Parameters
        ----------
        y, z_grid, x
            As in :meth:`grid_energies`.

        Returns
        -------
        torch.Tensor
            The best angle of the grid for each target, shape ``(n,)``; the first one
            where several tie.

        Raises
        ------
        TypeError, ValueError
            As :meth:`grid_energies` does.
        """
        with torch.no_grad():
            return z_grid[self.grid_energies(y, z_grid, x).argmin(dim=1)]

    def infer_z_descent(
        self,
        y: torch.Tensor,
        z0: torch.Tensor,
        x: torch.Tensor | None = None,
        *,
        lr: float = 0.1,
        steps: int = 100,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Gradient descent on the energy in :math:`z`, for every target at once.

        Each :math:`z_i` follows :math:`z_i \leftarrow z_i - \eta\,
        \partial E(\bm{x}_i, \bm{y}_i, z_i) / \partial z_i`; the targets do not
        interact, so summing their energies gives every one its own gradient.
        Descent finds *a* local minimum near ``z0``, not necessarily the
        global one that :meth:`infer_z_grid` finds.

        Parameters
        ----------
        y : torch.Tensor
            Targets, shape ``(n, 2)``.
        z0 : torch.Tensor
            Starting angles, shape ``(n,)``.
        x : torch.Tensor, optional
            Inputs of a conditional model, shape ``(n,)``.
        lr : float
            Step size :math:`\eta > 0`, finite.
        steps : int
            Number of steps, at least 0.

        Returns
        -------
        z : torch.Tensor
            The final angles, shape ``(n,)``, wrapped into :math:`[0, 2\pi)`.
        path : torch.Tensor
            Every iterate, shape ``(steps + 1, n)``, unwrapped.

        Raises
        ------
        ValueError
            If ``y`` or ``z0`` has the wrong shape, ``x`` is not of shape ``(n,)``,
            they are not all on one device, ``lr`` is not positive and finite, or
            ``steps`` is negative.
        TypeError
            If ``y`` is not a tensor, ``z0`` not a floating tensor of the dtype
            of ``y``, ``x`` not a floating tensor, ``lr`` not a real number or
            ``steps`` not an int.
        """
        _checks.tensor("y", y, ndim=2, shape="(n, 2)")
        if y.shape[1] != 2:
            raise ValueError(f"y must have shape (n, 2); got {_describe(y)}")
        _checks.tensor("z0", z0, floating=True, shape=f"({len(y)},), one start per target")
        if tuple(z0.shape) != (len(y),):
            raise ValueError(f"z0 must have shape ({len(y)},), one start per target; got {_describe(z0)}")
        _checks.alike(y=y, z0=z0)  # no precision silently lost
        if x is not None:
            _checks.per_row("x", x, len(y), y.device, "y", kind="reals")
        lr = _checks.real("lr", lr, positive=True)
        steps = _checks.integer("steps", steps, minimum=0)
        z = z0.detach().clone().requires_grad_(True)
        path = [z.detach().clone()]
        for _ in range(steps):
            (grad,) = torch.autograd.grad(self.energy(y, z, x).sum(), z)
            with torch.no_grad():
                z -= lr * grad
            path.append(z.detach().clone())
        return torch.remainder(z.detach(), 2 * math.pi), torch.stack(path)

    def infer_y(
        self,
        y0: torch.Tensor,
        z_grid: torch.Tensor,
        beta: float,
        x: torch.Tensor | None = None,
        *,
        lr: float = 0.05,
        steps: int = 200,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Gradient descent on the free energy in :math:`\bm{y}`:
        :math:`\check{\bm{y}} = \argmin_{\bm{y}} F_\beta(\bm{x}, \bm{y})`.

        Parameters
        ----------
        y0 : torch.Tensor
            Starting targets, shape ``(n, 2)``.
        z_grid : torch.Tensor
            The latent values, shape ``(K,)``.
        beta : float
            Inverse temperature, or ``math.inf``.
        x : torch.Tensor, optional
            Inputs of a conditional model, shape ``(n,)``.
        lr : float
            Step size :math:`\eta > 0`, finite.
        steps : int
            Number of steps, at least 0.

        Returns
        -------
        y : torch.Tensor
            The final targets, shape ``(n, 2)``.
        path : torch.Tensor
            Every iterate, shape ``(steps + 1, n, 2)``.

        Raises
        ------
        ValueError
            If ``y0`` is not of shape ``(n, 2)``, ``z_grid`` not of shape
            ``(K,)``, ``x`` not of shape ``(n,)``, they are not on one device,
            ``beta`` is not positive, ``lr`` is not positive and finite, or
            ``steps`` is negative.
        TypeError
            If ``y0``, ``z_grid`` or ``x`` is not a floating tensor, ``beta`` or
            ``lr`` not a real number or ``steps`` not an int.
        """
        _check_grid(y0, z_grid, x, target="y0")
        _checks.inverse_temperature("beta", beta)
        lr = _checks.real("lr", lr, positive=True)
        steps = _checks.integer("steps", steps, minimum=0)
        y = y0.detach().clone().requires_grad_(True)
        path = [y.detach().clone()]
        for _ in range(steps):
            (grad,) = torch.autograd.grad(self.free_energy(y, z_grid, beta, x).sum(), y)
            with torch.no_grad():
                y -= lr * grad
            path.append(y.detach().clone())
        return y.detach(), torch.stack(path)


# ---------------------------------------------------------------------------
# The free energy (Chapter 8).
# ---------------------------------------------------------------------------


def free_energy(energies: torch.Tensor, beta: float, dim: int = -1) -> torch.Tensor:
    r"""The free energy of the energies of one target at :math:`K` latent values.

    With the latent uniform over its :math:`K` values,

    .. math::

       F_\beta = -\frac{1}{\beta} \log \Bigl( \frac{1}{K} \sum_{k=1}^{K}
       \exp(-\beta E_k) \Bigr),

    a soft minimum of the :math:`E_k`. Because of the :math:`1/K`,
    :math:`F_\beta \to \min_k E_k` as :math:`\beta \to \infty` (cold: only the
    best latent counts) and :math:`F_\beta \to \frac{1}{K} \sum_k E_k` as
    :math:`\beta \to 0` (too hot: every latent is averaged away), and
    :math:`F_\beta` never increases as :math:`\beta` grows.

    Parameters
    ----------
    energies : torch.Tensor
        Floating tensor with the :math:`K` energies along ``dim``.
    beta : float
        Inverse temperature :math:`\beta > 0`; ``math.inf`` gives the
        zero-temperature free energy :math:`F_\infty = \min_k E_k` exactly.
    dim : int
        The dimension that holds the :math:`K` latent values; it is reduced.

    Returns
    -------
    torch.Tensor
        ``energies`` with ``dim`` removed, differentiable in ``energies``.

    Raises
    ------
    ValueError
        If ``energies`` has no dimension, ``beta`` is not positive (NaN included)
        or a tensor of more than one number, or ``dim`` is not an axis of
        ``energies``.
    TypeError
        If ``energies`` is not a floating tensor, ``beta`` not a real number, or
        ``dim`` not an int.

    Notes
    -----
    The sum is computed relative to the smallest energy, so nothing
    overflows. With :math:`a_k = \beta (E_k - \min_j E_j) \ge 0`,
    :math:`F_\beta = \min_j E_j - \frac{1}{\beta} u` where
    :math:`u = \log \frac{1}{K} \sum_k \mathrm{e}^{-a_k}`. When the sum is
    close to :math:`K` (hot), :math:`u` is small and is computed as
    :math:`\operatorname{log1p}` of the mean of :math:`\operatorname{expm1}(-a_k)`,
    which keeps its relative precision; otherwise :math:`u` is a log-sum-exp
    minus :math:`\log K`. So hot that every :math:`a_k` is below the square
    root of the dtype's resolution :math:`\epsilon`, where the :math:`a_k`
    could underflow, the result is the expansion
    :math:`F_\beta = \bar{E} - \frac{\beta}{2} \frac{1}{K} \sum_k
    (E_k - \bar{E})^2`, exact to rounding there, with :math:`\bar{E}` the
    mean. Either way the result stays between :math:`\min_k E_k` and the
    mean. A minimum of :math:`-\infty` gives :math:`-\infty` at every
    temperature, and energies all at :math:`+\infty` give :math:`+\infty`;
    a :math:`\beta` beyond the largest number of the dtype counts as
    :math:`\infty`.

    Examples
    --------
    >>> import math, torch
    >>> from gradland.ebm import free_energy
    >>> energies = torch.tensor([1.0, 2.0, 4.0])
    >>> free_energy(energies, math.inf)
    tensor(1.)
    >>> free_energy(energies, 1e-8)  # the mean, 7/3
    tensor(2.3333)
    >>> free_energy(energies, 1.0)
    tensor(1.7496)
    >>> free_energy(torch.tensor([1.0, -math.inf]), 1.0)  # a certain latent
    tensor(-inf)
    """
    energies = _checks.tensor("energies", energies, floating=True, min_ndim=1)
    beta = _checks.inverse_temperature("beta", beta)
    dim = _checks.integer("dim", dim, minimum=-energies.ndim, maximum=energies.ndim - 1)
    lowest = energies.amin(dim=dim, keepdim=True)
    if beta > torch.finfo(energies.dtype).max:  # math.inf, or as good as
        return lowest.squeeze(dim)
    # Step 1, row by row: a minimum of -inf wins at every temperature, and
    # energies all at +inf stay there. Such rows return the minimum at the end,
    # and compute on zeros meanwhile, so that no inf - inf makes a NaN.
    infinite = lowest.isinf()
    e, m = torch.where(infinite, 0.0, energies), torch.where(infinite, 0.0, lowest)
    k, eps = e.shape[dim], torch.finfo(e.dtype).eps
    # Step 3, where every a_k is below sqrt(eps): the expansion, which divides
    # by nothing; b = 1 stands in for beta there in the other branch.
    tiny = beta * (e.amax(dim=dim, keepdim=True) - m) < math.sqrt(eps)
    e_tiny = torch.where(tiny, e, m)
    mean = e_tiny.mean(dim=dim, keepdim=True)
    d = e_tiny - mean  # beta * d is small, d**2 alone could overflow
    expansion = mean - (d * (beta * d)).mean(dim=dim, keepdim=True) / 2
    b = torch.full_like(m, beta).masked_fill(tiny, 1.0)
    # Steps 2, 4, 5 and 6.
    a = b * (e - m)  # >= 0, with a zero at the minimum
    hot = torch.log1p(torch.expm1(-a).mean(dim=dim, keepdim=True))
    cold = torch.logsumexp(-a, dim=dim, keepdim=True) - math.log(k)
    # log1p is precise while the mean of exp(-a) stays above 1/2; below, the
    # log-sum-exp is at least log 2 in size and has its full relative precision.
    log_mean = torch.where(hot > -math.log(2.0), hot, cold)
    free = torch.where(tiny, expansion, m - log_mean / b)
    return torch.where(infinite, lowest, free).squeeze(dim)


def softmin_weights(energies: torch.Tensor, beta: float, dim: int = -1) -> torch.Tensor:
    r"""How much each latent value contributes to the free energy:
    :math:`\softmin(\beta \bm{E})`.

    The weights are :math:`w_k = \exp(-\beta E_k) / \sum_j \exp(-\beta E_j)`,
    the derivative :math:`\partial F_\beta / \partial E_k` of
    :func:`free_energy`. At ``beta=math.inf`` they put all the weight on the
    minimum (shared equally between ties); as :math:`\beta \to 0` they tend to
    the uniform :math:`1/K`. Energies of :math:`-\infty` share all the weight
    at every temperature, and energies all at :math:`+\infty` share it
    equally, as at :math:`\beta = \infty`.

    Parameters
    ----------
    energies : torch.Tensor
        Floating tensor with the :math:`K` energies along ``dim``.
    beta : float
        Inverse temperature :math:`\beta > 0`, or ``math.inf``.
    dim : int
        The dimension that holds the :math:`K` latent values.

    Returns
    -------
    torch.Tensor
        Same shape as ``energies``, non-negative, summing to 1 along ``dim``.

    Raises
    ------
    ValueError
        If ``energies`` has no dimension, ``beta`` is not positive (NaN included)
        or a tensor of more than one number, or ``dim`` is not an axis of
        ``energies``.
    TypeError
        If ``energies`` is not a floating tensor, ``beta`` not a real number, or
        ``dim`` not an int.

    Examples
    --------
    >>> import math, torch
    >>> from gradland.ebm import softmin_weights
    >>> softmin_weights(torch.tensor([1.0, 2.0, 1.0]), math.inf)
    tensor([0.5000, 0.0000, 0.5000])
    >>> softmin_weights(torch.tensor([1.0, 2.0, 1.0]), 1e-8)
    tensor([0.3333, 0.3333, 0.3333])
    """
    energies = _checks.tensor("energies", energies, floating=True, min_ndim=1)
    beta = _checks.inverse_temperature("beta", beta)
    dim = _checks.integer("dim", dim, minimum=-energies.ndim, maximum=energies.ndim - 1)
    lowest = energies.amin(dim=dim, keepdim=True)
    at_min = (energies == lowest).to(energies.dtype)
    cold = at_min / at_min.sum(dim=dim, keepdim=True)  # the weights at beta = inf
    if beta > torch.finfo(energies.dtype).max:
        return cold
    # a minimum of -inf takes all the weight at every temperature, and energies all
    # at +inf share it, as at beta = inf; the others are shifted by their minimum
    infinite = lowest.isinf()
    shifted = torch.where(infinite, 0.0, energies - torch.where(infinite, 0.0, lowest))
    return torch.where(infinite, cold, torch.softmax(-beta * shifted, dim=dim))
