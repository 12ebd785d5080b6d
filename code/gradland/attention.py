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

* :func:`attention_weights`, the coefficients: soft or hard, with an optional
  mask, one row per query;
* :func:`attention`, the function: the combination of the values by those
  coefficients; ``fused=True`` hands the soft case to
  :func:`torch.nn.functional.scaled_dot_product_attention`;
* :func:`causal_mask` and :func:`padding_mask`, the two masks of sequences;
* :class:`MultiHeadAttention`, the module with learnt projections of the
  queries, keys and values, split into heads; it copies its weights from
  :class:`torch.nn.MultiheadAttention` with :meth:`MultiHeadAttention.from_torch`;
* :class:`AttentionPooling`, a map from a set to one vector: a single learnt
  query attends to the set through a :class:`MultiHeadAttention`.

Each function and method returns one thing: the outputs, or, from the
functions and methods named ``attention_weights``, the coefficients.

Masks are boolean, with ``True`` where a query may look at a key (the
convention of ``scaled_dot_product_attention``). A query that may look at no
key gets the coefficients 0 and the output 0, as in PyTorch.

The checks read metadata only (types, shapes, dtypes, devices), never the
values of a tensor, so that attention inside a model never makes the CPU wait
for the GPU; :func:`padding_mask`, where lengths enter from the user, checks
their values.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gradland import _checks
from gradland._checks import describe as _describe

__all__ = [
    "attention_weights",
    "attention",
    "causal_mask",
    "padding_mask",
    "MultiHeadAttention",
    "AttentionPooling",
]


# ---------------------------------------------------------------------------
# The input checks: metadata only.


def _check_qkv(q: object, k: object, *v: object) -> None:
    """Fail unless the queries, keys (and values, if given) are floating-point tensors
    that fit together."""
    named = [("q", q), ("k", k), *(("v", value) for value in v)]
    for name, value in named:
        _checks.tensor(name, value, min_ndim=2, floating=True, shape="(..., T, d), at least 2 dimensions")
    if q.shape[-1] != k.shape[-1] or q.shape[-1] == 0:
        raise ValueError(f"queries and keys must have the same size d >= 1; got q {_describe(q)} and k {_describe(k)}")
    if k.shape[-2] == 0:
        raise ValueError(f"k must hold at least one key (T >= 1); got {_describe(k)}")
    if v and k.shape[-2] != v[0].shape[-2]:
        raise ValueError(f"keys and values must be as many (the same T); got k {_describe(k)} and v {_describe(v[0])}")
    _checks.alike(**dict(named))
    if _checks.broadcast(*(value.shape[:-2] for _, value in named)) is None:
        shapes = ", ".join(f"{name} {tuple(value.shape)}" for name, value in named)
        raise ValueError(f"the batch dimensions of q, k and v (all but the last two) must broadcast; got {shapes}")


def _scores_shape(q: torch.Tensor, k: torch.Tensor) -> tuple[int, ...]:
    """The shape ``(..., T_q, T_k)`` of the scores of queries ``q`` and keys ``k``."""
    return (*_checks.broadcast(q.shape[:-2], k.shape[:-2]), q.shape[-2], k.shape[-2])


# ---------------------------------------------------------------------------
# Attention: the coefficients, and the combination of the values.


