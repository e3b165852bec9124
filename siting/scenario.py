"""Scenario files: the YAML a planner writes, validated by a pydantic schema.

A scenario names its region's layers, the planning years, the campus rules,
national targets, costs and solver settings. Every field has a documented unit
(also in its name). Unknown keys are rejected with their full dotted path
(``costs.capex_usd_per_mw``) and the nearest valid key.

Composition (after Calliope's scenarios-as-overrides): a scenario may say
``extends: base.yaml``; the base is loaded first (recursively), then the
scenario's mappings are merged over it key by key (lists and scalars replace).
Every ``path:`` value is resolved against the directory of the file it was
written in, before merging, so a base scenario's paths keep pointing where it
meant.

``siting schema`` writes :func:`json_schema` for editors.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from siting.errors import Problem, ScenarioError

#: Largest scenario file read [bytes]; a scenario is a page of YAML, not data.
MAX_SCENARIO_BYTES = 1_000_000
#: Deepest ``extends:`` chain followed.
MAX_EXTENDS_DEPTH = 16


class _Strict(BaseModel):
    """Base of every scenario section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class VectorRef(_Strict):
    """A vector layer on disk: a file and, for multi-layer files, a layer name."""

    path: Path = Field(
        description="GeoPackage, GeoJSON or other OGR file; relative to the scenario file."
    )
    layer: str | None = Field(
        default=None,
        description="Layer inside the file; default: the layer named like the layer kind "
        "(`buses`, `water_sources` ...), or the file's only layer.",
    )


class RasterRef(_Strict):
    """A single-band raster on disk (GeoTIFF)."""

    path: Path = Field(description="GeoTIFF file; relative to the scenario file.")
    band: int = Field(default=1, ge=1, description="Band number (1-based).")


class ClassRasterRef(RasterRef):
    """A raster of land classes, some of which exclude campuses."""

    exclude_classes: list[int] = Field(
        default_factory=list, description="Class codes where no campus may be built."
    )


class CoordinatesRef(_Strict):
    """A CSV of bus coordinates for a MATPOWER case: ``bus_id`` and ``x,y`` or ``lon,lat``."""

    path: Path = Field(description="CSV file; relative to the scenario file.")
    crs: str = Field(default="EPSG:4326", description="CRS of the coordinates (EPSG code or WKT).")


class GridLayers(_Strict):
    """Where the transmission grid comes from."""

    format: Literal["auto", "layers", "matpower", "pandapower"] = Field(
        default="auto",
        description="`layers` (GeoPackage/GeoJSON buses, branches, generators), `matpower` "
        "(.m case file), `pandapower` (JSON from pandapower.to_json); `auto` by file suffix.",
    )
    path: Path = Field(
        description="The grid file: a GeoPackage holding the three layers, a MATPOWER .m file or "
        "a pandapower .json; relative to the scenario file."
    )
    buses: VectorRef | None = Field(default=None, description="Override for the buses layer.")
    branches: VectorRef | None = Field(default=None, description="Override for the branches layer.")
    generators: VectorRef | None = Field(
        default=None, description="Override for the generators layer."
    )
    bus_coordinates: CoordinatesRef | None = Field(
        default=None, description="Bus coordinates for a MATPOWER or pandapower case."
    )
    base_mva: float = Field(
        default=100.0,
        gt=0,
        description="System base for per-unit reactances of `layers` grids [MVA].",
    )


class ClimateLayers(_Strict):
    """Climate rasters (GeoTIFF) that cooling performance is computed from. Units: degrees C."""

    dry_bulb_mean_c: RasterRef = Field(description="Annual mean dry-bulb temperature [C].")
    dry_bulb_p99_c: RasterRef = Field(
        description="Design (0.4 % / 99.6th percentile hottest hours) dry-bulb temperature [C]."
    )
    wet_bulb_mean_c: RasterRef = Field(description="Annual mean wet-bulb temperature [C].")
    wet_bulb_p99_c: RasterRef = Field(description="Design (0.4 %) wet-bulb temperature [C].")


