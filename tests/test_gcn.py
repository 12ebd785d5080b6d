"""Tests of gradland.gcn: the normalised adjacency, the layers against their formulas and
against PyTorch Geometric, the equivalence with attention, the reads of the edge index on
the host, and the checks. The classifiers and their training are tested in
test_node_classification.py, the graphs in test_data.py."""

import collections
import math
import sys

import pytest
import torch
from gradland.attention import attention_weights
from gradland.data import karate_club, random_graph
from gradland.gcn import GatedGCNLayer, GCNLayer, attention_propagate, normalised_adjacency, propagate
from gradland.node_classification import GCN, GatedGCN, train_node_classifier
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.usefixtures("one_cpu_thread")

F64 = torch.float64


def undirected(n, p, seed):
    """A random undirected graph (each edge both ways, no self-loop) as an edge index."""
    g = torch.Generator().manual_seed(seed)
    upper = (torch.rand(n, n, generator=g) < p).triu(1)
    return (upper | upper.T).nonzero().T.contiguous()


@st.composite
def graphs(draw, directed=False):
    n = draw(st.integers(1, 12))
    p = draw(st.floats(0.0, 1.0))
    seed = draw(st.integers(0, 10_000))
    if not directed:
        return n, undirected(n, p, seed)
    g = torch.Generator().manual_seed(seed)
    return n, (torch.rand(n, n, generator=g) < p).nonzero().T.contiguous()  # may hold self-loops


# ---------------------------------------------------------------- the normalised adjacency


def test_normalised_adjacency_of_a_path_by_hand():
    edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])  # 0 - 1 - 2: degrees with loops 2, 3, 2
    a_hat = normalised_adjacency(edge_index, 3, dtype=F64)
    s2, s3 = 2**-0.5, 3**-0.5
    expected = torch.tensor([[s2 * s2, s2 * s3, 0], [s3 * s2, s3 * s3, s3 * s2], [0, s2 * s3, s2 * s2]], dtype=F64)
    assert torch.allclose(a_hat, expected)


@settings(max_examples=40, deadline=None)
@given(graphs(directed=True))
def test_dense_sparse_and_matrix_forms_agree(graph):
    n, edge_index = graph
    dense = normalised_adjacency(edge_index, n, dtype=F64)
    sparse = normalised_adjacency(edge_index, n, sparse=True, dtype=F64)
    assert sparse.is_sparse and sparse.is_coalesced()
    assert torch.allclose(sparse.to_dense(), dense)
    a = torch.zeros(n, n, dtype=F64)
    a[edge_index[0], edge_index[1]] = 1.0
    assert torch.allclose(normalised_adjacency(a), dense)  # from the dense adjacency matrix
    d = (a.fill_diagonal_(1.0)).sum(dim=0)  # degrees at the receiving end, with the loop
    assert torch.allclose(dense, a / torch.sqrt(d[:, None] * d[None, :]))  # D^-1/2 (A + I) D^-1/2


@settings(max_examples=60, deadline=None)
@given(graphs())
def test_normalised_adjacency_is_symmetric_with_eigenvalues_in_minus_one_one(graph):
    n, edge_index = graph
    a_hat = normalised_adjacency(edge_index, n, dtype=F64)
    assert torch.allclose(a_hat, a_hat.T)
    eigenvalues = torch.linalg.eigvalsh(a_hat)
    assert eigenvalues.max() == pytest.approx(1.0, abs=1e-10)  # the top eigenvalue is exactly 1
    degree_max = torch.bincount(edge_index[1], minlength=n).max().item() if edge_index.numel() else 0
    # the sharper bound of the chapter: lambda_min >= -1 + 2 / (d_max + 1) > -1
    assert eigenvalues.min() >= -1 + 2 / (degree_max + 1) - 1e-10
    # the multiplicity of 1 is the number of connected components
    a = torch.zeros(n, n, dtype=F64)
    a[edge_index[0], edge_index[1]] = 1.0
    components = n - torch.linalg.matrix_rank(torch.diag(a.sum(0)) - a).item()  # Laplacian's kernel
    assert (eigenvalues > 1 - 1e-9).sum().item() == components


