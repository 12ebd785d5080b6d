r"""The cross-entropy loss on the engine of :mod:`gradland.autodiff`, and its pieces.

This module is the code of the section of Chapter 4 on log-sum-exp. With
:meth:`~gradland.autodiff.Tensor.logsumexp` a primitive of the engine, the
softargmax and the cross-entropy loss are *composites*: functions of the
primitives, which the engine differentiates with no rule of their own.

* :func:`logsumexp` and :func:`softmax` are the methods
  :meth:`~gradland.autodiff.Tensor.logsumexp` and
  :meth:`~gradland.autodiff.Tensor.softmax` written as functions, as in
  :mod:`torch.nn.functional`;
* :func:`cross_entropy` is the loss of a classifier, the mean over a batch of
  :math:`\operatorname{logsumexp}(\bm{s}_i) - s_{i, y_i}`, with each row shifted
  first so that large scores lose no digits.
"""

from __future__ import annotations

import torch

from gradland import _checks
from gradland.autodiff import Tensor
from gradland.autodiff_shapes import Dim

__all__ = ["cross_entropy", "logsumexp", "softmax"]


def logsumexp(x: Tensor, dim: Dim = -1, keepdim: bool = False) -> Tensor:
    r"""Stable :math:`\log \sum_i \exp(x_i)` along ``dim``, as the method
    :meth:`~gradland.autodiff.Tensor.logsumexp` computes it.

    Parameters
    ----------
    x : gradland.autodiff.Tensor
        The numbers :math:`\bm{x}`.
    dim : int, tuple of int or None, optional
        The axes to reduce, by default the last; None for all of them.
    keepdim : bool, optional
        Whether to keep the reduced axes, with size 1.

    Returns
    -------
    gradland.autodiff.Tensor
        The log-sum-exps.

    Raises
    ------
    TypeError
        If ``x`` is not a :class:`~gradland.autodiff.Tensor`, or ``dim`` not an
        int, a tuple of ints or None.
    ValueError
        If ``dim`` is out of range, names an axis twice or is ``()``.

    Examples
    --------
    >>> from gradland.autodiff import Tensor
    >>> from gradland.autodiff_loss import logsumexp
    >>> logsumexp(Tensor([1000.0, 1000.0]))  # 1000 + log 2 in float32, no overflow
    Tensor(1000.6932)
    """
    _checks.instance("logsumexp: x", x, Tensor)
    return x.logsumexp(dim, keepdim)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    r"""The softargmax :math:`\exp(x_i) / \sum_j \exp(x_j)` along ``dim``.

    Written as :math:`\exp(\bm{x} - \operatorname{logsumexp}(\bm{x}))`, which
    never overflows (:meth:`~gradland.autodiff.Tensor.softmax` computes it);
    its derivative comes from those two primitives.

    Parameters
    ----------
    x : gradland.autodiff.Tensor
        The scores :math:`\bm{x}`.
    dim : int, optional
        The axis along which the probabilities sum to 1, by default the last.

    Returns
    -------
    gradland.autodiff.Tensor
        Probabilities, of the shape of ``x``.

    Raises
    ------
    TypeError
        If ``x`` is not a :class:`~gradland.autodiff.Tensor`, or ``dim`` not an
        int.
    ValueError
        If ``dim`` is out of range.

    Examples
    --------
    >>> from gradland.autodiff import Tensor
    >>> from gradland.autodiff_loss import softmax
    >>> softmax(Tensor([0.0, 0.0, 0.0, 0.0]))
    Tensor([0.2500, 0.2500, 0.2500, 0.2500])
    """
    _checks.instance("x", x, Tensor)
    return x.softmax(dim)


def cross_entropy(logits: Tensor, target: torch.Tensor) -> Tensor:
    r"""Mean cross-entropy of class scores against integer labels.

    For a batch of scores :math:`\bm{s}_i \in \R^K` (the rows of ``logits``)
    and labels :math:`y_i`, returns :math:`\frac{1}{B} \sum_i
    \big(\operatorname{logsumexp}(\bm{s}_i) - s_{i, y_i}\big)`, the mean of
    :math:`-\log p_{i, y_i}` for :math:`\bm{p}_i = \softargmax(\bm{s}_i)`, as
    :func:`torch.nn.functional.cross_entropy` does. Each row is first shifted
    by its largest score, which changes neither the value nor the gradient but
    keeps the two terms from cancelling: equal scores of :math:`10^8` still
    give :math:`\log K`, and a score of :math:`-\infty` leaves its class out
    (one of :math:`+\infty` gives NaN, as in PyTorch).

    Parameters
    ----------
    logits : gradland.autodiff.Tensor
        Scores of shape ``(B, K)``, with :math:`B, K \ge 1`.
    target : torch.Tensor
        Labels of shape ``(B,)``, integers in ``0, ..., K - 1``.

    Returns
    -------
    gradland.autodiff.Tensor
        A scalar.

    Raises
    ------
    TypeError
        If ``logits`` is not a :class:`~gradland.autodiff.Tensor`, or
        ``target`` is not a torch tensor of integers.
    ValueError
        If a shape is wrong, or, for labels on the CPU, a label is out of
        range. Labels on a GPU are not read, which would make the CPU wait for
        the GPU at every step: one out of range fails inside ``gather``, as in
        PyTorch.

    Examples
    --------
    >>> import torch
    >>> from gradland.autodiff import Tensor
    >>> from gradland.autodiff_loss import cross_entropy
    >>> cross_entropy(Tensor(torch.zeros(2, 4)), torch.tensor([0, 3]))  # log 4
    Tensor(1.3863)
    >>> cross_entropy(Tensor(torch.full((2, 4), 1e8)), torch.tensor([0, 3]))  # still
    Tensor(1.3863)
    """
    _checks.instance("cross_entropy: logits", logits, Tensor)
    if logits.ndim != 2 or 0 in logits.shape:
        raise ValueError(f"cross_entropy: logits must have shape (B, K) with B, K >= 1; got {tuple(logits.shape)}")
    if (
        not isinstance(target, torch.Tensor)
        or target.is_floating_point()
        or target.is_complex()
        or target.dtype == torch.bool
    ):
        raise TypeError(
            f"cross_entropy: target must be a torch.Tensor of integer labels; got {_checks.describe(target)}"
        )
    if target.shape != logits.shape[:1]:
        raise ValueError(
            f"cross_entropy: target must have shape ({logits.shape[0]},), one label "
            f"per row of logits; got {tuple(target.shape)}"
        )
    k = logits.shape[1]
    # (on a GPU, reading the labels would make the CPU wait for the GPU every step)
    if target.device.type == "cpu" and not bool(((target >= 0) & (target < k)).all()):
        raise ValueError(
            f"cross_entropy: target must hold labels in 0..{k - 1}; "
            f"got labels from {target.min().item()} to {target.max().item()}"
        )
    m = logits.data.amax(dim=1, keepdim=True)  # each row's largest score, a constant
    z = logits - m  # scores at most 0, so logsumexp(z) lies in [0, log K]
    label = target.to(logits.device, torch.int64)[:, None]  # shape (B, 1)
    return (z.logsumexp(dim=1, keepdim=True) - z.gather(1, label)).mean()