class LayersSection(_Strict):
    """Every input layer of the region."""

    grid: GridLayers = Field(description="The transmission grid.")
    water_sources: VectorRef | None = Field(default=None, description="Water sources (points).")
    exclusions: list[VectorRef] = Field(
        default_factory=list, description="Exclusion polygons (protected, flood, urban, water ...)."
    )
    land_class: ClassRasterRef | None = Field(
        default=None, description="Land-class raster and the classes it excludes."
    )
    land_cost: RasterRef | None = Field(default=None, description="Land price raster [USD/ha].")
    zones: VectorRef | None = Field(
        default=None, description="Designated or preferred growth zones."
    )
    regions: VectorRef | None = Field(default=None, description="Planning regions (polygons).")
    boundary: VectorRef | None = Field(
        default=None, description="The study area's outline; default: the extent of the grid."
    )
    places: VectorRef | None = Field(default=None, description="Towns and cities (points).")
    climate: ClimateLayers | None = Field(default=None, description="Climate rasters.")


Cooling = Literal["air", "evaporative", "liquid"]


class CampusRules(_Strict):
    """Rules of a campus build."""

    module_mw: float = Field(
        default=50.0,
        gt=0,
        description="IT capacity of one build module [MW IT]; builds come in whole modules. "
        "Default: a 50 MW UK-style campus phase (DOMAIN.md, 'campus and phase sizes').",
    )
    min_campus_mw: float = Field(
        default=100.0, ge=0, description="Smallest campus worth opening [MW IT] at the last year."
    )
    max_campus_mw: float = Field(
        default=1000.0, gt=0, description="Largest campus on one site [MW IT]."
    )
    max_build_mw_per_year: float = Field(
        default=300.0, gt=0, description="Most IT capacity one site may add in one year [MW IT]."
    )
    earliest_year: int | None = Field(
        default=None,
        description="First year a new site may energise (lead time); "
        "default: the first planning year.",
    )
    cooling: list[Cooling] = Field(
        default_factory=lambda: ["air", "evaporative", "liquid"],
        min_length=1,
        description="Cooling technologies a site may choose from.",
    )

    @model_validator(mode="after")
    def _sizes(self) -> CampusRules:
        if self.min_campus_mw > self.max_campus_mw:
            raise ValueError(
                f"min_campus_mw ({self.min_campus_mw:g}) is larger than max_campus_mw "
                f"({self.max_campus_mw:g})"
            )
        return self


class Targets(_Strict):
    """National targets."""

    it_mw_by_year: dict[int, Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict,
        description="Cumulative national IT capacity to have in service by each year [MW IT].",
    )


class Costs(_Strict):
    """Costs in constant US dollars of ``currency_year``."""

    currency_year: int = Field(default=2025, description="Year of the constant dollars.")
    capex_usd_per_mw: float = Field(
        default=11.7e6,
        ge=0,
        description="Campus build cost per MW of IT (critical) capacity, excluding land and IT "
        "equipment [USD/MW]. Default: US average 11.7 M (Cushman & Wakefield Data Center Cost "
        "Guide 2025; range 9.3 to 15.0 M).",
    )
    site_fixed_cost_usd: float = Field(
        default=25e6, ge=0, description="One-off cost of opening a site (access, permits) [USD]."
    )
    interconnection_usd_per_km: float = Field(
        default=1.7e6,
        ge=0,
        description="Cost of a campus tie line to its bus per route km [USD/km] "
        "(345 kV lines about 2.6-2.8 M USD per mile with substations, MISO filings).",
    )
    pipeline_usd_per_km: float = Field(
        default=1.0e6, ge=0, description="Cost of a water pipeline per km [USD/km]."
    )
    discount_rate: float = Field(
        default=0.07, ge=0, lt=1, description="Real discount rate per year [fraction]."
    )


class WaterPolicy(_Strict):
    """Water policy."""

    potable_cap_m3_per_day: float | None = Field(
        default=None,
        ge=0,
        description="Most potable water all campuses together may use [m3/day]; empty = no cap.",
    )


