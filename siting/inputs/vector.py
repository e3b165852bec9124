"""Read and validate one vector layer against its :class:`~siting.inputs.fields.LayerSpec`.

Every problem goes into the :class:`~siting.core.errors.ProblemReport` with the file,
layer, 1-based row, ID and field; nothing from GDAL or pandas escapes as a
traceback. The result has the spec's columns with the right dtypes, defaults
filled in, the ID as the (string) index, and 2-D geometries.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from pathlib import Path
from types import TracebackType

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS, Transformer

from siting.core.errors import ProblemReport, is_missing
from siting.core.files import dataset_problem, open_regular, path_problem
from siting.inputs.fields import MAX_ABS_VALUE, Field, LayerSpec

#: Most features read from one layer; beyond it the layer is refused before it fills memory.
MAX_FEATURES = 20_000_000

_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}


class _Ctx:
    """Where the layer came from, to name it in problems."""

    def __init__(self, report: ProblemReport, file: Path, layer: str, ids: pd.Series | None):
        self.report = report
        self.file = file
        self.layer = layer
        self.ids = ids

    def rows(
        self, mask: np.ndarray, field: str | None, message: str, values: pd.Series | None = None
    ) -> None:
        """Report the rows where ``mask`` is true (the first few by name, then a count)."""

        def text(i: int) -> str:
            return message if values is None else f"{message}, got {_show(values.iloc[i])}"

        self.report.add_rows(
            np.flatnonzero(np.asarray(mask, dtype=bool)),
            text,
            file=self.file,
            layer=self.layer,
            field=field,
            ids=None if self.ids is None else self.ids.tolist(),
        )

    def whole(self, message: str, field: str | None = None) -> None:
        self.report.add(message, file=self.file, layer=self.layer, field=field)


def _show(v: object) -> str:
    if isinstance(v, np.generic):
        v = v.item()
    s = repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


def normalise_ids(s: pd.Series) -> pd.Series:
    """IDs as text: ``7`` and ``7.0`` become ``"7"``; strings are stripped; missing stays NA."""

    def one(v: object) -> object:
        if is_missing(v):
            return pd.NA
        if isinstance(v, (bytes, bytearray)):  # a BLOB column: its text, if it is UTF-8
            v = bytes(v).decode("utf-8", errors="backslashreplace")
        if isinstance(v, (bool, np.bool_)):
            return str(v)
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        if isinstance(v, (float, np.floating)):
            return str(int(v)) if float(v).is_integer() else repr(float(v))
        t = str(v).strip()
        return t if t else pd.NA

    return s.map(one).astype("string")


def choose_layer(path: Path, wanted: str | None, default: str, report: ProblemReport) -> str | None:
    """Pick the layer to read in ``path``: ``wanted``, else ``default``, else the only one."""
    try:
        layers = [str(x[0]) for x in pyogrio.list_layers(path)]
    except Exception as e:  # GDAL: not a vector file, corrupt, unreadable
        report.add(
            f"not a readable vector file ({_gdal_msg(e)})", file=path, layer=wanted or default
        )
        return None
    if wanted is not None:
        if wanted in layers:
            return wanted
        report.add(
            f"no layer '{wanted}' in the file; it has: {', '.join(layers) or '(none)'}",
            file=path,
            layer=wanted,
        )
        return None
    if default in layers:
        return default
    if len(layers) == 1:
        return layers[0]
    report.add(
        f"no layer named '{default}' and the file has {len(layers)} layers "
        f"({', '.join(layers)}); say which with `layer:` in the scenario",
        file=path,
        layer=default,
    )
    return None


def _gdal_msg(e: Exception) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return msg[:200]


def read_vector(
    path: str | Path,
    spec: LayerSpec,
    report: ProblemReport,
    *,
    layer: str | None = None,
    target_crs: CRS | None = None,
) -> gpd.GeoDataFrame | None:
    """Read one layer, check it against ``spec``, and bring it into ``target_crs``.

    Parameters
    ----------
    path
        The vector file (GeoPackage, GeoJSON, any OGR format).
    spec
        What the layer must hold.
    report
        Problems are added here; the function returns ``None`` when the layer
        could not be read at all, else the (possibly partly wrong) table.
    layer
        Layer name inside the file; default: ``spec.name`` or the only layer.
    target_crs
        Reproject into this CRS, if given.

    Returns
    -------
    geopandas.GeoDataFrame or None
        Index: the spec's ID field (strings). Columns: every spec field (defaults
        filled), any ``<field>_<YYYY>`` columns, other user columns untouched,
        and ``geometry``.
    """
    path = Path(path)
    why = dataset_problem(path, folder_ok=True)  # a FIFO would hang OGR's open
    if why is not None:
        report.add(why, file=path, layer=layer or spec.name, field="path")
        return None
    with library_warnings_as_notes(report, path, layer or spec.name):
        gdf = _read_layer(path, spec, report, layer)
    if gdf is None:
        return None
    name = gdf.attrs.pop("siting_layer")
    return _checked(gdf, path, name, spec, report, target_crs)


def read_table(
    path: str | Path, spec: LayerSpec, report: ProblemReport, *, layer: str
) -> pd.DataFrame | None:
    """Read one CSV table and check it against ``spec``, as :func:`read_vector` checks a layer.

    Parameters
    ----------
    path
        The CSV file: a header row, then one row per record; cells are read as text and
        brought to each field's type (an empty cell is missing).
    spec
        What the table must hold (a spec without geometry).
    report
        Problems are added here, naming the file, ``layer``, the 1-based data row (the
        header not counted), the row's ID and the field; a column the spec does not know is
        a note (a misspelt optional column would otherwise be ignored silently).
    layer
        What to call the table in problems (the scenario key that names it).

    Returns
    -------
    pandas.DataFrame or None
        Index: the spec's ID field (when it has one), else the row position. Columns: every
        spec field (defaults filled) and any other column, as text. ``attrs["columns"]``
        lists the columns the file has. ``None`` when the file cannot be read at all.
    """
    path = Path(path)
    why = path_problem(path, expected="a CSV file")
    if why is not None:
        fields = ", ".join(f.name for f in spec.fields)
        report.add(f"{why}; expected a CSV table ({fields})", file=path, layer=layer, field="path")
        return None
    try:
        with open_regular(path) as f:
            df = pd.read_csv(f, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        report.add("the file is empty; expected a CSV with a header row", file=path, layer=layer)
        return None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as e:
        report.add(f"cannot be read as CSV ({_gdal_msg(e)})", file=path, layer=layer)
        return None
    df.columns = [str(c).strip() for c in df.columns]
    columns = list(df.columns)
    unknown = [c for c in columns if c not in {f.name for f in spec.fields}]
    if unknown:
        report.note(
            f"{path} ({layer}): column(s) {', '.join(unknown)} are not fields of a "
            f"{spec.name} table and are ignored (its fields: "
            f"{', '.join(f.name for f in spec.fields)})"
        )
    gdf = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries([None] * len(df), index=df.index))
    checked = _checked(gdf, path, layer, spec, report, None)
    if checked is None:
        return None
    out = pd.DataFrame(checked.drop(columns=checked.geometry.name))
    out.attrs["columns"] = columns
    return out


def library_warnings_as_notes(
    report: ProblemReport, file: Path, layer: str
) -> contextlib.AbstractContextManager[None]:
    """Turn what GDAL says through pyogrio while a layer is read into notes of ``report``.

    pyogrio passes GDAL's warnings on as Python ``RuntimeWarning`` (and a few as
    ``UserWarning``), which would reach the console raw, with a line of pyogrio's code
    and no word of which scenario layer they are about. Within this context, warnings
    issued from pyogrio's modules become notes naming the file and the layer (once per
    file and message: the first layer it was said for); any other warning is issued again
    as it was.
    """
    return _LibraryWarnings(report, file, layer)


class _LibraryWarnings(contextlib.AbstractContextManager):
    """The context manager of :func:`library_warnings_as_notes`."""

    def __init__(self, report: ProblemReport, file: Path, layer: str) -> None:
        self.report, self.file, self.layer = report, file, layer
        self._catch = warnings.catch_warnings(record=True)

    def __enter__(self) -> None:
        self._caught = self._catch.__enter__()
        warnings.simplefilter("always")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._catch.__exit__(exc_type, exc, tb)
        for w in self._caught or []:
            if Path(w.filename).parent.name == "pyogrio":
                said = f"GDAL says: {str(w.message).strip()}"
                if not any(
                    n.startswith(f"{self.file} ") and n.endswith(said) for n in self.report.notes
                ):
                    self.report.note(f"{self.file} layer '{self.layer}': {said}")
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _read_layer(
    path: Path, spec: LayerSpec, report: ProblemReport, layer: str | None
) -> gpd.GeoDataFrame | None:
    """Open the layer and read it whole (``None`` and a problem when it cannot be); the
    layer's name is in ``attrs["siting_layer"]``."""
    name = choose_layer(path, layer, spec.name, report)
    if name is None:
        return None
    try:
        n_features = int(pyogrio.read_info(path, layer=name).get("features", -1))
    except Exception:  # counted (or the failure reported) when the layer is read below
        n_features = -1
    if n_features > MAX_FEATURES:
        report.add(
            f"layer has {n_features:,} features; at most {MAX_FEATURES:,} are read (a larger "
            "layer would not fit in memory); clip it to the study region or simplify it first",
            file=path,
            layer=name,
        )
        return None
    try:
        gdf = gpd.read_file(path, layer=name, engine="pyogrio")
    except Exception as e:
        report.add(f"could not read the layer ({_gdal_msg(e)})", file=path, layer=name)
        return None
    if not isinstance(gdf, gpd.GeoDataFrame):  # attribute-only table
        gdf = gpd.GeoDataFrame(gdf, geometry=gpd.GeoSeries([None] * len(gdf), index=gdf.index))
    gdf.attrs["siting_layer"] = name
    return gdf


