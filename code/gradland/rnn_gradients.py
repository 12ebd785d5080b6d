r"""Backpropagation through time, by hand, and the Jacobians it multiplies.

This module is the code of the sections of Chapter 12 on the gradients of a
recurrent network, the :class:`gradland.rnn.ElmanRNN`
:math:`\bm{h}[t] = f(\bm{W} [\bm{x}[t]; \bm{h}[t-1]] + \bm{b})`. Top to bottom:

* :func:`bptt`, backpropagation through time written out by hand: the
  gradients of a loss with respect to :math:`\bm{W}`, :math:`\bm{b}` and
  :math:`\bm{h}[0]`, one reverse sweep over the unrolled network;
* :func:`state_jacobians`, the Jacobians
  :math:`\partial \bm{h}[T] / \partial \bm{h}[t]` as products of the per-step
  Jacobians :math:`\diag(f'(\bm{u}[s])) \bm{W}_h`, whose norms vanish or
  explode as :math:`T - t` grows.

Both sweep over the sequence outside of autograd, and both are checked
against it, in the tests and in the chapter.
"""

from __future__ import annotations

import torch

from gradland import _checks, linalg
from gradland._checks import describe as _describe
from gradland.rnn import ElmanRNN, _activation

__all__ = ["bptt", "state_jacobians"]


