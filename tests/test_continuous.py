import math

import pytest
import torch

import cm_toy
from cm_toy import MLP, Precond, TrigFlow, continuous_ct_loss, ct_tangent, scm_loss
from cm_toy.networks import module_jvp
from cm_toy.trigflow import scm_tangent, trigflow_from_edm

# single_gaussian_1D, N(MU, S^2): the PF-ODE keeps (x - MU) / sqrt(S^2 + sigma^2) fixed, so
# f*(x, sigma) = MU + (x - MU) sqrt(S^2 + sigma_min^2) / sqrt(S^2 + sigma^2).
MU, S, SIGMA_MIN = 1.0, 0.2, 0.002


class GaussianF(torch.nn.Module):
    """The Gaussian's consistency function with a learnable mean: exact at mu = MU."""

    sigma_min, sigma_data = SIGMA_MIN, 1.0

    def __init__(self, mu):
        super().__init__()
        self.mu = torch.nn.Parameter(torch.tensor(float(mu), dtype=torch.float64))

    def forward(self, x, sigma):
        sigma = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, 1)
        return self.mu + (x - self.mu) * math.sqrt(S**2 + SIGMA_MIN**2) / (S**2 + sigma**2).sqrt()


class GaussianNet(torch.nn.Module):
    """A raw net whose TrigFlow f is the Gaussian's exact consistency function when mu = MU (and sigma_data = 1)."""

    dim = 1

    def __init__(self, mu):
        super().__init__()
        self.mu = torch.nn.Parameter(torch.tensor(float(mu), dtype=torch.float64))

    def forward(self, x_in, c_noise):  # TrigFlow F = (cos s x_t - cos t_min f*) / (sin s sigma_data)
        sigma = (4 * c_noise).exp()[:, None]
        t, t_min = torch.atan(sigma), math.atan(SIGMA_MIN)
        x = x_in / torch.cos(t)  # EDM units
        f = self.mu + (x - self.mu) * math.sqrt(S**2 + SIGMA_MIN**2) / (S**2 + sigma**2).sqrt()
        return (torch.cos(t - t_min) * x_in - math.cos(t_min) * f) / torch.sin(t - t_min)


def _grad(loss_fn, model, n=200_000, seed=0):
    x0 = cm_toy.get_dataset("single_gaussian_1D").sample(n, torch.Generator().manual_seed(seed)).double()
    model.zero_grad()
    loss_fn(model, x0, generator=torch.Generator().manual_seed(seed + 1)).mean().backward()
    return next(model.parameters()).grad.item()  # the one parameter, mu


def test_ct_tangent_matches_finite_differences():
    torch.manual_seed(0)
    model = cm_toy.consistency_model(1).double()
    x0, z = torch.randn(16, 1, dtype=torch.float64), torch.randn(16, 1, dtype=torch.float64)
    sigma = torch.logspace(-2, 1.5, 16, dtype=torch.float64)[:, None]
    f, tangent = ct_tangent(model, x0 + sigma * z, sigma, z)
    h = 1e-6 * sigma
    fd = (model(x0 + (sigma + h) * z, sigma + h) - model(x0 + (sigma - h) * z, sigma - h)) / (2 * h)
    assert torch.allclose(f, model(x0 + sigma * z, sigma))
    assert torch.allclose(tangent, fd, rtol=1e-5, atol=1e-7)
    assert tangent.abs().max() > 1e-3  # a fresh network is not consistent: the check compares something


def test_module_jvp_is_torch_func_jvp_bit_for_bit():
    # ct_tangent's dual-number JVP (parameters, buffers and the preconditioning's float constants with explicit zero
    # tangents, for speed) must give exactly torch.func.jvp's numbers: a consistency model and an EDM denoiser (input
    # features, buffers) in float32, and a consistency model in float64.
    torch.manual_seed(0)
    x, z = torch.randn(64, 1), torch.randn(64, 1)
    sigma = torch.logspace(-2.7, 1.9, 64)[:, None]
    for model in (cm_toy.consistency_model(1), Precond(MLP(1)), cm_toy.consistency_model(1).double()):
        dtype = next(model.parameters()).dtype
        x, z, sigma = x.to(dtype), z.to(dtype), sigma.to(dtype)
        with torch.no_grad():  # as the tangent is used: no graph (with one, torch.func.jvp rounds differently)
            expected = torch.func.jvp(lambda x_, s_: model(x_, s_), (x, sigma), (z, torch.ones_like(sigma)))
        got = module_jvp(model, (x, sigma), (z, torch.ones_like(sigma)))
        assert all(torch.equal(a, b) for a, b in zip(got, expected))
        assert not got[1].requires_grad and expected[1].abs().max() > 1e-3
        assert type(model.sigma_data) is float and type(model.sigma_min) is float  # the dual constants are undone
    # and around a method of the module: sCM's tangent of the raw TrigFlow network F
    x, z, sigma = x.float(), z.float(), sigma.float()
    model, t = trigflow_from_edm(Precond(MLP(1))), torch.atan(sigma)
    with torch.no_grad():
        expected = torch.func.jvp(model.F, (x, t), (z, torch.ones_like(t)))
    got = module_jvp(model.net, (x, t), (z, torch.ones_like(t)), fn=lambda net, x_, t_: model.F(x_, t_, net))
    assert all(torch.equal(a, b) for a, b in zip(got, expected))


