r"""Latent-variable energy-based models: energy, inference, free energy and training.

An energy :math:`E(\bm{x}, \bm{y}, \bm{z})` is low when the input
:math:`\bm{x}`, the target :math:`\bm{y}` and the latent :math:`\bm{z}` are
compatible. Here it is the squared distance between :math:`\bm{y}` and what a
decoder makes of the latent,

.. math::

   E(\bm{x}, \bm{y}, z) = \lVert \bm{y} - \operatorname{dec}(\bm{x}, z) \rVert^2,

and the latent is an angle :math:`z`, as in the horn of :mod:`gradland.data`.
The module provides, in the order of Chapters 7 to 9:

* decoders (:class:`EllipseDecoder`, :class:`HornDecoder`) and the model
  :class:`LatentEBM` that turns one into an energy;
* inference of the latent, :math:`\check{z} = \argmin_z E`, by exhaustive
  search over a grid (:meth:`LatentEBM.infer_z_grid`) or by gradient descent
  (:meth:`LatentEBM.infer_z_descent`), and of the target,
  :math:`\check{\bm{y}} = \argmin_{\bm{y}} F_\beta(\bm{x}, \bm{y})`
  (:meth:`LatentEBM.infer_y`);
* the free energy over :math:`K` latent values, :func:`free_energy`, and the
  softmin weights it gives each of them, :func:`softmin_weights`;
* training by the free energy at zero or finite temperature (:func:`fit`), and
  the force that the loss exerts on the points of the learnt manifold
  (:func:`force`);
* contrastive training of an energy network (:class:`EnergyMLP`,
  :func:`contrastive_loss`, :func:`langevin`, :func:`fit_contrastive`) and its
  regularised alternative, a latent whose penalty limits the volume of low
  energy (:class:`RegularisedEBM`, :func:`fit_regularised`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from gradland._checks import describe as _describe

__all__ = [
    "free_energy",
    "softmin_weights",
    "EllipseDecoder",
    "HornDecoder",
    "LatentEBM",
    "fit",
    "force",
    "FourierDecoder",
    "EnergyMLP",
    "CONTRASTIVE_KINDS",
    "contrastive_loss",
    "langevin",
    "fit_contrastive",
    "PENALTIES",
    "RegularisedEBM",
    "fit_regularised",
]


# --------------------------------------------------------------------------
# Free energy (Chapter 8)
# --------------------------------------------------------------------------


def _check_energies(energies: object) -> torch.Tensor:
    if not isinstance(energies, torch.Tensor):
        raise TypeError(f"energies must be a torch.Tensor; got {type(energies).__name__}")
    if not energies.is_floating_point():
        raise TypeError(f"energies must have a floating dtype; got {energies.dtype}")
    if energies.ndim == 0:
        raise ValueError("energies must have at least one dimension (the K latent values)")
    return energies


def _check_beta(beta: object) -> float:
    if isinstance(beta, torch.Tensor):
        if beta.numel() != 1:
            raise ValueError(f"beta must be a single number; got a tensor of shape {tuple(beta.shape)}")
        beta = beta.item()
    if isinstance(beta, bool) or not isinstance(beta, (int, float)):
        raise TypeError(f"beta must be a real number; got {type(beta).__name__}")
    beta = float(beta)
    if math.isnan(beta) or beta <= 0:
        raise ValueError(f"beta must be a positive inverse temperature (math.inf allowed); got {beta!r}")
    return beta


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
        If ``beta`` is not positive or is NaN.
    TypeError
        If ``energies`` is not a floating tensor or ``beta`` not a number.

    Notes
    -----
    The sum is computed relative to the smallest energy, so nothing
    overflows. With :math:`a_k = \beta (E_k - \min_j E_j) \ge 0`,
    :math:`F_\beta = \min_j E_j - \frac{1}{\beta} u` where
    :math:`u = \log \frac{1}{K} \sum_k \mathrm{e}^{-a_k}`. When the sum is
    close to :math:`K` (hot), :math:`u` is small and is computed as
    :math:`\operatorname{log1p}` of the mean of :math:`\operatorname{expm1}(-a_k)`,
    which keeps its relative precision down to :math:`\beta = 10^{-8}` and
    below; otherwise :math:`u` is a log-sum-exp minus :math:`\log K`. Either
    way the result stays between :math:`\min_k E_k` and the mean.

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
    """
    energies = _check_energies(energies)
    beta = _check_beta(beta)
    lowest = energies.amin(dim=dim, keepdim=True)
    if math.isinf(beta):
        return lowest.squeeze(dim)
    a = beta * (energies - lowest)  # >= 0, with a zero at the minimum
    k = energies.shape[dim]
    hot = torch.log1p(torch.expm1(-a).mean(dim=dim, keepdim=True))
    cold = torch.logsumexp(-a, dim=dim, keepdim=True) - math.log(k)
    # log1p is precise while the mean of exp(-a) stays above 1/2; below, the
    # log-sum-exp is at least log 2 in size and has its full relative precision.
    log_mean = torch.where(hot > -math.log(2.0), hot, cold)
    return (lowest - log_mean / beta).squeeze(dim)


