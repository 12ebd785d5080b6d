r"""Notation checker of the book: the "never" column of the Notation chapter (``book/notation.md``).

The checker reads the *math* of the book and of the package:

* in a MyST Markdown chapter (``book/**/*.md``): inline ``$...$``, display
  ``$$...$$``, fenced ``{math}`` directives (backtick or colon fence), the
  ``{math}`` role, bare amsmath environments (``equation``, ``align``,
  ``gather``, ``multline``, ...) and the captions and alt texts in the options
  of code cells. Plain fences, inline code, YAML front matter and MyST
  comments are skipped;
* in a Python file of the package (``code/gradland/**/*.py``): the module,
  class and function docstrings, and in them the ``:math:`` role, the
  ``.. math::`` directive and ``$...$``.

and the *code the book shows*, the code cells of the chapters and the package
(included with ``literalinclude`` and documented in the manual): its comments
and string literals. The math of a string (``$...$``, as in the labels of
figures) follows every rule; the plain text of a comment or a string follows
:data:`CODE_RULES`, the ASCII spelling of the notation (a transpose is
``W.T``, the softargmax is not called softmax in words).

Each rule of :data:`RULES` is one entry: an id, what to write instead, and a
function that finds the offending places in one piece of math. Problems are
reported as ``path:line: [rule-id] message (offending text)``.

Run it as a script (``python tests/notation.py [paths...]``; the default is
``book`` and ``code/gradland`` of the repository) or import it:

>>> [p.rule for p in check_text(r"Let $\bm{A}^T \bm{x} \in R^n$.", ".md")]
['reals-letter', 'transpose']
>>> check_text(r"Let $\bm{A}^\top \bm{x} \in \R^n$.", ".md")
[]
"""

from __future__ import annotations

import ast
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

REPO_ROOT = Path(__file__).resolve().parent.parent

#: What the script checks when it is given no paths (relative to the repo root).
DEFAULT_PATHS = ("book", "code/gradland")

#: Folders never descended into: build outputs, generated notebooks, caches.
SKIP_DIRS = {"_build", ".ipynb_checkpoints", "__pycache__"}


# ---------------------------------------------------------------------------
# Pieces of math and where they sit in the file
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MathSpan:
    """A piece of math, as written in the file, and the line it starts on."""

    text: str
    line: int  # 1-based line of the file holding text[0]

    def line_of(self, offset: int) -> int:
        """The 1-based line of the file holding ``self.text[offset]``."""
        return self.line + self.text.count("\n", 0, offset)


@dataclass(frozen=True)
class Problem:
    """One breach of one rule."""

    path: str
    line: int
    rule: str
    message: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: [{self.rule}] {self.message} ({self.text})"


def _blank(text: str) -> str:
    """``text`` with every character but newlines replaced by a space."""
    return re.sub(r"[^\n]", " ", text)


# ---------------------------------------------------------------------------
# Finding the math in MyST Markdown
# ---------------------------------------------------------------------------

_FENCE_OPEN = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,}|:{3,})[ \t]*(?P<info>.*?)[ \t]*$")
_FENCE_CLOSE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,}|:{3,})[ \t]*$")
_DIRECTIVE = re.compile(r"^\{(?P<name>[^{}\s]+)\}\s*(?P<arg>.*)$")
_OPTION = re.compile(r"^[ \t]*:[A-Za-z][\w.-]*:(?:\s|$)")

#: Directives whose body is neither Markdown nor math: never looked at.
LITERAL_DIRECTIVES = {
    "code-cell",
    "code",
    "code-block",
    "sourcecode",
    "literalinclude",
    "raw",
    "include",
    "toctree",
    "tableofcontents",
    "bibliography",
    "mermaid",
    "graphviz",
    "csv-table",
    "jupyter-execute",
    "ipython",
}
MATH_DIRECTIVES = {"math"}
RST_DIRECTIVES = {"eval-rst"}

_AMS_ENVS = r"(?:equation|align|alignat|gather|multline|flalign|eqnarray)\*?"
_AMS_BEGIN = re.compile(r"[ \t]*(?P<begin>\\begin\{(?P<env>" + _AMS_ENVS + r")\})")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


def _find_unescaped(text: str, delim: str, start: int, stop_at_blank_line: bool) -> int:
    """Index of the next ``delim`` not escaped by a backslash, or -1."""
    j, n = start, len(text)
    while j < n:
        if text[j] == "\\":
            j += 2
            continue
        if text.startswith(delim, j):
            return j
        if stop_at_blank_line and _BLANK_LINE.match(text, j):
            return -1
        j += 1
    return -1


def _prose_math(text: str, first_line: int) -> list[MathSpan]:
    """The math in a run of Markdown prose starting on line ``first_line``.

    Scans left to right, as the MyST parser does: inline code (skipped unless
    it is the argument of a ``{math}`` role), ``$$...$$``, ``$...$`` (within a
    paragraph), amsmath environments at the start of a line, and ``\\$``
    escapes.
    """
    spans: list[MathSpan] = []

    def add(start: int, end: int) -> None:
        if end > start:
            spans.append(MathSpan(text[start:end], first_line + text.count("\n", 0, start)))

    i, n = 0, len(text)
    while i < n:
        if i == 0 or text[i - 1] == "\n":
            m = _AMS_BEGIN.match(text, i)
            if m:
                end = re.compile(r"\\end\{" + re.escape(m["env"]) + r"\}").search(text, m.end())
                stop = end.end() if end else n
                add(m.start("begin"), stop)
                i = stop
                continue
        c = text[i]
        if c == "\\":
            i += 2
        elif c == "`":
            k = re.match(r"`+", text[i:]).end()
            close = re.compile(r"(?<!`)`{%d}(?!`)" % k).search(text, i + k)
            if close is None:
                i += k
                continue
            if text.endswith("{math}", 0, i):
                add(i + k, close.start())
            i = close.end()
        elif text.startswith("$$", i):
            j = _find_unescaped(text, "$$", i + 2, stop_at_blank_line=False)
            if j < 0:
                i += 2
                continue
            add(i + 2, j)
            i = j + 2
        elif c == "$":
            j = _find_unescaped(text, "$", i + 1, stop_at_blank_line=True)
            if j < 0:
                i += 1
                continue
            add(i + 1, j)
            i = j + 1
        else:
            i += 1
    return spans


