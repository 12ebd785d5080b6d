"""Tests of gradland.language_model: causality of the two models, decoding, the training loops
(against the loop they replaced), the checks, and the syncs of decoding and training."""

import math
import sys
from collections import Counter

import pytest
import torch
import torch.nn.functional as F
from gradland.attention import causal_mask
from gradland.data import reversal_task
from gradland.language_model import (
    EncoderPredictorDecoder,
    LanguageModel,
    language_model_loss,
    sequence_accuracy,
    shift_right,
    train_language_model,
    train_seq2seq,
)
from gradland.train import History

pytestmark = pytest.mark.usefixtures("one_cpu_thread")

F64 = torch.float64


# ---------------------------------------------------------------- the models


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


def test_cross_attention_weights_are_those_of_each_predictor_block():
    torch.manual_seed(7)
    model = EncoderPredictorDecoder(5, 6, d_model=16, heads=2, layers=2, dtype=F64)
    x, y_in = torch.randint(5, (3, 4)), torch.randint(7, (3, 5))
    memory = model.encode(x)
    weights = model.cross_attention_weights(memory, y_in)
    assert len(weights) == 2 and all(a.shape == (3, 2, 5, 4) for a in weights)
    h = model.embed_y(y_in)
    for block, a in zip(model.predictor, weights):
        torch.testing.assert_close(a, block.cross_attention_weights(h, memory), rtol=0, atol=0)
        torch.testing.assert_close(a.sum(-1), torch.ones(3, 2, 5, dtype=F64))
        h = block(h, memory)
    torch.testing.assert_close(model.predict(memory, y_in), model(x, y_in), rtol=0, atol=0)


def test_greedy_decoding_writes_the_argmax_of_each_step():
    torch.manual_seed(8)
    model = EncoderPredictorDecoder(5, 6, d_model=16, heads=2, layers=1, dtype=F64)
    x = torch.randint(5, (3, 4))
    out = model.generate(x, 5)
    assert out.shape == (3, 5) and out.dtype == torch.long
    logits = model(x, torch.cat((torch.full((3, 1), model.start), out[:, :-1]), dim=1))
    assert torch.equal(logits.argmax(-1), out)  # teacher forcing on its own output agrees with it


def test_shift_right_delays_by_one_step():
    y = torch.tensor([[1, 2, 3], [4, 5, 6]])
    assert shift_right(y, 9).tolist() == [[9, 1, 2], [9, 4, 5]]


# ---------------------------------------------------------------- training


def test_seq2seq_training_lowers_the_loss_and_decodes(device):
    torch.manual_seed(7)
    (x, y), (xt, yt) = reversal_task(500, 50, 4, device=device)
    model = EncoderPredictorDecoder(10, 10, d_model=16, heads=2, layers=1, d_ff=32, fused=True, device=device)
    history = train_seq2seq(model, x, y, steps=40, batch_size=32, lr=3e-3, warmup=5)
    assert isinstance(history, History) and not model.training
    assert len(history.loss) == 40 and history.lr[4] == pytest.approx(3e-3)
    assert 0 < history.lr[-1] < history.lr[-2]  # the last step still moves the weights
    assert sum(history.loss[-5:]) < sum(history.loss[:5])
    accuracy = sequence_accuracy(model, xt, yt)
    assert 0.0 <= accuracy <= 1.0
    assert sequence_accuracy(model, xt, yt, batch_size=7) == accuracy
    decoded = model.generate(xt[:3], 4)
    assert decoded.shape == (3, 4) and decoded.device.type == device.type
    other = "meta" if device.type == "cpu" else "cpu"  # another device, one that every machine has
    with pytest.raises(ValueError, match=f"x must be on {device.type}"):
        model.generate(xt.to(other), 4)


