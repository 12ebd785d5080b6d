r"""Glued numbers and the claims the text makes about them.

Every number that a chapter quotes comes from a cell executed when the book is
built, and is passed to the page with :func:`glue`. Many sentences say more
than a number: that one curve *falls*, that one method is *faster*, that an
error is *below* another. Such a sentence is a claim about the run, and a run
at another size or on another device can make it false. So each chapter
states its claims as code, with :func:`claim`, in a cell the reader does not
see, right after the glue of the numbers the claim rests on:

.. code-block:: python

    glue("rnn_recall_acc_2", acc[2])
    glue("rnn_recall_acc_20", acc[20])
    claim("the network recalls delay 2 better than delay 20",
          "rnn_recall_acc_2 > rnn_recall_acc_20")

The condition is a Python expression over glued names only, so it can also be
checked against the glued values recorded from another run (the test suite
does this with a full-size GPU run). When a condition is false the cell
raises :class:`ClaimError`, which names the claim and the values, and the
strict build fails. Where the run really decides the words (a crossover that
happens on one device and not on another), the cell chooses the words itself
and glues them as a string instead of claiming one outcome.

:func:`glue` also refuses values that would print as ``nan`` or ``-0``.
"""

from __future__ import annotations

import ast
import math
from typing import Any

__all__ = ["ClaimError", "claim", "difference_text", "glue", "glued", "holds", "names_in"]

# What a condition may call besides the glued names.
_ALLOWED: dict[str, Any] = {
    "abs": abs,
    "all": all,
    "any": any,
    "len": len,
    "max": max,
    "min": min,
    "round": round,
    "sorted": sorted,
    "math": math,
}

_GLUED: dict[str, Any] = {}


class ClaimError(AssertionError):
    """A sentence of the book does not hold for the values of this run.

    Examples
    --------
    >>> from gradland.claims import ClaimError, claim, glue
    >>> glue("doc_error", 2.0)
    >>> try:
    ...     claim("it is small", "doc_error < 1")
    ... except ClaimError as error:  # an AssertionError, as a failed test is
    ...     print(error)
    the text says "it is small", but doc_error < 1 is false for doc_error=2.0
    """


