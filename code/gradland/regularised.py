r"""Regularised training of an energy-based model: a penalty on the latent
instead of contrastive samples.

This module is the code of the section of Chapter 9 on regularised and
architectural methods. A latent as big as the data lets every point be decoded
exactly, and the free energy collapses to zero everywhere; a penalty on the
latent limits the volume of low energy instead of pushing up on contrastive
samples (:mod:`gradland.contrastive`). Top to bottom:

* :class:`RegularisedEBM`, an affine decoder with a penalised latent, its
  inference of the latent and its zero-temperature free energy;
* :func:`fit_regularised`, its training by the free energy of the data alone,
  with :func:`gradland.train.fit`.
"""

from __future__ import annotations

import torch
from torch import nn

from gradland import _checks, train
from gradland._checks import describe as _describe

__all__ = ["PENALTIES", "RegularisedEBM", "fit_regularised"]


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
    >>> from gradland.regularised import RegularisedEBM
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
        r"""The penalty :math:`R(\bm{z})` of each latent of a batch.

        Parameters
        ----------
        z : torch.Tensor
            Latents, shape ``(n, d)``, of the model's dtype and on its device.

        Returns
        -------
        torch.Tensor
            The penalties, shape ``(n,)``.

        Raises
        ------
        TypeError
            If ``z`` is not a floating-point tensor of the model's dtype.
        ValueError
            If ``z`` is not of shape ``(n, d)``, or not on the model's device.
        """
        z = _checks.rows("z", z, self.weight.shape[1], self.weight, row="latent", empty=True)
        if self.penalty == "l1":
            return z.abs().sum(dim=-1)
        if self.penalty == "l2":
            return z.square().sum(dim=-1)
        return (z.norm(dim=-1) - 1).square()

    def energy(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        r"""The energies :math:`E(\bm{y}_i, \bm{z}_i)` of :math:`n` pairs.

        Parameters
        ----------
        y : torch.Tensor
            Targets, shape ``(n, 2)``, of the model's dtype and on its device.
        z : torch.Tensor
            Their latents, shape ``(n, d)``, likewise.

        Returns
        -------
        torch.Tensor
            The energies, shape ``(n,)``.

        Raises
        ------
        TypeError
            If ``y`` or ``z`` is not a floating-point tensor of the model's dtype.
        ValueError
            If ``y`` is not of shape ``(n, 2)``, ``z`` not of shape ``(n, d)`` with
            one row per row of ``y``, or one is not on the model's device.
        """
        y = _checks.rows("y", y, 2, self.weight, row="point", empty=True)
        z = _checks.rows("z", z, self.weight.shape[1], self.weight, row="latent", empty=True)
        if len(z) != len(y):
            raise ValueError(
                f"z must have one row per row of y, ({len(y)}, {self.weight.shape[1]}); got {_describe(z)}"
            )
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

        Returns
        -------
        torch.Tensor
            :math:`\check{\bm{z}}`, shape ``(n, d)``, with no gradient.

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

        Parameters
        ----------
        y : torch.Tensor
            Targets, shape ``(n, 2)``, of the model's dtype and on its device.
        steps : int
            Steps of :meth:`infer_z`, at least 0.

        Returns
        -------
        torch.Tensor
            :math:`F_\infty(\bm{y}_i)`, shape ``(n,)``.

        Raises
        ------
        TypeError, ValueError
            As :meth:`infer_z`.
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
    >>> from gradland.regularised import RegularisedEBM, fit_regularised
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
