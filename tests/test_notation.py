r"""Tests of the notation checker (tests/notation.py) and of the book against it."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
if str(TESTS_DIR) not in sys.path:  # the checker is a plain script next to this file
    sys.path.insert(0, str(TESTS_DIR))

import notation  # noqa: E402

LINE_FORMAT = re.compile(r"^(?P<path>.+):(?P<line>\d+): \[(?P<rule>[a-z-]+)\] .+ \((?P<text>.+)\)$")


def check_md(tmp_path: Path, text: str) -> list[tuple[str, int]]:
    """(rule, line) of every problem of a Markdown file holding ``text``."""
    path = tmp_path / "chapter.md"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return [(p.rule, p.line) for p in notation.check_file(path)]


def check_py(tmp_path: Path, text: str) -> list[tuple[str, int]]:
    """(rule, line) of every problem of a Python file holding ``text``."""
    path = tmp_path / "module.py"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return [(p.rule, p.line) for p in notation.check_file(path)]


def chapter(math: str) -> str:
    """A small chapter with ``math`` inline on its line 7."""
    return (
        "---\nkernelspec:\n  name: python3\n---\n# A chapter\n\n"
        f"Some prose, then ${math}$ and more prose.\n\nThe end.\n"
    )


# ---------------------------------------------------------------------------
# The real book
# ---------------------------------------------------------------------------


def test_the_book_and_the_package_follow_the_notation():
    paths = [REPO_ROOT / p for p in notation.DEFAULT_PATHS]
    files = list(notation.iter_files(p for p in paths if p.exists()))
    problems = [str(p) for f in files for p in notation.check_file(f)]
    assert not problems, "notation problems:\n" + "\n".join(problems)


# ---------------------------------------------------------------------------
# The rules, one by one
# ---------------------------------------------------------------------------

BAD = [
    ("reals-letter", r"\bm{x} \in \mathbf{R}^n"),
    ("reals-letter", r"\bm{x} \in R^n"),
    ("reals-letter", r"\bm{W} \in R^{m \times n}"),
    ("reals-letter", r"k \in \mathbf{N}"),
    ("reals-letter", r"k \in \mathbf{Z}"),
    ("reals-letter", r"\Re(z)"),
    ("vector-arrow", r"\vec{x} + \bm{y}"),
    ("upright-bold", r"\mathbf{x}"),
    ("upright-bold", r"\mathbf{W} \bm{x}"),
    ("upright-bold", r"\mathbf{E}[X]"),
    ("upright-bold", r"{\bf x}"),
    ("transpose", r"\bm{A}^T"),
    ("transpose", r"\bm{A}^{T} \bm{x}"),
    ("transpose", r"\bm{x}^T\bm{y}"),
    ("transpose", r"x^T"),
    ("transpose", r"(\bm{A}\bm{B})^T"),
    ("transpose", r"\gamma^{\intercal}"),
    ("transpose", r"\bm{A}^t"),
    ("transpose", r"\bm{A}^{t}"),
    ("transpose", r"A^t"),
    ("transpose", r"\bm{A}^{\mathsf{T}}"),
    ("transpose", r"\bm{A}^{\intercal}"),
    ("transpose", r"\bm{A}^\intercal"),
    ("transpose", r"\bm{x}' \bm{y}"),
    ("transpose", r"\bm{W}'"),
    ("identity", r"\mathbf{I}"),
    ("identity", r"\bm{A} + \lambda \bm{I}"),
    ("identity", r"\mathbb{1}"),
    ("identity", r"\mathbbm{1}"),
    ("identity", r"\bm{A} + I_n"),
    ("identity", r"I_{n}"),
    ("empty-set", r"S = \emptyset"),
    ("italic-differential", r"\frac{d f}{d x}"),
    ("italic-differential", r"\frac{df}{dx}"),
    ("italic-differential", r"\frac{d}{dx} f"),
    ("italic-differential", r"\tfrac{d}{dt} \bm{x}"),
    ("italic-differential", r"\dfrac{d f}{d\theta}"),
    ("italic-differential", r"\frac{\mathrm{d} f}{d x}"),
    ("italic-differential", r"\frac{d f}{\mathrm{d} x}"),
    ("italic-differential", r"\frac{d}{\dd x}"),
    ("italic-differential", r"\frac{d^2 x}{d t^2}"),
    ("italic-differential", r"dy/dx"),
    ("italic-differential", r"\int g(z)\, dz"),
    ("italic-differential", r"\int g(z) dz"),
    ("italic-differential", r"\int g(z) d z"),
    ("italic-differential", r"\int_0^1 x^{2}dx"),
    ("italic-differential", r"\int p(\bm{z})\, d\bm{z}"),
    ("italic-differential", r"\int \ell(\theta)\; d\theta"),
    ("named-operator", r"softmax(\bm{x})"),
    ("named-operator", r"softargmax(\bm{x})"),
    ("named-operator", r"\text{softmax}(\bm{x})"),
    ("named-operator", r"\mathrm{softmin}(\bm{x})"),
    ("named-operator", r"argmin_{z} E"),
    ("named-operator", r"\mathrm{argmax}_{y} F"),
    ("named-operator", r"\text{diag}(\bm{x})"),
    ("named-operator", r"diag(\bm{x})"),
    ("named-operator", r"tr(\bm{A})"),
    ("named-operator", r"\mathrm{tr}(\bm{A})"),
]

GOOD = [
    # reals
    r"\bm{x} \in \mathbb{R}^n",
    r"\bm{W} \in \mathbb{R}^{m \times n}",
    r"\bm{x} \in \R^n, k \in \N, j \in \Z",
    r"\mathcal{R}^n",
    r"\bm{R}^\top",
    # bold
    r"\bm{x}, \bm{W}, \boldsymbol{x}, \hat{\bm{y}}, \check{z}, \tilde{y}",
    r"\mathbb{E}[X] = \E[X]",
    # transpose and exponents
    r"\bm{A}^\top \bm{x}",
    r"\left(\frac{\partial f}{\partial \bm{x}}\right)^\top",
    r"x^{T-1}",
    r"\sum_{t=1}^{T} \bm{x}[t], \sum_{t=1}^T, \prod\limits_{t}^{T}",
    r"\int_0^T f(t)\, \dd t",
    r"\gamma^T, \beta^{T}, 2^T, e^{T}",
    r"\bm{1} \in \R^{T}, \bm{s} \in \N^T, \mathbb{R}^{T}",
    r"\bm{x}^{t+1}",
    r"x^{tx}",
    r"e^{t}",
    r"e^t",
    r"\gamma^t",
    r"\bm{h}[t-1]",
    r"\bm{x}[t]",
    r"f'(x)",
    r"\bm{x}'[t] = \bm{x}[t - 1]",
    r"\theta'",
    r"F_\beta, F_\infty",
    # identity
    r"\Id",
    r"\Id_n",
    r"\mathbb{I}_n",
    r"\mathcal{I}_n",
    # empty set
    r"S = \varnothing",
    # differentials
    r"\frac{\mathrm{d} f}{\mathrm{d} x}",
    r"\frac{\dd f}{\dd x}",
    r"\frac{\dd}{\dd x} f",
    r"\frac{\partial f}{\partial \bm{x}}",
    r"\nabla_{\bm{x}} f",
    r"\int g(z)\,\dd z",
    r"\int g(z)\, \mathrm{d}z",
    r"\int p(\bm{z})\, \dd\bm{z}",
    r"\int_0^d x\, \dd x",
    r"\int \delta(x)\, \dd x + \ddot{x} + \hat{d}",
    r"\frac{d}{2} \log(2\pi)",
    r"\frac{d^2 x}{2}",
    r"\frac{1}{2} \frac{d}{d + 1}",
    r"\frac{1}{\sqrt{d}}",
    r"\frac{\bm{q}^\top \bm{k}}{\sqrt{d_k}}",
    r"\frac{x}{d}",
    r"\sum_{i=1}^{d} x_i",
    # named operators
    r"\operatorname{softargmax}(\bm{x})",
    r"\softargmax(\bm{x}), \softmin(\bm{x}), \softargmin(\bm{x})",
    r"\argmin_{z} E, \argmax_{y} F, \arg\min_z E",
    r"\operatorname*{argmin}_z E",
    r"\mathop{\mathrm{argmin}}_z E",
    r"\operatorname{diag}(\bm{x}), \diag(\bm{x}), \operatorname{tr}(\bm{A})",
    r"\log, \exp",
    r"\bm{x}_{\text{tr}}, \mathcal{D}_{\mathrm{train}}",
    r"\text{if } x > 0 \text{ and the softmax is applied}",
    r"\operatorname{ReLU}(x)",
    # lines of the book's own notation chapter
    r"\frac{\partial \bm{f}}{\partial \bm{x}} \in \mathbb{R}^{m \times n}",
    r"\frac{\partial f}{\partial \bm{x}} \in \mathbb{R}^{1 \times n}",
    r"\nabla_{\bm{x}} f = \left(\frac{\partial f}{\partial \bm{x}}\right)^\top \in \mathbb{R}^{n}",
    r"F_\beta(\bm{y}) = -\frac{1}{\beta} \log \int \exp(-\beta E(\bm{y}, \bm{z})) \, \dd\bm{z}",
    r"\E_{z}[\,E(\bm{y}, z)\,]",
    r"\check{\bm{y}}, \hat{\bm{y}}, \tilde{\bm{y}}",
]


@pytest.mark.parametrize("rule, math", BAD, ids=[f"{r}:{m}" for r, m in BAD])
def test_bad_math_is_caught_on_its_line(tmp_path, rule, math):
    assert check_md(tmp_path, chapter(math)) == [(rule, 7)]


@pytest.mark.parametrize("math", GOOD)
def test_good_math_passes(tmp_path, math):
    assert check_md(tmp_path, chapter(math)) == []


def test_every_rule_is_tested_with_bad_math():
    assert {rule.id for rule in notation.RULES} == {rule for rule, _ in BAD}


def test_rules_are_data_with_unique_ids_and_a_message():
    ids = [rule.id for rule in notation.RULES]
    assert len(ids) == len(set(ids))
    for rule in notation.RULES:
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.id)
        assert rule.message.startswith("write ")
        assert callable(rule.find)


def test_mathbf_R_and_I_get_one_rule_each():
    assert [p.rule for p in notation.check_text(r"$\mathbf{R}$ $\mathbf{I}$", ".md")] == [
        "identity",
        "reals-letter",
    ]


def test_a_problem_reads_path_line_rule_message_text():
    (problem,) = notation.check_text("\n$\\vec{x}$", ".md", path="a.md")
    assert str(problem) == (r"a.md:2: [vector-arrow] write a vector in bold italic \bm{x}, not with an arrow (\vec{x})")


def test_a_new_rule_is_one_entry(monkeypatch):
    rule = notation.Rule("no-xi", r"write \zeta", notation.regex_finder(r"\\xi(?![A-Za-z])"))
    monkeypatch.setattr(notation, "RULES", [*notation.RULES, rule])
    assert [p.rule for p in notation.check_text(r"$\xi + \zeta$", ".md")] == ["no-xi"]


# ---------------------------------------------------------------------------
# Where the math of a Markdown chapter is (and is not)
# ---------------------------------------------------------------------------


def test_code_plain_fences_inline_code_and_front_matter_are_ignored(tmp_path):
    text = r"""
        ---
        title: "$\vec{x}$"
        ---
        # Code is not math

        Inline code `$\bm{A}^T$` and ``$\vec{x}$`` is not math.

        ```{code-cell} python
        y = x ^ T
        ```

        ```python
        s = "$\vec{v}$"
        ```

        ~~~
        $\emptyset$
        ~~~

        % a MyST comment: $\vec{c}$

        Money: \$5 for R^n and \$6.
        """
    assert check_md(tmp_path, textwrap.dedent(text).lstrip("\n")) == []  # front matter on line 1


def test_math_beside_code_is_still_found(tmp_path):
    text = r"""
        # Title

        The code `x = "$"` costs nothing, but $\vec{x}$ is wrong.
        """
    assert check_md(tmp_path, text) == [("vector-arrow", 4)]


def test_multiline_display_math_reports_the_line_of_the_offence(tmp_path):
    text = r"""
        # Title

        $$
        \bm{y} = \bm{W}
          \bm{x}^T
          + \bm{b}
        $$ (eq-affine)

        After it.
        """
    assert check_md(tmp_path, text) == [("transpose", 6)]


def test_a_tex_comment_in_display_math_is_not_checked(tmp_path):
    text = r"""
        # Title

        $$
        % the old way: \bm{A}^T
        \bm{y} = \bm{A}^\top \bm{x} % not \vec{x}
          + \vec{b}
        $$
        """
    assert check_md(tmp_path, text) == [("vector-arrow", 7)]


def test_escaped_dollars_are_not_math_but_what_follows_is(tmp_path):
    text = "# Title\n\nIt costs \\$5 in R^n.\nThen $\\emptyset$ and \\$6.\n"
    assert check_md(tmp_path, text) == [("empty-set", 4)]


def test_inline_math_over_two_lines_reports_the_second(tmp_path):
    text = "# Title\n\nA long $\\bm{x} +\n\\vec{y}$ formula.\n"
    assert check_md(tmp_path, text) == [("vector-arrow", 4)]


def test_inline_math_does_not_cross_a_blank_line(tmp_path):
    text = "# Title\n\nA lone $ sign.\n\nThen R^n and another $ sign.\n"
    assert check_md(tmp_path, text) == []


def test_math_directive_with_label_option(tmp_path):
    text = r"""
        # Title

        ```{math}
        :label: eq-softmax

        \operatorname{softargmax}(\bm{x})
          = \bm{W}^T \bm{x}
        ```
        """
    assert check_md(tmp_path, text) == [("transpose", 8)]


def test_colon_fence_math_directive(tmp_path):
    text = r"""
        # Title

        :::{math}
        :label: eq-empty
        S = \emptyset
        :::
        """
    assert check_md(tmp_path, text) == [("empty-set", 6)]


def test_math_role_and_other_roles(tmp_path):
    text = r"""
        # Title

        See {eq}`eq-R^n` and {math}`\bm{A}^T`.
        """
    assert check_md(tmp_path, text) == [("transpose", 4)]


def test_amsmath_environment(tmp_path):
    text = r"""
        # Title

        \begin{align*}
        a &= \bm{x}^\top \bm{y} \\
        b &= \frac{d f}{d x}
        \end{align*}
        """
    assert check_md(tmp_path, text) == [("italic-differential", 6)]


def test_math_in_a_directive_and_its_title_but_not_its_code(tmp_path):
    text = r"""
        # Title

        ````{prf:definition} The vector $\vec{u}$
        :label: def-vector
        :class: dropdown

        A vector $\bm{u} \in R^n$.

        ```{code-cell} python
        print("$\emptyset$")
        ```

        ```{math}
        \mathbf{u}
        ```
        ````
        """
    # the printed label of the code cell follows the notation too (line 11)
    assert check_md(tmp_path, text) == [
        ("vector-arrow", 4),
        ("reals-letter", 8),
        ("empty-set", 11),
        ("upright-bold", 15),
    ]


def test_eval_rst_block_is_read_as_rst(tmp_path):
    text = r"""
        # Title

        ```{eval-rst}
        The set :math:`\emptyset`.
        ```
        """
    assert check_md(tmp_path, text) == [("empty-set", 5)]


# ---------------------------------------------------------------------------
# Where the math of a Python module is (and is not)
# ---------------------------------------------------------------------------


def test_docstring_math_role_and_math_directive(tmp_path):
    text = r'''
        r"""A module about :math:`\bm{x} \in R^n`."""

        BAD = "$\vec{x}$ is not a docstring"  # nor is :math:`\emptyset` in a comment


        def f(x):
            r"""Return the transpose.

            The result is

            .. math::
               :label: eq-f

               \bm{y} = \bm{A}^\top \bm{x}
                 + \mathbf{b}

            and :math:`\emptyset` when empty, or $\vec{z}$ when dollars are used.

            Examples
            --------
            >>> print("$\vec{v}$")
            $\vec{v}$
            """
            return x


        class C:
            """A class with ``$\vec{x}$`` as a literal and :math:`\bm{A}^T`."""
        '''
    assert check_py(tmp_path, text) == [
        ("reals-letter", 2),
        ("math-string-escape", 4),  # "\v" in a string that is not raw: a vertical tab
        ("upright-bold", 16),
        ("empty-set", 18),
        ("vector-arrow", 18),
        ("transpose", 29),
    ]


def test_a_docstring_is_read_as_written_not_as_evaluated(tmp_path):
    # In a non-raw string "\v" is a vertical tab: the author still typed \vec.
    text = r'''
        def f():
            """Of :math:`\\vec{x}` and :math:`\vec{y}`."""
        '''
    assert check_py(tmp_path, text) == [("vector-arrow", 3), ("vector-arrow", 3)]


def test_a_python_file_that_does_not_parse_is_reported(tmp_path):
    assert check_py(tmp_path, "def f(:\n    pass\n") == [("syntax", 1)]


def test_math_directive_with_an_argument(tmp_path):
    text = r'''
        def f():
            """Solve it.

            .. math:: \frac{d f}{d x} = 0
            """
        '''
    assert check_py(tmp_path, text) == [("italic-differential", 5)]


# ---------------------------------------------------------------------------
# Any text at all
# ---------------------------------------------------------------------------

TOKENS = [
    "$",
    "$$",
    "`",
    "```",
    "```{math}",
    "```{code-cell}",
    ":::{math}",
    ":::",
    "\\$",
    "\n",
    "\n\n",
    " ",
    "x",
    "d",
    "R",
    "I_n",
    "^T",
    "^t",
    "\\bm{A}",
    "\\mathbf{x}",
    "\\vec{v}",
    "\\int",
    "\\frac{d f}{d x}",
    "{",
    "}",
    "%",
    ":label: e",
    "---",
    "{math}`",
    "\\begin{equation}",
    "\\end{equation}",
    "softmax",
    "\\text{",
    "\\emptyset",
    "'",
]


@settings(max_examples=300)
@given(st.lists(st.sampled_from(TOKENS), max_size=60).map("".join))
def test_any_markdown_is_checked_without_crashing_on_real_lines(text):
    lines = text.split("\n")
    for problem in notation.check_text(text, ".md"):
        assert 1 <= problem.line <= len(lines)
        assert problem.text.split()[0] in lines[problem.line - 1]


# ---------------------------------------------------------------------------
# The code the book shows: comments, strings, figure captions
# ---------------------------------------------------------------------------


def cell(code: str, options: str = ":tags: [hide-input]\n") -> str:
    """A chapter whose only code cell holds ``options``, then ``code``."""
    return "# A chapter\n\nProse.\n\n```{code-cell} ipython3\n" + options + code + "```\n"


@pytest.mark.parametrize(
    "code, rule",
    [
        ("x = A.T @ y  # the same as A^T y\n", "code-transpose"),
        ("x = A.T @ y  # the same as Aᵀ y\n", "code-transpose"),
        ("print(f'{n}: W^t h')\n", "code-transpose"),
        ("p = torch.softmax(s, 0)  # the softmax of the scores\n", "code-softmax"),
        ("ax.set_title('log-softmax of s')\n", "code-softmax"),
        ("ax.set_xlabel(r'$\\mathbf{x}$')\n", "upright-bold"),
        ("ax.set_xlabel(r'$\\bm{A}^T \\bm{x}$')\n", "transpose"),
        ("ax.set_ylabel(f'$softmax(s)_{i}$')\n", "named-operator"),
        ("ax.set_ylabel('$\\beta$')\n", "math-string-escape"),
    ],
)
def test_comments_and_strings_of_code_cells_follow_the_notation(tmp_path, code, rule):
    assert check_md(tmp_path, cell(code)) == [(rule, 7)]


@pytest.mark.parametrize(
    "code",
    [
        "x = A.T @ y  # the transpose of A, in Python\n",
        "p = torch.softmax(s, dim=0)  # PyTorch's softmax is the softargmax\n",
        "p = F.log_softmax(s, 0)  # `softmax` is PyTorch's name\n",
        "names = ['softmax', 'relu']\n",
        "y = x ^ T\n",
        "ax.set_xlabel(r'$\\boldsymbol{x}^\\top \\boldsymbol{y}$')\n",
        "ax.set_ylabel(rf'$\\beta = {beta:.2f}$')\n",
        "ax.set_title(f'{{x}} and $x_{{{i}}}$')\n",
        "%timeit f(x)\nprint('R^{n}: a power of R')\n",
    ],
)
def test_good_code_cells_pass(tmp_path, code):
    assert check_md(tmp_path, cell(code)) == []


def test_an_f_string_is_read_with_its_fields_filled_in():
    assert notation._string_value("rf'$x_{{{i}}} = {v:.2f}$'") == "$x_{0} = 0$"
    assert notation._string_value("f'{{a}}\\n'") == "{a}\n"


def test_a_multiline_string_reports_the_line_of_the_offence(tmp_path):
    code = 'msg = """first line,\nsecond line: the softmax\n"""\n'
    assert check_md(tmp_path, cell(code)) == [("code-softmax", 8)]


def test_math_in_a_figure_caption_and_alt_text_is_checked(tmp_path):
    options = (
        ":tags: [remove-input]\n:mystnb:\n:  figure:\n:    caption: |\n"
        ":      The loss against $\\vec{w}$.\n:    name: fig-a\n"
    )
    assert check_md(tmp_path, cell("x = 1\n", options)) == [("vector-arrow", 10)]


def test_yaml_options_of_a_code_cell_are_not_code(tmp_path):
    options = "---\ntags: [remove-input]\nmystnb:\n  figure:\n    caption: it's $x$\n---\n"
    assert check_md(tmp_path, cell("x = 1\n", options)) == []


def test_package_comments_strings_and_docstrings(tmp_path):
    text = (
        '"""A module: the map x -> A^T x.\n'
        "\n"
        ".. math::\n"
        "\n"
        "   y = A^T x\n"
        "\n"
        ">>> from gradland.autodiff import softmax\n"
        '"""\n'
        '__all__ = ["softmax"]\n'
        "SCALE = 2.0  # multiplies the softmax scores\n"
    )
    # line 1: the docstring's prose; line 5 is math, for the math rule; the
    # doctest and the entry of __all__ are code names
    assert check_py(tmp_path, text) == [("code-transpose", 1), ("transpose", 5), ("code-softmax", 10)]


