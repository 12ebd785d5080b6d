"""Notebooks that read like the book, for Colab, Binder, Jupyter and download.

A chapter is MyST Markdown: Jupyter, Colab and GitHub render none of its roles
and directives, and know none of the book's macros. So when the HTML book is
built, each chapter is written again as a notebook, ``_notebooks/<chapter>.ipynb``
in the site, with what they do render:

* statements (definitions, propositions, proofs, examples, algorithms) and
  exercises become cells headed by their name and number, "**Proposition 2.1**
  (The gradient points uphill)"; solutions fold into a ``<details>`` element
  (the student edition leaves them out);
* references to equations, statements, figures, tables and chapters become
  their numbers and titles, as Sphinx resolved them for the page; citations
  become "(Hinton, 2002)", with the chapter's references listed where the
  page lists them;
* labelled equations carry their number as ``\\tag{2.3}``, and the book's macros
  (``\\bm``, ``\\R``, ...) are expanded into standard LaTeX, which every
  renderer knows (Colab's KaTeX reads no macro defined in another cell);
* a figure's caption follows the cell that draws it, numbered;
* the package's source that a page includes is shown as a code block.

**Glued values are written in from the build and marked.** A Markdown cell
cannot compute, so a sentence can only hold a number that is already there:
the value the book's build computed, as the page shows it. Each one is an
``<abbr>`` whose tooltip says so (browsers underline it with dots), and the
code cells keep the build's outputs, so the notebook reads like the page
before anything runs. Running a cell recomputes its numbers in its own output
and checks the book's claims against them (:mod:`gradland.claims`).

The first cell installs the package at the book's version, from the tag
``v<version>`` of the repository set in ``_config.yml``, never from ``main``.
Binder opens the same notebooks, with ``requirements.txt`` written beside them.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml
from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx

#: Folder of the notebooks, relative to the site's root.
NOTEBOOKS = "_notebooks"

#: Statement directives of sphinx-proof, and the word that heads them.
STATEMENTS = {
    "definition",
    "theorem",
    "lemma",
    "proposition",
    "corollary",
    "example",
    "algorithm",
    "remark",
    "conjecture",
    "axiom",
    "criterion",
    "observation",
    "property",
    "assumption",
    "notation",
}

#: Admonitions the chapters use, and the word that heads them.
ADMONITIONS = {
    "note": "Note",
    "tip": "Tip",
    "caution": "Caution",
    "warning": "Warning",
    "important": "Important",
    "seealso": "See also",
}

#: Directives that add nothing a notebook shows (index entries).
DROPPED = {"index"}

GLUE_NOTE = "computed when the book was built; the code cells recompute it"


# --- the install cell -----------------------------------------------------------------


def install_target(repository: str, version: str) -> str:
    """What ``pip`` installs: the package at the book's version, with its data extra."""
    return f"gradland[data] @ git+{repository}@v{version}"


def install_cell(repository: str, version: str) -> str:
    return f'''\
# The book's package at the book's version, with what the chapter's data needs.
# Colab, a fresh Jupyter and Binder install it here; where it is already
# installed at this version, nothing happens.
from importlib import metadata

try:
    installed = metadata.version("gradland")
except metadata.PackageNotFoundError:
    installed = None
if installed != "{version}":
    %pip install --quiet "{install_target(repository, version)}"'''


# --- MyST blocks ----------------------------------------------------------------------

#: A fenced code block of plain Markdown, kept as it is (split out with its fences).
CODE_BLOCK = re.compile(r"(^```.*?^```[ \t]*$)", re.M | re.S)
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}[ \t]*(?P<arg>.*)$")
OPTION = re.compile(r"^ *:(?P<key>[\w-]+):[ \t]*(?P<value>.*)$")


@dataclass
class Directive:
    name: str
    argument: str
    options: dict[str, str] = field(default_factory=dict)
    body: str = ""


