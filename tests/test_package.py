"""Rules that hold across the package ``gradland``: line lengths, and a manual entry
for every public name."""

from __future__ import annotations

import ast
import re

import pytest
import yaml
from conftest import REPO

PACKAGE = REPO / "code" / "gradland"
MODULES = sorted(path.stem for path in PACKAGE.glob("*.py") if not path.stem.startswith("_"))

#: The widest line of a docstring, doctests included: the manual shows docstrings as
#: written, and a wider line is cut off in the PDF and scrolls on the web.
DOCSTRING_COLUMNS = 88
#: The widest line of package code that a chapter shows with ``literalinclude``: the
#: width of a chapter's own code cells (tests/test_book.py).
SHOWN_CODE_COLUMNS = 88


def docstrings(tree: ast.AST):
    """(name, first line number, text) of every docstring of a module, as written."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                yield getattr(node, "name", "<module>"), body[0].lineno, body[0]


@pytest.mark.parametrize("module", ["__init__", *MODULES])
def test_docstring_lines_fit_the_manual(module):
    path = PACKAGE / f"{module}.py"
    lines = path.read_text(encoding="utf-8").splitlines()
    long = []
    for name, _, node in docstrings(ast.parse("\n".join(lines))):
        for number in range(node.lineno, node.end_lineno + 1):
            if len(lines[number - 1]) > DOCSTRING_COLUMNS:
                long.append(f"{path.name}:{number} ({name}, {len(lines[number - 1])} columns)")
    assert not long, f"docstring lines over {DOCSTRING_COLUMNS} columns:\n" + "\n".join(long)


LITERALINCLUDE = re.compile(r"^```\{literalinclude\} \.\./code/gradland/(\w+)\.py\n(.*?)^```", re.M | re.S)


def literalinclude_options(options: str) -> dict[str, str]:
    """The options of a ``literalinclude``, written either as ``:key: value`` lines or as
    a YAML block between ``---`` lines (where a value such as ``prepend`` may span
    lines), as MyST reads them."""
    block = re.match(r"---\n(.*?)^---$", options, re.M | re.S)
    if block:
        return {key: str(value) for key, value in (yaml.safe_load(block.group(1)) or {}).items()}
    return {
        key: yaml.safe_load(value) if value[:1] in "'\"" else value
        for key, value in re.findall(r"^:([\w-]+):[ \t]*(.*)$", options, re.M)
    }


def included_lines(module: str, options: str) -> list[str]:
    """The lines of ``module`` that a ``literalinclude`` with ``options`` shows, as Sphinx
    selects them (``:pyobject:``, ``:start-at:``, ``:end-before:``, ``:lines:``), and the
    lines of its ``:prepend:``."""
    source = (PACKAGE / f"{module}.py").read_text(encoding="utf-8")
    lines = source.splitlines()
    option = literalinclude_options(options)
    if "pyobject" in option:
        from sphinx.pycode import ModuleAnalyzer

        tags = ModuleAnalyzer.for_string(source, module).find_tags()
        _, start, end = tags[option["pyobject"]]
        lines = lines[start - 1 : end]
    if "lines" in option:
        chosen = []
        for part in option["lines"].split(","):
            first, _, last = part.partition("-")
            chosen += lines[int(first) - 1 : int(last or first)]
        lines = chosen
    for key, keep in (("start-at", True), ("start-after", False)):
        if key in option:
            index = next(i for i, line in enumerate(lines) if option[key] in line)
            lines = lines[index if keep else index + 1 :]
    for key, keep in (("end-at", True), ("end-before", False)):
        if key in option:
            index = next(i for i, line in enumerate(lines) if option[key] in line)
            lines = lines[: index + 1 if keep else index]
    dedent = int(option.get("dedent", 0) or 0)
    return [line[dedent:] for line in lines] + option.get("prepend", "").splitlines()


def test_package_code_shown_in_a_chapter_fits_the_page():
    long = []
    for chapter in sorted((REPO / "book").glob("*.md")):
        for module, options in LITERALINCLUDE.findall(chapter.read_text(encoding="utf-8")):
            long += [
                f"{chapter.name} ({module}.py): {line}"
                for line in included_lines(module, options)
                if len(line) > SHOWN_CODE_COLUMNS
            ]
    assert not long, f"included lines over {SHOWN_CODE_COLUMNS} columns:\n" + "\n".join(long)


def public_names(module: str) -> list[str]:
    """The public names of ``gradland.<module>``: its ``__all__``, or else the functions
    and classes it defines whose names do not start with an underscore."""
    import importlib
    import inspect

    imported = importlib.import_module(f"gradland.{module}")
    defined = [
        name
        for name, value in vars(imported).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and value.__module__ == imported.__name__
    ]
    listed = getattr(imported, "__all__", None)
    if listed is not None:
        unlisted = sorted(set(defined) - set(listed))
        assert not unlisted, f"gradland.{module} defines public names left out of __all__: {unlisted}"
    return list(listed) if listed is not None else defined


def test_every_public_name_is_in_the_manual(book):
    """A module added to the package, or a name added to its ``__all__``, gets an entry
    in the manual (book/manual.md documents each module with ``automodule``)."""
    page = (book.html / "book" / "manual.html").read_text(encoding="utf-8")
    anchors = set(re.findall(r'id="([\w.-]+)"', page))
    missing = [f"gradland.{module}" for module in MODULES if f"module-gradland.{module}" not in anchors]
    missing += [
        f"gradland.{module}.{name}"
        for module in MODULES
        for name in public_names(module)
        if f"gradland.{module}.{name}" not in anchors
    ]
    import gradland

    missing += [f"gradland.{name}" for name in gradland.__all__ if f"gradland.{name}" not in anchors]
    assert not missing, f"public names with no entry in the manual: {missing}"


# --------------------------------------------------------------------------
# Complete docstrings: the sections a reader of the manual looks for
# --------------------------------------------------------------------------

#: Methods that override a hook of torch.nn.Module and are documented there.
TORCH_HOOKS = {"extra_repr"}
#: Source that means a function checks its input and may raise.
RAISES = re.compile(r"\braise\b|\b_checks\.|\b_check\w*\(")


def sections(doc: str) -> set[str]:
    """The NumPy section headings of a docstring (a title over a line of dashes)."""
    return set(re.findall(r"^ *(\w[\w ]*)\n *-{3,}$", doc, re.M))


def missing_sections(name: str, function, *, example: bool) -> list[str]:
    """The sections that the docstring of ``function`` lacks: Parameters if it takes
    arguments, Returns if it returns something, Raises if it checks what it is given,
    and an example (``>>>``) if ``example``."""
    import inspect

    doc = inspect.getdoc(function) or ""
    found = sections(doc)
    signature = inspect.signature(function)
    arguments = [p for p in signature.parameters if p not in ("self", "cls")]
    source = inspect.getsource(function)
    wanted = []
    if arguments:
        wanted.append("Parameters")
    if signature.return_annotation not in (None, "None", inspect.Signature.empty) and name != "__init__":
        wanted.append("Returns" if "Yields" not in found else "Yields")
    if arguments and RAISES.search(source):
        wanted.append("Raises")
    lacks = [section for section in wanted if section not in found]
    if example and ">>>" not in doc:
        lacks.append("an example")
    return lacks


@pytest.mark.parametrize("module", MODULES)
def test_public_docstrings_are_complete(module):
    """Every public function and class has a NumPy docstring with the sections that
    apply (a class documents its constructor: Parameters, Raises) and an example;
    every public method has the sections that apply."""
    import dataclasses
    import importlib
    import inspect

    mod = importlib.import_module(f"gradland.{module}")
    defined = [
        name
        for name, value in vars(mod).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and value.__module__ == mod.__name__
    ]
    gaps = []
    for name in getattr(mod, "__all__", defined):
        obj = getattr(mod, name)
        if inspect.isfunction(obj):
            gaps += [f"{name}: {lack}" for lack in missing_sections(name, obj, example=True)]
        elif inspect.isclass(obj):
            doc = inspect.getdoc(obj) or ""
            if ">>>" not in doc:
                gaps.append(f"{name}: an example")
            init = vars(obj).get("__init__")
            if dataclasses.is_dataclass(obj):
                if not sections(doc) & {"Parameters", "Attributes"}:
                    gaps.append(f"{name}: Attributes")
            elif init is not None:
                lacks = missing_sections("__init__", init, example=False)
                gaps += [f"{name}: {lack}" for lack in lacks if lack not in sections(doc)]
            for attribute, value in vars(obj).items():
                public = not attribute.startswith("_") or attribute == "__call__"
                if public and inspect.isfunction(value) and attribute not in TORCH_HOOKS:
                    gaps += [
                        f"{name}.{attribute}: {lack}" for lack in missing_sections(attribute, value, example=False)
                    ]
    assert not gaps, f"gradland.{module}: docstrings that lack a section:\n" + "\n".join(gaps)


#: The most lines a module of the package may hold: a module is one idea of one
#: chapter, short enough to read through.
MODULE_LINES = 800


@pytest.mark.parametrize("module", ["_checks", *MODULES])
def test_no_module_is_over_800_lines(module):
    lines = len((PACKAGE / f"{module}.py").read_text(encoding="utf-8").splitlines())
    assert lines <= MODULE_LINES, f"gradland/{module}.py has {lines} lines, over {MODULE_LINES}: split it"


#: The checks that stay with their modules (see the docstring of gradland._checks):
#: an edge list, queries and keys, a batch of sequences, a grid of latents, pairs.
OWN_CHECKS = 5


def test_input_checks_live_in_one_place():
    """Every check helper is in gradland._checks, except a handful that hold knowledge
    of one module's subject only."""
    own = [
        f"{path.name}: {name}"
        for path in sorted(PACKAGE.glob("*.py"))
        if path.stem != "_checks"
        for name in re.findall(r"^\s*def (_check\w*)\(", path.read_text(encoding="utf-8"), re.M)
    ]
    assert len(own) <= OWN_CHECKS, "check helpers outside gradland._checks:\n" + "\n".join(own)
