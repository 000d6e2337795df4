import math

import pytest
import torch

import cm_toy
from cm_toy import MLP, Precond, load_model, save_model
from cm_toy import drift as D


def test_default_mlp_is_unchanged_by_the_embedding_option():
    torch.manual_seed(0)
    a = MLP()
    torch.manual_seed(0)
    b = MLP(embedding="smooth")
    assert a.config() == dict(dim=1, hidden=128, depth=3, num_classes=0, x_features=16, x_scale=1.0)
    assert list(a.state_dict()) == list(b.state_dict())
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_fourier_embedding_features_and_roundtrip(tmp_path):
    torch.manual_seed(0)
    f = Precond(MLP(hidden=16, depth=2, embedding="fourier", fourier_scale=30.0), sigma_data=0.5, sigma_min=0.05)
    emb = f.net.embed(torch.linspace(-1, 0, 7))
    assert emb.shape == (7, 4)
    assert torch.allclose(emb[:, :2] ** 2 + emb[:, 2:] ** 2, torch.ones(7, 2))  # points on circles
    assert f.net.embed.freqs.abs().max() > 2 * math.pi  # scale 30: several cycles per unit of c_noise
    save_model(f, tmp_path / "m.pt")
    g = load_model(tmp_path / "m.pt")
    x = torch.randn(8, 1)
    assert g.net.embedding == "fourier" and torch.equal(f(x, 0.3), g(x, 0.3))
    assert torch.equal(f(x, 0.05), x)  # the boundary condition does not depend on the embedding


def test_bad_embedding_names_the_choices():
    with pytest.raises(ValueError, match="smooth, fourier"):
        MLP(embedding="positional")


def test_linear_sigmas_rebuild_the_original_grid():
    grid = torch.cat([D.linear_sigmas(19), torch.tensor([0.05])])
    assert torch.allclose(grid, torch.linspace(1.0, 0.05, 20))
    assert torch.equal(D.linear_sigmas(1), torch.tensor([1.0]))
    with pytest.raises(ValueError, match="num_steps"):
        D.linear_sigmas(0)


def _gaussian_f_star(m, s, sigma_min):
    # f* of a single Gaussian N(m, s^2) is linear: the PF-ODE keeps (x - m) / sqrt(s^2 + sigma^2) constant.
    def f(x, sigma):
        sigma = torch.as_tensor(sigma, dtype=x.dtype)
        return m + (x - m) * math.sqrt(s**2 + sigma_min**2) / (s**2 + sigma**2).sqrt()

    f.sigma_min, f.dim = sigma_min, 1  # what sample_consistency reads from any f
    return f


def test_exact_f_matches_the_closed_form_for_one_gaussian():
    task = cm_toy.get_dataset("single_gaussian_1D")  # N(1, 0.2^2)
    x = torch.linspace(-2, 4, 9)[:, None]
    f = cm_toy.ExactConsistency(task, sigma_min=0.05)
    assert f.sigma_min == 0.05 and f.dim == 1
    assert torch.allclose(f(x, 0.8), _gaussian_f_star(1.0, 0.2, 0.05)(x, 0.8), atol=3e-4)