def blocks(text: str) -> Iterator[str | Directive]:
    """Split MyST Markdown into plain Markdown and the directives at its top level."""
    lines = text.split("\n")
    plain: list[str] = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            plain.append(lines[i])
            i += 1
            continue
        if plain:
            yield "\n".join(plain)
            plain = []
        char, length = match["fence"][0], len(match["fence"])
        close = re.compile(rf"^ *{re.escape(char)}{{{length},}}[ \t]*$")
        j = i + 1
        options: dict[str, str] = {}
        if j < len(lines) and lines[j].strip() == "---":  # the options as a YAML block
            end = next(k for k in range(j + 1, len(lines)) if lines[k].strip() == "---")
            block = yaml.safe_load("\n".join(lines[j + 1 : end])) or {}
            options = {key: str(value) for key, value in block.items()}
            j = end + 1
        while j < len(lines) and (option := OPTION.match(lines[j])):
            options[option["key"]] = option["value"].strip()
            j += 1
        body: list[str] = []
        while j < len(lines) and not close.match(lines[j]):
            body.append(lines[j])
            j += 1
        yield Directive(match["name"], match["arg"].strip(), options, "\n".join(body).strip("\n"))
        i = j + 1
    if plain:
        yield "\n".join(plain)


# --- LaTeX ----------------------------------------------------------------------------


def expand_macros(text: str, macros: dict[str, tuple[int, str, str]]) -> str:
    r"""Replace the book's macros by their MathJax bodies: ``\R`` -> ``\mathbb{R}``.

    The macros take no argument, or one whose body applies a single command to it
    (``\bm{#1}`` is ``\boldsymbol{#1}``), so a macro's name is replaced by a name
    or a body, and its argument stays where it is.
    """
    for name, (nargs, body, _) in sorted(macros.items(), key=lambda item: -len(item[0])):
        if nargs == 1:
            command = re.fullmatch(r"(\\[A-Za-z]+)\{#1\}", body)
            if command is None:
                raise ValueError(f"macro \\{name}: cannot expand {body!r} in place")
            body = command[1]
        elif nargs:
            raise ValueError(f"macro \\{name} takes {nargs} arguments")
        text = re.sub(rf"\\{name}(?![A-Za-z])", lambda _m, b=body: b, text)
    return text


def display_math(body: str, number: str | None) -> str:
    """A ``$$`` block, tagged with its number; multi-line content aligned as Sphinx does."""
    body = body.strip()
    if r"\\" in body and not body.startswith(r"\begin"):
        body = "\\begin{split}" + body + "\\end{split}"
    tag = f"\\tag{{{number}}}" if number else ""
    return f"$$\n{body}{tag}\n$$"


# --- the converter --------------------------------------------------------------------

ROLE = re.compile(r"\{(?P<role>[\w:-]+)\}`(?P<text>[^`]*)`")
EXPLICIT = re.compile(r"^(?P<title>.*?)\s*<(?P<target>[^<>]+)>$", re.S)
LABELLED_DOLLARS = re.compile(r"^\$\$\n(?P<body>.*?)\n\$\$ *\((?P<label>[\w-]+)\)$", re.S | re.M)