def _checked(
    gdf: gpd.GeoDataFrame,
    path: Path,
    name: str,
    spec: LayerSpec,
    report: ProblemReport,
    target_crs: CRS | None,
) -> gpd.GeoDataFrame | None:
    """The layer as read, checked against ``spec`` (see :func:`read_vector`)."""
    gdf = gdf.reset_index(drop=True)
    ids = None
    if spec.id_field and spec.id_field in gdf.columns:
        ids = normalise_ids(gdf[spec.id_field])
    ctx = _Ctx(report, path, name, ids)
    if len(gdf) == 0:
        ctx.whole(f"layer is empty; expected at least one {spec.name} row")
        return None
    gdf = _check_geometry(gdf, spec, ctx)
    gdf = _check_fields(gdf, spec, ctx)
    if spec.id_field and spec.id_field in gdf.columns:
        gdf = gdf.set_index(spec.id_field)
    if target_crs is not None and gdf.crs is not None:
        gdf = to_crs(gdf, target_crs, ctx)
    return gdf


def to_crs(gdf: gpd.GeoDataFrame, target: CRS, ctx: _Ctx | None = None) -> gpd.GeoDataFrame:
    """Reproject, reporting (not raising) a transformation that fails."""
    try:
        out = gdf.to_crs(target)
    except Exception as e:
        if ctx is None:
            raise
        ctx.whole(f"cannot transform from {gdf.crs} to {target.to_string()} ({_gdal_msg(e)})")
        return gdf
    bad = (
        ~out.geometry.isna()
        & ~out.geometry.is_empty
        & ~np.isfinite(out.geometry.bounds).all(axis=1)
    )
    if ctx is not None and bad.any():
        ctx.rows(
            bad.to_numpy(),
            "geometry",
            f"coordinates cannot be transformed from {gdf.crs.to_string()} into "
            f"{target.to_string()}; is the layer's CRS right?",
        )
    return out


