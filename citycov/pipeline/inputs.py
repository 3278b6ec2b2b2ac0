"""Step 1: read and validate every input once, vectors in the analysis CRS."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from citycov.config import Scenario
from citycov.config.inputs import InputSpec, OpenCelliDInput
from citycov.crs import WGS84, parse_crs, require_projected, utm_crs_for
from citycov.errors import SiteTableError
from citycov.grid import GridSpec
from citycov.io import Districts, read_districts, read_fibre_nodes, read_fibre_routes, read_sectors, read_wlan
from citycov.io.antenna_patterns import check_pattern_names, read_pattern_folder
from citycov.io.broadcast import read_transmitters
from citycov.io.cell_join import join_cells
from citycov.io.claims import read_claims
from citycov.io.district_tables import read_district_values
from citycov.io.fibre import read_premises
from citycov.io.measurements import MeasurementSet, read_measurements
from citycov.io.msi import AntennaPattern
from citycov.io.opencellid import opencellid_note, read_opencellid
from citycov.io.vector import CSV_SUFFIXES, check_extent
from citycov.io.villages import check_within_districts, read_villages
from citycov.provenance import InputRecord, record_for


@dataclass
class Inputs:
    """Every input read and validated once, vectors in the analysis CRS."""

    crs: pyproj.CRS
    districts: Districts
    sectors: gpd.GeoDataFrame
    aps: gpd.GeoDataFrame | None = None
    nodes: gpd.GeoDataFrame | None = None
    routes: gpd.GeoDataFrame | None = None
    premises: gpd.GeoDataFrame | None = None
    villages: gpd.GeoDataFrame | None = None
    census: np.ndarray | None = None
    household_sizes: np.ndarray | None = None
    claims: gpd.GeoDataFrame | None = None
    measurements: MeasurementSet | None = None
    patterns: dict[str, AntennaPattern] | None = None
    """Antenna patterns by name (file stem) of ``[inputs.antenna_patterns]``."""
    broadcast: gpd.GeoDataFrame | None = None
    """Trunking and DTV transmitters of ``[inputs.broadcast]``."""
    records: list[InputRecord] = field(default_factory=list)


def analysis_crs(scenario: Scenario, districts_wgs84: gpd.GeoDataFrame) -> pyproj.CRS:
    """The scenario's grid CRS, or the UTM zone of the districts' centroid when ``auto``."""
    if scenario.grid.crs != "auto":
        crs = parse_crs(scenario.grid.crs, where=f"{scenario.source}: [grid].crs")
        return require_projected(crs, where=f"{scenario.source}: [grid].crs")
    minx, miny, maxx, maxy = districts_wgs84.total_bounds
    return utm_crs_for((minx + maxx) / 2.0, (miny + maxy) / 2.0)


def read_study_districts(scenario: Scenario) -> Districts:
    """The ``[inputs.districts]`` polygons in the analysis CRS (:func:`analysis_crs`).

    The polygons are reprojected once, from the file's CRS straight to the analysis CRS, and
    not at all when the file is already in it: a WGS84 round trip would move shared edges and
    the extent by ~1e-9 m (a sliver of a populated cell in an empty district, an empty grid
    column).  The WGS84 copy only picks the UTM zone."""
    spec = scenario.inputs["districts"]
    read = read_districts(spec.path, crs=spec.crs, **spec.options)
    crs = analysis_crs(scenario, read.frame.to_crs(WGS84))
    if pyproj.CRS(read.frame.crs).equals(crs, ignore_axis_order=True):
        return Districts(read.frame.set_crs(crs, allow_override=True))
    return Districts(read.frame.to_crs(crs))


def _crs_text(declared, default: str = "file") -> str:
    if declared is None:
        return default
    return declared if isinstance(declared, str) else declared.to_string()


def labelled(record: InputRecord, spec: InputSpec) -> InputRecord:
    """``record`` with the scenario's vintage and note for that input."""
    return replace(record, vintage=spec.vintage, notes=(*record.notes, *((spec.note,) if spec.note else ())))


def _record(spec: InputSpec, rows: int | None) -> InputRecord:
    record = record_for(spec.name, spec.path, crs=_crs_text(spec.crs), synthetic=spec.synthetic, rows=rows)
    return labelled(record, spec)


