"""Tests of gradland.node_classification: the three classifiers and their agreement, the
accuracy, the training by gradland.train.fit, the reads of the edge index on the host, and
the checks. The layers are tested in test_gcn.py, the graphs in test_data.py."""

import math

import pytest
import test_gcn
import torch
import torch.nn.functional as F
from badinput import Arg, battery, module_call
from gradland.data import Graph, karate_club
from gradland.node_classification import GCN, MLP, GatedGCN, accuracy, train_node_classifier
from gradland.train import History
from test_gcn import BAD_DEVICE, BAD_DTYPE, BAD_EDGES, BAD_NODES, BAD_SIZE, _graph

pytestmark = pytest.mark.usefixtures("one_cpu_thread")

#: The fixture that counts the reads of tensors on the host, shared with the layers' tests.
host_reads = test_gcn.host_reads

F64 = torch.float64


# ---------------------------------------------------------------- the models, on the karate club


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
    with pytest.raises(TypeError, match="logits must have a floating-point dtype"):
        accuracy(logits.long(), labels)
    with pytest.raises(TypeError, match="logits must be a torch.Tensor"):
        accuracy(logits.tolist(), labels)
    with pytest.raises(ValueError, match=r"logits must have shape \(T, K\)"):
        accuracy(logits[0, 0], labels)
    with pytest.raises(ValueError, match="logits must have at least one node and one class"):
        accuracy(logits[:, :0], labels)
    with pytest.raises(ValueError, match="labels must be on the device of the logits"):
        accuracy(logits, labels.to("meta"))
    with pytest.raises(ValueError, match=r"labels must be classes in 0..1; got values from -1 to 1"):
        accuracy(logits, torch.tensor([0, 1, -1, 1]))
    with pytest.raises(ValueError, match="logits must be finite"):
        accuracy(logits.index_fill(0, torch.tensor([1]), math.nan), labels)
    with pytest.raises(ValueError, match="mask selects no node"):
        accuracy(logits, labels, torch.zeros(4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"mask must have shape \(4,\)"):
        accuracy(logits, labels, torch.ones(3, dtype=torch.bool))


@pytest.mark.parametrize(
    "make",
    [
        lambda: GCN(4, 8, 3),
        lambda: GCN(4, 8, 3, sparse=False),
        lambda: GatedGCN(4, 8, 3),
        lambda: GatedGCN(4, 8, 3, edge_features=False),
        lambda: MLP(4, 8, 3),
    ],
    ids=["GCN", "GCN-dense", "GatedGCN", "GatedGCN-no-edge-features", "MLP"],
)
def test_models_take_a_graph_without_edges(make):
    """GatedGCN with its default edge features refused one, naming an internal tensor."""
    x, no_edges = torch.randn(5, 4), torch.zeros(2, 0, dtype=torch.long)
    assert make()(x, no_edges).shape == (5, 3)


# ---------------------------------------------------------------- reads of the edge index on the host


@pytest.mark.parametrize(
    "make",
    [
        lambda: GCN(34, 8, 2),
        lambda: GCN(34, 8, 2, sparse=False),
        lambda: GCN(34, 8, 2, layers=4),
        lambda: GatedGCN(34, 8, 2),
        lambda: MLP(34, 8, 2),
    ],
    ids=["GCN", "GCN-dense", "GCN-4-layers", "GatedGCN", "MLP"],
)
def test_a_model_reads_the_edge_index_once_per_forward(make, host_reads):
    """The node numbers are checked once, in the model, not again in every layer and in
    propagate (a two-layer GCN read the edge index ten times)."""
    model, g = make(), karate_club()
    host_reads.clear()
    model(g.x, g.edge_index)
    assert sum(host_reads.values()) == (0 if isinstance(model, MLP) else 1)


def test_an_epoch_of_training_reads_the_device_a_few_times(host_reads):
    """Once a run, the labelled nodes and the range of the labels; every epoch, the loss
    (gradland.train.fit), the edge index in each of the two forwards, and each accuracy."""
    g, train = karate_club(), torch.zeros(34, dtype=torch.bool)
    train[[0, 33]] = True
    model = GCN(34, 8, 2)
    host_reads.clear()
    train_node_classifier(model, g, train, epochs=1)
    once = sum(host_reads.values())
    host_reads.clear()
    train_node_classifier(model, g, train, epochs=3)
    assert once == 2 + 5 and sum(host_reads.values()) == 2 + 3 * 5


# ---------------------------------------------------------------- training with gradland.train.fit


def hand_written_training(model, graph, train_mask, epochs):
    """The loop train_node_classifier ran before it used gradland.train.fit."""
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4, foreach=True)
    losses = []
    for _ in range(epochs):
        model.train()
        optimiser.zero_grad()
        logits = model(graph.x, graph.edge_index)
        loss = F.cross_entropy(logits[train_mask], graph.labels[train_mask])
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("model_class", [GCN, GatedGCN, MLP])
def test_train_node_classifier_is_fit_with_the_same_numbers(model_class):
    """The same dropout draws in the same order, so the same losses to the last bit; the
    accuracies every eval_every epochs and after the last; the History of gradland.train."""
    g, train = karate_club(), torch.zeros(34, dtype=torch.bool)
    train[[0, 1, 32, 33]] = True
    torch.manual_seed(4)
    history = train_node_classifier(model_class(34, 8, 2), g, train, epochs=12, eval_every=5)
    after = torch.rand(2)
    torch.manual_seed(4)
    assert history.loss == hand_written_training(model_class(34, 8, 2), g, train, epochs=12)
    assert torch.equal(after, torch.rand(2))  # the global random state is where the loop left it
    assert isinstance(history, History) and history.evaluated == [5, 10, 12]
    assert len(history.train_accuracy) == len(history.test_accuracy) == 3 and history.lr == [0.01] * 12
    every = train_node_classifier(MLP(34, 8, 2), g, torch.ones(34, dtype=torch.bool), epochs=2)
    assert every.evaluated == [1, 2] and all(math.isnan(a) for a in every.test_accuracy)  # no test node


