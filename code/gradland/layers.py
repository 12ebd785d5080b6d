r"""The network that several chapters build their models from: the multilayer
perceptron.

The energy-based models of Part II (a decoder of the horn in Chapter 7, an
energy of the plane in Chapter 9, the encoders and decoders of Chapter 10, the
cost network and the generator of Chapter 11) are small multilayer perceptrons
of PyTorch layers. :func:`mlp` builds them all, seeded on its own, so that a
model starts from the same weights whatever ran before it and the global
random state is left as it was. (Chapter 4 builds an MLP on the book's own
autodiff engine, :class:`gradland.autodiff_nn.MLP`; Chapter 3 uses a pure
function, :func:`gradland.modes.mlp_function`.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from gradland import _checks
from gradland._checks import describe as _describe

__all__ = ["mlp"]


def mlp(
    sizes: Sequence[int],
    *,
    activation: Callable[[], torch.nn.Module] = nn.Tanh,
    output: torch.nn.Module | None = None,
    seed: int = 0,
) -> torch.nn.Sequential:
    r"""A multilayer perceptron: affine layers of the given sizes with an activation
    between them.

    Parameters
    ----------
    sizes : sequence of int
        The widths ``[d_in, h_1, ..., d_out]``, at least two positive ints.
    activation : callable
        Makes the nonlinearity placed after every affine layer but the last:
        a module class such as ``nn.Tanh``, or
        ``functools.partial(nn.LeakyReLU, 0.2)``.
    output : torch.nn.Module, optional
        A module appended after the last affine layer, such as
        ``nn.Sigmoid()`` for outputs in :math:`(0, 1)`.
    seed : int
        Seed of the initial weights; the global random state is left as it was.

    Returns
    -------
    torch.nn.Sequential

    Raises
    ------
    TypeError
        If ``sizes`` is not a sequence of ints, ``activation`` does not make a
        module when called with no argument, ``output`` is not a module, or
        ``seed`` is not an int.
    ValueError
        If ``sizes`` has fewer than two entries or one below 1.

    Examples
    --------
    >>> import torch
    >>> from gradland.layers import mlp
    >>> net = mlp([2, 16, 1], seed=3)
    >>> net
    Sequential(
      (0): Linear(in_features=2, out_features=16, bias=True)
      (1): Tanh()
      (2): Linear(in_features=16, out_features=1, bias=True)
    )
    >>> net(torch.zeros(5, 2)).shape
    torch.Size([5, 1])
    """
    sizes = _checks.integers("sizes", sizes, minimum=1, count=2)  # [d_in, ..., d_out]
    if not callable(activation) or isinstance(activation, nn.Module):
        raise TypeError(f"activation must make a module when called, such as nn.Tanh; got {activation!r}")
    _checks.instance("output", output, (nn.Module, type(None)), "a torch.nn.Module such as nn.Sigmoid(), or None")
    seed = _checks.integer("seed", seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers: list[nn.Module] = []
        for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(d_in, d_out))
            if i < len(sizes) - 2:
                layers.append(_activation(activation))
    if output is not None:
        layers.append(output)
    return nn.Sequential(*layers)


def _activation(make: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    """``make()``, which must be a module: the nonlinearity of :func:`mlp`."""
    try:
        layer = make()
    except TypeError as error:  # a function such as torch.tanh, which needs an input
        raise TypeError(f"activation must make a module when called with no argument; got {make!r}") from error
    if not isinstance(layer, nn.Module):
        raise TypeError(f"activation must make a torch.nn.Module; it made {_describe(layer)}")
    return layer
