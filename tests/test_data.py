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


@pytest.mark.parametrize("kwargs, message", [
    (dict(n=0), "n must be a positive int"),
    (dict(n=3, noise=-1.0), "noise"),
    (dict(n=3, x=1.5), r"x must lie in \[0, 1\]"),
])
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
