"""Tests of gradland.attention: the function against PyTorch's kernel, the module
against torch.nn.MultiheadAttention, hard attention, the limit of a large scale,
permutations, masks, gradients, pooling and the input checks."""

import math

import pytest
import torch
import torch.nn.functional as F
from gradland.attention import (
    AttentionPooling,
    MultiHeadAttention,
    attention,
    attention_weights,
    causal_mask,
    padding_mask,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

pytestmark = pytest.mark.usefixtures("one_cpu_thread")

F64 = torch.float64


def randn(*shape, seed=0, dtype=F64, device="cpu"):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype).to(device)


def make_mask(kind, batch, T_q, T_k, device="cpu"):
    """A boolean mask (True = may look) of one kind, shaped to broadcast to (B, heads, T_q, T_k)."""
    if kind is None:
        return None
    lengths = torch.tensor([T_k, max(1, T_k - 2), max(1, T_k // 2)][:batch], device=device)
    pad = padding_mask(lengths, T_k)[:, None]  # (B, 1, 1, T_k)
    causal = torch.ones(T_q, T_k, dtype=torch.bool, device=device).tril()  # query i sees keys j <= i
    if kind == "padding":
        return pad
    if kind == "causal":
        return causal
    return pad & causal  # "both": every row keeps key 0, so no query is left without a key


MASKS = [None, "causal", "padding", "both"]


# ---------------------------------------------------------------- the function against SDPA


@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("cross", [False, True])
@pytest.mark.parametrize("fused", [False, True])
def test_attention_equals_scaled_dot_product_attention(mask_kind, cross, fused):
    batch, heads, T_q, d, d_v = 3, 2, 5, 4, 3
    T_k = 7 if cross else T_q
    q = randn(batch, heads, T_q, d, seed=1)
    k = randn(batch, heads, T_k, d, seed=2) if cross else q
    v = randn(batch, heads, T_k, d_v, seed=3)
    mask = make_mask(mask_kind, batch, T_q, T_k)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.allclose(attention(q, k, v, mask, fused=fused), expected, rtol=0, atol=1e-13)


@pytest.mark.parametrize("mask_kind", MASKS)
def test_attention_weights_are_the_softargmax_of_the_scaled_scores(mask_kind):
    q, k, v = randn(2, 4, 6, seed=1), randn(2, 5, 6, seed=2), randn(2, 5, 3, seed=3)
    mask = make_mask(mask_kind, 2, 4, 5)
    mask = None if mask is None else mask[:, 0] if mask.ndim == 4 else mask
    out, a = attention(q, k, v, mask), attention_weights(q, k, mask)
    scores = q @ k.transpose(-2, -1) / math.sqrt(6)
    if mask is not None:
        scores = scores.masked_fill(~mask, -math.inf)
    assert torch.allclose(a, torch.softmax(scores, dim=-1), rtol=0, atol=1e-15)
    assert torch.allclose(a.sum(-1), torch.ones(2, 4, dtype=F64), rtol=0, atol=1e-14)
    if mask is not None:
        assert bool((a[~mask.expand_as(a)] == 0).all())
    assert torch.allclose(out, a @ v, rtol=0, atol=1e-15)


def test_scale_is_the_factor_of_the_scores_and_zero_averages():
    q, k, v = randn(3, 4, seed=1), randn(6, 4, seed=2), randn(6, 2, seed=3)
    a = attention_weights(q, k, scale=0.7)
    assert torch.allclose(a, torch.softmax(0.7 * q @ k.T, dim=-1), rtol=0, atol=1e-15)
    out = attention(q, k, v, scale=0.0)
    assert torch.allclose(out, v.mean(0).expand(3, 2), rtol=0, atol=1e-15)
    expected = F.scaled_dot_product_attention(q, k, v, scale=0.7)
    assert torch.allclose(attention(q, k, v, scale=0.7, fused=True), expected, rtol=0, atol=1e-14)


@pytest.mark.parametrize("mask_kind", [None, "both"])
def test_gradients_equal_those_of_scaled_dot_product_attention(mask_kind):
    q, k, v = randn(2, 2, 4, 3, seed=4), randn(2, 2, 6, 3, seed=5), randn(2, 2, 6, 5, seed=6)
    mask = make_mask(mask_kind, 2, 4, 6)
    upstream = randn(2, 2, 4, 5, seed=7)
    grads = []
    for compute in (lambda *a: attention(*a, mask), lambda *a: F.scaled_dot_product_attention(*a, attn_mask=mask)):
        inputs = [t.clone().requires_grad_() for t in (q, k, v)]
        grads.append(torch.autograd.grad((compute(*inputs) * upstream).sum(), inputs))
    for ours, theirs in zip(*grads):
        assert torch.allclose(ours, theirs, rtol=0, atol=1e-13)


# ---------------------------------------------------------------- hard attention and the limit


def test_hard_attention_is_one_hot_on_the_largest_score():
    q, k, v = randn(2, 5, 3, seed=8), randn(2, 7, 3, seed=9), randn(2, 7, 4, seed=10)
    out, a = attention(q, k, v, hard=True), attention_weights(q, k, hard=True)
    best = (q @ k.transpose(-2, -1)).argmax(-1)
    assert torch.equal(a, F.one_hot(best, 7).to(F64))
    assert torch.equal(out, torch.stack([v[b, best[b]] for b in range(2)]))  # a copy of one value


def test_hard_attention_breaks_ties_by_the_first_index_and_respects_the_mask():
    q = torch.tensor([[1.0, 0.0]], dtype=F64)
    k = torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]], dtype=F64)  # keys 1, 2, 3 tie
    v = torch.arange(4, dtype=F64)[:, None]
    assert attention(q, k, v, hard=True).item() == 1.0
    mask = torch.tensor([[True, False, True, True]])
    a = attention_weights(q, k, mask, hard=True)
    assert a.tolist() == [[0.0, 0.0, 1.0, 0.0]]