@dataclass
class _Block:
    """A fenced block being read: its fence, what its body is, its lines."""

    fence: str
    kind: str  # "markdown", "math", "rst" or "literal"
    first_line: int  # 1-based line of the first body line
    body: list[str]
    in_options: bool = True  # still reading the directive's option lines
    in_yaml: bool = False  # inside a ``---`` option block
    lines_read: int = 0


def _is_option(block: _Block, line: str) -> bool:
    """Whether ``line``, the next line of ``block``, is a directive option.

    Options (``:label: eq-x`` lines, or a ``---`` YAML block) come first in
    the body of a directive and are not content.
    """
    first = block.lines_read == 0
    block.lines_read += 1
    if not block.in_options:
        return False
    if block.in_yaml:
        if line.strip() == "---":
            block.in_yaml = False
        return True
    if first and line.strip() == "---":
        block.in_yaml = True
        return True
    if _OPTION.match(line):
        return True
    block.in_options = False
    return False


def markdown_math(text: str) -> list[MathSpan]:
    r"""Every piece of math of a MyST Markdown document.

    >>> [s.text.strip() for s in markdown_math("`$a$` and $b$\n```{math}\n:label: e\nc\n```")]
    ['b', 'c']
    """
    lines = text.split("\n")
    spans: list[MathSpan] = []
    stack: list[_Block] = []
    prose: list[str] = []
    prose_start = 0

    def flush_prose(next_start: int) -> None:
        nonlocal prose, prose_start
        if prose:
            spans.extend(_prose_math("\n".join(prose), prose_start))
        prose, prose_start = [], next_start

    def close(block: _Block) -> None:
        body = "\n".join(block.body)
        if block.kind == "math":
            spans.append(MathSpan(body, block.first_line))
        elif block.kind == "rst":
            spans.extend(rst_math(body, block.first_line))

    start = 0
    if lines and lines[0].strip() == "---":  # YAML front matter
        for k in range(1, len(lines)):
            if lines[k].strip() in ("---", "..."):
                start = k + 1
                break
    prose_start = start + 1

    for idx in range(start, len(lines)):
        line, lineno = lines[idx], idx + 1
        top = stack[-1] if stack else None
        closing = _FENCE_CLOSE.match(line)
        if top and closing and closing["fence"][0] == top.fence[0] and len(closing["fence"]) >= len(top.fence):
            flush_prose(lineno + 1)
            close(stack.pop())
            continue
        if top and top.kind != "markdown":
            top.body.append("" if _is_option(top, line) else line)  # blanks keep line numbers
            continue
        if top and _is_option(top, line):
            flush_prose(lineno + 1)
            continue
        opening = _FENCE_OPEN.match(line)
        if opening and not (opening["fence"][0] == "`" and "`" in opening["info"]):
            flush_prose(lineno + 1)
            directive = _DIRECTIVE.match(opening["info"])
            name = directive["name"] if directive else ""
            arg = directive["arg"] if directive else ""
            if not directive or name in LITERAL_DIRECTIVES or name.startswith("glue"):
                kind = "literal"
            elif name in MATH_DIRECTIVES:
                kind = "math"
                if arg:
                    spans.append(MathSpan(arg, lineno))
            elif name in RST_DIRECTIVES:
                kind = "rst"
            else:
                kind = "markdown"
                if arg:
                    spans.extend(_prose_math(arg, lineno))
            stack.append(_Block(opening["fence"], kind, lineno + 1, []))
            continue
        # A MyST comment, or a TeX comment in a $$ block: no math either way.
        prose.append("" if line.lstrip().startswith("%") else line)
    flush_prose(len(lines) + 1)
    for block in reversed(stack):  # fences left open run to the end of the file
        close(block)
    return spans


# ---------------------------------------------------------------------------
# Finding the math in reStructuredText docstrings
# ---------------------------------------------------------------------------

_RST_MATH_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\.\.[ \t]+math::(?P<arg>.*)$")
_RST_MATH_ROLE = re.compile(r":math:`(?P<math>[^`]*)`")
#: A doctest block: from a ``>>>`` prompt to the next blank line, output included.
_DOCTEST_BLOCK = re.compile(r"^[ \t]*>>>[^\n]*(?:\n[ \t]*\S[^\n]*)*", re.M)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def rst_math(text: str, first_line: int) -> list[MathSpan]:
    r"""Every piece of math of reStructuredText starting on line ``first_line``.

    Finds ``.. math::`` blocks (the directive's argument and its indented
    body, options excluded), ``:math:`` roles and, outside code and doctests, ``$...$``.

    >>> [s.text.strip() for s in rst_math("Let :math:`x`.\n\n.. math::\n   :label: e\n\n   y\n", 1)]
    ['y', 'x']
    """
    lines = text.split("\n")
    rest = list(lines)  # the text once the math blocks are blanked out
    spans: list[MathSpan] = []
    i = 0
    while i < len(lines):
        m = _RST_MATH_DIRECTIVE.match(lines[i])
        if not m:
            i += 1
            continue
        if m["arg"].strip():
            spans.append(MathSpan(m["arg"], first_line + i))
        block = _Block("", "math", first_line + i + 1, [])
        j = i + 1
        while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > len(m["indent"])):
            block.body.append("" if _is_option(block, lines[j]) else lines[j])
            j += 1
        if "".join(block.body).strip():
            spans.append(MathSpan("\n".join(block.body), block.first_line))
        rest[i:j] = [""] * (j - i)
        i = j
    prose = "\n".join(rest)
    for m in _RST_MATH_ROLE.finditer(prose):
        spans.append(MathSpan(m["math"], first_line + prose.count("\n", 0, m.start("math"))))
    prose = _RST_MATH_ROLE.sub(lambda m: _blank(m[0]), prose)
    prose = _DOCTEST_BLOCK.sub(lambda m: _blank(m[0]), prose)
    spans.extend(_prose_math(prose, first_line))  # $...$, skipping ``code``
    return spans


