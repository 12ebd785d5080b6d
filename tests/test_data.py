import math

import pytest
import torch
from gradland import data


def test_horn_shapes_ranges_and_determinism():
    a = data.horn(200, seed=3)
    b = data.horn(200, seed=3)
    assert a.x.shape == (200,) and a.y.shape == (200, 2) and a.z.shape == (200,)
    assert all(torch.equal(s, t) for s, t in zip(a, b))
    assert 0 <= a.x.min() and a.x.max() <= 1
    assert 0 <= a.z.min() and a.z.max() < 2 * math.pi
    assert not torch.equal(a.y, data.horn(200, seed=4).y)


def test_horn_points_lie_on_their_ellipse_without_noise():
    s = data.horn(500, seed=0, dtype=torch.float64)
    scale = torch.exp(data.HORN_FLARE * s.x)
    u = s.y[:, 0] / (scale * data.HORN_AXES[0])
    v = s.y[:, 1] / (scale * data.HORN_AXES[1])
    torch.testing.assert_close(u**2 + v**2, torch.ones(500, dtype=torch.float64))
    torch.testing.assert_close(s.y, data.horn_manifold(s.x, s.z))


def test_horn_is_sampled_at_random_not_on_a_grid():
    s = data.horn(300, seed=0, dtype=torch.float64)
    gaps = torch.diff(torch.sort(s.z).values)
    assert gaps.std() > 0.5 * gaps.mean()  # a grid would have equal gaps
    assert len(torch.unique(s.x)) == 300


def test_unconditional_horn_has_two_y2_for_most_y1():
    s = data.horn(400, x=1.0, seed=0, dtype=torch.float64)
    assert torch.all(s.x == 1.0)
    upper = (s.y[:, 1] > 0).float().mean()
    assert 0.4 < upper < 0.6  # the two branches y2 = ±... are both populated


def test_horn_noise_has_the_requested_scale():
    clean = data.horn(4000, seed=1, dtype=torch.float64)
    noisy = data.horn(4000, seed=1, noise=0.1, dtype=torch.float64)
    torch.testing.assert_close(clean.z, noisy.z)
    assert abs(float((noisy.y - clean.y).std()) - 0.1) < 0.005


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n=0), "n must be at least 1; got 0"),
        (dict(n=3, noise=-1.0), "noise must be at least 0.0; got -1.0"),
        (dict(n=3, noise=float("inf")), "noise must be a finite number; got inf"),
        (dict(n=3, x=1.5), "x must be at most 1.0; got 1.5"),
        (dict(n=3, seed=2**70), "seed must fit in 64 bits"),
        (dict(n=3, device="nonsense"), "device must name a device"),
    ],
)
def test_horn_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.horn(**kwargs)


def test_horn_manifold_wants_tensor_angles():
    with pytest.raises(TypeError, match="z must be a torch.Tensor"):
        data.horn_manifold(0.5, 1.0)


def test_digits_splits_are_disjoint_and_complete():
    full = data.digits()
    train, test = data.digits("train"), data.digits("test")
    assert full.images.shape == (1797, 64) and full.labels.dtype == torch.int64
    assert len(train.labels) + len(test.labels) == 1797
    rows = {tuple(r.tolist()) for r in train.images}
    shared = sum(tuple(r.tolist()) in rows for r in test.images)
    duplicates_in_data = 1797 - len({tuple(r.tolist()) for r in full.images})
    assert shared <= duplicates_in_data
    assert set(test.labels.tolist()) == set(range(10))
    assert torch.equal(data.digits("test", seed=0).images, test.images)


def test_digits_dtype_and_bad_split():
    assert data.digits(dtype=torch.float64).images.dtype == torch.float64
    with pytest.raises(ValueError, match="split must be"):
        data.digits("validation")
    with pytest.raises(ValueError, match="test_fraction"):
        data.digits("train", test_fraction=1.0)


# ---------------------------------------------------------------- the reversal task of Chapter 14