def softmin_weights(energies: torch.Tensor, beta: float, dim: int = -1) -> torch.Tensor:
    r"""How much each latent value contributes to the free energy:
    :math:`\softmin(\beta \bm{E})`.

    The weights are :math:`w_k = \exp(-\beta E_k) / \sum_j \exp(-\beta E_j)`,
    the derivative :math:`\partial F_\beta / \partial E_k` of
    :func:`free_energy`. At ``beta=math.inf`` they put all the weight on the
    minimum (shared equally between ties); as :math:`\beta \to 0` they tend to
    the uniform :math:`1/K`.

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

    Examples
    --------
    >>> import math, torch
    >>> from gradland.ebm import softmin_weights
    >>> softmin_weights(torch.tensor([1.0, 2.0, 1.0]), math.inf)
    tensor([0.5000, 0.0000, 0.5000])
    >>> softmin_weights(torch.tensor([1.0, 2.0, 1.0]), 1e-8)
    tensor([0.3333, 0.3333, 0.3333])
    """
    energies = _check_energies(energies)
    beta = _check_beta(beta)
    if math.isinf(beta):
        at_min = (energies == energies.amin(dim=dim, keepdim=True)).to(energies.dtype)
        return at_min / at_min.sum(dim=dim, keepdim=True)
    return torch.softmax(-beta * energies, dim=dim)


# --------------------------------------------------------------------------
# Decoders and the latent-variable energy (Chapter 7)
# --------------------------------------------------------------------------


