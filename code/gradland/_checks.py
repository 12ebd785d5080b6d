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
integer of NumPy's as a Python ``int``, a real number as a ``float``). They
come in four groups:

* numbers and options: :func:`integer`, :func:`sizes`, :func:`integers`,
  :func:`axis`, :func:`argnums`, :func:`reshape`, :func:`real`,
  :func:`inverse_temperature`, :func:`betas`, :func:`choice`;
* objects: :func:`function`, :func:`instance`, :func:`module`,
  :func:`rowwise`, :func:`generator`, :func:`dtype`, :func:`device`,
  :func:`factory`, :func:`size_of`, :func:`keys`;
* tensors, by their metadata: :func:`tensor`, :func:`point`, :func:`rows`,
  :func:`per_row`, :func:`matrix_vector`, :func:`batch`, :func:`mask`,
  :func:`vectors`, :func:`energies`, :func:`returned`, :func:`alike`,
  :func:`like`, :func:`leaf`, :func:`cotangent`;
* values, read once where data enters: :func:`entries`, :func:`indices`.

Five checks stay with their modules, because they hold knowledge of the module's
domain and of nothing else: an edge list (:mod:`gradland.gcn`), queries, keys and
values (:mod:`gradland.attention`), a batch of sequences (:mod:`gradland.rnn`),
targets and a grid of latents (:mod:`gradland.ebm`), and pairs of source and
target sentences (:mod:`gradland.language_model`). They are built from these.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Integral, Real
from typing import Any

import torch


def describe(value: object) -> str:
    """A tensor's shape, dtype and device, or the type of anything else, for an error
    message."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}, dtype {value.dtype}, on {value.device}"
    return type(value).__name__


# --------------------------------------------------------------------------
# Numbers and options
# --------------------------------------------------------------------------


def integer(name: str, value: object, *, minimum: int | None = None, maximum: int | None = None, even: str = "") -> int:
    """Fail unless ``value`` is an integer (not a bool) between ``minimum`` and
    ``maximum``, inclusive, and even if ``even`` says why it must be; return it as an
    ``int``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int; got {describe(value)}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}; got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}; got {value}")
    if even and value % 2:
        raise ValueError(f"{name} must be even, {even}; got {value}")
    return int(value)


def sizes(**values: object) -> list[int]:
    """Fail unless every value, given by name, is a size: an integer of at least 1
    (see :func:`integer`); return them as ints, in order."""
    return [integer(name, value, minimum=1) for name, value in values.items()]


def integers(
    name: str, value: object, *, minimum: int | None = None, maximum: int | None = None, count: int = 0
) -> list[int]:
    """Fail unless ``value`` is a sequence (a list, a tuple, a range) of at least
    ``count`` integers, each as :func:`integer` asks; return them as a list."""
    if isinstance(value, (str, bytes, dict, torch.Tensor)) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a sequence of ints; got {describe(value)}")
    values = list(value)
    if len(values) < count:
        raise ValueError(f"{name} must hold at least {count} ints; got {values!r}")
    return [integer(f"{name}[{i}]", v, minimum=minimum, maximum=maximum) for i, v in enumerate(values)]


def axis(name: str, dim: object, ndim: int) -> int:
    """Fail unless ``dim`` is an axis of a tensor with ``ndim`` dimensions (a scalar has
    the axes 0 and -1, as in torch); return it."""
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"{name} must be an int; got {dim!r}")
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise ValueError(f"{name} is {dim}, out of range for a tensor with {ndim} dimensions")
    return dim


def argnums(where: str, value: object, count: int | None = None) -> tuple[int, ...]:
    """Fail unless ``value`` picks arguments of a function transform such as ``grad``
    (named ``where``): an int or a tuple of ints, each at least 0 and below ``count``,
    the number of arguments, if given; return them as a tuple."""
    numbers = value if isinstance(value, tuple) else (value,)
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in numbers):
        raise TypeError(f"{where}: argnums must be an int or a tuple of ints; got {value!r}")
    if any(i < 0 or (count is not None and i >= count) for i in numbers):
        raise ValueError(f"{where}: argnums must pick arguments among the {count or 'given'} given; got {value!r}")
    return numbers


