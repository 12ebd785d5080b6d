r"""Measuring time and memory, the same way in every chapter.

Several chapters make claims about cost: forward mode against reverse mode
(Chapter 3), a batched function transform against a Python loop (Chapter 5),
an implicit layer against an unrolled solver (Chapter 6). They all measure
with the two functions of this module, so that one number means the same
thing everywhere:

* :func:`median_time` runs a function several times and returns the median
  wall-clock time of one call, waiting for the GPU to finish when there is
  one;
* :func:`saved_bytes` counts the bytes of the tensors that autograd keeps for
  the backward pass while a function runs. That is the memory the backward
  pass costs, and it can be counted on any device, a CPU included, where
  PyTorch has no memory profiler as handy as
  :func:`torch.cuda.max_memory_allocated`;
* :func:`compare` times the package's version of a computation against
  PyTorch's (or PyTorch Geometric's) side by side, and checks that the two
  compute the same thing. The benchmarks of ``code/benchmarks`` all report
  its :class:`Comparison`.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from gradland import _checks

__all__ = ["Comparison", "compare", "median_time", "saved_bytes"]


def _synchronize() -> None:
    """Wait for queued GPU work, so that a timer stops when the work is done."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def median_time(fn: Callable[[], Any], *, repeat: int = 7, number: int = 1, warmup: int = 1) -> float:
    """Return the median wall-clock time of one call of ``fn``, in seconds.

    ``fn`` is called ``warmup`` times untimed (first calls pay for memory
    allocation and kernel selection), then timed ``repeat`` times in groups of
    ``number`` calls. The median over the groups is robust to the odd slow run
    that a busy machine produces; divide two medians measured side by side to
    compare two implementations.

    Parameters
    ----------
    fn : callable
        A function of no arguments.
    repeat : int, optional
        How many groups to time (at least 1).
    number : int, optional
        Calls per group (at least 1); raise it for functions faster than a
        millisecond.
    warmup : int, optional
        Untimed calls before timing (0 or more).

    Returns
    -------
    float
        Median seconds per call.

    Raises
    ------
    TypeError
        If ``fn`` is not callable, or a count is not an integer.
    ValueError
        If ``repeat`` or ``number`` is below 1 or ``warmup`` below 0.

    Examples
    --------
    >>> import torch
    >>> from gradland.bench import median_time
    >>> a = torch.randn(64, 64)
    >>> t = median_time(lambda: a @ a, repeat=3, number=10)
    >>> 0 < t < 1
    True
    """
    _checks.function("fn", fn, "a function of no arguments")
    repeat = _checks.integer("repeat", repeat, minimum=1)
    number = _checks.integer("number", number, minimum=1)
    warmup = _checks.integer("warmup", warmup, minimum=0)
    for _ in range(warmup):
        fn()
    _synchronize()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        _synchronize()
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times)


