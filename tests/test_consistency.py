import inspect
import math

import pytest
import torch

import cm_toy
from cm_toy import (
    MLP,
    ExactConsistency,
    Precond,
    cd_loss,
    consistency_sigmas,
    ct_loss,
    ect_loss,
    exact_consistency,
    get_dataset,
    ict_loss,
    sample_consistency,
)
from cm_toy.losses import binned_reference, sample_intervals, teacher_walk
from cm_toy.samplers import consistency_sampler, heun_step
from cm_toy.schedules import (
    ect_r,
    ict_num_scales,
    lognormal_interval_probs,
    song2023_num_scales,
    song2023_target_decay,
)

# On a single Gaussian N(mu, s^2) the PF-ODE is closed-form: x(sigma) - mu is proportional to sqrt(s^2 + sigma^2),
# so f*(x, sigma) = mu + (x - mu) sqrt(s^2 + sigma_min^2) / sqrt(s^2 + sigma^2) and D(x, sigma) = mu + (x - mu) s^2 /
# (s^2 + sigma^2).
MU, S, SIGMA_MIN = 1.0, 0.2, 0.002


def f_star(x, sigma):
    sigma = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, 1) if torch.is_tensor(sigma) else sigma
    return MU + (x - MU) * math.sqrt(S**2 + SIGMA_MIN**2) / (S**2 + sigma**2) ** 0.5


class ExactF(torch.nn.Module):
    """The exact consistency function of single_gaussian_1D, dressed as a model for the losses."""

    sigma_min, sigma_data = SIGMA_MIN, 1.0

    def forward(self, x, sigma):
        sigma = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1)
        sigma = sigma.expand(len(x)) if sigma.numel() == 1 else sigma
        return f_star(x, sigma[:, None])


@pytest.fixture
def gaussian():
    return get_dataset("single_gaussian_1D")


def test_exact_consistency_matches_the_closed_form(gaussian):
    for sigma in (0.01, 0.5, 5.0, 80.0):
        x = MU + (S**2 + sigma**2) ** 0.5 * torch.linspace(-4, 4, 41, dtype=torch.float64)[:, None]
        got = exact_consistency(gaussian, x, sigma)
        assert (got - f_star(x, sigma)).abs().max() < 5e-4  # out to 4 standard deviations of p_sigma


def test_exact_consistency_boundary_and_errors(gaussian):
    x = torch.randn(5, 1, dtype=torch.float64)
    assert torch.allclose(exact_consistency(gaussian, x, SIGMA_MIN), x)
    with pytest.raises(ValueError, match="sigma_min"):
        exact_consistency(gaussian, x, 0.001)
    with pytest.raises(ValueError, match="shape"):
        exact_consistency(gaussian, torch.zeros(5), 1.0)


class ShiftedF(torch.nn.Module):
    """f* of single_gaussian_1D with its mean moved by delta: still obeys f(x, sigma_min) = x, consistent only at 0."""

    sigma_min, sigma_data = SIGMA_MIN, 1.0

    def __init__(self, delta=0.0):
        super().__init__()
        self.delta = delta

    def forward(self, x, sigma):
        sigma = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1)
        sigma = sigma.expand(len(x)) if sigma.numel() == 1 else sigma
        a = math.sqrt(S**2 + SIGMA_MIN**2) / (S**2 + sigma[:, None] ** 2) ** 0.5
        return MU + self.delta + (x - MU - self.delta) * a


