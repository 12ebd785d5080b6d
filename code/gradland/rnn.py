r"""Recurrent networks: the Elman network as one linear map of the stacked input and
state.

This module is the code of Chapter 12 of the book. An Elman network reads a
sequence :math:`\bm{x}[1], \dots, \bm{x}[T] \in \R^n` one element at a time
and carries a hidden state :math:`\bm{h}[t] \in \R^d` from step to step,

.. math::

   \bm{h}[t] = f\bigl(\bm{W}_x \bm{x}[t] + \bm{W}_h \bm{h}[t-1] + \bm{b}\bigr)
   = f\left(\begin{bmatrix} \bm{W}_x & \bm{W}_h \end{bmatrix}
   \begin{bmatrix} \bm{x}[t] \\ \bm{h}[t-1] \end{bmatrix} + \bm{b}\right),

with :math:`f` the hyperbolic tangent or the rectifier, applied entry by
entry. The second form is the one the code uses: one matrix
:math:`\bm{W} = [\bm{W}_x \; \bm{W}_h] \in \R^{d \times (n + d)}` applied to
the stacked vector, built with :func:`gradland.linalg.stack`.

Top to bottom:

* :class:`ElmanRNN`, the network, with :meth:`ElmanRNN.step` (one time step)
  and :meth:`ElmanRNN.forward` (the whole sequence, unrolled in time); it
  copies a :class:`torch.nn.RNN` with :meth:`ElmanRNN.from_torch` and turns
  into one with :meth:`ElmanRNN.to_torch`, PyTorch's fused implementation of
  the same map;
* :func:`delayed_recall`, :class:`RecallNet` and :func:`train_recall`, a
  memory test: output at every step the symbol seen :math:`k` steps before,
  trained with :func:`gradland.train.fit`.

Backpropagation through time by hand and the Jacobians of the states are in
:mod:`gradland.rnn_gradients`.

As everywhere in the package, a batch is stored with the examples first and
one element per row: a batch of :math:`B` sequences of length :math:`T` is a
tensor of shape ``(B, T, n)`` (PyTorch's ``batch_first=True``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from gradland import _checks, linalg
from gradland._checks import describe as _describe
from gradland.train import fit

__all__ = [
    "ElmanRNN",
    "delayed_recall",
    "RecallNet",
    "RecallResult",
    "train_recall",
]

#: The nonlinearities :math:`f` of an Elman network, as :class:`torch.nn.RNN` names them.
NONLINEARITIES = ("tanh", "relu")


def _activation(nonlinearity: str, u: torch.Tensor) -> torch.Tensor:
    return torch.tanh(u) if nonlinearity == "tanh" else torch.relu(u)


# --------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------


class ElmanRNN(nn.Module):
    r"""The Elman network
    :math:`\bm{h}[t] = f(\bm{W} [\bm{x}[t]; \bm{h}[t-1]] + \bm{b})`.

    The module holds **one** weight matrix, the concatenation
    :math:`\bm{W} = [\bm{W}_x \; \bm{W}_h] \in \R^{d \times (n + d)}`, and
    one bias :math:`\bm{b} \in \R^d`. The two blocks are available as the
    views :attr:`W_x` and :attr:`W_h`. The weights start uniform on
    :math:`[-1/\sqrt{d}, 1/\sqrt{d}]`, as in :class:`torch.nn.RNN`.

    Parameters
    ----------
    n : int
        Size :math:`n` of the input elements :math:`\bm{x}[t]`.
    d : int
        Size :math:`d` of the hidden state :math:`\bm{h}[t]`.
    nonlinearity : {"tanh", "relu"}
        The function :math:`f`, applied entry by entry.
    bias : bool
        Whether to add the bias :math:`\bm{b}`.
    device, dtype
        Where and in what precision (floating) to create the parameters.

    Raises
    ------
    TypeError
        If ``n`` or ``d`` is not an int, or ``dtype`` not a floating dtype;
        from the methods, for inputs that are not floating tensors of the
        network's dtype.
    ValueError
        If ``n`` or ``d`` is below 1, ``nonlinearity`` unknown or ``device``
        not one of this machine; from the methods, for inputs of the wrong
        shape or on another device.

    Examples
    --------
    >>> import torch
    >>> from gradland.rnn import ElmanRNN
    >>> rnn = ElmanRNN(3, 5)
    >>> rnn.weight.shape, rnn.W_x.shape, rnn.W_h.shape
    (torch.Size([5, 8]), torch.Size([5, 3]), torch.Size([5, 5]))
    >>> states, last = rnn(torch.randn(2, 7, 3))  # 2 sequences of length 7
    >>> states.shape, last.shape, torch.equal(states[:, -1], last)
    (torch.Size([2, 7, 5]), torch.Size([2, 5]), True)
    """

    def __init__(
        self,
        n: int,
        d: int,
        *,
        nonlinearity: str = "tanh",
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.n = _checks.integer("n", n, minimum=1)
        self.d = _checks.integer("d", d, minimum=1)
        self.nonlinearity = _checks.choice("nonlinearity", nonlinearity, NONLINEARITIES)
        device = None if device is None else _checks.device("device", device)
        kw = {"device": device, "dtype": _checks.dtype("dtype", dtype)}
        self.weight = nn.Parameter(torch.empty(d, n + d, **kw))
        self.bias = nn.Parameter(torch.empty(d, **kw)) if bias else None
        bound = 1 / math.sqrt(d)
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)
            if self.bias is not None:
                self.bias.uniform_(-bound, bound)

    @property
    def W_x(self) -> torch.Tensor:
        r"""The input block :math:`\bm{W}_x \in \R^{d \times n}`: the first :math:`n`
        columns of :math:`\bm{W}` (a view)."""
        return self.weight[:, : self.n]

    @property
    def W_h(self) -> torch.Tensor:
        r"""The recurrent block :math:`\bm{W}_h \in \R^{d \times d}`: the last :math:`d`
        columns of :math:`\bm{W}` (a view)."""
        return self.weight[:, self.n :]

    def extra_repr(self) -> str:
        return f"n={self.n}, d={self.d}, nonlinearity={self.nonlinearity!r}, bias={self.bias is not None}"

    def step(self, x_t: torch.Tensor, h_prev: torch.Tensor) -> torch.Tensor:
        r"""One time step:
        :math:`\bm{h}[t] = f(\bm{W} [\bm{x}[t]; \bm{h}[t-1]] + \bm{b})`.

        Parameters
        ----------
        x_t : torch.Tensor
            The input :math:`\bm{x}[t]`, shape ``(..., n)``.
        h_prev : torch.Tensor
            The previous state :math:`\bm{h}[t-1]`, shape ``(..., d)``, with
            the leading dimensions of ``x_t``; both floating, of the network's
            dtype and on its device.

        Returns
        -------
        torch.Tensor
            The new state :math:`\bm{h}[t]`, shape ``(..., d)``.

        Raises
        ------
        TypeError
            If ``x_t`` or ``h_prev`` is not a floating tensor of the network's
            dtype.
        ValueError
            If their last sizes are not :math:`n` and :math:`d`, their leading
            dimensions differ, or one is not on the network's device.

        Examples
        --------
        >>> import torch
        >>> from gradland.rnn import ElmanRNN
        >>> rnn = ElmanRNN(2, 3, bias=False)
        >>> x_t, h_prev = torch.randn(2), torch.randn(3)
        >>> two_products = torch.tanh(rnn.W_x @ x_t + rnn.W_h @ h_prev)
        >>> torch.allclose(rnn.step(x_t, h_prev), two_products)
        True
        """
        for name, value, size in (("x_t", x_t, self.n), ("h_prev", h_prev, self.d)):
            _checks.tensor(
                name,
                value,
                floating=True,
                size=size,
                shape=f"(..., {size})",
                reference=self.weight,
                owner="the network",
            )
        if x_t.shape[:-1] != h_prev.shape[:-1]:
            shapes = f"{tuple(x_t.shape)} and {tuple(h_prev.shape)}"
            raise ValueError(f"x_t and h_prev must have the same leading (batch) dimensions; got shapes {shapes}")
        v = linalg.stack(x_t, h_prev)  # [x[t]; h[t-1]], shape (..., n + d)
        u = linalg.linear(v, self.weight, self.bias)  # W v + b, one product
        return _activation(self.nonlinearity, u)

    def _check_sequence(self, x: object, h0: object) -> torch.Tensor:
        """Check a batch of sequences ``x``, (B, T, n) or (T, n) with T >= 1, and its
        initial state ``h0``; return ``h0``, zeros when None. Metadata only."""
        shape = f"(B, T, {self.n}) or (T, {self.n}) with T >= 1"
        _checks.tensor(
            "x", x, ndim=(2, 3), floating=True, size=self.n, shape=shape, reference=self.weight, owner="the network"
        )
        if x.shape[-2] == 0:
            raise ValueError(f"x must have shape {shape}; got {_describe(x)}")
        state_shape = (*x.shape[:-2], self.d)
        if h0 is None:
            return torch.zeros(state_shape, dtype=x.dtype, device=x.device)
        return _checks.tensor(
            "h0",
            h0,
            floating=True,
            exact=state_shape,
            shape=f"{state_shape} for this x",
            reference=self.weight,
            owner="the network",
        )

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Run the network over whole sequences: the unrolled loop over
        :math:`t = 1, \dots, T`.

        Parameters
        ----------
        x : torch.Tensor
            A batch of sequences, shape ``(B, T, n)``, or one sequence,
            shape ``(T, n)``.
        h0 : torch.Tensor, optional
            The initial state :math:`\bm{h}[0]`, shape ``(B, d)`` (or
            ``(d,)`` for one sequence); zero when omitted.

        Returns
        -------
        states : torch.Tensor
            All the states :math:`\bm{h}[1], \dots, \bm{h}[T]`, shape
            ``(B, T, d)`` (or ``(T, d)``).
        last : torch.Tensor
            The last state :math:`\bm{h}[T]`, shape ``(B, d)`` (or ``(d,)``).

        Raises
        ------
        TypeError
            If ``x`` or ``h0`` is not a floating tensor of the network's dtype.
        ValueError
            If ``x`` is not of shape ``(B, T, n)`` or ``(T, n)`` with
            :math:`T \ge 1`, ``h0`` not of the shape of a state, or one is not on
            the network's device.

        Examples
        --------
        >>> import torch
        >>> from gradland.rnn import ElmanRNN
        >>> rnn = ElmanRNN(1, 2)
        >>> states, last = rnn(torch.ones(4, 1))  # one sequence of length 4
        >>> states.shape, last.shape
        (torch.Size([4, 2]), torch.Size([2]))
        """
        h = self._check_sequence(x, h0)
        states = []
        for t in range(x.shape[-2]):  # the same step, with the same weights, at every t
            h = self.step(x[..., t, :], h)
            states.append(h)
        return torch.stack(states, dim=-2), h

    @classmethod
    def from_torch(cls, rnn: nn.RNN) -> ElmanRNN:
        r"""A copy of a single-layer, unidirectional ``torch.nn.RNN`` (same function,
        same outputs).

        PyTorch stores ``weight_ih_l0`` :math:`= \bm{W}_x` and
        ``weight_hh_l0`` :math:`= \bm{W}_h` apart, and two biases that are
        simply added, so :math:`\bm{W} = [\bm{W}_x \; \bm{W}_h]` and
        :math:`\bm{b} = \bm{b}_{ih} + \bm{b}_{hh}`. The copy's
        :meth:`forward` takes ``(B, T, n)`` batches, as an ``nn.RNN`` built
        with ``batch_first=True`` does.

        Examples
        --------
        >>> import torch
        >>> from gradland.rnn import ElmanRNN
        >>> theirs = torch.nn.RNN(3, 4, batch_first=True)
        >>> ours = ElmanRNN.from_torch(theirs)
        >>> x = torch.randn(2, 5, 3)
        >>> torch.allclose(ours(x)[0], theirs(x)[0], atol=1e-6)
        True
        """
        if not isinstance(rnn, nn.RNN):
            raise TypeError(f"expected a torch.nn.RNN; got {type(rnn).__name__}")
        if rnn.num_layers != 1 or rnn.bidirectional or getattr(rnn, "proj_size", 0):
            raise ValueError(
                "only a single-layer, unidirectional torch.nn.RNN can be copied; got "
                f"num_layers={rnn.num_layers}, bidirectional={rnn.bidirectional}"
            )
        w_ih = rnn.weight_ih_l0
        ours = cls(
            rnn.input_size,
            rnn.hidden_size,
            nonlinearity=rnn.nonlinearity,
            bias=rnn.bias,
            device=w_ih.device,
            dtype=w_ih.dtype,
        )
        with torch.no_grad():
            ours.weight.copy_(linalg.concat(w_ih, rnn.weight_hh_l0))
            if rnn.bias:
                ours.bias.copy_(rnn.bias_ih_l0 + rnn.bias_hh_l0)
        return ours

    def to_torch(self) -> nn.RNN:
        r"""The same network as a ``torch.nn.RNN(n, d, batch_first=True)``, PyTorch's
        fused implementation.

        The bias goes into ``bias_ih_l0``; ``bias_hh_l0`` is zero.

        Returns
        -------
        torch.nn.RNN
            A copy of the weights, on the network's device and in its dtype.

        Examples
        --------
        >>> import torch
        >>> from gradland.rnn import ElmanRNN
        >>> ours = ElmanRNN(3, 4, nonlinearity="relu")
        >>> x = torch.randn(2, 5, 3)
        >>> torch.allclose(ours.to_torch()(x)[0], ours(x)[0], atol=1e-6)
        True
        """
        theirs = nn.RNN(
            self.n,
            self.d,
            nonlinearity=self.nonlinearity,
            bias=self.bias is not None,
            batch_first=True,
            device=self.weight.device,
            dtype=self.weight.dtype,
        )
        with torch.no_grad():
            theirs.weight_ih_l0.copy_(self.W_x)
            theirs.weight_hh_l0.copy_(self.W_h)
            if self.bias is not None:
                theirs.bias_ih_l0.copy_(self.bias)
                theirs.bias_hh_l0.zero_()
        return theirs