# ---------------------------------------------------------------- input checks


X, EDGES = torch.randn(3, 4), torch.tensor([[0, 1], [1, 2]])


@pytest.mark.parametrize(
    "call, error, message",
    [
        pytest.param(lambda: GCN(4, 4, 2, dropout=1.0), ValueError, "dropout must be below 1", id="dropout-1"),
        pytest.param(
            lambda: GCN(4, 4, 2, dropout=-0.1), ValueError, "dropout must be at least 0", id="dropout-negative"
        ),
        pytest.param(
            lambda: GatedGCN(4, 4, 2, dropout=math.nan), ValueError, "dropout must be a finite number", id="dropout-nan"
        ),
        pytest.param(
            lambda: MLP(4, 4, 2, dropout="0.5"), TypeError, "dropout must be a real number", id="dropout-string"
        ),
        pytest.param(lambda: GCN(4, 4, 2, layers=0), ValueError, "layers must be at least 1", id="layers-0"),
        pytest.param(
            lambda: MLP(4, 4, 2, dtype=torch.long), TypeError, "dtype must be a floating-point", id="mlp-dtype"
        ),
        pytest.param(lambda: GCN(4, 4, 2)(X.tolist(), EDGES), TypeError, "x must be a torch.Tensor", id="gcn-list-x"),
        pytest.param(
            lambda: GCN(4, 4, 2)(X.long(), EDGES), TypeError, "x must have a floating-point dtype", id="gcn-int-x"
        ),
        pytest.param(
            lambda: GCN(4, 4, 2)(X.to(torch.complex64), EDGES),
            TypeError,
            "x must have a floating-point dtype",
            id="gcn-complex-x",
        ),
        pytest.param(
            lambda: GCN(4, 4, 2)(X.half(), EDGES),
            TypeError,
            "x must have the model's dtype torch.float32",
            id="gcn-float16-x",
        ),
        pytest.param(
            lambda: GatedGCN(4, 4, 2)(X.double(), EDGES),
            TypeError,
            "x must have the model's dtype torch.float32",
            id="gated-float64-x",
        ),
        pytest.param(
            lambda: MLP(4, 4, 2)(X.to("meta")), ValueError, "x must be on the model's device cpu", id="mlp-x-on-meta"
        ),
    ],
)
def test_models_check_their_inputs(call, error, message):
    with pytest.raises(error, match=message):
        call()


def karate_run(**changes):
    """Train a small GCN on the club for two epochs, with some arguments changed."""
    g, train = karate_club(), torch.zeros(34, dtype=torch.bool)
    train[[0, 33]] = True
    arguments = {"model": GCN(34, 4, 2), "graph": g, "train_mask": train, "epochs": 2, **changes}
    return train_node_classifier(**arguments)


