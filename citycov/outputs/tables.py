"""CSV tables that are safe to open in a spreadsheet, and read back exactly.

Every CSV a run writes goes through :func:`write_csv`.  Following OWASP's advice on CSV
(formula) injection, a **text** cell that starts with ``=``, ``+``, ``-``, ``@``, a tab (0x09)
or a carriage return (0x0D) gets a single quote ``'`` in front, so a spreadsheet shows it as
text instead of evaluating it (a district called ``=HYPERLINK(...)`` stays a name).  A text
cell that itself starts with ``'`` gets one more, so that :func:`read_csv` (which removes one
leading quote from every text cell) gives back exactly the text written.  Numbers are never
touched: only string values of text (object or string dtype) columns are, so ``-95.2`` stays
a number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

QUOTE = "'"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP)."""
_QUOTED_START = (*FORMULA_START, QUOTE)


def _is_text_column(series: pd.Series) -> bool:
    return series.dtype == object or isinstance(series.dtype, pd.StringDtype)


def quote_cell(value: Any) -> Any:
    """``value`` as written to a CSV: a string starting with a formula character or ``'`` gets
    a leading ``'``; anything else (numbers, booleans, missing values) is returned as is."""
    if isinstance(value, str) and value.startswith(_QUOTED_START):
        return QUOTE + value
    return value


def unquote_cell(value: Any) -> Any:
    """The inverse of :func:`quote_cell` for a cell read from a CSV written by :func:`write_csv`."""
    if isinstance(value, str) and value.startswith(QUOTE):
        return value[1:]
    return value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell passed through :func:`quote_cell`."""
    out = frame.copy()
    for col in out.columns:
        if _is_text_column(out[col]):
            out[col] = out[col].map(quote_cell)
    return out


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` (without its index) as UTF-8 CSV, text cells made safe for spreadsheets
    (:func:`spreadsheet_safe`).

    Rows end in CRLF, as RFC 4180 has it: Python's CSV writer quotes a cell holding any
    character of the line terminator, so a carriage return inside a name is quoted too, and
    cannot start a new row in a spreadsheet (where the rest of the name would be unquoted)."""
    path = Path(path)
    spreadsheet_safe(frame).to_csv(path, index=False, lineterminator="\r\n", encoding="utf-8")
    return path


def read_csv(path: str | Path, **kwargs: Any) -> pd.DataFrame:
    """Read a CSV written by :func:`write_csv` (keyword arguments go to :func:`pandas.read_csv`),
    removing the spreadsheet quote from every text cell."""
    frame = pd.read_csv(path, **kwargs)
    for col in frame.columns:
        if _is_text_column(frame[col]):
            frame[col] = frame[col].map(unquote_cell)
    return frame
