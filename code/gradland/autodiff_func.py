r"""Function transforms on the engine of :mod:`gradland.autodiff`: grad, vjp and jvp.

This module is the code of the section of Chapter 4 on forward mode and
function transforms. The transforms of :mod:`torch.func` and JAX, which
Chapter 3 used, turn a function into another function; here they are built on
the rules of :mod:`gradland.autodiff`, in reading order:

* :func:`vjp` (reverse mode) runs a function once, recording the graph, and
  returns its value with a *pullback* that runs the backward sweep on any
  cotangent;
* :func:`grad` is the pullback of a scalar function applied to the seed 1;
* :func:`jvp` (forward mode) sets the tangents of the inputs, runs the
  function on these dual numbers, and reads the tangent of the output.

The functions take and return :class:`torch.Tensor` objects; inside, the
function being transformed receives :class:`gradland.autodiff.Tensor` leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from gradland import _checks
from gradland.autodiff import Tensor, _backpropagate, _kind

__all__ = ["grad", "jvp", "vjp"]


def _leaves(primals: Sequence[torch.Tensor | Tensor], requires_grad: bool, where: str) -> list[Tensor]:
    """Fresh leaves holding the values of ``primals``, cut off from any graph."""
    for p in primals:
        if not isinstance(p, (torch.Tensor, Tensor, int, float)) or isinstance(p, bool):
            raise TypeError(f"{where}: a primal must be a torch.Tensor; got {_kind(p)}")
    return [Tensor(p.data if isinstance(p, Tensor) else p, requires_grad=requires_grad) for p in primals]


def vjp(f: Callable[..., Tensor], *primals: torch.Tensor) -> tuple[torch.Tensor, Callable]:
    r"""Evaluate ``f`` and return its output with a function that pulls cotangents back.

    Parameters
    ----------
    f : callable
        A function of Tensors returning one Tensor.
    *primals : torch.Tensor
        The point :math:`\bm{x}` at which to differentiate.

    Returns
    -------
    out, vjp_fn : tuple
        ``out`` is :math:`\bm{f}(\bm{x})` as a torch tensor, and
        ``vjp_fn(v)`` returns the tuple of :math:`\bm{v}^\top \partial \bm{f} /
        \partial \bm{x}_i`, one per primal, each with that primal's shape. It
        may be called many times, for example once per row of a Jacobian.

    Raises
    ------
    TypeError
        If ``f`` is not callable, a primal is not a tensor, ``f`` returns
        anything but a :class:`~gradland.autodiff.Tensor`, or ``vjp_fn`` is
        given anything but a torch tensor of the output's dtype.
    ValueError
        If the cotangent given to ``vjp_fn`` does not have the output's shape
        and device.

    Examples
    --------
    >>> import torch
    >>> from gradland.autodiff_func import vjp
    >>> out, pullback = vjp(lambda x: x * x, torch.tensor([1.0, 2.0]))
    >>> pullback(torch.tensor([1.0, 0.0]))
    (tensor([2., 0.]),)
    """
    _checks.function("vjp: f", f)
    leaves = _leaves(primals, requires_grad=True, where="vjp")
    out = f(*leaves)
    _checks.instance("vjp: the value of f", out, Tensor)

    def vjp_fn(v: torch.Tensor) -> tuple[torch.Tensor, ...]:
        _checks.cotangent("vjp: the cotangent", v, out.data)
        found = _backpropagate(out, v) if out.requires_grad else {}
        return tuple(found.get(leaf, torch.zeros_like(leaf.data)) for leaf in leaves)

    return out.data, vjp_fn


def grad(f: Callable[..., Tensor], argnums: int | tuple[int, ...] = 0) -> Callable[..., torch.Tensor]:
    r"""Turn a scalar function into the function that returns its gradient.

    ``grad(f)(x)`` is :math:`\nabla_{\bm{x}} f(\bm{x})`, a tensor with the shape
    of ``x`` (the transpose of the :math:`1 \times n` derivative).

    Parameters
    ----------
    f : callable
        A function of Tensors returning a Tensor with one element.
    argnums : int or tuple of int, optional
        Which arguments to differentiate with respect to.

    Returns
    -------
    callable
        A function of the same arguments as ``f`` that returns the gradient
        with respect to argument ``argnums``, or a tuple of them.

    Raises
    ------
    TypeError
        If ``f`` is not callable or ``argnums`` not an int or a tuple of ints;
        when called, as :func:`vjp`.
    ValueError
        If an entry of ``argnums`` is negative; when called, if one is not
        below the number of arguments, or ``f`` returns more than one number.

    Examples
    --------
    >>> import torch
    >>> from gradland.autodiff_func import grad
    >>> grad(lambda x: (x ** 3).sum())(torch.tensor([1.0, 2.0]))
    tensor([ 3., 12.])
    """
    _checks.function("grad: f", f)
    _checks.argnums("grad", argnums)

    def gradient(*args: torch.Tensor):
        _checks.argnums("grad", argnums, len(args))
        out, pullback = vjp(f, *args)
        if out.numel() != 1:
            wanted = "grad needs a function with a scalar output"
            raise ValueError(f"{wanted}; got shape {tuple(out.shape)}")
        grads = pullback(torch.ones_like(out))
        if isinstance(argnums, int):
            return grads[argnums]
        return tuple(grads[i] for i in argnums)

    return gradient


def jvp(
    f: Callable[..., Tensor],
    primals: Sequence[torch.Tensor],
    tangents: Sequence[torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Forward mode: push tangents through ``f`` along with the values (dual numbers).

    Every value carries a tangent, and every primitive maps the tangents of
    its inputs to the tangent of its output with its JVP rule, so that one
    evaluation returns both :math:`\bm{f}(\bm{x})` and
    :math:`\frac{\partial \bm{f}}{\partial \bm{x}} \bm{u}`.

    Parameters
    ----------
    f : callable
        A function of Tensors returning one Tensor.
    primals, tangents : sequence of torch.Tensor
        The point :math:`\bm{x}` and the direction :math:`\bm{u}`, one
        tangent of the same shape per primal.

    Returns
    -------
    out, tangent_out : tuple of torch.Tensor
        The value :math:`\bm{f}(\bm{x})` and the tangent
        :math:`\frac{\partial \bm{f}}{\partial \bm{x}} \bm{u}`.

    Raises
    ------
    TypeError
        If ``f`` is not callable, ``primals`` or ``tangents`` is not a tuple or a
        list (a bare tensor would be read as the tuple of its rows), one of
        their entries is not a tensor, a tangent does not have its primal's
        floating-point dtype, or ``f`` returns anything but a
        :class:`~gradland.autodiff.Tensor`.
    ValueError
        If there are not as many tangents as primals, or a tangent does not
        have its primal's shape and device.

    Examples
    --------
    >>> import torch
    >>> from gradland.autodiff_func import jvp
    >>> jvp(lambda x: x.exp(), (torch.tensor([0.0, 1.0]),), (torch.tensor([1.0, 1.0]),))
    (tensor([1.0000, 2.7183]), tensor([1.0000, 2.7183]))
    """
    _checks.function("jvp: f", f)
    for name, values in (("primals", primals), ("tangents", tangents)):
        if not isinstance(values, (tuple, list)):  # a bare tensor would be split into its rows
            raise TypeError(f"jvp: {name} must be a tuple of tensors, such as (x,); got {_kind(values)}")
    for p, t in zip(primals, tangents):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"jvp: a tangent must be a torch.Tensor; got {_kind(t)}")
        if isinstance(p, (torch.Tensor, Tensor)) and t.device != p.device:
            raise ValueError(f"jvp: a tangent must be on its primal's device, {p.device}; got {t.device}")
        if not t.is_floating_point() or (
            isinstance(p, (torch.Tensor, Tensor)) and p.dtype.is_floating_point and t.dtype != p.dtype
        ):
            raise TypeError(f"jvp: a tangent must have its primal's floating-point dtype; got {_checks.describe(t)}")
    if len(primals) != len(tangents):
        counts = f"{len(primals)} primals but {len(tangents)} tangents"
        raise ValueError(f"jvp: got {counts}")
    inputs = _leaves(primals, requires_grad=False, where="jvp")
    for x, t in zip(inputs, tangents):
        if t.shape != x.shape:
            shapes = f"{tuple(x.shape)}; got {tuple(t.shape)}"
            raise ValueError(f"jvp: a tangent must have its primal's shape {shapes}")
        x.tangent = t
    out = f(*inputs)
    _checks.instance("jvp: the value of f", out, Tensor)
    if out.tangent is None:  # f ignored its inputs: the tangent is zero
        return out.data, torch.zeros_like(out.data)
    return out.data, out.tangent
