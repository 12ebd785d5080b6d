"""The function transforms gradland.autodiff_func against torch.func, the trusted implementation."""

from __future__ import annotations

import pytest
import torch
from badinput import Arg, battery
from gradland.autodiff import Tensor
from gradland.autodiff_func import grad, jvp, vjp

TOL = {"rtol": 1e-10, "atol": 1e-12}


def test_function_transforms_match_torch_func():
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    x = torch.randn(3, generator=gen, dtype=torch.float64)
    u = torch.randn(3, generator=gen, dtype=torch.float64)

    def f(x):
        return (Tensor(w) @ x).tanh()

    def f_torch(x):
        return torch.tanh(w @ x)

    torch.testing.assert_close(grad(lambda x: f(x).sum())(x), torch.func.grad(lambda x: f_torch(x).sum())(x), **TOL)
    out, pullback = vjp(f, x)
    _, torch_pullback = torch.func.vjp(f_torch, x)
    torch.testing.assert_close(out, f_torch(x), **TOL)
    for i in range(5):  # one pullback, called once per row of the Jacobian
        e = torch.zeros(5, dtype=torch.float64)
        e[i] = 1
        torch.testing.assert_close(pullback(e)[0], torch_pullback(e)[0], **TOL)
    for got, want in zip(jvp(f, (x,), (u,)), torch.func.jvp(f_torch, (x,), (u,))):
        torch.testing.assert_close(got, want, **TOL)
    assert x.grad is None  # the transforms leave their inputs alone


def test_grad_with_several_arguments():
    x, y = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])
    gx, gy = grad(lambda x, y: (x * y).sum(), argnums=(0, 1))(x, y)
    torch.testing.assert_close(gx, y)
    torch.testing.assert_close(gy, x)
    torch.testing.assert_close(grad(lambda x, y: (x * y).sum(), argnums=1)(x, y), x)


def test_jvp_of_several_inputs_and_of_a_function_that_ignores_them():
    a, b = torch.tensor([1.0, 2.0], dtype=torch.float64), torch.tensor([0.5, -1.0], dtype=torch.float64)
    ua, ub = torch.tensor([1.0, 0.0], dtype=torch.float64), torch.tensor([2.0, 3.0], dtype=torch.float64)
    for got, want in zip(
        jvp(lambda a, b: a * b.exp(), [a, b], [ua, ub]), torch.func.jvp(lambda a, b: a * b.exp(), (a, b), (ua, ub))
    ):
        torch.testing.assert_close(got, want, **TOL)
    out, tangent = jvp(lambda a: Tensor(torch.ones(3)), (a,), (ua,))
    torch.testing.assert_close(tangent, torch.zeros(3))


def test_jvp_refuses_bare_tensors_for_its_tuples():
    """jvp(f, x, u) for jvp(f, (x,), (u,)) would read the rows of x as separate primals."""
    x, u = torch.tensor([0.0, 1.0]), torch.tensor([1.0, 1.0])
    with pytest.raises(TypeError, match=r"primals must be a tuple of tensors, such as \(x,\); got torch.Tensor"):
        jvp(lambda x: x.exp(), x, u)
    with pytest.raises(TypeError, match=r"tangents must be a tuple of tensors, such as \(x,\); got torch.Tensor"):
        jvp(lambda x: x.exp(), (x,), u)
    with pytest.raises(TypeError, match="primals must be a tuple of tensors.*; got builtins.NoneType"):
        jvp(lambda x: x.exp(), None, (u,))


