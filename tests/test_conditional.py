"""Class-conditional EDM, classifier-free guidance (Ho & Salimans 2022, arXiv 2207.12598) and conditional CD."""

import pytest
import torch

import cm_toy
from cm_toy import Guided, class_metrics, exact_guided_denoiser, get_dataset, sample_consistency
from cm_toy.guidance import class_prior_sample
from cm_toy.samplers import consistency_sampler


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    return cm_toy.train_edm("three_gmm_1D", steps=300, batch_size=512, conditional=True, progress=False)


@pytest.fixture(scope="module")
def model(trained):
    return trained.ema


@pytest.fixture(scope="module")
def cd(model):
    torch.set_num_threads(1)
    return cm_toy.train_cd_conditional("three_gmm_1D", model, guidance=1.0, steps=200, progress=False).ema


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
    # Why sampling starts from the class (class_prior_sample): for one Gaussian N(mu, s^2) the PF-ODE maps x_T at level
    # T to mu + s (x_T - mu) / sqrt(T^2 + s^2) exactly. Starting from x_T = T z (mean 0, not mu) therefore lands at
    # mu + s z - mu s / T (to O(s^2 / T^2)): the samples of class k are shifted by -mu_k s_k / sigma_max, 0.0037 for the
    # outer classes of three_gmm_1D, 1.5x the per-class W1 noise floor at n = 10,000. Everything else is exact.
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


def test_the_class_aware_start_removes_the_prior_offset():
    # Started from x_T = mu_k + sqrt(T^2 + s_k^2) z, the noisy class itself, the same map lands at mu_k + s_k z:
    # exactly component k. Antithetic noise (z and -z, mean exactly 0) leaves only the start's own mean shift.
    task = get_dataset("three_gmm_1D")
    sigmas = torch.cat([cm_toy.karras_sigmas(64, 0.002, 80.0, 7.0), torch.zeros(1)])
    z = torch.randn(2_000, 1, generator=torch.Generator().manual_seed(0))
    noise = torch.cat([z, -z])
    for k in range(3):
        mu, s = task.means[k, 0].item(), task.stds[k].item()
        old = class_metrics(cm_toy.heun_sampler(exact_guided_denoiser(task, k), noise, sigmas), k, task)
        start = class_prior_sample(task, k, noise, 80.0)
        x = cm_toy.heun_sampler(exact_guided_denoiser(task, k), start / 80.0, sigmas)
        assert (x - (mu + s * noise)).abs().mean() < 1.5e-3  # Heun discretisation error only
        new = class_metrics(x, k, task)
        assert old["mean_shift"] == pytest.approx(-mu * s / 80.0, abs=2e-4)  # the N(0, T^2) start: -mu_k s_k / T
        assert abs(new["mean_shift"]) < 2e-4  # the class-aware start: none
        if mu != 0:  # the outer classes: 0.0038 -> under 0.0002
            assert abs(new["mean_shift"]) < abs(old["mean_shift"]) / 10


