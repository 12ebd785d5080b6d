// Run a set-up function once the page is parsed. Each is registered when this
// script loads, before searchtools.js registers its own start, so that the
// search patches below are in place when Sphinx's search runs.
function onReady(setUp) {
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
}

// Make the visible sidebar buttons work at every width.
//
// pydata-sphinx-theme 0.17 wires its drawer and collapse handlers to the first
// ".primary-toggle" and ".secondary-toggle" of the page, the buttons of its own
// header, which sphinx-book-theme 1.3 hides; the buttons a reader sees, in the
// article header, get no handler and do nothing (pydata-sphinx-theme #2451,
// sphinx-book-theme #988). Each visible button passes its click on to the
// wired one. Remove this file when the themes fix the bug: both would fire.
function forwardSidebarToggles() {
  for (const selector of [".primary-toggle", ".secondary-toggle"]) {
    const [wired, ...others] = document.querySelectorAll(selector);
    if (!wired) continue;
    for (const button of others) {
      button.addEventListener("click", (event) => {
        event.preventDefault();
        event.stopPropagation();
        wired.click();
      });
    }
  }
}

onReady(forwardSidebarToggles);

// Search that finds the teaching (tested in tests/test_site.py).
//
// Sphinx scores a page by which words it contains, not by what it is about,
// and breaks ties by title. Here the chapter that teaches a topic comes
// first: it holds the topic's main index entry (written "!single: ..."), and
// a chapter whose title names the topic gets a boost; the glossary and the
// other back matter follow the chapters, and the package's API comes last.
var Scorer = {
  objNameMatch: 11,
  objPartialMatch: 6,
  objPrio: { 0: 15, 1: 5, 2: -5 },
  objPrioDefault: 0,
  title: 15,
  partialTitle: 7,
  term: 5,
  partialTerm: 2,
  score: (result) => {
    const [docname, title, , , score] = result;
    let total = score;
    if (/(^|\/)(glossary|notation|bibliography|preface)$/.test(docname)) total -= 30;
    if (/(^|\/)manual$/.test(docname)) total -= 60;
    const page = String(title || "").split(" > ")[0].toLowerCase();
    const words = gradlandQuery().toLowerCase().split(/\s+/).filter((w) => w.length > 2);
    // a word "in the title" up to its ending: "autoencoder" names "Autoencoders ..."
    if (words.length && words.every((w) => page.includes(w.slice(0, Math.max(4, w.length - 2))))) {
      total += 20;
    }
    return total;
  },
};

// The book spells the British way; a query in American spelling finds it too.
const AMERICAN = [
  [/\b(\w{3,})iz(e|es|ed|ing|ation|ations|er|ers)\b/gi, "$1is$2"],
  [/\b(colo|behavio|neighbo|favo)r(s|ed|ing)?\b/gi, "$1ur$2"],
  [/\b(cent|met|fib)er(s|ed)?\b/gi, "$1re$2"],
  [/\b(model|label|travel)(ed|ing)\b/gi, "$1l$2"],
];

function gradlandQuery() {
  return new URLSearchParams(window.location.search).get("q") || "";
}

function britishSpelling(query) {
  return AMERICAN.reduce((text, [pattern, replacement]) => text.replace(pattern, replacement), query);
}

(function rewriteAmericanQuery() {
  const query = gradlandQuery();
  const british = britishSpelling(query);
  if (query && british !== query) {
    const params = new URLSearchParams(window.location.search);
    params.set("q", british);
    window.history.replaceState(null, "", `${window.location.pathname}?${params}`);
  }
})();

// Snippets without TeX: formulas are "..." in a result's excerpt, and code
// and outputs are left out, as they are from the search index.
function cleanSearchSnippets() {
  if (typeof Search === "undefined" || !Search.htmlToText) return;
  const htmlToText = Search.htmlToText;
  Search.htmlToText = (htmlString, anchor) => {
    const page = new DOMParser().parseFromString(htmlString, "text/html");
    page.querySelectorAll("span.math, div.math").forEach((math) => math.replaceWith(" \u2026 "));
    page.querySelectorAll("div.cell_input, div.cell_output, p.chapter-card").forEach((e) => e.remove());
    // an index entry's anchor is an empty target: show the paragraph after it
    let target = anchor ? page.querySelector(`[role="main"] ${anchor}`) : null;
    while (target && !target.textContent.trim() && target.nextElementSibling) {
      target = target.nextElementSibling;
    }
    if (target && target.textContent.trim()) return target.textContent;
    return htmlToText(page.documentElement.outerHTML, anchor);
  };
}

onReady(cleanSearchSnippets);

