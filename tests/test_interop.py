import subprocess
import sys

import pytest
import torch

import cm_toy
from cm_toy import MLP, Precond, consistency_sampler, euler_sampler, karras_sigmas, sampling_sigmas


def _model(sigma_min, dtype=torch.float32, sigma_data=1.0):
    torch.manual_seed(0)
    return Precond(MLP(hidden=32, depth=2), sigma_data=sigma_data, sigma_min=sigma_min).to(dtype).requires_grad_(False)


def _diffusers_loop(scheduler, unet, x, generator=None):
    """diffusers' sampling loop (as in its ConsistencyModelPipeline), from x at the first level."""
    for t in scheduler.timesteps:
        x_in = scheduler.scale_model_input(x, t)
        x = scheduler.step(unet(x_in, t), t, x, generator=generator).prev_sample
    return x


def test_importing_cm_toy_does_not_import_diffusers():
    code = "import sys, cm_toy; assert 'diffusers' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_unet_is_the_raw_network_on_the_schedulers_time_input():
    cd, edm = _model(0.002), _model(0.0)
    x, c_noise = torch.randn(6, 1), torch.linspace(-1.5, 1.0, 6)
    assert torch.equal(cm_toy.diffusers_unet(edm)(x, c_noise), edm.net(x, c_noise))
    assert torch.allclose(cm_toy.diffusers_unet(cd)(x, 1000 * c_noise), cd.net(x, c_noise), atol=1e-6)
    # A scalar timestep, an image-shaped float64 sample: F per row, in the sample's shape and dtype.
    out = cm_toy.diffusers_unet(edm)(x.double().reshape(6, 1, 1, 1), 0.3)
    assert out.shape == (6, 1, 1, 1) and out.dtype == torch.float64
    assert torch.equal(out.reshape(6, 1), edm.net(x, torch.full((6,), 0.3)).double())
    with pytest.raises(TypeError, match="must be a Precond"):
        cm_toy.diffusers_unet(edm.net)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_consistency_scheduler_samples_as_consistency_sampler(dtype):
    pytest.importorskip("diffusers")
    model = _model(0.002, dtype)
    noise = torch.randn(500, 1, generator=torch.Generator().manual_seed(1), dtype=dtype)
    geometric = torch.logspace(0, -2, 44)  # more levels than the scheduler's default grid of 40
    for levels in (sampling_sigmas(1), sampling_sigmas(3), torch.cat([torch.tensor([80.0]), geometric])):
        levels = levels.to(dtype)
        ours = consistency_sampler(model, noise, levels, generator=torch.Generator().manual_seed(2))
        scheduler = cm_toy.diffusers_scheduler(model, levels)
        theirs = _diffusers_loop(
            scheduler, cm_toy.diffusers_unet(model), noise * levels[0], torch.Generator().manual_seed(2)
        )
        # The same noise draws; float32 rounds c_in, the time input and the last step's zero noise differently.
        assert (ours - theirs).abs().max() < (1e-12 if dtype == torch.float64 else 1e-4)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_edm_scheduler_samples_as_euler_sampler(dtype):
    pytest.importorskip("diffusers")
    model = _model(0.0, dtype, sigma_data=0.5)
    noise = torch.randn(500, 1, generator=torch.Generator().manual_seed(1), dtype=dtype)
    levels = karras_sigmas(16).to(dtype)
    ours = euler_sampler(model, noise, torch.cat([levels, levels.new_zeros(1)]))
    theirs = _diffusers_loop(cm_toy.diffusers_scheduler(model, levels), cm_toy.diffusers_unet(model), noise * levels[0])
    assert theirs.dtype == dtype
    assert (ours - theirs).abs().max() < 1e-5  # EDMEulerScheduler.step rounds to float32 in either dtype


def test_scheduler_configuration():
    diffusers = pytest.importorskip("diffusers")
    cd, edm = _model(0.002, sigma_data=0.7), _model(0.0, sigma_data=0.7)
    levels = sampling_sigmas(2)
    scheduler = cm_toy.diffusers_scheduler(cd, levels)
    assert isinstance(scheduler, diffusers.CMStochasticIterativeScheduler)
    config = scheduler.config
    assert (config.sigma_data, config.sigma_min, config.clip_denoised) == (0.7, 0.002, False)
    assert torch.equal(scheduler.sigmas, torch.cat([levels, torch.tensor([0.002])]))
    assert torch.allclose(scheduler.timesteps.float(), 1000 * levels.log() / 4)
    scheduler = cm_toy.diffusers_scheduler(edm, karras_sigmas(8))
    assert isinstance(scheduler, diffusers.EDMEulerScheduler) and scheduler.config.sigma_data == 0.7
    assert torch.equal(scheduler.sigmas, torch.cat([karras_sigmas(8), torch.zeros(1)]))
    assert torch.equal(scheduler.timesteps, karras_sigmas(8).log() / 4)
    defaults = cm_toy.diffusers_scheduler(cd, levels, sigma_data=0.5, clip_denoised=True).config
    assert (defaults.sigma_data, defaults.clip_denoised) == (0.5, True)


def test_scheduler_rejects_bad_levels_and_models():
    pytest.importorskip("diffusers")
    with pytest.raises(ValueError, match="strictly decreasing"):
        cm_toy.diffusers_scheduler(_model(0.002), torch.tensor([0.5, 80.0]))
    with pytest.raises(ValueError, match="be > 0"):
        cm_toy.diffusers_scheduler(_model(0.0), torch.cat([karras_sigmas(4), torch.zeros(1)]))
    with pytest.raises(ValueError, match="sigma_min=0.002"):
        cm_toy.diffusers_scheduler(_model(0.002), torch.tensor([80.0, 0.001]))
    with pytest.raises(TypeError, match="must be a Precond"):
        cm_toy.diffusers_scheduler(cm_toy.TrigFlow(MLP()), sampling_sigmas(1))