def attention_weights(
    q: torch.Tensor,
    k: torch.Tensor,
    mask: torch.Tensor | None = None,
    hard: bool = False,
    *,
    scale: float | None = None,
) -> torch.Tensor:
    r"""The coefficients of attention: one coefficient vector per query, as a row.

    For each query (a row of ``q``) the scores against the keys are
    :math:`\beta \bm{K}^\top \bm{q}`; soft attention turns them into the
    coefficients :math:`\bm{a} = \softargmax(\beta \bm{K}^\top \bm{q})`, hard
    attention into the one-hot vector of the largest score (the first one on a
    tie). :func:`attention` combines the values with them.

    Parameters
    ----------
    q : torch.Tensor
        Queries, shape ``(..., T_q, d)``.
    k : torch.Tensor
        Keys, shape ``(..., T_k, d)``, with :math:`T_k \geq 1`.
    mask : torch.Tensor, optional
        Boolean, broadcastable to the scores ``(..., T_q, T_k)``: ``True``
        where a query may look at a key. A query that may look at no key
        gets the coefficients 0.
    hard : bool
        Hard (argmax) instead of soft (softargmax) attention. A query with a
        NaN score gets NaN coefficients, as in soft attention, instead of the
        one-hot vector of the NaN.
    scale : float, optional
        The factor :math:`\beta \geq 0` of the scores; :math:`1 / \sqrt{d}`
        by default. A large :math:`\beta` makes soft attention nearly hard;
        :math:`\beta = 0` gives every key the same weight.

    Returns
    -------
    torch.Tensor
        The coefficients, shape ``(..., T_q, T_k)``: row :math:`i` is the
        coefficient vector :math:`\bm{a}` of query :math:`i`.

    Raises
    ------
    TypeError
        If ``q`` or ``k`` is not a floating-point tensor, or ``mask`` not a
        boolean tensor.
    ValueError
        If the shapes, dtypes or devices do not fit together, there is no key,
        or ``scale`` is negative or not finite.

    Examples
    --------
    >>> import torch
    >>> from gradland.attention import attention_weights
    >>> q = torch.tensor([[1.0, 0.0]])              # one query
    >>> k = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # two keys
    >>> attention_weights(q, k, hard=True)
    tensor([[1., 0.]])
    >>> attention_weights(q, k, scale=0.0)           # beta = 0: equal weights
    tensor([[0.5000, 0.5000]])
    """
    _check_qkv(q, k)
    if mask is not None:
        _checks.mask("mask", mask, _scores_shape(q, k), q.device)
    scale = None if scale is None else _checks.real("scale", scale, minimum=0.0)
    beta = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    # (..., T_q, T_k): one row of scores per query
    scores = q @ k.transpose(-2, -1) * beta
    if mask is not None:
        scores = scores.masked_fill(~mask, -math.inf)
    if hard:
        weights = F.one_hot(scores.argmax(dim=-1), scores.shape[-1]).to(q.dtype)
        nan = scores.isnan().any(dim=-1, keepdim=True)  # NaN, not the NaN's key
        weights = weights.masked_fill(nan, math.nan)
    else:
        weights = torch.softmax(scores, dim=-1)
    if mask is not None:  # a query with no key gets 0, not 0 / 0
        weights = weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)
    return weights


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    hard: bool = False,
    *,
    scale: float | None = None,
    fused: bool = False,
) -> torch.Tensor:
    r"""Attend from the queries to the keys and return the combination of the values.

    The output for a query is :math:`\bm{h} = \bm{V} \bm{a}`, where
    :math:`\bm{a}` are its coefficients, soft or hard, as
    :func:`attention_weights` computes them.

    Parameters
    ----------
    q : torch.Tensor
        Queries, shape ``(..., T_q, d)``.
    k : torch.Tensor
        Keys, shape ``(..., T_k, d)``, with :math:`T_k \geq 1`.
    v : torch.Tensor
        Values, shape ``(..., T_k, d_v)``. Self-attention passes the same set
        (or projections of it) as ``q``, ``k`` and ``v``; cross-attention
        takes the keys and values from another set.
    mask : torch.Tensor, optional
        Boolean, broadcastable to the scores ``(..., T_q, T_k)``: ``True``
        where a query may look at a key. A query that may look at no key gets
        the output 0.
    hard : bool
        Hard (argmax) instead of soft (softargmax) attention. The one-hot
        weights are piecewise constant in the scores, so no gradient reaches
        ``q`` and ``k`` through them; ``v`` still gets its gradient. A NaN
        score gives a NaN output, as in soft attention.
    scale : float, optional
        The factor :math:`\beta \geq 0` of the scores; :math:`1 / \sqrt{d}`
        by default. A large :math:`\beta` makes soft attention nearly hard;
        :math:`\beta = 0` averages the values with equal weights.
    fused : bool
        Compute soft attention with
        :func:`torch.nn.functional.scaled_dot_product_attention` (one fused
        kernel where the hardware has one). It does not do hard attention.

    Returns
    -------
    torch.Tensor
        The output, shape ``(..., T_q, d_v)``.

    Raises
    ------
    TypeError
        If ``q``, ``k`` or ``v`` is not a floating-point tensor, or ``mask``
        not a boolean tensor.
    ValueError
        If the shapes, dtypes or devices do not fit together, there is no key,
        ``scale`` is negative or not finite, or ``fused`` is asked of hard
        attention.

    Examples
    --------
    >>> import torch
    >>> from gradland.attention import attention, attention_weights
    >>> q = torch.tensor([[1.0, 0.0]])            # one query
    >>> k = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # two keys ...
    >>> v = torch.tensor([[10.0], [20.0]])          # ... and their values
    >>> attention(q, k, v, hard=True)
    tensor([[10.]])
    >>> a = attention_weights(q, k)
    >>> a.sum().item(), torch.equal(attention(q, k, v), a @ v)
    (1.0, True)
    """
    _check_qkv(q, k, v)
    if mask is not None:
        _checks.mask("mask", mask, _scores_shape(q, k), q.device)
    scale = None if scale is None else _checks.real("scale", scale, minimum=0.0)
    if fused:
        if hard:
            raise ValueError("the fused path does soft attention only; use fused=False")
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)
    weights = attention_weights(q, k, mask, hard, scale=scale)
    return weights @ v  # each output row is a combination of the rows of v


