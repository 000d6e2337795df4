"""The reference-batch denoiser (stable target field) and the losses that use it."""

import functools

import pytest
import torch

import cm_toy
from cm_toy import batch_denoiser, ct_loss, ect_loss, edm_loss, get_dataset
from cm_toy.losses import REFERENCE_SIZE, batch_target
from cm_toy.samplers import heun_step


def test_batch_denoiser_limits():
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(64, 2, generator=g)
    small = torch.full((64, 1), 1e-4)
    x = x0 + small * torch.randn(64, 2, generator=g)
    assert torch.allclose(batch_denoiser(x, small, x0), x0, atol=1e-6)  # tiny sigma: its own clean point
    big = torch.full((64, 1), 1e6)
    assert torch.allclose(batch_denoiser(x, big, x0), x0.mean(dim=0).expand(64, 2), atol=1e-5)  # huge: the mean


def test_batch_denoiser_approaches_the_exact_denoiser():
    # E[x0 | x] over a large reference batch converges to the mixture's exact posterior mean at every sigma.
    task = get_dataset("three_gmm_1D")
    g = torch.Generator().manual_seed(1)
    x_ref = task.sample(20_000, g)
    for s in (0.3, 1.0, 5.0):  # at typical noisy points (in the far tails a finite batch has too few neighbours)
        x = task.sample(41, g) + s * torch.randn(41, 1, generator=g)
        sigma = torch.full((41, 1), s)
        err = (batch_denoiser(x, sigma, x_ref) - task.denoise(x, s)).abs().max().item()
        assert err < 0.05, (s, err)


def test_batch_target_groups_and_variance():
    task = get_dataset("three_gmm_1D")
    g = torch.Generator().manual_seed(2)
    x0 = task.sample(2 * REFERENCE_SIZE, g)
    sigma = torch.full((len(x0), 1), 2.0)
    x = x0 + sigma * torch.randn(x0.shape, generator=g)
    grouped = batch_target(x, sigma, x0)
    assert not grouped.requires_grad and torch.equal(grouped, batch_target(x, sigma, x0, None))
    halves = [
        batch_denoiser(x[i : i + REFERENCE_SIZE], sigma[i : i + REFERENCE_SIZE], x0[i : i + REFERENCE_SIZE])
        for i in (0, REFERENCE_SIZE)
    ]
    assert torch.allclose(grouped, torch.cat(halves), atol=1e-6)
    # Both targets have the exact denoiser as their mean given x; the batch estimate scatters far less around it.
    exact = task.denoise(x, 2.0)
    assert ((grouped - exact) ** 2).mean() < 0.1 * ((x0 - exact) ** 2).mean()


def test_batch_heun_step_follows_the_exact_ode():
    # ct_loss(reference_batch=True) steps from x_{n+1} with Heun and the batch denoiser: close to the step with the
    # exact denoiser, where CT's one-sample landing point x0 + t_n z scatters around it by about the data's spread.
    task = get_dataset("three_gmm_1D")
    g = torch.Generator().manual_seed(3)
    x0 = task.sample(4 * REFERENCE_SIZE, g)
    z = torch.randn(x0.shape, generator=g)
    batch_teacher = lambda x, sigma: batch_target(x, sigma.expand(len(x), 1), x0)  # as ct_loss(reference_batch=True)
    for t, s in ((5.0, 4.0), (1.0, 0.8), (0.3, 0.25)):
        t_, s_ = torch.full((len(x0), 1), t), torch.full((len(x0), 1), s)
        exact = heun_step(lambda x, sigma: task.denoise(x, sigma).float(), x0 + t * z, t_, s_)
        batch = heun_step(batch_teacher, x0 + t * z, t_, s_)
        one_sample = x0 + s * z
        err, spread = ((batch - exact) ** 2).mean().sqrt(), ((one_sample - exact) ** 2).mean().sqrt()
        assert err < 0.2 * spread, (t, err, spread)


def test_losses_with_reference_batch_run_and_refuse_labels():
    torch.manual_seed(0)
    model = cm_toy.consistency_model(1)
    x0 = get_dataset("two_gmm_1D").sample(256, torch.Generator().manual_seed(0))
    gen = functools.partial(torch.Generator().manual_seed, 0)
    for loss in (
        functools.partial(ect_loss, stage=0, c=0.03),
        functools.partial(ct_loss, target=model, num_scales=10),
        edm_loss,
    ):
        plain = loss(model, x0, step=0, generator=gen())
        reduced = loss(model, x0, step=0, generator=gen(), reference_batch=True)
        assert plain.shape == reduced.shape == (256,) and torch.isfinite(reduced).all()
        assert not torch.equal(plain, reduced)
    for loss in (functools.partial(ect_loss, stage=0, c=0.03), functools.partial(ct_loss, target=model, num_scales=10)):
        with pytest.raises(ValueError, match="consistency losses"):
            loss(model, x0, step=0, generator=gen(), labels=torch.zeros(256, dtype=torch.long), reference_batch=True)


def test_conditional_reference_stays_within_the_class():
    # Two classes at -5 and +5; at a huge sigma a labelled point's estimate is its class mean, an unlabelled one's the
    # mean of everything.
    x0 = torch.cat([torch.full((128, 1), -5.0), torch.full((128, 1), 5.0)])
    labels = torch.cat([torch.zeros(128, dtype=torch.long), torch.ones(128, dtype=torch.long)])
    labels[::4] = 2  # the "no label" class of a 2-class model
    sigma = torch.full((256, 1), 1e4)
    x = x0 + sigma * torch.randn(256, 1, generator=torch.Generator().manual_seed(0))
    target = batch_target(x, sigma, x0, labels, null_label=2)
    expected = torch.where(labels == 2, 0.0, torch.where(labels == 0, -5.0, 5.0))[:, None]
    assert torch.allclose(target, expected, atol=0.05)