def test_code_that_does_not_tokenize_is_checked_up_to_the_error(tmp_path):
    assert check_md(tmp_path, cell("x = 1  # A^T\ns = '''unterminated\n")) == [("code-transpose", 7)]


# ---------------------------------------------------------------------------
# The registry of symbols in the Notation chapter
# ---------------------------------------------------------------------------


def test_the_registry_lists_every_symbol_once_with_its_chapters():
    problems = notation.registry_problems()
    assert not problems, (
        "the registry of book/notation.md disagrees with the chapters "
        "(python tests/notation.py --registry):\n" + "\n".join(problems)
    )


def small_book(tmp_path: Path, registry_rows: str, local: str = "$i$") -> Path:
    """A book of two numbered chapters and a Notation chapter holding ``registry_rows``."""
    (tmp_path / "book").mkdir()
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/notation\nparts:\n"
        "  - caption: One\n    numbered: true\n    chapters:\n"
        "      - file: book/one\n      - file: book/two\n",
        encoding="utf-8",
    )
    (tmp_path / "book" / "one.md").write_text(
        "# One\n\nA weight $\\bm{W}_x \\in \\R^{n}$ with entries $w_i$.\n", encoding="utf-8"
    )
    (tmp_path / "book" / "two.md").write_text(
        "# Two\n\n$$\\bar{\\bm{W}} = \\dot{\\bm{y}} \\bm{W}_h$$ for $n$ items.\n", encoding="utf-8"
    )
    (tmp_path / "book" / "notation.md").write_text(
        "# Notation\n\n## Registry of symbols\n\n| symbol | meaning | chapters |\n| --- | --- | --- |\n"
        + registry_rows
        + f"\n{notation.LOCAL_LETTERS}: {local}.\n\n## Other\n",
        encoding="utf-8",
    )
    return tmp_path