def _old_seq2seq_loop(model, x, y, steps, batch_size, lr, warmup, seed):
    """The loop train_seq2seq ran before it used gradland.train.fit: the learning rate of
    step k set by hand to the warm-up and cosine, then one Adam step."""
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.98), foreach=True)
    generator = torch.Generator().manual_seed(seed)
    losses, rates = [], []
    model.train()
    for step in range(1, steps + 1):
        idx = torch.randint(len(x), (batch_size,), generator=generator)
        xb, yb = x[idx], y[idx]
        logits = model(xb, shift_right(yb, model.start))
        loss = F.cross_entropy(logits.flatten(0, 1), yb.flatten())
        if step <= warmup:
            rate = lr * step / warmup
        else:
            rate = lr * 0.5 * (1 + math.cos(math.pi * (step - warmup) / (steps - warmup + 1)))
        for group in opt.param_groups:
            group["lr"] = rate
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        rates.append(rate)
    model.eval()
    return losses, rates


def test_seq2seq_training_is_the_loop_it_replaced():
    """Same batches in the same order, the same rates to rounding, so the same losses."""
    (x, y), _ = reversal_task(300, 10, 4)
    runs = []
    for train in (train_seq2seq, _old_seq2seq_loop):
        torch.manual_seed(9)
        model = EncoderPredictorDecoder(10, 10, d_model=16, heads=2, layers=1, d_ff=32, dtype=F64)
        kwargs = dict(steps=12, batch_size=16, lr=3e-3, warmup=4, seed=3)
        result = train(model, x, y, **kwargs)
        runs.append((result.loss, result.lr) if isinstance(result, History) else result)
    (new_loss, new_lr), (old_loss, old_lr) = runs
    assert new_lr == pytest.approx(old_lr, rel=1e-15, abs=0)
    assert new_loss == pytest.approx(old_loss, rel=1e-12, abs=0)


def test_language_model_training_beats_its_start(device):
    torch.manual_seed(8)
    tokens = torch.arange(400, device=device) % 5  # 0 1 2 3 4 0 1 ...: perfectly predictable
    lm = LanguageModel(5, d_model=16, heads=2, layers=1, device=device)
    start = language_model_loss(lm, tokens, context=8)
    history = train_language_model(lm, tokens, steps=60, context=8, batch_size=16, lr=1e-2, warmup=5)
    assert language_model_loss(lm, tokens, context=8) < 0.5 * start
    assert history.loss[-1] < history.loss[0]
    gen = torch.Generator().manual_seed(0)
    sample = lm.sample(tokens[None, :3], 5, temperature=0.01, generator=gen)
    assert sample[0, :3].tolist() == [0, 1, 2] and sample.shape == (1, 8) and sample.device.type == device.type


def test_language_model_loss_is_the_mean_cross_entropy_of_the_windows():
    torch.manual_seed(10)
    lm = LanguageModel(5, d_model=8, heads=2, layers=1, dtype=F64)
    tokens = torch.randint(5, (30,))  # (30 - 1) // 8 = 3 windows, the last 5 tokens left out
    windows = torch.stack([tokens[i * 8 : i * 8 + 9] for i in range(3)])
    expected = F.cross_entropy(lm(windows[:, :-1]).flatten(0, 1), windows[:, 1:].flatten()).item()
    assert language_model_loss(lm, tokens, context=8) == pytest.approx(expected, rel=1e-14)


# ---------------------------------------------------------------- syncs with the device


@pytest.fixture
def syncs(monkeypatch):
    """Count the calls of Tensor.item, __bool__, tolist, __int__ and __float__ made by
    gradland's own code: each makes the CPU wait for the device."""
    counts = Counter()
    for name in ("item", "__bool__", "tolist", "__int__", "__float__"):
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            caller = sys._getframe(1).f_code.co_filename
            if "gradland" in caller and "tests" not in caller:
                counts[f"{_name} {caller.rsplit('/', 1)[-1]}:{sys._getframe(1).f_lineno}"] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    return counts


