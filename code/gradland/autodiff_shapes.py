r"""Shapes for the engine of :mod:`gradland.autodiff`: broadcast forward, sum back.

This module is the code of the section on broadcasting of Chapter 4 of the book.
Broadcasting follows NumPy (and PyTorch): an operand is stretched along axes of
size one and along missing leading axes. In the backward pass the gradient is
summed back over those axes by :func:`unbroadcast`, so that the gradient of a
tensor always has the tensor's shape. A reduction is the same map read the
other way: the engine's ``sum``, ``mean`` and ``logsumexp`` read the axes they
reduce with ``_dims``, and their VJPs copy the cotangent back along those axes
with ``_expand_back``, a broadcast.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import torch

from gradland import _checks

__all__ = ["unbroadcast"]

#: The axes a reduction runs over: one, several, or None for all of them.
Dim = Union[int, Sequence[int], None]


def unbroadcast(g: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Sum ``g`` over the axes along which an operand of ``shape`` was broadcast.

    If ``a`` of shape ``shape`` was stretched to ``g.shape`` in the forward
    pass, each of its entries was used once per copy, so its gradient is the
    sum of the gradients of all the copies: sum over the leading axes that
    broadcasting added, and over the axes where ``a`` has size one.

    Parameters
    ----------
    g : torch.Tensor
        A gradient with the broadcast shape.
    shape : torch.Size
        The shape of the operand before broadcasting.

    Returns
    -------
    torch.Tensor
        A tensor of shape ``shape``.

    Raises
    ------
    TypeError
        If ``g`` is not a torch tensor or ``shape`` not a tuple of sizes.
    ValueError
        If ``shape`` does not broadcast to ``g.shape`` (a size of -1 included).

    Examples
    --------
    >>> import torch
    >>> from gradland.autodiff_shapes import unbroadcast
    >>> unbroadcast(torch.ones(4, 2, 3), torch.Size([2, 1]))
    tensor([[12.],
            [12.]])
    """
    _checks.tensor("unbroadcast: g", g)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"unbroadcast: shape must be a tuple of sizes; got {type(shape).__name__}")
    n = len(shape)
    if n > g.ndim or any(s != 1 and s != t for s, t in zip(shape, g.shape[g.ndim - n :])):
        raise ValueError(
            f"unbroadcast: an operand of shape {tuple(shape)} does not broadcast to the "
            f"gradient's shape {tuple(g.shape)}: it cannot be summed back to it"
        )
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    dims = list(range(lead))  # the leading axes that broadcasting added
    dims += [
        lead + i
        for i, size in enumerate(shape)  # and the stretched axes
        if size == 1 and g.shape[lead + i] != 1
    ]
    if not dims:
        return g.reshape(shape)
    return g.sum(dim=dims, keepdim=True).reshape(shape)


def _dims(dim: Dim, ndim: int) -> tuple[int, ...]:
    """The axes a reduction runs over, as non-negative ints (all axes for None)."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim) if isinstance(dim, (tuple, list)) else (None,)
    if not all(isinstance(d, int) and not isinstance(d, bool) for d in dims):
        raise TypeError(f"dim must be an int, a tuple of ints or None (all axes); got {dim!r}")
    if not dims:  # torch reads () as every axis, NumPy as none: say which
        raise ValueError("dim=() is ambiguous: pass None to reduce over every axis")
    for d in dims:
        _checks.axis("dim", d, ndim)
    if len({d % max(ndim, 1) for d in dims}) < len(dims):
        raise ValueError(f"dim names an axis twice; got {dim!r}")
    if ndim == 0:  # a scalar has no axis: like torch, accept 0 or -1, reduce nothing
        return ()
    return tuple(sorted(d % ndim for d in dims))


def _expand_back(g: torch.Tensor, shape: torch.Size, dims: tuple[int, ...], keepdim: bool) -> torch.Tensor:
    """Undo a reduction over ``dims``: put the axes back and repeat ``g`` along them."""
    if not keepdim:
        for d in dims:
            g = g.unsqueeze(d)
    return g.expand(shape)
