"""How many points a batch estimate of E[x0 | x] averages over, against the data's dimension D.

    python -m benchmarks reference_count

The batch denoiser (cm_toy.batch_denoiser, the stable target field of Xu et al. 2023, arXiv 2302.00670) estimates
E[x0 | x] for x = x0_i + sigma z by self-normalised weights w_j ~ N(x; x0_j, sigma^2 I) over a batch that holds x's own
clean point x0_i. Its effective number of reference points is 1 / sum_j w_j^2: the batch size when every point counts
equally, 1 when x's own x0_i takes all the weight, and then the estimate is x0_i itself: the one-sample target of
Song et al. 2023's consistency training (Eq. 10). Data: N(0, I_D) (sigma_data = 1), batches of 256
(losses.REFERENCE_SIZE), medians over 4 batches x 256 rows.
"""

import torch

import cm_toy
from benchmarks.common import table, write_results

DIMS = (1, 2, 4, 8, 16, 32, 64, 128, 512, 3072)  # 3072: a 32 x 32 RGB image
SIGMAS = (0.1, 0.3, 1.0, 3.0, 10.0, 80.0)
BATCH, BATCHES = cm_toy.losses.REFERENCE_SIZE, 4
TASKS = None  # no task: the data is N(0, I_D)


def effective_count(dim, sigma, generator):
    """Medians over rows of (1 / sum_j w_j^2, w_ii): effective reference points and the weight of the row's own x0."""
    counts, own = [], []
    for _ in range(BATCHES):
        x0 = torch.randn(BATCH, dim, generator=generator, dtype=torch.float64)
        x = x0 + sigma * torch.randn(BATCH, dim, generator=generator, dtype=torch.float64)
        w = (-(torch.cdist(x, x0) ** 2) / (2 * sigma**2)).softmax(dim=1)  # the weights of cm_toy.batch_denoiser
        counts.append(1 / (w**2).sum(dim=1))
        own.append(w.diagonal())
    return torch.cat(counts).median().item(), torch.cat(own).median().item()


def main(args):
    generator = torch.Generator().manual_seed(0)
    rows = []
    for dim in DIMS:
        cells = [effective_count(dim, sigma, generator) for sigma in SIGMAS]
        rows.append([str(dim)] + [f"{n:.1f} ({w:.2f})" for n, w in cells])
    lines = [
        "# How many points a batch estimate of E[x0 | x] averages",
        "",
        f"`python -m benchmarks reference_count`: effective reference points 1 / sum_j w_j^2 of the batch denoiser's "
        f"weights (its own point's weight w_ii in brackets), median over {BATCHES} batches x {BATCH} rows of "
        f"N(0, I_D) data, x = x0 + sigma z. A count near 1 means the estimate is the row's own x0: the one-sample "
        f"target of consistency training, with all its variance.",
        "",
    ]
    lines += table(["D"] + [f"sigma = {s:g}" for s in SIGMAS], rows)
    print("\n".join(lines))
    write_results("reference_count.md", lines)
