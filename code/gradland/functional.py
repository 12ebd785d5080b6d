r"""Objects versus functions: a module as a pure function, and per-example gradients.

This module is the code of Chapter 5 of the book. A :class:`torch.nn.Module`
is an *object*: it holds its parameters (and its buffers, such as the running
statistics of batch normalisation) as state, and ``model(x)`` reads that
state, and sometimes changes it. The mathematics of learning sees the same
model as a *function* :math:`\bm{f}(\bm{\theta}, \bm{x})` of its parameters
:math:`\bm{\theta}` and its input :math:`\bm{x}`. The three functions below
move from the first view to the second:

* :func:`purify` turns a module into a pure function
  ``fn(params, buffers, x, seed)`` that returns the output *and the new
  buffers*, built on :func:`torch.func.functional_call`, with the randomness
  fixed by an explicit seed;
* :func:`per_example_grads_loop` computes the gradient of the loss of every
  example of a batch separately, the obvious way: one example at a time, with
  :func:`torch.autograd.grad`;
* :func:`per_example_grads_vmap` computes the same gradients at once, as the
  composition ``vmap(grad(loss))`` of two function transforms of
  :mod:`torch.func`.

Nothing here changes the module it is given: parameters, buffers and the
``.grad`` fields are left as they were. The tests check the two per-example
functions against each other and against the ordinary batch gradient.
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Callable, Iterator

import torch
from torch.func import functional_call, grad, vmap

from gradland import _checks

__all__ = ["purify", "per_example_grads_loop", "per_example_grads_vmap"]  # reading order

#: The type of the dictionaries of parameters, buffers and gradients: name -> tensor.
TensorDict = dict[str, torch.Tensor]


# ---------------------------------------------------------------------------
# Clear errors from what goes wrong inside the caller's model or loss.
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def _clear_errors(x: torch.Tensor, y: torch.Tensor) -> Iterator[None]:
    """Turn what goes wrong inside the model or the loss into errors that say which
    input is at fault: PyTorch's warning that a loss broadcast its target against
    the output (the gradients would be those of another loss), a value read out
    of a tensor, and a model that cannot take ``x``."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Using a target size", category=UserWarning)
        try:
            yield
        except UserWarning as warning:
            raise ValueError(f"y does not fit the model's output: {warning}") from None
        except RuntimeError as error:
            if ".item()" in str(error) or "data-dependent" in str(error):
                raise TypeError(
                    "loss_fn must compute the loss with torch operations; it reads a value "
                    "out of a tensor (.item(), float(...)), which no gradient goes through"
                ) from error
            raise ValueError(
                f"the model or loss_fn cannot take x, {_checks.describe(x)}, and y, {_checks.describe(y)}: {error}"
            ) from error


# ---------------------------------------------------------------------------
# From an object with state to a pure function.
# ---------------------------------------------------------------------------


