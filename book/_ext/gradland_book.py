"""Sphinx glue that makes one book out of the chapters, for HTML and PDF alike.

What this extension does, each in one function below:

* stops when ``import gradland`` finds another checkout's package, and keeps
  the kernels' TCP warning out of the build's output;
* defines the book's TeX macros once, for MathJax (HTML) and LaTeX (PDF);
* serves MathJax 3 from the site itself, so the book works offline;
* re-executes a chapter when a module of ``gradland`` that it imports
  changes, or the full-size switch ``GRADLAND_FULL`` flips (the execution
  cache only hashes cell source), and only that chapter;
* shows the package version and the build date in the book, and builds the
  student edition (no solutions) when ``GRADLAND_EDITION=student``;
* leaves Thebe out of the pages (chapters run on Binder or Colab);
* points the Colab, Binder and download buttons at the chapter's notebook and the PDF
  button at the PDF of the whole book;
* leaves the folded plotting code out of the PDF;
* keeps the API out of the general index (it has the module index);
* gives the PDF the structure of the HTML book: the Preface and the front
  and back matter are unnumbered chapters, so that Chapter 1 is Chapter 1
  in both.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import sys
from pathlib import Path

import yaml
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ConfigError
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = REPO_ROOT / "code" / "gradland"

#: File name of the PDF of the whole book, at the root of the HTML site.
PDF_NAME = "gradland.pdf"

#: The repository's address, set once in ``_config.yml`` (``repository: url``).
REPOSITORY = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")

#: The branch of that repository to which CI publishes the chapters' notebooks
#: (``_notebooks/`` of the site, see gradland_notebooks.py): Colab and Binder open them there.
NOTEBOOK_BRANCH = "notebooks"

# name -> (number of arguments, MathJax body, LaTeX body). One source for both.
MACROS: dict[str, tuple[int, str, str]] = {
    "bm": (1, r"\boldsymbol{#1}", r"\symbfit{#1}"),
    "R": (0, r"\mathbb{R}", r"\mathbb{R}"),
    "N": (0, r"\mathbb{N}", r"\mathbb{N}"),
    "Z": (0, r"\mathbb{Z}", r"\mathbb{Z}"),
    "E": (0, r"\mathbb{E}", r"\mathbb{E}"),
    "Id": (0, r"\mathbb{I}", r"\mathbb{I}"),
    "dd": (0, r"\mathrm{d}", r"\mathrm{d}"),
    "argmin": (0, r"\operatorname*{argmin}", r"\operatorname*{argmin}"),
    "argmax": (0, r"\operatorname*{argmax}", r"\operatorname*{argmax}"),
    "softargmax": (0, r"\operatorname{softargmax}", r"\operatorname{softargmax}"),
    "softargmin": (0, r"\operatorname{softargmin}", r"\operatorname{softargmin}"),
    "softmin": (0, r"\operatorname{softmin}", r"\operatorname{softmin}"),
    "diag": (0, r"\operatorname{diag}", r"\operatorname{diag}"),
}


# LaTeX only: MathJax has these itself. amsmath's \boldsymbol picks a bold
# font that unicode-math does not provide, and leaves a caption's symbols in
# the plain italic; it is the bold italic of \bm, as in MathJax.
LATEX_ONLY: dict[str, tuple[int, str, str]] = {
    "boldsymbol": (1, "", r"\symbfit{#1}"),
}


def mathjax_macros() -> dict[str, object]:
    """The macros in the form MathJax 3 reads from ``tex.macros``."""
    return {name: body if nargs == 0 else [body, nargs] for name, (nargs, body, _) in MACROS.items()}


def latex_macros() -> str:
    r"""The macros as LaTeX definitions.

    ``\providecommand`` then ``\renewcommand`` defines a name whether or not
    the document class (``jupyterBook.cls`` defines ``\argmin``) or the
    kernel (``\dd``) already has it.
    """
    lines = ["% gradland macros (book/_ext/gradland_book.py)"]
    for name, (nargs, _, body) in {**MACROS, **LATEX_ONLY}.items():
        args = f"[{nargs}]" if nargs else ""
        lines.append(rf"\providecommand{{\{name}}}{{}}")
        lines.append(rf"\renewcommand{{\{name}}}{args}{{{body}}}")
    return "\n".join(lines) + "\n"


#: Where the execution records of the chapters' keys are kept, next to what they key.
MODULE_KEYS = "gradland-modules.json"


def imported_modules(source: str, module: str | None = None) -> set[str]:
    """The modules of ``gradland`` that Python ``source`` imports or names, by file stem.

    ``module`` is the stem of the package module that ``source`` is (``None`` for a
    chapter's code), to resolve its relative imports. Reads ``import gradland.x``,
    ``from gradland import x`` (when ``x`` is a module), ``from gradland.x import ...``,
    ``from .x import ...`` and ``gradland.x`` used as an attribute, also in the
    argument of an IPython magic (``%timeit``).

    >>> sorted(imported_modules("from gradland import gcn, plot\\nfrom gradland.claims import glue"))
    ['claims', 'gcn', 'plot']
    >>> sorted(imported_modules("import gradland\\nx = gradland.data.digits()"))
    ['data']
    """
    import ast

    modules = {path.stem for path in PACKAGE_DIR.glob("*.py")}

    def python(line: str) -> str:
        if line.lstrip().startswith("!"):  # a shell command
            return ""
        if line.lstrip().startswith("%"):  # a magic: its argument is Python (%timeit f(x))
            return line.lstrip().partition(" ")[2]
        return line

    try:
        tree = ast.parse("\n".join(python(line) for line in source.splitlines()))
    except SyntaxError:  # cannot tell: depend on every module (the build reports the error)
        return modules - {module}
    found: set[str] = set()

    def add(dotted: str | None) -> None:
        parts = (dotted or "").split(".")
        if parts[0] == "gradland" and len(parts) > 1 and parts[1] in modules:
            found.add(parts[1])

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative, inside the package
                base = "gradland" + ("." + base if base else "")
            add(base)
            if base == "gradland":
                for alias in node.names:
                    add(f"gradland.{alias.name}")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "gradland":
            add(f"gradland.{node.attr}")
    found.discard(module)
    return found


#: A code cell of a MyST Markdown chapter, and the options that may open it.
CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
CELL_OPTIONS = re.compile(r"\A(?:---\n.*?\n---\n|(?::[^\n]*\n)+)", re.S)


def chapter_code(path: Path) -> str | None:
    """The source of the code cells of a MyST Markdown chapter, one after the
    other, or ``None`` for a page without a kernel (nothing executes)."""
    text = path.read_text()
    front = re.match(r"\A---\n(.*?)\n---\n", text, re.S)
    if not front or "kernelspec:" not in front.group(1):
        return None
    return "\n".join(CELL_OPTIONS.sub("", cell) for cell in CODE_CELL.findall(text))


def module_closure(start: set[str]) -> list[str]:
    """``start`` and every module of ``gradland`` it imports, transitively, with
    ``__init__`` (which every import of the package runs), sorted."""
    seen: set[str] = set()
    todo = set(start) | {"__init__"}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo |= imported_modules((PACKAGE_DIR / f"{name}.py").read_text(), module=name) - seen
    return sorted(seen)


def chapter_key(path: Path, full: bool) -> str:
    """SHA-256 of what a chapter's outputs depend on besides its cells.

    The sources of the ``gradland`` modules it imports, transitively, the package
    data files that those modules name (Chapter 14's ``corpus.txt``), and the
    full-size switch ``GRADLAND_FULL``. The execution cache itself hashes only
    the cells.
    """
    data = sorted(path for path in PACKAGE_DIR.iterdir() if path.is_file() and path.suffix not in {".py", ".pyc"})
    digest = hashlib.sha256(f"full_size={full}".encode())
    for name in module_closure(imported_modules(chapter_code(path) or "")):
        source = (PACKAGE_DIR / f"{name}.py").read_bytes()
        digest.update(f"\0{name}.py\0".encode() + source)
        for extra in data:
            if extra.name.encode() in source:
                digest.update(f"\0{extra.name}\0".encode() + extra.read_bytes())
    return digest.hexdigest()


def mathjax_dir() -> Path:
    """The ES5 build of MathJax 3 installed by the ``django-static-mathjax`` wheel."""
    import mathjax  # the module of django-static-mathjax

    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


#: ``GRADLAND_EDITION=student`` builds the edition without solutions (``make student``).
EDITION_VARIABLE = "GRADLAND_EDITION"


def edition() -> str:
    """``"student"`` (no solutions) or ``"full"``, from the environment."""
    value = os.environ.get(EDITION_VARIABLE, "full").strip().lower() or "full"
    if value not in {"full", "student"}:
        raise ValueError(f"{EDITION_VARIABLE} must be 'full' or 'student', not {value!r}")
    return value


def check_package_is_this_checkout(package_file: str | None = None) -> None:
    """Stop the build when ``import gradland`` finds another copy of the package.

    A virtual environment made in another checkout has that checkout's
    ``gradland`` installed: the chapters would run its code, not this one's.
    """
    import gradland

    found = Path(package_file or gradland.__file__).resolve().parent
    if found != PACKAGE_DIR.resolve():
        raise ConfigError(
            f"the gradland that Python imports is {found}, not this book's {PACKAGE_DIR}; "
            f"the environment ({sys.prefix}) was set up for another checkout. "
            "Install this one into it (pip install -e .) or use a virtual environment of its own "
            "(make book VENV=.venv)."
        )


def silence_kernel_transport_warning(app: Sphinx) -> None:
    """``builder-inited``: the kernels that execute the chapters do not warn about TCP.

    Each kernel says at start that it talks to the build over TCP without
    encryption: it listens on the local machine only, for the build that
    started it. The kernels read their IPython configuration from a folder of
    the build, which sets that logger to errors only (and keeps the reader's
    own IPython profile, its start-up files, out of the book).
    """
    ipython = Path(app.doctreedir).parent / ".ipython"
    config = ipython / "profile_default" / "ipython_kernel_config.py"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        "# written by book/_ext/gradland_book.py for the kernels of the build\nc.IPKernelApp.log_level = 'ERROR'\n"
    )
    os.environ["IPYTHONDIR"] = str(ipython)


def configure(app: Sphinx, config) -> None:
    """``config-inited``: macros, local MathJax, the version, the build date and the edition."""
    import gradland
    from sphinx.util.i18n import format_date

    check_package_is_this_checkout()

    config.version = config.release = gradland.__version__
    built = format_date("%Y-%m-%d", language=config.language)  # honours SOURCE_DATE_EPOCH
    config.today = built
    config.myst_substitutions = {**config.myst_substitutions, "version": gradland.__version__, "built": built}
    student = edition() == "student"
    if student:
        # no solutions in the site or the PDF; the sentences about them use {only}
        config.hide_solutions = True
        app.tags.add("student")
        shared_cache = os.environ.get("GRADLAND_EXECUTION_CACHE")
        if shared_cache:  # the full edition's executed chapters: nothing runs twice
            config.nb_execution_cache_path = shared_cache
    theme = dict(config.html_theme_options or {})
    theme["extra_footer"] = (
        f"Gradland {gradland.__version__}, built {built}"
        + (", student edition (no solutions)" if student else "")
        + ". "
        + theme.get("extra_footer", "")
    )
    config.html_theme_options = theme

    mj = dict(config.mathjax3_config or {})
    tex = dict(mj.get("tex", {}))
    tex["macros"] = {**tex.get("macros", {}), **mathjax_macros()}
    mj["tex"] = tex
    config.mathjax3_config = mj
    config.mathjax_path = "mathjax/tex-chtml.js"

    elements = dict(config.latex_elements or {})
    elements["preamble"] = latex_macros() + "\\usepackage{bookmark}\n" + elements.get("preamble", "")
    config.latex_elements = elements


def chapter_keys() -> dict[str, str]:
    """Docname -> :func:`chapter_key` of every chapter with a kernel (one that executes)."""
    from gradland import full_size

    full = full_size()
    return {
        f"book/{path.stem}": chapter_key(path, full)
        for path in sorted((REPO_ROOT / "book").glob("*.md"))
        if chapter_code(path) is not None
    }


def stale(stamp: Path, keys: dict[str, str]) -> set[str]:
    """The docnames whose key differs from the one recorded in ``stamp`` (a JSON
    file, missing before the first build), which then records ``keys``."""
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        recorded = {}
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps(keys, indent=1, sort_keys=True) + "\n")
    return {docname for docname, key in keys.items() if recorded.get(docname) != key}


def execution_cache(app: Sphinx) -> Path:
    """MyST-NB's execution cache (jupyter-cache) of this build."""
    return Path(app.config.nb_execution_cache_path or Path(app.outdir).parent / ".jupyter_cache")


def invalidate_changed_chapters(app: Sphinx) -> None:
    """``builder-inited``: forget the executions of the chapters whose modules changed.

    A chapter's outputs depend on its cells, which the execution cache hashes,
    and on the modules of ``gradland`` that it imports, which it does not: a
    chapter whose :func:`chapter_key` changed loses its cached executions, so
    that it runs again, and no other. Two records of the keys: one beside the
    cache (which the student edition shares), one beside Sphinx's environment,
    for :func:`outdated_notebooks`.
    """
    keys = chapter_keys()
    cache = execution_cache(app)
    dropped = stale(cache / MODULE_KEYS, keys)
    if dropped and (cache / "global.db").exists():
        from jupyter_cache import get_cache

        uris = {str(REPO_ROOT / f"{docname}.md") for docname in dropped}
        store = get_cache(str(cache))
        for record in store.list_cache_records():
            if record.uri in uris:
                store.remove_cache(record.pk)
    app.gradland_stale_chapters = stale(Path(app.doctreedir) / MODULE_KEYS, keys)
    if app.gradland_stale_chapters:
        LOGGER.info(
            "gradland: the modules of %s changed since the last build", ", ".join(sorted(app.gradland_stale_chapters))
        )


def outdated_notebooks(app: Sphinx, env, added, changed, removed) -> list[str]:
    """``env-get-outdated``: the chapters whose modules changed are read (and run) again."""
    return sorted(set(getattr(app, "gradland_stale_chapters", ())) & set(env.found_docs))


def copy_mathjax(app: Sphinx, exception) -> None:
    """``build-finished``: copy MathJax into the site (no CDN)."""
    if exception is not None or app.builder.format != "html":
        return
    skip = shutil.ignore_patterns("sre", "*-full*", "mml-*", "tex-svg*", "svg")
    shutil.copytree(
        mathjax_dir(),
        Path(app.outdir) / "_static" / "mathjax",
        ignore=skip,
        dirs_exist_ok=True,
    )


def can_build_pdf() -> bool:
    """Whether TeX Live is here, so that ``make book`` builds the PDF too."""
    return bool(shutil.which("xelatex") and shutil.which("latexmk"))


def rewrite_buttons(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """``html-page-context``: Colab, Binder and the download open the chapter's notebook.

    The notebook is the one written for the site (``_notebooks/``), which CI also
    publishes on the branch ``NOTEBOOK_BRANCH``, where Colab and Binder find it.
    Those are the full edition's: the student edition, which an instructor hosts,
    offers its own notebooks (without solutions) for download and no launch button.
    The PDF button downloads the whole book; without TeX Live there is no PDF,
    and no button that would lead nowhere.
    """
    from gradland_notebooks import NOTEBOOKS

    pdf = can_build_pdf()
    stem = Path(pagename).name
    github = REPOSITORY.removeprefix("https://github.com/")
    if edition() == "student":
        context["header_buttons"] = [
            button for button in context.get("header_buttons", []) if button.get("label") != "launch-buttons"
        ]
    for button in context.get("header_buttons", []):
        if not pdf:
            button["buttons"] = [
                item for item in button.get("buttons", []) if item.get("label") != "download-pdf-button"
            ]
        for item in button.get("buttons", []):
            if item.get("text") == "Colab":
                item["url"] = f"https://colab.research.google.com/github/{github}/blob/{NOTEBOOK_BRANCH}/{stem}.ipynb"
            if item.get("text") == "Binder":
                item["url"] = f"https://mybinder.org/v2/gh/{github}/{NOTEBOOK_BRANCH}?urlpath=lab/tree/{stem}.ipynb"
            if item.get("label") == "download-notebook-button":
                item["url"] = context["pathto"](f"{NOTEBOOKS}/{stem}.ipynb", 1)
                item["tooltip"] = "Download the chapter as a notebook"
            if item.get("label") == "download-pdf-button":
                item.pop("javascript", None)
                item["type"] = "link"
                item["url"] = context["pathto"](PDF_NAME, 1)
                item["tooltip"] = "Download the whole book as one PDF"


#: Captions of the toctree parts that hold unnumbered chapters (see _toc.yml).
UNNUMBERED_PARTS = ("Front matter", "Back matter")


def structure_latex(tex: str, root_title: str) -> str:
    r"""Rewrite the LaTeX of the book so that its numbering matches the HTML.

    The HTML numbers only the chapters of the numbered parts. LaTeX numbers
    every ``\chapter`` and makes a ``\part`` of every toctree caption. So:

    * the root document (the Preface) becomes an unnumbered chapter;
    * ``\part{Front matter}`` and ``\part{Back matter}`` disappear and switch
      chapter numbering off, a numbered part switches it back on;
    * a part caption such as "Part I: A differentiable wonderland" loses its
      "Part I: " prefix, which LaTeX prints itself;
    * figures and equations are numbered within chapters ("Fig. 1.2",
      "(1.3)"): with parts at the top, Sphinx would number them through the
      whole book (``numfigreset`` counts levels from the part);
    * the chapters of the front and back matter sit at the root of the
      bookmarks, and the empty "References" sections disappear.
    """
    within_chapter = "".join(
        rf"\renewcommand{{\the{counter}}}{{\ifnum\value{{chapter}}>0 \arabic{{chapter}}.\fi\arabic{{{counter}}}}}"
        for counter in ("figure", "table", "equation")
    )
    off = r"\setcounter{secnumdepth}{-2}"
    on = r"\setcounter{secnumdepth}{\value{gradlandsecnumdepth}}"
    tex = tex.replace(
        "\\begin{document}",
        "\\newcounter{gradlandsecnumdepth}\n"
        "\\setcounter{gradlandsecnumdepth}{\\value{secnumdepth}}\n"
        "\\begin{document}\n" + within_chapter,
        1,
    )
    tex = re.sub(
        r"(\\phantomsection\\label\{\\detokenize\{[^}]*::doc\}\})",
        lambda m: off + "\n\\chapter{" + root_title + "}\n" + m.group(1),
        tex,
        count=1,
    )
    # The chapters of the back matter hang from the root of the PDF's bookmarks,
    # not from the last part (the bookmark package, loaded in the preamble).
    for caption in UNNUMBERED_PARTS:
        tex = tex.replace("\\part{" + caption + "}", off + "\n\\bookmarksetup{startatroot}")
    tex = re.sub(
        r"\\part\{Part [IVXLC]+: ([^}]*)\}",
        lambda m: on + "\n\\part{" + m.group(1) + "}",
        tex,
    )
    # The bibliography page holds only the bibliography, which LaTeX prints as
    # a chapter of its own at the end: drop its empty chapter heading.
    tex = re.sub(
        r"\\chapter\{Bibliography\}\s*\\label\{\\detokenize\{[^}]*:bibliography\}\}"
        r"\\label\{\\detokenize\{[^}]*::doc\}\}\s*(?=\\sphinxstepscope|\\renewcommand|\\begin\{sphinxthebibliography|$)",
        "",
        tex,
    )
    # A chapter's "References" section lists its sources on the web page; in the
    # PDF they are footnotes where they are cited, and the section is empty.
    tex = re.sub(
        r"\\section\{References\}\s*(\\label\{\\detokenize\{[^}]*:references\}\})\s*"
        r"(?=\\sphinxstepscope|\\chapter|\\part|\\setcounter|\\end\{document\})",
        r"\1\n",
        tex,
    )
    return one_hyphen_in_the_index(number_references(tex))


def one_hyphen_in_the_index(tex: str) -> str:
    r"""Write the hyphen of an index entry as ``-``.

    A glossary term writes its entry through a moving argument, as
    ``cross\sphinxhyphen {}attention``, and the chapters as
    ``cross\sphinxhyphen{}attention``; makeindex would print two entries.
    """
    out, start = [], 0
    for match in re.finditer(r"\\index\{", tex):
        if match.start() < start:
            continue
        depth, end = 1, match.end()
        while depth and end < len(tex):
            depth += {"{": 1, "}": -1}.get(tex[end], 0)
            end += 1
        out.append(tex[start : match.end()])
        out.append(re.sub(r"\\sphinxhyphen\s*\{\}", "-", tex[match.end() : end]))
        start = end
    out.append(tex[start:])
    return "".join(out)


#: A reference in the PDF: ``{\hyperref[\detokenize{doc:label}]{\sphinxcrossref{\DUrole{role}{text}}}}``.
CROSSREF = re.compile(
    r"(\{\\hyperref\[\\detokenize\{(?P<doc>book/[a-z-]+):(?P<label>[^}]*)\}\]"
    r"\{\\sphinxcrossref\{\\DUrole\{(?P<role>doc|std,std-ref)\}\{(?P<text>(?:[^{}]|\{[^{}]*\})*)\}\}\}\})"
)


def number_references(tex: str) -> str:
    r"""On paper a link to a chapter or a section says where it leads.

    ``{doc}`` and ``{ref}`` print a title on the web, where it is a link; in
    the PDF each is followed by its number and page: "Energy and inference
    (Chapter 7, p. 141)", "Finite differences ... (Section 2.4, p. 42)".
    References into the unnumbered front and back matter get the page only.
    """
    from gradland_map import BUILDS_ON

    numbered = {f"book/{chapter}" for chapter in BUILDS_ON}

    def where(match: re.Match) -> str:
        doc, label, role = match["doc"], match["label"], match["role"]
        target = rf"\detokenize{{{doc}:{label}}}"
        page = rf"p.~\pageref*{{{target}}}"
        if doc not in numbered or match["text"].isdigit():  # "Chapter {doc}`1 <...>`" has its number
            return rf"{match[1]} ({page})"
        kind = "Chapter" if role == "doc" else "Section"
        return rf"{match[1]} ({kind}~\ref*{{{target}}}, {page})"

    return CROSSREF.sub(where, tex)


def number_by_chapter(app: Sphinx) -> None:
    """``builder-inited``: number figures, definitions and exercises by chapter.

    For a book with parts, sphinx-jupyterbook-latex numbers them by section in
    the PDF ("Definition 1.2.1") while the HTML numbers them by chapter
    ("Definition 1.1"). Runs after it (priority 600) to restore the HTML's;
    :func:`structure_latex` does the same for the figures and equations that
    LaTeX numbers itself.
    """
    app.config.numfig_secnum_depth = 1


def restructure_pdf(app: Sphinx, exception) -> None:
    """``build-finished``: apply :func:`structure_latex` to the LaTeX sources."""
    if exception is not None or app.builder.name != "latex":
        return
    root_title = app.env.titles[app.config.root_doc].astext()
    for tex_path in Path(app.outdir).glob("*.tex"):
        tex = structure_latex(tex_path.read_text(), root_title)
        if edition() == "student":
            tex = re.sub(
                r"\\title\{([^}]*)\}", r"\\title{\1\\\\[0.3em]\\Large Student edition, without solutions}", tex, count=1
            )
        tex_path.write_text(tex)


def concepts_only_in_the_index(app: Sphinx, doctree) -> None:
    """``doctree-read``: the general index lists concepts, not the API.

    The manual's autodoc entries ("attention() (in module gradland.attention)")
    would fill half of the index; the package has its own index, the Python
    module index, and search still finds every object. Entries written with
    ``{index}`` in the manual stay.
    """
    if app.env.docname != "book/manual":
        return
    from sphinx import addnodes

    def written(entry) -> bool:
        return entry[2].startswith("index-")  # the target of an {index} directive

    for node in doctree.findall(addnodes.index):
        node["entries"] = [entry for entry in node["entries"] if written(entry)]
    # the index domain has already collected them (Sphinx's SphinxDomains transform)
    entries = app.env.domains["index"].entries
    entries["book/manual"] = [entry for entry in entries.get("book/manual", []) if written(entry)]


class DropFoldedCode(SphinxPostTransform):
    """Leave the folded code of a figure (``hide-input``) out of the PDF.

    On the web the plotting code of a figure is folded under "Show code cell
    source"; on paper, which cannot unfold it, the figure stands alone, and the
    notebooks keep the code.
    """

    default_priority = 199
    builders = ("latex",)

    def run(self, **kwargs) -> None:
        for cell in list(self.document.findall(nodes.container)):
            if "tag_hide-input" in cell.get("classes", []):
                for child in list(cell.children):
                    if "cell_input" in child.get("classes", []):
                        cell.remove(child)


class ReadEachDoctreeOnce(SphinxPostTransform):
    """In the PDF, read each chapter's stored doctree once while references resolve.

    The PDF resolves the references of the whole book at once, and each
    ``{numref}`` reads its target's doctree from the pickle again (about 150
    times, most of the time of a rebuild). From this post-transform to
    :class:`ForgetDoctrees`, the last, a doctree is read once and kept; the
    resolvers only look up the numbered node in it.
    """

    default_priority = 1
    builders = ("latex",)

    def run(self, **kwargs) -> None:
        if "get_doctree" not in vars(self.env):
            self.env.get_doctree = functools.cache(self.env.get_doctree)


class ForgetDoctrees(SphinxPostTransform):
    """The end of :class:`ReadEachDoctreeOnce`: the environment reads doctrees as before."""

    default_priority = 999
    builders = ("latex",)

    def run(self, **kwargs) -> None:
        vars(self.env).pop("get_doctree", None)


def keep_index_entries_in_the_search() -> None:
    """Make the search remember the index entries of the pages a build did not rewrite.

    Sphinx 7 ranks a search result first when the query is an index entry of the
    page (``indexentries`` of ``searchindex.js``). An incremental build reloads the
    previous search index but not those entries, so after a rebuild that rewrote
    one chapter only that chapter's entries were left, and searching "positional
    encoding" no longer put Chapter 14 first. The reloaded index gets them back,
    and the pages that are gone lose theirs.
    """
    import io

    from sphinx.search import IndexBuilder

    if getattr(IndexBuilder, "_gradland_keeps_entries", False):
        return
    load, prune = IndexBuilder.load, IndexBuilder.prune

    def load_with_entries(self, stream, format) -> None:
        data = stream.read()
        load(self, io.StringIO(data) if isinstance(data, str) else io.BytesIO(data), format)
        frozen = (self.formats[format] if isinstance(format, str) else format).loads(data)
        entries: dict[str, list[tuple[str, str, str]]] = {}
        for entry, places in frozen.get("indexentries", {}).items():
            for doc, target, main in places:
                entries.setdefault(frozen["docnames"][doc], []).append((entry, target, "main" if main else ""))
        self._index_entries.clear()
        self._index_entries.update({docname: sorted(found) for docname, found in sorted(entries.items())})

    def prune_entries(self, docnames) -> None:
        prune(self, docnames)
        for docname in set(self._index_entries) - set(self.env.all_docs):
            del self._index_entries[docname]  # a rewritten page replaces its own

    IndexBuilder.load, IndexBuilder.prune = load_with_entries, prune_entries
    IndexBuilder._gradland_keeps_entries = True


def drop_thebe(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """``html-page-context``: remove Thebe, which Jupyter Book always loads.

    The book launches chapters on Binder and Colab rather than running cells
    in the page; Thebe's scripts are included twice (a JavaScript error) and
    would fetch Thebe itself from a CDN.
    """

    def is_thebe(asset) -> bool:
        return "thebe" in str(asset).lower() or "THEBE" in str(getattr(asset, "attributes", {}).get("body", ""))

    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not is_thebe(asset)]


def setup(app: Sphinx) -> dict[str, object]:
    keep_index_entries_in_the_search()
    app.connect("config-inited", configure)
    app.connect("builder-inited", invalidate_changed_chapters)
    app.connect("builder-inited", silence_kernel_transport_warning)
    app.connect("env-get-outdated", outdated_notebooks)
    app.connect("build-finished", copy_mathjax)
    app.connect("html-page-context", rewrite_buttons, priority=600)
    app.connect("html-page-context", drop_thebe, priority=600)
    app.connect("builder-inited", number_by_chapter, priority=600)
    app.connect("build-finished", restructure_pdf)
    app.add_post_transform(DropFoldedCode)
    app.add_post_transform(ReadEachDoctreeOnce)
    app.add_post_transform(ForgetDoctrees)
    app.connect("doctree-read", concepts_only_in_the_index)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
