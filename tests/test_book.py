"""The strict build of the whole book, its budgets and the Sphinx glue."""

from __future__ import annotations

import os
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import gradland
import gradland_book
import pytest
from conftest import REPO, REUSE_BUILD, jupyter_book

CHAPTER_BUDGET_S = 60
CLEAN_BUILD_BUDGET_S = 600
NO_CHANGE_BUDGET_S = 30
MODULE_EDIT_BUDGET_S = 60


def execution_times(build) -> dict[str, float]:
    """Seconds each executed notebook took, from the execution cache."""
    from jupyter_cache import get_cache

    cache = get_cache(build.root / "_build" / ".jupyter_cache")
    return {Path(r.uri).name: r.data["execution_seconds"] for r in cache.list_cache_records()}


def test_build_is_clean(book):
    problems = re.findall(r"(?:WARNING|ERROR|CRITICAL): .*", book.output)
    assert not problems, "\n".join(problems)


def test_no_cell_writes_a_warning_or_an_error(book):
    """A warning printed by a cell (deprecation, beta feature, numerical trouble) ends up
    on the page and in the PDF; it must be dealt with in the chapter, not shown."""
    import json

    notebooks = sorted((book.root / "_build" / "jupyter_execute" / "book").glob("*.ipynb"))
    assert notebooks, "no executed notebooks found"
    problems = []
    for notebook in notebooks:
        for cell in json.loads(notebook.read_text())["cells"]:
            for output in cell.get("outputs", []):
                text = "".join(output.get("text", ""))
                if output.get("name") == "stderr" or output.get("output_type") == "error" or "Warning:" in text:
                    problems.append(f"{notebook.stem}: {(text or output.get('ename', ''))[:200]}")
    assert not problems, "\n".join(problems)


def test_no_markdown_footnotes():
    """_config.yml silences MyST's footnote warnings for {footcite}: keep that safe."""
    for chapter in REPO.glob("book/*.md"):
        assert not re.search(r"\[\^[\w-]+\]", chapter.read_text()), f"{chapter.name} has a Markdown footnote"


def test_every_chapter_is_executed_within_budget(book):
    times = execution_times(book)
    chapters = [p for p in REPO.glob("book/*.md") if "kernelspec" in p.read_text()[:400]]
    assert {p.name for p in chapters} <= set(times), "a chapter was not executed"
    slow = {name: t for name, t in times.items() if t > CHAPTER_BUDGET_S}
    assert not slow, f"chapters over {CHAPTER_BUDGET_S} s: {slow}"
    print("execution seconds:", times)


def test_clean_build_within_budget(book):
    if REUSE_BUILD:
        pytest.skip("make check-book tests the existing build; make test times a clean one")
    print(f"clean build: {book.seconds:.1f} s")
    assert book.seconds < CLEAN_BUILD_BUDGET_S


def test_rebuild_with_nothing_changed_is_fast_and_runs_nothing(book):
    again = jupyter_book(book.root)
    print(f"no-change rebuild: {again.seconds:.1f} s")
    assert again.returncode == 0, again.output[-5000:]
    assert "Executing" not in again.output
    assert again.seconds < NO_CHANGE_BUDGET_S


def test_version_of_the_package_is_shown(book):
    preface = (book.html / "book" / "preface.html").read_text()
    assert gradland.__version__ in preface


def test_site_is_self_contained(book):
    """No script, style sheet or font comes from another host."""
    for page in book.html.rglob("*.html"):
        text = page.read_text()
        remote = re.findall(r'<(?:script|link)[^>]*(?:src|href)="(https?://[^"]+)"', text)
        remote = [url for url in remote if not url.startswith("https://github.com")]
        assert not remote, f"{page.name} loads {remote}"
    assert (book.html / "_static" / "mathjax" / "tex-chtml.js").is_file()


