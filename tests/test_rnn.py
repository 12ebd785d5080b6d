"""Tests of gradland.rnn: the stacked step, equality with torch.nn.RNN, the memory task
and the input checks (backpropagation through time and the Jacobians through time are
in test_rnn_gradients.py)."""

import pytest
import torch
from badinput import Arg, battery
from gradland import linalg
from gradland.rnn import ElmanRNN, RecallNet, delayed_recall, train_recall
from gradland.rnn_gradients import state_jacobians
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.usefixtures("one_cpu_thread")

DT = torch.float64


def torch_rnn(n, d, nonlinearity="tanh", bias=True, seed=0, device="cpu"):
    torch.manual_seed(seed)
    return torch.nn.RNN(n, d, nonlinearity=nonlinearity, bias=bias, batch_first=True, dtype=DT, device=device)


# ---------------------------------------------------------------- the stacked step


def test_one_weight_matrix_whose_blocks_are_views():
    rnn = ElmanRNN(3, 4)
    assert [name for name, _ in rnn.named_parameters()] == ["weight", "bias"]
    assert rnn.weight.shape == (4, 7) and rnn.W_x.shape == (4, 3) and rnn.W_h.shape == (4, 4)
    assert rnn.W_x.data_ptr() == rnn.weight.data_ptr()  # views, not copies
    with torch.no_grad():
        rnn.W_h.fill_(2.0)
    assert torch.equal(rnn.weight[:, 3:], torch.full((4, 4), 2.0))
    assert torch.equal(rnn.weight, linalg.concat(rnn.W_x, rnn.W_h))
    assert ElmanRNN(3, 4, bias=False).bias is None


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 5),
    st.integers(1, 6),
    st.integers(1, 4),
    st.sampled_from(["tanh", "relu"]),
    st.booleans(),
    st.integers(0, 2**16),
)
def test_stacked_step_equals_the_two_matrix_form(n, d, batch, nonlinearity, bias, seed):
    torch.manual_seed(seed)
    rnn = ElmanRNN(n, d, nonlinearity=nonlinearity, bias=bias, dtype=DT)
    x_t, h_prev = torch.randn(batch, n, dtype=DT), torch.randn(batch, d, dtype=DT)
    f = torch.tanh if nonlinearity == "tanh" else torch.relu
    u = x_t @ rnn.W_x.T + h_prev @ rnn.W_h.T + (rnn.bias if bias else 0)
    torch.testing.assert_close(rnn.step(x_t, h_prev), f(u), rtol=0, atol=1e-14)
    # one example, as column vectors: W_x x + W_h h
    torch.testing.assert_close(
        rnn.step(x_t[0], h_prev[0]),
        f(rnn.W_x @ x_t[0] + rnn.W_h @ h_prev[0] + (rnn.bias if bias else 0)),
        rtol=0,
        atol=1e-14,
    )


def test_forward_is_the_step_unrolled_and_accepts_one_sequence():
    torch.manual_seed(1)
    rnn = ElmanRNN(2, 3, dtype=DT)
    x, h0 = torch.randn(4, 5, 2, dtype=DT), torch.randn(4, 3, dtype=DT)
    states, last = rnn(x, h0)
    h = h0
    for t in range(5):
        h = rnn.step(x[:, t], h)
        assert torch.equal(states[:, t], h)
    assert torch.equal(last, h)
    one_states, one_last = rnn(x[1], h0[1])
    torch.testing.assert_close(one_states, states[1], rtol=0, atol=1e-15)
    torch.testing.assert_close(one_last, last[1], rtol=0, atol=1e-15)
    assert torch.equal(rnn(x)[0], rnn(x, torch.zeros(4, 3, dtype=DT))[0])  # h0 defaults to zero


# ---------------------------------------------------------------- torch.nn.RNN


