"""Bar charts of every target per district against the target line, and the plan's cumulative
coverage curves (matplotlib, PNG).

Used by ``report.html`` (embedded) and written as PNG files for slides.  Chinese labels need
a CJK font: the first installed one of :data:`CJK_FONTS` is used; without one, the charts fall
back to the English district names and say so in the returned notes (never silently).
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import font_manager

from citycov.outputs.i18n import area_name, metric_label, outcome, text

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Serif CJK SC", "WenQuanYi Zen Hei", "Source Han Sans SC")
PASS_COLOUR = "#1a9850"
FAIL_COLOUR = "#d73027"
NONE_COLOUR = "#999999"
"""A district whose share is undefined (no residents, ...): neither passes nor fails."""
OUTCOME_COLOURS = {"pass": PASS_COLOUR, "fail": FAIL_COLOUR, "none": NONE_COLOUR}
PNG_METADATA = {"Software": None}
"""No "Software" chunk (matplotlib's version): the same figure gives the same bytes with any
matplotlib; matplotlib writes no date into a PNG."""


@dataclass(frozen=True)
class Figure:
    """One chart: its metric key (as read, not file-safe: the writer makes a file name of it
    with :func:`citycov.outputs.names.file_names`), its caption and the PNG bytes."""

    key: str
    caption: str
    png: bytes
    prefix: str = "target_"
    """Start of its file name in ``figures/`` (``target_``, ``plan_curve_``)."""


def figure_html(fig: Figure) -> str:
    """``fig`` as an HTML ``<figure>`` with the PNG embedded (a ``data:`` URI), its caption escaped."""
    data = base64.b64encode(fig.png).decode("ascii")
    caption = html.escape(fig.caption, quote=True)
    return (f"<figure><img alt='{caption}' src='data:image/png;base64,{data}' "
            f"style='max-width:100%'><figcaption>{caption}</figcaption></figure>")


def cjk_font() -> str | None:
    """Name of an installed font with Chinese glyphs, or None."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def _chart_fonts(lang: str) -> tuple[str, list[str], list[str]]:
    """The language the chart labels can be drawn in, the font family and the notes (a
    Chinese report without a CJK font gets English labels, and a note saying so)."""
    notes: list[str] = []
    font = cjk_font()
    label_lang = lang
    if lang == "zh" and font is None:
        label_lang = "en"
        notes.append("no CJK font installed (e.g. Debian fonts-noto-cjk): chart labels are in English")
    family = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    return label_lang, family, notes


def target_charts(districts: pd.DataFrame, targets: pd.DataFrame, lang: str) -> tuple[list[Figure], list[str]]:
    """One horizontal bar chart per target metric: each district's value (with its band when
    known) against the threshold line, bars coloured by pass/fail."""
    label_lang, family, notes = _chart_fonts(lang)
    names = districts.set_index("area_id")
    figures = []
    for metric, sel in targets[targets["area_id"] != "city"].groupby("metric", sort=False):
        sel = sel.sort_values("value_pct")
        labels = [area_name(a, names, label_lang) for a in sel["area_id"]]
        values = sel["value_pct"].to_numpy(dtype=float)
        threshold = float(sel["threshold_pct"].iloc[0])
        colours = [OUTCOME_COLOURS[outcome(p, v)] for p, v in zip(sel["passed"], sel["verdict"], strict=True)]
        # text.parse_math off: a "$" in a district name is text, never mathtext (which may not parse)
        with plt.rc_context({"font.family": family, "axes.unicode_minus": False, "text.parse_math": False}):
            fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(sel) + 1.4), dpi=110)
            y = np.arange(len(sel))
            ax.barh(y, np.nan_to_num(values), color=colours, height=0.65)
            low = sel["band_low_pct"].to_numpy(dtype=float)
            high = sel["band_high_pct"].to_numpy(dtype=float)
            ok = np.isfinite(low) & np.isfinite(high) & np.isfinite(values)
            if ok.any():
                ax.errorbar(values[ok], y[ok], xerr=[values[ok] - low[ok], high[ok] - values[ok]], fmt="none",
                            ecolor="#222222", capsize=3, lw=1)
            ax.axvline(threshold, color="#222222", ls="--", lw=1.2,
                       label=text("target_line", label_lang, pct=f"{threshold:g}%"))
            ax.set_yticks(y, labels)
            ax.set_xlim(0, 100)
            ax.set_xlabel(text("coverage_pct", label_lang))
            ax.set_title(metric_label(str(metric), label_lang))
            ax.legend(loc="lower right", fontsize=8)
            for yi, v in zip(y, values, strict=True):
                if np.isfinite(v):
                    ax.text(1.5, yi, f"{v:.1f}%", va="center", ha="left", fontsize=8, color="white",
                            fontweight="bold")
            fig.tight_layout()
            buf = io.BytesIO()
            fig.savefig(buf, format="png", metadata=PNG_METADATA)
            plt.close(fig)
        figures.append(Figure(key=str(metric), caption=metric_label(str(metric), lang), png=buf.getvalue()))
    return figures, notes