@pytest.mark.book
def test_failing_cell_fails_the_build_naming_the_chapter(tmp_path):
    """A copy of the book with one broken cell must not build."""
    if REUSE_BUILD:
        pytest.skip("builds and executes a copy of the whole book (4 min): make test runs it")
    import shutil

    copy = tmp_path / "repo"
    shutil.copytree(REPO, copy, ignore=shutil.ignore_patterns("_build", ".venv", ".git"))
    (copy / "book" / "broken.md").write_text(
        "---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
        "kernelspec:\n  name: python3\n  display_name: Python 3\n---\n"
        "# Broken\n\n```{code-cell} ipython3\n1 / 0\n```\n"
    )
    toc = (copy / "_toc.yml").read_text()
    (copy / "_toc.yml").write_text(
        toc.replace("      - file: book/notation", "      - file: book/notation\n      - file: book/broken")
    )
    import subprocess

    from conftest import BIN

    done = subprocess.run(  # the copy's own gradland, in the build and in its kernels
        [str(BIN / "jupyter-book"), "build", str(copy), "-n", "-W", "--keep-going"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(copy / "code")},
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "broken" in output and "ZeroDivisionError" in output


def test_the_build_stops_when_gradland_is_another_checkouts(tmp_path):
    from sphinx.errors import ConfigError

    gradland_book.check_package_is_this_checkout()  # this checkout's, as installed
    other = tmp_path / "other" / "code" / "gradland" / "__init__.py"
    with pytest.raises(ConfigError) as error:
        gradland_book.check_package_is_this_checkout(str(other))
    assert str(other.parent) in str(error.value) and str(gradland_book.PACKAGE_DIR) in str(error.value)


# --- the Sphinx glue (book/_ext/gradland_book.py) ------------------------------


def test_macros_have_one_source_for_mathjax_and_latex():
    mathjax = gradland_book.mathjax_macros()
    latex = gradland_book.latex_macros()
    assert mathjax["bm"] == [r"\boldsymbol{#1}", 1]
    assert r"\renewcommand{\bm}[1]{\symbfit{#1}}" in latex  # unicode-math, not bm.sty
    # Captions write \boldsymbol: in the PDF it is the same bold italic as \bm.
    assert r"\renewcommand{\boldsymbol}[1]{\symbfit{#1}}" in latex
    assert "boldsymbol" not in mathjax  # MathJax has its own; a macro would call itself
    for name in gradland_book.MACROS:
        assert name in mathjax
        # \providecommand first: safe with the names jupyterBook.cls defines.
        assert rf"\providecommand{{\{name}}}{{}}" in latex


def test_latex_structure_matches_the_html_numbering():
    tex = (
        "\\begin{document}\n\\sphinxtableofcontents\n"
        "\\phantomsection\\label{\\detokenize{book/preface::doc}}\nHello\n"
        "\\part{Front matter}\n\\chapter{Notation}\n"
        "\\part{Part I: A differentiable wonderland}\n\\chapter{Linear algebra}\n"
        "\\section{References}\n\\label{\\detokenize{book/linear-algebra:references}}\n\\sphinxstepscope\n"
        "\\part{Back matter}\n\\chapter{Glossary}\n"
        "\\chapter{Bibliography}\n\\label{\\detokenize{book/bibliography:bibliography}}"
        "\\label{\\detokenize{book/bibliography::doc}}\n\\sphinxstepscope\n\\end{document}\n"
    )
    out = gradland_book.structure_latex(tex, "Preface")
    assert "\\part{A differentiable wonderland}" in out
    assert "Front matter" not in out and "Back matter" not in out
    assert "\\chapter{Bibliography}" not in out
    off, on = "\\setcounter{secnumdepth}{-2}", "\\setcounter{secnumdepth}{\\value{gradlandsecnumdepth}}"
    # numbering is off for the preface and notation, on for Part I, off again after
    assert out.index(off) < out.index("\\chapter{Preface}") < out.index(on)
    assert out.index(on) < out.index("\\chapter{Linear algebra}") < out.rindex(off)
    assert out.rindex(off) < out.index("\\chapter{Glossary}")
    # the back matter hangs from the root of the bookmarks, not from Part I
    assert (
        out.index("\\chapter{Linear algebra}")
        < out.rindex("\\bookmarksetup{startatroot}")
        < out.index("\\chapter{Glossary}")
    )
    # the empty References section goes, its label stays for links
    assert "\\section{References}" not in out
    assert "\\label{\\detokenize{book/linear-algebra:references}}" in out


def test_a_chapter_depends_on_the_modules_it_imports_transitively(tmp_path, monkeypatch):
    package = tmp_path / "code" / "gradland"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from gradland._device import device\n")
    (package / "_device.py").write_text("DEVICE = 'cpu'\n")
    (package / "a.py").write_text("from .b import f\n")
    (package / "b.py").write_text("def f():\n    return open('words.txt')\n")
    (package / "c.py").write_text("import torch\n")
    (package / "words.txt").write_text("one two\n")
    monkeypatch.setattr(gradland_book, "PACKAGE_DIR", package)
    modules = gradland_book.imported_modules
    assert modules("from gradland import a, plot_nothing\nimport gradland.c") == {"a", "c"}
    assert modules("import gradland\n%timeit gradland.b.f()\ny = gradland.device") == {"b"}
    assert modules("from gradland.c import x\nfrom gradland import b as bee") == {"b", "c"}
    assert modules("from . import c\nfrom .a import f", module="b") == {"a", "c"}
    assert gradland_book.module_closure({"a"}) == ["__init__", "_device", "a", "b"]

    chapter = tmp_path / "one.md"
    chapter.write_text(
        "---\nkernelspec:\n  name: python3\n---\n# One\n\n"
        "```{code-cell}\n:tags: [hide-input]\n:caption: a\n:  long caption\n"
        "from gradland import a\n```\n\nProse: from gradland import c\n\n"
        "```{code-cell}\n---\ntags: [x]\n---\nimport gradland\n```\n"
    )
    assert gradland_book.chapter_code(chapter) == "from gradland import a\n\nimport gradland\n"
    page = tmp_path / "page.md"
    page.write_text("# A page without a kernel\n")
    assert gradland_book.chapter_code(page) is None

    key = gradland_book.chapter_key(chapter, full=False)
    assert gradland_book.chapter_key(chapter, full=False) == key
    (package / "c.py").write_text("import torch  # a module the chapter does not import\n")
    assert gradland_book.chapter_key(chapter, full=False) == key
    for path, edit in [
        (package / "b.py", "# a comment\n"),
        (package / "words.txt", "three\n"),
        (package / "_device.py", "# imported by __init__\n"),
    ]:
        path.write_text(path.read_text() + edit)
        assert gradland_book.chapter_key(chapter, full=False) != key, path.name
        key = gradland_book.chapter_key(chapter, full=False)
    assert gradland_book.chapter_key(chapter, full=True) != key  # GRADLAND_FULL gives other numbers


def test_only_the_chapters_whose_modules_changed_run_again(tmp_path, monkeypatch):
    """The execution cache keeps the records of the other chapters, and Sphinx re-reads
    only the changed ones, once; the student edition, which shares the cache, too."""
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    keys = {"book/a": "1", "book/b": "1"}
    monkeypatch.setattr(gradland_book, "chapter_keys", lambda: dict(keys))
    monkeypatch.setattr(gradland_book, "REPO_ROOT", tmp_path)
    cache = tmp_path / "_build" / ".jupyter_cache"
    store = get_cache(str(cache))

    def execute(*names: str) -> None:
        for name in names:
            notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"x = '{name}'")])
            notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
            store.cache_notebook_bundle(
                CacheBundleIn(notebook, str(tmp_path / "book" / f"{name}.md")), check_validity=False, overwrite=True
            )

    def build(doctrees: str = ".doctrees") -> list[str]:
        app = SimpleNamespace(
            doctreedir=str(tmp_path / "_build" / doctrees),
            outdir=str(tmp_path / "_build" / "html"),
            config=SimpleNamespace(nb_execution_cache_path=""),
        )
        gradland_book.invalidate_changed_chapters(app)
        env = SimpleNamespace(found_docs={"book/a", "book/b", "book/notation"})
        return gradland_book.outdated_notebooks(app, env, set(), set(), set())

    def cached() -> list[str]:
        return sorted(Path(record.uri).stem for record in store.list_cache_records())

    execute("a", "b")
    assert build() == ["book/a", "book/b"]  # the first build reads every chapter, and
    assert cached() == []  # forgets executions made without a record of keys
    execute("a", "b")
    assert build() == [] and cached() == ["a", "b"]
    keys["book/b"] = "2"
    assert build() == ["book/b"] and cached() == ["a"]
    execute("b")
    assert build() == [] and cached() == ["a", "b"]
    assert build("student") == ["book/a", "book/b"]  # its own first build, from the shared cache
    assert cached() == ["a", "b"]
    keys["book/a"] = "2"
    assert build("student") == ["book/a"] and cached() == ["b"]
    assert build() == ["book/a"]


