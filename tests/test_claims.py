"""The claims the chapters make about their results (gradland.claims).

Each chapter states, in hidden cells, the conditions under which its sentences
hold (``claim("...", "a < b")``). The build checks them on the run that made
the page. These tests check them, without running anything, on the values
recorded from two other runs of the book at version 0.1.0 (commit 88f3d20): the
default CPU build and a ``GRADLAND_FULL=1`` build on an NVIDIA H200 GPU
(``tests/recorded/glue-*.json``, chapter -> glue name -> value; the GPU run
kept strings and tuples only as their type name). A claim on a name glued only since then is
counted as not recorded. The tests also check that the glued numbers never
read ``nan`` or ``-0`` in the prose.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from conftest import REPO
from gradland import claims

RECORDED = {
    "cpu": REPO / "tests" / "recorded" / "glue-cpu.json",
    "h200-full": REPO / "tests" / "recorded" / "glue-h200-full.json",
}
CHAPTERS = sorted(p for p in (REPO / "book").glob("*.md") if "kernelspec" in p.read_text()[:400])
CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```$", re.S | re.M)
GLUE_TEXT = re.compile(r"\{glue:text\}`([\w-]+)(?::([^`]*))?`")


def code_cells(chapter: Path) -> list[tuple[list[str], str]]:
    """(tags, source) of each code cell, magics dropped."""
    cells = []
    for body in CELL.findall(chapter.read_text()):
        lines = body.splitlines()
        tags = []
        while lines and lines[0].startswith(":"):
            match = re.match(r":tags:\s*\[(.*)\]", lines.pop(0))
            if match:
                tags += [t.strip().strip("'\"") for t in match.group(1).split(",")]
        source = "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))
        cells.append((tags, source))
    return cells


def claim_calls(source: str) -> list[ast.Call]:
    calls = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name == "claim":
                calls.append(node)
    return calls


def chapter_claims(chapter: Path) -> list[tuple[str, str]]:
    """The (statement, condition) pairs of a chapter, in order."""
    found = []
    for _, source in code_cells(chapter):
        for call in claim_calls(source):
            statement, condition = (ast.literal_eval(arg) for arg in call.args)
            found.append((statement, condition))
    return found


UNRECORDED = object()  # a value the recording kept only as its type name


def recorded(run: str) -> dict[str, dict]:
    """Chapter -> glue name -> value; tuples come back from their text, ``"(3, 4)"``."""

    def value(v):
        if v in {"str", "tuple"}:
            return UNRECORDED
        if isinstance(v, str) and v.startswith("("):
            try:
                return ast.literal_eval(v)
            except (ValueError, SyntaxError):
                return v
        return v

    runs = json.loads(RECORDED[run].read_text())
    return {chapter: {k: value(v) for k, v in values.items()} for chapter, values in runs.items()}


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def reads_badly(text: str) -> bool:
    """True for what no sentence should print: nan, or a zero with a minus sign. (An
    infinity can be the point of a sentence: a naive formula that overflows.)"""
    text = text.strip().lower()
    return text == "nan" or bool(re.fullmatch(r"-0*\.?0*(e[+-]?\d+)?%?", text))


# --- the module ---------------------------------------------------------------


def test_claim_names_the_sentence_and_the_values():
    claims.glue("test_fast", 1.0)
    claims.glue("test_slow", 3.0)
    claims.claim("the fast one is faster", "test_fast < test_slow")
    with pytest.raises(claims.ClaimError, match=r'"the slow one is faster".*test_fast=1.0, test_slow=3.0'):
        claims.claim("the slow one is faster", "test_slow < test_fast")


def test_claim_refuses_names_that_were_not_glued():
    with pytest.raises(KeyError, match="test_never_glued"):
        claims.claim("something", "test_never_glued > 0")


@pytest.mark.parametrize("value", [float("nan"), -0.0])
def test_glue_refuses_what_should_never_be_printed(value):
    with pytest.raises(ValueError, match="test_bad"):
        claims.glue("test_bad", value)


def test_conditions_may_use_comprehensions_and_the_allowed_functions():
    values = {"acc": [99.0, 98.0, 40.0], "chance": 25.0}
    assert claims.names_in("all(a > chance for a in acc)") == {"acc", "chance"}
    assert claims.holds("all(a > chance for a in acc) and max(acc) > 90", values)
    with pytest.raises(KeyError, match="open"):  # no other builtins
        claims.holds("open('x')", values)


@pytest.mark.parametrize(
    "text, bad",
    [
        ("nan", True),
        ("-0", True),
        ("-0.00", True),
        ("-0.0%", True),
        ("-0e+00", True),
        ("0.00", False),
        ("-0.01", False),
        ("10", False),
    ],
)
def test_reads_badly(text, bad):
    assert reads_badly(text) is bad


# --- the chapters ---------------------------------------------------------------


def test_every_chapter_that_quotes_results_checks_its_claims():
    """A chapter that glues numbers into its prose states at least one claim."""
    without = [p.name for p in CHAPTERS if GLUE_TEXT.search(p.read_text()) and not chapter_claims(p)]
    assert not without, f"chapters with glued results and no claim(...): {without}"


def test_claims_are_literal_and_in_hidden_cells_after_their_glue():
    """The test below reads claims from the source, so they must be literal strings; the
    reader does not see them (remove-cell), and every name they read is glued on the page."""
    problems = []
    for chapter in CHAPTERS:
        text = chapter.read_text()
        glued_names = set(re.findall(r"""glue\(\s*f?["']([^"']+)["']""", text))
        patterns = [re.compile("^" + re.sub(r"\\\{[^}]*\\\}", r"\\w+", re.escape(n)) + "$") for n in glued_names]
        for tags, source in code_cells(chapter):
            for call in claim_calls(source):
                if (
                    len(call.args) != 2
                    or call.keywords
                    or not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in call.args)
                ):
                    problems.append(f"{chapter.name}: claim(...) needs two literal strings")
                    continue
                if "remove-cell" not in tags:
                    problems.append(f"{chapter.name}: claim {call.args[0].value!r} is in a visible cell")
                for name in claims.names_in(call.args[1].value):
                    if not any(p.match(name) for p in patterns):
                        problems.append(f"{chapter.name}: claim {call.args[0].value!r} reads {name}, never glued")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("run", sorted(RECORDED))
def test_claims_hold_on_the_recorded_runs(run, capsys):
    """Every claim whose names were recorded holds on that run: the CPU build and the
    full-size GPU build. Claims on names added since the recording are counted apart."""
    values = recorded(run)
    failures, counts = [], {}
    for chapter in CHAPTERS:
        chapter_values = values.get(chapter.stem, {})
        checked = unrecorded = 0
        for statement, condition in chapter_claims(chapter):
            names = claims.names_in(condition)
            if not all(chapter_values.get(name, UNRECORDED) is not UNRECORDED for name in names):
                unrecorded += 1
                continue
            checked += 1
            if not claims.holds(condition, chapter_values):
                read = {name: chapter_values[name] for name in sorted(names)}
                failures.append(f"{chapter.stem}: {statement!r}: {condition} is false for {read}")
        counts[chapter.stem] = (checked, unrecorded)
    with capsys.disabled():
        print(f"\nclaims checked against the {run} run (checked, not recorded): {counts}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("run", sorted(RECORDED))
def test_glued_prose_never_reads_nan_or_minus_zero_in_the_recorded_runs(run):
    values = recorded(run)
    problems = []
    for chapter in CHAPTERS:
        chapter_values = values.get(chapter.stem, {})
        for name, spec in GLUE_TEXT.findall(chapter.read_text()):
            value = chapter_values.get(name)
            if is_number(value):
                if spec.endswith(("d", ",")) and float(value).is_integer():
                    value = int(value)  # the recording keeps every number as a float
                text = format(value, spec or "")
                if reads_badly(text):
                    problems.append(f"{chapter.stem}: {name} reads {text!r}")
    assert not problems, "\n".join(problems)


def executed_glue(build_root: Path) -> dict[str, dict[str, str]]:
    """Chapter -> glue name -> the text of its value, from the execution cache, which keeps
    every cell (the pages drop the hidden ones)."""
    from jupyter_cache import get_cache

    cache = get_cache(build_root / "_build" / ".jupyter_cache")
    found = {}
    for record in cache.list_cache_records():
        chapter = found.setdefault(Path(record.uri).stem, {})
        for cell in cache.get_cache_bundle(record.pk).nb.cells:
            for output in cell.get("outputs", []):
                name = output.get("metadata", {}).get("scrapbook", {}).get("name")
                if name:
                    chapter[name] = "".join(output["data"].get("application/papermill.record/text/plain", ""))
    return found


def test_glued_prose_never_reads_nan_or_minus_zero_in_this_build(book):
    problems = []
    executed = executed_glue(book.root)
    for chapter in CHAPTERS:
        values = executed[chapter.stem]
        for name, spec in GLUE_TEXT.findall(chapter.read_text()):
            assert name in values, f"{chapter.stem}: {name} is not glued"
            try:
                value = ast.literal_eval(values[name])
            except (ValueError, SyntaxError):
                continue  # not a plain number or string
            if is_number(value) and reads_badly(format(value, spec or "")):
                problems.append(f"{chapter.stem}: {name} reads {format(value, spec or '')!r}")
    assert not problems, "\n".join(problems)
