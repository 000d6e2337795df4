"""The exact consistency function f*: CDF inversion in 1D, the ODE solve in D > 1, ExactConsistency for the samplers."""

import math

import pytest
import torch

from cm_toy.data import GaussianMixture, get_dataset, list_datasets
from cm_toy.exact import ODE_TOLERANCE, ExactConsistency, exact_consistency, ode_consistency
from cm_toy.metrics import GAP_LEVEL
from cm_toy.schedules import SIGMA_MIN

TASKS_1D = [name for name in list_datasets() if get_dataset(name).dim == 1]


def gaussian_f_star(mu, s, x, sigma, sigma_min=SIGMA_MIN):
    """f* of one Gaussian N(mu, s^2 I): the flow only rescales x - mu by the ratio of the noisy stds."""
    return mu + (x - mu) * math.sqrt(s**2 + sigma_min**2) / (s**2 + sigma**2) ** 0.5


def in_gaps(task, y):
    """Which outputs lie between modes: density at sigma_min below GAP_LEVEL (1%) of its peak."""
    return task.pdf(y, SIGMA_MIN) < GAP_LEVEL * task.pdf(task.means, SIGMA_MIN).max()


def gap_inputs_1d(task, sigma, n=200):
    """Inputs at level sigma whose f* spans every gap: zoom into each grid cell where f* jumps to another mode."""
    x = task.mean() + sigma * torch.linspace(-4, 4, 4001, dtype=torch.float64)[:, None]
    mode = task.responsibilities(exact_consistency(task, x, sigma), SIGMA_MIN).argmax(1)
    cells = (mode[1:] != mode[:-1]).nonzero()[:, 0]
    return torch.cat([torch.linspace(x[i, 0], x[i + 1, 0], n, dtype=torch.float64) for i in cells])[:, None]


def gap_inputs_2d(task, sigma, pairs=8, n=40):
    """Inputs at level sigma whose f* crosses a gap: on segments between noisy samples that f* sends to different
    modes, zoomed into the step of each segment where the mode changes."""
    mode = lambda x: task.responsibilities(ode_consistency(task, x, sigma), SIGMA_MIN).argmax(1)
    g = torch.Generator().manual_seed(0)
    x = task.sample(200, g).double() + sigma * torch.randn(200, task.dim, generator=g, dtype=torch.float64)
    m = mode(x)
    a, b = x[:pairs], x[(torch.cdist(x, x) + math.inf * (m[:, None] == m[None, :])).argmin(1)[:pairs]]
    t = torch.linspace(0, 1, n, dtype=torch.float64)[:, None, None]
    segments = a + t * (b - a)  # [n, pairs, D]
    m = mode(segments.reshape(-1, task.dim)).reshape(n, pairs)
    step = (m != m[0]).int().argmax(0)  # the first point of each segment past the change
    a, b = segments[step - 1, range(pairs)], segments[step, range(pairs)]
    return (a + t * (b - a)).reshape(-1, task.dim)


