"""Class-conditional EDM, classifier-free guidance (Ho & Salimans 2022, arXiv 2207.12598) and conditional CD."""
import pytest
import torch

import cm_toy
from cm_toy import Guided, class_metrics, exact_guided_denoiser, get_dataset


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    return cm_toy.train_edm("three_gmm_1D", steps=300, batch_size=512, conditional=True, progress=False)


def test_exact_conditional_denoiser_is_the_component_denoiser():
    task = get_dataset("ring8_2D")
    x = torch.randn(50, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3
    for k in (0, 5):
        assert torch.allclose(exact_guided_denoiser(task, k)(x, 0.7), task.component(k).denoise(x, 0.7))
    null = exact_guided_denoiser(task, task.num_components, guidance=3.0)  # "no label": unconditional, unguided
    assert torch.allclose(null(x, 0.7), task.denoise(x, 0.7))


def test_guidance_is_the_ho_salimans_extrapolation():
    # D_w = D_c + w (D_c - D_null), i.e. (1 + w) eps_c - w eps_null for eps = (x - D) / sigma (Eq. 6).
    task = get_dataset("three_gmm_1D")
    x = torch.linspace(-3, 3, 41, dtype=torch.float64)[:, None]
    sigma, w = 0.8, 1.5
    eps = lambda D: (x - D) / sigma
    d_c, d_u = task.component(2).denoise(x, sigma), task.denoise(x, sigma)
    d_w = exact_guided_denoiser(task, 2, w)(x, sigma)
    assert torch.allclose(eps(d_w), (1 + w) * eps(d_c) - w * eps(d_u))


def test_exact_conditional_ode_reproduces_each_component_up_to_the_prior_offset():
    # For one Gaussian N(mu, s^2) the PF-ODE maps x_T at level T to mu + s (x_T - mu) / sqrt(T^2 + s^2) exactly.
    # Starting from x_T = T z (mean 0, not mu) therefore lands at mu + s z - mu s / T (to O(s^2 / T^2)): the samples of
    # class k are shifted by -mu_k s_k / sigma_max, 0.0037 for the outer classes of three_gmm_1D, 1.5x the per-class
    # W1 noise floor at n = 10,000. Everything else is exact.
    task = get_dataset("three_gmm_1D")
    sigmas = torch.cat([cm_toy.karras_sigmas(64, 0.002, 80.0, 7.0), torch.zeros(1)])
    noise = torch.randn(4_000, 1, generator=torch.Generator().manual_seed(0))
    for k in range(3):
        x = cm_toy.heun_sampler(exact_guided_denoiser(task, k), noise, sigmas)
        mu, s = task.means[k, 0].item(), task.stds[k].item()
        expected = mu + s * (80.0 * noise - mu) / (80.0**2 + s**2) ** 0.5
        assert (x - expected).abs().mean() < 1.5e-3  # Heun discretisation error only (64 levels)
        m = class_metrics(x, k, task)
        assert m["mean_shift"] == pytest.approx(s * noise.mean().item() - mu * s / 80.0, abs=2e-4)
        assert m["on_class"] > 0.99


def test_exact_guidance_sharpens_the_middle_class():
    # Guidance pushes away from the other classes: the middle mode of three_gmm_1D narrows as w grows.
    task = get_dataset("three_gmm_1D")
    sigmas = torch.cat([cm_toy.karras_sigmas(32, 0.002, 80.0, 7.0), torch.zeros(1)])
    noise = torch.randn(2_000, 1, generator=torch.Generator().manual_seed(0))
    stds = [cm_toy.heun_sampler(exact_guided_denoiser(task, 1, w), noise, sigmas).std().item() for w in (0, 1, 3)]
    assert stds[0] > stds[1] > stds[2]


def test_conditional_edm_keeps_its_labels(model):
    task = get_dataset("three_gmm_1D")
    assert model.net.num_classes == 3 and model.history.losses[-1] < model.history.losses[0]
    for k in range(3):
        x = cm_toy.sample_edm(model, 500, num_steps=16, labels=k)
        assert class_metrics(x, k, task)["on_class"] > 0.9
    labels = cm_toy.sample_labels(task, 500)
    x = cm_toy.sample_edm(model, 500, num_steps=16, labels=labels)
    assert (task.responsibilities(x).argmax(dim=1) == labels).float().mean() > 0.9


def test_guided_sampling_matches_a_manual_guided_denoiser(model):
    x = cm_toy.sample_edm(model, 200, num_steps=8, labels=0, guidance=2.0, seed=3)
    null = torch.full((200,), 3)
    zero = torch.zeros(200, dtype=torch.long)
    manual = lambda x, s: model(x, s, zero) + 2.0 * (model(x, s, zero) - model(x, s, null))
    noise = torch.randn(200, 1, generator=torch.Generator().manual_seed(3))
    sigmas = torch.cat([cm_toy.karras_sigmas(8, 0.002, 80.0, 7.0), torch.zeros(1)])
    assert torch.allclose(x, cm_toy.heun_sampler(manual, noise, sigmas), atol=1e-5)


def test_unconditional_defaults_are_unchanged():
    a = cm_toy.train_edm("two_gmm_1D", steps=20, progress=False)
    assert a.net.num_classes == 0
    x = cm_toy.sample_edm(a, 100, num_steps=4)
    assert torch.equal(x, cm_toy.sample_edm(a, 100, num_steps=4, labels=None, guidance=0.0))


def test_bad_labels_and_models_give_clear_errors(model):
    plain = cm_toy.train_edm("two_gmm_1D", steps=5, progress=False)
    with pytest.raises(ValueError, match="not class-conditional"):
        cm_toy.sample_edm(plain, 10, labels=0)
    with pytest.raises(ValueError, match="labels must be integers in 0..2"):
        cm_toy.sample_edm(model, 10, labels=7)
    with pytest.raises(ValueError, match="one label per sample"):
        cm_toy.sample_edm(model, 10, labels=torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="label_dropout"):
        cm_toy.train_edm("two_gmm_1D", steps=5, conditional=True, label_dropout=1.5, progress=False)
    with pytest.raises(ValueError, match="conditional EDM denoiser"):
        cm_toy.train_cd_conditional("three_gmm_1D", plain, steps=2, progress=False)


def test_conditional_cd_with_a_guided_teacher_runs_and_keeps_labels(model):
    task = get_dataset("three_gmm_1D")
    cd = cm_toy.train_cd_conditional(task, model, guidance=1.0, steps=200, progress=False)
    assert cd.is_consistency and cd.net.num_classes == 3
    for k in (0, 2):
        x = cm_toy.sample_consistency_conditional(cd, 500, k)
        assert torch.isfinite(x).all() and class_metrics(x, k, task)["on_class"] > 0.9
    x = torch.randn(8, 1)
    assert torch.equal(cd(x, cd.sigma_min, torch.zeros(8, dtype=torch.long)), x)  # f(x, sigma_min, c) = x
    with pytest.raises(ValueError, match="distill it"):
        Guided(cd, 0, guidance=1.0)
