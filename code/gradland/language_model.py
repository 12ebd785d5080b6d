r"""Transformer language models: the encoder–predictor–decoder and the causal model.

This module is the code of the second half of Chapter 14 of the book: the
models built from the blocks of :mod:`gradland.transformer`, and how they are
trained and evaluated. A batch of token sequences is an int64 tensor of shape
``(B, T)``.

Top to bottom:

* :func:`shift_right`, which delays a sequence by one step;
* :class:`EncoderPredictorDecoder`, the sequence-to-sequence transformer read
  as a conditional language model, with greedy decoding;
* :class:`LanguageModel`, the causal (decoder-only) transformer, with sampling
  at a temperature;
* :func:`train_seq2seq`, :func:`sequence_accuracy`,
  :func:`train_language_model` and :func:`language_model_loss`, the
  training and evaluation loops (Adam with a linear warm-up and a cosine
  decay, run by :func:`gradland.train.fit`). The reversal task of the chapter
  is :func:`gradland.data.reversal_task`.

Tokens are checked where they enter from the user: their values (one transfer
from the device) by the models' public methods and by the loops, once per
call. Inside, the blocks check metadata only, so that neither a decoding step
nor a training step makes the CPU wait for the GPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from gradland import _checks
from gradland._checks import describe as _describe
from gradland.attention import causal_mask
from gradland.train import History, fit
from gradland.transformer import DecoderBlock, EncoderBlock, sinusoidal_positions

__all__ = [
    "shift_right",
    "EncoderPredictorDecoder",
    "LanguageModel",
    "train_seq2seq",
    "sequence_accuracy",
    "train_language_model",
    "language_model_loss",
]


# ---------------------------------------------------------------------------
# The input checks: token values once, where tokens enter.

#: Why ``d_model`` must be even, for the message.
_EVEN = "for the sine-cosine position codes"


def _check_pairs(model: object, x: object, y: object, *, x_values: bool = True) -> None:
    """Fail unless ``model`` is an :class:`EncoderPredictorDecoder` and ``x``, ``y`` as
    many of its source and target sequences."""
    _checks.instance("model", model, EncoderPredictorDecoder, "an EncoderPredictorDecoder")
    device = model.decoder.weight.device
    if x_values:
        _checks.indices("x", x, model.vocab_x, device)
    else:
        _checks.tensor("x", x, ndim=2, shape="(N, T')")
    _checks.indices("y", y, model.vocab_y, device)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y must hold as many sequences, at least one; got {_describe(x)} and {_describe(y)}")


# ---------------------------------------------------------------------------
# The delay by one step.


def shift_right(y: torch.Tensor, start: int) -> torch.Tensor:
    r"""Delay the sequences ``y`` ``(B, T)`` by one step: put ``start`` first and drop
    the last token.

    Position :math:`t` of the result holds :math:`y[t - 1]`: the input from
    which a language model must predict :math:`y[t]`.

    Parameters
    ----------
    y : torch.Tensor
        Integer, shape ``(B, T)`` with :math:`T \geq 1`.
    start : int
        The start symbol, at least 0.

    Returns
    -------
    torch.Tensor
        Shape ``(B, T)``, of the dtype of ``y``.

    Raises
    ------
    TypeError
        If ``y`` is not an integer tensor or ``start`` not an int.
    ValueError
        If ``y`` is not 2-D or empty, or ``start`` does not fit its dtype.

    Examples
    --------
    >>> import torch
    >>> from gradland.language_model import shift_right
    >>> shift_right(torch.tensor([[7, 8, 9]]), start=0)
    tensor([[0, 7, 8]])
    """
    _checks.tensor("y", y, ndim=2, shape="(B, T)")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"y must be an integer tensor of shape (B, T); got {_describe(y)}")
    start = _checks.integer("start", start, minimum=0)
    if y.shape[1] == 0 or start > torch.iinfo(y.dtype).max:
        raise ValueError(f"y must hold T >= 1 tokens, and start fit its dtype; got {_describe(y)} and {start}")
    return torch.cat((y.new_full((y.shape[0], 1), start), y[:, :-1]), dim=1)


# ---------------------------------------------------------------------------
# Two models: the encoder-predictor-decoder and the causal language model.


class _Embedding(nn.Module):
    """Token embedding plus sinusoidal position codes."""

    def __init__(self, vocab: int, d_model: int, **kw) -> None:
        super().__init__()
        self.vocab = vocab
        self.tokens = nn.Embedding(vocab, d_model, **kw)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        e = self.tokens(tokens)
        return e + sinusoidal_positions(tokens.shape[1], e.shape[-1], device=e.device, dtype=e.dtype)


class EncoderPredictorDecoder(nn.Module):
    r"""The sequence-to-sequence transformer, read as a conditional language model.

    Four parts, named after what they do:

    * ``encoder``: embeds the context :math:`\bm{x}` (tokens plus positions)
      and maps it through :class:`~gradland.transformer.EncoderBlock` layers
      to the memory :math:`\bm{M}`;
    * ``embed_y``: embeds the target delayed by one step, the start symbol
      followed by :math:`y[1], \dots, y[T - 1]` (the second encoder);
    * ``predictor``: :class:`~gradland.transformer.DecoderBlock` layers,
      causal in the target and attending to the memory: at step :math:`t`
      they predict the representation of the *next* symbol :math:`y[t]`;
    * ``decoder``: a linear map from that representation to the logits of
      the ``vocab_y`` target symbols.

    Parameters
    ----------
    vocab_x, vocab_y : int
        Numbers of source and target symbols. The start symbol is the extra
        index ``vocab_y`` of the target embedding, stored as ``start``.
    d_model, heads, layers, d_ff, activation, norm_first, fused
        Sizes and options of the blocks (``layers`` encoder blocks and as
        many decoder blocks). With ``norm_first`` a final layer norm closes
        each stack, as in :class:`torch.nn.Transformer`.
    device, dtype : optional
        Where and in what (floating-point) precision to keep the weights.

    Raises
    ------
    TypeError, ValueError
        If a size is not an int of at least 1, or as
        :class:`~gradland.transformer.EncoderBlock`.

    Examples
    --------
    >>> import torch
    >>> from gradland.language_model import EncoderPredictorDecoder, shift_right
    >>> model = EncoderPredictorDecoder(10, 10, d_model=16, heads=2, layers=1)
    >>> x, y = torch.randint(10, (4, 6)), torch.randint(10, (4, 6))
    >>> model(x, shift_right(y, model.start)).shape      # logits of y[1..T]
    torch.Size([4, 6, 10])
    >>> model.generate(x, 6).shape                       # greedy decoding
    torch.Size([4, 6])
    """

    def __init__(
        self,
        vocab_x: int,
        vocab_y: int,
        *,
        d_model: int = 64,
        heads: int = 4,
        layers: int = 2,
        d_ff: int | None = None,
        activation: str = "relu",
        norm_first: bool = True,
        fused: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        _checks.sizes(vocab_x=vocab_x, vocab_y=vocab_y, layers=layers)
        _checks.integer("d_model", d_model, minimum=1, even=_EVEN)
        _checks.factory(device, dtype)
        kw = {"device": device, "dtype": dtype}
        block = {"d_ff": d_ff, "activation": activation, "norm_first": norm_first, "fused": fused, **kw}
        self.vocab_x, self.vocab_y, self.start = vocab_x, vocab_y, vocab_y
        self.embed_x = _Embedding(vocab_x, d_model, **kw)
        self.encoder = nn.ModuleList(EncoderBlock(d_model, heads, **block) for _ in range(layers))
        self.embed_y = _Embedding(vocab_y + 1, d_model, **kw)
        self.predictor = nn.ModuleList(DecoderBlock(d_model, heads, **block) for _ in range(layers))
        final = (lambda: nn.LayerNorm(d_model, **kw)) if norm_first else nn.Identity
        self.encoder_norm, self.predictor_norm = final(), final()
        self.decoder = nn.Linear(d_model, vocab_y, **kw)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        r"""The memory :math:`\bm{M}` of the context tokens ``x``.

        Parameters
        ----------
        x : torch.Tensor
            Int64 tokens ``(B, T')`` in ``0..vocab_x - 1`` on the model's device.

        Returns
        -------
        torch.Tensor
            The memory, shape ``(B, T', d_model)``.

        Raises
        ------
        TypeError
            If ``x`` is not an int64 tensor.
        ValueError
            If ``x`` is not 2-D, empty, on another device than the model, or
            holds a token outside ``0..vocab_x - 1``.
        """
        _checks.indices("x", x, self.vocab_x, self.decoder.weight.device)
        return self._encode(x)

    def predict(self, memory: torch.Tensor, y_in: torch.Tensor) -> torch.Tensor:
        """The logits of the next symbols given the memory and the delayed targets
        (:meth:`cross_attention_weights` gives the cross-attention's coefficients).

        Parameters
        ----------
        memory : torch.Tensor
            The memory from :meth:`encode`, shape ``(B, T', d_model)``.
        y_in : torch.Tensor
            The delayed targets, int64 tokens ``(B, T)`` in ``0..vocab_y`` (the
            start symbol included); checked.

        Returns
        -------
        torch.Tensor
            Logits, shape ``(B, T, vocab_y)``: row :math:`t` scores the symbol
            that follows ``y_in[:, :t+1]``.

        Raises
        ------
        TypeError, ValueError
            As :meth:`encode`, for ``y_in``; or if ``memory`` does not fit.
        """
        _checks.indices("y_in", y_in, self.vocab_y + 1, self.decoder.weight.device)  # the start symbol too
        _checks.tensor("memory", memory, ndim=3, shape="(B, T', d)")
        if len(memory) != len(y_in):
            raise ValueError(
                f"y_in and memory must hold as many sequences; got {_describe(y_in)} and {_describe(memory)}"
            )
        return self._predict(memory, y_in)

    def cross_attention_weights(self, memory: torch.Tensor, y_in: torch.Tensor) -> list[torch.Tensor]:
        """The cross-attention coefficients of every predictor block.

        Parameters
        ----------
        memory, y_in : torch.Tensor
            As in :meth:`predict`.

        Returns
        -------
        list of torch.Tensor
            One tensor ``(B, heads, T, T')`` per predictor block, in order: row
            :math:`t` holds the weights of the context positions at step :math:`t`.

        Raises
        ------
        TypeError, ValueError
            As :meth:`predict`.
        """
        _checks.indices("y_in", y_in, self.vocab_y + 1, self.decoder.weight.device)  # the start symbol too
        _checks.tensor("memory", memory, ndim=3, shape="(B, T', d)")
        if len(memory) != len(y_in):
            raise ValueError(
                f"y_in and memory must hold as many sequences; got {_describe(y_in)} and {_describe(memory)}"
            )
        h, weights = self.embed_y(y_in), []
        for block in self.predictor:
            weights.append(block.cross_attention_weights(h, memory))
            h = block(h, memory)
        return weights

    def forward(self, x: torch.Tensor, y_in: torch.Tensor) -> torch.Tensor:
        """The logits of the next symbols given the context and the delayed targets.

        Parameters
        ----------
        x : torch.Tensor
            The contexts, as in :meth:`encode`.
        y_in : torch.Tensor
            The delayed targets ``shift_right(y, model.start)``, as in :meth:`predict`.

        Returns
        -------
        torch.Tensor
            Logits, shape ``(B, T, vocab_y)``, as :meth:`predict` returns.

        Raises
        ------
        TypeError, ValueError
            As :meth:`encode` for ``x`` and :meth:`predict` for ``y_in``.
        """
        return self.predict(self.encode(x), y_in)

    @torch.no_grad()
    def generate(self, x: torch.Tensor, length: int) -> torch.Tensor:
        """Greedy decoding: ``length`` symbols, each the argmax given the context and
        the symbols before it.

        Parameters
        ----------
        x : torch.Tensor
            The contexts, int64 tokens ``(B, T')``, checked once.
        length : int
            Number of symbols to write, at least 1.

        Returns
        -------
        torch.Tensor
            The symbols, shape ``(B, length)``, without the start symbol.

        Raises
        ------
        TypeError, ValueError
            If ``x`` is not a tensor of the model's tokens, on its device, or
            ``length`` is not an int of at least 1.
        """
        length = _checks.integer("length", length, minimum=1)
        memory = self.encode(x)
        y_in = torch.full((x.shape[0], 1), self.start, dtype=torch.long, device=x.device)
        for _ in range(length):  # the symbols it writes need no check
            nxt = self._predict(memory, y_in)[:, -1].argmax(dim=-1)
            y_in = torch.cat((y_in, nxt[:, None]), dim=1)
        return y_in[:, 1:]

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        m = self.embed_x(x)
        for block in self.encoder:
            m = block(m)
        return self.encoder_norm(m)

    def _predict(self, memory: torch.Tensor, y_in: torch.Tensor) -> torch.Tensor:
        h = self.embed_y(y_in)
        for block in self.predictor:
            h = block(h, memory)
        return self.decoder(self.predictor_norm(h))


class LanguageModel(nn.Module):
    r"""A causal transformer language model: the predictor without a context.

    Embedding with sinusoidal positions, ``layers``
    :class:`~gradland.transformer.EncoderBlock` layers made causal by
    :func:`gradland.attention.causal_mask`, a final layer norm (with
    ``norm_first``), and a linear decoder to the logits of the ``vocab``
    symbols. Fed the sequence :math:`y[1], \dots, y[t]`, row
    :math:`t` of its output scores :math:`y[t + 1]`.

    Parameters
    ----------
    vocab : int
        Number of symbols.
    d_model, heads, layers, d_ff, activation, norm_first, fused, device, dtype
        As in :class:`EncoderPredictorDecoder`.

    Raises
    ------
    TypeError, ValueError
        As :class:`EncoderPredictorDecoder`.

    Examples
    --------
    >>> import torch
    >>> from gradland.language_model import LanguageModel
    >>> lm = LanguageModel(5, d_model=8, heads=2, layers=1)
    >>> tokens = torch.randint(5, (2, 7))
    >>> lm(tokens).shape
    torch.Size([2, 7, 5])
    >>> rng = torch.Generator().manual_seed(0)
    >>> lm.sample(tokens[:1, :3], 4, temperature=0.5, generator=rng).shape
    torch.Size([1, 7])
    """

    def __init__(
        self,
        vocab: int,
        *,
        d_model: int = 64,
        heads: int = 4,
        layers: int = 2,
        d_ff: int | None = None,
        activation: str = "relu",
        norm_first: bool = True,
        fused: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        _checks.sizes(vocab=vocab, layers=layers)
        _checks.integer("d_model", d_model, minimum=1, even=_EVEN)
        _checks.factory(device, dtype)
        kw = {"device": device, "dtype": dtype}
        block = {"d_ff": d_ff, "activation": activation, "norm_first": norm_first, "fused": fused, **kw}
        self.vocab = vocab
        self.embed = _Embedding(vocab, d_model, **kw)
        self.blocks = nn.ModuleList(EncoderBlock(d_model, heads, **block) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model, **kw) if norm_first else nn.Identity()
        self.decoder = nn.Linear(d_model, vocab, **kw)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """The logits of the next symbol at every position of ``tokens``.

        Parameters
        ----------
        tokens : torch.Tensor
            Int64 tokens ``(B, T)`` in ``0..vocab - 1`` on the model's device.

        Returns
        -------
        torch.Tensor
            Logits, shape ``(B, T, vocab)``: row :math:`t` scores the symbol
            that follows ``tokens[:, :t+1]``.

        Raises
        ------
        TypeError, ValueError
            As :meth:`EncoderPredictorDecoder.encode`, for ``tokens`` in
            ``0..vocab - 1``.
        """
        _checks.indices("tokens", tokens, self.vocab, self.decoder.weight.device)
        return self._logits(tokens)

    @torch.no_grad()
    def sample(
        self,
        prompt: torch.Tensor,
        n: int,
        *,
        temperature: float = 1.0,
        context: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        r"""Extend ``prompt`` ``(B, T)`` by ``n`` symbols drawn one at a time.

        Each symbol is drawn from :math:`\softargmax(\beta\, \bm{s})`, where
        :math:`\bm{s}` are the logits and :math:`\beta = 1 / \text{temperature}`:
        a low temperature (large :math:`\beta`) approaches the argmax, a high
        one the uniform distribution. Only the last ``context`` symbols are
        fed back (all by default). ``generator`` is a CPU generator, for
        reproducible samples.

        Parameters
        ----------
        prompt : torch.Tensor
            Int64 tokens ``(B, T)`` in ``0..vocab - 1``, checked once.
        n : int
            Number of symbols to draw, at least 0.
        temperature : float
            A finite positive number.
        context : int, optional
            At least 1.
        generator : torch.Generator, optional
            A CPU generator.

        Returns
        -------
        torch.Tensor
            The prompt followed by the ``n`` symbols, shape ``(B, T + n)``.

        Raises
        ------
        TypeError
            If an argument has the wrong type (``generator`` must be a
            :class:`torch.Generator` or None).
        ValueError
            If ``prompt`` holds tokens outside ``0..vocab - 1`` or is on another
            device, ``n < 0``, ``context < 1``, the temperature is not a finite
            positive number, or ``generator`` does not draw on the CPU.
        """
        n = _checks.integer("n", n, minimum=0)
        temperature = _checks.real("temperature", temperature, positive=True)
        if context is not None:
            context = _checks.integer("context", context, minimum=1)
        _checks.generator("generator", generator)
        _checks.indices("prompt", prompt, self.vocab, self.decoder.weight.device)
        out = prompt
        for _ in range(n):  # the symbols it draws need no check
            window = out if context is None else out[:, -context:]
            probs = torch.softmax(self._logits(window)[:, -1].double() / temperature, dim=-1)
            nxt = torch.multinomial(probs.cpu(), 1, generator=generator).to(out.device)
            out = torch.cat((out, nxt), dim=1)
        return out

    def _logits(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.embed(tokens)
        mask = causal_mask(tokens.shape[1], device=tokens.device)
        for block in self.blocks:
            h = block(h, mask)
        return self.decoder(self.norm(h))


# ---------------------------------------------------------------------------
# Training and evaluation: Adam with a warm-up and a cosine decay, run by fit.


def _adam(model: nn.Module, steps: object, lr: object, warmup: object) -> tuple[torch.optim.Optimizer, Callable]:
    """Adam, and the factor of its learning rate: a linear rise for ``warmup`` steps,
    then a cosine decay.

    The cosine runs over ``steps - warmup + 1`` steps, so that the rate of the last step
    is small but not 0: every step of the budget moves the weights.
    """
    steps, warmup = _checks.integer("steps", steps, minimum=0), _checks.integer("warmup", warmup, minimum=0)
    opt = torch.optim.Adam(
        model.parameters(), lr=_checks.real("lr", lr, positive=True), betas=(0.9, 0.98), foreach=True
    )

    def schedule(j: int) -> float:  # the factor of step k = j + 1 = 1, 2, ..., steps
        if j + 1 <= warmup:
            return (j + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (j + 1 - warmup) / (steps - warmup + 1)))

    return opt, schedule


def _train(model: nn.Module, loss: Callable[[int], torch.Tensor], steps: int, lr: float, warmup: int) -> History:
    """Minimise ``loss`` by :func:`_adam`'s optimiser and schedule, in training mode."""
    opt, schedule = _adam(model, steps, lr, warmup)
    model.train()
    try:
        return fit(loss, opt, steps, schedule=schedule)
    finally:
        model.eval()


def train_seq2seq(
    model: EncoderPredictorDecoder,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    warmup: int = 100,
    seed: int = 0,
) -> History:
    r"""Train an :class:`EncoderPredictorDecoder` on pairs ``(x, y)`` by teacher
    forcing.

    Each step draws ``batch_size`` pairs, feeds the model the context ``x``
    and the target delayed by one step (:func:`shift_right`), and takes an
    Adam step on the cross-entropy between its logits and the target ``y``
    itself: the model learns to predict :math:`y[t]` from :math:`\bm{x}` and
    :math:`y[1], \dots, y[t - 1]`.

    Parameters
    ----------
    model : EncoderPredictorDecoder
        Trained in place.
    x, y : torch.Tensor
        Integer tensors ``(N, T')`` and ``(N, T)`` on the model's device.
    steps, batch_size, lr, warmup : int, int, float, int
        Number of steps, pairs per step, peak learning rate, and steps of the
        linear warm-up before the cosine decay.
    seed : int
        Seed of the batches.

    Returns
    -------
    gradland.train.History
        The loss of every step under ``"loss"``, its learning rate under
        ``"lr"``.

    Raises
    ------
    TypeError
        If ``model`` is not an :class:`EncoderPredictorDecoder` or an argument
        has the wrong type.
    ValueError
        If ``x`` or ``y`` holds tokens out of range or is on another device,
        they hold different numbers of pairs, or a number is out of range.
    FloatingPointError
        If the loss is no longer finite.

    Examples
    --------
    >>> from gradland.data import reversal_task
    >>> from gradland.language_model import EncoderPredictorDecoder, train_seq2seq
    >>> (x, y), _ = reversal_task(100, 10, 4)
    >>> model = EncoderPredictorDecoder(10, 10, d_model=16, heads=2, layers=1)
    >>> history = train_seq2seq(model, x, y, steps=5, batch_size=8, warmup=2)
    >>> len(history.loss), history.lr[1]
    (5, 0.001)
    """
    _check_pairs(model, x, y)
    batch_size = _checks.integer("batch_size", batch_size, minimum=1)
    generator = torch.Generator().manual_seed(_checks.integer("seed", seed))

    def loss(k: int) -> torch.Tensor:
        idx = torch.randint(len(x), (batch_size,), generator=generator).to(x.device)
        xb, yb = x[idx], y[idx]
        logits = model._predict(model._encode(xb), shift_right(yb, model.start))
        return F.cross_entropy(logits.flatten(0, 1), yb.flatten())

    return _train(model, loss, steps, lr, warmup)


@torch.no_grad()
def sequence_accuracy(
    model: EncoderPredictorDecoder, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 1024
) -> float:
    """The fraction of the sequences ``y`` that greedy decoding from ``x`` gets entirely
    right.

    Parameters
    ----------
    model : EncoderPredictorDecoder
        The model that decodes.
    x, y : torch.Tensor
        As many sources ``(N, T')`` and targets ``(N, T)``, int64 on the
        model's device.
    batch_size : int
        Sequences decoded at once, at least 1.

    Returns
    -------
    float
        In :math:`[0, 1]`.

    Raises
    ------
    TypeError, ValueError
        As :func:`train_seq2seq`.

    Examples
    --------
    >>> import torch
    >>> from gradland.language_model import EncoderPredictorDecoder, sequence_accuracy
    >>> model = EncoderPredictorDecoder(10, 10, d_model=16, heads=2, layers=1)
    >>> x = torch.randint(10, (8, 5))
    >>> y = model.generate(x, 5)              # the model's own greedy answers
    >>> sequence_accuracy(model, x, y)
    1.0
    >>> y[0, -1] = (y[0, -1] + 1) % 10        # one symbol of one sequence changed
    >>> sequence_accuracy(model, x, y)
    0.875
    """
    _check_pairs(model, x, y, x_values=False)  # generate checks x, batch by batch
    batch_size = _checks.integer("batch_size", batch_size, minimum=1)
    right = 0
    for i in range(0, len(x), batch_size):
        guess = model.generate(x[i : i + batch_size], y.shape[1])
        right += int((guess == y[i : i + batch_size]).all(dim=1).sum())
    return right / len(x)


def train_language_model(
    model: LanguageModel,
    tokens: torch.Tensor,
    *,
    steps: int,
    context: int = 64,
    batch_size: int = 32,
    lr: float = 3e-3,
    warmup: int = 50,
    seed: int = 0,
) -> History:
    r"""Train a :class:`LanguageModel` on one long sequence of tokens.

    Each step cuts ``batch_size`` windows of ``context + 1`` tokens at random
    places; the model reads the first ``context`` and is scored on every
    next token (the same window, delayed by one step), by the mean
    cross-entropy.

    Parameters
    ----------
    model : LanguageModel
        Trained in place.
    tokens : torch.Tensor
        One-dimensional integer tensor, on the model's device.
    steps, context, batch_size, lr, warmup, seed
        As in :func:`train_seq2seq`; ``context`` is the window length.

    Returns
    -------
    gradland.train.History
        The loss of every step under ``"loss"``, its learning rate under
        ``"lr"``.

    Raises
    ------
    TypeError, ValueError, FloatingPointError
        As :func:`train_seq2seq`; also if ``context`` is not below the number
        of tokens.

    Examples
    --------
    >>> import torch
    >>> from gradland.language_model import LanguageModel, train_language_model
    >>> tokens = torch.arange(200) % 5                # 0 1 2 3 4 0 1 ...
    >>> lm = LanguageModel(5, d_model=16, heads=2, layers=1)
    >>> h = train_language_model(lm, tokens, steps=5, context=8, batch_size=4, warmup=2)
    >>> len(h.loss), h.lr[1]
    (5, 0.003)
    """
    _checks.instance("model", model, LanguageModel, "a LanguageModel")
    _checks.indices("tokens", tokens, model.vocab, model.decoder.weight.device, ndim=1, shape="(N,)")
    context = _checks.integer("context", context, minimum=1)
    if context >= len(tokens):
        raise ValueError(f"context must be below the number of tokens, {len(tokens)}; got {context}")
    batch_size = _checks.integer("batch_size", batch_size, minimum=1)
    generator = torch.Generator().manual_seed(_checks.integer("seed", seed))
    offsets = torch.arange(context + 1, device=tokens.device)

    def loss(k: int) -> torch.Tensor:
        starts = torch.randint(len(tokens) - context, (batch_size,), generator=generator).to(tokens.device)
        window = tokens[starts[:, None] + offsets]  # (batch, context + 1)
        logits = model._logits(window[:, :-1])
        return F.cross_entropy(logits.flatten(0, 1), window[:, 1:].flatten())

    return _train(model, loss, steps, lr, warmup)


@torch.no_grad()
def language_model_loss(model: LanguageModel, tokens: torch.Tensor, *, context: int = 64) -> float:
    """The mean cross-entropy (nats per token) of ``model`` on a held-out sequence.

    The sequence is cut into consecutive windows of ``context + 1`` tokens
    that overlap by one, and every token of a window but its first is
    predicted once, from the tokens before it in the window. The last
    ``(len(tokens) - 1) % context`` tokens, too few for a whole window, are
    left out.

    Parameters
    ----------
    model : LanguageModel
        The model scored.
    tokens : torch.Tensor
        One-dimensional int64 tensor on the model's device, longer than
        ``context``.
    context : int
        The window length, at least 1.

    Returns
    -------
    float
        Nats per token.

    Raises
    ------
    TypeError, ValueError
        As :func:`train_language_model`.

    Examples
    --------
    >>> import torch
    >>> import torch.nn.functional as F
    >>> from gradland.language_model import LanguageModel, language_model_loss
    >>> lm = LanguageModel(5, d_model=16, heads=2, layers=1)
    >>> tokens = torch.randint(5, (9,))     # one window: context + 1 tokens
    >>> nats = language_model_loss(lm, tokens, context=8)
    >>> by_hand = F.cross_entropy(lm(tokens[None, :-1])[0], tokens[1:])
    >>> abs(nats - by_hand.item()) < 1e-5
    True
    """
    _checks.instance("model", model, LanguageModel, "a LanguageModel")
    _checks.indices("tokens", tokens, model.vocab, model.decoder.weight.device, ndim=1, shape="(N,)")
    context = _checks.integer("context", context, minimum=1)
    if context >= len(tokens):
        raise ValueError(f"context must be below the number of tokens, {len(tokens)}; got {context}")
    n = (len(tokens) - 1) // context
    starts = torch.arange(n, device=tokens.device) * context
    window = tokens[starts[:, None] + torch.arange(context + 1, device=tokens.device)]
    total = torch.zeros((), dtype=torch.float64, device=tokens.device)
    model.eval()
    for chunk in window.split(256):
        logits = model._logits(chunk[:, :-1])
        total += F.cross_entropy(logits.flatten(0, 1), chunk[:, 1:].flatten(), reduction="sum").double()
    return total.item() / (n * context)