def test_continuous_ct_gradient_vanishes_at_the_exact_consistency_function():
    # At f = f*, E[df/dsigma along the noising line | x] is df*/dsigma along the true ODE, which is 0: the expected
    # gradient vanishes; away from it, the gradient points back towards MU.
    at_truth = _grad(continuous_ct_loss, GaussianF(MU))
    for delta in (0.3, -0.3):
        off = _grad(continuous_ct_loss, GaussianF(MU + delta))
        assert off * delta > 0  # gradient descent moves mu towards MU
        assert abs(at_truth) < 0.05 * abs(off)


def test_continuous_cd_with_exact_teacher_has_no_gradient_at_the_exact_consistency_function():
    # With the teacher's ODE direction (x - D) / sigma the tangent of f* is exactly 0 for every sample (not only in
    # expectation), so the gradient at the truth vanishes to rounding; away from it, it points back towards MU.
    task = cm_toy.get_dataset("single_gaussian_1D")
    loss = lambda m, x0, generator: continuous_ct_loss(
        m,
        x0,
        generator=generator,  # noqa: E731
        teacher=lambda x, s: task.denoise(x, s),
    )
    at_truth, off = _grad(loss, GaussianF(MU), n=20_000), _grad(loss, GaussianF(MU + 0.3), n=20_000)
    assert abs(at_truth) < 1e-6 < abs(off)
    assert off > 0


def test_damped_loss_adds_only_the_friction_towards_the_target_network():
    # The damped recipe's tangent is df/dsigma + (f - f_target) / (target_step sigma). With the target equal to the
    # model the friction is exactly zero; with the exact teacher the tangent of f* is zero, so what is left is the
    # friction, which pulls mu towards the target's.
    task = cm_toy.get_dataset("single_gaussian_1D")
    teacher = lambda x, s: task.denoise(x, s)  # noqa: E731

    def damped(target, **kw):
        return lambda m, x0, generator: continuous_ct_loss(m, x0, generator=generator, target=target, **kw)  # noqa

    for mu in (MU, MU + 0.3):
        plain = _grad(lambda m, x0, generator: continuous_ct_loss(m, x0, generator=generator), GaussianF(mu), n=20_000)
        assert _grad(damped(GaussianF(mu)), GaussianF(mu), n=20_000) == plain
    for shift in (0.3, -0.3):
        pull = _grad(damped(GaussianF(MU + shift), teacher=teacher), GaussianF(MU), n=20_000)
        assert pull * shift < 0  # gradient descent moves mu towards the target's MU + shift
        weaker = _grad(damped(GaussianF(MU + shift), teacher=teacher, target_step=0.4), GaussianF(MU), n=20_000)
        assert weaker == pytest.approx(pull / 2, rel=1e-9)  # the friction scales as 1 / target_step
    with pytest.raises(ValueError, match="target_step must be > 0"):
        continuous_ct_loss(GaussianF(MU), torch.zeros(4, 1, dtype=torch.float64), target=GaussianF(MU), target_step=0)


def test_outer_product_pairing_differs_from_per_sample_pairing():
    # The original repository's bug: mean(f.T * tangent) with f [B, 1], tangent [B, 1] broadcasts to [B, B] and
    # equals mean(f) * mean(tangent), not mean(f * tangent).
    f, g = torch.randn(64, 1), torch.randn(64, 1)
    assert torch.allclose(torch.mean(f.T * g), f.mean() * g.mean(), atol=1e-6)
    assert not torch.allclose(torch.mean(f.T * g), torch.mean(f * g), atol=1e-3)


def test_trigflow_boundary_is_exact_and_edm_init_is_the_denoiser():
    torch.manual_seed(0)
    edm = Precond(MLP(), sigma_data=1.0)
    model = trigflow_from_edm(edm)
    x = 3 * torch.randn(200, 1)
    assert torch.equal(model(x, SIGMA_MIN), x)
    assert isinstance(model, Precond) and model.is_consistency
    tight = trigflow_from_edm(edm, sigma_min=1e-9)  # without the t_min shift TrigFlow's f is EDM's D exactly
    for sigma in (0.01, 0.3, 1.0, 5.0, 80.0):
        assert torch.allclose(tight(x, sigma), edm(x, sigma), atol=1e-5)
        assert (model(x, sigma) - edm(x, sigma)).abs().max() < 0.02  # the shift moves f by O(sigma_min)
        t = model.time(torch.full((200, 1), sigma))
        assert torch.allclose(model(x, sigma), model.f_trig(torch.cos(t) * x, t), atol=1e-5)
    with pytest.raises(TypeError, match="EDM denoiser"):
        trigflow_from_edm(cm_toy.consistency_model(1))


