"""The map of the book: what each chapter builds on, and how long it takes.

* :data:`BUILDS_ON` is the one place that says which chapters a chapter
  needs; :data:`COURSES` are the suggested paths through the book.
* Every chapter opens with a line that gives its place in the map, its
  reading time and the time its code took to run in this build.
* Every glossary entry ends with a link to where a chapter teaches the
  term: its main index entry, or else its first.
* The ``{book-map}`` directive (in the Preface) becomes a table of all
  chapters with the same facts, filled in once every chapter has been read
  and run.

Reading times count the words of the prose, exercises included and code,
outputs and solutions left out, at :data:`WORDS_PER_MINUTE`. Run times are
those measured by the build that made the page (MyST-NB's execution record).
"""

from __future__ import annotations

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

#: chapter -> the chapters it builds on (earlier ones only; tested).
BUILDS_ON: dict[str, list[str]] = {
    "linear-algebra": [],
    "derivatives": ["linear-algebra"],
    "forward-reverse": ["derivatives"],
    "autodiff": ["forward-reverse"],
    "objects-functions": ["autodiff"],
    "implicit-layers": ["autodiff"],
    "energy-inference": ["derivatives"],
    "free-energy": ["energy-inference"],
    "training-ebms": ["free-energy"],
    "autoencoders": ["training-ebms"],
    "gans": ["training-ebms"],
    "recurrent-networks": ["forward-reverse"],
    "attention": ["linear-algebra"],
    "transformers": ["attention"],
    "graph-networks": ["attention"],
}

#: (name, who it is for, chapters in order): paths for a course or a reader;
#: each takes along every chapter its chapters build on (tested).
COURSES: list[tuple[str, str, list[str]]] = [
    (
        "Differentiable programming",
        "a module on how frameworks compute gradients",
        ["linear-algebra", "derivatives", "forward-reverse", "autodiff", "objects-functions", "implicit-layers"],
    ),
    (
        "Energy-based models",
        "a course on latent-variable and generative models",
        ["linear-algebra", "derivatives", "energy-inference", "free-energy", "training-ebms", "autoencoders", "gans"],
    ),
    (
        "Attention, transformers and graphs",
        "a course on models of sets, sequences and graphs",
        [
            "linear-algebra",
            "derivatives",
            "forward-reverse",
            "recurrent-networks",
            "attention",
            "transformers",
            "graph-networks",
        ],
    ),
]

WORDS_PER_MINUTE = 120
SKIP = (
    nodes.literal_block,
    nodes.math,
    nodes.math_block,
    nodes.raw,
    nodes.comment,
    nodes.target,
    nodes.substitution_definition,
)


def docname(chapter: str) -> str:
    return f"book/{chapter}"


def _skipped(node: nodes.Node) -> bool:
    while node is not None:
        if isinstance(node, SKIP):
            return True
        classes = node.get("classes", []) if isinstance(node, nodes.Element) else []
        if "cell_output" in classes or "cell_input" in classes or "solution" in classes:
            return True
        node = node.parent
    return False


def words(doctree: nodes.document) -> int:
    """Words a reader reads: prose, not code, outputs or solutions."""
    return sum(len(text.astext().split()) for text in doctree.findall(nodes.Text) if not _skipped(text))


def reading_minutes(n_words: int) -> int:
    return max(5, 5 * round(n_words / WORDS_PER_MINUTE / 5))


def run_seconds(env, name: str) -> float | None:
    from myst_nb.sphinx_ import NbMetadataCollector

    try:
        data = NbMetadataCollector.get_exec_data(env, name)
    except KeyError:
        return None
    return (data or {}).get("runtime")


def run_text(seconds: float | None) -> str:
    if seconds is None:
        return "not run in this build"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


def doc_ref(chapter: str, refdoc: str) -> addnodes.pending_xref:
    """A link to a chapter that shows its title, like {doc}, from the page ``refdoc``."""
    ref = addnodes.pending_xref(
        "",
        refdomain="std",
        reftype="doc",
        reftarget=f"/{docname(chapter)}",
        refexplicit=False,
        refwarn=True,
        refdoc=refdoc,
    )
    ref += nodes.inline("", chapter)
    return ref


