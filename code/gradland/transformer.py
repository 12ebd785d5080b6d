r"""Transformers: attention plus position-wise (k = 1) convolutions, residuals and
normalisation.

This module is the code of Chapter 14 of the book. A transformer block maps a
set :math:`\bm{X} = [\bm{x}_1, \dots, \bm{x}_T] \in \R^{d \times T}` to a set
of the same shape in two steps, each wrapped in a residual connection and a
layer normalisation: attention, which mixes the elements, and a two-layer
perceptron applied to every element on its own, which is a pair of
one-dimensional convolutions with kernel size :math:`k = 1`.

As in :mod:`gradland.attention`, the code stores a set with one element per
**row**: a batch of :math:`B` sets of :math:`T` elements of size :math:`d` is
a tensor of shape ``(B, T, d)``; a batch of token sequences is an integer
tensor of shape ``(B, T)``. Masks are boolean, ``True`` where a query may look
at a key.

Top to bottom:

* :class:`FeedForward`, the position-wise perceptron (two k = 1 convolutions);
* :class:`EncoderBlock`, self-attention and feed-forward, post-norm or
  pre-norm; :meth:`EncoderBlock.from_torch` copies a
  :class:`torch.nn.TransformerEncoderLayer`;
* :class:`DecoderBlock`, causal self-attention, cross-attention and
  feed-forward; :meth:`DecoderBlock.from_torch` copies a
  :class:`torch.nn.TransformerDecoderLayer`;
* :func:`sinusoidal_positions`, the fixed position codes, and
  :func:`shift_right`, which delays a sequence by one step;
* :class:`EncoderPredictorDecoder`, the sequence-to-sequence transformer read
  as a conditional language model, with greedy decoding;
* :class:`LanguageModel`, the causal (decoder-only) transformer, with sampling
  at a temperature;
* :func:`reversal_task`, a toy data set of digit strings and their reversals;
* :func:`train_seq2seq`, :func:`sequence_accuracy`,
  :func:`train_language_model` and :func:`language_model_loss`, the
  training and evaluation loops (Adam with a linear warm-up and a cosine
  decay).

Every block has an *educational* path (attention written out, the default)
and a *fused* path (``fused=True``: PyTorch's scaled-dot-product kernel and a
packed query-key-value projection for self-attention); the two give the same
outputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from gradland._checks import describe as _describe
from gradland.attention import MultiHeadAttention, causal_mask

__all__ = [
    "FeedForward",
    "EncoderBlock",
    "DecoderBlock",
    "sinusoidal_positions",
    "shift_right",
    "EncoderPredictorDecoder",
    "LanguageModel",
    "reversal_task",
    "History",
    "train_seq2seq",
    "sequence_accuracy",
    "train_language_model",
    "language_model_loss",
]

#: The nonlinearities of the feed-forward block, by name (GELU is the exact one, not the tanh approximation).
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"relu": F.relu, "gelu": F.gelu}


def _check_set(name: str, value: object, d_model: int) -> None:
    if not isinstance(value, torch.Tensor) or value.ndim != 3 or value.shape[-1] != d_model:
        raise ValueError(f"{name} must be a batch of sets of shape (B, T, {d_model}); got {_describe(value)}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor; got {_describe(value)}")


def _check_sizes(d_model: object, heads: object, d_ff: object) -> None:
    for name, value in (("d_model", d_model), ("heads", heads), ("d_ff", d_ff)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int; got {value!r}")
    if d_model % heads:
        raise ValueError(f"heads must divide d_model; got d_model={d_model}, heads={heads}")


def _check_activation(activation: object) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}; got {activation!r}")
    return activation


# ---------------------------------------------------------------------------
# The position-wise feed-forward block: two k = 1 convolutions.


class FeedForward(nn.Module):
    r"""The position-wise perceptron :math:`\bm{x}[t] \mapsto \bm{W}_2\,
    \varphi(\bm{W}_1 \bm{x}[t] + \bm{b}_1) + \bm{b}_2`.

    The same two matrices act on every element of the set, and no element
    sees another: on the matrix :math:`\bm{X}` whose columns are the
    elements, the block is two one-dimensional convolutions with kernel size
    :math:`k = 1` (see :func:`gradland.linalg.conv1x1`), the first widening
    each element from :math:`d` to :math:`d_{\mathrm{ff}}` channels and the
    second bringing it back. Because the code keeps one element per row,
    each convolution is an :class:`torch.nn.Linear` on the last dimension.

    Parameters
    ----------
    d_model : int
        Size :math:`d` of the elements.
    d_ff : int
        Size :math:`d_{\mathrm{ff}}` of the hidden layer.
    activation : {"relu", "gelu"}
        The nonlinearity :math:`\varphi`.
    bias : bool
        Biases :math:`\bm{b}_1`, :math:`\bm{b}_2`.

    Examples
    --------
    >>> ffn = FeedForward(4, 16)
    >>> x = torch.randn(2, 5, 4)  # 2 sets of 5 elements
    >>> y = ffn(x)
    >>> y.shape
    torch.Size([2, 5, 4])
    >>> # element 2 alone gives the same answer
    >>> torch.allclose(ffn(x[:, 2:3]), y[:, 2:3])
    True
    """

    def __init__(
        self,
        d_model: int,
        d_ff: int,
        activation: str = "relu",
        *,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        _check_sizes(d_model, 1, d_ff)
        self.activation = _check_activation(activation)
        self.linear1 = nn.Linear(d_model, d_ff, bias=bias, device=device, dtype=dtype)  # W_1, b_1
        self.linear2 = nn.Linear(d_ff, d_model, bias=bias, device=device, dtype=dtype)  # W_2, b_2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the perceptron to every element (row) of ``x``, shape
        ``(..., T, d)``."""
        return self.linear2(ACTIVATIONS[self.activation](self.linear1(x)))


