"""gradland.autodiff against torch.autograd and torch.func, the trusted implementations."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from gradland import autodiff as ad
from gradland.autodiff import Tensor

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
    "slice": _if(lambda x, a, b: x.ndim >= 1, lambda x, a, b: x[..., 1:]),
    "matmul_aT": _if(
        lambda x, a, b: x.ndim >= 1 and a.ndim >= 1 and x.shape[-1] == a.shape[-1],
        lambda x, a, b: x @ a.transpose(-1, -2) if a.ndim >= 2 else x @ a,
    ),
}


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
    return (torch.randn(shape_a, generator=gen, dtype=torch.float64),
            torch.randn(shape_b, generator=gen, dtype=torch.float64))


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
    got_out, got_tangent = ad.jvp(f, (a0, b0), (ua, ub))
    torch.testing.assert_close(got_out, want_out, **TOL)
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


@pytest.mark.parametrize("reduce", [
    lambda x: x.sum(0), lambda x: x.mean(-1), lambda x: x.logsumexp(-1), lambda x: x.softmax(-1),
])
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
    _, tangent = ad.jvp(lambda u: u**p, (t.detach(),), (ones,))
    _, want = torch.func.jvp(lambda u: u**p, (t.detach(),), (ones,))
    torch.testing.assert_close(tangent, want, **TOL)


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


def test_function_transforms_match_torch_func():
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    x = torch.randn(3, generator=gen, dtype=torch.float64)

    def f(x):
        return (Tensor(w) @ x).tanh()

    def f_torch(x):
        return torch.tanh(w @ x)

    torch.testing.assert_close(ad.grad(lambda x: f(x).sum())(x), torch.func.grad(lambda x: f_torch(x).sum())(x), **TOL)
    out, pullback = ad.vjp(f, x)
    _, torch_pullback = torch.func.vjp(f_torch, x)
    for i in range(5):  # one pullback, called once per row of the Jacobian
        e = torch.zeros(5, dtype=torch.float64)
        e[i] = 1
        torch.testing.assert_close(pullback(e)[0], torch_pullback(e)[0], **TOL)
    assert x.grad is None if isinstance(x, Tensor) else True


def test_grad_with_several_arguments():
    x, y = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])
    gx, gy = ad.grad(lambda x, y: (x * y).sum(), argnums=(0, 1))(x, y)
    torch.testing.assert_close(gx, y)
    torch.testing.assert_close(gy, x)


def test_cross_entropy_matches_torch():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(7, 5, generator=gen, dtype=torch.float64) * 30  # large scores: stability
    target = torch.randint(0, 5, (7,), generator=gen)
    t = logits.clone().requires_grad_()
    F.cross_entropy(t, target).backward()
    g = Tensor(logits, requires_grad=True)
    loss = ad.cross_entropy(g, target)
    loss.backward()
    torch.testing.assert_close(loss.data, F.cross_entropy(logits, target), **TOL)
    torch.testing.assert_close(g.grad, t.grad, **TOL)


def test_softmax_is_stable_for_large_scores():
    out = ad.softmax(Tensor([1e4, 0.0, -1e4]))
    assert torch.isfinite(out.data).all()
    torch.testing.assert_close(out.data, torch.tensor([1.0, 0.0, 0.0]))


# ---------------------------------------------------------------------------
# The nn layer: same initial weights, same loss curve as PyTorch.
# ---------------------------------------------------------------------------


def _digits(n=256):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return torch.tensor(x[:n] / 16.0, dtype=torch.float64), torch.tensor(y[:n])


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_mlp_on_digits_follows_the_torch_loss_curve(optimizer):
    torch.manual_seed(0)
    x, y = _digits()
    ours = ad.MLP([64, 32, 32, 10], dtype=torch.float64)
    theirs = ours.to_torch()
    lr = 0.5 if optimizer == "SGD" else 0.01
    opt_ours = getattr(ad, optimizer)(list(ours.parameters()), lr=lr)
    opt_theirs = getattr(torch.optim, optimizer)(theirs.parameters(), lr=lr)
    curve_ours, curve_theirs = [], []
    for step in range(60):
        batch = slice(64 * (step % 4), 64 * (step % 4 + 1))
        opt_ours.zero_grad()
        loss = ad.cross_entropy(ours(Tensor(x[batch])), y[batch])
        loss.backward()
        opt_ours.step()
        curve_ours.append(loss.item())

        opt_theirs.zero_grad()
        loss_t = F.cross_entropy(theirs(x[batch]), y[batch])
        loss_t.backward()
        opt_theirs.step()
        curve_theirs.append(loss_t.item())
    torch.testing.assert_close(torch.tensor(curve_ours), torch.tensor(curve_theirs), rtol=1e-9, atol=1e-12)
    assert curve_ours[-1] < 0.6 * curve_ours[0]  # and it learns


def test_parameters_are_found_in_order():
    net = ad.MLP([3, 4, 2])
    shapes = [tuple(p.shape) for p in net.parameters()]
    assert shapes == [(4, 3), (4,), (2, 4), (2,)]
    net(Tensor(torch.randn(5, 3))).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_the_gpu():
    x = Tensor(torch.randn(8, 3, device="cuda"), requires_grad=True)
    net = ad.MLP([3, 5, 2], device="cuda")
    ad.cross_entropy(net(x), torch.tensor([0, 1] * 4, device="cuda")).backward()
    assert x.grad.device.type == "cuda"
    assert all(p.grad.device.type == "cuda" for p in net.parameters())


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
    with pytest.raises(ValueError, match=r"tensor's shape \(3,\); got \(2,\)"):
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
        (torch.zeros(3, 4), torch.tensor([0.0, 1.0, 2.0]), "integer labels"),
        (torch.zeros(3, 4), torch.tensor([0, 1]), r"shape \(3,\)"),
        (torch.zeros(3, 4), torch.tensor([0, 1, 4]), r"0\.\.3"),
    ],
)
def test_cross_entropy_checks_its_inputs(logits, target, message):
    with pytest.raises(ValueError, match=message):
        ad.cross_entropy(Tensor(logits), target)


def test_transforms_check_their_inputs():
    with pytest.raises(ValueError, match=r"scalar output; got shape \(2,\)"):
        ad.grad(lambda x: x * 2)(torch.ones(2))
    with pytest.raises(ValueError, match="2 primals but 1 tangents"):
        ad.jvp(lambda x, y: x * y, (torch.ones(2), torch.ones(2)), (torch.ones(2),))
    with pytest.raises(ValueError, match=r"primal's shape \(2,\); got \(3,\)"):
        ad.jvp(lambda x: x, (torch.ones(2),), (torch.ones(3),))
    with pytest.raises(TypeError, match="must return a gradland.autodiff.Tensor; got torch.Tensor"):
        ad.grad(lambda x: x.data.sum())(torch.ones(2))  # left the engine: no derivative to find
    with pytest.raises(TypeError, match="jvp: the function must return a gradland.autodiff.Tensor"):
        ad.jvp(lambda x: x.data, (torch.ones(2),), (torch.ones(2),))
    _, pullback = ad.vjp(lambda x: x * 2, torch.ones(2))
    with pytest.raises(ValueError, match=r"output's shape \(2,\); got \(1,\)"):
        pullback(torch.ones(1))


def test_models_and_optimisers_check_their_arguments():
    with pytest.raises(ValueError, match="at least an input and an output"):
        ad.MLP([3])
    with pytest.raises(ValueError, match="activation must be"):
        ad.MLP([3, 2], activation="gelu")
    with pytest.raises(ValueError, match="learning rate must be positive and finite; got 0"):
        ad.SGD([], lr=0)
    for lr in (math.inf, math.nan, -1.0):
        with pytest.raises(ValueError, match="positive and finite"):
            ad.Adam([], lr=lr)


def test_an_optimiser_refuses_parameters_it_could_not_update():
    """SGD(w) for SGD([w]) would iterate over the rows of w, fresh tensors that no step
    reaches, and a torch.Tensor has no gradient that the engine computes."""
    w = ad.Tensor([1.0, 2.0], requires_grad=True)
    for optimiser in (ad.SGD, ad.Adam):
        with pytest.raises(TypeError, match=r"such as \[w\]; got a single gradland.autodiff.Tensor"):
            optimiser(w, lr=0.1)
        with pytest.raises(TypeError, match="got a single torch.Tensor"):
            optimiser(torch.ones(2), lr=0.1)
        with pytest.raises(TypeError, match="must hold gradland.autodiff.Tensor parameters; got a torch.Tensor"):
            optimiser([w, torch.ones(2)], lr=0.1)
    opt = ad.SGD([w], lr=0.5)
    (w * w).sum().backward()
    opt.step()
    torch.testing.assert_close(w.data, torch.tensor([0.0, 0.0]))