@pytest.mark.parametrize("loss_name", ["cd", "ct", "ict", "ect"])
def test_losses_are_minimal_at_the_exact_consistency_function(gaussian, loss_name):
    # CD: the loss at f* is only the Heun step's local error, ~0. CT: the one-sample target x0 + t_n z is random given
    # x_{n+1}, so the loss at f* keeps an irreducible spread, but f* minimises it: moving f off f* (here its mean, by
    # +-0.05, same random numbers) raises every loss.
    def loss(model):
        g = torch.Generator().manual_seed(0)
        x0 = gaussian.sample(4096, g).double()
        kw = dict(generator=g, step=0)
        if loss_name == "cd":
            return cd_loss(model, x0, teacher=gaussian.denoise, target=ShiftedF(0.0), num_scales=80, **kw).mean().item()
        if loss_name == "ct":
            return ct_loss(model, x0, target=model, num_scales=200, **kw).mean().item()
        if loss_name == "ict":
            return ict_loss(model, x0, num_scales=200, c=0.03, **kw).mean().item()
        return ect_loss(model, x0, stage=6, c=0.03, **kw).mean().item()

    at_exact = loss(ShiftedF(0.0))
    assert loss(ShiftedF(0.05)) > at_exact and loss(ShiftedF(-0.05)) > at_exact
    if loss_name == "cd":
        assert at_exact < 1e-8
        assert loss(ShiftedF(0.05)) > 1e4 * at_exact


@pytest.mark.parametrize("loss_name", ["ict", "ect"])
def test_c_none_is_the_squared_distance_with_the_same_weighting(gaussian, loss_name):
    # c=None: ||a - b||^2 / (t_next - t_n); pseudo-Huber with a large c is ~ ||a - b||^2 / (2c): the same up to 2c.
    def loss(c):
        g = torch.Generator().manual_seed(0)
        x0, kw = gaussian.sample(512, g).double(), dict(generator=g, step=0, c=c)
        if loss_name == "ict":
            return ict_loss(ShiftedF(0.05), x0, num_scales=40, **kw)
        return ect_loss(ShiftedF(0.05), x0, stage=2, **kw)

    torch.testing.assert_close(loss(None), 200 * loss(100.0), rtol=1e-4, atol=1e-9)
    assert not torch.allclose(loss(None), loss(0.03))


def test_defaults_are_published_and_the_empirical_teacher_has_its_own_sample():
    assert inspect.signature(cm_toy.train_ct).parameters["recipe"].default == "ect"
    assert inspect.signature(cm_toy.train_continuous_ct).parameters["recipe"].default == "song2023"
    assert inspect.signature(cm_toy.ct.train_ect).parameters["reference_batch"].default is False
    # teacher="empirical" is the denoiser of EMPIRICAL_SIZE points drawn with seed + EMPIRICAL_SEED_OFFSET
    task, dist = cm_toy.get_dataset("two_gmm_1D"), cm_toy.distillation
    x, sigma = torch.linspace(-3, 3, 9)[:, None], torch.full((9, 1), 0.5)
    points = task.sample(dist.EMPIRICAL_SIZE, torch.Generator().manual_seed(dist.EMPIRICAL_SEED_OFFSET + 3))
    expected = dist.empirical_denoiser(points)(x, sigma)
    assert torch.equal(dist.as_denoiser("empirical", task, seed=3)(x, sigma), expected)
    assert torch.allclose(expected, task.denoise(x, sigma).float(), atol=5e-3)  # 2^20 points: close to exact


def test_cd_loss_is_zero_for_cd_with_a_perfect_ode_step(gaussian):
    # With target = f*, f*(x_hat_n, t_n) equals f*(x_{n+1}, t_{n+1}) up to the Heun step's local error.
    exact, g = ExactF(), torch.Generator().manual_seed(1)
    x0 = gaussian.sample(2048, g).double()
    coarse = cd_loss(exact, x0, teacher=gaussian.denoise, target=exact, num_scales=10, generator=g).mean()
    fine = cd_loss(exact, x0, teacher=gaussian.denoise, target=exact, num_scales=40, generator=g).mean()
    assert fine < coarse / 20  # Heun's local error is third order: 4x finer steps cut its square by far more


def test_boundary_condition_of_trained_models():
    result = cm_toy.train_ct("two_gmm_1D", recipe="ict", steps=20, batch_size=64, progress=False)
    assert isinstance(result, cm_toy.TrainResult)
    x = torch.linspace(-3, 3, 7)[:, None]
    for model in (result.ema, result.model):
        assert torch.equal(model(x, SIGMA_MIN), x)
        assert model.sigma_min == SIGMA_MIN
    assert len(result.losses) == 20 and result.seconds > 0