@settings(max_examples=20, deadline=None)
@given(
    st.sampled_from(["tanh", "relu"]),
    st.booleans(),
    st.integers(1, 4),
    st.integers(1, 12),
    st.integers(1, 4),
    st.integers(1, 8),
    st.integers(0, 2**16),
)
def test_equal_to_torch_rnn(nonlinearity, bias, batch, T, n, d, seed):
    theirs = torch_rnn(n, d, nonlinearity, bias, seed)
    ours = ElmanRNN.from_torch(theirs)
    assert ours.nonlinearity == nonlinearity and (ours.bias is not None) == bias
    x, h0 = torch.randn(batch, T, n, dtype=DT), torch.randn(batch, d, dtype=DT)
    states, last = ours(x, h0)
    states_theirs, last_theirs = theirs(x, h0[None])
    torch.testing.assert_close(states, states_theirs, rtol=0, atol=1e-13)
    torch.testing.assert_close(last, last_theirs[0], rtol=0, atol=1e-13)
    back = ours.to_torch()
    assert back.batch_first and back.nonlinearity == nonlinearity
    torch.testing.assert_close(back(x, h0[None])[0], states_theirs, rtol=0, atol=1e-13)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_gradients_equal_those_of_torch_rnn(nonlinearity, bias):
    theirs = torch_rnn(3, 5, nonlinearity, bias, seed=2)
    ours = ElmanRNN.from_torch(theirs)
    x, target = torch.randn(4, 9, 3, dtype=DT), torch.randn(4, 9, 5, dtype=DT)
    ((ours(x)[0] - target) ** 2).sum().backward()
    ((theirs(x)[0] - target) ** 2).sum().backward()
    grad_theirs = linalg.concat(theirs.weight_ih_l0.grad, theirs.weight_hh_l0.grad)
    torch.testing.assert_close(ours.weight.grad, grad_theirs, rtol=1e-12, atol=1e-12)
    if bias:  # the two biases of nn.RNN receive the same gradient, the gradient of their sum
        torch.testing.assert_close(ours.bias.grad, theirs.bias_ih_l0.grad, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(ours.bias.grad, theirs.bias_hh_l0.grad, rtol=1e-12, atol=1e-12)


def test_from_torch_refuses_what_it_cannot_copy():
    with pytest.raises(TypeError, match="expected a torch.nn.RNN; got LSTM"):
        ElmanRNN.from_torch(torch.nn.LSTM(2, 3))
    with pytest.raises(ValueError, match="single-layer, unidirectional"):
        ElmanRNN.from_torch(torch.nn.RNN(2, 3, num_layers=2))
    with pytest.raises(ValueError, match="bidirectional=True"):
        ElmanRNN.from_torch(torch.nn.RNN(2, 3, bidirectional=True))


# ---------------------------------------------------------------- the memory task


def test_delayed_recall_targets_are_the_inputs_shifted_by_the_delay():
    x, target = delayed_recall(5, 12, 3, symbols=6, generator=torch.Generator().manual_seed(0))
    assert x.shape == (5, 12, 6) and target.shape == (5, 12) and x.dtype == torch.float32
    assert torch.equal(x.sum(-1), torch.ones(5, 12))  # one-hot
    assert bool((target[:, :3] == -100).all())
    assert torch.equal(target[:, 3:], x.argmax(-1)[:, :-3])
    _, same = delayed_recall(5, 12, 0)
    assert bool((same >= 0).all())


def test_training_learns_a_short_delay_and_the_loss_falls(device):
    result = train_recall(2, length=12, d=16, steps=120, seed=0, device=device)
    assert len(result.losses) == 120 and next(result.model.parameters()).device.type == device.type
    assert sum(result.losses[-10:]) < 0.5 * sum(result.losses[:10])
    assert result.accuracy > 0.9
    assert not result.model.training


def test_recall_net_shapes():
    model = RecallNet(3, 8)
    x, _ = delayed_recall(2, 7, 1, symbols=3)
    assert model(x).shape == (2, 7, 3)
    assert model.rnn.weight.shape == (8, 11)


# ---------------------------------------------------------------- input checks


def test_constructor_checks():
    with pytest.raises(ValueError, match="n must be at least 1; got 0"):
        ElmanRNN(0, 3)
    with pytest.raises(TypeError, match="d must be an int; got float"):
        ElmanRNN(2, 2.0)
    with pytest.raises(TypeError, match="n must be an int; got bool"):
        ElmanRNN(True, 2)
    with pytest.raises(ValueError, match=r"nonlinearity must be one of \('tanh', 'relu'\); got 'sigmoid'"):
        ElmanRNN(2, 3, nonlinearity="sigmoid")
    with pytest.raises(TypeError, match="dtype must be a floating-point torch.dtype or None; got torch.int64"):
        ElmanRNN(2, 3, dtype=torch.int64)
    with pytest.raises(ValueError, match="device must name a device"):
        ElmanRNN(2, 3, device="nonsense")
    for symbols in (0, -1):
        with pytest.raises(ValueError, match=f"symbols must be at least 1; got {symbols}"):
            RecallNet(symbols, 8)
    for symbols in (2.5, True, "2", None):
        with pytest.raises(TypeError, match="symbols must be an int"):
            RecallNet(symbols, 8)


def test_forward_checks():
    rnn = ElmanRNN(2, 3)
    with pytest.raises(TypeError, match="x must be a torch.Tensor of shape"):
        rnn([[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"x must have shape \(B, T, 2\) or \(T, 2\).*got shape \(4, 5, 3\)"):
        rnn(torch.zeros(4, 5, 3))
    with pytest.raises(ValueError, match="T >= 1"):
        rnn(torch.zeros(4, 0, 2))
    with pytest.raises(TypeError, match="x must have a floating-point dtype"):
        rnn(torch.zeros(4, 5, 2, dtype=torch.int64))
    with pytest.raises(TypeError, match="x must have the network's dtype torch.float32"):
        rnn(torch.zeros(4, 5, 2, dtype=DT))
    with pytest.raises(ValueError, match="x must be on the network's device cpu"):
        rnn(torch.zeros(4, 5, 2, device="meta"))
    with pytest.raises(ValueError, match=r"h0 must have shape \(4, 3\) for this x; got shape \(3,\)"):
        rnn(torch.zeros(4, 5, 2), torch.zeros(3))
    with pytest.raises(TypeError, match="h0 must have the network's dtype"):
        rnn(torch.zeros(4, 5, 2), torch.zeros(4, 3, dtype=DT))
    with pytest.raises(TypeError, match="h0 must be a torch.Tensor"):
        rnn(torch.zeros(4, 5, 2), [0.0] * 3)


@pytest.mark.parametrize(
    "x_t, h_prev, error, message",
    [
        (torch.zeros(4, 2), torch.zeros(3, 3), ValueError, "x_t and h_prev must have the same leading"),
        (torch.zeros(1, 2), torch.zeros(3), ValueError, "x_t and h_prev must have the same leading"),
        (torch.tensor(1.0), torch.zeros(3), ValueError, r"x_t must have shape \(..., 2\); got shape \(\)"),
        (torch.zeros(3), torch.zeros(3), ValueError, r"x_t must have shape \(..., 2\)"),
        (torch.zeros(0), torch.zeros(3), ValueError, r"x_t must have shape \(..., 2\)"),
        (torch.zeros(2, dtype=torch.int64), torch.zeros(3), TypeError, "x_t must have a floating-point dtype"),
        (torch.zeros(2, dtype=DT), torch.zeros(3), TypeError, "x_t must have the network's dtype"),
        ([0.0, 0.0], torch.zeros(3), TypeError, "x_t must be a torch.Tensor"),
        (torch.zeros(2, device="meta"), torch.zeros(3), ValueError, "x_t must be on the network's device"),
        (torch.zeros(2), torch.zeros(4), ValueError, r"h_prev must have shape \(..., 3\)"),
        (torch.zeros(2), torch.zeros(3, dtype=torch.float16), TypeError, "h_prev must have the network's dtype"),
        (torch.zeros(2), None, TypeError, "h_prev must be a torch.Tensor"),
        (torch.zeros(2), torch.zeros(3, device="meta"), ValueError, "h_prev must be on the network's device"),
    ],
)
def test_step_names_x_t_and_h_prev(x_t, h_prev, error, message):
    with pytest.raises(error, match=message):
        ElmanRNN(2, 3).step(x_t, h_prev)


def test_function_checks():
    with pytest.raises(ValueError, match="delay must be an int with 0 <= delay < length = 5; got 5"):
        delayed_recall(2, 5, 5)
    with pytest.raises(ValueError, match="symbols must be at least 2; got 1"):
        delayed_recall(2, 5, 1, symbols=1)
    with pytest.raises(TypeError, match="dtype must be a floating-point torch.dtype or None; got 'float32'"):
        delayed_recall(2, 5, 1, dtype="float32")
    with pytest.raises(TypeError, match="generator must be a torch.Generator or None; got int"):
        delayed_recall(2, 5, 1, generator=0)
    with pytest.raises(TypeError, match="batch must be an int; got bool"):
        delayed_recall(True, 5, 1)
    with pytest.raises(ValueError, match="steps must be at least 1; got 0"):
        train_recall(1, steps=0)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"lr": float("inf")}, ValueError, "lr must be a finite number; got inf"),
        ({"lr": float("nan")}, ValueError, "lr must be a finite number; got nan"),
        ({"lr": -0.01}, ValueError, "lr must be positive"),
        ({"lr": "0.01"}, TypeError, "lr must be a real number; got str"),
        ({"seed": 1.5}, TypeError, "seed must be an int; got float"),
        ({"seed": None}, TypeError, "seed must be an int; got NoneType"),
        ({"device": "nonsense"}, ValueError, "device must name a device"),
        ({"device": "meta"}, ValueError, "device must hold values to train on; got 'meta'"),
        ({"checkpoints": 4}, TypeError, "checkpoints must be a sequence of ints; got int"),
        ({"batch_size": 0}, ValueError, "batch_size must be at least 1"),
        ({"test_size": 2.0}, TypeError, "test_size must be an int"),
        ({"symbols": 0}, ValueError, "symbols must be at least 2; got 0"),
        ({"d": 0}, ValueError, "d must be at least 1; got 0"),
    ],
)
def test_train_recall_checks_its_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        train_recall(1, **{"length": 6, "d": 8, "steps": 2, "batch_size": 4, "test_size": 8, **kwargs})