def test_without_self_loops_a_bipartite_graph_has_eigenvalue_minus_one():
    edge_index = torch.tensor([[0, 1, 1, 2, 2, 3, 3, 0], [1, 0, 2, 1, 3, 2, 0, 3]])  # the 4-cycle
    a = torch.zeros(4, 4, dtype=F64)
    a[edge_index[0], edge_index[1]] = 1.0
    d = a.sum(0).rsqrt()
    no_loops = d[:, None] * a * d[None, :]
    assert torch.linalg.eigvalsh(no_loops).min().item() == pytest.approx(-1.0)
    assert torch.linalg.eigvalsh(normalised_adjacency(edge_index, 4, dtype=F64)).min().item() > -1 + 1e-6


@settings(max_examples=40, deadline=None)
@given(graphs(directed=True), st.integers(1, 5))
def test_propagate_is_the_product_with_the_normalised_adjacency(graph, d):
    n, edge_index = graph
    x = torch.randn(n, d, dtype=F64)
    expected = normalised_adjacency(edge_index, n, dtype=F64).T @ x
    assert torch.allclose(propagate(x, edge_index), expected)
    assert torch.allclose(attention_propagate(x, edge_index), expected)


@settings(max_examples=30, deadline=None)
@given(graphs(directed=True))
def test_gcn_is_attention_with_the_adjacency_as_given_coefficients(graph):
    n, edge_index = graph
    x = torch.randn(n, 3, dtype=F64)
    # mean normalisation: self-attention at beta = 0, masked by the graph, averages the neighbours
    a = torch.eye(n, dtype=F64)
    a[edge_index[0], edge_index[1]] = 1.0  # A + I, column i: the adjacency vector of node i
    mean = a / a.sum(dim=0)  # columns sum to one: column i of (A + I) D^-1 is the coefficient vector of node i
    assert torch.allclose(attention_propagate(x, edge_index, normalisation="mean"), mean.T @ x)
    # the weights that attention returns are exactly those given coefficients
    weights = attention_weights(x, x, a.T.bool(), scale=0.0)
    assert torch.allclose(weights, mean.T)


# ---------------------------------------------------------------- the GCN layer against PyG


def copy_gcnconv(conv, sparse):
    ours = GCNLayer(conv.in_channels, conv.out_channels, sparse=sparse, bias=conv.bias is not None, dtype=F64)
    with torch.no_grad():
        ours.lin.weight.copy_(conv.lin.weight)
        if conv.bias is not None:
            ours.bias.copy_(torch.randn_like(conv.bias))  # not zero, so that it is really compared
            conv.bias.copy_(ours.bias)
    return ours


@pytest.mark.parametrize("sparse", [True, False])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind", ["undirected", "directed", "isolated", "self-loops"])
def test_gcn_layer_equals_pyg_gcnconv(sparse, bias, kind):
    torch_geometric = pytest.importorskip("torch_geometric")
    torch.manual_seed(0)
    n = 30
    if kind == "undirected":
        edge_index = undirected(n, 0.15, 1)
    elif kind == "directed":
        edge_index = (torch.rand(n, n) < 0.1).fill_diagonal_(False).nonzero().T.contiguous()
    elif kind == "isolated":
        edge_index = undirected(n - 5, 0.2, 2)  # the last five nodes have no edge
    else:
        edge_index = torch.cat([random_graph(n, 80, seed=3), torch.tensor([[4, 7], [4, 7]])], dim=1)
    conv = torch_geometric.nn.GCNConv(5, 4, bias=bias, cached=False).double()
    ours = copy_gcnconv(conv, sparse)
    x = torch.randn(n, 5, dtype=F64, requires_grad=True)
    out, expected = ours(x, edge_index), conv(x, edge_index)
    assert torch.allclose(out, expected, atol=1e-12)
    (grad_ours,) = torch.autograd.grad(out.square().sum(), x)
    (grad_pyg,) = torch.autograd.grad(expected.square().sum(), x)
    assert torch.allclose(grad_ours, grad_pyg, atol=1e-12)