def _transformable(crs: CRS) -> bool:
    """Whether coordinates in ``crs`` can be brought into longitude/latitude (EPSG:4326)."""
    try:
        Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    except Exception:  # pyproj: an engineering or otherwise unrelated CRS
        return False
    return True


def _geom_kind(t: str) -> str:
    return t[5:] if t.startswith("Multi") else t


def _check_geometry(gdf: gpd.GeoDataFrame, spec: LayerSpec, ctx: _Ctx) -> gpd.GeoDataFrame:
    geom = gdf.geometry
    missing = (geom.isna() | geom.is_empty).to_numpy()
    if spec.geometry_required:
        if missing.all():
            ctx.whole(
                f"layer has no geometries; expected {'/'.join(spec.geometry)} features", "geometry"
            )
            return gdf
        ctx.rows(missing, "geometry", f"geometry is missing; expected a {'/'.join(spec.geometry)}")
    if missing.all():
        return gdf
    if gdf.crs is None:
        ctx.whole(
            "layer has no CRS; expected one (for example EPSG:4326 for longitude/latitude); "
            "set it in the file, e.g. with geopandas' set_crs() or ogr2ogr -a_srs",
            "geometry",
        )
    elif not _transformable(gdf.crs):
        ctx.whole(
            f"the layer's CRS ({gdf.crs.name}) cannot be transformed into longitude/latitude; "
            "expected an earth-based CRS (for example EPSG:4326 or a UTM zone)",
            "geometry",
        )
        gdf = gdf.set_crs(None, allow_override=True)  # reported: not reprojected later
    present = ~missing
    types = geom.geom_type.fillna("")
    wrong = present & ~types.map(_geom_kind).isin(spec.geometry).to_numpy()
    if wrong.any():
        ctx.rows(
            wrong,
            "geometry",
            f"wrong geometry type; expected {'/'.join(spec.geometry)}",
            types,
        )
    if shapely.has_z(geom.values[present]).any():
        gdf = gdf.set_geometry(shapely.force_2d(geom.values))
        ctx.report.note(f"{ctx.file} layer '{ctx.layer}': 3-D coordinates flattened to 2-D")
        geom = gdf.geometry
    valid = shapely.is_valid(geom.values)
    invalid = present & ~valid
    if invalid.any():
        reasons = pd.Series(shapely.is_valid_reason(geom.values), index=gdf.index)
        ctx.rows(
            invalid, "geometry", "invalid geometry (fix it, e.g. with shapely.make_valid)", reasons
        )
    finite = np.isfinite(geom.bounds.to_numpy()).all(axis=1) | ~present
    if (~finite).any():
        ctx.rows(~finite, "geometry", "geometry has NaN or infinite coordinates")
    if gdf.crs is not None and gdf.crs.is_geographic:
        b = geom.bounds.to_numpy()
        out = (
            present
            & finite
            & ((b[:, 0] < -180.0) | (b[:, 2] > 180.0) | (b[:, 1] < -90.0) | (b[:, 3] > 90.0))
        )
        if out.any():
            ctx.rows(
                out,
                "geometry",
                f"coordinates outside longitude [-180, 180] / latitude [-90, 90] although the "
                f"layer's CRS ({gdf.crs.to_string()}) is geographic; is the CRS right?",
            )
    return gdf