class SolverSettings(_Strict):
    """HiGHS settings."""

    time_limit_s: float = Field(default=600.0, gt=0, description="Wall-clock limit [s].")
    mip_gap: float = Field(default=0.005, ge=0, lt=1, description="Relative MIP gap [fraction].")
    threads: int = Field(default=2, ge=1, description="Solver threads.")


class Scenario(_Strict):
    """A siting scenario: one region, one set of years, targets and policies."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$",
        description="Short name (letters, digits, `_.-`); names the output folder `maps/<name>/`.",
    )
    title: str = Field(default="", description="Human title for maps and reports.")
    description: str = Field(default="", description="What this scenario asks.")
    extends: Path | None = Field(
        default=None, description="A base scenario this one overrides; relative to this file."
    )
    crs: str | None = Field(
        default=None,
        description="Projected CRS all layers are brought into (EPSG code or WKT); empty = the UTM "
        "zone of the region's centre, chosen automatically (and said so).",
    )
    years: list[int] = Field(
        min_length=1, description="Planning years (calendar years, strictly increasing)."
    )
    layers: LayersSection = Field(description="Input layers.")
    campus: CampusRules = Field(default_factory=CampusRules, description="Campus build rules.")
    targets: Targets = Field(default_factory=Targets, description="National targets.")
    costs: Costs = Field(default_factory=Costs, description="Costs.")
    water: WaterPolicy = Field(default_factory=WaterPolicy, description="Water policy.")
    solver: SolverSettings = Field(default_factory=SolverSettings, description="Solver settings.")

    # where it came from (not part of the file)
    source_file: Path | None = Field(default=None, exclude=True, description="(set by the loader)")

    @field_validator("years")
    @classmethod
    def _years_increasing(cls, v: list[int]) -> list[int]:
        for a, b in zip(v, v[1:], strict=False):
            if b <= a:
                raise ValueError(f"years must be strictly increasing; {b} follows {a}")
        for y in v:
            if not 1900 <= y <= 2200:
                raise ValueError(f"year {y} is not a calendar year between 1900 and 2200")
        return v

    @model_validator(mode="after")
    def _targets_in_years(self) -> Scenario:
        bad = sorted(set(self.targets.it_mw_by_year) - set(self.years))
        if bad:
            raise ValueError(
                f"targets.it_mw_by_year has years {bad} that are not planning years {self.years}"
            )
        if self.campus.earliest_year is not None and self.campus.earliest_year > self.years[-1]:
            raise ValueError(
                f"campus.earliest_year {self.campus.earliest_year} is after the last planning "
                f"year {self.years[-1]}"
            )
        return self

    def canonical_json(self) -> str:
        """The scenario as run, as canonical JSON (sorted keys; absolute paths)."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def digest(self) -> str:
        """SHA-256 of :meth:`canonical_json` (identifies the resolved scenario)."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


def json_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files (for editors; ``siting schema``)."""
    schema = Scenario.model_json_schema()
    schema["properties"].pop("source_file", None)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "siting scenario"
    return schema


# --------------------------------------------------------------------------- loading


def _read_yaml(path: Path) -> dict[str, Any]:
    """Read one YAML mapping safely, with errors that name the file."""
    if not path.exists():
        raise ScenarioError(Problem("file not found", file=str(path)))
    if path.is_dir():
        raise ScenarioError(
            Problem("is a directory; expected a YAML scenario file", file=str(path))
        )
    size = path.stat().st_size
    if size > MAX_SCENARIO_BYTES:
        raise ScenarioError(
            Problem(
                f"file is {size:,} bytes; a scenario file may be at most {MAX_SCENARIO_BYTES:,}",
                file=str(path),
            )
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ScenarioError(
            Problem(f"not UTF-8 text ({e.reason} at byte {e.start})", file=str(path))
        ) from None
    try:
        data = yaml.safe_load(text)  # safe loader only: no Python objects from input
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ScenarioError(Problem(f"not valid YAML{where}: {problem}", file=str(path))) from None
    if data is None:
        raise ScenarioError(Problem("file is empty; expected a YAML mapping", file=str(path)))
    if not isinstance(data, dict):
        raise ScenarioError(
            Problem(
                f"expected a YAML mapping at the top, got {type(data).__name__}", file=str(path)
            )
        )
    return data


def _resolve_paths(node: Any, base_dir: Path) -> Any:
    """Make every ``path:`` (and ``extends:``) string absolute against ``base_dir``."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k in ("path", "extends") and isinstance(v, str) and v.strip():
                p = Path(v).expanduser()
                out[k] = str(p if p.is_absolute() else (base_dir / p).resolve())
            else:
                out[k] = _resolve_paths(v, base_dir)
        return out
    if isinstance(node, list):
        return [_resolve_paths(v, base_dir) for v in node]
    return node


def _merge(base: Any, over: Any) -> Any:
    """Deep-merge ``over`` onto ``base``: mappings merge key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base[k], v) if k in base else v
        return out
    return over


