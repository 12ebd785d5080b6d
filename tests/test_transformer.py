"""Tests of gradland.transformer: the blocks against torch.nn, the two paths, the propositions, the models, the checks."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from gradland import linalg
from gradland.attention import causal_mask, padding_mask
from gradland.data import docstring_text, manual_text
from gradland.transformer import (
    DecoderBlock,
    EncoderBlock,
    EncoderPredictorDecoder,
    FeedForward,
    LanguageModel,
    language_model_loss,
    reversal_task,
    sequence_accuracy,
    shift_right,
    sinusoidal_positions,
    train_language_model,
    train_seq2seq,
)

pytestmark = pytest.mark.usefixtures("one_cpu_thread")

CONFIGS = list(itertools.product(["relu", "gelu"], [False, True], [False, True]))  # activation, norm_first, fused
F64 = torch.float64


def _config_id(config):
    act, norm_first, fused = config
    return f"{act}-{'pre' if norm_first else 'post'}-{'fused' if fused else 'educational'}"


# ---------------------------------------------------------------- the blocks against torch.nn


@pytest.mark.parametrize("config", CONFIGS, ids=_config_id)
def test_encoder_block_equals_torch_encoder_layer(config):
    act, norm_first, fused = config
    torch.manual_seed(0)
    theirs = nn.TransformerEncoderLayer(16, 4, 40, dropout=0.0, activation=act, batch_first=True,
                                        norm_first=norm_first, dtype=F64)
    ours = EncoderBlock.from_torch(theirs, fused=fused)
    x = torch.randn(3, 7, 16, dtype=F64)
    torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=1e-13)
    causal = causal_mask(7)
    torch.testing.assert_close(ours(x, causal), theirs(x, src_mask=~causal), rtol=0, atol=1e-13)
    pad = padding_mask(torch.tensor([7, 4, 2]), 7)
    torch.testing.assert_close(ours(x, pad)[0], theirs(x, src_key_padding_mask=~pad[:, 0])[0], rtol=0, atol=1e-13)


@pytest.mark.parametrize("config", CONFIGS, ids=_config_id)
def test_decoder_block_equals_torch_decoder_layer(config):
    act, norm_first, fused = config
    torch.manual_seed(1)
    theirs = nn.TransformerDecoderLayer(16, 4, 40, dropout=0.0, activation=act, batch_first=True,
                                        norm_first=norm_first, dtype=F64)
    ours = DecoderBlock.from_torch(theirs, fused=fused)
    y, memory = torch.randn(2, 6, 16, dtype=F64), torch.randn(2, 9, 16, dtype=F64)
    expected = theirs(y, memory, tgt_mask=~causal_mask(6))
    torch.testing.assert_close(ours(y, memory), expected, rtol=0, atol=1e-13)
    torch.testing.assert_close(ours(y, memory, causal=False), theirs(y, memory), rtol=0, atol=1e-13)
    out, weights = ours(y, memory, need_weights=True)  # the weights force the written-out path
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-13)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 6, dtype=F64))


def test_gradients_of_the_two_paths_agree():
    torch.manual_seed(2)
    educational = EncoderBlock(16, 4, norm_first=True, dtype=F64)
    fused = EncoderBlock(16, 4, norm_first=True, fused=True, dtype=F64)
    fused.load_state_dict(educational.state_dict())
    x = torch.randn(2, 5, 16, dtype=F64)
    for block in (educational, fused):
        block(x, causal_mask(5)).square().sum().backward()
    for (name, p), q in zip(educational.named_parameters(), fused.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=0, atol=1e-12, msg=name)


def test_feed_forward_is_a_pair_of_kernel_one_convolutions():
    torch.manual_seed(3)
    ffn = FeedForward(6, 10, "gelu", dtype=F64)
    conv1, conv2 = nn.Conv1d(6, 10, kernel_size=1, dtype=F64), nn.Conv1d(10, 6, kernel_size=1, dtype=F64)
    with torch.no_grad():
        conv1.weight.copy_(ffn.linear1.weight[:, :, None])
        conv1.bias.copy_(ffn.linear1.bias)
        conv2.weight.copy_(ffn.linear2.weight[:, :, None])
        conv2.bias.copy_(ffn.linear2.bias)
    x = torch.randn(4, 9, 6, dtype=F64)  # rows are elements; Conv1d wants channels first
    by_conv = conv2(F.gelu(conv1(x.transpose(1, 2)))).transpose(1, 2)
    torch.testing.assert_close(ffn(x), by_conv, rtol=0, atol=1e-14)
    by_loop = linalg.conv1x1(x.transpose(1, 2), ffn.linear1.weight, ffn.linear1.bias)
    torch.testing.assert_close(ffn.linear1(x), by_loop.transpose(1, 2), rtol=0, atol=1e-14)


# ---------------------------------------------------------------- the two propositions


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 8), st.integers(0, 2**31 - 1), st.booleans())
def test_encoder_without_positions_is_permutation_equivariant(T, seed, norm_first):
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    stack = nn.Sequential(*(EncoderBlock(8, 2, norm_first=norm_first, dtype=F64) for _ in range(2)))
    x = torch.randn(2, T, 8, dtype=F64, generator=generator)
    perm = torch.randperm(T, generator=generator)
    torch.testing.assert_close(stack(x[:, perm]), stack(x)[:, perm], rtol=0, atol=1e-12)


def test_positions_break_the_equivariance():
    torch.manual_seed(4)
    x = torch.randn(1, 5, 8, dtype=F64)
    block, perm = EncoderBlock(8, 2, dtype=F64), torch.tensor([4, 3, 2, 1, 0])
    p = sinusoidal_positions(5, 8, dtype=F64)
    assert not torch.allclose(block(x[:, perm] + p), block(x + p)[:, perm])


@pytest.mark.parametrize("fused", [False, True])
def test_causal_language_model_output_ignores_the_future(fused):
    torch.manual_seed(5)
    lm = LanguageModel(7, d_model=16, heads=2, layers=2, fused=fused, dtype=F64)
    tokens = torch.randint(7, (2, 10))
    changed = tokens.clone()
    changed[:, 6:] = (changed[:, 6:] + 3) % 7  # change every token after position 5
    before, after = lm(tokens), lm(changed)
    torch.testing.assert_close(after[:, :6], before[:, :6], rtol=0, atol=1e-13)
    assert not torch.allclose(after[:, 6:], before[:, 6:])
    # the Jacobian of output 3 with respect to the embedded inputs is zero after position 3
    emb = lm.embed(tokens).detach().requires_grad_()
    h = emb
    for block in lm.blocks:
        h = block(h, causal_mask(10))
    (grad,) = torch.autograd.grad(h[:, 3].sum(), emb)
    assert grad[:, 4:].abs().max() == 0 and grad[:, :4].abs().max() > 0


def test_predictor_output_ignores_future_targets_but_sees_the_whole_context():
    torch.manual_seed(6)
    model = EncoderPredictorDecoder(5, 6, d_model=16, heads=2, layers=1, dtype=F64)
    x, y_in = torch.randint(5, (2, 4)), torch.randint(7, (2, 5))
    other = y_in.clone()
    other[:, 3:] = (other[:, 3:] + 1) % 7
    torch.testing.assert_close(model(x, other)[:, :3], model(x, y_in)[:, :3], rtol=0, atol=1e-13)
    x_other = x.clone()
    x_other[:, -1] = (x_other[:, -1] + 1) % 5
    assert not torch.allclose(model(x_other, y_in)[:, 0], model(x, y_in)[:, 0])


# ---------------------------------------------------------------- positions, delays, the task, the corpus


def test_sinusoidal_positions_match_their_formula():
    p = sinusoidal_positions(6, 4, dtype=F64)
    pos = torch.arange(6, dtype=F64)
    torch.testing.assert_close(p[:, 2], torch.sin(pos / 100.0))
    torch.testing.assert_close(p[:, 3], torch.cos(pos / 100.0))
    torch.testing.assert_close(p.square().sum(1), torch.full((6,), 2.0, dtype=F64))  # every pair is a unit vector


def test_shift_right_delays_by_one_step():
    y = torch.tensor([[1, 2, 3], [4, 5, 6]])
    assert shift_right(y, 9).tolist() == [[9, 1, 2], [9, 4, 5]]


def test_reversal_task_is_deterministic_and_held_out_strings_are_new():
    (x, y), (xt, yt) = reversal_task(200, 100, 4, symbols=5, seed=1)  # 300 of the 625 strings: many repeats drawn
    assert torch.equal(y, x.flip(1)) and torch.equal(yt, xt.flip(1))
    assert len({tuple(s) for s in torch.cat((x, xt)).tolist()}) == 300
    (x2, _), (xt2, _) = reversal_task(200, 100, 4, symbols=5, seed=1)
    assert torch.equal(x, x2) and torch.equal(xt, xt2)
    (x3, _), _ = reversal_task(200, 100, 4, symbols=5, seed=2)
    assert not torch.equal(x, x3)


def test_docstring_text_is_the_docstrings_of_the_package():
    text = docstring_text()
    assert text == docstring_text()
    assert text.startswith("gradland: the companion package")
    import gradland.transformer as module

    assert module.EncoderBlock.__doc__.strip().splitlines()[0] in text
    assert "def " not in text.replace("def test", "")[:2000]  # docstrings, not code
    assert "_check_tokens" not in text  # private helpers have no docstring in the corpus


def test_manual_text_is_the_shipped_corpus_of_docstrings():
    """Chapter 14 trains on a file written by ``make corpus``, not on the live docstrings."""
    from importlib import resources

    text = manual_text()
    assert text == resources.files("gradland").joinpath("corpus.txt").read_text(encoding="utf-8")
    assert text.startswith("gradland: the companion package") and len(text) > 50_000
    # most of its paragraphs are still docstrings of the package: `make corpus` is not forgotten for long
    paragraphs = [p for p in text.split("\n\n") if len(p) > 80]
    current = " ".join(docstring_text().split())  # a paragraph wrapped anew is still kept
    kept = sum(" ".join(p.split()) in current for p in paragraphs) / len(paragraphs)
    assert kept > 0.8, f"only {kept:.0%} of corpus.txt is still in the docstrings: run `make corpus`"


# ---------------------------------------------------------------- training


def test_seq2seq_training_lowers_the_loss_and_decodes():
    torch.manual_seed(7)
    (x, y), (xt, yt) = reversal_task(500, 50, 4)
    model = EncoderPredictorDecoder(10, 10, d_model=16, heads=2, layers=1, d_ff=32, fused=True)
    history = train_seq2seq(model, x, y, steps=40, batch_size=32, lr=3e-3, warmup=5)
    assert len(history.loss) == 40 and history.lr[4] == pytest.approx(3e-3)
    assert 0 < history.lr[-1] < history.lr[-2]  # the last step still moves the weights
    assert sum(history.loss[-5:]) < sum(history.loss[:5])
    accuracy = sequence_accuracy(model, xt, yt)
    assert 0.0 <= accuracy <= 1.0
    assert model.generate(xt[:3], 4).shape == (3, 4)


def test_language_model_training_beats_its_start():
    torch.manual_seed(8)
    tokens = torch.arange(400) % 5  # 0 1 2 3 4 0 1 ...: perfectly predictable
    lm = LanguageModel(5, d_model=16, heads=2, layers=1)
    start = language_model_loss(lm, tokens, context=8)
    history = train_language_model(lm, tokens, steps=60, context=8, batch_size=16, lr=1e-2, warmup=5)
    assert language_model_loss(lm, tokens, context=8) < 0.5 * start
    assert history.loss[-1] < history.loss[0]
    gen = torch.Generator().manual_seed(0)
    sample = lm.sample(tokens[None, :3], 5, temperature=0.01, generator=gen)
    assert sample[0, :3].tolist() == [0, 1, 2] and sample.shape == (1, 8)


# ---------------------------------------------------------------- input checks


def test_input_checks():
    block = EncoderBlock(8, 2)
    with pytest.raises(ValueError, match=r"shape \(B, T, 8\).*\(5, 8\)"):
        block(torch.randn(5, 8))
    with pytest.raises(ValueError, match="heads must divide d_model"):
        EncoderBlock(8, 3)
    with pytest.raises(ValueError, match="activation must be one of"):
        FeedForward(8, 16, "tanh")
    with pytest.raises(TypeError, match="TransformerEncoderLayer; got Linear"):
        EncoderBlock.from_torch(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="batch_first=True"):
        EncoderBlock.from_torch(nn.TransformerEncoderLayer(8, 2))
    with pytest.raises(ValueError, match="memory must be a batch of sets"):
        DecoderBlock(8, 2)(torch.randn(1, 3, 8), torch.randn(1, 3, 4))
    model = EncoderPredictorDecoder(5, 5, d_model=8, heads=2, layers=1)
    with pytest.raises(ValueError, match=r"tokens in 0\.\.4; got values from 0 to 7"):
        model.encode(torch.tensor([[0, 7]]))
    with pytest.raises(TypeError, match="integer tensor of token indices"):
        model.encode(torch.zeros(1, 2))
    with pytest.raises(ValueError, match="even int"):
        sinusoidal_positions(4, 3)
    with pytest.raises(ValueError, match="distinct strings out of only 8"):
        reversal_task(5, 5, 3, symbols=2)
    lm = LanguageModel(5, d_model=8, heads=2, layers=1)
    with pytest.raises(ValueError, match="temperature must be positive"):
        lm.sample(torch.zeros(1, 2, dtype=torch.long), 3, temperature=0.0)
    with pytest.raises(ValueError, match="context must be a positive int below"):
        train_language_model(lm, torch.zeros(5, dtype=torch.long), steps=1, context=8)


# ---------------------------------------------------------------- on a GPU


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_blocks_and_training_on_cuda():
    torch.manual_seed(9)
    theirs = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True, device="cuda", dtype=F64)
    ours = EncoderBlock.from_torch(theirs, fused=True)
    x = torch.randn(2, 5, 16, device="cuda", dtype=F64)
    torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=1e-12)
    (x, y), (xt, yt) = reversal_task(200, 20, 4, device="cuda")
    model = EncoderPredictorDecoder(10, 10, d_model=16, heads=2, layers=1, device="cuda")
    history = train_seq2seq(model, x, y, steps=10, batch_size=16)
    assert len(history.loss) == 10 and model.generate(xt, 4).device.type == "cuda"
    lm = LanguageModel(10, d_model=16, heads=2, layers=1, device="cuda")
    train_language_model(lm, x.flatten(), steps=5, context=8)
    assert lm.sample(x[:1, :2], 3, generator=torch.Generator().manual_seed(0)).device.type == "cuda"
