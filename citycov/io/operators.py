"""Operator names of mobile networks by MCC-MNC (ITU-T E.212), for any country.

The table :data:`OPERATOR_TABLE` is read from ``citycov/io/data/mcc_mnc.csv`` (its source and
licence are in the README beside it): China, Hong Kong, Taiwan, most of Europe, the USA and
Canada, Latin America's, Asia-Pacific's, Africa's and the Middle East's main networks.  A
scenario's ``[inputs.opencellid] operators = { "208-01" = "Orange" }`` overrides or extends it.

MNCs are matched by value: OpenCelliD writes ``net`` as an integer (``1`` for ``01``), so
``208-1`` and ``208-01`` are the same network.  An unlisted pair is named ``"MCC-MNC"`` with the
MNC written with the number of digits the country uses (2 unless its listed MNCs have 3).

Examples
--------
>>> operator_names(["208", "208", "310", "460"], ["1", "10", "260", "0"]).tolist()
['Orange', 'SFR', 'T-Mobile', 'China Mobile']
>>> operator_names(["208"], ["26"]).tolist()
['208-26']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

TABLE_PATH = Path(__file__).with_name("data") / "mcc_mnc.csv"


def _load_table(path: Path = TABLE_PATH) -> dict[tuple[int, int], tuple[str, str, str]]:
    """(mcc, mnc) as integers -> (MNC as written, ISO country, operator name)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return {(int(r.mcc), int(r.mnc)): (r.mnc, r.country_iso, r.operator) for r in frame.itertuples(index=False)}


OPERATOR_TABLE = _load_table()
"""(MCC, MNC) integers -> (MNC as assigned, country ISO code, operator name)."""
_THREE_DIGIT_MCC = {mcc for (mcc, _), (mnc, _, _) in OPERATOR_TABLE.items() if len(mnc) == 3}


def plmn_code(mcc: int | str, mnc: int | str) -> str:
    """``"MCC-MNC"`` with the MNC's digits as the country writes them (``208-01``, ``310-260``)."""
    m, n = int(mcc), int(mnc)
    listed = OPERATOR_TABLE.get((m, n))
    width = len(listed[0]) if listed else (3 if m in _THREE_DIGIT_MCC else 2)
    return f"{m:03d}-{n:0{width}d}"


def parse_plmn(text: str) -> tuple[int, int] | None:
    """``"208-01"`` or ``"208-1"`` as (208, 1); None if malformed (``"20801"`` is: MCC and MNC
    need the hyphen, as 2- and 3-digit MNCs cannot be told apart without it)."""
    found = re.fullmatch(r"\s*(\d{3})\s*-\s*(\d{1,3})\s*", text)
    return None if found is None else (int(found.group(1)), int(found.group(2)))


def operator_names(mcc: Iterable, mnc: Iterable, *,
                   overrides: Mapping[tuple[int, int], str] | None = None) -> np.ndarray:
    """The operator name (object array) of each (MCC, MNC): ``overrides`` first, then
    :data:`OPERATOR_TABLE`, else the :func:`plmn_code` ``"MCC-MNC"``."""
    extra = dict(overrides or {})
    out = []
    cache: dict[tuple[int, int], str] = {}
    for a, b in zip(mcc, mnc, strict=True):
        key = (int(a), int(b))
        if key not in cache:
            listed = OPERATOR_TABLE.get(key)
            cache[key] = extra.get(key) or (listed[2] if listed else plmn_code(*key))
        out.append(cache[key])
    return np.array(out, dtype=object)


def is_listed(mcc: int | str, mnc: int | str, *, overrides: Mapping[tuple[int, int], str] | None = None) -> bool:
    """Whether (MCC, MNC) has a name in ``overrides`` or :data:`OPERATOR_TABLE`."""
    key = (int(mcc), int(mnc))
    return key in (overrides or {}) or key in OPERATOR_TABLE