def test_class_prior_sample_is_the_noisy_class():
    # x_0 + T n with x_0 ~ N(mu_k, s_k^2 I), n ~ N(0, I): mean mu_k, variance s_k^2 + T^2 per coordinate.
    task = get_dataset("ring8_2D")
    T, k = 2.0, 3  # a small T, so that s_k^2 matters against T^2
    noise = torch.randn(200_000, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x = class_prior_sample(task, k, noise, T)
    assert torch.allclose(x.mean(0), task.means[k], atol=0.02)
    assert torch.allclose(x.var(0), task.stds[k] ** 2 + T**2 + torch.zeros(2, dtype=torch.float64), rtol=0.01)
    exact = x[:, 0].sort().values[::1000] - task.means[k, 0]  # quantiles against the closed-form N(mu, s^2 + T^2)
    z = torch.distributions.Normal(0.0, (task.stds[k] ** 2 + T**2).sqrt())
    assert (z.cdf(exact) - torch.linspace(0, 1, 201)[:200].double()).abs().max() < 0.01
    labels = torch.tensor([k, 8, 0, 8])  # "no label" rows start from N(0, T^2), the unconditional start
    y = class_prior_sample(task, labels, noise[:4], T)
    assert torch.equal(y[labels == 8], T * noise[:4][labels == 8])


def test_conditional_models_store_their_classes_and_start_from_them(model, tmp_path):
    task = get_dataset("three_gmm_1D")
    assert torch.equal(model.class_means, task.means.float()) and torch.equal(model.class_stds, task.stds.float())
    path = tmp_path / "conditional.pt"
    cm_toy.save_model(model, path)
    assert torch.equal(cm_toy.load_model(path).class_means, model.class_means)
    # sample_edm with labels starts from class_prior_sample by default; class_prior=False gives the N(0, T^2) start.
    labels = torch.tensor([0, 1, 2, 3] * 25)  # 3: "no label"
    sigmas = torch.cat([cm_toy.karras_sigmas(8, 0.002, 80.0, 7.0), torch.zeros(1)])
    noise = torch.randn(100, 1, generator=torch.Generator().manual_seed(3))
    guided = Guided(model, labels, n=100)
    start = class_prior_sample(task, labels, noise, 80.0) / 80.0
    assert torch.allclose(
        cm_toy.sample_edm(model, 100, num_steps=8, labels=labels, seed=3),
        cm_toy.heun_sampler(guided, start, sigmas),
        atol=1e-5,
    )
    assert torch.allclose(
        cm_toy.sample_edm(model, 100, num_steps=8, labels=labels, seed=3, class_prior=False),
        cm_toy.heun_sampler(guided, noise, sigmas),
        atol=1e-5,
    )


def test_class_prior_bad_input_gives_clear_errors(model):
    task = get_dataset("three_gmm_1D")
    noise = torch.randn(10, 1)
    with pytest.raises(ValueError, match="labels must be integers in 0..2"):
        class_prior_sample(task, 4, noise)
    with pytest.raises(ValueError, match="labels must be integers in 0..2"):
        class_prior_sample(task, -1, noise)
    with pytest.raises(ValueError, match="one label per sample"):
        class_prior_sample(task, torch.zeros(3, dtype=torch.long), noise)
    with pytest.raises(ValueError, match="labels must be integers"):
        class_prior_sample(task, torch.zeros(10), noise)  # float labels
    with pytest.raises(ValueError, match="sigma_max must be > 0"):
        class_prior_sample(task, 0, noise, 0.0)
    with pytest.raises(ValueError, match="unknown task"):
        class_prior_sample("no_such_task", 0, noise)
    bare = cm_toy.Precond(cm_toy.MLP(num_classes=3, hidden=8, depth=1))  # conditional, but knows no classes
    with pytest.raises(ValueError, match="does not store its classes.*class_prior=False"):
        cm_toy.sample_edm(bare, 10, num_steps=2, labels=0)
    assert cm_toy.sample_edm(bare, 10, num_steps=2, labels=0, class_prior=False).shape == (10, 1)
    assert cm_toy.sample_edm(bare, 10, num_steps=2).shape == (10, 1)  # unconditional sampling needs no classes
    with pytest.raises(ValueError, match="together"):
        cm_toy.Precond(cm_toy.MLP(num_classes=3), class_means=task.means)
    with pytest.raises(ValueError, match=r"class_means must be \[num_classes, dim\]"):
        cm_toy.Precond(cm_toy.MLP(num_classes=2), class_means=task.means, class_stds=task.stds)
    with pytest.raises(ValueError, match="class-conditional net"):
        cm_toy.Precond(cm_toy.MLP(), class_means=task.means, class_stds=task.stds)
    with pytest.raises(ValueError, match="> 0"):
        cm_toy.Precond(cm_toy.MLP(num_classes=3), class_means=task.means, class_stds=[0.2, 0.0, 0.2])


def test_exact_guidance_sharpens_the_middle_class():
    # Guidance pushes away from the other classes: the middle mode of three_gmm_1D narrows as w grows.
    task = get_dataset("three_gmm_1D")
    sigmas = torch.cat([cm_toy.karras_sigmas(32, 0.002, 80.0, 7.0), torch.zeros(1)])
    noise = torch.randn(2_000, 1, generator=torch.Generator().manual_seed(0))
    stds = [cm_toy.heun_sampler(exact_guided_denoiser(task, 1, w), noise, sigmas).std().item() for w in (0, 1, 3)]
    assert stds[0] > stds[1] > stds[2]


def test_conditional_edm_keeps_its_labels(trained, model):
    task = get_dataset("three_gmm_1D")
    assert model.net.num_classes == 3 and trained.losses[-1] < trained.losses[0]
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
    noise = class_prior_sample("three_gmm_1D", 0, noise, 80.0) / 80.0  # guided sampling starts from the class
    sigmas = torch.cat([cm_toy.karras_sigmas(8, 0.002, 80.0, 7.0), torch.zeros(1)])
    assert torch.allclose(x, cm_toy.heun_sampler(manual, noise, sigmas), atol=1e-5)


def test_unconditional_defaults_are_unchanged():
    a = cm_toy.train_edm("two_gmm_1D", steps=20, progress=False).ema
    assert a.net.num_classes == 0
    x = cm_toy.sample_edm(a, 100, num_steps=4)
    assert torch.equal(x, cm_toy.sample_edm(a, 100, num_steps=4, labels=None, guidance=0.0))


def test_bad_labels_and_models_give_clear_errors(model):
    plain = cm_toy.train_edm("two_gmm_1D", steps=5, progress=False).ema
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


def test_conditional_cd_with_a_guided_teacher_runs_and_keeps_labels(cd):
    task = get_dataset("three_gmm_1D")
    assert cd.is_consistency and cd.net.num_classes == 3
    assert torch.equal(cd.class_means, task.means.float())  # the student stores the classes too
    for k in (0, 2):
        x = sample_consistency(cd, 500, labels=k)
        assert torch.isfinite(x).all() and class_metrics(x, k, task)["on_class"] > 0.9
    # One step from the class-aware start is f(x_T, T, k) at x_T = class_prior_sample(...); class_prior=False: T z.
    noise = torch.randn(500, 1, generator=torch.Generator().manual_seed(0))
    labels = torch.full((500,), 2)
    start = class_prior_sample(task, 2, noise, 80.0)
    assert torch.allclose(x, cd(start, 80.0, labels), atol=1e-5)
    assert torch.allclose(
        sample_consistency(cd, 500, labels=2, class_prior=False), cd(80.0 * noise, 80.0, labels), atol=1e-5
    )
    x = torch.randn(8, 1)
    assert torch.equal(cd(x, cd.sigma_min, torch.zeros(8, dtype=torch.long)), x)  # f(x, sigma_min, c) = x
    with pytest.raises(ValueError, match="distill it"):
        Guided(cd, 0, guidance=1.0)


def test_sample_consistency_with_labels_is_algorithm_1_with_the_labels_bound(cd):
    # Several steps, one label per sample ("no label", 3, included): Algorithm 1 on f(., ., labels) from the
    # class-aware start, with the noise sample_consistency draws for the seed; "no label" rows start at T z.
    task, n = get_dataset("three_gmm_1D"), 300
    labels = torch.tensor([0, 1, 2, 3]).repeat(n // 4)
    sigmas = cm_toy.sampling_sigmas(3)
    x, trajectory = sample_consistency(cd, n, num_steps=3, labels=labels, seed=7, return_trajectory=True)
    generator = torch.Generator().manual_seed(7)
    noise = torch.randn(n, 1, generator=generator)
    start = class_prior_sample(task, labels, noise, 80.0) / 80.0
    bound = Guided(cd, labels, n=n)
    expected, path = consistency_sampler(bound, start, sigmas, generator=generator, return_trajectory=True)
    assert torch.equal(x, expected) and torch.equal(trajectory, path) and trajectory.shape == (6, n, 1)
    assert torch.equal(trajectory[0][labels == 3], 80.0 * noise[labels == 3])
    # labels=None samples the model unconditionally: its "no label" class from N(0, T^2), as an unconditional model.
    null = torch.full((n,), 3)
    assert torch.equal(sample_consistency(cd, n, seed=7), sample_consistency(cd, n, labels=null, seed=7))
    # data_mean and data_std set the unconditional start; with labels the start is the classes' (class_prior).
    for start_kw in (dict(data_mean=1.0), dict(data_std=0.5)):
        with pytest.raises(ValueError, match="data_mean and data_std set the unconditional start; with labels"):
            sample_consistency(cd, 10, labels=0, **start_kw)
    with pytest.raises(ValueError, match="labels must be integers in 0..2"):
        sample_consistency(cd, 10, labels=5)
    with pytest.raises(ValueError, match="not class-conditional"):
        sample_consistency(cm_toy.consistency_model(1), 10, labels=0)
