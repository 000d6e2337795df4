"""Execute notebooks top to bottom and save their outputs, in the same mode CI runs them (pytest + nbmake).

    python notebooks/execute.py                 # every notebook in this folder, two at a time
    python notebooks/execute.py 02 04           # only those whose names start with 02 or 04

Each notebook runs in its own fresh kernel on one torch thread, so two run side by side on two cores.

After executing, it rewrites what a widget leaves in the saved outputs, since a saved notebook has no live kernel:
- a progress bar (tqdm's notebook widget) becomes the plain-text line of its final state, e.g. `100%|█████| 4000/4000`;
- a slider (ipywidgets.interact) becomes a one-line note; the static figure drawn above it stays;
- the notebook-level widget state (`metadata.widgets`) is removed: GitHub refuses to render a notebook whose widget
  state lacks a "state" key.
"""

import html
import json
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
WIDGET = "application/vnd.jupyter.widget-view+json"
SLIDER_NOTE = "(Run this cell in a live notebook to move the slider.)"


def bar_text(model_id, state):
    """The final text of a tqdm notebook bar (an HBox of HTML, FloatProgress, HTML), or None if it is not one."""
    box = state.get(model_id, {}).get("state", {})
    children = [state.get(c.removeprefix("IPY_MODEL_"), {}).get("state", {}) for c in box.get("children", [])]
    if [c.get("_model_name") for c in children] != ["HTMLModel", "FloatProgressModel", "HTMLModel"]:
        return None
    left, bar, right = children
    filled = round(10 * bar.get("value", 0) / max(bar.get("max", 1), 1e-12))
    return f"{html.unescape(left['value'])}|{'█' * filled}{' ' * (10 - filled)}|{html.unescape(right['value'])}"


def settle_widgets(nb):
    """Replace widget outputs by text a reader without a kernel can use; drop the saved widget state."""
    state = nb.get("metadata", {}).pop("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    state = state.get("state", {})
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET)
            if view is None:
                continue
            text = bar_text(view.get("model_id"), state)
            out["data"] = {"text/plain": text if text is not None else SLIDER_NOTE}
    return nb


def main(prefixes):
    notebooks = sorted(HERE.glob("[0-9][0-9]_*.ipynb"))
    if prefixes:
        notebooks = [nb for nb in notebooks if any(nb.name.startswith(p) for p in prefixes)]
        if not notebooks:
            names = ", ".join(nb.name for nb in sorted(HERE.glob("[0-9][0-9]_*.ipynb")))
            sys.exit(f"no notebook starts with {' or '.join(prefixes)}; the notebooks are: {names}")
    workers = ["-n", "2"] if len(notebooks) > 1 else []
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        *map(str, notebooks),
        "--nbmake",
        "--overwrite",
        "--nbmake-timeout=900",
        *workers,
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        "--durations=0",
    ]
    code = subprocess.call(cmd, cwd=HERE.parent)
    for path in notebooks:
        nb = settle_widgets(json.loads(path.read_text()))
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    sys.exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