def test_multistep_with_exact_f_does_not_drift_and_bad_start_is_rejected():
    # The original sampled from noise of std start_scale * sigma_max, start_scale = 1.5 and sigma_max = 1: that is
    # N(0, sigma_max^2 + data_std^2) with data_std = sigma_max sqrt(start_scale^2 - 1) = ORIGINAL["start_std"].
    task = "single_gaussian_1D"
    f = _gaussian_f_star(1.0, 0.2, 0.05)
    sigmas = D.linear_sigmas(19)
    start_std = float(sigmas[0]) * math.sqrt(1.5**2 - 1)
    assert start_std == pytest.approx(D.ORIGINAL["start_std"])
    samples, trajectory = cm_toy.sample_consistency(f, 4000, sigmas=sigmas, data_std=start_std, return_trajectory=True)
    noise = torch.randn(4000, 1, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(trajectory[0], 1.5 * noise)  # x_T: the original's start
    assert abs(cm_toy.evaluate(samples, task)["std_ratio"] - 1) < 0.05
    inflated = lambda x, sigma: 1.0 + 1.1 * (f(x, sigma) - 1.0)  # noqa: E731  (pushes 10% outward every step)
    inflated.sigma_min, inflated.dim = 0.05, 1
    one = cm_toy.sample_consistency(inflated, 4000, sigmas=D.linear_sigmas(1))
    drifted = cm_toy.sample_consistency(inflated, 4000, sigmas=D.linear_sigmas(19))
    assert abs(cm_toy.evaluate(one, task)["std_ratio"] - 1.1) < 0.05
    assert cm_toy.evaluate(drifted, task)["std_ratio"] > 1.3  # the per-step error compounds over 19 steps
    with pytest.raises(ValueError, match="data_std must be >= 0"):
        cm_toy.sample_consistency(f, 10, sigmas=D.linear_sigmas(2), data_std=-1.0)
    with pytest.raises(ValueError, match="sigma_min"):
        cm_toy.sample_consistency(f, 10, sigmas=[1.0, 0.01])  # a level below f's sigma_min


def test_bias_profile_sees_an_outward_push_and_none_for_f_star():
    task = "two_gmm_1D"
    f_star = cm_toy.ExactConsistency(task, sigma_min=0.05)
    push = lambda x, sigma: f_star(x, sigma) * 1.05  # noqa: E731  (outward from the mean, 0)
    push.sigma_min = 0.05
    levels = torch.tensor([0.1, 0.5, 1.0])
    zero = D.bias_profile(f_star, task, levels, n=500, f_star=f_star)
    assert zero["rms"].abs().max() == 0 and torch.allclose(zero["spread"], torch.ones(3))
    out = D.bias_profile(push, task, levels, n=500, f_star=f_star)
    assert (out["outward"] > 0.05).all() and (out["spread"] > 1.04).all()


def test_contraction_profile_matches_the_gaussian_slope():
    levels = torch.tensor([0.1, 0.3, 1.0])
    measured = D.contraction_profile("single_gaussian_1D", levels, sigma_min=0.05, n=200)
    expected = math.sqrt(0.2**2 + 0.05**2) / (0.2**2 + levels**2).sqrt()
    assert torch.allclose(measured, expected.float(), atol=1e-3)


def test_train_original_builds_the_original_setting():
    result = D.train_original("two_gmm_1D", steps=3, batch_size=64, progress=False)
    model = result.ema
    assert model.sigma_min == 0.05 and model.sigma_data == 0.5 and model.net.embedding == "fourier"
    assert model.net.depth == 4 and len(result.losses) == 3
    task = cm_toy.get_dataset("two_gmm_1D")
    cd = D.train_original(
        task,
        steps=3,
        batch_size=64,
        progress=False,
        curriculum=True,
        embedding="smooth",
        teacher=lambda x, sigma: task.denoise(x, sigma).to(x.dtype),
    ).ema
    assert cd.net.embedding == "smooth" and torch.isfinite(cd(torch.zeros(2, 1), 0.5)).all()


def test_multistep_grids_start_at_sigma_max_and_decrease():
    for kind in D.GRIDS:
        for k in (1, 2, 5):
            grid = D.multistep_grid(kind, k)
            assert len(grid) == k and grid[0] == 1.0 and (grid[1:] < grid[:-1]).all() and grid[-1] >= 0.05
    assert torch.allclose(D.multistep_grid("high", 2), torch.tensor([1.0, math.sqrt(0.8 * 0.3)]))
    assert torch.allclose(D.multistep_grid("high", 4)[[1, -1]], torch.tensor([0.8, 0.3]))
    with pytest.raises(ValueError, match="linear, karras, high"):
        D.multistep_grid("cosine", 4)


def test_mode_positions_finds_shifted_modes():
    task = cm_toy.get_dataset("three_gmm_1D")
    x = task.sample(3000, torch.Generator().manual_seed(0))
    pos = D.mode_positions(x * 1.2, task)  # outer modes pushed from +-1.5 to +-1.8
    assert torch.allclose(pos, torch.tensor([-1.8, 0.0, 1.8]), atol=0.05)
