r"""A generative adversarial network read as a contrastive energy-based model.

This module is the code of Chapter 11 of the book. Two networks are trained
in turns:

* a **cost network** :math:`C \colon \R^d \to \R`, an energy of the target
  alone, trained to be low on data points :math:`\bm{y}` (cold) and high on
  contrastive samples :math:`\hat{\bm{y}}` (hot);
* a **generator** :math:`G \colon \R^{d_z} \to \R^d`, which turns a random
  latent :math:`\bm{z}` into a contrastive sample
  :math:`\hat{\bm{y}} = G(\bm{z})` and is trained by lowering
  :math:`C(G(\bm{z}))`.

Top to bottom:

* :class:`CostNet` and :class:`GeneratorNet`, two small multilayer perceptrons;
* :func:`cost_loss`, the contrastive loss of the cost network, in its
  ``"logistic"`` form (the original GAN, with the discriminator
  :math:`D = \operatorname{sigmoid}(-C)`) and its ``"hinge"`` form (the margin
  loss of the energy-based GAN);
* :func:`generator_loss`, the loss of the generator;
* :func:`train_gan`, the alternating training: the two losses minimised in
  turn by :func:`gradland.train.fit`, which returns a
  :class:`gradland.train.History`.

Every function takes batches with the examples along the first dimension:
data of shape ``(n, d)``, latents of shape ``(n, d_z)``, energies of shape
``(n,)``.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gradland import _checks
from gradland.layers import mlp
from gradland.train import History, fit

__all__ = [
    "CostNet",
    "GeneratorNet",
    "cost_loss",
    "generator_loss",
    "train_gan",
]

#: The two forms of the contrastive loss of the cost network.
KINDS = ("logistic", "hinge")


#: Why the hinge loss needs non-negative energies: else an energy of the data falling
#: without end lowers either loss.
_HINGE = " for the hinge loss (use CostNet(..., nonnegative=True))"


def _mlp(d_in: int, d_hidden: object, d_out: int, seed: int) -> nn.Sequential:
    """Linear layers from ``d_in`` through the widths ``d_hidden`` (one int or a
    sequence of them) to ``d_out``, with leaky ReLUs between them, seeded: the
    perceptron of :func:`gradland.layers.mlp` with another activation."""
    widths = _checks.integers("d_hidden", (d_hidden,) if isinstance(d_hidden, int) else d_hidden, minimum=1)
    return mlp([d_in, *widths, d_out], activation=functools.partial(nn.LeakyReLU, 0.2), seed=seed)


# --------------------------------------------------------------------------
# The two networks
# --------------------------------------------------------------------------


class CostNet(nn.Module):
    r"""The cost network :math:`C \colon \R^d \to \R`: an energy of the target alone.

    A multilayer perceptron with leaky ReLUs. Its last layer gives one real
    number :math:`h(\bm{y})` per example, the energy :math:`C = h`; with
    ``nonnegative=True`` the energy is its absolute value,
    :math:`C = \lvert h \rvert \geq 0`, as the hinge loss of
    :func:`cost_loss` needs. (A softplus or a ReLU would be non-negative
    too, but both go flat where :math:`h` is very negative, and pushing the
    data's energy down drives them there, after which no gradient is left.)

    Parameters
    ----------
    d : int
        The size :math:`d` of the targets.
    d_hidden : int or sequence of int
        Widths of the hidden layers.
    nonnegative : bool
        Whether to make the energy non-negative, :math:`C = \lvert h \rvert`.
    seed : int
        Seed of the initial weights (the global random state is left alone).

    Raises
    ------
    TypeError
        If ``d``, a width or ``seed`` is not an int; from :meth:`forward`, if
        ``y`` is not a floating tensor of the network's dtype.
    ValueError
        If ``d`` or a width is below 1; from :meth:`forward`, if ``y`` is not
        of shape ``(n, d)``, :math:`n \ge 1`, on the network's device.

    Examples
    --------
    >>> import torch
    >>> from gradland.gan import CostNet
    >>> cost = CostNet(2, d_hidden=(16, 16), nonnegative=True)
    >>> energies = cost(torch.zeros(5, 2))
    >>> energies.shape, bool((energies >= 0).all())
    (torch.Size([5]), True)
    """

    def __init__(self, d: int, d_hidden: int | Sequence[int] = (64, 64), *, nonnegative: bool = False, seed: int = 0):
        super().__init__()
        self.d = _checks.integer("d", d, minimum=1)
        self.nonnegative = bool(nonnegative)
        self.net = _mlp(self.d, d_hidden, 1, seed)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        r"""The energies :math:`C(\bm{y}_i)` of a batch of targets.

        Parameters
        ----------
        y : torch.Tensor
            The targets, shape ``(n, d)`` with :math:`n \ge 1`, of the network's
            dtype and on its device.

        Returns
        -------
        torch.Tensor
            The energies, shape ``(n,)``; non-negative if ``nonnegative``.

        Raises
        ------
        TypeError
            If ``y`` is not a floating-point tensor of the network's dtype.
        ValueError
            If ``y`` is not of shape ``(n, d)`` with :math:`n \ge 1`, or not on
            the network's device.
        """
        y = _checks.rows("y", y, self.d, self.net[0].weight)
        energy = self.net(y).squeeze(-1)
        return energy.abs() if self.nonnegative else energy


class GeneratorNet(nn.Module):
    r"""The generator :math:`G \colon \R^{d_z} \to \R^d`, which makes contrastive
    samples :math:`\hat{\bm{y}} = G(\bm{z})`.

    A multilayer perceptron with leaky ReLUs, followed by an output
    activation chosen for the data: ``"sigmoid"`` for pixel intensities in
    :math:`[0, 1]`, ``None`` for points anywhere in :math:`\R^d`. The latent
    is standard normal, :math:`\bm{z} \sim \mathcal{N}(\bm{0}, \Id)`, or
    uniform on :math:`[-1, 1]^{d_z}`. (The name keeps it apart from
    :class:`torch.Generator`, the source of random numbers it draws from.)

    Parameters
    ----------
    d_z : int
        The size :math:`d_z` of the latent.
    d : int
        The size :math:`d` of the samples.
    d_hidden : int or sequence of int
        Widths of the hidden layers.
    output : {None, "sigmoid", "tanh"}
        The output activation.
    latent : {"normal", "uniform"}
        The distribution of :math:`\bm{z}` used by :meth:`sample_latent`.
    seed : int
        Seed of the initial weights.

    Raises
    ------
    TypeError
        If a size, a width or ``seed`` is not an int; from :meth:`forward`, if
        ``z`` is not a floating tensor of the network's dtype.
    ValueError
        If a size or a width is below 1, or ``output`` or ``latent`` unknown;
        from :meth:`forward`, if ``z`` is not of shape ``(n, d_z)``,
        :math:`n \ge 1`, on the network's device.

    Examples
    --------
    >>> import torch
    >>> from gradland.gan import GeneratorNet
    >>> gen = GeneratorNet(d_z=3, d=64, d_hidden=32, output="sigmoid")
    >>> y_hat = gen(gen.sample_latent(10, generator=torch.Generator().manual_seed(0)))
    >>> y_hat.shape, bool(((0 <= y_hat) & (y_hat <= 1)).all())
    (torch.Size([10, 64]), True)
    """

    OUTPUTS = (None, "sigmoid", "tanh")
    LATENTS = ("normal", "uniform")

    def __init__(
        self,
        d_z: int,
        d: int,
        d_hidden: int | Sequence[int] = (64, 64),
        *,
        output: str | None = None,
        latent: str = "normal",
        seed: int = 0,
    ):
        super().__init__()
        self.d_z = _checks.integer("d_z", d_z, minimum=1)
        self.d = _checks.integer("d", d, minimum=1)
        self.output = _checks.choice("output", output, self.OUTPUTS)
        self.latent = _checks.choice("latent", latent, self.LATENTS)
        self.net = _mlp(self.d_z, d_hidden, self.d, seed)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        r"""The samples :math:`\hat{\bm{y}}_i = G(\bm{z}_i)` of a batch of latents.

        Parameters
        ----------
        z : torch.Tensor
            The latents, shape ``(n, d_z)`` with :math:`n \ge 1`, of the
            network's dtype and on its device.

        Returns
        -------
        torch.Tensor
            The samples, shape ``(n, d)``, through the output activation.

        Raises
        ------
        TypeError
            If ``z`` is not a floating-point tensor of the network's dtype.
        ValueError
            If ``z`` is not of shape ``(n, d_z)`` with :math:`n \ge 1`, or not on
            the network's device.
        """
        z = _checks.rows("z", z, self.d_z, self.net[0].weight)
        out = self.net(z)
        if self.output == "sigmoid":
            return torch.sigmoid(out)
        if self.output == "tanh":
            return torch.tanh(out)
        return out

    def sample_latent(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        r"""Draw ``n`` latents :math:`\bm{z}`, shape ``(n, d_z)``, on the network's
        device.

        The numbers are drawn on the CPU (with ``generator``, a CPU
        :class:`torch.Generator`, if given) and then moved, so a seed gives the
        same latents on every device.

        Parameters
        ----------
        n : int
            How many latents, at least 1.
        generator : torch.Generator, optional
            The source of the numbers, on the CPU; the global one by default.

        Returns
        -------
        torch.Tensor
            Shape ``(n, d_z)``, of the network's dtype and on its device.

        Raises
        ------
        TypeError
            If ``n`` is not an int, or ``generator`` not a :class:`torch.Generator`.
        ValueError
            If ``n`` is below 1, or ``generator`` does not draw on the CPU.
        """
        n, generator = _checks.integer("n", n, minimum=1), _checks.generator("generator", generator)
        weight = self.net[0].weight
        if self.latent == "normal":
            z = torch.randn(n, self.d_z, generator=generator)
        else:
            z = 2 * torch.rand(n, self.d_z, generator=generator) - 1
        return z.to(device=weight.device, dtype=weight.dtype)


# --------------------------------------------------------------------------
# The losses
# --------------------------------------------------------------------------


def cost_loss(
    energy_data: torch.Tensor,
    energy_fake: torch.Tensor,
    *,
    kind: str = "logistic",
    margin: float = 1.0,
    checked: bool = False,
) -> torch.Tensor:
    r"""The contrastive loss of the cost network: push down on data, up on contrastive
    samples.

    With :math:`C(\bm{y}_i)` the energies of :math:`n` data points and
    :math:`C(\hat{\bm{y}}_j)` those of :math:`m` generated samples, the
    ``"logistic"`` loss is

    .. math::

       \mathcal{L}_C = \frac{1}{n} \sum_i \operatorname{softplus}\bigl(C(\bm{y}_i)\bigr)
       + \frac{1}{m} \sum_j \operatorname{softplus}\bigl(-C(\hat{\bm{y}}_j)\bigr),

    the cross-entropy of the discriminator
    :math:`D = \operatorname{sigmoid}(-C)` of the original GAN, and the
    ``"hinge"`` loss of the energy-based GAN is

    .. math::

       \mathcal{L}_C = \frac{1}{n} \sum_i C(\bm{y}_i)
       + \frac{1}{m} \sum_j \bigl[m_0 - C(\hat{\bm{y}}_j)\bigr]_+ ,

    with the margin :math:`m_0 > 0` and :math:`[a]_+ = \max(a, 0)`. Both
    fall when an energy of the data falls, and neither rises when an energy
    of a sample rises (the hinge goes flat past the margin).

    Parameters
    ----------
    energy_data : torch.Tensor
        :math:`C(\bm{y}_i)`, shape ``(n,)``.
    energy_fake : torch.Tensor
        :math:`C(\hat{\bm{y}}_j)`, shape ``(m,)``, on the same device.
    kind : {"logistic", "hinge"}
        The form of the loss.
    margin : float
        The margin :math:`m_0 > 0` of the hinge loss, finite (unused by the
        logistic one).
    checked : bool
        Skip the check that the energies of the hinge loss are non-negative,
        which reads their values: :func:`train_gan` makes sure of it once, by
        asking for a non-negative cost network.

    Returns
    -------
    torch.Tensor
        The loss, a scalar.

    Raises
    ------
    TypeError
        If the energies are not floating tensors, or ``margin`` not a number.
    ValueError
        For an unknown ``kind``, a margin not finite and positive, energies
        not of shape ``(n,)`` with :math:`n \ge 1` or on different devices, or
        negative energies with the hinge loss (which would let
        :math:`C(\bm{y}) \to -\infty`).

    Examples
    --------
    >>> import torch
    >>> from gradland.gan import cost_loss
    >>> data, fake = torch.tensor([0.0, 0.0]), torch.tensor([0.5, 3.0])
    >>> cost_loss(data, fake, kind="hinge", margin=1.0)  # 0 + (0.5 + 0) / 2
    tensor(0.2500)
    >>> cost_loss(torch.tensor([0.0]), torch.tensor([0.0]))  # 2 log 2
    tensor(1.3863)
    """
    kind = _checks.choice("kind", kind, KINDS)
    margin = _checks.real("margin", margin, positive=True)
    energy_data = _checks.energies("energy_data", energy_data)
    energy_fake = _checks.energies("energy_fake", energy_fake)
    if energy_data.device != energy_fake.device:
        raise ValueError(
            f"energy_data and energy_fake must be on one device; got {energy_data.device} and {energy_fake.device}"
        )
    if not checked and kind == "hinge":  # reads the energies: once, not at every step
        _checks.entries("energy_data", energy_data, minimum=0, why=_HINGE)
        _checks.entries("energy_fake", energy_fake, minimum=0, why=_HINGE)
    if kind == "logistic":
        return F.softplus(energy_data).mean() + F.softplus(-energy_fake).mean()
    return energy_data.mean() + F.relu(margin - energy_fake).mean()


def generator_loss(
    energy_fake: torch.Tensor, *, kind: str = "logistic", saturating: bool = False, checked: bool = False
) -> torch.Tensor:
    r"""The loss of the generator: the energy of its samples, :math:`C(G(\bm{z}))`, made
    small.

    For the ``"hinge"`` kind it is the mean energy itself,
    :math:`\mathcal{L}_G = \frac{1}{m} \sum_j C(\hat{\bm{y}}_j)`. For the
    ``"logistic"`` kind it is the *non-saturating* loss of the original GAN,
    :math:`\frac{1}{m} \sum_j \operatorname{softplus}(C(\hat{\bm{y}}_j))
    = -\frac{1}{m} \sum_j \log D(\hat{\bm{y}}_j)`, or with
    ``saturating=True`` the minimax one,
    :math:`-\frac{1}{m} \sum_j \operatorname{softplus}(-C(\hat{\bm{y}}_j))
    = \frac{1}{m} \sum_j \log\bigl(1 - D(\hat{\bm{y}}_j)\bigr)`. All three
    are increasing functions of each energy, so all three lower
    :math:`C(G(\bm{z}))`; they differ in the weight that each sample's
    gradient receives.

    Parameters
    ----------
    energy_fake : torch.Tensor
        :math:`C(\hat{\bm{y}}_j)`, shape ``(m,)``.
    kind : {"logistic", "hinge"}
        The kind of the cost loss that the generator plays against.
    saturating : bool
        With ``kind="logistic"``, use the minimax loss instead of the
        non-saturating one.
    checked : bool
        Skip the check that the energies of the hinge loss are non-negative, as
        in :func:`cost_loss`.

    Returns
    -------
    torch.Tensor
        The loss, a scalar.

    Raises
    ------
    TypeError
        If ``energy_fake`` is not a floating tensor.
    ValueError
        For an unknown ``kind``, ``saturating=True`` with the hinge kind,
        energies not of shape ``(m,)`` with :math:`m \ge 1`, or negative
        energies with the hinge kind, as :func:`cost_loss` refuses them.

    Examples
    --------
    >>> import torch
    >>> from gradland.gan import generator_loss
    >>> energy = torch.tensor([1.0, 3.0])
    >>> generator_loss(energy, kind="hinge")
    tensor(2.)
    >>> generator_loss(torch.tensor([0.0]))  # log 2
    tensor(0.6931)
    """
    kind = _checks.choice("kind", kind, KINDS)
    energy_fake = _checks.energies("energy_fake", energy_fake)
    if saturating and kind == "hinge":
        raise ValueError("saturating=True only applies to kind='logistic'")
    if not checked and kind == "hinge":  # reads the energies: once, not at every step
        _checks.entries("energy_fake", energy_fake, minimum=0, why=_HINGE)
    if kind == "hinge":
        return energy_fake.mean()
    if saturating:
        return -F.softplus(-energy_fake).mean()
    return F.softplus(energy_fake).mean()


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------


def train_gan(
    cost: CostNet,
    gen: GeneratorNet,
    data: torch.Tensor,
    steps: int,
    *,
    kind: str = "logistic",
    margin: float = 1.0,
    batch_size: int = 64,
    lr_cost: float = 1e-3,
    lr_generator: float = 1e-3,
    betas: tuple[float, float] = (0.5, 0.999),
    saturating: bool = False,
    snapshot_at: Iterable[int] = (),
    seed: int = 0,
) -> History:
    r"""Train a cost network and a generator in turns.

    Each step draws a batch of data :math:`\bm{y}` and a batch of latents
    :math:`\bm{z}`, then

    1. updates :math:`C` by one Adam step on :func:`cost_loss` with
       :math:`\hat{\bm{y}} = G(\bm{z})` made without a gradient, so that
       nothing reaches :math:`G`;
    2. updates :math:`G` by one Adam step on :func:`generator_loss` of
       :math:`C(G(\bm{z}))` with fresh latents; the gradient flows *through*
       :math:`C` into :math:`G`, but only :math:`G`'s optimiser steps, and
       :math:`C`'s gradients are cleared before its next update.

    The two losses are minimised in turn by :func:`gradland.train.fit`; a
    callback records the mean energies and keeps the snapshots.

    Parameters
    ----------
    cost : CostNet
        The cost network, trained in place.
    gen : GeneratorNet
        The generator, trained in place; its samples must have the size of
        the data.
    data : torch.Tensor
        The training set, shape ``(N, d)``, on the networks' device and dtype.
    steps : int
        Number of alternating steps, at least 0.
    kind : {"logistic", "hinge"}
        The form of the losses; see :func:`cost_loss`.
    margin : float
        The margin of the hinge loss.
    batch_size : int
        Number of data points, and of generated samples, per step.
    lr_cost, lr_generator : float
        Adam's learning rates for :math:`C` and :math:`G`, positive and finite.
    betas : tuple of float
        Adam's :math:`(\beta_1, \beta_2)` for both networks, each in
        :math:`[0, 1)`.
    saturating : bool
        Passed to :func:`generator_loss`.
    snapshot_at : sequence of int
        Numbers of completed steps (0 to ``steps``) after which to keep a
        copy of both networks.
    seed : int
        Seed of the batches and the latents (drawn on the CPU), and of the
        global random state during the run, which is restored afterwards.

    Returns
    -------
    gradland.train.History
        ``cost_loss`` and ``generator_loss``, each loss at every step
        (before its update); ``energy_data`` and ``energy_fake``, the mean
        energies :math:`C(\bm{y})` and :math:`C(\hat{\bm{y}})` of the batches
        of the cost's step; ``lr``, the cost's learning rate; and
        ``snapshots``, a dict from a step count to copies of the two networks,
        ``(C, G)``, in evaluation mode.

    Raises
    ------
    TypeError
        If ``cost`` or ``gen`` is of the wrong class, ``data`` is not a
        floating tensor of their dtype, ``betas`` or ``snapshot_at`` is not a
        sequence, or a number is of the wrong type.
    ValueError
        If ``data`` is not of shape ``(N, d)`` on their device, the sizes of
        the networks disagree, the hinge loss meets a cost network that can
        be negative, ``betas`` does not hold two numbers, or a number is out
        of range.
    FloatingPointError
        If a loss is NaN or infinite: the run has diverged.

    Examples
    --------
    >>> import torch
    >>> from gradland.data import horn
    >>> from gradland.gan import CostNet, GeneratorNet, train_gan
    >>> cost, gen = CostNet(2, d_hidden=32), GeneratorNet(1, 2, d_hidden=32)
    >>> history = train_gan(cost, gen, horn(256, x=1.0).y, steps=20,
    ...                     snapshot_at=[0, 20])
    >>> len(history.cost_loss), sorted(history.snapshots)
    (20, [0, 20])
    """
    _checks.instance("cost", cost, CostNet)
    _checks.instance("gen", gen, GeneratorNet)
    data = _checks.rows("data", data, cost.d, next(cost.parameters()))
    if gen.d != cost.d:
        raise ValueError(f"gen makes points of size d = {gen.d}, the cost network reads d = {cost.d}")
    _checks.like("data", data, next(gen.parameters()), "gen")
    kind = _checks.choice("kind", kind, KINDS)
    if kind == "hinge" and not cost.nonnegative:
        raise ValueError("the hinge loss needs a non-negative cost network: CostNet(..., nonnegative=True)")
    steps = _checks.integer("steps", steps, minimum=0)
    batch_size = _checks.integer("batch_size", batch_size, minimum=1)
    margin = _checks.real("margin", margin, positive=True)
    betas = _checks.betas("betas", betas)
    opt_cost = torch.optim.Adam(cost.parameters(), lr=_checks.real("lr_cost", lr_cost, positive=True), betas=betas)
    opt_gen = torch.optim.Adam(
        gen.parameters(), lr=_checks.real("lr_generator", lr_generator, positive=True), betas=betas
    )
    snapshot_at = set(_checks.integers("snapshot_at", snapshot_at, minimum=0, maximum=steps))
    rng = torch.Generator().manual_seed(_checks.integer("seed", seed))  # batches and latents
    energies = {}  # the energies of the last step of C, for the history

    def record(k: int, history: History) -> None:
        if k > 0:
            cost.zero_grad(set_to_none=True)  # what flowed into C in step 2 is not C's
            for name, energy in energies.items():
                history.record(name, energy.mean().item())
        snapshots = history.setdefault("snapshots", {})
        if k in snapshot_at:
            snapshots[k] = (copy.deepcopy(cost).eval(), copy.deepcopy(gen).eval())

    def cost_step(k: int) -> torch.Tensor:
        # 1. The cost network: push down on data y, up on generated y_hat.
        index = torch.randint(len(data), (batch_size,), generator=rng).to(data.device)
        y = data[index]
        with torch.no_grad():
            y_hat = gen(gen.sample_latent(batch_size, generator=rng))
        energy_data, energy_fake = cost(y), cost(y_hat)
        energies.update(energy_data=energy_data.detach(), energy_fake=energy_fake.detach())
        return cost_loss(energy_data, energy_fake, kind=kind, margin=margin, checked=True)

    def generator_step(k: int) -> torch.Tensor:
        # 2. The generator: lower the energy C(G(z)) of fresh samples.
        y_hat = gen(gen.sample_latent(batch_size, generator=rng))
        return generator_loss(cost(y_hat), kind=kind, saturating=saturating, checked=True)

    return fit(
        {"cost_loss": cost_step, "generator_loss": generator_step},
        {"cost_loss": opt_cost, "generator_loss": opt_gen},
        steps,
        callbacks=[record],
        seed=seed,
    )