def _district_values(spec: InputSpec, districts: Districts, value_column: str, default_value_column: str,
                     lo: float, hi: float, lo_open: bool = False) -> np.ndarray:
    """One number per district from the CSV table of ``spec`` (census figures, household sizes)."""
    return read_district_values(spec.path, districts.ids, id_column=spec.options.get("id_column", "district_id"),
                                value_column=spec.options.get(value_column, default_value_column), lo=lo, hi=hi,
                                lo_open=lo_open)


def study_bounds(scenario: Scenario, districts: Districts) -> tuple[float, float, float, float]:
    """The study area of the extent checks (:func:`check_extent`): the analysis grid's bounds,
    the districts' extent snapped outward to ``[grid].cell_m``, which the sectors are also
    checked against (:func:`citycov.engine.sectors.inside_grid`)."""
    return GridSpec.from_bounds(tuple(districts.frame.total_bounds), cell_m=scenario.grid.cell_m,
                                crs=districts.frame.crs).bounds


def _network(spec_in: dict[str, InputSpec], crs: pyproj.CRS, records: list[InputRecord]) -> gpd.GeoDataFrame:
    """The sector table of ``[inputs.sectors]``, ``[inputs.opencellid]`` or both, joined by the
    latter's ``join`` (:func:`citycov.io.cell_join.join_cells`); each input's record appended,
    with the rows dropped and the OpenCelliD defaults, band sources and join counts."""
    sectors = None
    if "sectors" in spec_in:
        s = spec_in["sectors"]
        sectors = read_sectors(s.path, crs=s.crs, to_crs=crs, **s.options)
        dropped = sectors.attrs.get("dropped", {}).get("2G/CDMA technology", 0)
        record = _record(s, len(sectors))
        if dropped:
            record = replace(record, notes=(f"{dropped} 2G/CDMA rows dropped (not modelled)", *record.notes))
        records.append(record)
    if "opencellid" not in spec_in:
        return sectors
    o = spec_in["opencellid"]
    if not isinstance(o, OpenCelliDInput):  # an InputSpec built by hand: the OpenCelliD keys' defaults
        o = OpenCelliDInput(**{f.name: getattr(o, f.name) for f in fields(InputSpec)},
                            min_samples=int(o.options.get("min_samples", 1)))
    cells = read_opencellid(o.path, crs=crs, min_samples=o.min_samples, operators=o.operators, bands=o.bands,
                            defaults=o.defaults, sectors=o.sectors)
    notes = [opencellid_note(cells)]
    if sectors is not None:
        sectors, counts = join_cells(sectors, cells, how=o.join, match_distance_m=o.match_distance_m)
        notes.append(counts.note())
    else:
        sectors = cells
    records.append(labelled(record_for(o.name, o.path, crs=_crs_text(o.crs), synthetic=o.synthetic,
                                       rows=cells.attrs.get("cells", len(cells)), notes=tuple(notes)), o))
    return sectors


