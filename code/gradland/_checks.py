"""The input checks that the modules of the package share.

Every public function of ``gradland`` checks what it is given before it
computes, so that a mistake ends in an error that names the argument and says
what came in, instead of a message from deep inside PyTorch or, worse, a
result that looks fine and is not. The checks follow three rules:

* a wrong *type* raises :class:`TypeError` (a wrong dtype included: an
  integer tensor where a floating one is due, two tensors of different
  dtypes), a wrong *value*, *shape* or *device* raises :class:`ValueError`;
* the message names the argument, what it must be, and what came in (a
  tensor is described by its shape, dtype and device, see :func:`describe`);
* checks on a hot path read metadata only (type, dtype, shape, device), never
  a tensor's values, which would make the CPU wait for the GPU. Value checks
  (an index in range, a finite input) are made once, where data enters.

The helpers return the checked value, converted where that is harmless (an
integer of NumPy's as a Python ``int``, a real number as a ``float``).
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import torch


def describe(value: object) -> str:
    """A tensor's shape, dtype and device, or the type of anything else, for an error
    message."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}, dtype {value.dtype}, on {value.device}"
    return type(value).__name__


def integer(name: str, value: object, *, minimum: int | None = None) -> int:
    """Fail unless ``value`` is an integer (not a bool) of at least ``minimum``; return
    it as an ``int``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int; got {describe(value)}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}; got {value}")
    return int(value)


def real(
    name: str,
    value: object,
    *,
    positive: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
    below: float | None = None,
    finite: bool = True,
) -> float:
    """Fail unless ``value`` is a real number (not a bool) in the range asked for;
    return it as a ``float``.

    ``positive`` asks for a value above 0, ``minimum`` and ``maximum`` bound it
    inclusively, ``below`` exclusively; ``finite`` (the default) refuses
    infinities, and NaN is always refused.
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number; got {describe(value)}")
    value = float(value)
    if math.isnan(value) or (finite and math.isinf(value)):
        raise ValueError(f"{name} must be a finite number; got {value}")
    if positive and not value > 0:
        raise ValueError(f"{name} must be positive; got {value}")
    if minimum is not None and not value >= minimum:
        raise ValueError(f"{name} must be at least {minimum}; got {value}")
    if maximum is not None and not value <= maximum:
        raise ValueError(f"{name} must be at most {maximum}; got {value}")
    if below is not None and not value < below:
        raise ValueError(f"{name} must be below {below}; got {value}")
    return value


def function(name: str, value: object, what: str = "a function") -> None:
    """Fail unless ``value`` is callable."""
    if not callable(value):
        raise TypeError(f"{name} must be {what}; got {describe(value)}")


def tensor(
    name: str,
    value: object,
    *,
    ndim: int | tuple[int, ...] | None = None,
    min_ndim: int = 0,
    floating: bool = False,
    shape: str = "",
) -> torch.Tensor:
    """Fail unless ``value`` is a tensor with an allowed number of dimensions (``ndim``,
    one or several, or at least ``min_ndim``) and a floating-point dtype if
    ``floating``; ``shape`` is the shape it must have, in words, for the message.
    Metadata only."""
    expected = f" of shape {shape}" if shape else ""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor{expected}; got {describe(value)}")
    if floating and not value.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype; got {value.dtype}")
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if (allowed is not None and value.ndim not in allowed) or value.ndim < min_ndim:
        what = f"have shape {shape}" if shape else f"have {min_ndim} or more dimensions"
        if allowed is not None and not shape:
            what = f"have {' or '.join(map(str, allowed))} dimensions"
        raise ValueError(f"{name} must {what}; got shape {tuple(value.shape)}")
    return value


def point(name: str, x: object) -> torch.Tensor:
    """Fail unless ``x`` is a 1-D floating-point tensor: a point of R^n."""
    x = tensor(name, x, floating=True, shape="(n,)")
    if x.ndim != 1:
        raise ValueError(
            f"{name} must be a vector of shape (n,); got shape {tuple(x.shape)} "
            "(flatten it, and reshape inside f if f needs another shape)"
        )
    return x


def alike(**tensors: torch.Tensor) -> None:
    """Fail unless all the tensors, given by name, share one dtype (else
    :class:`TypeError`) and one device (else :class:`ValueError`). Metadata only."""
    (first, a), *rest = tensors.items()
    for name, b in rest:
        if b.dtype != a.dtype:
            raise TypeError(f"{first} and {name} must have the same dtype; got {a.dtype} and {b.dtype}")
        if b.device != a.device:
            raise ValueError(f"{first} and {name} must be on the same device; got {a.device} and {b.device}")


def rows(name: str, value: object, size: int | None, reference: torch.Tensor | None) -> torch.Tensor:
    """``value`` must be a floating ``(n, size)`` tensor, ``n >= 1``, with the dtype and
    device of ``reference``, a parameter of the model (any size or dtype and device
    when None). Metadata only."""
    shape = f"(n, {size or 'd_y'})"
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {shape}; got {describe(value)}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype; got {describe(value)}")
    if value.ndim != 2 or value.shape[0] == 0 or value.shape[1] != (size or value.shape[1]):
        raise ValueError(f"{name} must have shape {shape} with n >= 1, one example per row; got {describe(value)}")
    if reference is not None and value.device != reference.device:
        raise ValueError(f"{name} must be on the model's device {reference.device}; got {describe(value)}")
    if reference is not None and value.dtype != reference.dtype:
        raise TypeError(f"{name} must have the model's dtype {reference.dtype}; got {describe(value)}")
    return value


def device(name: str, value: object) -> torch.device:
    """Fail unless ``value`` names a device that exists here (``None`` is the CPU);
    return it as a :class:`torch.device`."""
    if value is None:
        return torch.device("cpu")
    if not isinstance(value, (str, torch.device)):
        raise TypeError(f"{name} must be a torch.device or a string such as 'cuda'; got {describe(value)}")
    try:
        result = torch.device(value)
    except RuntimeError as error:
        raise ValueError(f"{name} must name a device such as 'cpu' or 'cuda'; got {value!r}") from error
    if result.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name} is {value!r}, but PyTorch sees no CUDA device here")
    return result