# --------------------------------------------------------------------------
# A memory test: recall the symbol seen k steps ago
# --------------------------------------------------------------------------


def delayed_recall(
    batch: int,
    length: int,
    delay: int,
    symbols: int = 4,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Sequences of random symbols, and as targets the symbol seen ``delay`` steps
    before.

    Each sequence is :math:`s[1], \dots, s[T]`, symbols drawn uniformly from
    :math:`\{0, \dots, K - 1\}` and given to the network one-hot,
    :math:`\bm{x}[t] = \bm{e}_{s[t]} \in \R^K`. The target at step :math:`t`
    is :math:`s[t - k]`; the first :math:`k` steps have nothing to recall and
    get the target ``-100``, which :func:`torch.nn.functional.cross_entropy`
    ignores. Guessing gives an accuracy of :math:`1/K`.

    Parameters
    ----------
    batch : int
        Number :math:`B` of sequences.
    length : int
        Their length :math:`T`.
    delay : int
        The delay :math:`k`, with :math:`0 \le k < T`.
    symbols : int
        The number :math:`K` of symbols, at least 2.
    generator : torch.Generator, optional
        The source of randomness, on the CPU, so that a seed gives the same
        sequences on every device; the global one when omitted.
    device, dtype
        Where to put the result (the CPU by default), and the floating dtype
        of the inputs (PyTorch's default dtype by default).

    Returns
    -------
    x : torch.Tensor
        The one-hot inputs, shape ``(B, T, K)``.
    target : torch.Tensor
        The targets, integer, shape ``(B, T)``.

    Raises
    ------
    TypeError
        If a count is not an int, ``dtype`` not a floating dtype, or
        ``generator`` not a :class:`torch.Generator`.
    ValueError
        If a count is below 1, ``symbols`` below 2, ``delay`` outside
        :math:`[0, T)`, ``generator`` not on the CPU, or ``device`` not one of
        this machine.

    Examples
    --------
    >>> import torch
    >>> from gradland.rnn import delayed_recall
    >>> x, target = delayed_recall(1, 6, 2, generator=torch.Generator().manual_seed(0))
    >>> x.argmax(-1)
    tensor([[0, 3, 1, 0, 3, 3]])
    >>> target
    tensor([[-100, -100,    0,    3,    1,    0]])
    """
    batch = _checks.integer("batch", batch, minimum=1)
    length = _checks.integer("length", length, minimum=1)
    symbols = _checks.integer("symbols", symbols, minimum=2)
    delay = _checks.integer("delay", delay, minimum=0)
    if not delay < length:
        raise ValueError(f"delay must be an int with 0 <= delay < length = {length}; got {delay!r}")
    generator, device = _checks.generator("generator", generator), _checks.device("device", device)
    dtype = _checks.dtype("dtype", dtype) or torch.get_default_dtype()
    s = torch.randint(symbols, (batch, length), generator=generator)
    target = torch.full_like(s, -100)
    target[:, delay:] = s[:, : length - delay]
    x = F.one_hot(s, symbols).to(dtype)
    return x.to(device), target.to(device)


class RecallNet(nn.Module):
    r"""An Elman network with an output map:
    :math:`\bm{y}[t] = \bm{W}_y \bm{h}[t] + \bm{b}_y`.

    The outputs are the scores (logits) of the :math:`K` symbols at every
    step, shape ``(B, T, K)``.

    Parameters
    ----------
    symbols : int
        The number :math:`K` of symbols, the size of the inputs and outputs.
    d : int
        The size of the hidden state.
    nonlinearity : {"tanh", "relu"}
        The nonlinearity of the recurrent network.
    device, dtype
        As in :class:`ElmanRNN`.

    Raises
    ------
    TypeError
        If ``symbols`` or ``d`` is not an int; as in :class:`ElmanRNN`.
    ValueError
        If ``symbols`` or ``d`` is below 1; as in :class:`ElmanRNN`.

    Examples
    --------
    >>> import torch
    >>> from gradland.rnn import RecallNet, delayed_recall
    >>> x, _ = delayed_recall(2, 5, 1)
    >>> RecallNet(4, 16)(x).shape
    torch.Size([2, 5, 4])
    """

    def __init__(
        self,
        symbols: int,
        d: int,
        *,
        nonlinearity: str = "tanh",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        symbols = _checks.integer("symbols", symbols, minimum=1)
        self.rnn = ElmanRNN(symbols, d, nonlinearity=nonlinearity, device=device, dtype=dtype)
        self.readout = nn.Linear(d, symbols, device=device, dtype=dtype)  # W_y, b_y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The scores of the symbols at every step.

        Parameters
        ----------
        x : torch.Tensor
            One-hot inputs, shape ``(B, T, K)``, as :func:`delayed_recall` makes
            them (or one sequence, ``(T, K)``).

        Returns
        -------
        torch.Tensor
            The scores (logits), shape ``(B, T, K)`` (or ``(T, K)``).

        Raises
        ------
        TypeError, ValueError
            As :meth:`ElmanRNN.forward`.
        """
        states, _ = self.rnn(x)
        return self.readout(states)


@dataclass
class RecallResult:
    """What :func:`train_recall` returns.

    Attributes
    ----------
    model : RecallNet
        The trained network, in evaluation mode.
    losses : list of float
        The training loss (cross-entropy) at each step.
    accuracy : float
        The fraction of symbols recalled correctly on fresh test sequences.
    checkpoints : dict
        The same fraction, on the same test sequences, after each step asked for
        (the key).

    Examples
    --------
    >>> from gradland.rnn import RecallResult, train_recall
    >>> result = train_recall(1, length=6, d=8, steps=5, checkpoints=(5,))
    >>> isinstance(result, RecallResult), len(result.losses)
    (True, 5)
    >>> result.checkpoints[5] == result.accuracy  # the last step is the final model
    True
    """

    model: RecallNet
    losses: list[float] = field(default_factory=list)
    accuracy: float = float("nan")
    checkpoints: dict[int, float] = field(default_factory=dict)


def train_recall(
    delay: int,
    *,
    length: int = 40,
    symbols: int = 4,
    d: int = 32,
    steps: int = 300,
    batch_size: int = 32,
    lr: float = 1e-2,
    test_size: int = 256,
    checkpoints: tuple[int, ...] = (),
    seed: int = 0,
    device: torch.device | str | None = None,
) -> RecallResult:
    r"""Train a :class:`RecallNet` on :func:`delayed_recall` with delay :math:`k` and
    measure its accuracy.

    Each step draws a fresh batch and takes one Adam step on the
    cross-entropy of all the steps that have a target, by
    :func:`gradland.train.fit`; the gradient is computed by backpropagation
    through time over the whole sequence. Gradients whose norm exceeds 1 are
    scaled down to norm 1 (clipping), before each step of the optimiser,
    which keeps an exploding gradient from throwing the weights away.

    Parameters
    ----------
    delay : int
        The delay :math:`k`.
    length, symbols
        The length :math:`T` of the sequences and the number :math:`K` of symbols.
    d : int
        The size of the hidden state.
    steps, batch_size, lr
        Number of Adam steps, sequences per step, learning rate (positive and
        finite).
    test_size : int
        Number of fresh sequences on which the accuracy is measured.
    checkpoints : tuple of int
        Steps after which the accuracy is also measured, to see how it grows
        with training.
    seed : int
        Seed of the initial weights and of the data, both drawn on the CPU,
        so that every device trains the same network on the same sequences.
    device
        Where to train.

    Returns
    -------
    RecallResult
        The model, the losses, the test accuracy and the accuracies at the checkpoints.

    Raises
    ------
    TypeError
        If a count or ``seed`` is not an int, or ``lr`` not a real number.
    ValueError
        If a count or ``lr`` is out of range, a checkpoint is not a step of
        the run, or ``device`` is not one of this machine or holds no values
        (``"meta"``).
    FloatingPointError
        If a loss is NaN or infinite: the run has diverged.

    Examples
    --------
    >>> from gradland.rnn import train_recall
    >>> result = train_recall(1, length=6, d=16, steps=30, checkpoints=(10,))
    >>> len(result.losses), result.accuracy > 0.5, list(result.checkpoints)
    (30, True, [10])
    """
    steps = _checks.integer("steps", steps, minimum=1)
    batch_size = _checks.integer("batch_size", batch_size, minimum=1)
    test_size = _checks.integer("test_size", test_size, minimum=1)
    symbols = _checks.integer("symbols", symbols, minimum=2)
    lr, seed = _checks.real("lr", lr, positive=True), _checks.integer("seed", seed)
    checkpoints = _checks.integers("checkpoints", checkpoints, minimum=1, maximum=steps)
    device = _checks.device("device", device)
    if device.type == "meta":
        raise ValueError("device must hold values to train on; got 'meta'")
    with torch.random.fork_rng(devices=[]):  # seed the weights, leave the global state alone
        torch.manual_seed(seed)
        model = RecallNet(symbols, d).to(device)  # drawn on the CPU: the same network on every device
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    optimiser.register_step_pre_hook(lambda *_: _clip(model))  # between fit's backward and step
    rng = torch.Generator().manual_seed(seed)
    x_test, target_test = delayed_recall(test_size, length, delay, symbols, generator=rng, device=device)
    counted = target_test != -100

    def test_accuracy() -> float:
        with torch.no_grad():
            guess = model(x_test).argmax(-1)
        return (guess[counted] == target_test[counted]).double().mean().item()

    def loss(k: int) -> torch.Tensor:
        x, target = delayed_recall(batch_size, length, delay, symbols, generator=rng, device=device)
        return F.cross_entropy(model(x).flatten(0, 1), target.flatten())

    accuracies = {}

    def checkpoint(k: int, history: object) -> None:
        if k in checkpoints:
            accuracies[k] = test_accuracy()

    history = fit(loss, optimiser, steps, callbacks=[checkpoint], seed=seed)
    model.eval()
    return RecallResult(model, history.loss, test_accuracy(), accuracies)


def _clip(model: nn.Module) -> None:
    """Scale the gradient of ``model`` down to norm 1 if it is longer."""
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
