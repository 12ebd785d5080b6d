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
  edge representations.

The node classifiers built from these layers, and their training, are in
:mod:`gradland.node_classification`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gradland import _checks
from gradland._checks import describe as _describe
from gradland.attention import attention

__all__ = ["normalised_adjacency", "propagate", "attention_propagate", "GCNLayer", "GatedGCNLayer"]


# --------------------------------------------------------------------------
# Input checks: metadata everywhere, the node numbers once per call
# --------------------------------------------------------------------------


def _check_graph(
    x: object,
    edge_index: object,
    linear: nn.Linear | None = None,
    *,
    name: str = "x",
    edges: str = "edge_index",
    checked: bool = False,
    keep_loops: bool = False,
) -> tuple[torch.Tensor | int, torch.Tensor]:
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
        raise ValueError(
            f"{edges} must have shape (2, n_e), a column (source, target) per edge; got {_describe(edge_index)}"
        )
    if device is not None and edge_index.device != device:
        raise ValueError(f"{edges} must be on the device of the node features, {device}; got {_describe(edge_index)}")
    if checked or edge_index.numel() == 0 or edge_index.device.type == "meta":
        return x, edge_index
    src, dst = edge_index
    loops = [] if keep_loops else [(src == dst).sum()]
    low, high, *loops = torch.stack([*torch.aminmax(edge_index), *loops]).tolist()  # one transfer
    if low < 0 or high >= num_nodes:
        raise ValueError(
            f"{edges} must hold node numbers in 0..{num_nodes - 1} ({nodes}); got values from {low} to {high}"
        )
    return x, edge_index[:, src != dst] if loops and loops[0] else edge_index


# --------------------------------------------------------------------------
# The normalised adjacency, dense or sparse, and the propagation
# --------------------------------------------------------------------------


