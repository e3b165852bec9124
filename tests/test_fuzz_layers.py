"""Property-based fuzzing of the layer readers (issue 8, "Reliability and security").

Every generated vector layer (GeoPackage) and raster (GeoTIFF) either loads and gives a
correct result, or fails with a :class:`~siting.core.errors.SitingError` whose problems name
the file, the layer and, for a bad cell, the row and the field. Never a traceback from
shapely, pyogrio, rasterio, numpy or pandas, never a hang, never a silently wrong value.

Each case starts from a valid layer and applies a random set of mutations, each of which
knows what it should cause: nothing (3-D points, IDs as numbers, numbers as text, another
valid CRS ...), or a problem at a given row and field, or a problem for the whole layer.
The layer is then read twice: alone (:func:`siting.inputs.vector.read_vector`, for every
layer kind including the grid's) and, for the layers a scenario names outside the grid,
through :func:`siting.inputs.load_layers` and :func:`siting.candidates.generate.build_candidates`.
Rasters go through ``load_layers`` and ``build_candidates`` as land cost, land classes or
climate. Files that are not GeoPackages or GeoTIFFs at all (random, empty, truncated,
corrupted bytes) must be refused by name, or, when GDAL still reads something, give sane
output.

Counts of cases (total, loaded, named error) are collected and checked by the last test;
run the whole file for it (``pytest tests/test_fuzz_layers.py``).
"""

from __future__ import annotations

import math
import os
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely
import shapely.affinity
from fuzzing import no_hang
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasterio.transform import Affine, from_origin
from shapely.geometry import GeometryCollection, LineString, Point, Polygon, box

from siting.candidates.generate import COLUMNS, build_candidates
from siting.config.scenario import scenario_from_dict
from siting.core.errors import InputError, ProblemReport, SitingError
from siting.inputs import load_layers
from siting.inputs.fields import LAYERS, MAX_ABS_VALUE, Field, LayerSpec
from siting.inputs.raster import MAX_RASTER_PIXELS, read_raster
from siting.inputs.vector import read_vector

LON0, LAT0 = -100.0, 32.0
#: The study region: 0.4 x 0.4 degrees near Abilene, Texas (lon/lat).
REGION = box(LON0, LAT0, LON0 + 0.4, LAT0 + 0.4)
ENGINEERING_CRS = (
    'ENGCRS["site grid",EDATUM["local"],CS[Cartesian,2],'
    'AXIS["x",east,ORDER[1],LENGTHUNIT["metre",1]],'
    'AXIS["y",north,ORDER[2],LENGTHUNIT["metre",1]]]'
)
#: Longest a single case may take before it counts as a hang [s].
HANG_S = 30

#: (group, outcome) -> cases; outcome is "ok", "named_error" or "screened".
COUNTS: Counter = Counter()

#: Scales every test's number of examples (``SITING_FUZZ_SCALE=0.1`` for a quick look).
SCALE = float(os.environ.get("SITING_FUZZ_SCALE", "1"))


def examples(n: int) -> int:
    return max(1, int(n * SCALE))


FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)

#: Layer kinds a scenario names outside the grid (read through load_layers).
SCENARIO_LAYERS = (
    "sites",
    "water_sources",
    "exclusions",
    "boundary",
    "zones",
    "regions",
    "places",
    "heat_sinks",
)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A folder with a valid boundary and a valid sites layer, each in its own GeoPackage."""
    root = tmp_path_factory.mktemp("fuzz_base")
    bnd = gpd.GeoDataFrame({"name": ["square"]}, geometry=[REGION], crs=4326)
    pyogrio.write_dataframe(bnd, root / "boundary.gpkg", layer="boundary")
    sites = gpd.GeoDataFrame(
        {"site_id": ["S1", "S2"], "max_it_mw": [300.0, 500.0]},
        geometry=[
            Point(LON0 + 0.1, LAT0 + 0.1),
            box(LON0 + 0.2, LAT0 + 0.2, LON0 + 0.3, LAT0 + 0.3),
        ],
        crs=4326,
    )
    pyogrio.write_dataframe(sites, root / "sites.gpkg", layer="sites")
    return root


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A scratch folder the cases write into (each case overwrites its own file)."""
    return tmp_path_factory.mktemp("fuzz_work")


def fresh(path: Path) -> Path:
    """``path`` with no file there (GDAL would append to an existing GeoPackage)."""
    path.unlink(missing_ok=True)
    return path


def named(err: SitingError) -> list:
    """The problems of an error (a bare SitingError counts as one unnamed problem)."""
    assert isinstance(err, InputError), f"not an InputError: {type(err).__name__}: {err}"
    assert err.problems, "an InputError without problems"
    for p in err.problems:
        assert p.message.strip(), f"empty message in {err}"
        # every problem says where: a file (and layer), or the scenario key it is about
        assert p.file or p.field, f"problem names neither a file nor a field: {p}"
    return err.problems


# =========================================================================== vector layers


@dataclass
class VectorCase:
    """A generated layer, what it should read as, and the problems it must cause."""

    spec: LayerSpec
    gdf: gpd.GeoDataFrame
    layer: str  # layer name in the file
    ref_layer: str | None  # `layer:` in the scenario (None: the default)
    #: (0-based row or None for the whole layer, field or None): problems that must appear
    expect: list[tuple[int | None, str | None]] = field(default_factory=list)
    #: the layer must fail in load_layers although read_vector alone cannot tell
    fails_in_region: bool = False
    #: IDs the rows must read as (when the layer has an ID field)
    ids: list[str] = field(default_factory=list)
    #: field -> the values the rows must read as (NaN: empty)
    values: dict[str, list[float]] = field(default_factory=dict)
    #: the 2-D geometries the rows must read as (in the layer's CRS)
    geoms: list = field(default_factory=list)
    mutations: list[str] = field(default_factory=list)

    @property
    def bad(self) -> bool:
        return bool(self.expect)