def _joined(items: list[nodes.Node], between: str = ", ", last: str = " and ") -> list[nodes.Node]:
    """``a, b and c`` of nodes."""
    out: list[nodes.Node] = []
    for i, item in enumerate(items):
        if i:
            out.append(nodes.Text(between if i < len(items) - 1 else last))
        out.append(item)
    return out


def _listing(chapters: list[str], refdoc: str) -> list[nodes.Node]:
    return _joined([doc_ref(chapter, refdoc) for chapter in chapters])


def chapter_number(env, name: str) -> str | None:
    """The number of a chapter, such as "8"; None for the front and back matter."""
    number = env.toc_secnumbers.get(name, {}).get("")
    return ".".join(map(str, number)) if number else None


def leads_to(chapter: str) -> list[str]:
    return [c for c, needs in BUILDS_ON.items() if chapter in needs]


def add_chapter_card(app: Sphinx, doctree: nodes.document) -> None:
    """``doctree-read``: the line under a chapter's title."""
    name = app.env.docname
    chapter = name.removeprefix("book/")
    if chapter not in BUILDS_ON:
        return
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None:
        return
    para = nodes.paragraph(classes=["chapter-card"])
    para += nodes.emphasis(
        "",
        f"About {reading_minutes(words(doctree))} minutes of reading; "
        f"the code ran in {run_text(run_seconds(app.env, name))} "
        "when this book was built. ",
    )
    needs = BUILDS_ON[chapter]
    para += nodes.Text("Builds on ")
    para += _listing(needs, name) if needs else [nodes.Text("nothing but the prerequisites")]
    nexts = leads_to(chapter)
    if nexts:
        para += nodes.Text("; leads to ")
        para += _listing(nexts, name)
    para += nodes.Text(". ")
    see = addnodes.pending_xref(
        "", refdomain="std", reftype="ref", reftarget="book-map", refexplicit=True, refwarn=True, refdoc=name
    )
    see += nodes.inline("", "The map of the book")
    para += see
    para += nodes.Text(".")
    title = section.next_node(nodes.title)
    section.insert(section.index(title) + 1, para)


class map_placeholder(nodes.General, nodes.Element):
    """Placeholder for the table of chapters, filled in at doctree-resolved."""


class BookMap(SphinxDirective):
    """``{book-map}``: the table of chapters and the course paths."""

    def run(self) -> list[nodes.Node]:
        for chapter in BUILDS_ON:
            self.env.note_dependency(self.env.doc2path(docname(chapter)))
        return [map_placeholder()]


def _title(env, builder, fromdocname: str, chapter: str) -> nodes.Node:
    """A link to a chapter: its number and title."""
    from sphinx.util.nodes import make_refnode

    name = docname(chapter)
    number = chapter_number(env, name)
    text = env.titles[name].astext()
    if number:
        text = f"{number}. {text}"
    return make_refnode(builder, fromdocname, name, "", nodes.inline("", text))


def _table(env, builder, fromdocname: str, minutes: dict[str, int]) -> nodes.table:
    header = ["Chapter", "Builds on", "Reading", "Run"]
    table = nodes.table(classes=["book-map"])
    group = nodes.tgroup(cols=len(header))
    table += group
    for width in (36, 36, 12, 16):
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    group += head
    row = nodes.row()
    for text in header:
        row += nodes.entry("", nodes.paragraph("", text))
    head += row
    body = nodes.tbody()
    group += body
    for chapter, needs in BUILDS_ON.items():
        needed = _joined([_title(env, builder, fromdocname, other) for other in needs], last=", ")
        cells = [
            [_title(env, builder, fromdocname, chapter)],
            needed or [nodes.Text("the prerequisites")],
            [nodes.Text(f"{minutes[chapter]} min")],
            [nodes.Text(run_text(run_seconds(env, docname(chapter))))],
        ]
        row = nodes.row()
        for content in cells:
            para = nodes.paragraph()
            para += content
            row += nodes.entry("", para)
        body += row
    return table


