r"""Build your own autodiff: a reverse-mode engine with a PyTorch-like API.

This module is the engine of Chapter 4 of the book, written to be read top to
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

Broadcasting follows NumPy (and PyTorch); :mod:`gradland.autodiff_shapes`
holds the helper that sums a gradient back over the broadcast axes. Three
modules sit on top of the engine, as micrograd's ``nn.py`` sits on its
``engine.py``: :mod:`gradland.autodiff_loss` holds the softargmax and the
cross-entropy loss, composites of the primitives that the engine
differentiates with no rule of their own; :mod:`gradland.autodiff_func` the
function transforms ``grad``, ``vjp`` and ``jvp`` of Chapter 3; and
:mod:`gradland.autodiff_nn` a small neural-network library shaped like
:mod:`torch.nn` and :mod:`torch.optim`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Union

import torch

from gradland import _checks
from gradland.autodiff_shapes import Dim, _dims, _expand_back, unbroadcast

__all__ = ["Tensor"]

Number = Union[int, float]


# -- The tensor, and its primitives, each with its VJP and JVP rules. ------------------


class Tensor:
    """A tensor that records how it was computed, so that it can be differentiated.

    Parameters
    ----------
    data : torch.Tensor, array-like or number
        The values. Integers are converted to the default floating-point dtype,
        since only real numbers have derivatives; complex numbers are refused.
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
        In forward mode (:func:`~gradland.autodiff_func.jvp`), the directional
        derivative carried along with the value; None otherwise.

    Raises
    ------
    TypeError
        If ``data`` is complex (the engine's rules are those of real functions),
        None or a string, or ``requires_grad`` is not a bool.

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
        _checks.leaf(data, requires_grad)
        if isinstance(data, torch.Tensor):
            data = data.detach()  # torch computes values; we compute derivatives
        else:
            data = torch.as_tensor(data)
        if not data.is_floating_point():
            if data.is_complex():  # the rules below are those of real functions
                raise TypeError(f"data must be real; got dtype {data.dtype}")
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
        """The number of entries.

        Returns
        -------
        int
            The product of the sizes in :attr:`shape` (1 for a scalar).
        """
        return self.data.numel()

    def item(self) -> float:
        """The value of a one-element tensor as a Python number.

        Returns
        -------
        float
            The value, read from the device (which waits for a GPU to finish).
        """
        return self.data.item()

    def detach(self) -> Tensor:
        """A new leaf with the same data, cut off from the graph.

        Returns
        -------
        Tensor
            A tensor that shares :attr:`data`, with no parents and no gradient.
        """
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
            raise ValueError(f"operands must be on the same device; got {self.device} and {other.device}")
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
            tangents = [
                p.tangent if p.tangent is not None else torch.zeros_like(p.data)
                for p in parents  # a parent that carries no tangent gets zeros
            ]
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
            a + b,
            (self, other),
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
            a * b,
            (self, other),
            (lambda g: unbroadcast(g * b, a.shape), lambda g: unbroadcast(g * a, b.shape)),
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
            out,
            (self, other),
            (lambda g: unbroadcast(g / b, a.shape), lambda g: unbroadcast(-g * out / b, b.shape)),
            lambda ta, tb: (ta - out * tb) / b,
            "/",
        )

    def __pow__(self, exponent: Number):
        if not isinstance(exponent, (int, float)) or isinstance(exponent, bool):
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
            a**p,
            (self,),
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
            shapes = f"{tuple(a.shape)} and {tuple(b.shape)}"
            raise ValueError(
                f"@ needs operands with at least one dimension; got shapes {shapes}",
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
            a @ b,
            (self, other),
            (vjp_a, vjp_b),
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
        """Elementwise :math:`e^{x}`; its derivative is itself.

        Returns
        -------
        Tensor
            A tensor of the same shape.
        """
        out = self.data.exp()
        return self._make(out, (self,), (lambda g: g * out,), lambda t: t * out, "exp")

    def log(self) -> Tensor:
        """Elementwise natural logarithm; derivative :math:`1 / x`.

        Returns
        -------
        Tensor
            A tensor of the same shape.
        """
        a = self.data
        return self._make(a.log(), (self,), (lambda g: g / a,), lambda t: t / a, "log")

    def tanh(self) -> Tensor:
        r"""Elementwise :math:`\tanh`; derivative :math:`1 - \tanh^2`.

        Returns
        -------
        Tensor
            A tensor of the same shape.
        """
        out = self.data.tanh()
        return self._make(
            out,
            (self,),
            (lambda g: g * (1 - out * out),),
            lambda t: t * (1 - out * out),
            "tanh",
        )

    def sigmoid(self) -> Tensor:
        r"""Elementwise :math:`\sigma(x) = 1 / (1 + e^{-x})`; derivative
        :math:`\sigma (1 - \sigma)`.

        Returns
        -------
        Tensor
            A tensor of the same shape.
        """
        out = self.data.sigmoid()
        return self._make(
            out,
            (self,),
            (lambda g: g * out * (1 - out),),
            lambda t: t * out * (1 - out),
            "sigmoid",
        )

    def relu(self) -> Tensor:
        r"""Elementwise :math:`\max(x, 0)`; derivative 1 where positive, else 0.

        Returns
        -------
        Tensor
            A tensor of the same shape.
        """
        out = self.data.relu()
        return self._make(
            out,
            (self,),
            (lambda g: g * (out > 0),),
            lambda t: t * (out > 0),
            "relu",
        )

    # -- reductions -----------------------------------------------------------

    def sum(self, dim: Dim = None, keepdim: bool = False) -> Tensor:
        """Sum over ``dim``.

        Parameters
        ----------
        dim : int, tuple of int or None, optional
            The axes to sum over; None, the default, for all of them.
        keepdim : bool, optional
            Whether to keep the summed axes, with size 1.

        Returns
        -------
        Tensor
            The sums.

        Raises
        ------
        TypeError, ValueError
            If ``dim`` does not name distinct axes of the tensor.
        """
        a = self.data
        dims = _dims(dim, a.ndim)
        out = a.sum(dim=dims, keepdim=keepdim) if dims else a.clone()
        return self._make(
            out,
            (self,),
            (lambda g: _expand_back(g, a.shape, dims, keepdim),),
            lambda t: t.sum(dim=dims, keepdim=keepdim) if dims else t,
            "sum",
        )

    def mean(self, dim: Dim = None, keepdim: bool = False) -> Tensor:
        """Mean over ``dim``: the sum divided by the number of terms (NaN if none).

        Parameters
        ----------
        dim, keepdim
            As in :meth:`sum`.

        Returns
        -------
        Tensor
            The means.
        """
        count = math.prod(self.shape[d] for d in _dims(dim, self.ndim))
        return self.sum(dim, keepdim) * (1.0 / count if count else math.nan)

    def logsumexp(self, dim: Dim = -1, keepdim: bool = False) -> Tensor:
        r"""Stable :math:`\log \sum_i e^{x_i}` over ``dim``.

        Its gradient is the softargmax. Like :func:`torch.logsumexp`, it
        computes :math:`m + \log \sum_i e^{x_i - m}` with
        :math:`m = \max_i x_i`, so that no exponential overflows.

        Parameters
        ----------
        dim : int, tuple of int or None, optional
            The axes to reduce, by default the last; None for all of them.
        keepdim : bool, optional
            As in :meth:`sum`.

        Returns
        -------
        Tensor
            The log-sum-exps.
        """
        a = self.data
        dims = _dims(dim, a.ndim)
        out = torch.logsumexp(a, dim=dims, keepdim=keepdim) if dims else a.clone()
        p = (a - _expand_back(out, a.shape, dims, keepdim)).exp()  # the softargmax
        return self._make(
            out,
            (self,),
            (lambda g: _expand_back(g, a.shape, dims, keepdim) * p,),
            lambda t: (p * t).sum(dim=dims, keepdim=keepdim),
            "logsumexp",
        )

    def softmax(self, dim: int = -1) -> Tensor:
        r"""The softargmax along ``dim``, a composite that never overflows.

        Parameters
        ----------
        dim : int, optional
            The axis along which the probabilities sum to 1, by default the last.

        Returns
        -------
        Tensor
            Probabilities, of the tensor's shape.

        Raises
        ------
        TypeError, ValueError
            If ``dim`` is not an int, or out of range.
        """
        _checks.axis("dim", dim, self.ndim)
        return (self - self.logsumexp(dim, keepdim=True)).exp()

    # -- shape primitives -------------------------------------------------------

    def reshape(self, *shape: int) -> Tensor:
        """The same numbers in a new shape (one size may be -1).

        Parameters
        ----------
        *shape : int
            The new sizes, or one tuple of them; a size of -1 is inferred.

        Returns
        -------
        Tensor
            The entries in the same (row-major) order, in the new shape.

        Raises
        ------
        TypeError
            If ``shape`` is not made of ints.
        ValueError
            If the sizes do not hold :meth:`numel` numbers, or one is below -1.
        """
        if len(shape) == 1 and isinstance(shape[0], (tuple, list, torch.Size)):
            shape = tuple(shape[0])
        shape = _checks.reshape(shape, self.numel())
        a = self.data
        return self._make(
            a.reshape(shape),
            (self,),
            (lambda g: g.reshape(a.shape),),
            lambda t: t.reshape(shape),
            "reshape",
        )

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        """Swap two axes; the backward pass swaps them back.

        Parameters
        ----------
        dim0, dim1 : int
            The two axes.

        Returns
        -------
        Tensor
            The tensor with axes ``dim0`` and ``dim1`` swapped.

        Raises
        ------
        TypeError
            If an axis is not an int.
        ValueError
            If an axis is out of range.
        """
        dim0, dim1 = _checks.axis("dim0", dim0, self.ndim), _checks.axis("dim1", dim1, self.ndim)
        return self._make(
            self.data.transpose(dim0, dim1),
            (self,),
            (lambda g: g.transpose(dim0, dim1),),
            lambda t: t.transpose(dim0, dim1),
            "transpose",
        )

    @property
    def T(self) -> Tensor:
        """The transpose of a matrix (two dimensions only)."""
        if self.ndim != 2:
            raise ValueError(f".T is the transpose of a matrix; got shape {tuple(self.shape)}, use transpose()")
        return self.transpose(0, 1)

    def __getitem__(self, index) -> Tensor:
        """Basic indexing with ints and slices; the gradient goes back in place."""
        parts = index if isinstance(index, tuple) else (index,)
        if not all(isinstance(i, (int, slice)) or i is Ellipsis for i in parts):
            raise TypeError(f"only ints, slices and ... can index a Tensor; got {index!r}")
        a = self.data

        def vjp(g):
            ga = torch.zeros_like(a)
            ga[index] = g
            return ga

        return self._make(a[index], (self,), (vjp,), lambda t: t[index], "index")

    def gather(self, dim: int, index: torch.Tensor) -> Tensor:
        """The entries at positions ``index`` along ``dim``, as :func:`torch.gather`.

        For ``dim=1``, ``out[i, j] = a[i, index[i, j]]``. The VJP adds the
        cotangent into zeros at the places read, twice where a place is read twice.
        An index out of range is not looked for, which would make the CPU wait for
        the GPU at every step: it fails inside torch, as in PyTorch.

        Parameters
        ----------
        dim : int
            The axis along which to read.
        index : torch.Tensor
            Positions, int64, on the tensor's device, with as many dimensions as
            the tensor and no larger along the axes other than ``dim``.

        Returns
        -------
        Tensor
            The entries read, of the shape of ``index``.

        Raises
        ------
        TypeError
            If ``index`` is not an int64 torch tensor, or ``dim`` not an int.
        ValueError
            If ``dim`` is out of range, or ``index`` has a wrong number of
            dimensions, a size too large or another device.
        """
        if not isinstance(index, torch.Tensor) or index.dtype != torch.int64:
            raise TypeError(f"gather: index must be an int64 torch.Tensor; got {_checks.describe(index)}")
        dim = _checks.axis("gather: dim", dim, self.ndim)
        others = [d for d in range(self.ndim) if d != dim % max(self.ndim, 1)]
        if index.ndim != self.ndim or any(index.shape[d] > self.shape[d] for d in others):
            raise ValueError(
                f"gather: index must have {self.ndim} dimensions, each but dim no larger than "
                f"the tensor's {tuple(self.shape)}; got {tuple(index.shape)}"
            )
        if index.device != self.device:
            raise ValueError(f"gather: index must be on the tensor's device, {self.device}; got {index.device}")
        a = self.data
        return self._make(
            a.gather(dim, index),
            (self,),
            (lambda g: torch.zeros_like(a).scatter_add_(dim, index, g),),
            lambda t: t.gather(dim, index),
            "gather",
        )

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
        TypeError
            If ``gradient`` is not a torch tensor of the tensor's dtype.
        ValueError
            If ``gradient`` does not have the tensor's shape and device.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a tensor that depends on no leaf with requires_grad=True",
            )
        if gradient is None:
            if self.data.numel() != 1:
                raise RuntimeError(
                    "backward() without a gradient needs a scalar output; "
                    f"this tensor has shape {tuple(self.shape)}: pass "
                    "backward(gradient) with a tensor of that shape"
                )
            gradient = torch.ones_like(self.data)
        else:  # a torch tensor of this tensor's shape, dtype and device
            _checks.cotangent("backward(gradient): the gradient", gradient, self.data)
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
            for p in node._parents:  # only the tensors that need a cotangent
                if p.requires_grad and id(p) not in visited:
                    stack.append((p, False))
    return order


def _backpropagate(root: Tensor, gradient: torch.Tensor) -> dict[Tensor, torch.Tensor]:
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


def _kind(value: object) -> str:
    """The full name of the type of ``value``, which tells a torch tensor from ours."""
    return f"{type(value).__module__}.{type(value).__name__}"
