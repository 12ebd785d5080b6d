import pytest
import torch

import gradland


def test_default_is_cuda_when_available(monkeypatch):
    monkeypatch.delenv("GRADLAND_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert gradland.device().type == expected


def test_environment_variable_overrides(monkeypatch):
    monkeypatch.setenv("GRADLAND_DEVICE", "cpu")
    assert gradland.device() == torch.device("cpu")


def test_bad_name_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("GRADLAND_DEVICE", "gpu-please")
    with pytest.raises(ValueError, match="GRADLAND_DEVICE.*'gpu-please'"):
        gradland.device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("GRADLAND_DEVICE", "cuda")
    with pytest.raises(ValueError, match="is_available"):
        gradland.device()


def test_version_is_a_release_string():
    major, minor, patch = gradland.__version__.split(".")
    assert all(part.isdigit() for part in (major, minor, patch))


@pytest.mark.parametrize("value, expected", [("", False), ("0", False), ("no", False), ("1", True), ("TRUE", True), (" yes ", True)])
def test_full_size_reads_the_switch(monkeypatch, value, expected):
    monkeypatch.setenv("GRADLAND_FULL", value)
    assert gradland.full_size() is expected


def test_full_size_defaults_to_small(monkeypatch):
    monkeypatch.delenv("GRADLAND_FULL", raising=False)
    assert gradland.full_size() is False


def test_full_size_rejects_other_values(monkeypatch):
    monkeypatch.setenv("GRADLAND_FULL", "maybe")
    with pytest.raises(ValueError, match="GRADLAND_FULL.*'maybe'"):
        gradland.full_size()
