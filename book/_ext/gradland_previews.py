"""Hover previews: a reference shows what it points to without leaving the page.

When the HTML is written, every numbered statement (definitions, theorems,
propositions, examples, algorithms), exercise, figure, numbered equation and
glossary term that a page links to is copied, as HTML, into
``_static/previews/<page>.js``, which the page loads.
``gradland.js`` shows the copy in a small box when the pointer rests on, or
the keyboard focuses, a link to it. Everything is made at build time, so the
previews work on any static host and from the file system; formulas are
typeset by the page's own MathJax.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sphinx.application import Sphinx

#: Where the previews are written, one script per page, relative to the site's root.
PREVIEWS = "_static/previews"
MAX_CHARS = 1500  # of text; longer statements are cut at a paragraph


def _preview(element) -> str | None:
    """The HTML a link to ``element`` previews, or None for a target without one."""
    from bs4 import BeautifulSoup

    classes = set(element.get("class", []))
    tag = element.name
    statement = tag == "div" and ("proof" in classes or "exercise" in classes) and element.get("id") != "proof"
    if statement or tag == "figure" or (tag == "div" and "math" in classes):
        copy = BeautifulSoup(str(element), "html.parser").find(tag)
    elif tag == "dt" and element.get("id", "").startswith("term-"):
        definition = element.find_next_sibling("dd")
        copy = BeautifulSoup(f"<dl>{element}{definition or ''}</dl>", "html.parser").dl
    else:
        return None
    for link in copy.select("a.headerlink"):
        link.decompose()
    for node in copy.find_all(id=True):
        del node["id"]  # the copy must not steal the page's anchors
    if copy.has_attr("id"):
        del copy["id"]
    # long statements: keep whole paragraphs up to MAX_CHARS of text
    blocks = copy.select("section > *") or []
    total = 0
    for block in blocks:
        total += len(block.get_text())
        if total > MAX_CHARS:
            block.decompose()
    return str(copy)


def write_previews(app: Sphinx, exception) -> None:
    """``build-finished``: collect the previews of the whole site, and write each page's own script."""
    if exception is not None or app.builder.format != "html":
        return
    from bs4 import BeautifulSoup

    outdir = Path(app.outdir)
    # What each page offers and links to, read from its HTML; a page that this build
    # did not rewrite is read from the record of the last build instead (parsing every
    # page takes most of a rebuild that changed one).
    record = Path(app.doctreedir) / "gradland-previews.json"
    try:
        known = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    pages: dict[str, dict] = {}
    for page in sorted(outdir.glob("book/*.html")):
        key = page.relative_to(outdir).as_posix()
        text = page.read_text(encoding="utf-8")
        digest = hashlib.sha256(text.encode()).hexdigest()
        if known.get(key, {}).get("sha256") == digest:
            pages[key] = known[key]
            continue
        soup = BeautifulSoup(text, "html.parser")
        main = soup.find("main") or soup
        offers = {}
        for element in main.find_all(id=True):
            html = _preview(element)
            if html:
                offers[f"{key}#{element['id']}"] = html
        links = []
        for link in soup.select("main a.reference.internal[href]"):
            path, _, anchor = link["href"].partition("#")
            if anchor:
                links.append(f"{(Path(key).parent / path).as_posix() if path else key}#{anchor}")
        pages[key] = {"sha256": digest, "offers": offers, "links": links}
    record.write_text(json.dumps(pages, ensure_ascii=False), encoding="utf-8")
    previews = {target: html for page in pages.values() for target, html in page["offers"].items()}
    for key, page in pages.items():  # each page gets the previews of what it links to
        mine = {target: previews[target] for target in page["links"] if target in previews}
        script = outdir / PREVIEWS / (key.removesuffix(".html") + ".js")
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(
            "window.GRADLAND_PREVIEWS = " + json.dumps(mine, ensure_ascii=False, sort_keys=True) + ";\n",
            encoding="utf-8",
        )


def add_previews_script(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """``html-page-context``: a page loads the previews of its own links."""
    if pagename.startswith("book/") and "script_files" in context:
        from sphinx.builders.html._assets import _JavaScript

        context["script_files"].append(_JavaScript(f"{PREVIEWS}/{pagename}.js"))


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("html-page-context", add_previews_script)
    app.connect("build-finished", write_previews)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