@settings(max_examples=50, deadline=None)
@given(
    st.sampled_from(["n", "d", "symbols", "lr"]),
    st.one_of(
        st.integers(-5, 0),
        st.floats(allow_nan=True, allow_infinity=True),
        st.booleans(),
        st.none(),
        st.text(max_size=2),
    ),
)
def test_bad_sizes_and_rates_always_get_a_named_error(name, value):
    """A size that is not a positive int, or a rate that is not a finite positive number,
    never reaches torch: a TypeError for the wrong type, a ValueError for the wrong value."""
    if name == "lr":
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < float("inf"):
            return  # a good rate
        error = ValueError if isinstance(value, (int, float)) and not isinstance(value, bool) else TypeError
        call = lambda: train_recall(1, length=4, d=4, steps=1, batch_size=2, test_size=2, lr=value)  # noqa: E731
    else:
        error = ValueError if isinstance(value, int) and not isinstance(value, bool) else TypeError
        sizes = {"n": 2, "d": 3, name: value}
        call = (lambda: RecallNet(value, 3)) if name == "symbols" else (lambda: ElmanRNN(sizes["n"], sizes["d"]))
    with pytest.raises(error, match=name):
        call()


def test_delayed_recall_takes_the_default_dtype():
    default = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float64)
        x, _ = delayed_recall(2, 5, 1)
    finally:
        torch.set_default_dtype(default)
    assert x.dtype == torch.float64
    assert delayed_recall(2, 5, 1, dtype=torch.float16)[0].dtype == torch.float16


