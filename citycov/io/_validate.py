"""The front door of every tabular and vector input, and the shared column checks.

Every CSV reader goes through :func:`read_csv_table` and every OGR reader through
:func:`read_ogr`; both answer the classes of bad file once, with one line naming the file and,
where there is one, the line (CSV) or feature (OGR) and the column:

* missing file, unreadable file, a folder instead of a file;
* a file of 0 bytes, or of blank lines only ("is empty");
* bytes that are not UTF-8 text (line and byte of the first bad byte), NUL bytes (binary data);
* a header line with a repeated column name, rows with more or fewer fields than the header;
* a header and no rows ("has a header and no rows"), a vector layer with no features;
* geometries GEOS cannot build (e.g. a polygon ring that is not closed), attributes that are
  not UTF-8 in a GeoPackage.

:class:`TableChecker` then collects the problems of the columns (missing, blank, not a number,
out of range, not one of the allowed values, duplicate keys) and names rows by their line in
the file: blank lines and quoted line breaks are counted, so ``line 7`` is line 7 in an editor.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from citycov.errors import CitycovWarning, InputFileError

CSV_SUFFIXES = {".csv", ".txt"}
TEXT_VECTOR_SUFFIXES = {".geojson", ".json", ".geojsonl", ".geojsons", ".kml", ".gml", ".gpx"}
"""OGR formats that are text: their bytes are checked as UTF-8 before OGR reads them."""
_PYOGRIO_ERRORS = tuple(getattr(pyogrio.errors, name) for name in
                        ("DataSourceError", "DataLayerError", "FieldError", "FeatureError", "GeometryError",
                         "CRSError") if hasattr(pyogrio.errors, name))
_FIELDS_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def one_line(text: Any) -> str:
    """``text`` with every run of whitespace (line breaks included) as one space."""
    return " ".join(str(text).split())


# -- naming rows ----------------------------------------------------------------------------------

def row_label(path: str | Path, index: int, lines: np.ndarray | None = None) -> str:
    """How a row is named in messages: its CSV line (header = line 1; ``lines`` maps rows to
    lines when the file has blank lines or quoted line breaks) or its feature number (1-based)
    in other formats."""
    if lines is not None and 0 <= int(index) < len(lines):
        return f"line {int(lines[int(index)])}"
    if Path(path).suffix.lower() in CSV_SUFFIXES:
        return f"line {int(index) + 2}"
    return f"feature {int(index) + 1}"


def rows_text(path: str | Path, index: Any, limit: int = 10, *, lines: np.ndarray | None = None) -> str:
    """``line 3, line 7 and 2 more``: the rows ``index`` (0-based positions, or a bool mask)."""
    index = np.asarray(index)
    if index.dtype == bool:
        index = np.flatnonzero(index)
    index = list(index)
    labels = [row_label(path, int(i), lines) for i in index[:limit]]
    more = f" and {len(index) - limit} more" if len(index) > limit else ""
    return ", ".join(labels) + more


def frame_lines(frame: pd.DataFrame) -> np.ndarray | None:
    """The file line of each row of a frame read by :func:`read_csv_table`, where it is not
    simply the row + 2 (None otherwise)."""
    lines = frame.attrs.get("lines")
    return np.asarray(lines, dtype=np.int64) if lines is not None and len(lines) == len(frame) else None


# -- bytes and text -------------------------------------------------------------------------------

def file_bytes(path: str | Path, error_cls: type[Exception], *, what: str = "a table") -> bytes:
    """The bytes of ``path``; InputFileError when missing or unreadable, ``error_cls`` when empty."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: cannot read: file not found")
    if not path.is_file():
        raise InputFileError(f"{path}: cannot read: not a file (expected {what})")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read: {one_line(exc.strerror or exc)}") from exc
    if not raw:
        raise error_cls(f"{path}: is empty (0 bytes); expected {what}")
    return raw


