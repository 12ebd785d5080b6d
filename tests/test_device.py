import gradland
import pytest
import torch


def test_default_is_cuda_when_available(monkeypatch):
    monkeypatch.delenv("GRADLAND_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert gradland.device().type == expected
    for available, expected in ((True, "cuda"), (False, "cpu")):  # both answers, whatever this machine has
        monkeypatch.setattr(torch.cuda, "is_available", lambda available=available: available)
        assert gradland.device() == torch.device(expected)


def test_environment_variable_overrides(monkeypatch):
    monkeypatch.setenv("GRADLAND_DEVICE", "cpu")
    assert gradland.device() == torch.device("cpu")


def test_bad_name_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("GRADLAND_DEVICE", "gpu-please")
    with pytest.raises(ValueError, match="GRADLAND_DEVICE.*'gpu-please'"):
        gradland.device()


def test_cuda_without_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as without a GPU, whatever this machine has
    monkeypatch.setenv("GRADLAND_DEVICE", "cuda")
    with pytest.raises(ValueError, match="is_available"):
        gradland.device()


def test_version_is_a_release_string():
    major, minor, patch = gradland.__version__.split(".")
    assert all(part.isdigit() for part in (major, minor, patch))


@pytest.mark.parametrize(
    "value, expected", [("", False), ("0", False), ("no", False), ("1", True), ("TRUE", True), (" yes ", True)]
)
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


# --- the same random numbers on every device ------------------------------------
# The package draws on the CPU and moves the result, so a GPU build of the book
# starts from the same weights and data as a CPU build; only the arithmetic differs.


def on_both(make, device):
    """``make("cpu")`` and ``make(device)``, each after the same global seed: on the CPU
    alone, the check that the seed decides the result."""
    results = []
    for where in ("cpu", device):
        torch.manual_seed(0)
        results.append(make(where))
    return results


def test_attention_weights_start_the_same_on_every_device(device):
    from gradland.attention import AttentionPooling, MultiHeadAttention

    for cls in (MultiHeadAttention, AttentionPooling):
        cpu, gpu = on_both(lambda where: cls(8, 2, device=where), device)
        for (name, a), (_, b) in zip(cpu.state_dict().items(), gpu.state_dict().items()):
            assert torch.equal(a, b.cpu()), f"{cls.__name__}.{name}"


def test_vae_samples_the_same_noise_on_every_device(device):
    from gradland.vae import reparameterise

    cpu, gpu = on_both(
        lambda where: reparameterise(torch.zeros(4, 3, device=where), torch.zeros(4, 3, device=where), samples=2),
        device,
    )
    assert torch.equal(cpu, gpu.cpu())


def test_langevin_with_a_cpu_generator_is_the_same_on_every_device(device):
    from gradland.contrastive import langevin

    def run(where):
        y0 = torch.linspace(-1, 1, 10, dtype=torch.float64).reshape(5, 2).to(where)
        return langevin(lambda y: y.square().sum(-1), y0, generator=torch.Generator().manual_seed(3))

    cpu, gpu = on_both(run, device)
    torch.testing.assert_close(cpu, gpu.cpu())


def test_recall_training_starts_from_the_same_network_and_data_on_every_device(device):
    from gradland.rnn import train_recall

    cpu, gpu = on_both(lambda where: train_recall(2, length=8, d=8, steps=3, device=where), device)
    torch.testing.assert_close(torch.tensor(cpu.losses), torch.tensor(gpu.losses), rtol=1e-4, atol=1e-5)


def test_device_name_reads_after_on(device):
    import re

    name = gradland.device_name(device)
    if device.type == "cpu":
        assert re.fullmatch(r"an? \d+-core .*CPU", name), name
    else:  # the GPU's model
        assert re.fullmatch(r"an? .* GPU", name) and torch.cuda.get_device_name(0) in name, name


@pytest.mark.parametrize(
    "phrase, article",
    [
        ("NVIDIA H200", "an"),
        ("AMD EPYC 7B13", "an"),
        ("Intel Xeon", "an"),
        ("Tesla V100", "a"),
        ("8-core Intel Xeon", "an"),
        ("11-core AMD", "an"),
        ("2-core Intel Xeon", "a"),
        ("GeForce RTX 4090", "a"),
        ("HP Z", "an"),
    ],
)
def test_device_names_take_the_article_of_their_sound(phrase, article):
    from gradland._device import _article

    assert _article(phrase) == article


@pytest.mark.parametrize("name", ["mps", "xla", "cpu:5", "cuda:7"])
def test_devices_that_do_not_exist_here_are_refused(monkeypatch, name):
    if name.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has a CUDA device 7")
    monkeypatch.setenv("GRADLAND_DEVICE", name)
    with pytest.raises(ValueError, match=f"GRADLAND_DEVICE='{name}'"):
        gradland.device()
