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
    with pytest.raises(ValueError, match="repeat >= 1"):
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