def test_reversal_task_is_deterministic_and_held_out_strings_are_new():
    (x, y), (xt, yt) = data.reversal_task(200, 100, 4, symbols=5, seed=1)  # 300 of the 625 strings: many repeats
    assert torch.equal(y, x.flip(1)) and torch.equal(yt, xt.flip(1))
    assert x.dtype == torch.long and x.shape == (200, 4) and xt.shape == (100, 4)
    assert len({tuple(s) for s in torch.cat((x, xt)).tolist()}) == 300
    (x2, _), (xt2, _) = data.reversal_task(200, 100, 4, symbols=5, seed=1)
    assert torch.equal(x, x2) and torch.equal(xt, xt2)
    (x3, _), _ = data.reversal_task(200, 100, 4, symbols=5, seed=2)
    assert not torch.equal(x, x3)


def test_reversal_task_checks_its_arguments():
    with pytest.raises(ValueError, match="distinct strings asked of only 8 strings of length 3 in 2 symbols"):
        data.reversal_task(5, 5, 3, symbols=2)
    for name in ("n_train", "n_test", "length", "symbols"):
        kwargs = dict(n_train=5, n_test=5, length=4)
        for bad, error in (("2", TypeError), (None, TypeError), (True, TypeError), (2.5, TypeError), (0, ValueError)):
            with pytest.raises(error, match=f"{name} must be"):
                data.reversal_task(**{**kwargs, name: bad})
    for seed in (1.5, None):
        with pytest.raises(TypeError, match="seed must be an int"):
            data.reversal_task(5, 5, 4, seed=seed)
    with pytest.raises(ValueError, match="device must name a device"):
        data.reversal_task(5, 5, 4, device="nonsense")


# ---------------------------------------------------------------- graphs (Chapter 15)


def test_karate_club_is_the_undirected_club():
    g = data.karate_club()
    assert g.num_nodes == 34 and g.edge_index.shape == (2, 156) and g.edge_index.dtype == torch.int64
    assert g.labels[0].item() == 0 and g.labels[33].item() == 1  # the instructor and the administrator
    flipped = set(map(tuple, g.edge_index.flip(0).T.tolist()))
    assert flipped == set(map(tuple, g.edge_index.T.tolist()))  # undirected
    assert torch.equal(g.x, torch.eye(34))
    assert isinstance(g.to("cpu"), data.Graph) and g.to("cpu").num_nodes == 34


def test_sbm_is_seeded_and_its_edges_stay_mostly_inside_the_blocks():
    s1, s2 = data.sbm((40, 40), 0.3, 0.01, seed=5), data.sbm((40, 40), 0.3, 0.01, seed=5)
    assert torch.equal(s1.edge_index, s2.edge_index) and torch.equal(s1.x, s2.x)
    assert not torch.equal(s1.x, data.sbm((40, 40), 0.3, 0.01, seed=6).x)
    same = s1.labels[s1.edge_index[0]] == s1.labels[s1.edge_index[1]]
    assert same.float().mean() > 0.8
    assert data.sbm((3, 4), 0.0, 0.0).edge_index.shape == (2, 0)  # no edge at all


def test_random_graph_is_seeded_and_in_range():
    e = data.random_graph(10, 7, seed=1)
    assert e.shape == (2, 7) and e.dtype == torch.int64 and 0 <= e.min() and e.max() < 10
    assert torch.equal(e, data.random_graph(10, 7, seed=1))
    assert data.random_graph(10, 0).shape == (2, 0)


