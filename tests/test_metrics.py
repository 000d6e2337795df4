import pytest
import torch

from cm_toy import GaussianMixture, evaluate, get_dataset, noise_floor
from cm_toy.metrics import METRICS


@pytest.mark.parametrize("name", ["three_gmm_1D", "two_gmm_1D", "uneven_two_gmm_1D", "single_gaussian_1D"])
def test_exact_samples_score_about_the_noise_floor(name):
    task = get_dataset(name)
    floor = noise_floor(task, 10_000)
    assert set(METRICS) <= set(floor)
    scores = [evaluate(task.sample(10_000, torch.Generator().manual_seed(100 + i)), task)["w1"] for i in range(5)]
    assert sorted(scores)[2] < 2 * floor["w1"]
    m = evaluate(task.sample(10_000, torch.Generator().manual_seed(7)), task)
    assert abs(m["std_ratio"] - 1) < 0.03 and m["mode_mass_err"] < 0.02
    assert m["gap_mass"] == pytest.approx(m["gap_mass_true"], abs=0.003)


def test_shifted_narrowed_and_collapsed_samples_score_clearly_worse():
    task = get_dataset("three_gmm_1D")
    floor = noise_floor(task, 10_000)
    x, labels = task.sample(10_000, torch.Generator().manual_seed(0), return_labels=True)
    assert evaluate(x + 0.1, task)["w1"] > 5 * floor["w1"]
    narrowed = evaluate(task.means.float()[labels] + 0.5 * (x - task.means.float()[labels]), task)
    assert narrowed["w1"] > 3 * floor["w1"] and narrowed["std_ratio"] < 0.995
    widened = evaluate(x * 1.3, task)
    assert widened["gap_mass"] > 10 * widened["gap_mass_true"]
    dropped = evaluate(x[labels != 0], task)  # one mode missing
    assert dropped["mode_mass_err"] > 0.3


def test_w1_of_a_known_shift():
    # For one Gaussian shifted by d, W1 = d exactly; with 200k samples the estimate is within sampling error.
    task = GaussianMixture([1.0], [0.0], [1.0])
    x = task.sample(200_000, torch.Generator().manual_seed(0)) + 0.5
    assert evaluate(x, task)["w1"] == pytest.approx(0.5, abs=0.01)


def test_2d_metrics_are_sliced_and_sensible():
    task = GaussianMixture([0.25] * 4, [[2, 2], [-2, 2], [2, -2], [-2, -2]], [0.3] * 4)
    x = task.sample(5000, torch.Generator().manual_seed(0))
    good, floor = evaluate(x, task), noise_floor(task, 5000, num_draws=5)
    assert good["w1"] < 2 * floor["w1"] and good["mode_mass_err"] < 0.03
    assert evaluate(x * 0.5, task)["w1"] > 5 * floor["w1"]


def test_bad_samples_are_rejected():
    task = get_dataset("two_gmm_1D")
    with pytest.raises(ValueError, match=r"shape \[n >= 2, 1\]"):
        evaluate(torch.zeros(10), task)
    with pytest.raises(ValueError, match="not finite"):
        evaluate(torch.tensor([[0.0], [float("nan")]]), task)
