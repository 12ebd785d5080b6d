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
to the second, as in PyTorch Geometric); an
undirected graph lists each edge in both directions. A dense adjacency matrix
has ``adjacency[j, i] = 1`` for that edge, so column :math:`i` is the
adjacency vector of node :math:`i`. Node features are one node per **row**,
a tensor of shape ``(T, d)``.

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
  (the last ignores the graph), and :func:`train_node_classifier`;
* :class:`Graph`, :func:`karate_club`, :func:`sbm` and :func:`random_graph`,
  the graphs of the chapter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from gradland._checks import describe as _describe
from gradland.attention import attention

__all__ = [
    "normalised_adjacency",
    "propagate",
    "attention_propagate",
    "GCNLayer",
    "GatedGCNLayer",
    "GCN",
    "GatedGCN",
    "MLP",
    "History",
    "train_node_classifier",
    "accuracy",
    "Graph",
    "karate_club",
    "sbm",
    "random_graph",
]


# --------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------


def _check_num_nodes(num_nodes: object) -> int:
    if not isinstance(num_nodes, int) or isinstance(num_nodes, bool) or num_nodes < 1:
        raise ValueError(f"num_nodes, the number of nodes, must be a positive int; got {num_nodes!r}")
    return num_nodes


def _check_edge_index(edge_index: object, num_nodes: int) -> torch.Tensor:
    """Check a ``(2, n_e)`` integer tensor whose entries are nodes
    ``0 .. num_nodes - 1``."""
    if not isinstance(edge_index, torch.Tensor):
        raise TypeError(f"edge_index must be a torch.Tensor of shape (2, n_e); got {_describe(edge_index)}")
    if edge_index.dtype != torch.long:
        raise TypeError(f"edge_index must have dtype torch.int64 (long); got {_describe(edge_index)}")
    if edge_index.ndim != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"edge_index must have shape (2, n_e), one edge (source, target) per column; "
                         f"got {_describe(edge_index)}")
    if edge_index.numel():
        low, high = (v.item() for v in torch.aminmax(edge_index))
        if low < 0 or high >= num_nodes:
            raise ValueError(f"edge_index must hold node numbers in 0..{num_nodes - 1}; got values from {low} to {high}")
    return edge_index