def test_decoding_and_training_check_values_once(syncs):
    """Tokens are checked where they come in, not at every step and block: before, a
    6-token generate with 2 layers synchronised 26 times, a training step 7 times."""
    torch.manual_seed(11)
    model = EncoderPredictorDecoder(10, 10, d_model=16, heads=2, layers=2)
    lm = LanguageModel(10, d_model=16, heads=2, layers=2)
    x = torch.randint(10, (4, 6))
    model.generate(x, 6)
    assert sum(syncs.values()) == 1, syncs  # the values of x
    syncs.clear()
    lm.sample(x[:1], 6, generator=torch.Generator().manual_seed(0))
    assert sum(syncs.values()) == 1, syncs  # the values of the prompt
    for steps in (1, 3):
        syncs.clear()
        train_seq2seq(model, x, x.flip(1), steps=steps, batch_size=4, warmup=1)
        assert sum(syncs.values()) == 2 + steps, syncs  # x and y once, then the loss of each step
        syncs.clear()
        train_language_model(lm, x.flatten(), steps=steps, context=8, batch_size=4, warmup=1)
        assert sum(syncs.values()) == 1 + steps, syncs


# ---------------------------------------------------------------- input checks


def test_the_models_check_their_sizes():
    for cls, args in ((EncoderPredictorDecoder, (5, 5)), (LanguageModel, (5,))):
        with pytest.raises(TypeError, match="layers must be an int"):
            cls(*args, d_model=8, heads=2, layers=True)  # was accepted as one layer
        with pytest.raises(TypeError, match="must be an int"):
            cls(*(True for _ in args), d_model=8, heads=2)
        with pytest.raises(ValueError, match="d_model must be even"):
            cls(*args, d_model=7, heads=7)
        with pytest.raises(TypeError, match="dtype must be a floating-point torch.dtype"):
            cls(*args, d_model=8, heads=2, dtype=torch.int64)
        with pytest.raises(ValueError, match="heads must divide d_model"):
            cls(*args, d_model=8, heads=3)


@pytest.mark.parametrize(
    "call",
    [
        "encode",
        "forward_x",
        "forward_y_in",
        "predict",
        "generate",
        "lm",
        "sample",
        "train_seq2seq",
        "sequence_accuracy",
        "train_language_model",
        "loss",
    ],
)
def test_tokens_are_checked_by_name_where_they_come_in(call):
    torch.manual_seed(12)
    model = EncoderPredictorDecoder(5, 5, d_model=8, heads=2, layers=1)
    lm = LanguageModel(5, d_model=8, heads=2, layers=1)
    good = torch.zeros(2, 3, dtype=torch.long)
    memory = model.encode(good)
    calls = {
        "encode": ("x", lambda t: model.encode(t)),
        "forward_x": ("x", lambda t: model(t, good)),
        "forward_y_in": ("y_in", lambda t: model(good, t)),
        "predict": ("y_in", lambda t: model.predict(memory, t)),
        "generate": ("x", lambda t: model.generate(t, 2)),
        "lm": ("tokens", lambda t: lm(t)),
        "sample": ("prompt", lambda t: lm.sample(t, 2)),
        "train_seq2seq": ("y", lambda t: train_seq2seq(model, good, t, steps=1)),
        "sequence_accuracy": ("y", lambda t: sequence_accuracy(model, good, t)),
        "train_language_model": ("tokens", lambda t: train_language_model(lm, t, steps=1, context=2)),
        "loss": ("tokens", lambda t: language_model_loss(lm, t, context=2)),
    }
    name, function = calls[call]
    if call in {"train_language_model", "loss"}:  # one sequence: flatten what is flattened
        function = (lambda f: lambda t: f(t.flatten() if isinstance(t, torch.Tensor) else t))(function)
    high = 6 if name == "y_in" else 5  # y_in holds the start symbol 5 too
    with pytest.raises(ValueError, match=rf"{name} must hold tokens in 0\.\.{high - 1}; got values from 0 to {high}"):
        function(torch.tensor([[0, high, 1], [0, 0, 0]]))
    for dtype in (torch.bool, torch.uint8, torch.int32, torch.float32):  # bool and uint8 went to the embedding
        with pytest.raises(TypeError, match=f"{name} must be an integer tensor of token indices"):
            function(good.to(dtype))
    with pytest.raises(ValueError, match=f"{name} must be on cpu"):
        function(good.to("meta"))  # a value check on the meta device failed deep inside torch
    if call not in {"train_language_model", "loss"}:
        with pytest.raises(ValueError, match=f"{name} must hold at least one token"):
            function(good[:, :0])  # was a message about T from the position codes
    with pytest.raises(TypeError, match=f"{name} must be a torch.Tensor"):
        function([[0, 1]])