def _check_fields(gdf: gpd.GeoDataFrame, spec: LayerSpec, ctx: _Ctx) -> gpd.GeoDataFrame:
    gdf = gdf.copy()
    present_cols = [c for c in gdf.columns if c != gdf.geometry.name]
    for f in spec.fields:
        if f.name not in gdf.columns:
            if f.required:
                ctx.whole(
                    f"required column is missing; expected {f.expected()}. "
                    f"Columns present: {', '.join(present_cols) or '(none)'}",
                    f.name,
                )
                gdf[f.name] = pd.Series([pd.NA] * len(gdf), dtype="object")
            else:
                gdf[f.name] = f.default if f.default is not None else np.nan
            if f.kind in ("float", "int") and f.default is None:
                gdf[f.name] = np.nan
            continue
        gdf[f.name] = _coerce(gdf[f.name], f, ctx, f.name)
        if f.per_year:
            for col in gdf.columns:
                m = re.fullmatch(rf"{re.escape(f.name)}_(\d{{4}})", str(col))
                if m:
                    gdf[col] = _coerce(gdf[col], f, ctx, str(col))
    if spec.id_field and spec.id_field in gdf.columns:
        ids = gdf[spec.id_field]
        dup = ids.duplicated(keep=False) & ids.notna()
        if dup.any():
            first = ids[dup].iloc[0]
            rows = (np.flatnonzero(ids.eq(first).fillna(False).to_numpy()) + 1).tolist()
            n = int(ids[dup].nunique())
            ctx.whole(
                f"duplicate IDs: '{first}' is on rows {rows}"
                + (f" ({n - 1} more IDs are duplicated)" if n > 1 else "")
                + "; expected each ID once",
                spec.id_field,
            )
    return gdf


