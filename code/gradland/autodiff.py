r"""Build your own autodiff: a reverse-mode engine with a PyTorch-like API.

This module is the code of Chapter 4 of the book, written to be read top to
bottom. It stores numbers in ordinary :class:`torch.Tensor` objects (so it runs
on a GPU when the data is there) but computes every derivative itself, one
*primitive* at a time:

* :class:`Tensor` wraps a torch tensor and remembers how it was computed: its
  parents and, for each primitive, two rules written right next to the forward
  computation. The *VJP rule* maps the cotangent :math:`\bar{\bm{y}}` of
  the output to the cotangents of the inputs (reverse mode); the
  *JVP rule* maps the tangents of the inputs to the tangent of the output
  (forward mode, which computes with dual numbers).
* :meth:`Tensor.backward` sorts the graph topologically and runs the VJP rules
  from the output back to the leaves, summing the contributions that reach a
  tensor along different paths.
* :func:`grad`, :func:`vjp` and :func:`jvp` are the function transforms of
  Chapter 3, built on the same rules.
* :class:`Module`, :class:`Linear`, :class:`MLP`, :class:`SGD` and
  :class:`Adam` are a small neural-network library on top, shaped like
  :mod:`torch.nn` and :mod:`torch.optim`.

Broadcasting follows NumPy (and PyTorch): an operand is stretched along axes of
size one and along missing leading axes; in the backward pass the gradient is
summed back over those axes by :func:`unbroadcast`, so that the gradient of a
tensor always has the tensor's shape.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Union

import torch

__all__ = [
    "MLP",
    "SGD",
    "Adam",
    "Linear",
    "Module",
    "Tensor",
    "cross_entropy",
    "grad",
    "jvp",
    "logsumexp",
    "softmax",
    "unbroadcast",
    "vjp",
]

Number = Union[int, float]
Dim = Union[int, Sequence[int], None]


# ---------------------------------------------------------------------------
# Shapes: broadcasting forward, summing back.
# ---------------------------------------------------------------------------


def unbroadcast(g: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Sum ``g`` over the axes along which an operand of ``shape`` was broadcast.

    If ``a`` of shape ``shape`` was stretched to ``g.shape`` in the forward
    pass, each of its entries was used once per copy, so its gradient is the
    sum of the gradients of all the copies: sum over the leading axes that
    broadcasting added, and over the axes where ``a`` has size one.

    Parameters
    ----------
    g : torch.Tensor
        A gradient with the broadcast shape.
    shape : torch.Size
        The shape of the operand before broadcasting.

    Returns
    -------
    torch.Tensor
        A tensor of shape ``shape``.

    Examples
    --------
    >>> import torch
    >>> from gradland.autodiff import unbroadcast
    >>> unbroadcast(torch.ones(4, 2, 3), torch.Size([2, 1]))
    tensor([[12.],
            [12.]])
    """
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    dims = list(range(lead))  # the leading axes that broadcasting added
    dims += [lead + i for i, size in enumerate(shape)  # and the stretched axes
             if size == 1 and g.shape[lead + i] != 1]
    if not dims:
        return g.reshape(shape)
    return g.sum(dim=dims, keepdim=True).reshape(shape)


