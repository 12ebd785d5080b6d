r"""A small neural-network library on the engine of :mod:`gradland.autodiff`.

This module is the code of the last sections of Chapter 4 of the book: with
gradients in hand, :mod:`torch.nn` and :mod:`torch.optim` are a thin layer of
bookkeeping, and this is that layer for our own engine, as micrograd's
``nn.py`` sits on its ``engine.py``. In reading order:

* :class:`Module` finds the parameters of a model among its attributes;
* :class:`Linear` is an affine layer and :class:`MLP` a stack of them with an
  activation between them, both shaped like their :mod:`torch.nn` namesakes
  (:meth:`MLP.to_torch` builds the same network in PyTorch);
* :class:`SGD` and :class:`Adam` update the parameters from their gradients,
  as :mod:`torch.optim` does.

The loss, :func:`gradland.autodiff_loss.cross_entropy`, is a composite of the engine's
primitives.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence

import torch

from gradland import _checks
from gradland.autodiff import Tensor

__all__ = ["MLP", "SGD", "Adam", "Linear", "Module"]


class Module:
    """Base class of models: finds its parameters among its attributes.

    A parameter is any attribute that is a :class:`~gradland.autodiff.Tensor`
    with ``requires_grad=True``; submodules, and lists of them, are searched too,
    in the order the attributes were set.

    Examples
    --------
    >>> from gradland.autodiff_nn import Linear
    >>> [tuple(p.shape) for p in Linear(3, 2).parameters()]
    [(2, 3), (2,)]
    """

    def parameters(self) -> Iterator[Tensor]:
        """Yield every parameter of this module and of its submodules.

        Yields
        ------
        gradland.autodiff.Tensor
            Each parameter once, in the order the attributes were set.
        """
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
        """The computation of the model, which each subclass defines.

        Parameters
        ----------
        *args
            The inputs.

        Raises
        ------
        NotImplementedError
            Always: a :class:`Module` itself computes nothing.
        """
        raise NotImplementedError(f"{type(self).__name__} must define forward(), the computation of the model")

    def __call__(self, *args):
        """Run the model: ``model(x)`` is ``model.forward(x)``, as in :mod:`torch.nn`.

        Parameters
        ----------
        *args
            The inputs, passed on to :meth:`forward`.
        """
        return self.forward(*args)


class Linear(Module):
    r"""An affine layer :math:`\bm{y} = \bm{W} \bm{x} + \bm{b}`, applied to a batch
    stored as rows.

    As in :class:`torch.nn.Linear`, the weight has shape ``(d_out, d_in)`` and
    a batch ``X`` of shape ``(B, d_in)`` gives ``X @ W.T + b``; the initial
    values are drawn uniformly from
    :math:`[-1/\sqrt{d_{\text{in}}}, 1/\sqrt{d_{\text{in}}}]`.

    Parameters
    ----------
    d_in, d_out : int
        The sizes of an input and of an output, at least 1.
    bias : bool, optional
        Whether to add a bias :math:`\bm{b}`.
    device : torch.device or str, optional
        Where the parameters live; they are drawn on the CPU and moved there.
    dtype : torch.dtype, optional
        A floating-point dtype for the parameters (default: torch's default).

    Raises
    ------
    TypeError
        If a size is not an int, ``bias`` not a bool, ``device`` not a device
        or a string, or ``dtype`` not a floating-point dtype.
    ValueError
        If a size is below 1, or ``device`` names no device here.

    Examples
    --------
    >>> import torch
    >>> from gradland.autodiff import Tensor
    >>> from gradland.autodiff_nn import Linear
    >>> layer = Linear(4, 3)
    >>> layer(Tensor(torch.ones(5, 4))).shape
    torch.Size([5, 3])
    """

    def __init__(self, d_in: int, d_out: int, bias: bool = True, *, device=None, dtype=None):
        d_in, d_out = _checks.integer("d_in", d_in, minimum=1), _checks.integer("d_out", d_out, minimum=1)
        _checks.dtype("dtype", dtype)
        device = _checks.device("device", device)
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be a bool; got {bias!r}")
        bound = 1 / math.sqrt(d_in)
        # Drawn on the CPU and then moved, so that every device starts from the
        # same weights (a CUDA generator would draw others).
        weight = torch.empty(d_out, d_in, dtype=dtype).uniform_(-bound, bound)
        self.weight = Tensor(weight.to(device), requires_grad=True)
        self.bias = None
        if bias:
            b = torch.empty(d_out, dtype=dtype).uniform_(-bound, bound)
            self.bias = Tensor(b.to(device), requires_grad=True)

    def forward(self, x: Tensor) -> Tensor:
        r"""The affine map of a batch, :math:`\bm{X} \bm{W}^\top + \bm{1} \bm{b}^\top`.

        Parameters
        ----------
        x : gradland.autodiff.Tensor
            The batch :math:`\bm{X}`, of shape ``(B, d_in)``.

        Returns
        -------
        gradland.autodiff.Tensor
            The outputs, of shape ``(B, d_out)``.
        """
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
    device, dtype : optional
        Where the parameters live, and their floating-point dtype, as in
        :class:`Linear`.

    Raises
    ------
    TypeError
        If ``sizes`` is not a sequence of ints, or ``device`` or ``dtype`` is
        not one, as in :class:`Linear`.
    ValueError
        If ``sizes`` has fewer than two entries or one below 1,
        ``activation`` is not one of the three, or ``device`` names no device
        here.

    Examples
    --------
    >>> import torch
    >>> from gradland.autodiff import Tensor
    >>> from gradland.autodiff_nn import MLP
    >>> net = MLP([2, 8, 1])
    >>> net(Tensor(torch.randn(5, 2))).shape
    torch.Size([5, 1])
    """

    def __init__(self, sizes: Sequence[int], activation: str = "relu", *, device=None, dtype=None):
        sizes = _checks.integers("sizes", sizes, minimum=1, count=2)  # an input and an output
        self.activation = _checks.choice("activation", activation, ("relu", "tanh", "sigmoid"))
        self.layers = [Linear(a, b, device=device, dtype=dtype) for a, b in zip(sizes[:-1], sizes[1:])]

    def forward(self, x: Tensor) -> Tensor:
        """The layers in turn, with the activation after every layer but the last.

        Parameters
        ----------
        x : gradland.autodiff.Tensor
            A batch of shape ``(B, sizes[0])``.

        Returns
        -------
        gradland.autodiff.Tensor
            The outputs, of shape ``(B, sizes[-1])``, with no activation.
        """
        *hidden, last = self.layers
        for layer in hidden:
            x = getattr(layer(x), self.activation)()
        return last(x)

    def to_torch(self) -> torch.nn.Sequential:
        """The same network in PyTorch, starting from copies of the current weights.

        Returns
        -------
        torch.nn.Sequential
            :class:`torch.nn.Linear` layers and the same activations, on the device
            and with the dtype of the weights, so that the two engines can be
            trained side by side from one starting point.

        Examples
        --------
        >>> import torch
        >>> from gradland.autodiff import Tensor
        >>> from gradland.autodiff_nn import MLP
        >>> net = MLP([3, 4, 2], activation="tanh")
        >>> x = torch.randn(5, 3)
        >>> torch.allclose(net(Tensor(x)).data, net.to_torch()(x))
        True
        """
        activation = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}[self.activation]
        modules = []
        for layer in self.layers:
            d_out, d_in = layer.weight.shape
            linear = torch.nn.Linear(
                d_in, d_out, bias=layer.bias is not None, device=layer.weight.device, dtype=layer.weight.dtype
            )
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
    params : sequence of gradland.autodiff.Tensor
        The parameters to update, for example ``list(model.parameters())``.
    lr : float
        The learning rate :math:`\eta`, positive and finite.

    Raises
    ------
    TypeError
        If ``params`` is a single tensor (write ``[w]``) or holds anything
        other than :class:`~gradland.autodiff.Tensor`: such a parameter would
        never be updated; or if ``lr`` is not a real number.
    ValueError
        If ``lr`` is not positive and finite.

    Examples
    --------
    >>> import torch
    >>> from gradland.autodiff import Tensor
    >>> from gradland.autodiff_nn import SGD
    >>> w = Tensor([1.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step()
    >>> w.data
    tensor([0.8000])
    """

    def __init__(self, params, lr: float):
        if isinstance(params, (Tensor, torch.Tensor)) or not isinstance(params, Iterable):
            single = "a single " * isinstance(params, (Tensor, torch.Tensor))
            raise TypeError(
                "params must be an iterable of gradland Tensors, such as [w]; "
                f"got {single}{type(params).__module__}.{type(params).__name__}"
            )
        self.params = list(params)
        for p in self.params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    "params must hold gradland.autodiff.Tensor parameters; "
                    f"got a {type(p).__module__}.{type(p).__name__}"
                )
        self.lr = _checks.real("lr", lr, positive=True)

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

    Parameters
    ----------
    params : sequence of gradland.autodiff.Tensor
        The parameters to update, for example ``list(model.parameters())``.
    lr : float, optional
        The learning rate :math:`\eta`, positive and finite.
    betas : tuple of float, optional
        The decay rates :math:`(\beta_1, \beta_2)` of the two running
        averages, each in :math:`[0, 1)`: at 1 an average never moves from
        zero and the bias correction divides 0 by 0.
    eps : float, optional
        The :math:`\epsilon` added to the root of the second moment, positive
        and finite, so that a step never divides by zero.

    Raises
    ------
    TypeError
        As :class:`SGD`, and if ``betas`` is not a pair of real numbers or
        ``eps`` is not a real number.
    ValueError
        As :class:`SGD`, and if a beta is outside :math:`[0, 1)` or ``eps``
        is not positive and finite.

    Examples
    --------
    >>> from gradland.autodiff import Tensor
    >>> from gradland.autodiff_nn import Adam
    >>> w = Tensor([1.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step()  # the first step has length lr
    >>> w.data
    tensor([0.9000])
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, lr)
        self.betas, self.eps, self.t = _checks.betas("betas", betas), _checks.real("eps", eps, positive=True), 0
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
