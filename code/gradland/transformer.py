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
a tensor of shape ``(B, T, d)``. Masks are boolean, ``True`` where a query
may look at a key.

Top to bottom:

* :class:`FeedForward`, the position-wise perceptron (two k = 1 convolutions);
* :class:`EncoderBlock`, self-attention and feed-forward, post-norm or
  pre-norm; :meth:`EncoderBlock.from_torch` copies a
  :class:`torch.nn.TransformerEncoderLayer`;
* :class:`DecoderBlock`, causal self-attention, cross-attention and
  feed-forward; :meth:`DecoderBlock.from_torch` copies a
  :class:`torch.nn.TransformerDecoderLayer`;
* :func:`sinusoidal_positions`, the fixed position codes.

The models of the chapter, built from these blocks, and their training are
in :mod:`gradland.language_model`.

Every block has an *educational* path (attention written out, the default)
and a *fused* path (``fused=True``: PyTorch's scaled-dot-product kernel and a
packed query-key-value projection for self-attention); the two give the same
outputs. The blocks check the metadata of their inputs only (type, shape,
dtype, device), never their values, so that a forward pass never makes the
CPU wait for the GPU.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from gradland import _checks
from gradland._checks import describe as _describe
from gradland.attention import MultiHeadAttention, causal_mask

__all__ = ["FeedForward", "EncoderBlock", "DecoderBlock", "sinusoidal_positions"]

