"""The chapters as notebooks: they read like the page, and they run on a fresh machine."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import gradland
import gradland_book
import gradland_notebooks
import nbformat
import pytest
from conftest import REPO
from test_book import numbering

CHAPTERS = sorted(p.stem for p in (REPO / "book").glob("*.md") if "kernelspec:" in p.read_text().split("\n---\n", 1)[0])
TARGET = gradland_notebooks.install_target(gradland_book.REPOSITORY, gradland.__version__)
FENCED = re.compile(r"^```.*?^```[ \t]*$", re.M | re.S)


def notebook(site: Path, stem: str) -> nbformat.NotebookNode:
    return nbformat.read(site / gradland_notebooks.NOTEBOOKS / f"{stem}.ipynb", as_version=4)


def prose(nb: nbformat.NotebookNode) -> str:
    """The Markdown of a notebook, without its fenced code."""
    return "\n\n".join(FENCED.sub("", cell.source) for cell in nb.cells if cell.cell_type == "markdown")


def test_every_chapter_has_a_notebook_and_binder_its_environment(book):
    folder = book.html / gradland_notebooks.NOTEBOOKS
    assert len(CHAPTERS) == 15
    assert sorted(p.stem for p in folder.glob("*.ipynb")) == CHAPTERS
    requirements = (folder / "requirements.txt").read_text()
    assert TARGET in requirements and "whl/cpu" in requirements


@pytest.mark.parametrize("stem", CHAPTERS)
def test_the_first_cell_installs_the_books_version_not_main(book, stem):
    first = notebook(book.html, stem).cells[1]
    assert first.cell_type == "code" and f'%pip install --quiet "{TARGET}"' in first.source
    assert f"@v{gradland.__version__}" in TARGET and "@main" not in first.source


@pytest.mark.parametrize("stem", CHAPTERS)
def test_a_notebook_keeps_the_chapters_code_and_the_builds_outputs(book, stem):
    import jupytext

    chapter = jupytext.read(REPO / "book" / f"{stem}.md", fmt="md:myst")
    nb = notebook(book.html, stem)
    code = [cell for cell in nb.cells if cell.cell_type == "code"][1:]
    assert [c.source for c in code] == [c.source.strip() for c in chapter.cells if c.cell_type == "code"]
    assert any(c.outputs for c in code)
    images = sum(
        bool({"image/svg+xml", "image/png", "text/html"} & set(o.get("data", {}))) for c in code for o in c.outputs
    )  # a figure, or an interactive one
    figures = len(re.findall(r"^:    name: fig-", (REPO / "book" / f"{stem}.md").read_text(), re.M))
    assert images >= figures
    hidden = [c for c in code if "remove-cell" in c.metadata.get("tags", [])]
    assert all(c.metadata["jupyter"]["source_hidden"] for c in hidden)


@pytest.mark.parametrize("stem", CHAPTERS)
def test_a_notebook_has_no_myst_and_no_macro_of_the_book(book, stem):
    text = prose(notebook(book.html, stem))
    leftovers = {
        "role": re.findall(r"\{[\w:-]+\}`[^`]*`", text),
        "directive": re.findall(r"^\s*(?:`{3,}|:{3,})\{[\w:-]+\}.*$", text, re.M),
        "target": re.findall(r"^\([\w-]+\)=\s*$", text, re.M),
        "substitution": re.findall(r"\{\{[^}]*\}\}", text),
        "macro": [m for name in gradland_book.MACROS for m in re.findall(rf"\\{name}(?![A-Za-z])", text)],
    }
    assert not any(leftovers.values()), {kind: found[:5] for kind, found in leftovers.items() if found}


@pytest.mark.parametrize("stem", CHAPTERS)
def test_a_notebook_carries_the_numbers_of_the_page(book, stem):
    """Sections, statements, exercises, figures and equations, with the page's numbers."""
    text = prose(notebook(book.html, stem))
    numbers = {label: number for label, number in numbering(book.html).items() if label.startswith(f"{stem}#")}
    assert numbers
    for label, number in numbers.items():
        if label.startswith(f"{stem}#equation-"):
            assert f"\\tag{{{number}}}" in text, label
        elif number.startswith("Fig. "):
            assert f"**{number}.**" in text, label
        elif " " in number:  # "Proposition 2.1", "Exercise 2.5"
            assert f"**{number}**" in text, label
        elif "." in number:  # a section, "2.1" or "2.1.3"
            assert re.search(rf"^#+ {re.escape(number)}\. ", text, re.M), label
        else:
            assert text.startswith(f"# {number}. "), label


@pytest.mark.parametrize("stem", CHAPTERS)
def test_glued_values_are_written_in_from_the_build_and_marked(book, stem):
    source = (REPO / "book" / f"{stem}.md").read_text()
    text = prose(notebook(book.html, stem))
    values = re.findall(rf'<abbr title="{gradland_notebooks.GLUE_NOTE}">([^<]*)</abbr>', text)
    assert len(values) == len(re.findall(r"\{glue(?::text)?\}`", source)) + 1  # + the note's example
    page = html.unescape((book.html / "book" / f"{stem}.html").read_text())
    page = page.translate(str.maketrans("\u201c\u201d\u2018\u2019", "\"\"''"))  # Sphinx's smart quotes
    for value in values[1:]:
        assert html.unescape(value) in page, value  # as the page prints it


