"""The engine gradland.autodiff against torch.autograd and torch.func, the trusted implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from badinput import Arg, battery
from gradland import autodiff_loss as adl
from gradland.autodiff import Tensor, unbroadcast
from hypothesis import given, settings
from hypothesis import strategies as st

TOL = {"rtol": 1e-10, "atol": 1e-12}

# ---------------------------------------------------------------------------
# Random programs: the same list of operations, run by both engines.
# Each step maps (x, a, b) to a new x. Steps that need compatible shapes check
# them first and leave x unchanged otherwise, so both engines take the same
# path whatever the shapes.
# ---------------------------------------------------------------------------


def _broadcasts(x, y) -> bool:
    try:
        torch.broadcast_shapes(x.shape, y.shape)
        return True
    except RuntimeError:
        return False


def _if(cond, step):
    return lambda x, a, b: step(x, a, b) if cond(x, a, b) else x


STEPS = {
    "tanh": lambda x, a, b: x.tanh(),
    "sigmoid": lambda x, a, b: x.sigmoid(),
    "relu": lambda x, a, b: x.relu(),
    "neg": lambda x, a, b: -x,
    "square": lambda x, a, b: x * x,
    "pow3": lambda x, a, b: x.tanh() ** 3,
    "exp": lambda x, a, b: x.tanh().exp(),
    "log": lambda x, a, b: (x * x + 1).log(),
    "scale": lambda x, a, b: 0.5 * x - 1.5,
    "rdiv": lambda x, a, b: 1 / (x * x + 1),
    "add_b": _if(lambda x, a, b: _broadcasts(x, b), lambda x, a, b: x + b),
    "sub_a": _if(lambda x, a, b: _broadcasts(x, a), lambda x, a, b: a - x),
    "mul_b": _if(lambda x, a, b: _broadcasts(x, b), lambda x, a, b: x * b),
    "div_b": _if(lambda x, a, b: _broadcasts(x, b), lambda x, a, b: x / (b * b + 0.5)),
    "sum_0": lambda x, a, b: x.sum(0),  # a scalar (no axes) is summed over nothing, as in torch
    "sum_last_keep": lambda x, a, b: x.sum(-1, keepdim=True),
    "mean_0": lambda x, a, b: x.mean(0),
    "mean_01": _if(lambda x, a, b: x.ndim >= 2, lambda x, a, b: x.mean((0, 1))),
    "logsumexp": lambda x, a, b: x.logsumexp(-1),
    "softmax": lambda x, a, b: x.softmax(-1),
    "reshape": lambda x, a, b: x.reshape(-1),
    "transpose": _if(lambda x, a, b: x.ndim >= 2, lambda x, a, b: x.transpose(0, -1)),
    "T": _if(lambda x, a, b: x.ndim == 2, lambda x, a, b: x.T),
    "index_0": _if(lambda x, a, b: x.ndim >= 1, lambda x, a, b: x[0]),
    "gather": _if(
        lambda x, a, b: x.ndim >= 1,  # entry 0 twice and the last entry, along the last axis
        lambda x, a, b: x.gather(-1, _gather_index(x.shape)),
    ),
    "slice": _if(lambda x, a, b: x.ndim >= 1, lambda x, a, b: x[..., 1:]),
    "matmul_aT": _if(
        lambda x, a, b: x.ndim >= 1 and a.ndim >= 1 and x.shape[-1] == a.shape[-1],
        lambda x, a, b: x @ a.transpose(-1, -2) if a.ndim >= 2 else x @ a,
    ),
}


def _gather_index(shape):
    """Indices along the last axis that read entry 0 twice (so the VJP must add) and the last."""
    row = torch.tensor([0, shape[-1] - 1, 0])
    return row.expand(*shape[:-1], 3).contiguous()


def _shapes():
    """A shape for a, and a shape for b that broadcasts against it."""
    dims = st.lists(st.integers(1, 4), min_size=1, max_size=3)

    @st.composite
    def pair(draw):
        a = draw(dims)
        keep = draw(st.integers(0, len(a)))  # b has the last `keep` axes of a ...
        b = [size if draw(st.booleans()) else 1 for size in a[len(a) - keep :]]  # ... some set to 1
        return tuple(a), tuple(b)

    return pair()


def _inputs(seed, shape_a, shape_b):
    gen = torch.Generator().manual_seed(seed)
    return (
        torch.randn(shape_a, generator=gen, dtype=torch.float64),
        torch.randn(shape_b, generator=gen, dtype=torch.float64),
    )


def _run(program, x, a, b):
    for name in program:
        if x.numel() == 0:
            break
        x = STEPS[name](x, a, b)
    return x


programs = st.lists(st.sampled_from(sorted(STEPS)), min_size=1, max_size=6)


@settings(max_examples=300, deadline=None)
@given(shapes=_shapes(), program=programs, seed=st.integers(0, 2**31 - 1))
def test_random_programs_match_torch_in_value_and_gradient(shapes, program, seed):
    a0, b0 = _inputs(seed, *shapes)

    ta, tb = a0.clone().requires_grad_(), b0.clone().requires_grad_()
    expected = _run(program, ta * 1.0, ta, tb)
    torch_loss = expected.sum() if expected.numel() else None

    ga, gb = Tensor(a0, requires_grad=True), Tensor(b0, requires_grad=True)
    got = _run(program, ga * 1.0, ga, gb)

    assert got.shape == expected.shape
    torch.testing.assert_close(got.data, expected.detach(), **TOL)
    if torch_loss is None:
        return
    grads = torch.autograd.grad(torch_loss, (ta, tb), allow_unused=True)
    got.sum().backward()
    for leaf, want in zip((ga, gb), grads):
        if want is None:  # the program never used this input
            assert leaf.grad is None
        else:
            assert leaf.grad.shape == leaf.shape  # the gradient has the tensor's shape
            torch.testing.assert_close(leaf.grad, want, **TOL)


@settings(max_examples=200, deadline=None)
@given(shapes=_shapes(), program=programs, seed=st.integers(0, 2**31 - 1))
def test_forward_mode_matches_torch_func_jvp(shapes, program, seed):
    a0, b0 = _inputs(seed, *shapes)
    ua, ub = _inputs(seed + 1, *shapes)

    def f(a, b):
        return _run(program, a * 1.0, a, b)

    want_out, want_tangent = torch.func.jvp(f, (a0, b0), (ua, ub))
    a, b = Tensor(a0), Tensor(b0)
    a.tangent, b.tangent = ua, ub  # dual numbers: every primitive carries the tangent along
    got = f(a, b)
    torch.testing.assert_close(got.data, want_out, **TOL)
    got_tangent = torch.zeros_like(got.data) if got.tangent is None else got.tangent
    torch.testing.assert_close(got_tangent, want_tangent, **TOL)


@settings(max_examples=100, deadline=None)
@given(
    left=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    right_1d=st.booleans(),
    m=st.integers(1, 4),
    seed=st.integers(0, 2**31 - 1),
)
def test_matmul_of_vectors_matrices_and_batches(left, right_1d, m, seed):
    gen = torch.Generator().manual_seed(seed)
    k = left[-1]
    a0 = torch.randn(left, generator=gen, dtype=torch.float64)
    b0 = torch.randn((k,) if right_1d else (k, m), generator=gen, dtype=torch.float64)
    for x, y in [(a0, b0), (b0.T if b0.ndim == 2 else b0, a0.transpose(-1, -2) if a0.ndim >= 2 else a0)]:
        if x.shape[-1] != (y.shape[-2] if y.ndim > 1 else y.shape[0]):
            continue
        tx, ty = x.clone().requires_grad_(), y.clone().requires_grad_()
        (tx @ ty).sum().backward()
        gx, gy = Tensor(x, requires_grad=True), Tensor(y, requires_grad=True)
        out = gx @ gy
        torch.testing.assert_close(out.data, (x @ y), **TOL)
        out.sum().backward()
        torch.testing.assert_close(gx.grad, tx.grad, **TOL)
        torch.testing.assert_close(gy.grad, ty.grad, **TOL)


# ---------------------------------------------------------------------------
# The engine's bookkeeping.
# ---------------------------------------------------------------------------


def test_a_tensor_used_twice_gets_the_sum_of_both_paths():
    x = Tensor([3.0], requires_grad=True)
    y = x * x + x.exp() * x  # x reaches y along four edges
    y.sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([2 * 3.0 + (1 + 3.0) * torch.exp(torch.tensor(3.0))]))


@pytest.mark.parametrize(
    "reduce",
    [
        lambda x: x.sum(0),
        lambda x: x.mean(-1),
        lambda x: x.logsumexp(-1),
        lambda x: x.softmax(-1),
    ],
)
def test_reductions_of_a_scalar_change_nothing_as_in_torch(reduce):
    t = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    x = Tensor(t.detach(), requires_grad=True)
    out, want = reduce(x), reduce(t)
    torch.testing.assert_close(out.data, want.detach(), **TOL)
    out.backward()
    want.backward()
    torch.testing.assert_close(x.grad, t.grad, **TOL)


@pytest.mark.parametrize("p", [0, 1, 2, 0.5])
def test_power_at_zero_has_torchs_derivative(p):
    # x**0 is the constant 1: its derivative is 0 everywhere, also at 0, where
    # the formula p x**(p - 1) would give 0 * inf = nan.
    t = torch.tensor([0.0, 1.5], dtype=torch.float64, requires_grad=True)
    x = Tensor(t.detach(), requires_grad=True)
    (x**p).sum().backward()
    (t**p).sum().backward()
    torch.testing.assert_close(x.grad, t.grad, **TOL)
    ones = torch.ones(2, dtype=torch.float64)
    u = Tensor(t.detach())
    u.tangent = ones
    _, want = torch.func.jvp(lambda u: u**p, (t.detach(),), (ones,))
    torch.testing.assert_close((u**p).tangent, want, **TOL)


def test_gradients_accumulate_until_reset_as_in_torch():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * x).sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([4.0, 8.0]))


def test_backward_with_a_gradient_is_a_vector_jacobian_product():
    a = torch.randn(3, 4, dtype=torch.float64)
    x = Tensor(torch.randn(4, dtype=torch.float64), requires_grad=True)
    v = torch.randn(3, dtype=torch.float64)
    (Tensor(a) @ x).backward(v)
    torch.testing.assert_close(x.grad, v @ a, **TOL)


def test_a_long_chain_does_not_hit_the_recursion_limit():
    x = Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([1.0001**5000]), rtol=1e-4, atol=0)


def test_cross_entropy_matches_torch(device):
    """On every device; on a GPU, the labels are not read back either: a training step
    never waits for the device."""
    gen = torch.Generator().manual_seed(1)
    logits = (torch.randn(7, 5, generator=gen, dtype=torch.float64) * 30).to(device)  # large scores: stability
    target = torch.randint(0, 5, (7,), generator=gen).to(device)
    t = logits.clone().requires_grad_()
    F.cross_entropy(t, target).backward()
    g = Tensor(logits, requires_grad=True)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
    try:
        loss = adl.cross_entropy(g, target)
        loss.backward()
    finally:
        if device.type == "cuda":
            torch.cuda.set_sync_debug_mode("default")
    assert loss.data.device == g.grad.device == logits.device
    torch.testing.assert_close(loss.data, F.cross_entropy(logits, target), **TOL)
    torch.testing.assert_close(g.grad, t.grad, **TOL)


INF = math.inf


@pytest.mark.parametrize(
    ("rows", "target"),
    [
        ([[1e8] * 4, [1e8] * 4], [0, 3]),  # uniform: log 4, where logsumexp(s) - s_y cancels to 0
        ([[1e5] * 4], [2]),
        ([[1e7, 1e7 + 4, 1e7 - 8, 1e7]], [1]),
        ([[1e8, 0.0, -1e8]], [1]),
        ([[-INF, 0.0, 0.0], [1.0, 2.0, -INF]], [1, 0]),  # a masked class: log 3 and a finite loss, not NaN
        ([[-INF, 0.0, 0.0]], [0]),  # the label masked: an infinite loss
        ([[INF, 0.0, 0.0]], [1]),  # +inf elsewhere: NaN, as in torch
        ([[-30.0, 15.0, 2.0, 0.5], [0.0, 0.0, 0.0, 0.0]], [0, 2]),
    ],
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cross_entropy_is_exact_for_extreme_and_masked_scores(rows, target, dtype):
    logits, target = torch.tensor(rows, dtype=dtype), torch.tensor(target)
    t = logits.clone().requires_grad_()
    want = F.cross_entropy(t, target)
    want.backward()
    g = Tensor(logits, requires_grad=True)
    loss = adl.cross_entropy(g, target)
    loss.backward()
    torch.testing.assert_close(loss.data, want.detach(), rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(g.grad, t.grad, equal_nan=True)


def test_cross_entropy_of_uniform_scores_is_log_k_at_every_scale():
    for scale in (0.0, 1.0, 1e5, 1e8, 1e30):
        loss = adl.cross_entropy(Tensor(torch.full((3, 4), scale)), torch.tensor([0, 1, 3]))
        assert loss.item() == pytest.approx(math.log(4), rel=1e-6), scale


def test_cross_entropy_in_forward_mode_matches_torch_func():
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(6, 5, generator=gen, dtype=torch.float64) * 10
    u = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    target = torch.randint(0, 5, (6,), generator=gen)
    _, want = torch.func.jvp(lambda s: F.cross_entropy(s, target), (logits,), (u,))
    s = Tensor(logits)
    s.tangent = u
    torch.testing.assert_close(adl.cross_entropy(s, target).tangent, want, **TOL)


def test_gather_adds_the_cotangents_of_a_place_read_twice():
    a0 = torch.randn(3, 4, dtype=torch.float64)
    index = torch.tensor([[0, 0, 3], [1, 2, 1], [3, 3, 3]])
    g = torch.randn(3, 3, dtype=torch.float64)
    t = a0.clone().requires_grad_()
    t.gather(1, index).backward(g)
    a = Tensor(a0, requires_grad=True)
    out = a.gather(1, index)
    torch.testing.assert_close(out.data, a0.gather(1, index), **TOL)
    out.backward(g)
    torch.testing.assert_close(a.grad, t.grad, **TOL)
    with pytest.raises(TypeError, match="index must be an int64 torch.Tensor; got a tensor of shape"):
        a.gather(1, index.to(torch.int32))


def test_softmax_is_stable_for_large_scores():
    out = adl.softmax(Tensor([1e4, 0.0, -1e4]))
    assert torch.isfinite(out.data).all()
    torch.testing.assert_close(out.data, torch.tensor([1.0, 0.0, 0.0]))


# ---------------------------------------------------------------------------
# Wrong use fails clearly.
# ---------------------------------------------------------------------------


def test_matmul_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"@: shapes \(2, 3\) and \(4, 5\) do not match.*\(3\).*\(4\)"):
        Tensor(torch.ones(2, 3)) @ Tensor(torch.ones(4, 5))


def test_matmul_of_a_scalar_is_refused():
    with pytest.raises(ValueError, match="at least one dimension"):
        Tensor(2.0) @ Tensor(torch.ones(3))


def test_broadcast_mismatch_is_explained():
    with pytest.raises(ValueError, match=r"\+: shapes \(3,\) and \(4,\) cannot be broadcast"):
        Tensor(torch.ones(3)) + Tensor(torch.ones(4))


def test_backward_on_a_non_scalar_needs_a_gradient():
    x = Tensor(torch.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"scalar output; this tensor has shape \(3,\)"):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"gradient must have the output's shape \(3,\); got \(2,\)"):
        (x * 2).backward(torch.ones(2))


def test_backward_without_leaves_is_refused():
    with pytest.raises(RuntimeError, match="requires_grad=True"):
        (Tensor([1.0]) * 2).sum().backward()


def test_operands_on_different_devices_are_refused():
    with pytest.raises(ValueError, match="same device; got cpu and meta"):
        Tensor(torch.ones(3)) + Tensor(torch.ones(3, device="meta"))


def test_tensor_exponents_and_fancy_indexing_are_refused():
    with pytest.raises(TypeError, match="exponent of \\*\\* must be a Python number"):
        Tensor([2.0]) ** Tensor([2.0])
    with pytest.raises(TypeError, match="only ints, slices"):
        Tensor([1.0, 2.0])[torch.tensor([0])]


def test_transpose_property_is_for_matrices():
    with pytest.raises(ValueError, match=r"\.T is the transpose of a matrix; got shape \(2, 2, 2\)"):
        Tensor(torch.ones(2, 2, 2)).T


@pytest.mark.parametrize(
    ("logits", "target", "message"),
    [
        (torch.zeros(3), torch.tensor([0, 1, 2]), r"shape \(B, K\)"),
        (torch.zeros(0, 4), torch.zeros(0, dtype=torch.int64), r"B, K >= 1; got \(0, 4\)"),
        (torch.zeros(3, 0), torch.tensor([0, 1, 2]), r"B, K >= 1; got \(3, 0\)"),
        (torch.zeros(3, 4), torch.tensor([0, 1]), r"target must have shape \(3,\).*; got \(2,\)"),
        (torch.zeros(3, 4), torch.tensor([0, 1, 4]), r"target must hold labels in 0\.\.3; got labels from 0 to 4"),
        (torch.zeros(3, 4), torch.tensor([-1, 1, 2]), r"0\.\.3; got labels from -1 to 2"),
    ],
)
def test_cross_entropy_checks_its_inputs(logits, target, message):
    with pytest.raises(ValueError, match=message):
        adl.cross_entropy(Tensor(logits), target)


@pytest.mark.parametrize(
    ("logits", "target", "message"),
    [
        (
            torch.zeros(3, 4),
            torch.tensor([0.0, 1.0, 2.0]),
            "target must be a torch.Tensor of integer labels; got a tensor",
        ),
        (torch.zeros(3, 4), torch.tensor([True, False, True]), "integer labels; got .*torch.bool"),
        (torch.zeros(3, 4), [0, 1, 2], "integer labels; got list"),
        (torch.zeros(3, 4), None, "integer labels; got NoneType"),
        (torch.zeros(3, 4), np.array([0, 1, 2]), "integer labels; got ndarray"),
    ],
)
def test_cross_entropy_refuses_labels_that_are_not_integer_tensors(logits, target, message):
    with pytest.raises(TypeError, match=message):
        adl.cross_entropy(Tensor(logits), target)
    with pytest.raises(TypeError, match="logits must be a gradland.autodiff.Tensor; got a tensor of shape"):
        adl.cross_entropy(torch.zeros(3, 4), torch.tensor([0, 1, 2]))


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((3, 2), r"shape \(3, 2\) does not broadcast to the gradient's shape \(2, 3\)"),  # same size, not a source
        ((2, -1), r"shape \(2, -1\) does not broadcast"),
        ((5, 1), r"shape \(5, 1\) does not broadcast"),
        ((6,), r"shape \(6,\) does not broadcast"),
        ((1, 2, 3), r"shape \(1, 2, 3\) does not broadcast"),  # more axes than g
    ],
)
def test_unbroadcast_refuses_a_shape_that_is_not_a_broadcast_source(shape, message):
    with pytest.raises(ValueError, match=message):
        unbroadcast(torch.arange(6.0).reshape(2, 3), torch.Size(shape))


def test_unbroadcast_checks_its_inputs():
    with pytest.raises(TypeError, match="shape must be a tuple of sizes; got NoneType"):
        unbroadcast(torch.ones(2, 3), None)
    with pytest.raises(TypeError, match="g must be a torch.Tensor; got list"):
        unbroadcast([1.0, 2.0], (2,))
    torch.testing.assert_close(unbroadcast(torch.ones(4, 2, 3), (2, 1)), torch.full((2, 1), 12.0))
    torch.testing.assert_close(unbroadcast(torch.ones(2, 3), [2, 3]), torch.ones(2, 3))


def test_reductions_check_their_axes():
    x = Tensor(torch.ones(2, 3))
    with pytest.raises(TypeError, match=r"dim must be an int, a tuple of ints or None \(all axes\); got 1.5"):
        x.sum(dim=1.5)
    with pytest.raises(ValueError, match=r"dim names an axis twice; got \(0, -2\)"):
        x.sum(dim=(0, -2))
    with pytest.raises(ValueError, match=r"dim=\(\) is ambiguous"):
        x.mean(dim=())
    with pytest.raises(ValueError, match="dim is 2, out of range for a tensor with 2 dimensions"):
        x.logsumexp(dim=2)


def test_the_mean_of_no_numbers_is_nan_as_in_torch():
    for dim in (None, 0):
        got = Tensor(torch.zeros(0, 3)).mean(dim=dim)
        want = torch.zeros(0, 3).mean(dim=dim)
        assert got.shape == want.shape and got.data.isnan().all()


def test_complex_data_and_foreign_tensors_are_refused():
    with pytest.raises(TypeError, match="data must be real; got dtype torch.complex64"):
        Tensor(torch.ones(2, dtype=torch.complex64))
    for function in (adl.softmax, adl.logsumexp):
        with pytest.raises(TypeError, match="x must be a gradland.autodiff.Tensor; got a tensor of shape"):
            function(torch.ones(3))
        with pytest.raises(TypeError, match="x must be a gradland.autodiff.Tensor; got list"):
            function([1.0, 2.0])


# ---------------------------------------------------------------- the bad-input battery (tests/badinput.py)

# An operator's argument has no name: a bad operand gets the message of the operator (its symbol) or,
# for a type the engine does not know, Python's own "unsupported operand" TypeError, which lets the
# other type answer first (NotImplemented). Integers are converted to floating point by design (see
# Tensor), any shape that broadcasts is an operand, and the meta device is a foreign device.
OPERAND = ("None", "str", "list")


def _operand(symbol, accepts=("int64", "bool", "extra-dim", "missing-dim")):
    return Arg("tensor", accepts=accepts, mentions=(symbol, "operands", "unsupported operand", "multiply sequence"))


def _leaf():
    return Tensor(torch.randn(2, 3, generator=torch.Generator().manual_seed(0)), requires_grad=True)


def _on_leaf(name):
    return lambda **arguments: getattr(_leaf(), name)(**arguments)


DIM = Arg("int", custom={"out-of-range": 2, "tuple": (0, 0)})
KEEPDIM = Arg("custom", custom={"None": None, "int": 1, "str": "yes"})

SPECS = [
    (
        "autodiff.Tensor",
        Tensor,
        lambda: {"data": torch.ones(2, 3), "requires_grad": True},
        # any shape, integers converted to floating point, and on any device: it is the only tensor
        {
            "data": Arg(
                "tensor", accepts=("list", "int64", "bool", "extra-dim", "missing-dim", "wrong-size"), omit=("meta",)
            ),
            "requires_grad": Arg("custom", custom={"None": None, "int": 1, "str": "yes"}),
        },
    ),
    (
        "autodiff.Tensor.__add__",
        lambda other: _leaf() + other,
        lambda: {"other": torch.ones(2, 3)},
        {"other": _operand("+")},
    ),
    (
        "autodiff.Tensor.__mul__",
        lambda other: _leaf() * other,
        lambda: {"other": torch.ones(2, 3)},
        {"other": _operand("*")},
    ),
    (
        "autodiff.Tensor.__truediv__",
        lambda other: _leaf() / other,
        lambda: {"other": torch.ones(2, 3)},
        {"other": _operand("/")},
    ),
    (
        "autodiff.Tensor.__sub__",
        lambda other: _leaf() - other,
        lambda: {"other": torch.ones(2, 3)},
        {"other": _operand("+")},
    ),
    (
        "autodiff.Tensor.__matmul__",
        lambda other: _leaf() @ other,
        lambda: {"other": torch.ones(3, 4)},
        # a batch of matrices broadcasts, a vector is a one-column matrix, and (3, 5) gives a (2, 5) product
        {"other": _operand("@", accepts=("int64", "bool", "extra-dim", "missing-dim", "wrong-size"))},
    ),
    (
        "autodiff.Tensor.__pow__",
        lambda exponent: _leaf() ** exponent,
        lambda: {"exponent": 2},
        {"exponent": Arg("real", accepts=("inf", "nan"), mentions=("exponent",))},
    ),  # as torch's a ** inf, a ** nan
    (
        "autodiff.Tensor.sum",
        _on_leaf("sum"),
        lambda: {"dim": 1, "keepdim": False},
        {"dim": Arg("int", accepts=("None",), custom=DIM.custom), "keepdim": KEEPDIM},
    ),  # None: every axis
    (
        "autodiff.Tensor.mean",
        _on_leaf("mean"),
        lambda: {"dim": 1, "keepdim": False},
        {"dim": Arg("int", accepts=("None",), custom=DIM.custom), "keepdim": KEEPDIM},
    ),
    (
        "autodiff.Tensor.logsumexp",
        _on_leaf("logsumexp"),
        lambda: {"dim": 1, "keepdim": False},
        {"dim": Arg("int", accepts=("None",), custom=DIM.custom), "keepdim": KEEPDIM},
    ),
    ("autodiff.Tensor.softmax", _on_leaf("softmax"), lambda: {"dim": 1}, {"dim": DIM}),
    (
        "autodiff.Tensor.reshape",
        lambda shape: _leaf().reshape(shape),
        lambda: {"shape": (3, 2)},
        {
            "shape": Arg(
                "custom",
                custom={"None": None, "str": "3, 2", "wrong-count": (4, 2), "float": (3.0, 2), "two-free": (-1, -1)},
            )
        },
    ),
    ("autodiff.Tensor.transpose", _on_leaf("transpose"), lambda: {"dim0": 0, "dim1": 1}, {"dim0": DIM, "dim1": DIM}),
    (
        "autodiff.Tensor.__getitem__",
        lambda index: _leaf()[index],
        lambda: {"index": (0, slice(1, None))},
        # an int out of range, or too many of them, raises IndexError, the protocol of Python's sequences
        # (iteration stops on it), as torch does
        {"index": Arg("custom", custom={"None": None, "str": "a", "float": 0.5, "list": [0, 1]})},
    ),
    (
        "autodiff.Tensor.gather",
        _on_leaf("gather"),
        lambda: {"dim": 1, "index": torch.tensor([[0, 2], [1, 1]])},
        {
            "dim": DIM,
            "index": Arg(
                "custom",
                custom={
                    "None": None,
                    "list": [[0, 2], [1, 1]],
                    "float": torch.tensor([[0.0, 2.0], [1.0, 1.0]]),
                    # an index out of range is not looked for (see gather)
                    "extra-dim": torch.tensor([[[0, 2], [1, 1]]]),
                    "meta": torch.tensor([[0, 2], [1, 1]], device="meta"),
                },
            ),
        },
    ),
    (
        "autodiff.Tensor.backward",
        lambda gradient: (_leaf() * 2).backward(gradient),
        # None for a tensor of several numbers raises the documented RuntimeError, as in torch (tested above)
        lambda: {"gradient": torch.ones(2, 3)},
        {"gradient": Arg("tensor", omit=("None",))},
    ),
    (
        "autodiff.Tensor.backward-scalar",
        lambda gradient: (_leaf() * 2).sum().backward(gradient),
        lambda: {"gradient": torch.tensor(1.0)},
        {"gradient": Arg("tensor", accepts=("None",))},
    ),  # the seed 1
    (
        "autodiff_shapes.unbroadcast",
        unbroadcast,
        lambda: {"g": torch.ones(4, 2, 3), "shape": torch.Size([2, 1])},
        # any g that the shape broadcasts to: more leading axes, or a stretched last one
        {
            "g": Arg("tensor", accepts=("int64", "bool", "meta", "extra-dim", "missing-dim", "wrong-size")),
            "shape": Arg(
                "custom",
                custom={"None": None, "int": 2, "str": "21", "wrong": (3, 1), "negative": (-1, 1), "float": (2.0, 1)},
            ),
        },
    ),
    (
        "autodiff_loss.logsumexp",
        adl.logsumexp,
        lambda: {"x": Tensor([1000.0, 1000.0]), "dim": -1, "keepdim": False},
        {
            "x": Arg("custom", custom={"None": None, "torch": torch.ones(2), "list": [1.0, 2.0]}),
            "dim": Arg("int", accepts=("None",), custom={"out-of-range": 1}),
            "keepdim": KEEPDIM,
        },
    ),
    (
        "autodiff_loss.softmax",
        adl.softmax,
        lambda: {"x": Tensor([0.0, 0.0, 0.0, 0.0]), "dim": -1},
        {
            "x": Arg("custom", custom={"None": None, "torch": torch.ones(2), "list": [1.0, 2.0]}),
            "dim": Arg("int", custom={"out-of-range": 1}),
        },
    ),
    (
        "autodiff_loss.cross_entropy",
        adl.cross_entropy,
        lambda: {"logits": Tensor(torch.zeros(2, 4)), "target": torch.tensor([0, 3])},
        {
            "logits": Arg(
                "custom",
                custom={
                    "None": None,
                    "torch": torch.zeros(2, 4),
                    "vector": Tensor(torch.zeros(4)),
                    "empty": Tensor(torch.zeros(2, 0)),
                },
            ),
            # labels move to the device of the logits by design, so no device is foreign (and meta has no values)
            "target": Arg(
                "custom",
                custom={
                    "None": None,
                    "list": [0, 3],
                    "float": torch.tensor([0.0, 3.0]),
                    "bool": torch.tensor([True, False]),
                    "extra-dim": torch.tensor([[0, 3]]),
                    "wrong-size": torch.tensor([0, 3, 1]),
                    "out-of-range": torch.tensor([0, 4]),
                    "negative": torch.tensor([0, -1]),
                },
            ),
        },
    ),
]
test_the_valid_call_works, test_bad_input_gets_a_clear_error = battery(SPECS)