GOOD_ROWS = "| $\\bm{W}_x$, $\\bm{W}_h$ | a weight matrix | 1, 2 |\n| $n$ | a size | 1–2 |\n"


def test_a_complete_registry_has_no_problems(tmp_path):
    assert notation.registry_problems(small_book(tmp_path, GOOD_ROWS, "$w$")) == []


def test_a_symbol_missing_from_the_registry_is_reported(tmp_path):
    problems = notation.registry_problems(small_book(tmp_path, GOOD_ROWS))
    assert len(problems) == 1 and "w (chapters 1) is not in the registry" in problems[0]


def test_wrong_chapters_are_reported_with_the_right_ones(tmp_path):
    rows = GOOD_ROWS.replace("| 1–2 |", "| 1 |")
    [problem] = notation.registry_problems(small_book(tmp_path, rows, "$w$"))
    assert problem.endswith("n is used in chapters 1, 2, not 1")


def test_a_symbol_registered_twice_or_also_local_is_reported(tmp_path):
    rows = GOOD_ROWS + "| $n$ | another size | 1, 2 |\n"
    problems = notation.registry_problems(small_book(tmp_path, rows, "$w$, $n$"))
    assert any("n is registered twice" in p for p in problems)
    assert any("n is registered and also bound locally" in p for p in problems)