def _load_raw(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Load one scenario file and its ``extends`` chain into one merged mapping."""
    path = path.resolve()
    if path in chain:
        cycle = " -> ".join(str(p) for p in (*chain, path))
        raise ScenarioError(
            Problem(f"'extends' goes round in a circle: {cycle}", file=str(path), field="extends")
        )
    if len(chain) >= MAX_EXTENDS_DEPTH:
        raise ScenarioError(
            Problem(
                f"'extends' chain deeper than {MAX_EXTENDS_DEPTH}", file=str(path), field="extends"
            )
        )
    raw = _resolve_paths(_read_yaml(path), path.parent)
    base_ref = raw.get("extends")
    if base_ref is None:
        return raw
    if not isinstance(base_ref, str):
        raise ScenarioError(
            Problem(
                f"expected a file path, got {type(base_ref).__name__}",
                file=str(path),
                field="extends",
            )
        )
    base = _load_raw(Path(base_ref), (*chain, path))
    merged = _merge(base, raw)
    merged["extends"] = base_ref
    return merged


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class that holds the key at ``loc`` (for suggestions)."""
    model: Any = Scenario
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        fld = model.model_fields.get(str(part))
        if fld is None:
            return None
        model = _inner_model(fld.annotation)
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel class inside an annotation such as ``list[X] | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        m = _inner_model(arg)
        if m is not None:
            return m
    return None


def _problems_from_validation(err: ValidationError, file: Path) -> list[Problem]:
    problems = []
    for e in err.errors(include_url=False):
        loc = tuple(e.get("loc", ()))
        field = _loc(loc) or None
        typ = e.get("type", "")
        if typ == "extra_forbidden":
            model = _model_at(loc)
            valid = sorted(k for k in (model.model_fields if model else {}) if k != "source_file")
            close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            msg = f"unknown key{hint} Valid keys here: {', '.join(valid)}"
        elif typ == "missing":
            msg = "required key is missing"
        else:
            got = e.get("input")
            got_s = repr(got)
            if len(got_s) > 80:
                got_s = got_s[:77] + "..."
            msg = f"{e.get('msg', 'invalid value')} (got {got_s})"
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, ") :]
        problems.append(Problem(msg, file=str(file), field=field))
    return problems


def load_scenario(path: str | Path) -> Scenario:
    """Read, merge (``extends``) and validate a scenario file.

    Parameters
    ----------
    path
        The scenario YAML file.

    Returns
    -------
    Scenario
        Validated, with every ``path`` absolute.

    Raises
    ------
    ScenarioError
        Listing every problem, each with the file and the full dotted key.
    """
    path = Path(path)
    raw = _load_raw(path)
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as err:
        raise ScenarioError(_problems_from_validation(err, path)) from None
    scenario.source_file = path.resolve()
    return scenario


def scenario_from_dict(data: dict[str, Any], base_dir: str | Path = ".") -> Scenario:
    """Validate a scenario given as a mapping (paths resolved against ``base_dir``)."""
    raw = _resolve_paths(data, Path(base_dir).resolve())
    try:
        return Scenario.model_validate(raw)
    except ValidationError as err:
        raise ScenarioError(_problems_from_validation(err, Path("<dict>"))) from None