def _check_angles(name: str, z: object) -> torch.Tensor:
    if not isinstance(z, torch.Tensor) or not z.is_floating_point():
        raise TypeError(f"{name} must be a floating torch.Tensor of angles; got {_describe(z)}")
    return z


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

    Parameters
    ----------
    weight : torch.Tensor, optional
        Initial :math:`\bm{W}`, shape ``(2, 2)``; by default
        :math:`0.1\,\mathbb{I}` plus a little seeded noise, a small circle.
    bias : torch.Tensor, optional
        Initial :math:`\bm{b}`, shape ``(2,)``; zero by default.
    seed : int
        Seed of the default initial weight.

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
        if weight is None:
            noise = torch.randn(2, 2, generator=torch.Generator().manual_seed(seed))
            weight = 0.1 * torch.eye(2) + 0.02 * noise
        if bias is None:
            bias = torch.zeros(2)
        if tuple(weight.shape) != (2, 2) or tuple(bias.shape) != (2,):
            raise ValueError(
                f"weight must have shape (2, 2) and bias (2,); got {tuple(weight.shape)} and {tuple(bias.shape)}"
            )
        self.weight = nn.Parameter(weight.detach().clone().float())
        self.bias = nn.Parameter(bias.detach().clone().float())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Decode angles ``z`` of any shape into points of shape ``z.shape + (2,)``."""
        z = _check_angles("z", z)
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
    hidden : int
        Width of the two hidden layers.
    seed : int
        Seed of the initial weights.

    Examples
    --------
    >>> import torch
    >>> from gradland.ebm import HornDecoder
    >>> dec = HornDecoder(hidden=8)
    >>> dec(torch.rand(5, 1), torch.rand(1, 7)).shape  # x and z broadcast
    torch.Size([5, 7, 2])
    """

    def __init__(self, hidden: int = 32, *, seed: int = 0):
        super().__init__()
        if not isinstance(hidden, int) or hidden < 1:
            raise ValueError(f"hidden must be a positive int; got {hidden!r}")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = nn.Sequential(
                nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 6)
            )

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Decode inputs ``x`` and angles ``z`` (broadcast together) into points
        ``(..., 2)``."""
        x = _check_angles("x", x)
        z = _check_angles("z", z)
        x, z = torch.broadcast_tensors(x, z)
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
        if not callable(decoder):
            raise TypeError(f"decoder must be callable; got {type(decoder).__name__}")
        self.decoder = decoder

    def decode(self, z: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        r"""The point :math:`\operatorname{dec}(\bm{x}, z)` of the model's manifold."""
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
        """
        if not isinstance(y, torch.Tensor) or y.ndim == 0 or y.shape[-1] != 2:
            raise ValueError(
                f"y must be a tensor of points of shape (..., 2); got {_describe(y)}"
            )
        z = _check_angles("z", z)
        if y.device != z.device:
            raise ValueError(
                f"y and z must be on the same device; got {y.device} and {z.device}"
            )
        return (y - self.decode(z, x)).square().sum(dim=-1)

    def grid_energies(self, y: torch.Tensor, z_grid: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        r"""The energies of ``n`` targets at ``K`` latent values: shape ``(n, K)``.

        Parameters
        ----------
        y : torch.Tensor
            Targets, shape ``(n, 2)``.
        z_grid : torch.Tensor
            The latent values, shape ``(K,)``.
        x : torch.Tensor, optional
            Inputs of a conditional model, shape ``(n,)``.
        """
        if not isinstance(y, torch.Tensor) or y.ndim != 2 or y.shape[1] != 2:
            raise ValueError(f"y must have shape (n, 2); got {_describe(y)}")
        if not isinstance(z_grid, torch.Tensor) or z_grid.ndim != 1:
            raise ValueError(f"z_grid must have shape (K,); got {_describe(z_grid)}")
        if x is not None and (not isinstance(x, torch.Tensor) or tuple(x.shape) != (y.shape[0],)):
            raise ValueError(f"x must have shape ({y.shape[0]},), one input per target; got {_describe(x)}")
        return self.energy(y[:, None, :], z_grid[None, :], None if x is None else x[:, None])

    def free_energy(
        self, y: torch.Tensor, z_grid: torch.Tensor, beta: float, x: torch.Tensor | None = None
    ) -> torch.Tensor:
        r"""The free energy :math:`F_\beta(\bm{x}, \bm{y})` over the latent grid, shape
        ``(n,)``; see :func:`free_energy`."""
        return free_energy(self.grid_energies(y, z_grid, x), beta)

    def infer_z_grid(self, y: torch.Tensor, z_grid: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        r"""Exhaustive search: :math:`\check{z} = \argmin_k E(\bm{x}, \bm{y}, z_k)` over
        the grid, shape ``(n,)``."""
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
            Step size :math:`\eta > 0`.
        steps : int
            Number of steps.

        Returns
        -------
        z : torch.Tensor
            The final angles, shape ``(n,)``, wrapped into :math:`[0, 2\pi)`.
        path : torch.Tensor
            Every iterate, shape ``(steps + 1, n)``, unwrapped.
        """
        if not isinstance(y, torch.Tensor) or y.ndim != 2 or y.shape[1] != 2:
            raise ValueError(f"y must have shape (n, 2); got {_describe(y)}")
        if not isinstance(z0, torch.Tensor) or tuple(z0.shape) != (len(y),):
            raise ValueError(f"z0 must have shape ({len(y)},), one start per target; got {_describe(z0)}")
        z0 = _check_angles("z0", z0)
        if z0.dtype != y.dtype:
            raise ValueError(
                f"z0 must have the dtype of y ({y.dtype}), so that no precision is silently lost; got {z0.dtype}"
            )
        if not lr > 0:
            raise ValueError(f"lr must be positive; got {lr!r}")
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
            Step size :math:`\eta > 0`.
        steps : int
            Number of steps.

        Returns
        -------
        y : torch.Tensor
            The final targets, shape ``(n, 2)``.
        path : torch.Tensor
            Every iterate, shape ``(steps + 1, n, 2)``.
        """
        if not isinstance(y0, torch.Tensor) or not y0.is_floating_point() or y0.ndim != 2 or y0.shape[1] != 2:
            raise ValueError(f"y0 must be a floating tensor of shape (n, 2); got {_describe(y0)}")
        if not lr > 0:
            raise ValueError(f"lr must be positive; got {lr!r}")
        y = y0.detach().clone().requires_grad_(True)
        path = [y.detach().clone()]
        for _ in range(steps):
            (grad,) = torch.autograd.grad(self.free_energy(y, z_grid, beta, x).sum(), y)
            with torch.no_grad():
                y -= lr * grad
            path.append(y.detach().clone())
        return y.detach(), torch.stack(path)


# --------------------------------------------------------------------------
# Training by the free energy, and the force (Chapter 9)
# --------------------------------------------------------------------------


def fit(
    model: LatentEBM,
    y: torch.Tensor,
    z_grid: torch.Tensor,
    beta: float,
    x: torch.Tensor | None = None,
    *,
    steps: int = 500,
    lr: float = 0.01,
) -> list[float]:
    r"""Train a latent-variable EBM by minimising the mean free energy of the data.

    The loss is :math:`\mathcal{L} = \frac{1}{n} \sum_i F_\beta(\bm{x}_i,
    \bm{y}_i)`, minimised with Adam over the whole data set at every step.
    At ``beta=math.inf`` each data point pulls only its nearest latent; at a
    finite :math:`\beta` it pulls every latent, weighted by
    :func:`softmin_weights`.

    Parameters
    ----------
    model : LatentEBM
        A model whose decoder is a module with parameters.
    y : torch.Tensor
        Training targets, shape ``(n, 2)``.
    z_grid : torch.Tensor
        The latent values the free energy sums over, shape ``(K,)``.
    beta : float
        Inverse temperature, or ``math.inf``.
    x : torch.Tensor, optional
        Inputs of a conditional model, shape ``(n,)``.
    steps : int
        Number of Adam steps.
    lr : float
        Adam's learning rate.

    Returns
    -------
    list of float
        The loss before each step.

    Examples
    --------
    >>> import math, torch
    >>> from gradland.data import horn
    >>> from gradland.ebm import EllipseDecoder, LatentEBM, fit
    >>> model = LatentEBM(EllipseDecoder())
    >>> grid = torch.linspace(0, 2 * math.pi, 65)[:-1]
    >>> losses = fit(model, horn(64, x=1.0).y, grid, math.inf, steps=200, lr=0.05)
    >>> losses[-1] < 0.01 * losses[0]
    True
    """
    parameters = [p for p in model.parameters() if p.requires_grad]
    if not parameters:
        raise ValueError(
            "the model has no parameters to train: its decoder is a fixed function"
        )
    optimizer = torch.optim.Adam(parameters, lr=lr)
    losses = []
    for _ in range(steps):
        loss = model.free_energy(y, z_grid, beta, x).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def force(
    model: LatentEBM,
    y: torch.Tensor,
    z_grid: torch.Tensor,
    beta: float,
    x: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The force of the loss on the points of the learnt manifold.

    The manifold points are :math:`\bm{m}_k = \operatorname{dec}(z_k)`;
    the force on each is minus the gradient of the loss
    :math:`\mathcal{L} = \sum_i F_\beta(\bm{y}_i)` with respect to it,

    .. math::

       -\nabla_{\bm{m}_k} \mathcal{L}
       = \sum_i 2\, w_{ik} (\bm{y}_i - \bm{m}_k),

    where :math:`w_{ik}` are the :func:`softmin_weights` of data point
    :math:`i`. It is computed with autograd, treating the manifold points as
    the leaves. At ``beta=math.inf`` only the nearest manifold point of each
    data point feels a pull; at a finite :math:`\beta` the pull spreads over
    the manifold.

    Parameters
    ----------
    model : LatentEBM
        The model.
    y : torch.Tensor
        Data points, shape ``(n, 2)``.
    z_grid : torch.Tensor
        The latent values, shape ``(K,)``.
    beta : float
        Inverse temperature, or ``math.inf``.
    x : torch.Tensor, optional
        Inputs of a conditional model, shape ``(n,)``.

    Returns
    -------
    points : torch.Tensor
        The manifold points: shape ``(K, 2)``, or ``(n, K, 2)`` when ``x`` is given.
    forces : torch.Tensor
        The force on each, same shape as ``points``.

    Examples
    --------
    >>> import math, torch
    >>> from gradland.ebm import EllipseDecoder, LatentEBM, force
    >>> model = LatentEBM(EllipseDecoder(weight=torch.eye(2)))
    >>> grid = torch.linspace(0, 2 * math.pi, 5)[:-1]  # four points of the unit circle
    >>> points, forces = force(model, torch.tensor([[2.0, 0.0]]), grid, math.inf)
    >>> forces.round(decimals=4).abs()  # only the nearest point, (1, 0), is pulled
    tensor([[2., 0.],
            [0., 0.],
            [0., 0.],
            [0., 0.]])
    """
    with torch.no_grad():
        points = model.decode(
            z_grid if x is None else z_grid[None, :], None if x is None else x[:, None]
        )
    points = points.detach().requires_grad_(True)
    energies = (y[:, None, :] - points).square().sum(dim=-1)
    loss = free_energy(energies, beta).sum()
    (grad,) = torch.autograd.grad(loss, points)
    return points.detach(), -grad