def decode_text(raw: bytes, path: str | Path, error_cls: type[Exception], *, what: str = "a table") -> str:
    """``raw`` as UTF-8 text (a leading byte-order mark is dropped).

    Raises ``error_cls`` naming the line and byte of the first byte that is not UTF-8, or of a
    NUL byte (binary data), and what was expected.
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, column = _line_column(raw, exc.start)
        bad = raw[exc.start:exc.start + 4]
        raise error_cls(f"{path}: line {line}, byte {column}: {bad!r} is not UTF-8 text ({exc.reason}); "
                        f"expected {what} saved as UTF-8 (convert it, e.g. from GBK or Latin-1)") from None
    nul = text.find("\x00")
    if nul >= 0:
        line, column = _line_column(text.encode("utf-8"), len(text[:nul].encode("utf-8")))
        raise error_cls(f"{path}: line {line}, byte {column}: NUL byte (binary data); expected {what} as text")
    if not text.strip():
        raise error_cls(f"{path}: is empty (only blank lines); expected {what}")
    return text


def _line_column(raw: bytes, offset: int) -> tuple[int, int]:
    """1-based line and byte-in-line of ``offset`` in ``raw``."""
    line = raw.count(b"\n", 0, offset) + 1
    return line, offset - (raw.rfind(b"\n", 0, offset) + 1) + 1


# -- CSV ------------------------------------------------------------------------------------------

def read_csv_table(path: str | Path, *, error_cls: type[Exception], what: str = "row",
                   header: bool = True, names: list[str] | None = None, dtype: Any = None,
                   allow_empty: bool = False) -> pd.DataFrame:
    """Read a CSV table through the front door: explicit UTF-8, every class of bad file answered
    with one line naming the file, the line and what was expected.

    Parameters
    ----------
    error_cls
        The error raised for a bad table (the input's own class, e.g. SiteTableError).
    what
        What one row is ("sector"), for the messages.
    header
        The first line names the columns; without it ``names`` does.
    allow_empty
        Accept a header with no rows (an empty frame).

    Returns
    -------
    DataFrame as pandas infers it (column names stripped), with ``attrs["lines"]``, the file line
    of each row, where that is not row + 2 (see :func:`frame_lines`).
    """
    path = Path(path)
    expected = f"a CSV table with a header line and one line per {what}" if header else f"CSV lines, one per {what}"
    raw = file_bytes(path, error_cls, what=expected)
    text = decode_text(raw, path, error_cls, what=expected)
    if "\r" in text:  # one line ending for both parsers: CRLF and a lone CR (old Mac) end a line
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    columns, lines = _csv_layout(text, path, error_cls, header=header, names=names, what=what)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.ParserWarning)
            frame = pd.read_csv(io.StringIO(text), header=0 if header else None,
                                names=None if header else names, dtype=dtype, index_col=False, low_memory=False)
    except pd.errors.EmptyDataError:
        raise error_cls(f"{path}: is empty (no columns); expected {expected}") from None
    except pd.errors.ParserError as exc:
        m = _FIELDS_RE.search(str(exc))
        if m:
            raise error_cls(f"{path}: line {m.group(2)}: {m.group(3)} fields, expected {m.group(1)} "
                            "(as many as the header; quote values that hold a comma)") from None
        raise error_cls(f"{path}: cannot parse as CSV: {one_line(exc)}") from None
    except (ValueError, OverflowError, TypeError) as exc:
        raise error_cls(f"{path}: cannot parse as CSV: {one_line(exc)}") from None
    if header:
        frame.columns = [c.strip() if isinstance(c, str) else c for c in frame.columns]
    if len(frame) == 0 and not allow_empty:
        raise error_cls(f"{path}: has a header and no rows; expected at least one {what} after the header "
                        f"line (columns {columns[:20]})")
    if lines is not None and len(lines) == len(frame) and not np.array_equal(lines, np.arange(len(frame)) + 2):
        # no header, blank lines or quoted line breaks: keep where each row is (a tuple: pandas compares attrs)
        frame.attrs["lines"] = tuple(int(v) for v in lines)
    return frame


def _csv_layout(text: str, path: Path, error_cls: type[Exception], *, header: bool,
                names: list[str] | None, what: str = "row") -> tuple[list[str], np.ndarray | None]:
    """The header's column names and the line of each record, checking the columns are unique
    and every record has as many fields as the header (a longer row would shift its values
    into the wrong columns, a shorter one is a truncated file)."""
    reader = csv.reader(io.StringIO(text))
    starts: list[int] = []
    counts: list[int] = []
    previous = 0
    try:
        for record in reader:
            start, previous = previous + 1, reader.line_num
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # a blank line: pandas skips it too
            starts.append(start)
            counts.append(len(record))
            if len(starts) == 1:
                first = record
    except csv.Error as exc:
        raise error_cls(f"{path}: line {reader.line_num}: cannot parse as CSV ({exc}); expected {what} values "
                        "separated by commas, quoted where they hold a comma, a quote or a line break") from None
    if not starts:
        return [], None
    columns = [c.strip() for c in first] if header else list(names or [])
    if header:
        seen: dict[str, list[int]] = {}
        for i, name in enumerate(columns):
            seen.setdefault(name, []).append(i + 1)
        repeated = {n: cols for n, cols in seen.items() if len(cols) > 1}
        if repeated:
            shown = "; ".join(f"{n!r} in columns {cols}" for n, cols in list(repeated.items())[:5])
            raise error_cls(f"{path}: line {starts[0]}: repeated column names ({shown}); expected each column "
                            "name once")
        starts, counts = starts[1:], counts[1:]
    width = len(columns) if columns else (counts[0] if counts else 0)
    wrong = [i for i, n in enumerate(counts) if n != width]
    if wrong:
        shown = ", ".join(f"line {starts[i]} has {counts[i]}" for i in wrong[:5])
        more = f" and {len(wrong) - 5} more lines" if len(wrong) > 5 else ""
        raise error_cls(f"{path}: {shown}{more} fields, expected {width} (as many as the header"
                        f"{'' if header else ' columns'}; quote values that hold a comma, a short row is "
                        "a truncated file)")
    return columns, np.asarray(starts, dtype=np.int64)


# -- OGR vector files -----------------------------------------------------------------------------

def read_ogr(path: str | Path, *, error_cls: type[Exception], what: str = "feature") -> gpd.GeoDataFrame:
    """Read a vector file (GeoJSON, GeoPackage, Shapefile, ...) through the front door.

    Answers with one line: a missing, empty or unreadable file (InputFileError for a file OGR
    cannot open); text formats that are not UTF-8 (line and byte); attributes that are not UTF-8
    (feature and column); geometries that cannot be built (feature and GEOS's reason); a layer
    with no features (``error_cls``).  A file with several layers is read at its first one, with
    a :class:`CitycovWarning`.

    Returns the frame with a 0..n-1 index (feature numbers are index + 1).
    """
    path = Path(path)
    expected = f"a vector file (GeoJSON, GeoPackage, Shapefile) with one feature per {what}"
    if not path.exists():
        raise InputFileError(f"{path}: cannot read: file not found")
    if not path.is_file():
        raise InputFileError(f"{path}: cannot read: not a file (expected {expected})")
    if path.suffix.lower() == ".shp":
        for part in (".shx", ".dbf"):
            if not path.with_suffix(part).is_file() and not path.with_suffix(part.upper()).is_file():
                raise InputFileError(f"{path}: cannot read: the Shapefile's {part} file "
                                     f"{path.with_suffix(part).name} is missing; expected .shp, .shx and .dbf")
    if path.suffix.lower() in TEXT_VECTOR_SUFFIXES:
        decode_text(file_bytes(path, error_cls, what=expected), path, error_cls, what=expected)
    elif path.stat().st_size == 0:
        raise error_cls(f"{path}: is empty (0 bytes); expected {expected}")
    layer = None
    try:
        layers = pyogrio.list_layers(path)
    except (*_PYOGRIO_ERRORS, OSError, UnicodeDecodeError):
        layers = None
    if layers is not None and len(layers) > 1:
        layer = str(layers[0][0])
        warnings.warn(f"{path}: holds {len(layers)} layers ({', '.join(str(n) for n in layers[:5, 0])}); "
                      f"read the first, {layer!r}", CitycovWarning, stacklevel=3)
    try:
        frame = gpd.read_file(path, engine="pyogrio", layer=layer)
    except UnicodeDecodeError as exc:
        raise error_cls(_undecodable_attribute(path, exc, layer)) from None
    except shapely.errors.GEOSException:
        raise error_cls(_unbuildable_geometry(path, layer)) from None
    except (*_PYOGRIO_ERRORS, OSError, ValueError) as exc:
        raise InputFileError(f"{path}: cannot read as a vector file: {one_line(exc)}") from None
    if len(frame) == 0:
        raise error_cls(f"{path}: has no features; expected at least one {what}")
    return frame.reset_index(drop=True)


def _undecodable_attribute(path: Path, exc: UnicodeDecodeError, layer: str | None) -> str:
    """The feature and column of the first attribute that is not UTF-8."""
    tail = (f"is not UTF-8 text ({exc.reason}); expected UTF-8 attributes (a Shapefile may name "
            "its encoding in a .cpg file)")
    try:
        info = pyogrio.read_info(path, layer=layer)
    except (*_PYOGRIO_ERRORS, OSError, UnicodeDecodeError):
        return f"{path}: a column name or value {tail}"
    n = int(info.get("features") or 0)
    for column in info["fields"]:
        try:
            pyogrio.read_dataframe(path, layer=layer, columns=[column], read_geometry=False)
            continue
        except UnicodeDecodeError:
            pass
        except (*_PYOGRIO_ERRORS, OSError):
            break
        lo, hi = 0, max(n, 1)  # the first failing feature is in [lo, hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            try:
                pyogrio.read_dataframe(path, layer=layer, columns=[column], read_geometry=False,
                                       skip_features=lo, max_features=mid - lo)
                lo = mid
            except UnicodeDecodeError:
                hi = mid
            except (*_PYOGRIO_ERRORS, OSError):
                break
        return f"{path}: feature {lo + 1}, column {column!r}: the value {tail}"
    return f"{path}: a column name or value {tail}"


def _unbuildable_geometry(path: Path, layer: str | None) -> str:
    """The features whose geometry GEOS cannot build, with its first reasons."""
    bad: list[int] = []
    reasons: list[str] = []
    try:
        _, _, wkb, _ = pyogrio.raw.read(path, layer=layer, columns=[])
        for i, w in enumerate(wkb):
            if w is None:
                continue
            try:
                shapely.from_wkb(w)
            except shapely.errors.GEOSException as exc:
                bad.append(i)
                reason = one_line(exc).split(": ", 1)[-1]
                if reason not in reasons:
                    reasons.append(reason)
    except (*_PYOGRIO_ERRORS, OSError, UnicodeDecodeError):
        pass
    where = f"at {rows_text(path, bad)} " if bad else ""
    return (f"{path}: geometry cannot be built {where}({'; '.join(reasons[:3]) or 'GEOS refused it'}); "
            "expected valid geometries (a polygon's rings closed: last point = first point, at least 4 points)")


# -- column checks --------------------------------------------------------------------------------

class TableChecker:
    """Accumulates problems about one table read from ``path``; rows are named by their line in
    the file when the frame came through :func:`read_csv_table`."""

    def __init__(self, frame: pd.DataFrame, path: str | Path, *, source_rows: np.ndarray | None = None,
                 source_lines: np.ndarray | None = None) -> None:
        """``source_rows``: for a frame that is a subset of the file's rows, the 0-based row of
        the file of each of its rows (``source_lines``: the file's :func:`frame_lines`), so
        messages still name the file's lines or features."""
        self.frame = frame
        self.path = Path(path)
        self.source_rows = None if source_rows is None else np.asarray(source_rows, dtype=np.int64)
        self.lines = frame_lines(frame) if source_rows is None else source_lines
        self.problems: list[str] = []

    def rows(self, index: Any, limit: int = 10) -> str:
        """The rows ``index`` (0-based positions or a bool mask) as ``line 3, line 7``."""
        if self.source_rows is not None:
            index = np.asarray(index)
            index = self.source_rows[np.flatnonzero(index) if index.dtype == bool else index.astype(np.int64)]
        return rows_text(self.path, index, limit, lines=self.lines)

    def require(self, columns: Iterable[str]) -> bool:
        missing = [c for c in columns if c not in self.frame.columns]
        if missing:
            found = [str(c) for c in self.frame.columns if str(c) != getattr(self.frame, "_geometry_column_name", "")]
            hint = ""
            if len(found) == 1:
                for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
                    if sep in found[0]:
                        hint = f"; the header is split by {name}, expected commas"
                        break
            self.problems.append(f"missing columns {missing} (found {found[:30]}){hint}")
        return not missing

    def numeric(self, column: str, lo: float, hi: float, *, unit: str = "",
                allow_missing: bool = False) -> np.ndarray:
        """Float64 values of ``column``; problems for non-numbers and values outside [lo, hi]."""
        if column not in self.frame.columns:
            return np.full(len(self.frame), np.nan)
        raw = self.frame[column]
        values = numbers(raw)
        blank = blank_cells(raw)
        not_number = np.flatnonzero(~blank & ~np.isfinite(values))
        if len(not_number):
            shown = [_shown(raw.iloc[i]) for i in not_number[:3]]
            self.problems.append(f"{column}: not a number at {self.rows(not_number)} (found {shown})")
        if not allow_missing:
            missing = np.flatnonzero(blank)
            if len(missing):
                self.problems.append(f"{column}: missing at {self.rows(missing)}")
        finite = np.isfinite(values)
        out = np.flatnonzero(finite & ((values < lo) | (values > hi)))
        if len(out):
            shown = [float(values[i]) for i in out[:3]]
            self.problems.append(
                f"{column}: outside {lo}..{hi}{(' ' + unit) if unit else ''} at "
                f"{self.rows(out)} (found {shown})"
            )
        values = values.copy()
        values[~finite] = np.nan
        return values

    def choice(self, column: str, allowed: Iterable[str]) -> np.ndarray:
        allowed = list(allowed)
        if column not in self.frame.columns:
            return np.array([""] * len(self.frame), dtype=object)
        values = text_values(self.frame[column])
        bad = np.flatnonzero(~np.isin(values, allowed))
        if len(bad):
            shown = sorted({_shown(values[i]) for i in bad[:10]})
            self.problems.append(f"{column}: expected one of {allowed} at {self.rows(bad)} (found {shown})")
        return values

    def text(self, column: str) -> np.ndarray:
        if column not in self.frame.columns:
            return np.array([""] * len(self.frame), dtype=object)
        values = text_values(self.frame[column])
        blank = np.flatnonzero(values == "")
        if len(blank):
            self.problems.append(f"{column}: empty at {self.rows(blank)}")
        return values

    def unique(self, column: str) -> None:
        """Duplicate keys of ``column`` (compared as stripped text; blanks are left to :meth:`text`)."""
        if column not in self.frame.columns:
            return
        keys = pd.Series(text_values(self.frame[column]))
        dup = (keys.duplicated(keep=False) & (keys != "")).to_numpy()
        idx = np.flatnonzero(dup)
        if len(idx):
            shown = sorted({str(keys.iloc[i]) for i in idx[:10]})[:5]
            self.problems.append(f"{column}: duplicate values {shown} at {self.rows(idx)}; expected each once")

    def geometry_types(self, allowed: Iterable[str]) -> None:
        allowed = set(allowed)
        geom = self.frame.geometry
        empty = np.flatnonzero((geom.isna() | geom.is_empty).to_numpy())
        if len(empty):
            self.problems.append(f"geometry: missing or empty at {self.rows(empty)}")
        types = geom.geom_type.fillna("").to_numpy(dtype=object)
        bad = np.flatnonzero(~np.isin(types, list(allowed)) & (types != ""))
        if len(bad):
            self.problems.append(f"geometry: expected {sorted(allowed)} at {self.rows(bad)} "
                                 f"(found {sorted({types[i] for i in bad})})")
        self.finite_coordinates()

    def finite_coordinates(self) -> None:
        """Geometries with NaN or infinite coordinates (OGR reads them; nothing can use them), or
        coordinates off the Earth: outside -180..180 / -90..90 in a geographic CRS, beyond
        ±1e8 units in a projected one."""
        geoms = self.frame.geometry.to_numpy()
        present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
        bad = np.zeros(len(geoms), dtype=bool)
        off = np.zeros(len(geoms), dtype=bool)
        crs = getattr(self.frame, "crs", None)
        geographic = bool(crs is not None and crs.is_geographic)
        if present.any():
            coords, index = shapely.get_coordinates(geoms[present], return_index=True)
            finite = np.isfinite(coords).all(axis=1)
            with np.errstate(invalid="ignore"):
                if geographic:
                    outside = finite & ((np.abs(coords[:, 0]) > 180.0) | (np.abs(coords[:, 1]) > 90.0))
                else:
                    outside = finite & (np.abs(coords) > 1e8).any(axis=1)
            rows = np.flatnonzero(present)
            bad[rows[np.unique(index[~finite])]] = True
            off[rows[np.unique(index[outside])]] = True
        if bad.any():
            self.problems.append(f"geometry: NaN or infinite coordinates at {self.rows(bad)}")
        if off.any():
            limit = "-180..180 / -90..90 degrees" if geographic else "±1e8 (not on the Earth)"
            self.problems.append(f"geometry: coordinates outside {limit} at {self.rows(off)}; is the CRS right?")


def numbers(raw: pd.Series) -> np.ndarray:
    """float64 of a column: NaN where blank or not a number (inf stays inf; text is never a number)."""
    with np.errstate(all="ignore"):
        values = pd.to_numeric(raw, errors="coerce")
        try:
            return np.array(values.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            return np.array([_to_float(v) for v in values], dtype=np.float64)


def _to_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return np.nan


def blank_cells(raw: pd.Series) -> np.ndarray:
    """bool per row: the cell is missing or only spaces."""
    blank = raw.isna().to_numpy()
    if raw.dtype == object or pd.api.types.is_string_dtype(raw.dtype):
        blank = blank | raw.astype("string").fillna("").str.strip().eq("").to_numpy(dtype=bool)
    return blank


def text_values(raw: pd.Series) -> np.ndarray:
    """A column as stripped text (object array), ``""`` where blank."""
    return raw.astype("string").fillna("").str.strip().to_numpy(dtype=object)


def _shown(value: Any) -> Any:
    """A cell value as shown in a message: short text, numbers as numbers."""
    if isinstance(value, str):
        return value if len(value) <= 40 else value[:37] + "..."
    if isinstance(value, np.generic):
        return value.item()
    return value