CURVE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf")
MAX_CURVE_MARKERS = 60
"""A curve with more steps is drawn as a line only."""


@dataclass(frozen=True)
class CurveLine:
    """One area's cumulative coverage curve: ``cost`` and ``pct`` after each addition (step 0
    first: the coverage before the plan, at cost 0), and its target in percent (NaN: none).
    ``name`` labels an area that the district table does not know."""

    area_id: str
    name: str
    cost: np.ndarray
    pct: np.ndarray
    target_pct: float


def _line_label(line: CurveLine, names: pd.DataFrame, lang: str) -> str:
    if line.area_id == "city" or line.area_id in names.index:
        return area_name(line.area_id, names, lang)
    return line.name


def plan_curve_charts(curves: dict[str, list[CurveLine]], names: pd.DataFrame, *, cost_unit: str,
                      lang: str) -> tuple[list[Figure], list[str]]:
    """One line chart per metric of ``curves`` (metric -> its areas' lines): coverage (%)
    against the plan's cumulative cost (in ``cost_unit``), one line per area (named from
    ``names``, a district table indexed by ``area_id``), each target a dashed line (one per
    distinct target, in the area's colour when they differ)."""
    chart_lang, family, notes = _chart_fonts(lang)
    figures = []
    for metric, lines in curves.items():
        targets = sorted({ln.target_pct for ln in lines if np.isfinite(ln.target_pct)})
        with plt.rc_context({"font.family": family, "axes.unicode_minus": False, "text.parse_math": False}):
            fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=110)
            for i, ln in enumerate(lines):
                colour = CURVE_COLOURS[i % len(CURVE_COLOURS)]
                ax.plot(ln.cost, ln.pct, color=colour, lw=1.6, marker="o" if len(ln.cost) <= MAX_CURVE_MARKERS else "",
                        ms=3, drawstyle="steps-post", label=_line_label(ln, names, chart_lang))
                if len(targets) > 1 and np.isfinite(ln.target_pct):
                    ax.axhline(ln.target_pct, color=colour, ls="--", lw=1.0)
            if len(targets) == 1:
                ax.axhline(targets[0], color="#222222", ls="--", lw=1.2,
                           label=text("target_line", chart_lang, pct=f"{targets[0]:g}%"))
            ax.set_xlabel(text("plan_curve_x", chart_lang, unit=cost_unit))
            ax.set_ylabel(text("coverage_pct", chart_lang))
            ax.set_title(metric_label(metric, chart_lang))
            low = min([float(np.nanmin(ln.pct)) for ln in lines if np.isfinite(ln.pct).any()] + targets + [100.0])
            ax.set_ylim(max(0.0, low - 5.0), 100.5)
            ax.set_xlim(left=0.0)
            ax.grid(True, color="#dddddd", lw=0.6)
            ax.legend(loc="best", fontsize=8)
            fig.tight_layout()
            buf = io.BytesIO()
            fig.savefig(buf, format="png", metadata=PNG_METADATA)
            plt.close(fig)
        figures.append(Figure(key=metric, caption=text("plan_curve_caption", lang, metric=metric_label(metric, lang)),
                              png=buf.getvalue(), prefix="plan_curve_"))
    return figures, notes