def purify(
    module: torch.nn.Module,
) -> tuple[Callable[..., tuple[torch.Tensor, TensorDict]], TensorDict, TensorDict]:
    r"""Turn a module into a pure function of its parameters, buffers, input and seed.

    A call ``module(x)`` reads state that is not among its arguments (the
    parameters :math:`\bm{\theta}`, the buffers, the global random number
    generator) and may change it (batch normalisation updates its running
    statistics in training mode; dropout advances the generator). The
    function returned here takes all of that as arguments and returns the new
    state instead of writing it:

    .. code-block:: python

        y, new_buffers = fn(params, buffers, x, seed=0)

    computes :math:`\bm{y} = \bm{f}(\bm{\theta}, \bm{x})` with
    :func:`torch.func.functional_call`. It is *pure* in this precise sense:

    * its results depend only on its arguments: ``params``, ``buffers``,
      ``x`` and ``seed``. The architecture, the hyperparameters and the
      training or evaluation mode are those of ``module`` when ``purify`` was
      called: ``fn`` runs a private copy, so later changes to ``module``
      cannot reach it;
    * it has no side effects: it changes none of its arguments (the buffers
      are copied before the call, and the copies, updated, are returned as
      ``new_buffers``), nor ``module``, nor the global random number
      generator, whose state it saves and restores around the call;
    * randomness comes from ``seed`` alone: the same seed gives the same
      dropout masks, a new seed new ones. As with a JAX key, reusing a seed
      on purpose is fine and reusing it by accident is a bug.

    Parameters
    ----------
    module : torch.nn.Module
        The model, with the parameters and buffers to start from.

    Returns
    -------
    fn : callable
        ``fn(params, buffers, x, seed=0) -> (y, new_buffers)``. ``params``
        and ``buffers`` are dicts name -> tensor with the names of
        ``module.named_parameters()`` and ``module.named_buffers()``; ``x``
        is whatever ``module`` accepts; ``seed`` is an int. ``new_buffers``
        has the names of ``buffers``. ``fn`` works under the transforms of
        :mod:`torch.func` (for example :func:`torch.func.grad` with respect to
        ``params``).
    params : dict
        Detached copies of the parameters of ``module``, name -> tensor.
    buffers : dict
        Detached copies of its buffers, name -> tensor (empty if it has none).

    Raises
    ------
    TypeError
        If ``module`` is not a :class:`torch.nn.Module`; from ``fn``, if
        ``params`` or ``buffers`` is not a dict.
    KeyError
        From ``fn``, if ``params`` or ``buffers`` lacks a name of the module
        or has one the module does not know.

    Examples
    --------
    >>> import torch
    >>> from gradland.functional import purify
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    >>> fn, params, buffers = purify(model)  # model is in training mode
    >>> sorted(buffers)
    ['1.num_batches_tracked', '1.running_mean', '1.running_var']
    >>> x = torch.randn(4, 3)
    >>> y, new_buffers = fn(params, buffers, x)
    >>> torch.allclose(y, model(x))  # the same output as the module...
    True
    >>> int(buffers["1.num_batches_tracked"]), int(new_buffers["1.num_batches_tracked"])
    (0, 1)
    >>> # ...and the same again: no state moved
    >>> torch.equal(fn(params, buffers, x)[0], y)
    True
    """
    _checks.module("module", module)
    private = copy.deepcopy(module)  # frozen: architecture, settings, mode
    params = {k: p.detach().clone() for k, p in module.named_parameters()}
    buffers = {k: b.detach().clone() for k, b in module.named_buffers()}
    cuda_devices = list(range(torch.cuda.device_count()))

    def fn(
        params: TensorDict,
        buffers: TensorDict,
        x: torch.Tensor,
        seed: int = 0,
    ) -> tuple[torch.Tensor, TensorDict]:
        _checks.keys("parameters", params, dict(private.named_parameters()))
        _checks.keys("buffers", buffers, dict(private.named_buffers()))
        # copies of the state, for the module to update and for us to return
        new_buffers = {name: b.clone() for name, b in buffers.items()}
        with torch.random.fork_rng(devices=cuda_devices):  # restored on exit
            torch.manual_seed(seed)
            state = (params, new_buffers)
            y = functional_call(private, state, (x,), strict=True)
        return y, new_buffers

    return fn, params, buffers


# ---------------------------------------------------------------------------
# Per-example gradients, two ways.
# ---------------------------------------------------------------------------


def per_example_grads_loop(
    model: torch.nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
) -> TensorDict:
    r"""The gradient of each example's loss, one example at a time.

    For every example :math:`b = 1, \dots, B` of the batch it computes

    .. math::

        \bm{g}_b = \nabla_{\bm{\theta}}\,
        \ell\bigl(\bm{f}(\bm{\theta}, \bm{x}_b), \bm{y}_b\bigr),

    the gradient with respect to the parameters of the loss of example
    :math:`b` alone, by calling ``loss_fn(model(x[b:b+1]), y[b:b+1])`` on a
    batch of one example and then :func:`torch.autograd.grad`. This is the
    reference that :func:`per_example_grads_vmap` is checked against: simple,
    and :math:`B` times the work of one backward pass in Python.

    Parameters
    ----------
    model : torch.nn.Module
        Computes the outputs of a batch, ``model(x[b:b+1])``. It must treat
        every example on its own: a batch normalisation layer in training
        mode is refused.
    loss_fn : callable
        ``loss_fn(output, target)``, the scalar loss of a batch, such as
        :func:`torch.nn.functional.cross_entropy`. It is called on batches of
        one example.
    x : torch.Tensor
        The inputs, shape ``(B, ...)``, :math:`B \geq 1`, on the device of
        the model's parameters.
    y : torch.Tensor
        The targets, shape ``(B, ...)``: as many examples as ``x``.

    Returns
    -------
    dict
        name -> tensor of shape ``(B, *param.shape)``, for every parameter
        that requires a gradient: entry ``b`` is the gradient of example
        ``b``, with the shape of the parameter. If ``loss_fn`` averages over
        the batch, the mean over ``b`` is the gradient of the batch's loss;
        if it sums, the sum is.

    Raises
    ------
    TypeError
        If ``model`` is not a module, ``loss_fn`` is not callable, or ``x``
        or ``y`` is not a tensor.
    ValueError
        If ``x`` and ``y`` hold different numbers of examples, the batch is
        empty, ``x`` is not on the device of the parameters, the model has no
        trainable parameters or mixes examples (batch normalisation in
        training mode), or ``loss_fn`` does not return a scalar.

    See Also
    --------
    per_example_grads_vmap : the same gradients, by ``vmap(grad(loss))``.

    Examples
    --------
    >>> import torch
    >>> from gradland.functional import per_example_grads_loop
    >>> model = torch.nn.Linear(3, 1, bias=False)
    >>> with torch.no_grad():
    ...     _ = model.weight.fill_(1.0)
    >>> x = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    >>> y = torch.zeros(2, 1)
    >>> # loss (w @ x_b)**2 has gradient 2 (w @ x_b) x_b: (2, 0, 0) and (0, 8, 0)
    >>> per_example_grads_loop(model, torch.nn.functional.mse_loss, x, y)["weight"]
    tensor([[[2., 0., 0.]],
    <BLANKLINE>
            [[0., 8., 0.]]])
    """
    _checks.batch(model, loss_fn, x, y)
    named = [(k, p) for k, p in model.named_parameters() if p.requires_grad]
    params = [p for _, p in named]
    per_example: dict[str, list[torch.Tensor]] = {k: [] for k, _ in named}
    with torch.enable_grad(), _clear_errors(x, y):  # works inside torch.no_grad() too
        for b in range(x.shape[0]):
            loss = loss_fn(model(x[b : b + 1]), y[b : b + 1])  # a batch of one
            _checks.returned("loss_fn", loss, ndim=(0,), shape="(), the loss")
            grads = torch.autograd.grad(loss, params, allow_unused=True)
            for (k, p), g in zip(named, grads):  # None: p does not affect loss
                per_example[k].append(torch.zeros_like(p) if g is None else g)
    return {k: torch.stack(gs) for k, gs in per_example.items()}