@pytest.mark.parametrize("stem", CHAPTERS)
def test_solutions_fold_and_the_student_edition_has_none(book, student, stem):
    source = (REPO / "book" / f"{stem}.md").read_text()
    solutions = len(re.findall(r"^`{3,4}\{solution\}", source, re.M))
    exercises = len(re.findall(r"^`{3,4}\{exercise\}", source, re.M))
    full, mine = prose(notebook(book.html, stem)), prose(notebook(student.html, stem))
    assert solutions and full.count("<details>\n<summary>Solution to Exercise") == solutions
    assert "<details>" not in mine and "student edition" in mine
    assert full.count("**Exercise ") == mine.count("**Exercise ") >= exercises


def nbconvert_html(path: Path, mathjax: Path) -> str:
    """The notebook as nbconvert renders it, with the site's MathJax 3 and no macros.

    nbconvert's template loads MathJax 2 from a CDN; here MathJax 3 comes from
    the site, configured as Jupyter does ($ and $$), without the book's macros
    and without the package that typesets an unknown command as red text: an
    unknown command is an error, which the test counts.
    """
    from nbconvert import HTMLExporter

    rendered, _ = HTMLExporter(template_name="lab").from_notebook_node(nbformat.read(path, as_version=4))
    config = (
        "<script>window.MathJax = {tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], "
        "processEscapes: true, packages: {'[-]': ['noundefined']}}};</script>"
        f'<script src="{mathjax.as_uri()}"></script>'
    )
    rendered, replaced = re.subn(
        r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", lambda _: config, rendered, flags=re.S
    )
    assert replaced == 1
    return rendered


@pytest.mark.parametrize("stem", CHAPTERS)
def test_a_notebook_renders_in_a_renderer_that_knows_no_myst(book, browser, tmp_path, stem):
    page = tmp_path / f"{stem}.html"
    page.write_text(
        nbconvert_html(
            book.html / gradland_notebooks.NOTEBOOKS / f"{stem}.ipynb",
            book.html / "_static" / "mathjax" / "tex-chtml.js",
        )
    )
    tab = browser.new_page()
    try:
        tab.goto(page.as_uri())
        tab.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
        tab.evaluate("MathJax.startup.promise")
        assert tab.locator("mjx-container").count() > 50
        errors = tab.eval_on_selector_all("mjx-merror", "els => els.map(e => e.getAttribute('data-mjx-error'))")
        assert not errors, errors[:5]
        # solutions stay folded, statements are headed, numbers are marked
        assert tab.locator("details[open]").count() == 0 and tab.locator("details").count() > 0
        assert tab.locator("strong", has_text=re.compile(r"^Exercise \d+\.\d+$")).count() > 0
        assert tab.locator("abbr[title]").count() > 1
        text = tab.evaluate("""() => [...document.querySelectorAll('.jp-MarkdownCell')]
                                      .map(cell => cell.innerText).join('\\n')""")
        assert not re.search(r"\{(?:eq|prf:[a-z]+|numref|glue:text|exercise|solution|math)\}", text)
    finally:
        tab.close()


def test_every_notebook_runs_in_a_clean_venv(book, tmp_path):
    """The notebooks run top to bottom where nothing but Jupyter is installed.

    The fresh environment gets only the kernel and the runner; the first cell
    of the notebooks installs the rest, from this checkout instead of the tag.
    ``PIP_CONSTRAINT`` keeps PyTorch at the build of this machine (a plain
    ``torch`` would fetch a CUDA build of several GB), as Colab brings its own.
    """
    import torch

    fresh = tmp_path / "venv"
    venv.create(fresh, with_pip=True)
    python = str(fresh / "bin" / "python")
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(f"torch=={torch.__version__.split('+')[0]}\n")
    env = {**os.environ, "PIP_CONSTRAINT": str(constraints), "PYTHONNOUSERSITE": "1", "MPLBACKEND": "Agg"}
    for variable in ("PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_PATH"):
        env.pop(variable, None)
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "nbclient", "ipykernel"], check=True, env=env, capture_output=True
    )
    subprocess.run(
        [python, "-m", "ipykernel", "install", "--prefix", str(fresh), "--name", "clean"],
        check=True,
        env=env,
        capture_output=True,
    )
    result = tmp_path / "result.json"
    paths = [str(book.html / gradland_notebooks.NOTEBOOKS / f"{stem}.ipynb") for stem in CHAPTERS]
    done = subprocess.run(
        [
            python,
            str(REPO / "tests" / "notebook_runner.py"),
            str(result),
            "clean",
            TARGET,
            f"gradland[data] @ {REPO.as_uri()}",
            *paths,
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    report = json.loads(result.read_text()) if result.is_file() else {}
    print("notebooks in a clean venv (s):", json.dumps(report, indent=1))
    assert done.returncode == 0 and not report.get("failures"), (
        json.dumps(report.get("failures"), indent=1) + done.stderr[-5000:]
    )
    assert sorted(report["notebooks"]) == CHAPTERS
    # nothing came from this environment: the package is the fresh environment's own copy
    where = subprocess.run(
        [python, "-c", "import gradland, torch; print(gradland.__file__, torch.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert all(path.startswith(str(fresh)) for path in where.split()), where
    assert sys.prefix not in where


def test_inserting_a_cell_changes_no_other_cells_id():
    cells = [
        nbformat.v4.new_markdown_cell("# A"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_markdown_cell("x = 1"),
    ]
    gradland_notebooks.cell_ids(cells)
    before = [cell["id"] for cell in cells]
    assert len(set(before)) == 4 and before[2] == before[1] + "-2"
    cells.insert(1, nbformat.v4.new_code_cell("y = 2"))
    gradland_notebooks.cell_ids(cells)
    assert [cell["id"] for cell in cells[:1] + cells[2:]] == before
    notebook = nbformat.v4.new_notebook(cells=cells)
    nbformat.validate(notebook)  # ids are valid nbformat 4.5 cell ids
