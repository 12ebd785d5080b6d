"""Figures for slides: every figure downloads from its caption as SVG and PDF.

A chapter's figures are executed outputs with hashed file names. When a page
is written, each figure labelled ``fig-...`` is copied to
``_downloads/figures/<label>.svg`` and ``.pdf``, stable names an instructor can
find again, with the book's license line inside the file (an XML comment in
the SVG, the Subject of the PDF). Its caption gets two links to them.
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.osutil import relative_uri

#: Folder of the downloads, relative to the site's root.
FIGURES = "_downloads/figures"


def license_line(label: str) -> str:
    import gradland

    return (
        f"Figure {label} of Gradland {gradland.__version__}, by the Gradland authors, "
        "licensed under CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/)."
    )


def write_svg(source: Path, target: Path, label: str) -> None:
    text = source.read_text(encoding="utf-8")
    start = text.find("<svg")
    end = text.find(">", start) + 1
    comment = f"\n<!-- {license_line(label)} -->\n"
    target.write_text(text[:end] + comment + text[end:], encoding="utf-8")


def write_pdf(source: Path, target: Path, label: str) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(source))
    writer.add_metadata({"/Title": label, "/Author": "The Gradland authors", "/Subject": license_line(label)})
    with target.open("wb") as stream:
        writer.write(stream)


def add_downloads(app: Sphinx, doctree: nodes.document, fromdocname: str) -> None:
    """``doctree-resolved`` (HTML): copy each labelled figure, link it from its caption."""
    if app.builder.format != "html":
        return
    outdir = Path(app.outdir) / FIGURES
    page = app.builder.get_target_uri(fromdocname)
    # every rendering of each output (SVG and PDF): MyST-NB keeps one per builder in
    # the page, the stored doctree has all of them
    renderings = {
        label: [image["uri"] for image in figure.findall(nodes.image)]
        for figure in app.env.get_doctree(fromdocname).findall(nodes.figure)
        for label in figure["ids"]
    }
    for figure in doctree.findall(nodes.figure):
        labels = [i for i in figure["ids"] if i.startswith("fig-")]
        caption = next(iter(figure.findall(nodes.caption)), None)
        if not labels or caption is None:
            continue
        label = labels[0]
        written = []
        for uri in renderings.get(label, []):
            source = Path(app.srcdir) / uri
            kind = source.suffix.lstrip(".")
            if kind not in ("svg", "pdf") or kind in written or not source.is_file():
                continue
            outdir.mkdir(parents=True, exist_ok=True)
            (write_svg if kind == "svg" else write_pdf)(source, outdir / f"{label}.{kind}", label)
            written.append(kind)
        if not written:
            continue
        links = nodes.inline(classes=["figure-downloads"])
        links += nodes.Text(" Download: ")
        for i, kind in enumerate(sorted(written, key=["svg", "pdf"].index)):
            if i:
                links += nodes.Text(", ")
            uri = relative_uri(page, f"{FIGURES}/{label}.{kind}")
            links += nodes.reference("", kind.upper(), refuri=uri, classes=["download"])
        links += nodes.Text(".")
        caption += links


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("doctree-resolved", add_downloads)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