def _coerce(col: pd.Series, f: Field, ctx: _Ctx, name: str) -> pd.Series:
    """Bring one column to the field's type, reporting every bad cell."""
    missing = col.map(is_missing).to_numpy(dtype=bool)
    if f.kind in ("id", "ref"):
        out = normalise_ids(col)
        bad = out.isna().to_numpy()
        if bad.any() and not f.nullable:
            ctx.rows(bad, name, f"empty; expected {f.expected()}")
        return out
    if f.kind == "str":
        out = col.where(
            ~pd.Series(missing, index=col.index), f.default if f.default is not None else ""
        )
        out = out.astype(str)
        if f.choices:
            bad = ~out.isin(f.choices).to_numpy()
            if bad.any():
                ctx.rows(bad, name, f"not allowed; expected {f.expected()}", out)
        return out
    if f.kind == "bool":

        def one(v: object) -> object:
            if is_missing(v):
                return f.default if f.default is not None else pd.NA
            if isinstance(v, (bool, np.bool_)):
                return bool(v)
            t = str(v).strip().lower()
            if t in _TRUE:
                return True
            if t in _FALSE:
                return False
            return pd.NA

        out = col.map(one)
        bad = out.isna().to_numpy()
        if bad.any():
            ctx.rows(bad, name, f"expected {f.expected()}", col)
        return out.fillna(False).astype(bool)
    # numbers; blank text is an empty cell, true/false is not a number
    blank = np.zeros(len(col), dtype=bool)
    boolean = np.full(len(col), pd.api.types.is_bool_dtype(col.dtype))
    if col.dtype == object:
        blank = col.map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(dtype=bool)
        boolean = col.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
    missing = missing | blank
    num = pd.to_numeric(col.where(~(blank | boolean)), errors="coerce").astype(float)
    nonnum = num.isna().to_numpy() & ~missing
    if nonnum.any():
        ctx.rows(nonnum, name, f"not a number; expected {f.expected()}", col)
    arr = num.to_numpy()
    nan = missing & ~nonnum
    if nan.any() and not f.nullable:
        if f.default is not None and not f.required:
            arr = np.where(nan, float(f.default), arr)
        else:
            ctx.rows(nan, name, f"empty or NaN; expected {f.expected()}")
    inf = np.isinf(arr)
    if inf.any():
        ctx.rows(inf, name, f"infinite; expected {f.expected()}")
    finite = np.isfinite(arr)
    low = np.zeros(len(arr), dtype=bool)
    if f.min is not None:
        low = finite & ((arr <= f.min) if f.min_exclusive else (arr < f.min))
    high = finite & (arr > f.max) if f.max is not None else np.zeros(len(arr), dtype=bool)
    if (low | high).any():
        ctx.rows(low | high, name, f"out of range; expected {f.expected()}", num)
    huge = finite & ~(low | high) & (np.abs(arr) > MAX_ABS_VALUE)
    if huge.any():
        ctx.rows(
            huge,
            name,
            f"implausibly large (beyond +-{MAX_ABS_VALUE:g}); expected {f.expected()}",
            num,
        )
    if f.kind == "int":
        frac = finite & (arr != np.round(arr))
        if frac.any():
            ctx.rows(frac, name, f"not a whole number; expected {f.expected()}", num)
    return pd.Series(arr, index=col.index)


def per_year_table(df: pd.DataFrame, field: str, years: list[int]) -> pd.DataFrame:
    """Values of a per-year field for each year [unit of the field].

    ``<field>_<YYYY>`` columns give a year's value; a year without its own column
    takes the latest earlier year's column, or the plain ``<field>`` column.

    Parameters
    ----------
    df
        A layer table with ``field`` and perhaps ``field_YYYY`` columns.
    field
        The field name (``load_mw``, ``capacity_m3_per_day``).
    years
        Calendar years wanted.

    Returns
    -------
    pandas.DataFrame
        Index as ``df``; one column per year.
    """
    by_year: dict[int, str] = {}
    for col in df.columns:
        m = re.fullmatch(rf"{re.escape(field)}_(\d{{4}})", str(col))
        if m:
            by_year[int(m.group(1))] = str(col)
    known = sorted(by_year)
    out = {}
    for y in years:
        earlier = [k for k in known if k <= y]
        col = by_year[earlier[-1]] if earlier else field
        out[y] = df[col].astype(float).to_numpy()
    return pd.DataFrame(out, index=df.index)


def check_refs(
    refs: pd.Series,
    valid: pd.Index,
    ctx_report: ProblemReport,
    *,
    file: Path | str,
    layer: str,
    field: str,
    target: str,
) -> np.ndarray:
    """Report references in ``refs`` that are not in ``valid``; return the bad mask.

    Parameters
    ----------
    refs
        Referencing column (index = the referencing rows' IDs, in file order).
    valid
        The IDs that may be referenced.
    target
        What is referenced, for the message (``"bus"``).
    """
    bad = (~refs.isin(valid) & refs.notna()).to_numpy()
    ctx_report.add_rows(
        np.flatnonzero(bad),
        lambda i: (
            f"refers to {target} '{refs.iloc[i]}', which does not exist; expected one of "
            f"the {valid.nunique()} {target} IDs"
        ),
        file=file,
        layer=layer,
        field=field,
        ids=list(refs.index),
    )
    return bad
