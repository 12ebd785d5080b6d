r"""One training loop for every model of the book.

Every model from Chapter 7 on is trained the same way: a function computes a
loss from the step number, an optimiser takes one step on its gradient, and
the loop records what the chapter wants to plot. :func:`fit` is that loop,
written once; what differs between models is passed in:

* ``loss``, a function of the step number :math:`k = 1, 2, \ldots` that
  returns the loss of that step (it draws its own mini-batch, noise or
  latents);
* ``optimizer``, any :class:`torch.optim.Optimizer`;
* ``schedule``, the factor of the learning rate at each step, applied by a
  :class:`torch.optim.lr_scheduler.LambdaLR`;
* ``callbacks``, functions of the step number and the :class:`History` that
  record more than the loss (an accuracy, a copy of the model).

Two networks trained in turns, as in a GAN, are two named losses with one
optimiser each; at every step the losses are computed and minimised in the
order given, each after the previous one's update.

The loop owns the random state of the run: with a ``seed``, the global random
state of PyTorch (which dropout and :func:`torch.randn_like` draw from) is
seeded on entry and restored on exit, so that a training run neither depends
on nor disturbs what ran before it. Mini-batches and latents are drawn by the
caller from a CPU :class:`torch.Generator`, so that a seed gives the same
batches on every device.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import torch

from gradland import _checks
from gradland._checks import describe

__all__ = ["History", "fit"]


class History(dict):
    """What a training run recorded: named series, one entry per record.

    A :class:`dict` from a name to a list; :func:`fit` records each loss under
    its name (``"loss"`` when there is one) and the learning rate of each step
    under ``"lr"``, and callbacks add their own series with :meth:`record`.
    A series can also be read as an attribute: ``history.loss`` is
    ``history["loss"]``.

    Examples
    --------
    >>> from gradland.train import History
    >>> history = History()
    >>> history.record("loss", 2.0)
    >>> history.record("loss", 1.0)
    >>> history.loss
    [2.0, 1.0]
    """

    def record(self, name: str, value: Any) -> None:
        """Append ``value`` to the series ``name``, creating it if needed.

        Parameters
        ----------
        name : str
            Name of the series.
        value : object
            The entry to append.
        """
        self.setdefault(name, []).append(value)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"the history records no {name!r}; it has {sorted(self)}") from None


def _named(value: Any, what: str, kind: type | tuple[type, ...], test: Callable[[Any], bool]) -> dict:
    """``value`` as a dict from names to items, checking every item."""
    items = dict(value) if isinstance(value, Mapping) else {"loss": value}
    if not items:
        raise ValueError(f"{what} must name at least one item; got an empty mapping")
    for name, item in items.items():
        if not isinstance(name, str):
            raise TypeError(f"the names of {what} must be strings; got {describe(name)}")
        if not test(item):
            raise TypeError(f"{what} {name!r} must be {kind}; got {describe(item)}")
    return items


@contextlib.contextmanager
def _seeded(seed: int | None, optimizers: Sequence[torch.optim.Optimizer]) -> Iterator[None]:
    """Seed the global random state for the run, and restore it afterwards."""
    if seed is None:
        yield
        return
    devices = {
        p.device for opt in optimizers for group in opt.param_groups for p in group["params"] if p.device.type == "cuda"
    }
    with torch.random.fork_rng(devices=sorted(devices, key=str)):
        torch.manual_seed(seed)
        yield


def fit(
    loss: Callable[[int], torch.Tensor] | Mapping[str, Callable[[int], torch.Tensor]],
    optimizer: torch.optim.Optimizer | Mapping[str, torch.optim.Optimizer],
    steps: int,
    *,
    schedule: Callable[[int], float] | None = None,
    callbacks: Sequence[Callable[[int, History], None]] = (),
    seed: int | None = None,
) -> History:
    r"""Minimise a loss by ``steps`` steps of an optimiser, and record the run.

    At each step :math:`k = 1, \ldots, \text{steps}`, for each loss in turn:
    ``loss(k)`` is evaluated, the optimiser's gradients are cleared,
    the loss is back-propagated and the optimiser takes one step. The value
    of the loss (before the update) is recorded under its name, then the
    learning rate the step used under ``"lr"``, then each callback is called
    as ``callback(k, history)``. The callbacks are also called once with
    :math:`k = 0`, before the first step.

    Parameters
    ----------
    loss : callable or dict
        A function of the step number that returns a scalar tensor; or a
        dict of several such functions by name, minimised in turn at every
        step.
    optimizer : torch.optim.Optimizer or dict
        The optimiser of the loss; with several losses, a dict with one
        optimiser per loss under the same name.
    steps : int
        Number of steps, at least 0.
    schedule : callable, optional
        ``schedule(j)`` is the factor of every optimiser's learning rate at
        step :math:`k = j + 1` (a :class:`~torch.optim.lr_scheduler.LambdaLR`,
        which counts from 0); the learning rate is constant without one.
    callbacks : sequence of callable
        Functions ``callback(k, history)``, called before the first step and
        after every step.
    seed : int, optional
        Seed of PyTorch's global random state during the run, which is
        restored afterwards; without one, the run draws from the global state.

    Returns
    -------
    History
        The loss of every step under its name (``"loss"`` for a single loss),
        the learning rate of the first optimiser under ``"lr"``, and what the
        callbacks recorded.

    Raises
    ------
    TypeError
        If a loss is not callable, an optimiser not a
        :class:`torch.optim.Optimizer`, a callback not callable, or ``steps``
        or ``seed`` not an int.
    ValueError
        If ``steps`` is negative, the losses and the optimisers are not named
        alike, or a loss returns anything but a tensor with one element.
    FloatingPointError
        If a loss is NaN or infinite: the run has diverged.

    Examples
    --------
    >>> import torch
    >>> from gradland.train import fit
    >>> w = torch.zeros(2, requires_grad=True)
    >>> target = torch.tensor([1.0, -2.0])
    >>> history = fit(lambda k: ((w - target) ** 2).sum(),
    ...               torch.optim.SGD([w], lr=0.1), steps=50)
    >>> len(history.loss), round(history.loss[-1], 6), history.lr[0]
    (50, 0.0, 0.1)
    """
    losses = _named(loss, "loss", "callable", callable)
    optimizers = _named(
        optimizer, "optimizer", "a torch.optim.Optimizer", lambda o: isinstance(o, torch.optim.Optimizer)
    )
    if losses.keys() != optimizers.keys():
        raise ValueError(
            f"each loss needs an optimiser of the same name; got losses {list(losses)} "
            f"and optimisers {list(optimizers)}"
        )
    steps = _checks.integer("steps", steps, minimum=0)
    if schedule is not None:
        _checks.function("schedule", schedule, "callable")
    callbacks = tuple(callbacks)
    for callback in callbacks:
        _checks.function("each callback", callback, "callable")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"seed must be an int or None; got {describe(seed)}")

    first = next(iter(optimizers.values()))
    schedulers = [torch.optim.lr_scheduler.LambdaLR(o, schedule) for o in optimizers.values() if schedule is not None]
    history = History()
    with _seeded(seed, list(optimizers.values())):
        for callback in callbacks:
            callback(0, history)
        for k in range(1, steps + 1):
            for name, loss_fn in losses.items():
                value = loss_fn(k)
                if not isinstance(value, torch.Tensor) or value.numel() != 1:
                    raise ValueError(f"loss {name!r} must return a scalar tensor; got {describe(value)} at step {k}")
                opt = optimizers[name]
                opt.zero_grad(set_to_none=True)
                value.backward()
                opt.step()
                number = value.item()
                if not math.isfinite(number):
                    raise FloatingPointError(f"loss {name!r} is {number} at step {k}: the run has diverged")
                history.record(name, number)
            history.record("lr", first.param_groups[0]["lr"])
            for scheduler in schedulers:
                scheduler.step()
            for callback in callbacks:
                callback(k, history)
    return history