def per_example_grads_vmap(
    model: torch.nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
) -> TensorDict:
    r"""The gradient of each example's loss, for the whole batch at once.

    Computes the same :math:`\bm{g}_1, \dots, \bm{g}_B` as
    :func:`per_example_grads_loop`, with two function transforms of
    :mod:`torch.func` composed: :func:`torch.func.grad` turns the loss of
    one example, a pure function of the parameters,
    ``loss(params, x_b, y_b)``, into the function that returns its gradient;
    :func:`torch.func.vmap` maps that function over the first dimension of
    ``x`` and ``y`` (``in_dims=(None, 0, 0)``: the parameters are shared, not
    mapped). There is no Python loop: every operation runs once, on the
    whole batch, through its batching rule.

    The module is called through :func:`torch.func.functional_call` with
    its own parameters and buffers, detached, passed as arguments; its state
    is not changed. Inside the map, ``x_b`` gets a batch dimension of size 1
    back before it reaches the model, so the model and ``loss_fn`` see
    exactly what they see in :func:`per_example_grads_loop`. Dropout, if the
    model is in training mode, draws a different mask for every example.

    Parameters
    ----------
    model : torch.nn.Module
        As in :func:`per_example_grads_loop`.
    loss_fn : callable
        As in :func:`per_example_grads_loop`: the scalar loss of a batch,
        called on batches of one example.
    x : torch.Tensor
        The inputs, shape ``(B, ...)``, :math:`B \geq 1`.
    y : torch.Tensor
        The targets, shape ``(B, ...)``.

    Returns
    -------
    dict
        name -> tensor of shape ``(B, *param.shape)``, as in
        :func:`per_example_grads_loop`.

    Raises
    ------
    TypeError
        As in :func:`per_example_grads_loop`.
    ValueError
        As in :func:`per_example_grads_loop`.

    See Also
    --------
    per_example_grads_loop : the same gradients, one example at a time.

    Examples
    --------
    >>> import torch
    >>> from gradland.functional import per_example_grads_vmap
    >>> model = torch.nn.Linear(3, 1, bias=False)
    >>> with torch.no_grad():
    ...     _ = model.weight.fill_(1.0)
    >>> x = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    >>> y = torch.zeros(2, 1)
    >>> per_example_grads_vmap(model, torch.nn.functional.mse_loss, x, y)["weight"]
    tensor([[[2., 0., 0.]],
    <BLANKLINE>
            [[0., 8., 0.]]])
    """
    _checks.batch(model, loss_fn, x, y)
    named = dict(model.named_parameters())
    params = {k: p.detach() for k, p in named.items() if p.requires_grad}
    frozen = {k: p.detach() for k, p in named.items() if not p.requires_grad}
    buffers = {k: b.detach() for k, b in model.named_buffers()}

    def loss_of_one(params: TensorDict, x_b: torch.Tensor, y_b: torch.Tensor):
        batch_of_one = x_b.unsqueeze(0)  # as in the loop
        state = (params, frozen, buffers)
        output = functional_call(model, state, (batch_of_one,))
        loss = loss_fn(output, y_b.unsqueeze(0))
        _checks.returned("loss_fn", loss, ndim=(0,), shape="(), the loss")
        return loss

    # grad: the gradient of one example's loss; vmap: for every example at once
    # randomness="different": a dropout mask per example
    per_example = vmap(grad(loss_of_one), in_dims=(None, 0, 0), randomness="different")
    with _clear_errors(x, y):
        return per_example(params, x, y)
