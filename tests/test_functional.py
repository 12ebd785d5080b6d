"""Tests of gradland.functional: pure functions of modules, and per-example gradients.

The per-example gradients are checked three ways: the vmap version against the
loop version, both against a hand-written loop over the batch with
``torch.nn.Module`` and ``loss.backward()``, and their sum (or mean) against
the ordinary gradient of the batch's loss. Everything runs in float64 with
tight tolerances. Hypothesis draws the architectures and batch sizes.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from gradland import functional
from gradland.functional import per_example_grads_loop, per_example_grads_vmap, purify
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.func import grad

TOL = {"rtol": 1e-10, "atol": 1e-12}
DT = torch.float64
PROPERTY = settings(max_examples=25)
PER_EXAMPLE = [per_example_grads_loop, per_example_grads_vmap]


def mlp(widths: list[int], activation: type[nn.Module] = nn.Tanh, seed: int = 0) -> nn.Sequential:
    """A float64 multilayer perceptron with the given layer widths."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        if i > 0:
            layers.append(activation())
        layers.append(nn.Linear(n_in, n_out, dtype=DT))
    return nn.Sequential(*layers)


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    """Copies of everything a call could change: parameters, buffers, .grad fields."""
    state = {k: v.detach().clone() for k, v in module.state_dict(keep_vars=True).items()}
    state.update({f"{k}.grad": p.grad.clone() for k, p in module.named_parameters() if p.grad is not None})
    return state


def assert_same_state(before: dict[str, torch.Tensor], module: nn.Module) -> None:
    after = snapshot(module)
    assert before.keys() == after.keys()
    for k in before:
        assert torch.equal(before[k], after[k]), k


def assert_dicts_close(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], **tol) -> None:
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], **(tol or TOL))


# --- purify --------------------------------------------------------------------