def test_gcn_layer_is_attention_propagation_of_the_values():
    torch.manual_seed(1)
    layer = GCNLayer(4, 3, dtype=F64)
    with torch.no_grad():
        layer.bias.normal_()
    g = karate_club()
    x = torch.randn(34, 4, dtype=F64)
    expected = attention_propagate(layer.lin(x), g.edge_index) + layer.bias
    assert torch.allclose(layer(x, g.edge_index), expected)


# ---------------------------------------------------------------- the gated layer


def test_gated_layer_matches_its_formula_on_a_hand_built_graph():
    torch.manual_seed(2)
    # edges 1 -> 0, 2 -> 0, 0 -> 1, 2 -> 1; node 2 receives nothing
    edge_index = torch.tensor([[1, 2, 0, 2], [0, 0, 1, 1]])
    d = 3
    layer = GatedGCNLayer(d, edge_features=True, dtype=F64)
    h = torch.randn(3, d, dtype=F64)
    e = torch.randn(4, d, dtype=F64)
    h_new, e_new = layer(h, edge_index, e)

    def lin(m, v):
        return m.weight @ v + (m.bias if m.bias is not None else 0)

    e_hat = {}
    for k, (j, i) in enumerate(edge_index.T.tolist()):
        e_hat[k] = lin(layer.w_q, h[i]) + lin(layer.w_k, h[j]) + lin(layer.w_e, e[k])
    for i in range(3):
        incoming = [k for k, (_, t) in enumerate(edge_index.T.tolist()) if t == i]
        total = sum((torch.sigmoid(e_hat[k]) for k in incoming), torch.zeros(d, dtype=F64))
        h_hat = lin(layer.w_s, h[i])
        for k in incoming:
            j = edge_index[0, k]
            zeta = torch.sigmoid(e_hat[k]) / (total + layer.eps)
            h_hat = h_hat + zeta * lin(layer.w_v, h[j])
        assert torch.allclose(h_new[i], h[i] + torch.relu(h_hat))
    for k in range(4):
        assert torch.allclose(e_new[k], e[k] + torch.relu(e_hat[k]))


@settings(max_examples=30, deadline=None)
@given(graphs(directed=True))
def test_gates_sum_to_one_over_the_edges_into_each_node(graph):
    n, edge_index = graph
    layer = GatedGCNLayer(4, eps=0.0, dtype=F64)
    zeta = layer.gates(torch.randn(n, 4, dtype=F64), edge_index)
    assert zeta.shape == (edge_index.shape[1], 4) and bool((zeta > 0).all())
    totals = torch.zeros(n, 4, dtype=F64).index_add_(0, edge_index[1], zeta)
    receives = torch.bincount(edge_index[1], minlength=n) > 0
    assert torch.allclose(totals[receives], torch.ones_like(totals[receives]))
    assert bool((totals[~receives] == 0).all())


def test_gated_layer_without_normalisation_equals_pyg_resgatedgraphconv():
    torch_geometric = pytest.importorskip("torch_geometric")
    torch.manual_seed(3)
    d, n = 6, 25
    conv = torch_geometric.nn.ResGatedGraphConv(d, d).double()
    with torch.no_grad():
        conv.bias.normal_()
    layer = GatedGCNLayer(d, normalise=False, residual=False, dtype=F64)
    with torch.no_grad():
        # PyG's lin_key acts on the receiver x_i, lin_query on the sender x_j
        layer.w_q.weight.copy_(conv.lin_key.weight)
        layer.w_q.bias.copy_(conv.lin_key.bias + conv.lin_query.bias)
        layer.w_k.weight.copy_(conv.lin_query.weight)
        layer.w_v.weight.copy_(conv.lin_value.weight)
        layer.w_v.bias.copy_(conv.lin_value.bias)
        layer.w_s.weight.copy_(conv.lin_skip.weight)
        layer.w_s.bias.copy_(conv.bias)
    edge_index = random_graph(n, 90, seed=4)
    h = torch.randn(n, d, dtype=F64)
    h_hat, _ = layer.convolve(h, edge_index)
    assert torch.allclose(h_hat, conv(h, edge_index), atol=1e-12)
    assert torch.allclose(layer(h, edge_index)[0], torch.relu(h_hat))  # no residual: just the activation


