r"""Attention: a map from a set to a set, soft or hard, self or cross.

This module is the code of Chapter 13 of the book. In the book's notation a
set of :math:`T` elements is a matrix whose columns are the elements; a query
:math:`\bm{q}` scores every key :math:`\bm{k}_j` by a scalar product, the
scores are turned into a coefficient vector

.. math::

   \bm{a} = \softargmax(\beta \bm{K}^\top \bm{q}) \in \R^{T}
   \quad\text{(soft)}, \qquad
   \bm{a} = \operatorname{onehot}(\argmax(\bm{K}^\top \bm{q}))
   \quad\text{(hard)},

and the answer is the combination :math:`\bm{h} = \bm{V} \bm{a}` of the
values, with :math:`\beta = 1 / \sqrt{d}` for keys of size :math:`d`.

The code stores sets the way PyTorch does: one element per **row**, with any
number of batch dimensions in front, so a set of :math:`T` queries of size
:math:`d` is a tensor of shape ``(..., T, d)`` and the formula above reads
``softmax(q @ k.T * scale) @ v``.

Top to bottom:

* :func:`attention`, the function: soft or hard, with an optional mask, and
  on request the attention weights; ``fused=True`` hands the soft case to
  :func:`torch.nn.functional.scaled_dot_product_attention`;
* :func:`causal_mask` and :func:`padding_mask`, the two masks of sequences;
* :class:`MultiHeadAttention`, the module with learnt projections of the
  queries, keys and values, split into heads; it copies its weights from
  :class:`torch.nn.MultiheadAttention` with :meth:`MultiHeadAttention.from_torch`;
* :class:`AttentionPooling`, a map from a set to one vector: a single learnt
  query attends to the set through a :class:`MultiHeadAttention`.

Masks are boolean, with ``True`` where a query may look at a key (the
convention of ``scaled_dot_product_attention``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gradland._checks import describe as _describe

__all__ = [
    "attention",
    "causal_mask",
    "padding_mask",
    "MultiHeadAttention",
    "AttentionPooling",
]


def _check_qkv(q: object, k: object, v: object) -> None:
    for name, value in (("q", q), ("k", k), ("v", v)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of shape (..., T, d); got {_describe(value)}")
        if value.ndim < 2:
            raise ValueError(f"{name} must have shape (..., T, d), at least 2 dimensions; got {_describe(value)}")
        if not value.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor; got {_describe(value)}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"queries and keys must have the same size d; got q {_describe(q)} and k {_describe(k)}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"keys and values must be as many (the same T); got k {_describe(k)} and v {_describe(v)}"
        )
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(f"q, k and v must have one dtype; got {q.dtype}, {k.dtype} and {v.dtype}")
    if not (q.device == k.device == v.device):
        raise ValueError(f"q, k and v must be on one device; got {q.device}, {k.device} and {v.device}")


def _check_mask(mask: object, q: torch.Tensor, k: torch.Tensor) -> None:
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise TypeError(f"mask must be a boolean tensor (True where a query may look at a key); got {_describe(mask)}")
    if mask.device != q.device:
        raise ValueError(f"mask must be on the device of the queries, {q.device}; got {_describe(mask)}")
    scores_shape = (*torch.broadcast_shapes(q.shape[:-2], k.shape[:-2]), q.shape[-2], k.shape[-2])
    try:
        shape = torch.broadcast_shapes(mask.shape, scores_shape)
    except RuntimeError:
        shape = None
    if shape != scores_shape:
        raise ValueError(
            f"mask must broadcast to the shape of the scores, {scores_shape}; got {_describe(mask)}"
        )
    if not mask.any(dim=-1).all():
        raise ValueError("mask leaves a query with no key to look at: every row of the mask needs a True")


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    hard: bool = False,
    *,
    scale: float | None = None,
    need_weights: bool = False,
    fused: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    r"""Attend from the queries to the keys and return the combination of the values.

    For each query (a row of ``q``) the scores against the keys are
    :math:`\beta \bm{K}^\top \bm{q}`; soft attention turns them into the
    coefficients :math:`\bm{a} = \softargmax(\beta \bm{K}^\top \bm{q})`, hard
    attention into the one-hot vector of the largest score (the first one on a
    tie); the output is :math:`\bm{h} = \bm{V} \bm{a}`.

    Parameters
    ----------
    q : torch.Tensor
        Queries, shape ``(..., T_q, d)``.
    k : torch.Tensor
        Keys, shape ``(..., T_k, d)``.
    v : torch.Tensor
        Values, shape ``(..., T_k, d_v)``. Self-attention passes the same set
        (or projections of it) as ``q``, ``k`` and ``v``; cross-attention
        takes the keys and values from another set.
    mask : torch.Tensor, optional
        Boolean, broadcastable to the scores ``(..., T_q, T_k)``: ``True``
        where a query may look at a key. Every query needs at least one key.
    hard : bool
        Hard (argmax) instead of soft (softargmax) attention. The one-hot
        weights are piecewise constant in the scores, so no gradient reaches
        ``q`` and ``k`` through them; ``v`` still gets its gradient.
    scale : float, optional
        The factor :math:`\beta \geq 0` of the scores; :math:`1 / \sqrt{d}`
        by default. A large :math:`\beta` makes soft attention nearly hard;
        :math:`\beta = 0` averages the values with equal weights.
    need_weights : bool
        Also return the attention weights, shape ``(..., T_q, T_k)``: row
        :math:`i` is the coefficient vector :math:`\bm{a}` of query :math:`i`.
    fused : bool
        Compute soft attention with
        :func:`torch.nn.functional.scaled_dot_product_attention` (one fused
        kernel where the hardware has one). It neither returns the weights
        nor does hard attention.

    Returns
    -------
    torch.Tensor or tuple of torch.Tensor
        The output, shape ``(..., T_q, d_v)``, and the weights if
        ``need_weights``.

    Examples
    --------
    >>> q = torch.tensor([[1.0, 0.0]])            # one query
    >>> k = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # two keys ...
    >>> v = torch.tensor([[10.0], [20.0]])          # ... and their values
    >>> attention(q, k, v, hard=True)
    tensor([[10.]])
    >>> h, a = attention(q, k, v, need_weights=True)
    >>> a.sum().item(), h.item() == (a @ v).item()
    (1.0, True)
    """
    _check_qkv(q, k, v)
    if mask is not None:
        _check_mask(mask, q, k)
    if scale is not None and (
        isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale < 0
    ):
        raise ValueError(f"scale must be a finite number >= 0 (the factor beta of the scores); got {scale!r}")
    beta = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    if fused:
        if hard or need_weights:
            raise ValueError(
                "the fused path does soft attention only and returns no weights; "
                "use fused=False"
            )
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=beta)

    # (..., T_q, T_k): one row of scores per query
    scores = q @ k.transpose(-2, -1) * beta
    if mask is not None:
        scores = scores.masked_fill(~mask, -math.inf)
    if hard:
        weights = F.one_hot(scores.argmax(dim=-1), scores.shape[-1]).to(v.dtype)
    else:
        weights = torch.softmax(scores, dim=-1)
    out = weights @ v  # each output row is a combination of the rows of v
    return (out, weights) if need_weights else out


def causal_mask(T: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    r"""The mask of a sequence that may not look ahead: query :math:`i` sees keys
    :math:`j \le i`.

    Examples
    --------
    >>> causal_mask(3).int()
    tensor([[1, 0, 0],
            [1, 1, 0],
            [1, 1, 1]], dtype=torch.int32)
    """
    if not isinstance(T, int) or isinstance(T, bool) or T < 1:
        raise ValueError(f"T must be a positive int; got {T!r}")
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def padding_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    r"""The mask of a batch of sequences padded to length ``T``.

    Sequence :math:`b` has ``lengths[b]`` real elements followed by padding;
    no query may look at a padding key. The result has shape ``(B, 1, T)``,
    which broadcasts to the scores ``(B, T_q, T)`` of any number of queries.

    Examples
    --------
    >>> padding_mask(torch.tensor([1, 3]), 3).int()
    tensor([[[1, 0, 0]],
    <BLANKLINE>
            [[1, 1, 1]]], dtype=torch.int32)
    """
    if not isinstance(lengths, torch.Tensor) or lengths.ndim != 1 or lengths.is_floating_point():
        raise TypeError(f"lengths must be a 1-D integer tensor, one length per sequence; got {_describe(lengths)}")
    if not isinstance(T, int) or isinstance(T, bool) or T < 1:
        raise ValueError(f"T must be a positive int; got {T!r}")
    if lengths.numel() and (lengths.min() < 1 or lengths.max() > T):
        raise ValueError(f"every length must lie in 1..{T}; got {lengths.tolist()}")
    positions = torch.arange(T, device=lengths.device)
    return (positions < lengths[:, None])[:, None, :]


class MultiHeadAttention(nn.Module):
    r"""Attention with learnt projections, split into heads.

    The queries, keys and values are linear maps of the inputs,
    :math:`\bm{q} = \bm{W}_q \bm{x}`, :math:`\bm{k} = \bm{W}_k \bm{\xi}`,
    :math:`\bm{v} = \bm{W}_v \bm{\xi}` (plus biases), where :math:`\bm{\xi}`
    is the same set as :math:`\bm{x}` for self-attention and another set for
    cross-attention. Each of the ``heads`` heads attends with its own slice of
    size ``d_model // heads``; the outputs are concatenated and mixed by a last
    linear map :math:`\bm{W}_o`.

    Parameters
    ----------
    d_model : int
        Size of the elements of the input and output sets.
    heads : int
        Number of heads; must divide ``d_model``.
    bias : bool
        Biases in the four linear maps.
    fused : bool
        Use the fused kernel (:func:`attention` with ``fused=True``) whenever
        no weights and no hard attention are asked for, and, for
        self-attention, one product with the stacked
        :math:`[\bm{W}_q; \bm{W}_k; \bm{W}_v]` for the three projections
        (what PyTorch's layers do).
    device, dtype : optional
        Where and in what precision to keep the weights. They are initialised
        on the CPU and then moved, so that a model starts from the same
        weights on every device.

    Examples
    --------
    >>> mha = MultiHeadAttention(8, heads=2)
    >>> x = torch.randn(3, 5, 8)                 # 3 sets of 5 elements
    >>> mha(x).shape                             # self-attention
    torch.Size([3, 5, 8])
    >>> out, a = mha(x[:, :2], torch.randn(3, 7, 8), need_weights=True)  # cross
    >>> out.shape, a.shape                       # weights: (B, heads, T_q, T_k)
    (torch.Size([3, 2, 8]), torch.Size([3, 2, 2, 7]))
    """

    def __init__(
        self,
        d_model: int,
        heads: int,
        *,
        bias: bool = True,
        fused: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(d_model, int) or not isinstance(heads, int) or d_model < 1 or heads < 1:
            raise ValueError(f"d_model and heads must be positive ints; got {d_model!r} and {heads!r}")
        if d_model % heads:
            raise ValueError(f"heads must divide d_model; got d_model={d_model}, heads={heads}")
        self.d_model, self.heads, self.fused = d_model, heads, fused
        # initialised on the CPU and then moved, so that the weights start the same on any device
        kw = {"bias": bias, "dtype": dtype}
        self.w_q = nn.Linear(d_model, d_model, **kw)
        self.w_k = nn.Linear(d_model, d_model, **kw)
        self.w_v = nn.Linear(d_model, d_model, **kw)
        self.w_o = nn.Linear(d_model, d_model, **kw)
        if device is not None:
            self.to(device)

    def _packed(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The stacked weight
        :math:`[\\bm{W}_q; \\bm{W}_k; \\bm{W}_v] \\in \\R^{3d \\times d}` and bias."""
        weight = torch.cat((self.w_q.weight, self.w_k.weight, self.w_v.weight))
        bias = None if self.w_q.bias is None else torch.cat((self.w_q.bias, self.w_k.bias, self.w_v.bias))
        return weight, bias

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, d_model) -> (B, heads, T, d_model // heads)."""
        return x.unflatten(-1, (self.heads, -1)).transpose(-3, -2)

    def forward(
        self,
        x: torch.Tensor,
        xi: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        *,
        hard: bool = False,
        need_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        r"""Attend from the set ``x`` to the set ``xi`` (to ``x`` itself when ``xi`` is
        None).

        ``x`` has shape ``(B, T_q, d_model)`` and ``xi`` ``(B, T_k, d_model)``.
        ``mask`` is boolean and broadcasts to ``(B, T_q, T_k)`` (the same mask
        for every head) or to ``(B, heads, T_q, T_k)``. Returns the output
        ``(B, T_q, d_model)`` and, if ``need_weights``, the weights
        ``(B, heads, T_q, T_k)``; ``hard=True`` gives every head hard attention.
        """
        for name, value in (("x", x), ("xi", x if xi is None else xi)):
            if not isinstance(value, torch.Tensor) or value.ndim != 3 or value.shape[-1] != self.d_model:
                raise ValueError(f"{name} must have shape (B, T, {self.d_model}); got {_describe(value)}")
        if xi is not None and xi.shape[0] != x.shape[0]:
            raise ValueError(f"x and xi must hold as many sets (the same B); got x {_describe(x)} and xi {_describe(xi)}")
        if self.fused and xi is None:
            # one set: one product with the stacked [W_q; W_k; W_v]
            q, k, v = map(self._split, F.linear(x, *self._packed()).chunk(3, dim=-1))
        else:
            xi = x if xi is None else xi
            q, k, v = (
                self._split(self.w_q(x)),
                self._split(self.w_k(xi)),
                self._split(self.w_v(xi)),
            )
        if mask is not None and isinstance(mask, torch.Tensor) and mask.ndim == 3:
            mask = mask[:, None]  # the same mask for every head
        fused = self.fused and not (hard or need_weights)
        result = attention(q, k, v, mask, hard, need_weights=need_weights, fused=fused)
        out, weights = result if need_weights else (result, None)
        # concatenate the heads, then mix them
        out = self.w_o(out.transpose(-3, -2).flatten(-2))
        return (out, weights) if need_weights else out

    @classmethod
    def from_torch(cls, mha: nn.MultiheadAttention, *, fused: bool = False) -> MultiHeadAttention:
        """A copy of a ``torch.nn.MultiheadAttention`` (same weights, so the same
        outputs).

        The PyTorch module must have equal query, key and value sizes and no
        extra key/value biases. Its packed input projection is split into
        :math:`\\bm{W}_q`, :math:`\\bm{W}_k` and :math:`\\bm{W}_v`.

        Examples
        --------
        >>> theirs = nn.MultiheadAttention(8, 2, batch_first=True)
        >>> ours = MultiHeadAttention.from_torch(theirs)
        >>> x = torch.randn(3, 5, 8)
        >>> torch.allclose(ours(x), theirs(x, x, x, need_weights=False)[0], atol=1e-6)
        True
        """
        if not isinstance(mha, nn.MultiheadAttention):
            raise TypeError(f"expected a torch.nn.MultiheadAttention; got {type(mha).__name__}")
        if not mha._qkv_same_embed_dim or mha.bias_k is not None:
            raise ValueError("only a MultiheadAttention with kdim = vdim = embed_dim and add_bias_kv=False can be copied")
        weight = mha.in_proj_weight
        bias = mha.in_proj_bias is not None
        ours = cls(mha.embed_dim, mha.num_heads, bias=bias, fused=fused, device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            for i, lin in enumerate((ours.w_q, ours.w_k, ours.w_v)):
                lin.weight.copy_(weight.chunk(3)[i])
                if bias:
                    lin.bias.copy_(mha.in_proj_bias.chunk(3)[i])
            ours.w_o.weight.copy_(mha.out_proj.weight)
            if bias:
                ours.w_o.bias.copy_(mha.out_proj.bias)
        return ours


class AttentionPooling(nn.Module):
    r"""A map from a set to one vector: a single learnt query attends to the set.

    The module holds one learnt vector :math:`\bm{q}_0`, the same for every
    set, and cross-attends from it to the set :math:`\bm{X}` with a
    :class:`MultiHeadAttention` (whose :math:`\bm{W}_q` projects
    :math:`\bm{q}_0` once more). For one head the output is

    .. math::

       \bm{h} = \bm{W}_o \bm{V} \softargmax(\beta \bm{K}^\top \bm{q}),
       \qquad \bm{q} = \bm{W}_q \bm{q}_0, \ \bm{K} = \bm{W}_k \bm{X}, \
       \bm{V} = \bm{W}_v \bm{X}

    (plus biases). The query does not depend on the set, so permuting the
    elements of the set permutes the keys and the values alike and leaves
    :math:`\bm{h}` unchanged: the map is permutation-invariant. This is the
    pooling by multi-head attention of the Set Transformer.

    Parameters
    ----------
    d_model : int
        Size of the elements of the set and of the output vector.
    heads : int
        Number of heads; must divide ``d_model``.
    bias : bool
        Biases in the four linear maps.
    fused : bool
        Use the fused kernel when no weights and no hard attention are asked for.
    device, dtype : optional
        Where and in what precision to keep the parameters, initialised on the
        CPU and then moved, as in :class:`MultiHeadAttention`.

    Attributes
    ----------
    query : torch.nn.Parameter
        The learnt query :math:`\bm{q}_0`, shape ``(d_model,)``.
    attend : MultiHeadAttention
        The attention from the query to the set.

    Examples
    --------
    >>> pool = AttentionPooling(4, heads=2)
    >>> x = torch.randn(3, 6, 4)                   # 3 sets of 6 elements
    >>> h, a = pool(x, need_weights=True)
    >>> h.shape, a.shape                           # weights: (B, heads, T)
    (torch.Size([3, 4]), torch.Size([3, 2, 6]))
    >>> torch.allclose(pool(x[:, torch.randperm(6)]), h, atol=1e-6)
    True
    """

    def __init__(
        self,
        d_model: int,
        heads: int = 1,
        *,
        bias: bool = True,
        fused: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.attend = MultiHeadAttention(d_model, heads, bias=bias, fused=fused, device=device, dtype=dtype)
        # drawn on the CPU and moved, so that the query starts the same on any device
        self.query = nn.Parameter(torch.randn(d_model, dtype=dtype).to(device) / math.sqrt(d_model))

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        *,
        hard: bool = False,
        need_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        r"""Pool each set of ``x`` into one vector.

        ``x`` has shape ``(B, T, d_model)``; ``mask`` is boolean and
        broadcasts to ``(B, 1, T)`` (a :func:`padding_mask`, for sets of
        different sizes padded to ``T``). Returns the vectors
        ``(B, d_model)`` and, if ``need_weights``, the coefficient vectors
        ``(B, heads, T)``, one per set and head.
        """
        if not isinstance(x, torch.Tensor) or x.ndim != 3:
            raise ValueError(f"x must have shape (B, T, {self.attend.d_model}); got {_describe(x)}")
        q = self.query.expand(x.shape[0], 1, -1)
        result = self.attend(q, x, mask, hard=hard, need_weights=need_weights)
        if need_weights:
            out, weights = result
            return out[:, 0], weights[:, :, 0]
        return result[:, 0]