def stateful_model(seed: int = 0) -> nn.Sequential:
    """Parameters, buffers (batch norm), and the global generator (dropout)."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(4, 6, dtype=DT),
        nn.BatchNorm1d(6, dtype=DT),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(6, 3, dtype=DT),
    )


def test_purify_returns_copies_with_the_module_names() -> None:
    model = stateful_model()
    fn, params, buffers = purify(model)
    assert params.keys() == dict(model.named_parameters()).keys()
    assert buffers.keys() == dict(model.named_buffers()).keys()
    for name, p in model.named_parameters():
        assert torch.equal(params[name], p) and params[name].data_ptr() != p.data_ptr()
        assert not params[name].requires_grad
    for name, b in model.named_buffers():
        assert torch.equal(buffers[name], b) and buffers[name].data_ptr() != b.data_ptr()


@pytest.mark.parametrize("training", [False, True])
def test_purify_gives_the_output_and_new_state_of_the_module(training: bool) -> None:
    model = stateful_model().train(training)
    fn, params, buffers = purify(model)
    before = snapshot(model)
    x = torch.randn(8, 4, dtype=DT)
    y, new_buffers = fn(params, buffers, x, seed=3)
    assert_same_state(before, model)  # purify and fn never touched the module
    torch.manual_seed(3)  # the module, with the same generator state, is the reference
    reference = model(x)
    torch.testing.assert_close(y, reference, rtol=0, atol=0)
    assert_dicts_close(new_buffers, dict(model.named_buffers()), rtol=0, atol=0)
    if training:
        assert int(new_buffers["1.num_batches_tracked"]) == 1
        assert not torch.equal(new_buffers["1.running_mean"], buffers["1.running_mean"])
    else:
        assert_dicts_close(new_buffers, buffers, rtol=0, atol=0)


def test_purified_function_has_no_side_effects() -> None:
    model = stateful_model().train()
    fn, params, buffers = purify(model)
    args = {k: v.clone() for k, v in params.items()}, {k: v.clone() for k, v in buffers.items()}
    x = torch.randn(8, 4, dtype=DT)
    x_copy = x.clone()
    rng = torch.get_rng_state()
    y1, b1 = fn(*args, x, seed=7)
    y2, b2 = fn(*args, x, seed=7)
    assert torch.equal(torch.get_rng_state(), rng)  # the global generator did not move
    assert torch.equal(x, x_copy)
    assert_dicts_close(args[0], params, rtol=0, atol=0)  # nor did the arguments
    assert_dicts_close(args[1], buffers, rtol=0, atol=0)
    assert torch.equal(y1, y2)  # same arguments, same results
    assert_dicts_close(b1, b2, rtol=0, atol=0)
    y3, _ = fn(*args, x, seed=8)  # a new seed, new dropout masks
    assert not torch.equal(y1, y3)


def test_purified_function_is_frozen_at_purify_time() -> None:
    model = stateful_model().eval()
    fn, params, buffers = purify(model)
    x = torch.randn(5, 4, dtype=DT)
    y_eval, _ = fn(params, buffers, x)
    model.train()  # later changes to the module do not reach fn
    with torch.no_grad():
        model[0].weight.zero_()
    y_again, _ = fn(params, buffers, x)
    assert torch.equal(y_eval, y_again)


def test_purified_function_threads_the_state_through_steps() -> None:
    model = stateful_model().train()
    fn, params, buffers = purify(model)
    state = buffers
    for step in range(3):
        x = torch.randn(8, 4, dtype=DT)
        _, state = fn(params, state, x, seed=step)
        torch.manual_seed(step)
        model(x)  # the object updates its buffers in place
    assert_dicts_close(state, dict(model.named_buffers()))


def test_purified_function_works_under_torch_func_grad() -> None:
    model = mlp([3, 5, 2])
    fn, params, buffers = purify(model)
    x, target = torch.randn(6, 3, dtype=DT), torch.randn(6, 2, dtype=DT)

    def loss(p):
        return F.mse_loss(fn(p, buffers, x)[0], target)

    grads = grad(loss)(params)
    F.mse_loss(model(x), target).backward()
    assert_dicts_close(grads, {k: p.grad for k, p in model.named_parameters()})


def test_purify_rejects_bad_input() -> None:
    with pytest.raises(TypeError, match="module must be a torch.nn.Module; got function"):
        purify(lambda x: x)
    fn, params, buffers = purify(stateful_model())
    x = torch.randn(2, 4, dtype=DT)
    with pytest.raises(TypeError, match="parameters must be a dict name -> tensor; got list"):
        fn(list(params.values()), buffers, x)
    missing = {k: v for k, v in params.items() if k != "0.bias"}
    with pytest.raises(KeyError, match=r"missing \['0.bias'\], unexpected \[\]"):
        fn(missing, buffers, x)
    extra = {**buffers, "extra": torch.zeros(1)}
    with pytest.raises(KeyError, match=r"buffers must have the expected names; missing \[\], unexpected \['extra'\]"):
        fn(params, extra, x)


# --- per-example gradients ------------------------------------------------------


def reference_per_example(model: nn.Module, loss_fn, x, y) -> dict[str, torch.Tensor]:
    """The most literal version: a fresh backward() per example, read from .grad."""
    trainable = {k: p for k, p in model.named_parameters() if p.requires_grad}
    rows: dict[str, list[torch.Tensor]] = {k: [] for k in trainable}
    for b in range(x.shape[0]):
        model.zero_grad()
        loss_fn(model(x[b : b + 1]), y[b : b + 1]).backward()
        for k, p in trainable.items():
            rows[k].append(p.grad.clone())
    model.zero_grad(set_to_none=True)
    return {k: torch.stack(v) for k, v in rows.items()}


@PROPERTY
@given(
    widths=st.lists(st.integers(min_value=1, max_value=6), min_size=2, max_size=4),
    batch=st.integers(min_value=1, max_value=9),
    activation=st.sampled_from([nn.Tanh, nn.ReLU, nn.Sigmoid]),
    seed=st.integers(min_value=0, max_value=2**31 - 1),
)
def test_vmap_and_loop_agree_on_random_mlps(widths, batch, activation, seed) -> None:
    model = mlp(widths, activation, seed=seed % 1000)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, widths[0], generator=generator, dtype=DT)
    y = torch.randn(batch, widths[-1], generator=generator, dtype=DT)
    before = snapshot(model)
    loop = per_example_grads_loop(model, F.mse_loss, x, y)
    vmapped = per_example_grads_vmap(model, F.mse_loss, x, y)
    assert_same_state(before, model)  # neither changed the model, nor wrote .grad
    for name, p in model.named_parameters():
        assert loop[name].shape == (batch, *p.shape) and loop[name].dtype == DT
    assert_dicts_close(vmapped, loop)
    assert_dicts_close(loop, reference_per_example(model, F.mse_loss, x, y))


@pytest.mark.parametrize("per_example", PER_EXAMPLE)
@pytest.mark.parametrize("reduction, combine", [("mean", torch.mean), ("sum", torch.sum)])
def test_per_example_gradients_add_up_to_the_batch_gradient(per_example, reduction, combine) -> None:
    model = mlp([5, 7, 3], nn.ReLU, seed=1)
    x, y = torch.randn(11, 5, dtype=DT), torch.randint(0, 3, (11,))

    def loss_fn(out, target):
        return F.cross_entropy(out, target, reduction=reduction)

    grads = per_example(model, loss_fn, x, y)
    loss_fn(model(x), y).backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(combine(grads[name], dim=0), p.grad, **TOL)


@pytest.mark.parametrize("per_example", PER_EXAMPLE)
def test_per_example_gradients_of_a_linear_layer_are_outer_products(per_example) -> None:
    layer = nn.Linear(4, 3, dtype=DT)
    x, y = torch.randn(6, 4, dtype=DT), torch.randn(6, 3, dtype=DT)
    grads = per_example(layer, lambda out, t: 0.5 * ((out - t) ** 2).sum(), x, y)
    residual = layer(x).detach() - y  # the gradient of the loss with respect to the output
    torch.testing.assert_close(grads["weight"], residual[:, :, None] * x[:, None, :], **TOL)
    torch.testing.assert_close(grads["bias"], residual, **TOL)


@pytest.mark.parametrize("per_example", PER_EXAMPLE)
def test_per_example_gradients_skip_frozen_parameters_and_use_buffers(per_example) -> None:
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(3, 4, dtype=DT), nn.BatchNorm1d(4, dtype=DT), nn.Linear(4, 2, dtype=DT))
    with torch.no_grad():  # buffers that matter: eval-mode batch norm uses them
        model[1].running_mean.uniform_(-1, 1)
        model[1].running_var.uniform_(0.5, 2)
    model.eval()
    model[0].weight.requires_grad_(False)
    x, y = torch.randn(5, 3, dtype=DT), torch.randn(5, 2, dtype=DT)
    before = snapshot(model)
    grads = per_example(model, F.mse_loss, x, y)
    assert_same_state(before, model)
    assert "0.weight" not in grads and set(grads) == {"0.bias", "1.weight", "1.bias", "2.weight", "2.bias"}
    assert_dicts_close(grads, reference_per_example(model, F.mse_loss, x, y))


@pytest.mark.parametrize("per_example", PER_EXAMPLE)
def test_per_example_gradients_of_unused_parameters_are_zero(per_example) -> None:
    class TwoHeads(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used, self.unused = nn.Linear(2, 1, dtype=DT), nn.Linear(2, 1, dtype=DT)

        def forward(self, x):
            return self.used(x)

    grads = per_example(TwoHeads(), F.mse_loss, torch.randn(3, 2, dtype=DT), torch.randn(3, 1, dtype=DT))
    assert torch.equal(grads["unused.weight"], torch.zeros(3, 1, 2, dtype=DT))


@pytest.mark.parametrize("per_example", PER_EXAMPLE)
def test_per_example_gradients_work_inside_no_grad(per_example) -> None:
    model = mlp([2, 3, 1])
    x, y = torch.randn(4, 2, dtype=DT), torch.randn(4, 1, dtype=DT)
    expected = per_example(model, F.mse_loss, x, y)
    with torch.no_grad():
        assert_dicts_close(per_example(model, F.mse_loss, x, y), expected)


def test_vmap_draws_a_dropout_mask_per_example() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 50, dtype=DT), nn.Dropout(0.5), nn.Linear(50, 1, dtype=DT))
    x = torch.randn(1, 3, dtype=DT).expand(4, 3)  # four copies of one example
    grads = per_example_grads_vmap(model.train(), F.mse_loss, x, torch.zeros(4, 1, dtype=DT))
    w = grads["2.weight"]
    assert not torch.equal(w[0], w[1])  # different masks
    grads = per_example_grads_vmap(model.eval(), F.mse_loss, x, torch.zeros(4, 1, dtype=DT))
    assert torch.equal(grads["2.weight"][0], grads["2.weight"][1])  # no dropout in eval mode


# --- errors at the boundary ----------------------------------------------------------


@pytest.mark.parametrize("per_example", PER_EXAMPLE)
def test_per_example_gradients_reject_bad_input(per_example) -> None:
    model = mlp([3, 2])
    x, y = torch.randn(4, 3, dtype=DT), torch.randn(4, 2, dtype=DT)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module; got function"):
        per_example(lambda x: x, F.mse_loss, x, y)
    with pytest.raises(TypeError, match=r"loss_fn must be a function loss_fn\(output, target\); got str"):
        per_example(model, "mse", x, y)
    with pytest.raises(TypeError, match=r"y must be a torch.Tensor of shape \(batch, \.\.\.\); got list"):
        per_example(model, F.mse_loss, x, [1.0, 2.0])
    with pytest.raises(ValueError, match=r"x must have shape \(batch, \.\.\.\); got shape \(\)"):
        per_example(model, F.mse_loss, torch.tensor(1.0, dtype=DT), y)
    with pytest.raises(
        ValueError, match=r"same number of examples \(their first dimension\); got shapes \(4, 3\) and \(5, 2\)"
    ):
        per_example(model, F.mse_loss, x, torch.randn(5, 2, dtype=DT))
    with pytest.raises(ValueError, match=r"need at least one example; got an empty batch, x of shape \(0, 3\)"):
        per_example(model, F.mse_loss, x[:0], y[:0])
    with pytest.raises(ValueError, match=r"loss_fn must return a tensor of shape \(\), the loss; got shape \(1, 2\)"):
        per_example(model, lambda out, t: (out - t) ** 2, x, y)
    with pytest.raises(ValueError, match="x is on meta but the model's parameters are on cpu"):
        per_example(model, F.mse_loss, x.to("meta"), y)


@pytest.mark.parametrize("per_example", PER_EXAMPLE)
def test_per_example_gradients_reject_models_that_mix_examples(per_example) -> None:
    model = nn.Sequential(nn.Linear(3, 4, dtype=DT), nn.BatchNorm1d(4, dtype=DT))
    x, y = torch.randn(4, 3, dtype=DT), torch.randn(4, 4, dtype=DT)
    with pytest.raises(ValueError, match=r"but model.1 is a BatchNorm1d in training mode, .* \(call model.eval\(\)\)"):
        per_example(model, F.mse_loss, x, y)
    frozen = mlp([3, 2]).requires_grad_(False)
    with pytest.raises(ValueError, match="model has no parameters that require gradients"):
        per_example(frozen, F.mse_loss, x, torch.randn(4, 2, dtype=DT))


def test_module_exports() -> None:
    assert functional.__all__ == ["purify", "per_example_grads_loop", "per_example_grads_vmap"]


def test_everything_runs_on_every_device(device) -> None:
    model = mlp([3, 4, 2]).to(device)
    x, y = torch.randn(5, 3, dtype=DT, device=device), torch.randn(5, 2, dtype=DT, device=device)
    loop = per_example_grads_loop(model, F.mse_loss, x, y)
    assert_dicts_close(per_example_grads_vmap(model, F.mse_loss, x, y), loop)
    assert loop["0.weight"].device.type == device.type
    fn, params, buffers = purify(stateful_model().to(device).train())
    state = torch.cuda.get_rng_state if device.type == "cuda" else torch.random.get_rng_state
    rng = state()
    y1, _ = fn(params, buffers, x[:, :3].new_ones(5, 4), seed=1)
    y2, _ = fn(params, buffers, x[:, :3].new_ones(5, 4), seed=1)
    assert torch.equal(y1, y2) and torch.equal(state(), rng)


@pytest.mark.parametrize("per_example", [per_example_grads_loop, per_example_grads_vmap])
def test_the_two_per_example_gradients_refuse_the_same_bad_losses(per_example) -> None:
    model = torch.nn.Linear(3, 1, bias=False)
    x, y = torch.tensor([[1.0, 0, 0], [0, 2, 0]]), torch.zeros(2, 1)
    for bad_y in (torch.zeros(2), torch.zeros(2, 2), torch.zeros(2, 3)):
        with pytest.raises(ValueError, match="y does not fit the model's output"):
            per_example(model, torch.nn.functional.mse_loss, x, bad_y)
    with pytest.raises(TypeError, match="loss_fn must return a floating-point tensor; got dtype torch.int64"):
        per_example(model, lambda out, t: (out > 0).sum(), x, y)
    with pytest.raises(TypeError, match="loss_fn must (return a torch.Tensor|compute the loss with torch operations)"):
        per_example(model, lambda out, t: float((out - t).pow(2).sum().detach()), x, y)
