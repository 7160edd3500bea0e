"""Plotting helpers: a consistent figure size, and a font that has Chinese glyphs."""
from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence

__all__ = ["use_svg", "set_figsize", "use_cjk_font", "plot_curves"]


def use_svg() -> None:
    """Render inline figures as SVG in Jupyter (crisp in the book); a no-op outside
    IPython."""
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    set_matplotlib_formats("svg")


def set_figsize(figsize: tuple[float, float] = (6.0, 3.5)) -> None:
    import matplotlib.pyplot as plt

    plt.rcParams["figure.figsize"] = figsize


def use_cjk_font() -> str:
    """Make matplotlib draw Chinese characters: register a CJK font and put it first in
    the sans-serif list. Returns the font's name. The font is ``$RNNCOURSE_CJK_FONT`` (a
    font file) when set, else Noto Sans CJK SC as shipped by the ``mplfonts`` package,
    else a system font.

    Raises ``RuntimeError`` (rather than drawing empty boxes) when no CJK font is found.
    """
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    candidates: list[pathlib.Path] = []
    # a font file of your own choice comes first
    if os.environ.get("RNNCOURSE_CJK_FONT"):
        candidates.append(pathlib.Path(os.environ["RNNCOURSE_CJK_FONT"]))
    try:
        import mplfonts

        candidates.append(pathlib.Path(mplfonts.__file__).parent / "fonts"
                          / "NotoSansCJKsc-Regular.otf")
    except ImportError:
        pass
    candidates += [pathlib.Path(p) for p in (
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    )]
    for path in candidates:
        if path.exists():
            font_manager.fontManager.addfont(str(path))
            name = font_manager.FontProperties(fname=str(path)).get_name()
            plt.rcParams["font.sans-serif"] = [name] + [
                f for f in plt.rcParams["font.sans-serif"] if f != name]
            plt.rcParams["font.family"] = "sans-serif"
            # CJK fonts often lack the minus glyph
            plt.rcParams["axes.unicode_minus"] = False
            return name
    raise RuntimeError("no CJK font found: `pip install mplfonts` (it ships Noto Sans "
                       "CJK SC)")


def plot_curves(curves: dict[str, Sequence[float]], xlabel: str = "epoch",
                ylabel: str = "", logy: bool = False, ax=None,
                title: str | None = None):
    """Plot several named curves against 1, 2, ... on one axis; returns the axis."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    for label, ys in curves.items():
        ax.plot(range(1, len(ys) + 1), list(ys), label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    if len(curves) > 1:
        ax.legend()
    ax.grid(True, alpha=0.3)
    return ax