def causal_mask(T: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    r"""The mask of a sequence that may not look ahead: query :math:`i` sees keys
    :math:`j \le i`.

    Parameters
    ----------
    T : int
        Length of the sequence, at least 1.
    device : torch.device or str, optional
        Where to make the mask; the CPU by default.

    Returns
    -------
    torch.Tensor
        Boolean, shape ``(T, T)``, ``True`` on and below the diagonal.

    Raises
    ------
    TypeError
        If ``T`` is not an int, or ``device`` not a device.
    ValueError
        If ``T < 1``, or ``device`` names no device here.

    Examples
    --------
    >>> from gradland.attention import causal_mask
    >>> causal_mask(3).int()
    tensor([[1, 0, 0],
            [1, 1, 0],
            [1, 1, 1]], dtype=torch.int32)
    """
    T = _checks.integer("T", T, minimum=1)
    if device is not None:
        _checks.device("device", device)
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def padding_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    r"""The mask of a batch of sequences padded to length ``T``.

    Sequence :math:`b` has ``lengths[b]`` real elements followed by padding;
    no query may look at a padding key. The result has shape ``(B, 1, T)``,
    which broadcasts to the scores ``(B, T_q, T)`` of any number of queries.

    Parameters
    ----------
    lengths : torch.Tensor
        Integer, shape ``(B,)``: the number of real elements of each
        sequence, from 1 to ``T``. These values are checked, with one
        transfer from the device: make the mask once per batch.
    T : int
        The padded length, at least 1.

    Returns
    -------
    torch.Tensor
        Boolean, shape ``(B, 1, T)``, on the device of ``lengths``.

    Raises
    ------
    TypeError
        If ``lengths`` is not a 1-D integer tensor or ``T`` not an int.
    ValueError
        If ``T < 1`` or a length lies outside ``1..T``.

    Examples
    --------
    >>> import torch
    >>> from gradland.attention import padding_mask
    >>> padding_mask(torch.tensor([1, 3]), 3).int()
    tensor([[[1, 0, 0]],
    <BLANKLINE>
            [[1, 1, 1]]], dtype=torch.int32)
    """
    _checks.tensor("lengths", lengths, ndim=1, shape="(B,)")
    if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
        raise TypeError(f"lengths must be an integer tensor, one length per sequence; got {_describe(lengths)}")
    T = _checks.integer("T", T, minimum=1)
    if lengths.numel() and lengths.device.type != "meta":  # a meta tensor has no values
        low, high = torch.stack(torch.aminmax(lengths)).tolist()
        if low < 1 or high > T:
            raise ValueError(f"every length must lie in 1..{T}; got lengths from {low} to {high}")
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
        hard attention is not asked for, and, for
        self-attention, one product with the stacked
        :math:`[\bm{W}_q; \bm{W}_k; \bm{W}_v]` for the three projections
        (what PyTorch's layers do).
    device, dtype : optional
        Where and in what precision to keep the weights. They are initialised
        on the CPU and then moved, so that a model starts from the same
        weights on every device.

    Raises
    ------
    TypeError
        If ``d_model`` or ``heads`` is not an int, or ``dtype`` not a
        floating-point dtype.
    ValueError
        If ``d_model`` or ``heads`` is below 1, or ``heads`` does not divide
        ``d_model``.

    Examples
    --------
    >>> import torch
    >>> from gradland.attention import MultiHeadAttention
    >>> mha = MultiHeadAttention(8, heads=2)
    >>> x = torch.randn(3, 5, 8)                 # 3 sets of 5 elements
    >>> mha(x).shape                             # self-attention
    torch.Size([3, 5, 8])
    >>> other = torch.randn(3, 7, 8)
    >>> mha(x[:, :2], other).shape               # cross-attention
    torch.Size([3, 2, 8])
    >>> mha.attention_weights(x[:, :2], other).shape  # (B, heads, T_q, T_k)
    torch.Size([3, 2, 2, 7])
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
        d_model, heads = _checks.sizes(d_model=d_model, heads=heads)
        if d_model % heads:
            raise ValueError(f"heads must divide d_model; got d_model={d_model}, heads={heads}")
        _checks.factory(device, dtype)
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
    ) -> torch.Tensor:
        r"""Attend from the set ``x`` to the set ``xi`` (to ``x`` itself when ``xi`` is
        None).

        Parameters
        ----------
        x : torch.Tensor
            The queries' set, shape ``(B, T_q, d_model)``, of the module's
            dtype and on its device.
        xi : torch.Tensor, optional
            The keys' and values' set, shape ``(B, T_k, d_model)`` with
            :math:`T_k \geq 1`; ``x`` itself by default (self-attention).
        mask : torch.Tensor, optional
            Boolean, broadcastable to ``(B, T_q, T_k)`` (the same mask for
            every head) or to ``(B, heads, T_q, T_k)``; ``True`` where a query
            may look at a key.
        hard : bool
            Hard attention in every head.

        Returns
        -------
        torch.Tensor
            The output, shape ``(B, T_q, d_model)``. :meth:`attention_weights`
            returns the coefficients.

        Raises
        ------
        TypeError
            If ``x`` or ``xi`` is not a floating-point tensor, or ``mask`` not a
            boolean one.
        ValueError
            If a shape, dtype or device does not fit.
        """
        _checks.vectors("x", x, self.w_q.weight, keys=xi is None)
        if xi is not None and len(_checks.vectors("xi", xi, self.w_k.weight, keys=True)) != len(x):
            raise ValueError(
                f"x and xi must hold as many sets (the same B); got x {_describe(x)} and xi {_describe(xi)}"
            )
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
        if isinstance(mask, torch.Tensor) and mask.ndim == 3:
            mask = mask[:, None]  # the same mask for every head
        out = attention(q, k, v, mask, hard, fused=self.fused and not hard)
        # concatenate the heads, then mix them
        return self.w_o(out.transpose(-3, -2).flatten(-2))

    def attention_weights(
        self,
        x: torch.Tensor,
        xi: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        *,
        hard: bool = False,
    ) -> torch.Tensor:
        r"""The coefficients of every head, for the arguments of :meth:`forward`.

        The queries and keys are projected by :math:`\bm{W}_q` and
        :math:`\bm{W}_k` apart, even on the fused path (which packs them): the
        same coefficients, to rounding.

        Parameters
        ----------
        x, xi, mask, hard
            As :meth:`forward`.

        Returns
        -------
        torch.Tensor
            Shape ``(B, heads, T_q, T_k)``: row :math:`i` of head :math:`h` is
            the coefficient vector of query :math:`i` in that head.

        Raises
        ------
        TypeError, ValueError
            As :meth:`forward`.
        """
        _checks.vectors("x", x, self.w_q.weight, keys=xi is None)
        if xi is not None and len(_checks.vectors("xi", xi, self.w_k.weight, keys=True)) != len(x):
            raise ValueError(
                f"x and xi must hold as many sets (the same B); got x {_describe(x)} and xi {_describe(xi)}"
            )
        xi = x if xi is None else xi
        q, k = self._split(self.w_q(x)), self._split(self.w_k(xi))
        if isinstance(mask, torch.Tensor) and mask.ndim == 3:
            mask = mask[:, None]  # the same mask for every head
        return attention_weights(q, k, mask, hard)

    @classmethod
    def from_torch(cls, mha: nn.MultiheadAttention, *, fused: bool = False) -> MultiHeadAttention:
        """A copy of a ``torch.nn.MultiheadAttention`` (same weights, so the same
        outputs).

        The PyTorch module must have equal query, key and value sizes and no
        extra key/value biases. Its packed input projection is split into
        :math:`\\bm{W}_q`, :math:`\\bm{W}_k` and :math:`\\bm{W}_v`.

        Parameters
        ----------
        mha : torch.nn.MultiheadAttention
            The module to copy.
        fused : bool
            The path of the copy.

        Returns
        -------
        MultiHeadAttention
            On the module's device, in its dtype.

        Raises
        ------
        TypeError
            If ``mha`` is not a :class:`torch.nn.MultiheadAttention`.
        ValueError
            If it has other key or value sizes, or extra key/value biases.

        Examples
        --------
        >>> import torch
        >>> from torch import nn
        >>> from gradland.attention import MultiHeadAttention
        >>> theirs = nn.MultiheadAttention(8, 2, batch_first=True)
        >>> ours = MultiHeadAttention.from_torch(theirs)
        >>> x = torch.randn(3, 5, 8)
        >>> torch.allclose(ours(x), theirs(x, x, x, need_weights=False)[0], atol=1e-6)
        True
        """
        if not isinstance(mha, nn.MultiheadAttention):
            raise TypeError(f"expected a torch.nn.MultiheadAttention; got {type(mha).__name__}")
        if not mha._qkv_same_embed_dim or mha.bias_k is not None:
            raise ValueError(
                "only a MultiheadAttention with kdim = vdim = embed_dim and add_bias_kv=False can be copied"
            )
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
        Use the fused kernel when hard attention is not asked for.
    device, dtype : optional
        Where and in what precision to keep the parameters, initialised on the
        CPU and then moved, as in :class:`MultiHeadAttention`.

    Attributes
    ----------
    query : torch.nn.Parameter
        The learnt query :math:`\bm{q}_0`, shape ``(d_model,)``.
    attend : MultiHeadAttention
        The attention from the query to the set.

    Raises
    ------
    TypeError, ValueError
        As :class:`MultiHeadAttention`.

    Examples
    --------
    >>> import torch
    >>> from gradland.attention import AttentionPooling
    >>> pool = AttentionPooling(4, heads=2)
    >>> x = torch.randn(3, 6, 4)                   # 3 sets of 6 elements
    >>> h, a = pool(x), pool.attention_weights(x)
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
    ) -> torch.Tensor:
        r"""Pool each set of ``x`` into one vector.

        Parameters
        ----------
        x : torch.Tensor
            The sets, shape ``(B, T, d_model)`` with :math:`T \geq 1`, of the
            module's dtype and on its device.
        mask : torch.Tensor, optional
            Boolean, broadcastable to ``(B, 1, T)``: a :func:`padding_mask`,
            for sets of different sizes padded to ``T``.
        hard : bool
            Hard attention in every head.

        Returns
        -------
        torch.Tensor
            The vectors, shape ``(B, d_model)``. :meth:`attention_weights`
            returns the coefficients.

        Raises
        ------
        TypeError
            If ``x`` is not a floating-point tensor, or ``mask`` not a boolean
            one.
        ValueError
            If a shape, dtype or device does not fit.
        """
        _checks.vectors("x", x, self.query, keys=True)
        q = self.query.expand(x.shape[0], 1, -1)
        return self.attend(q, x, mask, hard=hard)[:, 0]

    def attention_weights(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, *, hard: bool = False
    ) -> torch.Tensor:
        """The coefficient vectors of the learnt query, for the arguments of
        :meth:`forward`.

        Parameters
        ----------
        x, mask, hard
            As :meth:`forward`.

        Returns
        -------
        torch.Tensor
            Shape ``(B, heads, T)``, one coefficient vector per set and head.

        Raises
        ------
        TypeError, ValueError
            As :meth:`forward`.
        """
        _checks.vectors("x", x, self.query, keys=True)
        q = self.query.expand(x.shape[0], 1, -1)
        return self.attend.attention_weights(q, x, mask, hard=hard)[:, :, 0]