# --------------------------------------------------------------------------
# Contrastive and regularised training (Chapter 9)
# --------------------------------------------------------------------------


class FourierDecoder(nn.Module):
    r"""A closed curve with :math:`H` harmonics: :math:`\operatorname{dec}(z) = \bm{b} +
    \sum_{h=1}^{H} \bm{A}_h (\cos hz, \sin hz)^\top`.

    With :math:`H = 1` it is :class:`EllipseDecoder`; each further harmonic
    lets the curve bend more, with :math:`4 H + 2` parameters in all, so that
    a few noisy points can be fitted too well. The initial curve is a small
    circle, as for :class:`EllipseDecoder`, with the higher harmonics at zero.

    Parameters
    ----------
    harmonics : int
        The number :math:`H \ge 1` of harmonics.
    seed : int
        Seed of the noise in the initial first harmonic.

    Examples
    --------
    >>> import math, torch
    >>> from gradland.ebm import FourierDecoder
    >>> dec = FourierDecoder(harmonics=4)
    >>> dec(torch.rand(3, 5)).shape
    torch.Size([3, 5, 2])
    """

    def __init__(self, harmonics: int = 8, *, seed: int = 0):
        super().__init__()
        if not isinstance(harmonics, int) or harmonics < 1:
            raise ValueError(f"harmonics must be a positive int; got {harmonics!r}")
        coef = torch.zeros(harmonics, 2, 2)
        noise = torch.randn(2, 2, generator=torch.Generator().manual_seed(seed))
        coef[0] = 0.1 * torch.eye(2) + 0.02 * noise
        self.coef = nn.Parameter(coef)  # coef[h - 1] is A_h
        self.bias = nn.Parameter(torch.zeros(2))
        self.register_buffer("orders", torch.arange(1, harmonics + 1, dtype=torch.float32))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Decode angles ``z`` of any shape into points of shape ``z.shape + (2,)``."""
        z = _check_angles("z", z)
        hz = z.unsqueeze(-1) * self.orders.to(z.dtype)  # (..., H)
        basis = torch.stack((torch.cos(hz), torch.sin(hz)), dim=-1)  # (..., H, 2)
        return torch.einsum("...hj,hij->...i", basis, self.coef.to(z.dtype)) + self.bias


def _check_points(name: str, y: object) -> torch.Tensor:
    if not isinstance(y, torch.Tensor) or y.ndim != 2 or y.shape[1] != 2 or not y.is_floating_point():
        raise ValueError(f"{name} must be a floating tensor of points of shape (n, 2); got {_describe(y)}")
    return y


class EnergyMLP(nn.Module):
    r"""An energy network :math:`E_{\bm{\theta}}(\bm{y})`: a small perceptron from
    :math:`\R^2` to :math:`[0, \infty)`.

    Two hidden layers with the smooth activation SiLU, then a softplus, so
    that the energy is never negative (as the square-square loss of
    :func:`contrastive_loss` assumes) and is differentiable in
    :math:`\bm{y}` everywhere (as :func:`langevin` needs).

    Parameters
    ----------
    hidden : int
        Width of the two hidden layers.
    seed : int
        Seed of the initial weights.

    Examples
    --------
    >>> import torch
    >>> from gradland.ebm import EnergyMLP
    >>> energy = EnergyMLP(hidden=8)
    >>> e = energy(torch.zeros(5, 2))
    >>> e.shape, bool((e >= 0).all())
    (torch.Size([5]), True)
    """

    def __init__(self, hidden: int = 64, *, seed: int = 0):
        super().__init__()
        if not isinstance(hidden, int) or hidden < 1:
            raise ValueError(f"hidden must be a positive int; got {hidden!r}")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = nn.Sequential(
                nn.Linear(2, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 1)
            )

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """The energies of points ``y`` of shape ``(n, 2)``: shape ``(n,)``."""
        y = _check_points("y", y)
        return nn.functional.softplus(self.net(y)).squeeze(-1)


#: The loss functionals that :func:`contrastive_loss` knows.
CONTRASTIVE_KINDS: tuple[str, ...] = ("hinge", "square-square", "log")


def contrastive_loss(
    e_pos: torch.Tensor, e_neg: torch.Tensor, *, kind: str = "hinge", margin: float = 1.0
) -> torch.Tensor:
    r"""A contrastive loss of pairs: energy :math:`E(\bm{y}_i)` of data,
    :math:`E(\hat{\bm{y}}_i)` of contrastive samples.

    The three kinds, averaged over the :math:`n` pairs, are

    .. math::

       \text{hinge:} \quad & \max\bigl(0,\, m + E(\bm{y}) - E(\hat{\bm{y}})\bigr), \\
       \text{square-square:} \quad & E(\bm{y})^2
       + \max\bigl(0,\, m - E(\hat{\bm{y}})\bigr)^2, \\
       \text{log:} \quad & \log\bigl(1 + \exp(E(\bm{y}) - E(\hat{\bm{y}}))\bigr).

    Each one decreases when the energy of the data goes down or the energy of
    the contrastive samples goes up. The hinge stops once the gap reaches the
    margin :math:`m`, the square-square loss stops pushing a sample up once
    its energy reaches :math:`m` (but keeps pulling the data down to zero),
    and the log loss never stops. The log loss ignores ``margin``.

    Parameters
    ----------
    e_pos : torch.Tensor
        Energies of the data points, floating, shape ``(n,)``.
    e_neg : torch.Tensor
        Energies of their contrastive samples, same shape and device.
    kind : str
        One of ``"hinge"``, ``"square-square"``, ``"log"``.
    margin : float
        The margin :math:`m > 0`.

    Returns
    -------
    torch.Tensor
        The mean loss, a scalar.

    Examples
    --------
    >>> import torch
    >>> from gradland.ebm import contrastive_loss
    >>> e_pos, e_neg = torch.tensor([0.2, 0.5]), torch.tensor([2.0, 0.5])
    >>> contrastive_loss(e_pos, e_neg, kind="hinge", margin=1.0)  # (0 + 1) / 2
    tensor(0.5000)
    >>> contrastive_loss(e_pos, e_neg, kind="square-square",
    ...                  margin=1.0)  # (0.04 + 0.25 + 0.25) / 2
    tensor(0.2700)
    """
    for name, e in (("e_pos", e_pos), ("e_neg", e_neg)):
        if not isinstance(e, torch.Tensor) or not e.is_floating_point() or e.ndim != 1:
            raise ValueError(f"{name} must be a floating tensor of energies of shape (n,); got {_describe(e)}")
    if e_pos.shape != e_neg.shape or e_pos.device != e_neg.device:
        raise ValueError(
            "e_pos and e_neg must pair up, with the same shape and device; got "
            f"{_describe(e_pos)} and {_describe(e_neg)}"
        )
    if kind not in CONTRASTIVE_KINDS:
        raise ValueError(f"kind must be one of {CONTRASTIVE_KINDS}; got {kind!r}")
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin > 0:
        raise ValueError(f"margin must be a positive number; got {margin!r}")
    if kind == "hinge":
        return torch.relu(margin + e_pos - e_neg).mean()
    if kind == "square-square":
        return (e_pos.square() + torch.relu(margin - e_neg).square()).mean()
    return nn.functional.softplus(e_pos - e_neg).mean()


def langevin(
    energy: Callable[[torch.Tensor], torch.Tensor],
    y0: torch.Tensor,
    *,
    steps: int = 20,
    step_size: float = 0.05,
    noise: float = 0.05,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Noisy gradient descent on an energy: contrastive samples that the model likes.

    Each step is :math:`\hat{\bm{y}} \leftarrow \hat{\bm{y}} - \eta
    \nabla_{\hat{\bm{y}}} E(\hat{\bm{y}}) + \sigma \bm{\epsilon}` with
    :math:`\bm{\epsilon} \sim \mathcal{N}(\bm{0}, \mathbb{I})`. The points roll
    towards the low energy of the current model, so they find the places
    where it gives low energy to points that are not data.

    Parameters
    ----------
    energy : callable
        Maps points of shape ``(n, 2)`` to energies of shape ``(n,)``.
    y0 : torch.Tensor
        Starting points, shape ``(n, 2)``.
    steps : int
        Number of steps, at least 0.
    step_size : float
        :math:`\eta > 0`.
    noise : float
        :math:`\sigma \ge 0`.
    generator : torch.Generator, optional
        Source of the noise, for reproducible samples. The noise is drawn on
        the generator's device (the CPU for the default generator and for
        ``torch.Generator()``) and moved to the device of ``y0``, so a CPU
        generator gives the same samples on every device.

    Returns
    -------
    torch.Tensor
        The final points, shape ``(n, 2)``, detached from any graph.

    Examples
    --------
    >>> import torch
    >>> from gradland.ebm import langevin
    >>> bowl = lambda y: y.square().sum(dim=1)  # lowest at the origin
    >>> y_hat = langevin(bowl, torch.ones(3, 2), steps=50, step_size=0.1, noise=0.0)
    >>> bool(y_hat.abs().max() < 1e-4)
    True
    """
    y0 = _check_points("y0", y0)
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an int >= 0; got {steps!r}")
    if not step_size > 0 or not noise >= 0:
        raise ValueError(f"step_size must be positive and noise >= 0; got {step_size!r} and {noise!r}")
    y = y0.detach().clone()
    # where the noise is drawn
    source = torch.device("cpu") if generator is None else generator.device
    for _ in range(steps):
        y.requires_grad_(True)
        (grad,) = torch.autograd.grad(energy(y).sum(), y)
        eps = torch.randn(
            y.shape, generator=generator, device=source, dtype=y.dtype
        ).to(y.device)
        y = (y - step_size * grad + noise * eps).detach()
    return y