def test_train_recall_clips_the_gradient_before_each_step():
    """The clipping runs once a step, between fit's backward pass and Adam's step, on
    gradients that are there, and leaves them with norm at most 1."""
    seen = []
    original = torch.nn.utils.clip_grad_norm_

    def spy(params, max_norm):
        params = list(params)
        norm = original(params, max_norm)
        seen.append((norm, torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params]))))
        return norm

    try:
        torch.nn.utils.clip_grad_norm_ = spy
        result = train_recall(1, length=6, d=8, steps=3, batch_size=4, test_size=8)
    finally:
        torch.nn.utils.clip_grad_norm_ = original
    assert len(seen) == 3 and len(result.losses) == 3
    assert all(before > 0 and after <= 1 + 1e-6 for before, after in seen)


# ---------------------------------------------------------------- every device


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_on_every_device_equal_to_torch_rnn_and_to_the_cpu(nonlinearity, device):
    theirs = torch_rnn(3, 8, nonlinearity, seed=6)
    cpu = ElmanRNN.from_torch(theirs)
    theirs.to(device)
    ours = ElmanRNN.from_torch(theirs)
    assert ours.weight.device.type == device.type
    x = torch.randn(4, 20, 3, dtype=DT, generator=torch.Generator().manual_seed(7)).to(device)
    torch.testing.assert_close(ours(x)[0], theirs(x)[0], rtol=0, atol=1e-12)
    torch.testing.assert_close(ours(x)[0].cpu(), cpu(x.cpu())[0], rtol=0, atol=1e-12)
    J = state_jacobians(ours, x[0])
    assert J.device.type == device.type
    torch.testing.assert_close(J.cpu(), state_jacobians(cpu, x[0].cpu()), rtol=1e-10, atol=1e-12)
    last_by_first = torch.func.jacrev(lambda h0: cpu(x[0].cpu(), h0)[1])(torch.zeros(8, dtype=DT))  # dh[T]/dh[0]
    torch.testing.assert_close(J[0].cpu(), last_by_first, rtol=1e-10, atol=1e-12)