def test_symbols_leave_out_subscripts_words_and_set_macros():
    math = r"\bm{W}_{x} \bm{h}[t-1] + F_\beta(\check{\bm{y}}) \in \R^{d} \text{ for } \operatorname{dec}(z)"
    assert notation.symbols(math) == ["\\bm{W}", "\\bm{h}", "t", "F", "\\check{\\bm{y}}", "d", "z"]


def test_a_registered_symbol_that_no_chapter_uses_is_reported(tmp_path):
    rows = GOOD_ROWS + "| $\\kappa$ | a condition number | — |\n"
    [problem] = notation.registry_problems(small_book(tmp_path, rows, "$w$"))
    assert problem.endswith("\\kappa is registered but no chapter uses it")


def test_words_in_subscripts_and_spelt_out_set_macros_are_not_symbols():
    math = r"L_\text{hot} + C_\mathrm{in} + \ell_\text{hinge} \in \mathbb{R}^{n} \cdot \mathbb{I} + \mathbb{E}[z]"
    assert notation.symbols(math) == ["L", "C", "\\ell", "n", "z"]


@given(st.lists(st.integers(1, 40), min_size=1))
def test_chapter_lists_read_back(numbers):
    assert notation.parse_chapter_list(notation.chapter_list(numbers)) == set(numbers)