def _float_range(f: Field) -> tuple[float, float]:
    lo = -1e3 if f.min is None else float(f.min)
    hi = 1e6 if f.max is None else float(f.max)
    if f.min_exclusive:
        lo = lo + max(1e-3, abs(lo) * 1e-6)
    # sites: large enough for a campus (min_campus_mw 100 MW, 0.45 ha/MW)
    if f.name == "max_it_mw":
        lo = 150.0
    if f.name == "area_ha":
        lo = 100.0
    return lo, hi


def _point(i: int, n: int) -> Point:
    t = (i + 0.5) / max(n, 1)
    return Point(LON0 + 0.05 + 0.3 * t, LAT0 + 0.05 + 0.3 * (1 - t))


def _geometry(spec: LayerSpec, i: int, n: int, kind: str):
    if spec.name == "boundary":  # strips that together are the region
        w = 0.4 / n
        return box(LON0 + i * w, LAT0, LON0 + (i + 1) * w, LAT0 + 0.4)
    p = _point(i, n)
    if kind == "Point":
        return p
    if kind == "LineString":
        return LineString([(p.x, p.y), (p.x + 0.01, p.y + 0.01)])
    return box(p.x - 0.01, p.y - 0.01, p.x + 0.01, p.y + 0.01)


def _bowtie(i: int, n: int) -> Polygon:
    p = _point(i, n)
    x, y = p.x, p.y
    return Polygon([(x, y), (x + 0.02, y + 0.02), (x + 0.02, y), (x, y + 0.02)])


GEOM_MUTATIONS = ("bowtie", "empty", "none", "wrong_type", "z", "lon500", "nan", "collection")
ID_MUTATIONS = ("dup", "none", "empty", "blank", "int", "float_int", "unicode", "long", "spaces")
NUM_MUTATIONS = ("nan", "inf", "-inf", "negative", "huge", "huge2", "text", "bad_text", "blank")
CRS_MUTATIONS = (
    *["4326"] * 6,
    "utm",
    "3857",
    "none",
    "engineering",
    "lonlat_as_3857",
    "utm_as_4326",
)
LAYER_MUTATIONS = (
    *["none"] * 6,
    "empty",
    "drop_required",
    "drop_optional",
    "bool_column",
    "odd_name",
    "missing_name",
)

UNICODE_IDS = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12
).filter(lambda s: s.strip() == s and s.strip())


def chance(draw, p: float) -> bool:
    """True with probability about ``p`` (hypothesis leans to small integers: they say no)."""
    return draw(st.integers(0, 9999)) >= 10_000 * (1 - p)


def _ids_as_read(ids: list) -> list[str | None]:
    """What IDs written in one column read back as (``None``: empty).

    A column mixing text and numbers is written as text (``str(v)``); an all-number column
    stays numeric, and a whole number reads as its integer text (``7.0`` -> ``"7"``).
    """
    col = pd.Series(ids)
    if col.dtype == object:
        text = [None if v is None else str(v).strip() for v in ids]
        return [t if t else None for t in text]
    out: list[str | None] = []
    for v in col.astype(float):
        if math.isnan(v):
            out.append(None)
        else:
            out.append(str(int(v)) if v.is_integer() else repr(v))
    return out