def test_training_is_seeded_and_leaves_the_global_random_state_alone():
    torch.manual_seed(7)
    before = torch.get_rng_state()
    a = train_recall(1, length=6, d=8, steps=5, test_size=16, seed=3)
    assert torch.equal(torch.get_rng_state(), before)
    b = train_recall(1, length=6, d=8, steps=5, test_size=16, seed=3)
    assert a.losses == b.losses and a.accuracy == b.accuracy


def test_train_recall_measures_the_accuracy_at_the_checkpoints():
    result = train_recall(1, length=6, d=8, steps=12, checkpoints=(4, 12))
    assert list(result.checkpoints) == [4, 12]
    assert all(0 <= a <= 1 for a in result.checkpoints.values())
    # the same test sequences: the last checkpoint is the final accuracy
    assert result.checkpoints[12] == result.accuracy


@pytest.mark.parametrize(
    "bad, error, message",
    [
        ((0,), ValueError, r"checkpoints\[0\] must be at least 1; got 0"),
        ((4, 13), ValueError, r"checkpoints\[1\] must be at most 12; got 13"),
        ((2.0,), TypeError, r"checkpoints\[0\] must be an int; got float"),
        ((True,), TypeError, r"checkpoints\[0\] must be an int; got bool"),
    ],
)
def test_train_recall_rejects_checkpoints_outside_the_run(bad, error, message):
    with pytest.raises(error, match=message):
        train_recall(1, length=6, d=8, steps=12, checkpoints=bad)


