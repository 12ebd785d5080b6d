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
  :func:`torch.cuda.max_memory_allocated`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["median_time", "saved_bytes"]


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
    if repeat < 1 or number < 1 or warmup < 0:
        raise ValueError(
            f"need repeat >= 1, number >= 1 and warmup >= 0; "
            f"got repeat={repeat}, number={number}, warmup={warmup}"
        )
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

    Examples
    --------
    >>> import torch
    >>> from gradland.bench import saved_bytes
    >>> x = torch.randn(1000, requires_grad=True)
    >>> _, nbytes = saved_bytes(lambda: (x.exp() * 2).sum())
    >>> nbytes  # exp saves its output: 1000 float32 numbers of 4 bytes
    4000
    """
    seen: dict[tuple[torch.device, int], int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        seen[(tensor.device, storage.data_ptr())] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        result = fn()
    return result, sum(seen.values())
