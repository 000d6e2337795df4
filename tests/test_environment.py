"""environment.yml, the README's conda set-up, agrees with pyproject.toml.

No conda channel is reachable from the test machines, so the file is checked statically: it parses, it uses
conda-forge only, its conda packages are pyproject's [project] dependencies (conda-forge's PyTorch named as PyPI's
torch), and its pip section installs this package with the extras that the README's commands use.
"""

import pathlib
import re

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    tomllib = pytest.importorskip("tomli")

ROOT = pathlib.Path(__file__).resolve().parent.parent
ENVIRONMENT = ROOT / "environment.yml"
PYPROJECT = ROOT / "pyproject.toml"

# conda-forge names whose PyPI name differs
CONDA_TO_PYPI = {"pytorch": "torch", "pytorch-cpu": "torch", "pytorch-gpu": "torch"}
# conda packages that make the environment itself, not dependencies of the package
TOOLING = {"python", "pip"}
# the extras the README installs: pip install -e ".[notebooks,dev]"
EXTRAS = {"notebooks", "dev"}


def parse_environment(text):
    """The YAML subset of a conda environment file: top-level `key: value` or `key:` with a list of `- item`, and one
    nested list under a `- pip:` item. Anything else is an error naming the line."""
    env, key, pip, pip_indent = {}, None, None, None
    for number, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*", "", raw).rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        item = line.strip()
        if indent == 0:
            name, colon, value = item.partition(":")
            if not colon:
                raise ValueError(f"environment.yml line {number}: expected 'key: value', got {raw!r}")
            key, pip = name.strip(), None
            env[key] = value.strip() or []
        elif item.startswith("- ") and key is not None and isinstance(env[key], list):
            value = item[2:].strip()
            if pip is not None and indent > pip_indent:
                pip.append(value)
            elif value == "pip:":
                pip, pip_indent = [], indent
                env[key].append({"pip": pip})
            else:
                pip = None
                env[key].append(value)
        else:
            raise ValueError(f"environment.yml line {number}: expected a list item '- ...' under a key, got {raw!r}")
    return env


def normalize(name):
    # PEP 503: case, '-', '_' and '.' do not distinguish two distributions
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec):
    """The distribution name at the start of a pip requirement or a conda match spec ('channel::name>=1')."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", spec.split("::")[-1].strip())
    if match is None:
        raise ValueError(f"cannot read a package name from {spec!r}")
    return normalize(match.group(0))


def conda_packages(env):
    """The PyPI names of the environment's conda packages, the environment's tooling left out."""
    names = {requirement_name(dep) for dep in env["dependencies"] if isinstance(dep, str)}
    return {CONDA_TO_PYPI.get(name, name) for name in names - TOOLING}


def package_mismatch(env, pyproject):
    """(only in environment.yml, only in pyproject.toml): both empty when the two agree."""
    conda = conda_packages(env)
    pypi = {requirement_name(dep) for dep in pyproject["project"]["dependencies"]}
    return conda - pypi, pypi - conda


def pip_section(env):
    sections = [dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict)]
    assert len(sections) == 1, f"environment.yml should have one '- pip:' section, found {len(sections)}"
    return sections[0]


@pytest.fixture(scope="module")
def env():
    return parse_environment(ENVIRONMENT.read_text())


@pytest.fixture(scope="module")
def pyproject():
    return tomllib.loads(PYPROJECT.read_text())


def test_environment_is_cm_toy_from_conda_forge_only(env):
    assert env["name"] == "cm-toy"
    assert env["channels"] == ["conda-forge"]


def test_conda_packages_are_the_project_dependencies(env, pyproject):
    only_conda, only_pypi = package_mismatch(env, pyproject)
    assert not only_conda, f"in environment.yml but not in pyproject.toml's [project] dependencies: {only_conda}"
    assert not only_pypi, f"in pyproject.toml's [project] dependencies but not in environment.yml: {only_pypi}"


def test_the_comparison_notices_a_package_on_one_side_only(env, pyproject):
    gained = parse_environment(ENVIRONMENT.read_text() + "  - scipy\n")
    assert package_mismatch(gained, pyproject) == ({"scipy"}, set())
    lost = {**pyproject, "project": {**pyproject["project"], "dependencies": ["numpy", "matplotlib", "tqdm"]}}
    assert package_mismatch(env, lost) == ({"torch"}, set())
    dropped = {**env, "dependencies": [dep for dep in env["dependencies"] if dep != "tqdm"]}
    assert package_mismatch(dropped, pyproject) == (set(), {"tqdm"})


def test_pip_section_installs_this_package_with_its_extras(env, pyproject):
    entries = pip_section(env)
    assert len(entries) == 1, f"the pip section should install only this package, got {entries}"
    match = re.fullmatch(r"-e \.\[([^\]]*)\]", entries[0])
    assert match, f"expected '-e .[notebooks,dev]' (this package, editable), got {entries[0]!r}"
    extras = {extra.strip() for extra in match.group(1).split(",")}
    assert extras == EXTRAS
    assert extras <= set(pyproject["project"]["optional-dependencies"])


def test_python_meets_requires_python(env, pyproject):
    pinned = [dep for dep in env["dependencies"] if isinstance(dep, str) and requirement_name(dep) == "python"]
    assert len(pinned) == 1, f"environment.yml should pin python once, found {pinned}"
    version = tuple(int(part) for part in re.search(r"\d+(\.\d+)*", pinned[0]).group(0).split("."))
    lowest = re.search(r">=\s*(\d+(\.\d+)*)", pyproject["project"]["requires-python"])
    assert lowest, f"expected a lower bound '>=X.Y' in requires-python, got {pyproject['project']['requires-python']!r}"
    assert version >= tuple(int(part) for part in lowest.group(1).split("."))


def test_parser_reads_what_yaml_reads():
    yaml = pytest.importorskip("yaml")
    assert parse_environment(ENVIRONMENT.read_text()) == yaml.safe_load(ENVIRONMENT.read_text())


def test_parser_names_the_line_it_cannot_read():
    with pytest.raises(ValueError, match="line 2"):
        parse_environment("name: cm-toy\n  stray: indented key\n")