def _dims(dim: Dim, ndim: int) -> tuple[int, ...]:
    """The axes a reduction runs over, as non-negative ints (all axes for None)."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(
                f"dimension {d} is out of range for a tensor with {ndim} dimensions"
            )
    if ndim == 0:  # a scalar has no axis: like torch, accept 0 or -1, reduce nothing
        return ()
    return tuple(sorted(d % ndim for d in dims))


def _expand_back(
    g: torch.Tensor, shape: torch.Size, dims: tuple[int, ...], keepdim: bool
) -> torch.Tensor:
    """Undo a reduction over ``dims``: put the axes back and repeat ``g`` along them."""
    if not keepdim:
        for d in dims:
            g = g.unsqueeze(d)
    return g.expand(shape)


# ---------------------------------------------------------------------------
# The tensor, and its primitives, each with its VJP and JVP rules.
# ---------------------------------------------------------------------------


class Tensor:
    """A tensor that records how it was computed, so that it can be differentiated.

    Parameters
    ----------
    data : torch.Tensor, array-like or number
        The values. Integers are converted to the default floating-point dtype,
        since only real numbers have derivatives.
    requires_grad : bool, optional
        Whether :meth:`backward` should compute and store the gradient of this
        tensor (a *leaf*, such as a parameter) in :attr:`grad`.

    Attributes
    ----------
    data : torch.Tensor
        The values, on whatever device they were created.
    grad : torch.Tensor or None
        After :meth:`backward`, the gradient of the output with respect to this
        leaf, with the leaf's shape; gradients from several calls add up, as in
        PyTorch, until reset to None.
    tangent : torch.Tensor or None
        In forward mode (:func:`jvp`), the directional derivative carried along
        with the value; None otherwise.

    Examples
    --------
    >>> from gradland.autodiff import Tensor
    >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    tensor([2., 4., 6.])
    """

    def __init__(self, data, requires_grad: bool = False):
        if isinstance(data, torch.Tensor):
            data = data.detach()  # torch computes values; we compute derivatives
        else:
            data = torch.as_tensor(data)
        if not data.is_floating_point():
            data = data.to(torch.get_default_dtype())
        self.data: torch.Tensor = data
        self.requires_grad = requires_grad
        self.grad: torch.Tensor | None = None
        self.tangent: torch.Tensor | None = None
        self._parents: tuple[Tensor, ...] = ()
        self._vjps: tuple[Callable[[torch.Tensor], torch.Tensor], ...] = ()
        self._op = ""

    # -- bookkeeping --------------------------------------------------------

    @property
    def shape(self) -> torch.Size:
        """The shape of :attr:`data`."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """The number of dimensions of :attr:`data`."""
        return self.data.ndim

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of :attr:`data`."""
        return self.data.dtype

    @property
    def device(self) -> torch.device:
        """The device of :attr:`data`."""
        return self.data.device

    def __repr__(self) -> str:
        flag = ", requires_grad=True" if self.requires_grad else ""
        values = repr(self.data).removeprefix("tensor(").removesuffix(")")
        return f"Tensor({values}{flag})"

    def numel(self) -> int:
        """The number of entries."""
        return self.data.numel()

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        return self.data.item()

    def detach(self) -> Tensor:
        """A new leaf with the same data, cut off from the graph."""
        return Tensor(self.data)

    def _lift(self, other: Tensor | torch.Tensor | Number) -> Tensor:
        """Turn the other operand of a binary operation into a Tensor on our device."""
        if not isinstance(other, Tensor):
            if isinstance(other, torch.Tensor):
                other = Tensor(other)
            elif isinstance(other, (int, float)):
                constant = torch.full((), other, dtype=self.dtype, device=self.device)
                return Tensor(constant)
            else:
                return NotImplemented
        if other.device != self.device:
            raise ValueError(
                "operands must be on the same device; "
                f"got {self.device} and {other.device}"
            )
        return other

    def _make(
        self,
        data: torch.Tensor,
        parents: tuple[Tensor, ...],
        vjps: tuple[Callable[[torch.Tensor], torch.Tensor], ...],
        jvp: Callable[..., torch.Tensor],
        op: str,
    ) -> Tensor:
        """Wrap the result of a primitive and attach its rules.

        ``vjps`` holds one VJP rule per parent: given the cotangent ``g`` of
        the output, rule ``i`` returns the cotangent of parent ``i``, with
        that parent's shape. The rules are stored for :meth:`backward` when
        some parent needs a gradient. The JVP rule maps the tangents of all
        the parents to the tangent of the output; it is applied at once when
        some parent carries a tangent (forward mode), with zeros for the
        parents that carry none.
        """
        out = Tensor(data)
        if any(p.requires_grad for p in parents):
            out.requires_grad = True
            out._parents, out._vjps, out._op = parents, vjps, op
        if any(p.tangent is not None for p in parents):
            tangents = [torch.zeros_like(p.data) if p.tangent is None
                        else p.tangent for p in parents]
            out.tangent = jvp(*tangents)
        return out

    def _broadcast_check(self, other: Tensor, op: str) -> None:
        try:
            torch.broadcast_shapes(self.shape, other.shape)
        except RuntimeError:
            raise ValueError(
                f"{op}: shapes {tuple(self.shape)} and {tuple(other.shape)} cannot be "
                "broadcast together (compare them from the right: each pair of sizes "
                "must be equal or 1)"
            ) from None

    # -- elementwise binary primitives (with broadcasting) -------------------

    def __add__(self, other):
        other = self._lift(other)
        if other is NotImplemented:
            return other
        self._broadcast_check(other, "+")
        a, b = self.data, other.data
        return self._make(
            a + b, (self, other),
            (lambda g: unbroadcast(g, a.shape), lambda g: unbroadcast(g, b.shape)),
            lambda ta, tb: ta + tb,
            "+",
        )

    def __mul__(self, other):
        other = self._lift(other)
        if other is NotImplemented:
            return other
        self._broadcast_check(other, "*")
        a, b = self.data, other.data
        return self._make(
            a * b, (self, other),
            (lambda g: unbroadcast(g * b, a.shape),
             lambda g: unbroadcast(g * a, b.shape)),
            lambda ta, tb: ta * b + a * tb,
            "*",
        )

    def __truediv__(self, other):
        other = self._lift(other)
        if other is NotImplemented:
            return other
        self._broadcast_check(other, "/")
        a, b = self.data, other.data
        out = a / b
        return self._make(
            out, (self, other),
            (lambda g: unbroadcast(g / b, a.shape),
             lambda g: unbroadcast(-g * out / b, b.shape)),
            lambda ta, tb: (ta - out * tb) / b,
            "/",
        )

    def __pow__(self, exponent: Number):
        if not isinstance(exponent, (int, float)):
            raise TypeError(
                "the exponent of ** must be a Python number; "
                f"got {type(exponent).__name__} "
                "(write exp(b * log(a)) for a tensor exponent)"
            )
        a, p = self.data, exponent

        def slope():
            # d(a**p)/da = p a**(p - 1). For p = 0 it is 0, also at a = 0, where
            # the formula would give 0 * inf = nan (PyTorch returns 0 there too).
            return torch.zeros_like(a) if p == 0 else p * a ** (p - 1)

        return self._make(
            a**p, (self,),
            (lambda g: g * slope(),),
            lambda ta: slope() * ta,
            "**",
        )

    # -- derived from the primitives above ------------------------------------

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        other = self._lift(other)
        if other is NotImplemented:
            return other
        return self + (-other)

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return (-self) + other

    def __rtruediv__(self, other):
        other = self._lift(other)
        if other is NotImplemented:
            return other
        return other / self

    # -- matrix product -------------------------------------------------------

    def __matmul__(self, other):
        other = self._lift(other)
        if other is NotImplemented:
            return other
        a, b = self.data, other.data
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(
                "@ needs operands with at least one dimension; "
                f"got shapes {tuple(a.shape)} and {tuple(b.shape)}"
            )
        k_left, k_right = a.shape[-1], b.shape[-2] if b.ndim > 1 else b.shape[0]
        if k_left != k_right:
            which = "second-to-last" if b.ndim > 1 else "only"
            raise ValueError(
                f"@: shapes {tuple(a.shape)} and {tuple(b.shape)} do not match: "
                f"the last size of the left operand ({k_left}) must equal "
                f"the {which} size of the right one ({k_right})"
            )

        # Treat a vector as a one-row (left) or one-column (right) matrix, and
        # the cotangent G accordingly; then the cotangent of A is G @ B.T and
        # that of B is A.T @ G, as in eq-ad-matmul.
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b

        def as_matrix(g):
            g = g.unsqueeze(-1) if b.ndim == 1 else g
            return g.unsqueeze(-2) if a.ndim == 1 else g

        def vjp_a(g):
            ga = as_matrix(g) @ b2.transpose(-1, -2)
            return unbroadcast(ga.squeeze(-2) if a.ndim == 1 else ga, a.shape)

        def vjp_b(g):
            gb = a2.transpose(-1, -2) @ as_matrix(g)
            return unbroadcast(gb.squeeze(-1) if b.ndim == 1 else gb, b.shape)

        return self._make(
            a @ b, (self, other), (vjp_a, vjp_b),
            lambda ta, tb: ta @ b + a @ tb,  # the product rule
            "@",
        )

    def __rmatmul__(self, other):
        other = self._lift(other)
        if other is NotImplemented:
            return other
        return other @ self

    # -- elementwise unary primitives -----------------------------------------

    def exp(self) -> Tensor:
        """Elementwise :math:`e^{x}`; its derivative is itself."""
        out = self.data.exp()
        return self._make(
            out, (self,), (lambda g: g * out,), lambda t: t * out, "exp"
        )

    def log(self) -> Tensor:
        """Elementwise natural logarithm; derivative :math:`1 / x`."""
        a = self.data
        return self._make(
            a.log(), (self,), (lambda g: g / a,), lambda t: t / a, "log"
        )

    def tanh(self) -> Tensor:
        r"""Elementwise :math:`\tanh`; derivative :math:`1 - \tanh^2`."""
        out = self.data.tanh()
        return self._make(
            out, (self,),
            (lambda g: g * (1 - out * out),),
            lambda t: t * (1 - out * out),
            "tanh",
        )

    def sigmoid(self) -> Tensor:
        r"""Elementwise :math:`\sigma(x) = 1 / (1 + e^{-x})`; derivative
        :math:`\sigma (1 - \sigma)`."""
        out = self.data.sigmoid()
        return self._make(
            out, (self,),
            (lambda g: g * out * (1 - out),),
            lambda t: t * out * (1 - out),
            "sigmoid",
        )

    def relu(self) -> Tensor:
        r"""Elementwise :math:`\max(x, 0)`; derivative 1 where positive, else 0."""
        out = self.data.relu()
        return self._make(
            out, (self,),
            (lambda g: g * (out > 0),),
            lambda t: t * (out > 0),
            "relu",
        )

    # -- reductions -----------------------------------------------------------

    def sum(self, dim: Dim = None, keepdim: bool = False) -> Tensor:
        """Sum over ``dim`` (an int, a tuple, or None for all axes)."""
        a = self.data
        dims = _dims(dim, a.ndim)
        out = a.sum(dim=dims, keepdim=keepdim) if dims else a.clone()
        return self._make(
            out, (self,),
            (lambda g: _expand_back(g, a.shape, dims, keepdim),),
            lambda t: t.sum(dim=dims, keepdim=keepdim) if dims else t,
            "sum",
        )

    def mean(self, dim: Dim = None, keepdim: bool = False) -> Tensor:
        """Mean over ``dim``: the sum divided by the number of terms."""
        count = math.prod(self.shape[d] for d in _dims(dim, self.ndim))
        return self.sum(dim, keepdim) * (1.0 / count)

    def logsumexp(self, dim: Dim = -1, keepdim: bool = False) -> Tensor:
        r"""Stable :math:`\log \sum_i e^{x_i}` over ``dim``.

        Its gradient is the softargmax. Like :func:`torch.logsumexp`, it
        computes :math:`m + \log \sum_i e^{x_i - m}` with
        :math:`m = \max_i x_i`, so that no exponential overflows.
        """
        a = self.data
        dims = _dims(dim, a.ndim)
        out = torch.logsumexp(a, dim=dims, keepdim=keepdim) if dims else a.clone()
        p = (a - _expand_back(out, a.shape, dims, keepdim)).exp()  # the softargmax
        return self._make(
            out, (self,),
            (lambda g: _expand_back(g, a.shape, dims, keepdim) * p,),
            lambda t: (p * t).sum(dim=dims, keepdim=keepdim),
            "logsumexp",
        )

    def softmax(self, dim: int = -1) -> Tensor:
        """The softargmax along ``dim``; see :func:`softmax`."""
        return softmax(self, dim)

    # -- shape primitives -------------------------------------------------------

    def reshape(self, *shape: int) -> Tensor:
        """The same numbers in a new shape (one size may be -1)."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list, torch.Size)):
            shape = tuple(shape[0])
        a = self.data
        return self._make(
            a.reshape(shape), (self,),
            (lambda g: g.reshape(a.shape),),
            lambda t: t.reshape(shape),
            "reshape",
        )

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        """Swap two axes; the backward pass swaps them back."""
        return self._make(
            self.data.transpose(dim0, dim1), (self,),
            (lambda g: g.transpose(dim0, dim1),),
            lambda t: t.transpose(dim0, dim1),
            "transpose",
        )

    @property
    def T(self) -> Tensor:
        """The transpose of a matrix (two dimensions only)."""
        if self.ndim != 2:
            raise ValueError(
                ".T is the transpose of a matrix; "
                f"got shape {tuple(self.shape)}, use transpose()"
            )
        return self.transpose(0, 1)

    def __getitem__(self, index) -> Tensor:
        """Basic indexing with ints and slices; the gradient goes back in place."""
        parts = index if isinstance(index, tuple) else (index,)
        if not all(isinstance(i, (int, slice)) or i is Ellipsis for i in parts):
            raise TypeError(
                f"only ints, slices and ... can index a Tensor; got {index!r}"
            )
        a = self.data

        def vjp(g):
            ga = torch.zeros_like(a)
            ga[index] = g
            return ga

        return self._make(a[index], (self,), (vjp,), lambda t: t[index], "index")

    # -- reverse mode -----------------------------------------------------------

    def backward(self, gradient: torch.Tensor | None = None) -> None:
        """Accumulate the gradient of this tensor into the ``.grad`` of every leaf.

        Parameters
        ----------
        gradient : torch.Tensor, optional
            The cotangent :math:`\\bm{g}` of this tensor, of its shape: the
            leaves receive :math:`\\bm{g}^\\top` times the Jacobian. It may be
            left out only for a tensor with one element, where it is 1.

        Raises
        ------
        RuntimeError
            If the tensor does not depend on any leaf that requires a gradient,
            or if ``gradient`` is left out for a tensor with more than one
            element.
        ValueError
            If ``gradient`` does not have the tensor's shape.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not depend on any leaf "
                "with requires_grad=True"
            )
        if gradient is None:
            if self.data.numel() != 1:
                raise RuntimeError(
                    "backward() without a gradient needs a scalar output; "
                    f"this tensor has shape {tuple(self.shape)}: pass "
                    "backward(gradient) with a tensor of that shape"
                )
            gradient = torch.ones_like(self.data)
        elif gradient.shape != self.shape:
            raise ValueError(
                "backward(gradient): the gradient must have the tensor's shape "
                f"{tuple(self.shape)}; got {tuple(gradient.shape)}"
            )
        for leaf, g in _backpropagate(self, gradient).items():
            leaf.grad = g if leaf.grad is None else leaf.grad + g



