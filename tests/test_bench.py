import time

import pytest
import torch
from gradland.bench import median_time, saved_bytes


def test_median_time_measures_one_call():
    t = median_time(lambda: time.sleep(0.01), repeat=3, number=2, warmup=0)
    assert 0.009 < t < 0.05


def test_median_time_calls_warmup_then_repeat_times_number():
    calls = []
    median_time(lambda: calls.append(1), repeat=3, number=4, warmup=2)
    assert len(calls) == 2 + 3 * 4


@pytest.mark.parametrize("kwargs", [{"repeat": 0}, {"number": 0}, {"warmup": -1}])
def test_median_time_rejects_bad_counts(kwargs):
    ((name, value),) = kwargs.items()
    with pytest.raises(ValueError, match=f"{name} must be at least {value + 1}; got {value}"):
        median_time(lambda: None, **kwargs)


def test_saved_bytes_counts_what_backward_needs():
    x = torch.randn(100, 10, dtype=torch.float64, requires_grad=True)
    w = torch.randn(10, 5, dtype=torch.float64, requires_grad=True)
    # x @ w saves x and w; tanh saves its output (100 x 5).
    out, nbytes = saved_bytes(lambda: torch.tanh(x @ w).sum())
    assert out.shape == ()
    assert nbytes == 8 * (100 * 10 + 10 * 5 + 100 * 5)


def test_saved_bytes_counts_a_storage_once():
    x = torch.randn(1000, requires_grad=True)
    _, once = saved_bytes(lambda: x * x)  # saves x twice, one storage
    assert once == 4 * 1000


def test_saved_bytes_is_zero_without_grad():
    x = torch.randn(1000)
    _, nbytes = saved_bytes(lambda: x.exp().sum())
    assert nbytes == 0


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"repeat": 2.5}, TypeError, "repeat must be an int; got float"),
        ({"repeat": None}, TypeError, "repeat must be an int; got NoneType"),
        ({"number": float("nan")}, TypeError, "number must be an int; got float"),
        ({"warmup": "1"}, TypeError, "warmup must be an int; got str"),
        ({"warmup": -1}, ValueError, "warmup must be at least 0; got -1"),
    ],
)
def test_median_time_names_the_bad_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        median_time(lambda: None, **kwargs)


@pytest.mark.parametrize("fn", [None, torch.ones(2)])
def test_timing_and_counting_refuse_what_cannot_be_called(fn):
    for measure in (median_time, saved_bytes):
        with pytest.raises(TypeError, match="fn must be a function of no arguments; got"):
            measure(fn)


def test_saved_bytes_counts_storages_without_an_address_one_by_one():
    x = torch.ones(1000, device="meta", requires_grad=True)
    _, nbytes = saved_bytes(lambda: (x.exp() * x.sin()).sum())
    assert nbytes >= 3 * 4000  # exp's output, sin's input and the product's two factors
