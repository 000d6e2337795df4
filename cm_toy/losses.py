"""Training objectives. Each is a small function of the networks it needs and a batch of clean data x0, called by the
training loop as loss(model, x0, step=..., generator=..., labels=...) and returning one loss per sample, [B]."""
import torch

from .schedules import sample_lognormal_sigmas

__all__ = ["edm_loss"]


def _call(model, x, sigma, labels):
    return model(x, sigma) if labels is None else model(x, sigma, labels)


# EDM denoising loss lambda(sigma) ||D(x0 + sigma n, sigma) - x0||^2 (Karras et al. 2022, Eq. 2 and Table 1).
def edm_loss(model, x0, *, step=None, generator=None, labels=None, P_mean=-1.2, P_std=1.2):
    sigma = sample_lognormal_sigmas(len(x0), P_mean, P_std, generator=generator, device=x0.device)[:, None]
    noise = torch.randn(x0.shape, generator=generator, device=x0.device)
    weight = (sigma**2 + model.sigma_data**2) / (sigma * model.sigma_data) ** 2
    return (weight * (_call(model, x0 + sigma * noise, sigma, labels) - x0) ** 2).mean(dim=1)
