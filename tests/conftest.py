"""Fixtures shared by the tests of the book: one strict build from a clean
cache per test session, its PDF, a local web server and headless Chromium.

With ``GRADLAND_REUSE_BUILD=1`` (``make check-book``) the fixtures take the book
that ``make book`` left in ``_build`` instead of building one, so that the tests
of the book run against the build just made. The tests are marked by what they
need (see :func:`pytest_collection_modifyitems`): ``-m "not book"`` leaves out
every test that needs a build.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings

# One Hypothesis profile for the whole suite: no deadline (a first call that compiles
# a kernel or touches a GPU is slow, and says nothing about correctness), a fixed
# sequence of examples so that a run on a clean clone is the run a contributor saw,
# and the seed of any failure printed. Tests choose only how many examples they need.
settings.register_profile(
    "gradland",
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("gradland")

REPO = Path(__file__).resolve().parents[1]

#: The devices a test that takes the ``device`` fixture runs on: the CPU always, CUDA when
#: there is one (the skipped CUDA case marks the test ``gpu``).
DEVICES = [
    pytest.param("cpu"),
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")),
]


@pytest.fixture(params=DEVICES)
def device(request):
    """Each available device in turn, as a :class:`torch.device`."""
    return torch.device(request.param)


BIN = Path(sys.executable).parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
REUSE_BUILD = os.environ.get("GRADLAND_REUSE_BUILD", "").lower() in {"1", "true", "yes"}
#: Where ``make book`` writes the output of its HTML build, for ``make check-book``.
BUILD_LOG = REPO / "_build" / "html-build.log"

#: Fixture -> the markers of the tests that use it (directly or through another fixture).
FIXTURE_MARKERS = {
    "book": ("book",),
    "student": ("book",),
    "pdf": ("book", "pdf"),
    "site": ("book", "site"),
    "browser": ("site",),
}


def pytest_collection_modifyitems(config, items) -> None:
    """Mark each test by the fixtures it uses: ``book`` (a built book), ``pdf`` (TeX
    Live), ``site`` (the site served to Chromium). Tests that build a book of their
    own say so with ``@pytest.mark.book``; ``gpu`` marks the tests that need CUDA."""
    for item in items:
        for fixture in getattr(item, "fixturenames", ()):
            for name in FIXTURE_MARKERS.get(fixture, ()):
                item.add_marker(getattr(pytest.mark, name))
        skipif = [mark for mark in item.iter_markers("skipif") if "CUDA" in str(mark.kwargs.get("reason", ""))]
        if any("needs" in mark.kwargs["reason"] for mark in skipif):
            item.add_marker(pytest.mark.gpu)


sys.path.insert(0, str(REPO / "book" / "_ext"))


def missing_tool(what: str) -> None:
    """Skip a test for a missing system tool, except in CI where it is required."""
    message = f"{what} is not installed here, so this test cannot run (see README)"
    if IN_CI:
        pytest.fail(message + "; CI requires it")
    pytest.skip(message)


@dataclass
class Build:
    root: Path  # the --path-output folder; the site is root/_build/html
    output: str
    seconds: float
    returncode: int

    @property
    def html(self) -> Path:
        return self.root / "_build" / "html"


def jupyter_book(root: Path, *args: str, env: dict[str, str] | None = None) -> Build:
    """Run ``jupyter-book build`` on the repository, strictly, into ``root``."""
    command = [
        str(BIN / "jupyter-book"),
        "build",
        str(REPO),
        "--path-output",
        str(root),
        "-n",
        "-W",
        "--keep-going",
        *args,
    ]
    start = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=REPO, env=None if env is None else {**os.environ, **env}
    )
    seconds = time.perf_counter() - start
    return Build(root, done.stdout + done.stderr, seconds, done.returncode)


@pytest.fixture(scope="session")
def book(tmp_path_factory) -> Build:
    """The HTML book, built strictly from a clean execution cache (or, with
    ``GRADLAND_REUSE_BUILD=1``, the one ``make book`` built in ``_build``)."""
    if REUSE_BUILD:
        if not (REPO / "_build" / "html" / "index.html").is_file():
            pytest.fail("GRADLAND_REUSE_BUILD=1 tests the book in _build, and there is none: run make book")
        output = BUILD_LOG.read_text() if BUILD_LOG.is_file() else ""
        return Build(REPO, output, 0.0, 0)
    build = jupyter_book(tmp_path_factory.mktemp("book"))
    assert build.returncode == 0, f"the strict book build failed:\n{build.output[-20000:]}"
    return build


@pytest.fixture(scope="session")
def pdf(book) -> Path:
    """The PDF of the whole book, built from the same cache, copied into the site."""
    import gradland_book  # book/_ext, on sys.path above

    if not gradland_book.can_build_pdf():
        missing_tool("TeX Live (xelatex, latexmk)")
    path = book.root / "_build" / "latex" / "gradland.pdf"
    if REUSE_BUILD and path.is_file():
        shutil.copy(path, book.html / "gradland.pdf")
        return path
    build = jupyter_book(book.root, "--builder", "pdflatex")
    assert build.returncode == 0, f"the PDF build failed:\n{build.output[-20000:]}"
    assert path.is_file(), f"no PDF at {path}:\n{build.output[-5000:]}"
    shutil.copy(path, book.html / "gradland.pdf")
    return path


@pytest.fixture(scope="session")
def student(book, tmp_path_factory):
    """The student edition, built like `make student`: from the full edition's executed chapters."""
    cache = book.root / "_build" / ".jupyter_cache"
    root = REPO / "_build" / "student" if REUSE_BUILD else tmp_path_factory.mktemp("student")
    build = jupyter_book(root, env={"GRADLAND_EDITION": "student", "GRADLAND_EXECUTION_CACHE": str(cache)})
    assert build.returncode == 0, f"the student edition failed:\n{build.output[-20000:]}"
    return build


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output readable
        pass


@pytest.fixture(scope="session")
def site(book, request) -> str:
    """Base URL of the built site, served over HTTP on a free local port.

    The PDF is added to the site first when TeX Live is here, so that the
    download link can be followed too.
    """
    if shutil.which("xelatex") or IN_CI:
        request.getfixturevalue("pdf")
    handler = functools.partial(QuietHandler, directory=str(book.html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def chromium_path() -> str | None:
    for candidate in (os.environ.get("GRADLAND_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium from the system (no browser is downloaded)."""
    executable = chromium_path()
    if executable is None:
        missing_tool("Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
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
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def one_cpu_thread():
    """Run a module's tests on one CPU thread, then restore the setting.

    The models of Part II are tiny: on a two-core machine, a second thread
    costs more in waiting than it saves in arithmetic.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
