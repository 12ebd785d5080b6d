"""Tests of gradland.transformer: the blocks against torch.nn, the two paths, the propositions, the position
codes, the checks."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from gradland import linalg
from gradland.attention import causal_mask, padding_mask
from gradland.data import docstring_text, manual_text
from gradland.transformer import DecoderBlock, EncoderBlock, FeedForward, sinusoidal_positions
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

pytestmark = pytest.mark.usefixtures("one_cpu_thread")

CONFIGS = list(itertools.product(["relu", "gelu"], [False, True], [False, True]))  # activation, norm_first, fused
F64 = torch.float64


def _config_id(config):
    act, norm_first, fused = config
    return f"{act}-{'pre' if norm_first else 'post'}-{'fused' if fused else 'educational'}"


# ---------------------------------------------------------------- the blocks against torch.nn


@pytest.mark.parametrize("config", CONFIGS, ids=_config_id)
def test_encoder_block_equals_torch_encoder_layer(config, device):
    act, norm_first, fused = config
    torch.manual_seed(0)
    theirs = nn.TransformerEncoderLayer(
        16, 4, 40, dropout=0.0, activation=act, batch_first=True, norm_first=norm_first, device=device, dtype=F64
    )
    ours = EncoderBlock.from_torch(theirs, fused=fused)
    x = torch.randn(3, 7, 16, dtype=F64).to(device)
    tol = {"rtol": 0, "atol": 1e-13 if device.type == "cpu" else 1e-12}
    out = ours(x)
    assert out.device.type == device.type
    torch.testing.assert_close(out, theirs(x), **tol)
    causal = causal_mask(7, device=device)
    torch.testing.assert_close(ours(x, causal), theirs(x, src_mask=~causal), **tol)
    pad = padding_mask(torch.tensor([7, 4, 2], device=device), 7)
    torch.testing.assert_close(ours(x, pad)[0], theirs(x, src_key_padding_mask=~pad[:, 0])[0], **tol)


@pytest.mark.parametrize("config", CONFIGS, ids=_config_id)
def test_decoder_block_equals_torch_decoder_layer(config):
    act, norm_first, fused = config
    torch.manual_seed(1)
    theirs = nn.TransformerDecoderLayer(
        16, 4, 40, dropout=0.0, activation=act, batch_first=True, norm_first=norm_first, dtype=F64
    )
    ours = DecoderBlock.from_torch(theirs, fused=fused)
    y, memory = torch.randn(2, 6, 16, dtype=F64), torch.randn(2, 9, 16, dtype=F64)
    expected = theirs(y, memory, tgt_mask=~causal_mask(6))
    torch.testing.assert_close(ours(y, memory), expected, rtol=0, atol=1e-13)
    torch.testing.assert_close(ours(y, memory, causal=False), theirs(y, memory), rtol=0, atol=1e-13)
    weights = ours.cross_attention_weights(y, memory)  # always the written-out path
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 6, dtype=F64))
    # the weights of the cross-attention, from the output of the first branch
    u = (
        y + ours.self_attn(ours.norm1(y), mask=causal_mask(6))
        if norm_first
        else ours.norm1(y + ours.self_attn(y, mask=causal_mask(6)))
    )
    expected_weights = ours.cross_attn.attention_weights(ours.norm2(u) if norm_first else u, memory)
    torch.testing.assert_close(weights, expected_weights, rtol=0, atol=0)


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


# ---------------------------------------------------------------- positions, delays, the task, the corpus


def test_sinusoidal_positions_match_their_formula():
    p = sinusoidal_positions(6, 4, dtype=F64)
    pos = torch.arange(6, dtype=F64)
    torch.testing.assert_close(p[:, 2], torch.sin(pos / 100.0))
    torch.testing.assert_close(p[:, 3], torch.cos(pos / 100.0))
    torch.testing.assert_close(p.square().sum(1), torch.full((6,), 2.0, dtype=F64))  # every pair is a unit vector


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
    with pytest.raises(ValueError, match=r"memory must have shape \(B, T, 8\)"):
        DecoderBlock(8, 2)(torch.randn(1, 3, 8), torch.randn(1, 3, 4))
    with pytest.raises(ValueError, match="d must be even"):
        sinusoidal_positions(4, 3)


@pytest.mark.parametrize("cls", [EncoderBlock, DecoderBlock])
def test_blocks_refuse_a_negative_or_nan_eps_and_bad_sizes(cls):
    for eps in (-1.0, math.nan, math.inf):  # each gave all-NaN outputs
        with pytest.raises(ValueError, match="eps must be"):
            cls(8, 2, eps=eps)
    with pytest.raises(TypeError, match="eps must be a real number"):
        cls(8, 2, eps="1e-5")
    assert cls(8, 2, eps=0.0).norm1.eps == 0.0
    with pytest.raises(TypeError, match="heads must be an int"):
        cls(8, True)
    with pytest.raises(ValueError, match="d_ff must be at least 1"):
        cls(8, 2, d_ff=0)
    with pytest.raises(TypeError, match="dtype must be a floating-point torch.dtype"):
        cls(8, 2, dtype=torch.int64)


def test_the_blocks_check_their_inputs_by_name():
    ffn = FeedForward(4, 16)
    for bad, error in (
        ([[0.0] * 4], TypeError),
        (None, TypeError),
        ("x", TypeError),
        (torch.tensor(1.0), ValueError),
        (torch.zeros(2, 5), ValueError),
    ):
        with pytest.raises(error, match="x must"):
            ffn(bad)
    with pytest.raises(TypeError, match="x must have a floating-point dtype"):
        ffn(torch.zeros(2, 5, 4, dtype=torch.long))
    with pytest.raises(TypeError, match="x and the parameters must have the same dtype"):
        ffn(torch.zeros(2, 5, 4, dtype=F64))
    with pytest.raises(ValueError, match="x and the parameters must be on the same device"):
        ffn(torch.zeros(2, 5, 4, device="meta"))
    assert ffn(torch.zeros(4)).shape == (4,)  # any (..., d)
    with pytest.raises(TypeError, match="x and the parameters must have the same dtype"):
        EncoderBlock(8, 2)(torch.zeros(1, 3, 8, dtype=torch.float16))
    dec, y, memory = DecoderBlock(8, 2), torch.zeros(3, 4, 8), torch.zeros(3, 6, 8)
    for method in (dec, dec.cross_attention_weights):
        with pytest.raises(TypeError, match="y and the parameters must have the same dtype"):
            method(y.double(), memory)
        with pytest.raises(ValueError, match="memory and the parameters must be on the same device"):
            method(y, memory.to("meta"))
        with pytest.raises(ValueError, match="memory must hold B = 3 sequences"):
            method(y, memory[:2])  # named memory, not xi
        with pytest.raises(ValueError, match="memory must hold B = 3 sequences of T' >= 1"):
            method(y, memory[:, :0])
        with pytest.raises(TypeError, match="mask must be a boolean tensor"):
            method(y, memory, torch.ones(4, 4))  # was a NotImplementedError from bitwise_and
        with pytest.raises(ValueError, match=r"mask must broadcast to the shape of the scores, \(3, 4, 4\)"):
            method(y, memory, torch.ones(4, 5, dtype=torch.bool))
        with pytest.raises(ValueError, match=r"memory_mask must broadcast to the shape of the scores, \(3, 4, 6\)"):
            method(y, memory, None, torch.ones(4, 5, dtype=torch.bool))
    assert dec(y, memory, torch.ones(3, 2, 4, 4, dtype=torch.bool)).shape == (3, 4, 8)  # one mask per head


def test_sinusoidal_positions_check_their_arguments():
    for dtype in (torch.int64, torch.bool, "float32"):  # integer codes would be rounded to -1, 0, 1
        with pytest.raises(TypeError, match="dtype must be a floating-point torch.dtype"):
            sinusoidal_positions(5, 4, dtype=dtype)
    with pytest.raises(TypeError, match="T must be an int"):
        sinusoidal_positions(True, 4)
    with pytest.raises(ValueError, match="T must be at least 1"):
        sinusoidal_positions(0, 4)
    with pytest.raises(ValueError, match="d must be at least 2"):
        sinusoidal_positions(3, 0)
    with pytest.raises(ValueError, match="device must name a device"):
        sinusoidal_positions(3, 4, device="nonsense")


BAD_VALUES = [
    None,
    "x",
    2.5,
    [[0.0]],
    torch.tensor(0.0),
    torch.zeros(3, 0, 8),
    torch.zeros(3, 4, 7),
    torch.zeros(3, 4, 8, dtype=torch.long),
    torch.zeros(3, 4, 8, dtype=F64),
    torch.zeros(3, 4, 8, device="meta"),
    torch.full((3, 4, 8), math.nan),
]


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(
        ["ffn.x", "encoder.x", "encoder.mask", "decoder.y", "decoder.memory", "decoder.mask", "decoder.memory_mask"]
    ),
    st.sampled_from(BAD_VALUES),
)
def test_bad_input_gets_a_clear_error_or_a_documented_result(argument, bad):
    """One argument at a time replaced by a bad value: a TypeError or ValueError that names
    the argument, or (NaN in, NaN out) a result, never an error from deep inside PyTorch."""
    torch.manual_seed(0)
    x, memory = torch.zeros(3, 4, 8), torch.zeros(3, 6, 8)
    ffn, encoder, decoder = FeedForward(8, 16), EncoderBlock(8, 2), DecoderBlock(8, 2)
    calls = {
        "ffn.x": lambda: ffn(bad),
        "encoder.x": lambda: encoder(bad),
        "encoder.mask": lambda: encoder(x, bad),
        "decoder.y": lambda: decoder(bad, memory),
        "decoder.memory": lambda: decoder(x, bad),
        "decoder.mask": lambda: decoder(x, memory, bad),
        "decoder.memory_mask": lambda: decoder(x, memory, None, bad),
    }
    name = argument.split(".")[1]
    try:
        result = calls[argument]()
    except (TypeError, ValueError) as error:
        assert name in str(error), str(error)
    else:
        if bad is None and name.endswith("mask"):
            return
        if isinstance(bad, torch.Tensor) and bad.numel() == 0 == result.numel():
            return  # an empty set of elements: an empty result
        assert isinstance(bad, torch.Tensor) and bad.isnan().any() and result.isnan().any(), (argument, bad)


# ---------------------------------------------------------------- the bad-input battery (tests/badinput.py)

from badinput import Arg, battery, module_call  # noqa: E402

DTYPE = Arg("custom", accepts=("None",), custom={"None": None, "int": torch.int64, "str": "float32"})
DEVICE = Arg("custom", accepts=("None",), custom={"None": None, "nonsense": "nonsense", "int": 1.5})
SET = Arg("tensor", mentions=("the parameters",))
MASK = Arg("tensor", accepts=("None", "bool", "missing-dim", "extra-dim"))  # broadcasts to (B, T, T)
EPS = Arg("real", custom={"negative": -1.0})


def _block_spec(cls):
    return (
        f"transformer.{cls.__name__}",
        cls,
        lambda: {
            "d_model": 8,
            "heads": 2,
            "d_ff": None,
            "activation": "relu",
            "eps": 1e-5,
            "device": None,
            "dtype": None,
        },
        {
            "d_model": Arg("int", minimum=1, mentions=("heads",)),
            "heads": Arg("int", minimum=1),
            "d_ff": Arg("int", minimum=1, accepts=("None",)),
            "activation": Arg("custom", custom={"None": None, "tanh": "tanh"}),
            "eps": EPS,
            "device": DEVICE,
            "dtype": DTYPE,
        },
    )


SPECS = [
    (
        "transformer.FeedForward",
        FeedForward,
        lambda: {"d_model": 4, "d_ff": 16, "activation": "gelu", "device": None, "dtype": None},
        {
            "d_model": Arg("int", minimum=1),
            "d_ff": Arg("int", minimum=1),
            "activation": Arg("custom", custom={"None": None, "tanh": "tanh"}),
            "device": DEVICE,
            "dtype": DTYPE,
        },
    ),
    (
        "transformer.FeedForward.forward",
        module_call(FeedForward, None, 4, 16),
        lambda: {"x": torch.ones(2, 5, 4)},
        {"x": Arg("tensor", accepts=("extra-dim", "missing-dim"), mentions=("the parameters",))},
    ),  # any (..., d)
    _block_spec(EncoderBlock),
    _block_spec(DecoderBlock),
    (
        "transformer.EncoderBlock.forward",
        module_call(EncoderBlock, None, 8, 2),
        lambda: {"x": torch.ones(3, 5, 8), "mask": causal_mask(5)},
        {"x": SET, "mask": MASK},
    ),
    (
        "transformer.DecoderBlock.forward",
        module_call(DecoderBlock, None, 8, 2),
        lambda: {
            "y": torch.ones(3, 4, 8),
            "memory": torch.ones(3, 6, 8),
            "mask": causal_mask(4),
            "memory_mask": torch.ones(3, 4, 6, dtype=torch.bool),
        },
        {"y": SET, "memory": SET, "mask": MASK, "memory_mask": MASK},
    ),
    (
        "transformer.DecoderBlock.cross_attention_weights",
        module_call(DecoderBlock, "cross_attention_weights", 8, 2),
        lambda: {"y": torch.ones(3, 4, 8), "memory": torch.ones(3, 6, 8), "mask": None, "memory_mask": None},
        {"y": SET, "memory": SET},
    ),
    (
        "transformer.sinusoidal_positions",
        sinusoidal_positions,
        lambda: {"T": 5, "d": 4, "device": None, "dtype": torch.float32},
        {
            "T": Arg("int", minimum=1),
            "d": Arg("int", minimum=2, custom={"odd": 5}),
            "device": DEVICE,
            "dtype": Arg("custom", custom={"None": None, "int": torch.int64, "bool": torch.bool, "str": "float32"}),
        },
    ),
]
test_the_valid_call_works, test_the_battery_gets_a_clear_error = battery(SPECS)
