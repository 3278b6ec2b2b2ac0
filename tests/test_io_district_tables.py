"""The district-table reader: one number per district from a CSV table, every problem listed."""

from __future__ import annotations

import numpy as np
import pytest

from citycov.errors import InputFileError, ScenarioError
from citycov.io.district_tables import read_district_values


def _read(path, ids=("440103", "440104"), **kw):
    args = {"id_column": "adcode", "value_column": "pop", "lo": 0.0, "hi": 1e9, **kw}
    return read_district_values(path, list(ids), **args)


def test_values_come_in_the_order_of_the_districts(tmp_path):
    path = tmp_path / "census.csv"
    path.write_text("adcode,pop,other\n440104, 250,x\n440103,100.5,y\n", encoding="utf-8")
    values = _read(path)
    assert values.dtype == np.float64
    np.testing.assert_array_equal(values, [100.5, 250.0])


def test_missing_column_names_the_file_and_the_columns_found(tmp_path):
    path = tmp_path / "census.csv"
    path.write_text("adcode,population\n440103,1\n", encoding="utf-8")
    expected = r"census\.csv: missing columns \['pop'\] \(found \['adcode', 'population'\]\)"
    with pytest.raises(ScenarioError, match=expected):
        _read(path)


def test_every_bad_district_is_listed(tmp_path):
    path = tmp_path / "sizes.csv"
    path.write_text("adcode,pop\n440103,25\n440105,3\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        _read(path, lo=0.5, hi=20.0)
    text = str(info.value)
    assert "district 440103: pop missing or outside 0.5..20 (found 25)" in text
    assert "district 440104: pop missing or outside 0.5..20 (found None)" in text


def test_unreadable_file_is_an_input_file_error(tmp_path):
    with pytest.raises(InputFileError, match=r"nope\.csv: cannot read"):
        _read(tmp_path / "nope.csv")