def _docstring_nodes(tree: ast.AST) -> Iterator[ast.Constant]:
    """The string constants that are module, class or function docstrings."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                yield body[0].value


def python_math(source: str) -> list[MathSpan]:
    r"""Every piece of math in the docstrings of a Python source file.

    The docstring is read as written in the file (between its quotes), not as
    the string it evaluates to, so line numbers match the file and escapes
    such as ``\v`` in a non-raw string are seen as the author typed them.

    >>> [s.line for s in python_math("x = 1\n\ndef f():\n    'Return :math:`y`.'\n")]
    [4]
    """
    spans: list[MathSpan] = []
    for node in _docstring_nodes(ast.parse(source)):
        literal = ast.get_source_segment(source, node) or ""
        quote = re.match(r"[rRuUbBfF]*(\"\"\"|'''|\"|')", literal)
        if quote:
            body = literal[quote.end() :]
            if body.endswith(quote[1]):
                body = body[: -len(quote[1])]
        else:
            body = literal
        spans.extend(rst_math(body, node.lineno))
    return spans


# ---------------------------------------------------------------------------
# The rules
# ---------------------------------------------------------------------------

Finder = Callable[[str], Iterable[tuple[int, int]]]


@dataclass(frozen=True)
class Rule:
    """One line of the "never" column: an id, what to write, how to find it.

    ``find`` takes a piece of math in which comments and, unless
    ``sees_text`` is set, the prose of text commands (``\text{for all }``)
    have been blanked out; it yields the ``(start, end)`` offsets of offences.
    """

    id: str
    message: str
    find: Finder
    sees_text: bool = False


def regex_finder(*patterns: str) -> Finder:
    """A finder yielding every match of any of ``patterns``."""
    compiled = [re.compile(p) for p in patterns]

    def find(math: str) -> Iterator[tuple[int, int]]:
        for pattern in compiled:
            for m in pattern.finditer(math):
                yield m.span()

    return find


def _group_end(text: str, i: int) -> int:
    """Index just after the ``{...}`` group opening at ``text[i]``."""
    depth, j = 0, i
    while j < len(text):
        if text[j] == "\\":
            j += 2
            continue
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return len(text)


def _argument(text: str, i: int) -> tuple[str, int]:
    """The TeX argument starting at (or after spaces from) ``text[i]``: its body and end."""
    while i < len(text) and text[i] in " \t\n":
        i += 1
    if i >= len(text):
        return "", i
    if text[i] == "{":
        end = _group_end(text, i)
        return text[i + 1 : end - 1], end
    if text[i] == "\\":
        m = re.compile(r"\\(?:[A-Za-z]+|.)").match(text, i)
        return m[0], m.end()
    return text[i], i + 1


#: Commands whose argument is prose inside math (``\text{for all }``).
_PROSE_ARG = re.compile(r"\\(?:text|textrm|textit|textup|textsf|textbf|mbox)(?![A-Za-z])\s*(?=\{)")
#: Commands whose argument is a word set in some font, prose or name alike.
_WORD_ARG = re.compile(
    r"\\(?:text|textrm|textit|textup|textsf|textbf|mbox|mathrm|mathit|mathsf|operatorname\*?|mathop)"
    r"(?![A-Za-z])\s*(?=\{)"
)
#: Font commands whose bare argument is a single letter: ``\mathcal R``.
_FONT_BEFORE = re.compile(r"\\(?:math[a-z]+|bm|boldsymbol|bf|rm|it|cal|pmb)\s*$")


def mask_commands(math: str, commands: re.Pattern[str]) -> str:
    """``math`` with the braced argument of each of ``commands`` blanked out."""
    out = math
    for m in commands.finditer(math):
        end = _group_end(math, m.end())
        out = out[: m.end() + 1] + _blank(out[m.end() + 1 : end - 1]) + out[end - 1 :]
    return out


#: The Greek letters, as TeX command names (a regex alternation).
_GREEK_LOWER = (
    "alpha|beta|gamma|delta|epsilon|varepsilon|zeta|eta|theta|vartheta|iota|kappa|"
    "lambda|mu|nu|xi|pi|varpi|rho|varrho|sigma|varsigma|tau|upsilon|phi|varphi|chi|"
    "psi|omega"
)
_GREEK = _GREEK_LOWER + "|Gamma|Delta|Theta|Lambda|Xi|Pi|Sigma|Upsilon|Phi|Psi|Omega"


def _not_font_argument(math: str, start: int) -> bool:
    """Whether ``math[start]`` is not the bare argument of a font command."""
    return not _FONT_BEFORE.search(math, max(0, start - 40), start)


# reals-letter ---------------------------------------------------------------

_BARE_R = re.compile(r"(?<![A-Za-z\\_^])R\s*\^(?!\s*\\top(?![A-Za-z]))")


def find_reals_letter(math: str) -> Iterator[tuple[int, int]]:
    r"""``\mathbf{R}`` (N, Z), ``\Re`` and a bare ``R^n`` used as a space."""
    yield from regex_finder(r"\\mathbf\s*(?:\{\s*[RNZ]\s*\}|[RNZ](?![A-Za-z]))", r"\\Re(?![A-Za-z])")(math)
    for m in _BARE_R.finditer(math):
        if _not_font_argument(math, m.start()):
            yield m.start(), _argument(math, m.end())[1]


# vector-arrow ---------------------------------------------------------------


def find_vector_arrow(math: str) -> Iterator[tuple[int, int]]:
    r"""``\vec{x}`` and ``\overrightarrow{x}``, with their argument."""
    for m in re.finditer(r"\\(?:vec|overrightarrow)(?![A-Za-z])", math):
        yield m.start(), _argument(math, m.end())[1]


# upright-bold ---------------------------------------------------------------


def find_upright_bold(math: str) -> Iterator[tuple[int, int]]:
    r"""``\mathbf{...}`` and ``\bf``, but not the ones of reals-letter or identity."""
    for m in re.finditer(r"\\mathbf(?![A-Za-z])", math):
        arg, end = _argument(math, m.end())
        if arg.strip() not in {"R", "N", "Z", "I"}:
            yield m.start(), end
    yield from regex_finder(r"\\bf(?![A-Za-z])")(math)


# transpose ------------------------------------------------------------------

_ALWAYS_T = r"(?:T|\\intercal|\\(?:mathsf|mathrm|text|textsf|mathtt)\s*(?:\{\s*T\s*\}|T))"
_SUP_ALWAYS_T = r"\^\s*(?:" + _ALWAYS_T + r"|\{\s*" + _ALWAYS_T + r"\s*\})"
_BOLD = r"\\(?:bm|boldsymbol|mathbf)\s*\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}"
_SUP_SMALL_T = r"\s*\^\s*(?:t|\{\s*t\s*\})(?![A-Za-z0-9])"
#: A prime, unless a time index follows: \bm{x}'[t] names a new sequence.
_PRIME = r"\s*(?:'|\^\s*\\prime(?![A-Za-z])|\^\s*\{\s*\\prime\s*\})(?!\s*\[)"


_BIG_OPERATOR_LIMIT = re.compile(
    r"\\(?:sum|prod|coprod|int|iint|iiint|oint|bigcup|bigcap|bigoplus|bigotimes|lim|max|min|sup|inf)"
    r"(?![A-Za-z])(?:\s*\\(?:no)?limits)?\s*(?:_\s*(?:\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}|\\[A-Za-z]+|\w))?\s*$"
)
#: Bases whose power T is a number: a digit, e, a lower-case Greek scalar.
_SCALAR_BASE = re.compile(r"(?:\d|(?<![A-Za-z\\])e|\\(?:" + _GREEK_LOWER + r"))\s*$")
#: Bases whose power T is a space of sequences of length T: \R^{T}, \mathbb{R}^T, \N, \Z.
_SPACE_BASE = re.compile(r"\\(?:R|N|Z|mathbb\s*\{\s*[RNZ]\s*\})\s*$")


def find_transpose(math: str) -> Iterator[tuple[int, int]]:
    r"""``^T`` and its look-alikes; ``^t`` and a prime on a bold or capital symbol.

    ``^T`` is left alone where it cannot be a transpose: as the upper limit
    of a big operator (``\sum_{t=1}^{T}``, ``\int_0^T``), as a power of a
    number or a Greek scalar (``2^T``, ``e^{T}``, ``\gamma^T``), and as the
    power of a set, a space of sequences of length T (``\R^{T}``). ``\intercal``
    and ``\mathsf{T}`` are a transpose wherever they stand.
    """
    for m in re.finditer(_SUP_ALWAYS_T, math):
        before = math[max(0, m.start() - 200) : m.start()]  # the base is just before
        letter_t = "\\" not in m[0]  # \intercal and \mathsf{T} are never a power
        if not (
            letter_t
            and (_BIG_OPERATOR_LIMIT.search(before) or _SCALAR_BASE.search(before) or _SPACE_BASE.search(before))
        ):
            yield m.span()
    for m in re.finditer(r"(?:" + _BOLD + r"|(?<![A-Za-z\\])[A-Z])" + _SUP_SMALL_T, math):
        if math[m.start()] == "\\" or _not_font_argument(math, m.start()):
            yield m.start(), m.end()
    yield from regex_finder(_BOLD + _PRIME)(math)


# identity -------------------------------------------------------------------

_BARE_I = re.compile(r"(?<![A-Za-z\\])I_")


def find_identity(math: str) -> Iterator[tuple[int, int]]:
    r"""``\mathbf{I}``, ``\bm{I}``, ``\mathbb{1}`` and ``I_n`` as a matrix."""
    yield from regex_finder(
        r"\\(?:mathbf|bm|boldsymbol)\s*(?:\{\s*I\s*\}|I(?![A-Za-z]))",
        r"\\mathbbm?\s*(?:\{\s*1\s*\}|1)",
    )(math)
    for m in _BARE_I.finditer(math):
        if _not_font_argument(math, m.start()):
            yield m.start(), _argument(math, m.end())[1]


# italic-differential --------------------------------------------------------

#: What follows an italic differential d: a variable (x, \bm{x}, \theta).
_DIFF_VAR = (
    r"(?:\s|\\[,;:!])*(?:[A-Za-z](?![A-Za-ce-z])|\\(?:bm|boldsymbol|mathbf)\s*\{"
    r"|\\(?:" + _GREEK + r")(?![A-Za-z]))"
)
_ITALIC_D_START = re.compile(r"\s*d(?:\^\s*(?:\d|\{\s*\d+\s*\}))?" + _DIFF_VAR)
_LONE_D = re.compile(r"\s*d(?:\^\s*(?:\d|\{\s*\d+\s*\}))?\s*")
_UPRIGHT_D_START = re.compile(r"\s*(?:\\mathrm\s*\{\s*d\s*\}|\\dd(?![A-Za-z])|\\operatorname\s*\{\s*d\s*\})")
_FRAC = re.compile(r"\\[dt]?frac(?![A-Za-z])")
_SLASH = re.compile(r"(?<![A-Za-z\\])d\s*[A-Za-z]\s*/\s*d\s*(?:[A-Za-z]|\\[A-Za-z]+)")  # dy/dx
_INTEGRAL = re.compile(r"\\(?:int|iint|iiint|oint)(?![A-Za-z])")
_INTEGRAL_D = re.compile(r"(?:(?<=[\s)\]}|])|(?<=\\[,;:!]))d" + _DIFF_VAR)


def find_italic_differential(math: str) -> Iterator[tuple[int, int]]:
    r"""An italic d as a differential: in ``\frac{d f}{d x}``, ``dy/dx``, ``\int ... dx``."""
    for m in _FRAC.finditer(math):
        numerator, mid = _argument(math, m.end())
        denominator, end = _argument(math, mid)
        # d alone may be a dimension (\frac{d}{2}): an italic d on top is a
        # differential only over a differential (\frac{d f}{\mathrm{d} x}).
        italic_on_top = _ITALIC_D_START.match(numerator) or _LONE_D.fullmatch(numerator)
        if _ITALIC_D_START.match(denominator) or (italic_on_top and _UPRIGHT_D_START.match(denominator)):
            yield m.start(), end
    yield from (m.span() for m in _SLASH.finditer(math))
    integral = _INTEGRAL.search(math)
    if integral:
        for m in _INTEGRAL_D.finditer(math, integral.end()):
            end = _group_end(math, m.end() - 1) if math[m.end() - 1] == "{" else m.end()
            yield m.start(), end


# named-operator -------------------------------------------------------------

NAMED_OPERATORS = ("softargmax", "softargmin", "softmax", "softmin", "argmin", "argmax", "diag", "tr")
_NAMES = "|".join(NAMED_OPERATORS)
#: Not in a sub- or superscript, where a name is a label: x_{tr}, x_{\text{tr}}.
_NOT_SCRIPT = r"(?<![_^])(?<![_^]\{)(?<![_^] )(?<![_^] \{)(?<![_^]\{ )"
_OPERATOR_AS_TEXT = re.compile(
    _NOT_SCRIPT + r"\\(?:text|textrm|textit|textup|textsf|mbox|mathrm|mathit|mathsf)\s*\{\s*(?:" + _NAMES + r")\s*\}"
)
_OPERATOR_BARE = re.compile(_NOT_SCRIPT + r"(?<![A-Za-z\\])(?:" + _NAMES + r")(?![A-Za-z])")
_OPERATOR_ARG = re.compile(r"\\(?:operatorname\*?|mathop)(?![A-Za-z])\s*(?=\{)")


def find_named_operator(math: str) -> Iterator[tuple[int, int]]:
    r"""``softmax``, ``argmin``, ``diag``, ``tr``... in italic or ``\text``/``\mathrm``.

    Names in a sub- or superscript (``\bm{x}_{\text{tr}}``) are labels, not
    operators, and are left alone; so is any other text (``\text{if}``).
    """
    math = mask_commands(math, _OPERATOR_ARG)
    yield from (m.span() for m in _OPERATOR_AS_TEXT.finditer(math))
    yield from (m.span() for m in _OPERATOR_BARE.finditer(mask_commands(math, _WORD_ARG)))


#: The rules, one entry each; add a rule by adding an entry.
RULES: list[Rule] = [
    Rule(
        "reals-letter",
        r"write the sets of numbers in blackboard bold: \R (\mathbb{R}), \N, \Z",
        find_reals_letter,
    ),
    Rule(
        "vector-arrow",
        r"write a vector in bold italic \bm{x}, not with an arrow",
        find_vector_arrow,
    ),
    Rule(
        "upright-bold",
        r"write vectors and matrices in bold italic \bm{...}, never upright \mathbf;"
        r" an expectation is \E (\mathbb{E})",
        find_upright_bold,
    ),
    Rule("transpose", r"write the transpose as ^\top", find_transpose, sees_text=True),
    Rule(
        "identity",
        r"write the identity matrix as \Id (\mathbb{I}), or \Id_n with its size",
        find_identity,
    ),
    Rule(
        "empty-set",
        r"write the empty set as \varnothing",
        regex_finder(r"\\emptyset(?![A-Za-z])"),
    ),
    Rule(
        "italic-differential",
        r"write the differential upright: \dd or \mathrm{d}, as in"
        r" \frac{\dd f}{\dd x} and \int g(z)\,\dd z",
        find_italic_differential,
    ),
    Rule(
        "named-operator",
        r"write a named operator upright with \operatorname{...} (or \softargmax,"
        r" \softmin, \argmin, \argmax, \diag)",
        find_named_operator,
        sees_text=True,
    ),
]


# ---------------------------------------------------------------------------
# The code the book shows: comments and strings
# ---------------------------------------------------------------------------
#
# The notation holds for code comments and printed labels as well. The
# book shows the code cells of its chapters and, through ``literalinclude``
# and the manual, the source of the package. In that code the checker reads
# the comments and the string literals (labels, titles, printed text), and
# applies two kinds of rules:
#
# * the math of a string, between ``$`` signs (matplotlib's mathtext, in the
#   labels of figures), obeys every rule of :data:`RULES`;
# * the plain text of a comment or a string obeys :data:`CODE_RULES`, the
#   ASCII spelling of the notation: the PDF's monospaced font has no Greek
#   letters and no superscript T, so a transpose is ``W.T`` in a comment.


@dataclass(frozen=True)
class CodeText:
    """A comment or a string literal of shown code, and the line it starts on."""

    kind: str  # "comment", "string" or "docstring"
    text: str  # the comment without its '#', or the string's value
    line: int

    def line_of(self, offset: int) -> int:
        return self.line + self.text.count("\n", 0, offset)


_CODE_CELL_OPEN = re.compile(r"^(?P<fence>`{3,}|~{3,})[ \t]*\{code-cell\}")
_STRING_PREFIX = re.compile(r"[rRuUbBfF]*")


def code_cells(text: str) -> list[tuple[str, int, str, int]]:
    r"""Every ``{code-cell}`` of a MyST chapter: its options and its code.

    Each cell is ``(options, options_line, code, code_line)``: the option lines
    (``:key: value`` lines or a ``---`` YAML block, which hold the captions and
    alt texts of figures) and the Python code, each with its first line.

    >>> code_cells("text\n```{code-cell} ipython3\n:tags: [a]\nx = 1  # one\n```\n")
    [(':tags: [a]\n', 3, 'x = 1  # one\n', 4)]
    """
    cells, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        opened = _CODE_CELL_OPEN.match(lines[i])
        if not opened:
            i += 1
            continue
        fence, start = opened["fence"], i + 1
        i += 1
        while i < len(lines) and lines[i].strip() != fence:
            i += 1
        body = lines[start:i]
        n_options = 0
        if body and body[0].strip() == "---":
            closing = [k for k in range(1, len(body)) if body[k].strip() == "---"]
            n_options = closing[0] + 1 if closing else 0
        else:
            while n_options < len(body) and body[n_options].startswith(":"):
                n_options += 1
        options = "".join(line + "\n" for line in body[:n_options])
        code = "".join(line + "\n" for line in body[n_options:])
        cells.append((options, start + 1, code, start + 1 + n_options))
        i += 1
    return cells


def _fstring_text(body: str) -> str:
    """The text of an f-string's body, with each replacement field read as ``0``."""
    out, i = [], 0
    while i < len(body):
        if body.startswith("{{", i) or body.startswith("}}", i):
            out.append(body[i])
            i += 2
        elif body[i] == "{":
            depth, j = 1, i + 1
            while j < len(body) and depth:
                depth += {"{": 1, "}": -1}.get(body[j], 0)
                j += 1
            out.append("0")
            i = j
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def _string_value(literal: str) -> str:
    """What a string literal says, as a reader sees it: raw text for f-strings."""
    prefix = _STRING_PREFIX.match(literal)[0]
    if "f" in prefix.lower():
        body = literal[len(prefix) :]
        quote = body[:3] if body[:3] in ('"""', "'''") else body[0]
        body = body[len(quote) : -len(quote)]
        if "r" not in prefix.lower():
            body = body.encode("latin-1", "backslashreplace").decode("unicode_escape")
        return _fstring_text(body)
    with warnings.catch_warnings():  # "\e" in a string that is not raw: reported elsewhere
        warnings.simplefilter("ignore", (DeprecationWarning, SyntaxWarning))
        value = ast.literal_eval(literal)
    return value.decode("latin-1") if isinstance(value, bytes) else value