def test_hard_attention_passes_gradients_to_the_values_only():
    q, k, v = (randn(3, 4, seed=s).requires_grad_() for s in (11, 12, 13))
    attention(q, k, v, hard=True).sum().backward()
    assert q.grad is None or not q.grad.any()
    assert k.grad is None or not k.grad.any()
    picks = F.one_hot((q @ k.T).argmax(-1), 3).sum(0).to(F64)  # how many queries copy each value
    assert torch.equal(v.grad, picks[:, None].expand(3, 4))


def test_soft_attention_tends_to_hard_attention_as_the_scale_grows():
    q, k = randn(4, 3, seed=14), randn(9, 3, seed=15)
    hard = attention_weights(q, k, hard=True)
    gaps = [(attention_weights(q, k, scale=beta) - hard).abs().max().item() for beta in (1.0, 10.0, 100.0, 1000.0)]
    assert all(b < a for a, b in zip(gaps, gaps[1:]))
    assert gaps[-1] < 1e-12


# ---------------------------------------------------------------- permutations

sizes = st.tuples(st.integers(1, 6), st.integers(1, 4), st.integers(0, 10_000))


@settings(max_examples=25, deadline=None)
@given(sizes, st.booleans())
def test_self_attention_is_permutation_equivariant(size, hard):
    T, d, seed = size
    x = randn(2, T, d, seed=seed)
    perm = torch.randperm(T, generator=torch.Generator().manual_seed(seed))
    if hard:  # the first-index rule on ties depends on the order; make ties impossible
        x = x + 1e-3 * torch.arange(T, dtype=F64)[:, None]
    out = attention(x, x, x, hard=hard)
    assert torch.allclose(attention(x[:, perm], x[:, perm], x[:, perm], hard=hard), out[:, perm], rtol=0, atol=1e-13)


@settings(max_examples=25, deadline=None)
@given(sizes)
def test_multi_head_self_attention_is_permutation_equivariant_and_cross_invariant_in_the_other_set(size):
    T, heads, seed = size
    torch.manual_seed(seed)
    mha = MultiHeadAttention(4 * heads, heads, dtype=F64)
    x, xi = randn(2, T, 4 * heads, seed=seed), randn(2, T + 2, 4 * heads, seed=seed + 1)
    perm = torch.randperm(T, generator=torch.Generator().manual_seed(seed))
    perm_xi = torch.randperm(T + 2, generator=torch.Generator().manual_seed(seed + 1))
    assert torch.allclose(mha(x[:, perm]), mha(x)[:, perm], rtol=0, atol=1e-13)
    assert torch.allclose(mha(x, xi[:, perm_xi]), mha(x, xi), rtol=0, atol=1e-13)