def test_gated_layer_residual_and_edge_outputs():
    layer = GatedGCNLayer(5)
    g = karate_club()
    h = torch.randn(34, 5)
    out, e = layer(h, g.edge_index)  # edge features out, though none came in
    assert out.shape == (34, 5) and e.shape == (156, 5) and bool((e >= 0).all())
    out, e = GatedGCNLayer(5, edge_features=True)(h, g.edge_index, torch.zeros(156, 5))
    assert out.shape == (34, 5) and e.shape == (156, 5) and bool((e >= 0).all())
    with torch.no_grad():  # with every weight at zero the residual layer is the identity
        for p in layer.parameters():
            p.zero_()
    assert torch.equal(layer(h, g.edge_index)[0], h)


# ---------------------------------------------------------------- edgeless graphs, NaN and overflow


def test_without_edges_each_node_keeps_its_own_features():
    x, no_edges = torch.randn(5, 4), torch.zeros(2, 0, dtype=torch.long)
    assert torch.equal(propagate(x, no_edges), x)
    assert torch.allclose(attention_propagate(x, no_edges), x)


def test_attention_propagate_agrees_with_propagate_on_large_features_and_documents_nan():
    """Zero queries and keys cannot overflow: the features themselves made every score
    0 * inf = NaN at 1e30. A NaN feature spreads to every node through the dense product,
    and only to the node's neighbours by message passing, as the docstring says."""
    edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])  # the path 0 - 1 - 2; node 3 alone
    x = torch.full((4, 2), 1e30)
    by_attention = attention_propagate(x, edge_index)
    assert torch.isfinite(by_attention).all()
    assert torch.allclose(by_attention, propagate(x, edge_index))
    x[0, 0] = math.nan
    by_messages, by_attention = propagate(x, edge_index), attention_propagate(x, edge_index)
    assert by_messages[:2, 0].isnan().all() and not by_messages[2:, 0].isnan().any()
    assert by_attention[:, 0].isnan().all() and not by_attention[:, 1].isnan().any()


# ---------------------------------------------------------------- reads of the edge index on the host


