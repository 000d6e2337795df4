"""The GPU path: every part follows the model's and data's device. Skipped where no CUDA device is present."""

import pytest
import torch

import cm_toy
from cm_toy.guidance import class_prior_sample

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_exact_mixture_on_cuda():
    task = cm_toy.get_dataset("three_gmm_1D")
    x = task.sample(1000, torch.Generator("cuda").manual_seed(0))
    assert x.device.type == "cuda"
    for out in (task.pdf(x), task.denoise(x, 0.5), task.score(x, 0.5), task.cdf(x)):
        assert out.device.type == "cuda" and torch.isfinite(out).all()
    assert torch.allclose(task.denoise(x, 0.5).cpu(), task.denoise(x.cpu(), 0.5), atol=1e-5)


def test_edm_cd_ct_and_continuous_train_and_sample_on_cuda():
    task = cm_toy.get_dataset("two_gmm_1D")
    edm = cm_toy.train_edm(task, steps=300, device="cuda", progress=False).ema
    assert next(edm.parameters()).device.type == "cuda"
    for solver in ("heun", "euler"):
        x = cm_toy.sample_edm(edm, 2000, num_steps=16, solver=solver)
        assert x.device.type == "cuda" and cm_toy.evaluate(x, task)["mode_mass_err"] < 0.1
    models = [
        cm_toy.train_cd(task, edm, steps=200, progress=False).ema,
        cm_toy.train_cd(task, "exact", init=edm, steps=200, progress=False).ema,
        cm_toy.train_ct(task, init=edm, steps=200, progress=False).ema,
        cm_toy.train_continuous_ct(task, init=edm, steps=200, progress=False).ema,
    ]
    for model in models:
        assert next(model.parameters()).device.type == "cuda"
        for steps in (1, 2):
            y = cm_toy.sample_consistency(model, 2000, num_steps=steps)
            assert y.device.type == "cuda" and torch.isfinite(y).all()
    f = models[0]
    x = torch.randn(64, 1, device="cuda")
    assert torch.equal(f(x, torch.full((64,), f.sigma_min, device="cuda")), x)  # boundary condition on the GPU


def test_exact_consistency_on_cuda_matches_cpu():
    task = cm_toy.get_dataset("three_gmm_1D")
    x = torch.randn(100, 1, dtype=torch.float64)
    sigma = torch.rand(100, dtype=torch.float64) * 5 + 0.01
    gpu = cm_toy.exact_consistency(task, x.cuda(), sigma.cuda())
    assert torch.allclose(gpu.cpu(), cm_toy.exact_consistency(task, x, sigma), atol=1e-9)


def test_conditional_sampling_starts_from_the_class_on_cuda():
    task = cm_toy.get_dataset("three_gmm_1D")
    edm = cm_toy.train_edm(task, steps=200, conditional=True, device="cuda", progress=False).ema
    assert edm.class_means.device.type == "cuda"  # the stored classes follow the model
    x = cm_toy.sample_edm(edm, 1000, num_steps=8, labels=2, guidance=1.0)
    assert x.device.type == "cuda" and torch.isfinite(x).all()
    cd = cm_toy.train_cd_conditional(task, edm, steps=50, progress=False).ema
    y = cm_toy.sample_consistency(cd, 1000, labels=cm_toy.sample_labels(task, 1000), num_steps=2)
    assert y.device.type == "cuda" and torch.isfinite(y).all()
    noise = torch.randn(1000, 1, generator=torch.Generator().manual_seed(0))
    start = class_prior_sample(task, 2, noise.cuda())  # a CPU task, noise on the GPU
    assert torch.allclose(start.cpu(), class_prior_sample(task, 2, noise), atol=1e-4)