def code_texts(source: str, first_line: int = 1, cell: bool = False) -> list[CodeText]:
    r"""The comments and string literals of Python ``source``.

    MyST-NB cell options (``#| ...``) are not comments; a string that is a
    docstring is marked so, because :func:`python_math` already reads its math.

    >>> [(t.kind, t.text) for t in code_texts("x = 'a'  # b\n")]
    [('string', 'a'), ('comment', ' b')]
    """
    import io
    import tokenize

    if cell:  # IPython's magics and shell escapes are not Python
        magic = re.compile(r"^[ \t]*[%!]")
        source = "\n".join("" if magic.match(line) else line for line in source.splitlines()) + "\n"
    try:
        with warnings.catch_warnings():  # invalid escapes: reported as such where it matters
            warnings.simplefilter("ignore", (DeprecationWarning, SyntaxWarning))
            tree = ast.parse(source)
        docstrings = {(n.lineno, n.col_offset) for n in _docstring_nodes(tree)}
    except SyntaxError:
        docstrings = set()
    texts = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            row, col = token.start
            line = first_line + row - 1
            if token.type == tokenize.COMMENT and not token.string.startswith("#|"):
                texts.append(CodeText("comment", token.string[1:], line))
            elif token.type == tokenize.STRING:
                kind = "docstring" if (row, col) in docstrings else "string"
                try:
                    value = _string_value(token.string)
                except (ValueError, SyntaxError, UnicodeError):
                    value = token.string
                texts.append(CodeText(kind, value, line))
    except (tokenize.TokenError, SyntaxError):
        pass  # code that does not tokenize: what came before the error is checked
    return texts


