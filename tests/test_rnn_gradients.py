"""Tests of gradland.rnn_gradients: backpropagation through time by hand against
autograd, the Jacobians through time against jacrev and the bound of products of
norms, and the input checks."""

import pytest
import torch
from badinput import Arg, battery
from gradland.rnn import ElmanRNN
from gradland.rnn_gradients import bptt, state_jacobians
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.usefixtures("one_cpu_thread")

DT = torch.float64


# ---------------------------------------------------------------- backpropagation through time


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(["tanh", "relu"]), st.booleans(), st.integers(1, 10), st.integers(0, 2**16))
def test_bptt_by_hand_equals_autograd(nonlinearity, bias, T, seed):
    torch.manual_seed(seed)
    rnn = ElmanRNN(3, 4, nonlinearity=nonlinearity, bias=bias, dtype=DT)
    x = torch.randn(2, T, 3, dtype=DT)
    h0 = torch.randn(2, 4, dtype=DT, requires_grad=True)
    weights = torch.randn(2, T, 4, dtype=DT)  # a loss sum_t <c[t], h[t]>: direct gradients c[t]
    states, _ = rnn(x, h0)
    (weights * states).sum().backward()
    grad_w, grad_b, grad_h0 = bptt(rnn, x, weights, h0.detach())
    torch.testing.assert_close(grad_w, rnn.weight.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad_h0, h0.grad, rtol=1e-12, atol=1e-12)
    if bias:
        torch.testing.assert_close(grad_b, rnn.bias.grad, rtol=1e-12, atol=1e-12)
    else:
        assert grad_b is None


def test_bptt_of_the_last_state_alone_is_the_transposed_jacobian():
    torch.manual_seed(3)
    rnn = ElmanRNN(2, 3, dtype=DT)
    x, c = torch.randn(6, 2, dtype=DT), torch.randn(3, dtype=DT)
    grad_states = torch.zeros(6, 3, dtype=DT)
    grad_states[-1] = c  # L = c^T h[T]
    _, _, grad_h0 = bptt(rnn, x, grad_states)
    torch.testing.assert_close(grad_h0, state_jacobians(rnn, x)[0].T @ c, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- Jacobians through time


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_state_jacobians_equal_jacrev(nonlinearity):
    torch.manual_seed(4)
    rnn = ElmanRNN(2, 5, nonlinearity=nonlinearity, dtype=DT)
    x, h0 = torch.randn(7, 2, dtype=DT), torch.randn(5, dtype=DT)
    J = state_jacobians(rnn, x, h0)
    assert J.shape == (8, 5, 5)
    with torch.no_grad():
        states = torch.cat([h0[None], rnn(x, h0)[0]])
    for t in range(8):
        if t == 7:
            expected = torch.eye(5, dtype=DT)
        else:
            expected = torch.func.jacrev(lambda h: rnn(x[t:], h)[1])(states[t])
        torch.testing.assert_close(J[t], expected, rtol=1e-12, atol=1e-14)


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(["tanh", "relu"]), st.floats(0.2, 3.0), st.integers(0, 2**16))
def test_jacobian_norms_obey_the_bound_of_products_of_norms(nonlinearity, gain, seed):
    torch.manual_seed(seed)
    d, T = 6, 15
    rnn = ElmanRNN(2, d, nonlinearity=nonlinearity, dtype=DT)
    with torch.no_grad():
        rnn.W_h.mul_(gain)
    x = torch.randn(T, 2, dtype=DT)
    norms = torch.linalg.matrix_norm(state_jacobians(rnn, x), ord=2)
    # the step Jacobians diag(f'(u[s])) W_h, from autograd one step at a time
    with torch.no_grad():
        states = torch.cat([torch.zeros(1, d, dtype=DT), rnn(x)[0]])
    steps = [torch.func.jacrev(rnn.step, argnums=1)(x[s], states[s]) for s in range(T)]
    w_norm = torch.linalg.matrix_norm(rnn.W_h, ord=2)
    for t in range(T + 1):
        product_of_norms = torch.prod(
            torch.stack([torch.linalg.matrix_norm(J, ord=2) for J in steps[t:]] + [torch.ones((), dtype=DT)])
        )
        assert norms[t] <= product_of_norms * (1 + 1e-9) + 1e-300
        assert product_of_norms <= w_norm ** (T - t) * (1 + 1e-9)


def test_jacobians_vanish_for_a_small_orthogonal_gain_and_explode_for_a_large_one():
    torch.manual_seed(5)
    Q, _ = torch.linalg.qr(torch.randn(16, 16, dtype=DT))
    x = torch.randn(40, 2, dtype=DT)
    norms = {}
    for gain in (0.5, 3.0):
        rnn = ElmanRNN(2, 16, dtype=DT)
        with torch.no_grad():
            rnn.W_h.copy_(gain * Q)
        norms[gain] = torch.linalg.matrix_norm(state_jacobians(rnn, x)[0], ord=2).item()
    assert norms[0.5] <= 0.5**40 and norms[3.0] > 1e3


# ---------------------------------------------------------------- input checks


def test_function_checks():
    rnn = ElmanRNN(2, 3)
    with pytest.raises(TypeError, match="rnn must be a gradland.rnn.ElmanRNN; got RNN"):
        bptt(torch.nn.RNN(2, 3), torch.zeros(5, 2), torch.zeros(5, 3))
    with pytest.raises(ValueError, match=r"grad_states must have shape \(5, 3\), the shape of the states"):
        bptt(rnn, torch.zeros(5, 2), torch.zeros(5, 2))
    with pytest.raises(TypeError, match="grad_states must have a floating-point dtype"):
        bptt(rnn, torch.zeros(5, 2), torch.zeros(5, 3, dtype=torch.complex64))
    with pytest.raises(ValueError, match="grad_states must be on the network's device"):
        bptt(rnn, torch.zeros(5, 2), torch.zeros(5, 3, device="meta"))
    with pytest.raises(ValueError, match=r"x must be one sequence, shape \(T, 2\)"):
        state_jacobians(rnn, torch.zeros(1, 5, 2))


# ---------------------------------------------------------------- the bad-input battery (tests/badinput.py)

T = Arg("tensor")

SPECS = [
    (
        "rnn_gradients.bptt",
        bptt,
        lambda: {
            "rnn": ElmanRNN(2, 3),
            "x": torch.randn(4, 6, 2),
            "grad_states": torch.ones(4, 6, 3),
            "h0": torch.zeros(4, 3),
        },
        {
            "rnn": Arg("custom", custom={"None": None, "torch": torch.nn.RNN(2, 3)}),
            "x": Arg("tensor", accepts=("missing-dim",), mentions=("grad_states",)),
            "grad_states": T,
            "h0": Arg("tensor", accepts=("None",)),
        },
    ),
    (
        "rnn_gradients.state_jacobians",
        state_jacobians,
        lambda: {"rnn": ElmanRNN(2, 3), "x": torch.randn(5, 2), "h0": torch.zeros(3)},
        {"rnn": Arg("custom", custom={"None": None}), "x": T, "h0": Arg("tensor", accepts=("None",))},
    ),
]
test_the_valid_call_works, test_bad_input_gets_a_clear_error = battery(SPECS)