@pytest.fixture
def host_reads(monkeypatch):
    """Count the calls that read a tensor's values on the host: on a GPU, each makes the
    CPU wait for the device. Adam's reads of its step counters, CPU tensors, are left out."""
    count = collections.Counter()
    for name in ("item", "tolist", "__bool__", "nonzero"):
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            if "torch/optim" not in sys._getframe(1).f_code.co_filename.replace("\\", "/"):
                count[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    return count


def test_checked_layers_and_propagate_read_nothing(host_reads):
    g = karate_club()
    x = torch.randn(34, 4)
    host_reads.clear()
    GCNLayer(4, 3)(x, g.edge_index, checked=True)
    GCNLayer(4, 3, sparse=False)(x, g.edge_index, checked=True)
    GatedGCNLayer(4)(x, g.edge_index, checked=True)
    propagate(x, g.edge_index, checked=True)
    assert sum(host_reads.values()) == 0
    propagate(x, g.edge_index)  # unchecked: one read for the node numbers and the self-loops
    assert sum(host_reads.values()) == 1


# ---------------------------------------------------------------- input checks


X, EDGES = torch.randn(3, 4), torch.tensor([[0, 1], [1, 2]])


@pytest.mark.parametrize(
    "call, error, message",
    [
        pytest.param(
            lambda: propagate(X, EDGES.int()), TypeError, "edge_index must have dtype torch.int64", id="int32-edges"
        ),
        pytest.param(
            lambda: propagate(X, EDGES.tolist()), TypeError, "edge_index must be a torch.Tensor", id="list-edges"
        ),
        pytest.param(
            lambda: propagate(X, torch.zeros(3, 2, dtype=torch.long)),
            ValueError,
            r"edge_index must have shape \(2, n_e\)",
            id="edges-3-rows",
        ),
        pytest.param(
            lambda: propagate(X, torch.tensor([[0, 3], [1, 2]])),
            ValueError,
            r"node numbers in 0..2 \(one per row of x\); got values from 0 to 3",
            id="node-3-of-3",
        ),
        pytest.param(
            lambda: propagate(X, torch.tensor([[0, -1], [1, 2]])),
            ValueError,
            r"node numbers in 0..2 \(one per row of x\); got values from -1 to 2",
            id="node-minus-1",
        ),
        pytest.param(
            lambda: propagate(X, EDGES.to("meta")),
            ValueError,
            "edge_index must be on the device of the node features, cpu",
            id="edges-on-meta",
        ),
        pytest.param(lambda: propagate(X.long(), EDGES), TypeError, "x must have a floating-point dtype", id="int-x"),
        pytest.param(lambda: propagate(X.tolist(), EDGES), TypeError, "x must be a torch.Tensor", id="list-x"),
        pytest.param(
            lambda: propagate(torch.randn(0, 4), EDGES[:, :0]),
            ValueError,
            r"x must have shape \(n, d\) with n >= 1, one node per row",
            id="no-node",
        ),
        pytest.param(
            lambda: attention_propagate(X, EDGES, normalisation="max"),
            ValueError,
            r"normalisation must be one of \('symmetric', 'mean'\); got 'max'",
            id="normalisation",
        ),
        pytest.param(
            lambda: normalised_adjacency(EDGES),
            ValueError,
            "num_nodes, the number of nodes, is required",
            id="no-num-nodes",
        ),
        pytest.param(
            lambda: normalised_adjacency(EDGES, 0), ValueError, "num_nodes must be at least 1", id="num-nodes-0"
        ),
        pytest.param(
            lambda: normalised_adjacency(torch.ones(2, 3)),
            ValueError,
            "graph, floating so a dense adjacency, must be square",
            id="float-edges",
        ),
        pytest.param(
            lambda: normalised_adjacency(torch.tensor([[0.0, -1.0], [1.0, 0.0]])),
            ValueError,
            "zeros and ones only",
            id="negative-adjacency",
        ),
        pytest.param(
            lambda: normalised_adjacency(EDGES, 3, dtype=torch.int64),
            TypeError,
            "dtype must be a floating-point torch.dtype",
            id="int-dtype",
        ),
        pytest.param(
            lambda: normalised_adjacency(EDGES, 3, sparse=True, dtype=torch.bool),
            TypeError,
            "dtype must be a floating-point torch.dtype",
            id="bool-dtype-sparse",
        ),
        pytest.param(lambda: GCNLayer(0, 2), ValueError, "d_in must be at least 1", id="d_in-0"),
        pytest.param(lambda: GCNLayer(4.0, 2), TypeError, "d_in must be an int", id="d_in-float"),
        pytest.param(
            lambda: GCNLayer(4, 2, dtype=torch.int64), TypeError, "dtype must be a floating-point", id="layer-int-dtype"
        ),
        pytest.param(
            lambda: GCNLayer(4, 2)(torch.randn(3, 5), EDGES),
            ValueError,
            r"x must have shape \(n, 4\) with n >= 1",
            id="layer-width",
        ),
        pytest.param(
            lambda: GCNLayer(4, 2)(X.double(), EDGES),
            TypeError,
            "x must have the model's dtype torch.float32",
            id="layer-float64-x",
        ),
        pytest.param(
            lambda: GCNLayer(4, 2, sparse=False)(X.to("meta"), EDGES.to("meta")),
            ValueError,
            "x must be on the model's device cpu",
            id="layer-x-on-meta",
        ),
        pytest.param(
            lambda: GatedGCNLayer(4)(X, EDGES, torch.randn(2, 4)),
            ValueError,
            "edge_features=False",
            id="unexpected-h_edge",
        ),
        pytest.param(
            lambda: GatedGCNLayer(4, edge_features=True)(X, EDGES, torch.randn(3, 4)),
            ValueError,
            r"h_edge must have shape \(2, 4\), one edge per row",
            id="h_edge-rows",
        ),
        pytest.param(
            lambda: GatedGCNLayer(4, edge_features=True)(X, EDGES, torch.randn(2, 4).double()),
            TypeError,
            "h_edge must have the model's dtype torch.float32",
            id="h_edge-float64",
        ),
        pytest.param(
            lambda: GatedGCNLayer(4)(torch.randn(3, 5), EDGES),
            ValueError,
            r"h must have shape \(n, 4\) with n >= 1",
            id="h-width",
        ),
        pytest.param(lambda: GatedGCNLayer(4).gates(None, EDGES), TypeError, "h must be a torch.Tensor", id="h-None"),
        pytest.param(lambda: GatedGCNLayer(4, eps=math.inf), ValueError, "eps must be a finite number", id="eps-inf"),
        pytest.param(lambda: GatedGCNLayer(4, eps=-1.0), ValueError, "eps must be at least 0", id="eps-negative"),
        pytest.param(lambda: GatedGCNLayer(4, eps="1e-6"), TypeError, "eps must be a real number", id="eps-string"),
    ],
)
def test_gcn_checks_its_inputs(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_layers_take_device_then_dtype():
    for layer in (
        GCNLayer(4, 2, device="cpu", dtype=F64),
        GatedGCNLayer(4, edge_features=True, device="cpu", dtype=F64),
    ):
        assert {p.dtype for p in layer.parameters()} == {F64}
    g = karate_club()
    out = GCNLayer(34, 2, dtype=F64)(g.x.double(), g.edge_index)
    assert out.dtype == F64


def test_layers_and_training_on_every_device(device, host_reads):
    g = karate_club().to(device)
    torch.manual_seed(0)
    train = torch.zeros(34, dtype=torch.bool, device=device)
    train[[0, 33]] = True
    for model in (GCN(34, 16, 2), GatedGCN(34, 16, 2)):
        history = train_node_classifier(model.to(device), g, train, epochs=30)
        assert history.train_accuracy[-1] == 1.0 and history.loss[-1] < history.loss[0]
    x = torch.randn(34, 5, dtype=F64).to(device)
    dense = normalised_adjacency(g.edge_index, 34, dtype=F64)
    assert dense.device.type == device.type
    assert torch.allclose(propagate(x, g.edge_index), dense.T @ x)
    assert torch.allclose(attention_propagate(x, g.edge_index), dense.T @ x)
    layer = GCNLayer(5, 3, device=device, dtype=F64)
    expected = dense.T @ x @ layer.lin.weight.T + layer.bias  # H = A_hat^T X W^T + b, row by row
    # a layer told that its edge index is checked reads nothing back: on a GPU, the CPU waits for nothing
    host_reads.clear()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
    try:
        out = layer(x, g.edge_index, checked=True)
    finally:
        if device.type == "cuda":
            torch.cuda.set_sync_debug_mode("default")
    assert sum(host_reads.values()) == 0, host_reads
    assert out.device.type == device.type
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- the bad-input battery (tests/badinput.py)

from badinput import Arg, battery, module_call  # noqa: E402

BAD_PATH = [[0, 1, 1, 2], [1, 0, 2, 1]]  # the path 0 - 1 - 2, both ways
BAD_DTYPE = Arg("custom", accepts=("None",), custom={"None": None, "int": torch.int64, "str": "float32"})
BAD_DEVICE = Arg("custom", accepts=("None",), custom={"None": None, "nonsense": "nonsense", "int": 1.5})
# an edge index: an int64 one is the valid kind, and any number of edges will do; the meta
# device is a mismatch with the node features (where there are none, see normalised_adjacency)
BAD_EDGES = Arg(
    "tensor",
    accepts=("int64", "wrong-size"),
    custom={
        "float": torch.tensor(BAD_PATH, dtype=torch.float32),
        "int32": torch.tensor(BAD_PATH, dtype=torch.int32),
        "negative": torch.tensor([[0, -1], [1, 0]]),
        "too-large": torch.tensor([[0, 3], [3, 0]]),
    },
)
BAD_NODES = Arg("tensor", mentions=("the model",))  # node features, (T, d), checked against a model
BAD_SIZE = Arg("int", minimum=1)


def _graph(**changes):
    """The valid arguments of a model's forward, or of a layer's: a path of 3 nodes."""
    return {"x": torch.ones(3, 4), "edge_index": torch.tensor(BAD_PATH), **changes}


SPECS = [
    # with an edge index, graph is the only tensor: on the meta device the result is there too
    (
        "gcn.normalised_adjacency",
        normalised_adjacency,
        lambda: {"graph": torch.tensor(BAD_PATH), "num_nodes": 3, "dtype": torch.float32},
        {
            "graph": Arg(
                "tensor",
                accepts=("int64", "wrong-size"),
                omit=("meta",),
                custom={
                    "int32": torch.tensor(BAD_PATH, dtype=torch.int32),
                    "negative": torch.tensor([[0, -1], [1, 0]]),
                    "too-large": torch.tensor([[0, 3], [3, 0]]),
                },
            ),
            "num_nodes": Arg("int", minimum=1, custom={"too-small": 2}),
            "dtype": Arg("custom", custom={"None": None, "int": torch.int64, "str": "float32"}),
        },
    ),
    (
        "gcn.normalised_adjacency(dense)",
        normalised_adjacency,
        lambda: {"graph": torch.ones(3, 3), "num_nodes": 3},
        {
            "graph": Arg(
                "tensor", omit=("meta",), custom={"half": torch.full((3, 3), 0.5), "nan": torch.full((3, 3), math.nan)}
            ),
            "num_nodes": Arg("int", minimum=1, accepts=("None",), custom={"other": 4}),
        },
    ),  # None: the matrix's size
    # features of any width d
    (
        "gcn.propagate",
        propagate,
        _graph,
        {"x": Arg("tensor", accepts=("wrong-size",), mentions=("edge_index",)), "edge_index": BAD_EDGES},
    ),
    (
        "gcn.attention_propagate",
        attention_propagate,
        lambda: _graph(normalisation="mean"),
        {
            "x": Arg("tensor", accepts=("wrong-size",), mentions=("edge_index",)),
            "edge_index": BAD_EDGES,
            "normalisation": Arg("custom", custom={"None": None, "sum": "sum"}),
        },
    ),
    (
        "gcn.GCNLayer",
        GCNLayer,
        lambda: {"d_in": 4, "d_out": 2, "device": None, "dtype": None},
        {"d_in": BAD_SIZE, "d_out": BAD_SIZE, "device": BAD_DEVICE, "dtype": BAD_DTYPE},
    ),
    ("gcn.GCNLayer.forward", module_call(GCNLayer, None, 4, 2), _graph, {"x": BAD_NODES, "edge_index": BAD_EDGES}),
    (
        "gcn.GCNLayer.forward(dense)",
        module_call(GCNLayer, None, 4, 2, sparse=False),
        _graph,
        {"x": BAD_NODES, "edge_index": BAD_EDGES},
    ),
    (
        "gcn.GatedGCNLayer",
        GatedGCNLayer,
        lambda: {"d": 4, "eps": 1e-6, "device": None, "dtype": None},
        {"d": BAD_SIZE, "eps": Arg("real", custom={"negative": -1.0}), "device": BAD_DEVICE, "dtype": BAD_DTYPE},
    ),
    (
        "gcn.GatedGCNLayer.forward",
        module_call(GatedGCNLayer, None, 4, edge_features=True),
        lambda: {"h": torch.ones(3, 4), "edge_index": torch.tensor(BAD_PATH), "h_edge": torch.ones(4, 4)},
        {"h": BAD_NODES, "edge_index": BAD_EDGES, "h_edge": Arg("tensor", mentions=("h_edge",))},
    ),
    (
        "gcn.GatedGCNLayer.gates",
        module_call(GatedGCNLayer, "gates", 4),
        lambda: {"h": torch.ones(3, 4), "edge_index": torch.tensor(BAD_PATH), "h_edge": None},
        {
            "h": BAD_NODES,
            "edge_index": BAD_EDGES,
            "h_edge": Arg("custom", mentions=("edge_features",), custom={"tensor": torch.ones(4, 4), "str": "x"}),
        },
    ),
]
test_the_valid_call_works, test_bad_input_gets_a_clear_error = battery(SPECS)