def fit_contrastive(
    energy: nn.Module,
    y: torch.Tensor,
    *,
    kind: str | None = "hinge",
    margin: float = 1.0,
    steps: int = 500,
    lr: float = 0.01,
    box: float = 3.0,
    langevin_steps: int = 0,
    seed: int = 0,
) -> tuple[list[float], torch.Tensor]:
    r"""Train an energy network by pushing down on data and up on contrastive samples.

    At every step each data point :math:`\bm{y}_i` gets a fresh contrastive
    sample :math:`\hat{\bm{y}}_i`, uniform in the square
    :math:`[-b, b]^2`, then moved by ``langevin_steps`` steps of
    :func:`langevin` on the current energy; one Adam step lowers
    :func:`contrastive_loss`. With ``kind=None`` there is no contrastive
    term and the loss is the mean energy of the data alone, which a flexible
    energy minimises by becoming low everywhere.

    Parameters
    ----------
    energy : torch.nn.Module
        Maps points ``(n, 2)`` to energies ``(n,)``, such as :class:`EnergyMLP`.
    y : torch.Tensor
        Training data, shape ``(n, 2)``.
    kind : str or None
        A kind of :func:`contrastive_loss`, or ``None`` to push down on data only.
    margin : float
        The margin of the loss.
    steps : int
        Number of Adam steps.
    lr : float
        Adam's learning rate.
    box : float
        Half-width :math:`b > 0` of the square of the uniform samples.
    langevin_steps : int
        Steps of :func:`langevin` (with its default sizes) applied to them.
    seed : int
        Seed of the contrastive samples, drawn on the CPU and moved to the
        device of ``y``: the same samples on every device.

    Returns
    -------
    losses : list of float
        The loss at each step.
    y_hat : torch.Tensor
        The contrastive samples of the last step, shape ``(n, 2)``; an empty
        ``(0, 2)`` tensor when ``kind`` is None (no contrastive samples).

    Examples
    --------
    >>> import torch
    >>> from gradland.data import horn
    >>> from gradland.ebm import EnergyMLP, fit_contrastive
    >>> energy, y = EnergyMLP(hidden=16), horn(32, x=1.0).y
    >>> losses, y_hat = fit_contrastive(energy, y, steps=100, lr=0.01)
    >>> bool(energy(y).mean() < energy(y_hat).mean())
    True
    """
    y = _check_points("y", y)
    if kind is not None and kind not in CONTRASTIVE_KINDS:
        raise ValueError(f"kind must be None or one of {CONTRASTIVE_KINDS}; got {kind!r}")
    if not box > 0:
        raise ValueError(f"box must be positive; got {box!r}")
    generator = torch.Generator().manual_seed(seed)  # on the CPU: every device draws the same samples
    optimizer = torch.optim.Adam(energy.parameters(), lr=lr)
    losses = []
    y_hat = y.new_zeros((0, 2))
    for _ in range(steps):
        if kind is None:
            loss = energy(y).mean()
        else:
            start = ((2 * torch.rand(y.shape, generator=generator, dtype=y.dtype) - 1) * box).to(y.device)
            y_hat = langevin(energy, start, steps=langevin_steps, generator=generator)
            loss = contrastive_loss(energy(y), energy(y_hat), kind=kind, margin=margin)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, y_hat


