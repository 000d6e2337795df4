import functools

import pytest
import torch

import cm_toy
from cm_toy import MLP, Precond, edm_loss, get_dataset, train


def test_ema_update_direction():
    a, b = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
    with torch.no_grad():
        a.weight.fill_(0.0)
        b.weight.fill_(1.0)
    cm_toy.ema_update(a, b, decay=0.9)  # decay close to 1 keeps the average close to its old value
    assert a.weight.item() == pytest.approx(0.1)


def test_training_is_reproducible_and_learns():
    runs = [cm_toy.train_edm("two_gmm_1D", seed=3, steps=150, batch_size=256, progress=False) for _ in range(2)]
    x = torch.linspace(-2, 2, 9)[:, None]
    assert torch.equal(runs[0](x, 0.5), runs[1](x, 0.5))
    losses = runs[0].history.losses
    assert sum(losses[-20:]) < sum(losses[:20])
    other = cm_toy.train_edm("two_gmm_1D", seed=4, steps=150, batch_size=256, progress=False)
    assert not torch.equal(runs[0](x, 0.5), other(x, 0.5))


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