@st.composite
def vector_cases(draw, kinds: tuple[str, ...]) -> VectorCase:
    spec = LAYERS[draw(st.sampled_from(kinds))]
    n = draw(st.integers(1, 5))
    rows: dict[str, list] = {}
    values: dict[str, list[float]] = {}
    for f in spec.fields:
        col: list = []
        for i in range(n):
            if f.kind == "id":
                col.append(f"{spec.name[:2].upper()}{i + 1}")
            elif f.kind == "ref":
                col.append("A")
            elif f.kind == "str":
                col.append(f.choices[0] if f.choices else f"name {i}")
            elif f.kind == "bool":
                col.append(draw(st.booleans()))
            elif f.kind == "int":
                lo, hi = _float_range(f)
                col.append(draw(st.integers(int(math.ceil(lo)), int(min(hi, 1e7)))))
            else:
                lo, hi = _float_range(f)
                if f.nullable and draw(st.booleans()):
                    col.append(None)
                else:
                    col.append(draw(st.floats(lo, min(hi, 1e9), allow_nan=False)))
        rows[f.name] = col
        if f.kind in ("float", "int"):
            values[f.name] = [np.nan if v is None else float(v) for v in col]
    # layers that take several geometry types get them mixed, row by row
    kinds = [draw(st.sampled_from(spec.geometry)) for _ in range(n)]
    geoms = [_geometry(spec, i, n, kinds[i]) for i in range(n)]
    if not spec.geometry_required:
        geoms = [g if draw(st.booleans()) else None for g in geoms]
    case = VectorCase(spec=spec, gdf=None, layer=spec.name, ref_layer=None)  # type: ignore[arg-type]
    missing_geom = [g is None for g in geoms]
    geom_expect: list[tuple[int | None, str | None]] = []
    crs_dependent: list[tuple[int | None, str | None]] = []  # only seen with a lon/lat CRS

    # --- geometry, row by row
    for i in range(n):
        if not chance(draw, 0.6 / n):
            continue
        m = draw(st.sampled_from(GEOM_MUTATIONS))
        case.mutations.append(f"geometry[{i}]={m}")
        if m == "bowtie":
            geoms[i] = _bowtie(i, n)
            geom_expect.append((i, "geometry"))
        elif m in ("empty", "none", "nan"):
            geoms[i] = {"empty": Polygon(), "none": None, "nan": Point(np.nan, np.nan)}[m]
            missing_geom[i] = True
            if spec.geometry_required:
                geom_expect.append((i, "geometry"))
        elif m == "wrong_type":
            geoms[i] = (
                LineString([(LON0 + 0.1, LAT0 + 0.1), (LON0 + 0.2, LAT0 + 0.2)])
                if "LineString" not in spec.geometry
                else Point(LON0 + 0.1, LAT0 + 0.1)
            )
            missing_geom[i] = False
            geom_expect.append((i, "geometry"))
        elif m == "collection":
            geoms[i] = GeometryCollection([Point(LON0 + 0.1, LAT0 + 0.1)])
            missing_geom[i] = False
            geom_expect.append((i, "geometry"))
        elif m == "z" and geoms[i] is not None:
            geoms[i] = shapely.force_3d(geoms[i], 123.0)
        elif m == "lon500":
            g = _geometry(spec, i, n, kinds[i])
            geoms[i] = shapely.affinity.translate(g, 600.0, 70.0)  # lon ~500, lat ~102
            missing_geom[i] = False
            crs_dependent.append((i, "geometry"))
    present = [not m for m in missing_geom]
    if spec.geometry_required and not any(present):
        geom_expect = [(None, "geometry")]  # "layer has no geometries", nothing per row
        crs_dependent = []

    # --- IDs
    ids = list(rows[spec.id_field]) if spec.id_field else []
    id_expect: list[tuple[int | None, str | None]] = []
    if spec.id_field:
        want = [str(v) for v in ids]
        for i in range(n):
            if not chance(draw, 0.5 / n):
                continue
            m = draw(st.sampled_from(ID_MUTATIONS))
            case.mutations.append(f"id[{i}]={m}")
            if m == "dup" and n > 1:
                ids[i] = ids[(i + 1) % n]
            elif m in ("none", "empty", "blank"):
                ids[i] = {"none": None, "empty": "", "blank": "   "}[m]
            elif m == "int":
                ids[i] = 1_000_000 + i
            elif m == "float_int":
                ids[i] = float(2_000_000 + i)
            elif m == "unicode":
                ids[i] = draw(UNICODE_IDS) + f"#{i}"
            elif m == "long":
                ids[i] = "x" * 5000 + str(i)
            elif m == "spaces" and isinstance(ids[i], str):
                ids[i] = f"  {ids[i]}  "
        want = _ids_as_read(ids)
        id_expect += [(i, spec.id_field) for i, w in enumerate(want) if w is None]
        seen = [w for w in want if w is not None]
        if len(seen) != len(set(seen)):
            id_expect.append((None, spec.id_field))
        rows[spec.id_field] = ids
        case.ids = want  # type: ignore[assignment]

    # --- numbers
    num_expect: list[tuple[int | None, str | None]] = []
    text_cols: set[str] = set()
    for f in spec.fields:
        if f.kind not in ("float", "int"):
            continue
        for i in range(n):
            if not chance(draw, 0.25 / n):
                continue
            m = draw(st.sampled_from(NUM_MUTATIONS))
            case.mutations.append(f"{f.name}[{i}]={m}")
            col = rows[f.name]
            if m in ("nan", "blank"):
                if m == "blank":
                    text_cols.add(f.name)
                col[i] = None if m == "nan" else "  "
                if f.nullable:
                    values[f.name][i] = np.nan
                elif f.default is not None and not f.required:
                    values[f.name][i] = float(f.default)
                else:
                    num_expect.append((i, f.name))
            elif m in ("inf", "-inf"):
                col[i] = float(m)
                num_expect.append((i, f.name))
            elif m == "negative":
                col[i] = -7.0
                if (f.min is not None and f.min > -7) or (f.max is not None and f.max < -7):
                    num_expect.append((i, f.name))
                else:
                    values[f.name][i] = -7.0
            elif m in ("huge", "huge2"):
                col[i] = 1e20 if m == "huge" else -1e300
                num_expect.append((i, f.name))
            elif m == "text":
                v = values[f.name][i]
                col[i] = f" {v!r} " if not np.isnan(v) else None
                text_cols.add(f.name)
            elif m == "bad_text":
                col[i] = draw(st.sampled_from(["abc", "1,000", "5 MW", "NaN", "--1", "0x10"]))
                text_cols.add(f.name)
                num_expect.append((i, f.name))
    for name in text_cols:  # a GeoPackage column has one type: the whole column as text
        rows[name] = [None if v is None else str(v) for v in rows[name]]

    # --- string choices
    for f in spec.fields:
        if f.kind == "str" and f.choices:
            for i in range(n):
                if chance(draw, 0.15 / n):
                    rows[f.name][i] = "magic"
                    case.mutations.append(f"{f.name}[{i}]=magic")
                    num_expect.append((i, f.name))

    # --- the whole layer
    layer_m = draw(st.sampled_from(LAYER_MUTATIONS))
    case.mutations.append(f"layer={layer_m}")
    layer_expect: list[tuple[int | None, str | None]] = []
    if layer_m == "drop_required":
        req = [f.name for f in spec.fields if f.required]
        if req:
            name = draw(st.sampled_from(req))
            rows.pop(name)
            layer_expect.append((None, name))
            num_expect = [e for e in num_expect if e[1] != name]
            if name == spec.id_field:
                id_expect = []
                case.ids = []
            values.pop(name, None)
    elif layer_m == "drop_optional":
        opt = [f for f in spec.fields if not f.required]
        if opt:
            f = draw(st.sampled_from(opt))
            rows.pop(f.name)
            num_expect = [e for e in num_expect if e[1] != f.name]
            if f.name in values:
                d = np.nan if f.default is None else float(f.default)
                values[f.name] = [d] * n
    elif layer_m == "bool_column":
        nums = [f for f in spec.fields if f.kind == "float" and f.name in rows]
        if nums:
            f = draw(st.sampled_from(nums))
            rows[f.name] = [bool(i % 2) for i in range(n)]
            num_expect = [e for e in num_expect if e[1] != f.name]
            num_expect += [(i, f.name) for i in range(n)]
    elif layer_m == "odd_name":
        case.layer = draw(st.sampled_from(["Sites 2030", "zonas_é", "x", "layer-1", "名前"]))
        case.ref_layer = case.layer
    elif layer_m == "missing_name":  # the scenario names a layer the file does not have
        case.ref_layer = "no_such_layer"

    # --- CRS of the whole layer
    crs_m = draw(st.sampled_from(CRS_MUTATIONS))
    case.mutations.append(f"crs={crs_m}")
    gdf = gpd.GeoDataFrame(rows, geometry=gpd.GeoSeries(geoms), crs=4326)
    case.geoms = [None if g is None else shapely.force_2d(g) for g in geoms]
    crs_expect: list[tuple[int | None, str | None]] = []
    if any(present) or not spec.geometry_required:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if crs_m == "utm":
                gdf = gdf.to_crs(32614)
            elif crs_m == "3857":
                gdf = gdf.to_crs(3857)
            elif crs_m == "none":
                gdf = gdf.set_crs(None, allow_override=True)
            elif crs_m == "engineering":
                gdf = gdf.set_crs(ENGINEERING_CRS, allow_override=True)
            elif crs_m == "lonlat_as_3857":
                gdf = gdf.set_crs(3857, allow_override=True)
            elif crs_m == "utm_as_4326":
                gdf = gdf.to_crs(32614).set_crs(4326, allow_override=True)
        case.geoms = [None if g is None else shapely.force_2d(g) for g in gdf.geometry]
        if any(present):
            if crs_m in ("none", "engineering"):
                crs_expect.append((None, "geometry"))
                crs_dependent = []
            elif crs_m == "lonlat_as_3857":
                crs_dependent = []  # projected: no lon/lat range to check
                # lies elsewhere on earth: outside the region (a boundary is the region)
                case.fails_in_region = spec.name != "boundary"
            # utm, 3857: rows beyond lon/lat range do not transform (infinite coordinates)
            elif crs_m == "utm_as_4326":
                crs_dependent = [(i, "geometry") for i in range(n) if present[i]]
    case.gdf = gdf
    case.values = values
    if layer_m in ("empty", "missing_name"):  # nothing is read: one problem for the layer
        case.gdf = gdf.iloc[0:0] if layer_m == "empty" else gdf
        case.expect = [(None, None)]
        return case
    case.expect = geom_expect + crs_dependent + crs_expect + id_expect + num_expect + layer_expect
    if spec.name in ("boundary",) and (geom_expect or crs_dependent):
        case.fails_in_region = True
    return case


