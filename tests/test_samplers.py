import pytest
import torch

import cm_toy
from cm_toy import (
    consistency_sampler,
    evaluate,
    exact_consistency,
    get_dataset,
    heun_sampler,
    karras_sigmas,
    noise_floor,
)
from cm_toy.schedules import check_sigmas, cosine_decay


def _sigmas(n):
    return torch.cat([karras_sigmas(n, 0.002, 80.0).double(), torch.zeros(1, dtype=torch.float64)])


@pytest.mark.parametrize("name", ["three_gmm_1D", "uneven_two_gmm_1D"])
def test_heun_with_the_exact_denoiser_reproduces_the_task(name):
    task = get_dataset(name)
    noise = torch.randn(10_000, 1, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    x = heun_sampler(task.denoise, noise, _sigmas(128))
    m, floor = evaluate(x, task), noise_floor(task, 10_000)
    assert m["w1"] < 3 * floor["w1"]  # seed-to-seed spread of the floor itself is about half its median
    assert m["mode_mass_err"] < 0.02
    assert abs(m["std_ratio"] - 1) < 0.02


def test_heun_is_second_order():
    # On one Gaussian the PF-ODE map is closed-form: x0 = mu + (x - mu) s / sqrt(s^2 + sigma^2).
    task = get_dataset("single_gaussian_1D")
    noise = torch.linspace(-3, 3, 101, dtype=torch.float64)[:, None]
    exact = 1.0 + (80 * noise - 1.0) * 0.2 / (0.04 + 80.0**2) ** 0.5
    errors = []
    for n in (32, 64, 128):
        errors.append((cm_toy.heun_sampler(task.denoise, noise, _sigmas(n)) - exact).abs().max().item())
        # Euler, for contrast, converges only at first order.
    assert errors[0] / errors[1] > 3 and errors[1] / errors[2] > 3
    euler = [(cm_toy.euler_sampler(task.denoise, noise, _sigmas(n)) - exact).abs().max().item() for n in (64, 128)]
    assert euler[0] / euler[1] < 2.5 and euler[1] > errors[2]


def test_trajectory_shapes_and_start():
    task = get_dataset("two_gmm_1D")
    noise = torch.randn(7, 1)
    sigmas = _sigmas(5).float()
    x, traj = heun_sampler(task.denoise, noise, sigmas, return_trajectory=True)
    assert traj.shape == (6, 7, 1)
    assert torch.equal(traj[0], noise * sigmas[0]) and torch.equal(traj[-1], x)


def test_exact_consistency_of_one_gaussian_is_closed_form():
    task = get_dataset("single_gaussian_1D")
    x = torch.linspace(-5, 5, 21, dtype=torch.float64)[:, None]
    sigma = torch.linspace(0.002, 10, 21, dtype=torch.float64)
    expected = 1.0 + (x - 1.0) * ((0.04 + 0.002**2) / (0.04 + sigma[:, None] ** 2)).sqrt()
    assert torch.allclose(exact_consistency(task, x, sigma), expected, atol=5e-4)  # far tails are the worst case


def test_consistency_sampler_with_the_exact_function_samples_the_task():
    task = get_dataset("single_gaussian_1D")

    class Exact(torch.nn.Module):
        sigma_min = 0.002

        def forward(self, x, sigma):
            return exact_consistency(task, x, sigma)

    noise = torch.randn(4000, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = consistency_sampler(
        Exact(), noise, torch.tensor([80.0, 0.5], dtype=torch.float64), generator=torch.Generator().manual_seed(1)
    )
    assert evaluate(x, task)["w1"] < 3 * noise_floor(task, 4000)["w1"]


@pytest.mark.parametrize(
    "sigmas, match",
    [
        ([1.0, 2.0], "strictly decreasing"),
        ([1.0, 1.0], "strictly decreasing"),
        ([100.0, 1.0], r"sigma_max"),
        ([1.0, 0.001], r"sigma_min"),
    ],
)
def test_bad_sigmas_are_rejected(sigmas, match):
    with pytest.raises(ValueError, match=match):
        check_sigmas(torch.tensor(sigmas), sigma_min=0.002, sigma_max=80.0)


def test_bad_schedule_arguments():
    with pytest.raises(ValueError, match="num_steps"):
        karras_sigmas(0)
    with pytest.raises(ValueError, match="sigma_min < sigma_max"):
        karras_sigmas(10, sigma_min=1.0, sigma_max=0.5)
    s = karras_sigmas(10, 0.002, 80.0)
    assert s[0].item() == pytest.approx(80.0) and s[-1].item() == pytest.approx(0.002) and (s[1:] < s[:-1]).all()


def test_cosine_decay_runs_from_one_to_zero_through_one_half():
    decay = cosine_decay(1000)
    assert decay(0) == 1.0 and decay(500) == pytest.approx(0.5) and decay(1000) == pytest.approx(0.0, abs=1e-12)
    assert all(decay(k) > decay(k + 1) for k in range(0, 1000, 50))


def _tiny(sigma_min):
    torch.manual_seed(0)
    return cm_toy.Precond(cm_toy.MLP(hidden=32, depth=2), sigma_data=1.0, sigma_min=sigma_min).requires_grad_(False)


def test_samplers_take_image_shaped_batches():
    edm, cd = _tiny(0.0), _tiny(0.002)
    noise = torch.randn(300, 1, generator=torch.Generator().manual_seed(0))
    image = noise.reshape(300, 1, 1, 1)
    sigmas = torch.cat([karras_sigmas(8), torch.zeros(1)])
    for sampler in (cm_toy.euler_sampler, heun_sampler):
        x, path = sampler(edm, image, sigmas, return_trajectory=True)
        assert path.shape == (9, 300, 1, 1, 1) and torch.equal(x.reshape(300, 1), sampler(edm, noise, sigmas))
    levels = cm_toy.sampling_sigmas(3)
    x = consistency_sampler(cd, image, levels, generator=torch.Generator().manual_seed(1))
    flat = consistency_sampler(cd, noise, levels, generator=torch.Generator().manual_seed(1))
    assert torch.equal(x.reshape(300, 1), flat)


def test_samplers_take_float64_and_step_float32_levels_in_float64():
    edm, cd = _tiny(0.0), _tiny(0.002)
    noise = torch.randn(300, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    sigmas = torch.cat([karras_sigmas(8), torch.zeros(1)])
    x = heun_sampler(edm, noise, sigmas)
    assert x.dtype == torch.float64
    assert torch.equal(x, heun_sampler(edm, noise, sigmas.double()))  # the float32 levels' exact values, in float64
    assert torch.allclose(x, heun_sampler(edm, noise.float(), sigmas).double(), atol=1e-4)
    levels = cm_toy.sampling_sigmas(2)
    cd = cd.double()
    y = consistency_sampler(cd, noise, levels, generator=torch.Generator().manual_seed(1))
    assert y.dtype == torch.float64
    assert torch.equal(y, consistency_sampler(cd, noise, levels.double(), generator=torch.Generator().manual_seed(1)))


def test_a_k_diffusion_style_euler_loop_matches_euler_sampler():
    # k-diffusion's sample_euler (no churn) calls model(x, sigma * s_in), one level per row, on x already at sigma_max
    # and levels ending in 0 (get_sigmas_karras): a Precond is such a model as it is.
    edm = _tiny(0.0)
    noise = torch.randn(300, 1, generator=torch.Generator().manual_seed(0))
    sigmas = torch.cat([karras_sigmas(8), torch.zeros(1)])
    x = noise.reshape(300, 1, 1, 1) * sigmas[0]
    s_in = x.new_ones([x.shape[0]])
    with torch.no_grad():
        for i in range(len(sigmas) - 1):
            d = (x - edm(x, sigmas[i] * s_in)) / sigmas[i]
            x = x + d * (sigmas[i + 1] - sigmas[i])
    assert torch.equal(x.reshape(300, 1), cm_toy.euler_sampler(edm, noise, sigmas))