def _is_bad_number(value: Any) -> bool:
    """True for nan and -0.0: numbers no sentence should print."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isnan(value) or (value == 0 and math.copysign(1.0, value) < 0)


def glue(name: str, value: Any, display: bool = False) -> None:
    """Pass ``value`` to the page under ``name``, and keep it for :func:`claim`.

    The value is handed to ``myst_nb.glue``, which the text refers to with
    ``{glue:text}`name:.3f```; outside a book build (a plain Python session,
    a test) it is only kept.

    Parameters
    ----------
    name : str
        The glue name, prefixed by the chapter's code (``rnn_``, ``gcn_``).
    value : object
        A number, a string or any object ``myst_nb`` can display.
    display : bool, optional
        Also show the value where the cell is (False by default: glued values
        appear in the prose, not under the code).

    Raises
    ------
    ValueError
        If ``value`` is ``nan`` or ``-0.0``: a ``nan`` or a ``-0`` in a
        sentence is a bug of the cell that computed it. (An infinity may be
        the point of a sentence, as when a naive formula overflows.)

    Examples
    --------
    >>> from gradland.claims import glue, glued
    >>> glue("doc_ratio", 2.5)  # returns nothing: a cell ending in glue shows nothing
    >>> glued()["doc_ratio"]
    2.5
    """
    if _is_bad_number(value):
        raise ValueError(
            f"glue {name!r} would print {value!r} in the text; compute a finite value or choose other words in the cell"
        )
    _GLUED[name] = value
    try:
        from myst_nb import glue as myst_glue
    except ImportError:  # a reader's session without the book's tools
        return
    myst_glue(name, value, display=display)


def difference_text(value: float) -> str:
    """A difference between two computations as the text prints it.

    ``"0"`` when the two agree exactly, else the value in scientific notation
    with two significant digits: ``0.0e+00`` is how a format spec alone would
    print an exact agreement.

    Parameters
    ----------
    value : float
        A difference, usually the largest absolute one.

    Returns
    -------
    str

    Examples
    --------
    >>> difference_text(0.0), difference_text(2.22e-16)
    ('0', '2.2e-16')
    """
    return "0" if value == 0 else f"{value:.1e}"


def glued() -> dict[str, Any]:
    """Return a copy of everything glued so far in this session (name to value).

    Returns
    -------
    dict
        The glued values, by name; changing it changes nothing that was glued.

    Examples
    --------
    >>> from gradland.claims import glue, glued
    >>> glue("doc_steps", 300)
    >>> glued()["doc_steps"]
    300
    """
    return dict(_GLUED)


def names_in(condition: str) -> set[str]:
    """Return the glue names that the expression ``condition`` reads.

    Parameters
    ----------
    condition : str
        A Python expression.

    Returns
    -------
    set of str
        The free names of the expression, less the few functions a condition
        may call (``abs``, ``min``, ``max``, ``all``, ``any``, ``len``,
        ``round``, ``sorted``, ``math``).

    Raises
    ------
    SyntaxError
        If ``condition`` is not a Python expression.

    Examples
    --------
    >>> sorted(names_in("abs(gcn_a - gcn_b) < 2 * max(gcn_c, 1)"))
    ['gcn_a', 'gcn_b', 'gcn_c']
    """
    tree = ast.parse(condition, mode="eval")
    bound = {
        n.id
        for node in ast.walk(tree)
        if isinstance(node, ast.comprehension)
        for n in ast.walk(node.target)
        if isinstance(n, ast.Name)
    }
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)} - set(_ALLOWED) - bound


def holds(condition: str, values: dict[str, Any]) -> bool:
    """Evaluate ``condition`` with the glue names bound to ``values``.

    Parameters
    ----------
    condition : str
        A Python expression over glue names, for example
        ``"rnn_recall_acc_2 > rnn_recall_acc_20"``.
    values : dict
        Glue name to value, from this run (:func:`glued`) or a recorded one.

    Returns
    -------
    bool
        Whether the condition is true for these values.

    Raises
    ------
    KeyError
        If the condition reads a name that ``values`` lacks.

    Examples
    --------
    >>> holds("a < b", {"a": 1, "b": 2})
    True
    """
    missing = names_in(condition) - set(values)
    if missing:
        raise KeyError(f"the condition {condition!r} reads names that were not glued: {sorted(missing)}")
    namespace = {**values, "__builtins__": _ALLOWED}  # globals, so that comprehensions see the names
    return bool(eval(compile(condition, "<claim>", "eval"), namespace))


def claim(statement: str, condition: str) -> None:
    """Check that a sentence of the text holds for the values glued so far.

    Parameters
    ----------
    statement : str
        The claim in words, as the text makes it, so that a failure says which
        sentence broke.
    condition : str
        A Python expression over glued names (see :func:`holds`) that is true
        exactly when the sentence is.

    Raises
    ------
    ClaimError
        If the condition is false, with the statement and the values it read.
    KeyError
        If the condition reads a name that was not glued.

    Examples
    --------
    >>> from gradland.claims import claim, glue
    >>> glue("doc_loss_start", 1.4)
    >>> glue("doc_loss_end", 0.2)
    >>> claim("the loss falls", "doc_loss_end < doc_loss_start")
    >>> claim("the loss rises",
    ...       "doc_loss_end > doc_loss_start")  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    gradland.claims.ClaimError: the text says "the loss rises", but doc_loss_end >
    doc_loss_start is false for doc_loss_end=0.2, doc_loss_start=1.4
    """
    if not holds(condition, _GLUED):
        read = ", ".join(f"{name}={_GLUED[name]!r}" for name in sorted(names_in(condition)))
        raise ClaimError(f'the text says "{statement}", but {condition} is false for {read}')
