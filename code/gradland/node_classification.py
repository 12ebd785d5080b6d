r"""Semi-supervised node classification: three classifiers and their training.

This module is the code of the last two sections of Chapter 15 of the book,
Zachary's karate club and a stochastic block model. Given a graph, features
for every node, and the labels of a few of them, a classifier gives every
node logits over the classes; it is trained on the cross-entropy of the
labelled nodes alone, while the whole graph goes through it. The layers come
from :mod:`gradland.gcn`, the graphs from :mod:`gradland.data`.

A model checks the edge index once per call, its node numbers included, and
tells its layers ``checked=True``, so that they read nothing on the host.

Top to bottom:

* :class:`GCN`, a stack of :class:`~gradland.gcn.GCNLayer`, the model of
  Kipf and Welling;
* :class:`GatedGCN`, an embedding, a stack of
  :class:`~gradland.gcn.GatedGCNLayer` and a read-out;
* :class:`MLP`, a perceptron on each node's features, the baseline that
  ignores the graph;
* :func:`accuracy`, the fraction of nodes classified right, and
  :func:`train_node_classifier`, which trains any of the three with
  :func:`gradland.train.fit` on a :class:`gradland.data.Graph`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gradland import _checks
from gradland._checks import describe as _describe
from gradland.data import Graph
from gradland.gcn import GatedGCNLayer, GCNLayer, _check_graph
from gradland.train import History, fit

__all__ = ["GCN", "GatedGCN", "MLP", "accuracy", "train_node_classifier"]


class GCN(nn.Module):
    r"""A stack of :class:`~gradland.gcn.GCNLayer` with ReLUs (and dropout) between
    them: logits for every node.

    With ``layers=2`` it is the model of Kipf and Welling,
    :math:`\hat{\bm{A}}^\top \operatorname{ReLU}(\hat{\bm{A}}^\top \bm{X}
    \bm{W}_1^\top) \bm{W}_2^\top` in the code's layout, each node seeing the nodes
    up to two edges away.

    Parameters
    ----------
    d_in, d_hidden, d_out, layers, dropout
        Sizes of the features, hidden features and logits; number of layers;
        dropout probability in :math:`[0, 1)`.
    sparse, device, dtype
        As in :class:`~gradland.gcn.GCNLayer`.

    Raises
    ------
    TypeError
        If a size or ``layers`` is not an int, ``dropout`` not a real number,
        ``dtype`` not a floating dtype, or ``device`` not a device.
    ValueError
        If a size or ``layers`` is below 1, ``dropout`` is outside
        :math:`[0, 1)`, or ``device`` names no device here.

    Examples
    --------
    >>> from gradland.data import karate_club
    >>> g = karate_club()
    >>> GCN(g.x.shape[1], 16, 2)(g.x, g.edge_index).shape
    torch.Size([34, 2])
    """

    def __init__(
        self,
        d_in: int,
        d_hidden: int,
        d_out: int,
        *,
        layers: int = 2,
        dropout: float = 0.5,
        sparse: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        _checks.sizes(d_in=d_in, d_hidden=d_hidden, d_out=d_out, layers=layers)
        _checks.factory(device, dtype)
        self.dropout = _checks.real("dropout", dropout, minimum=0.0, below=1.0)
        sizes = [d_in] + [d_hidden] * (layers - 1) + [d_out]
        self.layers = nn.ModuleList(
            GCNLayer(a, b, sparse=sparse, device=device, dtype=dtype) for a, b in zip(sizes, sizes[1:])
        )

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """The logits of every node.

        Parameters
        ----------
        x : torch.Tensor
            Node features, shape ``(T, d_in)``, of the model's dtype and on its
            device.
        edge_index : torch.Tensor
            Integer tensor of shape ``(2, n_e)``, checked once for all the
            layers.

        Returns
        -------
        torch.Tensor
            Shape ``(T, d_out)``.

        Raises
        ------
        TypeError, ValueError
            As :meth:`gradland.gcn.GCNLayer.forward`.
        """
        x, edge_index = _check_graph(x, edge_index, self.layers[0].lin)  # once for all the layers
        for index, layer in enumerate(self.layers):
            x = layer(F.dropout(x, self.dropout, self.training), edge_index, checked=True)
            if index < len(self.layers) - 1:
                x = F.relu(x)
        return x


class GatedGCN(nn.Module):
    r"""A linear embedding, a stack of :class:`~gradland.gcn.GatedGCNLayer`, and a
    linear read-out: logits for every node.

    With ``edge_features=True`` every edge starts from the same learnt vector
    :math:`\bm{h}_{ij}^{0}` (the graphs of the chapter have no edge features of
    their own), and the layers make the edge representations differ. Dropout
    acts on the input and on the node features before every layer.

    Parameters
    ----------
    d_in, d_hidden, d_out, layers, dropout, device, dtype
        As in :class:`GCN`, with ``d_hidden`` the size of the node and edge
        representations.
    edge_features, normalise : bool
        As in :class:`~gradland.gcn.GatedGCNLayer`.

    Raises
    ------
    TypeError, ValueError
        As :class:`GCN`.

    Examples
    --------
    >>> from gradland.data import karate_club
    >>> g = karate_club()
    >>> GatedGCN(g.x.shape[1], 16, 2)(g.x, g.edge_index).shape
    torch.Size([34, 2])
    """

    def __init__(
        self,
        d_in: int,
        d_hidden: int,
        d_out: int,
        *,
        layers: int = 2,
        dropout: float = 0.5,
        edge_features: bool = True,
        normalise: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        _checks.sizes(d_in=d_in, d_hidden=d_hidden, d_out=d_out, layers=layers)
        _checks.factory(device, dtype)
        self.dropout = _checks.real("dropout", dropout, minimum=0.0, below=1.0)
        kw = {"device": device, "dtype": dtype}
        self.embed = nn.Linear(d_in, d_hidden, **kw)
        self.edge_init = nn.Parameter(torch.zeros(d_hidden, **kw)) if edge_features else None
        self.layers = nn.ModuleList(
            GatedGCNLayer(d_hidden, edge_features=edge_features, normalise=normalise, **kw) for _ in range(layers)
        )
        self.readout = nn.Linear(d_hidden, d_out, **kw)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """The logits of every node.

        Parameters
        ----------
        x, edge_index : torch.Tensor
            As in :meth:`GCN.forward`; a self-loop is an edge like any other.

        Returns
        -------
        torch.Tensor
            Shape ``(T, d_out)``.

        Raises
        ------
        TypeError, ValueError
            As :meth:`GCN.forward`.
        """
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
    neither reads nor checks it.

    Parameters
    ----------
    d_in, d_hidden, d_out, layers, dropout, device, dtype
        As in :class:`GCN`.

    Raises
    ------
    TypeError, ValueError
        As :class:`GCN`.

    Examples
    --------
    >>> from gradland.data import karate_club
    >>> g = karate_club()
    >>> MLP(g.x.shape[1], 16, 2)(g.x, g.edge_index).shape
    torch.Size([34, 2])
    """

    def __init__(
        self,
        d_in: int,
        d_hidden: int,
        d_out: int,
        *,
        layers: int = 2,
        dropout: float = 0.5,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        _checks.sizes(d_in=d_in, d_hidden=d_hidden, d_out=d_out, layers=layers)
        _checks.factory(device, dtype)
        self.dropout = _checks.real("dropout", dropout, minimum=0.0, below=1.0)
        sizes = [d_in] + [d_hidden] * (layers - 1) + [d_out]
        self.layers = nn.ModuleList(nn.Linear(a, b, device=device, dtype=dtype) for a, b in zip(sizes, sizes[1:]))

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor | None = None) -> torch.Tensor:
        r"""The logits of every node, from its own features.

        Parameters
        ----------
        x : torch.Tensor
            Node features, shape ``(T, d_in)``, of the model's dtype and on its
            device.
        edge_index : object, optional
            Ignored.

        Returns
        -------
        torch.Tensor
            Shape ``(T, d_out)``.

        Raises
        ------
        TypeError
            If ``x`` is not a floating tensor of the model's dtype.
        ValueError
            If ``x`` is not ``(T, d_in)`` with :math:`T \geq 1`, or not on the
            model's device.
        """
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
        raise ValueError(
            f"labels must be classes in 0..{classes - 1}; got values from "
            f"{labels.min().item()} to {labels.max().item()}"
        )
    if not_finite:
        raise ValueError("logits must be finite; got NaN or an infinite value")
    if empty:
        raise ValueError("mask selects no node")
    return fraction


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
    optimiser = torch.optim.Adam(
        model.parameters(),
        lr=_checks.real("lr", lr, positive=True),
        weight_decay=_checks.real("weight_decay", weight_decay, minimum=0.0),
        foreach=True,
    )
    train = train_mask.nonzero().squeeze(1)  # the labelled nodes, read once from the device
    if train.numel() == 0:
        raise ValueError("train_mask selects no node: at least one labelled node is needed")
    ends = torch.aminmax(edges) if edges.numel() else (edges.new_zeros(()),) * 2
    low, high, first, last = torch.stack([*torch.aminmax(graph.labels.long()), *ends]).tolist()  # one transfer
    if first < 0 or last >= n:
        raise ValueError(
            f"graph.edge_index must hold node numbers in 0..{n - 1} (one per row of graph.x); "
            f"got values from {first} to {last}"
        )
    if low < 0:
        raise ValueError(f"graph.labels must be classes 0, 1, ...; got values from {low} to {high}")
    train_labels, test_mask = graph.labels[train], ~train_mask

    def loss(epoch: int) -> torch.Tensor:
        model.train()
        try:
            logits = model(x, graph.edge_index)
        except (TypeError, ValueError) as error:  # the model's own check: say what it was called on
            raise type(error)(f"model(graph.x, graph.edge_index) refused its input: {error}") from error
        if epoch == 1 and not (
            isinstance(logits, torch.Tensor)
            and logits.ndim == 2
            and logits.shape[0] == n
            and logits.shape[1] > high
            and logits.is_floating_point()
        ):
            raise ValueError(
                f"model must return floating logits of shape ({n}, K), with K > {high}, the largest "
                f"label; got {_describe(logits)}"
            )
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