def test_schedules_endpoints_and_monotonicity():
    sig = consistency_sigmas(18)
    assert sig[0].item() == pytest.approx(0.002) and sig[-1].item() == pytest.approx(80.0)
    assert (sig[1:] > sig[:-1]).all()
    n = [song2023_num_scales(k, 1000) for k in range(0, 1001, 50)]
    assert n[0] == 2 and n[-1] == 151 and all(a <= b for a, b in zip(n, n[1:]))
    mu = [song2023_target_decay(v) for v in n]
    assert mu[0] == pytest.approx(0.9, abs=0.04) and all(a <= b for a, b in zip(mu, mu[1:])) and mu[-1] < 1
    assert song2023_target_decay(2, s0=2, mu0=0.9) == pytest.approx(0.9)
    m = [ict_num_scales(k, 800, s0=10, s1=1280) for k in range(0, 800, 10)]
    assert m[0] == 11 and m[-1] == 1281 and all(a <= b for a, b in zip(m, m[1:]))
    assert sorted(set(m)) == [10 * 2**i + 1 for i in range(8)]
    p = lognormal_interval_probs(consistency_sigmas(50), P_mean=-1.1, P_std=2.0)
    assert p.sum().item() == pytest.approx(1.0) and (p > 0).all()
    mid = consistency_sigmas(50)[p.argmax()]
    assert 0.1 < mid < 1.0  # the most likely interval sits near exp(P_mean) = 0.33
    t = torch.tensor([0.01, 0.5, 5.0, 80.0])
    gaps = [(t - ect_r(t, s)) / t for s in range(6)]
    assert all((a > b).all() for a, b in zip(gaps, gaps[1:]))  # t - r shrinks every stage
    assert (ect_r(t, 10) < t).all() and (ect_r(t, 10) > 0.9 * t).all()


def test_schedules_reject_bad_input():
    with pytest.raises(ValueError, match="num_scales"):
        consistency_sigmas(1)
    with pytest.raises(ValueError, match="total_steps"):
        song2023_num_scales(0, 0)