def _activation_derivative(nonlinearity: str, u: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    r""":math:`f'(\bm{u})`, entry by entry, from the pre-activation ``u`` and
    ``h = f(u)``."""
    if nonlinearity == "tanh":
        return 1 - h**2  # tanh' = 1 - tanh^2
    return (u > 0).to(u.dtype)  # relu' = 1 for u > 0, 0 otherwise (0 at u = 0, as PyTorch)


def bptt(
    rnn: ElmanRNN,
    x: torch.Tensor,
    grad_states: torch.Tensor,
    h0: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    r"""Backpropagation through time, by hand: the gradients of a loss of the states.

    Let a loss :math:`\mathcal{L}` depend on the states :math:`\bm{h}[1], \dots,
    \bm{h}[T]` that ``rnn`` computes from ``x`` and :math:`\bm{h}[0]`, and
    let ``grad_states`` hold its *direct* gradients
    :math:`\bm{g}[t] = \nabla_{\bm{h}[t]} \ell`, the ones that do not go
    through later states (for a loss :math:`\sum_t \ell_t(\bm{h}[t])`, the
    gradient of :math:`\ell_t`). One forward sweep stores the states; one
    reverse sweep, from :math:`t = T` down to 1, computes

    .. math::

       \bar{\bm{h}}[t] = \bm{g}[t] + \bm{W}_h^\top \bm{\delta}[t+1], \quad
       \bm{\delta}[t] = f'(\bm{u}[t]) \odot \bar{\bm{h}}[t], \quad
       \nabla_{\bm{W}} \mathcal{L} = \sum_{t=1}^{T} \bm{\delta}[t]
       \begin{bmatrix} \bm{x}[t] \\ \bm{h}[t-1] \end{bmatrix}^\top,

    with :math:`\bm{\delta}[T+1] = \bm{0}`, :math:`\nabla_{\bm{b}} \mathcal{L} =
    \sum_t \bm{\delta}[t]` and :math:`\nabla_{\bm{h}[0]} \mathcal{L} = \bm{W}_h^\top
    \bm{\delta}[1]`. Batches of sequences are summed over, as for a loss
    that adds the examples' losses.

    Parameters
    ----------
    rnn : gradland.rnn.ElmanRNN
        The network.
    x : torch.Tensor
        The inputs, shape ``(B, T, n)`` or ``(T, n)``.
    grad_states : torch.Tensor
        The direct gradients :math:`\bm{g}[t]`, the shape of the states,
        ``(B, T, d)`` or ``(T, d)``.
    h0 : torch.Tensor, optional
        The initial state, zero when omitted.

    Returns
    -------
    grad_weight : torch.Tensor
        :math:`\nabla_{\bm{W}} \mathcal{L}`, shape ``(d, n + d)``, the shape of
        ``rnn.weight``.
    grad_bias : torch.Tensor or None
        :math:`\nabla_{\bm{b}} \mathcal{L}`, shape ``(d,)``; None for a network without
        bias.
    grad_h0 : torch.Tensor
        :math:`\nabla_{\bm{h}[0]} \mathcal{L}`, the shape of ``h0``.

    Raises
    ------
    TypeError
        If ``rnn`` is not an :class:`~gradland.rnn.ElmanRNN`, or a tensor is not
        floating or not of the network's dtype.
    ValueError
        If ``x`` is not of shape ``(B, T, n)`` or ``(T, n)`` with :math:`T \ge 1`,
        ``grad_states`` not of the shape of the states or ``h0`` of a state, or a
        tensor is not on the network's device.

    Examples
    --------
    >>> import torch
    >>> from gradland.rnn import ElmanRNN
    >>> from gradland.rnn_gradients import bptt
    >>> rnn = ElmanRNN(2, 3, dtype=torch.float64)
    >>> x = torch.randn(4, 6, 2, dtype=torch.float64)
    >>> states, _ = rnn(x)
    >>> (states**2).sum().backward()  # autograd's reverse mode
    >>> grad_states = 2 * states.detach()  # the gradient of h**2 is 2 h
    >>> grad_w, grad_b, _ = bptt(rnn, x, grad_states)
    >>> torch.allclose(grad_w, rnn.weight.grad), torch.allclose(grad_b, rnn.bias.grad)
    (True, True)
    """
    rnn = _checks.instance("rnn", rnn, ElmanRNN)
    h0 = rnn._check_sequence(x, h0)
    state_shape = (*x.shape[:-1], rnn.d)
    _checks.tensor(
        "grad_states",
        grad_states,
        floating=True,
        exact=state_shape,
        shape=f"{state_shape}, the shape of the states",
        reference=rnn.weight,
        owner="the network",
    )
    with torch.no_grad():
        # Forward sweep: keep every stacked input v[t] = [x[t]; h[t-1]] and f'(u[t]).
        inputs, slopes, h = [], [], h0
        for t in range(x.shape[-2]):
            v = linalg.stack(x[..., t, :], h)
            u = linalg.linear(v, rnn.weight, rnn.bias)
            h = _activation(rnn.nonlinearity, u)
            inputs.append(v)
            slopes.append(_activation_derivative(rnn.nonlinearity, u, h))
        # Reverse sweep: the adjoint of h[t] gathers its direct gradient and what
        # h[t+1] sends back.
        grad_weight = torch.zeros_like(rnn.weight)
        grad_bias = torch.zeros(rnn.d, dtype=x.dtype, device=x.device)
        from_later = torch.zeros_like(h0)  # W_h.T @ delta[t+1], zero after the last step
        for t in reversed(range(x.shape[-2])):
            h_bar = grad_states[..., t, :] + from_later
            delta = slopes[t] * h_bar  # through f: multiply by diag(f'(u[t]))
            # the outer product of delta and [x; h], summed over the batch
            grad_weight += torch.einsum("...i,...j->ij", delta, inputs[t])
            grad_bias += delta.reshape(-1, rnn.d).sum(0)
            from_later = delta @ rnn.W_h  # rows: (W_h.T @ delta).T = delta.T @ W_h
    return grad_weight, (grad_bias if rnn.bias is not None else None), from_later


def state_jacobians(rnn: ElmanRNN, x: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    r"""The Jacobians :math:`\partial \bm{h}[T] / \partial \bm{h}[t]` for
    :math:`t = 0, \dots, T`, of one sequence.

    Each step has the Jacobian :math:`\bm{J}[s] = \partial \bm{h}[s] /
    \partial \bm{h}[s-1] = \diag(f'(\bm{u}[s])) \bm{W}_h \in \R^{d \times d}`,
    with :math:`\bm{u}[s]` the pre-activation of step :math:`s`, and by the
    chain rule

    .. math::

       \frac{\partial \bm{h}[T]}{\partial \bm{h}[t]}
       = \bm{J}[T] \, \bm{J}[T-1] \cdots \bm{J}[t+1],

    the identity for :math:`t = T`. The products are accumulated from the
    left, starting at :math:`T`, as reverse mode does.

    Parameters
    ----------
    rnn : gradland.rnn.ElmanRNN
        The network.
    x : torch.Tensor
        One sequence, shape ``(T, n)``.
    h0 : torch.Tensor, optional
        The initial state, shape ``(d,)``; zero when omitted.

    Returns
    -------
    torch.Tensor
        Shape ``(T + 1, d, d)``; entry ``t`` is
        :math:`\partial \bm{h}[T] / \partial \bm{h}[t]`, rows indexed by
        :math:`\bm{h}[T]` (a Jacobian of :math:`\R^d \to \R^d` is
        :math:`d \times d`, output by input).

    Raises
    ------
    TypeError
        If ``rnn`` is not an :class:`~gradland.rnn.ElmanRNN`, or ``x`` or ``h0`` is
        not a floating tensor of the network's dtype.
    ValueError
        If ``x`` is not of shape ``(T, n)`` with :math:`T \ge 1`, ``h0`` not of
        shape ``(d,)``, or one is not on the network's device.

    Examples
    --------
    >>> import torch
    >>> from gradland.rnn import ElmanRNN
    >>> from gradland.rnn_gradients import state_jacobians
    >>> rnn = ElmanRNN(2, 3, dtype=torch.float64)
    >>> x = torch.randn(5, 2, dtype=torch.float64)
    >>> J = state_jacobians(rnn, x)
    >>> J.shape, torch.equal(J[-1], torch.eye(3, dtype=torch.float64))
    (torch.Size([6, 3, 3]), True)
    >>> last_from_h0 = lambda h0: rnn(x, h0)[1]
    >>> h0 = torch.zeros(3, dtype=torch.float64)
    >>> torch.allclose(J[0], torch.func.jacrev(last_from_h0)(h0))
    True
    """
    rnn = _checks.instance("rnn", rnn, ElmanRNN)
    if isinstance(x, torch.Tensor) and x.ndim != 2:
        raise ValueError(f"x must be one sequence, shape (T, {rnn.n}); got {_describe(x)}")
    h = rnn._check_sequence(x, h0)
    with torch.no_grad():
        steps = []  # J[s] = diag(f'(u[s])) W_h, s = 1, ..., T
        for t in range(x.shape[0]):
            u = linalg.linear(linalg.stack(x[t], h), rnn.weight, rnn.bias)
            h = _activation(rnn.nonlinearity, u)
            steps.append(_activation_derivative(rnn.nonlinearity, u, h)[:, None] * rnn.W_h)
        product = torch.eye(rnn.d, dtype=x.dtype, device=x.device)
        jacobians = [product]  # dh[T]/dh[T]
        for J in reversed(steps):
            product = product @ J  # dh[T]/dh[s-1] = dh[T]/dh[s] J[s]
            jacobians.append(product)
    return torch.stack(jacobians[::-1])