def test_decoding_and_sampling_check_their_arguments():
    torch.manual_seed(13)
    model = EncoderPredictorDecoder(5, 5, d_model=8, heads=2, layers=1)
    lm = LanguageModel(5, d_model=8, heads=2, layers=1)
    prompt = torch.zeros(1, 2, dtype=torch.long)
    for bad in (0, -1):  # 0 fed back the whole sequence, -1 dropped its first token
        with pytest.raises(ValueError, match="context must be at least 1"):
            lm.sample(prompt, 3, context=bad)
    with pytest.raises(TypeError, match="context must be an int"):
        lm.sample(prompt, 3, context=2.5)
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="temperature must be"):
            lm.sample(prompt, 3, temperature=bad)
    with pytest.raises(TypeError, match="temperature must be a real number"):
        lm.sample(prompt, 3, temperature="1")
    with pytest.raises(TypeError, match="generator must be a torch.Generator or None"):
        lm.sample(prompt, 3, generator=0)
    with pytest.raises(ValueError, match="n must be at least 0"):
        lm.sample(prompt, -1)
    with pytest.raises(ValueError, match="length must be at least 1"):
        model.generate(prompt, 0)
    with pytest.raises(ValueError, match="y_in and memory must hold as many sequences"):
        model.predict(model.encode(prompt)[:0], prompt)
    with pytest.raises(ValueError, match="y_in and memory must hold as many sequences"):
        model(prompt, torch.zeros(2, 2, dtype=torch.long))  # named y_in, not xi
    with pytest.raises(ValueError, match="memory must have shape"):
        model.cross_attention_weights(torch.zeros(1, 2), prompt)
    for start in (0.5, "a", None):
        with pytest.raises(TypeError, match="start must be an int"):
            shift_right(prompt, start)
    for bad_y, start in ((prompt[:, :0], 0), (prompt, 10**30)):
        with pytest.raises(ValueError, match="y must hold T >= 1 tokens, and start fit its dtype"):
            shift_right(bad_y, start)
    with pytest.raises(TypeError, match="y must be an integer tensor"):
        shift_right(prompt.float(), 0)


def test_the_loops_check_their_arguments():
    torch.manual_seed(14)
    model = EncoderPredictorDecoder(5, 5, d_model=8, heads=2, layers=1)
    lm = LanguageModel(5, d_model=8, heads=2, layers=1)
    x = torch.randint(5, (6, 3))
    tokens = torch.randint(5, (40,))
    for bad in (0, -1):  # 0 gave a NaN loss at every step
        with pytest.raises(ValueError, match="batch_size must be at least 1"):
            train_seq2seq(model, x, x, steps=1, batch_size=bad)
        with pytest.raises(ValueError, match="batch_size must be at least 1"):
            train_language_model(lm, tokens, steps=1, context=4, batch_size=bad)
        with pytest.raises(ValueError, match="batch_size must be at least 1"):
            sequence_accuracy(model, x, x, batch_size=bad)  # -1 gave an accuracy of 0.0
    with pytest.raises(TypeError, match="batch_size must be an int"):
        train_seq2seq(model, x, x, steps=1, batch_size=2.5)
    for bad in (math.inf, math.nan, 0.0, -1e-3):  # inf gave NaN losses
        with pytest.raises(ValueError, match="lr must be"):
            train_seq2seq(model, x, x, steps=1, lr=bad)
        with pytest.raises(ValueError, match="lr must be"):
            train_language_model(lm, tokens, steps=1, context=4, lr=bad)
    with pytest.raises(ValueError, match="steps must be at least 0"):
        train_seq2seq(model, x, x, steps=-1)
    with pytest.raises(ValueError, match="warmup must be at least 0"):
        train_language_model(lm, tokens, steps=1, context=4, warmup=-1)
    with pytest.raises(TypeError, match="seed must be an int"):
        train_seq2seq(model, x, x, steps=1, seed=1.5)
    with pytest.raises(ValueError, match="x and y must hold as many sequences"):
        train_seq2seq(model, x, x[:4], steps=1)
    with pytest.raises(ValueError, match="x and y must hold as many sequences, at least one"):
        sequence_accuracy(model, x[:0], x[:0])  # was a ZeroDivisionError
    with pytest.raises(TypeError, match="model must be an EncoderPredictorDecoder; got LanguageModel"):
        sequence_accuracy(lm, x, x)
    with pytest.raises(TypeError, match="model must be a LanguageModel; got EncoderPredictorDecoder"):
        language_model_loss(model, tokens)
    with pytest.raises(TypeError, match="model must be a LanguageModel; got NoneType"):
        train_language_model(None, tokens, steps=1)
    with pytest.raises(ValueError, match="context must be below the number of tokens, 5; got 8"):
        train_language_model(lm, torch.zeros(5, dtype=torch.long), steps=1, context=8)
    with pytest.raises(ValueError, match=r"tokens must .*shape \(N,\)"):
        language_model_loss(lm, tokens[None], context=4)