def reshape(shape: object, numel: int) -> tuple[int, ...]:
    """Fail unless ``shape`` is a shape for ``numel`` numbers, with at most one -1."""
    sizes = integers("reshape: shape", shape, minimum=-1)
    free, known = sizes.count(-1), math.prod(size for size in sizes if size != -1)
    if not (known == numel if free == 0 else free == 1 and known > 0 and numel % known == 0):
        raise ValueError(f"reshape: shape {tuple(sizes)} does not hold {numel} numbers (one size may be -1)")
    return tuple(sizes)


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


def inverse_temperature(name: str, value: object) -> float:
    """Fail unless ``value`` is a positive real number, ``math.inf`` included, or a
    tensor holding one number (read once, where it enters); return it as a
    ``float``."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a single number; got {describe(value)}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number; got {describe(value)}")
    if not value > 0:  # NaN fails too
        raise ValueError(f"{name} must be a positive inverse temperature (math.inf allowed); got {value!r}")
    return float(value)


def betas(name: str, value: object) -> tuple[float, float]:
    """Fail unless ``value`` is a pair of numbers in [0, 1), the decay rates of Adam's
    two moving averages; return it as a tuple of floats."""
    if isinstance(value, (str, bytes, torch.Tensor)) or not isinstance(value, (tuple, list)):
        raise TypeError(f"{name} must be a pair of numbers (beta_1, beta_2); got {describe(value)}")
    if len(value) != 2:
        raise ValueError(f"{name} must be a pair of numbers (beta_1, beta_2); got {len(value)} of them")
    first, second = (real(f"{name}[{i}]", beta, minimum=0.0, below=1.0) for i, beta in enumerate(value))
    return first, second


def choice(name: str, value: object, options: Iterable[Any]) -> Any:
    """Fail unless ``value`` is one of ``options`` (names, usually)."""
    options = tuple(options)
    if not any(type(value) is type(option) and value == option for option in options):
        raise ValueError(f"{name} must be one of {options}; got {value!r}")
    return value


# --------------------------------------------------------------------------
# Objects: functions, modules, generators, dtypes, devices and dicts
# --------------------------------------------------------------------------


def function(name: str, value: object, what: str = "a function") -> None:
    """Fail unless ``value`` is callable."""
    if not callable(value):
        raise TypeError(f"{name} must be {what}; got {describe(value)}")


def instance(name: str, value: object, cls: type | tuple[type, ...], what: str | None = None) -> Any:
    """Fail unless ``value`` is an instance of ``cls``, which ``what`` names (by
    default its full name, such as ``a gradland.rnn.ElmanRNN``)."""
    if not isinstance(value, cls):
        what = what or f"a {cls.__module__}.{cls.__qualname__}"  # type: ignore[union-attr]
        raise TypeError(f"{name} must be {what}; got {describe(value)}")
    return value


def module(name: str, value: object, what: str = "a torch.nn.Module") -> torch.nn.Module:
    """Fail unless ``value`` is a :class:`torch.nn.Module`."""
    return instance(name, value, torch.nn.Module, what)


def rowwise(name: str, model: torch.nn.Module, what: str = "rows") -> None:
    """Fail unless ``model`` treats the rows of a batch (``what`` they are) one by
    one: no batch normalisation in training mode, which mixes them."""
    for part, layer in model.named_modules():
        if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm) and layer.training:
            raise ValueError(
                f"{name} must treat the {what} of a batch independently, but {'.'.join(filter(None, (name, part)))} "
                f"is a {type(layer).__name__} in training mode, which mixes them (call {name}.eval())"
            )


def generator(name: str, value: object) -> torch.Generator | None:
    """Fail unless ``value`` is None or a :class:`torch.Generator` that draws on the
    CPU, the package's one source of seeded draws (the same numbers on every
    device)."""
    if value is not None and not isinstance(value, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator or None; got {describe(value)}")
    if value is not None and value.device.type != "cpu":
        raise ValueError(f"{name} must draw on the CPU; got one on {value.device}")
    return value


def dtype(name: str, value: object, *, optional: bool = True) -> torch.dtype | None:
    """Fail unless ``value`` is a floating-point :class:`torch.dtype` (or None, the
    default dtype, if ``optional``)."""
    if not (isinstance(value, torch.dtype) and value.is_floating_point) and not (optional and value is None):
        raise TypeError(f"{name} must be a floating-point torch.dtype{' or None' * optional}; got {value!r}")
    return value  # type: ignore[return-value]


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


def factory(device_: object, dtype_: object) -> torch.device:
    """Fail unless the factory arguments ``device`` and ``dtype`` of a constructor
    are a device (see :func:`device`) and a floating-point dtype or None; return the
    device."""
    result = device("device", device_)
    dtype("dtype", dtype_)
    return result


def in_features(module: torch.nn.Module) -> int | None:
    """The input size of ``module``: that of its first :class:`torch.nn.Linear`, or
    None if it has none."""
    return next((layer.in_features for layer in module.modules() if isinstance(layer, torch.nn.Linear)), None)


def size_of(name: str, value: object, role: str, module_: object) -> int:
    """The size ``name`` of what the ``role`` (an encoder, a decoder) ``module_`` takes:
    ``value`` if given, which must agree with the module's first
    :class:`torch.nn.Linear`, else read from that layer."""
    read = in_features(module(role, module_))
    if value is None:
        if read is None:
            raise ValueError(f"cannot read {name} from the {role}: it has no nn.Linear layer; pass {name}")
        return read
    value = integer(name, value, minimum=1)
    if read is not None and value != read:
        raise ValueError(f"{name} = {value} disagrees with the {role}, whose first nn.Linear takes {read}")
    return value


def keys(name: str, value: object, expected: Iterable[str]) -> dict:
    """Fail unless ``value`` is a dict with exactly the keys ``expected``; a key that
    is missing or unexpected raises :class:`KeyError`, as a dict does."""
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a dict name -> tensor; got {describe(value)}")
    expected = set(expected)
    missing, unexpected = sorted(expected - set(value)), sorted(set(value) - expected)
    if missing or unexpected:
        raise KeyError(f"{name} must have the expected names; missing {missing}, unexpected {unexpected}")
    return value


# --------------------------------------------------------------------------
# Tensors, by their metadata only
# --------------------------------------------------------------------------


def tensor(
    name: str,
    value: object,
    *,
    ndim: int | tuple[int, ...] | None = None,
    min_ndim: int = 0,
    floating: bool = False,
    size: int | None = None,
    exact: tuple[int, ...] | None = None,
    shape: str = "",
    reference: torch.Tensor | None = None,
    owner: str = "the model",
) -> torch.Tensor:
    """Fail unless ``value`` is a tensor with an allowed number of dimensions (``ndim``,
    one or several, or at least ``min_ndim``), a last dimension of ``size``, or the
    ``exact`` shape, if given, a floating-point dtype if ``floating``, and the dtype
    and device of ``reference``, a parameter of ``owner`` (see :func:`like`);
    ``shape`` is the shape it must have, in words, for the message (``exact`` by
    default). Metadata only."""
    shape = shape or ("" if exact is None else str(tuple(exact)))
    expected = f" of shape {shape}" if shape else ""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor{expected}; got {describe(value)}")
    if floating and not value.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype; got {value.dtype}")
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    wrong = (allowed is not None and value.ndim not in allowed) or value.ndim < min_ndim
    wrong |= size is not None and (value.ndim == 0 or value.shape[-1] != size)
    if wrong or (exact is not None and tuple(value.shape) != tuple(exact)):
        what = f"have shape {shape}" if shape else f"have {min_ndim} or more dimensions"
        if allowed is not None and not shape:
            what = f"have {' or '.join(map(str, allowed))} dimensions"
        raise ValueError(f"{name} must {what}; got shape {tuple(value.shape)}")
    return value if reference is None else like(name, value, reference, owner)


def point(name: str, x: object) -> torch.Tensor:
    """Fail unless ``x`` is a 1-D floating-point tensor: a point of R^n."""
    x = tensor(name, x, floating=True, shape="(n,)")
    if x.ndim != 1:
        raise ValueError(
            f"{name} must be a vector of shape (n,); got shape {tuple(x.shape)} "
            "(flatten it, and reshape inside f if f needs another shape)"
        )
    return x


def rows(
    name: str,
    value: object,
    size: int | None = None,
    reference: torch.Tensor | None = None,
    *,
    row: str = "example",
    empty: bool = False,
) -> torch.Tensor:
    """Fail unless ``value`` is a floating ``(n, size)`` tensor, one ``row`` per row,
    with ``n >= 1`` (or ``n >= 0`` if ``empty``), :func:`like` ``reference``, a
    parameter of the model (any size, or any dtype and device, when None).
    Metadata only."""
    shape = f"(n, {size or 'd'})"
    tensor(name, value, floating=True, shape=shape)
    if value.ndim != 2 or (value.shape[0] == 0 and not empty) or value.shape[1] != (size or value.shape[1]):
        n = "" if empty else " with n >= 1"
        raise ValueError(f"{name} must have shape {shape}{n}, one {row} per row; got {describe(value)}")
    return value if reference is None else like(name, value, reference)


def per_row(name: str, value: object, n: int, device: torch.device, of: str, *, kind: str = "labels") -> torch.Tensor:
    """Fail unless ``value`` is a tensor of shape ``(n,)``, one entry per row of ``of``
    and on its ``device``: integer class ``"labels"``, a boolean ``"mask"``, or
    ``"reals"`` of a floating-point dtype. Metadata only."""
    integer = isinstance(value, torch.Tensor) and not (value.is_floating_point() or value.is_complex())
    right = {
        "labels": integer and value.dtype != torch.bool,
        "mask": integer and value.dtype == torch.bool,
        "reals": isinstance(value, torch.Tensor) and value.is_floating_point(),
    }[kind]
    if not right:
        what = {"labels": "an integer", "mask": "a boolean", "reals": "a floating-point"}[kind]
        hint = f" (for 0/1 values, {name}.bool())" if kind == "mask" else ""
        raise TypeError(f"{name} must be {what} tensor of shape ({n},){hint}; got {describe(value)}")
    if value.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), one entry per row of {of}; got {describe(value)}")
    if value.device != device:
        raise ValueError(f"{name} must be on the device of {of}, {device}; got {describe(value)}")
    return value


def matrix_vector(A: object, x: object) -> None:
    """Fail unless ``A`` is a floating ``(m, n)`` matrix and ``x`` a vector of ``n``
    entries, of one dtype on one device. Metadata only."""
    tensor("A", A, floating=True, shape="(m, n)", ndim=2)
    tensor("x", x, floating=True, shape="(n,)", ndim=1)
    alike(A=A, x=x)
    if x.shape[0] != A.shape[1]:
        raise ValueError(
            f"A has shape {tuple(A.shape)}, so x must have shape ({A.shape[1]},); got shape {tuple(x.shape)}"
        )


def batch(model: object, loss_fn: object, x: object, y: object) -> None:
    """Fail unless ``x, y`` is a batch of at least one example (as many of each, on
    one device) that ``model``, with parameters to differentiate on that device,
    treats one by one, and ``loss_fn`` a function ``loss_fn(output, target)``.
    Metadata only."""
    module("model", model)
    function("loss_fn", loss_fn, "a function loss_fn(output, target)")
    tensor("x", x, min_ndim=1, shape="(batch, ...)")
    tensor("y", y, min_ndim=1, shape="(batch, ...)")
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            "x and y must hold the same number of examples (their first dimension); "
            f"got shapes {tuple(x.shape)} and {tuple(y.shape)}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"need at least one example; got an empty batch, x of shape {tuple(x.shape)}")
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("model has no parameters that require gradients: nothing to differentiate")
    if trainable[0].device != x.device:
        raise ValueError(
            f"x is on {x.device} but the model's parameters are on {trainable[0].device}; move one of them"
        )
    if y.device != x.device:
        raise ValueError(f"x and y must be on the same device; got {x.device} and {y.device}")
    rowwise("model", model, "examples")


def broadcast(*shapes: tuple[int, ...]) -> tuple[int, ...] | None:
    """The shape that ``shapes`` broadcast to, or None if they do not (in pure Python:
    ``torch.broadcast_shapes`` takes tens of microseconds)."""
    if all(shape == shapes[0] for shape in shapes):
        return tuple(shapes[0])
    ndim = max(map(len, shapes))
    out = []
    for sizes in zip(*((1,) * (ndim - len(shape)) + tuple(shape) for shape in shapes)):
        large = {size for size in sizes if size != 1}
        if len(large) > 1:
            return None
        out.append(large.pop() if large else 1)
    return tuple(out)


def mask(name: str, value: object, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """Fail unless ``value`` is a boolean tensor on ``device``, that of the queries,
    which broadcasts to ``shape``, that of the scores. Metadata only."""
    if not isinstance(value, torch.Tensor) or value.dtype != torch.bool:
        raise TypeError(
            f"{name} must be a boolean tensor (True where a query may look at a key); got {describe(value)}"
        )
    if value.device != device:
        raise ValueError(f"{name} must be on the device of the queries, {device}; got {describe(value)}")
    if broadcast(value.shape, shape) != shape:
        raise ValueError(f"{name} must broadcast to the shape of the scores, {shape}; got {describe(value)}")
    return value


def vectors(name: str, value: object, weight: torch.Tensor, *, keys: bool = False, batch: bool = True) -> torch.Tensor:
    """Fail unless ``value`` is a batch of sets of vectors ``(B, T, d)`` (any
    ``(..., d)`` without ``batch``) with the size ``d``, dtype and device of ``weight``,
    a parameter that takes them; a set of keys must not be empty. Metadata only."""
    d_model = weight.shape[-1]
    shape = f"(B, T, {d_model})" if batch else f"(..., {d_model})"
    tensor(name, value, ndim=3 if batch else None, floating=True, shape=shape)
    if value.ndim == 0 or value.shape[-1] != d_model or (keys and value.shape[-2] == 0):
        raise ValueError(f"{name} must have shape {shape}{' with T >= 1' * keys}; got {describe(value)}")
    alike(**{name: value, "the parameters": weight})
    return value


def energies(name: str, value: object) -> torch.Tensor:
    """Fail unless ``value`` is a floating ``(n,)`` tensor, ``n >= 1``: one energy per
    example."""
    tensor(name, value, floating=True, shape="(n,), one energy per example")
    if value.ndim != 1 or value.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n,) with n >= 1, one energy per example; got {describe(value)}")
    return value


def returned(name: str, value: object, *, ndim: tuple[int, ...], shape: str) -> torch.Tensor:
    """Fail unless ``value``, what the function ``name`` returned, is a floating
    tensor with an allowed number of dimensions, ``shape`` in words."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must return a torch.Tensor of shape {shape}; got {describe(value)}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must return a floating-point tensor; got dtype {value.dtype}")
    if value.ndim not in ndim:
        raise ValueError(f"{name} must return a tensor of shape {shape}; got shape {tuple(value.shape)}")
    return value


