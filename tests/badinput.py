"""The bad-input battery: one wrong argument at a time, and what must come of it.

A *case* is a valid call of a public name (its baseline, taken from the docstring
example) with one argument replaced by a bad value: the wrong type, a tensor of the
wrong dtype, shape or device, an empty or non-finite tensor, a count that is
negative, fractional or a bool, a rate that is zero, infinite or NaN. Each case must
end in one of two ways:

* an error a user can act on: :class:`TypeError` or :class:`ValueError` (or an
  error the docstring documents, such as ``FloatingPointError`` or ``KeyError``)
  whose message names the argument that was wrong;
* a result, only when the specification of the argument says that the function
  accepts that value by design (a batch of any leading shape, an integer for a
  real number); the test of the module checks that result where it matters.

What must never happen is an error from deep inside PyTorch or Python (a
``RuntimeError``, an ``AttributeError``, an ``IndexError``) or a message that
does not say which argument was wrong (a *cryptic* error), or a result for a
value that is not accepted by design (*silent garbage*). The battery fails on
either, naming the case.

The meta device stands in for a foreign device: a tensor on it, among tensors or
parameters on the CPU, is a device mismatch. Where an argument is the only tensor
(a point ``x`` for a function ``f`` of the caller's), there is nothing to mismatch,
and an algorithm that must read values (a solver's stopping test) cannot run on a
device without values; such an argument omits the case.

The bad values are generated from what an argument is (see :func:`bad_values`),
so that a new argument gets the whole battery by saying what it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

#: Errors that a docstring may document besides TypeError and ValueError.
DOCUMENTED = (TypeError, ValueError, KeyError, FloatingPointError)


@dataclass
class Case:
    """One call with one bad argument: ``call(**kwargs)`` where ``kwargs[name]`` is
    ``value``."""

    target: str
    name: str
    label: str
    call: Callable[..., Any]
    kwargs: dict[str, Any]
    accepted: bool = False
    mentions: tuple[str, ...] = field(default=())

    @property
    def id(self) -> str:
        return f"{self.target}-{self.name}-{self.label}"


def _tensor_variants(value: torch.Tensor) -> dict[str, Any]:
    """Bad versions of a valid floating-point tensor argument."""
    variants: dict[str, Any] = {
        "None": None,
        "str": "x",
        "list": value.tolist() if value.numel() < 50 else [1.0, 2.0],
        "int64": value.to(torch.int64),
        "bool": value > 0,
        "meta": value.to("meta"),
        "extra-dim": value.unsqueeze(0),
    }
    if value.ndim >= 1:
        variants["missing-dim"] = value.reshape(-1)[0] if value.ndim == 1 else value[0]
        variants["wrong-size"] = torch.cat([value, value[..., :1]], dim=-1)
    return variants


def _int_variants(value: int | None, minimum: int | None) -> dict[str, Any]:
    number = value if isinstance(value, int) else 1
    variants: dict[str, Any] = {"None": None, "str": str(number), "float": number + 0.5, "bool": True, "nan": math.nan}
    if minimum is not None:
        variants["below-minimum"] = minimum - 1
    return variants


def _real_variants(positive: bool) -> dict[str, Any]:
    variants: dict[str, Any] = {
        "None": None,
        "str": "0.1",
        "bool": True,
        "nan": math.nan,
        "inf": math.inf,
        "tensor": torch.tensor(0.1),
    }
    if positive:
        variants.update({"zero": 0.0, "negative": -1.0})
    return variants


def _callable_variants() -> dict[str, Any]:
    return {"None": None, "int": 3, "str": "f", "tensor": torch.ones(2)}


@dataclass
class Arg:
    """What an argument is, for the battery: its kind and its range."""

    kind: str  # "tensor", "int", "real", "callable", or "custom"
    minimum: int | None = None
    positive: bool = False
    custom: dict[str, Any] = field(default_factory=dict)
    accepts: tuple[str, ...] = ()  # labels of the values this argument accepts by design
    mentions: tuple[str, ...] = ()  # other words that may name it in a message
    omit: tuple[str, ...] = ()  # labels that make no sense for it (see the note below)

    def variants(self, valid: Any) -> dict[str, Any]:
        if self.kind == "tensor":
            out = _tensor_variants(valid)
        elif self.kind == "int":
            out = _int_variants(valid, self.minimum)
        elif self.kind == "real":
            out = _real_variants(self.positive)
        elif self.kind == "callable":
            out = _callable_variants()
        else:
            out = {}
        out.update(self.custom)
        return {label: value for label, value in out.items() if label not in self.omit}


def cases(
    target: str, call: Callable[..., Any], valid: Callable[[], dict[str, Any]], args: dict[str, Arg]
) -> list[Case]:
    """Every case of one public name: ``call(**valid())`` must succeed, and each
    argument of ``args`` is replaced in turn by each of its bad values."""
    baseline = valid()
    out = []
    for name, arg in args.items():
        for label, value in arg.variants(baseline[name]).items():
            out.append(Case(target, name, label, call, {name: value}, label in arg.accepts, arg.mentions))
    return out


def run(case: Case, valid: dict[str, Any]) -> str:
    """Make the call of ``case``; return ``"error"`` or ``"result"``, or raise an
    AssertionError that says why the outcome is cryptic."""
    kwargs = {**valid, **case.kwargs}
    try:
        case.call(**kwargs)
    except DOCUMENTED as error:
        message = str(error)
        names = (case.name, *case.mentions)
        if not any(name in message for name in names):
            raise AssertionError(
                f"{case.id}: {type(error).__name__} does not name {case.name!r}: {message[:200]}"
            ) from error
        return "error"
    except Exception as error:  # noqa: BLE001 - anything else is what the battery is for
        raise AssertionError(f"{case.id}: cryptic {type(error).__name__} from inside: {str(error)[:200]}") from error
    if not case.accepted:
        raise AssertionError(f"{case.id}: a result for a bad {case.name}, and no error")
    return "result"


def battery(specs: list[tuple]) -> tuple[Callable[..., None], Callable[..., None]]:
    """The two tests of a module's battery, for its ``specs`` (tuples of a target's name,
    the call, a function that returns the valid arguments, and the :class:`Arg` of each
    argument to try): one that the valid call works, one per bad case. A test file
    binds them to names that start with ``test_``, so that pytest collects them::

        test_the_valid_call_works, test_bad_input_gets_a_clear_error = battery(SPECS)
    """
    import pytest

    valid = {target: make for target, _, make, _ in specs}
    all_cases = [case for target, call, make, args in specs for case in cases(target, call, make, args)]

    @pytest.mark.parametrize("target, call, valid, args", specs, ids=[spec[0] for spec in specs])
    def test_the_valid_call_works(target, call, valid, args):
        call(**valid())

    @pytest.mark.parametrize("case", all_cases, ids=[case.id for case in all_cases])
    def test_bad_input_gets_a_clear_error(case):
        run(case, valid[case.target]())

    return test_the_valid_call_works, test_bad_input_gets_a_clear_error


def module_call(cls: type, method: str | None = None, *args: Any, **kwargs: Any) -> Callable[..., Any]:
    """A call for a spec that tries a module's method (its forward when ``method`` is
    None) with the arguments of a case: ``cls(*args, **kwargs)`` is built afresh, after
    the same seed, for every call, so that no case sees what another did to it."""
    import torch

    def call(**arguments: Any) -> Any:
        torch.manual_seed(0)
        module = cls(*args, **kwargs)
        return (getattr(module, method) if method else module)(**arguments)

    return call