def read_inputs(scenario: Scenario) -> Inputs:
    """Read and validate every vector and table input, in the analysis CRS.

    Every vector layer but the districts and the sectors (checked on the grid by the engine)
    goes through :func:`check_extent`: all its features outside the study area is an error,
    more than half a warning."""
    spec_in = scenario.inputs
    districts = read_study_districts(scenario)
    crs = districts.frame.crs
    study = study_bounds(scenario, districts)
    d = spec_in["districts"]
    inputs = Inputs(crs=crs, districts=districts, sectors=None)  # type: ignore[arg-type]
    inputs.records.append(_record(d, len(districts)))
    inputs.sectors = _network(spec_in, crs, inputs.records)
    duplicated = inputs.sectors["sector_id"].duplicated()
    if duplicated.any():
        raise SiteTableError(f"sector_id values appear in both [inputs.sectors] and [inputs.opencellid]: "
                             f"{sorted(inputs.sectors.loc[duplicated, 'sector_id'].astype(str))[:5]}")
    if "antenna_patterns" in spec_in:
        a = spec_in["antenna_patterns"]
        found = read_pattern_folder(a.path, synthetic=a.synthetic, vintage=a.vintage, note=a.note)
        inputs.patterns = found.patterns
        inputs.records.extend(found.records)
    check_pattern_names(inputs.sectors, inputs.patterns,
                        source=str(spec_in["sectors"].path) if "sectors" in spec_in else "sectors")
    optional = {  # input name -> (Inputs attribute, reader)
        "wlan": ("aps", lambda f: read_wlan(f.path, crs=f.crs, to_crs=crs, **f.options)),
        "fibre_nodes": ("nodes", lambda f: read_fibre_nodes(f.path, crs=f.crs, to_crs=crs, **f.options)),
        "fibre_routes": ("routes", lambda f: read_fibre_routes(f.path, crs=f.crs, to_crs=crs)),
        "premises": ("premises", lambda f: read_premises(f.path, crs=f.crs, to_crs=crs, **f.options)),
        "villages": ("villages", lambda f: read_villages(f.path, crs=f.crs, to_crs=crs, **f.options)),
        "broadcast": ("broadcast", lambda f: read_transmitters(f.path, crs=f.crs, to_crs=crs, **f.options)),
    }
    for name, (attr, reader) in optional.items():
        if name in spec_in:
            frame = reader(spec_in[name])
            check_extent(frame, study, source=spec_in[name].path, declared=spec_in[name].crs)
            setattr(inputs, attr, frame)
            inputs.records.append(_record(spec_in[name], len(frame)))
    if inputs.villages is not None:
        check_within_districts(inputs.villages, districts.frame, source=spec_in["villages"].path)
    if scenario.verification is not None:
        v = scenario.verification
        c_spec, m_spec = spec_in["claims"], spec_in["measurements"]
        inputs.claims = read_claims(c_spec.path, crs=crs, source_crs=c_spec.crs)
        check_extent(inputs.claims, study, source=c_spec.path, declared=c_spec.crs)
        inputs.records.append(_record(c_spec, len(inputs.claims)))
        inputs.measurements = read_measurements(m_spec.path, crs=crs, tz=v.timezone,
                                                source_crs=m_spec.crs or "EPSG:4326",
                                                max_accuracy_m=v.max_accuracy_m)
        m_declared = m_spec.crs or ("EPSG:4326" if m_spec.path.suffix.lower() in CSV_SUFFIXES else None)
        check_extent(inputs.measurements.tests, study, source=m_spec.path, declared=m_declared, what="tests")
        inputs.records.append(_record(m_spec, inputs.measurements.n_read))
    if "census" in spec_in:
        c = spec_in["census"]
        inputs.census = _district_values(c, districts, "population_column", "population", 0.0, 1e9, lo_open=True)
        inputs.records.append(_record(c, len(districts)))
    if "household_sizes" in spec_in:
        h = spec_in["household_sizes"]
        inputs.household_sizes = _district_values(h, districts, "size_column", "persons_per_household", 0.5, 20.0)
        inputs.records.append(_record(h, len(districts)))
    return inputs


@dataclass(frozen=True)
class Additions:
    """Planned network elements added to a scenario's inputs (``citycov plan``'s full-engine
    check): sector rows with the columns of the validated sector table, and fibre cabinets
    with the columns of the validated node table, both in the analysis CRS."""

    sectors: gpd.GeoDataFrame | None = None
    nodes: gpd.GeoDataFrame | None = None


def add_planned(inputs: Inputs, additions: Additions) -> Inputs:
    """``inputs`` with the planned sectors and cabinets appended (ids must not clash)."""
    sectors, nodes = inputs.sectors, inputs.nodes
    if additions.sectors is not None and len(additions.sectors):
        sectors = _appended(sectors, additions.sectors, inputs.crs, "sector_id", "planned sectors")
    if additions.nodes is not None and len(additions.nodes):
        nodes = _appended(nodes, additions.nodes, inputs.crs, "node_id", "planned cabinets")
    return replace(inputs, sectors=sectors, nodes=nodes)


def _appended(base: gpd.GeoDataFrame | None, extra: gpd.GeoDataFrame, crs: pyproj.CRS, id_column: str,
              what: str) -> gpd.GeoDataFrame:
    if not pyproj.CRS(extra.crs).equals(crs):
        raise SiteTableError(f"{what} are in {extra.crs}, the analysis CRS is {crs.to_string()}")
    if base is None:
        return extra.reset_index(drop=True)
    if id_column not in extra.columns:
        raise SiteTableError(f"{what} have no {id_column} column")
    clash = sorted(set(base[id_column].astype(str)) & set(extra[id_column].astype(str)))
    if clash:
        raise SiteTableError(f"{what}: {id_column} already in the scenario's table: {clash[:10]}")
    # columns of the scenario's table the planned rows lack (its own coordinate or note columns) stay empty
    joined = pd.concat([base, extra.reindex(columns=list(base.columns))], ignore_index=True)
    return gpd.GeoDataFrame(joined, geometry=base.geometry.name, crs=base.crs)