# ---------------------------------------------------------------- the bad-input battery (tests/badinput.py)

from badinput import Arg, battery  # noqa: E402

DTYPE = Arg("custom", accepts=("None",), custom={"None": None, "int": torch.int64, "str": "float32"})
DEVICE = Arg("custom", accepts=("None",), custom={"None": None, "nonsense": "nonsense", "int": 1.5})
# int64 tokens are valid; a longer sequence (wrong-size) is a valid sequence too
TOKENS = Arg("tensor", accepts=("int64", "wrong-size"))
CORPUS = Arg("tensor", accepts=("int64", "wrong-size"), omit=("missing-dim",), custom={"short": torch.zeros(3)})
SIZES = {
    "d_model": Arg("int", minimum=1),
    "heads": Arg("int", minimum=1),
    "layers": Arg("int", minimum=1),
    "device": DEVICE,
    "dtype": DTYPE,
}


def _seq2seq(method=None):
    def call(**arguments):
        torch.manual_seed(0)
        model = EncoderPredictorDecoder(5, 5, d_model=8, heads=2, layers=1)
        return (getattr(model, method) if method else model)(**arguments)

    return call


def _lm(method=None):
    def call(**arguments):
        torch.manual_seed(0)
        model = LanguageModel(5, d_model=8, heads=2, layers=1)
        return (getattr(model, method) if method else model)(**arguments)

    return call


def _tokens(*shape):
    return torch.randint(5, shape, generator=torch.Generator().manual_seed(1))


_MODEL = {"model": Arg("custom", custom={"None": None, "other": LanguageModel(5, d_model=8, heads=2, layers=1)})}
_LM = {"model": Arg("custom", custom={"None": None, "other": EncoderPredictorDecoder(5, 5, d_model=8, heads=2)})}
_LOOP = {
    "steps": Arg("int", minimum=0),
    "batch_size": Arg("int", minimum=1),
    "lr": Arg("real", positive=True),
    "warmup": Arg("int", minimum=0),
    "seed": Arg("int", accepts=("below-minimum",)),
}