// Hover previews (the previews are written at build time into
// _static/previews.js by book/_ext/gradland_previews.py): resting the pointer
// on, or tabbing to, a link to a statement, figure, equation, exercise or
// glossary term shows it in a box beside the link.
function setUpPreviews() {
  const previews = window.GRADLAND_PREVIEWS;
  if (!previews) return;
  const root = new URL(document.documentElement.dataset.content_root || "./", window.location.href);
  const box = document.createElement("div");
  box.className = "gradland-preview";
  box.setAttribute("role", "tooltip");
  box.hidden = true;
  document.body.appendChild(box);
  let timer = null;

  function keyOf(link) {
    const url = new URL(link.getAttribute("href"), window.location.href);
    if (!url.hash || !url.pathname.startsWith(root.pathname)) return null;
    return decodeURIComponent(url.pathname.slice(root.pathname.length)) + url.hash;
  }

  function show(link) {
    const html = previews[keyOf(link)];
    if (!html) return;
    box.innerHTML = html;
    box.hidden = false;
    const r = link.getBoundingClientRect();
    const width = Math.min(480, window.innerWidth - 16);
    box.style.width = `${width}px`;
    box.style.left = `${Math.max(8, Math.min(r.left + window.scrollX, window.scrollX + window.innerWidth - width - 8))}px`;
    const below = r.bottom + window.scrollY + 6;
    box.style.top = `${below}px`;
    if (window.MathJax && MathJax.typesetPromise) {
      MathJax.typesetPromise([box]).then(() => {
        // not enough room below: put it above the link
        if (r.bottom + box.offsetHeight + 12 > window.innerHeight && r.top > box.offsetHeight + 12) {
          box.style.top = `${r.top + window.scrollY - box.offsetHeight - 6}px`;
        }
      });
    }
  }

  function hide() {
    clearTimeout(timer);
    box.hidden = true;
  }

  for (const link of document.querySelectorAll("main a.reference.internal, main a.reference.internal *")) {
    const a = link.closest("a");
    if (a.dataset.preview || !previews[keyOf(a)]) continue;
    a.dataset.preview = "yes";
    a.setAttribute("aria-describedby", "gradland-preview");
    a.addEventListener("mouseenter", () => { clearTimeout(timer); timer = setTimeout(() => show(a), 250); });
    a.addEventListener("focus", () => show(a));
    a.addEventListener("mouseleave", hide);
    a.addEventListener("blur", hide);
  }
  box.id = "gradland-preview";
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") hide(); });
}

onReady(setUpPreviews);

// Permalinks: a statement or an exercise box gets the "#" link that sections,
// figures and equations have, to its stable label (ex-fe-two-latents, ...).
function addBoxPermalinks() {
  for (const box of document.querySelectorAll("main div.proof[id], main div.exercise[id]")) {
    const title = box.querySelector(":scope > p.admonition-title");
    if (!title || box.id === "proof" || title.querySelector("a.headerlink")) continue;
    const link = document.createElement("a");
    link.className = "headerlink";
    link.href = `#${box.id}`;
    link.title = "Link to this box";
    link.textContent = "#";
    title.appendChild(link);
  }
}

onReady(addBoxPermalinks);

// Figures open full size: a click (or Enter) on a figure or a plotted output
// shows the image as large as the window allows; a click or Escape closes it.
function setUpLightbox() {
  const overlay = document.createElement("div");
  overlay.className = "gradland-lightbox";
  overlay.hidden = true;
  overlay.setAttribute("role", "dialog");
  overlay.setAttribute("aria-label", "Figure, full size");
  document.body.appendChild(overlay);
  const close = () => { overlay.hidden = true; document.body.classList.remove("gradland-lightbox-open"); };
  overlay.addEventListener("click", close);
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") close(); });
  for (const img of document.querySelectorAll("main figure img, main div.cell_output img")) {
    if (img.closest("a")) continue;
    img.classList.add("gradland-zoomable");
    img.tabIndex = 0;
    img.title = "Open full size";
    const open = () => {
      const large = document.createElement("img");  // made on demand: no empty image in the page
      large.src = img.currentSrc || img.src;
      large.alt = img.alt;
      overlay.replaceChildren(large);
      overlay.hidden = false;
      document.body.classList.add("gradland-lightbox-open");
    };
    img.addEventListener("click", open);
    img.addEventListener("keydown", (event) => { if (event.key === "Enter") open(); });
  }
}

onReady(setUpLightbox);

// A sense of progress through a long chapter: a thin bar under the header
// fills as the reader scrolls, and says which section they are in.
function setUpProgress() {
  const article = document.querySelector("main article.bd-article");
  if (!article || !document.querySelector("p.chapter-card")) return;  // chapters only
  const bar = document.createElement("div");
  bar.className = "gradland-progress";
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-label", "Progress through the chapter");
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  document.body.appendChild(bar);
  const sections = Array.from(article.querySelectorAll("section > h2"));
  const update = () => {
    const top = article.getBoundingClientRect().top + window.scrollY;
    const span = Math.max(1, article.offsetHeight - window.innerHeight);
    const done = Math.min(100, Math.max(0, (100 * (window.scrollY - top)) / span));
    bar.style.width = `${done}%`;
    bar.setAttribute("aria-valuenow", String(Math.round(done)));
    const current = sections.filter((h) => h.getBoundingClientRect().top < window.innerHeight / 3).pop();
    bar.title = current ? current.textContent.replace("#", "").trim() : "";
  };
  window.addEventListener("scroll", update, { passive: true });
  update();
}

onReady(setUpProgress);

// A solution's title opens and closes it, link included ("Solution to
// Exercise 8.1" would otherwise jump up to the exercise), and its toggle
// button says what it does.
function setUpSolutions() {
  for (const title of document.querySelectorAll("div.solution > p.admonition-title")) {
    const button = title.querySelector("button.toggle-button");
    const link = title.querySelector("a.reference");
    if (!button) continue;
    const name = link ? link.textContent.trim() : "the exercise";
    button.setAttribute("aria-label", `Show or hide the solution to ${name}`);
    if (link) {
      link.addEventListener("click", (event) => {
        event.preventDefault();
        event.stopPropagation();
        button.click();
      });
    }
  }
}

onReady(setUpSolutions);