# ---------------------------------------------------------------- the bad-input battery (tests/badinput.py)

T = Arg("tensor")
DTYPE = Arg("custom", accepts=("None",), custom={"None": None, "int": torch.int64, "str": "float32"})
DEVICE = Arg("custom", accepts=("None",), custom={"None": None, "nonsense": "nonsense", "int": 1.5})


def _rnn_method(name):
    rnn = ElmanRNN(3, 5)
    return lambda **arguments: getattr(rnn, name)(**arguments)


SPECS = [
    (
        "rnn.ElmanRNN",
        ElmanRNN,
        lambda: {"n": 3, "d": 5, "nonlinearity": "tanh", "device": None, "dtype": None},
        {
            "n": Arg("int", minimum=1),
            "d": Arg("int", minimum=1),
            "nonlinearity": Arg("custom", custom={"None": None, "sigmoid": "sigmoid"}),
            "device": DEVICE,
            "dtype": DTYPE,
        },
    ),
    (
        "rnn.ElmanRNN.forward",
        _rnn_method("forward"),
        lambda: {"x": torch.randn(2, 7, 3), "h0": torch.zeros(2, 5)},
        {
            "x": Arg("tensor", accepts=("missing-dim",), mentions=("h0",)),  # one sequence (T, n) is a valid x
            "h0": Arg("tensor", accepts=("None",)),
        },
    ),
    (
        "rnn.ElmanRNN.step",
        _rnn_method("step"),
        lambda: {"x_t": torch.randn(4, 3), "h_prev": torch.randn(4, 5)},
        {"x_t": Arg("tensor", mentions=("h_prev",)), "h_prev": Arg("tensor", mentions=("x_t",))},
    ),
    (
        "rnn.delayed_recall",
        delayed_recall,
        lambda: {"batch": 2, "length": 6, "delay": 2, "symbols": 4, "generator": None, "device": None, "dtype": None},
        {
            "batch": Arg("int", minimum=1),
            "length": Arg("int", minimum=1, mentions=("delay",)),
            "delay": Arg("int", minimum=0, custom={"too-long": 6}),
            "symbols": Arg("int", minimum=2),
            "generator": Arg("custom", custom={"int": 0, "str": "cpu"}),
            "device": DEVICE,
            "dtype": DTYPE,
        },
    ),
    (
        "rnn.RecallNet",
        RecallNet,
        lambda: {"symbols": 4, "d": 8},
        {"symbols": Arg("int", minimum=1), "d": Arg("int", minimum=1)},
    ),
    (
        "rnn.RecallNet.forward",
        lambda x: RecallNet(4, 8)(x),
        lambda: {"x": delayed_recall(2, 5, 1)[0]},
        {"x": Arg("tensor", accepts=("missing-dim",))},
    ),
    (
        "rnn.train_recall",
        train_recall,
        lambda: {
            "delay": 1,
            "length": 6,
            "symbols": 3,
            "d": 8,
            "steps": 2,
            "batch_size": 4,
            "lr": 1e-2,
            "test_size": 8,
            "checkpoints": (1,),
            "seed": 0,
            "device": None,
        },
        {
            "delay": Arg("int", minimum=0),
            "length": Arg("int", minimum=1, mentions=("delay",)),
            "symbols": Arg("int", minimum=2),
            "d": Arg("int", minimum=1),
            "steps": Arg("int", minimum=1),
            "batch_size": Arg("int", minimum=1),
            "lr": Arg("real", positive=True),
            "test_size": Arg("int", minimum=1),
            "checkpoints": Arg("custom", custom={"int": 1, "late": (3,), "float": (1.0,)}),
            "seed": Arg("int"),
            "device": Arg("custom", accepts=("None",), custom={"None": None, "nonsense": "nonsense", "meta": "meta"}),
        },
    ),
]
test_the_valid_call_works, test_bad_input_gets_a_clear_error = battery(SPECS)