def write_layer(case: VectorCase, path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pyogrio.write_dataframe(
            case.gdf, fresh(path), layer=case.layer, driver="GPKG", SPATIAL_INDEX="NO"
        )
    return path


def check_problems(err: SitingError, case: VectorCase, path: Path, layer: str) -> None:
    """Every expected problem is in the report, naming the file, layer, row (ID) and field."""
    problems = named(err)
    mine = [p for p in problems if p.file == str(path)]
    for row, fld in case.expect:
        hits = [
            p
            for p in mine
            if p.layer == layer
            and (fld is None or p.field == fld)
            and (row is None or p.row == row + 1)
        ]
        assert hits, (
            f"expected a problem at row {row} field {fld} of {path} layer {layer!r} "
            f"(mutations {case.mutations}); got:\n{err}"
        )
        for p in hits:
            if p.row is not None and case.ids and row is not None and case.ids[row]:
                # the row is named by its ID where one could be read
                assert p.id is not None and p.id.strip() == str(case.ids[row]).strip(), str(p)


def check_read(gdf: gpd.GeoDataFrame, case: VectorCase, projected: bool) -> None:
    """A layer that read without problems holds exactly what was written."""
    spec = case.spec
    assert len(gdf) == len(case.gdf)
    geom = gdf.geometry.to_numpy()
    have = ~(shapely.is_missing(geom) | shapely.is_empty(geom))
    assert gdf.crs is not None or not have.any()  # a plain table needs no CRS
    if projected:
        assert gdf.crs.is_projected
    if spec.id_field:
        idx = list(gdf.index)
        assert all(isinstance(i, str) and i.strip() == i and i for i in idx), idx[:5]
        assert len(set(idx)) == len(idx)
        assert idx == list(case.ids), (idx, case.ids, case.mutations)
    if spec.geometry_required:
        assert have.all()
    assert shapely.is_valid(geom[have]).all()
    assert not shapely.has_z(geom[have]).any()
    assert np.isfinite(shapely.bounds(geom[have])).all()
    if not projected:
        for g, want in zip(geom, case.geoms, strict=True):
            if want is None or want.is_empty:
                continue
            assert shapely.equals_exact(g, want, tolerance=1e-6), (g, want)
    for f in spec.fields:
        if f.name == spec.id_field:
            continue  # the index, checked above
        col = gdf[f.name]
        if f.kind in ("float", "int"):
            got = col.to_numpy(dtype=float)
            assert not np.isinf(got).any()
            assert (np.abs(got[np.isfinite(got)]) <= MAX_ABS_VALUE).all()
            if not f.nullable and (f.required or f.default is not None):
                assert np.isfinite(got).all(), (f.name, got)
            want = np.asarray(case.values[f.name], dtype=float)
            np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=f.name)
        elif f.kind in ("id", "ref"):
            assert not col.isna().any() or f.nullable
        elif f.kind == "str" and f.choices:
            assert col.isin(f.choices).all()


def record(group: str, outcome: str) -> None:
    COUNTS[(group, outcome)] += 1


@settings(FUZZ, max_examples=examples(550))
@given(case=vector_cases(tuple(LAYERS)))
def test_vector_layer_reads_or_names_the_problem(case: VectorCase, work: Path) -> None:
    """read_vector alone, every layer kind (the grid's too)."""
    path = write_layer(case, work / "layer.gpkg")
    report = ProblemReport()
    try:
        with no_hang(HANG_S):
            gdf = read_vector(path, case.spec, report, layer=case.ref_layer)
        report.raise_if_any()
    except SitingError as err:
        if not case.bad:
            raise AssertionError(f"a valid layer was refused ({case.mutations}):\n{err}") from None
        check_problems(err, case, path, case.ref_layer or case.layer)
        record("vector_read", "named_error")
        return
    assert not case.bad, f"expected problems {case.expect} ({case.mutations}) but it read"
    check_read(gdf, case, projected=False)
    record("vector_read", "ok")