def _topological_order(root: Tensor) -> list[Tensor]:
    """Every tensor ``root`` depends on, each after all of its parents."""
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:  # depth-first search without recursion: deep graphs are fine
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
        elif id(node) not in visited:
            visited.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node._parents
                         if p.requires_grad and id(p) not in visited)
    return order


def _backpropagate(
    root: Tensor, gradient: torch.Tensor
) -> dict[Tensor, torch.Tensor]:
    """Run the VJP rules back from ``root``; return the leaves' gradients."""
    grads: dict[int, torch.Tensor] = {id(root): gradient}  # cotangents, by id
    leaves: dict[Tensor, torch.Tensor] = {}
    for node in reversed(_topological_order(root)):
        g = grads.pop(id(node))  # complete: node's consumers all came before it
        if not node._parents:  # a leaf
            leaves[node] = g
            continue
        for parent, vjp_rule in zip(node._parents, node._vjps):
            if parent.requires_grad:  # constants need no cotangent
                g_parent = vjp_rule(g)
                key = id(parent)
                if key in grads:  # another path already reached parent: add
                    grads[key] = grads[key] + g_parent
                else:
                    grads[key] = g_parent
    return leaves


# ---------------------------------------------------------------------------
# Functions built from the primitives.
# ---------------------------------------------------------------------------


