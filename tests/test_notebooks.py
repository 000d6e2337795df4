"""Static checks of the notebooks and docs as committed: titles, links, and outputs a reader without a kernel can use.

The notebooks themselves are executed by nbmake (`python -m pytest -n 2` collects notebooks/ too).
"""

import importlib.util
import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)|<img[^>]+src=\"([^\"]+)\"")
PATH = re.compile(r"`((?:[\w.-]+/)+[\w.-]+\.(?:md|py|json|ipynb|png|yml|toml))`")


def load(path):
    return json.loads(path.read_text())


def markdown(nb):
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]


def missing_targets(text, base):
    """Relative links and backticked repository paths in text that name no file (relative to base or the root)."""
    missing = []
    for match in LINK.finditer(text):
        target = (match.group(1) or match.group(2)).split("#")[0]
        if target and not re.match(r"[a-z]+:", target) and not (base / target).exists():
            missing.append(target)
    for target in PATH.findall(text):
        if not (base / target).exists() and not (ROOT / target).exists():
            missing.append(target)
    return missing


def test_notebooks_are_numbered_one_to_n():
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers == list(range(1, len(numbers) + 1)), [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_title_carries_the_file_number(path):
    title = markdown(load(path))[0].strip().splitlines()[0]
    assert re.match(rf"# {path.name[:2]} · \S", title), f"{path.name}: title is {title!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_notebook_links_and_paths_exist(path):
    text = "\n".join(markdown(load(path)))
    assert not missing_targets(text, path.parent), f"{path.name} points at files not in the repository"
    assert not re.search(r"shared/|(?:^|[\s`'\"(])/(?:work|tmp|root|home)/", text), f"{path.name}: machine path"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_doc_links_and_paths_exist(path):
    assert not missing_targets(path.read_text(), path.parent), f"{path.name} points at files not in the repository"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_saved_outputs_read_without_a_kernel(path):
    nb = load(path)
    assert "widgets" not in nb["metadata"], "saved widget state (GitHub will not render it)"
    counts = [c["execution_count"] for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert counts == list(range(1, len(counts) + 1)), "not executed top to bottom in one fresh kernel"
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"error output: {out.get('ename')}"
            data = out.get("data", {})
            assert "application/vnd.jupyter.widget-view+json" not in data, "a widget output without its state"
            text = "".join(out.get("text", "")) + "".join(data.get("text/plain", ""))
            assert not re.search(r"\b0%\|", text) or "100%|" in text, "a progress bar saved at 0%"
            assert "interactive(children=" not in text, "a slider saved as its repr"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_ends_with_exercises_and_folded_solutions(path):
    cells = markdown(load(path))
    headings = [(i, line) for i, cell in enumerate(cells) for line in cell.splitlines() if line.startswith("#")]
    last, heading = headings[-1]
    assert "exercise" in heading.lower(), f"{path.name}: the last section is {heading!r}, not the exercises"
    assert "<details>" in "".join(cells[last:]), f"{path.name}: no solutions folded in <details>"


def execute_module():
    spec = importlib.util.spec_from_file_location("execute", ROOT / "notebooks" / "execute.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_execute_saves_a_bar_as_its_final_text_and_a_slider_as_a_note():
    execute = execute_module()
    view = "application/vnd.jupyter.widget-view+json"
    state = {
        "bar": {"state": {"_model_name": "HBoxModel", "children": ["IPY_MODEL_l", "IPY_MODEL_p", "IPY_MODEL_r"]}},
        "l": {"state": {"_model_name": "HTMLModel", "value": "CD: 100%"}},
        "p": {"state": {"_model_name": "FloatProgressModel", "value": 400, "max": 400}},
        "r": {"state": {"_model_name": "HTMLModel", "value": " 400/400 [00:02&lt;00:00]"}},
        "slider": {"state": {"_model_name": "VBoxModel", "children": []}},
    }
    outputs = [
        {"output_type": "display_data", "data": {view: {"model_id": m}, "text/plain": "0%|"}, "metadata": {}}
        for m in ("bar", "slider")
    ]
    nb = {
        "metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {"state": state}}},
        "cells": [{"cell_type": "code", "outputs": outputs}],
    }
    out = execute.settle_widgets(nb)
    bar, slider = (o["data"] for o in out["cells"][0]["outputs"])
    assert bar == {"text/plain": "CD: 100%|██████████| 400/400 [00:02<00:00]"}
    assert slider == {"text/plain": execute.SLIDER_NOTE}
    assert "widgets" not in out["metadata"]