def test_editing_a_module_reexecutes_only_its_chapters_within_budget(book):
    """The contributor's loop: a comment added to ``gradland/gcn.py`` re-runs Chapter 13
    (graph networks), the one chapter that imports it, and no other."""
    if REUSE_BUILD:
        pytest.skip("edits the package and rebuilds twice (90 s): make test runs it")
    module = REPO / "code" / "gradland" / "gcn.py"
    source = module.read_text()
    try:
        module.write_text(source + "# an edit\n")
        edited = jupyter_book(book.root)
    finally:
        module.write_text(source)
    restored = jupyter_book(book.root)
    for build in (edited, restored):
        assert build.returncode == 0, build.output[-5000:]
        print(f"rebuild after editing gcn.py: {build.seconds:.1f} s")
        executed = re.findall(r"(\S+\.md): Executing notebook", build.output)
        assert [Path(path).name for path in executed] == ["graph-networks.md"], build.output[-5000:]
        assert build.seconds < MODULE_EDIT_BUDGET_S
    assert (
        gradland_book.chapter_keys()["book/graph-networks"]
        in (book.root / "_build" / ".jupyter_cache" / gradland_book.MODULE_KEYS).read_text()
    )
    # the search still knows the index entries of the pages that were not rewritten
    import json

    text = (book.html / "searchindex.js").read_text()
    index = json.loads(text[text.index("(") + 1 : text.rindex(")")])
    with_entries = {index["docnames"][place[0]] for places in index["indexentries"].values() for place in places}
    chapters = {f"book/{path.stem}" for path in (REPO / "book").glob("*.md") if "kernelspec" in path.read_text()[:400]}
    assert chapters <= with_entries, sorted(chapters - with_entries)