def _check_features(name: str, x: object, width: int | None = None) -> torch.Tensor:
    """Check node features: a floating ``(T, d)`` tensor, with ``d == width`` if
    given."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (T, d), one node per row; got {_describe(x)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor; got {_describe(x)}")
    if x.ndim != 2 or x.shape[0] == 0 or (width is not None and x.shape[1] != width):
        wanted = "(T, d)" if width is None else f"(T, {width})"
        raise ValueError(f"{name} must have shape {wanted} with T >= 1, one node per row; got {_describe(x)}")
    return x


def _check_graph_input(x: object, edge_index: object, width: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    x = _check_features("x", x, width)
    edge_index = _check_edge_index(edge_index, x.shape[0])
    if edge_index.device != x.device:
        raise ValueError(f"edge_index must be on the device of x, {x.device}; got {_describe(edge_index)}")
    return x, edge_index


def _without_self_loops(edge_index: torch.Tensor) -> torch.Tensor:
    """The edges that are not self-loops (the layer adds one loop per node itself)."""
    keep = edge_index[0] != edge_index[1]
    return edge_index if bool(keep.all()) else edge_index[:, keep]


# --------------------------------------------------------------------------
# The normalised adjacency, dense or sparse, and the propagation
# --------------------------------------------------------------------------


def normalised_adjacency(
    graph: torch.Tensor,
    num_nodes: int | None = None,
    *,
    sparse: bool = False,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
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
    if isinstance(graph, torch.Tensor) and graph.is_floating_point():
        if graph.ndim != 2 or graph.shape[0] != graph.shape[1]:
            raise ValueError(f"a dense adjacency must be a square (T, T) matrix; got {_describe(graph)}")
        if num_nodes is not None and _check_num_nodes(num_nodes) != graph.shape[0]:
            raise ValueError(f"num_nodes = {num_nodes} does not match the adjacency, {_describe(graph)}")
        a = graph.clone()
        a.fill_diagonal_(1.0)  # A + 𝕀, a loop already present counted once
        d_inv_sqrt = a.sum(dim=0).rsqrt()  # in-degrees: column sums
        a_hat = d_inv_sqrt[:, None] * a * d_inv_sqrt[None, :]
        return a_hat.to_sparse_coo().coalesce() if sparse else a_hat
    if num_nodes is None:
        raise ValueError("num_nodes, the number of nodes, is required with an edge index")
    num_nodes = _check_num_nodes(num_nodes)
    edge_index = _without_self_loops(_check_edge_index(graph, num_nodes))
    loops = torch.arange(num_nodes, device=edge_index.device).expand(2, num_nodes)
    src, dst = torch.cat([edge_index, loops], dim=1)
    weight = torch.ones(src.shape[0], dtype=dtype, device=src.device)
    d_inv_sqrt = torch.zeros(num_nodes, dtype=dtype, device=src.device).index_add_(0, dst, weight).rsqrt()
    weight = d_inv_sqrt[src] * d_inv_sqrt[dst]
    if sparse:
        # The indices are valid by construction (checked above, plus the loops), so PyTorch's checks
        # of the sparse invariants are off, and the choice is made explicitly, for the scope of the
        # call. The constructor's own argument, check_invariants=False, is not enough: PyTorch 2.11
        # and 2.12 read the global setting, and warn that nobody has made it ("Sparse invariant
        # checks are implicitly disabled"), before they apply that argument (pytorch/pytorch#178274,
        # fixed in 2.13). The scope sets the global setting before the constructor reads it.
        with torch.sparse.check_sparse_tensor_invariants(enable=False):
            a_hat = torch.sparse_coo_tensor(torch.stack([src, dst]), weight, (num_nodes, num_nodes))
        return a_hat.coalesce()
    return torch.zeros(num_nodes, num_nodes, dtype=dtype, device=src.device).index_put_((src, dst), weight, accumulate=True)


def propagate(x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
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
    x, edge_index = _check_graph_input(x, edge_index)
    src, dst = _without_self_loops(edge_index)
    # + 1: the self-loop
    degree = torch.bincount(dst, minlength=x.shape[0]).to(x.dtype) + 1
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
    :math:`D_{ii}^{1/2}`.

    It forms a dense ``(T, T)`` mask, so it is a check of the idea, not a way
    to compute on large graphs; :func:`propagate` gives the same numbers.

    Examples
    --------
    >>> edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    >>> x = torch.randn(3, 4)
    >>> torch.allclose(attention_propagate(x, edge_index), propagate(x, edge_index))
    True
    """
    x, edge_index = _check_graph_input(x, edge_index)
    if normalisation not in ("symmetric", "mean"):
        raise ValueError(f"normalisation must be 'symmetric' or 'mean'; got {normalisation!r}")
    T = x.shape[0]
    src, dst = edge_index
    mask = torch.eye(T, dtype=torch.bool, device=x.device)  # the self-loops
    mask[dst, src] = True  # query i may look at key j when there is an edge j -> i
    if normalisation == "mean":
        return attention(x, x, x, mask, scale=0.0)
    degree = mask.sum(dim=-1, keepdim=True).to(x.dtype)
    return attention(x, x, x * degree.rsqrt(), mask, scale=0.0) * degree.sqrt()