def logsumexp(x: Tensor, dim: Dim = -1, keepdim: bool = False) -> Tensor:
    r"""Stable :math:`\log \sum_i \exp(x_i)` along ``dim``.

    Examples
    --------
    >>> from gradland.autodiff import Tensor, logsumexp
    >>> logsumexp(Tensor([1000.0, 1000.0]))  # 1000 + log 2 in float32, no overflow
    Tensor(1000.6932)
    """
    return x.logsumexp(dim, keepdim)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    r"""The softargmax :math:`\exp(x_i) / \sum_j \exp(x_j)` along ``dim``.

    Written as :math:`\exp(\bm{x} - \operatorname{logsumexp}(\bm{x}))`, which
    never overflows; its derivative comes from those two primitives.

    Examples
    --------
    >>> from gradland.autodiff import Tensor, softmax
    >>> softmax(Tensor([0.0, 0.0, 0.0, 0.0]))
    Tensor([0.2500, 0.2500, 0.2500, 0.2500])
    """
    return (x - x.logsumexp(dim, keepdim=True)).exp()


def cross_entropy(logits: Tensor, target: torch.Tensor) -> Tensor:
    r"""Mean cross-entropy of class scores against integer labels.

    For a batch of scores :math:`\bm{s}_i \in \mathbb{R}^K` (the rows of
    ``logits``) and labels :math:`y_i`, returns :math:`\frac{1}{B} \sum_i
    \big(\operatorname{logsumexp}(\bm{s}_i) - s_{i, y_i}\big)`, as
    :func:`torch.nn.functional.cross_entropy` does.

    Parameters
    ----------
    logits : Tensor
        Scores of shape ``(B, K)``.
    target : torch.Tensor
        Labels of shape ``(B,)``, integers in ``0, ..., K - 1``.

    Returns
    -------
    Tensor
        A scalar.

    Examples
    --------
    >>> import torch
    >>> from gradland.autodiff import Tensor, cross_entropy
    >>> cross_entropy(Tensor(torch.zeros(2, 4)), torch.tensor([0, 3]))  # log 4
    Tensor(1.3863)
    """
    if logits.ndim != 2:
        raise ValueError(
            f"cross_entropy: logits must have shape (B, K); got {tuple(logits.shape)}"
        )
    if target.shape != logits.shape[:1] or target.is_floating_point():
        raise ValueError(
            "cross_entropy: target must be integer labels "
            f"of shape ({logits.shape[0]},); "
            f"got dtype {target.dtype} and shape {tuple(target.shape)}"
        )
    classes = torch.arange(logits.shape[1], device=logits.device)
    in_range = (target >= 0) & (target < len(classes))
    if target.device.type == "cpu" and not bool(in_range.all()):
        # (on a GPU, this check would make the CPU wait for the GPU every step)
        raise ValueError(
            f"cross_entropy: labels must lie in 0..{len(classes) - 1}"
        )
    one_hot = (target.to(logits.device)[:, None] == classes).to(logits.dtype)
    picked = (logits * one_hot).sum(dim=1)  # the score of the right class
    return (logits.logsumexp(dim=1) - picked).mean()