#: The penalties :math:`R(\bm{z})` that :class:`RegularisedEBM` knows.
PENALTIES: tuple[str, ...] = ("l1", "l2", "ring")


class RegularisedEBM(nn.Module):
    r"""A latent-variable energy with a latent as big as the data and a penalty on it.

    The latent is :math:`\bm{z} \in \R^{d}`, the decoder is affine,
    :math:`\operatorname{dec}(\bm{z}) = \bm{W} \bm{z} + \bm{b}` with
    :math:`\bm{W} \in \R^{2 \times d}`, and

    .. math::

       E(\bm{y}, \bm{z}) = \lVert \bm{y} - \bm{W} \bm{z} - \bm{b} \rVert^2
       + \lambda R(\bm{z}),

    with :math:`R(\bm{z}) = \lVert \bm{z} \rVert_1` (``"l1"``, sparse coding),
    :math:`\lVert \bm{z} \rVert^2` (``"l2"``) or
    :math:`(\lVert \bm{z} \rVert - 1)^2` (``"ring"``, a soft version of the
    angle latent of :class:`EllipseDecoder`, which it becomes as
    :math:`\lambda \to \infty`). With :math:`\lambda = 0`, :math:`d \ge 2` and
    :math:`\bm{W}` of rank 2, every :math:`\bm{y}` is decoded exactly and the free
    energy is zero everywhere.

    Parameters
    ----------
    dim : int
        Dimension :math:`d` of the latent.
    lam : float
        Weight :math:`\lambda \ge 0` of the penalty.
    penalty : str
        One of ``"l1"``, ``"l2"``, ``"ring"``.
    seed : int
        Seed of the initial :math:`\bm{W}` (small, :math:`0.3\,\mathbb{I}` plus
        noise); :math:`\bm{b}` starts at zero.

    Examples
    --------
    >>> import torch
    >>> from gradland.ebm import RegularisedEBM
    >>> y = torch.tensor([[1.0, 2.0], [-3.0, 0.5]])
    >>> # collapsed: zero everywhere
    >>> RegularisedEBM(lam=0.0).free_energy(y).abs().max() < 1e-5
    tensor(True)
    >>> RegularisedEBM(lam=1.0, penalty="ring").free_energy(y).min() > 0.1
    tensor(True)
    """

    def __init__(self, dim: int = 2, lam: float = 1.0, penalty: str = "ring", *, seed: int = 0):
        super().__init__()
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive int; got {dim!r}")
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not lam >= 0:
            raise ValueError(f"lam must be a number >= 0; got {lam!r}")
        if penalty not in PENALTIES:
            raise ValueError(f"penalty must be one of {PENALTIES}; got {penalty!r}")
        noise = torch.randn(2, dim, generator=torch.Generator().manual_seed(seed))
        self.weight = nn.Parameter(0.3 * torch.eye(2, dim) + 0.05 * noise)
        self.bias = nn.Parameter(torch.zeros(2))
        self.lam, self.penalty = float(lam), penalty

    def penalty_of(self, z: torch.Tensor) -> torch.Tensor:
        r"""The penalty :math:`R(\bm{z})` of latents of shape ``(n, d)``: shape
        ``(n,)``."""
        if self.penalty == "l1":
            return z.abs().sum(dim=-1)
        if self.penalty == "l2":
            return z.square().sum(dim=-1)
        return (z.norm(dim=-1) - 1).square()

    def energy(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        r"""The energies :math:`E(\bm{y}_i, \bm{z}_i)` of ``n`` pairs: ``y`` ``(n, 2)``,
        ``z`` ``(n, d)``, result ``(n,)``."""
        y = _check_points("y", y)
        if not isinstance(z, torch.Tensor) or tuple(z.shape) != (len(y), self.weight.shape[1]):
            raise ValueError(f"z must have shape ({len(y)}, {self.weight.shape[1]}); got {_describe(z)}")
        residual = y - z @ self.weight.T - self.bias
        return residual.square().sum(dim=-1) + self.lam * self.penalty_of(z)

    def infer_z(self, y: torch.Tensor, *, steps: int = 100) -> torch.Tensor:
        r"""The latent of least energy,
        :math:`\check{\bm{z}} = \argmin_{\bm{z}} E(\bm{y}, \bm{z})`, shape ``(n, d)``.

        Starts from the least-squares latent :math:`\bm{W}^{+} (\bm{y} -
        \bm{b})` and takes ``steps`` steps of gradient descent (of proximal
        gradient descent, soft-thresholding, for ``"l1"``) with the step
        :math:`\eta = 1 / \bigl(2 (\lVert \bm{W} \rVert_2^2 + \lambda)\bigr)`,
        small enough for the curvature of the energy. The gradients are
        written out by hand, so inference builds no graph; the result carries
        no gradient.
        """
        y = _check_points("y", y)
        with torch.no_grad():
            w = self.weight.detach()
            eta = 0.5 / (torch.linalg.matrix_norm(w, ord=2).item() ** 2 + self.lam)
            z = (y - self.bias) @ torch.linalg.pinv(w).T
            b = self.bias.detach()
            for _ in range(steps):
                # gradient of the squared error, one row per target
                grad = -2 * (y - z @ w.T - b) @ w
                # then the proximal step of the l1 norm: soft-thresholding
                if self.penalty == "l1":
                    z = z - eta * grad
                    z = torch.sign(z) * torch.relu(z.abs() - eta * self.lam)
                    continue
                if self.penalty == "l2":
                    grad = grad + 2 * self.lam * z
                else:
                    norm = z.norm(dim=-1, keepdim=True).clamp_min(1e-12)
                    grad = grad + 2 * self.lam * (norm - 1) * z / norm
                z = z - eta * grad
        return z.detach()

    def free_energy(self, y: torch.Tensor, *, steps: int = 100) -> torch.Tensor:
        r"""The zero-temperature free energy
        :math:`F_\infty(\bm{y}) = E(\bm{y}, \check{\bm{z}})`, shape ``(n,)``.

        The latent is found by :meth:`infer_z` and held fixed, so the result is
        differentiable in the parameters and in ``y``. By the envelope
        (Danskin) argument these derivatives are those of :math:`F_\infty`
        itself when :math:`\check{\bm{z}}` is the unique global minimiser,
        found exactly, and :math:`E` is differentiable in :math:`\bm{z}` there
        (so :math:`\partial E / \partial \bm{z} = \bm{0}`). With a fixed
        number of inference steps, the kink of the ``"l1"`` penalty, or the
        tied minimisers :math:`\pm \check{\bm{z}}` of the ``"ring"`` penalty
        at :math:`\bm{y} = \bm{b}`, they are an approximation.
        """
        return self.energy(y, self.infer_z(y, steps=steps))


def fit_regularised(
    model: RegularisedEBM, y: torch.Tensor, *, steps: int = 300, lr: float = 0.02, infer_steps: int = 50
) -> list[float]:
    r"""Train a :class:`RegularisedEBM` by minimising the mean free energy of the data
    with Adam.

    Nothing pushes up: the penalty alone keeps the low-energy region small.

    Parameters
    ----------
    model : RegularisedEBM
        The model.
    y : torch.Tensor
        Training data, shape ``(n, 2)``.
    steps : int
        Number of Adam steps.
    lr : float
        Adam's learning rate.
    infer_steps : int
        Steps of :meth:`RegularisedEBM.infer_z` at each training step.

    Returns
    -------
    list of float
        The loss :math:`\frac{1}{n} \sum_i F_\infty(\bm{y}_i)` at each step.

    Examples
    --------
    >>> from gradland.data import horn
    >>> from gradland.ebm import RegularisedEBM, fit_regularised
    >>> losses = fit_regularised(RegularisedEBM(lam=1.0), horn(32, x=1.0).y,
    ...                          steps=100, lr=0.05)
    >>> losses[-1] < 0.1 * losses[0]
    True
    """
    if not isinstance(model, RegularisedEBM):
        raise TypeError(f"model must be a RegularisedEBM; got {type(model).__name__}")
    y = _check_points("y", y)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = model.free_energy(y, steps=infer_steps).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
