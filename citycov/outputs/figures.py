"""Bar charts of every target per district against the target line (matplotlib, PNG).

Used by ``report.html`` (embedded) and written as PNG files for slides.  Chinese labels need
a CJK font: the first installed one of :data:`CJK_FONTS` is used; without one, the charts fall
back to the English district names and say so in the returned notes (never silently).
"""

from __future__ import annotations

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


def cjk_font() -> str | None:
    """Name of an installed font with Chinese glyphs, or None."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def target_charts(districts: pd.DataFrame, targets: pd.DataFrame, lang: str) -> tuple[list[Figure], list[str]]:
    """One horizontal bar chart per target metric: each district's value (with its band when
    known) against the threshold line, bars coloured by pass/fail."""
    notes: list[str] = []
    font = cjk_font()
    label_lang = lang
    if lang == "zh" and font is None:
        label_lang = "en"
        notes.append("no CJK font installed (e.g. Debian fonts-noto-cjk): chart labels are in English")
    family = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
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
