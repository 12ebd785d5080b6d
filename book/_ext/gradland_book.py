"""Sphinx glue that makes one book out of the chapters, for HTML and PDF alike.

What this extension does, each in one function below:

* defines the book's TeX macros once, for MathJax (HTML) and LaTeX (PDF);
* serves MathJax 3 from the site itself, so the book works offline;
* re-executes every chapter when the ``gradland`` package changes, or the
  full-size switch ``GRADLAND_FULL`` flips (the execution cache only hashes
  cell source);
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

import hashlib
import os
import re
import shutil
from pathlib import Path

import yaml
from docutils import nodes
from sphinx.application import Sphinx
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
    return {
        name: body if nargs == 0 else [body, nargs]
        for name, (nargs, body, _) in MACROS.items()
    }


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


def package_hash() -> str:
    """SHA-256 of every file of the ``gradland`` package, names included, and of
    the full-size switch (``GRADLAND_FULL``): flipping it re-runs the chapters."""
    from gradland import full_size

    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE_DIR)).encode())
        digest.update(path.read_bytes())
    digest.update(f"full_size={full_size()}".encode())
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


def configure(app: Sphinx, config) -> None:
    """``config-inited``: macros, local MathJax, the version, the build date and the edition."""
    import gradland
    from sphinx.util.i18n import format_date

    config.version = config.release = gradland.__version__
    built = format_date("%Y-%m-%d", language=config.language)  # honours SOURCE_DATE_EPOCH
    config.today = built
    config.myst_substitutions = {**config.myst_substitutions, "version": gradland.__version__,
                                 "built": built}
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
        + ". " + theme.get("extra_footer", "")
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


def invalidate_cache_if_package_changed(app: Sphinx) -> None:
    """``builder-inited``: drop the execution cache when ``gradland`` changed.

    Sets ``app.gradland_package_changed`` for :func:`outdated_notebooks`.
    """
    stamp = Path(app.doctreedir) / "gradland-package.sha256"
    current = package_hash()
    previous = stamp.read_text().strip() if stamp.exists() else None
    app.gradland_package_changed = previous is not None and previous != current
    if app.gradland_package_changed:
        cache = app.config.nb_execution_cache_path or str(
            Path(app.outdir).parent / ".jupyter_cache"
        )
        LOGGER.info("gradland changed since the last build: clearing %s", cache)
        shutil.rmtree(cache, ignore_errors=True)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(current + "\n")


def outdated_notebooks(app: Sphinx, env, added, changed, removed) -> list[str]:
    """``env-get-outdated``: every chapter must be read (and run) again."""
    if getattr(app, "gradland_package_changed", False):
        return sorted(env.found_docs)
    return []


def copy_mathjax(app: Sphinx, exception) -> None:
    """``build-finished``: copy MathJax into the site (no CDN)."""
    if exception is not None or app.builder.format != "html":
        return
    skip = shutil.ignore_patterns("sre", "*-full*", "mml-*", "tex-svg*", "svg")
    shutil.copytree(
        mathjax_dir(), Path(app.outdir) / "_static" / "mathjax", ignore=skip,
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
        context["header_buttons"] = [button for button in context.get("header_buttons", [])
                                     if button.get("label") != "launch-buttons"]
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
        out.append(tex[start:match.end()])
        out.append(re.sub(r"\\sphinxhyphen\s*\{\}", "-", tex[match.end():end]))
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
            tex = re.sub(r"\\title\{([^}]*)\}", r"\\title{\1\\\\[0.3em]\\Large Student edition, without solutions}",
                         tex, count=1)
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
    app.connect("config-inited", configure)
    app.connect("builder-inited", invalidate_cache_if_package_changed)
    app.connect("env-get-outdated", outdated_notebooks)
    app.connect("build-finished", copy_mathjax)
    app.connect("html-page-context", rewrite_buttons, priority=600)
    app.connect("html-page-context", drop_thebe, priority=600)
    app.connect("builder-inited", number_by_chapter, priority=600)
    app.connect("build-finished", restructure_pdf)
    app.add_post_transform(DropFoldedCode)
    app.connect("doctree-read", concepts_only_in_the_index)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