_TRANSPOSE_ASCII = re.compile(r"[A-Za-z0-9)\]]\s*(?:\^\s*\{?\s*[Tt]\s*\}?(?![A-Za-z])|ᵀ)")
_SOFTMAX_WORD = re.compile(r"(?<![\w.`'])(?<!PyTorch's )(?<!PyTorch’s )(?:log[-_ ]?)?softmax(?![\w(`])", re.IGNORECASE)


def find_code_transpose(text: str) -> Iterator[tuple[int, int]]:
    """``A^T``, ``x^t`` or ``Aᵀ`` in a comment or a string."""
    for m in _TRANSPOSE_ASCII.finditer(text):
        yield m.start(), m.end()


def find_code_softmax(text: str) -> Iterator[tuple[int, int]]:
    """The word softmax in a comment or a string, where it is not PyTorch's name."""
    for m in _SOFTMAX_WORD.finditer(text):
        yield m.start(), m.end()


def find_control_character(text: str) -> Iterator[tuple[int, int]]:
    r"""A control character in the math of a string: ``"$\beta$"`` without the r."""
    for m in re.finditer(r"[\x00-\x08\x0b-\x1f]", text):
        yield m.start(), m.end()


#: The rules for the plain text of comments and strings of the code shown.
CODE_RULES: list[Rule] = [
    Rule("code-transpose", "write a transpose in code text as W.T (or 'the transpose of W')", find_code_transpose),
    Rule(
        "code-softmax",
        "call the function softargmax in words; PyTorch's softmax only as a code name",
        find_code_softmax,
    ),
]