@settings(max_examples=25, deadline=None)
@given(sizes)
def test_attention_pooling_is_permutation_invariant(size):
    T, heads, seed = size
    torch.manual_seed(seed)
    pool = AttentionPooling(2 * heads, heads, dtype=F64)
    x = randn(3, T, 2 * heads, seed=seed)
    perm = torch.randperm(T, generator=torch.Generator().manual_seed(seed))
    assert torch.allclose(pool(x[:, perm]), pool(x), rtol=0, atol=1e-13)


# ---------------------------------------------------------------- masks


def test_causal_and_padding_masks():
    assert torch.equal(causal_mask(4), torch.ones(4, 4, dtype=torch.bool).tril())
    assert causal_mask(2).dtype == torch.bool
    pad = padding_mask(torch.tensor([2, 4, 1]), 4)
    assert pad.shape == (3, 1, 4)
    assert pad[:, 0].int().tolist() == [[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]]


def test_a_causal_output_does_not_depend_on_later_inputs():
    x = randn(1, 6, 4, seed=17)
    later = x.clone()
    later[:, 4:] += 10.0
    mask = causal_mask(6)
    a, b = attention(x, x, x, mask), attention(later, later, later, mask)
    assert torch.allclose(a[:, :4], b[:, :4], rtol=0, atol=1e-15)
    assert not torch.allclose(a[:, 4:], b[:, 4:])


def test_padded_elements_change_nothing():
    x = randn(1, 5, 4, seed=18)
    padded = torch.cat([x, 99.0 * torch.ones(1, 3, 4, dtype=F64)], dim=1)
    mask = padding_mask(torch.tensor([5]), 8)
    out = attention(x, padded, padded, mask)
    assert torch.allclose(out, attention(x, x, x), rtol=0, atol=1e-14)
    pool = AttentionPooling(4, 2, dtype=F64)
    assert torch.allclose(pool(padded, mask), pool(x), rtol=0, atol=1e-14)


# ---------------------------------------------------------------- the module against torch.nn


def torch_masks(kind, batch, heads, T_q, T_k):
    """Our mask, and the same mask in nn.MultiheadAttention's terms (True = may NOT look)."""
    ours = make_mask(kind, batch, T_q, T_k)
    if kind is None:
        return None, {}
    if kind == "padding":
        return ours[:, 0], {"key_padding_mask": ~ours[:, 0, 0]}
    if kind == "causal":
        return ours, {"attn_mask": ~ours}
    full = ours.expand(batch, heads, T_q, T_k).reshape(batch * heads, T_q, T_k)
    return ours[:, 0], {"attn_mask": ~full}


@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("cross", [False, True])
@pytest.mark.parametrize("heads, bias", [(1, True), (2, False), (4, True)])
@pytest.mark.parametrize("fused", [False, True])
def test_multi_head_attention_equals_torch(mask_kind, cross, heads, bias, fused):
    torch.manual_seed(heads)
    theirs = nn.MultiheadAttention(8, heads, bias=bias, batch_first=True, dtype=F64)
    ours = MultiHeadAttention.from_torch(theirs, fused=fused)
    batch, T_q = 3, 5
    T_k = 6 if cross else T_q
    x = randn(batch, T_q, 8, seed=20)
    xi = randn(batch, T_k, 8, seed=21) if cross else x
    mask, kwargs = torch_masks(mask_kind, batch, heads, T_q, T_k)
    expected, expected_a = theirs(x, xi, xi, average_attn_weights=False, **kwargs)
    assert torch.allclose(ours(x, xi if cross else None, mask), expected, rtol=0, atol=1e-14)
    a = ours.attention_weights(x, xi if cross else None, mask)
    assert torch.allclose(a, expected_a, rtol=0, atol=1e-14)