def saved_bytes(fn: Callable[[], Any]) -> tuple[Any, int]:
    """Run ``fn`` and count the bytes autograd saves for the backward pass.

    Every tensor that an operation stores for its backward rule goes through
    :func:`torch.autograd.graph.saved_tensors_hooks`; this function adds up
    their sizes, counting a block of memory once however many operations save
    it. Tensors saved by a custom :class:`torch.autograd.Function` through
    ``ctx.save_for_backward`` are counted too.

    Parameters
    ----------
    fn : callable
        A function of no arguments that builds a graph (for example a forward
        pass on tensors that require gradients).

    Returns
    -------
    result, nbytes : tuple
        What ``fn`` returned, and the bytes of the distinct storages saved.

    Raises
    ------
    TypeError
        If ``fn`` is not callable.

    Examples
    --------
    >>> import torch
    >>> from gradland.bench import saved_bytes
    >>> x = torch.randn(1000, requires_grad=True)
    >>> _, nbytes = saved_bytes(lambda: (x.exp() * 2).sum())
    >>> nbytes  # exp saves its output: 1000 float32 numbers of 4 bytes
    4000
    """
    _checks.function("fn", fn, "a function of no arguments")
    seen: dict[tuple[torch.device, int], int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        # a storage without data (the meta device) has address 0: count each on its own
        address = storage.data_ptr() or -id(tensor)
        seen[(tensor.device, address)] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        result = fn()
    return result, sum(seen.values())


@dataclasses.dataclass(frozen=True)
class Comparison:
    """What :func:`compare` measured: two median times, their ratio, the largest
    difference of the outputs and the machine.

    Attributes
    ----------
    ours_s, theirs_s : float
        Median seconds per call of our function and of theirs.
    speedup : float
        ``theirs_s / ours_s``: above 1, ours is faster.
    max_difference : float
        The largest absolute difference between the outputs of the first calls.
    device : str
        The machine, as :func:`gradland.device_name` names it.

    Examples
    --------
    >>> from gradland.bench import Comparison
    >>> Comparison(0.002, 0.001, 0.5, 0.0, "cpu").as_dict()["speedup"]
    0.5
    """

    ours_s: float
    theirs_s: float
    speedup: float
    max_difference: float
    device: str

    def as_dict(self) -> dict[str, float | str]:
        """The fields as a dictionary, for JSON.

        Returns
        -------
        dict
            The field names, as keys, with their values.
        """
        return dataclasses.asdict(self)


def _largest_difference(ours: Any, theirs: Any) -> float:
    """The largest absolute difference of two tensors, or of two sequences of them."""
    if isinstance(ours, torch.Tensor) and isinstance(theirs, torch.Tensor):
        if ours.shape != theirs.shape:
            raise ValueError(
                f"the two functions return different shapes: {tuple(ours.shape)} and {tuple(theirs.shape)}"
            )
        if ours.numel() == 0:
            return 0.0
        return (ours.detach().double() - theirs.detach().double()).abs().max().item()
    if isinstance(ours, (tuple, list)) and isinstance(theirs, (tuple, list)) and len(ours) == len(theirs):
        return max((_largest_difference(a, b) for a, b in zip(ours, theirs)), default=0.0)
    raise TypeError(
        "the two functions must return tensors (or tuples of tensors) to compare; "
        f"got {type(ours).__name__} and {type(theirs).__name__}"
    )


def compare(
    ours: Callable[[], Any],
    theirs: Callable[[], Any],
    *,
    rounds: int = 7,
    number: int = 1,
    warmup: int = 3,
    device: torch.device | str | None = None,
) -> Comparison:
    """Time two functions that compute the same thing, side by side.

    Each is called once and their outputs compared; then both are called
    ``warmup`` times untimed; then, in each of ``rounds`` rounds, each is timed
    over ``number`` calls, ours first. Alternating the two means that a machine
    that slows down for a while slows both, and the medians over the rounds
    leave out the odd slow round.

    Parameters
    ----------
    ours, theirs : callable
        Functions of no arguments that return a tensor, or a tuple of tensors,
        of the same shapes: our implementation and the library's.
    rounds : int, optional
        Alternating timing rounds (at least 1).
    number : int, optional
        Calls per timing (at least 1).
    warmup : int, optional
        Untimed calls of each after the first (0 or more).
    device : torch.device or str, optional
        Where they compute, to name the machine; by default :func:`gradland.device`.

    Returns
    -------
    Comparison
        The two medians, ``speedup = theirs / ours`` (above 1: ours is faster),
        the largest difference of the first outputs, and the machine.

    Raises
    ------
    ValueError
        If ``rounds`` or ``number`` is below 1, ``warmup`` below 0, or the outputs
        differ in shape.
    TypeError
        If ``ours`` or ``theirs`` is not callable, a count is not an int, or a
        function returns something other than tensors.

    Examples
    --------
    >>> import torch
    >>> from gradland.bench import compare
    >>> a = torch.randn(64, 64, dtype=torch.float64)
    >>> result = compare(lambda: a @ a, lambda: torch.mm(a, a), rounds=3, number=5)
    >>> result.max_difference == 0.0, result.speedup > 0
    (True, True)
    """
    _checks.function("ours", ours, "a function of no arguments")
    _checks.function("theirs", theirs, "a function of no arguments")
    rounds, number = _checks.integer("rounds", rounds, minimum=1), _checks.integer("number", number, minimum=1)
    warmup = _checks.integer("warmup", warmup, minimum=0)
    from gradland._device import device_name

    difference = _largest_difference(ours(), theirs())
    for _ in range(warmup):
        ours(), theirs()
    times_ours, times_theirs = [], []
    for _ in range(rounds):
        times_ours.append(median_time(ours, repeat=1, number=number, warmup=0))
        times_theirs.append(median_time(theirs, repeat=1, number=number, warmup=0))
    ours_s, theirs_s = statistics.median(times_ours), statistics.median(times_theirs)
    return Comparison(ours_s, theirs_s, theirs_s / ours_s, difference, device_name(device))