_RST_MATH_BLOCK = re.compile(r"^(?P<indent>[ \t]*)\.\.[ \t]+math::.*(?:\n(?:(?P=indent)[ \t]+[^\n]*|[ \t]*))*", re.M)
_RST_LITERAL = re.compile(r"``[^`]*``")
_MATH_IN_STRING = re.compile(r"(?<!\\)\$(?P<math>[^$]+?)(?<!\\)\$")


def check_code_text(text: CodeText, path: str = "<string>") -> list[Problem]:
    """Every breach of a rule in one comment or string of the code shown."""
    problems = []
    plain = text.text
    if text.kind != "comment":
        for m in _MATH_IN_STRING.finditer(text.text):
            plain = plain[: m.start()] + _blank(m[0]) + plain[m.end() :]
            if text.kind == "docstring":
                continue  # python_math reads the math of docstrings
            span = MathSpan(m["math"], text.line_of(m.start("math")))
            problems.extend(check_math(span, path))
            for start, end in find_control_character(m["math"]):
                problems.append(
                    Problem(
                        path,
                        span.line_of(start),
                        "math-string-escape",
                        'write a string holding math raw, r"...", so that \\b stays \\b',
                        repr(m["math"][max(0, start - 5) : end + 5]),
                    )
                )
    if text.kind == "docstring":  # its math and its examples are not plain text
        for pattern in (_RST_MATH_ROLE, _RST_MATH_BLOCK, _DOCTEST_BLOCK, _RST_LITERAL):
            plain = pattern.sub(lambda m: _blank(m[0]), plain)
    if re.fullmatch(r"[A-Za-z_]\w*", text.text.strip()):
        return problems  # a string that is a name: a key, an attribute, an entry of __all__
    for rule in CODE_RULES:
        for start, end in rule.find(plain):
            line_start = text.text.rfind("\n", 0, start) + 1
            line_end = text.text.find("\n", end)
            line_end = len(text.text) if line_end < 0 else line_end
            snippet = " ".join(text.text[max(line_start, start - 10) : min(line_end, end + 10)].split())
            problems.append(Problem(path, text.line_of(start), rule.id, rule.message, snippet))
    return problems


def shown_code(text: str, suffix: str) -> list[CodeText]:
    """The comments and strings of the code a file shows: its code cells, or itself."""
    if suffix == ".md":
        return [t for _, _, code, line in code_cells(text) for t in code_texts(code, line, cell=True)]
    if suffix == ".py":
        return code_texts(text)
    return []


