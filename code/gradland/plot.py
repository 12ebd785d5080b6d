r"""The one figure style of the book.

Every figure in the book is drawn by matplotlib after :func:`use` has been
called, so that figures share the fonts of the text (Computer Modern, as in
the typeset math) and one colour code:

* input :math:`\bm{x}`: pink;
* target, observed, cold (low energy) :math:`\bm{y}`: blue;
* contrastive, hot (high energy) :math:`\hat{\bm{y}}`: red;
* latent :math:`\bm{z}`: orange.

The four colours are taken from the Okabe--Ito palette, which stays
distinguishable under the common forms of colour blindness, and every figure
is saved on an opaque white background so that it stays legible when the
site is shown in dark mode.
"""

from __future__ import annotations

import logging

import matplotlib as mpl

#: The colour of each role in the book's colour code (Okabe--Ito palette).
COLORS: dict[str, str] = {
    "x": "#CC79A7",  # input: reddish purple, the book's pink
    "y": "#0072B2",  # target / observed / cold: blue
    "y_hat": "#D55E00",  # contrastive / hot: vermilion red
    "z": "#E69F00",  # latent: orange
    "neutral": "#444444",  # axes, guides and anything without a role
    "accent": "#009E73",  # a fifth colour (bluish green) for a second curve
}

#: The matplotlib settings applied by :func:`use`.
STYLE: dict[str, object] = {
    # Fonts: the Computer Modern faces that ship with matplotlib, for text and math.
    "font.family": "serif",
    "font.serif": ["cmr10"],
    "mathtext.fontset": "cm",
    "axes.formatter.use_mathtext": True,  # cmr10 has no minus sign of its own
    "axes.unicode_minus": True,
    "font.size": 11,
    "axes.titlesize": 11,
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    # Colours: the role colours first, so that a plain plot() follows the code.
    "axes.prop_cycle": mpl.cycler(color=[COLORS["y"], COLORS["y_hat"], COLORS["z"], COLORS["x"], COLORS["accent"]]),
    "axes.edgecolor": COLORS["neutral"],
    "axes.labelcolor": "black",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    # Size and background: opaque white so figures read in dark mode too.
    "figure.figsize": (6.0, 3.6),
    "figure.dpi": 110,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.bbox": "tight",
    "svg.fonttype": "path",
    # TrueType (Type 42) fonts in the PDF figures: printers reject Type 3 bitmaps.
    "pdf.fonttype": 42,
}


def use() -> None:
    """Apply the book's figure style to matplotlib.

    Call it once at the top of a chapter. Inside a Jupyter kernel it also asks
    for every figure twice, as SVG for the web page and as PDF for the printed
    book, so each output format gets a vector image.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from gradland import plot
    >>> plot.use()
    >>> plt.rcParams["mathtext.fontset"]
    'cm'
    """
    mpl.rcParams.update(STYLE)
    # Embedding TrueType in a PDF reads the fonts with fontTools, which warns that
    # the Computer Modern fonts matplotlib ships carry dates before 1970: true, and harmless.
    logging.getLogger("fontTools.ttLib.tables._h_e_a_d").setLevel(logging.ERROR)
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing more to configure
        return
    if get_ipython() is not None:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("svg", "pdf")


def vec(name: str) -> str:
    r"""Return the mathtext of a vector in the book's notation: bold italic.

    Parameters
    ----------
    name : str
        The TeX of the symbol, for example ``"x"`` or ``r"\hat{y}"``.

    Returns
    -------
    str
        ``$\boldsymbol{name}$``, ready for a label, a title or a legend.

    Raises
    ------
    TypeError
        If ``name`` is not a non-empty string.
    ValueError
        If ``name`` holds a ``$`` or unbalanced braces, which matplotlib would
        refuse only when it draws the figure.

    Examples
    --------
    >>> from gradland.plot import vec
    >>> vec("x")
    '$\\boldsymbol{x}$'
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, the letter of the vector; got {name!r}")
    if "$" in name or name.count("{") != name.count("}"):
        raise ValueError(f"name must be mathtext without $ and with balanced braces; got {name!r}")
    return rf"$\boldsymbol{{{name}}}$"