def alike(*, same_shape: bool = False, **tensors: torch.Tensor) -> None:
    """Fail unless all the tensors, given by name, share one shape if ``same_shape``
    (else :class:`ValueError`), one dtype (else :class:`TypeError`) and one device
    (else :class:`ValueError`). Metadata only."""
    (first, a), *rest = tensors.items()
    for name, b in rest:
        if same_shape and b.shape != a.shape:
            raise ValueError(f"{first} and {name} must have the same shape; got {tuple(a.shape)} and {tuple(b.shape)}")
        if b.dtype != a.dtype:
            raise TypeError(f"{first} and {name} must have the same dtype; got {a.dtype} and {b.dtype}")
        if b.device != a.device:
            raise ValueError(f"{first} and {name} must be on the same device; got {a.device} and {b.device}")


def like(name: str, value: torch.Tensor, reference: torch.Tensor, owner: str = "the model") -> torch.Tensor:
    """Fail unless the tensor ``value`` has the dtype (else :class:`TypeError`) and the
    device (else :class:`ValueError`) of ``reference``, a parameter of ``owner``: the
    check of an input against a model, as :func:`alike` checks inputs against each
    other. Metadata only."""
    if value.dtype != reference.dtype:
        raise TypeError(f"{name} must have {owner}'s dtype {reference.dtype}; got {describe(value)}")
    if value.device != reference.device:
        raise ValueError(f"{name} must be on {owner}'s device {reference.device}; got {describe(value)}")
    return value