# --------------------------------------------------------------------------
# The GCN layer
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
        for name, value in (("d_in", d_in), ("d_out", d_out)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        self.d_in, self.d_out, self.sparse = d_in, d_out, bool(sparse)
        self.lin = nn.Linear(d_in, d_out, bias=False, device=device, dtype=dtype)
        self.bias = nn.Parameter(torch.zeros(d_out, device=device, dtype=dtype)) if bias else None
        nn.init.xavier_uniform_(self.lin.weight)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """The new features of the nodes, shape ``(T, d_out)``, from ``x`` of shape
        ``(T, d_in)``."""
        x, edge_index = _check_graph_input(x, edge_index, self.d_in)
        values = self.lin(x)  # W x_j for every node j: the values of attention
        if self.sparse:
            out = propagate(values, edge_index)
        else:
            a_hat = normalised_adjacency(edge_index, x.shape[0], dtype=x.dtype)
            out = a_hat.T @ values  # row i: sum over j of A_hat[j, i] W x_j
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        return f"{self.d_in}, {self.d_out}, sparse={self.sparse}, bias={self.bias is not None}"


# --------------------------------------------------------------------------
# The gated GCN layer
# --------------------------------------------------------------------------


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
        The :math:`\epsilon` of the normalisation.

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
    >>> layer(h, edge_index).shape
    torch.Size([3, 8])
    >>> zeta = layer.gates(h, edge_index)  # one gate vector per edge, shape (n_e, d)
    >>> into_1 = zeta[[0, 3]]  # the two edges into node 1
    >>> into_1.sum(dim=0).allclose(torch.ones(8), atol=1e-5)
    True
    """

    def __init__(self, d: int, *, edge_features: bool = False, normalise: bool = True, residual: bool = True,
                 eps: float = 1e-6, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        if not isinstance(d, int) or isinstance(d, bool) or d < 1:
            raise ValueError(f"d must be a positive int; got {d!r}")
        if not eps >= 0:
            raise ValueError(f"eps must be non-negative; got {eps!r}")
        self.d, self.normalise, self.residual, self.eps = d, bool(normalise), bool(residual), float(eps)
        kw = {"device": device, "dtype": dtype}
        self.w_s = nn.Linear(d, d, **kw)  # the node itself
        self.w_v = nn.Linear(d, d, **kw)  # what a neighbour sends: the values
        self.w_q = nn.Linear(d, d, **kw)  # the receiving node, in the gate
        self.w_k = nn.Linear(d, d, bias=False, **kw)  # the sending node, in the gate
        self.w_e = nn.Linear(d, d, bias=False, **kw) if edge_features else None

    def _check(self, h: object, edge_index: object, h_edge: object) -> tuple[torch.Tensor, torch.Tensor]:
        h, edge_index = _check_graph_input(h, edge_index, self.d)
        if (h_edge is None) != (self.w_e is None):
            wanted = "edge features h_edge of shape (n_e, d)" if self.w_e is not None else "no edge features (h_edge=None)"
            raise ValueError(f"this layer was built with edge_features={self.w_e is not None}: pass {wanted}")
        if h_edge is not None:
            _check_features("h_edge", h_edge, self.d)
            if h_edge.shape[0] != edge_index.shape[1]:
                raise ValueError(f"h_edge must have one row per edge, {edge_index.shape[1]}; got {_describe(h_edge)}")
        return h, edge_index

    def edge_scores(self, h: torch.Tensor, edge_index: torch.Tensor, h_edge: torch.Tensor | None = None) -> torch.Tensor:
        r"""The edge representations :math:`\hat{\bm{e}}_{ij}`, shape ``(n_e, d)``, one
        row per edge."""
        h, edge_index = self._check(h, edge_index, h_edge)
        return self._edge_scores(h, edge_index, h_edge)

    def _edge_scores(self, h: torch.Tensor, edge_index: torch.Tensor, h_edge: torch.Tensor | None) -> torch.Tensor:
        src, dst = edge_index
        e_hat = self.w_q(h).index_select(0, dst) + self.w_k(h).index_select(0, src)  # receiver i and sender j of each edge
        return e_hat if h_edge is None else e_hat + self.w_e(h_edge)

    def _normalise(self, gate: torch.Tensor, dst: torch.Tensor, num_nodes: int) -> torch.Tensor:
        total = gate.new_zeros(num_nodes, gate.shape[1]).index_add_(0, dst, gate)  # sum over the edges into each node
        return gate / (total.index_select(0, dst) + self.eps)

    def gates(self, h: torch.Tensor, edge_index: torch.Tensor, h_edge: torch.Tensor | None = None) -> torch.Tensor:
        r"""The gates :math:`\bm{\zeta}_{ij}`, shape ``(n_e, d)``, one row per edge."""
        gate = torch.sigmoid(self.edge_scores(h, edge_index, h_edge))
        return self._normalise(gate, edge_index[1], h.shape[0]) if self.normalise else gate

    def convolve(
        self, h: torch.Tensor, edge_index: torch.Tensor, h_edge: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""The layer before its activation and residual:
        :math:`(\hat{\bm{h}}, \hat{\bm{e}})`."""
        h, edge_index = self._check(h, edge_index, h_edge)
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

    def forward(
        self, h: torch.Tensor, edge_index: torch.Tensor, h_edge: torch.Tensor | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """New node features ``(T, d)``, and new edge features ``(n_e, d)`` if
        ``h_edge`` was given."""
        h_hat, e_hat = self.convolve(h, edge_index, h_edge)
        h_new = F.relu(h_hat)  # update
        if self.residual:
            h_new = h + h_new
        if h_edge is None:
            return h_new
        h_edge_new = F.relu(e_hat)
        return h_new, (h_edge + h_edge_new if self.residual else h_edge_new)

    def extra_repr(self) -> str:
        return (f"{self.d}, edge_features={self.w_e is not None}, normalise={self.normalise}, "
                f"residual={self.residual}")


# --------------------------------------------------------------------------
# Three node classifiers and their training
# --------------------------------------------------------------------------


def _check_sizes(d_in: object, d_hidden: object, d_out: object, layers: object, dropout: object) -> None:
    for name, value in (("d_in", d_in), ("d_hidden", d_hidden), ("d_out", d_out), ("layers", layers)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int; got {value!r}")
    if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a probability in [0, 1); got {dropout!r}")


class GCN(nn.Module):
    r"""A stack of :class:`GCNLayer` with ReLUs (and dropout) between them: logits for
    every node.

    With ``layers=2`` it is the model of Kipf and Welling,
    :math:`\hat{\bm{A}}^\top \operatorname{ReLU}(\hat{\bm{A}}^\top \bm{X}
    \bm{W}_1^\top) \bm{W}_2^\top` in the code's layout, each node seeing the nodes
    up to two edges away.

    Examples
    --------
    >>> g = karate_club()
    >>> GCN(g.x.shape[1], 16, 2)(g.x, g.edge_index).shape
    torch.Size([34, 2])
    """

    def __init__(self, d_in: int, d_hidden: int, d_out: int, *, layers: int = 2, dropout: float = 0.5,
                 sparse: bool = True) -> None:
        super().__init__()
        _check_sizes(d_in, d_hidden, d_out, layers, dropout)
        sizes = [d_in] + [d_hidden] * (layers - 1) + [d_out]
        self.layers = nn.ModuleList(GCNLayer(a, b, sparse=sparse) for a, b in zip(sizes, sizes[1:]))
        self.dropout = float(dropout)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(T, d_out)`` from node features ``(T, d_in)``."""
        for index, layer in enumerate(self.layers):
            x = layer(F.dropout(x, self.dropout, self.training), edge_index)
            if index < len(self.layers) - 1:
                x = F.relu(x)
        return x


class GatedGCN(nn.Module):
    r"""A linear embedding, a stack of :class:`GatedGCNLayer`, and a linear read-out:
    logits for every node.

    With ``edge_features=True`` every edge starts from the same learnt vector
    :math:`\bm{h}_{ij}^{0}` (the graphs of the chapter have no edge features of
    their own), and the layers make the edge representations differ. Dropout
    acts on the input and on the node features before every layer.

    Examples
    --------
    >>> g = karate_club()
    >>> GatedGCN(g.x.shape[1], 16, 2)(g.x, g.edge_index).shape
    torch.Size([34, 2])
    """

    def __init__(self, d_in: int, d_hidden: int, d_out: int, *, layers: int = 2, dropout: float = 0.5,
                 edge_features: bool = True, normalise: bool = True) -> None:
        super().__init__()
        _check_sizes(d_in, d_hidden, d_out, layers, dropout)
        self.embed = nn.Linear(d_in, d_hidden)
        self.edge_init = nn.Parameter(torch.zeros(d_hidden)) if edge_features else None
        self.layers = nn.ModuleList(
            GatedGCNLayer(d_hidden, edge_features=edge_features, normalise=normalise) for _ in range(layers)
        )
        self.readout = nn.Linear(d_hidden, d_out)
        self.dropout = float(dropout)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(T, d_out)`` from node features ``(T, d_in)``."""
        x, edge_index = _check_graph_input(x, edge_index, self.embed.in_features)
        h = self.embed(F.dropout(x, self.dropout, self.training))
        h_edge = None if self.edge_init is None else self.edge_init.expand(edge_index.shape[1], -1)
        for layer in self.layers:
            h = F.dropout(h, self.dropout, self.training)
            if h_edge is None:
                h = layer(h, edge_index)
            else:
                h, h_edge = layer(h, edge_index, h_edge)
        return self.readout(h)


class MLP(nn.Module):
    r"""A multilayer perceptron on each node's features alone: the baseline that ignores
    the graph.

    It takes ``edge_index`` only to share the interface of :class:`GCN`.

    Examples
    --------
    >>> g = karate_club()
    >>> MLP(g.x.shape[1], 16, 2)(g.x, g.edge_index).shape
    torch.Size([34, 2])
    """

    def __init__(self, d_in: int, d_hidden: int, d_out: int, *, layers: int = 2, dropout: float = 0.5) -> None:
        super().__init__()
        _check_sizes(d_in, d_hidden, d_out, layers, dropout)
        sizes = [d_in] + [d_hidden] * (layers - 1) + [d_out]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.dropout = float(dropout)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of shape ``(T, d_out)``; ``edge_index`` is ignored."""
        x = _check_features("x", x, self.layers[0].in_features)
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
        If the shapes disagree, a label is out of range, a logit is not finite,
        or ``mask`` selects no node.

    Examples
    --------
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0], [0.0, 2.0]])
    >>> accuracy(logits, torch.tensor([0, 1, 1, 1]))     # the third node is wrong
    0.75
    >>> mask = torch.tensor([False, False, True, True])  # the last two nodes only
    >>> accuracy(logits, torch.tensor([0, 1, 1, 1]), mask)
    0.5
    """
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point() or logits.dim() != 2:
        raise TypeError(f"logits must be a floating tensor of shape (T, K); got {_describe(logits)}")
    n, classes = logits.shape
    if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.is_complex() \
            or labels.dtype == torch.bool:
        raise TypeError(f"labels must be an integer tensor of shape ({n},); got {_describe(labels)}")
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), one per row of logits; got {_describe(labels)}")
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise TypeError(f"mask must be a boolean tensor of shape ({n},) (for 0/1 values, mask.bool()); "
                            f"got {_describe(mask)}")
        if mask.shape != (n,):
            raise ValueError(f"mask must have shape ({n},); got {_describe(mask)}")
    # one transfer from the device for the three checks on values
    out_of_range, not_finite = torch.stack(
        [((labels < 0) | (labels >= classes)).any(), ~torch.isfinite(logits).all()]).tolist()
    if out_of_range:
        raise ValueError(f"labels must be classes in 0..{classes - 1}; got values from "
                         f"{labels.min().item()} to {labels.max().item()}")
    if not_finite:
        raise ValueError("logits must be finite; got NaN or an infinite value")
    right = logits.argmax(dim=-1) == labels
    if mask is not None:
        right = right[mask]
        if right.numel() == 0:
            raise ValueError("mask selects no node")
    return right.float().mean().item()


@dataclass
class History:
    """What :func:`train_node_classifier` records: the loss at every epoch, the
    accuracies at the epochs listed in ``evaluated`` (counted from 1)."""

    loss: list[float] = field(default_factory=list)
    evaluated: list[int] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)


def train_node_classifier(
    model: nn.Module,
    graph: Graph,
    train_mask: torch.Tensor,
    *,
    epochs: int = 200,
    lr: float = 0.01,
    weight_decay: float = 5e-4,
    eval_every: int = 1,
) -> History:
    r"""Semi-supervised node classification: the cross-entropy on the labelled nodes
    only.

    The whole graph goes through the model at every epoch (every node's
    features are propagated), but only the nodes in ``train_mask`` contribute
    to the loss; Adam takes one step per epoch. Accuracies are measured in
    evaluation mode (no dropout), on the training nodes and on the others,
    every ``eval_every`` epochs and after the last one.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> g = karate_club()
    >>> train = torch.zeros(34, dtype=torch.bool); train[[0, 33]] = True
    >>> history = train_node_classifier(GCN(34, 8, 2), g, train, epochs=50)
    >>> history.train_accuracy[-1]
    1.0
    """
    if not isinstance(graph, Graph):
        raise TypeError(f"graph must be a gradland.gcn.Graph; got {type(graph).__name__}")
    n = graph.num_nodes
    if not isinstance(train_mask, torch.Tensor) or train_mask.dtype != torch.bool or train_mask.shape != (n,):
        raise ValueError(f"train_mask must be a boolean tensor of shape ({n},); got {_describe(train_mask)}")
    if not bool(train_mask.any()):
        raise ValueError("train_mask selects no node: at least one labelled node is needed")
    for name, value in (("epochs", epochs), ("eval_every", eval_every)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int; got {value!r}")
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay, foreach=True)
    test_mask = ~train_mask
    history = History()
    for epoch in range(1, epochs + 1):
        model.train()
        optimiser.zero_grad()
        logits = model(graph.x, graph.edge_index)
        loss = F.cross_entropy(logits[train_mask], graph.labels[train_mask])
        loss.backward()
        optimiser.step()
        history.loss.append(loss.item())
        if epoch % eval_every and epoch != epochs:
            continue
        model.eval()
        with torch.no_grad():
            logits = model(graph.x, graph.edge_index)
        history.evaluated.append(epoch)
        history.train_accuracy.append(accuracy(logits, graph.labels, train_mask))
        history.test_accuracy.append(accuracy(logits, graph.labels, test_mask) if test_mask.any() else math.nan)
    return history


# --------------------------------------------------------------------------
# Graphs
# --------------------------------------------------------------------------


@dataclass
class Graph:
    """A graph with node features and node labels.

    Attributes
    ----------
    edge_index : torch.Tensor
        Shape ``(2, n_e)``, int64; an undirected graph lists each edge both ways.
    x : torch.Tensor
        Node features, shape ``(T, d)``.
    labels : torch.Tensor
        One class per node, shape ``(T,)``, int64.
    """

    edge_index: torch.Tensor
    x: torch.Tensor
    labels: torch.Tensor

    @property
    def num_nodes(self) -> int:
        """The number of nodes :math:`T`."""
        return self.x.shape[0]

    def to(self, device: torch.device | str) -> Graph:
        """The same graph with its tensors on ``device``."""
        return Graph(self.edge_index.to(device), self.x.to(device), self.labels.to(device))


def _networkx():
    try:
        import networkx
    except ImportError as error:  # pragma: no cover - networkx is in requirements.txt
        raise ImportError("the graph loaders need networkx: pip install networkx") from error
    return networkx


def _both_ways(edges: list[tuple[int, int]]) -> torch.Tensor:
    one_way = torch.tensor(edges, dtype=torch.long).reshape(-1, 2).T
    both = torch.cat([one_way, one_way.flip(0)], dim=1)
    return both[:, torch.argsort(both[1] * (both.max() + 1) + both[0])]  # sorted by receiver, then sender


def karate_club() -> Graph:
    r"""Zachary's karate club: 34 members, 78 friendships, and the faction each joined.

    The labels are 0 for the members who followed the instructor (``"Mr. Hi"``)
    and 1 for those who followed the administrator (``"Officer"``). The
    members have no features of their own, so ``x`` is the identity
    :math:`\Id_{34}`: each node is known only by its number and its edges.

    Examples
    --------
    >>> g = karate_club()
    >>> g.num_nodes, g.edge_index.shape, g.labels.bincount().tolist()
    (34, torch.Size([2, 156]), [17, 17])
    """
    nx = _networkx()
    graph = nx.karate_club_graph()
    labels = torch.tensor([int(graph.nodes[i]["club"] != "Mr. Hi") for i in range(graph.number_of_nodes())])
    n = graph.number_of_nodes()
    return Graph(_both_ways(list(graph.edges())), torch.eye(n), labels)


def sbm(
    sizes: tuple[int, ...] = (100, 100, 100),
    p_in: float = 0.05,
    p_out: float = 0.01,
    *,
    features: int = 16,
    signal: float = 1.0,
    seed: int = 0,
) -> Graph:
    r"""A stochastic block model with noisy node features that hint at the blocks.

    Two nodes of the same block are joined with probability ``p_in``, of
    different blocks with probability ``p_out`` (``networkx``'s
    ``stochastic_block_model``, seeded). Node :math:`i` of block :math:`c`
    gets the features :math:`\bm{x}_i = s\, \bm{\mu}_c + \bm{\epsilon}_i`, with
    :math:`\bm{\mu}_c` a random unit vector per block, :math:`s` the
    ``signal`` and :math:`\bm{\epsilon}_i \sim \mathcal{N}(\bm{0}, \Id)`. The
    label is the block.

    Examples
    --------
    >>> g = sbm((20, 30), 0.3, 0.02, features=4, seed=1)
    >>> g.num_nodes, g.x.shape, g.labels.bincount().tolist()
    (50, torch.Size([50, 4]), [20, 30])
    """
    nx = _networkx()
    if not sizes or not all(isinstance(s, int) and s >= 1 for s in sizes):
        raise ValueError(f"sizes must be a non-empty sequence of positive ints; got {sizes!r}")
    if not (0 <= p_out <= 1 and 0 <= p_in <= 1):
        raise ValueError(f"p_in and p_out must be probabilities; got {p_in!r} and {p_out!r}")
    if not isinstance(features, int) or features < 1:
        raise ValueError(f"features must be a positive int; got {features!r}")
    k = len(sizes)
    probs = [[p_in if a == b else p_out for b in range(k)] for a in range(k)]
    graph = nx.stochastic_block_model(list(sizes), probs, seed=seed)
    labels = torch.repeat_interleave(torch.arange(k), torch.tensor(sizes))
    generator = torch.Generator().manual_seed(seed)
    means = F.normalize(torch.randn(k, features, generator=generator), dim=1)
    x = signal * means[labels] + torch.randn(labels.shape[0], features, generator=generator)
    edges = list(graph.edges())
    edge_index = _both_ways(edges) if edges else torch.zeros(2, 0, dtype=torch.long)
    return Graph(edge_index, x, labels)


def random_graph(num_nodes: int, edges: int, *, seed: int = 0, device: torch.device | str | None = None) -> torch.Tensor:
    r"""The edge index of a random directed graph: ``edges`` pairs of nodes drawn
    uniformly.

    Pairs may repeat and may be self-loops; for large sparse graphs these are
    rare. The mean number of edges into a node is ``edges / num_nodes``.

    Examples
    --------
    >>> random_graph(1000, 5000).shape
    torch.Size([2, 5000])
    """
    num_nodes = _check_num_nodes(num_nodes)
    if not isinstance(edges, int) or edges < 0:
        raise ValueError(f"edges must be a non-negative int; got {edges!r}")
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(num_nodes, (2, edges), generator=generator).to(device)
