r"""Training energy-based models: by the free energy, contrastively, or with a penalty.

This module is the code of Chapter 9 of the book. It trains the models of
:mod:`gradland.ebm` and energy networks of its own, in three ways. Top to
bottom:

* training a :class:`gradland.ebm.LatentEBM` by the free energy of the data,
  at zero or finite temperature (:func:`fit`), and the force that this loss
  exerts on the points of the learnt manifold (:func:`force`);
* :class:`FourierDecoder`, a closed curve flexible enough to overfit;
* contrastive training of an energy network (:class:`EnergyMLP`,
  :func:`contrastive_loss`, :func:`langevin`, :func:`fit_contrastive`);
* its regularised alternative, a latent whose penalty limits the volume of
  low energy (:class:`RegularisedEBM`, :func:`fit_regularised`).

Every loop is :func:`gradland.train.fit`.
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
    "PENALTIES",
    "RegularisedEBM",
    "fit_regularised",
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
            "the model has no parameters to train: its decoder is a fixed function"
        )
    optimizer = torch.optim.Adam(parameters, lr=lr)
    history = train.fit(
        lambda k: model.free_energy(y, z_grid, beta, x).mean(), optimizer, steps
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
            z_grid if x is None else z_grid[None, :], None if x is None else x[:, None]
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
        """Decode angles ``z`` of any shape into points of shape ``z.shape + (2,)``."""
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
        """The energies of points ``y`` of shape ``(n, 2)``: shape ``(n,)``."""
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
    angle latent of :class:`~gradland.ebm.EllipseDecoder`, which it becomes as
    :math:`\lambda \to \infty`). With :math:`\lambda = 0`, :math:`d \ge 2` and
    :math:`\bm{W}` of rank 2, every :math:`\bm{y}` is decoded exactly and the free
    energy is zero everywhere.

    Parameters
    ----------
    d : int
        Size :math:`d \ge 1` of the latent.
    lam : float
        Weight :math:`\lambda \ge 0` of the penalty, finite.
    penalty : str
        One of ``"l1"``, ``"l2"``, ``"ring"``.
    seed : int
        Seed of the initial :math:`\bm{W}` (small, :math:`0.3\,\mathbb{I}` plus
        noise, drawn by a CPU generator); :math:`\bm{b}` starts at zero.

    Raises
    ------
    TypeError
        If ``d`` or ``seed`` is not an int, or ``lam`` not a real number.
    ValueError
        If ``d`` is below 1, ``lam`` negative or infinite, or ``penalty``
        unknown.

    Examples
    --------
    >>> import torch
    >>> from gradland.contrastive import RegularisedEBM
    >>> y = torch.tensor([[1.0, 2.0], [-3.0, 0.5]])
    >>> # collapsed: zero everywhere
    >>> RegularisedEBM(lam=0.0).free_energy(y).abs().max() < 1e-5
    tensor(True)
    >>> RegularisedEBM(lam=1.0, penalty="ring").free_energy(y).min() > 0.1
    tensor(True)
    """

    def __init__(self, d: int = 2, lam: float = 1.0, penalty: str = "ring", *, seed: int = 0):
        super().__init__()
        d = _checks.integer("d", d, minimum=1)
        lam = _checks.real("lam", lam, minimum=0.0)
        penalty = _checks.choice("penalty", penalty, PENALTIES)
        seed = _checks.integer("seed", seed)
        noise = torch.randn(2, d, generator=torch.Generator().manual_seed(seed))
        self.weight = nn.Parameter(0.3 * torch.eye(2, d) + 0.05 * noise)
        self.bias = nn.Parameter(torch.zeros(2))
        self.lam, self.penalty = lam, penalty

    def penalty_of(self, z: torch.Tensor) -> torch.Tensor:
        r"""The penalty :math:`R(\bm{z})` of latents of shape ``(n, d)``: shape
        ``(n,)``."""
        z = _checks.rows("z", z, self.weight.shape[1], self.weight, row="latent", empty=True)
        if self.penalty == "l1":
            return z.abs().sum(dim=-1)
        if self.penalty == "l2":
            return z.square().sum(dim=-1)
        return (z.norm(dim=-1) - 1).square()

    def energy(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        r"""The energies :math:`E(\bm{y}_i, \bm{z}_i)` of ``n`` pairs: ``y`` ``(n, 2)``,
        ``z`` ``(n, d)``, result ``(n,)``."""
        y = _checks.rows("y", y, 2, self.weight, row="point", empty=True)
        z = _checks.rows("z", z, self.weight.shape[1], self.weight, row="latent", empty=True)
        if len(z) != len(y):
            raise ValueError(f"z must have one row per row of y, ({len(y)}, {self.weight.shape[1]}); got {_describe(z)}")
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

        Parameters
        ----------
        y : torch.Tensor
            Targets, shape ``(n, 2)``, of the dtype and device of the model.
        steps : int
            Number of steps, at least 0.

        Raises
        ------
        TypeError
            If ``y`` is not of the model's dtype, or ``steps`` not an int.
        ValueError
            If ``y`` has the wrong shape or device, or ``steps`` is negative.
        """
        steps = _checks.integer("steps", steps, minimum=0)
        y = _checks.rows("y", y, 2, self.weight, row="point", empty=True)
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
        Number of Adam steps, at least 0.
    lr : float
        Adam's learning rate, positive and finite.
    infer_steps : int
        Steps of :meth:`RegularisedEBM.infer_z` at each training step, at
        least 0.

    Returns
    -------
    list of float
        The loss :math:`\frac{1}{n} \sum_i F_\infty(\bm{y}_i)` at each step,
        the ``loss`` of :func:`gradland.train.fit`.

    Raises
    ------
    TypeError
        If an argument has the wrong type (``y`` of the model's dtype).
    ValueError
        If ``y`` is not of shape ``(n, 2)`` with :math:`n \ge 1` or not on the
        model's device, or a number is out of range.
    FloatingPointError
        If the loss becomes NaN or infinite: the run has diverged.

    Examples
    --------
    >>> from gradland.data import horn
    >>> from gradland.contrastive import RegularisedEBM, fit_regularised
    >>> losses = fit_regularised(RegularisedEBM(lam=1.0), horn(32, x=1.0).y,
    ...                          steps=100, lr=0.05)
    >>> losses[-1] < 0.1 * losses[0]
    True
    """
    _checks.instance("model", model, RegularisedEBM)
    y = _checks.rows("y", y, 2, model.weight, row="point")
    steps = _checks.integer("steps", steps, minimum=0)
    lr = _checks.real("lr", lr, positive=True)
    infer_steps = _checks.integer("infer_steps", infer_steps, minimum=0)
    history = train.fit(
        lambda k: model.free_energy(y, steps=infer_steps).mean(),
        torch.optim.Adam(model.parameters(), lr=lr),
        steps,
    )
    return history.loss