def normalised_adjacency(
    graph: torch.Tensor,
    num_nodes: int | None = None,
    *,
    sparse: bool = False,
    dtype: torch.dtype = torch.float32,
    checked: bool = False,
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
    checked : bool
        Skip the check of the values of ``graph``, as in :func:`propagate`.

    Returns
    -------
    torch.Tensor
        :math:`\hat{\bm{A}}`, shape ``(T, T)``, with ``[j, i]`` the weight of
        the message from :math:`j` to :math:`i`: column :math:`i` is the
        normalised adjacency vector of node :math:`i`.

    Raises
    ------
    TypeError
        If ``dtype`` is not a floating dtype, ``num_nodes`` not an int, or
        ``graph`` neither a floating tensor nor an int64 one.
    ValueError
        If a dense ``graph`` is not square, does not match ``num_nodes`` or
        holds other values than 0 and 1; if an edge index comes without
        ``num_nodes``, ``num_nodes`` is below 1, or the edge index is not
        ``(2, n_e)`` or holds a node number outside ``0 .. T - 1``.

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
    a_hat = torch.zeros(num_nodes, num_nodes, dtype=dtype, device=src.device)
    return a_hat.index_put_((src, dst), weight, accumulate=True)


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

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point tensor or ``edge_index`` not an int64
        tensor.
    ValueError
        If ``x`` is not ``(T, d)`` with :math:`T \geq 1`, ``edge_index`` is not
        ``(2, n_e)`` or not on the device of ``x``, or (unless ``checked``)
        holds a node number outside ``0 .. T - 1``.

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

    Parameters
    ----------
    x : torch.Tensor
        Node features, shape ``(T, d)``, one node per row.
    edge_index : torch.Tensor
        Integer tensor of shape ``(2, n_e)``, as in :func:`propagate`.
    normalisation : {"symmetric", "mean"}
        :math:`\hat{\bm{A}}`, or the mean over each node and its neighbours.

    Returns
    -------
    torch.Tensor
        Shape ``(T, d)``; with ``"symmetric"``, the result of :func:`propagate`.

    Raises
    ------
    TypeError, ValueError
        As :func:`propagate`; a :class:`ValueError` for another
        ``normalisation`` too.

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

    Raises
    ------
    TypeError
        If ``d_in`` or ``d_out`` is not an int, ``dtype`` not a floating dtype,
        or ``device`` not a device.
    ValueError
        If ``d_in`` or ``d_out`` is below 1, or ``device`` names no device here.

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

    def __init__(
        self,
        d_in: int,
        d_out: int,
        *,
        sparse: bool = True,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        (self.d_in, self.d_out), self.sparse = _checks.sizes(d_in=d_in, d_out=d_out), bool(sparse)
        _checks.factory(device, dtype)
        self.lin = nn.Linear(d_in, d_out, bias=False, device=device, dtype=dtype)
        self.bias = nn.Parameter(torch.zeros(d_out, device=device, dtype=dtype)) if bias else None
        nn.init.xavier_uniform_(self.lin.weight)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, *, checked: bool = False) -> torch.Tensor:
        r"""The layer's output :math:`\bm{H}`, one node per row.

        Parameters
        ----------
        x : torch.Tensor
            Node features, shape ``(T, d_in)``, of the layer's dtype and on its
            device.
        edge_index : torch.Tensor
            Integer tensor of shape ``(2, n_e)``, on the device of ``x``.
        checked : bool
            As in :func:`propagate`.

        Returns
        -------
        torch.Tensor
            New node features, shape ``(T, d_out)``.

        Raises
        ------
        TypeError
            If ``x`` is not a floating tensor of the layer's dtype, or
            ``edge_index`` not an int64 tensor.
        ValueError
            If ``x`` is not ``(T, d_in)`` with :math:`T \geq 1` or not on the
            layer's device, or ``edge_index`` is not as in :func:`propagate`.
        """
        x, edge_index = _check_graph(x, edge_index, self.lin, checked=checked)
        values = self.lin(x)  # W x_j for every node j: the values of attention
        if self.sparse:
            out = propagate(values, edge_index, checked=True)
        else:
            a_hat = normalised_adjacency(edge_index, len(x), dtype=x.dtype, checked=True)
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

    Raises
    ------
    TypeError
        If ``d`` is not an int, ``eps`` not a real number, ``dtype`` not a
        floating dtype, or ``device`` not a device.
    ValueError
        If ``d`` is below 1, ``eps`` negative or not finite, or ``device`` names
        no device here.

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

    def __init__(
        self,
        d: int,
        *,
        edge_features: bool = False,
        normalise: bool = True,
        residual: bool = True,
        eps: float = 1e-6,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        (self.d,), self.normalise, self.residual = _checks.sizes(d=d), bool(normalise), bool(residual)
        _checks.factory(device, dtype)
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
            wanted = (
                "edge features h_edge of shape (n_e, d)" if self.w_e is not None else "no edge features (h_edge=None)"
            )
            raise ValueError(f"this layer was built with edge_features={self.w_e is not None}: pass {wanted}")
        if h_edge is not None:
            _checks.tensor(
                "h_edge",
                h_edge,
                floating=True,
                exact=(edge_index.shape[1], self.d),
                shape=f"({edge_index.shape[1]}, {self.d}), one edge per row, as in edge_index",
                reference=self.w_e.weight,
            )
        src, dst = edge_index
        # receiver i and sender j of each edge
        e_hat = self.w_q(h).index_select(0, dst) + self.w_k(h).index_select(0, src)
        return e_hat if h_edge is None else e_hat + self.w_e(h_edge)

    def _normalise(self, gate: torch.Tensor, dst: torch.Tensor, num_nodes: int) -> torch.Tensor:
        total = gate.new_zeros(num_nodes, gate.shape[1]).index_add_(0, dst, gate)  # sum over the edges into each node
        return gate / (total.index_select(0, dst) + self.eps)

    def gates(self, h: torch.Tensor, edge_index: torch.Tensor, h_edge: torch.Tensor | None = None) -> torch.Tensor:
        r"""The gates :math:`\bm{\zeta}_{ij}`, one row per edge.

        Parameters
        ----------
        h : torch.Tensor
            Node features :math:`\bm{h}_i`, shape ``(T, d)``, of the layer's
            dtype and on its device.
        edge_index : torch.Tensor
            Integer tensor of shape ``(2, n_e)``; a self-loop is an edge like
            any other.
        h_edge : torch.Tensor, optional
            Edge features :math:`\bm{h}_{ij}`, shape ``(n_e, d)``, one edge per
            row as in ``edge_index``: given if, and only if, the layer was built
            with ``edge_features=True``.

        Returns
        -------
        torch.Tensor
            Shape ``(n_e, d)``: row :math:`k` is the gate of the edge
            ``edge_index[:, k]``.

        Raises
        ------
        TypeError
            If ``h`` or ``h_edge`` is not a floating tensor of the layer's
            dtype, or ``edge_index`` not an int64 tensor.
        ValueError
            If a shape or a device does not fit, ``edge_index`` holds a node
            number outside ``0 .. T - 1``, or ``h_edge`` is given to a layer
            without edge features or left out of one with them.
        """
        h, edge_index = _check_graph(h, edge_index, self.w_s, name="h", keep_loops=True)
        gate = torch.sigmoid(self._edge_scores(h, edge_index, h_edge))
        return self._normalise(gate, edge_index[1], h.shape[0]) if self.normalise else gate

    def convolve(
        self, h: torch.Tensor, edge_index: torch.Tensor, h_edge: torch.Tensor | None = None, *, checked: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""The layer before its activation and residual:
        :math:`(\hat{\bm{h}}, \hat{\bm{e}})`.

        Parameters
        ----------
        h, edge_index, h_edge
            As in :meth:`gates`.
        checked : bool
            As in :func:`propagate`.

        Returns
        -------
        tuple of torch.Tensor
            :math:`\hat{\bm{h}}`, shape ``(T, d)``, one row per node, and
            :math:`\hat{\bm{e}}`, shape ``(n_e, d)``, one row per edge.

        Raises
        ------
        TypeError, ValueError
            As :meth:`gates`, the node numbers unless ``checked``.
        """
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

    def forward(
        self, h: torch.Tensor, edge_index: torch.Tensor, h_edge: torch.Tensor | None = None, *, checked: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""New node features and new edge features.

        Parameters
        ----------
        h, edge_index, h_edge, checked
            As in :meth:`convolve`.

        Returns
        -------
        tuple of torch.Tensor
            the new node features, shape ``(T, d)``, and the new edge features, shape
            ``(n_e, d)``: :math:`\operatorname{ReLU}(\hat{\bm{e}}_{ij})`, plus
            ``h_edge`` with the residual if it was given. A layer without edge
            features still computes them, and a stack may pass them on or drop
            them.

        Raises
        ------
        TypeError, ValueError
            As :meth:`convolve`.
        """
        h_hat, e_hat = self.convolve(h, edge_index, h_edge, checked=checked)
        h_new, h_edge_new = F.relu(h_hat), F.relu(e_hat)  # update
        if self.residual:
            h_new = h + h_new
            if h_edge is not None:
                h_edge_new = h_edge + h_edge_new
        return h_new, h_edge_new

    def extra_repr(self) -> str:
        return f"{self.d}, edge_features={self.w_e is not None}, normalise={self.normalise}, residual={self.residual}"