def test_multi_head_attention_heads_are_slices():
    torch.manual_seed(0)
    mha = MultiHeadAttention(6, 3, dtype=F64)
    x = randn(2, 4, 6, seed=22)
    out, a = mha(x), mha.attention_weights(x)
    q, k, v = mha.w_q(x), mha.w_k(x), mha.w_v(x)
    heads = [slice(2 * h, 2 * h + 2) for h in range(3)]
    a_heads = [attention_weights(q[..., h], k[..., h]) for h in heads]
    out_heads = [attention(q[..., h], k[..., h], v[..., h]) for h in heads]
    assert torch.allclose(a, torch.stack(a_heads, dim=1), rtol=0, atol=1e-15)
    assert torch.allclose(out, mha.w_o(torch.cat(out_heads, -1)), rtol=0, atol=1e-15)


def test_multi_head_hard_attention_gives_one_hot_weights_per_head():
    torch.manual_seed(1)
    mha = MultiHeadAttention(4, 2, dtype=F64)
    a = mha.attention_weights(randn(2, 5, 4, seed=23), randn(2, 7, 4, seed=24), hard=True)
    assert a.shape == (2, 2, 5, 7)
    assert bool(((a == 0) | (a == 1)).all()) and bool((a.sum(-1) == 1).all())


def test_multi_head_gradients_equal_torch_gradients():
    torch.manual_seed(2)
    theirs = nn.MultiheadAttention(4, 2, batch_first=True, dtype=F64)
    ours = MultiHeadAttention.from_torch(theirs)
    x = randn(2, 5, 4, seed=25)
    theirs(x, x, x, need_weights=False)[0].square().sum().backward()
    ours(x).square().sum().backward()
    w_in = torch.cat([ours.w_q.weight.grad, ours.w_k.weight.grad, ours.w_v.weight.grad])
    assert torch.allclose(w_in, theirs.in_proj_weight.grad, rtol=0, atol=1e-13)
    assert torch.allclose(ours.w_o.weight.grad, theirs.out_proj.weight.grad, rtol=0, atol=1e-13)


# ---------------------------------------------------------------- pooling


def test_attention_pooling_is_attention_from_the_learnt_query():
    torch.manual_seed(3)
    pool = AttentionPooling(4, dtype=F64)
    x = randn(3, 6, 4, seed=26)
    h, a = pool(x), pool.attention_weights(x)
    m = pool.attend
    q = m.w_q(pool.query)  # one query, the same for every set
    expected_a = torch.softmax(m.w_k(x) @ q / 2.0, dim=-1)  # beta = 1 / sqrt(4)
    assert torch.allclose(a[:, 0], expected_a, rtol=0, atol=1e-15)
    assert torch.allclose(h, m.w_o((expected_a[..., None] * m.w_v(x)).sum(1)), rtol=0, atol=1e-14)
    a_hard = pool.attention_weights(x, hard=True)
    assert torch.equal(a_hard[:, 0], F.one_hot(expected_a.argmax(-1), 6).to(F64))
    fused = AttentionPooling(4, fused=True, dtype=F64)
    fused.load_state_dict(pool.state_dict())
    assert torch.allclose(fused(x), h, rtol=0, atol=1e-14)


def test_attention_pooling_learns_the_mean_of_the_marked_elements():
    torch.manual_seed(4)
    gen = torch.Generator().manual_seed(4)
    pool, readout = AttentionPooling(3), nn.Linear(3, 2)
    optimiser = torch.optim.Adam([*pool.parameters(), *readout.parameters()], lr=1e-2)

    def batch(n):
        x = torch.randn(n, 8, 2, generator=gen)
        marked = torch.rand(n, 8, generator=gen) < 0.3
        marked[:, 0] |= ~marked.any(1)
        mean = (marked[..., None] * x).sum(1) / marked.sum(1, keepdim=True)
        return torch.cat([x, marked[..., None].float()], -1), marked, mean

    for _ in range(300):
        x, _, y = batch(32)
        loss = (readout(pool(x)) - y).square().sum(-1).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    x, marked, y = batch(200)
    with torch.no_grad():
        h, a = pool(x), pool.attention_weights(x)
        assert (readout(h) - y).square().sum(-1).mean() < 0.05
        assert (a[:, 0] * marked).sum(-1).mean() > 0.9  # the weights sit on the marked elements


# ---------------------------------------------------------------- input checks


