"""The new toy tasks (issue 7) and the core in D = 2: closed forms, metrics and a short run of every piece."""

import pytest
import torch

import cm_toy
from cm_toy import evaluate, get_dataset, noise_floor
from cm_toy.metrics import cdf_grid, projected, slice_directions, wasserstein1

NEW_1D = ["many_modes_1D", "wide_narrow_1D", "rare_far_1D"]
NEW_2D = ["ring8_2D", "grid25_2D"]


def test_list_datasets_names_every_task():
    names = cm_toy.list_datasets()
    for name in NEW_1D + NEW_2D + ["three_gmm_1D", "two_gmm_1D", "uneven_two_gmm_1D", "single_gaussian_1D"]:
        assert name in names
        assert get_dataset(name).dim == (2 if name.endswith("_2D") else 1)


@pytest.mark.parametrize("name", NEW_1D + NEW_2D)
def test_new_tasks_sit_on_the_sigma_data_scale(name):
    # Per-coordinate std between 1 and 1.6, like the original tasks: sigma_data = 1 stays a sensible data scale.
    task = get_dataset(name)
    assert ((task.std() > 1.0) & (task.std() < 1.6)).all()
    x = task.sample(100_000, torch.Generator().manual_seed(0)).double()
    assert torch.allclose(x.std(dim=0), task.std(), rtol=0.02)


def test_task_shapes_are_what_their_names_say():
    ring = get_dataset("ring8_2D")
    assert torch.allclose(ring.means.norm(dim=1), torch.full((8,), 2.0, dtype=torch.float64))
    grid = get_dataset("grid25_2D")
    assert sorted(set(grid.means[:, 0].tolist())) == [-2.0, -1.0, 0.0, 1.0, 2.0]
    assert get_dataset("many_modes_1D").num_components == 7
    widths = get_dataset("wide_narrow_1D").stds
    assert widths.max() / widths.min() > 10
    rare = get_dataset("rare_far_1D")
    assert rare.weights.min() <= 0.02 and (rare.means.max() - rare.means.min()) > 5


@pytest.mark.parametrize("sigma", [0.05, 0.5, 3.0])
def test_2d_denoiser_is_tweedie_of_the_exact_log_density(sigma):
    # D(x, sigma) = x + sigma^2 grad log p_sigma(x) (Karras et al. 2022, Eq. 3), grad by autograd in float64.
    task = get_dataset("ring8_2D")
    x = (torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2).requires_grad_()
    (grad,) = torch.autograd.grad(task.log_prob(x, sigma).sum(), x)
    assert torch.allclose(task.denoise(x.detach(), sigma), x.detach() + sigma**2 * grad, atol=1e-9)


def _w1_dense_trapezoid(samples, task):
    x = cdf_grid(task, samples, num=400_001)
    sorted_samples = samples[:, 0].double().sort().values
    F_n = torch.searchsorted(sorted_samples, x[:, 0], right=True).double() / len(sorted_samples)
    return torch.trapezoid((F_n - task.cdf(x)).abs(), x[:, 0]).item()


@pytest.mark.parametrize("name", ["three_gmm_1D", "wide_narrow_1D", "rare_far_1D", "grid25_2D"])
def test_w1_in_closed_form_agrees_with_a_dense_trapezoid(name):
    # The W1 integral is computed piecewise with the closed-form integral of the CDF (fast enough for 32 slices of a
    # 25-component 2D task); a 400,001-point trapezoid is the slow reference.
    task = get_dataset(name)
    if task.dim > 1:
        task = projected(task, slice_directions(task)[3][:, None])
    x = task.sample(3_000, torch.Generator().manual_seed(1)) * 1.05 + 0.02
    assert wasserstein1(x, task) == pytest.approx(_w1_dense_trapezoid(x, task), abs=2e-6)


def test_sliced_w1_sees_a_shift_in_2d():
    task = get_dataset("ring8_2D")
    x = task.sample(5_000, torch.Generator().manual_seed(0))
    shift = torch.tensor([[0.3, -0.1]])
    expected = (slice_directions(task) @ shift[0].double()).abs().mean().item()  # each slice moves by |u . shift|
    floor = noise_floor(task, 5_000, num_draws=5)["w1"]
    assert evaluate(x + shift, task)["w1"] == pytest.approx(expected, abs=2 * floor)
    assert evaluate(x, task)["w1"] < 2 * floor


def test_2d_mode_mass_error_sees_a_missing_mode():
    task = get_dataset("grid25_2D")
    x, labels = task.sample(5_000, torch.Generator().manual_seed(0), return_labels=True)
    assert evaluate(x, task)["mode_mass_err"] < 0.01
    assert evaluate(x[labels != 12], task)["mode_mass_err"] > 0.03  # the centre mode (weight 0.04) dropped


def test_exact_pf_ode_in_2d_reaches_the_target():
    # The whole sampling path in 2D with the exact denoiser: Heun over 32 Karras levels from sigma_max.
    task = get_dataset("ring8_2D")
    noise = torch.randn(4_000, 2, generator=torch.Generator().manual_seed(0))
    sigmas = torch.cat([cm_toy.karras_sigmas(32, 0.002, 80.0, 7.0), torch.zeros(1)])
    x = cm_toy.heun_sampler(lambda x, s: task.denoise(x, s).to(x.dtype), noise, sigmas)
    m = evaluate(x, task)
    assert m["w1"] < 2 * noise_floor(task, 4_000, num_draws=5)["w1"] and m["mode_mass_err"] < 0.02
    f = cm_toy.exact_consistency(task, noise[:200].double() * 80, 80.0)
    assert task.responsibilities(f).max(dim=1).values.min() > 0.99  # f* maps pure noise into one mode


def test_core_trains_and_samples_in_2d():
    task = get_dataset("ring8_2D")
    result = cm_toy.train_edm(task, steps=150, batch_size=256, progress=False)
    edm, losses = result.ema, result.losses
    assert sum(losses[-20:]) < sum(losses[:20])
    x, trajectory = cm_toy.sample_edm(edm, 300, num_steps=8, return_trajectory=True)
    assert x.shape == (300, 2) and trajectory.shape == (9, 300, 2) and torch.isfinite(x).all()
    cd = cm_toy.train_cd(task, edm, steps=30, batch_size=64, progress=False).ema
    y = cm_toy.sample_consistency(cd, 300, num_steps=2)
    assert y.shape == (300, 2) and torch.isfinite(y).all()
    assert torch.equal(cd(y, cd.sigma_min), y)  # boundary condition f(x, sigma_min) = x in 2D too
    assert set(evaluate(y, task)) >= set(cm_toy.metrics.METRICS)