@pytest.mark.parametrize(
    "call, error, message",
    [
        pytest.param(lambda: data.sbm(20), TypeError, "sizes must be a non-empty sequence", id="sizes-int"),
        pytest.param(lambda: data.sbm(()), TypeError, "sizes must be a non-empty sequence", id="sizes-empty"),
        pytest.param(lambda: data.sbm((20, 0)), ValueError, r"sizes\[1\] must be at least 1", id="size-0"),
        pytest.param(lambda: data.sbm((20, 30), "0.3"), TypeError, "p_in must be a real number", id="p_in-string"),
        pytest.param(lambda: data.sbm((20, 30), 0.3, 1.5), ValueError, "p_out must be at most 1.0", id="p_out-1.5"),
        pytest.param(
            lambda: data.sbm((20, 30), features=True), TypeError, "features must be an int", id="features-bool"
        ),
        pytest.param(
            lambda: data.sbm((20, 30), signal=math.nan), ValueError, "signal must be a finite number", id="signal-nan"
        ),
        pytest.param(
            lambda: data.sbm((20, 30), signal=math.inf), ValueError, "signal must be a finite number", id="signal-inf"
        ),
        pytest.param(
            lambda: data.sbm((20, 30), signal="1"), TypeError, "signal must be a real number", id="signal-string"
        ),
        pytest.param(lambda: data.sbm((20, 30), seed=1.5), TypeError, "seed must be an int", id="sbm-seed-float"),
        pytest.param(lambda: data.sbm((20, 30), seed=None), TypeError, "seed must be an int", id="sbm-seed-None"),
        pytest.param(lambda: data.random_graph(0, 5), ValueError, "num_nodes must be at least 1", id="num-nodes-0"),
        pytest.param(lambda: data.random_graph(10, True), TypeError, "edges must be an int", id="edges-bool"),
        pytest.param(lambda: data.random_graph(10, -1), ValueError, "edges must be at least 0", id="edges-negative"),
        pytest.param(lambda: data.random_graph(10, 5, seed=1.5), TypeError, "seed must be an int", id="seed-float"),
        pytest.param(
            lambda: data.random_graph(10, 5, device="nonsense"),
            ValueError,
            "device must name a device",
            id="device-nonsense",
        ),
        pytest.param(
            lambda: data.karate_club().to("nonsense"), ValueError, "device must name a device", id="graph-to-nonsense"
        ),
    ],
)
def test_graphs_reject_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.uint8, torch.complex64, "float32"])
def test_generated_data_refuses_a_dtype_that_would_truncate_it(dtype):
    for make in (lambda: data.horn(5, dtype=dtype), lambda: data.digits("train", dtype=dtype)):
        with pytest.raises(TypeError, match="dtype must be a real floating-point torch.dtype"):
            make()


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(n=True), TypeError, "n must be an int; got bool"),
        (dict(x="0.5"), TypeError, "x must be a real number; got str"),
        (dict(noise=None), TypeError, "noise must be a real number; got NoneType"),
        (dict(seed=1.5), TypeError, "seed must be an int; got float"),
    ],
)
def test_horn_names_arguments_of_the_wrong_type(kwargs, error, message):
    with pytest.raises(error, match=message):
        data.horn(**{"n": 3, **kwargs})


@pytest.mark.parametrize("fraction", [1e-9, 0.9999999])
def test_digits_refuses_a_split_that_leaves_one_side_empty(fraction):
    with pytest.raises(ValueError, match="both must be at least 1"):
        data.digits("train", test_fraction=fraction)


def test_horn_manifold_checks_x_and_z():
    z = torch.tensor([0.0, 1.0])
    with pytest.raises(TypeError, match="z must have a floating-point dtype; got torch.complex64"):
        data.horn_manifold(0.5, z.to(torch.complex64))
    assert data.horn_manifold(torch.tensor([0.0, 1e30]), z)[1, 0].item() == float("inf")  # documented
    with pytest.raises(ValueError, match="x must be at most 1.0; got 2.0"):
        data.horn_manifold(2.0, z)
    with pytest.raises(ValueError, match="x and z must broadcast together"):
        data.horn_manifold(torch.zeros(3), z)
    with pytest.raises(TypeError, match="x must be a real number; got NoneType"):
        data.horn_manifold(None, z)
    with pytest.raises(ValueError, match="z and x must be on the same device"):
        data.horn_manifold(torch.zeros(2, device="meta"), z)


# ---------------------------------------------------------------- the bad-input battery (tests/badinput.py)

from badinput import Arg, battery  # noqa: E402

SEED = Arg("int", custom={"huge": 2**64})
DEVICE = Arg("custom", accepts=("None",), custom={"None": None, "nonsense": "nonsense", "int": 1.5})
DTYPE = Arg("custom", custom={"None": None, "int": torch.int64, "str": "float32", "complex": torch.complex64})
COUNT = Arg("int", minimum=1)
PROBABILITY = Arg("real", custom={"negative": -0.1, "above-one": 1.5})
ANGLES = torch.tensor([0.0, math.pi / 2])


def _graph_to(device):
    return data.karate_club().to(device)


