"""Write the Colab notebook of every chapter into ``book/colab/``.

Colab opens only ``.ipynb`` files, and its machines have neither the
``gradland`` package nor MyST-NB. So each chapter's MyST Markdown source is
converted with jupytext, and a first cell installs both when, and only when,
the notebook runs on Colab. Run ``make colab`` after editing a chapter; the
test suite checks that the notebooks are up to date.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext
import nbformat
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COLAB_DIR = REPO_ROOT / "book" / "colab"
#: The repository's address: set once, in ``_config.yml`` (``repository: url``).
REPOSITORY = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")

INSTALL_CELL = f'''\
# On Colab, first install the book's companion package and MyST-NB (for `glue`).
import sys

if "google.colab" in sys.modules:
    %pip install --quiet myst-nb "gradland @ git+{REPOSITORY}@main"'''


def chapters() -> list[Path]:
    """Sources listed in ``_toc.yml`` that are notebooks (have a kernelspec)."""
    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    paths = [REPO_ROOT / f"{name}.md" for name in files]
    return [path for path in paths if "kernelspec" in front_matter(path)]


def front_matter(path: Path) -> dict:
    """The YAML front matter of a MyST Markdown file ({} when it has none)."""
    text = path.read_text()
    if not text.startswith("---\n"):
        return {}
    return yaml.safe_load(text.split("---\n", 2)[1]) or {}


def colab_notebook(source: Path) -> str:
    """The Colab notebook of one chapter, as the text of an ``.ipynb`` file."""
    notebook = jupytext.read(source, fmt="md:myst")
    notebook.metadata.pop("jupytext", None)
    notebook.metadata["colab"] = {"provenance": []}
    notebook.cells.insert(0, nbformat.v4.new_code_cell(INSTALL_CELL))
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index}"  # stable ids: the file changes only with the chapter
    return nbformat.writes(notebook) + "\n"


def colab_path(source: Path) -> Path:
    return COLAB_DIR / f"{source.stem}.ipynb"


def main() -> int:
    COLAB_DIR.mkdir(parents=True, exist_ok=True)
    for source in chapters():
        colab_path(source).write_text(colab_notebook(source))
        print(f"wrote {colab_path(source).relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
