"""Tests of gradland.train: the one training loop of the package."""

import math

import pytest
import torch
from gradland.train import History, fit


def quadratic(target):
    w = torch.zeros_like(target, requires_grad=True)
    return w, lambda k: ((w - target) ** 2).sum()


def test_fit_matches_a_hand_written_loop():
    torch.manual_seed(0)
    x, y = torch.randn(32, 3), torch.randn(32)
    model_a = torch.nn.Linear(3, 1)
    model_b = torch.nn.Linear(3, 1)
    model_b.load_state_dict(model_a.state_dict())

    opt = torch.optim.Adam(model_a.parameters(), lr=0.05)
    expected = []
    for _ in range(20):
        loss = ((model_a(x).squeeze(1) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        expected.append(loss.item())

    history = fit(
        lambda k: ((model_b(x).squeeze(1) - y) ** 2).mean(),
        torch.optim.Adam(model_b.parameters(), lr=0.05),
        20,
    )
    assert history.loss == expected
    assert history.lr == [0.05] * 20
    for a, b in zip(model_a.parameters(), model_b.parameters()):
        assert torch.equal(a, b)


def test_schedule_is_the_factor_of_each_step():
    w, loss = quadratic(torch.ones(2))
    history = fit(loss, torch.optim.SGD([w], lr=0.5), 4, schedule=lambda j: 1 / (j + 1))
    assert history.lr == pytest.approx([0.5, 0.25, 0.5 / 3, 0.125])


def test_callbacks_see_step_zero_then_every_step():
    w, loss = quadratic(torch.ones(2))
    seen = []

    def callback(k, history):
        seen.append((k, len(history.get("loss", []))))
        history.record("w0", w[0].item())

    history = fit(loss, torch.optim.SGD([w], lr=0.25), 3, callbacks=[callback])
    assert seen == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert history.w0 == pytest.approx([0.0, 0.5, 0.75, 0.875])


def test_two_losses_in_turn_each_after_the_previous_update():
    a = torch.zeros(1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    order = []

    def loss_a(k):
        order.append(("a", k, b.item()))
        return ((a - 1) ** 2).sum()

    def loss_b(k):
        order.append(("b", k, a.item()))
        return ((b - a) ** 2).sum()

    history = fit(
        {"first": loss_a, "second": loss_b},
        {"first": torch.optim.SGD([a], lr=0.5), "second": torch.optim.SGD([b], lr=0.5)},
        2,
    )
    # loss_b sees a after a's update of the same step
    assert order == [("a", 1, 0.0), ("b", 1, 1.0), ("a", 2, 1.0), ("b", 2, 1.0)]
    assert history.first == [1.0, 0.0]
    assert history.second == [1.0, 0.0]


def test_seed_fixes_the_global_state_and_restores_it():
    def run():
        w = torch.zeros(3, requires_grad=True)
        return fit(lambda k: ((w - torch.randn(3)) ** 2).sum(), torch.optim.SGD([w], lr=0.1), 5, seed=7).loss

    torch.manual_seed(1)
    before = torch.random.get_rng_state()
    first = run()
    assert torch.equal(torch.random.get_rng_state(), before)
    torch.manual_seed(2)
    assert run() == first


def test_zero_steps_records_nothing_but_calls_back_once():
    w, loss = quadratic(torch.ones(2))
    calls = []
    history = fit(loss, torch.optim.SGD([w], lr=0.1), 0, callbacks=[lambda k, h: calls.append(k)])
    assert history == {} and calls == [0]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"loss": 3.0}, TypeError, "loss 'loss' must be callable"),
        ({"optimizer": "adam"}, TypeError, "must be a torch.optim.Optimizer"),
        ({"steps": 2.0}, TypeError, "steps must be an int; got float"),
        ({"steps": True}, TypeError, "steps must be an int"),
        ({"steps": -1}, ValueError, "steps must be at least 0; got -1"),
        ({"schedule": 0.5}, TypeError, "schedule must be callable"),
        ({"callbacks": [1]}, TypeError, "each callback must be callable"),
        ({"seed": 1.5}, TypeError, "seed must be an int or None"),
        ({"loss": {}}, ValueError, "at least one"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    w, loss = quadratic(torch.ones(2))
    arguments = {"loss": loss, "optimizer": torch.optim.SGD([w], lr=0.1), "steps": 2} | kwargs
    with pytest.raises(error, match=match):
        fit(**arguments)


def test_mismatched_names_and_bad_returns():
    w, loss = quadratic(torch.ones(2))
    opt = torch.optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="same name"):
        fit({"a": loss}, {"b": opt}, 1)
    with pytest.raises(ValueError, match="scalar tensor; got float"):
        fit(lambda k: 1.0, opt, 1)
    with pytest.raises(ValueError, match=r"scalar tensor; got a tensor of shape \(2,\)"):
        fit(lambda k: w * 2, opt, 1)


@pytest.mark.parametrize("lr", [math.inf, 1e30])
def test_a_diverging_run_stops_with_its_step(lr):
    w, loss = quadratic(torch.ones(2))
    with pytest.raises(FloatingPointError, match="the run has diverged"):
        fit(loss, torch.optim.SGD([w], lr=lr), 10)


def test_history_attribute_errors_name_what_it_has():
    history = History(loss=[1.0])
    with pytest.raises(AttributeError, match=r"no 'accuracy'; it has \['loss'\]"):
        history.accuracy