#: The nonlinearities of the feed-forward block, by name (GELU is the exact one, not the tanh approximation).
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"relu": F.relu, "gelu": F.gelu}


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
    device, dtype : optional
        Where and in what (floating-point) precision to keep the weights.

    Raises
    ------
    TypeError
        If a size is not an int, or ``dtype`` not a floating-point dtype.
    ValueError
        If a size is below 1 or ``activation`` unknown.

    Examples
    --------
    >>> import torch
    >>> from gradland.transformer import FeedForward
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
        _checks.sizes(d_model=d_model, d_ff=d_ff)
        _checks.choice("activation", activation, ACTIVATIONS)
        _checks.factory(device, dtype)
        self.activation = activation
        self.linear1 = nn.Linear(d_model, d_ff, bias=bias, device=device, dtype=dtype)  # W_1, b_1
        self.linear2 = nn.Linear(d_ff, d_model, bias=bias, device=device, dtype=dtype)  # W_2, b_2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the perceptron to every element (row) of ``x``.

        Parameters
        ----------
        x : torch.Tensor
            Sets of elements, shape ``(..., T, d)``, of the block's dtype and on
            its device.

        Returns
        -------
        torch.Tensor
            Shape ``(..., T, d)``.

        Raises
        ------
        TypeError
            If ``x`` is not a floating-point tensor of the block's dtype.
        ValueError
            If its last dimension is not :math:`d`, or it is on another device.
        """
        _checks.vectors("x", x, self.linear1.weight, batch=False)
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
        The :math:`\epsilon \geq 0` of the layer norms.
    bias : bool
        Biases in every linear map and layer norm.
    device, dtype : optional
        Where and in what (floating-point) precision to keep the weights.

    Raises
    ------
    TypeError
        If a size is not an int, or ``dtype`` not a floating-point dtype.
    ValueError
        If a size is below 1, ``heads`` does not divide ``d_model``,
        ``activation`` is unknown, or ``eps`` is negative or not finite.

    Examples
    --------
    >>> import torch
    >>> from gradland.transformer import EncoderBlock
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
        d_model = _checks.integer("d_model", d_model, minimum=1)
        d_ff = 4 * d_model if d_ff is None else d_ff
        _checks.real("eps", eps, minimum=0.0)  # attention and feed-forward check the rest
        kw = {"device": device, "dtype": dtype}
        self.d_model, self.norm_first = d_model, norm_first
        self.self_attn = MultiHeadAttention(d_model, heads, bias=bias, fused=fused, **kw)
        self.ffn = FeedForward(d_model, d_ff, activation, bias=bias, **kw)
        self.norm1 = nn.LayerNorm(d_model, eps=eps, bias=bias, **kw)
        self.norm2 = nn.LayerNorm(d_model, eps=eps, bias=bias, **kw)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        r"""Map the sets ``x`` to sets of the same shape.

        Parameters
        ----------
        x : torch.Tensor
            Sets, shape ``(B, T, d)`` with :math:`T \ge 1`, of the block's dtype
            and on its device.
        mask : torch.Tensor, optional
            Boolean, broadcastable to ``(B, T, T)`` or ``(B, heads, T, T)``,
            ``True`` where element :math:`i` may look at element :math:`j`:
            :func:`gradland.attention.causal_mask` makes the block causal.

        Returns
        -------
        torch.Tensor
            Shape ``(B, T, d)``.

        Raises
        ------
        TypeError
            If ``x`` is not a floating-point tensor of the block's dtype, or
            ``mask`` not a boolean tensor.
        ValueError
            If a shape or a device does not fit, or a set is empty.
        """
        _checks.vectors("x", x, self.ffn.linear1.weight)
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

        Parameters
        ----------
        layer : torch.nn.TransformerEncoderLayer
            The layer to copy.
        fused : bool
            The path of the copy.

        Returns
        -------
        EncoderBlock
            On the layer's device, in its dtype.

        Raises
        ------
        TypeError
            If ``layer`` is not a :class:`torch.nn.TransformerEncoderLayer`.
        ValueError
            If it is not batch-first, or has another activation.
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
    as in :class:`EncoderBlock`.

    Parameters
    ----------
    d_model, heads, d_ff, activation, norm_first, fused, eps, bias, device, dtype
        As for :class:`EncoderBlock`; both attentions have ``heads`` heads.

    Raises
    ------
    TypeError, ValueError
        As :class:`EncoderBlock`.

    Examples
    --------
    >>> import torch
    >>> from gradland.transformer import DecoderBlock
    >>> block = DecoderBlock(8, heads=2)
    >>> y, memory = torch.randn(3, 4, 8), torch.randn(3, 6, 8)
    >>> block(y, memory).shape
    torch.Size([3, 4, 8])
    >>> block.cross_attention_weights(y, memory).shape   # (B, heads, T, T')
    torch.Size([3, 2, 4, 6])
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
        d_model = _checks.integer("d_model", d_model, minimum=1)
        d_ff = 4 * d_model if d_ff is None else d_ff
        _checks.real("eps", eps, minimum=0.0)  # attention and feed-forward check the rest
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
    ) -> torch.Tensor:
        r"""Map the sequences ``y``, attending to ``memory``.

        :meth:`cross_attention_weights` returns the cross-attention's
        coefficients.

        Parameters
        ----------
        y : torch.Tensor
            The sequences, shape ``(B, T, d)`` with :math:`T \ge 1`, of the
            block's dtype and on its device.
        memory : torch.Tensor
            The memory, shape ``(B, T', d)`` with :math:`T' \ge 1`, likewise.
        mask : torch.Tensor, optional
            Boolean, broadcastable to ``(B, T, T)`` or ``(B, heads, T, T)``,
            ``True`` where element :math:`i` may look at element :math:`j`:
            restricts the self-attention further.
        memory_mask : torch.Tensor, optional
            Boolean, broadcastable to ``(B, T, T')`` or ``(B, heads, T, T')``:
            restricts the cross-attention.
        causal : bool
            Whether element :math:`i` of ``y`` sees only the elements
            :math:`j \le i`.

        Returns
        -------
        torch.Tensor
            Shape ``(B, T, d)``.

        Raises
        ------
        TypeError
            If ``y`` or ``memory`` is not a floating-point tensor of the block's
            dtype, or a mask not a boolean tensor.
        ValueError
            If a shape or a device does not fit, or a set is empty.
        """
        y = self._attend_to_self(y, memory, mask, memory_mask, causal)
        if self.norm_first:
            y = y + self.cross_attn(self.norm2(y), memory, memory_mask)
            return y + self.ffn(self.norm3(y))
        y = self.norm2(y + self.cross_attn(y, memory, memory_mask))
        return self.norm3(y + self.ffn(y))

    def cross_attention_weights(
        self,
        y: torch.Tensor,
        memory: torch.Tensor,
        mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        *,
        causal: bool = True,
    ) -> torch.Tensor:
        """The cross-attention's coefficients, for the arguments of :meth:`forward`.

        Parameters
        ----------
        y, memory, mask, memory_mask, causal
            As :meth:`forward`.

        Returns
        -------
        torch.Tensor
            Shape ``(B, heads, T, T')``: row :math:`t` of a head is the
            coefficient vector of element :math:`t` of ``y`` over the memory.

        Raises
        ------
        TypeError, ValueError
            As :meth:`forward`.
        """
        y = self._attend_to_self(y, memory, mask, memory_mask, causal)
        return self.cross_attn.attention_weights(self.norm2(y) if self.norm_first else y, memory, memory_mask)

    def _attend_to_self(
        self, y: object, memory: object, mask: object, memory_mask: object, causal: bool
    ) -> torch.Tensor:
        """Check the inputs, then the first branch: the causal self-attention."""
        _checks.vectors("y", y, self.ffn.linear1.weight, keys=True)
        _checks.vectors("memory", memory, self.ffn.linear1.weight)
        (B, T), T_m = y.shape[:2], memory.shape[1]
        if memory.shape[0] != B or T_m == 0:
            raise ValueError(f"memory must hold B = {B} sequences of T' >= 1 elements; got {_describe(memory)}")
        heads = self.self_attn.heads
        for name, m, keys in (("mask", mask, T), ("memory_mask", memory_mask, T_m)):
            if m is not None:
                four = isinstance(m, torch.Tensor) and m.ndim == 4
                _checks.mask(name, m, (B, heads, T, keys) if four else (B, T, keys), y.device)
        if causal:
            causal_part = causal_mask(T, device=y.device)
            mask = causal_part if mask is None else mask & causal_part
        if self.norm_first:
            return y + self.self_attn(self.norm1(y), mask=mask)
        return self.norm1(y + self.self_attn(y, mask=mask))

    @classmethod
    def from_torch(cls, layer: nn.TransformerDecoderLayer, *, fused: bool = False) -> DecoderBlock:
        """A copy of a ``torch.nn.TransformerDecoderLayer`` (same weights, so the same
        outputs).

        As for :meth:`EncoderBlock.from_torch`: ``batch_first=True``, a
        ``"relu"`` or ``"gelu"`` activation, dropout ignored. PyTorch's layer
        is not causal unless given a ``tgt_mask``, so compare it with
        ``tgt_mask`` set to the causal mask (or call the copy with
        ``causal=False``).

        Returns
        -------
        DecoderBlock
            On the layer's device, in its dtype.

        Raises
        ------
        TypeError
            If ``layer`` is not a :class:`torch.nn.TransformerDecoderLayer`.
        ValueError
            As :meth:`EncoderBlock.from_torch`.
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
# The position codes.


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

    Parameters
    ----------
    T : int
        Number of positions, at least 1.
    d : int
        Size of the codes, even and at least 2.
    device, dtype : optional
        Where and in what floating-point precision to return the codes (they
        are computed in double precision).

    Returns
    -------
    torch.Tensor
        Shape ``(T, d)``.

    Raises
    ------
    TypeError
        If ``T`` or ``d`` is not an int, or ``dtype`` not a floating-point
        dtype (an integer one would round every code to -1, 0 or 1).
    ValueError
        If ``T < 1``, or ``d`` is odd or below 2.

    Examples
    --------
    >>> from gradland.transformer import sinusoidal_positions
    >>> p = sinusoidal_positions(5, 4)
    >>> p.shape
    torch.Size([5, 4])
    >>> p[0]                                  # position 0: every sine 0, every cosine 1
    tensor([0., 1., 0., 1.])
    """
    T, d = _checks.integer("T", T, minimum=1), _checks.integer("d", d, minimum=2)
    if d % 2:
        raise ValueError(f"d must be even; got {d}")
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating-point torch.dtype; got {dtype!r}")
    if device is not None:
        _checks.device("device", device)
    position = torch.arange(T, dtype=torch.float64, device=device)[:, None]
    omega = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64, device=device) / d)
    codes = torch.empty(T, d, dtype=torch.float64, device=device)
    codes[:, 0::2] = torch.sin(position * omega)
    codes[:, 1::2] = torch.cos(position * omega)
    return codes.to(dtype)