def scenario_for(case: VectorCase, path: Path, base: Path) -> dict:
    ref = {"path": str(path)}
    if case.ref_layer is not None:
        ref["layer"] = case.ref_layer
    # without a sites layer, candidates are cells over the boundary (one file fewer to read)
    layers: dict = {"boundary": {"path": str(base / "boundary.gpkg")}}
    name = case.spec.name
    layers[name] = [ref] if name == "exclusions" else ref
    return {
        "name": "fuzz",
        "years": [2030],
        "layers": layers,
        "targets": {"it_mw_by_year": {2030: 100}},
    }


def check_candidates(c, case: VectorCase, scenario) -> None:
    sites = c.sites
    assert len(sites) and sites.index.is_unique
    assert all(isinstance(i, str) and i for i in sites.index)
    num = [k for k in COLUMNS if k not in ("name", "kind", "zone_id", "zone_kind", "region_id")]
    num = [k for k in num if k != "bus_id"]
    vals = sites[num].to_numpy(dtype=float)
    assert np.isfinite(vals).all(), sites[num][~np.isfinite(vals).all(axis=1)]
    assert (sites["area_ha"] >= 0).all() and (sites["max_it_mw"] > 0).all()
    assert sites.crs is not None and sites.crs.is_projected
    if case.spec.name == "sites":
        user = case.values
        pos = {sid: i for i, sid in enumerate(case.ids)}
        for sid, row in sites.iterrows():
            i = pos[sid]
            fixed = user["fixed_cost_usd"][i]
            want = scenario.costs.site_fixed_cost_usd if np.isnan(fixed) else fixed
            assert row["fixed_cost_usd"] == pytest.approx(want)
            cost = user["land_cost_usd_per_ha"][i]
            assert row["land_cost_usd_per_ha"] == pytest.approx(0.0 if np.isnan(cost) else cost)
            mw = user["max_it_mw"][i]
            if not np.isnan(mw):
                assert row["max_it_mw"] <= mw + 1e-9
            assert row["max_it_mw"] <= scenario.campus.max_campus_mw + 1e-9
            ha = user["area_ha"][i]
            if not np.isnan(ha):
                assert row["area_ha"] == pytest.approx(ha)


@settings(FUZZ, max_examples=examples(400))
@given(case=vector_cases(SCENARIO_LAYERS))
def test_scenario_layers_load_or_name_the_problem(case: VectorCase, work: Path, base: Path):
    """load_layers then build_candidates, with the fuzzed layer in a small scenario."""
    path = write_layer(case, work / "scenario_layer.gpkg")
    scenario = scenario_from_dict(scenario_for(case, path, base))
    try:
        with no_hang(HANG_S):
            layers = load_layers(scenario)
    except SitingError as err:
        if not (case.bad or case.fails_in_region):
            raise AssertionError(f"a valid layer was refused ({case.mutations}):\n{err}") from None
        if case.bad:
            check_problems(err, case, path, case.ref_layer or case.layer)
        else:
            named(err)
        record("vector_load", "named_error")
        return
    assert not case.bad and not case.fails_in_region, (
        f"expected problems {case.expect} ({case.mutations}) but it loaded"
    )
    name = case.spec.name
    gdf = (
        layers.exclusions.drop(columns="source") if name == "exclusions" else getattr(layers, name)
    )
    assert gdf.crs.equals(layers.crs) and layers.crs.is_projected
    check_read(gdf, case, projected=True)
    try:
        with no_hang(HANG_S):
            c = build_candidates(scenario, layers)
    except SitingError as err:
        # only screening may remove every candidate (a fuzzed exclusion over both sites)
        problems = named(err)
        assert "survives screening" in problems[0].message, str(err)
        record("vector_load", "screened")
        return
    check_candidates(c, case, scenario)
    record("vector_load", "ok")


# =========================================================================== not a file


@st.composite
def broken_bytes(draw, valid: bytes) -> bytes:
    how = draw(st.sampled_from(["random", "empty", "truncated", "corrupted", "text", "header"]))
    if how == "random":
        return draw(st.binary(min_size=1, max_size=4096))
    if how == "empty":
        return b""
    if how == "truncated":
        return valid[: draw(st.integers(0, len(valid) - 1))]
    if how == "text":
        return draw(st.text(max_size=200)).encode("utf-8", "replace")
    if how == "header":  # a valid start, then garbage
        k = draw(st.integers(1, min(len(valid) - 1, 1024)))
        return valid[:k] + draw(st.binary(min_size=0, max_size=2048))
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data) - 1))
        chunk = draw(st.binary(min_size=1, max_size=64))
        data[at : at + len(chunk)] = chunk
    return bytes(data[: len(valid)])


@pytest.fixture(scope="module")
def valid_gpkg(base: Path) -> bytes:
    return (base / "sites.gpkg").read_bytes()


@settings(FUZZ, max_examples=examples(450))
@given(data=st.data())
def test_file_that_is_not_a_geopackage(data, work: Path, base: Path, valid_gpkg: bytes):
    """Random, empty, truncated or corrupted bytes: refused by name, or sane if GDAL reads."""
    path = fresh(work / "broken.gpkg")
    path.write_bytes(data.draw(broken_bytes(valid_gpkg)))
    spec = LAYERS["sites"]
    scenario = scenario_from_dict(
        {
            "name": "fuzz",
            "years": [2030],
            "layers": {
                "boundary": {"path": str(base / "boundary.gpkg")},
                "sites": {"path": str(path)},
            },
            "targets": {"it_mw_by_year": {2030: 100}},
        }
    )
    report = ProblemReport()
    try:
        with no_hang(HANG_S):
            gdf = read_vector(path, spec, report)
            report.raise_if_any()
            layers = load_layers(scenario)
            c = build_candidates(scenario, layers)
    except SitingError as err:
        problems = named(err)
        assert any(p.file == str(path) for p in problems) or "survives screening" in str(err), str(
            err
        )
        record("vector_bytes", "named_error")
        return
    # GDAL read something: it must still be a sane layer
    assert gdf.index.is_unique and layers.sites.index.is_unique
    assert shapely.is_valid(layers.sites.geometry.to_numpy()).all()
    assert np.isfinite(c.sites[["x", "y", "area_ha", "max_it_mw"]].to_numpy(float)).all()
    record("vector_bytes", "ok")