# ---------------------------------------------------------------------------
# The encoder block and the decoder block.


class EncoderBlock(nn.Module):
    r"""Self-attention and a position-wise perceptron, each with a residual and a layer
    norm.

    With :math:`\operatorname{SA}` the multi-head self-attention,
    :math:`\operatorname{FF}` the :class:`FeedForward` block and
    :math:`\operatorname{LN}` a layer normalisation, the *post-norm* block
    (``norm_first=False``, the original transformer's) computes

    .. math::

       \bm{U} = \operatorname{LN}_1(\bm{X} + \operatorname{SA}(\bm{X})), \qquad
       \bm{Y} = \operatorname{LN}_2(\bm{U} + \operatorname{FF}(\bm{U})),

    and the *pre-norm* block (``norm_first=True``) normalises inside the
    branches and leaves the residual path untouched,

    .. math::

       \bm{U} = \bm{X} + \operatorname{SA}(\operatorname{LN}_1(\bm{X})), \qquad
       \bm{Y} = \bm{U} + \operatorname{FF}(\operatorname{LN}_2(\bm{U})).

    Parameters
    ----------
    d_model : int
        Size :math:`d` of the elements.
    heads : int
        Number of attention heads; must divide ``d_model``.
    d_ff : int, optional
        Hidden size of the perceptron; ``4 * d_model`` by default.
    activation : {"relu", "gelu"}
        Nonlinearity of the perceptron.
    norm_first : bool
        Pre-norm instead of post-norm.
    fused : bool
        Attend with PyTorch's fused kernel and one packed projection instead
        of the written-out attention of :func:`gradland.attention.attention`.
    eps : float
        The :math:`\epsilon` of the layer norms.

    Examples
    --------
    >>> block = EncoderBlock(8, heads=2)
    >>> x = torch.randn(3, 5, 8)
    >>> block(x).shape
    torch.Size([3, 5, 8])
    >>> fused = EncoderBlock(8, heads=2, fused=True)
    >>> _ = fused.load_state_dict(block.state_dict())
    >>> torch.allclose(fused(x), block(x), atol=1e-6)
    True
    """

    def __init__(
        self,
        d_model: int,
        heads: int,
        d_ff: int | None = None,
        *,
        activation: str = "relu",
        norm_first: bool = False,
        fused: bool = False,
        eps: float = 1e-5,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        d_ff = 4 * d_model if d_ff is None else d_ff
        _check_sizes(d_model, heads, d_ff)
        kw = {"device": device, "dtype": dtype}
        self.d_model, self.norm_first = d_model, norm_first
        self.self_attn = MultiHeadAttention(d_model, heads, bias=bias, fused=fused, **kw)
        self.ffn = FeedForward(d_model, d_ff, activation, bias=bias, **kw)
        self.norm1 = nn.LayerNorm(d_model, eps=eps, bias=bias, **kw)
        self.norm2 = nn.LayerNorm(d_model, eps=eps, bias=bias, **kw)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Map the sets ``x``, shape ``(B, T, d)``, to sets of the same shape.

        ``mask`` is boolean, broadcastable to ``(B, T, T)`` or
        ``(B, heads, T, T)``, ``True`` where element :math:`i` may look at
        element :math:`j`: :func:`gradland.attention.causal_mask` makes the
        block causal.
        """
        _check_set("x", x, self.d_model)
        if self.norm_first:
            x = x + self.self_attn(self.norm1(x), mask=mask)
            return x + self.ffn(self.norm2(x))
        x = self.norm1(x + self.self_attn(x, mask=mask))
        return self.norm2(x + self.ffn(x))

    @classmethod
    def from_torch(cls, layer: nn.TransformerEncoderLayer, *, fused: bool = False) -> EncoderBlock:
        """A copy of a ``torch.nn.TransformerEncoderLayer`` (same weights, so the same
        outputs).

        The layer must have ``batch_first=True`` and a ``"relu"`` or
        ``"gelu"`` activation; its dropout is ignored (the copy has none, so
        compare in ``eval()`` mode or with ``dropout=0``).
        """
        if not isinstance(layer, nn.TransformerEncoderLayer):
            raise TypeError(f"expected a torch.nn.TransformerEncoderLayer; got {type(layer).__name__}")
        return _copy_layer(cls, layer, fused)


class DecoderBlock(nn.Module):
    r"""Causal self-attention, cross-attention to a memory, and a position-wise
    perceptron.

    The predictor of the encoder-predictor-decoder. With :math:`\bm{Y}` the
    (delayed) target sequence and :math:`\bm{M}` the memory, the encoder's
    output, the post-norm block computes

    .. math::

       \bm{U} = \operatorname{LN}_1(\bm{Y}
       + \operatorname{SA}_{\mathrm{causal}}(\bm{Y})), \quad
       \bm{V} = \operatorname{LN}_2(\bm{U} + \operatorname{CA}(\bm{U}, \bm{M})), \quad
       \operatorname{LN}_3(\bm{V} + \operatorname{FF}(\bm{V})),

    where the queries of the cross-attention :math:`\operatorname{CA}` come
    from :math:`\bm{U}` and its keys and values from :math:`\bm{M}`; the
    pre-norm block (``norm_first=True``) moves each norm inside its branch,
    as in :class:`EncoderBlock`. The parameters are those of
    :class:`EncoderBlock`.

    Examples
    --------
    >>> block = DecoderBlock(8, heads=2)
    >>> y, memory = torch.randn(3, 4, 8), torch.randn(3, 6, 8)
    >>> out, a = block(y, memory, need_weights=True)   # a: the cross-attention weights
    >>> out.shape, a.shape
    (torch.Size([3, 4, 8]), torch.Size([3, 2, 4, 6]))
    """

    def __init__(
        self,
        d_model: int,
        heads: int,
        d_ff: int | None = None,
        *,
        activation: str = "relu",
        norm_first: bool = False,
        fused: bool = False,
        eps: float = 1e-5,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        d_ff = 4 * d_model if d_ff is None else d_ff
        _check_sizes(d_model, heads, d_ff)
        kw = {"device": device, "dtype": dtype}
        self.d_model, self.norm_first = d_model, norm_first
        self.self_attn = MultiHeadAttention(d_model, heads, bias=bias, fused=fused, **kw)
        self.cross_attn = MultiHeadAttention(d_model, heads, bias=bias, fused=fused, **kw)
        self.ffn = FeedForward(d_model, d_ff, activation, bias=bias, **kw)
        self.norm1 = nn.LayerNorm(d_model, eps=eps, bias=bias, **kw)
        self.norm2 = nn.LayerNorm(d_model, eps=eps, bias=bias, **kw)
        self.norm3 = nn.LayerNorm(d_model, eps=eps, bias=bias, **kw)

    def forward(
        self,
        y: torch.Tensor,
        memory: torch.Tensor,
        mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        *,
        causal: bool = True,
        need_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Map the sequences ``y`` ``(B, T, d)``, attending to ``memory``
        ``(B, T', d)``.

        The self-attention is causal (element :math:`i` sees elements
        :math:`j \\le i`) unless ``causal=False``; ``mask`` (boolean, to
        ``(B, T, T)``) restricts it further. ``memory_mask`` (boolean, to
        ``(B, T, T')``) restricts the cross-attention. With ``need_weights``
        the cross-attention weights ``(B, heads, T, T')`` are returned too.
        """
        _check_set("y", y, self.d_model)
        _check_set("memory", memory, self.d_model)
        if causal:
            causal_part = causal_mask(y.shape[1], device=y.device)
            mask = causal_part if mask is None else mask & causal_part

        def ca(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
            if need_weights:
                return self.cross_attn(u, memory, memory_mask, need_weights=True)
            return self.cross_attn(u, memory, memory_mask), None

        if self.norm_first:
            y = y + self.self_attn(self.norm1(y), mask=mask)
            out, weights = ca(self.norm2(y))
            y = y + out
            y = y + self.ffn(self.norm3(y))
        else:
            y = self.norm1(y + self.self_attn(y, mask=mask))
            out, weights = ca(y)
            y = self.norm2(y + out)
            y = self.norm3(y + self.ffn(y))
        return (y, weights) if need_weights else y

    @classmethod
    def from_torch(cls, layer: nn.TransformerDecoderLayer, *, fused: bool = False) -> DecoderBlock:
        """A copy of a ``torch.nn.TransformerDecoderLayer`` (same weights, so the same
        outputs).

        As for :meth:`EncoderBlock.from_torch`: ``batch_first=True``, a
        ``"relu"`` or ``"gelu"`` activation, dropout ignored. PyTorch's layer
        is not causal unless given a ``tgt_mask``, so compare it with
        ``tgt_mask`` set to the causal mask (or call the copy with
        ``causal=False``).
        """
        if not isinstance(layer, nn.TransformerDecoderLayer):
            raise TypeError(f"expected a torch.nn.TransformerDecoderLayer; got {type(layer).__name__}")
        return _copy_layer(cls, layer, fused)


def _copy_layer(cls: type, layer: nn.Module, fused: bool) -> nn.Module:
    """Build ``cls`` with the sizes of a PyTorch transformer layer and copy its
    weights."""
    if not layer.self_attn.batch_first:
        raise ValueError("only a layer with batch_first=True can be copied")
    act = layer.activation
    names = {F.relu: "relu", F.gelu: "gelu"}
    if act not in names:
        raise ValueError(f"only the 'relu' and 'gelu' activations can be copied; got {act!r}")
    weight = layer.linear1.weight
    ours = cls(
        layer.self_attn.embed_dim,
        layer.self_attn.num_heads,
        layer.linear1.out_features,
        activation=names[act],
        norm_first=layer.norm_first,
        fused=fused,
        eps=layer.norm1.eps,
        bias=layer.linear1.bias is not None,
        device=weight.device,
        dtype=weight.dtype,
    )
    attn_pairs = [("self_attn", "self_attn")]
    if isinstance(layer, nn.TransformerDecoderLayer):
        attn_pairs.append(("cross_attn", "multihead_attn"))
    with torch.no_grad():
        for mine, theirs in attn_pairs:
            copy = MultiHeadAttention.from_torch(getattr(layer, theirs))
            getattr(ours, mine).load_state_dict(copy.state_dict())
        ours.ffn.linear1.load_state_dict(layer.linear1.state_dict())
        ours.ffn.linear2.load_state_dict(layer.linear2.state_dict())
        for name in ("norm1", "norm2", "norm3"):
            if hasattr(ours, name):
                getattr(ours, name).load_state_dict(getattr(layer, name).state_dict())
    return ours


# ---------------------------------------------------------------------------
# Positions and the delay by one step.


def sinusoidal_positions(
    T: int, d: int, *, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    r"""The fixed position codes of the original transformer, one row per position.

    Row :math:`p` (position :math:`p = 0, \dots, T - 1`) is the code
    :math:`\bm{\psi}[p] \in \R^d`, with the entries

    .. math::

       \psi_{2i}[p] = \sin\bigl(p\, \omega_i\bigr), \quad
       \psi_{2i + 1}[p] = \cos\bigl(p\, \omega_i\bigr), \qquad
       \omega_i = 10000^{-2i / d},

    a clock with :math:`d / 2` hands turning at geometrically spaced speeds.

    Examples
    --------
    >>> p = sinusoidal_positions(5, 4)
    >>> p.shape
    torch.Size([5, 4])
    >>> p[0]                                  # position 0: every sine 0, every cosine 1
    tensor([0., 1., 0., 1.])
    """
    if not isinstance(T, int) or not isinstance(d, int) or T < 1 or d < 2 or d % 2:
        raise ValueError(f"T must be a positive int and d an even int >= 2; got T={T!r}, d={d!r}")
    position = torch.arange(T, dtype=torch.float64, device=device)[:, None]
    omega = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64, device=device) / d)
    codes = torch.empty(T, d, dtype=torch.float64, device=device)
    codes[:, 0::2] = torch.sin(position * omega)
    codes[:, 1::2] = torch.cos(position * omega)
    return codes.to(dtype)


def _check_tokens(name: str, tokens: object, vocab: int) -> None:
    if not isinstance(tokens, torch.Tensor) or tokens.ndim != 2 or tokens.is_floating_point() or tokens.is_complex():
        raise TypeError(f"{name} must be an integer tensor of token indices, shape (B, T); got {_describe(tokens)}")
    if tokens.numel() and (tokens.min() < 0 or tokens.max() >= vocab):
        raise ValueError(
            f"{name} must hold tokens in 0..{vocab - 1}; got values from {tokens.min().item()} to {tokens.max().item()}"
        )


def shift_right(y: torch.Tensor, start: int) -> torch.Tensor:
    r"""Delay the sequences ``y`` ``(B, T)`` by one step: put ``start`` first and drop
    the last token.

    Position :math:`t` of the result holds :math:`y[t - 1]`: the input from
    which a language model must predict :math:`y[t]`.

    Examples
    --------
    >>> shift_right(torch.tensor([[7, 8, 9]]), start=0)
    tensor([[0, 7, 8]])
    """
    if not isinstance(y, torch.Tensor) or y.ndim != 2 or y.is_floating_point():
        raise TypeError(f"y must be an integer tensor of shape (B, T); got {_describe(y)}")
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
      and maps it through :class:`EncoderBlock` layers to the memory
      :math:`\bm{M}`;
    * ``embed_y``: embeds the target delayed by one step, the start symbol
      followed by :math:`y[1], \dots, y[T - 1]` (the second encoder);
    * ``predictor``: :class:`DecoderBlock` layers, causal in the target and
      attending to the memory: at step :math:`t` they predict the
      representation of the *next* symbol :math:`y[t]`;
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

    Examples
    --------
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
        for name, value in (("vocab_x", vocab_x), ("vocab_y", vocab_y), ("layers", layers)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
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
        """The memory :math:`\\bm{M}`, shape ``(B, T', d)``, of the context tokens ``x``
        ``(B, T')``."""
        _check_tokens("x", x, self.vocab_x)
        m = self.embed_x(x)
        for block in self.encoder:
            m = block(m)
        return self.encoder_norm(m)

    def predict(
        self, memory: torch.Tensor, y_in: torch.Tensor, *, need_weights: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """The logits ``(B, T, vocab_y)`` of the next symbols given the delayed targets
        ``y_in`` ``(B, T)``.

        With ``need_weights``, also the cross-attention weights of every
        predictor block, a list of tensors ``(B, heads, T, T')``.
        """
        _check_tokens("y_in", y_in, self.vocab_y + 1)
        h, weights = self.embed_y(y_in), []
        for block in self.predictor:
            if need_weights:
                h, a = block(h, memory, need_weights=True)
                weights.append(a)
            else:
                h = block(h, memory)
        logits = self.decoder(self.predictor_norm(h))
        return (logits, weights) if need_weights else logits

    def forward(self, x: torch.Tensor, y_in: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, T, vocab_y)``: row :math:`t` scores the symbol that follows
        ``y_in[:, :t+1]``."""
        return self.predict(self.encode(x), y_in)

    @torch.no_grad()
    def generate(self, x: torch.Tensor, length: int) -> torch.Tensor:
        """Greedy decoding: ``length`` symbols, each the argmax given the context and
        the symbols before it."""
        if not isinstance(length, int) or length < 1:
            raise ValueError(f"length must be a positive int; got {length!r}")
        memory = self.encode(x)
        y_in = torch.full(
            (x.shape[0], 1), self.start, dtype=torch.long, device=x.device
        )
        for _ in range(length):
            nxt = self.predict(memory, y_in)[:, -1].argmax(dim=-1)
            y_in = torch.cat((y_in, nxt[:, None]), dim=1)
        return y_in[:, 1:]


class LanguageModel(nn.Module):
    r"""A causal transformer language model: the predictor without a context.

    Embedding with sinusoidal positions, ``layers`` :class:`EncoderBlock`
    layers made causal by :func:`gradland.attention.causal_mask`, a final
    layer norm (with ``norm_first``), and a linear decoder to the logits of
    the ``vocab`` symbols. Fed the sequence :math:`y[1], \dots, y[t]`, row
    :math:`t` of its output scores :math:`y[t + 1]`.

    Examples
    --------
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
        for name, value in (("vocab", vocab), ("layers", layers)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        kw = {"device": device, "dtype": dtype}
        block = {"d_ff": d_ff, "activation": activation, "norm_first": norm_first, "fused": fused, **kw}
        self.vocab = vocab
        self.embed = _Embedding(vocab, d_model, **kw)
        self.blocks = nn.ModuleList(EncoderBlock(d_model, heads, **block) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model, **kw) if norm_first else nn.Identity()
        self.decoder = nn.Linear(d_model, vocab, **kw)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, T, vocab)`` of the next symbol at every position of ``tokens``
        ``(B, T)``."""
        _check_tokens("tokens", tokens, self.vocab)
        h = self.embed(tokens)
        mask = causal_mask(tokens.shape[1], device=tokens.device)
        for block in self.blocks:
            h = block(h, mask)
        return self.decoder(self.norm(h))

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
        """
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative int; got {n!r}")
        if not temperature > 0:
            raise ValueError(f"temperature must be positive; got {temperature!r}")
        _check_tokens("prompt", prompt, self.vocab)
        out = prompt
        for _ in range(n):
            window = out if context is None else out[:, -context:]
            probs = torch.softmax(self(window)[:, -1].double() / temperature, dim=-1)
            nxt = torch.multinomial(probs.cpu(), 1, generator=generator).to(out.device)
            out = torch.cat((out, nxt), dim=1)
        return out


# ---------------------------------------------------------------------------
# A small task, and the training and evaluation loops.


def reversal_task(
    n_train: int,
    n_test: int,
    length: int,
    *,
    symbols: int = 10,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Strings of ``length`` symbols and their reversals, split into training and test
    pairs.

    The ``n_train + n_test`` strings are distinct, so no test string is ever
    seen in training. Returns ``((x_train, y_train), (x_test, y_test))``,
    integer tensors of shape ``(n, length)`` with ``y = x.flip(1)``.

    Examples
    --------
    >>> (x, y), (x_test, y_test) = reversal_task(100, 20, 5)
    >>> x.shape, x_test.shape, bool((y == x.flip(1)).all())
    (torch.Size([100, 5]), torch.Size([20, 5]), True)
    >>> seen = {tuple(s) for s in x.tolist()}
    >>> any(tuple(s) in seen for s in x_test.tolist())
    False
    """
    total = n_train + n_test
    if not all(isinstance(v, int) and v >= 1 for v in (n_train, n_test, length, symbols)):
        raise ValueError(
            f"n_train, n_test, length and symbols must be positive ints; got {n_train!r}, {n_test!r}, {length!r}, {symbols!r}"
        )
    if total > symbols**length // 2:
        raise ValueError(f"asked for {total} distinct strings out of only {symbols ** length}: use longer strings")
    generator = torch.Generator().manual_seed(seed)
    strings = torch.empty(0, length, dtype=torch.long)
    while len(strings) < total:  # draw, drop repeats, keep the first occurrences in drawing order
        strings = torch.cat((strings, torch.randint(symbols, (total, length), generator=generator)))
        _, inverse = torch.unique(strings, dim=0, return_inverse=True)
        first = torch.full((int(inverse.max()) + 1,), len(strings), dtype=torch.long)
        first = first.scatter_reduce(0, inverse, torch.arange(len(strings)), reduce="amin")
        strings = strings[first.sort().values]
    strings = strings[:total].to(device)
    x_train, x_test = strings[:n_train], strings[n_train:]
    return (x_train, x_train.flip(1)), (x_test, x_test.flip(1))


@dataclass
class History:
    """What a training loop recorded: the loss of every step and its learning rate."""

    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)


def _optimiser(model: nn.Module, steps: int, lr: float, warmup: int) -> tuple[torch.optim.Optimizer, Callable]:
    """Adam, with a learning rate that rises linearly for ``warmup`` steps and then
    decays as a cosine.

    The cosine runs over ``steps - warmup + 1`` steps, so that the rate of the last step
    is small but not 0: every step of the budget moves the weights.
    """
    for name, value in (("steps", steps), ("warmup", warmup)):
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative int; got {value!r}")
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.98), foreach=True)

    def rate(step: int) -> float:  # step = 1, 2, ..., steps
        if step <= warmup:
            return lr * step / warmup
        return lr * 0.5 * (1 + math.cos(math.pi * (step - warmup) / (steps - warmup + 1)))

    return opt, rate


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
    History
    """
    if not isinstance(model, EncoderPredictorDecoder):
        raise TypeError(f"model must be an EncoderPredictorDecoder; got {type(model).__name__}")
    _check_tokens("x", x, model.vocab_x)
    _check_tokens("y", y, model.vocab_y)
    if len(x) != len(y):
        raise ValueError(f"x and y must hold as many sequences; got {_describe(x)} and {_describe(y)}")
    opt, rate = _optimiser(model, steps, lr, warmup)
    generator = torch.Generator().manual_seed(seed)
    history = History()
    model.train()
    for step in range(1, steps + 1):
        idx = torch.randint(len(x), (batch_size,), generator=generator).to(x.device)
        xb, yb = x[idx], y[idx]
        logits = model(xb, shift_right(yb, model.start))
        loss = F.cross_entropy(logits.flatten(0, 1), yb.flatten())
        for group in opt.param_groups:
            group["lr"] = rate(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        history.loss.append(loss.item())
        history.lr.append(rate(step))
    model.eval()
    return history


@torch.no_grad()
def sequence_accuracy(model: EncoderPredictorDecoder, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 1024) -> float:
    """The fraction of the sequences ``y`` that greedy decoding from ``x`` gets entirely
    right."""
    _check_tokens("y", y, model.vocab_y)
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
    History
    """
    if not isinstance(model, LanguageModel):
        raise TypeError(f"model must be a LanguageModel; got {type(model).__name__}")
    _check_corpus(tokens, context, model.vocab)
    opt, rate = _optimiser(model, steps, lr, warmup)
    generator = torch.Generator().manual_seed(seed)
    offsets = torch.arange(context + 1, device=tokens.device)
    history = History()
    model.train()
    for step in range(1, steps + 1):
        starts = torch.randint(len(tokens) - context, (batch_size,), generator=generator).to(tokens.device)
        window = tokens[starts[:, None] + offsets]  # (batch, context + 1)
        logits = model(window[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), window[:, 1:].flatten())
        for group in opt.param_groups:
            group["lr"] = rate(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        history.loss.append(loss.item())
        history.lr.append(rate(step))
    model.eval()
    return history


def _check_corpus(tokens: object, context: int, vocab: int) -> None:
    if not isinstance(tokens, torch.Tensor) or tokens.ndim != 1 or tokens.is_floating_point():
        raise TypeError(f"tokens must be a one-dimensional integer tensor; got {_describe(tokens)}")
    if not isinstance(context, int) or context < 1 or len(tokens) <= context:
        raise ValueError(f"context must be a positive int below the number of tokens {len(tokens)}; got {context!r}")
    _check_tokens("tokens", tokens[None], vocab)


@torch.no_grad()
def language_model_loss(model: LanguageModel, tokens: torch.Tensor, *, context: int = 64) -> float:
    """The mean cross-entropy (nats per token) of ``model`` on a held-out sequence.

    The sequence is cut into consecutive windows of ``context + 1`` tokens
    that overlap by one, and every token of a window but its first is
    predicted once, from the tokens before it in the window. The last
    ``(len(tokens) - 1) % context`` tokens, too few for a whole window, are
    left out.
    """
    _check_corpus(tokens, context, model.vocab)
    n = (len(tokens) - 1) // context
    starts = torch.arange(n, device=tokens.device) * context
    window = tokens[starts[:, None] + torch.arange(context + 1, device=tokens.device)]
    total = 0.0
    model.eval()
    for chunk in window.split(256):
        logits = model(chunk[:, :-1])
        total += F.cross_entropy(logits.flatten(0, 1), chunk[:, 1:].flatten(), reduction="sum").item()
    return total / (n * context)