def leaf(data: object, requires_grad: object) -> None:
    """For a tensor of the book's autodiff engine: fail unless ``data`` can hold numbers
    (not None, not a string) and ``requires_grad`` is a bool. Metadata only."""
    if data is None or isinstance(data, (str, bytes)):
        raise TypeError(f"data must be a torch.Tensor, an array or a number; got {type(data).__name__}")
    if not isinstance(requires_grad, bool):
        raise TypeError(f"requires_grad must be a bool; got {requires_grad!r}")


def cotangent(name: str, v: object, out: torch.Tensor) -> None:
    """Fail unless ``v`` is a cotangent of ``out``: a torch tensor of its shape, dtype
    and device. Metadata only."""
    if not isinstance(v, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {describe(v)}")
    if v.device != out.device:
        raise ValueError(f"{name} must be on the output's device, {out.device}; got {v.device}")
    if v.dtype != out.dtype:
        raise TypeError(f"{name} must have the output's dtype {out.dtype}; got {v.dtype}")
    if v.shape != out.shape:
        raise ValueError(f"{name} must have the output's shape {tuple(out.shape)}; got {tuple(v.shape)}")


# --------------------------------------------------------------------------
# Values: these read a tensor, so make them once, where data enters
# --------------------------------------------------------------------------


def entries(
    name: str, value: torch.Tensor, *, minimum: float | None = None, maximum: float | None = None, why: str = ""
) -> torch.Tensor:
    """Fail unless every entry of the tensor ``value`` lies between ``minimum`` and
    ``maximum`` (NaN passes, and propagates); ``why`` says what needs it. This
    reads the values: make it once, where data enters."""
    low = -math.inf if minimum is None else minimum
    high = math.inf if maximum is None else maximum
    if bool(((value < low) | (value > high)).any()):
        bounds = (
            f"in [{low:g}, {high:g}]"
            if minimum is not None and maximum is not None
            else (f"of at least {low:g}" if minimum is not None else f"of at most {high:g}")
        )
        got = f"values from {value.min().item():g} to {value.max().item():g}"
        raise ValueError(f"{name} must have entries {bounds}{why}; got {got}")
    return value


def indices(
    name: str,
    value: object,
    bound: int,
    device: torch.device,
    *,
    ndim: int = 2,
    shape: str = "(B, T)",
    what: str = "token",
) -> torch.Tensor:
    """Fail unless ``value`` is an int64 tensor with ``ndim`` dimensions, ``shape`` in
    words, of at least one entry along its last, on ``device``, whose entries (each
    a ``what``) lie in ``0..bound - 1``. This reads the values, in one transfer from
    the device: make it once, where data enters."""
    tensor(name, value, ndim=ndim, shape=shape)
    if value.dtype != torch.long:
        raise TypeError(f"{name} must be an integer tensor of {what} indices (torch.long); got {describe(value)}")
    if value.shape[-1] == 0:
        raise ValueError(f"{name} must hold at least one {what} per row, shape {shape}; got {describe(value)}")
    if value.device != device:
        raise ValueError(f"{name} must be on {device}; got {describe(value)}")
    if value.numel():
        low, high = torch.stack(torch.aminmax(value)).tolist()
        if low < 0 or high >= bound:
            raise ValueError(f"{name} must hold {what}s in 0..{bound - 1}; got values from {low} to {high}")
    return value
