r"""Graph convolutional networks: attention whose coefficients are given by the graph.

This module is the code of Chapter 15 of the book. In attention the
coefficient vector :math:`\bm{a}` of a query is computed, a softargmax of
scores; in a graph convolutional network (GCN) it is *given* by the graph: it
is the adjacency vector of the node, a column of the adjacency matrix
:math:`\bm{A}`, normalised. With self-loops and the symmetric normalisation

.. math::

   \hat{\bm{A}} = \bm{D}^{-1/2} (\bm{A} + \Id) \bm{D}^{-1/2},

where :math:`\bm{D}` is the diagonal matrix of the degrees of
:math:`\bm{A} + \Id`, one GCN layer maps the node features
:math:`\bm{X} = [\bm{x}_1, \dots, \bm{x}_T]` to
:math:`\bm{H} = \bm{W} \bm{X} \hat{\bm{A}} + \bm{b}`: the values
:math:`\bm{W} \bm{X}` of attention combined with given coefficients.

A graph is stored as an **edge index**, a ``(2, n_e)`` integer tensor, with
:math:`n_{\mathrm{e}}` the number of edges, whose column ``(j, i)`` is an
edge from node :math:`j` to node :math:`i` (messages flow from the first row
to the second, as in PyTorch Geometric); an undirected graph lists each edge
in both directions. A dense adjacency matrix has ``adjacency[j, i] = 1`` for
that edge, so column :math:`i` is the adjacency vector of node :math:`i`.
Node features are one node per **row**, a tensor of shape ``(T, d)``.

Whatever takes an edge index checks its type, dtype, shape and device, and
its node numbers, which reads it on the host (on a GPU, the CPU waits for the
device): a model does that once per call and tells its layers ``checked=True``.

Top to bottom:

* :func:`normalised_adjacency`, :math:`\hat{\bm{A}}` as a dense matrix or a
  sparse (COO) tensor;
* :func:`propagate`, the product :math:`\bm{X} \hat{\bm{A}}` by message
  passing along the edges, without ever forming :math:`\hat{\bm{A}}`;
* :func:`attention_propagate`, the same product computed by
  :func:`gradland.attention.attention` with the graph as the mask;
* :class:`GCNLayer`, the layer of Kipf and Welling, dense or sparse;
* :class:`GatedGCNLayer`, the residual gated layer, whose messages are
  modulated by edge gates :math:`\bm{\zeta}_{ij}`, a normalised sigmoid of the
  edge representations;
* :class:`GCN`, :class:`GatedGCN` and :class:`MLP`, three node classifiers
  (the last ignores the graph), :func:`accuracy`, and :func:`train_node_classifier`,
  which trains them with :func:`gradland.train.fit` on a
  :class:`gradland.data.Graph`, such as the graphs of :mod:`gradland.data`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gradland import _checks
from gradland._checks import describe as _describe
from gradland.attention import attention
from gradland.data import Graph
from gradland.train import History, fit

__all__ = ["normalised_adjacency", "propagate", "attention_propagate", "GCNLayer", "GatedGCNLayer", "GCN", "GatedGCN",
           "MLP", "accuracy", "train_node_classifier"]


# --------------------------------------------------------------------------
# Input checks: metadata everywhere, the node numbers once per call
# --------------------------------------------------------------------------


def _check_graph(x: object, edge_index: object, linear: nn.Linear | None = None, *, name: str = "x",
                 edges: str = "edge_index", checked: bool = False,
                 keep_loops: bool = False) -> tuple[torch.Tensor | int, torch.Tensor]:
    """Node features ``x``, ``(T, d)`` with ``T >= 1`` (``d`` and the dtype and device
    those of ``linear``, if given), or the number of nodes ``T`` of a graph without
    features, and an int64 ``(2, n_e)`` edge index (named ``edges``) on their device;
    unless ``checked``, its node numbers too, dropping its self-loops unless
    ``keep_loops``: one transfer from the device. Returns both."""
    if isinstance(x, int):
        num_nodes, device, nodes = x, None, f"num_nodes = {x}"
    else:
        width, weight = (None, None) if linear is None else (linear.in_features, linear.weight)
        x = _checks.rows(name, x, width, weight, row="node")
        num_nodes, device, nodes = x.shape[0], x.device, f"one per row of {name}"
    _checks.tensor(edges, edge_index, shape="(2, n_e), one edge (source, target) per column")
    if edge_index.dtype != torch.long:
        raise TypeError(f"{edges} must have dtype torch.int64 (long); got {_describe(edge_index)}")
    if edge_index.ndim != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"{edges} must have shape (2, n_e), a column (source, target) per edge; "
                         f"got {_describe(edge_index)}")
    if device is not None and edge_index.device != device:
        raise ValueError(f"{edges} must be on the device of the node features, {device}; got {_describe(edge_index)}")
    if checked or edge_index.numel() == 0 or edge_index.device.type == "meta":
        return x, edge_index
    src, dst = edge_index
    loops = [] if keep_loops else [(src == dst).sum()]
    low, high, *loops = torch.stack([*torch.aminmax(edge_index), *loops]).tolist()  # one transfer
    if low < 0 or high >= num_nodes:
        raise ValueError(f"{edges} must hold node numbers in 0..{num_nodes - 1} ({nodes}); "
                         f"got values from {low} to {high}")
    return x, edge_index[:, src != dst] if loops and loops[0] else edge_index


# --------------------------------------------------------------------------
# The normalised adjacency, dense or sparse, and the propagation
# --------------------------------------------------------------------------


def normalised_adjacency(graph: torch.Tensor, num_nodes: int | None = None, *, sparse: bool = False,
                         dtype: torch.dtype = torch.float32, checked: bool = False) -> torch.Tensor:
    r"""The normalised adjacency with self-loops,
    :math:`\hat{\bm{A}} = \bm{D}^{-1/2} (\bm{A} + \Id) \bm{D}^{-1/2}`.

    :math:`\bm{D}` is the diagonal matrix of the degrees of
    :math:`\bm{A} + \Id`, counted at the receiving end: :math:`D_{ii}` is one
    plus the number of edges into node :math:`i`. A self-loop already in the
    graph is replaced by the one added, so every diagonal entry of
    :math:`\bm{A} + \Id` is 1, as in PyTorch Geometric's ``gcn_norm``. For an
    undirected graph the result is symmetric.

    Parameters
    ----------
    graph : torch.Tensor
        Either an edge index, an integer tensor of shape ``(2, n_e)`` (column
        ``(j, i)`` is an edge from :math:`j` to :math:`i`), or a dense
        adjacency matrix, a floating ``(T, T)`` tensor of zeros and ones with
        ``graph[j, i] = 1`` for an edge from :math:`j` to :math:`i`.
    num_nodes : int, optional
        The number of nodes :math:`T`; required with an edge index.
    sparse : bool
        Return a coalesced sparse COO tensor instead of a dense matrix.
    dtype : torch.dtype
        The floating dtype of the result (with an edge index; a dense
        adjacency keeps its own).
    checked : bool
        Skip the check of the values of ``graph``, as in :func:`propagate`.

    Returns
    -------
    torch.Tensor
        :math:`\hat{\bm{A}}`, shape ``(T, T)``, with ``[j, i]`` the weight of
        the message from :math:`j` to :math:`i`: column :math:`i` is the
        normalised adjacency vector of node :math:`i`.

    Examples
    --------
    >>> edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])  # the path 0 - 1 - 2
    >>> a_hat = normalised_adjacency(edge_index, 3)
    >>> torch.allclose(a_hat, a_hat.T), a_hat.diagonal()
    (True, tensor([0.5000, 0.3333, 0.5000]))
    >>> normalised_adjacency(edge_index, 3, sparse=True)._nnz()   # 4 edges and 3 loops
    7
    """
    _checks.dtype("dtype", dtype, optional=False)
    if isinstance(graph, torch.Tensor) and graph.is_floating_point():
        if graph.ndim != 2 or graph.shape[0] != graph.shape[1]:
            raise ValueError(f"graph, floating so a dense adjacency, must be square (T, T); got {_describe(graph)}")
        if num_nodes is not None and _checks.integer("num_nodes", num_nodes, minimum=1) != graph.shape[0]:
            raise ValueError(f"num_nodes = {num_nodes} does not match the adjacency, {_describe(graph)}")
        if not checked and graph.device.type != "meta" and bool(((graph != 0) & (graph != 1)).any()):
            raise ValueError("graph, a dense adjacency, must hold zeros and ones only")
        a = graph.clone()
        a.fill_diagonal_(1.0)  # A + 𝕀, a loop already present counted once
        d_inv_sqrt = a.sum(dim=0).rsqrt()  # in-degrees: column sums
        a_hat = d_inv_sqrt[:, None] * a * d_inv_sqrt[None, :]
        return a_hat.to_sparse_coo().coalesce() if sparse else a_hat
    if num_nodes is None:
        raise ValueError("num_nodes, the number of nodes, is required with an edge index")
    num_nodes = _checks.integer("num_nodes", num_nodes, minimum=1)
    _, edge_index = _check_graph(num_nodes, graph, edges="graph", checked=checked)
    loops = torch.arange(num_nodes, device=edge_index.device).expand(2, num_nodes)
    src, dst = torch.cat([edge_index, loops], dim=1)
    weight = torch.ones(src.shape[0], dtype=dtype, device=src.device)
    d_inv_sqrt = torch.zeros(num_nodes, dtype=dtype, device=src.device).index_add_(0, dst, weight).rsqrt()
    weight = d_inv_sqrt[src] * d_inv_sqrt[dst]
    if sparse:
        # The indices are valid by construction, so the checks of the sparse invariants are off, for
        # the scope of the call: PyTorch 2.11 and 2.12 warn, reading the global setting, before they apply
        # the constructor's check_invariants=False (pytorch/pytorch#178274, fixed in 2.13).
        with torch.sparse.check_sparse_tensor_invariants(enable=False):
            a_hat = torch.sparse_coo_tensor(torch.stack([src, dst]), weight, (num_nodes, num_nodes))
        return a_hat.coalesce()
    return torch.zeros(num_nodes, num_nodes, dtype=dtype, device=src.device).index_put_((src, dst), weight, accumulate=True)


def propagate(x: torch.Tensor, edge_index: torch.Tensor, *, checked: bool = False) -> torch.Tensor:
    r"""The product :math:`\bm{X} \hat{\bm{A}}` by message passing, without forming
    :math:`\hat{\bm{A}}`.

    Row :math:`i` of the result is
    :math:`D_{ii}^{-1/2} \bigl(D_{ii}^{-1/2} \bm{x}_i + \sum_{j \to i}
    D_{jj}^{-1/2} \bm{x}_j\bigr)`: every node scales its features by
    :math:`D_{jj}^{-1/2}` and sends them along its edges (message), every node
    sums what it receives plus its own scaled features, the self-loop
    (aggregate), and scales the sum by :math:`D_{ii}^{-1/2}` (update). Time
    and memory grow with the number of edges :math:`n_{\mathrm{e}}`, not with
    :math:`T^2`.

    Parameters
    ----------
    x : torch.Tensor
        Node features, shape ``(T, d)``, one node per row.
    edge_index : torch.Tensor
        Integer tensor of shape ``(2, n_e)``; a self-loop in it is replaced by
        the one the normalisation adds.
    checked : bool
        Skip the check of the node numbers and the removal of the self-loops,
        which read ``edge_index`` on the host: for one a model has checked.

    Returns
    -------
    torch.Tensor
        Shape ``(T, d)``: ``normalised_adjacency(edge_index, T).T @ x``.

    Examples
    --------
    >>> edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    >>> x = torch.randn(3, 4)
    >>> torch.allclose(propagate(x, edge_index),
    ...                normalised_adjacency(edge_index, 3).T @ x)
    True
    """
    x, edge_index = _check_graph(x, edge_index, checked=checked)
    src, dst = edge_index  # without self-loops: the check drops them
    # + 1: the self-loop
    degree = x.new_zeros(x.shape[0]).index_add_(0, dst, x.new_ones(dst.shape)) + 1
    scale = degree.rsqrt()[:, None]
    y = x * scale  # D^{-1/2}: each node scales what it sends
    # message y_j along each edge j -> i, summed at i, plus y_i
    out = y.index_add(0, dst, y.index_select(0, src))
    return out * scale  # D^{-1/2} again, at the receiving end


def attention_propagate(x: torch.Tensor, edge_index: torch.Tensor, *, normalisation: str = "symmetric") -> torch.Tensor:
    r"""The propagation of a GCN computed by :func:`gradland.attention.attention`.

    Self-attention with the scale :math:`\beta = 0` gives every score the
    value 0, so the softargmax spreads each query's coefficients evenly over
    the keys it may look at; with the graph (and self-loops) as the mask, the
    coefficient vector of node :math:`i` is its adjacency vector divided by
    its degree: column :math:`i` of :math:`(\bm{A} + \Id) \bm{D}^{-1}`, one
    column per node as in the book (the code's weights, one row per query,
    are its transpose). This is the ``"mean"``
    normalisation. The ``"symmetric"`` one, :math:`\hat{\bm{A}}`, follows by
    scaling the values by :math:`D_{jj}^{-1/2}` and the outputs by
    :math:`D_{ii}^{1/2}`. Any queries and keys give zero scores; zeros, unlike
    the features, cannot overflow (:math:`0 \cdot \infty` is NaN).

    It forms a dense ``(T, T)`` mask, so it is a check of the idea, not a way
    to compute on large graphs. For finite features :func:`propagate` gives
    the same numbers; a NaN or infinite feature makes every output NaN here
    (a dense product), but only the node's and its neighbours' there.

    Examples
    --------
    >>> edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    >>> x = torch.randn(3, 4)
    >>> torch.allclose(attention_propagate(x, edge_index), propagate(x, edge_index))
    True
    """
    x, edge_index = _check_graph(x, edge_index)
    _checks.choice("normalisation", normalisation, ("symmetric", "mean"))
    T = x.shape[0]
    src, dst = edge_index
    mask = torch.eye(T, dtype=torch.bool, device=x.device)  # the self-loops
    mask[dst, src] = True  # query i may look at key j when there is an edge j -> i
    qk = x.new_zeros(T, 1)  # any queries and keys do at beta = 0; zeros never overflow
    if normalisation == "mean":
        return attention(qk, qk, x, mask, scale=0.0)
    degree = mask.sum(dim=-1, keepdim=True).to(x.dtype)
    return attention(qk, qk, x * degree.rsqrt(), mask, scale=0.0) * degree.sqrt()


# --------------------------------------------------------------------------
# The two layers: the GCN layer and the gated GCN layer
# --------------------------------------------------------------------------


class GCNLayer(nn.Module):
    r"""The graph convolutional layer of Kipf and Welling:
    :math:`\bm{H} = \bm{W} \bm{X} \hat{\bm{A}} + \bm{b}`.

    Each node's features are mapped by the same matrix :math:`\bm{W}` (a
    :math:`k = 1` convolution over the nodes), then combined with the
    normalised adjacency vectors as coefficients. In the code's layout, one
    node per row, the output is ``A_hat.T @ (x @ W.T) + b``.

    Parameters
    ----------
    d_in, d_out : int
        Sizes of the input and output features.
    sparse : bool
        Propagate by message passing along the edges (:func:`propagate`);
        with ``False``, form the dense :math:`\hat{\bm{A}}` and multiply.
    bias : bool
        Learn the bias :math:`\bm{b}`.
    device, dtype
        Where and in what floating dtype to create the parameters.

    Attributes
    ----------
    lin : torch.nn.Linear
        The map :math:`\bm{W}`, weight of shape ``(d_out, d_in)``, no bias.
    bias : torch.nn.Parameter or None
        :math:`\bm{b}`, shape ``(d_out,)``. These two are laid out as
        ``lin.weight`` and ``bias`` of PyTorch Geometric's ``GCNConv``, so
        weights copy across.

    Examples
    --------
    >>> layer = GCNLayer(4, 2)
    >>> edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    >>> x = torch.randn(3, 4)
    >>> layer(x, edge_index).shape
    torch.Size([3, 2])
    >>> dense = GCNLayer(4, 2, sparse=False)
    >>> _ = dense.load_state_dict(layer.state_dict())
    >>> torch.allclose(dense(x, edge_index), layer(x, edge_index), atol=1e-6)
    True
    """

    def __init__(self, d_in: int, d_out: int, *, sparse: bool = True, bias: bool = True,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        (self.d_in, self.d_out), self.sparse = _checks.sizes(d_in=d_in, d_out=d_out), bool(sparse)
        _checks.dtype("dtype", dtype)
        _checks.device("device", device)
        self.lin = nn.Linear(d_in, d_out, bias=False, device=device, dtype=dtype)
        self.bias = nn.Parameter(torch.zeros(d_out, device=device, dtype=dtype)) if bias else None
        nn.init.xavier_uniform_(self.lin.weight)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, *,
                checked: bool = False) -> torch.Tensor:
        """New node features ``(T, d_out)`` from ``x``, shape ``(T, d_in)``; ``checked``
        as in :func:`propagate`."""
        x, edge_index = _check_graph(x, edge_index, self.lin, checked=checked)
        values = self.lin(x)  # W x_j for every node j: the values of attention
        if self.sparse:
            out = propagate(values, edge_index, checked=True)
        else:
            a_hat = normalised_adjacency(edge_index, len(x), dtype=x.dtype,
                                         checked=True)
            out = a_hat.T @ values  # row i: sum over j of A_hat[j, i] W x_j
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        return f"{self.d_in}, {self.d_out}, sparse={self.sparse}, bias={self.bias is not None}"


class GatedGCNLayer(nn.Module):
    r"""The residual gated graph convolutional layer, with normalised edge gates.

    For an edge :math:`j \to i` the edge representation is a per-edge linear
    map (a :math:`k = 1` convolution over the edges) of the two ends, and of
    the edge's own features :math:`\bm{h}_{ij}` if there are any (argument ``h_edge``),

    .. math::

       \hat{\bm{e}}_{ij} = \bm{W}_q \bm{h}_i + \bm{W}_k \bm{h}_j + \bm{W}_e \bm{h}_{ij},

    and the gate is its sigmoid, normalised over the edges into :math:`i`
    channel by channel,
    :math:`\bm{\zeta}_{ij} = \operatorname{sigmoid}(\hat{\bm{e}}_{ij}) /
    (\sum_{j'} \operatorname{sigmoid}(\hat{\bm{e}}_{ij'}) + \epsilon)`.
    The node's new features are

    .. math::

       \hat{\bm{h}}_i = \bm{W}_s \bm{h}_i
       + \sum_{j \to i} \bm{\zeta}_{ij} \odot \bm{W}_v \bm{h}_j, \qquad
       \bm{h}_i' = \bm{h}_i + \operatorname{ReLU}(\hat{\bm{h}}_i),

    and the edge features, when given, are updated the same way,
    :math:`\bm{h}_{ij}' = \bm{h}_{ij} + \operatorname{ReLU}(\hat{\bm{e}}_{ij})`.
    A self-loop of the edge index is an edge like any other.

    Parameters
    ----------
    d : int
        Size of the node (and edge) features, the same in and out because of
        the residual connections.
    edge_features : bool
        Whether edges carry features :math:`\bm{h}_{ij}` (adds :math:`\bm{W}_e`).
    normalise : bool
        Normalise the gates (Dwivedi et al.); without it
        :math:`\bm{\zeta}_{ij} = \operatorname{sigmoid}(\hat{\bm{e}}_{ij})` (Bresson and
        Laurent).
    residual : bool
        Add the input to the output.
    eps : float
        The :math:`\epsilon` of the normalisation, finite and at least 0.
    device, dtype
        Where and in what floating dtype to create the parameters.

    Attributes
    ----------
    w_s, w_v, w_q, w_k, w_e : torch.nn.Linear
        :math:`\bm{W}_s` (with a bias: the layer's bias), :math:`\bm{W}_v`
        (with a bias), :math:`\bm{W}_q` (with the gate's bias),
        :math:`\bm{W}_k` and :math:`\bm{W}_e` (without).

    Examples
    --------
    >>> layer = GatedGCNLayer(8)
    >>> edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    >>> h = torch.randn(3, 8)
    >>> h_new, h_edge_new = layer(h, edge_index)  # node and edge features
    >>> h_new.shape, h_edge_new.shape
    (torch.Size([3, 8]), torch.Size([4, 8]))
    >>> zeta = layer.gates(h, edge_index)  # one gate vector per edge, shape (n_e, d)
    >>> into_1 = zeta[[0, 3]]  # the two edges into node 1
    >>> into_1.sum(dim=0).allclose(torch.ones(8), atol=1e-5)
    True
    """

    def __init__(self, d: int, *, edge_features: bool = False, normalise: bool = True, residual: bool = True,
                 eps: float = 1e-6, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        (self.d,), self.normalise, self.residual = _checks.sizes(d=d), bool(normalise), bool(residual)
        _checks.dtype("dtype", dtype)
        _checks.device("device", device)
        self.eps = _checks.real("eps", eps, minimum=0.0)
        kw = {"device": device, "dtype": dtype}
        self.w_s = nn.Linear(d, d, **kw)  # the node itself
        self.w_v = nn.Linear(d, d, **kw)  # what a neighbour sends: the values
        self.w_q = nn.Linear(d, d, **kw)  # the receiving node, in the gate
        self.w_k = nn.Linear(d, d, bias=False, **kw)  # the sending node, in the gate
        self.w_e = nn.Linear(d, d, bias=False, **kw) if edge_features else None

    def _edge_scores(self, h: torch.Tensor, edge_index: torch.Tensor, h_edge: torch.Tensor | None) -> torch.Tensor:
        """The scores of the edges, before the gates' sigmoid; ``h_edge`` is checked
        here, where it is used: given if, and only if, the layer has ``w_e``."""
        if (h_edge is None) != (self.w_e is None):
            wanted = "edge features h_edge of shape (n_e, d)" if self.w_e is not None else "no edge features (h_edge=None)"
            raise ValueError(f"this layer was built with edge_features={self.w_e is not None}: pass {wanted}")
        if h_edge is not None:
            _checks.tensor("h_edge", h_edge, floating=True, exact=(edge_index.shape[1], self.d),
                           shape=f"({edge_index.shape[1]}, {self.d}), one edge per row, as in edge_index",
                           reference=self.w_e.weight)
        src, dst = edge_index
        e_hat = self.w_q(h).index_select(0, dst) + self.w_k(h).index_select(0, src)  # receiver i and sender j of each edge
        return e_hat if h_edge is None else e_hat + self.w_e(h_edge)

    def _normalise(self, gate: torch.Tensor, dst: torch.Tensor, num_nodes: int) -> torch.Tensor:
        total = gate.new_zeros(num_nodes, gate.shape[1]).index_add_(0, dst, gate)  # sum over the edges into each node
        return gate / (total.index_select(0, dst) + self.eps)

    def gates(self, h: torch.Tensor, edge_index: torch.Tensor, h_edge: torch.Tensor | None = None) -> torch.Tensor:
        r"""The gates :math:`\bm{\zeta}_{ij}`, shape ``(n_e, d)``, one row per edge."""
        h, edge_index = _check_graph(h, edge_index, self.w_s, name="h", keep_loops=True)
        gate = torch.sigmoid(self._edge_scores(h, edge_index, h_edge))
        return self._normalise(gate, edge_index[1], h.shape[0]) if self.normalise else gate

    def convolve(self, h: torch.Tensor, edge_index: torch.Tensor, h_edge: torch.Tensor | None = None, *,
                 checked: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        r"""The layer before its activation and residual:
        :math:`(\hat{\bm{h}}, \hat{\bm{e}})`; ``checked`` as in :func:`propagate`."""
        h, edge_index = _check_graph(h, edge_index, self.w_s, name="h", checked=checked, keep_loops=True)
        src, dst = edge_index
        # a k = 1 convolution over the edges
        e_hat = self._edge_scores(h, edge_index, h_edge)
        zeta = torch.sigmoid(e_hat)
        if self.normalise:
            zeta = self._normalise(zeta, dst, h.shape[0])
        # message: the gated value of the sender
        messages = zeta * self.w_v(h).index_select(0, src)
        # aggregate: sum at the receiver, plus the node itself
        h_hat = self.w_s(h).index_add(0, dst, messages)
        return h_hat, e_hat

    def forward(self, h: torch.Tensor, edge_index: torch.Tensor, h_edge: torch.Tensor | None = None, *,
                checked: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        r"""New node features ``(T, d)`` and new edge features ``(n_e, d)``, the
        latter :math:`\operatorname{ReLU}(\hat{\bm{e}}_{ij})` (plus ``h_edge``, if
        given, with the residual): a layer without edge features still computes
        them, and a stack may pass them on or drop them."""
        h_hat, e_hat = self.convolve(h, edge_index, h_edge, checked=checked)
        h_new, h_edge_new = F.relu(h_hat), F.relu(e_hat)  # update
        if self.residual:
            h_new = h + h_new
            if h_edge is not None:
                h_edge_new = h_edge + h_edge_new
        return h_new, h_edge_new

    def extra_repr(self) -> str:
        return f"{self.d}, edge_features={self.w_e is not None}, normalise={self.normalise}, residual={self.residual}"


# --------------------------------------------------------------------------
# Three node classifiers and their training
# --------------------------------------------------------------------------


class GCN(nn.Module):
    r"""A stack of :class:`GCNLayer` with ReLUs (and dropout) between them: logits for
    every node.

    With ``layers=2`` it is the model of Kipf and Welling,
    :math:`\hat{\bm{A}}^\top \operatorname{ReLU}(\hat{\bm{A}}^\top \bm{X}
    \bm{W}_1^\top) \bm{W}_2^\top` in the code's layout, each node seeing the nodes
    up to two edges away.

    Parameters
    ----------
    d_in, d_hidden, d_out, layers, dropout
        Sizes of the features, hidden features and logits; number of layers;
        dropout probability in :math:`[0, 1)`. The rest as in :class:`GCNLayer`.

    Examples
    --------
    >>> from gradland.data import karate_club
    >>> g = karate_club()
    >>> GCN(g.x.shape[1], 16, 2)(g.x, g.edge_index).shape
    torch.Size([34, 2])
    """

    def __init__(self, d_in: int, d_hidden: int, d_out: int, *, layers: int = 2, dropout: float = 0.5,
                 sparse: bool = True, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        _checks.sizes(d_in=d_in, d_hidden=d_hidden, d_out=d_out, layers=layers)
        _checks.dtype("dtype", dtype)
        _checks.device("device", device)
        self.dropout = _checks.real("dropout", dropout, minimum=0.0, below=1.0)
        sizes = [d_in] + [d_hidden] * (layers - 1) + [d_out]
        self.layers = nn.ModuleList(GCNLayer(a, b, sparse=sparse, device=device, dtype=dtype)
                                    for a, b in zip(sizes, sizes[1:]))

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(T, d_out)`` from node features ``(T, d_in)``."""
        x, edge_index = _check_graph(x, edge_index, self.layers[0].lin)  # once for all the layers
        for index, layer in enumerate(self.layers):
            x = layer(F.dropout(x, self.dropout, self.training), edge_index, checked=True)
            if index < len(self.layers) - 1:
                x = F.relu(x)
        return x


class GatedGCN(nn.Module):
    r"""A linear embedding, a stack of :class:`GatedGCNLayer`, and a linear read-out:
    logits for every node.

    With ``edge_features=True`` every edge starts from the same learnt vector
    :math:`\bm{h}_{ij}^{0}` (the graphs of the chapter have no edge features of
    their own), and the layers make the edge representations differ. Dropout
    acts on the input and on the node features before every layer. The
    parameters are those of :class:`GCN`, with ``d_hidden`` the size of the
    node and edge representations, and ``edge_features`` and ``normalise``
    those of :class:`GatedGCNLayer`.

    Examples
    --------
    >>> from gradland.data import karate_club
    >>> g = karate_club()
    >>> GatedGCN(g.x.shape[1], 16, 2)(g.x, g.edge_index).shape
    torch.Size([34, 2])
    """

    def __init__(self, d_in: int, d_hidden: int, d_out: int, *, layers: int = 2, dropout: float = 0.5,
                 edge_features: bool = True, normalise: bool = True, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        _checks.sizes(d_in=d_in, d_hidden=d_hidden, d_out=d_out, layers=layers)
        _checks.dtype("dtype", dtype)
        _checks.device("device", device)
        self.dropout = _checks.real("dropout", dropout, minimum=0.0, below=1.0)
        kw = {"device": device, "dtype": dtype}
        self.embed = nn.Linear(d_in, d_hidden, **kw)
        self.edge_init = nn.Parameter(torch.zeros(d_hidden, **kw)) if edge_features else None
        self.layers = nn.ModuleList(GatedGCNLayer(d_hidden, edge_features=edge_features, normalise=normalise, **kw)
                                    for _ in range(layers))
        self.readout = nn.Linear(d_hidden, d_out, **kw)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(T, d_out)`` from node features ``(T, d_in)``."""
        x, edge_index = _check_graph(x, edge_index, self.embed, keep_loops=True)  # once for all the layers
        h = self.embed(F.dropout(x, self.dropout, self.training))
        h_edge = None if self.edge_init is None else self.edge_init.expand(edge_index.shape[1], -1)
        for layer in self.layers:
            h = F.dropout(h, self.dropout, self.training)
            h, h_edge_new = layer(h, edge_index, h_edge, checked=True)
            h_edge = None if h_edge is None else h_edge_new  # without edge features, drop them
        return self.readout(h)


class MLP(nn.Module):
    r"""A multilayer perceptron on each node's features alone: the baseline that ignores
    the graph.

    It takes ``edge_index`` only to share the interface of :class:`GCN`, and
    neither reads nor checks it; the parameters are those of :class:`GCN`.

    Examples
    --------
    >>> from gradland.data import karate_club
    >>> g = karate_club()
    >>> MLP(g.x.shape[1], 16, 2)(g.x, g.edge_index).shape
    torch.Size([34, 2])
    """

    def __init__(self, d_in: int, d_hidden: int, d_out: int, *, layers: int = 2, dropout: float = 0.5,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        _checks.sizes(d_in=d_in, d_hidden=d_hidden, d_out=d_out, layers=layers)
        _checks.dtype("dtype", dtype)
        _checks.device("device", device)
        self.dropout = _checks.real("dropout", dropout, minimum=0.0, below=1.0)
        sizes = [d_in] + [d_hidden] * (layers - 1) + [d_out]
        self.layers = nn.ModuleList(nn.Linear(a, b, device=device, dtype=dtype) for a, b in zip(sizes, sizes[1:]))

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of shape ``(T, d_out)``; ``edge_index`` is ignored."""
        x = _checks.rows("x", x, self.layers[0].in_features, self.layers[0].weight, row="node")
        for index, layer in enumerate(self.layers):
            x = layer(F.dropout(x, self.dropout, self.training))
            if index < len(self.layers) - 1:
                x = F.relu(x)
        return x


def accuracy(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """The fraction of nodes (those where ``mask`` is True, if given) whose largest
    logit is the label.

    Parameters
    ----------
    logits : torch.Tensor
        Floating tensor of shape ``(T, K)``: one row of class scores per node.
    labels : torch.Tensor
        Integer tensor of shape ``(T,)`` with values in ``0 .. K - 1``.
    mask : torch.Tensor, optional
        Boolean tensor of shape ``(T,)``: the nodes to count.

    Returns
    -------
    float
        The fraction of the counted nodes that are classified right.

    Raises
    ------
    TypeError
        If an argument is not a tensor of the kind above (an integer ``mask``
        would be read as a list of node indices: write ``mask.bool()``).
    ValueError
        If the shapes or devices disagree, there is no node or class, a label
        is out of range, a logit is not finite, or ``mask`` selects no node.

    Examples
    --------
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0], [0.0, 2.0]])
    >>> accuracy(logits, torch.tensor([0, 1, 1, 1]))     # the third node is wrong
    0.75
    >>> mask = torch.tensor([False, False, True, True])  # the last two nodes only
    >>> accuracy(logits, torch.tensor([0, 1, 1, 1]), mask)
    0.5
    """
    _checks.tensor("logits", logits, ndim=2, floating=True, shape="(T, K), one row of class scores per node")
    n, classes = logits.shape
    if n == 0 or classes == 0:
        raise ValueError(f"logits must have at least one node and one class; got {_describe(logits)}")
    _checks.per_row("labels", labels, n, logits.device, "the logits")
    if mask is not None:
        _checks.per_row("mask", mask, n, logits.device, "the logits", kind="mask")
    right = logits.argmax(dim=-1) == labels
    mask = torch.ones_like(right) if mask is None else mask
    count = mask.sum(dtype=torch.float32)
    fraction = (right & mask).sum(dtype=torch.float32) / count  # the mean over the mask, in float32
    flags = [((labels < 0) | (labels >= classes)).any(), ~torch.isfinite(logits).all(), count == 0]
    # one transfer from the device for the checks on values and the result
    out_of_range, not_finite, empty, fraction = torch.stack([*(f.float() for f in flags), fraction]).tolist()
    if out_of_range:
        raise ValueError(f"labels must be classes in 0..{classes - 1}; got values from "
                         f"{labels.min().item()} to {labels.max().item()}")
    if not_finite:
        raise ValueError("logits must be finite; got NaN or an infinite value")
    if empty:
        raise ValueError("mask selects no node")
    return fraction


def train_node_classifier(model: nn.Module, graph: Graph, train_mask: torch.Tensor, *, epochs: int = 200,
                          lr: float = 0.01, weight_decay: float = 5e-4, eval_every: int = 1) -> History:
    r"""Semi-supervised node classification: the cross-entropy on the labelled nodes
    only, minimised by :func:`gradland.train.fit`.

    The whole graph goes through the model at every epoch (every node's
    features are propagated), but only the nodes in ``train_mask`` contribute
    to the loss; Adam takes one step per epoch. Accuracies are measured in
    evaluation mode (no dropout), on the training nodes and on the others,
    every ``eval_every`` epochs and after the last one. Dropout draws from
    PyTorch's global random state, which the caller seeds.

    Parameters
    ----------
    model : torch.nn.Module
        Called as ``model(x, edge_index)``, it returns ``(T, K)`` logits.
    graph : gradland.data.Graph
        The graph, its node features and a label in ``0 .. K - 1`` per node.
    train_mask : torch.Tensor
        Boolean, shape ``(T,)``: the labelled nodes, at least one.
    epochs, eval_every, lr, weight_decay
        Epochs (at least 1) and epochs between evaluations; Adam's learning
        rate (above 0) and weight decay (at least 0), both finite.

    Returns
    -------
    gradland.train.History
        ``loss`` and ``lr`` at every epoch; the epochs (from 1) ``evaluated``,
        with ``train_accuracy`` and ``test_accuracy`` (NaN with no test node).

    Raises
    ------
    TypeError, ValueError
        For an argument of the wrong type or out of range, node numbers in
        ``graph.edge_index`` outside ``0 .. T - 1``, or labels outside
        ``0 .. K - 1``, with ``K`` the number of logits the model returns; an
        error of the model's own check of its input says so.
    FloatingPointError
        If the loss is NaN or infinite: the run has diverged.

    Examples
    --------
    >>> from gradland.data import karate_club
    >>> _ = torch.manual_seed(0)
    >>> g = karate_club()
    >>> train = torch.zeros(34, dtype=torch.bool); train[[0, 33]] = True
    >>> history = train_node_classifier(GCN(34, 8, 2), g, train, epochs=50)
    >>> history.train_accuracy[-1]
    1.0
    """
    _checks.module("model", model, "a torch.nn.Module, called as model(x, edge_index)")
    _checks.instance("graph", graph, Graph)
    x = _checks.rows("graph.x", graph.x, row="node")
    n = x.shape[0]
    _checks.per_row("graph.labels", graph.labels, n, x.device, "graph.x")
    _, edges = _check_graph(x, graph.edge_index, name="graph.x", edges="graph.edge_index", checked=True)  # values below
    _checks.per_row("train_mask", train_mask, n, x.device, "graph.x", kind="mask")
    epochs = _checks.integer("epochs", epochs, minimum=1)
    eval_every = _checks.integer("eval_every", eval_every, minimum=1)
    optimiser = torch.optim.Adam(model.parameters(), lr=_checks.real("lr", lr, positive=True),
                                 weight_decay=_checks.real("weight_decay", weight_decay, minimum=0.0), foreach=True)
    train = train_mask.nonzero().squeeze(1)  # the labelled nodes, read once from the device
    if train.numel() == 0:
        raise ValueError("train_mask selects no node: at least one labelled node is needed")
    ends = torch.aminmax(edges) if edges.numel() else (edges.new_zeros(()),) * 2
    low, high, first, last = torch.stack([*torch.aminmax(graph.labels.long()), *ends]).tolist()  # one transfer
    if first < 0 or last >= n:
        raise ValueError(f"graph.edge_index must hold node numbers in 0..{n - 1} (one per row of graph.x); "
                         f"got values from {first} to {last}")
    if low < 0:
        raise ValueError(f"graph.labels must be classes 0, 1, ...; got values from {low} to {high}")
    train_labels, test_mask = graph.labels[train], ~train_mask

    def loss(epoch: int) -> torch.Tensor:
        model.train()
        try:
            logits = model(x, graph.edge_index)
        except (TypeError, ValueError) as error:  # the model's own check: say what it was called on
            raise type(error)(f"model(graph.x, graph.edge_index) refused its input: {error}") from error
        if epoch == 1 and not (isinstance(logits, torch.Tensor) and logits.ndim == 2 and logits.shape[0] == n
                               and logits.shape[1] > high and logits.is_floating_point()):
            raise ValueError(f"model must return floating logits of shape ({n}, K), with K > {high}, the largest "
                             f"label; got {_describe(logits)}")
        return F.cross_entropy(logits[train], train_labels)

    def evaluate(epoch: int, history: History) -> None:
        if epoch == 0 or (epoch % eval_every and epoch != epochs):
            return
        model.eval()
        with torch.no_grad():
            logits = model(x, graph.edge_index)
        history.record("evaluated", epoch)
        history.record("train_accuracy", accuracy(logits, graph.labels, train_mask))
        history.record("test_accuracy", accuracy(logits, graph.labels, test_mask) if train.numel() < n else math.nan)

    return fit(loss, optimiser, epochs, callbacks=[evaluate])