def test_sampling_sigmas_and_bad_sigmas():
    model = cm_toy.consistency_model(1)
    assert sample_consistency(model, 7).shape == (7, 1)
    assert sample_consistency(model, 7, num_steps=3).shape == (7, 1)
    s = cm_toy.sampling_sigmas(4)
    assert s[0] == 80 and (s[1:] < s[:-1]).all() and len(s) == 4
    with pytest.raises(ValueError, match="strictly decreasing"):
        sample_consistency(model, 7, sigmas=[80.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="sigma_min"):
        sample_consistency(model, 7, sigmas=[80.0, 0.001])
    with pytest.raises(ValueError, match="sigma_max"):
        sample_consistency(model, 7, sigmas=[100.0, 1.0])
    with pytest.raises(ValueError, match="num_steps"):
        sample_consistency(model, 7, num_steps=0)
    with pytest.raises(TypeError, match="consistency model"):
        sample_consistency(Precond(MLP()), 7)
    with pytest.raises(TypeError, match="sigma_min > 0 and dim"):
        sample_consistency(lambda x, sigma: x, 7)  # a plain function: no sigma_min, no dim


def test_bad_teachers_and_recipes():
    ct = cm_toy.ct
    expected = dict(ect=ct.train_ect, ict=ct.train_ict, song2023=ct.train_song2023, batch=ct.train_ct_batch)
    assert ct.RECIPES == expected
    with pytest.raises(ValueError, match="unknown recipe 'ctm'; valid choices: ect, ict, song2023, batch"):
        cm_toy.train_ct("two_gmm_1D", recipe="ctm")
    with pytest.raises(TypeError, match=r"D\(x"):
        cm_toy.train_cd("two_gmm_1D", lambda x: x, steps=1)
    with pytest.raises(ValueError, match="shape"):
        cm_toy.train_cd("two_gmm_1D", lambda x, sigma: x[:, :0], steps=1)
    with pytest.raises(ValueError, match="'exact' or 'empirical'"):
        cm_toy.train_cd("two_gmm_1D", "oracle", steps=1)
    with pytest.raises(ValueError, match="consistency model"):
        cm_toy.train_cd("two_gmm_1D", cm_toy.consistency_model(1), steps=1)
    with pytest.raises(TypeError):
        cm_toy.train_ct("two_gmm_1D", recipe="ict", no_such_option=1)
    with pytest.raises(ValueError, match="span"):
        cm_toy.train_cd("two_gmm_1D", "exact", span=0, steps=1, progress=False)
    with pytest.raises(ValueError, match="ECT starts from an EDM model: give init or edm_steps >= 1"):
        cm_toy.train_ct("two_gmm_1D", recipe="ect", edm_steps=0, steps=1, progress=False)


@pytest.mark.parametrize("recipe", cm_toy.ct.RECIPES)
def test_smoke_training_of_each_recipe(recipe):
    edm = cm_toy.train_edm("two_gmm_1D", steps=30, batch_size=64, progress=False).ema
    kw = dict(init=edm) if recipe == "ect" else {}
    result = cm_toy.train_ct("two_gmm_1D", recipe=recipe, steps=60, batch_size=64, progress=False, **kw)
    model = result.ema
    assert model.is_consistency and len(result.losses) == 60 and result.pretrain_seconds == 0.0
    x = sample_consistency(model, 100, num_steps=2)
    assert torch.isfinite(x).all()
    # train_ct calls the recipe's own function: called directly with the same seed, it gives the same model
    again = cm_toy.ct.RECIPES[recipe]("two_gmm_1D", steps=60, batch_size=64, progress=False, **kw).ema
    assert torch.equal(sample_consistency(again, 100), sample_consistency(model, 100))


@pytest.mark.parametrize("teacher", ["exact", "edm", "empirical"])
def test_smoke_training_of_cd(teacher):
    if teacher == "edm":
        teacher = cm_toy.train_edm("two_gmm_1D", steps=30, batch_size=64, progress=False).ema
    result = cm_toy.train_cd("two_gmm_1D", teacher, steps=60, batch_size=64, progress=False)
    model = result.ema
    assert model.is_consistency and len(result.losses) == 60
    assert sample_consistency(model, 100).shape == (100, 1)


def test_one_step_sampling_sigmas_need_no_multistep_levels():
    # One step evaluates f at sigma_max only, so a small sigma_max (the original's 1.0) is valid for one step ...
    assert cm_toy.sampling_sigmas(1, sigma_max=1.0).tolist() == [1.0]
    assert cm_toy.sampling_sigmas(1, sigma_max=0.5).tolist() == [0.5]
    assert sample_consistency(cm_toy.consistency_model(1), 5, sigma_max=1.0).shape == (5, 1)
    # ... but two steps need the default levels (1.0 -> 0.3) below sigma_max, and the error says so.
    with pytest.raises(ValueError, match="sigma_high < sigma_max for 2 steps"):
        cm_toy.sampling_sigmas(2, sigma_max=1.0)
    with pytest.raises(ValueError, match="sigma_max must be > 0"):
        cm_toy.sampling_sigmas(1, sigma_max=0.0)


def test_train_cd_rejects_a_size_that_the_teacher_init_cannot_have():
    edm = cm_toy.train_edm("two_gmm_1D", steps=5, batch_size=16, hidden=32, depth=2, progress=False).ema
    with pytest.raises(ValueError, match="hidden=64, depth=None conflict with the init network's hidden=32"):
        cm_toy.train_cd("two_gmm_1D", edm, hidden=64, steps=1, progress=False)
    with pytest.raises(ValueError, match="depth=3 conflict"):
        cm_toy.train_cd("two_gmm_1D", edm, depth=3, steps=1, progress=False)
    # Matching (or omitted) sizes start from the teacher; init=None honours any size.
    same = cm_toy.train_cd("two_gmm_1D", edm, hidden=32, depth=2, steps=2, batch_size=16, progress=False).ema
    assert (same.net.hidden, same.net.depth) == (32, 2)
    fresh = cm_toy.train_cd(
        "two_gmm_1D", edm, init=None, hidden=16, depth=1, steps=2, batch_size=16, progress=False
    ).ema
    assert (fresh.net.hidden, fresh.net.depth) == (16, 1)
    default = cm_toy.train_cd("two_gmm_1D", "exact", steps=2, batch_size=16, progress=False).ema
    assert (default.net.hidden, default.net.depth) == (128, 3)


def test_sampling_the_exact_consistency_function_follows_the_task_with_sample_consistencys_noise(gaussian):
    # One step is f*(sigma_max z) with the z that sample_consistency draws for the same seed: on the single Gaussian,
    # the closed form of f* applied to that z.
    z = torch.randn(2000, 1, generator=torch.Generator().manual_seed(3))
    got = sample_consistency(ExactConsistency(gaussian), 2000, seed=3)
    assert (got - f_star(80.0 * z, 80.0)).abs().max() < 1e-3
    # ExactConsistency(task, sigma_min=s) is f* down to s: f*(x, T) = MU + (x - MU) sqrt(S^2 + s^2) / sqrt(S^2 + T^2).
    f = ExactConsistency(gaussian, sigma_min=0.05)
    assert f.sigma_min == 0.05 and f.dim == 1
    expected = MU + (80.0 * z - MU) * math.sqrt(S**2 + 0.05**2) / math.sqrt(S**2 + 80.0**2)
    assert (sample_consistency(f, 2000, seed=3) - expected).abs().max() < 1e-3
    with pytest.raises(ValueError, match="sigma_min"):
        sample_consistency(f, 10, sigmas=[1.0, 0.01])  # below this f's sigma_min
    # One and two steps of the exact function sample the task itself: KS within its 99.9% band for n = 20,000 draws.
    task = get_dataset("three_gmm_1D")
    for num_steps in (1, 2):
        samples = sample_consistency(ExactConsistency(task), 20_000, num_steps=num_steps, seed=1)
        assert cm_toy.evaluate(samples, task)["ks"] < 1.95 / math.sqrt(20_000)
    with pytest.raises(ValueError, match="num_steps must be an integer >= 1"):
        sample_consistency(ExactConsistency(task), 10, num_steps=0)
    with pytest.raises(ValueError, match="decreasing"):
        sample_consistency(ExactConsistency(task), 10, sigmas=[1.0, 5.0])


class GaussianFStar:
    """f* of single_gaussian_1D as a plain callable with sigma_min and dim (no module, no parameters)."""

    sigma_min, dim = SIGMA_MIN, 1

    def __call__(self, x, sigma):
        return f_star(x, sigma)


def test_sample_consistency_takes_any_f_with_sigma_min_and_dim(gaussian):
    # Algorithm 1 itself, run with the noise sample_consistency draws for the seed: the same samples, the same
    # trajectory (the noisy input and the output of every step).
    f, sigmas, n = GaussianFStar(), torch.tensor([80.0, 1.0, 0.3]), 3000
    x, trajectory = sample_consistency(f, n, sigmas=sigmas, seed=4, return_trajectory=True)
    generator = torch.Generator().manual_seed(4)
    noise = torch.randn(n, 1, generator=generator)
    expected, path = consistency_sampler(f, noise, sigmas, generator=generator, return_trajectory=True)
    assert torch.equal(x, expected) and torch.equal(trajectory, path) and trajectory.shape == (6, n, 1)
    assert torch.equal(trajectory[0], 80.0 * noise)
    # A perfect f samples the task at every step (KS within its 99.9% band), and ExactConsistency is that f.
    assert cm_toy.evaluate(x, gaussian)["ks"] < 1.95 / math.sqrt(n)
    assert (sample_consistency(ExactConsistency(gaussian), n, sigmas=sigmas, seed=4) - x).abs().max() < 1e-3


def test_the_matched_start_removes_the_papers_prior_offset(gaussian):
    # Single Gaussian N(MU, S^2): p_T is N(MU, T^2 + S^2) exactly. From that start one exact step lands on
    # MU + sqrt(S^2 + sigma_min^2) z, the data at sigma_min; from the paper's N(0, T^2) every sample sits lower by
    # MU S / sqrt(T^2 + S^2) = 0.0025.
    T, n = 80.0, 4000
    z = torch.randn(n, 1, generator=torch.Generator().manual_seed(5))
    matched = sample_consistency(ExactConsistency(gaussian), n, seed=5, data_mean=MU, data_std=S)
    assert (matched - (MU + (S**2 + cm_toy.SIGMA_MIN**2) ** 0.5 * z)).abs().max() < 1e-3
    paper = sample_consistency(ExactConsistency(gaussian), n, seed=5)
    assert abs((matched - paper).mean().item() - MU * S / (T**2 + S**2) ** 0.5) < 1e-4
    # sample_consistency draws the same start for a model: its trajectory begins at x_T = MU + sqrt(T^2 + S^2) z.
    model = cm_toy.consistency_model(1)
    _, trajectory = sample_consistency(model, n, seed=5, data_mean=MU, data_std=S, return_trajectory=True)
    assert torch.allclose(trajectory[0], MU + (T**2 + S**2) ** 0.5 * z, atol=1e-4)
    assert torch.equal(
        sample_consistency(model, 10, seed=1, data_mean=0.0, data_std=0.0),
        sample_consistency(model, 10, seed=1),
    )
    with pytest.raises(ValueError, match="data_std must be >= 0"):
        sample_consistency(model, 10, data_std=-0.1)
    with pytest.raises(ValueError, match="data_mean must be a finite number or one per coordinate"):
        sample_consistency(model, 10, data_mean=[0.0, 1.0])


def test_sample_intervals_follow_the_uniform_or_the_lognormal_law():
    sigmas = consistency_sigmas(40)
    g = torch.Generator().manual_seed(0)
    n = 200_000
    for P_mean, expected in (
        (None, torch.full((39,), 1 / 39, dtype=torch.float64)),
        (-0.5, lognormal_interval_probs(sigmas, -0.5, 2.0)),
    ):
        i = sample_intervals(sigmas, n, g, P_mean, 2.0)
        assert i.shape == (n,) and i.dtype == torch.long
        assert i.min() >= 0 and i.max() <= len(sigmas) - 2  # each names a pair of neighbours sigmas[i] < sigmas[i + 1]
        freq = torch.bincount(i, minlength=39).double() / n
        assert (freq - expected).abs().max() < 5 * (expected * (1 - expected) / n).sqrt().max()
    # The log-normal spends far less of the batch above sigma = 2.8 than uniform draws do (about half).
    assert lognormal_interval_probs(sigmas, -0.5, 2.0)[sigmas[:-1] > 2.8].sum() < 0.35


def test_binned_reference_keeps_counts_and_means_and_its_denoiser_matches_the_raw_sample():
    task, g = get_dataset("three_gmm_1D"), torch.Generator().manual_seed(0)
    sample = task.sample(20_000, g).double()
    points, counts = binned_reference(sample, 0.02)
    assert counts.sum().item() == len(sample) and len(points) < 400  # a few hundred cells hold every sample
    assert torch.allclose((points * counts[:, None]).sum(0), sample.sum(0))  # each cell sits at its samples' mean
    other = task.sample(20_000, g).double()  # another sample of the same size: the noise a reference carries
    x = task.sample(64, g).double() + torch.randn(64, 1, generator=g, dtype=torch.float64)
    for sigma in (0.3, 1.0, 10.0):
        s = torch.full((64, 1), sigma, dtype=torch.float64)
        raw = cm_toy.batch_denoiser(x, s, sample)
        binned = cm_toy.batch_denoiser(x, s, points, counts=counts)
        resampled = cm_toy.batch_denoiser(x, s, other)
        # binning moves each point by < 0.02, far less than drawing the sample anew does
        assert (raw - binned).abs().max() < 1e-3 and (raw - binned).abs().max() < (raw - resampled).abs().max() / 5
    two_d = binned_reference(get_dataset("ring8_2D").sample(5000, g), 0.1)  # any dimension
    assert two_d[0].shape[1] == 2 and two_d[1].sum().item() == 5000
    with pytest.raises(ValueError, match="bin_width"):
        binned_reference(sample, 0.0)


def test_teacher_walks_span_heun_steps_down_the_grid_and_stops_at_sigma_min(gaussian):
    sigmas = consistency_sigmas(10).double()
    x = torch.tensor([[0.3], [2.0], [-1.0]], dtype=torch.float64)
    upper = torch.tensor([9, 5, 2])
    walked, t = teacher_walk(gaussian.denoise, x, sigmas, upper, span=3)
    for row, (top, bottom) in enumerate([(9, 6), (5, 2), (2, 0)]):  # the last stops at sigma_min after 2 steps
        y = x[row : row + 1]
        for level in range(top, bottom, -1):
            y = heun_step(gaussian.denoise, y, sigmas[level], sigmas[level - 1])
        assert torch.allclose(walked[row : row + 1], y, rtol=0, atol=1e-12) and t[row, 0] == sigmas[bottom]
    # On the single Gaussian the walk follows the exact PF-ODE (f* is constant along it) to Heun's accuracy.
    fine = consistency_sigmas(40).double()
    walked, t = teacher_walk(gaussian.denoise, x, fine, torch.tensor([39, 20, 3]), span=4)
    assert torch.allclose(f_star(walked, t[:, 0]), f_star(x, fine[[39, 20, 3]]), atol=2e-3)
    with pytest.raises(ValueError, match="span"):
        teacher_walk(gaussian.denoise, x, sigmas, upper, span=0)


def test_span_keeps_f_star_a_fixed_point_and_the_empirical_teacher_is_far_less_noisy_than_the_batch(gaussian):
    # With the exact f* as model and target the loss is only the teacher's error: Heun's (per step ~1e-4 here) for
    # the exact denoiser, plus the reference's noise for a sampled one. A wrong f (mean moved by 0.05) stands out.
    exact, x0 = ExactF(), gaussian.sample(1024, torch.Generator().manual_seed(2)).double()

    def loss(model, **kw):
        return ct_loss(model, x0, target=exact, num_scales=40, generator=torch.Generator().manual_seed(3), **kw).mean()

    for span, bound in ((1, 1e-7), (4, 1e-6)):  # four Heun steps per target: more of the step's error
        exact_teacher = dict(teacher=gaussian.denoise, target=exact, num_scales=40, span=span)
        assert cd_loss(exact, x0, generator=torch.Generator().manual_seed(3), **exact_teacher).mean() < bound
        assert cd_loss(ShiftedF(0.05), x0, generator=torch.Generator().manual_seed(3), **exact_teacher).mean() > 1e-3
    empirical = cm_toy.distillation.empirical_denoiser(
        gaussian.sample(2**18, torch.Generator().manual_seed(4)).double(), 0.01
    )

    def cd(model, **kw):
        return cd_loss(model, x0, target=exact, num_scales=40, generator=torch.Generator().manual_seed(3), **kw).mean()

    assert cd(exact, teacher=empirical, span=4) < 1e-6  # as close to f* as the exact teacher's walk
    assert loss(exact, reference_batch=True) > 10 * cd(exact, teacher=empirical, span=1)
    assert cd(ShiftedF(0.05), teacher=empirical, span=4) > 1e-3