def relabelled(node, label, dtype=torch.long):
    g = karate_club()
    labels = g.labels.clone()
    labels[node] = label
    return Graph(g.edge_index, g.x, labels.to(dtype))


@pytest.mark.parametrize(
    "changes, error, message",
    [
        pytest.param({"model": None}, TypeError, "model must be a torch.nn.Module", id="model-None"),
        pytest.param({"graph": (X, EDGES)}, TypeError, "graph must be a gradland.data.Graph", id="graph-tuple"),
        pytest.param(
            {"train_mask": torch.zeros(34, dtype=torch.bool)},
            ValueError,
            "train_mask selects no node",
            id="no-labelled-node",
        ),
        pytest.param(
            {"train_mask": torch.ones(34, dtype=torch.long)},
            TypeError,
            r"train_mask must be a boolean tensor of shape \(34,\) \(for 0/1 values, train_mask.bool\(\)\)",
            id="int-mask",
        ),
        pytest.param(
            {"train_mask": torch.ones(33, dtype=torch.bool)},
            ValueError,
            r"train_mask must have shape \(34,\)",
            id="mask-33",
        ),
        pytest.param(
            {"train_mask": torch.ones(34, dtype=torch.bool, device="meta")},
            ValueError,
            "train_mask must be on the device of graph.x",
            id="mask-on-meta",
        ),
        pytest.param({"lr": math.inf}, ValueError, "lr must be a finite number", id="lr-inf"),
        pytest.param({"lr": 0.0}, ValueError, "lr must be positive", id="lr-0"),
        pytest.param({"lr": "0.1"}, TypeError, "lr must be a real number", id="lr-string"),
        pytest.param(
            {"weight_decay": -1e-4}, ValueError, "weight_decay must be at least 0", id="weight-decay-negative"
        ),
        pytest.param({"epochs": 0}, ValueError, "epochs must be at least 1", id="epochs-0"),
        pytest.param({"epochs": -1}, ValueError, "epochs must be at least 1", id="epochs-negative"),
        pytest.param({"epochs": 1.5}, TypeError, "epochs must be an int", id="epochs-float"),
        pytest.param({"eval_every": 0}, ValueError, "eval_every must be at least 1", id="eval-every-0"),
        pytest.param(
            {"graph": relabelled(5, -1)},
            ValueError,
            "graph.labels must be classes 0, 1, ...; got values from -1",
            id="label-minus-1-on-a-test-node",
        ),
        pytest.param(
            {"graph": relabelled(5, 5)},
            ValueError,
            r"logits of shape \(34, K\), with K > 5",
            id="label-5-of-2-on-a-test-node",
        ),
        pytest.param(
            {"graph": relabelled(5, 0, torch.float32)},
            TypeError,
            "graph.labels must be an integer tensor",
            id="float-labels",
        ),
        pytest.param({"model": GCN(34, 4, 1)}, ValueError, r"with K > 1, the largest label", id="too-few-logits"),
    ],
)
def test_train_node_classifier_checks_its_arguments(changes, error, message):
    with pytest.raises(error, match=message):
        karate_run(**changes)


def test_labels_must_have_one_entry_per_node():
    g = karate_club()
    with pytest.raises(ValueError, match=r"graph.labels must have shape \(34,\)"):
        karate_run(graph=Graph(g.edge_index, g.x, g.labels[:33]))


def test_models_take_device_then_dtype():
    for model in (
        GCN(4, 8, 2, device="cpu", dtype=F64),
        GatedGCN(4, 8, 2, device="cpu", dtype=F64),
        MLP(4, 8, 2, device="cpu", dtype=F64),
    ):
        assert {p.dtype for p in model.parameters()} == {F64}
    g = karate_club()
    logits = GCN(34, 8, 2, dtype=F64)(g.x.double(), g.edge_index)
    assert logits.dtype == F64


# ---------------------------------------------------------------- the bad-input battery (tests/badinput.py)

BAD_RATE = Arg("real", custom={"negative": -0.1, "one": 1.0})  # a dropout probability, in [0, 1)
BAD_MODEL_ARGS = {
    "d_in": BAD_SIZE,
    "d_hidden": BAD_SIZE,
    "d_out": BAD_SIZE,
    "layers": BAD_SIZE,
    "dropout": BAD_RATE,
    "device": BAD_DEVICE,
    "dtype": BAD_DTYPE,
}