def test_attention_checks_its_inputs():
    q, k, v = torch.zeros(2, 3), torch.zeros(4, 3), torch.zeros(4, 5)
    for function, args in ((attention, (q, k, v)), (attention_weights, (q, k))):
        with pytest.raises(TypeError, match="q must be a torch.Tensor"):
            function([[0.0]], *args[1:])
        with pytest.raises(ValueError, match="k must have shape .*at least 2 dimensions"):
            function(q, torch.zeros(3), *args[2:])
        with pytest.raises(TypeError, match="k must have a floating-point dtype"):
            function(q, torch.zeros(4, 3, dtype=torch.long), *args[2:])
        with pytest.raises(ValueError, match="queries and keys must have the same size d >= 1"):
            function(q, torch.zeros(4, 2), *args[2:])
        with pytest.raises(ValueError, match="queries and keys must have the same size d >= 1"):
            function(torch.zeros(2, 0), torch.zeros(4, 0), *args[2:])  # d = 0: no 1 / sqrt(d)
        with pytest.raises(ValueError, match="k must hold at least one key"):
            function(q, torch.zeros(0, 3), *[torch.zeros(0, 5)][: len(args) - 2])
        with pytest.raises(TypeError, match="q and k must have the same dtype"):
            function(q, k.double(), *args[2:])
        with pytest.raises(ValueError, match="q and k must be on the same device"):
            function(q, k.to("meta"), *args[2:])
        with pytest.raises(ValueError, match="batch dimensions of q, k and v .* must broadcast"):
            function(torch.zeros(2, 1, 2), torch.zeros(3, 2, 2), *[torch.zeros(3, 2, 1)][: len(args) - 2])
        with pytest.raises(TypeError, match="mask must be a boolean tensor"):
            function(*args, torch.ones(2, 4))
        with pytest.raises(ValueError, match=r"mask must broadcast to the shape of the scores, \(2, 4\)"):
            function(*args, torch.ones(3, 4, dtype=torch.bool))
        for bad in (-1.0, math.inf, math.nan):
            with pytest.raises(ValueError, match="scale must be"):
                function(*args, scale=bad)
        for bad in (True, "1"):
            with pytest.raises(TypeError, match="scale must be a real number"):
                function(*args, scale=bad)
    with pytest.raises(TypeError, match="v must have a floating-point dtype"):
        attention(q, k, torch.zeros(4, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="keys and values must be as many"):
        attention(q, k, torch.zeros(3, 5))
    with pytest.raises(ValueError, match="fused path does soft attention only"):
        attention(q, k, v, hard=True, fused=True)


@pytest.mark.parametrize("hard", [False, True])
def test_a_nan_score_gives_nan_and_a_query_with_no_key_gets_zero(hard):
    """Hard attention no longer returns a clean value for NaN scores, and both paths
    agree with PyTorch on a query that the mask leaves without a key."""
    q, k, v = randn(2, 3, seed=40), randn(4, 3, seed=41), randn(4, 2, seed=42)
    k_nan = k.clone()
    k_nan[1, 0] = math.nan  # every score against key 1 is NaN
    assert attention_weights(q, k_nan, hard=hard).isnan().all()
    assert attention(q, k_nan, v, hard=hard).isnan().all()
    mask = torch.tensor([[True, False, True, True], [False] * 4])
    a, out = attention_weights(q, k, mask, hard=hard), attention(q, k, v, mask, hard=hard)
    assert torch.equal(a[1], torch.zeros(4, dtype=F64)) and torch.equal(out[1], torch.zeros(2, dtype=F64))
    assert a[0].sum() == pytest.approx(1.0) and a[0, 1] == 0
    if not hard:
        torch.testing.assert_close(attention(q, k, v, mask, fused=True), out, rtol=0, atol=1e-15)
        torch.testing.assert_close(F.scaled_dot_product_attention(q, k, v, attn_mask=mask), out, rtol=0, atol=1e-15)
        q_, k_, v_ = (t.clone().requires_grad_() for t in (q, k, v))
        attention(q_, k_, v_, mask).sum().backward()
        assert all(t.grad.isfinite().all() for t in (q_, k_, v_))  # no NaN leaks into the gradients


def test_masks_check_their_inputs():
    for bad in (0, -2):
        with pytest.raises(ValueError, match="T must be at least 1"):
            causal_mask(bad)
    for bad in (1.5, True):
        with pytest.raises(TypeError, match="T must be an int"):
            causal_mask(bad)
    with pytest.raises(ValueError, match="device must name a device"):
        causal_mask(3, device="nonsense")
    for bad in (torch.tensor([1.0, 2.0]), torch.tensor([True, False]), torch.tensor([1 + 0j])):
        with pytest.raises(TypeError, match="lengths must be an integer tensor"):
            padding_mask(bad, 3)
    with pytest.raises(ValueError, match=r"lengths must .*shape \(B,\)"):
        padding_mask(torch.tensor([[1, 2]]), 3)
    with pytest.raises(TypeError, match="lengths must be a torch.Tensor"):
        padding_mask([1, 2], 3)
    with pytest.raises(ValueError, match="T must be at least 1"):
        padding_mask(torch.tensor([1]), 0)
    with pytest.raises(ValueError, match=r"every length must lie in 1\.\.3; got lengths from 1 to 4"):
        padding_mask(torch.tensor([1, 4]), 3)
    with pytest.raises(ValueError, match=r"every length must lie in 1\.\.3"):
        padding_mask(torch.tensor([0, 2]), 3)


def test_modules_check_their_inputs():
    with pytest.raises(ValueError, match="d_model must be at least 1"):
        MultiHeadAttention(0, 1)
    with pytest.raises(TypeError, match="heads must be an int"):
        MultiHeadAttention(4, True)
    with pytest.raises(ValueError, match="heads must divide d_model"):
        MultiHeadAttention(6, 4)
    with pytest.raises(TypeError, match="dtype must be a floating-point torch.dtype"):
        MultiHeadAttention(4, 2, dtype=torch.int64)
    with pytest.raises(ValueError, match="device must name a device"):
        MultiHeadAttention(4, 2, device="nonsense")
    mha = MultiHeadAttention(4, 2)
    with pytest.raises(ValueError, match=r"x must .*shape \(B, T, 4\)"):
        mha(torch.zeros(3, 4))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        mha([[0.0]])
    with pytest.raises(ValueError, match=r"xi must have shape \(B, T, 4\) with T >= 1"):
        mha(torch.zeros(1, 3, 4), torch.zeros(1, 3, 5))
    with pytest.raises(ValueError, match=r"xi must have shape \(B, T, 4\) with T >= 1"):
        mha(torch.zeros(1, 3, 4), torch.zeros(1, 0, 4))
    with pytest.raises(ValueError, match=r"x must have shape \(B, T, 4\) with T >= 1"):
        mha(torch.zeros(1, 0, 4))  # self-attention with no key
    assert mha(torch.zeros(1, 0, 4), torch.zeros(1, 3, 4)).shape == (1, 0, 4)  # no query: no output
    for dtype in (torch.float64, torch.float16):
        with pytest.raises(TypeError, match="x and the parameters must have the same dtype; got torch.float"):
            mha(torch.zeros(1, 3, 4, dtype=dtype))
    with pytest.raises(TypeError, match="xi must have a floating-point dtype"):
        mha(torch.zeros(1, 3, 4), torch.zeros(1, 3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="xi and the parameters must be on the same device"):
        mha(torch.zeros(1, 3, 4), torch.zeros(1, 3, 4, device="meta"))
    with pytest.raises(ValueError, match="x and xi must hold as many sets"):
        mha(torch.zeros(2, 3, 4), torch.zeros(1, 3, 4))
    with pytest.raises(ValueError, match="x and xi must hold as many sets"):
        mha.attention_weights(torch.zeros(2, 3, 4), torch.zeros(1, 3, 4))
    with pytest.raises(TypeError, match="expected a torch.nn.MultiheadAttention"):
        MultiHeadAttention.from_torch(nn.Linear(4, 4))
    with pytest.raises(ValueError, match="can be copied"):
        MultiHeadAttention.from_torch(nn.MultiheadAttention(4, 2, kdim=3, vdim=3))
    with pytest.raises(ValueError, match="can be copied"):
        MultiHeadAttention.from_torch(nn.MultiheadAttention(4, 2, add_bias_kv=True))
    with pytest.raises(ValueError, match="heads must divide d_model"):
        AttentionPooling(3, 2)
    pool = AttentionPooling(4)
    for method in (pool, pool.attention_weights):
        with pytest.raises(ValueError, match=r"x must .*shape \(B, T, 4\)"):
            method(torch.zeros(5, 4))
        with pytest.raises(ValueError, match=r"x must have shape \(B, T, 4\) with T >= 1"):
            method(torch.zeros(2, 6, 5))  # named x, not xi
        with pytest.raises(TypeError, match="x and the parameters must have the same dtype"):
            method(torch.zeros(2, 6, 4, dtype=torch.float64))


BAD_VALUES = [
    None,
    "x",
    1.5,
    True,
    [[0.0]],
    torch.zeros(0),
    torch.zeros(2, 3, 4, dtype=torch.long),
    torch.full((2, 3, 4), math.nan),
    torch.zeros(2, 3, 4, device="meta"),
    torch.zeros(2, 3, 4, dtype=F64),
]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["q", "k", "v", "mask", "x", "xi", "pool_x", "pool_mask"]), st.sampled_from(BAD_VALUES))
def test_bad_input_gets_a_clear_error_or_a_documented_result(argument, bad):
    """One argument at a time replaced by a bad value: the answer is a TypeError or a
    ValueError that names the argument, or (for NaN) a NaN result, never an error from
    deep inside PyTorch."""
    torch.manual_seed(0)
    q, k, v = torch.zeros(2, 3, 4), torch.zeros(2, 5, 4), torch.zeros(2, 5, 2)
    mha, pool = MultiHeadAttention(4, 2), AttentionPooling(4, 2)
    calls = {
        "q": lambda: attention(bad, k, v),
        "k": lambda: attention(q, bad, v),
        "v": lambda: attention(q, k, bad),
        "mask": lambda: attention(q, k, v, bad),
        "x": lambda: mha(bad),
        "xi": lambda: mha(q, bad),
        "pool_x": lambda: pool(bad),
        "pool_mask": lambda: pool(q, bad),
    }
    name = argument.removeprefix("pool_")
    try:
        result = calls[argument]()
    except (TypeError, ValueError) as error:
        assert name in str(error) or name in {"q", "k", "v"} and "queries and keys" in str(error), str(error)
    else:
        if bad is None and argument in {"mask", "xi", "pool_mask"}:
            return  # the default: no mask, self-attention
        assert isinstance(bad, torch.Tensor) and bad.isnan().any() and result.isnan().any(), (argument, bad)