LITERALINCLUDE = re.compile(r"```\{literalinclude\} \.\./code/gradland/(\w+)\.py\n(.*?)```", re.S)


def _literalinclude_options(options: str) -> dict[str, str]:
    """The options of a ``literalinclude``: ``:key: value`` lines, or a YAML block between
    ``---`` lines (where ``prepend`` may span lines), as MyST reads them."""
    import yaml

    block = re.match(r"---\n(.*?)^---$", options, re.M | re.S)
    if block:
        return {key: str(value) for key, value in (yaml.safe_load(block.group(1)) or {}).items()}
    return {
        key: yaml.safe_load(value) if value[:1] in "'\"" else value
        for key, value in re.findall(r"^:([\w-]+):[ \t]*(.*)$", options, re.M)
    }


def _signature(source: str) -> str:
    """``name(args)`` of the first function in ``source``, without annotations; the
    ``def`` line may span lines and end in a comment, as a typed signature does."""
    import ast

    node = next(n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef))
    for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs, node.args.vararg, node.args.kwarg]:
        if arg is not None:
            arg.annotation = None
    return f"{node.name}({ast.unparse(node.args)})"


def test_signatures_typed_above_included_code_match_the_code():
    """A listing that leaves out a docstring types the signature by hand (``:prepend:``);
    that line must stay the signature of the code it stands for."""
    import importlib
    import inspect
    import textwrap

    checked = 0
    for chapter in sorted((REPO / "book").glob("*.md")):
        for module, options in LITERALINCLUDE.findall(chapter.read_text()):
            option = _literalinclude_options(options)
            pyobject, prepend = option.get("pyobject"), option.get("prepend", "")
            if not (pyobject and prepend.startswith("def ")):
                continue
            obj = importlib.import_module(f"gradland.{module}")
            for part in pyobject.split("."):
                obj = getattr(obj, part)
            actual = _signature(textwrap.dedent(inspect.getsource(obj)))
            typed = _signature(prepend + "\n    pass")
            assert typed == actual, f"{chapter.name}: {pyobject} is {actual}, the text says {typed}"
            checked += 1
    assert checked >= 4  # Chapter 1 has four such listings