def _train_valid():
    g = karate_club()
    train = torch.zeros(34, dtype=torch.bool)
    train[[0, 33]] = True
    return {
        "model": GCN(34, 4, 2),
        "graph": g,
        "train_mask": train,
        "epochs": 2,
        "lr": 0.01,
        "weight_decay": 5e-4,
        "eval_every": 1,
    }


_KARATE = karate_club()

SPECS = [
    (
        "node_classification.GCN",
        GCN,
        lambda: {"d_in": 4, "d_hidden": 8, "d_out": 2, "layers": 2, "dropout": 0.5, "device": None, "dtype": None},
        BAD_MODEL_ARGS,
    ),
    (
        "node_classification.GCN.forward",
        module_call(GCN, None, 4, 8, 2),
        _graph,
        {"x": BAD_NODES, "edge_index": BAD_EDGES},
    ),
    (
        "node_classification.GatedGCN",
        GatedGCN,
        lambda: {"d_in": 4, "d_hidden": 8, "d_out": 2, "layers": 2, "dropout": 0.5, "device": None, "dtype": None},
        BAD_MODEL_ARGS,
    ),
    (
        "node_classification.GatedGCN.forward",
        module_call(GatedGCN, None, 4, 8, 2),
        _graph,
        {"x": BAD_NODES, "edge_index": BAD_EDGES},
    ),
    (
        "node_classification.MLP",
        MLP,
        lambda: {"d_in": 4, "d_hidden": 8, "d_out": 2, "layers": 2, "dropout": 0.5, "device": None, "dtype": None},
        BAD_MODEL_ARGS,
    ),
    # MLP ignores the graph, by design: it neither reads nor checks edge_index
    ("node_classification.MLP.forward", module_call(MLP, None, 4, 8, 2), _graph, {"x": BAD_NODES}),
    (
        "node_classification.accuracy",
        accuracy,
        lambda: {
            "logits": torch.eye(3, 2),
            "labels": torch.tensor([0, 1, 1]),
            "mask": torch.tensor([True, True, False]),
        },
        {
            "logits": Arg(
                "tensor",
                accepts=("wrong-size",),
                mentions=("labels",),  # any number of classes
                custom={"nan": torch.full((3, 2), math.nan), "empty": torch.zeros(3, 0)},
            ),
            "labels": Arg(
                "tensor",
                accepts=("int64",),
                mentions=("logits",),
                custom={"float": torch.zeros(3), "too-large": torch.tensor([0, 1, 2])},
            ),
            "mask": Arg(
                "tensor",
                accepts=("None", "bool"),
                mentions=("logits",),
                custom={"int": torch.tensor([1, 1, 0]), "none-selected": torch.zeros(3, dtype=torch.bool)},
            ),
        },
    ),
    (
        "node_classification.train_node_classifier",
        train_node_classifier,
        _train_valid,
        {
            "model": Arg(
                "custom",
                custom={
                    "None": None,
                    "function": lambda x, e: x,
                    "few-classes": GCN(34, 4, 1),
                    "other-input": GCN(5, 4, 2),
                },
            ),
            "graph": Arg(
                "custom",
                custom={
                    "None": None,
                    "tuple": tuple(_KARATE),
                    "short-labels": _KARATE._replace(labels=_KARATE.labels[:33]),
                    "float-labels": _KARATE._replace(labels=_KARATE.labels.float()),
                    "negative-labels": _KARATE._replace(labels=_KARATE.labels - 1),
                    "int-x": _KARATE._replace(x=_KARATE.x.long()),
                    "float-edges": _KARATE._replace(edge_index=_KARATE.edge_index.float()),
                },
            ),
            "train_mask": Arg(
                "tensor",
                accepts=("bool",),
                mentions=("graph.x",),
                custom={"int": torch.ones(34, dtype=torch.long), "empty": torch.zeros(34, dtype=torch.bool)},
            ),
            "epochs": BAD_SIZE,
            "lr": Arg("real", positive=True),
            "weight_decay": Arg("real", custom={"negative": -1.0}),
            "eval_every": BAD_SIZE,
        },
    ),
]
test_the_valid_call_works, test_bad_input_gets_a_clear_error = battery(SPECS)