SPECS = [
    (
        "language_model.shift_right",
        shift_right,
        lambda: {"y": _tokens(2, 3), "start": 9},
        {"y": Arg("tensor", accepts=("int64", "wrong-size", "meta")), "start": Arg("int", minimum=0)},
    ),
    (
        "language_model.EncoderPredictorDecoder",
        EncoderPredictorDecoder,
        lambda: {"vocab_x": 5, "vocab_y": 5, "d_model": 8, "heads": 2, "layers": 1, "device": None, "dtype": None},
        {"vocab_x": Arg("int", minimum=1), "vocab_y": Arg("int", minimum=1), **SIZES},
    ),
    (
        "language_model.EncoderPredictorDecoder.forward",
        _seq2seq(),
        lambda: {"x": _tokens(2, 4), "y_in": _tokens(2, 3)},
        {"x": TOKENS, "y_in": TOKENS},
    ),
    ("language_model.EncoderPredictorDecoder.encode", _seq2seq("encode"), lambda: {"x": _tokens(2, 4)}, {"x": TOKENS}),
    (
        "language_model.EncoderPredictorDecoder.predict",
        _seq2seq("predict"),
        lambda: {"memory": torch.zeros(2, 4, 8), "y_in": _tokens(2, 3)},
        {"memory": Arg("tensor", mentions=("the parameters", "y_in")), "y_in": TOKENS},
    ),
    (
        "language_model.EncoderPredictorDecoder.cross_attention_weights",
        _seq2seq("cross_attention_weights"),
        lambda: {"memory": torch.zeros(2, 4, 8), "y_in": _tokens(2, 3)},
        {"memory": Arg("tensor", mentions=("the parameters", "y_in")), "y_in": TOKENS},
    ),
    (
        "language_model.EncoderPredictorDecoder.generate",
        _seq2seq("generate"),
        lambda: {"x": _tokens(2, 4), "length": 3},
        {"x": TOKENS, "length": Arg("int", minimum=1)},
    ),
    (
        "language_model.LanguageModel",
        LanguageModel,
        lambda: {"vocab": 5, "d_model": 8, "heads": 2, "layers": 1, "device": None, "dtype": None},
        {"vocab": Arg("int", minimum=1), **SIZES},
    ),
    ("language_model.LanguageModel.forward", _lm(), lambda: {"tokens": _tokens(2, 7)}, {"tokens": TOKENS}),
    (
        "language_model.LanguageModel.sample",
        _lm("sample"),
        lambda: {"prompt": _tokens(1, 3), "n": 2, "temperature": 0.5, "context": 2, "generator": None},
        {
            "prompt": TOKENS,
            "n": Arg("int", minimum=0),
            "temperature": Arg("real", positive=True),
            "context": Arg("int", minimum=1, accepts=("None",)),
            "generator": Arg("custom", custom={"int": 0, "str": "cpu"}),
        },
    ),
    (
        "language_model.train_seq2seq",
        train_seq2seq,
        lambda: {
            "model": EncoderPredictorDecoder(5, 5, d_model=8, heads=2, layers=1),
            "x": _tokens(6, 3),
            "y": _tokens(6, 3),
            "steps": 2,
            "batch_size": 4,
            "lr": 1e-3,
            "warmup": 1,
            "seed": 0,
        },
        {**_MODEL, "x": TOKENS, "y": TOKENS, **_LOOP},
    ),
    (
        "language_model.sequence_accuracy",
        sequence_accuracy,
        lambda: {
            "model": EncoderPredictorDecoder(5, 5, d_model=8, heads=2, layers=1),
            "x": _tokens(6, 3),
            "y": _tokens(6, 3),
            "batch_size": 4,
        },
        {**_MODEL, "x": TOKENS, "y": TOKENS, "batch_size": Arg("int", minimum=1)},
    ),
    (
        "language_model.train_language_model",
        train_language_model,
        lambda: {
            "model": LanguageModel(5, d_model=8, heads=2, layers=1),
            "tokens": _tokens(40),
            "context": 4,
            "steps": 2,
            "batch_size": 4,
            "lr": 1e-3,
            "warmup": 1,
            "seed": 0,
        },
        {**_LM, "tokens": CORPUS, "context": Arg("int", minimum=1, custom={"too-long": 40}), **_LOOP},
    ),
    (
        "language_model.language_model_loss",
        language_model_loss,
        lambda: {"model": LanguageModel(5, d_model=8, heads=2, layers=1), "tokens": _tokens(40), "context": 4},
        {**_LM, "tokens": CORPUS, "context": Arg("int", minimum=1, custom={"too-long": 40})},
    ),
]
test_the_valid_call_works, test_bad_input_gets_a_clear_error = battery(SPECS)