def _courses(env, builder, fromdocname: str, minutes: dict[str, int]) -> nodes.bullet_list:
    items = nodes.bullet_list()
    for title, audience, chapters in COURSES:
        total = sum(minutes[chapter] for chapter in chapters)
        para = nodes.paragraph()
        para += nodes.strong("", title)
        para += nodes.Text(f", for {audience} (about {round(total / 60)} hours of reading): ")
        para += _joined(
            [_title(env, builder, fromdocname, chapter) for chapter in chapters], between=", then ", last=", then "
        )
        para += nodes.Text(".")
        items += nodes.list_item("", para)
    return items


def fill_map(app: Sphinx, doctree: nodes.document, fromdocname: str) -> None:
    """``doctree-resolved``: the table of chapters and the course paths, with every chapter read."""
    for placeholder in list(doctree.findall(map_placeholder)):
        # each chapter's stored doctree is read once, for the table and the courses
        minutes = {chapter: reading_minutes(words(app.env.get_doctree(docname(chapter)))) for chapter in BUILDS_ON}
        intro = nodes.paragraph("", "Paths through the book, for a course or for reading alone:")
        placeholder.replace_self(
            [
                _table(app.env, app.builder, fromdocname, minutes),
                intro,
                _courses(app.env, app.builder, fromdocname, minutes),
            ]
        )


def taught_in(env) -> dict[str, tuple[str, str]]:
    """term (lower case) -> (chapter's docname, anchor) where the chapter teaches it.

    The place is the term's main index entry (``!single: term``) if a chapter
    has one, else its first index entry in the order of the book.
    """
    entries = env.domains["index"].entries
    found: dict[str, tuple[str, str]] = {}
    main: dict[str, tuple[str, str]] = {}
    for chapter in BUILDS_ON:
        name = docname(chapter)
        for kind, value, target, is_main, _ in entries.get(name, []):
            if kind != "single":
                continue
            term = value.split(";")[0].strip().lower()
            found.setdefault(term, (name, target))
            if is_main == "main":
                main.setdefault(term, (name, target))
    return {**found, **main}


def link_glossary_back(app: Sphinx, doctree: nodes.document, fromdocname: str) -> None:
    """``doctree-resolved``: each glossary entry ends with where the book teaches it."""
    from sphinx.util.nodes import make_refnode

    places = taught_in(app.env)
    doctrees: dict[str, nodes.document] = {}

    def section_of(name: str, target: str) -> str:
        """The id of the section around an index target: LaTeX has no labels for index targets."""
        if name not in doctrees:  # each chapter's stored doctree is read once
            doctrees[name] = app.env.get_doctree(name)
        doctree = doctrees[name]
        for node in doctree.findall(nodes.Element):
            if target in node.get("ids", []):
                while node is not None and not isinstance(node, nodes.section):
                    node = node.parent
                return node["ids"][0] if node is not None else ""
        return ""

    for item in doctree.findall(nodes.definition_list_item):
        terms = [t for t in item.findall(nodes.term) if any(i.startswith("term-") for i in t["ids"])]
        if not terms:
            continue
        place = places.get(terms[0].astext().strip().lower())
        if place is None:
            continue
        name, target = place
        if app.builder.format == "latex":
            target = section_of(name, target)
        number = chapter_number(app.env, name)
        label = f"Chapter {number}" if number else app.env.titles[name].astext()
        para = nodes.paragraph(classes=["glossary-taught"])
        para += nodes.Text("Taught in ")
        para += make_refnode(app.builder, fromdocname, name, target, nodes.inline("", label))
        para += nodes.Text(".")
        definition = item.next_node(nodes.definition)
        definition += para


def words_per_minute_for_the_text(app: Sphinx, config) -> None:
    """``config-inited``: the Preface states the reading speed as {{ words_per_minute }}."""
    config.myst_substitutions = {**config.myst_substitutions, "words_per_minute": WORDS_PER_MINUTE}


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("config-inited", words_per_minute_for_the_text)
    app.add_node(map_placeholder)
    app.add_directive("book-map", BookMap)
    app.connect("doctree-read", add_chapter_card)
    app.connect("doctree-resolved", fill_map)
    app.connect("doctree-resolved", link_glossary_back)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