def test_spinning_surface_is_an_offline_animation_in_the_html(book):
    page = (book.html / "book" / "free-energy.html").read_text()
    start = page.index('id="fig-fe-spin"')
    figure = page[start : page.index("</figure>", start)]
    assert "new Animation(" in figure
    assert figure.count("data:image/jpeg;base64") >= 24, "the animation should embed its frames"
    assert not re.search(r'(?:src|href)="https?://', figure), "the animation loads something from the network"
    assert len(page.encode()) < 3_000_000, f"free-energy.html is {len(page.encode())} bytes"


def test_no_line_of_inline_math_starts_like_a_list_item():
    """Inside $...$ that spans lines, a line that begins with "- " or "+ " is read
    by Markdown as a new list item, and the math is left as raw TeX on the page."""
    problems = []
    for chapter in sorted(REPO.glob("book/*.md")):
        lines = chapter.read_text().split("\n")
        for number, line in enumerate(lines, start=1):
            if not line.lstrip().startswith(("- ", "+ ")):
                continue
            paragraph = []
            for previous in reversed(lines[: number - 1]):
                if not previous.strip():
                    break
                paragraph.append(previous)
            if "".join(paragraph).replace("$$", "").count("$") % 2 == 1:
                problems.append(f"{chapter.name}:{number}: {line.strip()[:60]}")
    assert not problems, "\n".join(problems)


def indexed_terms(chapter: Path) -> list[str]:
    """The terms of the ``{index} single:`` directives of a chapter."""
    return re.findall(r"^```\{index\} single: (.+?)\s*$", chapter.read_text(encoding="utf-8"), re.M)


def glossary_terms() -> set[str]:
    """The terms defined in the Glossary, in lower case."""
    text = (REPO / "book" / "glossary.md").read_text(encoding="utf-8")
    body = text.split("```{glossary}", 1)[1].rsplit("```", 1)[0]
    return {
        line.strip().lower()
        for line in body.splitlines()
        if line and not line[0].isspace() and not line.startswith(":")
    }


def has_glossary_entry(term: str, glossary: set[str]) -> bool:
    """Whether the index term ``main; sub`` has an entry: under its whole name, its
    main word, the sub-entry, or the two read together in either order."""
    parts = [p.strip().lower() for p in term.split(";")]
    names = {term.lower(), parts[0], parts[-1], " ".join(parts), " ".join(reversed(parts))}
    names |= {n.replace("-", "–") for n in names}
    return bool(names & glossary)


def test_every_term_indexed_in_part_iii_has_a_glossary_entry():
    import yaml

    toc = yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf-8"))
    [part] = [p for p in toc["parts"] if p["caption"].startswith("Part III")]
    glossary = glossary_terms()
    missing = [
        f"{entry['file']}: {term}"
        for entry in part["chapters"]
        for term in indexed_terms(REPO / (entry["file"] + ".md"))
        if not has_glossary_entry(term, glossary)
    ]
    assert not missing, "indexed terms without a glossary entry:\n" + "\n".join(missing)


class _CellInputs(HTMLParser):
    """The text of every code cell's source on a page, folded or not."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # > 0 inside a div.cell_input
        self.cells: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag != "div":
            return
        if self.depth:
            self.depth += 1
        elif "cell_input" in (dict(attrs).get("class") or "").split():
            self.depth = 1
            self.cells.append("")

    def handle_endtag(self, tag) -> None:
        if tag == "div" and self.depth:
            self.depth -= 1

    def handle_data(self, data) -> None:
        if self.depth:
            self.cells[-1] += data


def test_no_glue_or_claim_in_the_code_a_reader_sees(book):
    """glue(...) and claim(...) feed the prose; they live in cells the page leaves out."""
    shown = 0
    for page in sorted((book.html / "book").glob("*.html")):
        parser = _CellInputs()
        parser.feed(page.read_text())
        shown += len(parser.cells)
        for cell in parser.cells:
            assert not re.search(r"\b(glue|claim)\(", cell), f"{page.name} shows:\n{cell}"
    assert shown > 150  # the pages do show their code


CODE_CELL = re.compile(r"^(`{3,})\{code-cell\}[^\n]*\n(.*?)^\1$", re.S | re.M)


def test_figure_code_is_folded_never_removed():
    """A figure's code is on the page, folded under "Show code cell source"; only the
    animation's embedding (HTML for the web, a still for the PDF) is left out."""
    removed, folded = [], 0
    for path in sorted((REPO / "book").glob("*.md")):
        for match in CODE_CELL.finditer(path.read_text()):
            body = match.group(2)
            if ":  figure:" not in body:
                continue
            if "remove-input" in body or "remove-cell" in body:
                removed += re.findall(r":    name: (\S+)", body)
            folded += "hide-input" in body
    assert removed == ["fig-fe-spin"]
    assert folded >= 40


