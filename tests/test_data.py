import math

import pytest
import torch

import cm_toy
from cm_toy import GaussianMixture, get_dataset, list_datasets

TASKS = ["three_gmm_1D", "two_gmm_1D", "uneven_two_gmm_1D", "single_gaussian_1D"]


@pytest.mark.parametrize("name", TASKS)
@pytest.mark.parametrize("sigma", [0.0, 0.3, 2.0])
def test_pdf_integrates_to_one_and_cdf_is_its_integral(name, sigma):
    task = get_dataset(name)
    x = torch.linspace(-20, 20, 200_001, dtype=torch.float64)[:, None]
    p = task.pdf(x, sigma)
    assert torch.trapezoid(p, x[:, 0]).item() == pytest.approx(1.0, abs=1e-6)
    cdf_numeric = torch.cumulative_trapezoid(p, x[:, 0])
    assert (cdf_numeric - task.cdf(x, sigma)[1:]).abs().max().item() < 1e-6


def test_uneven_task_really_is_70_30():
    task = get_dataset("uneven_two_gmm_1D")
    x = task.sample(100_000, torch.Generator().manual_seed(0))
    assert x.shape == (100_000, 1)
    assert (x < 0).float().mean().item() == pytest.approx(0.7, abs=0.01)


def test_samples_match_moments():
    task = get_dataset("three_gmm_1D")
    x = task.sample(200_000, torch.Generator().manual_seed(0)).double()
    assert x.mean().item() == pytest.approx(task.mean().item(), abs=0.01)
    assert x.std().item() == pytest.approx(task.std().item(), rel=0.01)


@pytest.mark.parametrize("sigma", [0.1, 0.7, 3.0])
def test_exact_denoiser_matches_monte_carlo_posterior_mean(sigma):
    # E[x0 | x0 + sigma eps = x] estimated by self-normalised importance weights over exact samples of x0.
    task = get_dataset("three_gmm_1D")
    x0 = task.sample(400_000, torch.Generator().manual_seed(1)).double()
    x = torch.tensor([[-1.2], [-0.4], [0.0], [0.9], [2.0]], dtype=torch.float64)
    logw = -0.5 * ((x[:, None, 0] - x0[None, :, 0]) / sigma) ** 2  # [5, N]
    w = torch.softmax(logw, dim=1)
    mc = (w * x0[None, :, 0]).sum(1)
    assert torch.allclose(task.denoise(x, sigma)[:, 0], mc, atol=0.01)


@pytest.mark.parametrize("name", TASKS)
def test_score_is_tweedie_and_the_gradient_of_log_density(name):
    task = get_dataset(name)
    sigma = 0.5
    x = torch.linspace(-3, 3, 41, dtype=torch.float64)[:, None].requires_grad_(True)
    (grad,) = torch.autograd.grad(task.log_prob(x, sigma).sum(), x)
    score = task.score(x.detach(), sigma)
    assert torch.allclose(score, grad, atol=1e-8)
    assert torch.allclose(score, (task.denoise(x.detach(), sigma) - x.detach()) / sigma**2, atol=1e-10)


def test_denoiser_limits():
    task = get_dataset("two_gmm_1D")
    x = torch.linspace(-3, 3, 11, dtype=torch.float64)[:, None]
    assert torch.allclose(task.denoise(x, 1e-6), x, atol=1e-6)  # no noise: nothing to remove
    assert torch.allclose(task.denoise(x, 1e4), task.mean().expand_as(x), atol=1e-3)  # all noise: the data mean


def test_2d_mixture_density_integrates_to_one():
    task = GaussianMixture([0.25] * 4, [[1, 1], [-1, 1], [1, -1], [-1, -1]], [0.2] * 4)
    g = torch.linspace(-4, 4, 801, dtype=torch.float64)
    xx, yy = torch.meshgrid(g, g, indexing="ij")
    p = task.pdf(torch.stack([xx.reshape(-1), yy.reshape(-1)], 1), 0.3).reshape(801, 801)
    assert torch.trapezoid(torch.trapezoid(p, g), g).item() == pytest.approx(1.0, abs=1e-5)
    assert task.sample(7).shape == (7, 2)


def test_unknown_task_lists_valid_names():
    with pytest.raises(ValueError, match="valid names: .*three_gmm_1D"):
        get_dataset("four_gmm_1D")
    assert set(TASKS) <= set(list_datasets())


@pytest.mark.parametrize(
    "weights, means, stds, match",
    [
        ([0.5, 0.6], [0, 1], [1, 1], "sum to 1"),
        ([-0.5, 1.5], [0, 1], [1, 1], "non-negative"),
        ([0.5, 0.5], [0, 1], [1, 0], "std must be > 0"),
        ([0.5, 0.5], [0, 1, 2], [1, 1], "mismatched lengths"),
    ],
)
def test_invalid_mixtures_are_rejected(weights, means, stds, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixture(weights, means, stds)


def test_wrong_shapes_are_rejected():
    task = get_dataset("two_gmm_1D")
    with pytest.raises(ValueError, match=r"shape \[n, 1\]"):
        task.pdf(torch.zeros(5))
    with pytest.raises(ValueError, match="1D mixtures only"):
        GaussianMixture([1.0], [[0.0, 0.0]], [1.0]).cdf(torch.zeros(3, 2))
    assert math.isfinite(cm_toy.get_dataset("single_gaussian_1D").std().item())
