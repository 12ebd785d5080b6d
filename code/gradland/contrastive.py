r"""Training energy-based models: by the free energy, or contrastively.

This module is the code of Chapter 9 of the book. It trains the models of
:mod:`gradland.ebm` and energy networks of its own. Top to bottom:

* training a :class:`gradland.ebm.LatentEBM` by the free energy of the data,
  at zero or finite temperature (:func:`fit`), and the force that this loss
  exerts on the points of the learnt manifold (:func:`force`);
* :class:`FourierDecoder`, a closed curve flexible enough to overfit;
* contrastive training of an energy network (:class:`EnergyMLP`,
  :func:`contrastive_loss`, :func:`langevin`, :func:`fit_contrastive`).

Its regularised alternative, a latent whose penalty limits the volume of low
energy, is in :mod:`gradland.regularised`. Every loop is
:func:`gradland.train.fit`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from gradland import _checks, train
from gradland._checks import describe as _describe
from gradland.ebm import LatentEBM, _check_grid, free_energy
from gradland.layers import mlp

__all__ = [
    "fit",
    "force",
    "FourierDecoder",
    "EnergyMLP",
    "CONTRASTIVE_KINDS",
    "contrastive_loss",
    "langevin",
    "fit_contrastive",
]


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
    :func:`~gradland.ebm.softmin_weights`.

    Parameters
    ----------
    model : gradland.ebm.LatentEBM
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
        Number of Adam steps, at least 0.
    lr : float
        Adam's learning rate, positive and finite.

    Returns
    -------
    list of float
        The loss before each step, the ``loss`` of :func:`gradland.train.fit`.

    Raises
    ------
    TypeError
        If an argument has the wrong type (``y``, ``z_grid`` and ``x`` are
        floating tensors).
    ValueError
        If a shape or a value is out of range (``y`` empty included), or the
        model has no parameters to train.
    FloatingPointError
        If the loss becomes NaN or infinite: the run has diverged.

    Examples
    --------
    >>> import math, torch
    >>> from gradland.data import horn
    >>> from gradland.contrastive import fit
    >>> from gradland.ebm import EllipseDecoder, LatentEBM
    >>> model = LatentEBM(EllipseDecoder())
    >>> grid = torch.linspace(0, 2 * math.pi, 65)[:-1]
    >>> losses = fit(model, horn(64, x=1.0).y, grid, math.inf, steps=200, lr=0.05)
    >>> losses[-1] < 0.01 * losses[0]
    True
    """
    _checks.instance("model", model, LatentEBM)
    y = _checks.rows("y", y, 2, row="point")
    _check_grid(y, z_grid, x)
    _checks.inverse_temperature("beta", beta)
    steps = _checks.integer("steps", steps, minimum=0)
    lr = _checks.real("lr", lr, positive=True)
    parameters = [p for p in model.parameters() if p.requires_grad]
    if not parameters:
        raise ValueError(
            "the model has no parameters to train: its decoder is a fixed function",
        )
    optimizer = torch.optim.Adam(parameters, lr=lr)
    history = train.fit(
        lambda k: model.free_energy(y, z_grid, beta, x).mean(),
        optimizer,
        steps,
    )
    return history.loss


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

    where :math:`w_{ik}` are the :func:`~gradland.ebm.softmin_weights`
    of data point :math:`i`. It is computed with autograd, treating the
    manifold points as the leaves. At ``beta=math.inf`` only the nearest
    manifold point of each data point feels a pull; at a finite :math:`\beta`
    the pull spreads over the manifold.

    Parameters
    ----------
    model : gradland.ebm.LatentEBM
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

    Raises
    ------
    TypeError
        If an argument has the wrong type, as for :func:`fit`.
    ValueError
        If a shape or ``beta`` is out of range, as for :func:`fit`.

    Examples
    --------
    >>> import math, torch
    >>> from gradland.contrastive import force
    >>> from gradland.ebm import EllipseDecoder, LatentEBM
    >>> model = LatentEBM(EllipseDecoder(weight=torch.eye(2)))
    >>> grid = torch.linspace(0, 2 * math.pi, 5)[:-1]  # four points of the unit circle
    >>> points, forces = force(model, torch.tensor([[2.0, 0.0]]), grid, math.inf)
    >>> forces.round(decimals=4).abs()  # only the nearest point, (1, 0), is pulled
    tensor([[2., 0.],
            [0., 0.],
            [0., 0.],
            [0., 0.]])
    """
    _checks.instance("model", model, LatentEBM)
    y = _checks.rows("y", y, 2, row="point", empty=True)
    _check_grid(y, z_grid, x)
    with torch.no_grad():
        points = model.decode(
            z_grid if x is None else z_grid[None, :],
            None if x is None else x[:, None],
        )
    points = points.detach().requires_grad_(True)
    energies = (y[:, None, :] - points).square().sum(dim=-1)
    loss = free_energy(energies, beta).sum()
    (grad,) = torch.autograd.grad(loss, points)
    return points.detach(), -grad


class FourierDecoder(nn.Module):
    r"""A closed curve with :math:`H` harmonics: :math:`\operatorname{dec}(z) = \bm{b} +
    \sum_{h=1}^{H} \bm{A}_h (\cos hz, \sin hz)^\top`.

    With :math:`H = 1` it is :class:`~gradland.ebm.EllipseDecoder`; each
    further harmonic lets the curve bend more, with :math:`4 H + 2` parameters
    in all, so that a few noisy points can be fitted too well. The initial
    curve is a small circle, as for :class:`~gradland.ebm.EllipseDecoder`, with
    the higher harmonics at zero.

    Parameters
    ----------
    harmonics : int
        The number :math:`H \ge 1` of harmonics.
    seed : int
        Seed of the noise in the initial first harmonic (a CPU generator).

    Raises
    ------
    ValueError
        If ``harmonics`` is below 1, or angles are not on the parameters'
        device.
    TypeError
        If ``harmonics`` or ``seed`` is not an int, or angles are not of the
        parameters' dtype: as in :mod:`torch.nn`, convert the module
        (``.double()``), not the data.

    Examples
    --------
    >>> import math, torch
    >>> from gradland.contrastive import FourierDecoder
    >>> dec = FourierDecoder(harmonics=4)
    >>> dec(torch.rand(3, 5)).shape
    torch.Size([3, 5, 2])
    """

    def __init__(self, harmonics: int = 8, *, seed: int = 0):
        super().__init__()
        harmonics = _checks.integer("harmonics", harmonics, minimum=1)
        seed = _checks.integer("seed", seed)
        coef = torch.zeros(harmonics, 2, 2)
        noise = torch.randn(2, 2, generator=torch.Generator().manual_seed(seed))
        coef[0] = 0.1 * torch.eye(2) + 0.02 * noise
        self.coef = nn.Parameter(coef)  # coef[h - 1] is A_h
        self.bias = nn.Parameter(torch.zeros(2))
        self.register_buffer("orders", torch.arange(1, harmonics + 1, dtype=torch.float32))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        r"""Decode angles into points of the curve, :math:`\operatorname{dec}(z)`.

        Parameters
        ----------
        z : torch.Tensor
            Angles, of any shape, of the parameters' dtype and on their device.

        Returns
        -------
        torch.Tensor
            The points, shape ``z.shape + (2,)``.

        Raises
        ------
        TypeError
            If ``z`` is not a floating-point tensor of the parameters' dtype.
        ValueError
            If ``z`` is not on the parameters' device.
        """
        z = _checks.like("z", _checks.tensor("z", z, floating=True), self.coef, "the decoder")
        hz = z.unsqueeze(-1) * self.orders  # (..., H)
        basis = torch.stack((torch.cos(hz), torch.sin(hz)), dim=-1)  # (..., H, 2)
        return torch.einsum("...hj,hij->...i", basis, self.coef) + self.bias


class EnergyMLP(nn.Module):
    r"""An energy network :math:`E_{\bm{\theta}}(\bm{y})`: a small perceptron from
    :math:`\R^2` to :math:`[0, \infty)`.

    Two hidden layers with the smooth activation SiLU, then a softplus, so
    that the energy is never negative (as the square-square loss of
    :func:`contrastive_loss` assumes) and is differentiable in
    :math:`\bm{y}` everywhere (as :func:`langevin` needs).

    Parameters
    ----------
    d_hidden : int
        Width of the two hidden layers.
    seed : int
        Seed of the initial weights.

    Raises
    ------
    ValueError
        If ``d_hidden`` is below 1, or points are not of shape ``(n, 2)`` or
        not on the parameters' device.
    TypeError
        If ``d_hidden`` or ``seed`` is not an int, or points are not of the
        parameters' dtype.

    Examples
    --------
    >>> import torch
    >>> from gradland.contrastive import EnergyMLP
    >>> energy = EnergyMLP(d_hidden=8)
    >>> e = energy(torch.zeros(5, 2))
    >>> e.shape, bool((e >= 0).all())
    (torch.Size([5]), True)
    """

    def __init__(self, d_hidden: int = 64, *, seed: int = 0):
        super().__init__()
        d_hidden = _checks.integer("d_hidden", d_hidden, minimum=1)
        self.net = mlp([2, d_hidden, d_hidden, 1], activation=nn.SiLU, seed=seed)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        r"""The energies :math:`E_{\bm{\theta}}(\bm{y}_i)` of a batch of points.

        Parameters
        ----------
        y : torch.Tensor
            Points, shape ``(n, 2)``, of the parameters' dtype and on their
            device.

        Returns
        -------
        torch.Tensor
            The energies, non-negative, shape ``(n,)``.

        Raises
        ------
        TypeError
            If ``y`` is not a floating-point tensor of the parameters' dtype.
        ValueError
            If ``y`` is not of shape ``(n, 2)``, or not on the parameters' device.
        """
        y = _checks.rows("y", y, 2, self.net[0].weight, row="point", empty=True)
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

    Raises
    ------
    TypeError
        If ``e_pos`` or ``e_neg`` is not a floating tensor, or ``margin`` not
        a real number.
    ValueError
        If the energies are not of shape ``(n,)`` with :math:`n \ge 1` or do
        not pair up, ``kind`` is unknown, or ``margin`` is not positive and
        finite.

    Examples
    --------
    >>> import torch
    >>> from gradland.contrastive import contrastive_loss
    >>> e_pos, e_neg = torch.tensor([0.2, 0.5]), torch.tensor([2.0, 0.5])
    >>> contrastive_loss(e_pos, e_neg, kind="hinge", margin=1.0)  # (0 + 1) / 2
    tensor(0.5000)
    >>> contrastive_loss(e_pos, e_neg, kind="square-square",
    ...                  margin=1.0)  # (0.04 + 0.25 + 0.25) / 2
    tensor(0.2700)
    """
    e_pos, e_neg = _checks.energies("e_pos", e_pos), _checks.energies("e_neg", e_neg)
    if e_pos.shape != e_neg.shape or e_pos.device != e_neg.device:
        raise ValueError(
            "e_pos and e_neg must pair up, with the same shape and device; got "
            f"{_describe(e_pos)} and {_describe(e_neg)}"
        )
    kind = _checks.choice("kind", kind, CONTRASTIVE_KINDS)
    margin = _checks.real("margin", margin, positive=True)
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
        :math:`\eta > 0`, finite.
    noise : float
        :math:`\sigma \ge 0`, finite.
    generator : torch.Generator, optional
        Source of the noise, for reproducible samples. The noise is drawn on
        the generator's device (the CPU for the default generator and for
        ``torch.Generator()``) and moved to the device of ``y0``, so a CPU
        generator gives the same samples on every device.

    Returns
    -------
    torch.Tensor
        The final points, shape ``(n, 2)``, detached from any graph.

    Raises
    ------
    TypeError
        If an argument has the wrong type (``energy`` callable, ``y0`` a
        floating tensor).
    ValueError
        If ``y0`` is not of shape ``(n, 2)`` or a number is out of range.

    Examples
    --------
    >>> import torch
    >>> from gradland.contrastive import langevin
    >>> bowl = lambda y: y.square().sum(dim=1)  # lowest at the origin
    >>> y_hat = langevin(bowl, torch.ones(3, 2), steps=50, step_size=0.1, noise=0.0)
    >>> bool(y_hat.abs().max() < 1e-4)
    True
    """
    _checks.function("energy", energy)
    y0 = _checks.rows("y0", y0, 2, row="point", empty=True)
    steps = _checks.integer("steps", steps, minimum=0)
    step_size = _checks.real("step_size", step_size, positive=True)
    noise = _checks.real("noise", noise, minimum=0.0)
    _checks.instance("generator", generator, (torch.Generator, type(None)), "a torch.Generator or None")
    y = y0.detach().clone()
    # where the noise is drawn
    source = torch.device("cpu") if generator is None else generator.device
    for _ in range(steps):
        y.requires_grad_(True)
        (grad,) = torch.autograd.grad(energy(y).sum(), y)
        eps = torch.randn(y.shape, generator=generator, device=source, dtype=y.dtype)
        y = (y - step_size * grad + noise * eps.to(y.device)).detach()
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
        The margin of the loss, positive and finite.
    steps : int
        Number of Adam steps, at least 0.
    lr : float
        Adam's learning rate, positive and finite.
    box : float
        Half-width :math:`b > 0` of the square of the uniform samples, finite.
    langevin_steps : int
        Steps of :func:`langevin` (default sizes) applied to them, at least 0.
    seed : int
        Seed of the contrastive samples, drawn by a CPU generator and moved to
        the device of ``y``: the same samples on every device.

    Returns
    -------
    losses : list of float
        The loss at each step, the ``loss`` of :func:`gradland.train.fit`.
    y_hat : torch.Tensor
        The contrastive samples of the last step, shape ``(n, 2)``; an empty
        ``(0, 2)`` tensor when ``kind`` is None (no contrastive samples).

    Raises
    ------
    TypeError
        If an argument has the wrong type (``energy`` a
        :class:`torch.nn.Module`, ``y`` a floating tensor).
    ValueError
        If ``y`` is not of shape ``(n, 2)`` with :math:`n \ge 1`, ``kind`` is
        unknown, or a number is out of range.
    FloatingPointError
        If the loss becomes NaN or infinite: the run has diverged.

    Examples
    --------
    >>> import torch
    >>> from gradland.data import horn
    >>> from gradland.contrastive import EnergyMLP, fit_contrastive
    >>> energy, y = EnergyMLP(d_hidden=16), horn(32, x=1.0).y
    >>> losses, y_hat = fit_contrastive(energy, y, steps=100, lr=0.01)
    >>> bool(energy(y).mean() < energy(y_hat).mean())
    True
    """
    _checks.module("energy", energy, "a torch.nn.Module, such as EnergyMLP")
    y = _checks.rows("y", y, 2, row="point")
    kind = _checks.choice("kind", kind, (None, *CONTRASTIVE_KINDS))
    margin = _checks.real("margin", margin, positive=True)
    steps = _checks.integer("steps", steps, minimum=0)
    lr = _checks.real("lr", lr, positive=True)
    box = _checks.real("box", box, positive=True)
    langevin_steps = _checks.integer("langevin_steps", langevin_steps, minimum=0)
    seed = _checks.integer("seed", seed)
    generator = torch.Generator().manual_seed(seed)  # on the CPU: every device draws the same samples
    y_hat = y.new_zeros((0, 2))  # the contrastive samples of the last step

    def loss(k: int) -> torch.Tensor:
        nonlocal y_hat
        if kind is None:
            return energy(y).mean()
        start = ((2 * torch.rand(y.shape, generator=generator, dtype=y.dtype) - 1) * box).to(y.device)
        y_hat = langevin(energy, start, steps=langevin_steps, generator=generator)
        return contrastive_loss(energy(y), energy(y_hat), kind=kind, margin=margin)

    history = train.fit(loss, torch.optim.Adam(energy.parameters(), lr=lr), steps)
    return history.loss, y_hat