@pytest.mark.parametrize("name", ["three_gmm_1D", "ring8_2D"])
def test_f_star_is_the_identity_at_sigma_min(name):
    task = get_dataset(name)
    x = 2 * torch.randn(50, task.dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert (exact_consistency(task, x, SIGMA_MIN) - x).abs().max() < 1e-14
    # Rows at sigma_min stay put next to rows that move.
    sigma = torch.tensor([SIGMA_MIN, 3.0] * 25, dtype=torch.float64)
    out = exact_consistency(task, x, sigma)
    assert (out[::2] - x[::2]).abs().max() < 1e-14 and (out[1::2] - x[1::2]).abs().min() > 1e-6


def test_one_gaussian_matches_the_closed_form():
    task = get_dataset("single_gaussian_1D")
    mu, s = task.means[0, 0].item(), task.stds[0].item()
    for sigma in (0.01, 0.5, 5.0, 80.0):
        x = mu + (s**2 + sigma**2) ** 0.5 * torch.linspace(-8, 8, 161, dtype=torch.float64)[:, None]
        assert (exact_consistency(task, x, sigma) - gaussian_f_star(mu, s, x, sigma)).abs().max() < 1e-12
    sigma = torch.linspace(SIGMA_MIN, 80.0, 161, dtype=torch.float64)  # one level per row
    assert (exact_consistency(task, x, sigma) - gaussian_f_star(mu, s, x, sigma[:, None])).abs().max() < 1e-12
    plane = GaussianMixture([1.0], [[1.0, -0.5]], [0.3])  # in 2D the ODE path
    x2 = torch.randn(100, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 80
    want = gaussian_f_star(plane.means[0], 0.3, x2, 80.0)
    assert (exact_consistency(plane, x2, 80.0) - want).abs().max() < 1e-8


@pytest.mark.parametrize("name", ["three_gmm_1D", "many_modes_1D"])
def test_cdf_inversion_matches_a_fine_ode_where_outputs_land_between_modes(name):
    # The hard inputs: the flow spreads the inputs landing in a gap far apart, so every solver error there is magnified.
    task = get_dataset(name)
    levels = (80.0, 10.0, 1.0)
    x = [gap_inputs_1d(task, level) for level in levels]
    sigma = torch.cat([torch.full((len(xs),), level, dtype=torch.float64) for xs, level in zip(x, levels)])
    x = torch.cat(x)
    y = exact_consistency(task, x, sigma)
    gap = in_gaps(task, y)
    assert all((gap & (sigma == level)).sum() >= 100 for level in levels)  # the zoom reaches into the gaps
    x, y, sigma = x[gap], y[gap], sigma[gap]
    assert (y - ode_consistency(task, x, sigma, num_steps=512)).abs().max() < 1e-7
    # The default ODE is within its tolerance even there; a coarse one is not.
    assert (y - ode_consistency(task, x, sigma)).abs().max() < ODE_TOLERANCE
    assert (y - ode_consistency(task, x, sigma, num_steps=8)).abs().max() > ODE_TOLERANCE


@pytest.mark.parametrize("name", TASKS_1D)
def test_f_star_is_increasing_in_1d(name):
    task = get_dataset(name)
    for sigma in (80.0, 1.0, 0.01):
        x = task.mean() + sigma * torch.linspace(-8, 8, 801, dtype=torch.float64)[:, None]
        y = exact_consistency(task, x, sigma)
        assert (y[1:] > y[:-1]).all()


def test_tails_are_finite_and_accurate():
    task = get_dataset("three_gmm_1D")
    for sigma in (80.0, 10.0):
        x = torch.tensor([[-8.0], [8.0]], dtype=torch.float64) * sigma
        y = exact_consistency(task, x, sigma)
        assert torch.isfinite(y).all() and (y - ode_consistency(task, x, sigma, num_steps=512)).abs().max() < 1e-9
        far = exact_consistency(task, torch.tensor([[-1e6], [-1e4], [1e4], [1e6]], dtype=torch.float64), sigma)
        assert torch.isfinite(far).all() and (far[1:] > far[:-1]).all()


@pytest.mark.parametrize("name, sigmas", [("ring8_2D", (80.0, 10.0)), ("grid25_2D", (80.0,))])
def test_ode_error_where_outputs_land_between_modes_is_within_tolerance(name, sigmas):
    task = get_dataset(name)
    for sigma in sigmas:
        x = gap_inputs_2d(task, sigma)
        fine = ode_consistency(task, x, sigma, num_steps=320)  # error ~(80 / 320)^5 = 1e-3 of the default's
        gap = in_gaps(task, fine)
        assert gap.sum() >= 10
        err = (exact_consistency(task, x[gap], sigma) - fine[gap]).norm(dim=1).max()
        assert err < ODE_TOLERANCE
        assert (ode_consistency(task, x[gap], sigma, num_steps=16) - fine[gap]).norm(dim=1).max() > ODE_TOLERANCE


def test_dtype_and_per_row_levels():
    task = get_dataset("ring8_2D")
    x = torch.randn(6, 2, generator=torch.Generator().manual_seed(2)) * 5
    sigma = torch.tensor([0.5, 5.0, 50.0, 0.5, 5.0, 50.0])
    out = exact_consistency(task, x, sigma, num_steps=16)
    assert out.dtype == torch.float32
    for level in (0.5, 5.0, 50.0):
        rows = sigma == level
        assert torch.allclose(out[rows], exact_consistency(task, x[rows], level, num_steps=16), atol=1e-6)


def test_exact_consistency_object():
    f = ExactConsistency("three_gmm_1D", sigma_min=0.05)
    assert (f.dim, f.sigma_min, f.task.num_components) == (1, 0.05, 3)
    x = torch.linspace(-3, 3, 7)[:, None]
    assert torch.equal(f(x, 0.05), x) and f(x, 2.0).dtype == torch.float32
    assert torch.equal(ExactConsistency("two_gmm_1D", sigma_min=0.7)(x, torch.tensor(0.7)), x)  # float32 0.7 < 0.7
    assert torch.equal(f(x, 2.0), exact_consistency("three_gmm_1D", x, 2.0, sigma_min=0.05))
    g = ExactConsistency("ring8_2D", num_steps=16)
    x2 = torch.randn(7, 2, generator=torch.Generator().manual_seed(3))
    assert g.dim == 2 and torch.equal(g(x2, 2.0), exact_consistency("ring8_2D", x2, 2.0, num_steps=16))


def test_bad_input_gets_a_clear_error():
    task = get_dataset("three_gmm_1D")
    x = torch.zeros(5, 1, dtype=torch.float64)
    cases = [
        (dict(x=torch.zeros(5)), "shape"),
        (dict(x=torch.zeros(5, 2)), "shape"),
        (dict(x=torch.zeros(5, 1, dtype=torch.long)), "floating-point"),
        (dict(x=torch.tensor([[0.0], [math.nan]])), "x must be finite"),
        (dict(sigma=0.001), ">= sigma_min"),
        (dict(sigma=math.nan), "sigma must be finite"),
        (dict(sigma=torch.ones(3)), "one level per row"),
        (dict(num_steps=0), "num_steps"),
        (dict(num_steps=2.5), "num_steps"),
        (dict(sigma_min=0.0), "sigma_min must be"),
    ]
    for change, message in cases:
        args = dict(x=x, sigma=1.0, sigma_min=SIGMA_MIN, num_steps=16) | change
        for fn in (exact_consistency, ode_consistency):
            with pytest.raises(ValueError, match=message):
                fn(task, args["x"], args["sigma"], sigma_min=args["sigma_min"], num_steps=args["num_steps"])
    with pytest.raises(ValueError, match="unknown task"):
        exact_consistency("no_such_task", x, 1.0)
    with pytest.raises(ValueError, match="sigma_min"):
        ExactConsistency(task, sigma_min=-1.0)
    with pytest.raises(ValueError, match="num_steps"):
        ExactConsistency(task, num_steps=0)
