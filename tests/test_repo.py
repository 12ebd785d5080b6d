"""The repository as a contributor and a packager meet it."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import gradland
import gradland_book
import pytest
import yaml
from conftest import BIN, REPO


def test_workflow_passes_actionlint():
    workflows = sorted(str(p) for p in (REPO / ".github" / "workflows").glob("*.yml"))
    assert workflows
    done = subprocess.run([str(BIN / "actionlint"), *workflows], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_workflow_deploys_with_least_privilege():
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "book.yml").read_text())
    assert workflow["permissions"] == {"contents": "read"}
    deploy = workflow["jobs"]["deploy"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    # the one job that writes to the repository only pushes the branch of notebooks
    notebooks = workflow["jobs"]["notebooks"]
    assert notebooks["permissions"] == {"contents": "write"}
    assert "notebooks\n" in notebooks["steps"][-1]["run"]
    assert gradland_book.NOTEBOOK_BRANCH == "notebooks"
    steps = [s.get("uses", "") for job in workflow["jobs"].values() for s in job["steps"]]
    assert "actions/upload-pages-artifact@v3" in steps and "actions/deploy-pages@v4" in steps


def test_citation_file_is_valid():
    done = subprocess.run(
        [str(BIN / "cffconvert"), "--validate", "-i", str(REPO / "CITATION.cff")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_citation_preface_and_package_agree_on_the_version():
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert citation["version"] == gradland.__version__
    bibtex_version = re.search(r"version\s*=\s*\{([^}]*)\}", (REPO / "book" / "preface.md").read_text())
    assert bibtex_version and bibtex_version.group(1) == gradland.__version__
    # the install lines for readers pin the book's version (its tag), as the notebooks do
    for path in (REPO / "README.md", REPO / "book" / "preface.md", REPO / "book" / "manual.md"):
        pins = re.findall(r'"gradland\[data\] @ git\+\S+@(\S+)"', path.read_text())
        assert pins and set(pins) == {f"v{gradland.__version__}"}, (path.name, pins)


def test_built_wheel_installs_in_a_fresh_venv(tmp_path):
    wheels = tmp_path / "wheels"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(REPO)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = wheels.glob("gradland-*.whl")
    assert f"-{gradland.__version__}-" in wheel.name

    fresh = tmp_path / "venv"
    venv.create(fresh, with_pip=True)
    python = fresh / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)
    # torch, numpy and matplotlib come from this environment's site-packages
    # (a plain path entry, so the editable install of gradland stays inactive).
    site_packages = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site_packages, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run(
        [str(python), "-c", "import gradland; print(gradland.__version__, gradland.__file__, gradland.device())"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    version, location, _ = done.stdout.split()
    assert version == gradland.__version__
    assert location.startswith(str(fresh))


@pytest.mark.parametrize("script", sorted((REPO / "code" / "benchmarks").glob("*.py")), ids=lambda p: p.name)
def test_benchmark_scripts_run_and_compare_the_same_computation(script):
    """Each benchmark runs on a tiny problem and prints, as JSON, one or more comparisons
    made by ``gradland.bench.compare``: the two implementations agree (float32, so to
    about 1e-5; the autodiff one compares the first losses), and the speedup is theirs
    over ours. It is not timed here."""
    import json

    out = subprocess.run(
        [sys.executable, str(script), "--json", *SMALL[script.stem]],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    result = json.loads(out.stdout)
    comparisons = [value for value in (result, *result.values()) if isinstance(value, dict) and "speedup" in value]
    assert comparisons, result
    for comparison in comparisons:
        assert set(comparison) >= {"ours_s", "theirs_s", "speedup", "max_difference", "device"}
        assert comparison["max_difference"] < 1e-4, comparison
        assert comparison["speedup"] == pytest.approx(comparison["theirs_s"] / comparison["ours_s"])
        assert comparison["device"] == gradland.device_name()


SMALL = {
    "autodiff_mlp": ["--batch", "8", "--width", "16", "--rounds", "1", "--number", "1"],
    "gcn_sparse": ["--nodes", "50", "--edges", "200", "--features", "4", "--rounds", "1", "--number", "1"],
    "transformer_block": [
        "--batch",
        "2",
        "--seq",
        "4",
        "--d-model",
        "8",
        "--heads",
        "2",
        "--rounds",
        "1",
        "--number",
        "1",
    ],
}


def test_the_repository_address_is_set_in_one_place():
    """``_config.yml``'s ``repository: url`` is the address; the launch buttons and the
    notebooks' install line read it (``gradland_book.REPOSITORY``), and every file that
    writes it out agrees."""
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    repository = config["repository"]["url"].rstrip("/")
    owner, name = repository.split("/")[-2:]
    pages = f"https://{owner}.github.io/{name}/"
    assert gradland_book.REPOSITORY == repository

    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert citation["repository-code"] == repository and citation["url"] == pages
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    urls = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["urls"]
    assert urls == {"Book": pages, "Source": repository}

    files = [REPO / "README.md", REPO / "book" / "preface.md", REPO / "book" / "manual.md"]
    written = re.compile(r"https://github\.com/[\w.-]+/[\w.-]*gradland[\w.-]*|https://[\w.-]+\.github\.io/[\w.-]+/?")
    seen = 0
    for path in files:
        for address in written.findall(path.read_text()):
            seen += 1
            assert address in (repository, pages, pages.rstrip("/")), f"{path.name}: {address}"
    assert seen >= 5  # README, Preface and manual


@pytest.mark.parametrize("command", [["check"], ["format", "--check", "--diff"]], ids=["lint", "format"])
def test_ruff_finds_nothing_to_change(command):
    """The Python of the repository (the package, its benchmarks, the tests and the
    book's extension) passes ruff's lint, with the rules of pyproject.toml (pyflakes,
    the pycodestyle errors and warnings, the order of imports), and is laid out as
    ruff format lays it out."""
    paths = ["code", "tests", "book/_ext"]
    done = subprocess.run([str(BIN / "ruff"), *command, *paths], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