def test_transforms_check_their_inputs():
    with pytest.raises(ValueError, match=r"scalar output; got shape \(2,\)"):
        grad(lambda x: x * 2)(torch.ones(2))
    with pytest.raises(ValueError, match="2 primals but 1 tangents"):
        jvp(lambda x, y: x * y, (torch.ones(2), torch.ones(2)), (torch.ones(2),))
    with pytest.raises(ValueError, match=r"primal's shape \(2,\); got \(3,\)"):
        jvp(lambda x: x, (torch.ones(2),), (torch.ones(3),))
    with pytest.raises(TypeError, match="a tangent must be a torch.Tensor; got builtins.list"):
        jvp(lambda x: x, (torch.ones(2),), ([1.0, 1.0],))
    with pytest.raises(TypeError, match="the value of f must be a gradland.autodiff.Tensor; got a tensor of shape"):
        grad(lambda x: x.data.sum())(torch.ones(2))  # left the engine: no derivative to find
    with pytest.raises(TypeError, match="jvp: the value of f must be a gradland.autodiff.Tensor"):
        jvp(lambda x: x.data, (torch.ones(2),), (torch.ones(2),))
    _, pullback = vjp(lambda x: x * 2, torch.ones(2))
    with pytest.raises(ValueError, match=r"output's shape \(2,\); got \(1,\)"):
        pullback(torch.ones(1))
    with pytest.raises(TypeError, match="cotangent must be a torch.Tensor; got list"):
        pullback([1.0, 1.0])
    with pytest.raises(ValueError, match="cotangent must be on the output's device, cpu; got meta"):
        pullback(torch.ones(2, device="meta"))
    with pytest.raises(ValueError, match="tangent must be on its primal's device, cpu; got meta"):
        jvp(lambda x: x, (torch.ones(2),), (torch.ones(2, device="meta"),))
    for transform in (
        lambda f: grad(f)(torch.ones(2)),
        lambda f: vjp(f, torch.ones(2)),
        lambda f: jvp(f, (torch.ones(2),), (torch.ones(2),)),
    ):
        with pytest.raises(TypeError, match="f must be a function; got NoneType"):
            transform(None)
    with pytest.raises(TypeError, match="argnums must be an int or a tuple of ints; got '0'"):
        grad(lambda x: x.sum(), argnums="0")
    with pytest.raises(TypeError, match="vjp: a primal must be a torch.Tensor; got builtins.str"):
        vjp(lambda x: x, "abc")


# ---------------------------------------------------------------- the bad-input battery (tests/badinput.py)

# (an error that f raises itself, such as a call with the wrong number of arguments, is f's and propagates)
F_ARG = Arg("callable", custom={"torch-only": lambda x: torch.ones(2)})
# a primal is the only tensor (nothing to mismatch), of any shape, and integers become floating
PRIMAL = Arg(
    "tensor",
    accepts=("list", "int64", "bool", "extra-dim", "missing-dim", "wrong-size"),
    mentions=("primal",),
    omit=("meta",),
)


def _pullback(v):
    return vjp(lambda x: x * x, torch.tensor([1.0, 2.0]))[1](v)


SPECS = [
    (
        "autodiff_func.vjp",
        lambda f, x: vjp(f, x),
        lambda: {"f": lambda x: x * x, "x": torch.tensor([1.0, 2.0])},
        {"f": F_ARG, "x": PRIMAL},
    ),
    (
        "autodiff_func.vjp.vjp_fn",
        _pullback,
        lambda: {"v": torch.tensor([1.0, 0.0])},
        {"v": Arg("tensor", mentions=("cotangent",))},
    ),
    (
        "autodiff_func.grad",
        lambda f, argnums, x: grad(f, argnums)(x),
        lambda: {"f": lambda x: (x**3).sum(), "argnums": 0, "x": torch.tensor([1.0, 2.0])},
        # a vector function has no gradient; any shape of x has one for a function that sums it
        {
            "f": Arg("callable", custom={"vector": lambda x: x * x, **F_ARG.custom}, mentions=("scalar",)),
            "argnums": Arg("int", custom={"out-of-range": 1, "tuple-str": ("0",)}),
            "x": PRIMAL,
        },
    ),
    (
        "autodiff_func.jvp",
        jvp,
        lambda: {
            "f": lambda x: x.exp(),
            "primals": (torch.tensor([0.0, 1.0]),),
            "tangents": (torch.tensor([1.0, 1.0]),),
        },
        {
            "f": F_ARG,
            "primals": Arg(
                "custom",
                custom={
                    "None": None,
                    "tensor": torch.tensor([0.0, 1.0]),
                    "two": (torch.zeros(2),) * 2,
                    "str": ("x",),
                    "longer": (torch.zeros(3),),
                    "meta": (torch.zeros(2, device="meta"),),
                },
                mentions=("primal",),
            ),
            "tangents": Arg(
                "custom",
                custom={
                    "None": None,
                    "tensor": torch.tensor([1.0, 1.0]),
                    "empty": (),
                    "list": ([1.0, 1.0],),
                    "longer": (torch.ones(3),),
                    "int64": (torch.ones(2, dtype=torch.int64),),
                    "meta": (torch.ones(2, device="meta"),),
                },
                mentions=("tangent",),
            ),
        },
    ),
]
test_the_valid_call_works, test_bad_input_gets_a_clear_error = battery(SPECS)