# ---------------------------------------------------------------- every device


def test_attention_on_every_device(device):
    q, k, v = (
        randn(2, 2, 5, 8, seed=30, device=device),
        randn(2, 2, 7, 8, seed=31, device=device),
        randn(2, 2, 7, 4, seed=32, device=device),
    )
    mask = make_mask("padding", 2, 5, 7, device=device)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    for fused in (False, True):
        assert torch.allclose(attention(q, k, v, mask, fused=fused), expected, rtol=0, atol=1e-12)
    other = "meta" if device.type == "cpu" else "cpu"  # another device, one that every machine has
    with pytest.raises(ValueError, match="q and k must be on the same device"):
        attention(q, k.to(other), v)
    with pytest.raises(ValueError, match="mask must be on the device of the queries"):
        attention(q, k, v, mask.to(other))
    torch.manual_seed(5)
    theirs = nn.MultiheadAttention(8, 2, batch_first=True, device=device, dtype=F64)
    ours = MultiHeadAttention.from_torch(theirs)
    x = randn(2, 5, 8, seed=33, device=device)
    assert ours.w_q.weight.device.type == device.type
    assert torch.allclose(ours(x), theirs(x, x, x, need_weights=False)[0], rtol=0, atol=1e-12)
    pool = AttentionPooling(8, 2, device=device)
    assert pool(x.float()).device.type == device.type
    assert causal_mask(3, device=device).device.type == device.type
    # half precision through the fused kernel, the everyday case on a GPU
    qh, kh, vh = q.half(), k.half(), v.half()
    assert torch.allclose(attention(qh, kh, vh, fused=True).double(), attention(qh, kh, vh).double(), atol=2e-3)


