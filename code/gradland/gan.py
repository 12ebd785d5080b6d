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

* :class:`CostNet` and :class:`Generator`, two small multilayer perceptrons;
* :func:`cost_loss`, the contrastive loss of the cost network, in its
  ``"logistic"`` form (the original GAN, with the discriminator
  :math:`D = \operatorname{sigmoid}(-C)`) and its ``"hinge"`` form (the margin
  loss of the energy-based GAN);
* :func:`generator_loss`, the loss of the generator;
* :func:`train_gan`, the alternating training loop, which returns a
  :class:`GANHistory`.

Every function takes batches with the examples along the first dimension:
data of shape ``(n, d)``, latents of shape ``(n, d_z)``, energies of shape
``(n,)``.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from gradland._checks import describe as _describe
from gradland.ae import mlp

__all__ = [
    "CostNet",
    "Generator",
    "cost_loss",
    "generator_loss",
    "GANHistory",
    "train_gan",
]

#: The two forms of the contrastive loss of the cost network.
KINDS = ("logistic", "hinge")


def _check_batch(name: str, value: object, width: int, module: nn.Module) -> torch.Tensor:
    """Check that ``value`` is a batch ``(n, width)`` with the dtype and device of
    ``module``."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (n, {width}); got {_describe(value)}")
    if value.ndim != 2 or value.shape[1] != width or value.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n, {width}) with n >= 1; got {_describe(value)}")
    weight = next(module.parameters())
    if value.dtype != weight.dtype:
        raise TypeError(f"{name} must have the dtype of the network, {weight.dtype}; got {_describe(value)}")
    if value.device != weight.device:
        raise ValueError(f"{name} must be on the network's device, {weight.device}; got {_describe(value)}")
    return value


def _mlp(sizes: Sequence[int], seed: int) -> nn.Sequential:
    """Linear layers of the given sizes with leaky ReLUs between them, seeded: the
    autoencoders' perceptron of :func:`gradland.ae.mlp` with another activation."""
    return mlp(list(sizes), activation=functools.partial(nn.LeakyReLU, 0.2), seed=seed)


