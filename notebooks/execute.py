"""Execute notebooks top to bottom and commit-ready their outputs, in the same mode CI runs them (pytest + nbmake).

    python notebooks/execute.py                 # every notebook in this folder
    python notebooks/execute.py 02 04           # only those whose names start with 02 or 04

After executing, it removes the notebook-level widget state that nbclient writes (`metadata.widgets`): GitHub refuses
to render a notebook whose widget state lacks a "state" key, and the sliders need a live kernel anyway. The static
figure that each widget cell draws first stays in the outputs.
"""
import json
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent


def main(prefixes):
    notebooks = sorted(HERE.glob("[0-9][0-9]_*.ipynb"))
    if prefixes:
        notebooks = [nb for nb in notebooks if any(nb.name.startswith(p) for p in prefixes)]
        if not notebooks:
            names = ", ".join(nb.name for nb in sorted(HERE.glob("[0-9][0-9]_*.ipynb")))
            sys.exit(f"no notebook starts with {' or '.join(prefixes)}; the notebooks are: {names}")
    cmd = [sys.executable, "-m", "pytest", *map(str, notebooks), "--nbmake", "--overwrite", "--nbmake-timeout=900",
           "-p", "no:cacheprovider", "-o", "addopts=", "--durations=0"]
    code = subprocess.call(cmd, cwd=HERE.parent)
    for path in notebooks:
        nb = json.loads(path.read_text())
        if nb.get("metadata", {}).pop("widgets", None) is not None:
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    sys.exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
