r"""The free energy of a latent-variable energy, and the weights it gives the latents.

This module is the code of Chapter 8 of the book. A latent-variable model
scores a target :math:`\bm{y}` at :math:`K` values of the latent with the
energies :math:`E_1, \ldots, E_K`; the free energy summarises them in one
number, a soft minimum at the inverse temperature :math:`\beta`,

.. math::

   F_\beta = -\frac{1}{\beta} \log \Bigl( \frac{1}{K} \sum_{k=1}^{K}
   \exp(-\beta E_k) \Bigr),

which is the minimum at :math:`\beta = \infty` (the energy of the pair in
Chapter 7) and the mean as :math:`\beta \to 0`. Top to bottom:

* :func:`free_energy`, computed without overflow or loss of precision from
  :math:`\beta = 10^{-8}` to :math:`\beta = \infty`;
* :func:`softmin_weights`, the share of each latent value in it, which is
  its derivative in the energies.

Both work on a tensor of energies of any shape, with the :math:`K` latent
values along one axis; :meth:`gradland.ebm.LatentEBM.free_energy` applies
them to the energies of a model.
"""

from __future__ import annotations

import math

import torch

__all__ = ["free_energy", "softmin_weights"]


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
    >>> from gradland.free_energy import free_energy
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
    >>> from gradland.free_energy import softmin_weights
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
