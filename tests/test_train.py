import functools

import pytest
import torch

import cm_toy
from cm_toy import MLP, Precond, TrainResult, edm_loss, get_dataset, train
from cm_toy.edm import pretrained
from cm_toy.train import ema_update


def test_ema_update_direction():
    a, b = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
    with torch.no_grad():
        a.weight.fill_(0.0)
        b.weight.fill_(1.0)
    ema_update(a, b, decay=0.9)  # decay close to 1 keeps the average close to its old value
    assert a.weight.item() == pytest.approx(0.1)


def test_training_is_reproducible_and_learns():
    runs = [cm_toy.train_edm("two_gmm_1D", seed=3, steps=150, batch_size=256, progress=False) for _ in range(2)]
    assert isinstance(runs[0], TrainResult) and runs[0].seconds > 0 and runs[0].pretrain_seconds == 0.0
    x = torch.linspace(-2, 2, 9)[:, None]
    assert torch.equal(runs[0].ema(x, 0.5), runs[1].ema(x, 0.5))
    assert torch.equal(runs[0].model(x, 0.5), runs[1].model(x, 0.5))
    assert not torch.equal(runs[0].ema(x, 0.5), runs[0].model(x, 0.5))  # the EMA is its own copy of the weights
    assert not runs[0].ema.net.layers[0].weight.requires_grad
    losses = runs[0].losses
    assert len(losses) == 150 and sum(losses[-20:]) < sum(losses[:20])
    other = cm_toy.train_edm("two_gmm_1D", seed=4, steps=150, batch_size=256, progress=False).ema
    assert not torch.equal(runs[0].ema(x, 0.5), other(x, 0.5))


def test_sample_edm_shapes_and_solver_choice():
    model = Precond(MLP(), sigma_data=1.0)
    assert cm_toy.sample_edm(model, 10, num_steps=4).shape == (10, 1)
    with pytest.raises(ValueError, match="valid choices: heun, euler"):
        cm_toy.sample_edm(model, 10, solver="rk4")
    with pytest.raises(ValueError, match="num_steps"):
        cm_toy.sample_edm(model, 10, num_steps=0)


def test_nan_loss_stops_with_the_step():
    task = get_dataset("two_gmm_1D")
    model = Precond(MLP(hidden=8, depth=1), sigma_data=1.0)

    def loss(model, x0, *, step, generator, labels):
        value = edm_loss(model, x0, generator=generator)
        return value * float("nan") if step == 5 else value

    with pytest.raises(FloatingPointError, match="at step 5"):
        train(model, loss, task, steps=20, batch_size=16, progress=False)


def test_conditional_training_passes_labels_with_dropout():
    task = get_dataset("three_gmm_1D")
    seen = []

    def loss(model, x0, *, step, generator, labels):
        seen.append(labels)
        return edm_loss(model, x0, generator=generator, labels=labels)

    model = Precond(MLP(num_classes=3, hidden=8, depth=1), sigma_data=1.0)
    train(model, loss, task, steps=3, batch_size=2000, conditional=True, label_dropout=0.2, progress=False)
    labels = torch.cat(seen)
    assert set(labels.tolist()) == {0, 1, 2, 3}
    assert (labels == 3).float().mean().item() == pytest.approx(0.2, abs=0.03)


def test_bad_training_arguments():
    model = Precond(MLP(hidden=8, depth=1))
    with pytest.raises(ValueError, match="steps and batch_size"):
        train(model, functools.partial(edm_loss), get_dataset("two_gmm_1D"), steps=0)
    with pytest.raises(ValueError, match="valid names"):
        cm_toy.train_edm("nope")


def _recording_loss(seen):
    """edm_loss that records, at every step, the model's and (if passed) the target network's weights."""

    def loss(model, x0, *, step, generator, labels, **kw):
        target = kw.pop("target", None)
        assert not kw
        weights = lambda m: [p.detach().clone() for p in m.parameters()]
        seen.append(dict(step=step, model=weights(model), target=target, target_weights=target and weights(target)))
        return edm_loss(model, x0, generator=generator)

    return loss


@pytest.mark.parametrize("target_decay", [0.7, "schedule"])
def test_target_decay_keeps_a_target_network_and_passes_it_to_the_loss(target_decay):
    # target_{k+1} = EMA(target_k, model_{k+1}) with decay mu(k), a number or a function of the step; the target starts
    # as a copy of the model and is the same module, never the model itself, at every step.
    decays = [0.0, 0.5, 0.9, 0.3, 0.8, 0.6]
    mu = (lambda step: decays[step]) if target_decay == "schedule" else (lambda step: target_decay)
    seen, model = [], Precond(MLP(hidden=8, depth=1), sigma_data=1.0)
    steps = len(decays)
    result = train(
        model,
        _recording_loss(seen),
        get_dataset("two_gmm_1D"),
        steps=steps,
        batch_size=32,
        target_decay=mu if target_decay == "schedule" else target_decay,
        progress=False,
    )
    assert [s["step"] for s in seen] == list(range(steps)) and result.model is model
    target = seen[0]["target"]
    assert isinstance(target, Precond) and target is not model and target is not result.ema
    assert all(s["target"] is target for s in seen) and not any(p.requires_grad for p in target.parameters())
    assert all(torch.equal(t, m) for t, m in zip(seen[0]["target_weights"], seen[0]["model"]))
    for k in range(steps - 1):
        expected = [t.lerp(m, 1 - mu(k)) for t, m in zip(seen[k]["target_weights"], seen[k + 1]["model"])]
        assert all(torch.equal(a, b) for a, b in zip(seen[k + 1]["target_weights"], expected))
        assert not all(torch.equal(a, b) for a, b in zip(seen[k + 1]["target_weights"], seen[k]["target_weights"]))
    # and after the last step, the module the loss was given holds the last update
    final = [t.lerp(m, 1 - mu(steps - 1)) for t, m in zip(seen[-1]["target_weights"], model.parameters())]
    assert all(torch.equal(a, b.detach()) for a, b in zip(target.parameters(), final))


def test_no_target_network_without_target_decay():
    seen = []
    model, task = Precond(MLP(hidden=8, depth=1)), get_dataset("two_gmm_1D")
    train(model, _recording_loss(seen), task, steps=3, batch_size=16, progress=False)
    assert len(seen) == 3 and all(s["target"] is None for s in seen)


def test_pretrained_is_the_edm_model_a_recipe_starts_from():
    task = get_dataset("two_gmm_1D")
    init = Precond(MLP(hidden=8, depth=1), sigma_data=1.0)
    model, seconds = pretrained(task, init)
    assert model is init and seconds == 0.0  # given: returned as it is, no training
    assert pretrained(task, init, steps=0) == (init, 0.0)
    assert pretrained(task, steps=0) == (None, 0.0)  # none: fresh weights
    model, seconds = pretrained(task, steps=5, seed=2, hidden=16, depth=2, progress=False)
    trained = cm_toy.train_edm(task, steps=5, seed=2, hidden=16, depth=2, progress=False)
    assert isinstance(model, Precond) and not model.is_consistency and seconds > 0
    assert (model.net.hidden, model.net.depth) == (16, 2)
    x = torch.linspace(-2, 2, 9)[:, None]
    assert torch.equal(model(x, 0.5), trained.ema(x, 0.5))  # train_edm's EMA model, same seed and steps
    for bad in (cm_toy.consistency_model(1), torch.nn.Linear(1, 1)):
        with pytest.raises(TypeError, match="init must be None or an EDM denoiser"):
            pretrained(task, bad)