# ---------------------------------------------------------------------------
# The symbols of the book, for the registry of the Notation chapter
# ---------------------------------------------------------------------------
#
# A *symbol* is a letter with its typeface and accents: ``x``, ``\bm{x}``,
# ``\hat{\bm{y}}``, ``\mathcal{Z}``, ``\beta``, ``\bm{\theta}``. Subscripts
# are left out (``\bm{W}_x`` and ``\bm{W}_q`` are both ``\bm{W}``, a weight
# matrix; ``F_\beta`` is ``F``), so are the words of ``\text``, ``\mathrm`` and
# ``\operatorname`` and the macros of sets (``\R``, ``\E``, ``\Id``).

_DECORATIONS = {
    "bm": "bm",
    "boldsymbol": "bm",
    "hat": "hat",
    "widehat": "hat",
    "check": "check",
    "tilde": "tilde",
    "widetilde": "tilde",
    "bar": "bar",
    "dot": "dot",
    "mathcal": "mathcal",
    "mathbb": "mathbb",
    "vec": "vec",
    "mathbf": "mathbf",
}
_WORD_COMMANDS = {
    "text",
    "textrm",
    "textit",
    "textup",
    "textsf",
    "textbf",
    "mbox",
    "mathrm",
    "operatorname",
    "mathsf",
    "mathtt",
    "label",
    "tag",
    "ref",
    "eqref",
    "begin",
    "end",
    "hspace",
    "vspace",
    "color",
    "phantom",
    "mathop",
}
_SET_LETTERS = {"R", "E", "I"}
_GREEK_NAMES = set(_GREEK.split("|")) | {"varepsilon", "varphi", "vartheta", "varpi", "varrho", "ell"}


