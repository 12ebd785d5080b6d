"""The contributor's quick commands, run by ``make check``, ``make chapter`` and ``make shot``.

::

    python tests/dev.py check              # lint, notation, tests of the changed modules
    python tests/dev.py chapter attention  # execute one chapter, fail on any warning
    python tests/dev.py shot attention ID  # screenshot one section of the built page

Each prints what it did and how long it took, and exits non-zero on a problem.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
#: The tests of ``make check``: those that need no build of the book.
NO_BUILD = "not book and not pdf and not site"


def changed_files() -> list[str]:
    """Paths, relative to the repository, changed since the last commit: modified,
    staged or untracked (not ignored). Every Python file when git cannot tell."""
    try:
        tracked = subprocess.run(
            ["git", "diff", "--name-only", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.split()
        untracked = subprocess.run(
            ["git", "ls-files", "--others", "--exclude-standard"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return [str(p.relative_to(REPO)) for p in (REPO / "code" / "gradland").glob("*.py")]
    return sorted({path for path in tracked + untracked if (REPO / path).exists()})


def tests_of(changed: list[str]) -> list[str]:
    """The doctests and unit tests that cover the changed files.

    A module ``code/gradland/m.py`` brings its doctests and ``tests/test_m*.py``;
    a changed test file ``tests/test_*.py`` brings itself.

    >>> tests_of(["code/gradland/gcn.py", "book/attention.md", "tests/test_rnn.py"])
    ['code/gradland/gcn.py', 'tests/test_gcn.py', 'tests/test_rnn.py']
    """
    chosen: set[str] = set()
    for path in changed:
        module = re.fullmatch(r"code/gradland/(\w+)\.py", path)
        if module:
            stem = module.group(1)
            chosen.add(path)
            chosen |= {str(t.relative_to(REPO)) for t in (REPO / "tests").glob(f"test_{stem.lstrip('_')}*.py")}
        elif re.fullmatch(r"tests/test_\w+\.py", path):
            chosen.add(path)
    return sorted(chosen)


def step(title: str, command: list[str]) -> tuple[str, float, int]:
    print(f"\n== {title}: {' '.join(command)}", flush=True)
    start = time.perf_counter()
    code = subprocess.run(command, cwd=REPO).returncode
    return title, time.perf_counter() - start, code


def check() -> int:
    """``make check``: lint and test what changed, and check the notation everywhere."""
    start = time.perf_counter()
    changed = changed_files()
    python = [path for path in changed if path.endswith(".py")]
    print("changed since the last commit:", ", ".join(changed) or "nothing")
    results = []
    ruff = shutil.which("ruff", path=str(Path(PYTHON).parent)) or shutil.which("ruff")
    if python and ruff:
        results.append(step("lint", [ruff, "check", *python]))
        results.append(step("format", [ruff, "format", "--check", "--diff", *python]))
    elif python:
        print("\n== lint: ruff is not installed (pip install -r requirements.txt)")
        results.append(("lint", 0.0, 1))
    results.append(step("notation", [PYTHON, "tests/notation.py"]))
    tests = tests_of(changed)
    if tests:
        results.append(step("tests", [PYTHON, "-m", "pytest", "-q", "--tb=short", "-m", NO_BUILD, *tests]))
    else:
        print("\n== tests: no module of gradland and no test file changed")
    print(
        "\n"
        + "\n".join(f"{'ok  ' if code == 0 else 'FAIL'} {title} ({seconds:.1f} s)" for title, seconds, code in results)
    )
    print(f"make check: {time.perf_counter() - start:.1f} s")
    return max((code for _, _, code in results), default=0) and 1


def run_chapter(path: Path) -> tuple[float, list[str]]:
    """Execute the MyST chapter at ``path`` in its folder, with the build's kernel settings.

    Returns the seconds it took and the problems: what a cell wrote to stderr (a
    warning, say). An error in a cell raises nbclient's ``CellExecutionError``.
    """
    import jupytext
    from nbclient import NotebookClient

    notebook = jupytext.read(path)
    ipython = REPO / "_build" / ".ipython" / "profile_default"  # as the build: no TCP notice
    ipython.mkdir(parents=True, exist_ok=True)
    (ipython / "ipython_kernel_config.py").write_text("c.IPKernelApp.log_level = 'ERROR'\n")
    os.environ["IPYTHONDIR"] = str(ipython.parent)
    start = time.perf_counter()
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    seconds = time.perf_counter() - start
    problems = []
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    glued = {}
    for cell in code:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            plain = [v for k, v in output.get("data", {}).items() if k.endswith("text/plain")]
            if name and plain:
                glued[name] = plain[0]
    out = REPO / "_build" / "chapter"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{path.stem}.glue.json").write_text(json.dumps(glued, indent=1, sort_keys=True) + "\n")
    for number, cell in enumerate(code, start=1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
                problems.append(f"code cell {number} ({first[:60]}): {output['text'].strip()[:500]}")
    return seconds, problems


def glue_changes(name: str) -> None:
    """Print the glued values of the last ``make chapter`` run that differ from those of
    the last build (``_build/jupyter_execute``), if there is one."""
    built = REPO / "_build" / "jupyter_execute" / "book" / f"{name}.glue.json"
    ran = REPO / "_build" / "chapter" / f"{name}.glue.json"
    if not built.is_file() or not ran.is_file():
        return
    before = {key: value["data"].get("text/plain") for key, value in json.loads(built.read_text()).items()}
    after = json.loads(ran.read_text())
    changed = [key for key in sorted(before.keys() | after.keys()) if before.get(key) != after.get(key)]
    for key in changed:
        print(f"  glue {key}: {before.get(key, '(none)')[:60]} -> {after.get(key, '(none)')[:60]}")
    print(f"{name}.md: {len(changed)} of {len(after)} glued values differ from the last build's")


def chapter(name: str) -> int:
    """``make chapter CH=name``: execute ``book/name.md`` as the build does, and fail on an
    error, or on any warning or other text that a cell writes to stderr."""
    sys.path.insert(0, str(REPO / "book" / "_ext"))
    from gradland_book import check_package_is_this_checkout

    check_package_is_this_checkout()
    path = REPO / "book" / f"{name}.md"
    if not path.is_file():
        stems = sorted(p.stem for p in (REPO / "book").glob("*.md") if "kernelspec" in p.read_text()[:400])
        print(f"no chapter {path}; the chapters that execute are: {', '.join(stems)}")
        return 2
    try:
        seconds, problems = run_chapter(path)
    except Exception as error:  # noqa: BLE001 - the cell's error, as the build reports it
        print(f"{path.name}: {type(error).__name__}: {error}")
        return 1
    for problem in problems:
        print(f"{path.name}: {problem}")
    glue_changes(name)
    print(f"{path.name}: executed in {seconds:.1f} s, {len(problems)} cell(s) wrote to stderr")
    return 1 if problems else 0


def shot(page: str, section: str, site: Path = REPO / "_build" / "html") -> int:
    """``make shot PAGE=attention ID=section-id``: a picture of one section of the built
    page, as headless Chromium shows it, and the MathJax errors of the page."""
    import functools
    import http.server
    import threading

    from playwright.sync_api import sync_playwright

    if not (site / "book" / f"{page}.html").is_file():
        print(f"no page {site / 'book' / (page + '.html')}: run make book first")
        return 2
    executable = os.environ.get("GRADLAND_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not executable:
        print("Chromium is not installed (see the README)")
        return 2

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out = site.parent / "shots" / f"{page}-{section or 'top'}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=executable,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            view = browser.new_page(viewport={"width": 1366, "height": 900})
            view.goto(f"http://127.0.0.1:{server.server_address[1]}/book/{page}.html")
            view.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
            view.evaluate("MathJax.startup.promise")
            errors = view.evaluate("""() => [...document.querySelectorAll('mjx-merror')].map(e =>
                (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 200))""")
            target = view.locator(f'section[id="{section}"]') if section else view.locator("main")
            if section and target.count() == 0:
                ids = view.evaluate("() => [...document.querySelectorAll('main section[id]')].map(s => s.id)")
                print(f"no section #{section} on {page}.html; its sections are: {', '.join(ids)}")
                browser.close()
                return 2
            # the sticky bars of the page would cover part of a tall section
            view.add_style_tag(
                content=".bd-header-article, .skip-link, #pst-skip-link, .bd-header { visibility: hidden !important; }"
            )
            target.first.screenshot(path=str(out))
            browser.close()
    finally:
        server.shutdown()
    print(f"{out}")
    print(json.dumps({"page": f"{page}.html", "mathjax_errors": errors}, indent=1))
    return 1 if errors else 0


def main(argv: list[str]) -> int:
    commands = {"check": (check, 0), "chapter": (chapter, 1), "shot": (shot, 2)}
    if not argv or argv[0] not in commands or len(argv) - 1 != commands[argv[0]][1]:
        print(__doc__)
        return 2
    function, _ = commands[argv[0]]
    return function(*argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