class Chapter:
    """One chapter written as a notebook, from its source and the built environment."""

    def __init__(self, app: Sphinx, docname: str) -> None:
        import jupytext
        from gradland_book import MACROS

        self.app, self.env, self.docname, self.macros = app, app.env, docname, MACROS
        self.source = Path(self.env.doc2path(docname))
        self.cells = jupytext.read(self.source, fmt="md:myst")
        self.executed = executed_notebook(app, self.cells)
        self.glued = glued_values(self.executed)
        self.student = app.tags.has("student")
        self.cited: list[str] = []
        self.bibliography = bibliography(Path(app.srcdir) / app.config.bibtex_bibfiles[0])

    # references

    def _resolve(self, domain: str, kind: str, target: str, title: str | None) -> str:
        node = pending_xref(
            "",
            refdomain=domain,
            reftype=kind,
            reftarget=target,
            refexplicit=title is not None,
            refdoc=self.docname,
            refwarn=True,
        )
        contnode = nodes.inline("", title if title is not None else target)
        resolved = self.env.get_domain(domain).resolve_xref(
            self.env, self.docname, self.app.builder, kind, target, node, contnode
        )
        if resolved is None:
            raise ValueError(f"{self.docname}: cannot resolve {{{domain}:{kind}}}`{target}`")
        return resolved.astext()

    def chapter_title(self, docname: str) -> str:
        title = self.env.titles[docname].astext()
        number = self.env.toc_secnumbers.get(docname, {}).get("")
        return f"{title} (Chapter {number[0]})" if number else title

    def role(self, match: re.Match) -> str:
        role, text = match["role"], match["text"]
        explicit = EXPLICIT.match(text)
        title, target = (explicit["title"], explicit["target"]) if explicit else (None, text)
        if role in ("glue:text", "glue"):
            return self.glue(target)
        if role == "math":
            return f"${text}$"
        if role in ("term", "index"):
            return title if title is not None else text
        if role == "eq":
            return self._resolve("math", "eq", target, None)
        if role == "prf:ref":
            return title if title is not None else self._resolve("prf", "ref", target, None)
        if role == "numref":
            return self._resolve("std", "numref", target, title)
        if role == "ref":
            return title if title is not None else self._resolve("std", "ref", target, None)
        if role == "doc":
            if title is not None:
                return title
            return self.chapter_title(
                target[1:]
                if target.startswith("/")
                else posixpath.normpath(posixpath.join(posixpath.dirname(self.docname), target))
            )
        if role in ("cite", "cite:p", "footcite", "cite:t"):
            return self.cite(target.split(","), textual=role == "cite:t")
        raise ValueError(f"{self.docname}: no notebook form for the role {{{role}}}")

    def glue(self, target: str) -> str:
        from myst_nb.core.variables import format_plain_text

        name, _, spec = target.partition(":")
        value = format_plain_text(self.glued[name]["text/plain"], spec or "s")
        return f'<abbr title="{GLUE_NOTE}">{html.escape(value, quote=False)}</abbr>'

    # citations

    def author_year(self, key: str) -> tuple[str, str]:
        entry = self.bibliography[key]
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        last = [" ".join(person.last_names) for person in people]
        names = last[0] if len(last) == 1 else f"{last[0]} and {last[1]}" if len(last) == 2 else f"{last[0]} et al."
        return names, entry.fields.get("year", "n.d.")

    def cite(self, keys: list[str], textual: bool) -> str:
        keys = [key.strip() for key in keys]
        self.cited += [key for key in keys if key not in self.cited]
        pairs = [self.author_year(key) for key in keys]
        if textual:
            return "; ".join(f"{names} ({year})" for names, year in pairs)
        return "(" + "; ".join(f"{names}, {year}" for names, year in pairs) + ")"

    def references(self) -> str:
        from pybtex.plugin import find_plugin

        style = find_plugin("pybtex.style.formatting", "plain")()
        entries = [self.bibliography[key] for key in self.cited]
        formatted = {entry.key: entry.text.render_as("markdown") for entry in style.format_entries(entries)}
        lines = [f"- {formatted[key]}" for key in self.cited]
        self.cited = []
        return "\n".join(lines)

    # blocks

    def number(self, label: str) -> str:
        """The number of a labelled statement, exercise, figure or table ("2.3")."""
        docname, node_id = self.env.get_domain("std").labels.get(label, (None, label, None))[:2]
        if docname is None:
            docname, node_id = self.docname, label
        for numbers in self.env.toc_fignumbers.get(docname, {}).values():
            if node_id in numbers:
                return ".".join(map(str, numbers[node_id]))
        raise ValueError(f"{self.docname}: {label} has no number")

    def equation_number(self, label: str) -> str:
        return self._resolve("math", "eq", label, None).strip("()")

    def markdown(self, text: str) -> list[str]:
        """MyST Markdown -> Markdown cells (statements and exercises get their own)."""
        text = re.sub(r"^\(([\w-]+)\)=[ \t]*\n", "", text, flags=re.M)  # targets
        text = re.sub(r"^%.*\n?", "", text, flags=re.M)  # comments
        text = LABELLED_DOLLARS.sub(lambda m: display_math(m["body"], self.equation_number(m["label"])), text)
        cells: list[str] = []
        current: list[str] = []

        def flush() -> None:
            joined = "\n\n".join(part for part in current if part.strip()).strip()
            if joined:
                cells.append(joined)
            current.clear()

        for block in blocks(text):
            if isinstance(block, str):
                current.append(self.inline(block))
                continue
            converted = self.directive(block)
            if converted is None:
                continue
            if block.name.startswith("prf:") or block.name in ("exercise", "solution"):
                flush()
                cells.append(converted)
            else:
                current.append(converted)
        flush()
        return cells

    def inline(self, text: str) -> str:
        """Roles and macros of plain Markdown; fenced code stays as it is."""
        parts = CODE_BLOCK.split(text)
        return "".join(
            part if part.startswith("```") else expand_macros(ROLE.sub(self.role, part), self.macros) for part in parts
        )

    def body(self, text: str) -> str:
        return "\n\n".join(self.markdown(text))

    def directive(self, block: Directive) -> str | None:
        name = block.name
        if name in DROPPED:
            return None
        if name == "math":
            label = block.options.get("label")
            number = self.equation_number(label) if label else None
            return expand_macros(display_math(block.body, number), self.macros)
        if name.startswith("prf:") and name[4:] in STATEMENTS:
            label = block.options.get("label")
            heading = f"**{name[4:].capitalize()} {self.number(label)}**" if label else f"**{name[4:].capitalize()}**"
            if block.argument:
                heading += f" ({self.inline(block.argument)})"
            return f"{heading}\n\n{self.body(block.body)}"
        if name == "prf:proof":
            return f"*Proof.* {self.body(block.body)} $\\square$"
        if name == "exercise":
            heading = f"**Exercise {self.number(block.options['label'])}**"
            if block.argument:
                heading += f" ({self.inline(block.argument)})"
            return f"{heading}\n\n{self.body(block.body)}"
        if name == "solution":
            if self.student:
                return None
            number = self.number(block.argument)
            return (
                f"<details>\n<summary>Solution to Exercise {number}</summary>\n\n{self.body(block.body)}\n\n</details>"
            )
        if name in ADMONITIONS:
            return f"**{ADMONITIONS[name]}.** {self.body(block.body)}"
        if name == "literalinclude":
            return self.literalinclude(block)
        if name == "list-table":
            return self.list_table(block)
        if name == "footbibliography":
            return self.references()
        raise ValueError(f"{self.docname}: no notebook form for the directive {{{name}}}")

    def literalinclude(self, block: Directive) -> str:
        from sphinx.directives.code import LiteralIncludeReader

        path = (self.source.parent / block.argument).resolve()
        # option values as MyST reads them: a quoted string loses its quotes
        options = {
            key: value[1:-1] if len(value) > 1 and value[0] == value[-1] and value[0] in "\"'" else value
            for key, value in block.options.items()
            if key != "language"
        }
        if "dedent" in options:
            options["dedent"] = int(options["dedent"])
        code, _ = LiteralIncludeReader(str(path), options, self.app.config).read()
        language = block.options.get("language", "python")
        return f"```{language}\n{code.rstrip()}\n```"

    def list_table(self, block: Directive) -> str:
        rows: list[list[str]] = []
        for line in block.body.split("\n"):
            if line.startswith("* - "):
                rows.append([line[4:].strip()])
            elif line.startswith("  - "):
                rows[-1].append(line[4:].strip())
            elif line.strip():
                rows[-1][-1] += " " + line.strip()
        cells = [[self.inline(cell).replace("|", "\\|") for cell in row] for row in rows]
        header, *rest = cells
        table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        table += ["| " + " | ".join(row) + " |" for row in rest]
        caption = self.inline(block.argument)
        label = block.options.get("name")
        number = f"**Table {self.number(label)}.** " if label else ""
        return number + caption + "\n\n" + "\n".join(table)

    # the notebook

    def notebook(self, repository: str, version: str, built: str) -> nbformat.NotebookNode:
        code_outputs = iter(cell for cell in self.executed.cells if cell.cell_type == "code")
        notebook = nbformat.v4.new_notebook(
            metadata={
                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                "language_info": {"name": "python"},
                "colab": {"provenance": []},
            }
        )
        cells = notebook.cells
        for cell in self.cells.cells:
            if cell.cell_type == "markdown":
                cells += [nbformat.v4.new_markdown_cell(text) for text in self.markdown(cell.source)]
                continue
            run = next(code_outputs)
            if run.source.strip() != cell.source.strip():
                raise ValueError(f"{self.docname}: executed cells out of step with the source")
            cells.append(self.code(cell, run))
            caption = cell.metadata.get("mystnb", {}).get("figure", {})
            if caption.get("name"):
                text = self.inline(caption["caption"].strip())
                cells.append(nbformat.v4.new_markdown_cell(f"**Fig. {self.number(caption['name'])}.** {text}"))
        self._number_sections(cells)
        self._front(cells, repository, version, built)
        cell_ids(cells)
        return notebook

    def _number_sections(self, cells: list) -> None:
        """Give each section heading its number, as the page does: "## 2.1. The derivative"."""
        from docutils import nodes as docutils_nodes

        numbers = self.env.toc_secnumbers[self.docname]
        entries = iter(
            [
                numbers[ref["anchorname"]]
                for ref in self.env.tocs[self.docname].findall(docutils_nodes.reference)
                if ref["anchorname"]
            ]
        )
        heading = re.compile(r"^(#{2,6}) (.*)$", re.M)
        for cell in cells:
            if cell.cell_type != "markdown":
                continue
            parts = CODE_BLOCK.split(cell.source)
            cell.source = "".join(
                part
                if part.startswith("```")
                else heading.sub(lambda m: f"{m[1]} {'.'.join(map(str, next(entries)))}. {m[2]}", part)
                for part in parts
            )
        if next(entries, None) is not None:
            raise ValueError(f"{self.docname}: fewer headings than sections")

    def code(self, cell: nbformat.NotebookNode, run: nbformat.NotebookNode) -> nbformat.NotebookNode:
        tags = set(cell.metadata.get("tags", []))
        code = nbformat.v4.new_code_cell(cell.source.strip())
        # the build's outputs, without the glue records the page reads its numbers from,
        # and without the PDF of each figure (for the book's PDF; no notebook shows it)
        code.outputs = [output for output in run.get("outputs", []) if "scrapbook" not in output.get("metadata", {})]
        for output in code.outputs:
            output.get("data", {}).pop("application/pdf", None)
        code.execution_count = None
        if tags & {"remove-cell", "remove-input", "hide-input", "hide-cell"}:
            code.metadata["jupyter"] = {"source_hidden": True}
        if tags & {"remove-cell", "remove-output", "hide-output", "hide-cell"}:
            code.metadata.setdefault("jupyter", {})["outputs_hidden"] = True
        if tags:
            code.metadata["tags"] = sorted(tags)
        return code

    def _front(self, cells: list, repository: str, version: str, built: str) -> None:
        """The title with its number, a note on the notebook, then the install cell."""
        first = cells[0]
        title_line, _, rest = first.source.partition("\n")
        if not title_line.startswith("# "):
            raise ValueError(f"{self.docname}: a chapter starts with its title")
        number = self.env.toc_secnumbers.get(self.docname, {}).get("")
        title = f"# {number[0]}. {title_line[2:]}" if number else title_line
        edition = "student edition, " if self.student else ""
        note = (
            f"*This notebook is a chapter of Gradland {version} ({edition}built {built}), "
            "an executable textbook of deep learning. Numbers in the text with a dotted "
            f'underline, such as <abbr title="{GLUE_NOTE}">0.123</abbr>, were computed '
            "when the book was built, and so were the outputs below each cell; running a cell "
            "recomputes them, and checks the sentences that rest on them. The first cell "
            "installs the book's package at this version.*"
        )
        first.source = f"{title}\n\n{note}"
        if rest.strip():
            cells.insert(1, nbformat.v4.new_markdown_cell(rest.strip()))
        cells.insert(1, nbformat.v4.new_code_cell(install_cell(repository, version)))