# =========================================================================== rasters


@dataclass
class RasterCase:
    role: str  # land_cost, land_class or climate
    arr: np.ndarray  # (bands, rows, cols) as written
    dtype: str
    nodata: float | None
    crs: str | None
    transform: Affine
    band: int
    expect_error: bool
    mutations: list[str]
    nbits: int | None = None


DTYPES = ("float32", "float64", "int8", "uint8", "int16", "uint16", "int32", "uint32", "complex64")
SHAPES = (
    (1, 1),
    (1, 7),
    (7, 1),
    (2, 2),
    (3, 3),
    (9, 5),
    (20, 20),
    (37, 23),
    (60, 60),
    (64, 128),
    (25, 40),
    (1000, 800),  # large but sane: 800,000 pixels
)


@st.composite
def raster_cases(draw) -> RasterCase:
    role = draw(st.sampled_from(("land_cost", "land_class", "climate")))
    h, w = draw(st.sampled_from(SHAPES))
    dtype = draw(st.sampled_from(DTYPES + ("float32", "float32", "bit")))
    if dtype == "bit" and w < 8:
        # GDAL 3.10 round-trips some 1-bit GeoTIFFs 1-2 pixels wide as zeros (writer or
        # reader, upstream either way): such files do not hold what the test wrote
        dtype = "uint8"
    mutations = [f"role={role}", f"shape={h}x{w}", f"dtype={dtype}"]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    integer = dtype not in ("float32", "float64", "complex64")
    if role == "land_class" or dtype == "bit":
        lo, hi = (0, 1) if dtype == "bit" else (1, 9)
        arr = rng.integers(lo, hi + 1, size=(h, w)).astype(float)
    elif role == "land_cost":
        arr = rng.uniform(0, 100 if dtype in ("int8", "uint8") else 20000, size=(h, w))
    else:
        arr = rng.uniform(-10 if dtype not in ("uint8", "uint16", "uint32") else 0, 45, (h, w))
    if integer:
        arr = np.round(arr)
    error = False
    nodata: float | None = draw(st.sampled_from([None, -9999.0, np.nan, 0.0]))
    if dtype == "bit" or (nodata is not None and integer and not np.isfinite(nodata)):
        nodata = None
    if nodata == -9999.0 and dtype in ("int8", "uint8", "uint16", "uint32"):
        nodata = None
    if nodata == 0.0:  # 0 is data in these arrays unless it is declared nodata
        arr = np.where(arr == 0, 1, arr)
    mutations.append(f"nodata={nodata}")
    fill = draw(
        st.sampled_from(
            ["none", "none", "some_nodata", "some_nodata", "nan_pixels", "nan_pixels"]
            + ["all_nodata", "all_nan", "inf", "out_of_range"]
        )
    )
    mutations.append(f"fill={fill}")
    if fill == "some_nodata" and nodata is not None and arr.size > 1:
        arr.flat[:: max(2, arr.size // 3)] = nodata
    elif fill == "all_nodata" and nodata is not None:
        arr[:] = nodata
        error = True
    elif fill in ("nan_pixels", "all_nan", "inf") and not integer:
        if fill == "all_nan":
            arr[:] = np.nan
            error = True
        elif fill == "inf":
            arr.flat[0] = np.inf
            error = True
        elif arr.size > 1:
            arr.flat[1::3] = np.nan
    elif fill == "out_of_range" and role != "land_class" and not integer:
        arr.flat[0] = -1e6 if role == "land_cost" else 500.0
        error = True
    elif fill == "out_of_range" and role == "land_class" and not integer:
        arr.flat[0] = 4.5  # not a class code
        error = True
    if dtype == "complex64":
        error = True
    if role == "land_class" and not integer and not error:
        arr = np.round(arr)
    # georeferencing
    place = draw(
        st.sampled_from(
            ["cover"] * 5
            + ["utm", "partial", "elsewhere", "rotated", "sheared", "south_up", "east_west"]
        )
    )
    crs_m = draw(st.sampled_from(["4326"] * 6 + ["none", "3857_label", "engineering"]))
    mutations += [f"place={place}", f"crs={crs_m}"]
    crs: str | None = "EPSG:4326"
    x0, y0, sx, sy = LON0 - 0.05, LAT0 + 0.45, 0.5 / w, 0.5 / h
    transform = from_origin(x0, y0, sx, sy)
    if place == "utm":
        crs = "EPSG:32614"
        transform = from_origin(400_000, 3_590_000, 50_000 / w, 60_000 / h)
    elif place == "partial":
        transform = from_origin(LON0 + 0.2, LAT0 + 0.6, sx, sy)
        # covers part of the region: candidates outside take the mean or no climate
    elif place == "elsewhere":
        transform = from_origin(10.0, 50.0, sx, sy)
        error = True
    elif place == "rotated":
        transform = transform @ Affine.rotation(15.0)
        error = True
    elif place == "sheared":
        transform = Affine(sx, 0.3 * sx, x0, 0.0, -sy, y0)
        error = True
    elif place == "south_up":
        transform = Affine(sx, 0.0, x0, 0.0, sy, LAT0 - 0.05)
        error = True
    elif place == "east_west":
        transform = Affine(-sx, 0.0, LON0 + 0.45, 0.0, -sy, y0)
        error = True
    if crs_m == "none":
        crs = None
        error = True
    elif crs_m == "3857_label":
        crs = "EPSG:3857" if crs != "EPSG:32614" else "EPSG:32633"  # wrong place on earth
        error = True
    elif crs_m == "engineering":
        crs = ENGINEERING_CRS
        error = True
    bands = draw(st.sampled_from([1, 1, 2, 3]))
    stack = (
        np.stack([arr] + [np.ones_like(arr) for _ in range(bands - 1)]) if bands > 1 else arr[None]
    )
    band = draw(st.sampled_from([1, 1, 1, bands, bands + 1]))
    mutations += [f"bands={bands}", f"band={band}"]
    if band > bands:
        error = True
    if band != 1:
        stack[band - 1 if band <= bands else 0] = arr
    nbits = None
    if dtype == "bit":
        dtype, nbits = "uint8", 1
    if dtype == "complex64":
        stack = stack + 0.5j
    return RasterCase(
        role=role,
        arr=stack,
        dtype=dtype,
        nodata=nodata,
        crs=crs,
        transform=transform,
        band=band,
        expect_error=error,
        mutations=mutations,
        nbits=nbits,
    )


def write_raster(case: RasterCase, path: Path) -> Path:
    arr = case.arr
    if np.dtype(case.dtype).kind in "iu":
        info = np.iinfo(case.dtype)
        arr = np.clip(np.nan_to_num(arr.real, nan=0), info.min, info.max)
    kw = dict(
        driver="GTiff",
        height=arr.shape[1],
        width=arr.shape[2],
        count=arr.shape[0],
        dtype=case.dtype,
        transform=case.transform,
    )
    if case.crs is not None:
        kw["crs"] = case.crs
    if case.nodata is not None:
        kw["nodata"] = case.nodata
    if case.nbits:
        kw["nbits"] = case.nbits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(fresh(path), "w", **kw) as ds:
            ds.write(arr.astype(case.dtype))
    return path


def raster_scenario(role: str, path: Path, band: int, base: Path, cells: bool) -> dict:
    ref = {"path": str(path), "band": band}
    layers: dict = {"boundary": {"path": str(base / "boundary.gpkg")}}
    if not cells:
        layers["sites"] = {"path": str(base / "sites.gpkg")}
    if role == "climate":
        layers["climate"] = {
            k: dict(ref)
            for k in ("dry_bulb_mean_c", "dry_bulb_p99_c", "wet_bulb_mean_c", "wet_bulb_p99_c")
        }
    elif role == "land_class":
        layers["land_class"] = {**ref, "exclude_classes": [4]}
    else:
        layers["land_cost"] = ref
    return {
        "name": "fuzz",
        "years": [2030],
        "layers": layers,
        "targets": {"it_mw_by_year": {2030: 100}},
        "candidates": {"cell_km": 8},
    }


def raster_names(role: str) -> list[str]:
    if role == "climate":
        return [
            f"climate.{k}"
            for k in ("dry_bulb_mean_c", "dry_bulb_p99_c", "wet_bulb_mean_c", "wet_bulb_p99_c")
        ]
    return [role]


@settings(FUZZ, max_examples=examples(600))
@given(case=raster_cases(), cells=st.booleans())
def test_raster_loads_or_names_the_problem(case: RasterCase, cells: bool, work: Path, base: Path):
    """load_layers then build_candidates (sites or generated cells) with a fuzzed raster."""
    path = write_raster(case, work / "raster.tif")
    scenario = scenario_from_dict(raster_scenario(case.role, path, case.band, base, cells))
    try:
        with no_hang(HANG_S):
            layers = load_layers(scenario)
    except SitingError as err:
        problems = named(err)
        if not case.expect_error:
            raise AssertionError(f"a valid raster was refused ({case.mutations}):\n{err}") from None
        names = raster_names(case.role)
        hits = [p for p in problems if p.file == str(path) and p.layer in names]
        assert hits, f"no problem names {path} as {names} ({case.mutations}):\n{err}"
        record("raster", "named_error")
        return
    assert not case.expect_error, f"expected an error ({case.mutations}) but it loaded"
    r = layers.land_cost if case.role == "land_cost" else layers.land_class
    if case.role == "climate":
        r = layers.climate["dry_bulb_mean_c"]
    # statistics by hand: the band as written, nodata and NaN left out
    a = case.arr[case.band - 1].astype(float)
    if np.dtype(case.dtype).kind in "iu":
        info = np.iinfo(case.dtype)
        a = np.clip(np.nan_to_num(a, nan=0), info.min, info.max)
    valid = np.isfinite(a)
    if case.nodata is not None and np.isfinite(case.nodata):
        valid &= a != case.nodata
    if case.dtype == "float32":
        a = a.astype("float32").astype(float)
    assert r.width * r.height == a.size
    if a.size <= 4_000_000:
        assert r.valid_fraction == pytest.approx(valid.mean())
        assert r.min == pytest.approx(a[valid].min()) and r.max == pytest.approx(a[valid].max())
        assert r.mean == pytest.approx(a[valid].mean(), rel=1e-6, abs=1e-6)
    try:
        with no_hang(HANG_S):
            c = build_candidates(scenario, layers)
    except SitingError as err:
        problems = named(err)
        assert "survives screening" in problems[0].message, str(err)
        record("raster", "screened")
        return
    s = c.sites
    assert s.index.is_unique and len(s)
    if case.role == "land_cost":
        lc = s["land_cost_usd_per_ha"].to_numpy()
        assert np.isfinite(lc).all()
        assert (lc >= r.min - 1e-6).all() and (lc <= r.max + 1e-6).all(), (lc, r.min, r.max)
    if case.role == "climate":
        db = s["dry_bulb_mean_c"].to_numpy()
        assert np.isfinite(db).all()
        assert (db >= r.min - 1e-6).all() and (db <= r.max + 1e-6).all()
    if case.role == "land_class":
        assert ((s["allowed_share"] >= 0) & (s["allowed_share"] <= 1 + 1e-9)).all()
    record("raster", "ok")


@pytest.fixture(scope="module")
def valid_tif(work: Path) -> bytes:
    path = work / "valid.tif"
    arr = np.full((20, 20), 5000.0, dtype="float32")
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=20,
        width=20,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        nodata=-9999.0,
        transform=from_origin(LON0 - 0.05, LAT0 + 0.45, 0.025, 0.025),
    ) as ds:
        ds.write(arr, 1)
    return path.read_bytes()


@settings(FUZZ, max_examples=examples(1200))
@given(data=st.data())
def test_file_that_is_not_a_geotiff(data, work: Path, base: Path, valid_tif: bytes):
    """Random, empty, truncated or corrupted bytes as a raster: named, or sane if read."""
    path = fresh(work / "broken.tif")
    path.write_bytes(data.draw(broken_bytes(valid_tif)))
    report = ProblemReport()
    try:
        with no_hang(HANG_S):
            r = read_raster(path, "land_cost", report, value_range=(0.0, 1e12))
            report.raise_if_any()
            scenario = scenario_from_dict(raster_scenario("land_cost", path, 1, base, False))
            layers = load_layers(scenario)
            c = build_candidates(scenario, layers)
    except SitingError as err:
        problems = named(err)
        assert any(p.file == str(path) for p in problems) or "survives screening" in str(err), str(
            err
        )
        record("raster_bytes", "named_error")
        return
    assert r is not None and math.isfinite(r.mean)
    assert np.isfinite(c.sites["land_cost_usd_per_ha"].to_numpy()).all()
    record("raster_bytes", "ok")


# =========================================================================== size guards


def test_absurd_raster_header_is_refused_without_reading(tmp_path: Path) -> None:
    """A GeoTIFF declaring 10^6 x 10^6 pixels (sparse, a few MB) is refused by name, at once."""
    path = tmp_path / "huge.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=1_000_000,
        height=1_000_000,
        count=1,
        dtype="uint8",
        crs="EPSG:4326",
        transform=from_origin(LON0, LAT0 + 0.4, 0.4 / 1e6, 0.4 / 1e6),
        tiled=True,
        blockxsize=4096,
        blockysize=4096,
        sparse_ok=True,
        BIGTIFF="YES",
        nodata=0,
    ):
        pass
    report = ProblemReport()
    with no_hang(20):
        assert read_raster(path, "land_class", report, integer_classes=True) is None
    (p,) = report.problems
    assert p.file == str(path) and p.layer == "land_class"
    assert "1,000,000 x 1,000,000" in p.message and f"{MAX_RASTER_PIXELS:,}" in p.message


