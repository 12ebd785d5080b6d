"""The built site as a reader sees it, in headless Chromium."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlparse

import gradland_book
import pytest
from conftest import REPO
from gradland_book import NOTEBOOK_BRANCH, REPOSITORY

# Chapters with code cells (launch buttons); every page of the book.
NOTEBOOKS = [
    "book/linear-algebra",
    "book/derivatives",
    "book/forward-reverse",
    "book/autodiff",
    "book/objects-functions",
    "book/implicit-layers",
    "book/energy-inference",
    "book/free-energy",
    "book/training-ebms",
    "book/autoencoders",
    "book/gans",
    "book/recurrent-networks",
    "book/attention",
    "book/transformers",
    "book/graph-networks",
]


def pages(book) -> list[str]:
    return sorted(str(p.relative_to(book.html)) for p in book.html.glob("book/*.html"))


@pytest.fixture(scope="module")
def tab(browser):
    page = browser.new_page()
    yield page
    page.close()


MATH_REPORT = """
async () => {
  const problems = [];
  let count = 0;
  if (typeof MathJax !== 'undefined') {  // pages without math do not load MathJax
    await MathJax.startup.promise;
    for (const item of Array.from(MathJax.startup.document.math)) {
      count += 1;
      const mml = MathJax.startup.toMML(item.root);
      if (/<merror|mathcolor="red"/.test(mml)) problems.push(item.math);
    }
  }
  const clone = document.querySelector('main').cloneNode(true);
  clone.querySelectorAll('mjx-container, pre, code, script, style, .highlight').forEach(e => e.remove());
  return {count, problems, text: clone.innerText};
}
"""


def test_every_page_renders_its_math_and_images(book, site, tab):
    errors = []
    tab.on("pageerror", lambda err: errors.append(str(err)))
    for path in pages(book):
        tab.goto(f"{site}/{path}")
        report = tab.evaluate(MATH_REPORT)
        assert not report["problems"], f"{path}: MathJax errors or undefined macros in {report['problems']}"
        raw = re.findall(r"\\[A-Za-z]+\{|\$\$|\\\(|\\\[|\{math\}|\{eq\}|\{glue", report["text"])
        assert not raw, f"{path}: raw TeX or MyST left in the text: {raw}"
        broken = tab.evaluate(
            "() => Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
        )
        assert not broken, f"{path}: images that do not load: {broken}"
    assert not errors, f"JavaScript errors: {errors}"


def test_chapter_one_has_typeset_math(site, tab):
    tab.goto(f"{site}/book/linear-algebra.html")
    assert tab.evaluate(MATH_REPORT)["count"] > 20


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag in {"img", "script"} and attrs.get("src"):
            self.links.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.links.append(attrs["href"])


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, b""


def test_no_broken_internal_link(book, site):
    parsed, broken = {}, []
    for path in [str(p.relative_to(book.html)) for p in book.html.rglob("*.html")]:
        if "_static" in path or "_sources" in path:
            continue
        base = f"{site}/{path}"
        for link in set(parse(base, parsed).links):
            target = urljoin(base, link)
            if urlparse(target).netloc != urlparse(site).netloc:
                continue
            page, fragment = urldefrag(target)
            status, _ = fetch(page)
            if status != 200:
                broken.append(f"{path} -> {link} ({status})")
            elif fragment and page.endswith(".html") and fragment not in parse(page, parsed).ids:
                broken.append(f"{path} -> {link} (no anchor #{fragment})")
    assert not broken, "broken internal links:\n" + "\n".join(sorted(broken))


def parse(url: str, parsed: dict) -> Links:
    if url not in parsed:
        links = Links()
        links.feed(fetch(url)[1].decode("utf-8", "replace"))
        parsed[url] = links
    return parsed[url]


@pytest.mark.parametrize(
    "term, chapter",
    [
        ("dimension adapter", "linear-algebra"),
        ("colour code", "notation"),
        ("Rosenbrock", "derivatives"),
        ("Wengert", "forward-reverse"),
        ("perturbation confusion", "autodiff"),
        ("purify", "objects-functions"),
        ("Neumann", "implicit-layers"),
        ("ghost variable", "energy-inference"),
        ("thermostat", "free-energy"),
        ("contrastive sample", "training-ebms"),
        ("reparameterisation", "autoencoders"),
        ("cost network", "gans"),
        ("backpropagation through time", "recurrent-networks"),
        ("hard attention", "attention"),
        ("teacher forcing", "transformers"),
        ("adjacency vector", "graph-networks"),
    ],
)
def test_search_finds_the_chapter(site, tab, term, chapter):
    tab.goto(f"{site}/search.html?q={term.replace(' ', '+')}")
    tab.wait_for_selector("#search-results ul.search li", timeout=20000)
    hrefs = tab.eval_on_selector_all("#search-results ul.search li a", "els => els.map(e => e.href)")
    assert any(f"book/{chapter}.html" in h for h in hrefs[:3]), hrefs


@pytest.mark.parametrize(
    "query, chapter",
    [
        ("free energy", "free-energy"),
        ("jacobian", "derivatives"),
        ("softargmax", "derivatives"),
        ("ELBO", "autoencoders"),
        ("message passing", "graph-networks"),
        ("backprop", "forward-reverse"),
        ("positional encoding", "transformers"),
        ("layer normalisation", "transformers"),
        ("layer normalization", "transformers"),  # American spelling
        ("normalized adjacency", "graph-networks"),
        ("attention", "attention"),
        ("autoencoder", "autoencoders"),
        ("GAN", "gans"),
    ],
)
def test_the_teaching_chapter_ranks_first(site, tab, query, chapter):
    """The chapter that teaches a topic is the first result, before the glossary and the API,
    and its excerpt shows prose, not TeX."""
    tab.goto(f"{site}/search.html?q={query.replace(' ', '+')}")
    tab.wait_for_selector("#search-results ul.search li", timeout=20000)
    first = tab.locator("#search-results ul.search li").first
    assert f"book/{chapter}.html" in first.locator("a").first.get_attribute("href")
    tab.wait_for_timeout(500)  # the excerpt is fetched after the list is shown
    excerpts = tab.eval_on_selector_all("#search-results ul.search li p.context", "els => els.map(e => e.textContent)")
    assert excerpts and not any(re.search(r"\\[a-zA-Z]+|\$|\\\(", text) for text in excerpts), excerpts


def test_every_page_links_to_both_indices(book):
    for path in pages(book):
        html = (book.html / path).read_text()
        assert 'href="../genindex.html"' in html and 'href="../py-modindex.html"' in html, path


def test_the_index_lists_concepts_and_bolds_where_they_are_taught(book):
    index = (book.html / "genindex.html").read_text()
    assert "(in module gradland" not in index  # the API is in the module index
    for term, chapter in [
        ("free energy", "free-energy"),
        ("Jacobian", "derivatives"),
        ("message passing", "graph-networks"),
    ]:
        entry = re.search(
            rf'<li><a href="[^"]*">(?:<strong>)?{re.escape(term)}(?:</strong>)?</a>.*?(?:<ul>|</li>)', index, re.S
        )
        assert entry, term
        assert re.search(rf'<a href="book/{chapter}\.html#[^"]*"><strong>', entry.group(0)), entry.group(0)


@pytest.mark.parametrize("docname", NOTEBOOKS)
def test_launch_and_download_buttons(book, site, tab, docname):
    tab.goto(f"{site}/{docname}.html")
    hrefs = tab.eval_on_selector_all(".article-header-buttons a", "els => els.map(e => e.href)")
    stem = docname.split("/")[-1]
    slug = REPOSITORY.removeprefix("https://github.com/")  # owner/name, from _config.yml
    # Colab and Binder open the notebook that CI publishes on NOTEBOOK_BRANCH,
    # the one the download button gives
    binder = f"https://mybinder.org/v2/gh/{slug}/{NOTEBOOK_BRANCH}?urlpath=lab/tree/{stem}.ipynb"
    colab = f"https://colab.research.google.com/github/{slug}/blob/{NOTEBOOK_BRANCH}/{stem}.ipynb"
    assert binder in hrefs and colab in hrefs, hrefs
    for download in (f"{site}/_notebooks/{stem}.ipynb", f"{site}/_sources/{docname}.md"):
        assert download in hrefs, (download, hrefs)
        assert fetch(download)[0] == 200
    pdf = f"{site}/gradland.pdf"
    assert (pdf in hrefs) == gradland_book.can_build_pdf()  # no link where no PDF can be built
    if (book.html / "gradland.pdf").is_file():
        status, body = fetch(pdf)
        assert status == 200 and body.startswith(b"%PDF")


def test_pdf_link_on_every_page(book):
    if not gradland_book.can_build_pdf():
        pytest.skip("no TeX Live: the site is built without a PDF link")
    for path in pages(book):
        html = (book.html / path).read_text()
        assert 'href="../gradland.pdf"' in html, f"{path} has no link to the PDF"


def test_no_pdf_button_without_tex_live(monkeypatch):
    monkeypatch.setattr(gradland_book.shutil, "which", lambda name: None)
    buttons = [{"label": "download-pdf-button", "url": "#"}, {"label": "download-source-button", "url": "a.md"}]
    context = {"header_buttons": [{"buttons": buttons}], "pathto": lambda name, flag: name}
    gradland_book.rewrite_buttons(None, "book/derivatives", "page.html", context, None)
    assert [item["label"] for item in context["header_buttons"][0]["buttons"]] == ["download-source-button"]


SIDEBARS = """
() => {
  const primary = document.querySelector('.bd-sidebar-primary');
  return {
    primaryDrawer: document.querySelector('#pst-primary-sidebar-modal').open,
    secondaryDrawer: document.querySelector('#pst-secondary-sidebar-modal').open,
    primaryShown: getComputedStyle(primary).visibility !== 'hidden'
      && primary.getBoundingClientRect().right > 0,
  };
}
"""


def _visible(tab, selector):
    buttons = [b for b in tab.locator(selector).all() if b.is_visible()]
    assert buttons, f"no visible {selector}"
    return buttons[0]


@pytest.mark.parametrize("width", [390, 800, 1100, 1366])
def test_sidebar_buttons_open_and_close_the_navigation(site, browser, width):
    # Below 992 px the chapter list is a drawer; from 992 px a sidebar that the
    # same button hides. The in-page contents is a drawer below 1200 px.
    page = browser.new_page(viewport={"width": width, "height": 800})
    try:
        page.goto(f"{site}/book/free-energy.html")
        before = page.evaluate(SIDEBARS)
        assert not before["primaryDrawer"] and not before["secondaryDrawer"]
        _visible(page, ".primary-toggle").click()
        page.wait_for_timeout(300)
        after = page.evaluate(SIDEBARS)
        if width < 992:
            assert after["primaryDrawer"], "the chapter drawer did not open"
            page.keyboard.press("Escape")
            page.wait_for_timeout(300)
            assert not page.evaluate(SIDEBARS)["primaryDrawer"], "the chapter drawer did not close"
        else:
            assert before["primaryShown"] and not after["primaryShown"], "the sidebar did not hide"
            _visible(page, ".primary-toggle").click()
            page.wait_for_timeout(300)
            assert page.evaluate(SIDEBARS)["primaryShown"], "the sidebar did not come back"
        if width < 1200:
            _visible(page, ".secondary-toggle").click()
            page.wait_for_timeout(300)
            assert page.evaluate(SIDEBARS)["secondaryDrawer"], "the contents drawer did not open"
            page.keyboard.press("Escape")
            page.wait_for_timeout(300)
            assert not page.evaluate(SIDEBARS)["secondaryDrawer"], "the contents drawer did not close"
    finally:
        page.close()


LAYOUT = """
async () => {
  if (typeof MathJax !== 'undefined') await MathJax.startup.promise;
  const cut = [];
  for (const span of document.querySelectorAll('span.math')) {
    const s = getComputedStyle(span);
    const over = span.scrollWidth - span.clientWidth;
    if ((over > 1 && s.overflowX === 'hidden') || (over > 8 && s.overflowX === 'visible')) {
      cut.push(span.textContent.slice(0, 60));
    }
  }
  const scrolling = [];
  for (const pre of document.querySelectorAll('div.cell_input pre')) {
    if (pre.offsetParent !== null && pre.scrollWidth > pre.clientWidth + 1) scrolling.push(pre.textContent.slice(0, 60));
  }
  return {pans: document.documentElement.scrollWidth > window.innerWidth + 1, cut, scrolling};
}
"""


@pytest.fixture(scope="module")
def phone(browser):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    yield page
    page.close()


@pytest.fixture(scope="module")
def laptop(browser):
    page = browser.new_page(viewport={"width": 1366, "height": 800})
    yield page
    page.close()


def test_nothing_is_cut_off_on_a_phone(book, site, phone):
    """At 390 px no page pans sideways, and an inline formula wider than the
    column scrolls in its own line instead of being clipped."""
    problems = {}
    for path in pages(book):
        phone.goto(f"{site}/{path}")
        layout = phone.evaluate(LAYOUT)
        if layout["pans"] or layout["cut"]:
            problems[path] = layout
    assert not problems, problems


def test_code_and_math_fit_on_a_laptop_screen(book, site, laptop):
    """The shown code, written to 88 columns, needs no horizontal scrolling at 1366 px,
    and no inline formula runs out of its column."""
    problems = {}
    for path in pages(book):
        laptop.goto(f"{site}/{path}")
        layout = laptop.evaluate(LAYOUT)
        if layout["scrolling"] or layout["cut"] or layout["pans"]:
            problems[path] = layout  # code that scrolls, a formula past its column
    assert not problems, problems


def _hover(page, selector):
    link = page.locator(selector).first
    link.scroll_into_view_if_needed()
    link.hover()
    page.wait_for_selector("div.gradland-preview:not([hidden])", timeout=5000)
    page.wait_for_timeout(300)  # MathJax typesets the copy
    return page.evaluate(
        "() => { const b = document.querySelector('div.gradland-preview');"
        " return {text: b.innerText, math: b.querySelectorAll('mjx-container').length}; }"
    )


def test_hover_previews_show_what_a_link_points_to(site, laptop):
    laptop.goto(f"{site}/book/free-energy.html")
    definition = _hover(laptop, 'main a.reference.internal[href="#def-fe-zero-temperature"]')
    assert "Definition 8.1" in definition["text"] and definition["math"] > 0
    laptop.mouse.move(0, 0)
    laptop.wait_for_selector("div.gradland-preview", state="hidden")
    equation = _hover(laptop, 'main a.reference.internal[href^="#equation-"]')
    assert equation["math"] == 1
    laptop.goto(f"{site}/book/derivatives.html")
    term = _hover(laptop, 'main a.reference.internal[href^="glossary.html#term-"]')
    assert "Taught in" in term["text"]


def test_boxes_have_permalinks(site, laptop):
    laptop.goto(f"{site}/book/free-energy.html")
    for box in ("ex-fe-two-latents", "def-fe-zero-temperature"):
        assert laptop.locator(f'#{box} > p.admonition-title a.headerlink[href="#{box}"]').count() == 1


def test_printing_a_chapter_leaves_the_solutions_folded(site, browser, tmp_path):
    import subprocess

    def printed(page, name):
        page.pdf(path=str(tmp_path / name))
        text = subprocess.run(
            ["pdftotext", str(tmp_path / name), "-"], capture_output=True, text=True, check=True
        ).stdout
        return " ".join(text.split())

    page = browser.new_page()
    try:
        page.goto(f"{site}/book/free-energy.html")
        page.wait_for_timeout(500)
        body = page.evaluate("() => document.querySelector('div.solution section').textContent")
        words = max(re.findall(r"[A-Za-z][A-Za-z ,]{30,}[A-Za-z]", body), key=len)  # prose, no formulas
        folded = printed(page, "folded.pdf")
        page.locator("div.solution button.toggle-button").first.click()
        page.wait_for_timeout(300)
        opened = printed(page, "opened.pdf")
    finally:
        page.close()
    phrase = " ".join(words.split())
    assert "Exercise 8.1" in folded and phrase not in folded
    assert phrase in opened  # a solution the reader opened does print


def test_glossary_entries_link_to_where_they_are_taught(book):
    html = (book.html / "book" / "glossary.html").read_text()
    terms = len(re.findall(r'<dt id="term-', html))
    taught = re.findall(
        r'<p class="glossary-taught">Taught in <a class="reference internal" href="([a-z-]+)\.html#', html
    )
    assert terms > 100 and len(taught) > 0.8 * terms, (terms, len(taught))
    assert set(taught) <= {path.stem for path in (REPO / "book").glob("*.md")} - {"glossary", "manual"}


@pytest.mark.parametrize("width", [390, 1366])
def test_figures_open_full_size(site, browser, width):
    page = browser.new_page(viewport={"width": width, "height": 800})
    try:
        page.goto(f"{site}/book/training-ebms.html")
        figure = page.locator("main figure img").first
        figure.scroll_into_view_if_needed()
        shown = figure.bounding_box()["width"]
        figure.click()
        large = page.locator("div.gradland-lightbox img")
        large.wait_for(state="visible")
        assert large.bounding_box()["width"] > 1.5 * shown  # enlarged
        page.keyboard.press("Escape")
        large.wait_for(state="hidden")
    finally:
        page.close()


def test_a_chapter_shows_progress_as_it_is_read(site, laptop):
    laptop.goto(f"{site}/book/free-energy.html")
    start = laptop.evaluate(
        "() => Number(document.querySelector('div.gradland-progress').getAttribute('aria-valuenow'))"
    )
    laptop.evaluate("() => window.scrollTo(0, document.body.scrollHeight / 2)")
    laptop.wait_for_timeout(300)
    middle = laptop.evaluate(
        "() => Number(document.querySelector('div.gradland-progress').getAttribute('aria-valuenow'))"
    )
    assert start == 0 and 30 < middle < 70


def test_a_solution_title_opens_the_solution(site, laptop):
    laptop.goto(f"{site}/book/free-energy.html")
    solution = laptop.locator("div.solution").first
    button = solution.locator("button.toggle-button")
    assert "solution to Exercise 8.1" in button.get_attribute("aria-label")
    solution.locator("p.admonition-title a.reference").click()
    laptop.wait_for_timeout(300)
    assert button.get_attribute("aria-expanded") == "true"
    assert "#ex-" not in laptop.url  # the click opened the solution instead of jumping away


def test_every_figure_downloads_from_its_caption_as_svg_and_pdf(book, site):
    from pypdf import PdfReader

    labels = set()
    for path in pages(book):
        html = (book.html / path).read_text()
        for label in re.findall(r'<figure class="[^"]*" id="(fig-[\w-]+)">', html):
            labels.add(label)
            links = re.findall(rf'href="\.\./_downloads/figures/{label}\.(svg|pdf)"', html)
            assert "pdf" in links and ("svg" in links or label == "fig-fe-spin"), (path, label, links)
    assert len(labels) >= 59
    svg = fetch(f"{site}/_downloads/figures/fig-fe-energy-z.svg")
    assert svg[0] == 200 and b"fig-fe-energy-z of Gradland" in svg[1] and b"CC BY-SA 4.0" in svg[1]
    pdf = book.html / "_downloads" / "figures" / "fig-fe-energy-z.pdf"
    assert "CC BY-SA 4.0" in PdfReader(pdf).metadata["/Subject"]
