import logging

import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from gradland import plot  # noqa: E402


def test_use_sets_computer_modern_and_the_colour_cycle():
    plot.use()
    assert plt.rcParams["mathtext.fontset"] == "cm"
    assert plt.rcParams["font.serif"][0] == "cmr10"
    cycle = [c["color"] for c in plt.rcParams["axes.prop_cycle"]]
    assert cycle[:3] == [plot.COLORS["y"], plot.COLORS["y_hat"], plot.COLORS["z"]]


def test_role_colours_are_distinct_and_valid():
    roles = ["x", "y", "y_hat", "z"]
    rgb = [mcolors.to_rgb(plot.COLORS[role]) for role in roles]
    assert len(set(rgb)) == len(roles)


def test_role_colours_differ_in_lightness_or_hue_for_red_green_deficiency():
    # Simulated deuteranopia (Vienot et al. 1999, in linear RGB): the hot red and
    # the cold blue, and the pink input and the orange latent, stay apart.
    def deuteranope(hex_colour):
        r, g, b = (c**2.2 for c in mcolors.to_rgb(hex_colour))
        return (0.29275 * r + 0.70725 * g, 0.29275 * r + 0.70725 * g, -0.02234 * r + 0.02234 * g + b)

    def distance(a, b):
        return sum((p - q) ** 2 for p, q in zip(deuteranope(a), deuteranope(b))) ** 0.5

    c = plot.COLORS
    for a, b in [("y", "y_hat"), ("x", "z"), ("y", "z"), ("x", "y")]:
        assert distance(c[a], c[b]) > 0.1, (a, b)


def test_figures_have_an_opaque_background():
    plot.use()
    assert mcolors.to_rgba(plt.rcParams["savefig.facecolor"])[3] == 1.0


def test_mathtext_renders_bold_italic_vectors():
    """plot.vec gives a bold glyph: the same letter with more ink than the plain italic."""
    import io

    import matplotlib.image as mimage
    from matplotlib import mathtext

    plot.use()

    def ink(tex: str):
        buffer = io.BytesIO()
        mathtext.math_to_image(tex, buffer, dpi=300, format="png")
        buffer.seek(0)
        image = mimage.imread(buffer)
        return ((1 - image[..., :3].mean(axis=2)) * image[..., 3]).sum()

    plain, bold = ink("$x$"), ink(plot.vec("x"))
    assert plain > 0
    assert bold > 1.15 * plain, (bold, plain)


def test_pdf_figures_embed_truetype_not_type3_fonts(tmp_path):
    plot.use()
    fig, ax = plt.subplots()
    ax.set_xlabel(plot.vec("x") + r" and $\beta$, $-1$")
    ax.set_title("text in the serif font")
    fig.savefig(tmp_path / "figure.pdf")
    plt.close(fig)
    pdf = (tmp_path / "figure.pdf").read_bytes()
    assert b"/Type3" not in pdf
    assert b"/CIDFontType2" in pdf or b"/TrueType" in pdf  # Type 42: TrueType outlines


def test_pdf_figures_print_no_font_warnings(tmp_path, caplog):
    # A warning printed by a cell fails the book build.
    plot.use()
    fig, ax = plt.subplots()
    ax.set_xlabel(plot.vec("x") + " in serif")
    fig.savefig(tmp_path / "figure.pdf")
    plt.close(fig)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


def test_vec_refuses_what_matplotlib_would_refuse_later():
    import pytest

    for name in (None, ["x"], ""):
        with pytest.raises(TypeError, match="name must be a non-empty string"):
            plot.vec(name)
    for name in ("{x", "x$y"):
        with pytest.raises(ValueError, match="name must be mathtext without"):
            plot.vec(name)