def test_sampling_a_wide_raster_reads_in_bounded_memory(tmp_path: Path, monkeypatch) -> None:
    """Points far apart on a big raster are read in pieces, never as one huge window."""
    import tracemalloc

    import siting.inputs.raster as raster_mod

    n = 4000  # 16 M pixels, 128 MB as float64 if read whole
    path = tmp_path / "wide.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=n,
        height=n,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=from_origin(LON0, LAT0 + 0.4, 0.4 / n, 0.4 / n),
        tiled=True,
        sparse_ok=True,
        nodata=-9999.0,
    ) as ds:
        ds.write(np.full((256, 256), 7.0, "float32"), 1, window=((0, 256), (0, 256)))
    report = ProblemReport()
    r = read_raster(path, "land_cost", report)
    assert r is not None and not report.problems
    monkeypatch.setattr(raster_mod, "STATS_MAX_PIXELS", 10_000)
    xs = np.array([LON0 + 1e-5, LON0 + 0.4 - 1e-5, LON0 + 0.2, LON0 + 1e-4])
    ys = np.array([LAT0 + 0.4 - 1e-5, LAT0 + 1e-5, LAT0 + 0.2, LAT0 + 0.4 - 1e-4])
    tracemalloc.start()
    v = r.sample(xs, ys)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert v[0] == 7.0 and v[3] == 7.0 and np.isnan(v[1]) and np.isnan(v[2])
    assert peak < 8_000_000, f"sampling 4 points allocated {peak:,} bytes"


