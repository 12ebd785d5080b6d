"""Run the book's notebooks top to bottom, as a reader runs them, and time them.

Run by ``tests/test_notebooks.py`` with the Python of a fresh virtual
environment that holds nothing but Jupyter's kernel and runner::

    python notebook_runner.py RESULT.json KERNEL TARGET LOCAL NOTEBOOK...

Each notebook runs in its own empty folder, with the kernel ``KERNEL``. Its
first code cell installs the package from ``TARGET`` (the book's tag on GitHub),
which is replaced by ``LOCAL``, the checkout under test: the same package, the
same version, without the network. The install cell of the first notebook is run
alone first, so that the time of the installation and the times of the
chapters are reported apart. RESULT.json gets ``{"install": s, "notebooks":
{name: s}, "failures": {name: message}}``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path


def first_code_cell(notebook):
    return next(cell for cell in notebook.cells if cell.cell_type == "code")


def run(notebook, kernel: str) -> float:
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        NotebookClient(notebook, kernel_name=kernel, timeout=900, resources={"metadata": {"path": folder}}).execute()
        return time.perf_counter() - start


def main(argv: list[str]) -> int:
    import nbformat

    result_path, kernel, target, local, *paths = argv
    result: dict = {"install": None, "notebooks": {}, "failures": {}}
    notebooks = {}
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        install = first_code_cell(notebook)
        if target not in install.source:
            result["failures"][Path(path).stem] = f"the first code cell does not install {target}"
            continue
        install.source = install.source.replace(target, local)
        notebooks[Path(path).stem] = notebook
    if notebooks:
        first = next(iter(notebooks.values()))
        alone = nbformat.v4.new_notebook(cells=[first_code_cell(first).copy()], metadata=first.metadata)
        result["install"] = run(alone, kernel)
    for name, notebook in notebooks.items():
        try:
            result["notebooks"][name] = run(notebook, kernel)
        except Exception as error:  # noqa: BLE001 - report every notebook, not the first failure
            result["failures"][name] = f"{type(error).__name__}: {error}"[-3000:]
    Path(result_path).write_text(json.dumps(result, indent=1))
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