def _skip_spaces(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _symbol_at(math: str, i: int) -> tuple[str | None, int]:
    """The symbol that starts at ``math[i]`` (or None), and where it ends."""
    i = _skip_spaces(math, i)
    if i >= len(math):
        return None, i
    if math[i].isalpha():
        return math[i], i + 1
    command = re.match(r"\\([A-Za-z]+)", math[i:])
    if not command:
        return None, i + 1
    name, j = command[1], i + command.end()
    if name in _GREEK_NAMES:
        return "\\" + name, j
    if name in _DECORATIONS:
        j = _skip_spaces(math, j)
        if j < len(math) and math[j] == "{":
            inner, end = math[j + 1 : _group_end(math, j) - 1], _group_end(math, j)
            base, _ = _symbol_at(inner, 0)
        else:
            base, end = _symbol_at(math, j)
        if name == "mathbb" and base in _SET_LETTERS:
            return None, end  # \mathbb{R}, \mathbb{E}, \mathbb{I}: the macros \R, \E, \Id spelt out
        return (f"\\{_DECORATIONS[name]}{{{base}}}" if base else None), end
    if name in _WORD_COMMANDS:
        j = _skip_spaces(math, j)
        while j < len(math) and math[j] == "{":
            j = _skip_spaces(math, _group_end(math, j))
        return None, j
    return None, j


def symbols(math: str) -> list[str]:
    r"""The symbols of a piece of math, in order, subscripts left out.

    >>> symbols(r"\bm{W}_x \bm{x}[t] + \hat{\bm{y}} \in \R^{n \times t}, F_\beta, \text{for all}")
    ['\\bm{W}', '\\bm{x}', 't', '\\hat{\\bm{y}}', 'n', 't', 'F']
    """
    math = _COMMENT.sub("", math)
    found, i = [], 0
    while i < len(math):
        if math[i] == "_":
            j = _skip_spaces(math, i + 1)
            if j < len(math) and math[j] == "{":
                i = _group_end(math, j)
            elif math.startswith("\\", j):
                _, i = _symbol_at(math, j)  # _\beta, and _\text{hot} or _\bm{x} with the argument
                i = max(i, j + 2)
            else:
                i = j + 1
            continue
        symbol, end = _symbol_at(math, i)
        if symbol:
            found.append(symbol)
        i = max(end, i + 1)
    return found


def numbered_chapters(root: Path = REPO_ROOT) -> dict[str, int]:
    """Chapter number of each numbered chapter file (``book/derivatives.md`` -> 2)."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    numbers, count = {}, 0
    for part in toc.get("parts", []):
        for entry in part.get("chapters", []):
            if part.get("numbered"):
                count += 1
                numbers[entry["file"] + ".md"] = count
    return numbers


def symbol_use(root: Path = REPO_ROOT) -> dict[str, dict[int, list[str]]]:
    """symbol -> chapter number -> the pieces of math of that chapter that use it."""
    use: dict[str, dict[int, list[str]]] = {}
    for file, number in numbered_chapters(root).items():
        text = (root / file).read_text(encoding="utf-8")
        for span in math_spans(text, ".md"):
            for symbol in dict.fromkeys(symbols(span.text)):
                use.setdefault(symbol, {}).setdefault(number, []).append(" ".join(span.text.split()))
    return use


def chapter_list(numbers: Iterable[int]) -> str:
    """Chapter numbers as the registry writes them: ``1, 3-5, 12`` (with en dashes).

    >>> chapter_list([1, 3, 4, 5, 12, 13])
    '1, 3–5, 12, 13'
    """
    numbers, runs = sorted(set(numbers)), []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}, {b}" if b == a + 1 else f"{a}–{b}" for a, b in runs)


def parse_chapter_list(text: str) -> set[int]:
    """The inverse of :func:`chapter_list`.

    >>> sorted(parse_chapter_list("1, 3–5, 12"))
    [1, 3, 4, 5, 12]
    """
    numbers: set[int] = set()
    for part in filter(None, (p.strip(" —") for p in text.split(","))):
        first, _, last = part.replace("-", "–").partition("–")
        numbers.update(range(int(first), int(last or first) + 1))
    return numbers


#: The heading of the registry in the Notation chapter.
REGISTRY_HEADING = "## Registry of symbols"
#: The paragraph of the registry that lists the letters bound locally.
LOCAL_LETTERS = "Letters bound locally"


@dataclass(frozen=True)
class RegistryRow:
    symbol: str
    chapters: set[int]
    line: int


def registry(text: str) -> tuple[list[RegistryRow], set[str]]:
    r"""The rows of the registry in the Notation chapter's ``text``, and the local letters.

    A row is ``| $symbol$ ... | meaning | chapters |``; its symbol is the
    first symbol of the math of its first cell.

    >>> rows, local = registry("## Registry of symbols\n\n| $\\bm{W}_x$ | weights | 1, 12 |\n\n"
    ...                        "Letters bound locally: $i$, $j$.\n\n## Next\n| $a$ | x | 2 |\n")
    >>> [(r.symbol, sorted(r.chapters), r.line) for r in rows], sorted(local)
    ([('\\bm{W}', [1, 12], 3)], ['i', 'j'])
    """
    lines = text.split("\n")
    start = next((k for k, line in enumerate(lines) if line.strip() == REGISTRY_HEADING), None)
    if start is None:
        return [], set()
    rows, local = [], set()
    for k in range(start + 1, len(lines)):
        line = lines[k].strip()
        if line.startswith("## "):
            break
        if line.startswith(LOCAL_LETTERS):
            local.update(s for math in re.findall(r"\$([^$]+)\$", line) for s in symbols(math))
            continue
        cells = [c.strip() for c in line.strip("|").split("|")] if line.startswith("|") else []
        math = re.findall(r"\$([^$]+)\$", cells[0]) if cells else []
        if len(cells) >= 3 and math and symbols(math[0]):
            rows.append(RegistryRow(symbols(math[0])[0], parse_chapter_list(cells[-1]), k + 1))
    return rows, local


def registry_problems(root: Path = REPO_ROOT) -> list[str]:
    """What the registry of the Notation chapter gets wrong about the chapters.

    Every symbol of a numbered chapter is in the registry once, with the
    chapters that use it, or is a local letter, a tangent (a dot) or a
    cotangent (a bar).
    """
    path = root / "book" / "notation.md"
    rows, local = registry(path.read_text(encoding="utf-8"))
    use = symbol_use(root)
    problems, seen = [], {}
    for row in rows:
        where = f"book/notation.md:{row.line}"
        if row.symbol in seen:
            problems.append(f"{where}: {row.symbol} is registered twice (also line {seen[row.symbol]})")
        seen[row.symbol] = row.line
        if row.symbol in local:
            problems.append(f"{where}: {row.symbol} is registered and also bound locally")
        actual = set(use.get(row.symbol, {}))
        if not actual:
            problems.append(f"{where}: {row.symbol} is registered but no chapter uses it")
        elif actual != row.chapters:
            problems.append(
                f"{where}: {row.symbol} is used in chapters "
                f"{chapter_list(actual) or 'none'}, not {chapter_list(row.chapters) or 'none'}"
            )
    for symbol in sorted(set(use) - set(seen) - local):
        if symbol.startswith(("\\dot{", "\\bar{")):
            continue
        example = next(iter(next(iter(use[symbol].values()))))
        problems.append(
            f"book/notation.md: {symbol} (chapters {chapter_list(use[symbol])}) "
            f"is not in the registry, e.g. ${example[:80]}$"
        )
    return problems


# ---------------------------------------------------------------------------
# Checking
# ---------------------------------------------------------------------------

_COMMENT = re.compile(r"(?<!\\)%[^\n]*")


def check_math(span: MathSpan, path: str = "<string>") -> list[Problem]:
    """Every breach of a rule in one piece of math."""
    no_comments = _COMMENT.sub(lambda m: _blank(m[0]), span.text)
    no_text = mask_commands(no_comments, _PROSE_ARG)
    problems = []
    for rule in RULES:
        seen = set()
        for start, end in rule.find(no_comments if rule.sees_text else no_text):
            if start in seen:
                continue
            seen.add(start)
            snippet = " ".join(span.text[start:end].split())
            problems.append(Problem(path, span.line_of(start), rule.id, rule.message, snippet))
    return problems


def math_spans(text: str, suffix: str) -> list[MathSpan]:
    """The math of a file's ``text``, read as Markdown (``.md``) or Python (``.py``).

    In Markdown this includes the math of the options of code cells: the
    captions and alt texts of the figures that the cells draw.
    """
    if suffix == ".md":
        options = [span for opts, line, _, _ in code_cells(text) for span in _prose_math(opts, line)]
        return sorted(markdown_math(text) + options, key=lambda span: span.line)
    if suffix == ".py":
        return python_math(text)
    raise ValueError(f"can only check .md and .py files, got a {suffix!r} file")


def check_text(text: str, suffix: str, path: str = "<string>") -> list[Problem]:
    """Every notation problem of a file's ``text``, sorted by line."""
    problems = [p for span in math_spans(text, suffix) for p in check_math(span, path)]
    problems += [p for code in shown_code(text, suffix) for p in check_code_text(code, path)]
    return sorted(problems, key=lambda p: (p.line, p.rule))


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def check_file(path: Path | str) -> list[Problem]:
    """Every notation problem of the Markdown or Python file at ``path``."""
    path = Path(path)
    try:
        return check_text(path.read_text(encoding="utf-8"), path.suffix, _display(path))
    except SyntaxError as err:  # a Python file that does not parse has no docstrings to read
        return [Problem(_display(path), err.lineno or 1, "syntax", "fix the Python syntax first", str(err.msg))]


def iter_files(paths: Iterable[Path | str]) -> Iterator[Path]:
    """The ``.md`` and ``.py`` files at or under ``paths``, in a stable order."""
    for root in map(Path, paths):
        if root.is_file():
            yield root
            continue
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root).parts
            if (
                path.suffix in (".md", ".py")
                and path.is_file()
                and not any(part in SKIP_DIRS or part.startswith(".") for part in relative[:-1])
            ):
                yield path


def main(argv: list[str] | None = None) -> int:
    """Check ``argv`` (or the book and the package); print problems; 1 if any."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--registry"]:
        problems = registry_problems()
        print("\n".join(problems) or "the registry of symbols is complete and up to date")
        return 1 if problems else 0
    paths = [Path(a) for a in args] or [REPO_ROOT / p for p in DEFAULT_PATHS]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(f"notation: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    files = list(iter_files(paths))
    problems = [p for f in files for p in check_file(f)]
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} notation problem(s) in {len(files)} files checked", file=sys.stderr)
        return 1
    print(f"{len(files)} files checked, no notation problems")
    return 0


if __name__ == "__main__":
    sys.exit(main())