def cell_ids(cells: list) -> None:
    """Give each cell an id made from its source, so that inserting a cell changes
    no other cell's id: a rebuild changes a notebook only where its chapter changed,
    and comments on a cell (in Colab, say) stay with it. Cells with the same source
    are told apart by their order: ``3f2a9c1e``, ``3f2a9c1e-2``.
    """
    seen: dict[str, int] = {}
    for cell in cells:
        digest = hashlib.sha256(f"{cell.cell_type}\0{cell.source}".encode()).hexdigest()[:12]
        seen[digest] = seen.get(digest, 0) + 1
        cell["id"] = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"


def executed_notebook(app: Sphinx, source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The chapter as the build executed it, from MyST-NB's execution cache."""
    from jupyter_cache import get_cache

    cache = get_cache(app.config.nb_execution_cache_path or Path(app.outdir).parent / ".jupyter_cache")
    return cache.get_cache_bundle(cache.match_cache_notebook(source).pk).nb


def glued_values(executed: nbformat.NotebookNode) -> dict[str, dict]:
    """name -> the data (``text/plain``, ...) of every value the chapter glued."""
    values = {}
    for cell in executed.cells:
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook")
            if record:
                prefix = len(record.get("mime_prefix", ""))
                values[record["name"]] = {kind[prefix:]: data for kind, data in output["data"].items()}
    return values


@functools.cache
def bibliography(path: Path) -> dict:
    """The entries of the book's BibTeX file, read once for all the chapters."""
    from pybtex.database import parse_file

    return parse_file(str(path)).entries


def chapters(app: Sphinx) -> list[str]:
    """Docnames of the book's notebooks: the documents with a kernel."""
    return [docname for docname in app.env.found_docs if app.env.metadata.get(docname, {}).get("kernelspec")]


def requirements(repository: str, version: str) -> str:
    return (
        "# The environment Binder builds for these notebooks: the book's package at the\n"
        "# book's version, on a CPU build of PyTorch (Binder machines have no GPU).\n"
        "--extra-index-url https://download.pytorch.org/whl/cpu\n"
        "torch\n"
        f"{install_target(repository, version)}\n"
    )


def write_notebooks(app: Sphinx, exception: Exception | None) -> None:
    """``build-finished`` (HTML): write the notebook of every chapter into the site."""
    if exception is not None or app.builder.name != "html":
        return
    import gradland
    from gradland_book import REPOSITORY

    outdir = Path(app.outdir) / NOTEBOOKS
    outdir.mkdir(parents=True, exist_ok=True)
    # Resolving a {numref} reads the target's doctree from its pickle every time (about
    # 150 times a build); the references only read them, so each is read once here.
    app.env.get_doctree = functools.cache(app.env.get_doctree)
    try:
        for docname in sorted(chapters(app)):
            chapter = Chapter(app, docname)
            notebook = chapter.notebook(REPOSITORY, gradland.__version__, app.config.today)
            (outdir / f"{Path(docname).name}.ipynb").write_text(json.dumps(notebook, indent=1) + "\n")
    finally:
        del app.env.get_doctree  # the method of the class again
    (outdir / "requirements.txt").write_text(requirements(REPOSITORY, gradland.__version__))


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("build-finished", write_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