# ---------------------------------------------------------------------------
# Function transforms: grad, vjp (reverse mode) and jvp (forward mode).
# ---------------------------------------------------------------------------


def _leaves(primals: Sequence[torch.Tensor | Tensor], requires_grad: bool) -> list[Tensor]:
    """Fresh leaves holding the values of ``primals``, cut off from any graph."""
    return [Tensor(p.data if isinstance(p, Tensor) else p, requires_grad=requires_grad)
            for p in primals]


def _check_output(out, transform: str) -> Tensor:
    """The result of the function being transformed, which must be a Tensor."""
    if not isinstance(out, Tensor):
        kind = f"{type(out).__module__}.{type(out).__name__}"
        raise TypeError(
            f"{transform}: the function must return a gradland.autodiff.Tensor; "
            f"got {kind} (a result computed outside this engine carries no derivative)"
        )
    return out


def vjp(f: Callable[..., Tensor], *primals: torch.Tensor) -> tuple[torch.Tensor, Callable]:
    r"""Evaluate ``f`` and return its output with a function that pulls cotangents back.

    Parameters
    ----------
    f : callable
        A function of Tensors returning one Tensor.
    *primals : torch.Tensor
        The point :math:`\bm{x}` at which to differentiate.

    Returns
    -------
    out, vjp_fn : tuple
        ``out`` is :math:`\bm{f}(\bm{x})` as a torch tensor, and
        ``vjp_fn(v)`` returns the tuple of :math:`\bm{v}^\top \partial \bm{f} /
        \partial \bm{x}_i`, one per primal, each with that primal's shape. It
        may be called many times, for example once per row of a Jacobian.

    Examples
    --------
    >>> import torch
    >>> from gradland.autodiff import vjp
    >>> out, pullback = vjp(lambda x: x * x, torch.tensor([1.0, 2.0]))
    >>> pullback(torch.tensor([1.0, 0.0]))
    (tensor([2., 0.]),)
    """
    leaves = _leaves(primals, requires_grad=True)
    out = _check_output(f(*leaves), "vjp")

    def vjp_fn(v: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if v.shape != out.shape:
            raise ValueError(
                f"vjp: the cotangent must have the output's shape {tuple(out.shape)}; "
                f"got {tuple(v.shape)}"
            )
        found = _backpropagate(out, v) if out.requires_grad else {}
        return tuple(found.get(leaf, torch.zeros_like(leaf.data)) for leaf in leaves)

    return out.data, vjp_fn


def grad(
    f: Callable[..., Tensor], argnums: int | tuple[int, ...] = 0
) -> Callable[..., torch.Tensor]:
    r"""Turn a scalar function into the function that returns its gradient.

    ``grad(f)(x)`` is :math:`\nabla_{\bm{x}} f(\bm{x})`, a tensor with the shape
    of ``x`` (the transpose of the :math:`1 \times n` derivative).

    Parameters
    ----------
    f : callable
        A function of Tensors returning a Tensor with one element.
    argnums : int or tuple of int, optional
        Which arguments to differentiate with respect to.

    Examples
    --------
    >>> import torch
    >>> from gradland.autodiff import grad
    >>> grad(lambda x: (x ** 3).sum())(torch.tensor([1.0, 2.0]))
    tensor([ 3., 12.])
    """

    def gradient(*args: torch.Tensor):
        out, pullback = vjp(f, *args)
        if out.numel() != 1:
            raise ValueError(
                "grad needs a function with a scalar output; "
                f"got shape {tuple(out.shape)}"
            )
        grads = pullback(torch.ones_like(out))
        if isinstance(argnums, int):
            return grads[argnums]
        return tuple(grads[i] for i in argnums)

    return gradient


def jvp(
    f: Callable[..., Tensor],
    primals: Sequence[torch.Tensor],
    tangents: Sequence[torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Forward mode: push tangents through ``f`` along with the values (dual numbers).

    Every value carries a tangent, and every primitive maps the tangents of
    its inputs to the tangent of its output with its JVP rule, so that one
    evaluation returns both :math:`\bm{f}(\bm{x})` and
    :math:`\frac{\partial \bm{f}}{\partial \bm{x}} \bm{u}`.

    Parameters
    ----------
    f : callable
        A function of Tensors returning one Tensor.
    primals, tangents : sequence of torch.Tensor
        The point :math:`\bm{x}` and the direction :math:`\bm{u}`, one
        tangent of the same shape per primal.

    Returns
    -------
    out, tangent_out : tuple of torch.Tensor

    Examples
    --------
    >>> import torch
    >>> from gradland.autodiff import jvp
    >>> jvp(lambda x: x.exp(), (torch.tensor([0.0, 1.0]),), (torch.tensor([1.0, 1.0]),))
    (tensor([1.0000, 2.7183]), tensor([1.0000, 2.7183]))
    """
    if len(primals) != len(tangents):
        raise ValueError(
            f"jvp: got {len(primals)} primals but {len(tangents)} tangents"
        )
    inputs = _leaves(primals, requires_grad=False)
    for x, t in zip(inputs, tangents):
        if t.shape != x.shape:
            raise ValueError(
                f"jvp: a tangent must have its primal's shape {tuple(x.shape)}; "
                f"got {tuple(t.shape)}"
            )
        x.tangent = t
    out = _check_output(f(*inputs), "jvp")
    if out.tangent is None:  # f ignored its inputs: the tangent is zero
        return out.data, torch.zeros_like(out.data)
    return out.data, out.tangent


# ---------------------------------------------------------------------------
# A small neural-network library on top.
# ---------------------------------------------------------------------------


class Module:
    """Base class of models: finds its parameters among its attributes.

    A parameter is any attribute that is a :class:`Tensor` with
    ``requires_grad=True``; submodules, and lists of them, are searched too,
    in the order the attributes were set.

    Examples
    --------
    >>> from gradland.autodiff import Linear
    >>> [tuple(p.shape) for p in Linear(3, 2).parameters()]
    [(2, 3), (2,)]
    """

    def parameters(self) -> Iterator[Tensor]:
        """Yield every parameter of this module and of its submodules."""
        for value in vars(self).values():
            items = value if isinstance(value, (list, tuple)) else [value]
            for item in items:
                if isinstance(item, Tensor) and item.requires_grad:
                    yield item
                elif isinstance(item, Module):
                    yield from item.parameters()

    def zero_grad(self) -> None:
        """Forget the gradients of all the parameters."""
        for p in self.parameters():
            p.grad = None

    def forward(self, *args):
        raise NotImplementedError

    def __call__(self, *args):
        return self.forward(*args)


class Linear(Module):
    r"""An affine layer :math:`\bm{y} = \bm{W} \bm{x} + \bm{b}`, applied to a batch
    stored as rows.

    As in :class:`torch.nn.Linear`, the weight has shape ``(out, in)`` and a
    batch ``X`` of shape ``(B, in)`` gives ``X @ W.T + b``; the initial
    values are drawn uniformly from :math:`[-1/\sqrt{\text{in}}, 1/\sqrt{\text{in}}]`.

    Examples
    --------
    >>> import torch
    >>> from gradland.autodiff import Linear, Tensor
    >>> layer = Linear(4, 3)
    >>> layer(Tensor(torch.ones(5, 4))).shape
    torch.Size([5, 3])
    """

    def __init__(self, n_in: int, n_out: int, bias: bool = True, *, device=None, dtype=None):
        bound = 1 / math.sqrt(n_in)
        # Drawn on the CPU and then moved, so that every device starts from the
        # same weights (a CUDA generator would draw others).
        weight = torch.empty(n_out, n_in, dtype=dtype).uniform_(-bound, bound)
        self.weight = Tensor(weight.to(device), requires_grad=True)
        self.bias = None
        if bias:
            b = torch.empty(n_out, dtype=dtype).uniform_(-bound, bound)
            self.bias = Tensor(b.to(device), requires_grad=True)

    def forward(self, x: Tensor) -> Tensor:
        y = x @ self.weight.T
        return y + self.bias if self.bias is not None else y


class MLP(Module):
    """A multilayer perceptron: :class:`Linear` layers with an activation between them.

    Parameters
    ----------
    sizes : sequence of int
        Widths from input to output, for example ``[64, 512, 512, 10]``.
    activation : {"relu", "tanh", "sigmoid"}, optional
        The nonlinearity after every layer but the last.

    Examples
    --------
    >>> import torch
    >>> from gradland.autodiff import MLP, Tensor
    >>> net = MLP([2, 8, 1])
    >>> net(Tensor(torch.randn(5, 2))).shape
    torch.Size([5, 1])
    """

    def __init__(self, sizes: Sequence[int], activation: str = "relu", *,
                 device=None, dtype=None):
        if len(sizes) < 2:
            raise ValueError(
                f"an MLP needs at least an input and an output size; got {list(sizes)}"
            )
        if activation not in {"relu", "tanh", "sigmoid"}:
            raise ValueError(
                f"activation must be 'relu', 'tanh' or 'sigmoid'; got {activation!r}"
            )
        self.activation = activation
        self.layers = [Linear(a, b, device=device, dtype=dtype)
                       for a, b in zip(sizes[:-1], sizes[1:])]

    def forward(self, x: Tensor) -> Tensor:
        *hidden, last = self.layers
        for layer in hidden:
            x = getattr(layer(x), self.activation)()
        return last(x)

    def to_torch(self) -> torch.nn.Sequential:
        """The same network in PyTorch, starting from copies of the current weights.

        Returns a :class:`torch.nn.Sequential` of :class:`torch.nn.Linear`
        layers and the same activations, on the device and with the dtype of
        the weights, so that the two engines can be trained side by side from
        one starting point.

        Examples
        --------
        >>> import torch
        >>> from gradland.autodiff import MLP, Tensor
        >>> net = MLP([3, 4, 2], activation="tanh")
        >>> x = torch.randn(5, 3)
        >>> torch.allclose(net(Tensor(x)).data, net.to_torch()(x))
        True
        """
        activation = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh,
                      "sigmoid": torch.nn.Sigmoid}[self.activation]
        modules = []
        for layer in self.layers:
            n_out, n_in = layer.weight.shape
            linear = torch.nn.Linear(n_in, n_out, bias=layer.bias is not None,
                                     device=layer.weight.device, dtype=layer.weight.dtype)
            with torch.no_grad():
                linear.weight.copy_(layer.weight.data)
                if layer.bias is not None:
                    linear.bias.copy_(layer.bias.data)
            modules += [linear, activation()]
        return torch.nn.Sequential(*modules[:-1])  # no activation after the last layer


class SGD:
    r"""Stochastic gradient descent:
    :math:`\bm{\theta} \leftarrow \bm{\theta} - \eta \nabla_{\bm{\theta}} \mathcal{L}`.

    Parameters
    ----------
    params : sequence of Tensor
        The parameters to update, for example ``list(model.parameters())``.
    lr : float
        The learning rate :math:`\eta`, positive and finite.

    Raises
    ------
    TypeError
        If ``params`` is a single tensor (write ``[w]``) or holds anything
        other than :class:`Tensor`: such a parameter would never be updated.
    ValueError
        If ``lr`` is not positive and finite.

    Examples
    --------
    >>> import torch
    >>> from gradland.autodiff import SGD, Tensor
    >>> w = Tensor([1.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step()
    >>> w.data
    tensor([0.8000])
    """

    def __init__(self, params, lr: float):
        if isinstance(params, (Tensor, torch.Tensor)):
            raise TypeError("params must be an iterable of gradland Tensors, such as [w]; "
                            f"got a single {type(params).__module__}.{type(params).__name__}")
        self.params = list(params)
        for p in self.params:
            if not isinstance(p, Tensor):
                raise TypeError("params must hold gradland.autodiff.Tensor parameters; "
                                f"got a {type(p).__module__}.{type(p).__name__}")
        if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
            raise ValueError(f"the learning rate must be positive and finite; got {lr}")
        self.lr = lr

    def zero_grad(self) -> None:
        """Forget the gradients of the parameters."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Move every parameter that has a gradient one step downhill."""
        for p in self.params:
            if p.grad is not None:
                p.data -= self.lr * p.grad


class Adam(SGD):
    r"""Adam: steps scaled by running estimates of the gradient's first two moments.

    The update is that of :class:`torch.optim.Adam` (Kingma and Ba), with
    bias-corrected moments :math:`\hat{\bm{m}}` and :math:`\hat{\bm{v}}` and
    step :math:`\eta \, \hat{\bm{m}} / (\sqrt{\hat{\bm{v}}} + \epsilon)`.

    Examples
    --------
    >>> from gradland.autodiff import Adam, Tensor
    >>> w = Tensor([1.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step()  # the first step has length lr
    >>> w.data
    tensor([0.9000])
    """

    def __init__(self, params, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, lr)
        self.betas, self.eps, self.t = betas, eps, 0
        self.m = [torch.zeros_like(p.data) for p in self.params]
        self.v = [torch.zeros_like(p.data) for p in self.params]

    def step(self) -> None:
        """One Adam update of every parameter that has a gradient."""
        self.t += 1
        beta1, beta2 = self.betas
        for p, m, v in zip(self.params, self.m, self.v):
            if p.grad is None:
                continue
            m.mul_(beta1).add_(p.grad, alpha=1 - beta1)
            v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
            m_hat = m / (1 - beta1**self.t)
            v_hat = v / (1 - beta2**self.t)
            p.data -= self.lr * m_hat / (v_hat.sqrt() + self.eps)