# ---------------------------------------------------------------------------
# The script
# ---------------------------------------------------------------------------


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TESTS_DIR / "notation.py"), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_script_reports_problems_and_exits_1(tmp_path):
    bad = tmp_path / "bad.md"
    bad.write_text("# Title\n\nThe set $\\emptyset \\subset R^n$.\n", encoding="utf-8")
    result = run_script(str(bad))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        match = LINE_FORMAT.match(line)
        assert match, line
        assert match["path"].endswith("bad.md") and match["line"] == "3"
    assert {LINE_FORMAT.match(line)["rule"] for line in lines} == {"empty-set", "reals-letter"}


def test_script_passes_a_good_file_and_exits_0(tmp_path):
    good = tmp_path / "good.md"
    good.write_text("# Title\n\nThe set $\\varnothing \\subset \\R^n$.\n", encoding="utf-8")
    result = run_script(str(good))
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip() == "1 files checked, no notation problems"


def test_script_walks_folders_but_skips_build(tmp_path):
    (tmp_path / "_build").mkdir()
    (tmp_path / "_build" / "page.md").write_text("$\\vec{x}$\n", encoding="utf-8")
    (tmp_path / "part").mkdir()
    (tmp_path / "part" / "chapter.md").write_text("$\\bm{x}$\n", encoding="utf-8")
    (tmp_path / "part" / "module.py").write_text('"""Of :math:`\\bm{x}`."""\n', encoding="utf-8")
    result = run_script(str(tmp_path))
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip() == "2 files checked, no notation problems"
