"""The benchmark suites behind benchmarks/results/, with one entry point: `python -m benchmarks SUITE [options]`.

`python -m benchmarks --list` names every suite; `python -m benchmarks SUITE -h` gives its arguments and what it
measures. The README's suites are modules of this package; one-off studies live in benchmarks/studies/.
"""

# name: module. The README's suites (their tables feed the README, docs/findings.md and the notebooks), then studies.
SUITES = {
    "results": "benchmarks.results",
    "edm": "benchmarks.edm",
    "consistency": "benchmarks.consistency",
    "continuous": "benchmarks.continuous",
    "drift": "benchmarks.drift",
    "start": "benchmarks.start",
    "tasks": "benchmarks.tasks",
    "conditional": "benchmarks.conditional",
    "notebooks": "benchmarks.notebooks",
    "figures": "benchmarks.figures",
    "sweep": "benchmarks.studies.sweep",
    "gpu": "benchmarks.studies.gpu",
    "reference_count": "benchmarks.studies.reference_count",
    "ct_cost": "benchmarks.studies.ct_cost",
    "ct_tune": "benchmarks.studies.ct_tune",
    "multistep": "benchmarks.studies.multistep",
    "memorisation": "benchmarks.studies.memorisation",
}


def kind(name):
    """ "study" for a one-off study (benchmarks/studies/), "suite" for one of the README's suites."""
    return "study" if SUITES[name].startswith("benchmarks.studies.") else "suite"