def test_layer_with_too_many_features_is_refused(tmp_path: Path, monkeypatch) -> None:
    """The feature count is checked from the file's header before the layer is read."""
    import siting.inputs.vector as vector_mod

    gdf = gpd.GeoDataFrame(
        {"site_id": [f"S{i}" for i in range(50)]},
        geometry=[Point(LON0 + 0.001 * i, LAT0) for i in range(50)],
        crs=4326,
    )
    path = tmp_path / "many.gpkg"
    pyogrio.write_dataframe(gdf, path, layer="sites")
    monkeypatch.setattr(vector_mod, "MAX_FEATURES", 10)
    report = ProblemReport()
    assert read_vector(path, LAYERS["sites"], report) is None
    (p,) = report.problems
    assert p.file == str(path) and p.layer == "sites" and "50 features" in p.message


# =========================================================================== the counts


def test_counts() -> None:
    """At least 3,000 generated cases, both outcomes well represented (run the whole file)."""
    if not COUNTS:
        pytest.skip("run the whole file: the counts come from the fuzz tests above")
    total = sum(COUNTS.values())
    by_outcome = Counter()
    for (_, outcome), k in COUNTS.items():
        by_outcome[outcome] += k
    lines = [f"{g:>14} {o:<12} {k:6d}" for (g, o), k in sorted(COUNTS.items())]
    print("\nfuzz cases:\n" + "\n".join(lines) + f"\n{'total':>14} {'':<12} {total:6d}")
    if SCALE < 1:
        pytest.skip(f"SITING_FUZZ_SCALE={SCALE}: {total} cases")
    assert total >= 3000
    assert by_outcome["ok"] >= 500 and by_outcome["named_error"] >= 1000
    for group in ("vector_read", "vector_load", "vector_bytes", "raster", "raster_bytes"):
        assert COUNTS[(group, "named_error")] > 0, group
    for group in ("vector_read", "vector_load", "raster"):
        assert COUNTS[(group, "ok")] > 0, group