def _check_sizes(name: str, value: object, *, allow_empty: bool = False) -> tuple[int, ...]:
    if isinstance(value, int):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not all(isinstance(v, int) and v >= 1 for v in value):
        raise ValueError(f"{name} must be a positive int or a sequence of them; got {value!r}")
    if not value and not allow_empty:
        raise ValueError(f"{name} must not be empty")
    return tuple(value)


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
    dim : int
        The dimension :math:`d` of the targets.
    hidden : int or sequence of int
        Widths of the hidden layers.
    nonnegative : bool
        Whether to make the energy non-negative, :math:`C = \lvert h \rvert`.
    seed : int
        Seed of the initial weights (the global random state is left alone).

    Examples
    --------
    >>> import torch
    >>> from gradland.gan import CostNet
    >>> cost = CostNet(2, hidden=(16, 16), nonnegative=True)
    >>> energies = cost(torch.zeros(5, 2))
    >>> energies.shape, bool((energies >= 0).all())
    (torch.Size([5]), True)
    """

    def __init__(self, dim: int, hidden: int | Sequence[int] = (64, 64), *, nonnegative: bool = False, seed: int = 0):
        super().__init__()
        (self.dim,) = _check_sizes("dim", dim)
        self.nonnegative = bool(nonnegative)
        self.net = _mlp((self.dim, *_check_sizes("hidden", hidden, allow_empty=True), 1), seed)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        r"""The energies :math:`C(\bm{y}_i)` of a batch ``y`` of shape ``(n, d)``: shape
        ``(n,)``."""
        y = _check_batch("y", y, self.dim, self)
        energy = self.net(y).squeeze(-1)
        return energy.abs() if self.nonnegative else energy


class Generator(nn.Module):
    r"""The generator :math:`G \colon \R^{d_z} \to \R^d`, which makes contrastive
    samples :math:`\hat{\bm{y}} = G(\bm{z})`.

    A multilayer perceptron with leaky ReLUs, followed by an output
    activation chosen for the data: ``"sigmoid"`` for pixel intensities in
    :math:`[0, 1]`, ``None`` for points anywhere in :math:`\R^d`. The latent
    is standard normal, :math:`\bm{z} \sim \mathcal{N}(\bm{0}, \Id)`, or
    uniform on :math:`[-1, 1]^{d_z}`.

    Parameters
    ----------
    latent_dim : int
        The dimension :math:`d_z` of the latent.
    dim : int
        The dimension :math:`d` of the samples.
    hidden : int or sequence of int
        Widths of the hidden layers.
    output : {None, "sigmoid", "tanh"}
        The output activation.
    latent : {"normal", "uniform"}
        The distribution of :math:`\bm{z}` used by :meth:`sample_latent`.
    seed : int
        Seed of the initial weights.

    Examples
    --------
    >>> import torch
    >>> from gradland.gan import Generator
    >>> gen = Generator(latent_dim=3, dim=64, hidden=32, output="sigmoid")
    >>> y_hat = gen(gen.sample_latent(10, generator=torch.Generator().manual_seed(0)))
    >>> y_hat.shape, bool(((0 <= y_hat) & (y_hat <= 1)).all())
    (torch.Size([10, 64]), True)
    """

    OUTPUTS = (None, "sigmoid", "tanh")
    LATENTS = ("normal", "uniform")

    def __init__(
        self,
        latent_dim: int,
        dim: int,
        hidden: int | Sequence[int] = (64, 64),
        *,
        output: str | None = None,
        latent: str = "normal",
        seed: int = 0,
    ):
        super().__init__()
        (self.latent_dim,) = _check_sizes("latent_dim", latent_dim)
        (self.dim,) = _check_sizes("dim", dim)
        if output not in self.OUTPUTS:
            raise ValueError(f"output must be one of {self.OUTPUTS}; got {output!r}")
        if latent not in self.LATENTS:
            raise ValueError(f"latent must be one of {self.LATENTS}; got {latent!r}")
        self.output, self.latent = output, latent
        self.net = _mlp((self.latent_dim, *_check_sizes("hidden", hidden, allow_empty=True), self.dim), seed)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        r"""The samples :math:`G(\bm{z}_i)` of a batch ``z`` of shape ``(n, d_z)``:
        shape ``(n, d)``."""
        z = _check_batch("z", z, self.latent_dim, self)
        out = self.net(z)
        if self.output == "sigmoid":
            return torch.sigmoid(out)
        if self.output == "tanh":
            return torch.tanh(out)
        return out

    def sample_latent(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        r"""Draw ``n`` latents :math:`\bm{z}`, shape ``(n, d_z)``, on the generator's
        device.

        The numbers are drawn on the CPU (with ``generator`` if given) and then
        moved, so a seed gives the same latents on every device.
        """
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int; got {n!r}")
        weight = next(self.parameters())
        if self.latent == "normal":
            z = torch.randn(n, self.latent_dim, generator=generator)
        else:
            z = 2 * torch.rand(n, self.latent_dim, generator=generator) - 1
        return z.to(device=weight.device, dtype=weight.dtype)


# --------------------------------------------------------------------------
# The losses
# --------------------------------------------------------------------------


def _check_energies(name: str, value: object) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        raise TypeError(f"{name} must be a floating torch.Tensor of energies; got {_describe(value)}")
    if value.ndim != 1 or value.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n,), one energy per example; got {_describe(value)}")
    return value


def _check_kind(kind: object) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    return kind  # type: ignore[return-value]


def cost_loss(
    energy_data: torch.Tensor,
    energy_fake: torch.Tensor,
    *,
    kind: str = "logistic",
    margin: float = 1.0,
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
        The margin :math:`m_0 > 0` of the hinge loss (unused by the logistic one).

    Returns
    -------
    torch.Tensor
        The loss, a scalar.

    Raises
    ------
    ValueError
        For an unknown ``kind``, a non-positive margin, energies of the
        wrong shape or on different devices, or negative energies with the
        hinge loss (which would let :math:`C(\bm{y}) \to -\infty`).

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
    kind = _check_kind(kind)
    energy_data = _check_energies("energy_data", energy_data)
    energy_fake = _check_energies("energy_fake", energy_fake)
    if energy_data.device != energy_fake.device:
        raise ValueError(
            f"energy_data and energy_fake must be on one device; got {energy_data.device} and {energy_fake.device}"
        )
    if kind == "logistic":
        return F.softplus(energy_data).mean() + F.softplus(-energy_fake).mean()
    if not margin > 0:
        raise ValueError(f"margin must be positive; got {margin!r}")
    if bool((energy_data < 0).any()) or bool((energy_fake < 0).any()):
        raise ValueError(
            "the hinge loss needs non-negative energies "
            "(use CostNet(..., nonnegative=True))"
        )
    return energy_data.mean() + F.relu(margin - energy_fake).mean()


def generator_loss(energy_fake: torch.Tensor, *, kind: str = "logistic", saturating: bool = False) -> torch.Tensor:
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

    Returns
    -------
    torch.Tensor
        The loss, a scalar.

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
    kind = _check_kind(kind)
    energy_fake = _check_energies("energy_fake", energy_fake)
    if kind == "hinge":
        if saturating:
            raise ValueError("saturating=True only applies to kind='logistic'")
        return energy_fake.mean()
    if saturating:
        return -F.softplus(-energy_fake).mean()
    return F.softplus(energy_fake).mean()


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------


@dataclass
class GANHistory:
    """What :func:`train_gan` records: one entry per step, and the snapshots asked
    for."""

    cost_loss: list[float] = field(default_factory=list)
    """The loss of the cost network at each step (before its update)."""
    generator_loss: list[float] = field(default_factory=list)
    """The loss of the generator at each step (before its update)."""
    energy_data: list[float] = field(default_factory=list)
    r"""The mean energy :math:`C(\bm{y})` of the data batch at each step."""
    energy_fake: list[float] = field(default_factory=list)
    r"""The mean energy :math:`C(\hat{\bm{y}})` of the generated batch at each step."""
    snapshots: dict[int, tuple[CostNet, Generator]] = field(default_factory=dict)
    """Copies of the two networks, in evaluation mode, after the given numbers of steps."""


def train_gan(
    cost: CostNet,
    generator: Generator,
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
) -> GANHistory:
    r"""Train a cost network and a generator in turns.

    Each step draws a batch of data :math:`\bm{y}` and a batch of latents
    :math:`\bm{z}`, then

    1. updates :math:`C` by one Adam step on :func:`cost_loss` with
       :math:`\hat{\bm{y}} = G(\bm{z})` detached, so that no gradient reaches
       :math:`G`;
    2. updates :math:`G` by one Adam step on :func:`generator_loss` of
       :math:`C(G(\bm{z}))` with fresh latents; the gradient flows *through*
       :math:`C` into :math:`G`, but only :math:`G`'s optimiser steps, and
       :math:`C`'s gradients are cleared before its next update.

    Parameters
    ----------
    cost : CostNet
        The cost network, trained in place.
    generator : Generator
        The generator, trained in place; its samples must have the
        dimension of the data.
    data : torch.Tensor
        The training set, shape ``(N, d)``, on the networks' device and dtype.
    steps : int
        Number of alternating steps.
    kind : {"logistic", "hinge"}
        The form of the losses; see :func:`cost_loss`.
    margin : float
        The margin of the hinge loss.
    batch_size : int
        Number of data points, and of generated samples, per step.
    lr_cost, lr_generator : float
        Adam's learning rates for :math:`C` and :math:`G`.
    betas : tuple of float
        Adam's :math:`(\beta_1, \beta_2)` for both networks.
    saturating : bool
        Passed to :func:`generator_loss`.
    snapshot_at : sequence of int
        Numbers of completed steps (0 to ``steps``) after which to keep a
        copy of both networks.
    seed : int
        Seed of the batches and the latents (drawn on the CPU).

    Returns
    -------
    GANHistory
        The losses and mean energies at every step, and the snapshots.

    Examples
    --------
    >>> import torch
    >>> from gradland.data import horn
    >>> from gradland.gan import CostNet, Generator, train_gan
    >>> cost, gen = CostNet(2, hidden=32), Generator(1, 2, hidden=32)
    >>> history = train_gan(cost, gen, horn(256, x=1.0).y, steps=20,
    ...                     snapshot_at=[0, 20])
    >>> len(history.cost_loss), sorted(history.snapshots)
    (20, [0, 20])
    """
    if not isinstance(cost, CostNet) or not isinstance(generator, Generator):
        raise TypeError(
            f"cost must be a CostNet and generator a Generator; got {type(cost).__name__} and "
            f"{type(generator).__name__}"
        )
    data = _check_batch("data", data, cost.dim, cost)
    if generator.dim != cost.dim:
        raise ValueError(f"the generator makes points of dimension {generator.dim}, the cost network reads {cost.dim}")
    g_weight = next(generator.parameters())
    if g_weight.device != data.device or g_weight.dtype != data.dtype:
        raise ValueError(
            f"the generator must have the data's device and dtype, {data.device} and {data.dtype}; "
            f"got {g_weight.device} and {g_weight.dtype}"
        )
    kind = _check_kind(kind)
    if kind == "hinge" and not cost.nonnegative:
        raise ValueError("the hinge loss needs a non-negative cost network: CostNet(..., nonnegative=True)")
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative int; got {steps!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; got {batch_size!r}")
    snapshot_at = set(snapshot_at)
    if any(not isinstance(s, int) or not 0 <= s <= steps for s in snapshot_at):
        raise ValueError(f"snapshot_at must hold step counts between 0 and {steps}; got {sorted(snapshot_at)}")

    opt_cost = torch.optim.Adam(cost.parameters(), lr=lr_cost, betas=betas)
    opt_gen = torch.optim.Adam(generator.parameters(), lr=lr_generator, betas=betas)
    rng = torch.Generator().manual_seed(seed)
    history = GANHistory()

    def snapshot(step: int) -> None:
        if step in snapshot_at:
            history.snapshots[step] = (copy.deepcopy(cost).eval(), copy.deepcopy(generator).eval())

    snapshot(0)
    for step in range(1, steps + 1):
        # 1. The cost network: push down on data y, up on generated y_hat.
        index = torch.randint(len(data), (batch_size,), generator=rng).to(data.device)
        y = data[index]
        with torch.no_grad():
            y_hat = generator(generator.sample_latent(batch_size, generator=rng))
        energy_data, energy_fake = cost(y), cost(y_hat)
        loss_c = cost_loss(energy_data, energy_fake, kind=kind, margin=margin)
        opt_cost.zero_grad()
        loss_c.backward()
        opt_cost.step()

        # 2. The generator: lower the energy C(G(z)) of fresh samples.
        loss_g = generator_loss(
            cost(generator(generator.sample_latent(batch_size, generator=rng))),
            kind=kind,
            saturating=saturating,
        )
        opt_gen.zero_grad()
        loss_g.backward()
        opt_gen.step()
        cost.zero_grad(set_to_none=True)  # what flowed into C here is not C's to use

        history.cost_loss.append(loss_c.item())
        history.generator_loss.append(loss_g.item())
        history.energy_data.append(energy_data.mean().item())
        history.energy_fake.append(energy_fake.mean().item())
        snapshot(step)
    return history