# Horn, Digits and Graph are named tuples, records that check nothing: their tensors are
# checked where they are used (gradland.node_classification.train_node_classifier checks a Graph's).
SPECS = [
    # z holds angles of any shape, and is the only tensor when x is a number
    (
        "data.horn_manifold",
        data.horn_manifold,
        lambda: {"x": 0.0, "z": ANGLES},
        {
            "x": Arg(
                "real",
                accepts=("tensor",),
                custom={
                    "above-one": 1.5,
                    "negative": -0.5,  # a tensor x is documented
                    "int-tensor": torch.tensor(0),
                    "meta": torch.tensor(0.5, device="meta"),
                    "no-broadcast": torch.zeros(3),
                    "float64": torch.tensor(0.5).double(),
                },
            ),
            "z": Arg(
                "tensor",
                accepts=("extra-dim", "missing-dim", "wrong-size"),
                omit=("meta",),
                custom={"complex": ANGLES.to(torch.complex64)},
            ),
        },
    ),
    # a tensor x broadcasts with z: a batch of any shape that does
    (
        "data.horn_manifold(tensor x)",
        data.horn_manifold,
        lambda: {"x": torch.tensor([0.5, 1.0]), "z": ANGLES},
        {
            "x": Arg(
                "tensor",
                accepts=("extra-dim", "missing-dim"),
                mentions=("z",),
                custom={"float64": torch.tensor([0.5, 1.0]).double()},
            ),
            "z": Arg("tensor", accepts=("extra-dim", "missing-dim"), mentions=("x",)),
        },
    ),
    (
        "data.horn",
        data.horn,
        lambda: {"n": 5, "x": None, "noise": 0.1, "seed": 1, "device": None, "dtype": torch.float32},
        {
            "n": COUNT,
            "x": Arg("real", accepts=("None",), custom={"above-one": 1.5, "negative": -0.5}),
            "noise": Arg("real", custom={"negative": -1.0}),
            "seed": SEED,
            "device": DEVICE,
            "dtype": DTYPE,
        },
    ),
    (
        "data.digits",
        data.digits,
        lambda: {"split": "train", "test_fraction": 0.2, "seed": 0, "device": None, "dtype": torch.float32},
        {
            "split": Arg("custom", custom={"None": None, "int": 1, "unknown": "validation", "list": ["train"]}),
            "test_fraction": Arg("real", positive=True, custom={"one": 1.0, "tiny": 1e-9}),
            "seed": SEED,
            "device": DEVICE,
            "dtype": DTYPE,
        },
    ),
    ("data.manual_text", data.manual_text, dict, {}),
    ("data.docstring_text", data.docstring_text, dict, {}),
    ("data.karate_club", data.karate_club, dict, {}),
    # None is the CPU, as everywhere in the package (gradland._checks.device)
    ("data.Graph.to", _graph_to, lambda: {"device": "cpu"}, {"device": DEVICE}),
    (
        "data.sbm",
        data.sbm,
        lambda: {"sizes": (5, 5), "p_in": 0.5, "p_out": 0.1, "features": 2, "signal": 1.0, "seed": 1},
        {
            "sizes": Arg(
                "custom",
                custom={
                    "None": None,
                    "int": 5,
                    "str": "55",
                    "empty": (),
                    "zero": (5, 0),
                    "float": (5, 2.5),
                    "bool": (5, True),
                    "tensor": torch.tensor([5, 5]),
                },
            ),
            "p_in": PROBABILITY,
            "p_out": PROBABILITY,
            "features": COUNT,
            "signal": Arg("real"),
            "seed": SEED,
        },
    ),
    (
        "data.random_graph",
        data.random_graph,
        lambda: {"num_nodes": 10, "edges": 20, "seed": 0, "device": None},
        {"num_nodes": COUNT, "edges": Arg("int", minimum=0), "seed": SEED, "device": DEVICE},
    ),
    (
        "data.reversal_task",
        data.reversal_task,
        lambda: {"n_train": 10, "n_test": 5, "length": 4, "symbols": 3, "seed": 0, "device": None},
        {
            "n_train": Arg("int", minimum=1, custom={"too-many": 100}),
            "n_test": COUNT,
            "length": COUNT,
            "symbols": COUNT,
            "seed": SEED,
            "device": DEVICE,
        },
    ),
]
test_the_valid_call_works, test_bad_input_gets_a_clear_error = battery(SPECS)
