"""What every suite shares: where a run writes, its budgets (full or --smoke), the process pool, scoring against the
exact target next to the noise floor, Markdown tables, and a reader for the committed tables."""

import dataclasses
import multiprocessing
import pathlib
from concurrent.futures import ProcessPoolExecutor

import torch

import cm_toy

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CACHE = ROOT / "benchmarks" / "cache"
SEEDS = range(5)  # sampling seeds of every median

# --smoke: every row runs, with budgets this small (a test that each suite runs, not a measurement).
SMOKE_N = 256  # samples per draw
SMOKE_STEPS = dict(steps=20, pretrain_steps=10, edm_steps=20)  # caps on the trainers' budgets
SMOKE_EXACT_STEPS = 16  # ODE steps of the exact consistency function f*


@dataclasses.dataclass
class Run:
    out: pathlib.Path = RESULTS  # where the suite writes its files
    cache: pathlib.Path = CACHE  # trained models (benchmarks/cache.py)
    smoke: bool = False
    retrain: bool = False  # train every model again, overwriting its cached copy


RUN = Run()


def configure(**settings):
    """Set this process's Run, in place (the entry point does, and the pool passes it on to its workers)."""
    for name, value in settings.items():
        if not hasattr(RUN, name):
            raise TypeError(f"no run setting {name!r}; valid: {', '.join(f.name for f in dataclasses.fields(Run))}")
        setattr(RUN, name, value)
    return RUN


def size(n):
    """The number of samples a draw of n takes in this run: n itself, or SMOKE_N under --smoke."""
    return min(n, SMOKE_N) if RUN.smoke else n


def _worker(run):
    torch.set_num_threads(1)
    configure(**dataclasses.asdict(run))


def pool_map(fn, *iterables, jobs=1):
    """map(fn, *iterables), yielding the results in order as they finish: in this process when jobs = 1, else in
    `jobs` processes, each on one torch thread. Spawned, not forked: a forked worker inherits the parent's torch
    thread pool and ZeroMQ state (a notebook kernel's reply can then be lost)."""
    calls = list(zip(*iterables))
    if jobs == 1 or len(calls) <= 1:
        for args in calls:
            yield fn(*args)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(jobs, len(calls)), mp_context=context, initializer=_worker, initargs=(RUN,)) as pool:
        futures = [pool.submit(fn, *args) for args in calls]
        for future in futures:
            yield future.result()


# ----- scoring ------------------------------------------------------------------------------------------------------


def score(sample, task, n=10_000, seeds=SEEDS):
    """sample(n, seed) -> samples [n, D], scored against the exact task: a row dict with the metrics of the seed-0 draw
    ("seed0", cm_toy.evaluate), their medians over the sampling seeds ("median", cm_toy.evaluate_seeds; the seed-0
    draw itself for a single seed) and the noise floor of that size ("floor", cm_toy.noise_floor)."""
    seed0 = cm_toy.evaluate(sample(size(n), 0), task)
    return dict(
        seed0=seed0, median=median(sample, task, n, seeds) if len(seeds) > 1 else seed0, floor=noise_floor(task, n)
    )


def median(sample, task, n=10_000, seeds=SEEDS):
    """cm_toy.evaluate_seeds at this run's size of a draw of n: each metric's median over the sampling seeds."""
    return cm_toy.evaluate_seeds(sample, task, n=size(n), seeds=seeds)


def noise_floor(task, n=10_000):
    """cm_toy.noise_floor at this run's size of a draw of n."""
    return cm_toy.noise_floor(task, size(n))


def exact_f(task, sigma_min=cm_toy.SIGMA_MIN):
    """cm_toy.ExactConsistency(task, sigma_min), the exact f* for the samplers; under --smoke with a coarse ODE."""
    return cm_toy.ExactConsistency(task, sigma_min, **(dict(num_steps=SMOKE_EXACT_STEPS) if RUN.smoke else {}))


def x_floor(value, floor):
    """A W1 and its ratio to the noise floor, as every table writes them: '0.0117 (1.00x)'."""
    return f"{value:.4f} ({value / floor:.2f}x)"


def gap_ratio(metrics):
    """Gap mass over the true gap mass (the share of exact samples in the gaps)."""
    return metrics["gap_mass"] / max(metrics["gap_mass_true"], 1e-12)


# ----- tables -------------------------------------------------------------------------------------------------------


def table(columns, rows, align=None):
    """A Markdown table as lines: the header, the separator (`---` per column, or `align`'s cells such as `---:`),
    then one line per row of cells."""
    align = align or ["---"] * len(columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "".join(f"{a}|" for a in align)]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def write_results(name, lines):
    """Write lines (or one text) to the run's folder as `name`, ending in exactly one newline; returns the path."""
    text = lines if isinstance(lines, str) else "\n".join(lines)
    RUN.out.mkdir(parents=True, exist_ok=True)
    path = RUN.out / name
    path.write_text(text.rstrip("\n") + "\n")
    return path


def read_table(name, heading=None, folder=RESULTS):
    """The first Markdown table in benchmarks/results/`name` (after the first heading that starts with `heading`, if
    given) as a list of dicts, column -> cell text."""
    lines = (pathlib.Path(folder) / name).read_text().splitlines()
    if heading is not None:
        found = [
            i for i, line in enumerate(lines) if line.startswith("#") and line.lstrip("#").strip().startswith(heading)
        ]
        if not found:
            raise ValueError(f"no heading starting with {heading!r} in {name}")
        lines = lines[found[0] + 1 :]
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), None)
    if start is None:
        raise ValueError(f"no table in {name}" + (f" under {heading!r}" if heading else ""))
    cells = lambda line: [c.strip() for c in line.strip().strip("|").split("|")]
    columns, rows = cells(lines[start]), []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(columns, cells(line))))
    return rows
