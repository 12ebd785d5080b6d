"""Tests of gradland.gcn: the normalised adjacency, the layers against their formulas and
against PyTorch Geometric, the equivalence with attention, the models, the graphs and the checks."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gradland.attention import attention
from gradland.gcn import (
    GCN,
    MLP,
    GatedGCN,
    GatedGCNLayer,
    GCNLayer,
    Graph,
    accuracy,
    attention_propagate,
    karate_club,
    normalised_adjacency,
    propagate,
    random_graph,
    sbm,
    train_node_classifier,
)

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
    _, weights = attention(x, x, x, a.T.bool(), scale=0.0, need_weights=True)
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
    assert torch.allclose(layer(h, edge_index), torch.relu(h_hat))  # no residual: just the activation


def test_gated_layer_residual_and_edge_outputs():
    layer = GatedGCNLayer(5)
    g = karate_club()
    h = torch.randn(34, 5)
    assert layer(h, g.edge_index).shape == (34, 5)
    out, e = GatedGCNLayer(5, edge_features=True)(h, g.edge_index, torch.zeros(156, 5))
    assert out.shape == (34, 5) and e.shape == (156, 5) and bool((e >= 0).all())
    with torch.no_grad():  # with every weight at zero the residual layer is the identity
        for p in layer.parameters():
            p.zero_()
    assert torch.equal(layer(h, g.edge_index), h)


# ---------------------------------------------------------------- models, graphs, training


def test_graph_loaders():
    g = karate_club()
    assert g.num_nodes == 34 and g.edge_index.shape == (2, 156)
    assert g.labels[0].item() == 0 and g.labels[33].item() == 1  # the instructor and the administrator
    flipped = set(map(tuple, g.edge_index.flip(0).T.tolist()))
    assert flipped == set(map(tuple, g.edge_index.T.tolist()))  # undirected
    s1, s2 = sbm((40, 40), 0.3, 0.01, seed=5), sbm((40, 40), 0.3, 0.01, seed=5)
    assert torch.equal(s1.edge_index, s2.edge_index) and torch.equal(s1.x, s2.x)  # seeded
    same = s1.labels[s1.edge_index[0]] == s1.labels[s1.edge_index[1]]
    assert same.float().mean() > 0.8  # most edges stay inside a block
    assert random_graph(10, 7, seed=1).shape == (2, 7)


def test_training_smoke_gcn_beats_the_mlp_on_the_karate_club():
    torch.manual_seed(0)
    g = karate_club()
    train = torch.zeros(34, dtype=torch.bool)
    train[[0, 33]] = True
    gcn = train_node_classifier(GCN(34, 16, 2), g, train, epochs=60)
    mlp = train_node_classifier(MLP(34, 16, 2), g, train, epochs=60)
    gated = train_node_classifier(GatedGCN(34, 16, 2), g, train, epochs=60)
    assert gcn.loss[-1] < gcn.loss[0]
    assert gcn.test_accuracy[-1] > 0.75 > mlp.test_accuracy[-1] - 0.1
    assert gated.train_accuracy[-1] == 1.0


def test_dense_and_sparse_models_agree():
    torch.manual_seed(5)
    sparse = GCN(34, 8, 2, dropout=0.0)
    dense = GCN(34, 8, 2, dropout=0.0, sparse=False)
    dense.load_state_dict(sparse.state_dict())
    g = karate_club()
    assert torch.allclose(sparse(g.x, g.edge_index), dense(g.x, g.edge_index), atol=1e-6)
    assert accuracy(torch.eye(3), torch.tensor([0, 1, 0])) == pytest.approx(2 / 3)


def test_accuracy_refuses_what_it_would_miscount():
    """An integer 0/1 mask would be read as node indices, labels of shape (T, 1) would
    broadcast into a (T, T) table, and out-of-range labels or NaN logits would count."""
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0], [0.0, 2.0]])
    labels = torch.tensor([0, 1, 1, 1])
    assert accuracy(logits, labels, torch.tensor([True, True, False, False])) == 1.0
    with pytest.raises(TypeError, match=r"mask must be a boolean tensor of shape \(4,\) \(for 0/1 values"):
        accuracy(logits, labels, torch.tensor([1, 1, 0, 0]))
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\)"):
        accuracy(logits, labels[:, None])
    with pytest.raises(TypeError, match="labels must be an integer tensor"):
        accuracy(logits, labels.float())
    with pytest.raises(TypeError, match=r"logits must be a floating tensor of shape \(T, K\)"):
        accuracy(logits.long(), labels)
    with pytest.raises(ValueError, match=r"labels must be classes in 0..1; got values from -1 to 1"):
        accuracy(logits, torch.tensor([0, 1, -1, 1]))
    with pytest.raises(ValueError, match="logits must be finite"):
        accuracy(logits.index_fill(0, torch.tensor([1]), math.nan), labels)
    with pytest.raises(ValueError, match="mask selects no node"):
        accuracy(logits, labels, torch.zeros(4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"mask must have shape \(4,\)"):
        accuracy(logits, labels, torch.ones(3, dtype=torch.bool))


# ---------------------------------------------------------------- input checks


def test_input_checks():
    x, edge_index = torch.randn(3, 4), torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(TypeError, match="int64"):
        propagate(x, edge_index.int())
    with pytest.raises(ValueError, match=r"shape \(2, n_e\)"):
        propagate(x, torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"node numbers in 0..2"):
        propagate(x, torch.tensor([[0, 3], [1, 2]]))
    with pytest.raises(ValueError, match="node numbers"):
        propagate(x, torch.tensor([[0, -1], [1, 2]]))
    with pytest.raises(TypeError, match="floating-point"):
        propagate(x.long(), edge_index)
    with pytest.raises(ValueError, match=r"shape \(T, 4\)"):
        GCNLayer(4, 2)(torch.randn(3, 5), edge_index)
    with pytest.raises(ValueError, match="num_nodes, the number of nodes, is required"):
        normalised_adjacency(edge_index)
    with pytest.raises(ValueError, match="square"):
        normalised_adjacency(torch.ones(2, 3))
    with pytest.raises(ValueError, match="positive int"):
        GCNLayer(0, 2)
    with pytest.raises(ValueError, match="edge_features=False"):
        GatedGCNLayer(4)(x, edge_index, torch.randn(2, 4))
    with pytest.raises(ValueError, match="one row per edge"):
        GatedGCNLayer(4, edge_features=True)(x, edge_index, torch.randn(3, 4))
    with pytest.raises(ValueError, match="'symmetric' or 'mean'"):
        attention_propagate(x, edge_index, normalisation="max")
    with pytest.raises(ValueError, match="selects no node"):
        train_node_classifier(MLP(34, 4, 2), karate_club(), torch.zeros(34, dtype=torch.bool))
    with pytest.raises(TypeError, match="gradland.gcn.Graph"):
        train_node_classifier(MLP(34, 4, 2), (x, edge_index), torch.ones(3, dtype=torch.bool))
    with pytest.raises(ValueError, match="dropout"):
        GCN(4, 4, 2, dropout=1.0)
    assert isinstance(karate_club().to("cpu"), Graph)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_layers_and_training_on_cuda():
    g = karate_club().to("cuda")
    torch.manual_seed(0)
    train = torch.zeros(34, dtype=torch.bool, device="cuda")
    train[[0, 33]] = True
    for model in (GCN(34, 16, 2), GatedGCN(34, 16, 2)):
        history = train_node_classifier(model.to("cuda"), g, train, epochs=30)
        assert history.train_accuracy[-1] == 1.0
    x = torch.randn(34, 5, device="cuda", dtype=F64)
    dense = normalised_adjacency(g.edge_index, 34, dtype=F64)
    assert dense.device.type == "cuda"
    assert torch.allclose(propagate(x, g.edge_index), dense.T @ x)
    assert torch.allclose(attention_propagate(x, g.edge_index), dense.T @ x)
