"""The package's shape: layers import only downwards, and no private name crosses a module boundary."""

import ast
import json
import pathlib
import re

import cm_toy

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cm_toy"
# The layer order of cm_toy/__init__.py's docstring: a module may import only from modules before it.
LAYERS = [
    "data", "schedules", "networks", "samplers", "losses", "train", "exact", "metrics", "guidance", "edm",
    "consistency", "distillation", "trigflow", "ct", "continuous", "drift", "plots", "widgets", "interop",
]  # fmt: skip


def relative_imports(path):
    """(module imported, names imported) for every `from .x import ...` in a file."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            yield node.module, [alias.name for alias in node.names]


def test_every_module_has_a_layer_and_imports_only_from_layers_before_it():
    modules = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    assert sorted(LAYERS) == modules, "a module was added or removed: place it in LAYERS (and the docstring)"
    for name in LAYERS:
        for module, _ in relative_imports(PACKAGE / f"{name}.py"):
            assert module in LAYERS[: LAYERS.index(name)], f"cm_toy.{name} imports cm_toy.{module}, a later layer"


def test_no_private_name_crosses_a_module_boundary():
    for path in PACKAGE.glob("*.py"):
        for module, names in relative_imports(path):
            private = [n for n in names if n.startswith("_")]
            assert not private, f"{path.name} imports private {private} from .{module}"
    pattern = re.compile(r"(?:from cm_toy[\w.]* import [^\n]*\b_[a-z]\w*|cm_toy(?:\.\w+)*\._[a-z]\w*)")
    sources = {p: p.read_text() for p in [*(ROOT / "tests").glob("*.py"), *(ROOT / "benchmarks").rglob("*.py")]}
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        cells = json.loads(nb.read_text())["cells"]
        sources[nb] = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    for path, text in sources.items():
        assert not pattern.search(text), f"{path.name} uses a private cm_toy name: {pattern.search(text).group(0)}"


def test_the_public_api_is_small_and_every_name_exists():
    assert len(cm_toy.__all__) == len(set(cm_toy.__all__)) <= 55
    missing = [name for name in cm_toy.__all__ if not hasattr(cm_toy, name)]
    assert not missing, missing
    for name in LAYERS:  # every module's __all__ lists names it defines
        module = getattr(__import__(f"cm_toy.{name}"), name)
        assert all(hasattr(module, n) for n in getattr(module, "__all__", [])), name
