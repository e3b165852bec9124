"""A plan folder's files read back, validated: every command that reads a plan uses this.

``siting plan`` writes a folder (``manifest.json``, ``schedule.csv``, ``flows.csv``,
``dispatch.csv``, ``upgrades.csv``, ``contingencies.csv``, ``plan.gpkg``); ``siting
map``, ``siting grid check``, ``siting grid stress --base`` and ``siting robustness``
read it back. A folder may have been edited by hand, copied half-way or damaged, so
each table is checked as it is read: the columns a command needs are present, numbers
are numbers, years whole numbers; the manifest is a JSON object. Every problem names the
file, the 1-based data row (the header not counted) and the column, and says what was
expected; they are raised together as one :class:`~siting.core.errors.InputError`
(``siting`` exits 1), never as a pandas or JSON traceback.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import geopandas as gpd

from siting.core.errors import InputError, Problem, ProblemReport
from siting.core.files import open_regular, path_problem

#: The columns ``siting plan`` writes in each table: (text columns, number columns).
#: Columns a file holds beyond these are kept as text.
PLAN_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "schedule.csv": (
        ("site_id", "bus_id", "cooling", "generations"),
        (
            "year",
            "it_mw",
            "new_it_mw",
            "peak_draw_mw",
            "typical_draw_mw",
            "water_m3_per_day",
            "public_it_mw",
            "firm_it_mw",
            "flexible_it_mw",
            "accelerators",
            "accelerators_new",
            "accelerators_retired",
            "it_used_mw",
            "hardware_capex_usd",
            "compute_units",
            "compute_unit_h",
            "compute_mwh",
            "kwh_per_compute_unit_h",
            "tokens_per_mwh",
        ),
    ),
    "flows.csv": (
        ("branch_id", "from_bus", "to_bus", "snapshot", "max_loading_snapshot"),
        (
            "year",
            "flow_mw",
            "rating_mw",
            "loading_pct",
            "rating_emergency_mw",
            "max_loading_pct",
        ),
    ),
    "dispatch.csv": (("gen_id", "bus_id", "snapshot"), ("year", "p_mw")),
    "upgrades.csv": (
        ("asset", "asset_id"),
        ("year", "added_mw", "cost_usd", "lead_time_years"),
    ),
    "contingencies.csv": (
        ("branch_id", "snapshot", "outage_id"),
        ("year", "post_flow_mw", "rating_emergency_mw", "loading_pct"),
    ),
    "draw_relief.csv": (("site_id", "bus_id", "snapshot", "source"), ("year", "relief_mw")),
    "curtailment.csv": (
        ("site_id", "bus_id", "snapshot"),
        ("year", "curtailed_mw", "hours", "curtailed_mwh", "cost_usd"),
    ),
    "compute.csv": (
        ("site_id", "generation"),
        (
            "year",
            "accelerators_live",
            "accelerators_new",
            "accelerators_retired",
            "it_used_mw",
            "racks",
            "compute_units",
            "rack_positions",
        ),
    ),
    "pacts.csv": (
        ("pact", "generation", "sites_used", "energy_source"),
        (
            "year",
            "accelerators_supplied",
            "accelerators_cap",
            "energy_contracted_mwh",
            "energy_used_mwh",
            "energy_usd_per_mwh",
            "pact_compute_units",
            "public_share",
            "public_compute_units",
        ),
    ),
    "onsite.csv": (
        ("site_id", "option", "technology", "islanded"),
        (
            "year",
            "built_mw",
            "capacity_mw",
            "mwh_per_year",
            "co2_t_per_year",
            "water_m3_per_day",
            "cost_usd",
        ),
    ),
}
#: Columns holding calendar years (whole numbers).
YEAR_COLUMNS = ("year",)
#: Most bad rows named one by one per column before "... and N more rows".
MAX_ROWS_NAMED = 5


def read_plan_table(
    path: str | Path,
    problems: list[Problem],
    *,
    required: Sequence[str] = (),
    empty_text_as_na: bool = False,
) -> pd.DataFrame | None:
    """One CSV table of a plan folder, checked; ``None`` (and problems) when it is wrong.

    Parameters
    ----------
    path
        The table (its name picks the columns of :data:`PLAN_COLUMNS`).
    problems
        Problems are added here, each naming the file, the 1-based data row and the column.
    required
        Columns the caller needs: each must be present; a required number column must hold
        a finite number in every row. Other number columns may be empty (read as NaN, as
        ``siting plan`` writes a missing value) or hold a number (``inf`` included).
    empty_text_as_na
        Read an empty text cell as missing (NaN), as pandas does by default; else as "".

    Returns
    -------
    pandas.DataFrame or None
        Text columns as (stripped) text, number columns as float, year columns as int
        when every row holds one.
    """
    path = Path(path)
    texts, numbers = PLAN_COLUMNS.get(path.name, ((), ()))
    expected = ", ".join(required) if required else "the columns siting plan writes"
    n_before = len(problems)
    why = path_problem(path, expected="a CSV table")
    if why is not None:
        problems.append(Problem(f"{why}; expected a CSV table ({expected})", file=path))
        return None
    try:
        with open_regular(path) as f:
            df = pd.read_csv(f, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        problems.append(
            Problem(f"the file is empty; expected a CSV with the columns {expected}", file=path)
        )
        return None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as e:
        msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        problems.append(Problem(f"cannot be read as CSV ({msg}); expected {expected}", file=path))
        return None
    missing = [c for c in required if c not in df.columns]
    if missing:
        problems.append(
            Problem(
                f"not a plan {path.stem} (missing column(s) {', '.join(missing)}); expected at "
                f"least {expected} (as siting plan writes them), found "
                f"{', '.join(map(str, df.columns))}",
                file=path,
            )
        )
        return None
    for c in texts:
        if c in df.columns:
            df[c] = df[c].astype(str).str.strip()
            if empty_text_as_na:
                df[c] = df[c].mask(df[c] == "")  # (NaN where empty; no dtype downcast)
    for c in (c for c in numbers if c in df.columns):
        raw = df[c].astype(str).str.strip()
        val = pd.to_numeric(raw, errors="coerce")
        need = c in required
        bad = np.flatnonzero(
            (val.isna() & (need | (raw != ""))).to_numpy()
            | (np.isinf(val.to_numpy(dtype=float)) & need)
        )
        found = ProblemReport()
        finite = "finite " if need else ""

        def not_a_number(i: int, raw: pd.Series = raw, finite: str = finite) -> str:
            return f"expected a {finite}number, got {raw.iloc[i]!r}"

        found.add_rows(
            bad,
            not_a_number,
            file=path,
            field=c,
            limit=MAX_ROWS_NAMED,
        )
        df[c] = val.astype(float)
        if c in YEAR_COLUMNS and not len(bad):
            frac = np.flatnonzero((val.notna() & (val != np.round(val))).to_numpy())

            def not_a_year(i: int, raw: pd.Series = raw) -> str:
                return f"expected a calendar year, got {raw.iloc[i]!r}"

            found.add_rows(
                frac,
                not_a_year,
                file=path,
                field=c,
                limit=MAX_ROWS_NAMED,
            )
            if not len(frac) and val.notna().all():
                df[c] = val.astype(np.int64)
        problems.extend(found.problems)
    return df if len(problems) == n_before else None


def read_manifest(
    path: str | Path, problems: list[Problem], *, required: bool = True
) -> dict[str, Any] | None:
    """A plan's ``manifest.json``, checked: a JSON object whose ``scenario_as_run`` (when
    there) is an object whose ``years`` (when there) is a list of whole numbers.

    Parameters
    ----------
    path
        The manifest.
    problems
        Problems are added here, naming the file and the key.
    required
        A missing file is a problem; else it gives ``{}``.

    Returns
    -------
    dict or None
        ``None`` when it is wrong.
    """
    path = Path(path)
    why = path_problem(path, expected="siting plan's manifest.json")
    if why == "file not found" and not required:
        return {}
    if why is not None:
        problems.append(Problem(f"{why}; expected siting plan's manifest (JSON)", file=path))
        return None
    try:
        with open_regular(path) as f:
            doc = json.loads(f.read().decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, OSError) as e:
        problems.append(
            Problem(f"not valid JSON ({e}); expected siting plan's manifest", file=path)
        )
        return None
    if not isinstance(doc, dict):
        problems.append(
            Problem(
                f"expected a JSON object (siting plan's manifest), got a JSON {_json_kind(doc)}",
                file=path,
            )
        )
        return None
    run = doc.get("scenario_as_run")
    if run is not None and not isinstance(run, dict):
        problems.append(
            Problem(
                f"expected an object (the scenario as run), got a JSON {_json_kind(run)}",
                file=path,
                field="scenario_as_run",
            )
        )
        return None
    years = (run or {}).get("years")
    if years is not None and not (
        isinstance(years, list)
        and all(isinstance(y, int) and not isinstance(y, bool) for y in years)
    ):
        problems.append(
            Problem(
                f"expected a list of calendar years, got {str(years)[:80]}",
                file=path,
                field="scenario_as_run.years",
            )
        )
        return None
    return doc


def _json_kind(v: Any) -> str:
    """What a JSON value is, in JSON's words."""
    if isinstance(v, list):
        return "list"
    if isinstance(v, str):
        return "string"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if v is None:
        return "null"
    return "object"