# ---------------------------------------------------------------- the bad-input battery (tests/badinput.py)

from badinput import Arg, battery, module_call  # noqa: E402

T = Arg("tensor")
DTYPE = Arg("custom", accepts=("None",), custom={"None": None, "int": torch.int64, "str": "float32"})
DEVICE = Arg("custom", accepts=("None",), custom={"None": None, "nonsense": "nonsense", "int": 1.5})
QKV = Arg("tensor", accepts=("extra-dim",), mentions=("queries",))  # a batch of any leading shape
MASK = Arg("tensor", accepts=("None", "bool", "extra-dim", "missing-dim"))  # any mask that broadcasts
SCALE = Arg("real", accepts=("None",), custom={"negative": -1.0})
SET = Arg("tensor", mentions=("the parameters",))


SPECS = [
    (
        "attention.attention_weights",
        attention_weights,
        lambda: {
            "q": torch.ones(2, 3),
            "k": torch.ones(4, 3),
            "mask": torch.ones(2, 4, dtype=torch.bool),
            "scale": None,
        },
        {"q": QKV, "k": QKV, "mask": MASK, "scale": SCALE},
    ),
    (
        "attention.attention",
        attention,
        lambda: {
            "q": torch.ones(2, 3),
            "k": torch.ones(4, 3),
            "v": torch.ones(4, 5),
            "mask": torch.ones(2, 4, dtype=torch.bool),
            "scale": None,
        },
        {"q": QKV, "k": QKV, "v": Arg("tensor", accepts=("extra-dim", "wrong-size")), "mask": MASK, "scale": SCALE},
    ),
    (
        "attention.causal_mask",
        causal_mask,
        lambda: {"T": 3, "device": None},
        {"T": Arg("int", minimum=1), "device": DEVICE},
    ),
    (
        "attention.padding_mask",
        padding_mask,
        lambda: {"lengths": torch.tensor([1, 3]), "T": 3},
        {"lengths": Arg("tensor", accepts=("int64", "meta", "wrong-size")), "T": Arg("int", minimum=1)},
    ),
    (
        "attention.MultiHeadAttention",
        MultiHeadAttention,
        lambda: {"d_model": 8, "heads": 2, "device": None, "dtype": None},
        {"d_model": Arg("int", minimum=1), "heads": Arg("int", minimum=1), "device": DEVICE, "dtype": DTYPE},
    ),
    (
        "attention.MultiHeadAttention.forward",
        module_call(MultiHeadAttention, None, 8, 2),
        lambda: {"x": torch.ones(3, 5, 8), "xi": torch.ones(3, 5, 8), "mask": torch.ones(3, 5, 5, dtype=torch.bool)},
        {
            "x": SET,
            "xi": Arg("tensor", accepts=("None",), mentions=("the parameters",)),
            "mask": Arg("tensor", accepts=("None", "bool", "missing-dim")),
        },
    ),
    (
        "attention.MultiHeadAttention.attention_weights",
        module_call(MultiHeadAttention, "attention_weights", 8, 2),
        lambda: {"x": torch.ones(3, 2, 8), "xi": torch.ones(3, 5, 8), "mask": None},
        {"x": SET, "xi": Arg("tensor", accepts=("None",), mentions=("the parameters",))},
    ),
    (
        "attention.AttentionPooling",
        AttentionPooling,
        lambda: {"d_model": 4, "heads": 2, "device": None, "dtype": None},
        {"d_model": Arg("int", minimum=1), "heads": Arg("int", minimum=1), "device": DEVICE, "dtype": DTYPE},
    ),
    (
        "attention.AttentionPooling.forward",
        module_call(AttentionPooling, None, 4, 2),
        lambda: {"x": torch.ones(3, 6, 4), "mask": padding_mask(torch.tensor([6, 2, 1]), 6)},
        {"x": SET, "mask": Arg("tensor", accepts=("None", "bool", "extra-dim", "missing-dim"))},
    ),
    (
        "attention.AttentionPooling.attention_weights",
        module_call(AttentionPooling, "attention_weights", 4, 2),
        lambda: {"x": torch.ones(3, 6, 4), "mask": None},
        {"x": SET},
    ),
]
test_the_valid_call_works, test_bad_input_gets_a_clear_error = battery(SPECS)