def _plain_lines(code: str) -> set[str]:
    """Lines of code that pdftotext gives back verbatim: ASCII, no quotes, long enough to be unique."""
    return {
        line.strip()
        for line in code.splitlines()
        if len(line.strip()) >= 30 and line.isascii() and not re.search(r"['\"`\\#:]", line)
    }


def test_folded_code_is_left_out_of_the_pdf(pdf):
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    text = " ".join(text.split())
    folded, shown, shown_code = set(), set(), ""
    for path in sorted((REPO / "book").glob("*.md")):
        for match in CODE_CELL.finditer(path.read_text()):
            body = match.group(2)
            if "remove-" in body:
                continue
            if "hide-input" in body:
                folded |= _plain_lines(body)
            else:
                shown |= _plain_lines(body)
                shown_code += body
    # a folded line that a shown cell also prints says nothing
    folded = {line for line in folded if line not in shown_code}
    assert len(folded) > 100 and len(shown) > 100
    printed = {line for line in folded if " ".join(line.split()) in text}
    assert not printed, sorted(printed)[:5]
    assert sum(" ".join(line.split()) in text for line in shown) > len(shown) / 2  # the check can see code


def test_shown_code_is_at_most_88_columns():
    long = []
    for path in sorted((REPO / "book").glob("*.md")):
        for match in CODE_CELL.finditer(path.read_text()):
            body = match.group(2)
            if "remove-cell" in body:
                continue
            long += [
                f"{path.name}: {line}" for line in body.splitlines() if len(line) > 88 and not line.startswith(":")
            ]
    assert not long, long


def test_every_exercise_is_marked_with_its_difficulty_and_kind():
    marks = re.compile(r"(easy|medium|hard), (pen and paper|code|pen and paper and code)")
    exercises = [
        (path.name, title.strip())
        for path in sorted((REPO / "book").glob("*.md"))
        for title in re.findall(r"^`{3,}\{exercise\}(.*)$", path.read_text(), re.M)
    ]
    assert len(exercises) >= 80
    unmarked = [item for item in exercises if not marks.fullmatch(item[1])]
    assert not unmarked, unmarked


def test_the_map_of_the_book_covers_the_numbered_chapters_in_order():
    import yaml
    from gradland_map import BUILDS_ON, COURSES

    toc = yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf-8"))
    numbered = [
        entry["file"].removeprefix("book/")
        for part in toc["parts"]
        if part.get("numbered")
        for entry in part["chapters"]
    ]
    assert list(BUILDS_ON) == numbered
    for chapter, needs in BUILDS_ON.items():
        assert all(numbered.index(need) < numbered.index(chapter) for need in needs), chapter
    for _, _, path in COURSES:
        assert all(chapter in BUILDS_ON for chapter in path)
        assert all(numbered.index(a) < numbered.index(b) for a, b in zip(path, path[1:]))
        for chapter in path:  # a course path takes what a chapter builds on with it
            assert all(need in path[: path.index(chapter)] for need in BUILDS_ON[chapter]), (path, chapter)


def test_every_chapter_opens_with_its_time_and_place(book):
    from gradland_map import BUILDS_ON

    for stem in BUILDS_ON:
        html = (book.html / "book" / f"{stem}.html").read_text()
        card = re.search(
            r'<p class="chapter-card"><em>About (\d+) minutes of reading; the code ran in '
            r"(\d+ s|\d+ min) when this book was built\. </em>Builds on",
            html,
        )
        assert card and 5 <= int(card.group(1)) <= 90, stem
    preface = (book.html / "book" / "preface.html").read_text()
    assert preface.count('<table class="book-map') == 1