def raise_plan_problems(problems: list[Problem]) -> None:
    """Raise the problems found reading a plan folder as one error (if there are any)."""
    if problems:
        raise InputError(problems, what="plan")


def read_plan_layer(gpkg: str | Path, layer: str, **kwargs: Any) -> gpd.GeoDataFrame:
    """One layer of a plan's ``plan.gpkg`` (``geopandas.read_file``); a file OGR cannot
    read is an :class:`~siting.core.errors.InputError` naming the file and the layer."""
    import geopandas as gpd

    try:
        return gpd.read_file(gpkg, layer=layer, engine="pyogrio", **kwargs)
    except Exception as e:  # OGR: a damaged or foreign file
        msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise InputError(
            Problem(
                f"cannot be read ({msg}); expected the plan.gpkg siting plan writes",
                file=str(gpkg),
                layer=layer,
            ),
            what="plan",
        ) from None


def plan_layer_names(gpkg: str | Path) -> list[str]:
    """The layers of a plan's ``plan.gpkg``; an unreadable file is a named error."""
    import pyogrio

    why = path_problem(gpkg, expected="plan.gpkg")
    if why is not None:
        raise InputError(Problem(why, file=str(gpkg)), what="plan")
    try:
        return [str(n) for n in pyogrio.list_layers(gpkg)[:, 0]]
    except Exception as e:  # OGR: not a GeoPackage, damaged
        msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise InputError(
            Problem(f"cannot be read ({msg}); expected a GeoPackage", file=str(gpkg)),
            what="plan",
        ) from None
