"""The PDF of the whole book: it builds cleanly, and numbers what the HTML numbers."""

from __future__ import annotations

import re
import subprocess

NUMBERED = r"(Fig\.|Table|Definition|Theorem|Proposition|Lemma|Corollary|Example|Algorithm|Exercise)"


def pdf_text(pdf) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def test_latex_log_is_clean(pdf):
    log = (pdf.parent / "gradland.log").read_text(errors="replace")
    for problem in (
        "LaTeX Error",
        "Undefined control sequence",
        "undefined references",
        "Citation `",
        "There were undefined",
        "Missing character",
    ):
        assert problem not in log, f"LaTeX log reports: {problem}"


def test_no_display_equation_is_wider_than_the_page(pdf):
    """TeX reports a display wider than the text as an overfull box "detected at line"
    (a paragraph's says "in paragraph at lines"): the equation runs into the margin."""
    log = (pdf.parent / "gradland.log").read_text(errors="replace")
    wide = re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\) detected at line (\d+)", log)
    assert not wide, (
        "display math wider than the page (points too wide, line of gradland.tex): "
        f"{wide}; split it as CONTRIBUTING.md shows"
    )


def test_page_count(pdf):
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    print(f"PDF pages: {pages}")
    assert pages >= 20


def test_numbering_matches_the_html(book, pdf):
    html_numbers = set()
    for page in book.html.glob("book/*.html"):
        text = page.read_text()
        html_numbers |= {m.replace("&nbsp;", " ").strip() for m in re.findall(r'class="caption-number">([^<]+)<', text)}
        html_numbers |= set(re.findall(r'<span class="eqno">(\(\d+\.\d+\))', text))
    html_numbers = {n for n in html_numbers if re.fullmatch(NUMBERED + r" \d+\.\d+|\(\d+\.\d+\)", n)}
    assert len(html_numbers) > 10, html_numbers

    text = pdf_text(pdf)
    pdf_numbers = {" ".join(pair) for pair in re.findall(NUMBERED + r" (\d+\.\d+)\b", text)}
    pdf_numbers |= set(re.findall(r"\(\d+\.\d+\)", text))
    missing = html_numbers - pdf_numbers
    assert not missing, f"numbered in the HTML but not in the PDF: {sorted(missing)}"
    deeper = re.findall(NUMBERED + r" \d+\.\d+\.\d+", text)
    assert not deeper, f"the PDF numbers by section, the HTML by chapter: {deeper[:5]}"


def test_figures_are_embedded_as_vector_pdf(pdf):
    tex = (pdf.parent / "gradland.tex").read_text()
    images = re.findall(r"\\sphinxincludegraphics(?:\[[^\]]*\])?\{\{([^}]+)\}(\.\w+)\}", tex)
    assert images, "no figure in the PDF"
    assert {suffix for _, suffix in images} == {".pdf"}, images


def test_front_and_back_matter_are_unnumbered(pdf):
    toc = (pdf.parent / "gradland.toc").read_text()
    for title in ("Preface", "Notation", "The gradland manual", "Glossary"):
        assert re.search(r"\\contentsline \{chapter\}\{" + re.escape(title), toc), title
    assert re.search(r"\\contentsline \{chapter\}\{\\numberline \{1\}Linear algebra", toc)


def test_spinning_surface_is_a_still_frame_in_the_pdf(pdf):
    tex = (pdf.parent / "gradland.tex").read_text()
    label = tex.index(r"\label{\detokenize{book/free-energy:fig-fe-spin}}")
    figure = tex[tex.rindex(r"\begin{figure}", 0, label) : label]
    assert re.search(r"\\sphinxincludegraphics(?:\[[^\]]*\])?\{\{[^}]+\}\.pdf\}", figure), figure[-500:]


def test_no_type3_fonts(pdf):
    # Print shops reject Type 3 (bitmap) fonts; matplotlib writes them unless
    # pdf.fonttype is 42, which gradland.plot.use() sets.
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    type3 = [line for line in fonts.splitlines() if "Type 3" in line]
    print(f"PDF fonts: {len(fonts.splitlines()) - 2}, Type 3: {len(type3)}")
    assert not type3, f"{len(type3)} Type 3 fonts, e.g. {type3[:3]}"


def _outline(items, depth=0):
    for item in items:
        if isinstance(item, list):
            yield from _outline(item, depth + 1)
        else:
            yield depth, item.title


def test_bookmarks_mirror_the_contents(pdf):
    import pypdf

    outline = list(_outline(pypdf.PdfReader(pdf).outline))
    top = [title for depth, title in outline if depth == 0]
    print("PDF bookmarks, top level:", top)
    assert top[:2] == ["Preface", "Notation"]
    assert [t for t in top if t[:2] in ("I ", "II", "III")] == top[2:5], "the three parts follow the front matter"
    assert {"Glossary", "Bibliography", "Index"} <= set(top[5:]), "the back matter sits at the root"
    assert not [title for _, title in outline if title == "References"], "an empty References section"


def test_no_empty_references_sections(pdf):
    tex = (pdf.parent / "gradland.tex").read_text()
    assert "\\section{References}" not in tex


def test_references_to_chapters_and_sections_give_number_and_page(pdf):
    """On paper a link cannot be followed: "Energy and inference (Chapter 7, p. 141)"."""
    text = " ".join(pdf_text(pdf).split())
    chapters = re.findall(r"\(Chapter (\d+), p\. (\d+)\)", text)
    sections = re.findall(r"\(Section (\d+)\.(\d+), p\. (\d+)\)", text)
    assert len(chapters) > 100 and len(sections) >= 3
    assert {int(n) for n, _ in chapters} == set(range(1, 16))
    assert "Energy and inference (Chapter 7, p." in text


def test_the_index_lists_each_concept_once_and_no_api(pdf):
    ind = (pdf.parent / "gradland.ind").read_text()
    # an entry and its qualifier, "collapse (of an energy)", without its pages
    entries = [
        " ".join(item.split())
        for item in re.findall(r"^\s*\\item (\\spxentry\{.*?\}(?:\s*\\spxextra\{.*?\})?)", ind, re.M)
    ]
    assert len(entries) > 150
    duplicates = {entry for entry in entries if entries.count(entry) > 1}
    assert not duplicates, duplicates
    assert not re.search(r"in module|method\)|attribute\)|class in", ind)