def test_the_student_edition_has_every_exercise_and_no_solution(book, student):
    assert "Executing notebook" not in student.output  # nothing ran twice
    for page in sorted((book.html / "book").glob("*.html")):
        full = page.read_text()
        mine = (student.html / "book" / page.name).read_text()
        exercises = re.findall(r'<span class="caption-number">Exercise (\d+\.\d+) </span>', full)
        assert re.findall(r'<span class="caption-number">Exercise (\d+\.\d+) </span>', mine) == exercises
        assert ('class="solution' in full) == bool(exercises), page.name
        assert 'class="solution' not in mine, page.name
        assert "student edition (no solutions)" in mine and "student edition (no solutions)" not in full
    preface = (student.html / "book" / "preface.html").read_text()
    assert "This is the <em>student edition</em>" in preface and "folded away under each" not in preface


def test_version_and_build_date_in_the_footer(book):
    html = (book.html / "book" / "free-energy.html").read_text()
    assert re.search(rf"Gradland {re.escape(gradland.__version__)}, built \d{{4}}-\d{{2}}-\d{{2}}\.", html)


NUMBERING = REPO / "tests" / "recorded" / "numbering.json"


def numbering(site: Path) -> dict[str, str]:
    """label -> number of every chapter, section, equation, statement, figure and exercise."""
    numbers: dict[str, str] = {}
    for page in sorted((site / "book").glob("*.html")):
        html = page.read_text()
        stem = page.stem
        for anchor, number in re.findall(
            r'<section[^>]* id="([^"]+)">\s*<h[1-6]><span class="section-number">(\d+(?:\.\d+)*)\. ', html
        ):
            numbers[f"{stem}#{anchor}"] = number
        for anchor, number in re.findall(
            r'id="([^"]+)">\s*(?:<span id="[^"]*"></span>)?\s*<p class="admonition-title">'
            r'<span class="caption-number">([A-Z][a-z]+ \d+\.\d+) </span>',
            html,
        ):
            numbers[f"{stem}#{anchor}"] = number
        for anchor, number in re.findall(
            r'<figure class="[^"]*" id="(fig-[^"]+)">.*?<span class="caption-number">'
            r"(Fig\. \d+\.\d+) </span>",
            html,
            re.S,
        ):
            numbers[f"{stem}#{anchor}"] = number
        for anchor, number in re.findall(r'id="(equation-[^"]+)">\s*<span class="eqno">\(([\d.]+)\)', html):
            numbers[f"{stem}#{anchor}"] = number
    return numbers


def test_numbers_change_only_with_a_new_version_and_an_editions_entry(book):
    """A course cites "Eq. (8.3), version 0.1.0": within a version the numbers stay put.

    After a change that renumbers, bump ``gradland.__version__``, add its section to
    ``book/editions.md`` and record the new numbers with
    ``GRADLAND_RECORD_NUMBERING=1 make test``.
    """
    import json
    import os

    current = numbering(book.html)
    kinds = {re.sub(r"[\d. ]", "", number) for number in current.values()}
    assert len(current) > 500 and {"", "Definition", "Exercise", "Fig"} <= kinds, kinds
    if os.environ.get("GRADLAND_RECORD_NUMBERING"):
        NUMBERING.write_text(
            json.dumps({"version": gradland.__version__, "numbers": current}, indent=0, sort_keys=True) + "\n"
        )
    recorded = json.loads(NUMBERING.read_text())
    editions = (REPO / "book" / "editions.md").read_text()
    assert re.search(rf"^## {re.escape(gradland.__version__)}\b", editions, re.M), (
        f"book/editions.md has no section for version {gradland.__version__}"
    )
    changed = sorted(
        label
        for label in recorded["numbers"].keys() | current.keys()
        if recorded["numbers"].get(label) != current.get(label)
    )
    assert recorded["version"] == gradland.__version__ and not changed, (
        f"numbers changed under version {recorded['version']}: {changed[:10]} ... "
        "bump the version, add an entry to book/editions.md and record with GRADLAND_RECORD_NUMBERING=1"
    )
