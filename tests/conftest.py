import matplotlib
import pytest
import torch

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny models run faster on one thread here; tests also stay deterministic.
    torch.set_num_threads(1)