def test_scm_tangent_is_the_time_derivative_of_f():
    # g (warm-up done) = cos s cos t_min df/dt along x_t = cos t x0 + sin t z.
    torch.manual_seed(1)
    model = trigflow_from_edm(Precond(MLP(), sigma_data=1.0)).double()
    x0, z = torch.randn(16, 1, dtype=torch.float64), torch.randn(16, 1, dtype=torch.float64)
    t = torch.linspace(0.05, 1.5, 16, dtype=torch.float64)[:, None]
    x_t = lambda t: torch.cos(t) * x0 + torch.sin(t) * z  # noqa: E731
    _, g = scm_tangent(model, x_t(t), t, torch.cos(t) * z - torch.sin(t) * x0)
    h = 1e-6
    fd = (model.f_trig(x_t(t + h), t + h) - model.f_trig(x_t(t - h), t - h)) / (2 * h)
    assert torch.allclose(g, torch.cos(t - model.t_min) * math.cos(model.t_min) * fd, rtol=1e-5, atol=1e-7)
    _, g0 = scm_tangent(model, x_t(t), t, torch.cos(t) * z - torch.sin(t) * x0, r=0.0)
    assert not torch.allclose(g0, g)  # the warm-up drops the second term


def _trigflow(mu):
    """The TrigFlow model of GaussianNet(mu) (exact at MU), in float64 with its adaptive weight net."""
    return TrigFlow(GaussianNet(mu), sigma_data=1.0, sigma_min=SIGMA_MIN).double()


def test_scd_with_exact_teacher_has_no_tangent_at_the_exact_model():
    task = cm_toy.get_dataset("single_gaussian_1D")
    exact = _trigflow(MU)
    # sCM's adaptive log-weight starts at w = 0: weight e^-w = 1 and nothing added, the plain squared tangent error.
    levels = torch.logspace(-2.7, 1.9, 50, dtype=torch.float64)[:, None]
    assert torch.equal(exact.weight_net(levels), torch.zeros(50, dtype=torch.float64))

    def scd(m, x0, generator):
        return scm_loss(m, x0, step=10, warmup_steps=1, generator=generator, teacher=lambda x, s: task.denoise(x, s))

    at_truth = _grad(scd, exact, n=20_000)
    off = _grad(scd, _trigflow(MU + 0.3), n=20_000)
    assert abs(at_truth) < 1e-6 < abs(off)
    assert off > 0  # descent moves mu back towards MU

    # sCT without tangent normalisation (c large, g / c ~ g) has a vanishing expected gradient there too.
    def sct(m, x0, generator):
        return scm_loss(m, x0, step=10, warmup_steps=1, c=1e6, generator=generator)

    assert abs(_grad(sct, exact)) < 0.05 * abs(_grad(sct, _trigflow(MU + 0.3)))


def test_recipes_errors_and_smoke_training():
    continuous = cm_toy.continuous
    expected = dict(
        song2023=continuous.train_continuous_song2023, scm=cm_toy.trigflow.train_scm, damped=continuous.train_damped
    )
    assert continuous.RECIPES == expected
    with pytest.raises(ValueError, match="unknown recipe 'nope'; valid choices: song2023, scm, damped"):
        cm_toy.train_continuous_ct("two_gmm_1D", recipe="nope")
    with pytest.raises(TypeError, match="EDM denoiser"):
        cm_toy.train_continuous_ct("two_gmm_1D", init=cm_toy.consistency_model(1))
    edm = cm_toy.train_edm("two_gmm_1D", steps=50, batch_size=128, progress=False).ema
    for recipe, train_recipe in continuous.RECIPES.items():
        kw = dict(init=edm, steps=60, batch_size=64, progress=False)
        kw |= dict(warmup_steps=20) if recipe == "scm" else {}
        # the dispatcher and the recipe's own function, called with the same seed, give the same model
        runs = [cm_toy.train_continuous_ct("two_gmm_1D", recipe=recipe, **kw), train_recipe("two_gmm_1D", **kw)]
        result = runs[0]
        model = result.ema
        assert len(result.losses) == 60 and all(math.isfinite(v) for v in result.losses)
        assert result.pretrain_seconds == 0.0  # started from the given EDM model
        assert isinstance(model, TrigFlow) == (recipe == "scm") and model.is_consistency
        samples = cm_toy.sample_consistency(model, 100, num_steps=2)
        assert samples.shape == (100, 1) and torch.isfinite(samples).all()
        assert torch.equal(samples, cm_toy.sample_consistency(runs[1].ema, 100, num_steps=2))  # same seed, same model
        x = torch.randn(10, 1)
        assert torch.equal(model(x, SIGMA_MIN), x)
    distilled = cm_toy.train_continuous_ct("two_gmm_1D", init=edm, teacher=edm, steps=20, batch_size=32, progress=False)
    assert len(distilled.losses) == 20 and all(math.isfinite(v) for v in distilled.losses)
    with pytest.raises(ValueError, match="unknown teacher"):
        cm_toy.train_continuous_ct("two_gmm_1D", init=edm, teacher="nope", steps=5, progress=False)
    fresh = cm_toy.train_continuous_ct("two_gmm_1D", recipe="scm", edm_steps=0, steps=20, batch_size=32, progress=False)
    assert fresh.pretrain_seconds == 0.0 and len(fresh.losses) == 20
